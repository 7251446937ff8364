//! Scenario files (`scenarios/PROFILE/NAME.toml`): the surfaces and principals a scenario needs, steps to run
//! against a target, and checks on what came back.
//!
//! Scenarios are data: step kinds live in [`crate::step`], expectation kinds in [`crate::expect`]; this module
//! holds what every scenario has and the rules that tie its parts together ([`validate`]).

mod validate;

use crate::error::FileError;
use crate::expect::Expect;
use crate::expect::status::StatusPattern;
use crate::requirements::{Catalog, Level};
use crate::step::Step;
use crate::target::Selector;
use crate::template::Vars;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A parsed, validated scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable ID, unique within its profile (the file stem by convention).
    pub id: String,
    /// One line saying what the scenario shows.
    pub title: String,
    /// Requirement IDs this scenario checks; each must have at least one check.
    pub requirements: Vec<String>,
    /// Target template variables the scenario needs (e.g. `oauth.upstream_tool`); missing → scenario skipped.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Surfaces the scenario needs besides those its steps name (`mcp-http`, `mcp-stdio`, `rest`, `cli`,
    /// `device-host`, `oauth-as`); missing → scenario skipped.
    #[serde(default)]
    pub surfaces: Vec<String>,
    /// Operations of the `rest` surface the scenario needs; missing → scenario skipped.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Principals the scenario needs, by properties (`{principal.NAME.key}` and friends); no match → skipped.
    #[serde(default)]
    pub principals: BTreeMap<String, Selector>,
    /// Tokens the mock authorization servers mint for this scenario, by name (`{token.NAME}`).
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenDef>,
    /// How the mock upstream API answers, first matching rule first (`[[upstream]]` with `when` and `respond`,
    /// see [`authconform_mocks::UpstreamRule`]), before the target file's own rules; header values and bodies
    /// may use target values such as `{cred.NAME}` and `{key.NAME}`. With no rules on either side the upstream
    /// serves `GET /projects`.
    #[serde(rename = "upstream", default)]
    pub upstream: Vec<authconform_mocks::UpstreamRule>,
    /// The mock vendor host a CLI scenario runs against (`[host]`): device endpoints, host API, script.
    pub host: Option<crate::host::HostDef>,
    /// The world an MCP client under test meets (`[world]`): protected MCP server, authorization servers,
    /// user agent.
    pub world: Option<crate::world::WorldDef>,
    /// Steps, run in order.
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
    /// Checks, evaluated after the steps.
    #[serde(rename = "check", default)]
    pub checks: Vec<Check>,
    /// Profile, from the folder name (not part of the file).
    #[serde(skip)]
    pub profile: String,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A token to mint, or to derive from another by tampering.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDef {
    /// `sub` claim (default `alice`).
    pub subject: Option<String>,
    /// `aud` values, as templates (default: `{mcp_url}`).
    pub audience: Option<Vec<String>>,
    /// `scope` claim, as a template (default: `{oauth.scope}`).
    pub scope: Option<String>,
    /// Lifetime in seconds from now; negative means already expired (default 300).
    pub expires_in: Option<i64>,
    /// Which mock authorization server mints it.
    #[serde(default)]
    pub issuer: IssuerChoice,
    /// Which key signs it.
    #[serde(default)]
    pub signer: SignerChoice,
    /// Derive from this other token instead of minting.
    pub from: Option<String>,
    /// How to tamper with `from`.
    pub tamper: Option<TamperChoice>,
    /// A literal random b64token of 43 characters instead of a JWT (`random = true`).
    #[serde(default)]
    pub random: bool,
}

/// The authorization server a token comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssuerChoice {
    /// The mock AS the target was configured to trust.
    #[default]
    Trusted,
    /// A second mock AS the target knows nothing of.
    Untrusted,
}

/// The key that signs a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignerChoice {
    /// The issuer's published key.
    #[default]
    Published,
    /// A key not in the issuer's JWKS, presented under the published key's `kid`.
    Foreign,
}

/// Tampering applied to a derived token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TamperChoice {
    /// Header set to `alg: none`, signature dropped.
    AlgNone,
    /// Last four characters removed.
    Truncate,
    /// One payload character changed.
    FlipPayload,
}

