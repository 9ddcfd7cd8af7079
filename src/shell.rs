//! Building POSIX shell scripts safely.
//!
//! Every script keel runs on a host is sent on the standard input of `sh -s`
//! (see [`crate::transport`]), never in a command's arguments, so secrets and
//! file contents do not show in `ps` on the host. Every value interpolated
//! into a script goes through [`q`]; data (file contents) travels base64
//! encoded in a quoted here-document, so no byte of it is ever interpreted.

use std::fmt::Write as _;

/// Quote a value for a POSIX shell.
///
/// A shell word cannot hold a NUL byte, so such a value cannot be passed
/// faithfully. The loader refuses NUL in every rendered value (see
/// `resolve`); should one come from elsewhere (a host's own output, say),
/// the value is never altered: the word it becomes stops the script when
/// it is expanded, with a message on stderr, before any command uses it.
pub fn q(value: &str) -> String {
    match shlex::try_quote(value) {
        Ok(s) => s.into_owned(),
        Err(_) => NUL_WORD.to_string(),
    }
}

/// What [`q`] returns for a value with a NUL byte: expanding it prints why
/// and kills the script's shell (`$$` is that shell, even in a subshell).
pub const NUL_WORD: &str = "\"$(echo 'keel: a value with a NUL byte cannot be passed to a shell; nothing more of this step runs' >&2; kill -s TERM $$)\"";

/// Encode bytes as base64 (standard alphabet, with padding), wrapped at 76
/// columns so here-documents stay line-oriented.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 76);
    for (i, c) in flat.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            out.push('\n');
        }
        out.push(c);
    }
    out
}

/// Decode base64 as printed by `base64` (ignores whitespace; bits after
/// the last whole byte are ignored, as coreutils does).
pub fn unbase64(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return Err("base64 text has a length that is not a multiple of 4".into());
    }
    // Padding ends a piece: `base64 -d` reads concatenated encodings too.
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let mut start = 0;
    for end in (4..=clean.len()).step_by(4) {
        if clean[end - 1] == b'=' || end == clean.len() {
            LENIENT
                .decode_vec(&clean[start..end], &mut out)
                .map_err(|e| match e {
                    base64::DecodeError::InvalidByte(_, c) => {
                        format!("invalid base64 character {:?}", c as char)
                    }
                    e => format!("invalid base64: {e}"),
                })?;
            start = end;
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

/// Split a path into its directory and base name (`/` and `.` when it has
/// none).
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    }
}

/// A private temporary file that replaces a target on the host: the one
/// way keel writes a file there.
///
/// Nobody but its owner can ever open it: it is created under `umask 077`
/// (by `mktemp`, which also refuses an existing name) and set to 0600
/// before any byte is written; the content goes in; then the owner and
/// group, and only then the final mode; then it is renamed over the target,
/// so readers see the old file or the new one, never a part. A descriptor
/// opened on a world-readable file keeps reading after a later `chmod`, so
/// the order matters: the file is never readable by anyone but root (or its
/// final owner) until it has its final mode.
///
/// The methods return shell lines; the caller puts them in order and
/// removes the file on failure ([`TempFile::remove`], usually in an `EXIT`
/// trap). [`write_file_atomic`] is the whole sequence for content known
/// when the plan is made.
#[derive(Debug, Clone)]
pub struct TempFile {
    /// The shell variable holding the temporary file's path.
    var: String,
    /// The target, as a shell word (quoted, or a `"$var"`).
    target: String,
    /// The `mktemp` template, as a shell word.
    template: String,
}

impl TempFile {
    /// A temporary file beside the literal `path`
    /// (`DIR/.BASE.keel.XXXXXX`), held in the shell variable `var`.
    pub fn beside(var: &str, path: &str) -> TempFile {
        TempFile::tagged(var, path, "keel")
    }

    /// Like [`TempFile::beside`], with another tag in the name
    /// (`DIR/.BASE.TAG.XXXXXX`), e.g. for a backup copy.
    pub fn tagged(var: &str, path: &str, tag: &str) -> TempFile {
        let (dir, base) = split_path(path);
        let dir = if dir == "/" { "" } else { dir };
        TempFile {
            var: var.to_string(),
            target: q(path),
            template: q(&format!("{dir}/.{base}.{tag}.XXXXXX")),
        }
    }

