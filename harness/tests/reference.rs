//! The suite against its own reference implementation: the clean reference passes every scenario, and each
//! seeded fault makes the scenario aimed at it fail (a check that cannot fail is a defect).

mod common;

use authconform::report::{Outcome, RunReport};
use authconform::selftest::{self, Selftest};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

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

/// The selftest (`authconform selftest`, scope `cross`): every fault of the reference is in the fault table
/// (`authconform::selftest::FAULT_TABLE`) and fails the scenario aimed at it with the table's outcome, every
/// scenario fails under some fault, and no fault fails a MUST check of another profile that is not the same
/// behaviour (`authconform::selftest::RELATED`, each with its reason) — judged on every scenario of another
/// profile whose clean run asked the reference about the fault, which are all it can change. Also the clean
/// reference's run: every scenario passes, and the transcripts match `snapshots/reference/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selftest_kills_every_fault_where_aimed() {
    let st = selftest(scenarios(), &[], selftest::Scope::Cross).await;
    assert!(
        st.faults.iter().any(|f| f
            .kills
            .iter()
            .any(|k| !f.aimed_profiles().contains(k.profile.as_str()))),
        "no fault ran in another profile than it is aimed at: the cross-profile rule judged nothing"
    );
    assert!(st.errors.is_empty(), "{}", selftest::summary(&st));
    assert_eq!(st.exit_code(), 0);
    let clean = &st.clean;
    assert_eq!(clean.scenarios.len(), scenarios().len());
    for s in &clean.scenarios {
        assert_eq!(s.outcome, Outcome::Pass, "{}\n{}", s.id, explain(clean));
    }
    // The reference's transcripts are a committed regression record (snapshots/reference/).
    let snaps = authconform::snapshot::compare(
        clean,
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

/// A check weakened so that its fault survives makes the selftest exit 1 naming the fault: the checks of
/// OAUTH-401-005 are removed from `oauth-resource/expired-token`, in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selftest_names_a_fault_that_survives_a_weakened_check() {
    let mut weakened = scenarios();
    let s = weakened
        .iter_mut()
        .find(|s| s.full_id() == "oauth-resource/expired-token")
        .expect("scenario exists");
    s.checks.retain(|c| c.requirement != "OAUTH-401-005");
    let st = selftest(weakened, &["accept-expired"], selftest::Scope::Aimed).await;
    assert_eq!(st.exit_code(), 1);
    assert!(
        st.errors
            .iter()
            .any(|e| e.starts_with("fault `accept-expired` survives oauth-resource/expired-token")),
        "{:?}",
        st.errors
    );
}

/// Runs the selftest in `scope` over `scenarios`, for `only` these faults (empty: all).
async fn selftest(
    scenarios: Vec<authconform::scenario::Scenario>,
    only: &[&str],
    scope: selftest::Scope,
) -> Selftest {
    let cfg = selftest::Config {
        target: common::reference_target(),
        scenarios,
        only: only.iter().map(|f| f.to_string()).collect(),
        scope,
        jobs: 4,
        step_timeout: Duration::from_secs(10),
        scenario_timeout: Duration::from_secs(60),
        self_exe: PathBuf::from(env!("CARGO_BIN_EXE_authconform")),
        progress: false,
    };
    selftest::run(cfg).await.expect("selftest runs")
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
