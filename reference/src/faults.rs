//! Seeded faults: each one breaks exactly one behaviour of the reference
//! implementation so the conformance suite can prove its checks can fail.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

macro_rules! faults {
    ($( $variant:ident => $name:literal : $desc:literal ),+ $(,)?) => {
        /// One seeded fault of the reference implementation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Fault {
            $(
                #[doc = $desc]
                $variant,
            )+
        }

        impl Fault {
            /// Every fault, in declaration order.
            pub const ALL: &'static [Fault] = &[$(Fault::$variant),+];

            /// The command-line name of the fault (as accepted by `--fault`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Fault::$variant => $name,)+
                }
            }

            /// A one-line description of the fault.
            pub fn description(self) -> &'static str {
                match self {
                    $(Fault::$variant => $desc,)+
                }
            }

            /// Looks a fault up by its command-line name (exact match).
            pub fn from_name(name: &str) -> Option<Fault> {
                match name {
                    $($name => Some(Fault::$variant),)+
                    _ => None,
                }
            }
        }

        /// Every fault name with a one-line description.
        pub const FAULTS: &[(&str, &str)] = &[$(($name, $desc)),+];
    };
}

faults! {
    NoResourceMetadata => "no-resource-metadata":
        "challenges omit the resource_metadata parameter (the metadata documents are still served)",
    Wrong401Scheme => "wrong-401-scheme":
        "401 challenges for missing and invalid tokens use `Basic realm=\"mcp\"` instead of Bearer",
    AcceptExpired => "accept-expired":
        "the exp claim is not checked, so expired tokens are accepted",
    IgnoreAudience => "ignore-audience":
        "the aud claim is not checked, so tokens for other resources are accepted",
    PrefixAudience => "prefix-audience":
        "aud matches when a value starts with the resource URL or the resource URL starts with it",
    IgnoreIssuer => "ignore-issuer":
        "the iss claim is not checked and the JWKS is discovered from the token's own iss",
    AcceptBadSignature => "accept-bad-signature":
        "the signature is not verified (claims decoded without verification; alg none accepted)",
    InsufficientScope401 => "insufficient-scope-401":
        "insufficient scope is answered 401 instead of 403",
    NoChallengeScope => "no-challenge-scope":
        "the 401 challenge for a request without credentials has no scope parameter",
    ErrorWithoutToken => "error-without-token":
        "the 401 challenge for a request without credentials carries error=\"invalid_token\"",
    AcceptQueryToken => "accept-query-token":
        "an access_token query parameter alone authenticates the request",
    CaseSensitiveScheme => "case-sensitive-scheme":
        "only exactly `Bearer` is the bearer scheme; `bearer` or `BEARER` are treated as unsupported",
    LenientBearer => "lenient-bearer":
        "malformed bearer credentials are repaired (quotes stripped, first token before a space or comma used)",
    FirstAuthorizationWins => "first-authorization-wins":
        "with several credentials the first Authorization field is used instead of answering 400",
    SessionAuthenticates => "session-authenticates":
        "a known Mcp-Session-Id without valid credentials is served as the session's user",
    NoSessionBinding => "no-session-binding":
        "sessions are not bound to the subject that created them",
    PrmWrongResource => "prm-wrong-resource":
        "the protected resource metadata names https://localhost:PORT/mcp (another host) as resource",
    PrmNoAuthorizationServers => "prm-no-authorization-servers":
        "the protected resource metadata has an empty authorization_servers list",
    PrmRequiresAuth => "prm-requires-auth":
        "the protected resource metadata endpoints answer 401 like the MCP endpoint",
    PrmEmptyScopes => "prm-empty-scopes":
        "the protected resource metadata has an empty scopes_supported list",
    TokenPassthrough => "token-passthrough":
        "list_projects sends the client's bearer token upstream instead of its own API key",
    IgnoreScheme => "ignore-scheme":
        "the auth-scheme is not looked at: Basic, Token or DPoP credentials are validated as bearer tokens",
    IgnoreToolScope => "ignore-tool-scope":
        "tools/call is served without the mcp:tools scope (whether scope errors are HTTP 403s or tool-level)",
    SlashedAudience => "slashed-audience":
        "the audience must be the resource URL with a trailing slash, so tokens for the canonical URI are refused",
    PartnerScopeForProjectKey => "partner-scope-for-project-key":
        "stdio: list_projects calls GET /partner/projects (the key owner's account-wide listing) instead of /projects",
    MaskUpstream403 => "mask-upstream-403":
        "stdio: an upstream 403 becomes a success result with text `[]` (masked as an empty success)",
    RetryWithEnvCredential => "retry-with-env-credential":
        "stdio: after an upstream 401 or 403 the request is retried once with the key from --fallback-key-env",
    ForwardOtherCredential => "forward-other-credential":
        "stdio: every upstream request also carries `Authorization: Bearer ref-service-token-7c1d9e`",
    EchoKeyInError => "echo-key-in-error":
        "stdio: tool errors (and the same stderr line) include the API key, or the variable's value when it is blank; http REST API: 401 and 403 bodies include the presented credential (`\"key\"`)",
    HangWithoutKey => "hang-without-key":
        "stdio: with the API key unset or empty the server never answers initialize (it reads stdin until it closes)",
    PartnerListsOneOrganization => "partner-lists-one-organization":
        "stdio: list_projects keeps only the projects whose organization is the first project's, so a partner key lists one organization of its account",
    OauthCallbackListener => "oauth-callback-listener":
        "stdio: at start the server binds a 127.0.0.1 callback listener and opens $BROWSER on an OAuth authorize URL, as if starting an OAuth flow",
    AcceptRevoked => "accept-revoked":
        "http REST API: revoked keys still authenticate (and stay listed as active)",
    RevocationLag => "revocation-lag":
        "http REST API: a revoked key keeps working for 1500 ms after its revocation, then stops",
    RoleNotEnforced => "role-not-enforced":
        "http REST API: developers may perform admin-only operations (creating and revoking keys)",
    SelfEscalation => "self-escalation":
        "http REST API: key creation is authorised by the role named in the body, so a developer asking for an admin key gets it (asking for a developer key is still 403)",
    CrossOrgRead => "cross-org-read":
        "http REST API: GET routes under another organisation (and GET /v1/apis/{id} of another owner) answer with its data; writes are still refused",
    ListShowsSecret => "list-shows-secret":
        "http REST API: key listings and key records include every key's full value",
    PublishableOnManagement => "publishable-on-management":
        "http REST API: a publishable key acts as a developer of its organisation on management and host routes",
    ForbiddenAs401 => "forbidden-as-401":
        "http REST API: role denials are answered 401 (with the challenge) instead of 403",
    InvalidAs403 => "invalid-as-403":
        "http REST API: unknown, revoked and malformed credentials, and requests without any, are answered 403 instead of 401",
    AcceptKeyInQuery => "accept-key-in-query":
        "http REST API: a key in ?api_key=, ?apikey=, ?key=, ?access_token= or ?token= authenticates when no header credential is sent",
    PrefixDecidesType => "prefix-decides-type":
        "http REST API: the key type comes from the presented prefix and the key is found by the rest of the value, so a publishable key's body behind the secret prefix acts as a developer secret key (and vice versa)",
    FoldFullWidthKey => "fold-full-width-key":
        "http REST API and X-API-Key on /mcp: full-width forms U+FF01..U+FF5E in a presented key are folded to ASCII before the lookup, so a key with a full-width look-alike character authenticates",
    DeveloperReadOnly => "developer-read-only":
        "http REST API: developers are refused (403) on creating servers and agents and deleting agents, which the role may do",
    CorsReflectAnyOrigin => "cors-reflect-any-origin":
        "http REST API: every response reflects the request's Origin, whatever it is, with Access-Control-Allow-Credentials: true, and OPTIONS preflights from any origin are answered 204 without authentication, granting the requested headers and method",
    CorsWildcardWithCredentials => "cors-wildcard-with-credentials":
        "http REST API: responses to an allowed origin (--cors-origin) carry Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials: true",
    CorsSuffixMatch => "cors-suffix-match":
        "http REST API: an http(s) Origin ending with an allowed origin's host is granted (https://evilapp.example.test and https://x.app.example.test for https://app.example.test)",
    CorsPrefixMatch => "cors-prefix-match":
        "http REST API: an Origin starting with an allowed origin is granted (https://app.example.test.evil.test and https://app.example.test:8443 for https://app.example.test)",
    CorsNoVary => "cors-no-vary":
        "http REST API: no response carries Vary: Origin, although the CORS grant depends on the Origin",
    PreflightNeedsAuth => "preflight-needs-auth":
        "http REST API: OPTIONS preflights from allowed origins must carry a credential like other requests (401 without one)",
    RefusedOriginExecutes => "refused-origin-executes":
        "http REST API: POST and DELETE requests from a refused Origin are executed (without a CORS grant) instead of answered 403",
    PublishableAnyOrigin => "publishable-any-origin":
        "http REST API: a publishable key is served the embed configuration from any Origin, which the response grants (Access-Control-Allow-Origin: that origin, Access-Control-Allow-Credentials: true)",
    McpIgnoresOrigin => "mcp-ignores-origin":
        "the MCP endpoint does not check Origin, so a request from a foreign origin (DNS rebinding) is served",
    PublishableAnyAgent => "publishable-any-agent":
        "http REST API: a publishable key is served the embed configuration of any agent of its organisation, not only its own",
    OwnerNotChecked => "owner-not-checked":
        "http REST API: POST /v1/apis/{id}:revise and :rebuild act for any authenticated caller whatever organisation owns the API (reads stay owner-only)",
    ObjectOrgUnchecked => "object-org-unchecked":
        "http REST API: api-keys/{id}, servers/{id} and agents/{id} under an organisation the caller may act in find the object by ID alone, whichever organisation owns it",
    SequentialSessionIds => "sequential-session-ids":
        "MCP session IDs are predictable: the Nth session the process creates is `session-N` (rmcp's random IDs are swapped for these on the way out and back on the way in)",
    BodyOverHeader => "body-over-header":
        "http REST API, endpoint calls: when session values come in both headers and body fields, the body's are used",
    SessionOptional => "session-optional":
        "endpoint calls (REST and MCP call_endpoint): the protected endpoint serves u1's data to a call without any session value",
    BearerReplacesSession => "bearer-replaces-session":
        "endpoint calls (REST and MCP call_endpoint): a call with host auth in Authorization: Bearer (an OAuth token on /mcp) and no session value is served as u1",
    SplitPairAccepted => "split-pair-accepted":
        "http REST API, endpoint calls: each session value is taken from the headers if there, else from the body, so a header session ID and a body encryption key make a pair, and a split pair's session is found by its ID without comparing the key (two sessions combine)",
    EchoSession => "echo-session":
        "endpoint calls: invalid_session refusals echo the presented session_id and encryption_key (REST: body fields; MCP: in the error text)",
    Session401 => "session-401":
        "http REST API, endpoint calls: session refusals are 401 with WWW-Authenticate: Bearer realm=\"reference\" instead of 403",
    LoginWithoutFlag => "login-without-flag":
        "http REST API, endpoint calls: the login answer lacks initiates_session",
    SessionInQuery => "session-in-query":
        "http REST API, endpoint calls: session values are also read from the query string (when the body has none)",
    SessionBodyIgnored => "session-body-ignored":
        "http REST API, endpoint calls: session values in the body are ignored (only the headers carry a session)",
    ReuseDeviceCode => "reuse-device-code":
        "device flow: an approved device code yields a new API key on every exchange, not only the first",
    PendingForUnknownCode => "pending-for-unknown-code":
        "device flow: unknown or tampered device codes answer authorization_pending instead of invalid_grant",
    NoRateLimit => "no-rate-limit":
        "device flow: wrong user codes on POST /public/device/approve are never throttled (no 429)",
    CacheableKey => "cacheable-key":
        "device flow: the exchange response carrying the API key lacks Cache-Control: no-store",
    HonourExpiredCodes => "honour-expired-codes":
        "device flow: codes stay valid after expires_in (a late approval works and the exchange issues a key)",
    GuessableDeviceCodes => "guessable-device-codes":
        "device flow: device codes are a counter (dc-00000001, dc-00000002, …)",
    DenialNotTerminal => "denial-not-terminal":
        "device flow: after a denial, polls answer authorization_pending instead of access_denied",
    StartWithoutExpiry => "start-without-expiry":
        "device flow: the start response lacks expires_in",
    // Reference CLI
    PollTooFast => "poll-too-fast":
        "cli: the device flow polls at half the announced interval",
    IgnoreSlowDown => "ignore-slow-down":
        "cli: slow_down does not grow the polling interval",
    NoDefaultInterval => "no-default-interval":
        "cli: the device flow polls every 1 s when the start response has no interval (instead of 5 s)",
    LoopOnExpired => "loop-on-expired":
        "cli: an expired device code (expired_token or past expires_in) starts a new device flow, again and again until killed",
    PrintKey => "print-key":
        "cli: sign-in commands print the full API key instead of its last 4 characters",
    PrintDeviceCode => "print-device-code":
        "cli: auth login prints the device code",
    KeepKeyAfterLogout => "keep-key-after-logout":
        "cli: auth logout says signed out but leaves the credential file",
    WorldReadableCredentials => "world-readable-credentials":
        "cli: the credential file is written with mode 0644",
    ApiKeyFlagStartsDeviceFlow => "api-key-flag-starts-device-flow":
        "cli: auth login --api-key first POSTs to /public/device/start, then stores the key",
    ContinueAfterDenied => "continue-after-denied":
        "cli: the device flow keeps polling after access_denied",
    NoBackoff => "no-backoff":
        "cli: after a poll times out the device flow retries at the same interval",
    InsecureTls => "insecure-tls":
        "cli: any server certificate is accepted",
    PlainHttpAnywhere => "plain-http-anywhere":
        "cli: http:// hosts are allowed whatever the host, not only loopback",
    KeyInQuery => "key-in-query":
        "cli: REST and MCP calls send the key as ?api_key= instead of X-API-Key",
    EnvOrgBeatsFlag => "env-org-beats-flag":
        "cli: REFCLI_ORG_ID wins over --org",
    SignupStoresPartial => "signup-stores-partial":
        "cli: a refused signup still writes a credential file with an empty key and exits 0",
    ServiceAccountUnvalidated => "service-account-unvalidated":
        "cli: auth service-account login stores the key without checking it with the host, exit 0",
    SignInWhenSignedOut => "sign-in-when-signed-out":
        "cli: `apis list` without a stored key starts a device flow instead of saying not signed in",
    RetryOnServerError => "retry-on-server-error":
        "cli: a 5xx answer to a device poll is read as pending and polling goes on",
    // Co-hosted authorization server
    PkceOptional => "pkce-optional":
        "co-hosted AS: authorization requests without code_challenge (or with method plain) get a code, and the token endpoint does not check code_verifier",
    LooseRedirectMatch => "loose-redirect-match":
        "co-hosted AS: a redirect_uri matches a registered one when it starts with it (…/cb/x and …/cb?x=1 are redirected to)",
    NoRefreshRotation => "no-refresh-rotation":
        "co-hosted AS: the refresh grant returns the same refresh token, which stays usable",
    IgnoreResource => "ignore-resource":
        "co-hosted AS: any resource is accepted at authorize and token (no invalid_target, no fragment check)",
    RegisterAnyRedirect => "register-any-redirect":
        "co-hosted AS: dynamic registration accepts any redirect URIs (javascript:, fragments, non-loopback http, an empty list)",
    LoopbackAnyAuthority => "loopback-any-authority":
        "co-hosted AS: a loopback redirect_uri matches when its authority merely mentions a loopback host and scheme, path and query are equal (localhost, 127.0.0.1.evil.test and 127.0.0.1:33418@evil.test are redirected to)",
    UnboundAudience => "unbound-audience":
        "co-hosted AS: access tokens are not audience-restricted: aud is the AS's own issuer whatever resource was requested",
    // Reference MCP client (`cli connect`)
    NoPkce => "no-pkce":
        "cli connect: the authorization request has no code_challenge (and the code exchange no code_verifier)",
    PlainPkce => "plain-pkce":
        "cli connect: PKCE uses code_challenge_method=plain (the challenge is the verifier itself)",
    NoResourceParam => "no-resource-param":
        "cli connect: no RFC 8707 resource parameter in the authorization, code-exchange, refresh or client-credentials requests",
    NoStateCheck => "no-state-check":
        "cli connect: a callback whose state is wrong or missing is accepted and its code exchanged",
    TokenInQuery => "token-in-query":
        "cli connect: the access token goes in the MCP URL's query (?access_token=) instead of Authorization: Bearer",
    TokenToOtherHost => "token-to-other-host":
        "cli connect: one token is stored for all servers, so a token obtained for server A is sent to server B",
    AcceptIssuerMismatch => "accept-issuer-mismatch":
        "cli connect: AS metadata whose issuer differs from the issuer its URL was derived from is used",
    IgnoreResourceMetadata => "ignore-resource-metadata":
        "cli connect: the resource_metadata parameter of WWW-Authenticate is ignored; only the well-known PRM URLs are probed",
    EndlessStepUp => "endless-step-up":
        "cli connect: every 403 insufficient_scope starts another authorization, up to 10 (instead of at most 2)",
    OpenAnyScheme => "open-any-scheme":
        "cli connect: the authorization endpoint is opened whatever its scheme (javascript:, data:, file:, vbscript:, plain http off loopback)",
    BrowserViaShell => "browser-via-shell":
        "cli connect: the browser is started through a shell (sh -c '$BROWSER \"<url>\"'), so command substitution in the URL runs",
    NoLegacyEndpoints => "no-legacy-endpoints":
        "cli connect: a 2025-03-26 server without metadata is given up on (no /authorize, /token, /register fallback)",
    RootPrmFirst => "root-prm-first":
        "cli connect: without resource_metadata, the root well-known PRM URI is tried before the path-inserted one",
    RootAsMetadataOnly => "root-as-metadata-only":
        "cli connect: AS metadata is asked only at /.well-known/oauth-authorization-server on the issuer's origin (issuer path dropped, no OpenID discovery)",
    AcceptAnyPrmResource => "accept-any-prm-resource":
        "cli connect: protected resource metadata is used whatever its resource names",
    PkceUnadvertisedOk => "pkce-unadvertised-ok":
        "cli connect: an AS whose metadata lacks code_challenge_methods_supported (or S256 in it) is used anyway",
    FollowMetadataRedirects => "follow-metadata-redirects":
        "cli connect: a redirect answering a metadata request is followed, wherever it points",
    NoRefreshGrantType => "no-refresh-grant-type":
        "cli connect: dynamic registration asks only for the authorization_code grant type (no refresh_token)",
    AlwaysOfflineAccess => "always-offline-access":
        "cli connect: offline_access is requested even when the AS metadata does not list it",
    FixedScope => "fixed-scope":
        "cli connect: every authorization asks for scope `mcp`, whatever the challenge and metadata say",
    TwoAuthMethods => "two-auth-methods":
        "cli connect: token requests authenticate twice: the registered method plus a Basic header (or, for client_secret_basic, the secret in the body too)",
    ExpiredAssertion => "expired-assertion":
        "cli connect: private_key_jwt client assertions expired five minutes ago",
    IgnoreCimd => "ignore-cimd":
        "cli connect: the client ID metadata document URL is not used where the AS supports it (dynamic registration instead)",
    RawResource => "raw-resource":
        "cli connect: resource is the server URL as given (upper-case host kept), not its canonical form",
}

