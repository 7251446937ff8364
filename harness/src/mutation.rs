//! Near misses of a valid key, as a proptest strategy: each [`Mutation`] turns a live key into a value that
//! must never authenticate (APIKEY-002, HYG-008). A mutation describes itself without the key's characters,
//! so a counter-example can be reported in redacted form.
//!
//! Leading and trailing spaces and tabs are not mutations: RFC 9110 §5.5 makes a server drop them, so a
//! padded key authenticating is correct (APIKEY-008). CR and LF are not either: they would split the request
//! in the client, not test the server (APIKEY-008 sends them separately).

use proptest::collection::vec;
use proptest::prelude::*;

/// Confusable look-alikes of ASCII characters (Cyrillic and Greek), tried before the full-width form.
const LOOK_ALIKES: &[(char, char)] = &[
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('i', 'і'),
    ('o', 'о'),
    ('p', 'р'),
    ('s', 'ѕ'),
    ('x', 'х'),
    ('y', 'у'),
    ('A', 'Α'),
    ('B', 'Β'),
    ('E', 'Ε'),
    ('K', 'Κ'),
    ('O', 'Ο'),
    ('0', 'О'),
];

/// A position in a key, as a fraction of its length (in 1/65536ths), so one case fits keys of any length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos(pub u16);

impl Pos {
    /// The index in a sequence of `len` (> 0) items.
    pub fn of(self, len: usize) -> usize {
        len * usize::from(self.0) / 65536
    }
}

/// One way to miss a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// The secret prefix swapped for the publishable one, or the other way round.
    SwapPrefix,
    /// Only the first part kept (the fraction of its length, in 1/256ths).
    Truncate(u8),
    /// The character at an index replaced by another visible ASCII character.
    Replace(Pos, u8),
    /// The case of the letter at (or after) an index flipped.
    FlipCase(Pos),
    /// The character at an index replaced by a Unicode look-alike.
    LookAlike(Pos),
    /// A control character inserted at an index.
    Control(Pos, u8),
    /// Padding characters appended (`=`, `0`, `.`).
    Pad(String),
    /// Visible ASCII junk appended.
    Append(String),
}

/// The strategy over every mutation kind. Shrinking moves towards the simpler kinds and shorter additions.
pub fn strategy() -> impl Strategy<Value = Mutation, Tree: Send> {
    prop_oneof![
        Just(Mutation::SwapPrefix),
        any::<u8>().prop_map(Mutation::Truncate),
        (any::<u16>().prop_map(Pos), 0x21u8..0x7f).prop_map(|(i, c)| Mutation::Replace(i, c)),
        any::<u16>().prop_map(Pos).prop_map(Mutation::FlipCase),
        any::<u16>().prop_map(Pos).prop_map(Mutation::LookAlike),
        (
            any::<u16>().prop_map(Pos),
            prop_oneof![0u8..0x09, 0x0bu8..0x0d, 0x0eu8..0x20, Just(0x7f)]
        )
            .prop_map(|(i, c)| Mutation::Control(i, c)),
        vec(prop_oneof![Just('='), Just('0'), Just('.')], 1..=4)
            .prop_map(|v| Mutation::Pad(v.into_iter().collect())),
        vec(0x21u8..0x7f, 1..=8)
            .prop_map(|v| Mutation::Append(v.into_iter().map(char::from).collect())),
    ]
}

/// The prefixes keys carry, for [`Mutation::SwapPrefix`].
#[derive(Debug, Clone, Default)]
pub struct Prefixes {
    /// Secret keys' prefix.
    pub secret: Option<String>,
    /// Publishable keys' prefix.
    pub publishable: Option<String>,
}

impl Mutation {
    /// The mutated key, or `None` when this mutation does not change it (no prefix to swap, no letter).
    pub fn apply(&self, key: &str, prefixes: &Prefixes) -> Option<String> {
        let chars: Vec<char> = key.chars().collect();
        if chars.is_empty() {
            return None;
        }
        let out = match self {
            Mutation::SwapPrefix => swap_prefix(key, prefixes)?,
            Mutation::Truncate(f) => chars[..chars.len() * usize::from(*f) / 256]
                .iter()
                .collect(),
            Mutation::Replace(i, c) => replace_at(&chars, i.of(chars.len()), char::from(*c)),
            Mutation::FlipCase(i) => {
                let start = i.of(chars.len());
                let at = (0..chars.len())
                    .map(|k| (start + k) % chars.len())
                    .find(|k| chars[*k].is_ascii_alphabetic())?;
                let c = chars[at];
                let flipped = if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
                replace_at(&chars, at, flipped)
            }
            Mutation::LookAlike(i) => {
                let at = i.of(chars.len());
                replace_at(&chars, at, look_alike(chars[at]))
            }
            Mutation::Control(i, c) => {
                let mut v = chars.clone();
                v.insert(i.of(chars.len() + 1), char::from(*c));
                v.into_iter().collect()
            }
            Mutation::Pad(p) => format!("{key}{p}"),
            Mutation::Append(j) => format!("{key}{j}"),
        };
        (out != key).then_some(out)
    }

