//! The rules that tie a scenario's parts together: requirements, tokens, principals, surfaces, upstream
//! rules, steps (each kind validates itself) and checks (each expectation validates itself).

use super::{Check, Scenario};
use crate::error::Invalid;
use crate::requirements::Catalog;
use crate::step::ValidateCx;
use crate::target::surface::SURFACES;
use crate::template::Vars;
use std::collections::BTreeSet;

impl Scenario {
    /// Every rule, in file order; the first finding is reported.
    pub fn validate(&self, catalog: &Catalog) -> Result<(), Invalid> {
        self.validate_requirements(catalog)?;
        self.validate_tokens()?;
        self.validate_surfaces()?;
        self.validate_principals()?;
        self.validate_upstream()?;
        let mut cx = ValidateCx::new(self.tokens.keys().cloned(), self.principals.keys().cloned());
        self.validate_steps(&mut cx)?;
        self.validate_checks(&cx, catalog)
    }

    fn validate_requirements(&self, catalog: &Catalog) -> Result<(), Invalid> {
        if self.requirements.is_empty() {
            return Err(Invalid::new("requirements", "names no requirement"));
        }
        for (i, id) in self.requirements.iter().enumerate() {
            let field = format!("requirements[{i}]");
            match catalog.get(id) {
                None => {
                    return Err(Invalid::new(
                        field,
                        format!("unknown requirement ID `{id}`"),
                    ));
                }
                Some(r) if r.profile != self.profile => {
                    return Err(Invalid::new(
                        field,
                        format!(
                            "`{id}` belongs to profile `{}`, but this scenario is in `{}`",
                            r.profile, self.profile
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn validate_tokens(&self) -> Result<(), Invalid> {
        let cx = ValidateCx::new(Vec::<String>::new(), Vec::<String>::new());
        for (name, t) in &self.tokens {
            let at = |k: &str| format!("tokens.{name}.{k}");
            match (&t.from, t.tamper) {
                (Some(from), _) if !self.tokens.contains_key(from) || from == name => {
                    return Err(Invalid::new(
                        at("from"),
                        format!("`from` names unknown token `{from}`"),
                    ));
                }
                (Some(_), None) => return Err(Invalid::new(at("from"), "`from` needs `tamper`")),
                (None, Some(_)) => return Err(Invalid::new(at("tamper"), "`tamper` needs `from`")),
                _ => {}
            }
            for a in t.audience.iter().flatten() {
                cx.template(&at("audience"), a)?;
            }
            if let Some(s) = &t.scope {
                cx.template(&at("scope"), s)?;
            }
        }
        Ok(())
    }

    fn validate_surfaces(&self) -> Result<(), Invalid> {
        for (i, s) in self.surfaces.iter().enumerate() {
            if !SURFACES.contains(&s.as_str()) {
                return Err(Invalid::new(
                    format!("surfaces[{i}]"),
                    format!("`{s}` is not a surface ({})", SURFACES.join(", ")),
                ));
            }
        }
        if !self.operations.is_empty() && !self.needed_surfaces().contains("rest") {
            return Err(Invalid::new(
                "operations",
                "operations need the `rest` surface (`surfaces = [\"rest\"]`, or a `rest` step)",
            ));
        }
        Ok(())
    }

    fn validate_principals(&self) -> Result<(), Invalid> {
        for (name, sel) in &self.principals {
            for other in sel.refers_to() {
                if !self.principals.contains_key(other) || other == name {
                    return Err(Invalid::new(
                        format!("principals.{name}"),
                        format!(
                            "refers to `{other}`, which is not another principal of this scenario"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Upstream rules are set up before tokens and principals exist: only target values may appear in them.
    fn validate_upstream(&self) -> Result<(), Invalid> {
        for (i, rule) in self.upstream.iter().enumerate() {
            let texts = rule
                .when
                .headers
                .iter()
                .map(|(_, v)| v.as_str())
                .chain(rule.respond.body.as_deref());
            for t in texts {
                for name in Vars::references(t) {
                    let target_value = ["cred.", "key.", "oauth."]
                        .iter()
                        .any(|p| name.starts_with(p))
                        || name == "mcp_version";
                    if !target_value {
                        return Err(Invalid::new(
                            format!("upstream[{i}].when"),
                            format!(
                                "`{{{name}}}`: upstream rules may only use target values (`cred.*`, `key.*`, `oauth.*`)"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_steps(&self, cx: &mut ValidateCx) -> Result<(), Invalid> {
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("step[{i}]");
            if cx.steps.contains(&step.name) {
                return Err(Invalid::new(
                    format!("{at}.name"),
                    format!("duplicate step name `{}`", step.name),
                ));
            }
            step.validate(cx).map_err(|e| e.under(&at))?;
            for (name, c) in &step.capture {
                c.validate()
                    .map_err(|e| e.under(&format!("{at}.capture.{name}")))?;
                cx.known.insert(name.clone());
            }
            cx.steps.insert(step.name.clone());
        }
        Ok(())
    }

    fn validate_checks(&self, cx: &ValidateCx, catalog: &Catalog) -> Result<(), Invalid> {
        if self.checks.is_empty() {
            return Err(Invalid::new(
                "id",
                "a scenario without checks asserts nothing",
            ));
        }
        let mut covered = BTreeSet::new();
        for (i, c) in self.checks.iter().enumerate() {
            self.validate_check(c, cx, catalog)
                .map_err(|e| e.under(&format!("check[{i}]")))?;
            covered.insert(c.requirement.clone());
        }
        match self.requirements.iter().find(|r| !covered.contains(*r)) {
            Some(r) => Err(Invalid::new(
                "requirements",
                format!("`{r}` is listed but no check tests it"),
            )),
            None => Ok(()),
        }
    }

    fn validate_check(&self, c: &Check, cx: &ValidateCx, catalog: &Catalog) -> Result<(), Invalid> {
        if !self.requirements.contains(&c.requirement) {
            let msg = if catalog.get(&c.requirement).is_none() {
                format!("unknown requirement ID `{}`", c.requirement)
            } else {
                format!(
                    "`{}` is not in this scenario's `requirements`",
                    c.requirement
                )
            };
            return Err(Invalid::new("requirement", msg));
        }
        for cond in &c.applies_if {
            if !cx.defines(&cond.var) {
                return Err(Invalid::new(
                    "applies_if",
                    format!("`{}` is not a variable defined before the checks", cond.var),
                ));
            }
        }
        if c.expect.is_empty() {
            return Err(Invalid::new(
                "expect",
                "expects nothing: a check that cannot fail",
            ));
        }
        c.expect.validate(cx).map_err(|e| e.under("expect"))?;
        if c.expect.judges_steps() && c.steps.is_empty() {
            return Err(Invalid::new("steps", "step expectations need `steps`"));
        }
        if let Some(s) = c.steps.iter().find(|s| !cx.steps.contains(*s)) {
            return Err(Invalid::new("steps", format!("unknown step `{s}`")));
        }
        for p in c.when_status.iter().flatten() {
            if !p.valid() {
                return Err(Invalid::new(
                    "when_status",
                    format!("`{p}` is not a status or class like \"4xx\""),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const HEAD: &str = "id = \"x\"\ntitle = \"t\"\nrequirements = [\"LOCAL-002\"]\n";
    const STEP: &str = "[[step]]\nname = \"s\"\nmcp_stdio = { key_value = \"\" }\n";
    const CHECK: &str = "[[check]]\nrequirement = \"LOCAL-002\"\nwhat = \"w\"\nsteps = [\"s\"]\nexpect = { tool_error = true }\n";

    fn load(text: &str) -> Result<Scenario, crate::error::FileError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.toml");
        std::fs::write(&path, text).expect("write");
        Scenario::load(&path, "local-stdio", &Catalog::builtin())
    }

    fn field(text: &str) -> (usize, String) {
        let e = load(text).expect_err("refused");
        (e.line, e.field)
    }

    #[test]
    fn a_valid_scenario_loads() {
        load(&format!("{HEAD}{STEP}{CHECK}")).unwrap();
    }

    #[test]
    fn requirements_must_exist_belong_here_and_be_checked() {
        let (_, f) = field(&format!(
            "{}{STEP}{CHECK}",
            HEAD.replace("LOCAL-002", "NOPE-1")
        ));
        assert_eq!(f, "requirements[0]");
        let (_, f) = field(&format!(
            "{}{STEP}{CHECK}",
            HEAD.replace("LOCAL-002", "LOCAL-002\", \"SCOPE-001")
        ));
        assert_eq!(f, "requirements[1]", "another profile's requirement");
        let (_, f) = field(&format!(
            "{}{STEP}{CHECK}",
            HEAD.replace("LOCAL-002", "LOCAL-002\", \"LOCAL-001")
        ));
        assert_eq!(f, "requirements", "listed but unchecked");
    }

    #[test]
    fn steps_need_one_kind_unique_names_and_valid_fields() {
        let (l, f) = field(&format!("{HEAD}[[step]]\nname = \"s\"\n{CHECK}"));
        assert_eq!((l, f.as_str()), (5, "step[0].name"));
        let (l, f) = field(&format!("{HEAD}{STEP}{STEP}{CHECK}"));
        assert_eq!((l, f.as_str()), (8, "step[1].name"));
        let (l, f) = field(&format!(
            "{HEAD}[[step]]\nname = \"s\"\nmcp_stdio = {{ key = \"wide\" }}\n{CHECK}"
        ));
        assert_eq!((l, f.as_str()), (6, "step[0].mcp_stdio.key"));
    }

    #[test]
    fn checks_need_expectations_steps_and_known_requirements() {
        let (_, f) = field(&format!("{HEAD}{STEP}"));
        assert_eq!(f, "id");
        let (l, f) = field(&format!(
            "{HEAD}{STEP}{}",
            CHECK.replace("tool_error = true", "")
        ));
        assert_eq!((l, f.as_str()), (11, "check[0].expect"));
        let (_, f) = field(&format!(
            "{HEAD}{STEP}{}",
            CHECK.replace("[\"s\"]", "[\"t\"]")
        ));
        assert_eq!(f, "check[0].steps");
        let (_, f) = field(&format!(
            "{HEAD}{STEP}{}",
            CHECK.replace("steps = [\"s\"]\n", "")
        ));
        assert_eq!(f, "check[0].steps");
        let (_, f) = field(&format!(
            "{HEAD}{STEP}{}",
            CHECK.replace("\"LOCAL-002\"\nwhat", "\"LOCAL-001\"\nwhat")
        ));
        assert_eq!(f, "check[0].requirement");
        let (_, f) = field(&format!(
            "{HEAD}{STEP}{CHECK}applies_if = [{{ var = \"nothing\" }}]\n"
        ));
        assert_eq!(f, "check[0].applies_if");
        let (_, f) = field(&format!("{HEAD}{STEP}{CHECK}when_status = [\"9xx\"]\n"));
        assert_eq!(f, "check[0].when_status");
    }

    #[test]
    fn tokens_surfaces_principals_and_upstream_rules() {
        let (_, f) = field(&format!(
            "{HEAD}[tokens.a]\nfrom = \"b\"\ntamper = \"truncate\"\n{STEP}{CHECK}"
        ));
        assert_eq!(f, "tokens.a.from");
        let (_, f) = field(&format!(
            "{HEAD}[tokens.a]\ntamper = \"truncate\"\n{STEP}{CHECK}"
        ));
        assert_eq!(f, "tokens.a.tamper");
        let (_, f) = field(&format!("{}surfaces = [\"grpc\"]\n{STEP}{CHECK}", HEAD));
        assert_eq!(f, "surfaces[0]");
        let (_, f) = field(&format!("{}operations = [\"list\"]\n{STEP}{CHECK}", HEAD));
        assert_eq!(f, "operations");
        let (_, f) = field(&format!(
            "{HEAD}[principals.a]\ntenant_of = \"b\"\n{STEP}{CHECK}"
        ));
        assert_eq!(f, "principals.a");
        let (_, f) = field(&format!(
            "{HEAD}[[upstream]]\nwhen = {{ headers = [[\"X\", \"{{token.t}}\"]] }}\n{STEP}{CHECK}"
        ));
        assert_eq!(f, "upstream[0].when");
    }

    #[test]
    fn expectations_validate_themselves() {
        let bad = CHECK.replace(
            "tool_error = true",
            "output = { streams = [\"stdin\"], never_contains = [\"x\"] }",
        );
        let (_, f) = field(&format!("{HEAD}{STEP}{bad}"));
        assert_eq!(f, "check[0].expect.output.streams[0]");
        let bad = CHECK.replace(
            "tool_error = true",
            "upstream = { never_contains = [\"x\"] }",
        );
        let (_, f) = field(&format!("{HEAD}{STEP}{bad}"));
        assert_eq!(f, "check[0].expect.upstream.min_requests");
    }

    #[test]
    fn unknown_keys_point_at_themselves() {
        let e = load(&format!("{HEAD}{STEP}{CHECK}colour = \"red\"\n")).unwrap_err();
        assert_eq!(e.line, 12, "{e}");
        assert!(Path::new(&e.file).ends_with("x.toml"));
    }
}
