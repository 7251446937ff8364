//! Property tests for the parsers: `challenge`, `template`, `authorization`, `origin`.
//!
//! Deterministic: every property runs [`CASES`] cases from the fixed seed [`SEED`] (a fresh runner per
//! property, no regression files). To explore, override with `PROPTEST_RNG_SEED=<u64>` and/or
//! `PROPTEST_CASES=<n>`; a failure prints the minimal input, which then belongs in a unit test.

use authconform::authorization::{self, AuthorizationError, Credentials};
use authconform::challenge;
use authconform::origin::{self, Origin};
use authconform::template::{TemplateError, Vars};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The fixed seed used unless `PROPTEST_RNG_SEED` is set.
const SEED: u64 = 0x00A7_4C0F_0123_4567;
/// Cases per property unless `PROPTEST_CASES` is set.
const CASES: u32 = 256;

/// The runner configuration: fixed seed, [`CASES`] cases, no failure-persistence files.
fn config() -> Config {
    let env = Config::default();
    Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            env.cases
        } else {
            CASES
        },
        rng_seed: match env.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            fixed => fixed,
        },
        failure_persistence: None,
        ..env
    }
}

// ---------------------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------------------

/// An RFC 9110 `token`.
fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
}

/// An RFC 9110 `token68`.
fn token68() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/-]{1,40}={0,2}"
}

/// Text allowed inside a quoted-string (HTAB, SP, VCHAR, non-ASCII), quotes and backslashes included.
fn qtext() -> impl Strategy<Value = String> {
    "[\t -~\u{a0}-\u{2fff}]{0,16}"
}

/// Concatenations of pieces, for inputs that look like the real thing more often than random strings do.
fn pieces(parts: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![prop::sample::select(parts).prop_map(String::from), token()],
        0..24,
    )
    .prop_map(|v| v.concat())
}

const HEADERISH: &[&str] = &[
    " ", "\t", ",", "=", "==", "\"", "\\", "\\\"", "Bearer", "Basic", "realm", "=\"", "\", ", "é",
    "\u{0}", "\r\n",
];

const URLISH: &[&str] = &[
    "http",
    "https",
    "HTTPS",
    "ws",
    "://",
    ":",
    "/",
    "@",
    "[",
    "]",
    "::1",
    ".",
    "..",
    "a",
    "xn--",
    "xn--bcher-kva",
    "%41",
    "%",
    "0x7f",
    "1",
    "443",
    "65536",
    "?",
    "#",
    "\\",
    "é",
    "null",
    " ",
    "\t",
    "\u{0}",
];

const TEMPLATEISH: &[&str] = &[
    "{",
    "}",
    "{{",
    "}}",
    "|",
    "origin",
    "prm_path",
    "a",
    "x.y",
    " ",
    "é",
    "https://h/p",
];

// ---------------------------------------------------------------------------------------------------------
// challenge
// ---------------------------------------------------------------------------------------------------------

/// A well-formed challenge: scheme, and params (value rendered as a token or a quoted-string) or a token68.
#[derive(Debug, Clone)]
struct ChallengeSpec {
    scheme: String,
    token68: Option<String>,
    /// (name, value, render the value as a bare token)
    params: Vec<(String, String, bool)>,
}

fn challenge_spec() -> impl Strategy<Value = ChallengeSpec> {
    let param = prop_oneof![
        (token(), token()).prop_map(|(n, v)| (n, v, true)),
        (token(), qtext()).prop_map(|(n, v)| (n, v, false)),
    ];
    let body = prop_oneof![
        Just((None, Vec::new())),
        token68().prop_map(|t| (Some(t), Vec::new())),
        prop::collection::vec(param, 1..5).prop_map(|p| (None, p)),
    ];
    (token(), body).prop_map(|(scheme, (token68, params))| ChallengeSpec {
        scheme,
        token68,
        params,
    })
}

