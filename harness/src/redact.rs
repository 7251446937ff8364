//! Secrets to placeholders: no credential value reaches a report, a log or a snapshot.

/// Replaces registered secret values by stable placeholders such as `[TOKEN:valid]` or `[KEY:project]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    pairs: Vec<(String, String)>,
}

impl Redactor {
    /// Registers `secret` to be shown as `placeholder`. Empty and very short values are ignored, since
    /// replacing them would garble unrelated text (they are not secrets worth the name).
    pub fn add(&mut self, secret: impl Into<String>, placeholder: impl Into<String>) {
        let secret = secret.into();
        if secret.len() < crate::target::principal::MIN_SECRET_LEN
            || self.pairs.iter().any(|(s, _)| *s == secret)
        {
            return;
        }
        self.pairs.push((secret, placeholder.into()));
        // Longest first, so a token that contains another is replaced whole.
        self.pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    /// `text` with every registered secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (secret, placeholder) in &self.pairs {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), placeholder);
            }
        }
        out
    }

    /// Every registered (secret, placeholder) pair, longest secret first.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Merges another redactor's pairs into this one.
    pub fn extend(&mut self, other: &Redactor) {
        for (s, p) in &other.pairs {
            self.add(s.clone(), p.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_secret_wins_and_short_ones_are_ignored() {
        let mut r = Redactor::default();
        r.add("abcdef", "[TOKEN:short]");
        r.add("abcdefghij", "[TOKEN:long]");
        r.add("ab", "[X]");
        assert_eq!(
            r.redact("x abcdefghij y abcdef ab"),
            "x [TOKEN:long] y [TOKEN:short] ab"
        );
    }
}
