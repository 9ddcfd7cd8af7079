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

/// Checks run when a file is replaced, so a broken configuration never
/// replaces a working one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// Run on the new content before it is installed; `%s` is the path of
    /// the temporary file (`promtool check config %s`, `visudo -cf %s`).
    pub validate: Option<String>,
    /// Run after it is installed (`nginx -t`); on failure the previous file
    /// is put back (or the new one removed) and the step fails.
    pub verify: Option<String>,
}

impl Checks {
    pub fn is_empty(&self) -> bool {
        self.validate.is_none() && self.verify.is_none()
    }
}

/// Like [`write_file_atomic`], with a validation of the new content before
/// it is installed and a verification after, restoring the previous file
/// when the verification fails. The command texts are the user's own shell
/// (they run as written); only the paths keel inserts are quoted.
pub fn write_file_checked(path: &str, data: &[u8], perms: &Perms, checks: &Checks) -> String {
    let plain = write_file_atomic(path, data, perms);
    if checks.is_empty() {
        return plain;
    }
    // Everything up to the final rename, then the checks around it.
    let rename = format!("mv -f \"$keel_tmp\" {}\n", q(path));
    let Some(cut) = plain.find(&rename) else {
        return plain;
    };
    let mut s = plain[..cut].to_string();
    if let Some(v) = &checks.validate {
        let cmd = v.replace("%s", "\"$keel_tmp\"");
        let _ = writeln!(
            s,
            "if ! keel_out=$( {{ {cmd}\n}} 2>&1 ); then printf 'keel: validation failed; %s was not changed:\\n%s\\n' {p} \"$keel_out\" >&2; exit 1; fi",
            p = q(path)
        );
    }
    match &checks.verify {
        Some(v) => {
            let (dir, base) = match path.rfind('/') {
                Some(0) => ("/", &path[1..]),
                Some(i) => (&path[..i], &path[i + 1..]),
                None => (".", path),
            };
            let _ = writeln!(s, "keel_bak=");
            let _ = writeln!(
                s,
                "if [ -e {p} ]; then keel_bak=$(mktemp {b}); cp -p {p} \"$keel_bak\"; fi",
                p = q(path),
                b = q(&format!("{dir}/.{base}.keel-bak.XXXXXX"))
            );
            s.push_str(&rename);
            let _ = writeln!(
                s,
                "if ! keel_out=$( {{ {v}\n}} 2>&1 ); then if [ -n \"$keel_bak\" ]; then mv -f \"$keel_bak\" {p}; printf 'keel: check failed; the previous %s was put back:\\n%s\\n' {p} \"$keel_out\" >&2; else rm -f {p}; printf 'keel: check failed; the new %s was removed:\\n%s\\n' {p} \"$keel_out\" >&2; fi; exit 1; fi",
                p = q(path)
            );
            let _ = writeln!(s, "[ -z \"$keel_bak\" ] || rm -f \"$keel_bak\"");
        }
        None => s.push_str(&rename),
    }
    s.push_str(&plain[cut + rename.len()..]);
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

    fn run(script: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap()
    }

    #[test]
    fn failed_validation_leaves_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.conf");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "good\n").unwrap();
        let checks = Checks {
            validate: Some("grep -q good %s".into()),
            verify: None,
        };
        let out = run(&write_file_checked(p, b"bad\n", &Perms::default(), &checks));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("validation failed"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "good\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let ok = run(&write_file_checked(
            p,
            b"good too\n",
            &Perms::default(),
            &checks,
        ));
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "good too\n");
    }

    #[test]
    fn failed_verification_restores_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.conf");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "old\n").unwrap();
        let checks = Checks {
            validate: None,
            verify: Some(format!("grep -q ok {}", q(p))),
        };
        let out = run(&write_file_checked(p, b"bad\n", &Perms::default(), &checks));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("put back"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no backup left"
        );
        // A new file that fails verification is removed.
        let fresh = dir.path().join("new.conf");
        let f = fresh.to_str().unwrap();
        let checks = Checks {
            validate: None,
            verify: Some("false".into()),
        };
        assert!(
            !run(&write_file_checked(f, b"x\n", &Perms::default(), &checks))
                .status
                .success()
        );
        assert!(!fresh.exists());
        let good = run(&write_file_checked(
            p,
            b"ok\n",
            &Perms::default(),
            &Checks {
                validate: None,
                verify: Some(format!("grep -q ok {}", q(p))),
            },
        ));
        assert!(good.status.success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ok\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only site.conf"
        );
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
