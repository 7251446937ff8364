//! The Fetch standard's CORS check (<https://fetch.spec.whatwg.org/#cors-check>) and the checks a browser makes
//! on a CORS-preflight response (<https://fetch.spec.whatwg.org/#cors-preflight-fetch>): would a page at an
//! origin be allowed to read a response?
//!
//! Header names are matched case-insensitively. Each header is read the way Fetch "gets" it: the values of all
//! its fields, trimmed of HTTP whitespace and joined with `, ` — so two `Access-Control-Allow-Origin` fields
//! become one value that matches no origin, as in browsers. Every refusal says which rule decided, in words.

/// `Access-Control-Allow-Origin`.
pub const ALLOW_ORIGIN: &str = "access-control-allow-origin";
/// `Access-Control-Allow-Credentials`.
pub const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
/// `Access-Control-Allow-Methods`.
pub const ALLOW_METHODS: &str = "access-control-allow-methods";
/// `Access-Control-Allow-Headers`.
pub const ALLOW_HEADERS: &str = "access-control-allow-headers";

/// Would a browser let a page at `origin` (its serialization: `https://app.example`, or `null` for an opaque
/// origin) read a response with `headers`? `credentials` is the request's credentials mode being `include`.
///
/// `Err` says why not: no `Access-Control-Allow-Origin`, several values, a value other than the origin byte
/// for byte, `*` with credentials, or (with credentials) `Access-Control-Allow-Credentials` other than
/// exactly `true`.
pub fn cors_check(
    origin: &str,
    credentials: bool,
    headers: &[(String, String)],
) -> Result<(), String> {
    cors_verdict(origin, credentials, headers).map(drop)
}

/// [`cors_check`], saying on success which rule granted the read (for reports).
pub fn cors_verdict(
    origin: &str,
    credentials: bool,
    headers: &[(String, String)],
) -> Result<String, String> {
    let fields = values(headers, ALLOW_ORIGIN);
    if fields.is_empty() {
        return Err("the response has no `Access-Control-Allow-Origin` header".into());
    }
    let allowed = fields.join(", ");
    if !credentials && allowed == "*" {
        return Ok(
            "`Access-Control-Allow-Origin: *` grants any origin a request without credentials"
                .into(),
        );
    }
    if allowed != origin {
        return Err(origin_mismatch(origin, credentials, &fields, &allowed));
    }
    if !credentials {
        return Ok(format!(
            "`Access-Control-Allow-Origin: {allowed}` is the origin (a request without credentials)"
        ));
    }
    let given = values(headers, ALLOW_CREDENTIALS);
    let value = given.join(", ");
    match given.len() {
        _ if value == "true" => Ok(format!(
            "`Access-Control-Allow-Origin: {allowed}` is the origin and `Access-Control-Allow-Credentials: true` \
             allows credentials"
        )),
        0 => Err(format!(
            "`Access-Control-Allow-Origin: {allowed}` is the origin, but there is no \
             `Access-Control-Allow-Credentials: true`, which a request with credentials needs"
        )),
        1 => Err(format!(
            "`Access-Control-Allow-Credentials: {value}` is not exactly `true` (the value is case-sensitive), \
             which a request with credentials needs"
        )),
        n => Err(format!(
            "`Access-Control-Allow-Credentials` is sent {n} times: a browser reads one value `{value}`, \
             not `true`"
        )),
    }
}

/// Why `allowed` (from `fields`) does not grant `origin`.
fn origin_mismatch(origin: &str, credentials: bool, fields: &[&str], allowed: &str) -> String {
    if fields.len() > 1 {
        let each: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
        return format!(
            "`Access-Control-Allow-Origin` is sent {} times ({}): a browser reads one value `{allowed}`, \
             which is not the origin `{origin}`",
            fields.len(),
            each.join(", ")
        );
    }
    if allowed == "*" && credentials {
        return "`Access-Control-Allow-Origin: *`: `*` does not grant a request with credentials \
                (the value must name the origin)"
            .into();
    }
    if allowed.contains(',') {
        return format!(
            "`Access-Control-Allow-Origin: {allowed}` lists several values: a browser compares the whole value \
             with the origin `{origin}`"
        );
    }
    if allowed == "null" {
        return format!(
            "`Access-Control-Allow-Origin: null` grants only an opaque origin (`null`), not `{origin}`"
        );
    }
    if allowed.eq_ignore_ascii_case(origin) {
        return format!(
            "`Access-Control-Allow-Origin: {allowed}` differs from the origin `{origin}` in case \
             (the comparison is byte for byte)"
        );
    }
    if allowed.strip_suffix('/') == Some(origin) {
        return format!(
            "`Access-Control-Allow-Origin: {allowed}` has a trailing slash: an origin `{origin}` has none \
             (the comparison is byte for byte)"
        );
    }
    format!("`Access-Control-Allow-Origin: {allowed}` is not the origin `{origin}`")
}

