"""An MCP server built with the official Python SDK (the `mcp` package), protected the way the SDK documents it.

`MCPServer(auth=AuthSettings(...), token_verifier=...)` serves RFC 9728 protected resource metadata and wraps
the streamable HTTP endpoint in the SDK's bearer middleware (`BearerAuthBackend` + `RequireAuthMiddleware`); the
`TokenVerifier` below checks JWTs with PyJWT against the issuer's JWKS (signature, `iss`, `aud` = this server's
resource URL, `exp`). The app is served by uvicorn with TLS, on 127.0.0.1 only.

It exists so that authconform is shown running against an implementation that is not its own; see
targets/python-sdk.toml. Nothing here is tuned to pass: what the suite reports about it is what a server
written this way does.

Environment: PORT, OAUTH_ISSUER, TLS_CERT, TLS_KEY (PEM files), UPSTREAM_API, UPSTREAM_KEY, and SSL_CERT_FILE
(the mocks' CA, so that the issuer's metadata and JWKS can be fetched over TLS).
"""

import json
import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urljoin

import anyio
import anyio.to_thread
import jwt
import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        print(f"missing environment variable {name}", file=sys.stderr)
        sys.exit(2)
    return value


port = int(env("PORT"))
issuer = env("OAUTH_ISSUER")
upstream = os.environ.get("UPSTREAM_API")
upstream_key = os.environ.get("UPSTREAM_KEY")
mcp_url = f"https://127.0.0.1:{port}/mcp"

# The authorization server's RFC 8414 metadata: its exact `issuer` and its `jwks_uri`.
with urllib.request.urlopen(urljoin(issuer, "/.well-known/oauth-authorization-server"), timeout=10) as answer:
    oauth_metadata = json.load(answer)


class JwtTokenVerifier(TokenVerifier):
    """A JWT signed by one of the issuer's keys, issued by it, for this server, and unexpired; else None."""

    def __init__(self, jwks_uri: str, issuer: str, audience: str):
        self.jwks = jwt.PyJWKClient(jwks_uri)
        self.issuer = issuer
        self.audience = audience

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            # PyJWKClient fetches (and caches) the JWKS with blocking urllib: keep it off the event loop.
            key = await anyio.to_thread.run_sync(self.jwks.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256", "ES256"],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        scope = claims.get("scope")
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims.get("sub") or ""),
            scopes=scope.split() if isinstance(scope, str) else [],
            expires_at=claims.get("exp"),
            resource=self.audience,
            subject=claims.get("sub"),
            claims=claims,
        )


server = MCPServer(
    name="authconform-python-sdk-example",
    version="0.0.0",
    token_verifier=JwtTokenVerifier(oauth_metadata["jwks_uri"], oauth_metadata["issuer"], mcp_url),
    auth=AuthSettings(
        issuer_url=oauth_metadata["issuer"],
        resource_server_url=mcp_url,
        required_scopes=["mcp:read"],
        # The verifier checks `aud` itself (PyJWT's `audience=`), as the setting's documentation suggests.
        validate_token_resource=False,
    ),
)


@server.tool(description="Echo the text back (needs scope mcp:tools)")
def echo(text: str) -> CallToolResult:
    token = get_access_token()
    if token is None or "mcp:tools" not in token.scopes:
        return CallToolResult(isError=True, content=[TextContent(type="text", text="insufficient scope: mcp:tools")])
    return CallToolResult(content=[TextContent(type="text", text=text)])


@server.tool(description="List projects from the upstream API with the server's own key")
async def list_projects() -> CallToolResult:
    def fetch() -> tuple[bool, str]:
        request = urllib.request.Request(
            urljoin(upstream or "", "/projects"), headers={"X-API-Key": upstream_key} if upstream_key else {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return True, answer.read().decode()
        except urllib.error.HTTPError as e:
            return False, e.read().decode()

    ok, text = await anyio.to_thread.run_sync(fetch)
    return CallToolResult(isError=not ok, content=[TextContent(type="text", text=text)])


app = server.streamable_http_app(json_response=True, host="127.0.0.1")


async def main() -> None:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ssl_certfile=env("TLS_CERT"),
        ssl_keyfile=env("TLS_KEY"),
        log_level="warning",
    )
    http = uvicorn.Server(config)

    async def announce() -> None:
        while not http.started:
            await anyio.sleep(0.05)
        print(f"listening on {mcp_url}", flush=True)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(announce)
        await http.serve()


if __name__ == "__main__":
    anyio.run(main)