    /// A temporary file beside a target known only on the host: `word` is a
    /// shell word naming it (`"$keel_p"`, `"$2"`).
    pub fn beside_word(var: &str, word: &str) -> TempFile {
        TempFile {
            var: var.to_string(),
            target: word.to_string(),
            template: format!("\"$(dirname -- {word})/.$(basename -- {word}).keel.XXXXXX\""),
        }
    }

    /// The temporary file as a shell word, `"$var"`.
    pub fn word(&self) -> String {
        format!("\"${}\"", self.var)
    }

    /// Create it, private from the first instant; exits the script with a
    /// message when it cannot be created.
    pub fn create(&self) -> String {
        format!(
            "{v}=$(umask 077 && mktemp -- {t}) || {{ printf 'keel: cannot create a temporary file beside %s\\n' {target} >&2; exit 1; }}\nchmod 0600 {w}\n",
            v = self.var,
            t = self.template,
            target = self.target,
            w = self.word(),
        )
    }

    /// Write `data` into it (base64 in a quoted here-document: no byte is
    /// interpreted).
    pub fn fill(&self, data: &[u8]) -> String {
        write_data(&self.word(), data)
    }

    /// Fill it with what the shell code `cmd` prints on stdout, for content
    /// that is built on the host.
    pub fn fill_from(&self, cmd: &str) -> String {
        format!("{{\n{cmd}\n}} > {}\n", self.word())
    }

    /// Owner and group, then the mode, each as declared in `perms`; what is
    /// not declared is taken from the target when it exists, else the owner
    /// stays keel's user and the mode is 0644. The owner changes at most
    /// once, straight to the final one, and the mode is set last.
    pub fn set_perms(&self, perms: &Perms) -> String {
        let (t, w) = (&self.target, self.word());
        let mut s = String::new();
        let keep_owner =
            format!("if [ -e {t} ]; then chown --reference={t} {w} 2>/dev/null || true; fi");
        match (&perms.owner, &perms.group) {
            (Some(o), Some(g)) => {
                let _ = writeln!(s, "chown -- {} {w}", q(&format!("{o}:{g}")));
            }
            (Some(o), None) => {
                let _ = writeln!(s, "chown -- {} {w}", q(o));
                let _ = writeln!(
                    s,
                    "if [ -e {t} ]; then chgrp --reference={t} {w} 2>/dev/null || true; fi"
                );
            }
            (None, Some(g)) => {
                let _ = writeln!(s, "{keep_owner}\nchgrp -- {} {w}", q(g));
            }
            (None, None) => {
                let _ = writeln!(s, "{keep_owner}");
            }
        }
        match &perms.mode {
            Some(m) => {
                let _ = writeln!(s, "chmod {} {w}", q(m));
            }
            None => {
                let _ = writeln!(
                    s,
                    "if [ -e {t} ]; then chmod --reference={t} {w}; else chmod 0644 {w}; fi"
                );
            }
        }
        s
    }

    /// Rename it over the target.
    pub fn rename(&self) -> String {
        format!("mv -f -- {} {}\n", self.word(), self.target)
    }

    /// Remove it (for a trap or a failure branch); harmless when it was
    /// already renamed or never created.
    pub fn remove(&self) -> String {
        format!("rm -f -- {}", self.word())
    }
}

/// Shell lines that make a private temporary directory (0700, created
/// under `umask 077`) held in the shell variable `var`; exits the script
/// with a message when it cannot be made.
pub fn private_dir(var: &str) -> String {
    format!(
        "{var}=$(umask 077 && mktemp -d) || {{ echo 'keel: cannot create a temporary directory' >&2; exit 1; }}\n"
    )
}

