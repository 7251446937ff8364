//! A property search driven from async code: cases drawn from a proptest strategy with a seeded
//! [`TestRunner`], each tried by an async [`Trial`]; the first failing case is shrunk through its value tree
//! (`simplify` while it still fails, `complicate` when it stops failing) to the smallest one that fails.
//! Used by the key-mutation and origin look-alike properties.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::future::Future;

/// Most shrinking steps per counter-example.
const MAX_SHRINKS: u32 = 200;

/// The seed used unless `AUTHCONFORM_SEED` names another (64 hex digits): runs are reproducible by default.
pub const DEFAULT_SEED: &str = "a11ce0c0ffee5eedfacade0123456789abcdef0123456789abcdef0123456789";

/// What one case did.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// A short label counted in the record (a status, `"no response"`).
    pub label: String,
    /// The property does not hold for this case.
    pub fails: bool,
    /// What the failure looked like (a status, a granted header), for the report.
    pub detail: String,
}

/// How a case is tried: `None` when the case does not apply (the mutation left the value unchanged).
pub trait Trial<M> {
    /// Tries one case.
    fn try_one(&self, m: &M) -> impl Future<Output = Option<Verdict>> + Send;
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Found<M> {
    /// Cases tried.
    pub sent: u32,
    /// Cases that did not apply.
    pub unchanged: u32,
    /// How many cases got each label.
    pub labels: BTreeMap<String, u32>,
    /// The smallest failing case and what it looked like.
    pub counterexample: Option<(M, String)>,
    /// Shrinking steps taken.
    pub shrinks: u32,
}

/// The seed: `AUTHCONFORM_SEED` when it is 64 hex digits, else [`DEFAULT_SEED`]; as hex and as bytes.
pub fn seed() -> (String, [u8; 32]) {
    let env = std::env::var("AUTHCONFORM_SEED").ok();
    let hex = env
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| DEFAULT_SEED.to_string());
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    (hex, bytes)
}

/// How a counter-example is qualified in reports: the shrinking it took and how to replay it.
pub fn replay_hint(shrinks: u32, seed: &str) -> String {
    format!("smallest after {shrinks} shrinking steps; replay with AUTHCONFORM_SEED={seed}")
}

/// Writes `NOUN sent: N (LABEL xK, …); unchanged: M`, a property record's transcript line.
pub fn write_counts(
    out: &mut String,
    noun: &str,
    sent: u32,
    labels: &BTreeMap<String, u32>,
    unchanged: u32,
) {
    let counts: Vec<String> = labels.iter().map(|(s, n)| format!("{s} x{n}")).collect();
    out.push_str(&format!(
        "{noun} sent: {sent} ({}); unchanged: {unchanged}\n",
        counts.join(", ")
    ));
}

/// Runs `cases` cases of `strategy` through `trial` from `seed`, stopping at the first failure (shrunk).
pub async fn search<M, S, T>(
    strategy: S,
    cases: u32,
    seed: [u8; 32],
    trial: &T,
) -> Result<Found<M>, String>
where
    M: Clone + std::fmt::Debug,
    S: Strategy<Value = M>,
    S::Tree: Send,
    T: Trial<M> + Sync,
{
    let config = Config {
        cases,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let mut found = Found {
        sent: 0,
        unchanged: 0,
        labels: BTreeMap::new(),
        counterexample: None,
        shrinks: 0,
    };
    for _ in 0..cases {
        let mut tree = strategy.new_tree(&mut runner).map_err(|e| e.to_string())?;
        let m = tree.current();
        let Some(v) = trial.try_one(&m).await else {
            found.unchanged += 1;
            continue;
        };
        found.sent += 1;
        *found.labels.entry(v.label.clone()).or_default() += 1;
        if v.fails {
            let (best, detail, shrinks) = shrink(&mut tree, m, v.detail, trial).await;
            found.counterexample = Some((best, detail));
            found.shrinks = shrinks;
            break;
        }
    }
    Ok(found)
}

async fn shrink<M, V, T>(
    tree: &mut V,
    mut best: M,
    mut detail: String,
    trial: &T,
) -> (M, String, u32)
where
    V: ValueTree<Value = M> + Send,
    T: Trial<M> + Sync,
{
    let mut steps = 0;
    let mut more = tree.simplify();
    while more && steps < MAX_SHRINKS {
        steps += 1;
        let m = tree.current();
        match trial.try_one(&m).await {
            Some(v) if v.fails => {
                best = m;
                detail = v.detail;
                more = tree.simplify();
            }
            _ => more = tree.complicate(),
        }
    }
    (best, detail, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Fails for numbers of at least 1000: the search must shrink to exactly 1000.
    struct AtLeast1000;

    impl Trial<u32> for AtLeast1000 {
        async fn try_one(&self, m: &u32) -> Option<Verdict> {
            (*m != 7).then(|| Verdict {
                label: if *m >= 1000 { "big" } else { "small" }.into(),
                fails: *m >= 1000,
                detail: m.to_string(),
            })
        }
    }

    #[tokio::test]
    async fn finds_and_shrinks_to_the_smallest_failure_reproducibly() {
        let run = || search(0u32..100_000, 64, [3; 32], &AtLeast1000);
        let a = run().await.unwrap();
        let b = run().await.unwrap();
        let (m, detail) = a.counterexample.clone().expect("found");
        assert_eq!((m, detail.as_str()), (1000, "1000"));
        assert_eq!(a.sent, b.sent, "same seed, same cases");
        let none = search(0u32..999, 32, [3; 32], &AtLeast1000).await.unwrap();
        assert!(none.counterexample.is_none());
        assert_eq!(none.sent + none.unchanged, 32);
        let _ = any::<u8>();
    }

    #[test]
    fn the_default_seed_is_used_unless_a_valid_one_is_given() {
        let (hex, bytes) = seed();
        if std::env::var("AUTHCONFORM_SEED").is_err() {
            assert_eq!(hex, DEFAULT_SEED);
            assert_eq!(bytes[0], 0xa1);
        }
    }
}
