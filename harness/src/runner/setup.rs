//! The setup phase of a scenario: decide whether it applies to the target, start the mocks it needs, pick
//! its principals, launch the target when a surface needs the long-running process, mint its tokens.

use super::Shared;
use crate::launch::{self, Launched};
use crate::redact::Redactor;
use crate::report::Phases;
use crate::scenario::Scenario;
use crate::target::Target;
use crate::template::Vars;
use crate::transcript::Normalizer;
use authconform_mocks::{MockAuthServer, MockUpstream, UpstreamRule};
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

/// Surfaces served by the target's launched process (the others are launched per step, or are CLIs).
const LAUNCHED_SURFACES: &[&str] = &["mcp-http", "rest", "device-host", "oauth-as"];

/// Why a scenario cannot go on: typed, so exit codes never depend on message text.
#[derive(Debug)]
pub enum SetupError {
    /// The scenario does not apply to this target (a surface, principal or value is missing).
    Skip(String),
    /// The target process never became ready, or a target the run does not launch cannot be reached.
    NotStarted(String),
    /// Something else went wrong (mocks, templates).
    Failed(String),
}

/// The mocks one scenario talks to.
pub struct Mocks {
    /// The authorization server the target trusts (when the scenario needs one).
    pub trusted: Option<MockAuthServer>,
    /// One it knows nothing of.
    pub untrusted: Option<MockAuthServer>,
    /// The upstream API.
    pub upstream: MockUpstream,
}

/// Everything a scenario's steps run in.
pub struct Env {
    /// Template variables.
    pub vars: Vars,
    /// Secrets known so far.
    pub redactor: Redactor,
    /// Ports to placeholders.
    pub norm: Normalizer,
    /// The mocks.
    pub mocks: Mocks,
    /// The launched target, if any.
    pub process: Option<Launched>,
    /// Time to readiness.
    pub launch_ms: Option<u128>,
    /// Where the scenario's time went so far (setup fills its phases, the runner the rest).
    pub phases: Phases,
    /// The scenario's private folder (HOME of child processes).
    pub workdir: tempfile::TempDir,
    /// Secrets a step may show: (value, step) — a created key in the response that created it, values a
    /// step's `may_show` names.
    pub revealed: Vec<(String, String)>,
    /// The mock vendor host of a CLI scenario (`[host]`).
    pub host: Option<authconform_mocks::MockCliHost>,
    /// The world of an MCP-client scenario (`[world]`).
    pub world: Option<crate::world::World>,
}

/// Why `s` does not apply to `target`, if it does not.
pub fn skip_reason(s: &Scenario, target: &Target, vars: &Vars) -> Option<String> {
    let missing: Vec<String> = s
        .needed_surfaces()
        .into_iter()
        .filter(|n| !target.surfaces.has(n))
        .map(|n| format!("a `{n}` surface"))
        .chain(s.required_operations().into_iter().filter_map(|op| {
            let has = target.surfaces.rest.as_ref()?.operations.contains_key(&op);
            (!has).then(|| format!("the REST operation `{op}`"))
        }))
        .chain(s.required_commands().into_iter().filter_map(|c| {
            let has = target.surfaces.cli.as_ref()?.commands.contains_key(&c);
            (!has).then(|| format!("the CLI command `{c}`"))
        }))
        .chain(s.required_sets().into_iter().filter_map(|set| {
            let has = target.surfaces.rest.as_ref()?.sets.contains_key(&set);
            (!has).then(|| format!("the REST operation set `{set}`"))
        }))
        .chain(
            s.needs
                .iter()
                .filter(|n| vars.get(n).is_none())
                .map(|n| format!("`{n}`")),
        )
        .collect();
    (!missing.is_empty())
        .then(|| format!("the target file does not declare {}", missing.join(", ")))
}

