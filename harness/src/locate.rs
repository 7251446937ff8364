//! Finds where a key sits in a TOML text, so errors found after parsing still name a line.

/// Byte span of `key = …` inside the `index`-th `[[table]]` (or anywhere when `table` is None).
pub fn key(
    text: &str,
    table: Option<&str>,
    index: usize,
    key: &str,
) -> Option<std::ops::Range<usize>> {
    let (start, end) = match table {
        Some(t) => table_range(text, t, index)?,
        None => (0, text.len()),
    };
    let section = &text[start..end];
    let mut offset = start;
    for line in section.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        // `key = …`, `key.sub = …`, or `[table.key]` / `[[key]]` headers.
        let bare = trimmed.trim_start_matches('[');
        if let Some(rest) = bare.strip_prefix(key) {
            let next = rest.chars().next();
            if matches!(next, Some(' ' | '=' | '.' | ']' | '\t')) {
                return Some(offset + lead..offset + line.trim_end().len());
            }
        }
        // inline: `{ key = … }` within a line
        if let Some(pos) = line.find(&format!("{key} =")) {
            let before = line[..pos].chars().last();
            if matches!(before, Some(' ' | '{' | ',')) {
                return Some(offset + pos..offset + line.trim_end().len());
            }
        }
        offset += line.len();
    }
    Some(start..start)
}

/// Byte range of the `index`-th `[[table]]` array element, up to the next array header or table header.
fn table_range(text: &str, table: &str, index: usize) -> Option<(usize, usize)> {
    let header = format!("[[{table}]]");
    let mut seen = 0;
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if start.is_some() && t.starts_with("[[") && !t.starts_with(&format!("[[{table}.")) {
            return Some((start.unwrap_or(0), offset));
        }
        if t == header {
            if seen == index {
                start = Some(offset);
            }
            seen += 1;
        }
        offset += line.len();
    }
    start.map(|s| (s, text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_key_in_nth_table() {
        let text = "id = 1\n[[check]]\nrequirement = \"A\"\n[[check]]\nwhat = \"x\"\nrequirement = \"B\"\n";
        let span = key(text, Some("check"), 1, "requirement").unwrap();
        assert_eq!(crate::error::line_col(text, span.start).0, 6);
        let span = key(text, None, 0, "id").unwrap();
        assert_eq!(crate::error::line_col(text, span.start).0, 1);
    }
}