/// Error for a fault name that is not in [`FAULTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFault {
    /// The name that was given.
    pub name: String,
}

impl fmt::Display for UnknownFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown fault {:?}; valid faults are:", self.name)?;
        for (name, desc) in FAULTS {
            write!(f, "\n  {name:<30} {desc}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownFault {}

/// A set of active faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(BTreeSet<Fault>);

impl Faults {
    /// Parses fault names; blank names are skipped, surrounding whitespace ignored.
    pub fn parse<I, S>(names: I) -> Result<Faults, UnknownFault>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.as_ref().trim();
            if name.is_empty() {
                continue;
            }
            let fault = Fault::from_name(name).ok_or_else(|| UnknownFault {
                name: name.to_owned(),
            })?;
            set.insert(fault);
        }
        Ok(Faults(set))
    }

    /// The variable naming the probe file: when set, every process of the reference appends to it the name
    /// of each fault whose [`Faults::has`] it asks, once per process (whether or not the fault is active).
    /// A fault is seeded only through `has`, so a scenario whose clean run asks no process about a fault
    /// runs the same with that fault seeded: `authconform selftest` runs each fault only where it was asked.
    pub const PROBE_ENV: &'static str = "AUTHCONFORM_REFERENCE_PROBE";

    /// Whether `fault` is active (recorded in the probe file, see [`Faults::PROBE_ENV`]).
    pub fn has(&self, fault: Fault) -> bool {
        probe(fault);
        self.0.contains(&fault)
    }

    /// Whether `fault` is active, not recorded in the probe file: only for a value whose effect cannot
    /// come before a [`Faults::has`] of the same fault (a knob read by a server that asks first).
    pub(crate) fn has_unrecorded(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    /// The active faults.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }

    /// Whether no fault is active.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The probe file and the faults this process has already recorded in it.
struct Probe {
    path: String,
    asked: Mutex<BTreeSet<Fault>>,
}

/// Records that `fault` was asked about, when [`Faults::PROBE_ENV`] names a file (first time only).
fn probe(fault: Fault) {
    static PROBE: OnceLock<Option<Probe>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        std::env::var(Faults::PROBE_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .map(|path| Probe {
                path,
                asked: Mutex::new(BTreeSet::new()),
            })
    });
    let Some(probe) = probe else { return };
    let mut asked = probe.asked.lock().unwrap_or_else(|e| e.into_inner());
    if asked.insert(fault) {
        // One short append per line: lines of processes sharing the file do not interleave.
        let line = format!("{}\n", fault.name());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&probe.path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "authconform-reference: cannot write the probe file {}: {e}",
                probe.path
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(FAULTS.len(), Fault::ALL.len());
        for fault in Fault::ALL {
            assert_eq!(Fault::from_name(fault.name()), Some(*fault));
            assert!(FAULTS.contains(&(fault.name(), fault.description())));
        }
    }

    #[test]
    fn parse_rejects_unknown_and_lists_valid() {
        let err = Faults::parse(["accept-expired", "nope"]).unwrap_err();
        assert_eq!(err.name, "nope");
        let text = err.to_string();
        for (name, _) in FAULTS {
            assert!(text.contains(name));
        }
        let ok = Faults::parse([" accept-expired ", ""]).unwrap();
        assert!(ok.has(Fault::AcceptExpired));
        assert!(!ok.has(Fault::IgnoreAudience));
    }
}