/// Runs the setup phase.
pub async fn prepare(shared: &Shared, s: &Scenario) -> Result<Env, SetupError> {
    let target = &shared.cfg.target;
    let mut vars = target.vars();
    if let Some(why) = skip_reason(s, target, &vars) {
        return Err(SetupError::Skip(why));
    }
    let selectors = expand_roles(&s.principals, &vars)?;
    let picked = target
        .directory()
        .resolve(&selectors)
        .map_err(SetupError::Skip)?;
    target.directory().set_vars(&picked, &mut vars);
    if let Some(why) = s
        .needed_surfaces()
        .iter()
        .find_map(|n| shared.unreachable.get(n))
    {
        return Err(SetupError::NotStarted(why.clone()));
    }
    let mut redactor = secrets_of(target, &picked, &vars);
    let surfaces = s.needed_surfaces();
    let launch = target.launch.is_some() && LAUNCHED_SURFACES.iter().any(|l| surfaces.contains(l));
    super::phase::set("while starting the mocks");
    let mut phases = Phases::default();
    let t = Instant::now();
    let mocks = start_mocks(shared, s, &vars, launch || !s.tokens.is_empty())
        .await
        .map_err(|e| SetupError::Failed(format!("mocks did not start: {e:#}")))?;
    phases.mocks_us = micros(t);
    let mut norm = Normalizer::default();
    if let Some(rest) = &target.surfaces.rest {
        norm.volatile(&rest.volatile);
    }
    set_run_vars(shared, &mocks, &mut vars, &mut norm);
    crate::pkce::set_vars(&mut vars, &mut redactor);
    let workdir = tempfile::Builder::new()
        .prefix("scenario-")
        .tempdir_in(shared.dir.path())
        .map_err(|e| SetupError::Failed(format!("work folder: {e}")))?;
    let mut env = Env {
        vars,
        redactor,
        norm,
        mocks,
        process: None,
        launch_ms: None,
        phases,
        workdir,
        revealed: Vec::new(),
        host: None,
        world: None,
    };
    let t = Instant::now();
    if let Some(def) = &s.host {
        start_host(shared, def, &mut env).await?;
    }
    if let Some(def) = &s.world {
        start_world(shared, &s.id, def, &mut env).await?;
    }
    env.phases.host_us = micros(t);
    let t = Instant::now();
    if launch {
        start_target(shared, &mut env).await?;
    }
    env.phases.target_us = micros(t);
    set_target_urls(target, &surfaces, &mut env)?;
    let t = Instant::now();
    if let Err(e) = super::tokens::mint_tokens(s, &env.mocks, &mut env.vars, &mut env.redactor) {
        return Err(SetupError::Failed(format!("minting tokens: {e:#}")));
    }
    env.phases.tokens_us = micros(t);
    Ok(env)
}

/// A redactor that knows the target's secrets and the picked principals' keys (every variant).
fn secrets_of(target: &Target, picked: &BTreeMap<String, String>, vars: &Vars) -> Redactor {
    let mut redactor = Redactor::default();
    for (secret, placeholder) in target.secrets() {
        redactor.add(secret, placeholder);
    }
    for (sel, name) in picked {
        for variant in crate::target::principal::KEY_VARIANTS {
            if let Some(v) = vars.get(&format!("principal.{sel}.{variant}")) {
                redactor.add(v, format!("[KEY:{name}~{variant}]"));
            }
        }
    }
    redactor
}

