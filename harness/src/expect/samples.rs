//! `samples`: values a `sample` step collected (session IDs) are numerous, distinct, visible ASCII and
//! unpredictable (HYG-009). Unpredictability is estimated from the values themselves: a position whose
//! character never changes carries no entropy; one that changes carries log2 of the alphabet seen across all
//! values. A counter or a timestamp prefix shows up as constant positions.

use super::{Expectation, Fail};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;
use std::collections::BTreeSet;

/// `samples = { count, distinct, visible_ascii, min_bits }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplesExpect {
    /// At least this many values were collected.
    pub count: Option<usize>,
    /// No value repeats.
    #[serde(default)]
    pub distinct: bool,
    /// Every character is visible ASCII (0x21–0x7E).
    #[serde(default)]
    pub visible_ascii: bool,
    /// The estimated entropy per value is at least this many bits.
    pub min_bits: Option<f64>,
}

/// The entropy estimate of `values`, in bits (see the module docs).
pub fn estimated_bits(values: &[String]) -> f64 {
    let chars: Vec<Vec<char>> = values.iter().map(|v| v.chars().collect()).collect();
    let Some(len) = chars.iter().map(Vec::len).min() else {
        return 0.0;
    };
    let alphabet: BTreeSet<char> = chars.iter().flatten().copied().collect();
    let per = (alphabet.len().max(1) as f64).log2();
    (0..len)
        .filter(|&i| chars.iter().any(|c| c[i] != chars[0][i]))
        .count() as f64
        * per
}

impl Expectation for SamplesExpect {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        if self.count.is_none() && !self.distinct && !self.visible_ascii && self.min_bits.is_none()
        {
            return Err(Invalid::new("", "expects nothing"));
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let Some(values) = view.samples else {
            return Err((
                "sampled values".into(),
                "this kind of step samples nothing".into(),
            ));
        };
        if let Some(n) = self.count
            && values.len() < n
        {
            return Err((format!("at least {n} values"), format!("{}", values.len())));
        }
        if self.distinct {
            let unique: BTreeSet<&String> = values.iter().collect();
            if unique.len() != values.len() {
                let repeats = values.len() - unique.len();
                return Err(("every value distinct".into(), format!("{repeats} repeated")));
            }
        }
        if self.visible_ascii
            && let Some(i) = values
                .iter()
                .position(|v| v.is_empty() || !v.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        {
            return Err((
                "only visible ASCII (0x21-0x7E), non-empty".into(),
                format!("value {} is not", i + 1),
            ));
        }
        if let Some(min) = self.min_bits {
            let bits = estimated_bits(values);
            if bits < min {
                return Err((
                    format!("at least {min} bits of estimated entropy"),
                    format!("{bits:.0} bits (positions that vary x log2 of the alphabet)"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn uuids_are_rich_and_counters_are_not() {
        let uuids = v(&[
            "0b7c1f3e-8a52-4d1e-9f0a-6c2d3b4e5f61",
            "f3a9d2c4-1b6e-4a7f-8c3d-2e1f0a9b8c7d",
            "7e6d5c4b-3a29-4817-a6b5-c4d3e2f1a0b9",
        ]);
        assert!(
            estimated_bits(&uuids) >= 122.0,
            "{}",
            estimated_bits(&uuids)
        );
        let counters = v(&["session-1", "session-2", "session-3"]);
        assert!(estimated_bits(&counters) < 8.0);
        assert_eq!(estimated_bits(&[]), 0.0);
    }

    #[test]
    fn judges_count_distinct_charset_and_bits() {
        let e = SamplesExpect {
            count: Some(2),
            distinct: true,
            visible_ascii: true,
            min_bits: Some(10.0),
        };
        let vars = Vars::default();
        let judge = |vals: &[String]| {
            e.judge_step(
                &View {
                    samples: Some(vals),
                    ..View::default()
                },
                &vars,
            )
        };
        assert!(judge(&v(&["abcdef", "fedcba"])).is_ok());
        assert!(judge(&v(&["abcdef"])).is_err());
        assert!(
            judge(&v(&["abcdef", "abcdef"]))
                .unwrap_err()
                .1
                .contains("repeated")
        );
        assert!(judge(&v(&["abc def", "fedcba"])).is_err());
        assert!(
            judge(&v(&["id-1", "id-2"]))
                .unwrap_err()
                .0
                .contains("entropy")
        );
        assert!(e.judge_step(&View::default(), &vars).is_err());
    }
}
