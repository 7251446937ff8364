// An MCP server built with the official TypeScript SDK (@modelcontextprotocol/sdk), protected the way the
// SDK's own examples protect one: `mcpAuthMetadataRouter` serves RFC 9728 metadata, `requireBearerAuth`
// guards /mcp, and a JWT verifier (jose) checks tokens against the issuer's JWKS. Sessions live in a map
// keyed by `Mcp-Session-Id`, as in the SDK's simpleStreamableHttp example.
//
// It exists so that authconform is shown running against an implementation that is not its own; see
// targets/typescript-sdk.toml. Nothing here is tuned to pass: what the suite reports about it is what
// a server written this way does.
//
// Environment: PORT, OAUTH_ISSUER, TLS_CERT, TLS_KEY (PEM files), UPSTREAM_API, UPSTREAM_KEY, and
// NODE_EXTRA_CA_CERTS (the mocks' CA, so that the issuer's metadata and JWKS can be fetched over TLS).

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import {
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthMetadataRouter,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};

const port = Number(env('PORT'));
const issuer = env('OAUTH_ISSUER');
const upstream = process.env.UPSTREAM_API;
const upstreamKey = process.env.UPSTREAM_KEY;
const mcpUrl = new URL(`https://127.0.0.1:${port}/mcp`);

// The authorization server's RFC 8414 metadata, as the SDK's router wants it.
const metadataUrl = new URL('/.well-known/oauth-authorization-server', issuer);
const oauthMetadata = await (await fetch(metadataUrl)).json();
const jwks = createRemoteJWKSet(new URL(oauthMetadata.jwks_uri));

/** The SDK's OAuthTokenVerifier: a JWT signed by the issuer's keys, or InvalidTokenError. */
const verifier = {
  async verifyAccessToken(token) {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer: oauthMetadata.issuer }));
    } catch (e) {
      throw new InvalidTokenError(`token rejected: ${e.code ?? 'invalid'}`);
    }
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    return {
      token,
      clientId: String(payload.client_id ?? payload.azp ?? payload.sub ?? ''),
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      expiresAt: payload.exp,
      resource: aud ? new URL(aud) : undefined,
      extra: { sub: payload.sub },
    };
  },
};

function buildServer() {
  const server = new McpServer({ name: 'authconform-typescript-sdk-example', version: '0.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echo the text back (needs scope mcp:tools)', inputSchema: { text: z.string() } },
    async ({ text }, extra) => {
      if (!extra.authInfo?.scopes.includes('mcp:tools')) {
        return { isError: true, content: [{ type: 'text', text: 'insufficient scope: mcp:tools' }] };
      }
      return { content: [{ type: 'text', text }] };
    },
  );
  server.registerTool(
    'list_projects',
    { description: 'List projects from the upstream API with the server\'s own key' },
    async () => {
      const answer = await fetch(new URL('/projects', upstream), {
        headers: upstreamKey ? { 'X-API-Key': upstreamKey } : {},
      });
      return { content: [{ type: 'text', text: await answer.text() }], isError: !answer.ok };
    },
  );
  return server;
}

const app = express();
app.use(express.json());
app.use(
  mcpAuthMetadataRouter({
    oauthMetadata,
    resourceServerUrl: mcpUrl,
    scopesSupported: ['mcp:read', 'mcp:tools'],
    resourceName: 'authconform TypeScript SDK example',
  }),
);
const auth = requireBearerAuth({
  verifier,
  requiredScopes: ['mcp:read'],
  resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl),
  expectedResource: mcpUrl,
});

/** Open transports by session ID. */
const transports = {};

app.post('/mcp', auth, async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  let transport = sessionId ? transports[sessionId] : undefined;
  if (!transport) {
    if (sessionId || !isInitializeRequest(req.body)) {
      res.status(400).json({
        jsonrpc: '2.0',
        error: { code: -32000, message: 'Bad Request: no valid session ID provided' },
        id: null,
      });
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        transports[id] = transport;
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) delete transports[transport.sessionId];
    };
    await buildServer().connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});

const sessionRequest = async (req, res) => {
  const transport = transports[req.headers['mcp-session-id']];
  if (!transport) {
    res.status(400).send('Invalid or missing session ID');
    return;
  }
  await transport.handleRequest(req, res);
};
app.get('/mcp', auth, sessionRequest);
app.delete('/mcp', auth, sessionRequest);

const tls = { cert: fs.readFileSync(env('TLS_CERT')), key: fs.readFileSync(env('TLS_KEY')) };
https.createServer(tls, app).listen(port, '127.0.0.1', () => {
  console.log(`listening on ${mcpUrl.href}`);
});
