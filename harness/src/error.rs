//! Errors for invalid input files: each names the file, the line and column, and the field.

use std::fmt;
use std::path::{Path, PathBuf};

/// An input file (target or scenario) that cannot be used, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file, as given on the command line or found in the scenarios folder.
    pub file: PathBuf,
    /// 1-based line of the offending value (1 when the whole file is at fault).
    pub line: usize,
    /// 1-based column of the offending value.
    pub column: usize,
    /// Dotted path of the field, e.g. `check[2].requirement`; empty for file-level errors.
    pub field: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl FileError {
    /// An error located by a byte span in `text`.
    pub fn at_span(
        file: &Path,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        FileError {
            file: file.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about the file as a whole (unreadable, empty).
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        FileError {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            field: String::new(),
            message: message.into(),
        }
    }

    /// An error at `field` (a path such as `step[2].http.bearer`), located through the TOML text's spans.
    pub fn at_field(file: &Path, text: &str, field: &str, message: impl Into<String>) -> Self {
        Self::at_span(
            file,
            text,
            crate::spans::locate(text, field),
            field,
            message,
        )
    }

    /// Turns a validation rule's [`Invalid`] into a located error.
    pub fn from_invalid(file: &Path, text: &str, invalid: Invalid) -> Self {
        Self::at_field(file, text, &invalid.field, invalid.message)
    }

    /// Parses `text` as TOML into `T`, turning any syntax or schema error into a located [`FileError`].
    pub fn parse_toml<T: serde::de::DeserializeOwned>(
        file: &Path,
        text: &str,
    ) -> Result<T, FileError> {
        let de = toml::de::Deserializer::parse(text)
            .map_err(|e| Self::at_span(file, text, e.span(), "", first_line(e.message())))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.inner();
            let field = if field == "." { String::new() } else { field };
            let message = first_line(inner.message());
            // For an unknown key, toml points at its table; point at the key itself.
            let span = match unknown_field(&message) {
                Some(key) => {
                    let path = if field.is_empty() {
                        key.to_string()
                    } else {
                        format!("{field}.{key}")
                    };
                    crate::spans::locate(text, &path).or(inner.span())
                }
                None => inner.span(),
            };
            Self::at_span(file, text, span, field, message)
        })
    }
}

/// A validation rule's finding: the field (path relative to the file) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted path of the field, e.g. `step[2].http.bearer`.
    pub field: String,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl Invalid {
    /// A finding about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same finding, with `prefix.` put before the field.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// The key named by an "unknown field `x`" message.
fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

/// 1-based line and column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn unknown_key_names_line_and_field() {
        let text = "name = \"x\"\n[inner]\ncount = 1\ncolour = 2\n";
        let err = FileError::parse_toml::<Doc>(Path::new("t.toml"), text).unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        assert!(err.field.contains("inner"), "{err}");
        assert!(err.message.contains("colour"), "{err}");
    }

    #[test]
    fn bad_value_names_line() {
        let text = "name = \"x\"\n[inner]\ncount = \"many\"\n";
        let err = FileError::parse_toml::<Doc>(Path::new("t.toml"), text).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert_eq!(err.field, "inner.count", "{err}");
    }

    #[test]
    fn syntax_error_is_located() {
        let err = FileError::parse_toml::<Doc>(Path::new("t.toml"), "name = \n").unwrap_err();
        assert_eq!(err.line, 1, "{err}");
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn unknown_key_in_array_table_points_at_the_key() {
        let text = "id = 1\n\n[[check]]\nrequirement = \"A\"\nwhat = \"w\"\ncolour = \"red\"\n";
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct C {
            requirement: String,
            what: String,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct D {
            id: u32,
            check: Vec<C>,
        }
        let err = FileError::parse_toml::<D>(Path::new("t.toml"), text).unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (6, "check[0].colour"),
            "{err:?}"
        );
    }
}