/// One assertion, tied to a requirement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Requirement ID, one of the scenario's `requirements`.
    pub requirement: String,
    /// Level of this check (default: the requirement's level); parts of a requirement may be SHOULD.
    pub level: Option<Level>,
    /// What the check asserts, in words, for the report.
    pub what: String,
    /// Steps whose responses must each satisfy `expect`.
    #[serde(default)]
    pub steps: Vec<String>,
    /// Enough that one of `steps` satisfies `expect` (e.g. either well-known form of a metadata URL).
    #[serde(default)]
    pub any: bool,
    /// Judge only the steps whose status is one of these (at least one must be); e.g. every metadata document
    /// that was served.
    pub when_status: Option<Vec<StatusPattern>>,
    /// Conditions for the check to apply; when one does not hold the check is skipped, with the reason.
    #[serde(default)]
    pub applies_if: Vec<Condition>,
    /// A condition that raises the check to MUST (the catalog's "hard fail if the target declares …").
    pub must_if: Option<Condition>,
    /// The expectation.
    pub expect: Expect,
}

/// A condition on a template variable (a target value such as `mcp_version`, or a capture).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The variable; the condition fails when it has no value.
    pub var: String,
    /// The value equals this.
    pub equals: Option<String>,
    /// The value contains this.
    pub contains: Option<String>,
    /// The value does not contain this.
    pub excludes: Option<String>,
    /// The value is (`true`) or is not (`false`) a JWT whose claims can be read (e.g. a captured access token;
    /// see [`crate::expect::json::jwt_payload`]). The value itself is never shown: it may be a credential.
    pub jwt: Option<bool>,
}