/// Would a browser accept this CORS-preflight response, sent before a `method` request with the CORS-unsafe
/// request headers `request_headers` (the names a browser lists in `Access-Control-Request-Headers`: every
/// header not safelisted by name and value, e.g. `x-api-key`, `authorization`, or a `content-type` other than
/// the three form types), from a page at `origin` with credentials mode `include` when `credentials`?
///
/// The rules, in the order a browser applies them: the CORS check ([`cors_check`]) on the preflight's
/// response with the actual request's credentials mode; an ok status (200–299);
/// `Access-Control-Allow-Methods` and `-Allow-Headers` parse as lists of tokens; the method (normalised as
/// Fetch does: `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST` and `PUT` in upper case, others as given) is
/// CORS-safelisted (`GET`, `HEAD`, `POST`), listed byte for byte, or covered by `*` without credentials;
/// `authorization` is listed by name (never covered by `*`); every other header is listed
/// (case-insensitively) or covered by `*` without credentials.
pub fn preflight_check(
    origin: &str,
    credentials: bool,
    method: &str,
    request_headers: &[&str],
    status: u16,
    headers: &[(String, String)],
) -> Result<(), String> {
    preflight_verdict(
        origin,
        credentials,
        method,
        request_headers,
        status,
        headers,
    )
    .map(drop)
}

/// [`preflight_check`], saying on success what granted the request (for reports).
pub fn preflight_verdict(
    origin: &str,
    credentials: bool,
    method: &str,
    request_headers: &[&str],
    status: u16,
    headers: &[(String, String)],
) -> Result<String, String> {
    let granted =
        cors_verdict(origin, credentials, headers).map_err(|why| format!("preflight: {why}"))?;
    if !(200..=299).contains(&status) {
        return Err(format!(
            "preflight: status {status} is not an ok status (200–299)"
        ));
    }
    let methods = list(headers, ALLOW_METHODS)?;
    let names = list(headers, ALLOW_HEADERS)?;
    let method = normalize_method(method);
    let mut why = vec![granted];
    if is_safelisted_method(&method) {
        why.push(format!("`{method}` is a CORS-safelisted method"));
    } else if methods.iter().any(|m| *m == method) {
        why.push(format!("`Access-Control-Allow-Methods` lists `{method}`"));
    } else if !credentials && methods.contains(&"*") {
        why.push(format!(
            "`Access-Control-Allow-Methods: *` covers `{method}` without credentials"
        ));
    } else {
        return Err(method_refused(&method, credentials, &methods));
    }
    for name in request_headers {
        let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
        let star = names.contains(&"*");
        if listed {
            continue;
        }
        let shown = shown_list(ALLOW_HEADERS, &names);
        if name.eq_ignore_ascii_case("authorization") {
            return Err(format!(
                "preflight: {shown} does not list `{name}`, which must be named explicitly (`*` never covers it)"
            ));
        }
        if credentials && star {
            return Err(format!(
                "preflight: {shown} does not list `{name}`, and `*` does not cover a request with credentials"
            ));
        }
        if !star {
            return Err(format!("preflight: {shown} does not list `{name}`"));
        }
    }
    if !request_headers.is_empty() {
        why.push(format!(
            "`Access-Control-Allow-Headers` covers {}",
            request_headers.join(", ")
        ));
    }
    Ok(why.join("; "))
}

/// Why `method` is not allowed by `methods`.
fn method_refused(method: &str, credentials: bool, methods: &[&str]) -> String {
    let shown = shown_list(ALLOW_METHODS, methods);
    if let Some(other) = methods.iter().find(|m| m.eq_ignore_ascii_case(method)) {
        return format!(
            "preflight: {shown} lists `{other}` but not `{method}` (methods compare case-sensitively)"
        );
    }
    if credentials && methods.contains(&"*") {
        return format!(
            "preflight: {shown} does not list `{method}`, and `*` does not cover a request with credentials"
        );
    }
    format!("preflight: {shown} does not list `{method}`")
}