/// A script that replaces `path` atomically with `data` through a
/// [`TempFile`]: created private, filled, given owner and mode (those of
/// the file it replaces for what `perms` leaves out; 0644 for a new file),
/// then renamed over the target. On any failure the temporary file is
/// removed and the target is untouched.
pub fn write_file_atomic(path: &str, data: &[u8], perms: &Perms) -> String {
    let tmp = TempFile::beside("keel_tmp", path);
    let mut s = String::new();
    let _ = writeln!(s, "set -e");
    s.push_str(&tmp.create());
    let _ = writeln!(s, "trap '{}' EXIT", tmp.remove());
    s.push_str(&tmp.fill(data));
    s.push_str(&tmp.set_perms(perms));
    s.push_str(&tmp.rename());
    let _ = writeln!(s, "trap - EXIT");
    s
}

/// Lines of a `set -e` script replacing `path` atomically with what the
/// shell code `producer` prints, as a private (0600) file: a temporary
/// file beside it (held in `var`), removed by an `EXIT` trap if anything
/// fails, renamed into place; then the trap is cleared. The folder must
/// exist. keel's own records (release records, prune ledgers) use it.
pub fn write_private_from(var: &str, path: &str, producer: &str) -> String {
    let tmp = TempFile::beside(var, path);
    let mut s = tmp.create();
    let _ = writeln!(s, "trap '{}' EXIT", tmp.remove());
    s.push_str(&tmp.fill_from(producer));
    s.push_str(&tmp.set_perms(&Perms {
        owner: None,
        group: None,
        mode: Some("0600".into()),
    }));
    s.push_str(&tmp.rename());
    s.push_str("trap - EXIT\n");
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
    let rename = TempFile::beside("keel_tmp", path).rename();
    let Some(cut) = plain.find(&rename) else {
        return plain;
    };
    let mut s = plain[..cut].to_string();
    // The fixed failure handling; the check commands are the user's own
    // shell, spliced in as written.
    s.push_str(
        &Script::new(include_str!("shell/checked.sh"))
            .set("keel_checked", path)
            .render(),
    );
    if let Some(v) = &checks.validate {
        let cmd = v.replace("%s", "\"$keel_tmp\"");
        let _ = writeln!(
            s,
            "if ! keel_out=$( {{ {cmd}\n}} 2>&1 ); then keel_check_rejected \"$keel_out\"; fi"
        );
    }
    match &checks.verify {
        Some(v) => {
            let bak = TempFile::tagged("keel_bak", path, "keel-bak");
            let _ = writeln!(s, "keel_bak=");
            let _ = writeln!(
                s,
                "if [ -e {p} ]; then\n{}cp -p {p} \"$keel_bak\"\nfi",
                bak.create(),
                p = q(path),
            );
            s.push_str(&rename);
            let _ = writeln!(
                s,
                "if ! keel_out=$( {{ {v}\n}} 2>&1 ); then keel_check_restore \"$keel_bak\" \"$keel_out\"; fi"
            );
            let _ = writeln!(s, "[ -z \"$keel_bak\" ] || rm -f \"$keel_bak\"");
        }
        None => s.push_str(&rename),
    }
    s.push_str(&plain[cut + rename.len()..]);
    s
}

// ---------------------------------------------------------------------------
// Scripts kept as `.sh` files.

/// A shell script kept as a real `.sh` file beside the code that runs it
/// (so it can be read, linted with shellcheck and diffed as shell), filled
/// with parameters as one block of quoted assignments at the top:
///
/// ```ignore
/// Script::new(include_str!("file/probe.sh"))
///     .set("path", &self.path)
///     .render()
/// ```
///
/// The file declares its parameters in a comment line `# params: path
/// follow` (one line, names separated by spaces; the shellcheck test in
/// `tests/shellcheck.rs` assigns them before linting), and its first line
/// after the header is `: "${path?}" "${follow?}"`: a parameter left unset
/// stops the script, and a plain `shellcheck` run knows they are set. [`Script::render`]
/// checks that exactly the declared parameters were set, each once: a
/// mismatch is a bug in keel, caught by the kind's fixture tests.
#[derive(Debug, Clone)]
pub struct Script {
    body: &'static str,
    params: Vec<(&'static str, String)>,
}

impl Script {
    pub fn new(body: &'static str) -> Self {
        Script {
            body,
            params: Vec::new(),
        }
    }

