//! Running scenarios against a target: each concurrently and isolated, with its own mocks on fresh ports and,
//! when the target is launched, its own target process; per-step, per-scenario and whole-run deadlines.
//!
//! A scenario goes through four phases, data flowing one way: [`setup`] (mocks, principals, launch, tokens)
//! → exec (the steps, in order, each capturing values for the next) → [`judge`] (checks to verdicts) →
//! render (the redacted, normalised transcript).

pub mod judge;
pub mod phase;
mod secrets;
pub mod setup;
mod tokens;

use crate::expect::RunView;
use crate::http::HttpClient;
use crate::report::{CheckResult, Mismatch, Outcome, RunReport, ScenarioResult};
use crate::requirements::Catalog;
use crate::scenario::Scenario;
use crate::step::{Record, StepCx};
use crate::target::Target;
use authconform_mocks::TestCa;
use authconform_mocks::tls::TlsFiles;
use setup::{Env, SetupError};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The implementation under test.
    pub target: Target,
    /// Scenarios to run.
    pub scenarios: Vec<Scenario>,
    /// Scenarios run at once.
    pub jobs: usize,
    /// Deadline of one step.
    pub step_timeout: Duration,
    /// Deadline of one scenario, launch included.
    pub scenario_timeout: Duration,
    /// Deadline of the whole run.
    pub run_timeout: Duration,
    /// This executable, offered to target files as `{authconform}`.
    pub self_exe: PathBuf,
}

/// What every scenario of a run shares: the test CA, a client that trusts it, a work folder.
pub struct Shared {
    cfg: RunConfig,
    catalog: Catalog,
    ca: TestCa,
    files: TlsFiles,
    client: HttpClient,
    dir: tempfile::TempDir,
    /// Surfaces of a target the run does not launch that did not accept a connection, with the reason
    /// ("cannot reach URL: connection refused"): probed once per run ([`probe_surfaces`]).
    unreachable: BTreeMap<&'static str, String>,
}

/// Runs every scenario of `cfg`, calling `on_done` as each finishes.
pub async fn run(
    cfg: RunConfig,
    catalog: Catalog,
    on_done: impl Fn(&ScenarioResult) + Send + Sync + 'static,
) -> anyhow::Result<RunReport> {
    authconform_mocks::tls::install_crypto_provider();
    let started = Instant::now();
    let dir = tempfile::Builder::new().prefix("authconform-").tempdir()?;
    let ca = TestCa::generate()?;
    let files = ca.write_files(dir.path())?;
    let client = HttpClient::new(Some(ca.ca_pem()))?;
    let target_name = cfg.target.name.clone();
    let profiles = cfg.target.profiles.clone();
    let run_deadline = started + cfg.run_timeout;
    let jobs = cfg.jobs.max(1);
    let unreachable = probe_surfaces(&cfg).await;
    let shared = Arc::new(Shared {
        cfg,
        catalog,
        ca,
        files,
        client,
        dir,
        unreachable,
    });
    let on_done = Arc::new(on_done);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let handles: Vec<_> = (0..shared.cfg.scenarios.len())
        .map(|i| {
            let (shared, semaphore, on_done) = (shared.clone(), semaphore.clone(), on_done.clone());
            tokio::spawn(async move {
                // A scenario with a mock host mostly waits on protocol timers (poll intervals, slow_down):
                // it runs beside the others instead of holding one of the `jobs` slots, so those waits set
                // the run's wall time and add nothing to it.
                let waits = shared.cfg.scenarios[i].host.is_some();
                let _permit = if waits {
                    None
                } else {
                    Some(semaphore.acquire().await)
                };
                let result = guarded(shared, i, run_deadline).await;
                on_done(&result);
                result
            })
        })
        .collect();
    let mut scenarios = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => scenarios.push(r),
            Err(e) => anyhow::bail!("scenario task failed: {e}"),
        }
    }
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(RunReport {
        schema_version: crate::report::REPORT_SCHEMA_VERSION,
        authconform_version: env!("CARGO_PKG_VERSION").to_string(),
        target: target_name,
        profiles,
        scenarios,
        duration_ms: started.elapsed().as_millis(),
    })
}

