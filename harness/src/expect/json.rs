//! `json`: values at JSON pointers of the step's JSON document (an HTTP body, or a tool result's text), or of the
//! payload of a JWT found there ([`jwt_payload`]: decoded, never verified).

use super::{Expectation, Fail, expand, snippet};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;
use serde_json::Value;

/// The value at `pointer` in `doc`: a JSON pointer (RFC 6901) whose segments may also be `[MEMBER=VALUE]`,
/// selecting the element of an array whose string member equals VALUE (`/[id=key-1]/role`).
pub fn select<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(doc);
    }
    let mut at = doc;
    for seg in pointer.strip_prefix('/')?.split('/') {
        at = match seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(sel) => {
                let (member, value) = sel.split_once('=')?;
                at.as_array()?
                    .iter()
                    .find(|x| x.get(member).and_then(Value::as_str) == Some(value))?
            }
            None => at.pointer(&format!("/{seg}"))?,
        };
    }
    Some(at)
}

/// The payload of `token` when it is a JWT in JWS compact serialization (RFC 7515 §7.1: three base64url parts,
/// a header that is a JSON object naming its `alg`, a payload that is a JSON object), decoded **without verifying
/// the signature**: for reading the claims of a token whose issuer answered for it (an authorization server's own
/// access token), never for trusting them. `None` for anything else: an opaque token, a JWE, garbage.
pub fn jwt_payload(token: &str) -> Option<serde_json::Map<String, Value>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const B64URL: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let object = |part: &str| match serde_json::from_slice::<Value>(&B64URL.decode(part).ok()?) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let mut parts = token.trim().split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    object(header)?.get("alg")?.as_str()?;
    object(payload)
}

/// An expectation on the JSON document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    /// JSON pointer (`""` for the whole document; a template), with `[MEMBER=VALUE]` segments selecting an
    /// array element by member (see [`select`]).
    #[serde(default)]
    pub pointer: String,
    /// The value is not this string (template).
    pub not_equals: Option<String>,
    /// The value is a string or number greater than this one (template): a timestamp that moved forward.
    pub later_than: Option<String>,
    /// The value is not null (`not_null = true`).
    #[serde(default)]
    pub not_null: bool,
    /// The value is this string (template), compared code point by code point.
    pub equals: Option<String>,
    /// The value is this string (template), or an array containing it: a JWT or introspection `aud`, which
    /// RFC 7519 §4.1.3 lets be either.
    pub equals_or_contains: Option<String>,
    /// The value at `pointer` is a JWT (a string in JWS compact serialization): the other fields judge the
    /// value at this JSON pointer (template) of its payload instead, e.g. `/aud`. Decoded without verifying
    /// the signature ([`jwt_payload`]); a value that is not such a JWT fails.
    pub jwt: Option<String>,
    /// The value is one of these strings (exact), e.g. the terminal error codes a poll may answer.
    pub one_of: Option<Vec<String>>,
    /// The value is this JSON boolean (e.g. a tool result's `isError`).
    pub equals_bool: Option<bool>,
    /// The value is this number.
    pub number: Option<f64>,
    /// The value is an array of this many elements.
    pub len: Option<usize>,
    /// The value is a non-empty array.
    pub non_empty_array: Option<bool>,
    /// The value is an object.
    pub is_object: Option<bool>,
    /// The value is an array containing this string (template).
    pub contains: Option<String>,
    /// No member of the object is an empty array, empty string, empty object or null.
    pub no_empty_members: Option<bool>,
    /// Nothing is at the pointer (`absent = true`).
    #[serde(default)]
    pub absent: bool,
    /// The value is an array whose elements' IDs (member `id_member` of objects, or the strings themselves)
    /// are exactly these, comma-separated (template), each once, in any order.
    pub ids: Option<String>,
    /// The member naming an element in `ids` (template; default `id`).
    pub id_member: Option<String>,
}

/// `json = [...]`: every listed expectation holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct JsonExpects(pub Vec<JsonExpect>);

