//! Reading local files that the user names: stacks, inventories, modules,
//! templates, `source:` files, secret files and saved plans.
//!
//! Every such read goes through [`read`] (or [`read_text`]), which refuses
//! what would hang or exhaust memory instead of waiting for it:
//! - anything that is not a regular file (a FIFO blocks forever waiting for
//!   a writer, `/dev/zero` never ends, a directory is not a file). The file
//!   is opened with `O_NONBLOCK` and checked with `fstat` on the open
//!   descriptor, so swapping a FIFO in after a check cannot block either;
//! - files larger than a limit: [`MAX_CONFIG_BYTES`] for YAML and templates,
//!   [`MAX_DATA_BYTES`] for `source:` files and saved plans. Reading stops
//!   one byte past the limit, so a file that grows while it is read (or a
//!   `/proc` file that reports size 0) is still bounded.
//!
//! The limits are documented in the README ("Limits").

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest stack, inventory, module, template or secret file: 4 MiB.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Largest `source:` file (copied to hosts) or saved plan: 64 MiB.
pub const MAX_DATA_BYTES: u64 = 64 * 1024 * 1024;

/// Why a local file could not be read.
#[derive(Debug)]
pub enum LocalFileError {
    /// A FIFO, device, socket or directory.
    NotRegular { path: PathBuf, what: &'static str },
    /// Larger than the limit.
    TooLarge { path: PathBuf, limit: u64 },
    /// Valid bytes, but not UTF-8 (text files only).
    NotUtf8 { path: PathBuf, line: usize },
    /// The system refused (missing file, permissions).
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl LocalFileError {
    /// The hint, when the message alone does not say what to do (a
    /// missing file's message says enough).
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            LocalFileError::Io { .. } => None,
            _ => Some(self.help()),
        }
    }

    /// A hint saying what to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            LocalFileError::NotRegular { .. } => {
                "keel reads only regular files; point at a file, not a pipe, device or folder"
            }
            LocalFileError::TooLarge { .. } => {
                "the limits are in the README (\"Limits\"); a file this large is almost certainly the wrong file"
            }
            LocalFileError::NotUtf8 { .. } => "save the file as UTF-8 text",
            LocalFileError::Io { error, .. } => match error.kind() {
                std::io::ErrorKind::NotFound => "check the path",
                std::io::ErrorKind::PermissionDenied => "check the file's permissions",
                _ => "check the path and its permissions",
            },
        }
    }
}

impl LocalFileError {
    /// The message, naming the file's role (`"template "`, `"secret file "`).
    pub fn message(&self, role: &str) -> String {
        let name = |p: &Path| format!("{role}{}", super::display_path(p));
        match self {
            LocalFileError::NotRegular { path, what } => {
                format!("{} is {what}, not a regular file", name(path))
            }
            LocalFileError::TooLarge { path, limit } => format!(
                "{} is larger than {} MiB, the limit for this kind of file",
                name(path),
                limit / (1024 * 1024)
            ),
            LocalFileError::NotUtf8 { path, line } => {
                format!("{} is not UTF-8 text (line {line})", name(path))
            }
            LocalFileError::Io { path, error } => {
                format!("cannot read {}: {error}", name(path))
            }
        }
    }
}

impl fmt::Display for LocalFileError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message(""))
    }
}

impl std::error::Error for LocalFileError {}

fn kind_of(t: std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// Read a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, LocalFileError> {
    let io = |error| LocalFileError::Io {
        path: path.to_path_buf(),
        error,
    };
    // A cheap check first: opening a FIFO even without blocking is not
    // needed to refuse it.
    if let Ok(meta) = std::fs::metadata(path)
        && let Some(what) = kind_of(meta.file_type())
    {
        return Err(LocalFileError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(what) = kind_of(meta.file_type()) {
        return Err(LocalFileError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    let too_large = || LocalFileError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Read a regular UTF-8 text file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, LocalFileError> {
    let bytes = read(path, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        let ok = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..ok].iter().filter(|&&b| b == b'\n').count() + 1;
        LocalFileError::NotUtf8 {
            path: path.to_path_buf(),
            line,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pipe.yaml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap()
                .success()
        );
        let e = read(&p, MAX_CONFIG_BYTES).unwrap_err();
        assert!(e.to_string().contains("named pipe"), "{e}");
    }

    #[test]
    fn devices_and_folders_are_refused() {
        let e = read(Path::new("/dev/zero"), MAX_CONFIG_BYTES).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read(Path::new("/"), MAX_CONFIG_BYTES).unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");
    }

    #[test]
    fn size_is_bounded_even_when_the_file_reports_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; 101]).unwrap();
        assert!(matches!(
            read(&p, 100),
            Err(LocalFileError::TooLarge { limit: 100, .. })
        ));
        assert_eq!(read(&p, 101).unwrap().len(), 101);
        // /proc files report size 0 but have content: the read stops anyway.
        assert!(matches!(
            read(Path::new("/proc/self/maps"), 1),
            Err(LocalFileError::TooLarge { .. })
        ));
    }

    #[test]
    fn non_utf8_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"a\nb\n\xff\n").unwrap();
        let e = read_text(&p, 100).unwrap_err();
        assert!(matches!(e, LocalFileError::NotUtf8 { line: 3, .. }), "{e}");
    }
}