    /// What was done, without any character of the key (`[KEY:dev] with its last 7 characters cut`).
    pub fn describe(&self, key: &str, placeholder: &str) -> String {
        let n = key.chars().count();
        match self {
            Mutation::SwapPrefix => {
                format!("{placeholder} with its prefix swapped (secret <-> publishable)")
            }
            Mutation::Truncate(f) => {
                let keep = n * usize::from(*f) / 256;
                format!("{placeholder} cut to its first {keep} of {n} characters")
            }
            Mutation::Replace(i, c) => format!(
                "{placeholder} with character {} replaced by {:?}",
                i.of(n),
                char::from(*c)
            ),
            Mutation::FlipCase(i) => format!(
                "{placeholder} with the case of a letter at or after {} flipped",
                i.of(n)
            ),
            Mutation::LookAlike(i) => format!(
                "{placeholder} with character {} replaced by a Unicode look-alike",
                i.of(n)
            ),
            Mutation::Control(i, c) => {
                format!("{placeholder} with U+{c:04X} inserted at {}", i.of(n + 1))
            }
            Mutation::Pad(p) => format!("{placeholder} followed by {p:?}"),
            Mutation::Append(j) => format!("{placeholder} followed by {j:?}"),
        }
    }
}

fn replace_at(chars: &[char], at: usize, c: char) -> String {
    let mut v = chars.to_vec();
    v[at] = c;
    v.into_iter().collect()
}

fn look_alike(c: char) -> char {
    LOOK_ALIKES
        .iter()
        .find(|(a, _)| *a == c)
        .map(|(_, l)| *l)
        // Full-width forms: U+FF01..U+FF5E mirror ASCII 0x21..0x7E.
        .or_else(|| {
            ('!'..='~')
                .contains(&c)
                .then(|| char::from_u32(c as u32 - 0x21 + 0xFF01))
                .flatten()
        })
        .unwrap_or('\u{FF1F}')
}

fn swap_prefix(key: &str, p: &Prefixes) -> Option<String> {
    let (s, pb) = (p.secret.as_deref()?, p.publishable.as_deref()?);
    if let Some(body) = key.strip_prefix(s) {
        Some(format!("{pb}{body}"))
    } else {
        key.strip_prefix(pb).map(|body| format!("{s}{body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};

    const KEY: &str = "sk_live_abc123";

    fn prefixes() -> Prefixes {
        Prefixes {
            secret: Some("sk_".into()),
            publishable: Some("pk_".into()),
        }
    }

    proptest! {
        #![proptest_config(Config { cases: 512, rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha, ..Config::default() })]
        #[test]
        fn a_mutation_never_gives_back_the_key_and_never_shows_it(m in strategy()) {
            if let Some(v) = m.apply(KEY, &prefixes()) {
                prop_assert_ne!(v.as_str(), KEY);
                prop_assert!(!v.contains('\r') && !v.contains('\n'));
                let trimmed = v.trim_matches([' ', '\t']);
                prop_assert_ne!(trimmed, KEY, "padding with blanks is not a mutation");
            }
            let d = m.describe(KEY, "[KEY:dev]");
            prop_assert!(!d.contains("abc123"));
        }
    }

    #[test]
    fn each_kind_does_what_it_says() {
        let p = prefixes();
        let i = |n: usize| Pos((n * 65536 / 14 + 1) as u16);
        assert_eq!(
            Mutation::SwapPrefix.apply(KEY, &p).unwrap(),
            "pk_live_abc123"
        );
        assert_eq!(Mutation::SwapPrefix.apply("zz", &p), None);
        assert_eq!(Mutation::Truncate(128).apply(KEY, &p).unwrap(), "sk_live");
        assert_eq!(
            Mutation::Pad("==".into()).apply(KEY, &p).unwrap(),
            "sk_live_abc123=="
        );
        assert!(
            Mutation::LookAlike(i(8))
                .apply(KEY, &p)
                .unwrap()
                .contains('а')
        );
        assert!(
            Mutation::Control(i(3), 0)
                .apply(KEY, &p)
                .unwrap()
                .contains('\0')
        );
        assert_eq!(Mutation::FlipCase(i(0)).apply("123", &p), None);
        // The same seed gives the same cases.
        let gen_ = || {
            let mut r = TestRunner::new_with_rng(
                Config::default(),
                TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &[7; 32]),
            );
            (0..20)
                .map(|_| strategy().new_tree(&mut r).unwrap().current())
                .collect::<Vec<_>>()
        };
        assert_eq!(gen_(), gen_());
    }
}