impl Condition {
    /// Ok when the condition holds; otherwise why the check does not apply.
    pub fn holds(&self, vars: &Vars) -> Result<(), String> {
        let Some(v) = vars.get(&self.var) else {
            let why = vars
                .get(&format!("missing.{}", self.var))
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Err(format!("`{}` has no value{why}", self.var));
        };
        if let Some(e) = &self.equals
            && v != e
        {
            return Err(format!("applies when `{}` is `{e}`; it is `{v}`", self.var));
        }
        if let Some(c) = &self.contains
            && !v.contains(c.as_str())
        {
            return Err(format!(
                "applies when `{}` contains `{c}`; it is `{v}`",
                self.var
            ));
        }
        if let Some(x) = &self.excludes
            && v.contains(x.as_str())
        {
            return Err(format!(
                "applies when `{}` does not contain `{x}`; it is `{v}`",
                self.var
            ));
        }
        if let Some(want) = self.jwt {
            let is = crate::expect::json::jwt_payload(v).is_some();
            if is != want {
                let (when, it) = if want {
                    ("is a JWT", "is not (an opaque value)")
                } else {
                    ("is not a JWT", "is one")
                };
                return Err(format!("applies when `{}` {when}; it {it}", self.var));
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// Reads and validates a scenario; `profile` is the name of its folder.
    pub fn load(path: &Path, profile: &str, catalog: &Catalog) -> Result<Scenario, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::whole_file(path, format!("cannot read scenario file: {e}")))?;
        let mut s: Scenario = FileError::parse_toml(path, &text)?;
        s.profile = profile.to_string();
        s.path = path.to_path_buf();
        s.validate(catalog)
            .map_err(|e| FileError::from_invalid(path, &text, e))?;
        Ok(s)
    }

    /// The full ID, `profile/id`.
    pub fn full_id(&self) -> String {
        format!("{}/{}", self.profile, self.id)
    }

    /// The surfaces the scenario needs: those it names and those its steps need; `mcp-http` when that is
    /// none (a version-1 scenario, written when that was the only surface).
    pub fn needed_surfaces(&self) -> BTreeSet<&str> {
        let named: BTreeSet<&str> = self
            .surfaces
            .iter()
            .map(String::as_str)
            .chain(self.steps.iter().filter_map(|s| s.surface()))
            .collect();
        if named.is_empty() {
            ["mcp-http"].into()
        } else {
            named
        }
    }

    /// The REST operations the scenario needs: those it lists and those its `rest` steps name literally.
    /// The named commands of the `cli` surface its `exec` steps run.
    pub fn required_commands(&self) -> BTreeSet<String> {
        self.steps
            .iter()
            .filter_map(|st| st.exec.as_ref()?.command.clone())
            .collect()
    }

    /// The operations its `rest` steps name, and those it lists.
    pub fn required_operations(&self) -> BTreeSet<String> {
        let named = self
            .steps
            .iter()
            .filter_map(|st| st.rest.as_ref()?.op.clone());
        self.operations
            .iter()
            .cloned()
            .chain(named.filter(|op| !op.contains('{')))
            .collect()
    }

    /// The operation sets its `rest` steps iterate over.
    pub fn required_sets(&self) -> BTreeSet<String> {
        self.steps
            .iter()
            .filter_map(|st| st.rest.as_ref()?.ops.clone())
            .collect()
    }

    /// The level of check `c` (before `must_if`, which needs the run's variables: see [`Scenario::level_in`]).
    pub fn level_of(&self, c: &Check, catalog: &Catalog) -> Level {
        c.level
            .or_else(|| catalog.get(&c.requirement).map(|r| r.level))
            .unwrap_or(Level::Must)
    }

    /// The level of check `c` in a run with `vars`: MUST when its `must_if` holds, or when it is a SHOULD of a
    /// requirement the target lists as `strict` (`target.strict`).
    pub fn level_in(&self, c: &Check, catalog: &Catalog, vars: &Vars) -> Level {
        let strict = vars
            .get("target.strict")
            .is_some_and(|s| s.split(',').any(|r| r == c.requirement));
        match (&c.must_if, self.level_of(c, catalog)) {
            (Some(cond), _) if cond.holds(vars).is_ok() => Level::Must,
            (_, Level::Should) if strict => Level::Must,
            (_, level) => level,
        }
    }
}

/// Loads every scenario under `dir` (`dir/PROFILE/*.toml`), sorted by profile and ID.
pub fn load_all(dir: &Path, catalog: &Catalog) -> Result<Vec<Scenario>, FileError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| FileError::whole_file(dir, format!("cannot read scenarios folder: {e}")))?;
    let mut profiles: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    profiles.sort();
    for pdir in profiles {
        let profile = pdir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !crate::requirements::PROFILES.contains(&profile.as_str()) {
            return Err(FileError::whole_file(
                &pdir,
                format!("`{profile}` is not a profile"),
            ));
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&pdir)
            .map_err(|e| FileError::whole_file(&pdir, format!("cannot read: {e}")))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            out.push(Scenario::load(&f, &profile, catalog)?);
        }
    }
    let mut seen = BTreeSet::new();
    for s in &out {
        if !seen.insert(s.full_id()) {
            return Err(FileError::whole_file(
                &s.path,
                format!("duplicate scenario ID `{}`", s.full_id()),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_conditions_never_show_the_value() {
        use base64::Engine as _;
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!("{}.{}.sig", b(r#"{"alg":"ES256"}"#), b(r#"{"aud":"x"}"#));
        let mut vars = Vars::default();
        vars.set("access", &jwt);
        vars.set("opaque", "op4que-t0ken-value");
        let cond = |var: &str, jwt: bool| Condition {
            var: var.into(),
            equals: None,
            contains: None,
            excludes: None,
            jwt: Some(jwt),
        };
        assert!(cond("access", true).holds(&vars).is_ok());
        assert!(cond("opaque", false).holds(&vars).is_ok());
        let why = cond("opaque", true).holds(&vars).unwrap_err();
        assert_eq!(
            why,
            "applies when `opaque` is a JWT; it is not (an opaque value)"
        );
        let why = cond("access", false).holds(&vars).unwrap_err();
        assert!(!why.contains(&jwt), "{why}");
        vars.set(
            "missing.gone",
            "step `control` yielded no JSON value at `/access_token`",
        );
        let why = cond("gone", true).holds(&vars).unwrap_err();
        assert!(why.contains("has no value (step `control`"), "{why}");
    }
}