/// How long a surface of a target the run does not launch has to accept a TCP connection.
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

/// For a target without `[launch]` (nothing to wait for), whether each URL surface some scenario needs
/// accepts a TCP connection: one probe per surface per run. A surface that does not is not the target failing
/// checks but the target not being there; its scenarios end as not started, with this one reason.
async fn probe_surfaces(cfg: &RunConfig) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let target = &cfg.target;
    if target.launch.is_some() {
        return out;
    }
    let needed: std::collections::BTreeSet<&str> = cfg
        .scenarios
        .iter()
        .flat_map(|s| s.needed_surfaces())
        .collect();
    let s = &target.surfaces;
    let urls: [(&'static str, Option<&String>); 4] = [
        ("mcp-http", s.mcp_http.as_ref().map(|m| &m.url)),
        ("rest", s.rest.as_ref().map(|r| &r.base_url)),
        ("device-host", s.device_host.as_ref().map(|d| &d.base_url)),
        ("oauth-as", s.oauth_as.as_ref().map(|a| &a.issuer)),
    ];
    let vars = target.vars();
    let probes = urls
        .into_iter()
        .filter(|(name, _)| needed.contains(name))
        .filter_map(|(name, url)| Some((name, vars.expand(url?).ok()?)))
        .map(|(name, url)| async move { (name, reach(&url).await.map_err(|why| (url, why))) });
    for (name, reached) in futures::future::join_all(probes).await {
        if let Err((url, why)) = reached {
            out.insert(name, format!("cannot reach {url}: {why}"));
        }
    }
    out
}

/// Opens (and drops) one TCP connection to `url`'s host and port within [`PROBE_DEADLINE`].
async fn reach(url: &str) -> Result<(), String> {
    let Ok(u) = url::Url::parse(url) else {
        return Ok(()); // not a URL: the steps say what is wrong with it
    };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else {
        return Ok(());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::time::timeout(PROBE_DEADLINE, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            _ => e.to_string(),
        }),
        Err(_) => Err(format!(
            "no connection within {} s",
            PROBE_DEADLINE.as_secs()
        )),
    }
}

/// Scenario `i` in its own task, under its deadline (and the run's): a panic or an overrun is that scenario's
/// failure, not the run's.
async fn guarded(shared: Arc<Shared>, i: usize, run_deadline: Instant) -> ScenarioResult {
    let scenario = &shared.cfg.scenarios[i];
    let t0 = Instant::now();
    let deadline = (t0 + shared.cfg.scenario_timeout).min(run_deadline);
    let phase = phase::Phase::default();
    let inner = tokio::spawn(phase::tracked(
        phase.clone(),
        run_scenario(shared.clone(), i),
    ));
    let abort = inner.abort_handle();
    let error = match tokio::time::timeout_at(deadline, inner).await {
        Ok(Ok(r)) => return r,
        Ok(Err(join)) => format!("internal error in the harness: {join}"),
        Err(_) => {
            abort.abort();
            let (which, limit) = if deadline == run_deadline {
                ("the whole-run deadline", shared.cfg.run_timeout)
            } else {
                ("its deadline", shared.cfg.scenario_timeout)
            };
            let at = phase.current();
            let secs = limit.as_secs_f32();
            if at.is_empty() {
                format!("scenario did not finish before {which} ({secs:.0} s)")
            } else {
                format!("scenario did not finish before {which} ({secs:.0} s), {at}")
            }
        }
    };
    failed_setup(&shared, scenario, SetupError::Failed(error), t0)
}

/// What each check of a scenario that did not run got (the reason is on the scenario).
pub const NOT_JUDGED: &str = "not judged: the scenario did not run (see its setup error)";

