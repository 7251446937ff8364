// panva's oidc-provider (pinned in package.json) as an RFC 8628 device-authorization host, for authconform's
// `device-flow` profile (server side, DEV-S-*): targets/oidc-provider.toml launches it.
//
//   node server.mjs --port 8443 [--device-code-ttl 5] [--tls-cert cert.pem --tls-key key.pem --tls-ca ca.pem]
//
// Options (each also an environment variable): --port / PORT (required), --device-code-ttl / DEVICE_CODE_TTL
// (seconds a device code lives, default 5: short so that expiry can be tested quickly; oidc-provider's own default
// is 600), --tls-cert / TLS_CERT, --tls-key / TLS_KEY (serve https; plain http without them), --tls-ca / TLS_CA
// (the CA that issued the certificate, trusted by the stand-in's own calls back to this server).
// Credentials of the stand-in (below): AUTHCONF_USER_TOKEN (alice's first-party app token, required),
// AUTHCONF_SERVICE_KEY (a host automation key that must not approve; optional).
// Prints `oidc-provider listening on <issuer>` once it serves.
//
// What is oidc-provider's and what is not:
// - oidc-provider, configured only through its documented options: the device authorization endpoint
//   (POST /device/auth), the token endpoint (POST /token, device_code grant), user-code verification and the
//   confirm/abort form (GET/POST /device, the device-resume route), sessions, interactions, grants, userinfo
//   (/me). One public client `authconf-cli` (token_endpoint_auth_method none, grant type device_code). The three
//   documented page hooks (features.deviceFlow.userCodeInputSource / userCodeConfirmSource / successSource) are
//   replaced by bare pages carrying a machine-readable marker (which page, which error), as a deployment
//   customises them; they render what oidc-provider passes and decide nothing.
// - STAND-IN (authconform's, not oidc-provider's): oidc-provider has no API for "a signed-in user approves this
//   user code"; a user does it in a browser, in the interaction UI the deployment writes. So this file adds
//   (1) `POST /test/approve` with a JSON body `{"user_code": "...", "decision": "approve"|"deny"}`, which plays
//   the first-party app: it requires a first-party user credential (`Authorization: Bearer <user token>`),
//   refuses a service key (403), no credential (401) and a foreign `Origin` (403), and then drives
//   oidc-provider's own pages over HTTP as that user's browser would (fresh cookie jar per call): GET /device,
//   POST /device with the user code (oidc-provider looks the code up), then POST the confirm form with
//   `confirm=yes` or `abort=yes`, following redirects; and (2) the interaction routes `/interaction/:uid`
//   (the deployment's login and consent pages), which sign in the account the approve call authenticated
//   and grant the requested scopes. User-code lookup, expiry, one-time use, denial and any rate limiting
//   are therefore oidc-provider's; the stand-in adds no throttle of its own and maps oidc-provider's page
//   outcomes to HTTP statuses: approved/denied 200, code not found 404, expired 410, already used 409, no code
//   400, anything else 502 (with oidc-provider's 429, if it ever sent one, passed through).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT },
    'device-code-ttl': { type: 'string', default: process.env.DEVICE_CODE_TTL ?? '5' },
    'tls-cert': { type: 'string', default: process.env.TLS_CERT },
    'tls-key': { type: 'string', default: process.env.TLS_KEY },
    'tls-ca': { type: 'string', default: process.env.TLS_CA },
  },
});

const port = Number(opts.port);
const deviceCodeTtl = Number(opts['device-code-ttl']);
if (!Number.isInteger(port) || port <= 0) throw new Error('--port (or PORT) is required');
if (!Number.isInteger(deviceCodeTtl) || deviceCodeTtl <= 0) throw new Error('--device-code-ttl must be a positive integer');
const tls = opts['tls-cert'] && opts['tls-key']
  ? { cert: fs.readFileSync(opts['tls-cert']), key: fs.readFileSync(opts['tls-key']) }
  : undefined;
