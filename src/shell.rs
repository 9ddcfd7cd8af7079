//! Building POSIX shell scripts safely.
//!
//! Every script keel runs on a host is sent on the standard input of `sh -s`
//! (see [`crate::transport`]), never in a command's arguments, so secrets and
//! file contents do not show in `ps` on the host. Every value interpolated
//! into a script goes through [`q`]; data (file contents) travels base64
//! encoded in a quoted here-document, so no byte of it is ever interpreted.

use std::fmt::Write as _;

/// Quote a value for a POSIX shell. Values never contain NUL: the loader
/// rejects it (see `resolve`), and it is dropped here as a last defence.
pub fn q(value: &str) -> String {
    match shlex::try_quote(value) {
        Ok(s) => s.into_owned(),
        Err(_) => shlex::try_quote(&value.replace('\0', ""))
            .map(|s| s.into_owned())
            .unwrap_or_else(|_| "''".to_string()),
    }
}

/// Encode bytes as base64 (standard alphabet, with padding), wrapped at 76
/// columns so here-documents stay line-oriented.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 57 + 4);
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push('\n');
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63] as char);
        out.push(ALPHABET[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Decode base64 as printed by `base64` (ignores whitespace).
pub fn unbase64(text: &str) -> Result<Vec<u8>, String> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return Err("base64 text has a length that is not a multiple of 4".into());
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                val(c).ok_or_else(|| format!("invalid base64 character {:?}", c as char))?
            };
            n = (n << 6) | v;
        }
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

/// A here-document delimiter that cannot occur in base64 text.
pub const HEREDOC_END: &str = "KEEL_DATA_END";

/// A shell fragment that writes `data` to the file named by the shell word
/// `target` (already quoted, or a `"$var"`), without interpreting any byte.
pub fn write_data(target: &str, data: &[u8]) -> String {
    format!(
        "base64 -d > {target} <<'{HEREDOC_END}'\n{}\n{HEREDOC_END}\n",
        base64(data)
    )
}

/// Ownership and permissions to set on a path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Perms {
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Octal digits, e.g. `"0644"`.
    pub mode: Option<String>,
}

impl Perms {
    /// Shell lines that apply these permissions to the shell word `target`.
    pub fn apply_to(&self, target: &str) -> String {
        let mut s = String::new();
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => {
                let _ = writeln!(s, "chown {} {target}", q(&format!("{o}:{g}")));
            }
            (Some(o), None) => {
                let _ = writeln!(s, "chown {} {target}", q(o));
            }
            (None, Some(g)) => {
                let _ = writeln!(s, "chgrp {} {target}", q(g));
            }
            (None, None) => {}
        }
        if let Some(m) = &self.mode {
            let _ = writeln!(s, "chmod {} {target}", q(m));
        }
        s
    }
}

/// A script that replaces `path` atomically with `data`: a temporary file
/// in the same directory gets the content, owner and mode, then is renamed
/// over the target. On any failure the temporary file is removed and the
/// target is untouched.
pub fn write_file_atomic(path: &str, data: &[u8], perms: &Perms) -> String {
    let (dir, base) = match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    };
    let template = format!("{dir}/.{base}.keel.XXXXXX");
    let mut s = String::new();
    let _ = writeln!(s, "set -e");
    let _ = writeln!(s, "keel_tmp=$(mktemp {})", q(&template));
    let _ = writeln!(s, "trap 'rm -f \"$keel_tmp\"' EXIT");
    s.push_str(&write_data("\"$keel_tmp\"", data));
    // mktemp creates 0600; keep the existing mode/owner unless told otherwise.
    let _ = writeln!(
        s,
        "if [ -e {p} ]; then chmod --reference={p} \"$keel_tmp\"; chown --reference={p} \"$keel_tmp\" 2>/dev/null || true; else chmod 0644 \"$keel_tmp\"; fi",
        p = q(path)
    );
    s.push_str(&perms.apply_to("\"$keel_tmp\""));
    let _ = writeln!(s, "mv -f \"$keel_tmp\" {}", q(path));
    let _ = writeln!(s, "trap - EXIT");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_hostile_values() {
        for v in [
            "plain",
            "it's",
            "$(rm -rf /)",
            "a; b",
            "line\nbreak",
            "`id`",
            "\"dq\"",
            "back\\slash",
            "",
            "!bang",
            "*glob?",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", q(v)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), v, "value {v:?}");
        }
    }

    #[test]
    fn base64_round_trips_and_matches_coreutils() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let enc = base64(&data);
        assert_eq!(unbase64(&enc).unwrap(), data);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{}cat /tmp/keel-b64-test-$$; rm -f /tmp/keel-b64-test-$$",
                write_data("/tmp/keel-b64-test-$$", &data)
            ))
            .output()
            .unwrap();
        assert_eq!(out.stdout, data);
        for n in 0..5 {
            let d = &data[..n];
            assert_eq!(unbase64(&base64(d)).unwrap(), d);
        }
    }

    #[test]
    fn atomic_write_replaces_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a file; $(x)");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "old").unwrap();
        let script = write_file_atomic(
            p,
            b"new 'content'\n",
            &Perms {
                mode: Some("0640".into()),
                ..Perms::default()
            },
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new 'content'\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
