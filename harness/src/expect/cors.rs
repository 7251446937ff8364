//! `cors`: would a browser at an origin be allowed to read the step's response? Judged with the Fetch
//! standard's CORS check ([`crate::cors`]), or the checks on a CORS-preflight response when `preflight` is
//! given, against the expected verdict `readable`.

use super::{Expectation, Fail, expand, response};
use crate::cors;
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;

/// `cors = { origin = "…", credentials = true, readable = false, preflight = { method = "POST", headers = […] } }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsExpect {
    /// The page's origin, serialized (`https://app.example`, `null`): a template.
    pub origin: String,
    /// The request's credentials mode is `include` (cookies, `fetch(…, {credentials: 'include'})`).
    pub credentials: bool,
    /// The expected verdict: a browser at `origin` may read the response (true) or may not (false).
    pub readable: bool,
    /// The response is a CORS-preflight response for this request (judged with the preflight's checks).
    pub preflight: Option<Preflight>,
}

/// The actual request a preflight response is judged for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preflight {
    /// Its method (`POST`, `DELETE`…).
    pub method: String,
    /// Its CORS-unsafe request-header names, as a browser lists them in `Access-Control-Request-Headers`.
    #[serde(default)]
    pub headers: Vec<String>,
}

impl Expectation for CorsExpect {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        cx.template("origin", &self.origin)?;
        if self.origin.trim().is_empty() {
            return Err(Invalid::new(
                "origin",
                "an origin is required (`null` for an opaque one)",
            ));
        }
        if let Some(p) = &self.preflight {
            if !cors::is_token(&p.method) {
                return Err(Invalid::new(
                    "preflight.method",
                    format!("`{}` is not an HTTP method", p.method),
                ));
            }
            for (i, h) in p.headers.iter().enumerate() {
                if !cors::is_token(h) {
                    return Err(Invalid::new(
                        format!("preflight.headers[{i}]"),
                        format!("`{h}` is not a header name"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let r = response(view)?;
        let origin = expand(vars, &self.origin)?;
        let mode = if self.credentials {
            "with credentials"
        } else {
            "without credentials"
        };
        let (verdict, what) = match &self.preflight {
            None => (
                cors::cors_verdict(&origin, self.credentials, &r.headers),
                format!("the response ({mode})"),
            ),
            Some(p) => {
                let names: Vec<&str> = p.headers.iter().map(String::as_str).collect();
                let asked = if names.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", names.join(", "))
                };
                (
                    cors::preflight_verdict(
                        &origin,
                        self.credentials,
                        &p.method,
                        &names,
                        r.status,
                        &r.headers,
                    ),
                    format!("send {}{asked} after this preflight ({mode})", p.method),
                )
            }
        };
        let verb = if self.preflight.is_some() {
            ""
        } else {
            "read "
        };
        match (self.readable, verdict) {
            (true, Ok(_)) | (false, Err(_)) => Ok(()),
            (true, Err(why)) => Err((
                format!("a browser at {origin} may {verb}{what}"),
                format!("it may not: {why}"),
            )),
            (false, Ok(why)) => Err((
                format!("a browser at {origin} may not {verb}{what}"),
                format!("it may: {why}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Response;

    fn resp(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: String::new(),
            body_cut: None,
        }
    }

    fn parse(toml_value: &str) -> CorsExpect {
        toml::from_str::<toml::Table>(&format!("c = {toml_value}"))
            .unwrap()
            .get("c")
            .cloned()
            .unwrap()
            .try_into()
            .unwrap()
    }

    fn judge(e: &str, r: &Response) -> Result<(), Fail> {
        let mut vars = Vars::default();
        vars.set("page", "https://rabbit.invalid");
        let view = View {
            response: Some(Ok(r)),
            ..View::default()
        };
        parse(e).judge_step(&view, &vars)
    }

    const GRANT: &[(&str, &str)] = &[
        ("access-control-allow-origin", "https://rabbit.invalid"),
        ("access-control-allow-credentials", "true"),
    ];

    #[test]
    fn readable_verdicts() {
        let r = resp(200, GRANT);
        assert!(
            judge(
                r#"{ origin = "{page}", credentials = true, readable = true }"#,
                &r
            )
            .is_ok()
        );
        let (want, got) = judge(
            r#"{ origin = "{page}", credentials = true, readable = false }"#,
            &r,
        )
        .unwrap_err();
        assert_eq!(
            want,
            "a browser at https://rabbit.invalid may not read the response (with credentials)"
        );
        assert!(
            got.starts_with("it may: ") && got.contains("Credentials: true"),
            "{got}"
        );
        assert!(
            judge(
                r#"{ origin = "https://evil.example", credentials = true, readable = false }"#,
                &r
            )
            .is_ok()
        );
        let (want, got) = judge(
            r#"{ origin = "https://evil.example", credentials = true, readable = true }"#,
            &r,
        )
        .unwrap_err();
        assert!(
            want.contains("may read the response (with credentials)"),
            "{want}"
        );
        assert!(
            got.contains("is not the origin `https://evil.example`"),
            "{got}"
        );
    }

    #[test]
    fn the_catalog_cases() {
        let case = |acao: &str, acac: &str, credentials: bool| {
            let r = resp(
                200,
                &[
                    ("access-control-allow-origin", acao),
                    ("access-control-allow-credentials", acac),
                ],
            );
            judge(
                &format!(
                    r#"{{ origin = "{{page}}", credentials = {credentials}, readable = true }}"#
                ),
                &r,
            )
        };
        let why = |r: Result<(), Fail>| r.unwrap_err().1;
        assert!(why(case("https://rabbit.invalid/", "true", true)).contains("trailing slash"));
        assert!(why(case("https://rabbit.invalid", "True", true)).contains("not exactly `true`"));
        assert!(why(case("*", "true", true)).contains("`*` does not grant"));
        assert!(case("*", "true", false).is_ok());
        assert!(why(case("null", "true", true)).contains("opaque origin"));
        let dup = resp(
            200,
            &[
                ("access-control-allow-origin", "https://rabbit.invalid"),
                ("access-control-allow-origin", "https://rabbit.invalid"),
            ],
        );
        let e = judge(
            r#"{ origin = "{page}", credentials = false, readable = true }"#,
            &dup,
        );
        assert!(why(e).contains("sent 2 times"));
    }

    #[test]
    fn preflight_verdicts() {
        let mut h = GRANT.to_vec();
        h.push(("access-control-allow-methods", "POST, DELETE"));
        h.push(("access-control-allow-headers", "content-type"));
        let ok = resp(204, &h);
        let e = r#"{ origin = "{page}", credentials = true, readable = true, preflight = { method = "DELETE", headers = ["content-type"] } }"#;
        assert!(judge(e, &ok).is_ok());
        let (want, got) = judge(e, &resp(401, &h)).unwrap_err();
        assert_eq!(
            want,
            "a browser at https://rabbit.invalid may send DELETE with content-type after this preflight \
             (with credentials)"
        );
        assert!(got.contains("status 401 is not an ok status"), "{got}");
        let e = r#"{ origin = "{page}", credentials = true, readable = false, preflight = { method = "PUT", headers = ["x-api-key"] } }"#;
        assert!(judge(e, &ok).is_ok());
        let e = r#"{ origin = "{page}", credentials = true, readable = false, preflight = { method = "DELETE" } }"#;
        let (want, got) = judge(e, &ok).unwrap_err();
        assert!(want.contains("may not send DELETE after"), "{want}");
        assert!(got.contains("lists `DELETE`"), "{got}");
    }

    #[test]
    fn a_step_without_a_response_fails() {
        let e = parse(r#"{ origin = "{page}", credentials = false, readable = false }"#);
        let r = e.judge_step(&View::default(), &Vars::default());
        assert_eq!(r.unwrap_err().0, "an HTTP response");
    }

    #[test]
    fn an_unknown_variable_fails_the_judgement() {
        let r = resp(200, GRANT);
        let e = parse(r#"{ origin = "{nope}", credentials = false, readable = false }"#);
        let view = View {
            response: Some(Ok(&r)),
            ..View::default()
        };
        assert!(e.judge_step(&view, &Vars::default()).is_err());
    }

    #[test]
    fn validation() {
        let cx = ValidateCx::default();
        assert!(
            parse(r#"{ origin = "https://a.example", credentials = true, readable = true }"#)
                .validate(&cx)
                .is_ok()
        );
        let field = |e: &str| parse(e).validate(&cx).unwrap_err().field;
        assert_eq!(
            field(r#"{ origin = "{undefined.var}", credentials = true, readable = true }"#),
            "origin"
        );
        assert_eq!(
            field(r#"{ origin = "", credentials = true, readable = true }"#),
            "origin"
        );
        assert_eq!(
            field(
                r#"{ origin = "null", credentials = true, readable = true, preflight = { method = "GET POST" } }"#
            ),
            "preflight.method"
        );
        assert_eq!(
            field(
                r#"{ origin = "null", credentials = true, readable = true, preflight = { method = "PUT", headers = ["ok", "a b"] } }"#
            ),
            "preflight.headers[1]"
        );
        // `credentials` and `readable` are required; unknown keys are refused.
        let missing = toml::from_str::<toml::Table>(r#"c = { origin = "null", readable = true }"#)
            .unwrap()
            .get("c")
            .cloned()
            .unwrap()
            .try_into::<CorsExpect>();
        assert!(missing.is_err());
        let unknown = toml::from_str::<toml::Table>(
            r#"c = { origin = "null", credentials = true, readable = true, method = "PUT" }"#,
        )
        .unwrap()
        .get("c")
        .cloned()
        .unwrap()
        .try_into::<CorsExpect>();
        assert!(unknown.is_err());
    }
}
