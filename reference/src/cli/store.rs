//! The credential file, `$XDG_CONFIG_HOME/authconform-refcli/credentials.json`
//! (or under `$HOME/.config`): `{"api_key": "…"}`, in a 0700 folder, created
//! 0600 (0644 under the `world-readable-credentials` fault) and replaced
//! atomically; and the masked form of keys shown to the user.

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::CliError;

/// Folder of the credential file under the configuration home.
pub(crate) const DIR_NAME: &str = "authconform-refcli";
/// Name of the credential file.
pub(crate) const FILE_NAME: &str = "credentials.json";

/// The credential file for the given `XDG_CONFIG_HOME` and `HOME` (empty or
/// relative `XDG_CONFIG_HOME` is ignored, as the XDG spec says).
#[cfg(test)]
pub(crate) fn credentials_path_from(
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    Some(config_dir_from(xdg_config_home, home)?.join(FILE_NAME))
}

/// The CLI's private folder, [`DIR_NAME`] under the configuration home.
pub(crate) fn config_dir_from(
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let xdg = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        home.filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
    })?;
    Some(base.join(DIR_NAME))
}

/// [`config_dir_from`] the environment.
pub(crate) fn config_dir() -> Option<PathBuf> {
    config_dir_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

/// The credential store.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    path: PathBuf,
    file_mode: u32,
}

impl Store {
    /// The store at the standard path; `world_readable` writes the file 0644.
    pub(crate) fn open(world_readable: bool) -> Result<Self, CliError> {
        let path = config_dir().map(|dir| dir.join(FILE_NAME)).ok_or_else(|| {
            CliError::failure("no place for the credential file: set HOME or XDG_CONFIG_HOME")
        })?;
        Ok(Self::at(path, world_readable))
    }

    /// The store at `path`.
    pub(crate) fn at(path: PathBuf, world_readable: bool) -> Self {
        let file_mode = if world_readable { 0o644 } else { 0o600 };
        Self { path, file_mode }
    }

    /// The credential file's path.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The stored key; `None` when there is no file or the key is empty.
    pub(crate) fn load(&self) -> Result<Option<String>, CliError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error("read", &e)),
        };
        let value: Value = serde_json::from_str(&text).map_err(|_| {
            CliError::failure(format!(
                "the credential file {} is damaged; run `auth logout`, then `auth login`",
                self.path.display()
            ))
        })?;
        Ok(value
            .get("api_key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map(str::to_owned))
    }

    /// Writes `key` (replacing any stored key): a temporary file created with
    /// the final mode, then renamed over the credential file.
    pub(crate) fn save(&self, key: &str) -> Result<(), CliError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(|e| self.io_error("create the folder of", &e))?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let body = serde_json::to_vec_pretty(&json!({ "api_key": key }))
            .map_err(|e| CliError::failure(format!("cannot encode the credential: {e}")))?;
        let written =
            write_new(&tmp, &body, self.file_mode).and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(self.io_error("write", &e));
        }
        Ok(())
    }

    /// Deletes the credential file; `false` when there was none.
    pub(crate) fn remove(&self) -> Result<bool, CliError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error("remove", &e)),
        }
    }

    fn io_error(&self, what: &str, e: &std::io::Error) -> CliError {
        CliError::failure(format!(
            "cannot {what} the credential file {}: {e}",
            self.path.display()
        ))
    }
}

/// Creates `dir` (and missing parents) with mode 0700 and makes sure `dir` itself is 0700.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Writes `body` to a new file created with `mode` (exactly `mode`, whatever the umask).
pub(crate) fn write_new(path: &Path, body: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode & 0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    if mode != mode & 0o600 {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(body)?;
    file.sync_all()
}

/// The masked form of a key: `…` and its last 4 characters (only `…` for keys
/// shorter than 8 characters, whose last 4 would give too much away).
pub(crate) fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 8 {
        return "…".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

/// `text` with every occurrence of `key` masked.
pub(crate) fn mask_in(text: &str, key: Option<&str>) -> String {
    match key {
        Some(key) if !key.is_empty() => text.replace(key, &mask(key)),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefers_absolute_xdg_config_home() {
        let p = credentials_path_from(Some("/x/cfg".into()), Some("/home/u".into()));
        assert_eq!(
            p,
            Some(PathBuf::from("/x/cfg/authconform-refcli/credentials.json"))
        );
        let p = credentials_path_from(Some("relative".into()), Some("/home/u".into()));
        assert_eq!(
            p,
            Some(PathBuf::from(
                "/home/u/.config/authconform-refcli/credentials.json"
            ))
        );
        let p = credentials_path_from(None, Some("/home/u".into()));
        assert_eq!(
            p,
            Some(PathBuf::from(
                "/home/u/.config/authconform-refcli/credentials.json"
            ))
        );
        assert_eq!(credentials_path_from(Some("".into()), None), None);
    }

    #[test]
    fn masks_keep_only_the_last_four() {
        assert_eq!(mask("sk_test_SENTINEL"), "…INEL");
        assert_eq!(mask("short"), "…");
        assert_eq!(
            mask_in(r#"{"k":"sk_test_SENTINEL"}"#, Some("sk_test_SENTINEL")),
            r#"{"k":"…INEL"}"#
        );
        assert_eq!(mask_in("abc", None), "abc");
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn saves_private_and_round_trips() {
        let tmp = tempdir();
        let store = Store::at(tmp.join("cfg").join(DIR_NAME).join(FILE_NAME), false);
        assert_eq!(store.load().unwrap(), None);
        store.save("sk_test_SENTINEL").unwrap();
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(store.path().parent().unwrap()), 0o700);
        assert_eq!(store.load().unwrap().as_deref(), Some("sk_test_SENTINEL"));
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap());
        assert_eq!(store.load().unwrap(), None);
        let _ = fs::remove_dir_all(&tmp);
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_fault_writes_0644_and_replaces_modes() {
        let tmp = tempdir();
        let path = tmp.join(DIR_NAME).join(FILE_NAME);
        let store = Store::at(path.clone(), true);
        store.save("sk_test_SENTINEL").unwrap();
        assert_eq!(mode(&path), 0o644);
        // A later correct save replaces the file, so the mode is 0600 again.
        Store::at(path.clone(), false)
            .save("sk_test_OTHER1")
            .unwrap();
        assert_eq!(mode(&path), 0o600);
        let _ = fs::remove_dir_all(&tmp);
    }

    fn tempdir() -> PathBuf {
        let n: u64 = rand::random();
        let dir = std::env::temp_dir().join(format!("refcli-store-{n:x}"));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
