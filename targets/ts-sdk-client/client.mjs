#!/usr/bin/env node
// An MCP client whose OAuth is the official TypeScript SDK's (@modelcontextprotocol/sdk, pinned in package.json):
// `Client` + `StreamableHTTPClientTransport` with an `authProvider`. The SDK does discovery, registration, PKCE,
// the authorization request, the token requests (code, refresh, client credentials), step-up on 403 and the
// `resource` parameter. This file is only the glue the SDK leaves to an application (as in the SDK's example
// `simpleOAuthClient`): storage, opening the authorization URL, the loopback callback listener, `state`.
//
// Usage: node client.mjs [--client-metadata-url URL] [--tool NAME] <server-url>
//   Connects to <server-url> (MCP streamable HTTP), authorizes on 401, then tools/list and tools/call of NAME
//   (default `whoami`) with `{}`; prints the tool's text on stdout and exits 0. Errors: one line on stderr, exit 1;
//   a context this client cannot serve: exit 2.
// Environment (docs/oauth-client-contract.md):
//   BROWSER                  program run with the authorization URL as its only argument (no shell); unset: the
//                            client fetches the URL itself (redirect: manual) and delivers the redirect's
//                            Location to its own loopback callback, as the official conformance suite's clients do
//   MCP_CONFORMANCE_CONTEXT  JSON: client_id/client_secret (pre-registered), client_metadata_url (CIMD),
//                            grant_type=client_credentials with client_secret or private_key_pem+signing_algorithm
//   MCP_CONFORMANCE_SCENARIO the official suite's name; auth/client-credentials-* also selects client credentials
//                            (the official suite's context has no grant_type)
//   NODE_EXTRA_CA_CERTS      read by Node itself: the CA to trust
// Storage: registrations and tokens in $HOME/.authconform-ts-sdk-client/<sha256 of the server URL>.json
// (directory 0700, files 0600), one file per server URL, holding what the SDK hands to saveClientInformation and
// saveTokens unchanged (the SDK stamps both with the authorization server they belong to and checks that stamp
// itself). The PKCE verifier and `state` live in memory only.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const CALLBACK_PATH = '/callback';
// How long to wait for the user agent to come back to the loopback callback.
const CALLBACK_TIMEOUT_MS = 120_000;
// Authorization URLs handed out in one run (the first authorization plus re-authorizations, e.g. step-up); the
// next one is not opened and the client gives up. The SDK's own guards come first: it re-authorizes once per
// distinct 403 challenge, and a 401 right after a fresh authorization is an error.
const MAX_AUTH_ROUNDS = 3;

class Fatal extends Error {
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

function parseArgs(argv) {
  const opts = { tool: 'whoami', clientMetadataUrl: undefined, server: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--tool' || a === '--client-metadata-url') {
      const v = argv[++i];
      if (v === undefined) throw new Fatal(`${a} needs a value`);
      if (a === '--tool') opts.tool = v;
      else opts.clientMetadataUrl = v;
    } else if (a.startsWith('--')) {
      throw new Fatal(`unknown option ${a}`);
    } else if (opts.server === undefined) {
      opts.server = a;
    } else {
      throw new Fatal(`unexpected argument ${a}`);
    }
  }
  if (!opts.server) throw new Fatal('usage: client.mjs [--client-metadata-url URL] [--tool NAME] <server-url>');
  return opts;
}

function readContext() {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  if (!raw) return {};
  try {
    const ctx = JSON.parse(raw);
    if (ctx === null || typeof ctx !== 'object' || Array.isArray(ctx)) throw new Error('not an object');
    return ctx;
  } catch (e) {
    throw new Fatal(`MCP_CONFORMANCE_CONTEXT is not a JSON object: ${e.message}`);
  }
}

// ---- storage: one 0600 JSON file under $HOME, keyed by server URL ----------------------------------------------

