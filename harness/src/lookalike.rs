//! Look-alikes of an allowed browser origin, as a proptest strategy (CORS-005): suffix and prefix tricks,
//! sub-domains, another port, the other scheme, case changes, a trailing dot, slash or path, userinfo,
//! percent-encoding, `null`, embedded blanks, and IDN look-alikes (a letter swapped for a Cyrillic one, sent
//! as punycode or as raw UTF-8). Every variant differs from the allowed origin as a string, so none may be
//! granted: a CORS check compares `Access-Control-Allow-Origin` byte for byte with the request's origin.

use proptest::collection::vec;
use proptest::prelude::*;

/// One look-alike of an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookAlike {
    /// `https://app.example.com.JUNK.test`.
    SuffixDomain(String),
    /// `https://JUNKapp.example.com`.
    PrefixLabel(String),
    /// `https://JUNK.app.example.com`.
    SubDomain(String),
    /// `https://app.example.comJUNK` (the host extended without a dot).
    HostExtended(String),
    /// Another port.
    Port(u16),
    /// `http` for `https` and the other way round.
    OtherScheme,
    /// The letter at a position of the host in upper case.
    Case(u16),
    /// `https://app.example.com.`.
    TrailingDot,
    /// `https://app.example.com/` or with a path.
    Path(String),
    /// `https://app.example.com@evil.test` (the allowed host as userinfo).
    UserinfoTrick,
    /// `https://app%2eexample.com` (a dot percent-encoded).
    PercentDot,
    /// `null`.
    Null,
    /// `https://app.example.com evil.test`.
    Blank,
    /// A letter of the host swapped for a Cyrillic look-alike, sent as punycode (`false`) or raw UTF-8 (`true`).
    Idn(u16, bool),
}

/// The strategy over every look-alike. Shrinking moves towards the earlier, simpler kinds and shorter junk.
pub fn strategy() -> impl Strategy<Value = LookAlike, Tree: Send> {
    let junk = || {
        vec(
            prop_oneof![
                Just('e'),
                Just('v'),
                Just('i'),
                Just('l'),
                Just('x'),
                Just('1')
            ],
            1..=6,
        )
        .prop_map(|v| v.into_iter().collect::<String>())
    };
    // Nested: `prop_oneof!` boxes (and loses `Send`) beyond ten arms.
    prop_oneof![
        prop_oneof![
            Just(LookAlike::Null),
            Just(LookAlike::TrailingDot),
            Just(LookAlike::OtherScheme),
            Just(LookAlike::UserinfoTrick),
            Just(LookAlike::PercentDot),
            Just(LookAlike::Blank),
        ],
        prop_oneof![
            junk().prop_map(LookAlike::SuffixDomain),
            junk().prop_map(LookAlike::PrefixLabel),
            junk().prop_map(LookAlike::SubDomain),
            junk().prop_map(LookAlike::HostExtended),
        ],
        prop_oneof![
            (1u16..=65535).prop_map(LookAlike::Port),
            any::<u16>().prop_map(LookAlike::Case),
            prop_oneof![Just(String::new()), junk()].prop_map(LookAlike::Path),
            (any::<u16>(), any::<bool>()).prop_map(|(p, raw)| LookAlike::Idn(p, raw)),
        ],
    ]
}

/// Cyrillic letters that look like Latin ones.
const CONFUSABLE: &[(char, char)] = &[
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('o', 'о'),
    ('p', 'р'),
    ('x', 'х'),
    ('y', 'у'),
    ('i', 'і'),
];