impl Expectation for JsonExpects {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        for (i, j) in self.0.iter().enumerate() {
            let texts = [
                &j.equals,
                &j.equals_or_contains,
                &j.jwt,
                &j.contains,
                &j.ids,
                &j.id_member,
                &j.not_equals,
                &j.later_than,
            ];
            for v in texts.into_iter().flatten() {
                cx.template(&format!("[{i}]"), v)?;
            }
            cx.template(&format!("[{i}].pointer"), &j.pointer)?;
            if !j.pointer.is_empty() && !j.pointer.starts_with(['/', '{']) {
                return Err(Invalid::new(
                    format!("[{i}].pointer"),
                    "a JSON pointer is empty or starts with `/`",
                ));
            }
            if let Some(claim) = &j.jwt
                && !claim.starts_with(['/', '{'])
            {
                return Err(Invalid::new(
                    format!("[{i}].jwt"),
                    "the claim is a JSON pointer into the JWT's payload, starting with `/` (`/aud`)",
                ));
            }
            let compares = j.equals.is_some() || j.equals_or_contains.is_some();
            if j.absent && (compares || j.ids.is_some() || j.len.is_some()) {
                return Err(Invalid::new(
                    format!("[{i}].absent"),
                    "`absent` excludes a value to compare",
                ));
            }
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let Some(doc) = &view.json() else {
            return Err(("a JSON document".into(), no_json(view)));
        };
        for j in &self.0 {
            one(j, doc, vars)?;
        }
        Ok(())
    }
}

fn no_json(view: &View<'_>) -> String {
    match (&view.response, &view.mcp) {
        (Some(Ok(r)), _) => format!("status {}: {}", r.status, snippet(&r.body)),
        (Some(Err(e)), _) => format!("no response: {e}"),
        (_, Some(Err(e))) => format!("the session failed: {e}"),
        (_, Some(Ok(s))) => match &s.call {
            Some(Ok(t)) => format!("tool result: {}", snippet(t)),
            Some(Err(e)) => format!("the tool call failed: {}", snippet(e)),
            None => "no tool call".into(),
        },
        _ => view
            .outputs
            .first()
            .map(|(n, t)| format!("{n}: {}", snippet(t)))
            .unwrap_or_else(|| "nothing".into()),
    }
}

fn one(j: &JsonExpect, doc: &Value, vars: &Vars) -> Result<(), Fail> {
    let pointer = expand(vars, &j.pointer)?;
    let at = if pointer.is_empty() {
        "the document".to_string()
    } else {
        format!("`{pointer}`")
    };
    let claims;
    let (doc, pointer, at) = match &j.jwt {
        None => (doc, pointer, at),
        Some(claim) => {
            let claim = expand(vars, claim)?;
            claims = jwt_claims(doc, &pointer, &at)?;
            let at = format!("`{claim}` of the JWT at {at}");
            (&claims, claim, at)
        }
    };
    let found = select(doc, &pointer);
    if j.absent {
        return match found {
            Some(v) => Err((format!("nothing at {at}"), snippet(&v.to_string()))),
            None => Ok(()),
        };
    }
    let Some(v) = found else {
        return Err((format!("a value at {at}"), "absent".into()));
    };
    equalities(j, v, &at, vars)?;
    order(j, v, &at, vars)?;
    shape(j, v, &at)?;
    if let Some(want) = &j.contains {
        let want = expand(vars, want)?;
        if !v
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(want.as_str())))
        {
            return Err((
                format!("{at} containing \"{want}\""),
                snippet(&v.to_string()),
            ));
        }
    }
    if let Some(want) = &j.ids {
        ids(j, v, &at, &expand(vars, want)?, vars)?;
    }
    if j.no_empty_members == Some(true) {
        no_empty_members(v, &at)?;
    }
    Ok(())
}

/// The claims of the JWT at `pointer` (decoded, not verified), or why there is none.
fn jwt_claims(doc: &Value, pointer: &str, at: &str) -> Result<Value, Fail> {
    let (payload, what) = match select(doc, pointer) {
        None => (None, "absent".to_string()),
        Some(Value::String(t)) => (
            jwt_payload(t),
            format!(
                "a string that is not a JWT ({} dot-separated parts, or ones that are not base64url JSON \
                 objects)",
                t.split('.').count()
            ),
        ),
        Some(other) => (None, format!("not a string: {}", json_kind(other))),
    };
    match payload {
        Some(p) => Ok(Value::Object(p)),
        None => Err((format!("a JWT at {at}"), what)),
    }
}

