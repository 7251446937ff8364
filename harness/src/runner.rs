//! Running scenarios against a target: each concurrently and isolated, with its own mocks on fresh ports and,
//! when the target is launched, its own target process; per-step, per-scenario and whole-run deadlines.

use crate::checks;
use crate::exchange::StepRecord;
use crate::http::HttpClient;
use crate::launch;
use crate::redact::Redactor;
use crate::report::{CheckResult, Outcome, RunReport, ScenarioResult};
use crate::requirements::Catalog;
use crate::scenario::{IssuerChoice, Scenario, SignerChoice, TamperChoice};
use crate::target::Target;
use crate::template::Vars;
use authconform_mocks::tls::TlsFiles;
use authconform_mocks::{MockAuthServer, MockUpstream, Signer, Tamper, TestCa, TokenSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Prefix of a setup error that means the target never became ready.
pub const NOT_STARTED: &str = "target did not start";

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

/// What every scenario of a run shares: the test CA and a client that trusts it.
struct Shared {
    cfg: RunConfig,
    catalog: Catalog,
    ca: TestCa,
    files: TlsFiles,
    client: HttpClient,
    _dir: tempfile::TempDir,
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
    let shared = Arc::new(Shared {
        cfg,
        catalog,
        ca,
        files,
        client,
        _dir: dir,
    });
    let on_done = Arc::new(on_done);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut handles = Vec::new();
    for (i, _) in shared.cfg.scenarios.iter().enumerate() {
        let shared = shared.clone();
        let semaphore = semaphore.clone();
        let on_done = on_done.clone();
        handles.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await;
            let scenario = &shared.cfg.scenarios[i];
            let t0 = Instant::now();
            let deadline = (t0 + shared.cfg.scenario_timeout).min(run_deadline);
            let inner = tokio::spawn(run_scenario(shared.clone(), i));
            let abort = inner.abort_handle();
            let result = match tokio::time::timeout_at(deadline, inner).await {
                Ok(Ok(r)) => r,
                Ok(Err(join)) => failed_setup(
                    &shared,
                    scenario,
                    format!("internal error in the harness: {join}"),
                    t0,
                ),
                Err(_) => {
                    abort.abort();
                    let which = if deadline == run_deadline {
                        "the whole-run deadline"
                    } else {
                        "its deadline"
                    };
                    failed_setup(
                        &shared,
                        scenario,
                        format!("scenario did not finish before {which}"),
                        t0,
                    )
                }
            };
            on_done(&result);
            result
        }));
    }
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