// One file per server URL, so that clients of different servers sharing a HOME (the official suite's parallel
// `--suite` runs) never rewrite each other's entries.
class FileStore {
  constructor(serverUrl) {
    this.dir = join(process.env.HOME || homedir(), '.authconform-ts-sdk-client');
    const name = createHash('sha256').update(serverUrl).digest('hex').slice(0, 32);
    this.file = join(this.dir, `${name}.json`);
    this.serverUrl = serverUrl;
  }
  get() {
    try {
      const entry = JSON.parse(readFileSync(this.file, 'utf8'));
      return entry.server === this.serverUrl ? entry : {};
    } catch {
      return {};
    }
  }
  update(fn) {
    const entry = { ...this.get(), server: this.serverUrl };
    fn(entry);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}

// ---- the loopback callback listener ----------------------------------------------------------------------------

class Callback {
  constructor() {
    this.pending = undefined;
    this.server = createServer((req, res) => this._handle(req, res));
  }
  // Listens on 127.0.0.1: on `port` when it is free (the port of an earlier run, so that a stored registration's
  // redirect URI still matches), else on an ephemeral one.
  async listen(port) {
    const tryListen = p =>
      new Promise((resolve, reject) => {
        const onError = e => {
          this.server.off('listening', onListening);
          reject(e);
        };
        const onListening = () => {
          this.server.off('error', onError);
          resolve();
        };
        this.server.once('error', onError);
        this.server.once('listening', onListening);
        this.server.listen(p, '127.0.0.1');
      });
    if (port) {
      try {
        await tryListen(port);
      } catch {
        await tryListen(0);
      }
    } else {
      await tryListen(0);
    }
    this.server.unref();
    return `http://127.0.0.1:${this.server.address().port}${CALLBACK_PATH}`;
  }
  // Called when the authorization URL is handed out: the next callback answers this round.
  expect(state) {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {});
    this.pending = { state, promise, resolve, reject };
    return this.pending;
  }
  fail(err) {
    this.pending?.reject(err);
  }
  async wait() {
    if (!this.pending) throw new Fatal('the SDK asked for authorization but never handed out an authorization URL');
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Fatal(`no authorization callback within ${CALLBACK_TIMEOUT_MS / 1000} s`)),
        CALLBACK_TIMEOUT_MS
      );
    });
    try {
      return await Promise.race([this.pending.promise, timeout]);
    } finally {
      clearTimeout(timer);
      this.pending = undefined;
    }
  }
  _handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const p = this.pending;
    if (!p || p.done) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('no authorization in progress\n');
      return;
    }
    const q = url.searchParams;
    // `state`: the SDK sends what the provider's state() returns and leaves the check to the application. A
    // callback without the state sent is not the answer to this request: it is discarded (its code never
    // exchanged) and the client keeps waiting for the one that is.
    if (p.state !== undefined && q.get('state') !== p.state) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('state mismatch: callback discarded\n');
      process.stderr.write('ts-sdk-client: discarded an authorization callback whose state is not the one sent\n');
      return;
    }
    p.done = true;
    if (q.get('error')) {
      const desc = q.get('error_description');
      res.writeHead(400, { 'content-type': 'text/plain' }).end('authorization failed\n');
      p.reject(new Fatal(`authorization failed: ${q.get('error')}${desc ? ` (${desc})` : ''}`));
      return;
    }
    const code = q.get('code');
    if (!code) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('no code\n');
      p.reject(new Fatal('authorization callback without code'));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Authorized. You may close this window.\n');
    p.resolve(code);
  }
}

// ---- opening the authorization URL -----------------------------------------------------------------------------

function openInBrowser(browser, url, callback) {
  let child;
  try {
    child = spawn(browser, [url], { stdio: 'ignore' });
  } catch (e) {
    callback.fail(new Fatal(`cannot run BROWSER (${browser}): ${e.message}`));
    return;
  }
  child.on('error', e => callback.fail(new Fatal(`cannot run BROWSER (${browser}): ${e.message}`)));
  child.on('exit', (code, signal) => {
    if (code !== 0) {
      callback.fail(new Fatal(`BROWSER (${browser}) exited with ${signal ?? `status ${code}`}`));
    }
  });
  child.unref();
}

// Without a browser: fetch the authorization URL without following redirects and deliver its Location to our own
// loopback callback, as a browser would.
async function fetchAuthorization(url, redirectUrl, callback) {
  try {
    const res = await fetch(url, { redirect: 'manual' });
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (!location) throw new Fatal(`the authorization endpoint answered ${res.status} without a redirect`);
    const target = new URL(location, url);
    const mine = new URL(redirectUrl);
    if (target.origin !== mine.origin || target.pathname !== mine.pathname) {
      throw new Fatal(`the authorization endpoint redirected to ${target.origin}${target.pathname}, not to the callback`);
    }
    const delivered = await fetch(target, { redirect: 'manual' });
    const answer = (await delivered.text()).trim();
    // Nobody else will call back: a redirect the callback discarded (wrong state) ends the wait.
    if (delivered.status !== 200) throw new Fatal(`the authorization redirect was not accepted: ${answer}`);
  } catch (e) {
    callback.fail(e instanceof Fatal ? e : new Fatal(`fetching the authorization URL: ${e.message}`));
  }
}

// ---- the OAuthClientProvider -----------------------------------------------------------------------------------