const selfCa = opts['tls-ca'] ? fs.readFileSync(opts['tls-ca']) : tls?.cert;
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

// First-party user credentials (stand-in): token -> account. The service key authenticates but is no user.
const userTokens = new Map();
if (!process.env.AUTHCONF_USER_TOKEN) throw new Error('AUTHCONF_USER_TOKEN is required');
userTokens.set(process.env.AUTHCONF_USER_TOKEN, 'alice');
const serviceKey = process.env.AUTHCONF_SERVICE_KEY;
const accounts = new Set(userTokens.values());

// ---------------------------------------------------------------------------------------------------------------
// oidc-provider
// ---------------------------------------------------------------------------------------------------------------

const html = (marker, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Device login</title></head>
<body ${marker}>${body}</body></html>`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'authconf-cli',
    client_name: 'authconform CLI',
    token_endpoint_auth_method: 'none',
    id_token_signed_response_alg: 'ES256',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
    response_types: [],
    redirect_uris: [],
  }],
  features: {
    devInteractions: { enabled: false },
    deviceFlow: {
      enabled: true,
      // The documented page hooks: same content as the defaults (the form oidc-provider built), plus a marker.
      async userCodeInputSource(ctx, form, out, err) {
        const error = err ? ` data-authconf-error="${err.name}"` : '';
        ctx.body = html(`data-authconf-page="input"${error}`, form);
      },
      async userCodeConfirmSource(ctx, form) {
        ctx.body = html('data-authconf-page="confirm"', form);
      },
      async successSource(ctx) {
        ctx.body = html('data-authconf-page="success"', '<p>Signed in. Return to your device.</p>');
      },
    },
  },
  // Everything but the device code keeps a plain fixed lifetime (no TTL functions, no notices).
  ttl: { DeviceCode: deviceCodeTtl, Session: 600, Grant: 600, Interaction: 600, AccessToken: 600, IdToken: 600 },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  jwks: {
    keys: [{
      ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      kid: 'authconf',
      use: 'sig',
      alg: 'ES256',
    }],
  },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  claims: { openid: ['sub'] },
  async findAccount(ctx, id) {
    if (!accounts.has(id)) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});

// ---------------------------------------------------------------------------------------------------------------
// STAND-IN: the first-party app (interaction pages and the approval API). Not part of oidc-provider.
// ---------------------------------------------------------------------------------------------------------------

// The app's own browser sessions: cookie value -> account (set by /test/approve in its cookie jar).
const appSessions = new Map();
const APP_COOKIE = 'authconf_app';

function cookiesOf(req) {
  const out = new Map();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

// The deployment's login and consent pages: the signed-in app user logs in and grants what is asked.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = appSessions.get(cookiesOf(req).get(APP_COOKIE));
  if (!accountId) {
    res.writeHead(401, { 'content-type': 'text/plain' }).end('sign in to the app first\n');
    return;
  }
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
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

// A minimal browser: one cookie jar, form posts, redirects followed.
function browser() {
  const jar = new Map();
  const agent = tls ? new https.Agent({ ca: selfCa }) : undefined;
  function once(method, url, form) {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const headers = { accept: 'text/html', 'user-agent': 'authconform-stand-in-browser' };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(body);
      headers.origin = issuer;
    }
    return new Promise((resolve, reject) => {
      const req = (tls ? https : http).request(url, { method, headers, agent }, (res) => {
        for (const c of res.headers['set-cookie'] ?? []) {
          const [pair] = c.split(';');
          const i = pair.indexOf('=');
          const name = pair.slice(0, i).trim();
          const value = pair.slice(i + 1).trim();
          if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name);
          else jar.set(name, value);
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  return {
    jar,
    async go(method, path, form) {
      let r = await once(method, new URL(path, issuer), form);
      for (let hops = 0; r.status >= 300 && r.status < 400 && r.location; hops += 1) {
        if (hops > 10) throw new Error('too many redirects');
        r = await once('GET', new URL(r.location, issuer), undefined);
      }
      return r;
    },
  };
}

const attr = (text, name) => text.match(new RegExp(`${name}="([^"]*)"`))?.[1];

