//! Where a field sits in a TOML text, from the toml crate's own spans, so errors found after parsing (by
//! validation rules) still name a line and column.
//!
//! A field is named by a path such as `step[3].http.bearer` or `principals.narrow.kind`, the same text
//! [`crate::error::FileError::field`] shows.

use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One segment of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` into segments; quoted keys are not needed by our files.
fn segments(field: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key.to_string()));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

/// Byte span of `field` in `text`: the key's own span when the path ends at a key, the element's span when it
/// ends at an index; the deepest part of the path that exists when the rest does not. `None` when the text
/// does not parse or not even the first segment exists.
pub fn locate(text: &str, field: &str) -> Option<Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut value: Option<&Spanned<DeValue>> = None;
    for seg in segments(field) {
        match seg {
            Segment::Key(k) => {
                let t = table.or_else(|| match value.map(Spanned::get_ref) {
                    Some(DeValue::Table(t)) => Some(t),
                    _ => None,
                })?;
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref() == &k) else {
                    return best;
                };
                best = Some(key.span());
                value = Some(v);
                table = None;
            }
            Segment::Index(i) => {
                let Some(DeValue::Array(a)) = value.map(Spanned::get_ref) else {
                    return best;
                };
                let Some(v) = a.get(i) else { return best };
                best = Some(v.span());
                value = Some(v);
                table = None;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(text: &str, field: &str) -> Option<usize> {
        locate(text, field).map(|s| crate::error::line_col(text, s.start).0)
    }

    #[test]
    fn finds_keys_in_tables_arrays_of_tables_and_inline_tables() {
        let text = "id = \"x\"\n\n[[step]]\nname = \"a\"\n\n[[step]]\nname = \"b\"\nhttp = { url = \"u\", bearer = \"t\" }\n\n[principals.narrow]\nkind = \"project-key\"\n";
        assert_eq!(line_of(text, "id"), Some(1));
        assert_eq!(line_of(text, "step[1].name"), Some(7));
        assert_eq!(line_of(text, "step[1].http.bearer"), Some(8));
        assert_eq!(line_of(text, "principals.narrow.kind"), Some(11));
    }

    #[test]
    fn a_missing_tail_points_at_the_deepest_existing_part() {
        let text = "[[check]]\nwhat = \"w\"\nexpect = { status = [200] }\n";
        assert_eq!(line_of(text, "check[0].expect.json"), Some(3));
        assert_eq!(line_of(text, "check[0]"), Some(1));
        assert_eq!(line_of(text, "nothing.here"), None);
    }

    #[test]
    fn array_elements_are_located() {
        let text = "requirements = [\n  \"A\",\n  \"B\",\n]\n";
        assert_eq!(line_of(text, "requirements[1]"), Some(3));
    }

    #[test]
    fn unparsable_text_has_no_spans() {
        assert_eq!(locate("a = ", "a"), None);
    }
}