class Provider {
  constructor({ store, redirectUrl, context, clientMetadataUrl, callback }) {
    this.store = store;
    this._redirectUrl = redirectUrl;
    this.callback = callback;
    this.preRegistered = context.client_id
      ? { client_id: context.client_id, ...(context.client_secret ? { client_secret: context.client_secret } : {}) }
      : undefined;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    this._verifier = undefined;
    this._state = undefined;
    this._rounds = 0;
  }
  get redirectUrl() {
    return this._redirectUrl;
  }
  get clientMetadata() {
    return {
      client_name: 'authconform ts-sdk-client',
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none'
    };
  }
  state() {
    this._state = randomBytes(32).toString('base64url');
    return this._state;
  }
  clientInformation() {
    return this.store.get().client ?? this.preRegistered;
  }
  saveClientInformation(info) {
    this.store.update(e => {
      e.client = info;
      e.redirect_url = this._redirectUrl;
    });
  }
  tokens() {
    return this.store.get().tokens;
  }
  saveTokens(tokens) {
    this.store.update(e => {
      e.tokens = tokens;
    });
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    if (!this._verifier) throw new Error('no PKCE code verifier saved');
    return this._verifier;
  }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
    if (scope === 'all' || scope === 'client' || scope === 'tokens') {
      this.store.update(e => {
        if (scope !== 'tokens') delete e.client;
        delete e.tokens;
      });
    }
  }
  redirectToAuthorization(authorizationUrl) {
    if (++this._rounds > MAX_AUTH_ROUNDS) {
      throw new Fatal(`giving up: the server still asks for authorization after ${MAX_AUTH_ROUNDS} authorizations`);
    }
    const url = authorizationUrl.toString();
    this.callback.expect(this._state);
    const browser = process.env.BROWSER;
    if (browser) {
      openInBrowser(browser, url, this.callback);
      return;
    }
    return fetchAuthorization(url, this._redirectUrl, this.callback);
  }
}

// ---- client credentials (the SDK's auth-extensions) ------------------------------------------------------------

async function clientCredentialsProvider(context) {
  const ext = await import('@modelcontextprotocol/sdk/client/auth-extensions.js');
  if (!context.client_id) throw new Fatal('client credentials: the context has no client_id', 2);
  // No expectedIssuer: the context does not name the authorization server (the SDK warns about that on stderr
  // and binds the credentials to the first authorization server that accepts them).
  if (context.private_key_pem) {
    return new ext.PrivateKeyJwtProvider({
      clientId: context.client_id,
      privateKey: context.private_key_pem,
      algorithm: context.signing_algorithm ?? 'RS256'
    });
  }
  if (context.client_secret) {
    return new ext.ClientCredentialsProvider({ clientId: context.client_id, clientSecret: context.client_secret });
  }
  throw new Fatal('client credentials: the context has neither client_secret nor private_key_pem', 2);
}

// ---- main ------------------------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const context = readContext();
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
  let serverUrl;
  try {
    serverUrl = new URL(opts.server);
  } catch {
    throw new Fatal(`not a URL: ${opts.server}`);
  }

  if (context.idp_id_token || context.idp_token_endpoint) {
    throw new Fatal('unsupported: enterprise-managed authorization (ID-JAG token exchange) is not in the SDK client', 2);
  }
  const clientCredentials =
    context.grant_type === 'client_credentials' || scenario.startsWith('auth/client-credentials-');
  if (context.grant_type !== undefined && context.grant_type !== 'client_credentials') {
    throw new Fatal(`unsupported grant_type ${context.grant_type}`, 2);
  }

  let provider;
  let callback;
  if (clientCredentials) {
    provider = await clientCredentialsProvider(context);
  } else {
    const store = new FileStore(serverUrl.href);
    callback = new Callback();
    const previous = store.get().redirect_url;
    const redirectUrl = await callback.listen(previous ? Number(new URL(previous).port) : 0);
    provider = new Provider({
      store,
      redirectUrl,
      context,
      clientMetadataUrl: context.client_metadata_url ?? opts.clientMetadataUrl,
      callback
    });
  }

  const client = new Client({ name: 'authconform-ts-sdk-client', version: '0.0.0' }, { capabilities: {} });
  let transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
  let connected = false;
  let listed = false;
  let result;
  for (let round = 0; ; round++) {
    try {
      if (!connected) {
        await client.connect(transport);
        connected = true;
      }
      if (!listed) {
        await client.listTools();
        listed = true;
      }
      result = await client.callTool({ name: opts.tool, arguments: {} });
      break;
    } catch (e) {
      if (!(e instanceof UnauthorizedError) || !callback) throw e;
      if (round >= MAX_AUTH_ROUNDS) throw new Fatal(`still unauthorized after ${MAX_AUTH_ROUNDS} authorizations`);
      // The SDK has handed the authorization URL to redirectToAuthorization and thrown: wait for the user agent.
      const code = await callback.wait();
      await transport.finishAuth(code);
      if (!connected) {
        // The failed connect started this transport; as in the SDK's example, reconnect with a new one.
        transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
      }
    }
  }

  const texts = (result.content ?? []).filter(c => c.type === 'text').map(c => c.text);
  if (result.isError) throw new Fatal(`tool ${opts.tool} failed: ${texts.join(' ') || 'no text'}`);
  process.stdout.write(texts.join('\n') + '\n');
  await client.close().catch(() => {});
}

function oneLine(e) {
  const msg = e instanceof Error ? e.message || e.name : String(e);
  return msg.replace(/\s+/g, ' ').trim();
}

main().then(
  () => process.exit(0),
  e => {
    process.stderr.write(`ts-sdk-client: ${oneLine(e)}\n`);
    process.exit(e instanceof Fatal ? e.code : 1);
  }
);