impl LookAlike {
    /// The look-alike of `origin` (`scheme://host[:port]`), or `None` when this variant does not change it
    /// (no letter to change, the port it already has).
    pub fn apply(&self, origin: &str) -> Option<String> {
        let (scheme, rest) = origin.split_once("://")?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
            _ => (rest, None),
        };
        let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
        let out = match self {
            LookAlike::SuffixDomain(j) => format!("{scheme}://{host}.{j}.test{port_part}"),
            LookAlike::PrefixLabel(j) => format!("{scheme}://{j}{host}{port_part}"),
            LookAlike::SubDomain(j) => format!("{scheme}://{j}.{host}{port_part}"),
            LookAlike::HostExtended(j) => format!("{scheme}://{host}{j}{port_part}"),
            LookAlike::Port(p) => format!("{scheme}://{host}:{p}"),
            LookAlike::OtherScheme => {
                let other = if scheme == "https" { "http" } else { "https" };
                format!("{other}://{host}{port_part}")
            }
            LookAlike::Case(pos) => {
                let letters: Vec<usize> = host
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_lowercase())
                    .map(|(i, _)| i)
                    .collect();
                let at = *letters.get(usize::from(*pos) % letters.len().max(1))?;
                let mut h = host.to_string();
                h.replace_range(at..at + 1, &host[at..at + 1].to_ascii_uppercase());
                format!("{scheme}://{h}{port_part}")
            }
            LookAlike::TrailingDot => format!("{scheme}://{host}.{port_part}"),
            LookAlike::Path(p) => format!("{origin}/{p}"),
            LookAlike::UserinfoTrick => format!("{scheme}://{host}{port_part}@evil.test"),
            LookAlike::PercentDot => {
                format!("{scheme}://{}{port_part}", host.replacen('.', "%2e", 1))
            }
            LookAlike::Null => "null".to_string(),
            LookAlike::Blank => format!("{origin} evil.test"),
            LookAlike::Idn(pos, raw) => idn(scheme, host, &port_part, *pos, *raw)?,
        };
        (out != origin).then_some(out)
    }
}

fn idn(scheme: &str, host: &str, port_part: &str, pos: u16, raw: bool) -> Option<String> {
    let swappable: Vec<(usize, char)> = host
        .char_indices()
        .filter_map(|(i, c)| {
            CONFUSABLE
                .iter()
                .find(|(l, _)| *l == c)
                .map(|(_, cy)| (i, *cy))
        })
        .collect();
    let (at, cy) = *swappable.get(usize::from(pos) % swappable.len().max(1))?;
    let mut h = host.to_string();
    h.replace_range(at..at + 1, &cy.to_string());
    let h = if raw {
        h
    } else {
        url::Url::parse(&format!("{scheme}://{h}/"))
            .ok()?
            .host_str()?
            .to_string()
    };
    Some(format!("{scheme}://{h}{port_part}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: &str = "https://app.example.test";

    #[test]
    fn each_kind_gives_the_catalog_case() {
        let cases = [
            (
                LookAlike::SuffixDomain("evil".into()),
                "https://app.example.test.evil.test",
            ),
            (
                LookAlike::PrefixLabel("evil".into()),
                "https://evilapp.example.test",
            ),
            (
                LookAlike::SubDomain("x".into()),
                "https://x.app.example.test",
            ),
            (
                LookAlike::HostExtended("x".into()),
                "https://app.example.testx",
            ),
            (LookAlike::Port(8443), "https://app.example.test:8443"),
            (LookAlike::OtherScheme, "http://app.example.test"),
            (LookAlike::Case(0), "https://App.example.test"),
            (LookAlike::TrailingDot, "https://app.example.test."),
            (LookAlike::Path(String::new()), "https://app.example.test/"),
            (
                LookAlike::UserinfoTrick,
                "https://app.example.test@evil.test",
            ),
            (LookAlike::PercentDot, "https://app%2eexample.test"),
            (LookAlike::Null, "null"),
            (LookAlike::Blank, "https://app.example.test evil.test"),
            (LookAlike::Idn(0, true), "https://аpp.example.test"),
        ];
        for (l, want) in cases {
            assert_eq!(l.apply(O).as_deref(), Some(want), "{l:?}");
        }
        let puny = LookAlike::Idn(0, false).apply(O).unwrap();
        assert!(puny.starts_with("https://xn--"), "{puny}");
        assert_eq!(LookAlike::Port(8443).apply("https://a.test:8443"), None);
        assert_eq!(
            LookAlike::Port(443).apply("http://a.test:80").as_deref(),
            Some("http://a.test:443")
        );
    }

    proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha, ..Default::default() })]
        #[test]
        fn a_look_alike_is_never_the_origin(l in strategy()) {
            if let Some(v) = l.apply(O) {
                prop_assert_ne!(v.as_str(), O);
            }
        }
    }
}
