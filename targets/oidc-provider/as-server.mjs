// panva's oidc-provider (pinned in package.json) as the authorization server an MCP server co-hosts, for
// authconform's co-hosted AS checks (oauth-resource/cohosted-*, OAUTH-AS-002..006): targets/oidc-provider-as.toml
// launches it.
//
//   node as-server.mjs --port 8443 [--tls-cert cert.pem --tls-key key.pem --tls-ca ca.pem]
//                      [--client-id authconf-client] [--redirect-uri http://127.0.0.1:33418/cb]
//
// Options (each also an environment variable): --port / PORT (required), --tls-cert / TLS_CERT, --tls-key /
// TLS_KEY (serve https; plain http without them), --tls-ca / TLS_CA (the CA that issued the certificate, trusted by
// the stand-in's own calls back to this server), --client-id / CLIENT_ID and --redirect-uri / REDIRECT_URI (the
// pre-registered public client). Prints `oidc-provider (co-hosted AS) listening on <issuer>` once it serves.
//
// What is oidc-provider's and what is not:
// - oidc-provider, configured only through its documented options, as an MCP server's co-hosted AS would be: the
//   authorization endpoint (GET /auth and its resume route /auth/:uid), the token endpoint (POST /token:
//   authorization_code and refresh_token grants), discovery (RFC 8414's /.well-known/oauth-authorization-server
//   and /.well-known/openid-configuration), dynamic registration (features.registration, open: no initial access
//   token), introspection (features.introspection, its default policy: a public client may
//   introspect the tokens issued to it), resource indicators (features.resourceIndicators) for exactly one resource,
//   `{issuer}/mcp` (nothing serves it: this process is the AS only), with opaque access tokens whose audience is
//   that resource (oidc-provider's default audience), PKCE as oidc-provider enforces it by default (required for
//   clients with token_endpoint_auth_method none; S256 is the only method it implements), refresh-token rotation by
//   its default `rotateRefreshToken` (rotates for public clients). One pre-registered public client: `authconf-client`,
//   application_type native (an MCP client with a loopback redirect is a native app, RFC 8252), token endpoint auth
//   none, grant types authorization_code and refresh_token, one exact redirect URI.
//   Besides what every deployment supplies (signing and cookie keys, accounts, the interaction URL, fixed lifetimes,
//   ES256 as registered clients' default ID token algorithm), two documented options shape what the checks see, and
//   neither hardens anything: `issueRefreshToken` issues a refresh token to every client registered for the
//   refresh_token grant (the default asks for the OIDC scope offline_access, which MCP clients have no reason to
//   request), and `getResourceServerInfo` (which has no default: oidc-provider refuses every resource until the
//   deployment names its resource servers).
// - STAND-IN (authconform's, not oidc-provider's): oidc-provider sends the user agent from /auth to the deployment's
//   login and consent pages (/interaction/:uid), which the deployment writes; authconform acts as client and user
//   agent and expects GET on the authorization endpoint to answer with the redirect to the client at once. So this
//   file adds (1) the interaction pages `GET /interaction/:uid`, which sign in the fixed account `alice` and grant
//   exactly what the request asks for (its scopes and resource), and (2) in front of GET /auth, a same-origin user
//   agent: a GET /auth from outside is replayed by a fresh cookie jar against oidc-provider's own /auth, following
//   redirects while they stay on this origin (to the interaction pages and back to /auth/:uid), and the first
//   answer that is not such a redirect (the redirect to the client, with a code or an error, or an error page) is
//   returned as oidc-provider sent it, minus its cookies. Every decision (client and redirect URI checks, PKCE,
//   resource checks, codes, errors) is therefore oidc-provider's; the stand-in only approves.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT },
    'tls-cert': { type: 'string', default: process.env.TLS_CERT },
    'tls-key': { type: 'string', default: process.env.TLS_KEY },
    'tls-ca': { type: 'string', default: process.env.TLS_CA },
    'client-id': { type: 'string', default: process.env.CLIENT_ID ?? 'authconf-client' },
    'redirect-uri': { type: 'string', default: process.env.REDIRECT_URI ?? 'http://127.0.0.1:33418/cb' },
  },
});

const port = Number(opts.port);
if (!Number.isInteger(port) || port <= 0) throw new Error('--port (or PORT) is required');
const tls = opts['tls-cert'] && opts['tls-key']
  ? { cert: fs.readFileSync(opts['tls-cert']), key: fs.readFileSync(opts['tls-key']) }
  : undefined;