/// `equals`, `equals_or_contains`, `one_of`, `equals_bool` and `number`.
fn equalities(j: &JsonExpect, v: &Value, at: &str, vars: &Vars) -> Result<(), Fail> {
    let compact = |v: &Value| snippet(&v.to_string());
    if let Some(want) = &j.equals {
        let want = expand(vars, want)?;
        let text = match v {
            Value::Number(n) => Some(n.to_string()),
            other => other.as_str().map(str::to_string),
        };
        if text.as_deref() != Some(want.as_str()) {
            return Err((format!("{at} = \"{want}\""), compact(v)));
        }
    }
    if let Some(want) = &j.equals_or_contains {
        let want = expand(vars, want)?;
        let is = |x: &Value| x.as_str() == Some(want.as_str());
        if !(is(v) || v.as_array().is_some_and(|a| a.iter().any(is))) {
            return Err((
                format!("{at} = \"{want}\", or an array containing it"),
                compact(v),
            ));
        }
    }
    if let Some(allowed) = &j.one_of
        && !v.as_str().is_some_and(|t| allowed.iter().any(|a| a == t))
    {
        return Err((format!("{at} one of {allowed:?}"), compact(v)));
    }
    if let Some(want) = j.equals_bool
        && v.as_bool() != Some(want)
    {
        return Err((format!("{at} = {want}"), compact(v)));
    }
    if let Some(want) = j.number
        && v.as_f64() != Some(want)
    {
        return Err((format!("{at} = {want}"), compact(v)));
    }
    Ok(())
}

/// `not_null`, `not_equals` and `later_than`.
fn order(j: &JsonExpect, v: &Value, at: &str, vars: &Vars) -> Result<(), Fail> {
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    if j.not_null && v.is_null() {
        return Err((format!("a value at {at}"), "null".into()));
    }
    if let Some(other) = &j.not_equals {
        let other = expand(vars, other)?;
        if text(v) == other {
            return Err((format!("{at} other than \"{other}\""), "the same".into()));
        }
    }
    if let Some(before) = &j.later_than {
        let before = expand(vars, before)?;
        let later = match (v.as_f64(), before.parse::<f64>()) {
            (Some(a), Ok(b)) => a > b,
            _ => v.as_str().is_some_and(|s| s > before.as_str()),
        };
        if !later {
            return Err((
                format!("{at} later than \"{before}\""),
                snippet(&v.to_string()),
            ));
        }
    }
    Ok(())
}

fn shape(j: &JsonExpect, v: &Value, at: &str) -> Result<(), Fail> {
    let compact = |v: &Value| snippet(&v.to_string());
    if let Some(n) = j.len
        && v.as_array().is_none_or(|a| a.len() != n)
    {
        return Err((format!("{at} an array of {n}"), compact(v)));
    }
    if j.non_empty_array == Some(true) && v.as_array().is_none_or(|a| a.is_empty()) {
        return Err((format!("{at} a non-empty array"), compact(v)));
    }
    if j.is_object == Some(true) && !v.is_object() {
        return Err((format!("{at} a JSON object"), compact(v)));
    }
    Ok(())
}

/// The array's element IDs equal `want` as a multiset: each expected ID once, nothing else.
fn ids(j: &JsonExpect, v: &Value, at: &str, want: &str, vars: &Vars) -> Result<(), Fail> {
    let member = match &j.id_member {
        Some(m) => expand(vars, m)?,
        None => "id".to_string(),
    };
    let Some(items) = v.as_array() else {
        return Err((format!("{at} an array"), snippet(&v.to_string())));
    };
    let mut got: Vec<String> = items
        .iter()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            Value::Object(o) => match o.get(&member) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => format!("(an element without `{member}`)"),
            },
            other => other.to_string(),
        })
        .collect();
    let mut wanted: Vec<String> = want
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    got.sort();
    wanted.sort();
    if got != wanted {
        return Err((
            format!("{at} listing exactly [{}]", wanted.join(", ")),
            format!("[{}]", got.join(", ")),
        ));
    }
    Ok(())
}