/// Microseconds since `t`.
pub(super) fn micros(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Selectors with their `role` templates (`{rest.roles.limited}`) filled from the target; a role the target
/// does not name skips the scenario.
fn expand_roles(
    selectors: &std::collections::BTreeMap<String, crate::target::Selector>,
    vars: &Vars,
) -> Result<std::collections::BTreeMap<String, crate::target::Selector>, SetupError> {
    let mut out = selectors.clone();
    for (name, sel) in out.iter_mut() {
        if let Some(role) = &sel.role {
            let r = vars.expand(role).map_err(|e| {
                SetupError::Skip(format!(
                    "principal `{name}`: {}",
                    crate::step::why_missing(vars, &e)
                ))
            })?;
            sel.role = Some(r);
        }
    }
    Ok(out)
}

/// The scenario's upstream rules, then the target's, with target values filled in.
fn upstream_rules(s: &Scenario, target: &Target, vars: &Vars) -> Vec<UpstreamRule> {
    let mut rules: Vec<UpstreamRule> = s.upstream.iter().chain(&target.upstream).cloned().collect();
    for rule in &mut rules {
        for (_, v) in rule.when.headers.iter_mut() {
            *v = vars.expand(v).unwrap_or_else(|_| v.clone());
        }
        if let Some(b) = rule.respond.body.as_mut() {
            *b = vars.expand(b).unwrap_or_else(|_| b.clone());
        }
    }
    rules
}

async fn start_mocks(
    shared: &Shared,
    s: &Scenario,
    vars: &Vars,
    auth: bool,
) -> anyhow::Result<Mocks> {
    let rules = upstream_rules(s, &shared.cfg.target, vars);
    let upstream = if rules.is_empty() {
        MockUpstream::start_with(&authconform_mocks::upstream::default_rules()).await?
    } else {
        MockUpstream::start_with(&rules).await?
    };
    let (trusted, untrusted) = if auth {
        let config = || authconform_mocks::AuthServerConfig {
            tls: shared.ca.server_config().ok(),
            ..Default::default()
        };
        (
            Some(MockAuthServer::start(config()).await?),
            Some(MockAuthServer::start(config()).await?),
        )
    } else {
        (None, None)
    };
    Ok(Mocks {
        trusted,
        untrusted,
        upstream,
    })
}

fn set_run_vars(shared: &Shared, mocks: &Mocks, vars: &mut Vars, norm: &mut Normalizer) {
    for (name, server) in [
        ("issuer", &mocks.trusted),
        ("untrusted-issuer", &mocks.untrusted),
    ] {
        if let Some(server) = server {
            norm.port(server.issuer(), name);
            vars.set(format!("mocks.{}", name.replace('-', "_")), server.issuer());
        }
    }
    norm.port(&mocks.upstream.base_url(), "upstream");
    vars.set("mocks.upstream", mocks.upstream.base_url());
    let files = &shared.files;
    vars.set("mocks.ca_pem", files.ca_pem.display().to_string());
    vars.set("tls.ca_pem", files.ca_pem.display().to_string());
    vars.set("tls.cert_pem", files.cert_pem.display().to_string());
    vars.set("tls.key_pem", files.key_pem.display().to_string());
    vars.set("authconform", shared.cfg.self_exe.display().to_string());
    vars.set("target_dir", shared.cfg.target.dir().display().to_string());
}

/// Starts the world of an MCP-client scenario (`[world]`), its ports named in transcripts.
async fn start_world(
    shared: &Shared,
    id: &str,
    def: &crate::world::WorldDef,
    env: &mut Env,
) -> Result<(), SetupError> {
    let world = def
        .start(
            id,
            &shared.ca,
            env.workdir.path(),
            &mut env.vars,
            &mut env.redactor,
        )
        .await
        .map_err(|e| SetupError::Failed(format!("the mock world did not start: {e:#}")))?;
    for (url, name) in world.origins() {
        env.norm.port(&url, name);
    }
    env.world = Some(world);
    Ok(())
}

/// Starts the scenario's mock vendor host, with the key shape of the target's `cli` surface.
async fn start_host(
    shared: &Shared,
    def: &crate::host::HostDef,
    env: &mut Env,
) -> Result<(), SetupError> {
    let cli = shared.cfg.target.surfaces.cli.as_ref();
    let shape = crate::host::KeyShape {
        header: cli.map_or("X-API-Key", |c| c.key_header.as_str()),
        secret_prefix: cli.map_or("sk_test_", |c| c.secret_prefix.as_str()),
        publishable_prefix: cli.map_or("pk_test_", |c| c.publishable_prefix.as_str()),
    };
    let host = def
        .start(
            &shared.ca,
            &shape,
            env.workdir.path(),
            &mut env.vars,
            &mut env.redactor,
        )
        .await
        .map_err(|e| SetupError::Failed(format!("the mock host did not start: {e:#}")))?;
    env.norm.port(host.base_url(), "host");
    env.host = Some(host);
    Ok(())
}

async fn start_target(shared: &Shared, env: &mut Env) -> Result<(), SetupError> {
    let target = &shared.cfg.target;
    let Some(l) = &target.launch else {
        return Ok(());
    };
    let started = Instant::now();
    super::phase::set(match &l.ready.stdout {
        Some(p) => format!("while launching the target (no stdout line matched `{p}` yet)"),
        None => "while launching the target (not ready yet)".to_string(),
    });
    if let Ok(port) = launch::free_port() {
        env.vars.set("port", port.to_string());
    }
    match launch::start(l, &mut env.vars, &target.dir(), &shared.client).await {
        Ok(p) => {
            env.process = Some(p);
            env.launch_ms = Some(started.elapsed().as_millis());
            Ok(())
        }
        Err(e) => Err(SetupError::NotStarted(
            env.redactor.redact(&format!("target did not start: {e}")),
        )),
    }
}

/// The target's URLs once it is up: `rest.base_url`, `mcp_url` and its co-hosted authorization server's
/// `oauth.as_*` (the `oauth-as` surface), with their ports registered for normalisation (the issuer's as `as`
/// before any other, so a resource the AS itself serves shows that port as `as` too).
fn set_target_urls(
    target: &Target,
    surfaces: &BTreeSet<&str>,
    env: &mut Env,
) -> Result<(), SetupError> {
    if let Some(rest) = &target.surfaces.rest
        && let Ok(u) = env.vars.expand(&rest.base_url)
    {
        env.norm.port(&u, "target");
        env.vars.set("rest.base_url", u);
    }
    for (name, t) in target.surfaces.as_templates() {
        match env.vars.expand(t) {
            Ok(v) => {
                match name {
                    "oauth.as_issuer" => env.norm.port(&v, "as"),
                    "oauth.as_resource" => env.norm.port(&v, "target"),
                    _ => {}
                }
                env.vars.set(name, v);
            }
            // Only a scenario on this surface needs its values.
            Err(_) if !surfaces.contains("oauth-as") => {}
            Err(e) => {
                let field = name.trim_start_matches("oauth.as_");
                return Err(SetupError::Failed(format!(
                    "surfaces.oauth-as.{field}: {e}"
                )));
            }
        }
    }
    let Some(http) = &target.surfaces.mcp_http else {
        return Ok(());
    };
    match env.vars.expand(&http.url) {
        Ok(u) => {
            env.norm.port(&u, "target");
            env.vars.set("mcp_url", u);
            Ok(())
        }
        // Only a scenario on this surface needs the URL.
        Err(_) if !surfaces.contains("mcp-http") => Ok(()),
        Err(e) => Err(SetupError::Failed(format!("surfaces.mcp-http.url: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Catalog;

    fn load(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_scenario_needing_what_the_target_lacks_is_skipped_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::load(&load(
            dir.path(),
            "t.toml",
            "name = \"t\"\nprofiles = []\n[surfaces.mcp-http]\nurl = \"https://x/mcp\"\n",
        ))
        .unwrap();
        let scenario = Scenario::load(
            &load(
                dir.path(),
                "s.toml",
                "id = \"s\"\ntitle = \"t\"\nrequirements = [\"LOCAL-002\"]\nneeds = [\"oauth.upstream_tool\"]\n\
                 [[step]]\nname = \"a\"\nmcp_stdio = { key_value = \"\" }\n\
                 [[check]]\nrequirement = \"LOCAL-002\"\nwhat = \"w\"\nsteps = [\"a\"]\nexpect = { tool_error = true }\n",
            ),
            "local-stdio",
            &Catalog::builtin(),
        )
        .unwrap();
        let why = skip_reason(&scenario, &target, &target.vars()).expect("skipped");
        assert!(why.contains("a `mcp-stdio` surface"), "{why}");
        assert!(why.contains("`oauth.upstream_tool`"), "{why}");
    }

    /// A target that offers only an authorization server runs the scenarios on that surface and skips the
    /// others (which need the MCP endpoint by default) with the usual reason.
    #[test]
    fn an_authorization_server_alone_runs_only_its_scenarios() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::load(&load(
            dir.path(),
            "t.toml",
            "name = \"t\"\nprofiles = [\"oauth-resource\"]\n[surfaces.oauth-as]\nissuer = \"https://as\"\n\
             client_id = \"c\"\nresource = \"https://as/mcp\"\n",
        ))
        .unwrap();
        let scenario = |name: &str, head: &str| {
            Scenario::load(
                &load(
                    dir.path(),
                    name,
                    &format!(
                        "id = \"s\"\ntitle = \"t\"\nrequirements = [\"OAUTH-AS-004\"]\n{head}\
                         [[step]]\nname = \"a\"\nhttp = {{ method = \"GET\", url = \"{{oauth.as_issuer}}\" }}\n\
                         [[check]]\nrequirement = \"OAUTH-AS-004\"\nwhat = \"w\"\nsteps = [\"a\"]\nexpect = {{ status = [200] }}\n"
                    ),
                ),
                "oauth-resource",
                &Catalog::builtin(),
            )
            .unwrap()
        };
        let vars = target.vars();
        let cohosted = scenario(
            "c.toml",
            "needs = [\"oauth.as_client_id\"]\nsurfaces = [\"oauth-as\"]\n",
        );
        assert_eq!(skip_reason(&cohosted, &target, &vars), None);
        assert!(
            cohosted
                .needed_surfaces()
                .iter()
                .any(|s| LAUNCHED_SURFACES.contains(s))
        );
        let on_mcp = scenario("m.toml", "");
        let why = skip_reason(&on_mcp, &target, &vars).expect("skipped");
        assert_eq!(why, "the target file does not declare a `mcp-http` surface");
        let needs_redirect = scenario(
            "r.toml",
            "needs = [\"oauth.as_redirect_uri\"]\nsurfaces = [\"oauth-as\"]\n",
        );
        let why = skip_reason(&needs_redirect, &target, &vars).expect("skipped");
        assert!(why.contains("`oauth.as_redirect_uri`"), "{why}");
    }
}