fn quote(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Where a rendering puts optional whitespace: `1*SP` after the scheme, `BWS` around `=`, `OWS` around `,`.
#[derive(Debug, Clone)]
struct Spacing {
    after_scheme: String,
    before_eq: String,
    after_eq: String,
    before_comma: String,
    after_comma: String,
}

fn spacing() -> impl Strategy<Value = Spacing> {
    let ows = || "[ \t]{0,2}";
    ("[ ]{1,3}", ows(), ows(), ows(), ows()).prop_map(|(a, b, c, d, e)| Spacing {
        after_scheme: a,
        before_eq: b,
        after_eq: c,
        before_comma: d,
        after_comma: e,
    })
}

impl Spacing {
    fn comma(&self) -> String {
        format!("{},{}", self.before_comma, self.after_comma)
    }
}

fn render_challenge(c: &ChallengeSpec, sp: &Spacing) -> String {
    let mut out = c.scheme.clone();
    if let Some(t) = &c.token68 {
        out.push_str(&sp.after_scheme);
        out.push_str(t);
    }
    let params: Vec<String> = c
        .params
        .iter()
        .map(|(n, v, bare)| {
            let v = if *bare { v.clone() } else { quote(v) };
            format!("{n}{}={}{v}", sp.before_eq, sp.after_eq)
        })
        .collect();
    if !params.is_empty() {
        out.push_str(&sp.after_scheme);
        out.push_str(&params.join(&sp.comma()));
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn challenge_parse_never_panics(s in any::<String>()) {
        let _ = challenge::parse_all([s.as_str()]);
    }

    #[test]
    fn challenge_parse_never_panics_on_headerish(fields in prop::collection::vec(pieces(HEADERISH), 0..3)) {
        let _ = challenge::parse_all(fields.iter().map(String::as_str));
    }

    #[test]
    fn challenge_render_parse_round_trips(
        specs in prop::collection::vec(challenge_spec(), 1..4),
        sp in spacing(),
        split in any::<bool>(),
    ) {
        let rendered: Vec<String> = specs.iter().map(|c| render_challenge(c, &sp)).collect();
        // One field with comma-separated challenges, or one field per challenge.
        let fields = if split { rendered.clone() } else { vec![rendered.join(&sp.comma())] };
        let parsed = challenge::parse_all(fields.iter().map(String::as_str));
        prop_assert_eq!(parsed.len(), specs.len(), "fields: {:?}", fields);
        for (got, want) in parsed.iter().zip(&specs) {
            prop_assert!(got.is(&want.scheme.to_ascii_uppercase()), "fields: {:?}", fields);
            prop_assert_eq!(&got.token68, &want.token68, "fields: {:?}", fields);
            let want_params: Vec<(String, String)> =
                want.params.iter().map(|(n, v, _)| (n.clone(), v.clone())).collect();
            prop_assert_eq!(&got.params, &want_params, "fields: {:?}", fields);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// template
// ---------------------------------------------------------------------------------------------------------

fn var_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,8}(\\.[a-z0-9_]{1,8}){0,2}"
}

fn some_vars() -> Vars {
    let mut v = Vars::default();
    v.set("a", "https://h.test/p");
    v.set("x.y", "é");
    v
}

/// Doubles every brace, the template escape for literal text.
fn escape(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn template_never_panics(s in prop_oneof![any::<String>(), pieces(TEMPLATEISH)]) {
        let _ = some_vars().expand(&s);
        let _ = Vars::references(&s);
    }

    #[test]
    fn template_without_braces_is_itself(s in "[^{}]*") {
        prop_assert_eq!(some_vars().expand(&s), Ok(s.clone()));
        prop_assert!(Vars::references(&s).is_empty());
    }

    #[test]
    fn template_escaped_text_is_itself(s in any::<String>()) {
        prop_assert_eq!(some_vars().expand(&escape(&s)), Ok(s.clone()));
        prop_assert!(Vars::references(&escape(&s)).is_empty());
    }

    #[test]
    fn template_set_var_expands_to_value(
        name in var_name(),
        value in any::<String>(),
        pre in "[^{}]*",
        post in "[^{}]*",
        pad in "[ ]{0,2}",
    ) {
        let mut v = Vars::default();
        v.set(name.clone(), value.clone());
        let t = format!("{pre}{{{pad}{name}{pad}}}{post}");
        prop_assert_eq!(v.expand(&t), Ok(format!("{pre}{value}{post}")));
        prop_assert_eq!(Vars::references(&t), vec![name]);
    }

    #[test]
    fn template_references_cover_missing(s in pieces(TEMPLATEISH)) {
        // Whatever `expand` finds missing, `references` must have listed.
        if let Err(TemplateError::Missing(name)) = Vars::default().expand(&s) {
            prop_assert!(Vars::references(&s).contains(&name), "{:?} lacks {:?}", s, name);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// authorization
// ---------------------------------------------------------------------------------------------------------

/// Valid credentials: bare scheme, token68, or params with case-insensitively unique names.
fn credentials() -> impl Strategy<Value = Credentials> {
    let value = prop_oneof![token(), qtext()];
    let params = prop::collection::vec((token(), value), 1..5).prop_map(|ps| {
        let mut seen = std::collections::HashSet::new();
        ps.into_iter()
            .filter(|(n, _)| seen.insert(n.to_ascii_lowercase()))
            .collect::<Vec<_>>()
    });
    let body = prop_oneof![
        Just((None, Vec::new())),
        token68().prop_map(|t| (Some(t), Vec::new())),
        params.prop_map(|p| (None, p)),
    ];
    (token(), body).prop_map(|(scheme, (token68, params))| Credentials {
        scheme,
        token68,
        params,
    })
}

/// A control character other than HTAB (which the grammar allows in OWS and quoted-strings).
fn control() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20).prop_filter("HTAB is allowed", |c| *c != 9),
        Just(0x7f_u32),
        0x80u32..0xa0,
    ]
    .prop_map(|c| char::from_u32(c).unwrap())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn authorization_parse_never_panics(s in prop_oneof![any::<String>(), pieces(HEADERISH)]) {
        if let Ok(c) = authorization::parse(&s) {
            // Whatever is accepted renders to something accepted as the same credentials.
            prop_assert_eq!(authorization::parse(&c.render()), Ok(c));
        }
    }

    #[test]
    fn authorization_render_parse_round_trips(c in credentials()) {
        prop_assert_eq!(authorization::parse(&c.render()), Ok(c));
    }

    #[test]
    fn authorization_bearer_token(t in token68(), scheme in "[bB][eE][aA][rR][eE][rR]") {
        let c = authorization::parse(&format!("{scheme} {t}")).unwrap();
        prop_assert!(c.is_bearer());
        prop_assert_eq!(c.bearer_token(), Some(t.as_str()));
        let quoted = authorization::parse(&format!("{scheme} \"{t}\""));
        prop_assert!(matches!(quoted, Err(AuthorizationError::QuotedToken68 { .. })), "{:?}", quoted);
    }

    #[test]
    fn authorization_refuses_bad_token68_chars(
        t in token68(),
        bad in "[^A-Za-z0-9._~+/=\\-\\p{Cc}\\s]",
        at in any::<prop::sample::Index>(),
    ) {
        // Replace a character before the `=` padding: in the padding, `~=^` would be a valid auth-param.
        let mut chars: Vec<char> = t.chars().collect();
        let i = at.index(t.trim_end_matches('=').len());
        chars[i] = bad.chars().next().unwrap();
        let s = format!("Bearer {}", chars.into_iter().collect::<String>());
        prop_assert!(authorization::parse(&s).is_err(), "{:?} accepted", s);
    }

    #[test]
    fn authorization_refuses_control_characters(
        c in credentials(),
        ctl in control(),
        at in any::<prop::sample::Index>(),
    ) {
        let mut chars: Vec<char> = c.render().chars().collect();
        chars.insert(at.index(chars.len() + 1), ctl);
        let s: String = chars.into_iter().collect();
        prop_assert!(
            matches!(authorization::parse(&s), Err(AuthorizationError::ControlCharacter { .. })),
            "{:?} -> {:?}", s, authorization::parse(&s)
        );
    }

    #[test]
    fn authorization_refuses_surrounding_whitespace(
        c in credentials(),
        ws in "[ \t\u{a0}\u{2003}\u{3000}]{1,3}",
        lead in any::<bool>(),
    ) {
        let s = if lead { format!("{ws}{}", c.render()) } else { format!("{}{ws}", c.render()) };
        prop_assert_eq!(authorization::parse(&s), Err(AuthorizationError::SurroundingWhitespace));
    }

    #[test]
    fn authorization_refuses_two_credentials(a in credentials(), b in credentials()) {
        let s = format!("{}, {}", a.render(), b.render());
        prop_assert!(authorization::parse(&s).is_err(), "{:?} accepted", s);
    }
}

// ---------------------------------------------------------------------------------------------------------
// origin
// ---------------------------------------------------------------------------------------------------------

/// A domain whose last label starts with a letter (so it is never read as an IPv4 address), and with no
/// `xn--` label (those must be valid punycode).
fn domain() -> impl Strategy<Value = String> {
    let label =
        "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?".prop_filter("no A-label", |l| !l.starts_with("xn--"));
    (prop::collection::vec(label, 0..3), "[a-z][a-z0-9]{0,5}").prop_map(|(mut labels, tld)| {
        labels.push(tld);
        labels.join(".")
    })
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => domain(),
        1 => any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        1 => any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn scheme() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&["http", "https", "ws", "wss", "ftp"][..]).prop_map(String::from),
        "[a-z][a-z0-9+.-]{0,8}",
    ]
}

/// Flips the case of ASCII letters where `mask` says so.
fn mangle_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn origin_text(scheme: &str, host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    }
}

