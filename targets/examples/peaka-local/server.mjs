// A Peaka-like LOCAL MCP server, written the way a developer would with the official TypeScript SDK
// (@modelcontextprotocol/sdk): an McpServer on a StdioServerTransport that reads its API key from the
// environment, as the Peaka docs describe for the NPM and from-source installs ("read a Peaka API key from
// the PEAKA_API_KEY environment variable"), and calls the Peaka-like API as the owner of that key.
//
// It exists so that authconform's local-stdio and key-scope profiles run against an implementation that is
// not the suite's own; see targets/peaka-local.toml. Nothing here is tuned to pass: what the suite reports
// about it is what a server written this way does. Scope is whatever the upstream API enforces for the key.
//
// Environment: PEAKA_API_KEY (the project or partner key; without it the server still starts, and every tool
// call fails), PEAKA_API_BASE (required: the API's base URL, e.g. http://127.0.0.1:PORT).
// stdout carries the MCP protocol only; diagnostics go to stderr. The key is never logged.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const apiBase = process.env.PEAKA_API_BASE;
if (!apiBase) {
  console.error('peaka-local: PEAKA_API_BASE is not set');
  process.exit(2);
}
const baseUrl = apiBase.replace(/\/+$/, '');
const apiKey = process.env.PEAKA_API_KEY;
if (!apiKey) {
  console.error('peaka-local: PEAKA_API_KEY is not set; tool calls will fail until it is');
}

/** A tool result with isError set, as the SDK's docs show for errors a model should see. */
const toolError = (text) => ({ isError: true, content: [{ type: 'text', text }] });

/** GET a path of the Peaka API with the configured key; the answer's text, or an isError result. */
async function peakaGet(path) {
  if (!apiKey) {
    return toolError('PEAKA_API_KEY is not set: configure a Peaka project or partner API key in the env block');
  }
  let response;
  try {
    response = await fetch(`${baseUrl}${path}`, {
      headers: { 'X-API-Key': apiKey, Accept: 'application/json' },
    });
  } catch (e) {
    console.error(`peaka-local: GET ${path} failed: ${e.cause?.code ?? e.message}`);
    return toolError(`Peaka API unreachable: ${e.cause?.code ?? e.message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    console.error(`peaka-local: GET ${path} -> HTTP ${response.status}`);
    return toolError(`Peaka API error: HTTP ${response.status} ${response.statusText}${text ? `: ${text}` : ''}`);
  }
  return { content: [{ type: 'text', text }] };
}

const server = new McpServer({ name: 'peaka-local', version: '0.0.0' });

server.registerTool(
  'peaka_list_projects',
  {
    title: 'List Peaka projects',
    description:
      'List the Peaka projects the API key can access: the key\'s project for a project key, every project ' +
      'across the partner account\'s organizations and workspaces for a partner key.',
    annotations: { readOnlyHint: true },
  },
  async () => peakaGet('/projects'),
);

server.registerTool(
  'peaka_get_project',
  {
    title: 'Get a Peaka project',
    description: 'Get one Peaka project by its ID.',
    inputSchema: { project_id: z.string().describe('The project ID') },
    annotations: { readOnlyHint: true },
  },
  async ({ project_id }) => peakaGet(`/projects/${encodeURIComponent(project_id)}`),
);

const transport = new StdioServerTransport();
await server.connect(transport);
console.error('peaka-local: MCP server running on stdio');