// Where oidc-provider's pages leave the user code, as HTTP: page marker / error name -> status and body.
function outcome(page, decision) {
  if (page.status === 429) return [429, { error: 'slow_down', error_description: 'oidc-provider throttled the attempt' }];
  const which = attr(page.text, 'data-authconf-page');
  const error = attr(page.text, 'data-authconf-error');
  if (which === 'success' && decision === 'approve') return [200, { decision: 'approved' }];
  if (error === 'AbortedError' && decision === 'deny') return [200, { decision: 'denied' }];
  const statuses = {
    NotFoundError: [404, 'invalid_user_code', 'oidc-provider: the code was not found'],
    ExpiredError: [410, 'expired_token', 'oidc-provider: the code has expired'],
    AlreadyUsedError: [409, 'invalid_user_code', 'oidc-provider: code has already been used'],
    NoCodeError: [400, 'invalid_request', 'oidc-provider: no code submitted'],
  };
  const [status, code, description] = statuses[error]
    ?? [502, 'stand_in_error', `unexpected page from oidc-provider (HTTP ${page.status}, page ${which}, error ${error})`];
  return [status, { error: code, error_description: description }];
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function approve(req, res) {
  const auth = req.headers.authorization ?? '';
  const bearer = /^Bearer ([^\s]+)$/i.exec(auth)?.[1];
  const key = req.headers['x-api-key'];
  if (serviceKey && (bearer === serviceKey || key === serviceKey)) {
    json(res, 403, { error: 'forbidden', error_description: 'a service key is not a signed-in user' });
    return;
  }
  const accountId = bearer && userTokens.get(bearer);
  if (!accountId) {
    json(res, 401, { error: 'unauthorized', error_description: 'a signed-in first-party user is required' },
      { 'www-authenticate': 'Bearer realm="authconf-app"' });
    return;
  }
  if (req.headers.origin !== undefined && req.headers.origin !== new URL(issuer).origin) {
    json(res, 403, { error: 'forbidden', error_description: 'cross-origin approval is refused' });
    return;
  }
  const body = await readJson(req);
  const userCode = body?.user_code;
  const decision = body?.decision;
  if (typeof userCode !== 'string' || !['approve', 'deny'].includes(decision)) {
    json(res, 400, { error: 'invalid_request', error_description: 'body: {"user_code": "...", "decision": "approve"|"deny"}' });
    return;
  }
  // The user's browser: signed in to the app, then oidc-provider's own verification page and confirm form.
  const b = browser();
  const session = crypto.randomBytes(24).toString('base64url');
  appSessions.set(session, accountId);
  b.jar.set(APP_COOKIE, session);
  try {
    const input = await b.go('GET', '/device');
    let page = await b.go('POST', '/device', { xsrf: attr(input.text, 'name="xsrf" value') ?? '', user_code: userCode });
    if (attr(page.text, 'data-authconf-page') === 'confirm' && !attr(page.text, 'data-authconf-error')) {
      const form = {
        xsrf: attr(page.text, 'name="xsrf" value') ?? '',
        user_code: attr(page.text, 'name="user_code" value') ?? '',
      };
      if (decision === 'approve') form.confirm = 'yes';
      else form.abort = 'yes';
      page = await b.go('POST', '/device', form);
    }
    const [status, out] = outcome(page, decision);
    json(res, status, out);
  } finally {
    appSessions.delete(session);
  }
}

const callback = provider.callback();

async function handle(req, res) {
  const { pathname } = new URL(req.url, issuer);
  try {
    if (pathname === '/test/approve') {
      if (req.method !== 'POST') {
        json(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
        return;
      }
      await approve(req, res);
      return;
    }
    if (/^\/interaction\/[^/]+$/.test(pathname) && req.method === 'GET') {
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
  console.log(`oidc-provider listening on ${issuer} (device codes live ${deviceCodeTtl} s)`);
});
