//! The suite against its own reference implementation: the clean reference passes every scenario, and each
//! seeded fault makes the scenario aimed at it fail (a check that cannot fail is a defect).

mod common;

use authconform::report::{Outcome, RunReport};
use std::collections::BTreeSet;

use common::{root, scenarios};

async fn run(faults: &[&str], filter: Option<&str>) -> RunReport {
    common::run_reference(faults, filter).await
}

fn explain(report: &RunReport) -> String {
    authconform::report::render(
        report,
        authconform::report::Style {
            color: false,
            verbose: false,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_reference_passes_every_scenario() {
    let report = run(&[], None).await;
    assert_eq!(report.scenarios.len(), scenarios().len());
    for s in &report.scenarios {
        assert_eq!(s.outcome, Outcome::Pass, "{}\n{}", s.id, explain(&report));
    }
    assert_eq!(report.exit_code(), 0);
    // The reference's transcripts are a committed regression record (snapshots/reference/).
    let snaps = authconform::snapshot::compare(
        &report,
        &root().join("snapshots"),
        authconform::snapshot::Mode::Check,
    );
    assert!(
        !snaps.no_snapshots,
        "no snapshots recorded in {}",
        snaps.dir.display()
    );
    assert!(
        snaps.differing.is_empty(),
        "transcripts differ from snapshots/reference: {:?} (review the .snap.new files with `cargo insta review`)",
        snaps.differing
    );
}

/// No secret the target file names (credentials, principals' keys) appears anywhere in a report, even when a
/// seeded fault echoes the key into error texts and stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_reports() {
    let secrets = common::reference_target().secrets();
    assert!(secrets.len() >= 4, "{secrets:?}");
    for faults in [
        &[][..],
        &["echo-key-in-error", "forward-other-credential"][..],
    ] {
        let report = run(faults, None).await;
        let json = serde_json::to_string(&report).expect("serializes");
        for (secret, placeholder) in &secrets {
            assert!(
                !json.contains(secret.as_str()),
                "{placeholder} leaked with {faults:?}"
            );
        }
        assert!(
            json.contains("[KEY:project-p1]"),
            "the key is shown by name"
        );
    }
}

/// The global secret check (HYG-004, run in every scenario) fails, naming the step and the placeholder and
/// never the key, wherever a fault echoes a key: in REST error bodies (api-key, roles, secrets-hygiene) and
/// in a stdio server's errors and logs (key-scope); the clean reference passes it everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_secret_check_names_the_placeholder_in_every_profile() {
    let global = |report: &RunReport| -> Vec<(String, String, Outcome, String)> {
        report
            .scenarios
            .iter()
            .flat_map(|s| {
                s.checks
                    .iter()
                    .filter(|c| c.what.starts_with("global:"))
                    .map(move |c| {
                        let got = c
                            .mismatch
                            .as_ref()
                            .map(|m| m.got.clone())
                            .unwrap_or_default();
                        (s.profile.clone(), s.id.clone(), c.outcome, got)
                    })
            })
            .collect()
    };
    let clean = run(&[], None).await;
    let all = global(&clean);
    assert_eq!(
        all.len(),
        clean.scenarios.len(),
        "one global check per scenario"
    );
    assert!(all.iter().all(|g| g.2 == Outcome::Pass), "{all:?}");

    let echoed = run(&["echo-key-in-error"], None).await;
    assert_eq!(echoed.exit_code(), 1);
    let failed: Vec<_> = global(&echoed)
        .into_iter()
        .filter(|g| g.2 == Outcome::Fail)
        .collect();
    let profiles: BTreeSet<&str> = failed.iter().map(|g| g.0.as_str()).collect();
    for p in ["api-key", "roles", "key-scope", "secrets-hygiene"] {
        assert!(profiles.contains(p), "no global failure in {p}: {failed:?}");
    }
    let secrets = common::reference_target().secrets();
    for (_, id, _, got) in &failed {
        assert!(
            got.contains("step `") && got.contains("[KEY:"),
            "{id}: {got}"
        );
        for (secret, _) in &secrets {
            assert!(!got.contains(secret.as_str()), "{id} shows a secret");
        }
    }
}

/// Fault → (scenario, requirement, outcome that requirement's worst check must have).
const FAULT_TABLE: &[(&str, &str, &str, Outcome)] = &[
    (
        "no-resource-metadata",
        "oauth-resource/no-credentials",
        "OAUTH-401-002",
        Outcome::Warn,
    ),
    (
        "wrong-401-scheme",
        "oauth-resource/no-credentials",
        "OAUTH-401-002",
        Outcome::Fail,
    ),
    (
        "error-without-token",
        "oauth-resource/no-credentials",
        "OAUTH-401-003",
        Outcome::Warn,
    ),
    (
        "no-challenge-scope",
        "oauth-resource/no-credentials",
        "OAUTH-SCOPE-001",
        Outcome::Warn,
    ),
    (
        "ignore-scheme",
        "oauth-resource/unsupported-scheme",
        "OAUTH-401-003",
        Outcome::Warn,
    ),
    (
        "accept-bad-signature",
        "oauth-resource/invalid-tokens",
        "OAUTH-401-004",
        Outcome::Fail,
    ),
    (
        "accept-expired",
        "oauth-resource/expired-token",
        "OAUTH-401-005",
        Outcome::Fail,
    ),
    (
        "case-sensitive-scheme",
        "oauth-resource/header-case",
        "OAUTH-HDR-001",
        Outcome::Fail,
    ),
    (
        "lenient-bearer",
        "oauth-resource/malformed-authorization",
        "OAUTH-HDR-002",
        Outcome::Fail,
    ),
    (
        "first-authorization-wins",
        "oauth-resource/duplicate-credentials",
        "OAUTH-HDR-003",
        Outcome::Fail,
    ),
    (
        "ignore-audience",
        "oauth-resource/wrong-audience",
        "OAUTH-AUD-001",
        Outcome::Fail,
    ),
    (
        "ignore-tool-scope",
        "oauth-resource/insufficient-scope",
        "OAUTH-SCOPE-002",
        Outcome::Fail,
    ),
    (
        "slashed-audience",
        "oauth-resource/mcp-client-session",
        "OAUTH-AUD-001",
        Outcome::Fail,
    ),
    (
        "prefix-audience",
        "oauth-resource/sibling-audience",
        "OAUTH-AUD-002",
        Outcome::Fail,
    ),
    (
        "ignore-issuer",
        "oauth-resource/untrusted-issuer",
        "OAUTH-AUD-003",
        Outcome::Fail,
    ),
    (
        "token-passthrough",
        "oauth-resource/no-token-passthrough",
        "OAUTH-AUD-004",
        Outcome::Fail,
    ),
    (
        "accept-query-token",
        "oauth-resource/query-token",
        "OAUTH-TOK-001",
        Outcome::Fail,
    ),
    (
        "session-authenticates",
        "oauth-resource/session-requires-token",
        "OAUTH-TOK-002",
        Outcome::Fail,
    ),
    (
        "no-session-binding",
        "oauth-resource/session-binding",
        "OAUTH-TOK-003",
        Outcome::Warn,
    ),
    (
        "prm-requires-auth",
        "oauth-resource/protected-resource-metadata",
        "OAUTH-PRM-001",
        Outcome::Fail,
    ),
    (
        "prm-wrong-resource",
        "oauth-resource/protected-resource-metadata",
        "OAUTH-PRM-002",
        Outcome::Fail,
    ),
    (
        "prm-no-authorization-servers",
        "oauth-resource/protected-resource-metadata",
        "OAUTH-PRM-003",
        Outcome::Fail,
    ),
    (
        "prm-empty-scopes",
        "oauth-resource/protected-resource-metadata",
        "OAUTH-PRM-004",
        Outcome::Fail,
    ),
    (
        "insufficient-scope-401",
        "oauth-resource/insufficient-scope",
        "OAUTH-SCOPE-002",
        Outcome::Fail,
    ),
    (
        "oauth-callback-listener",
        "local-stdio/key-from-environment",
        "LOCAL-001",
        Outcome::Warn,
    ),
    (
        "hang-without-key",
        "local-stdio/missing-or-invalid-key",
        "LOCAL-002",
        Outcome::Fail,
    ),
    (
        "echo-key-in-error",
        "local-stdio/missing-or-invalid-key",
        "LOCAL-002",
        Outcome::Fail,
    ),
    (
        "forward-other-credential",
        "local-stdio/acts-as-key-owner",
        "LOCAL-003",
        Outcome::Fail,
    ),
    (
        "partner-scope-for-project-key",
        "key-scope/project-key-lists-its-project",
        "SCOPE-001",
        Outcome::Fail,
    ),
    (
        "mask-upstream-403",
        "key-scope/project-key-refused-elsewhere",
        "SCOPE-002",
        Outcome::Fail,
    ),
    (
        "retry-with-env-credential",
        "key-scope/project-key-refused-elsewhere",
        "SCOPE-002",
        Outcome::Fail,
    ),
    (
        "partner-lists-one-organization",
        "key-scope/partner-key-lists-every-project",
        "SCOPE-003",
        Outcome::Fail,
    ),
    (
        "retry-with-env-credential",
        "key-scope/partner-key-bounded",
        "SCOPE-004",
        Outcome::Fail,
    ),
    (
        "mask-upstream-403",
        "key-scope/partner-key-bounded",
        "SCOPE-004",
        Outcome::Fail,
    ),
    (
        "accept-revoked",
        "api-key/revoked-key",
        "APIKEY-003",
        Outcome::Fail,
    ),
    (
        "revocation-lag",
        "api-key/revoked-key",
        "APIKEY-003",
        Outcome::Fail,
    ),
    (
        "invalid-as-403",
        "api-key/missing-key",
        "APIKEY-001",
        Outcome::Fail,
    ),
    (
        "invalid-as-403",
        "api-key/invalid-keys",
        "APIKEY-002",
        Outcome::Fail,
    ),
    (
        "invalid-as-403",
        "api-key/blank-and-padded",
        "APIKEY-007",
        Outcome::Fail,
    ),
    (
        "invalid-as-403",
        "api-key/duplicate-credentials",
        "APIKEY-009",
        Outcome::Fail,
    ),
    (
        "invalid-as-403",
        "roles/authentication-first",
        "ROLE-002",
        Outcome::Fail,
    ),
    (
        "fold-full-width-key",
        "api-key/key-mutants",
        "APIKEY-002",
        Outcome::Fail,
    ),
    (
        "role-not-enforced",
        "api-key/header-forms",
        "APIKEY-005",
        Outcome::Fail,
    ),
    (
        "wrong-401-scheme",
        "api-key/mcp-key",
        "APIKEY-011",
        Outcome::Fail,
    ),
    (
        "role-not-enforced",
        "roles/limited-role-denied",
        "ROLE-001",
        Outcome::Fail,
    ),
    (
        "forbidden-as-401",
        "roles/limited-role-denied",
        "ROLE-001",
        Outcome::Fail,
    ),
    (
        "developer-read-only",
        "roles/limited-role-allowed",
        "ROLE-003",
        Outcome::Fail,
    ),
    (
        "self-escalation",
        "roles/no-self-escalation",
        "ROLE-004",
        Outcome::Fail,
    ),
    (
        "forbidden-as-401",
        "roles/same-role-same-decisions",
        "ROLE-006",
        Outcome::Fail,
    ),
    (
        "cross-org-read",
        "key-scope/organization-bound",
        "SCOPE-005",
        Outcome::Fail,
    ),
    (
        "object-org-unchecked",
        "key-scope/object-reference",
        "SCOPE-006",
        Outcome::Fail,
    ),
    (
        "publishable-any-agent",
        "key-scope/publishable-agent",
        "SCOPE-007",
        Outcome::Fail,
    ),
    (
        "owner-not-checked",
        "key-scope/owner-only",
        "SCOPE-008",
        Outcome::Fail,
    ),
    (
        "list-shows-secret",
        "secrets-hygiene/secret-shown-once",
        "HYG-001",
        Outcome::Fail,
    ),
    (
        "list-shows-secret",
        "secrets-hygiene/publishable-retrievable",
        "HYG-002",
        Outcome::Fail,
    ),
    (
        "echo-key-in-error",
        "secrets-hygiene/no-echo",
        "HYG-004",
        Outcome::Warn,
    ),
    (
        "accept-key-in-query",
        "secrets-hygiene/no-key-in-query",
        "HYG-005",
        Outcome::Fail,
    ),
    (
        "publishable-on-management",
        "secrets-hygiene/publishable-not-secret",
        "HYG-007",
        Outcome::Fail,
    ),
    (
        "prefix-decides-type",
        "secrets-hygiene/prefix-is-not-type",
        "HYG-008",
        Outcome::Fail,
    ),
    (
        "cors-reflect-any-origin",
        "secrets-hygiene/secret-keys-not-cross-origin",
        "HYG-010",
        Outcome::Fail,
    ),
    (
        "sequential-session-ids",
        "secrets-hygiene/session-ids",
        "HYG-009",
        Outcome::Fail,
    ),
    (
        "body-over-header",
        "session-layer/headers-win",
        "SESS-007",
        Outcome::Fail,
    ),
    (
        "split-pair-accepted",
        "session-layer/headers-win",
        "SESS-009",
        Outcome::Fail,
    ),
    (
        "session-optional",
        "session-layer/session-required",
        "SESS-002",
        Outcome::Fail,
    ),
    (
        "session-401",
        "session-layer/session-required",
        "SESS-002",
        Outcome::Fail,
    ),
    (
        "bearer-replaces-session",
        "session-layer/host-boundary",
        "SESS-012",
        Outcome::Fail,
    ),
    (
        "bearer-replaces-session",
        "session-layer/mcp-session-arguments",
        "SESS-012",
        Outcome::Fail,
    ),
    (
        "echo-session",
        "session-layer/host-boundary",
        "HYG-004",
        Outcome::Fail,
    ),
    (
        "login-without-flag",
        "session-layer/login",
        "SESS-001",
        Outcome::Fail,
    ),
    (
        "session-body-ignored",
        "session-layer/transports",
        "SESS-005",
        Outcome::Fail,
    ),
    (
        "cors-wildcard-with-credentials",
        "cors/allowed-origin",
        "CORS-002",
        Outcome::Fail,
    ),
    (
        "cors-no-vary",
        "cors/allowed-origin",
        "CORS-003",
        Outcome::Fail,
    ),
    (
        "cors-reflect-any-origin",
        "cors/foreign-origin",
        "CORS-004",
        Outcome::Fail,
    ),
    (
        "refused-origin-executes",
        "cors/foreign-origin",
        "CORS-004",
        Outcome::Fail,
    ),
    (
        "cors-suffix-match",
        "cors/look-alike-origins",
        "CORS-005",
        Outcome::Fail,
    ),
    (
        "cors-prefix-match",
        "cors/look-alike-origins",
        "CORS-009",
        Outcome::Fail,
    ),
    (
        "preflight-needs-auth",
        "cors/preflight",
        "CORS-008",
        Outcome::Fail,
    ),
    (
        "publishable-any-origin",
        "cors/publishable-origins",
        "CORS-012",
        Outcome::Fail,
    ),
    (
        "mcp-ignores-origin",
        "cors/mcp-origin",
        "CORS-013",
        Outcome::Fail,
    ),
    (
        "session-in-query",
        "secrets-hygiene/session-in-query",
        "HYG-006",
        Outcome::Warn,
    ),
    (
        "start-without-expiry",
        "device-flow/host-start",
        "DEV-S-001",
        Outcome::Fail,
    ),
    (
        "denial-not-terminal",
        "device-flow/host-denial",
        "DEV-S-004",
        Outcome::Fail,
    ),
    (
        "reuse-device-code",
        "device-flow/host-approval",
        "DEV-S-007",
        Outcome::Fail,
    ),
    (
        "cacheable-key",
        "device-flow/host-approval",
        "DEV-S-006",
        Outcome::Fail,
    ),
    (
        "pending-for-unknown-code",
        "device-flow/host-unknown-codes",
        "DEV-S-008",
        Outcome::Fail,
    ),
    (
        "no-rate-limit",
        "device-flow/host-approval-guard",
        "DEV-S-010",
        Outcome::Fail,
    ),
    (
        "honour-expired-codes",
        "device-flow/host-expiry",
        "DEV-S-005",
        Outcome::Fail,
    ),
    (
        "guessable-device-codes",
        "device-flow/host-codes",
        "DEV-S-009",
        Outcome::Fail,
    ),
    // The co-hosted authorization server.
    (
        "pkce-optional",
        "oauth-resource/cohosted-pkce",
        "OAUTH-AS-002",
        Outcome::Fail,
    ),
    (
        "loose-redirect-match",
        "oauth-resource/cohosted-redirect",
        "OAUTH-AS-003",
        Outcome::Fail,
    ),
    (
        "ignore-resource",
        "oauth-resource/cohosted-resource",
        "OAUTH-AS-004",
        Outcome::Fail,
    ),
    (
        "no-refresh-rotation",
        "oauth-resource/cohosted-refresh",
        "OAUTH-AS-005",
        Outcome::Fail,
    ),
    (
        "register-any-redirect",
        "oauth-resource/cohosted-registration",
        "OAUTH-AS-006",
        Outcome::Fail,
    ),
    (
        "loopback-any-authority",
        "oauth-resource/cohosted-redirect",
        "OAUTH-AS-003",
        Outcome::Fail,
    ),
    (
        "unbound-audience",
        "oauth-resource/cohosted-resource",
        "OAUTH-AS-004",
        Outcome::Fail,
    ),
    // The reference CLI (device-flow client side, cli-auth).
    (
        "poll-too-fast",
        "device-flow/cli-interval",
        "DEV-C-002",
        Outcome::Fail,
    ),
    (
        "ignore-slow-down",
        "device-flow/cli-slow-down",
        "DEV-C-004",
        Outcome::Fail,
    ),
    (
        "no-default-interval",
        "device-flow/cli-default-interval",
        "DEV-C-003",
        Outcome::Fail,
    ),
    (
        "loop-on-expired",
        "device-flow/cli-expiry",
        "DEV-C-005",
        Outcome::Fail,
    ),
    (
        "loop-on-expired",
        "device-flow/cli-expired",
        "DEV-C-005",
        Outcome::Fail,
    ),
    (
        "print-key",
        "cli-auth/device-login-output",
        "CLI-003",
        Outcome::Fail,
    ),
    (
        "print-device-code",
        "device-flow/cli-login",
        "DEV-C-001",
        Outcome::Fail,
    ),
    (
        "keep-key-after-logout",
        "cli-auth/key-login",
        "CLI-002",
        Outcome::Fail,
    ),
    (
        "world-readable-credentials",
        "device-flow/cli-login",
        "DEV-C-009",
        Outcome::Fail,
    ),
    (
        "api-key-flag-starts-device-flow",
        "cli-auth/key-login",
        "CLI-001",
        Outcome::Fail,
    ),
    (
        "continue-after-denied",
        "device-flow/cli-denied",
        "DEV-C-005",
        Outcome::Fail,
    ),
    (
        "no-backoff",
        "device-flow/cli-timeout",
        "DEV-C-006",
        Outcome::Fail,
    ),
    (
        "insecure-tls",
        "device-flow/cli-tls-untrusted-ca",
        "DEV-C-008",
        Outcome::Fail,
    ),
    (
        "insecure-tls",
        "device-flow/cli-tls-wrong-name",
        "DEV-C-008",
        Outcome::Fail,
    ),
    (
        "plain-http-anywhere",
        "device-flow/cli-plain-http",
        "DEV-C-008",
        Outcome::Fail,
    ),
    (
        "key-in-query",
        "device-flow/cli-login",
        "DEV-C-009",
        Outcome::Fail,
    ),
    (
        "env-org-beats-flag",
        "cli-auth/org-selection",
        "CLI-006",
        Outcome::Fail,
    ),
    (
        "signup-stores-partial",
        "cli-auth/signup-disabled",
        "CLI-004",
        Outcome::Fail,
    ),
    (
        "sign-in-when-signed-out",
        "device-flow/cli-unprompted",
        "DEV-C-007",
        Outcome::Fail,
    ),
    (
        "retry-on-server-error",
        "device-flow/cli-server-error",
        "DEV-C-005",
        Outcome::Fail,
    ),
    (
        "service-account-unvalidated",
        "cli-auth/service-account",
        "CLI-005",
        Outcome::Fail,
    ),
    // The reference MCP client (oauth-client). The reference holds itself to the SHOULDs of STATE-001 and
    // SCOPE-001 (its `strict` list), so their faults fail.
    (
        "no-pkce",
        "oauth-client/sign-in",
        "OCLI-PKCE-001",
        Outcome::Fail,
    ),
    (
        "plain-pkce",
        "oauth-client/step-up",
        "OCLI-PKCE-001",
        Outcome::Fail,
    ),
    (
        "no-resource-param",
        "oauth-client/refresh",
        "OCLI-RES-001",
        Outcome::Fail,
    ),
    (
        "no-state-check",
        "oauth-client/state-wrong",
        "OCLI-STATE-001",
        Outcome::Fail,
    ),
    (
        "no-state-check",
        "oauth-client/state-missing",
        "OCLI-STATE-001",
        Outcome::Fail,
    ),
    (
        "token-in-query",
        "oauth-client/sign-in",
        "OCLI-TOK-001",
        Outcome::Fail,
    ),
    (
        "token-to-other-host",
        "oauth-client/token-other-server",
        "OCLI-TOK-002",
        Outcome::Fail,
    ),
    (
        "accept-issuer-mismatch",
        "oauth-client/as-issuer-mismatch",
        "OCLI-DISC-005",
        Outcome::Fail,
    ),
    (
        "ignore-resource-metadata",
        "oauth-client/challenge-after-dpop",
        "OCLI-DISC-001",
        Outcome::Fail,
    ),
    (
        "ignore-resource-metadata",
        "oauth-client/challenge-split-fields",
        "OCLI-DISC-001",
        Outcome::Fail,
    ),
    (
        "ignore-resource-metadata",
        "oauth-client/challenge-extra-params",
        "OCLI-DISC-001",
        Outcome::Fail,
    ),
    (
        "ignore-resource-metadata",
        "oauth-client/challenge-lowercase-scheme",
        "OCLI-DISC-001",
        Outcome::Fail,
    ),
    (
        "endless-step-up",
        "oauth-client/step-up-limit",
        "OCLI-SCOPE-001",
        Outcome::Fail,
    ),
    (
        "open-any-scheme",
        "oauth-client/auth-url-javascript",
        "OCLI-SEC-001",
        Outcome::Fail,
    ),
    (
        "open-any-scheme",
        "oauth-client/auth-url-data",
        "OCLI-SEC-001",
        Outcome::Fail,
    ),
    (
        "open-any-scheme",
        "oauth-client/auth-url-file",
        "OCLI-SEC-001",
        Outcome::Fail,
    ),
    (
        "open-any-scheme",
        "oauth-client/auth-url-vbscript",
        "OCLI-SEC-001",
        Outcome::Fail,
    ),
    (
        "open-any-scheme",
        "oauth-client/auth-url-plain-http",
        "OCLI-SEC-001",
        Outcome::Fail,
    ),
    (
        "browser-via-shell",
        "oauth-client/auth-url-shell",
        "OCLI-SEC-001",
        Outcome::Fail,
    ),
    (
        "root-prm-first",
        "oauth-client/discovery-fallback",
        "OCLI-DISC-002",
        Outcome::Fail,
    ),
    (
        "root-prm-first",
        "oauth-client/legacy-metadata",
        "OCLI-LEGACY-001",
        Outcome::Fail,
    ),
    (
        "no-legacy-endpoints",
        "oauth-client/legacy-endpoints",
        "OCLI-LEGACY-002",
        Outcome::Fail,
    ),
    (
        "root-as-metadata-only",
        "oauth-client/discovery-issuer-path",
        "OCLI-DISC-004",
        Outcome::Fail,
    ),
    (
        "root-as-metadata-only",
        "oauth-client/discovery-issuer-path-oauth",
        "OCLI-DISC-004",
        Outcome::Fail,
    ),
    (
        "root-as-metadata-only",
        "oauth-client/discovery-oidc",
        "OCLI-DISC-004",
        Outcome::Fail,
    ),
    (
        "accept-any-prm-resource",
        "oauth-client/prm-resource-other-host",
        "OCLI-DISC-003",
        Outcome::Fail,
    ),
    (
        "accept-any-prm-resource",
        "oauth-client/prm-resource-other-path",
        "OCLI-DISC-003",
        Outcome::Fail,
    ),
    (
        "accept-any-prm-resource",
        "oauth-client/prm-resource-plain-http",
        "OCLI-DISC-003",
        Outcome::Fail,
    ),
    (
        "pkce-unadvertised-ok",
        "oauth-client/pkce-not-advertised",
        "OCLI-PKCE-002",
        Outcome::Fail,
    ),
    (
        "follow-metadata-redirects",
        "oauth-client/metadata-redirect",
        "OCLI-SEC-002",
        Outcome::Fail,
    ),
    (
        "no-refresh-grant-type",
        "oauth-client/offline-access",
        "OCLI-SCOPE-003",
        Outcome::Fail,
    ),
    (
        "always-offline-access",
        "oauth-client/offline-access-unsupported",
        "OCLI-SCOPE-003",
        Outcome::Fail,
    ),
    (
        "fixed-scope",
        "oauth-client/scope-from-metadata",
        "OCLI-SCOPE-001",
        Outcome::Fail,
    ),
    (
        "fixed-scope",
        "oauth-client/scope-omitted",
        "OCLI-SCOPE-001",
        Outcome::Fail,
    ),
    (
        "two-auth-methods",
        "oauth-client/token-auth-none",
        "OCLI-CAUTH-001",
        Outcome::Fail,
    ),
    (
        "two-auth-methods",
        "oauth-client/token-auth-secret-basic",
        "OCLI-CAUTH-001",
        Outcome::Fail,
    ),
    (
        "two-auth-methods",
        "oauth-client/token-auth-secret-post",
        "OCLI-CAUTH-001",
        Outcome::Fail,
    ),
    (
        "two-auth-methods",
        "oauth-client/pre-registered",
        "OCLI-CAUTH-001",
        Outcome::Fail,
    ),
    (
        "two-auth-methods",
        "oauth-client/client-credentials-basic",
        "OCLI-CC-002",
        Outcome::Fail,
    ),
    (
        "expired-assertion",
        "oauth-client/client-credentials-jwt",
        "OCLI-CC-001",
        Outcome::Fail,
    ),
    (
        "ignore-cimd",
        "oauth-client/client-metadata-document",
        "OCLI-REG-001",
        Outcome::Warn,
    ),
    (
        "raw-resource",
        "oauth-client/resource-canonical",
        "OCLI-RES-001",
        Outcome::Warn,
    ),
];

#[test]
fn fault_table_covers_every_scenario_and_every_fault() {
    let in_table: BTreeSet<&str> = FAULT_TABLE.iter().map(|f| f.1).collect();
    for s in scenarios() {
        assert!(
            in_table.contains(s.full_id().as_str()),
            "no seeded fault shows that {} can fail",
            s.full_id()
        );
    }
    let faults: BTreeSet<&str> = FAULT_TABLE.iter().map(|f| f.0).collect();
    for (name, _) in authconform_reference::FAULTS {
        assert!(faults.contains(name), "fault `{name}` is not tested");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_fails_the_scenario_aimed_at_it() {
    let runs = FAULT_TABLE
        .iter()
        .map(|(fault, scenario, requirement, want)| async move {
            let report = run(&[fault], Some(scenario)).await;
            let s = report
                .scenarios
                .iter()
                .find(|s| s.id == *scenario)
                .expect("scenario ran");
            let worst = s
                .checks
                .iter()
                .filter(|c| c.requirement == *requirement)
                .map(|c| c.outcome)
                .filter(|o| matches!(o, Outcome::Pass | Outcome::Warn | Outcome::Fail))
                .max();
            (fault, requirement, want, worst, explain(&report))
        });
    let mut problems = Vec::new();
    for (fault, requirement, want, worst, text) in futures::future::join_all(runs).await {
        if worst != Some(*want) {
            problems.push(format!(
                "fault {fault}: {requirement} was {worst:?}, expected {want:?}\n{text}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The outcomes of scenario `id`'s checks, by what they assert.
fn outcomes(report: &RunReport, id: &str) -> Vec<(String, Outcome)> {
    report
        .scenarios
        .iter()
        .find(|s| s.id == id)
        .expect("scenario ran")
        .checks
        .iter()
        .map(|c| (c.what.clone(), c.outcome))
        .collect()
}

/// OAUTH-SCOPE-002 accepts a tool-level refusal only from a target that declares
/// `oauth.scope_errors = "tool-level"` (catalog AMB-09), and that check fails too when the tool serves the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_level_scope_errors_count_only_when_declared() {
    use authconform::target::ScopeErrors;
    const ID: &str = "oauth-resource/insufficient-scope";
    const HTTP_MUST: &str = "the low-scope call is refused, and not with 401";
    const TOOL_MUST: &str =
        "the low-scope call is refused with a tool error result, and not with 401";
    const SHOULD_403: &str =
        "the refusal is 403 with error=\"insufficient_scope\" and a scope parameter";
    let target = |declared: ScopeErrors| {
        let mut t = common::reference_target();
        let launch = t.launch.as_mut().expect("the reference is launched");
        launch
            .args
            .extend(["--scope-errors".into(), "tool-level".into()]);
        t.oauth.scope_errors = declared;
        t
    };
    let outcome = |report: &RunReport, what: &str| {
        outcomes(report, ID)
            .into_iter()
            .find(|(w, _)| w == what)
            .map(|(_, o)| o)
            .unwrap_or_else(|| panic!("no check `{what}`\n{}", explain(report)))
    };

    let declared = common::run_target(target(ScopeErrors::ToolLevel), &[], Some(ID)).await;
    assert_eq!(
        outcome(&declared, TOOL_MUST),
        Outcome::Pass,
        "{}",
        explain(&declared)
    );
    assert_eq!(outcome(&declared, HTTP_MUST), Outcome::Skip);
    assert_eq!(outcome(&declared, SHOULD_403), Outcome::Warn);

    let served = common::run_target(
        target(ScopeErrors::ToolLevel),
        &["ignore-tool-scope"],
        Some(ID),
    )
    .await;
    assert_eq!(
        outcome(&served, TOOL_MUST),
        Outcome::Fail,
        "{}",
        explain(&served)
    );

    let undeclared = common::run_target(target(ScopeErrors::Http), &[], Some(ID)).await;
    assert_eq!(
        outcome(&undeclared, HTTP_MUST),
        Outcome::Fail,
        "{}",
        explain(&undeclared)
    );
    assert_eq!(outcome(&undeclared, TOOL_MUST), Outcome::Skip);
}

/// Copies `snapshots/reference` into a temporary folder laid out like `snapshots/`.
fn snapshot_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    let to = tmp.path().join("reference");
    std::fs::create_dir_all(&to).expect("mkdir");
    for e in
        std::fs::read_dir(root().join("snapshots/reference")).expect("snapshots/reference exists")
    {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "snap") {
            std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
        }
    }
    tmp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_response_is_a_snapshot_diff_until_accepted() {
    use authconform::snapshot::{self, Mode};
    let snaps = snapshot_copy();
    let report = run(&["accept-expired"], Some("oauth-resource/expired-token")).await;
    let found = snapshot::compare(&report, snaps.path(), Mode::Check);
    assert_eq!(
        found.differing,
        vec!["oauth-resource/expired-token".to_string()]
    );

    // Accept the new transcript as `cargo insta accept` would: same header, new body.
    let file = snaps
        .path()
        .join("reference/oauth-resource__expired-token.snap");
    let old = std::fs::read_to_string(&file).expect("snapshot");
    let header_end = old[4..]
        .find("\n---\n")
        .map(|i| i + 4 + 5)
        .expect("insta header");
    let accepted = format!(
        "{}{}",
        &old[..header_end],
        report.scenarios[0].transcript_text
    );
    std::fs::write(&file, accepted).expect("write");
    let again = run(&["accept-expired"], Some("oauth-resource/expired-token")).await;
    let found = snapshot::compare(&again, snaps.path(), Mode::Check);
    assert!(found.differing.is_empty(), "{:?}", found.differing);
}