fn failed_setup(shared: &Shared, s: &Scenario, error: String, t0: Instant) -> ScenarioResult {
    let checks = s
        .checks
        .iter()
        .map(|c| CheckResult {
            requirement: c.requirement.clone(),
            level: s.level_of(c, &shared.catalog),
            what: c.what.clone(),
            outcome: Outcome::Fail,
            mismatch: Some(checks::Mismatch {
                step: None,
                expected: "the scenario to run".into(),
                got: first_line(&error),
            }),
            request: None,
            skip_reason: None,
        })
        .collect::<Vec<_>>();
    ScenarioResult {
        id: s.full_id(),
        profile: s.profile.clone(),
        title: s.title.clone(),
        outcome: ScenarioResult::outcome_of(&checks),
        checks,
        transcript_text: format!("(scenario did not run: {})\n", first_line(&error)),
        setup_error: Some(error),
        transcript: serde_json::Value::Null,
        duration_ms: t0.elapsed().as_millis(),
        launch_ms: None,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn skipped(shared: &Shared, s: &Scenario, reason: String) -> ScenarioResult {
    let checks: Vec<CheckResult> = s
        .checks
        .iter()
        .map(|c| CheckResult {
            requirement: c.requirement.clone(),
            level: s.level_of(c, &shared.catalog),
            what: c.what.clone(),
            outcome: Outcome::Skip,
            mismatch: None,
            request: None,
            skip_reason: Some(reason.clone()),
        })
        .collect();
    ScenarioResult {
        id: s.full_id(),
        profile: s.profile.clone(),
        title: s.title.clone(),
        outcome: Outcome::Skip,
        checks,
        setup_error: None,
        transcript: serde_json::Value::Null,
        transcript_text: format!("(skipped: {reason})\n"),
        duration_ms: 0,
        launch_ms: None,
    }
}

/// The mocks one scenario talks to.
struct Mocks {
    trusted: MockAuthServer,
    untrusted: MockAuthServer,
    upstream: MockUpstream,
}

async fn run_scenario(shared: Arc<Shared>, index: usize) -> ScenarioResult {
    let s = &shared.cfg.scenarios[index];
    let target = &shared.cfg.target;
    let t0 = Instant::now();
    let mut vars = target.vars();
    let missing: Vec<&String> = s.needs.iter().filter(|n| vars.get(n).is_none()).collect();
    if !missing.is_empty() {
        let names = missing
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return skipped(
            &shared,
            s,
            format!("the target file does not declare {names}"),
        );
    }
    let mut rules = s.upstream.clone();
    for rule in &mut rules {
        for (_, v) in rule.when.headers.iter_mut() {
            *v = vars.expand(v).unwrap_or_else(|_| v.clone());
        }
        if let Some(b) = rule.respond.body.as_mut() {
            *b = vars.expand(b).unwrap_or_else(|_| b.clone());
        }
    }
    let mocks = match start_mocks(&shared, &rules).await {
        Ok(m) => m,
        Err(e) => return failed_setup(&shared, s, format!("mocks did not start: {e:#}"), t0),
    };
    let mut norm = crate::transcript::Normalizer::default();
    norm.port(mocks.trusted.issuer(), "issuer");
    norm.port(mocks.untrusted.issuer(), "untrusted-issuer");
    norm.port(&mocks.upstream.base_url(), "upstream");
    vars.set("mocks.issuer", mocks.trusted.issuer());
    vars.set("mocks.untrusted_issuer", mocks.untrusted.issuer());
    vars.set("mocks.upstream", mocks.upstream.base_url());
    vars.set("mocks.ca_pem", shared.files.ca_pem.display().to_string());
    vars.set("tls.ca_pem", shared.files.ca_pem.display().to_string());
    vars.set("tls.cert_pem", shared.files.cert_pem.display().to_string());
    vars.set("tls.key_pem", shared.files.key_pem.display().to_string());
    vars.set("authconform", shared.cfg.self_exe.display().to_string());
    vars.set("target_dir", target.dir().display().to_string());
    let mut redactor = Redactor::default();
    for name in target.credentials.keys() {
        if let Some(v) = vars.get(&format!("cred.{name}")) {
            redactor.add(v, format!("[KEY:{name}]"));
        }
    }
    let mut process = None;
    let mut launch_ms = None;
    if let Some(l) = &target.launch {
        let launch_started = Instant::now();
        if let Ok(port) = launch::free_port() {
            vars.set("port", port.to_string());
        }
        match launch::start(l, &mut vars, &target.dir(), &shared.client).await {
            Ok(p) => {
                process = Some(p);
                launch_ms = Some(launch_started.elapsed().as_millis());
            }
            Err(e) => {
                let msg = format!("{NOT_STARTED}: {e}");
                return failed_setup(&shared, s, redactor.redact(&msg), t0);
            }
        }
    }
    match vars.expand(&target.surface.mcp_url) {
        Ok(u) => {
            norm.port(&u, "target");
            vars.set("mcp_url", u);
        }
        Err(e) => return failed_setup(&shared, s, format!("surface.mcp_url: {e}"), t0),
    }
    if let Err(e) = mint_tokens(s, &mocks, &mut vars, &mut redactor) {
        return failed_setup(&shared, s, format!("minting tokens: {e:#}"), t0);
    }
    let mut records = BTreeMap::new();
    let mut order = Vec::new();
    for step in &s.steps {
        let record =
            crate::steps::run(step, &mut vars, &shared.client, shared.cfg.step_timeout).await;
        order.push(step.name.clone());
        records.insert(step.name.clone(), record);
    }
    // MCP session IDs are bearer-like handles: shown by name, never by value.
    for step in &s.steps {
        for (name, cap) in &step.capture {
            if cap
                .header
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case("mcp-session-id"))
                && let Some(v) = vars.get(name)
            {
                redactor.add(v, format!("[SESSION:{name}]"));
            }
        }
    }
    // Session IDs nobody captured are numbered in order of appearance.
    let mut n = 0;
    for name in &order {
        if let Some(r) = records.get(name).and_then(StepRecord::response) {
            for v in r.header_values("mcp-session-id") {
                if redactor.redact(v) == v {
                    n += 1;
                    redactor.add(v, format!("[SESSION:{n}]"));
                }
            }
        }
    }
    let journal = mocks.upstream.journal().await;
    let mut exited = None;
    if let Some(p) = process.as_mut() {
        let unanswered = records.values().any(|r| {
            matches!(
                r,
                StepRecord::Http {
                    response: Err(_),
                    ..
                }
            )
        });
        exited = if unanswered {
            p.wait_exit(Duration::from_secs(2)).await
        } else {
            p.exited()
        };
    }
    let mut results = Vec::new();
    for c in &s.checks {
        let level = s.level_of(c, &shared.catalog);
        if let Some(why) = c.applies_if.iter().find_map(|cond| cond.holds(&vars).err()) {
            results.push(CheckResult {
                requirement: c.requirement.clone(),
                level,
                what: c.what.clone(),
                outcome: Outcome::Skip,
                mismatch: None,
                request: None,
                skip_reason: Some(redactor.redact(&why)),
            });
            continue;
        }
        let evaluated = checks::evaluate(c, &records, &vars, &journal);
        let (outcome, mismatch, request) = match evaluated {
            Ok(()) => (Outcome::Pass, None, None),
            Err(mut m) => {
                if let Some(status) = &exited {
                    m.got = format!("{} (the target process had exited: {status})", m.got);
                }
                let request = m
                    .step
                    .as_ref()
                    .and_then(|st| records.get(st))
                    .map(StepRecord::request_line);
                m.expected = redactor.redact(&m.expected);
                m.got = redactor.redact(&m.got);
                (
                    Outcome::failed_at(level),
                    Some(m),
                    request.map(|r| redactor.redact(&r)),
                )
            }
        };
        results.push(CheckResult {
            requirement: c.requirement.clone(),
            level,
            what: c.what.clone(),
            outcome,
            mismatch,
            request,
            skip_reason: None,
        });
    }
    let transcript = transcript(&order, &records, &redactor);
    let steps: Vec<(String, &StepRecord)> = order
        .iter()
        .filter_map(|n| records.get(n).map(|r| (n.clone(), r)))
        .collect();
    let transcript_text = crate::transcript::render(&steps, &results, &redactor, &norm);
    if let Some(p) = process {
        p.stop().await;
    }
    ScenarioResult {
        id: s.full_id(),
        profile: s.profile.clone(),
        title: s.title.clone(),
        outcome: ScenarioResult::outcome_of(&results),
        checks: results,
        setup_error: None,
        transcript,
        transcript_text,
        duration_ms: t0.elapsed().as_millis(),
        launch_ms,
    }
}

async fn start_mocks(
    shared: &Shared,
    rules: &[authconform_mocks::UpstreamRule],
) -> anyhow::Result<Mocks> {
    let tls = Some(shared.ca.server_config()?);
    let trusted = MockAuthServer::start(authconform_mocks::AuthServerConfig {
        tls: tls.clone(),
        ..Default::default()
    })
    .await?;
    let untrusted = MockAuthServer::start(authconform_mocks::AuthServerConfig {
        tls,
        ..Default::default()
    })
    .await?;
    let upstream = if rules.is_empty() {
        MockUpstream::start().await
    } else {
        MockUpstream::start_with(rules).await?
    };
    Ok(Mocks {
        trusted,
        untrusted,
        upstream,
    })
}

fn mint_tokens(
    s: &Scenario,
    mocks: &Mocks,
    vars: &mut Vars,
    redactor: &mut Redactor,
) -> anyhow::Result<()> {
    // Minted tokens first, then tokens derived from them.
    let (derived, minted): (Vec<_>, Vec<_>) = s.tokens.iter().partition(|(_, t)| t.from.is_some());
    for (name, t) in minted {
        let value = if t.random {
            random_b64token(43, &format!("{}/{name}", s.full_id()))
        } else {
            let audience = match &t.audience {
                Some(a) => a
                    .iter()
                    .map(|x| vars.expand(x))
                    .collect::<Result<Vec<_>, _>>()?,
                None => vec![vars.expand("{mcp_url}")?],
            };
            let scope = vars.expand(t.scope.as_deref().unwrap_or("{oauth.scope}"))?;
            let spec = TokenSpec {
                subject: t.subject.clone().unwrap_or_else(|| "alice".into()),
                audience,
                scope: if scope.is_empty() { None } else { Some(scope) },
                expires_in: t.expires_in.unwrap_or(300),
                issuer: None,
                signer: match t.signer {
                    SignerChoice::Published => Signer::Trusted,
                    SignerChoice::Foreign => Signer::Foreign,
                },
                extra: Default::default(),
            };
            let server = match t.issuer {
                IssuerChoice::Trusted => &mocks.trusted,
                IssuerChoice::Untrusted => &mocks.untrusted,
            };
            server.mint(&spec)?
        };
        redactor.add(value.clone(), format!("[TOKEN:{name}]"));
        vars.set(format!("token.{name}"), value);
    }
    for (name, t) in derived {
        let from = t.from.as_deref().unwrap_or_default();
        let base = vars
            .get(&format!("token.{from}"))
            .ok_or_else(|| anyhow::anyhow!("token `{from}` (for `{name}`) is itself derived"))?
            .to_string();
        let how = match t.tamper {
            Some(TamperChoice::AlgNone) => Tamper::AlgNone,
            Some(TamperChoice::Truncate) => Tamper::Truncate(4),
            Some(TamperChoice::FlipPayload) | None => Tamper::FlipPayload,
        };
        let value = authconform_mocks::tamper(&base, how);
        redactor.add(value.clone(), format!("[TOKEN:{name}]"));
        vars.set(format!("token.{name}"), value);
    }
    Ok(())
}

/// `n` b64token characters, pseudo-random but fixed per `seed` so transcripts stay stable between runs.
fn random_b64token(n: usize, seed: &str) -> String {
    use rand::{Rng, SeedableRng};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
    // FNV-1a of the seed text: stable across runs and platforms.
    let seed = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The redacted transcript of a scenario: every step's record, in order.
fn transcript(
    order: &[String],
    records: &BTreeMap<String, StepRecord>,
    redactor: &Redactor,
) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = order
        .iter()
        .filter_map(|name| {
            let r = records.get(name)?;
            let mut v = serde_json::to_value(r).ok()?;
            redact_json(&mut v, redactor);
            Some(serde_json::json!({"step": name, "record": v}))
        })
        .collect();
    serde_json::Value::Array(steps)
}

/// Redacts every string inside a JSON value.
pub fn redact_json(v: &mut serde_json::Value, redactor: &Redactor) {
    match v {
        serde_json::Value::String(s) => *s = redactor.redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, redactor)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| redact_json(x, redactor)),
        _ => {}
    }
}
