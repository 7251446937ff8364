//! The co-hosted authorization-server group (`oauth-resource/cohosted-*`, OAUTH-AS-002..006) against the
//! reference's `--cohosted-as`: the audience checks judge JWT access tokens (each fails with the fault
//! `unbound-audience`), and a target that offers only the authorization server (`[surfaces.oauth-as]`, no MCP
//! endpoint) runs the group and skips the rest of the profile.

mod common;

use authconform::report::{Outcome, RunReport};
use authconform::target::Surfaces;

const RESOURCE: &str = "oauth-resource/cohosted-resource";
const INTROSPECTED_AUD: &str = "the token issued for resource = the MCP URL is audience-restricted";
const JWT_AUD: &str =
    "the JWT access token issued for resource = the MCP URL is audience-restricted";

/// The outcome of the check of scenario `id` whose `what` starts with `what`.
fn outcome(report: &RunReport, id: &str, what: &str) -> Outcome {
    let s = report
        .scenarios
        .iter()
        .find(|s| s.id == id)
        .expect("scenario ran");
    let c = s
        .checks
        .iter()
        .find(|c| c.what.starts_with(what))
        .unwrap_or_else(|| panic!("no check `{what}…` in {id}"));
    c.outcome
}

/// The reference's co-hosted AS issues JWT access tokens: the `aud` claim is read (not verified) and judged, as is
/// the introspected `aud`; with `unbound-audience` (aud is the issuer) both fail, naming what was found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_and_introspected_audiences_are_judged_and_can_fail() {
    let clean = common::run_reference(&[], Some(RESOURCE)).await;
    assert_eq!(outcome(&clean, RESOURCE, JWT_AUD), Outcome::Pass);
    assert_eq!(outcome(&clean, RESOURCE, INTROSPECTED_AUD), Outcome::Pass);
    let faulty = common::run_reference(&["unbound-audience"], Some(RESOURCE)).await;
    assert_eq!(outcome(&faulty, RESOURCE, JWT_AUD), Outcome::Fail);
    assert_eq!(outcome(&faulty, RESOURCE, INTROSPECTED_AUD), Outcome::Fail);
    let s = &faulty.scenarios[0];
    let jwt = s
        .checks
        .iter()
        .find(|c| c.what.starts_with(JWT_AUD))
        .and_then(|c| c.mismatch.as_ref())
        .expect("a mismatch");
    assert!(
        jwt.expected
            .contains("`/aud` of the JWT at `/access_token`"),
        "{jwt:?}"
    );
    assert!(!jwt.got.contains("/mcp"), "aud is the issuer: {jwt:?}");
    // The positive control still passes: only the audience checks see the fault.
    assert_eq!(
        outcome(&faulty, RESOURCE, "positive control"),
        Outcome::Pass
    );
}

/// The reference's co-hosted AS as a target offering nothing else: the five co-hosted scenarios launch it and
/// pass, the profile's other scenarios are skipped for lack of an MCP endpoint, and the run exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_server_alone_runs_the_group_and_skips_the_rest() {
    let mut target = common::reference_target();
    target.profiles = vec!["oauth-resource".into()];
    let mut oauth_as = target
        .surfaces
        .oauth_as
        .take()
        .expect("the reference has one");
    oauth_as.resource = Some("{ready.url}".into());
    target.surfaces = Surfaces {
        oauth_as: Some(oauth_as),
        ..Surfaces::default()
    };
    target.validate().expect("an AS-only target is valid");
    let report = common::run_target(target, &[], None).await;
    let (mut cohosted, mut skipped) = (0, 0);
    for s in &report.scenarios {
        if s.id.starts_with("oauth-resource/cohosted-") {
            cohosted += 1;
            assert_eq!(s.outcome, Outcome::Pass, "{}: {:?}", s.id, s.checks);
        } else {
            skipped += 1;
            assert_eq!(s.outcome, Outcome::Skip, "{}", s.id);
            let why = s.checks[0].skip_reason.as_deref().unwrap_or_default();
            assert!(why.contains("a `mcp-http` surface"), "{}: {why}", s.id);
        }
    }
    assert_eq!(cohosted, 5);
    assert!(skipped >= 17, "{skipped}");
    assert_eq!(report.exit_code(), 0);
}