fn failed_setup(shared: &Shared, s: &Scenario, error: SetupError, t0: Instant) -> ScenarioResult {
    let (error, not_started) = match error {
        SetupError::Skip(reason) => return skipped(shared, s, reason),
        SetupError::NotStarted(e) => (e, true),
        SetupError::Failed(e) => (e, false),
    };
    // The reason is the scenario's `setup_error`, said once; each check only says it was not judged.
    let checks = every_check(shared, s, |c| CheckResult {
        outcome: Outcome::Fail,
        mismatch: Some(Mismatch {
            step: None,
            expected: "the scenario to run".into(),
            got: NOT_JUDGED.into(),
        }),
        ..c
    });
    ScenarioResult {
        id: s.full_id(),
        profile: s.profile.clone(),
        title: s.title.clone(),
        outcome: ScenarioResult::outcome_of(&checks),
        checks,
        transcript_text: format!("(scenario did not run: {})\n", first_line(&error)),
        setup_error: Some(error),
        not_started,
        transcript: serde_json::Value::Null,
        duration_ms: t0.elapsed().as_millis(),
        launch_ms: None,
        phases: None,
    }
}

/// One result per check of `s`, all shaped by `with` (a scenario that did not run or does not apply).
fn every_check(
    shared: &Shared,
    s: &Scenario,
    with: impl Fn(CheckResult) -> CheckResult,
) -> Vec<CheckResult> {
    s.checks
        .iter()
        .map(|c| {
            with(CheckResult {
                requirement: c.requirement.clone(),
                level: s.level_of(c, &shared.catalog),
                what: c.what.clone(),
                outcome: Outcome::Pass,
                mismatch: None,
                request: None,
                skip_reason: None,
            })
        })
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn skipped(shared: &Shared, s: &Scenario, reason: String) -> ScenarioResult {
    let checks = every_check(shared, s, |c| CheckResult {
        outcome: Outcome::Skip,
        skip_reason: Some(reason.clone()),
        ..c
    });
    ScenarioResult {
        id: s.full_id(),
        profile: s.profile.clone(),
        title: s.title.clone(),
        outcome: Outcome::Skip,
        checks,
        setup_error: None,
        not_started: false,
        transcript: serde_json::Value::Null,
        transcript_text: format!("(skipped: {reason})\n"),
        duration_ms: 0,
        launch_ms: None,
        phases: None,
    }
}

async fn run_scenario(shared: Arc<Shared>, index: usize) -> ScenarioResult {
    let s = &shared.cfg.scenarios[index];
    let t0 = Instant::now();
    let mut env = match setup::prepare(&shared, s).await {
        Ok(env) => env,
        Err(e) => return failed_setup(&shared, s, e, t0),
    };
    let (records, groups) = exec(&shared, s, &mut env).await;
    phase::set("while judging");
    let judging = Instant::now();
    redact_sessions(s, &records, &mut env);
    if let Some(w) = &env.world {
        w.secrets(&mut env.redactor);
    }
    let journal = env.mocks.upstream.journal().await;
    let exited = process_exit(&mut env, &records).await;
    let evidence = judge::Evidence {
        records: &records,
        vars: &env.vars,
        run: RunView { journal: &journal },
        exited,
        groups: &groups,
    };
    let mut checks = judge::judge_all(s, &evidence, &env.redactor, &shared.catalog);
    let public = shared.cfg.target.public_keys();
    checks.push(secrets::check(
        &evidence,
        &env.redactor,
        &env.revealed,
        &public,
    ));
    let transcript = transcript(&records, &env.redactor);
    let transcript_text = crate::transcript::render(&records, &checks, &env.redactor, &env.norm);
    env.phases.judge_us = setup::micros(judging);
    if let Some(p) = env.process.take() {
        phase::set("while stopping the target");
        let stopping = Instant::now();
        p.stop().await;
        env.phases.stop_us = setup::micros(stopping);
    }
    ScenarioResult {
        id: s.full_id(),
        profile: s.profile.clone(),
        title: s.title.clone(),
        outcome: ScenarioResult::outcome_of(&checks),
        checks,
        setup_error: None,
        not_started: false,
        transcript,
        transcript_text,
        duration_ms: t0.elapsed().as_millis(),
        launch_ms: env.launch_ms,
        phases: Some(env.phases),
    }
}

/// Steps run in order, and the names of steps that ran as several.
type Ran = (Vec<(String, Record)>, BTreeMap<String, Vec<String>>);

/// The exec phase: every step in order (a step over a set of operations as one step per item); each one's
/// captures become variables for the next.
async fn exec(shared: &Shared, s: &Scenario, env: &mut Env) -> Ran {
    let mut records = Vec::new();
    let mut groups = BTreeMap::new();
    for declared in &s.steps {
        let items = declared.expand(&shared.cfg.target);
        if items.len() != 1 || items[0].name != declared.name {
            let names = items.iter().map(|i| i.name.clone()).collect();
            groups.insert(declared.name.clone(), names);
        }
        for step in items {
            let record = run_step(shared, env, &step).await;
            records.push((step.name.clone(), record));
        }
    }
    (records, groups)
}

/// Runs one step and applies its captures (a secret capture is registered for redaction at once).
async fn run_step(shared: &Shared, env: &mut Env, step: &crate::step::Step) -> Record {
    let cx = StepCx {
        vars: &env.vars,
        client: &shared.client,
        timeout: shared.cfg.step_timeout,
        target: &shared.cfg.target,
        workdir: env.workdir.path(),
        host: env.host.as_ref(),
        world: env.world.as_ref(),
    };
    phase::set(format!("during step `{}`", step.name));
    let started = Instant::now();
    let record = step.run(&cx).await;
    let took = setup::micros(started);
    if step.wait.is_some() {
        env.phases.wait_us += took;
    } else {
        env.phases.steps_us += took;
    }
    for tpl in &step.may_show {
        if let Ok(v) = env.vars.expand(tpl) {
            env.revealed.push((v, step.name.clone()));
        }
    }
    for (name, cap) in &step.capture {
        cap.apply(name, &step.name, &record, &mut env.vars);
        let Some(v) = env.vars.get(name) else {
            continue;
        };
        if cap.secret {
            env.redactor.add(v, format!("[KEY:{name}]"));
            env.revealed.push((v.to_string(), step.name.clone()));
        } else if cap.stable {
            env.redactor.add(v, format!("[ID:{name}]"));
        }
    }
    record
}

/// MCP session IDs are bearer-like handles: shown by name (captured) or by order of appearance, never by value.
fn redact_sessions(s: &Scenario, records: &[(String, Record)], env: &mut Env) {
    for step in &s.steps {
        for (name, cap) in &step.capture {
            if cap.is_session_id()
                && let Some(v) = env.vars.get(name)
            {
                env.redactor.add(v, format!("[SESSION:{name}]"));
            }
        }
    }
    let mut n = 0;
    for (_, record) in records {
        if let Some(r) = record.response() {
            for v in r.header_values("mcp-session-id") {
                if env.redactor.redact(v) == v {
                    n += 1;
                    env.redactor.add(v, format!("[SESSION:{n}]"));
                }
            }
        }
    }
}

/// How the launched target ended, if it did: waited for briefly only when a request found nobody answering.
async fn process_exit(env: &mut Env, records: &[(String, Record)]) -> Option<String> {
    let p = env.process.as_mut()?;
    let unanswered = records
        .iter()
        .any(|(_, r)| matches!(r.view().response, Some(Err(_))));
    if unanswered {
        p.wait_exit(Duration::from_secs(2)).await
    } else {
        p.exited()
    }
}

/// The redacted transcript of a scenario: every step's record, in order.
fn transcript(
    records: &[(String, Record)],
    redactor: &crate::redact::Redactor,
) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = records
        .iter()
        .filter_map(|(name, r)| {
            let mut v = serde_json::to_value(r).ok()?;
            redact_json(&mut v, redactor);
            Some(serde_json::json!({"step": name, "record": v}))
        })
        .collect();
    serde_json::Value::Array(steps)
}

/// Redacts every string inside a JSON value.
pub fn redact_json(v: &mut serde_json::Value, redactor: &crate::redact::Redactor) {
    match v {
        serde_json::Value::String(s) => *s = redactor.redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, redactor)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| redact_json(x, redactor)),
        _ => {}
    }
}