fn tuple(o: &Origin) -> &origin::TupleOrigin {
    o.as_tuple().expect("a tuple origin")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn origin_parse_never_panics(s in prop_oneof![any::<String>(), pieces(URLISH)]) {
        if let Ok(o) = origin::parse(&s) {
            prop_assert_eq!(origin::parse(&o.serialize()), Ok(o));
        }
    }

    #[test]
    fn origin_serialize_parse_round_trips(
        scheme in scheme(), host in host(), port in any::<Option<u16>>(), mask in any::<u64>(),
    ) {
        let text = origin_text(&mangle_case(&scheme, mask), &mangle_case(&host, mask.rotate_left(7)), port);
        let o = origin::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let s = o.serialize();
        prop_assert_eq!(origin::parse(&s), Ok(o.clone()));
        prop_assert_eq!(origin::parse_canonical(&s), Ok(o.clone()));
        prop_assert!(origin::same_origin(&o, &origin::parse(&origin_text(&scheme, &host, port)).unwrap()));
        // Nothing may follow the authority, and nothing may precede the host.
        for bad in [format!("{s}/"), format!("{s}/p"), format!("{s}?q"), format!("{s}#f"), format!(" {s}"),
                    format!("{s}\n"), s.replacen("://", "://u@", 1), s.replacen("://", "://u:p@", 1)] {
            prop_assert!(origin::parse(&bad).is_err(), "{:?} accepted", bad);
        }
    }

    #[test]
    fn origin_look_alikes_are_not_same_origin(
        scheme in scheme(),
        host in domain(),
        port in any::<Option<u16>>(),
        suffix in domain(),
        prefix in "[a-z0-9]{1,6}[.-]?",
        other_port in any::<u16>(),
    ) {
        let o = origin::parse(&origin_text(&scheme, &host, port)).unwrap();
        let t = tuple(&o);
        let swapped = match t.scheme() {
            "http" => "https".to_string(),
            "https" => "http".to_string(),
            "ws" => "wss".to_string(),
            "wss" => "ws".to_string(),
            s => format!("{s}x"),
        };
        let mut look_alikes = vec![
            origin_text(&scheme, &format!("{host}.{suffix}"), port),
            origin_text(&scheme, &format!("{prefix}{host}"), port),
            origin_text(&swapped, &host, port),
            origin_text(&scheme, &format!("{host}."), port),
        ];
        if Some(other_port) != t.port_or_default() {
            look_alikes.push(origin_text(&scheme, &host, Some(other_port)));
        }
        for text in look_alikes {
            let other = origin::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert!(!origin::same_origin(&o, &other), "{} ~ {}", o, text);
            prop_assert!(!origin::same_origin(&other, &o), "{} ~ {}", text, o);
        }
    }
}