    /// Set a parameter; the value is quoted with [`q`].
    pub fn set(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        self.params.push((name, q(value.as_ref())));
        self
    }

    /// Set a parameter to a yes/no flag (`yes` or empty), for `[ -n "$x" ]`.
    pub fn flag(self, name: &'static str, on: bool) -> Self {
        self.set(name, if on { "yes" } else { "" })
    }

    /// The parameters the file declares in its `# params:` line.
    pub fn declared(body: &str) -> Vec<&str> {
        body.lines()
            .find_map(|l| l.strip_prefix("# params:"))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default()
    }

    /// The assignments, then the file's text without its leading comment
    /// block (shebang, description, `# params:`).
    pub fn render(&self) -> String {
        if cfg!(debug_assertions) {
            // Checked in debug builds (tests) only: every probe and command
            // is rendered here, and the check was a tenth of a large plan.
            let mut set: Vec<&str> = self.params.iter().map(|(n, _)| *n).collect();
            set.sort_unstable();
            let mut want = Script::declared(self.body);
            want.sort_unstable();
            assert_eq!(
                set, want,
                "parameters set for a script differ from its `# params:` line"
            );
        }
        let mut out = String::with_capacity(
            self.body.len()
                + self
                    .params
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 2)
                    .sum::<usize>(),
        );
        for (name, value) in &self.params {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            out.push('\n');
        }
        let mut rest = self.body;
        while rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
        }
        out.push_str(rest);
        out
    }
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
    fn unbase64_reads_what_coreutils_reads() {
        // Wrapped lines, concatenated encodings, bits after the last byte.
        assert_eq!(unbase64("Zm9v\nYmFy\n").unwrap(), b"foobar");
        assert_eq!(unbase64("Zg==Zm8=Zm9v").unwrap(), b"ffofoo");
        assert_eq!(unbase64("Zh==").unwrap(), b"f");
        assert_eq!(unbase64(" \n").unwrap(), b"");
        assert_eq!(
            unbase64("Z!==").unwrap_err(),
            "invalid base64 character '!'"
        );
        assert!(unbase64("Zg=").unwrap_err().contains("multiple of 4"));
        assert!(unbase64("Z===").is_err());
        // Encoding wraps at 76 columns, as coreutils prints.
        let enc = base64(&[0u8; 100]);
        assert_eq!(enc.lines().map(str::len).collect::<Vec<_>>(), [76, 60]);
    }

    fn run(script: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap()
    }

    #[test]
    fn private_files_are_replaced_atomically_or_not_at_all() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.json");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let script = |producer: &str| format!("set -e\n{}", write_private_from("v", p, producer));
        let out = run(&script("printf '%s\\n' new"));
        assert!(out.status.success(), "{out:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A producer that fails: the file stays, no temporary file is left.
        let out = run(&script("echo partial; false"));
        assert!(!out.status.success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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

    /// Run `script` with `base64`, `chmod`, `chown` and `chgrp` wrapped: each
    /// logs what it does (the wrapper of `base64` logs the mode of the file
    /// it writes to) and then runs the real one. Returns the log.
    fn run_logged(dir: &std::path::Path, script: &str) -> (std::process::Output, String) {
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = dir.join("log");
        for tool in ["base64", "chmod", "chown", "chgrp"] {
            let real = run(&format!("command -v {tool}"));
            let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
            let extra = if tool == "base64" {
                format!(
                    "printf 'write into mode %s\\n' \"$(stat -L -c %a /proc/self/fd/1)\" >> {}\n",
                    q(log.to_str().unwrap())
                )
            } else {
                String::new()
            };
            let body = format!(
                "#!/bin/sh\n{extra}printf '{tool} %s\\n' \"$*\" >> {}\nexec {real} \"$@\"\n",
                q(log.to_str().unwrap())
            );
            let f = bin.join(tool);
            std::fs::write(&f, body).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask 000\n{script}"))
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap();
        (out, std::fs::read_to_string(&log).unwrap_or_default())
    }

    #[test]
    fn a_secret_file_is_private_from_creation_to_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.env");
        let p = path.to_str().unwrap();
        // Replacing a world-readable file with a private one, and writing a
        // new one, under the loosest umask.
        std::fs::write(&path, "old\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let perms = Perms {
            mode: Some("0600".into()),
            ..Perms::default()
        };
        let fresh = dir.path().join("new.env");
        let script = format!(
            "{}{}",
            write_file_atomic(p, b"SECRET=1\n", &perms),
            write_file_atomic(fresh.to_str().unwrap(), b"SECRET=2\n", &perms)
        );
        let (out, log) = run_logged(dir.path(), &script);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Content is written only into a 0600 file, and no chmod ever gives
        // the temporary file another mode than 0600.
        assert_eq!(log.matches("write into mode 600").count(), 2, "{log}");
        assert!(
            log.lines()
                .filter(|l| l.starts_with("write into"))
                .all(|l| l == "write into mode 600"),
            "{log}"
        );
        for l in log.lines().filter(|l| l.starts_with("chmod")) {
            assert!(
                l.starts_with("chmod 0600 "),
                "the temp file got another mode: {l}\n{log}"
            );
        }
        for f in [&path, &fresh] {
            assert_eq!(
                std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "SECRET=1\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            4,
            "app.env, new.env, bin, log"
        );
    }

    #[test]
    fn undeclared_permissions_come_from_the_old_file_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep.conf");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "old\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let (out, log) = run_logged(
            dir.path(),
            &write_file_atomic(p, b"new\n", &Perms::default()),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let chmods: Vec<&str> = log.lines().filter(|l| l.starts_with("chmod")).collect();
        assert_eq!(
            chmods.len(),
            2,
            "0600 at creation, then the old file's mode: {log}"
        );
        assert!(chmods[1].starts_with("chmod --reference="), "{log}");
        // A new file without a declared mode is 0644.
        let fresh = dir.path().join("fresh.conf");
        let out = run(&write_file_atomic(
            fresh.to_str().unwrap(),
            b"x\n",
            &Perms::default(),
        ));
        assert!(out.status.success());
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn a_failed_temp_file_stops_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir/f");
        let out = run(&format!(
            "{}echo after",
            TempFile::beside("keel_t", missing.to_str().unwrap()).create()
        ));
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot create a temporary file beside")
        );
        assert!(out.stdout.is_empty(), "nothing runs after it");
    }

    #[test]
    fn a_nul_byte_is_never_dropped_silently() {
        for v in ["a\0b", "\0", "/etc/x\0/y"] {
            let out = run(&format!("printf '%s' {}; echo after", q(v)));
            assert!(!out.status.success(), "{v:?}");
            assert!(
                out.stdout.is_empty(),
                "the command never runs: {:?}",
                out.stdout
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("NUL byte"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Nested, as in `sh -c {q(..)}`, the inner shell stops.
        let out = run(&format!(
            "sh -c {}; echo outer",
            q(&format!("printf %s {}", q("a\0b")))
        ));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "outer\n");
        assert!(String::from_utf8_lossy(&out.stderr).contains("NUL byte"));
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

    #[test]
    fn scripts_get_their_parameters_quoted_at_the_top() {
        const BODY: &str = "#!/bin/sh\n# An example.\n# params: path mode\nls -l -- \"$path\"\n";
        let s = Script::new(BODY)
            .set("path", "/tmp/a b'c")
            .set("mode", "0644")
            .render();
        let want = format!("path={}\nmode=0644\nls -l -- \"$path\"\n", q("/tmp/a b'c"));
        assert_eq!(s, want);
        assert_eq!(Script::declared(BODY), ["path", "mode"]);
        assert_sh_syntax_ok(&s);
    }

    #[test]
    #[should_panic(expected = "differ from its `# params:` line")]
    fn a_parameter_the_file_does_not_declare_is_a_bug() {
        Script::new("# params: path\necho \"$path\"\n")
            .set("path", "/a")
            .set("other", "x")
            .render();
    }

    fn assert_sh_syntax_ok(script: &str) {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