/// `Access-Control-Allow-X: a, b` or "no `Access-Control-Allow-X`", for failure texts.
fn shown_list(header: &str, items: &[&str]) -> String {
    let name = title(header);
    if items.is_empty() {
        format!("no `{name}`")
    } else {
        format!("`{name}: {}`", items.join(", "))
    }
}

/// `access-control-allow-methods` → `Access-Control-Allow-Methods`.
fn title(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A method as Fetch normalises it: the six standard methods in upper case, others unchanged.
pub fn normalize_method(method: &str) -> String {
    const STANDARD: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    STANDARD
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .map_or_else(|| method.to_string(), |m| m.to_string())
}

/// `GET`, `HEAD` or `POST` (after normalisation).
pub fn is_safelisted_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

/// An HTTP token (RFC 9110 §5.6.2): a method or a field name.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The values of every field `name`, each trimmed of HTTP whitespace.
fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']))
        .collect()
}

/// Fetch's "extract header list values" for a `#token` list header: the items of every field (empty items
/// ignored, as RFC 9110's list rule allows); a non-token item makes the browser refuse the preflight.
fn list<'a>(headers: &'a [(String, String)], name: &str) -> Result<Vec<&'a str>, String> {
    let mut items = Vec::new();
    for field in values(headers, name) {
        for item in field.split(',').map(|i| i.trim_matches([' ', '\t'])) {
            if item.is_empty() {
                continue;
            }
            if !is_token(item) {
                return Err(format!(
                    "preflight: `{}: {field}` does not parse: `{item}` is not a token",
                    title(name)
                ));
            }
            items.push(item);
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: &str = "https://rabbit.invalid";

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn err(r: Result<(), String>) -> String {
        r.expect_err("refused")
    }

    #[test]
    fn no_allow_origin_fails() {
        assert!(err(cors_check(O, false, &[])).contains("no `Access-Control-Allow-Origin`"));
        let e = err(cors_check(
            O,
            false,
            &h(&[("access-control-allow-credentials", "true")]),
        ));
        assert!(e.contains("no `Access-Control-Allow-Origin`"), "{e}");
    }

    #[test]
    fn exact_origin_passes_with_and_without_credentials() {
        let r = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-credentials", "true"),
        ]);
        assert_eq!(cors_check(O, true, &r), Ok(()));
        assert_eq!(cors_check(O, false, &r), Ok(()));
        assert!(
            cors_verdict(O, true, &r)
                .unwrap()
                .contains("Credentials: true")
        );
        // Without credentials ACAC is not consulted.
        let r = h(&[("access-control-allow-origin", O)]);
        assert_eq!(cors_check(O, false, &r), Ok(()));
    }

    #[test]
    fn header_names_are_case_insensitive_and_values_trimmed() {
        let r = h(&[
            ("Access-Control-Allow-Origin", " https://rabbit.invalid\t"),
            ("ACCESS-CONTROL-ALLOW-CREDENTIALS", "true "),
        ]);
        assert_eq!(cors_check(O, true, &r), Ok(()));
    }

    #[test]
    fn trailing_slash_is_another_value() {
        let r = h(&[
            ("access-control-allow-origin", "https://rabbit.invalid/"),
            ("access-control-allow-credentials", "true"),
        ]);
        let e = err(cors_check(O, true, &r));
        assert!(e.contains("trailing slash"), "{e}");
        assert!(err(cors_check(O, false, &r)).contains("trailing slash"));
    }

    #[test]
    fn comparison_is_byte_for_byte() {
        let r = h(&[("access-control-allow-origin", "https://RABBIT.invalid")]);
        assert!(err(cors_check(O, false, &r)).contains("in case"));
        for other in [
            "http://rabbit.invalid",
            "https://rabbit.invalid:443",
            "https://rabbit.invalid.evil.example",
            "https://sub.rabbit.invalid",
        ] {
            let r = h(&[("access-control-allow-origin", other)]);
            let e = err(cors_check(O, false, &r));
            assert!(e.contains("is not the origin"), "{other}: {e}");
        }
    }

    #[test]
    fn acac_must_be_exactly_true() {
        for bad in ["True", "TRUE", "1", "yes", ""] {
            let r = h(&[
                ("access-control-allow-origin", O),
                ("access-control-allow-credentials", bad),
            ]);
            let e = err(cors_check(O, true, &r));
            assert!(e.contains("not exactly `true`"), "{bad}: {e}");
            // Without credentials the value does not matter.
            assert_eq!(cors_check(O, false, &r), Ok(()));
        }
        let r = h(&[("access-control-allow-origin", O)]);
        let e = err(cors_check(O, true, &r));
        assert!(
            e.contains("no `Access-Control-Allow-Credentials: true`"),
            "{e}"
        );
        let r = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-credentials", "true"),
        ]);
        let e = err(cors_check(O, true, &r));
        assert!(
            e.contains("sent 2 times") && e.contains("`true, true`"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_or_listed_allow_origin_fails() {
        let r = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-origin", O),
        ]);
        let e = err(cors_check(O, false, &r));
        assert!(e.contains("sent 2 times"), "{e}");
        let r = h(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-origin", "*"),
        ]);
        assert!(err(cors_check(O, false, &r)).contains("sent 2 times"));
        let r = h(&[(
            "access-control-allow-origin",
            "https://evil.example, https://rabbit.invalid",
        )]);
        let e = err(cors_check(O, false, &r));
        assert!(e.contains("several values"), "{e}");
    }

    #[test]
    fn wildcard_only_without_credentials() {
        let r = h(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
        ]);
        assert_eq!(cors_check(O, false, &r), Ok(()));
        assert_eq!(cors_check("null", false, &r), Ok(()));
        let e = err(cors_check(O, true, &r));
        assert!(
            e.contains("`*` does not grant a request with credentials"),
            "{e}"
        );
    }

    #[test]
    fn null_matches_only_the_opaque_origin() {
        let r = h(&[
            ("access-control-allow-origin", "null"),
            ("access-control-allow-credentials", "true"),
        ]);
        assert_eq!(cors_check("null", true, &r), Ok(()));
        assert_eq!(cors_check("null", false, &r), Ok(()));
        let e = err(cors_check(O, true, &r));
        assert!(e.contains("grants only an opaque origin"), "{e}");
        // An opaque origin is not granted by a named one.
        let r = h(&[("access-control-allow-origin", O)]);
        assert!(err(cors_check("null", false, &r)).contains("is not the origin `null`"));
    }

    fn grant(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut r = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-credentials", "true"),
        ]);
        r.extend(h(extra));
        r
    }

    #[test]
    fn preflight_needs_the_cors_check_and_an_ok_status() {
        let r = grant(&[("access-control-allow-methods", "PUT")]);
        assert_eq!(preflight_check(O, true, "PUT", &[], 204, &r), Ok(()));
        assert_eq!(preflight_check(O, true, "PUT", &[], 200, &r), Ok(()));
        let e = err(preflight_check(O, true, "PUT", &[], 403, &r));
        assert!(e.contains("status 403 is not an ok status"), "{e}");
        assert!(err(preflight_check(O, true, "PUT", &[], 300, &r)).contains("status 300"));
        let other = err(preflight_check(
            "https://evil.example",
            true,
            "PUT",
            &[],
            204,
            &r,
        ));
        assert!(
            other.starts_with("preflight: `Access-Control-Allow-Origin"),
            "{other}"
        );
        // The CORS check uses the actual request's credentials mode.
        let star = h(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "PUT"),
        ]);
        assert_eq!(preflight_check(O, false, "PUT", &[], 204, &star), Ok(()));
        assert!(err(preflight_check(O, true, "PUT", &[], 204, &star)).contains("`*`"));
    }

    #[test]
    fn safelisted_methods_need_no_listing() {
        let r = grant(&[]);
        for m in ["GET", "HEAD", "POST", "post", "get"] {
            assert_eq!(preflight_check(O, true, m, &[], 204, &r), Ok(()), "{m}");
        }
        let e = err(preflight_check(O, true, "DELETE", &[], 204, &r));
        assert!(e.contains("no `Access-Control-Allow-Methods`"), "{e}");
    }

    #[test]
    fn methods_compare_case_sensitively_after_normalisation() {
        let r = grant(&[("access-control-allow-methods", "GET, put,PATCH")]);
        let e = err(preflight_check(O, true, "PUT", &[], 204, &r));
        assert!(e.contains("lists `put` but not `PUT`"), "{e}");
        // `put` is normalised to `PUT` before comparing.
        let r = grant(&[("access-control-allow-methods", "PUT")]);
        assert_eq!(preflight_check(O, true, "put", &[], 204, &r), Ok(()));
        // `patch` is not one of the six normalised methods: it stays lower case.
        let r = grant(&[("access-control-allow-methods", "PATCH")]);
        assert_eq!(preflight_check(O, true, "PATCH", &[], 204, &r), Ok(()));
        let e = err(preflight_check(O, true, "patch", &[], 204, &r));
        assert!(e.contains("lists `PATCH` but not `patch`"), "{e}");
        // Several fields are one list.
        let r = grant(&[
            ("access-control-allow-methods", "GET"),
            ("access-control-allow-methods", "DELETE"),
        ]);
        assert_eq!(preflight_check(O, true, "DELETE", &[], 204, &r), Ok(()));
    }

    #[test]
    fn wildcard_method_only_without_credentials() {
        let r = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "*"),
        ]);
        assert_eq!(preflight_check(O, false, "DELETE", &[], 204, &r), Ok(()));
        let e = err(preflight_check(O, true, "DELETE", &[], 204, &r));
        assert!(
            e.contains("`*` does not cover a request with credentials"),
            "{e}"
        );
    }

    #[test]
    fn request_headers_must_be_listed_case_insensitively() {
        let r = grant(&[("access-control-allow-headers", "Content-Type, X-API-Key")]);
        assert_eq!(
            preflight_check(O, true, "POST", &["content-type", "x-api-key"], 204, &r),
            Ok(())
        );
        let e = err(preflight_check(O, true, "POST", &["x-other"], 204, &r));
        assert!(
            e.contains(
                "`Access-Control-Allow-Headers: Content-Type, X-API-Key` does not list `x-other`"
            ),
            "{e}"
        );
        let e = err(preflight_check(
            O,
            true,
            "POST",
            &["x-api-key"],
            204,
            &grant(&[]),
        ));
        assert!(
            e.contains("no `Access-Control-Allow-Headers` does not list"),
            "{e}"
        );
    }

    #[test]
    fn wildcard_headers_only_without_credentials_and_never_authorization() {
        let r = h(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-headers", "*"),
        ]);
        assert_eq!(
            preflight_check(O, false, "POST", &["x-api-key"], 204, &r),
            Ok(())
        );
        let e = err(preflight_check(
            O,
            false,
            "POST",
            &["authorization"],
            204,
            &r,
        ));
        assert!(e.contains("`*` never covers it"), "{e}");
        let e = err(preflight_check(
            O,
            false,
            "POST",
            &["Authorization"],
            204,
            &r,
        ));
        assert!(e.contains("`*` never covers it"), "{e}");
        let r = grant(&[("access-control-allow-headers", "*")]);
        let e = err(preflight_check(O, true, "POST", &["x-api-key"], 204, &r));
        assert!(
            e.contains("`*` does not cover a request with credentials"),
            "{e}"
        );
        // Named explicitly, authorization passes, with `*` beside it too.
        let r = grant(&[("access-control-allow-headers", "*, authorization")]);
        assert_eq!(
            preflight_check(O, true, "POST", &["authorization"], 204, &r),
            Ok(())
        );
    }

    #[test]
    fn allow_lists_must_parse() {
        let r = grant(&[("access-control-allow-methods", "PUT, GET POST")]);
        let e = err(preflight_check(O, true, "PUT", &[], 204, &r));
        assert!(e.contains("`GET POST` is not a token"), "{e}");
        let r = grant(&[("access-control-allow-headers", "x-api-key, (bad)")]);
        let e = err(preflight_check(O, true, "GET", &[], 204, &r));
        assert!(e.contains("`(bad)` is not a token"), "{e}");
        // Empty list items are ignored.
        let r = grant(&[("access-control-allow-methods", ", PUT,,")]);
        assert_eq!(preflight_check(O, true, "PUT", &[], 204, &r), Ok(()));
    }

    #[test]
    fn verdicts_say_what_granted() {
        let r = grant(&[
            ("access-control-allow-methods", "PUT"),
            ("access-control-allow-headers", "x-api-key"),
        ]);
        let why = preflight_verdict(O, true, "PUT", &["x-api-key"], 204, &r).unwrap();
        assert!(
            why.contains("lists `PUT`") && why.contains("covers x-api-key"),
            "{why}"
        );
        assert_eq!(normalize_method("delete"), "DELETE");
        assert_eq!(normalize_method("Patch"), "Patch");
        assert!(is_token("x-api-key") && !is_token("a b") && !is_token(""));
    }
}
