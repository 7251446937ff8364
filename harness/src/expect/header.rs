//! `header`: response headers present, absent, equal to, containing or starting with a value.

use super::{Expectation, Fail, expand, response};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;

/// An expectation on one response header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    /// Header name (case-insensitive).
    pub name: String,
    /// The value starts with this (case-insensitive).
    pub starts_with: Option<String>,
    /// The value equals this (template).
    pub equals: Option<String>,
    /// The value contains this (template, case-sensitive).
    pub contains: Option<String>,
    /// The header is absent (`absent = true`).
    #[serde(default)]
    pub absent: bool,
    /// The value, a comma-separated list, has this element (template; case-insensitive), e.g. `Origin` in
    /// `Vary` or a header name in `Access-Control-Allow-Headers`.
    pub contains_token: Option<String>,
    /// If present, the value is none of these (templates), e.g. a foreign origin or `*` in
    /// `Access-Control-Allow-Origin`.
    #[serde(default)]
    pub none_of: Vec<String>,
    /// If present, the value does not contain this (template; alone), e.g. `code=` in the `Location` of a
    /// refused authorization request.
    pub lacks: Option<String>,
}

/// `header = [...]`: every listed header expectation holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct HeaderExpects(pub Vec<HeaderExpect>);

impl Expectation for HeaderExpects {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        for (i, h) in self.0.iter().enumerate() {
            let at = |k: &str| format!("[{i}].{k}");
            let given = h.starts_with.is_some() || h.equals.is_some() || h.contains.is_some();
            if let Some(l) = &h.lacks {
                if given || h.absent || h.contains_token.is_some() || !h.none_of.is_empty() {
                    return Err(Invalid::new(at("lacks"), "`lacks` stands alone"));
                }
                cx.template(&at("lacks"), l)?;
            }
            if h.absent && given {
                return Err(Invalid::new(
                    at("absent"),
                    "`absent` excludes a value to compare",
                ));
            }
            for v in h
                .equals
                .iter()
                .chain(h.contains.iter())
                .chain(&h.none_of)
                .chain(&h.contains_token)
            {
                cx.template(&at("equals"), v)?;
            }
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let r = response(view)?;
        for h in &self.0 {
            one(h, r, vars)?;
        }
        Ok(())
    }
}

fn one(h: &HeaderExpect, r: &crate::exchange::Response, vars: &Vars) -> Result<(), Fail> {
    let got = r.header(&h.name);
    let shown = got
        .map(|g| format!("{}: {g}", h.name))
        .unwrap_or_else(|| format!("no `{}` header", h.name));
    if h.absent {
        return match got {
            Some(_) => Err((format!("no `{}` header", h.name), shown)),
            None => Ok(()),
        };
    }
    if let Some(text) = &h.lacks {
        let text = expand(vars, text)?;
        return match got {
            Some(g) if g.contains(&text) => Err((format!("`{}` without `{text}`", h.name), shown)),
            _ => Ok(()),
        };
    }
    if !h.none_of.is_empty() {
        for bad in &h.none_of {
            let bad = expand(vars, bad)?;
            if got.is_some_and(|g| g.trim() == bad) {
                return Err((format!("`{}` other than `{bad}`", h.name), shown));
            }
        }
        if h.starts_with.is_none()
            && h.equals.is_none()
            && h.contains.is_none()
            && h.contains_token.is_none()
        {
            return Ok(());
        }
    }
    if let Some(want) = &h.contains_token {
        let want = expand(vars, want)?;
        let all: Vec<&str> = r
            .header_values(&h.name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if !all.iter().any(|t| t.eq_ignore_ascii_case(&want)) {
            return Err((format!("`{}` listing `{want}`", h.name), shown));
        }
    }
    if let Some(prefix) = &h.starts_with
        && !got.is_some_and(|g| {
            g.to_ascii_lowercase()
                .starts_with(&prefix.to_ascii_lowercase())
        })
    {
        return Err((format!("{}: {prefix}…", h.name), shown));
    }
    if let Some(want) = &h.equals {
        let want = expand(vars, want)?;
        if got != Some(want.as_str()) {
            return Err((format!("{}: {want}", h.name), shown));
        }
    }
    if let Some(want) = &h.contains {
        let want = expand(vars, want)?;
        if !got.is_some_and(|g| g.contains(want.as_str())) {
            return Err((format!("{} containing `{want}`", h.name), shown));
        }
    }
    if got.is_none() {
        return Err((format!("a `{}` header", h.name), shown));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Response;

    fn resp(headers: &[(&str, &str)]) -> Response {
        Response {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: String::new(),
            body_cut: None,
        }
    }

    fn judge(h: &str, r: &Response) -> Result<(), Fail> {
        let e: HeaderExpects = toml::from_str::<toml::Table>(&format!("h = [{h}]"))
            .unwrap()
            .get("h")
            .cloned()
            .unwrap()
            .try_into()
            .unwrap();
        let view = View {
            response: Some(Ok(r)),
            ..View::default()
        };
        e.judge_step(&view, &Vars::default())
    }

    #[test]
    fn present_absent_equals_contains() {
        let r = resp(&[("vary", "Origin, Accept"), ("cache-control", "no-store")]);
        assert!(judge("{ name = \"Vary\" }", &r).is_ok());
        assert!(judge("{ name = \"Vary\", contains = \"Origin\" }", &r).is_ok());
        assert!(judge("{ name = \"Vary\", contains = \"origin\" }", &r).is_err());
        assert!(judge("{ name = \"cache-control\", equals = \"no-store\" }", &r).is_ok());
        assert!(judge("{ name = \"x-missing\", absent = true }", &r).is_ok());
        assert!(judge("{ name = \"vary\", absent = true }", &r).is_err());
        assert!(judge("{ name = \"x-missing\" }", &r).is_err());
        assert!(judge("{ name = \"x-missing\", none_of = [\"*\"] }", &r).is_ok());
        assert!(judge("{ name = \"vary\", none_of = [\"*\"] }", &r).is_ok());
        assert!(judge("{ name = \"vary\", contains_token = \"accept\" }", &r).is_ok());
        assert!(judge("{ name = \"vary\", contains_token = \"Orig\" }", &r).is_err());
    }

    #[test]
    fn absent_with_a_value_is_refused() {
        let e = HeaderExpects(vec![HeaderExpect {
            name: "x".into(),
            starts_with: None,
            equals: Some("v".into()),
            contains: None,
            absent: true,
            none_of: vec![],
            contains_token: None,
            lacks: None,
        }]);
        assert_eq!(
            e.validate(&ValidateCx::default()).unwrap_err().field,
            "[0].absent"
        );
    }

    #[test]
    fn lacks_fails_only_on_a_header_with_the_text() {
        let e: HeaderExpect = toml::from_str("name = \"location\"\nlacks = \"code=\"\n").unwrap();
        let vars = Vars::default();
        let response = |location: Option<&str>| crate::exchange::Response {
            status: 302,
            headers: location
                .map(|l| vec![("location".to_string(), l.to_string())])
                .unwrap_or_default(),
            body: String::new(),
            body_cut: None,
        };
        assert!(one(&e, &response(None), &vars).is_ok());
        assert!(one(&e, &response(Some("/cb?error=invalid_request")), &vars).is_ok());
        assert!(one(&e, &response(Some("/cb?code=abc")), &vars).is_err());
    }
}