const selfCa = opts['tls-ca'] ? fs.readFileSync(opts['tls-ca']) : tls?.cert;
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
// The one resource server this AS issues tokens for: the MCP endpoint of the deployment (not served here).
const resource = `${issuer}/mcp`;
const ACCOUNT = 'alice';

// ---------------------------------------------------------------------------------------------------------------
// oidc-provider
// ---------------------------------------------------------------------------------------------------------------

const provider = new Provider(issuer, {
  clients: [{
    client_id: opts['client-id'],
    client_name: 'authconform MCP client',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [opts['redirect-uri']],
    id_token_signed_response_alg: 'ES256',
  }],
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      async getResourceServerInfo(ctx, indicator) {
        if (indicator === resource) return { scope: 'mcp:read mcp:tools' };
        throw new errors.InvalidTarget();
      },
    },
  },
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Plain fixed lifetimes (no TTL functions, no notices).
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, RefreshToken: 3600, Grant: 3600, Interaction: 600, Session: 600,
    IdToken: 600,
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // A fresh ES256 key, also the ID token algorithm of registered clients that name none (`clientDefaults`; the
  // library's default is RS256, which would need an RSA key). No ID token is issued without `openid` anyway.
  jwks: {
    keys: [{
      ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      kid: 'authconf',
      use: 'sig',
      alg: 'ES256',
    }],
  },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  claims: { openid: ['sub'] },
  async findAccount(ctx, id) {
    if (id !== ACCOUNT) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});

// ---------------------------------------------------------------------------------------------------------------
// STAND-IN: the deployment's login/consent pages and a same-origin user agent in front of GET /auth. Not part of
// oidc-provider.
// ---------------------------------------------------------------------------------------------------------------

// Requests the stand-in's own user agent makes carry this header; only they reach oidc-provider's GET /auth and the
// interaction pages.
const AGENT_HEADER = 'x-authconform-stand-in';
const agentSecret = crypto.randomBytes(24).toString('base64url');

// The login and consent pages: sign in `alice` and grant what is asked, nothing more.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: ACCOUNT, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.writeHead(500, { 'content-type': 'text/plain' }).end(`unexpected prompt ${prompt.name}\n`);
}

// One request of the stand-in's user agent, with its cookie jar.
function agentRequest(jar, url) {
  const headers = { accept: 'text/html', 'user-agent': 'authconform-stand-in-user-agent', [AGENT_HEADER]: agentSecret };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const agent = tls ? new https.Agent({ ca: selfCa }) : undefined;
  return new Promise((resolve, reject) => {
    const req = (tls ? https : http).request(url, { method: 'GET', headers, agent }, (res) => {
      for (const c of res.headers['set-cookie'] ?? []) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        const name = pair.slice(0, i).trim();
        const value = pair.slice(i + 1).trim();
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name);
        else jar.set(name, value);
      }
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Headers of oidc-provider's answer that are not passed on: its cookies (the jar's business) and hop-by-hop ones.
const DROPPED = new Set(['set-cookie', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

// GET /auth from outside: replay it as a browser would, through login and consent, and answer with where
// oidc-provider finally sends the user agent off this origin (or its error page).
async function authorizeAsUserAgent(req, res) {
  const jar = new Map();
  let url = new URL(req.url, issuer);
  let answer = await agentRequest(jar, url);
  for (let hops = 0; answer.status >= 300 && answer.status < 400 && answer.headers.location; hops += 1) {
    const next = new URL(answer.headers.location, url);
    if (next.origin !== new URL(issuer).origin) break;
    if (hops > 10) throw new Error('too many redirects');
    url = next;
    answer = await agentRequest(jar, url);
  }
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !DROPPED.has(k)));
  res.writeHead(answer.status, headers).end(answer.body);
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const callback = provider.callback();

async function handle(req, res) {
  const { pathname } = new URL(req.url, issuer);
  const fromAgent = req.headers[AGENT_HEADER] === agentSecret;
  try {
    if (pathname === '/auth' && req.method === 'GET' && !fromAgent) {
      await authorizeAsUserAgent(req, res);
      return;
    }
    if (/^\/interaction\/[^/]+$/.test(pathname)) {
      if (!fromAgent || req.method !== 'GET') {
        json(res, 403, { error: 'forbidden', error_description: 'the stand-in interaction pages serve its own user agent only' });
        return;
      }
      await interaction(req, res);
      return;
    }
    callback(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) json(res, 500, { error: 'server_error' });
    else res.end();
  }
}

const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider (co-hosted AS) listening on ${issuer}`);
});