/// What kind of JSON value `v` is, without showing it (it may be a credential).
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn no_empty_members(v: &Value, at: &str) -> Result<(), Fail> {
    let Some(obj) = v.as_object() else {
        return Err((format!("{at} a JSON object"), snippet(&v.to_string())));
    };
    let empty: Vec<String> = obj
        .iter()
        .filter(|(_, m)| match m {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        })
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    if !empty.is_empty() {
        return Err((
            "no members with zero values (RFC 9728 §3.2)".into(),
            format!("empty: {}", empty.join(", ")),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(j: JsonExpect, doc: Value) -> Result<(), Fail> {
        one(&j, &doc, &Vars::default())
    }

    #[test]
    fn ids_are_an_exact_multiset() {
        let ids = |s: &str| JsonExpect {
            ids: Some(s.into()),
            ..Default::default()
        };
        let doc = json!([{"id": "P2"}, {"id": "P1"}]);
        assert!(check(ids("P1,P2"), doc.clone()).is_ok());
        assert!(check(ids("P1"), doc.clone()).is_err(), "an extra project");
        assert!(check(ids("P1,P2,P3"), doc).is_err(), "a missing project");
        assert!(
            check(ids("P1"), json!([{"id": "P1"}, {"id": "P1"}])).is_err(),
            "duplicates"
        );
        assert!(check(ids("P1"), json!([{"id": "p1"}])).is_err(), "case");
        assert!(
            check(ids("P1"), json!({"id": "P1"})).is_err(),
            "not an array"
        );
        assert!(check(ids(""), json!([])).is_ok());
    }

    #[test]
    fn absent_number_len() {
        let absent = JsonExpect {
            pointer: "/a".into(),
            absent: true,
            ..Default::default()
        };
        assert!(check(absent.clone(), json!({"b": 1})).is_ok());
        assert!(check(absent, json!({"a": null})).is_err());
        let n = JsonExpect {
            pointer: "/n".into(),
            number: Some(3.0),
            ..Default::default()
        };
        assert!(check(n.clone(), json!({"n": 3})).is_ok());
        assert!(check(n, json!({"n": "3"})).is_err());
        let len = JsonExpect {
            len: Some(2),
            ..Default::default()
        };
        assert!(check(len.clone(), json!([1, 2])).is_ok());
        assert!(check(len, json!([1])).is_err());
    }

    /// A compact JWS of `header` and `payload` (JSON texts), signature `sig`.
    fn jws(header: &str, payload: &str, sig: &str) -> String {
        use base64::Engine as _;
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.{sig}", b(header), b(payload))
    }

    #[test]
    fn jwt_payloads_are_read_without_verifying() {
        let t = jws(
            r#"{"alg":"ES256","kid":"k1"}"#,
            r#"{"aud":"https://rs/mcp","sub":"alice"}"#,
            "c2ln",
        );
        let p = jwt_payload(&t).expect("a JWT");
        assert_eq!(p["aud"], "https://rs/mcp");
        assert!(
            jwt_payload(&format!(" {t}\n")).is_some(),
            "surrounding space"
        );
        assert!(
            jwt_payload(&jws(r#"{"alg":"none"}"#, r#"{"a":1}"#, "")).is_some(),
            "unsigned: only read"
        );
        // Padded base64url is read too.
        use base64::Engine as _;
        let padded = base64::engine::general_purpose::URL_SAFE.encode(r#"{"a":1}"#);
        assert!(jwt_payload(&format!("eyJhbGciOiJSUzI1NiJ9.{padded}.x")).is_some());
        for not in [
            "Zm9vYmFy",                                    // opaque
            "a.b",                                         // two parts
            &format!("{t}.x.y"),                           // a JWE has five
            &jws(r#"{"typ":"JWT"}"#, r#"{"a":1}"#, "s"),   // no alg
            &jws(r#"{"alg":"ES256"}"#, r#"["aud"]"#, "s"), // payload not an object
            &jws(r#"{"alg":"ES256"}"#, "not json", "s"),   // payload not JSON
            "eyJhbGciOiJFUzI1NiJ9.!!!.s",                  // not base64url
            "",
        ] {
            assert!(jwt_payload(not).is_none(), "{not:?}");
        }
    }

    #[test]
    fn equals_or_contains_takes_a_string_or_an_array_with_it() {
        let aud = |want: &str| JsonExpect {
            pointer: "/aud".into(),
            equals_or_contains: Some(want.into()),
            ..Default::default()
        };
        assert!(check(aud("https://rs/mcp"), json!({"aud": "https://rs/mcp"})).is_ok());
        assert!(
            check(
                aud("https://rs/mcp"),
                json!({"aud": ["x", "https://rs/mcp"]})
            )
            .is_ok()
        );
        let (expected, got) =
            check(aud("https://rs/mcp"), json!({"aud": "https://as"})).unwrap_err();
        assert!(expected.contains("or an array containing it"), "{expected}");
        assert_eq!(got, "\"https://as\"");
        assert!(check(aud("https://rs/mcp"), json!({"aud": ["https://as"]})).is_err());
        assert!(check(aud("https://rs/mcp"), json!({"aud": []})).is_err());
        assert!(
            check(aud("https://rs/mcp"), json!({"aud": "https://rs/mcp/"})).is_err(),
            "exact"
        );
        assert!(check(aud("1"), json!({"aud": 1})).is_err(), "strings only");
        assert!(check(aud("x"), json!({})).is_err(), "absent");
    }

    #[test]
    fn jwt_claims_are_judged_and_a_non_jwt_fails_without_showing_it() {
        let token = jws(
            r#"{"alg":"RS256"}"#,
            r#"{"aud":["https://rs/mcp"],"iss":"https://as"}"#,
            "s",
        );
        let doc = json!({"access_token": token, "opaque": "secret-opaque-value", "n": 3});
        let claim = |pointer: &str, want: &str| JsonExpect {
            pointer: pointer.into(),
            jwt: Some("/aud".into()),
            equals_or_contains: Some(want.into()),
            ..Default::default()
        };
        assert!(check(claim("/access_token", "https://rs/mcp"), doc.clone()).is_ok());
        let (expected, _) =
            check(claim("/access_token", "https://other"), doc.clone()).unwrap_err();
        assert!(
            expected.contains("`/aud` of the JWT at `/access_token`"),
            "{expected}"
        );
        let (expected, got) = check(claim("/opaque", "https://rs/mcp"), doc.clone()).unwrap_err();
        assert_eq!(expected, "a JWT at `/opaque`");
        assert!(!got.contains("secret-opaque-value"), "{got}");
        let (_, got) = check(claim("/n", "x"), doc.clone()).unwrap_err();
        assert_eq!(got, "not a string: a number");
        let (_, got) = check(claim("/missing", "x"), doc.clone()).unwrap_err();
        assert_eq!(got, "absent");
        let absent = JsonExpect {
            pointer: "/access_token".into(),
            jwt: Some("/scope".into()),
            absent: true,
            ..Default::default()
        };
        assert!(check(absent, doc).is_ok(), "a claim the token lacks");
    }

    #[test]
    fn validation_rules() {
        let cx = ValidateCx::default();
        let bad_pointer = JsonExpects(vec![JsonExpect {
            pointer: "a".into(),
            ..Default::default()
        }]);
        assert_eq!(bad_pointer.validate(&cx).unwrap_err().field, "[0].pointer");
        let absent_and_value = JsonExpects(vec![JsonExpect {
            absent: true,
            len: Some(1),
            ..Default::default()
        }]);
        assert_eq!(
            absent_and_value.validate(&cx).unwrap_err().field,
            "[0].absent"
        );
        let undefined = JsonExpects(vec![JsonExpect {
            ids: Some("{principal.x.sees}".into()),
            ..Default::default()
        }]);
        assert!(undefined.validate(&cx).is_err());
        let bad_claim = JsonExpects(vec![JsonExpect {
            pointer: "/access_token".into(),
            jwt: Some("aud".into()),
            ..Default::default()
        }]);
        assert_eq!(bad_claim.validate(&cx).unwrap_err().field, "[0].jwt");
        let absent_and_either = JsonExpects(vec![JsonExpect {
            absent: true,
            equals_or_contains: Some("a".into()),
            ..Default::default()
        }]);
        assert_eq!(
            absent_and_either.validate(&cx).unwrap_err().field,
            "[0].absent"
        );
    }
}
