//! `{name}` and `{name|filter}` templates used in target and scenario files.
//!
//! Names are dotted (`mocks.issuer`, `token.valid`, `oauth.call_tool`). `{{` and `}}` stand for literal braces.
//! Filters derive well-known URLs so scenarios never hard-code paths:
//! `origin`, `prm_path` (RFC 9728 §3 path insertion), `prm_root`, `as_metadata` (RFC 8414 §3 path insertion);
//! `upper` (a value in upper case, e.g. a role name spelled differently) and `enc` (a value form-encoded for a
//! query string or form body).

use std::collections::BTreeMap;

/// Variables available to templates.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

/// A template that could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template names a variable that has no value (yet).
    #[error("no value for `{{{0}}}`")]
    Missing(String),
    /// The template names a filter that does not exist.
    #[error("unknown filter `{0}`")]
    UnknownFilter(String),
    /// A filter was applied to a value it cannot handle.
    #[error("filter `{filter}` cannot apply to `{value}`: {reason}")]
    BadInput {
        /// The filter.
        filter: String,
        /// The value it got.
        value: String,
        /// Why it failed.
        reason: String,
    },
    /// An unmatched brace.
    #[error("unbalanced braces in `{0}`")]
    Unbalanced(String),
}

impl Vars {
    /// Sets a variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// Reads a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every variable whose name starts with `prefix`, with the prefix removed.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.values
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_str()))
    }

    /// Expands every `{…}` in `template`.
    pub fn expand(&self, template: &str) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(i) = rest.find(['{', '}']) {
            out.push_str(&rest[..i]);
            let c = rest.as_bytes()[i];
            let after = &rest[i + 1..];
            if c == b'}' {
                if let Some(stripped) = after.strip_prefix('}') {
                    out.push('}');
                    rest = stripped;
                    continue;
                }
                return Err(TemplateError::Unbalanced(template.to_string()));
            }
            if let Some(stripped) = after.strip_prefix('{') {
                out.push('{');
                rest = stripped;
                continue;
            }
            let end = after
                .find('}')
                .ok_or_else(|| TemplateError::Unbalanced(template.to_string()))?;
            out.push_str(&self.eval(after[..end].trim())?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The variable names a template refers to (without filters).
    pub fn references(template: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = template;
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            if let Some(stripped) = after.strip_prefix('{') {
                rest = stripped;
                continue;
            }
            match after.find('}') {
                Some(end) => {
                    let expr = &after[..end];
                    let name = expr.split('|').next().unwrap_or("").trim();
                    names.push(name.to_string());
                    rest = &after[end + 1..];
                }
                None => break,
            }
        }
        names
    }

    fn eval(&self, expr: &str) -> Result<String, TemplateError> {
        let mut parts = expr.split('|').map(str::trim);
        let name = parts.next().unwrap_or("");
        let mut value = self
            .get(name)
            .ok_or_else(|| TemplateError::Missing(name.to_string()))?
            .to_string();
        for filter in parts {
            value = apply_filter(filter, &value)?;
        }
        Ok(value)
    }
}

/// Applies one named filter.
pub fn apply_filter(filter: &str, value: &str) -> Result<String, TemplateError> {
    let bad = |reason: &str| TemplateError::BadInput {
        filter: filter.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    match filter {
        "origin" | "prm_path" | "prm_root" | "as_metadata" => {
            let url = url::Url::parse(value).map_err(|e| bad(&e.to_string()))?;
            let origin = url.origin().ascii_serialization();
            if origin == "null" {
                return Err(bad("URL has no origin"));
            }
            let path = url.path().trim_end_matches('/');
            Ok(match filter {
                "origin" => origin,
                "prm_path" => format!("{origin}/.well-known/oauth-protected-resource{path}"),
                "prm_root" => format!("{origin}/.well-known/oauth-protected-resource"),
                _ => format!("{origin}/.well-known/oauth-authorization-server{path}"),
            })
        }
        "upper" => Ok(value.to_uppercase()),
        // Form/query encoding of one value (`redirect_uri={oauth.as_redirect_uri|enc}`).
        "enc" => Ok(url::form_urlencoded::byte_serialize(value.as_bytes()).collect()),
        other => Err(TemplateError::UnknownFilter(other.to_string())),
    }
}

/// The filters [`apply_filter`] knows.
pub const FILTERS: &[&str] = &[
    "origin",
    "prm_path",
    "prm_root",
    "as_metadata",
    "upper",
    "enc",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("mcp_url", "https://127.0.0.1:4443/mcp");
        v.set("issuer", "https://as.test");
        v
    }

    #[test]
    fn expands_names_filters_and_escapes() {
        let v = vars();
        assert_eq!(
            v.expand("{mcp_url}?x").unwrap(),
            "https://127.0.0.1:4443/mcp?x"
        );
        assert_eq!(
            v.expand("{mcp_url|prm_path}").unwrap(),
            "https://127.0.0.1:4443/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            v.expand("{ mcp_url | prm_root }").unwrap(),
            "https://127.0.0.1:4443/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            v.expand("{issuer|as_metadata}").unwrap(),
            "https://as.test/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            v.expand("{mcp_url|origin}").unwrap(),
            "https://127.0.0.1:4443"
        );
        assert_eq!(v.expand("{{\"a\":1}}").unwrap(), "{\"a\":1}");
    }

    #[test]
    fn reports_missing_and_bad() {
        let v = vars();
        assert_eq!(
            v.expand("{nope}"),
            Err(TemplateError::Missing("nope".into()))
        );
        assert!(matches!(
            v.expand("{mcp_url|zap}"),
            Err(TemplateError::UnknownFilter(_))
        ));
        assert!(matches!(
            v.expand("{mcp_url"),
            Err(TemplateError::Unbalanced(_))
        ));
        assert_eq!(Vars::references("a {x|origin} {{ {y}"), vec!["x", "y"]);
    }
}
