//! Secrets: values that never appear in argv, logs, plans or CI output.
//!
//! A [`Secret`] holds its value in a type whose `Debug`/`Display` print
//! `(sensitive)`. Values are read on the machine keel runs on, from an
//! environment variable, a file, or a command (a password manager's CLI).
//! The [`Redactor`] knows every secret value of a run and replaces any
//! occurrence in text meant for people (plans, logs, errors) with
//! `(sensitive)` — a last line of defence behind the plan's own masking of
//! anything rendered from a secret.

use crate::config::stack::{SecretDecl, SecretSource};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// What is shown instead of a secret.
pub const MASK: &str = "(sensitive)";

/// A secret value. Printing it prints `(sensitive)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }
    /// The value itself: only for rendering into what is sent to hosts.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Read one secret. Errors never contain the value.
pub fn read(decl: &SecretDecl, base_dir: &Path) -> Result<Secret, String> {
    let strip = |mut s: String| {
        if s.ends_with('\n') {
            s.pop();
            if s.ends_with('\r') {
                s.pop();
            }
        }
        s
    };
    let value = match &decl.source {
        SecretSource::Env(var) => std::env::var(var).map_err(|_| {
            format!(
                "environment variable `{var}` is not set (secret `{}`)",
                decl.name
            )
        })?,
        SecretSource::File(path) => {
            let p = base_dir.join(path);
            strip(
                crate::config::local_file::read_text(
                    &p,
                    crate::config::local_file::MAX_CONFIG_BYTES,
                )
                .map_err(|e| {
                    let hint = e.hint().map(|h| format!("; {h}")).unwrap_or_default();
                    format!("{} for secret `{}`{hint}", e.message(""), decl.name)
                })?,
            )
        }
        SecretSource::Command(cmd) => strip(run_command(&decl.name, cmd, decl.timeout, base_dir)?),
    };
    if value.is_empty() {
        return Err(format!("secret `{}` is empty", decl.name));
    }
    check_length(&decl.name, &value)?;
    Ok(Secret::new(value))
}

/// Default time a secret's `command:` may take, in seconds.
pub const COMMAND_TIMEOUT_SECS: u64 = 30;

/// Environment variable overriding [`COMMAND_TIMEOUT_SECS`] (whole seconds).
pub const COMMAND_TIMEOUT_ENV: &str = "KEEL_SECRET_TIMEOUT";

/// Most bytes a secret's `command:` may print (as for secret files).
pub const MAX_COMMAND_OUTPUT: u64 = crate::config::local_file::MAX_CONFIG_BYTES;

/// The secret's own `timeout:`, else `$KEEL_SECRET_TIMEOUT`, else 30 s.
fn command_timeout(name: &str, own: Option<u64>) -> Result<std::time::Duration, String> {
    if let Some(n) = own.filter(|n| *n > 0) {
        return Ok(std::time::Duration::from_secs(n));
    }
    match std::env::var(COMMAND_TIMEOUT_ENV) {
        Err(_) => Ok(std::time::Duration::from_secs(COMMAND_TIMEOUT_SECS)),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(std::time::Duration::from_secs(n)),
            _ => Err(format!(
                "{COMMAND_TIMEOUT_ENV}={v:?} is not a whole number of seconds above 0 (secret `{name}`)"
            )),
        },
    }
}

/// Run a secret's command: its stdout is the value. It runs in its own
/// process group, which is killed when it overruns the timeout or prints
/// more than [`MAX_COMMAND_OUTPUT`] bytes; its stderr is discarded (it
/// may echo the value).
fn run_command(
    name: &str,
    cmd: &str,
    own_timeout: Option<u64>,
    base_dir: &Path,
) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let timeout = command_timeout(name, own_timeout)?;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(base_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run the command of secret `{name}`: {e}"))?;
    let pgid = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = stdout
            .take(MAX_COMMAND_OUTPUT + 1)
            .read_to_end(&mut buf)
            .map(|_| buf);
        let _ = tx.send(r);
    });
    let deadline = Instant::now() + timeout;
    let mut status = None;
    let mut output = None;
    while status.is_none() || output.is_none() {
        if output.is_none()
            && let Ok(r) = rx.try_recv()
        {
            let buf = r.map_err(|e| format!("cannot read the output of secret `{name}`: {e}"))?;
            if buf.len() as u64 > MAX_COMMAND_OUTPUT {
                kill_group();
                let _ = child.wait();
                return Err(format!(
                    "the command of secret `{name}` printed more than {} MiB; it was stopped \
                     (a secret is a short value: check the command)",
                    MAX_COMMAND_OUTPUT / (1024 * 1024)
                ));
            }
            output = Some(buf);
        }
        if status.is_none() {
            status = child
                .try_wait()
                .map_err(|e| format!("cannot wait for the command of secret `{name}`: {e}"))?;
        }
        if status.is_some() && output.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            kill_group();
            let _ = child.wait();
            return Err(format!(
                "the command of secret `{name}` did not finish within {} s and was stopped \
                 (give it longer with `timeout:` in its declaration or {COMMAND_TIMEOUT_ENV})",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, out) = (status.expect("set"), output.expect("set"));
    if !status.success() {
        return Err(format!(
            "the command of secret `{name}` failed with {status} (its output is not shown)"
        ));
    }
    String::from_utf8(out)
        .map_err(|_| format!("the command of secret `{name}` printed non-UTF-8 bytes"))
}

/// Secrets shorter than this are refused at load time: a value this short
/// cannot be searched for in output (masking every `x` or `12` would garble
/// it, and not masking it shows it), see README, "Secrets".
pub const MIN_SECRET_LEN: usize = 4;

/// Refuse a secret too short to be masked.
fn check_length(name: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n < MIN_SECRET_LEN {
        return Err(format!(
            "secret `{name}` is {n} character{} long: keel masks secrets in output by \
             searching for them, which it cannot do safely for values shorter than \
             {MIN_SECRET_LEN} characters (the value would show in errors and logs); \
             use a longer value (a longer PIN, passphrase or token)",
            if n == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// A fresh random value that stands in for a secret when keel checks what
/// a template's output depends on (see `resolve`): distinct per secret and
/// per run, never equal to any real value.
pub fn canary() -> String {
    use std::io::Read;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !random {
        // Distinct anyway: a counter, the time and the process.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&(now as u64).to_le_bytes());
        bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("keel-canary-{n}-{hex}")
}

/// One form of a secret searched for in text.
#[derive(Clone)]
struct Pattern {
    /// Case-folded ([`fold_case`]) when `fold` is set.
    text: String,
    /// Match letters in any case.
    fold: bool,
}

/// Replaces every known secret value in text with `(sensitive)`: the value
/// in any case, its base64 (standard and URL-safe, at each of the 3
/// byte alignments it can have inside a longer encoded text), its hex, and
/// its URL encoding, and the value as JSON, XML, GitHub annotations and the
/// shell escape it (a text escaped after it was masked, or a command that
/// prints JSON, shows the secret in those forms); each of them also when
/// split across lines (line breaks inside a match are ignored, in the text
/// and in the secret: a multi-line secret is found whole).
#[derive(Clone, Default)]
pub struct Redactor {
    patterns: Vec<Pattern>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Redactor({} patterns)", self.patterns.len())
    }
}

/// Lower-case every character whose lower case has the same UTF-8 length
/// (so byte offsets are kept): ASCII and most accented letters.
fn fold_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) if x.len_utf8() == c.len_utf8() => x,
                _ => c,
            }
        })
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 characters that depend only on `data`, when `data` starts at
/// byte `align` (0..3) of a 3-byte group of a longer encoded text.
fn base64_core(data: &[u8], align: usize) -> String {
    let mut bytes = vec![0u8; align];
    bytes.extend_from_slice(data);
    let bits = bytes.len() * 8;
    let (first, end) = (align * 8, bits);
    let mut out = String::new();
    let mut i = 0;
    while i * 6 + 6 <= bits {
        if i * 6 >= first && i * 6 + 6 <= end {
            let mut v = 0usize;
            for b in 0..6 {
                let bit = i * 6 + b;
                let byte = bytes[bit / 8];
                v = (v << 1) | ((byte >> (7 - bit % 8)) & 1) as usize;
            }
            out.push(B64[v] as char);
        }
        i += 1;
    }
    out
}

/// Percent-encoding as RFC 3986 (`space_plus`: as HTML forms), or keeping
/// `!*'()` as JavaScript's `encodeURIComponent` and jq's `@uri` do (`marks`).
fn url_encode(data: &[u8], space_plus: bool, marks: bool) -> String {
    let mut out = String::new();
    for &b in data {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'!' | b'*' | b'\'' | b'(' | b')' if marks => out.push(b as char),
            b' ' if space_plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A JSON string's content (no quotes), as serializers write it: only `"`,
/// `\` and control characters escaped, or (`ascii`) every non-ASCII
/// character too, as `\uXXXX` (surrogate pairs above U+FFFF).
fn json_escape(text: &str, ascii: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// XML/HTML character escaping as other writers do it: `&`, `<`, `>`
/// always; the quotes as `&quot;` and `quote` (`&#x27;` or `&#39;`) unless
/// `quote` is empty (text content, where they stay as they are). keel's
/// own JUnit form is `escape::xml`.
fn xml_escape(text: &str, quote: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if !quote.is_empty() => out.push_str("&quot;"),
            '\'' if !quote.is_empty() => out.push_str(quote),
            c => out.push(c),
        }
    }
    out
}

impl Redactor {
    pub fn new(values: Vec<Secret>) -> Self {
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut add = |text: String, fold: bool| {
            // Line breaks are ignored in the text searched (see `ranges`),
            // so they must be in the pattern too: a multi-line secret (a
            // private key) is found whole.
            let text = text.replace(['\n', '\r'], "");
            if text.chars().count() < MIN_SECRET_LEN {
                return;
            }
            let text = if fold { fold_case(&text) } else { text };
            if !patterns.iter().any(|p| p.text == text && p.fold == fold) {
                patterns.push(Pattern { text, fold });
            }
        };
        for v in &values {
            let v = v.expose();
            if v.chars().count() < MIN_SECRET_LEN {
                continue;
            }
            let b = v.as_bytes();
            add(v.to_string(), true);
            for align in 0..3 {
                let core = base64_core(b, align);
                add(core.replace('+', "-").replace('/', "_"), false);
                add(core, false);
            }
            add(b.iter().map(|x| format!("{x:02x}")).collect(), true);
            for (plus, marks) in [(false, false), (true, false), (false, true)] {
                add(url_encode(b, plus, marks), true);
            }
            // As escaped by JSON, XML, GitHub annotations and the shell,
            // in keel's own reports (which are masked once more after they
            // are rendered) and in what commands print.
            add(json_escape(v, false), true);
            add(json_escape(v, true), true);
            // keel's JUnit report writes what `escape::xml` does;
            // other XML and HTML writers quote `'` otherwise, or not at all.
            add(crate::escape::xml(v), true);
            for quote in ["&#x27;", "&#39;", ""] {
                add(xml_escape(v, quote), true);
            }
            add(crate::escape::github_data(v), true);
            add(crate::escape::github_property(v), true);
            add(crate::shell::q(v), true);
        }
        // Longest first, so a secret containing another is masked whole.
        patterns.sort_by_key(|p| std::cmp::Reverse(p.text.len()));
        Redactor { patterns }
    }

    /// Byte ranges of `text` holding a secret in any of its forms.
    fn ranges(&self, text: &str, first_only: bool) -> Vec<(usize, usize)> {
        if self.patterns.is_empty() || text.is_empty() {
            return Vec::new();
        }
        // The text without line breaks, with each byte's offset in `text`.
        let mut view = String::with_capacity(text.len());
        let mut at = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            if c == '\n' || c == '\r' {
                continue;
            }
            view.push(c);
            at.extend(i..i + c.len_utf8());
        }
        let folded = fold_case(&view);
        let mut ranges = Vec::new();
        for p in &self.patterns {
            let hay = if p.fold { &folded } else { &view };
            for (start, m) in hay.match_indices(p.text.as_str()) {
                ranges.push((at[start], at[start + m.len() - 1] + 1));
                if first_only {
                    return ranges;
                }
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    pub fn redact(&self, text: &str) -> String {
        let ranges = self.ranges(text, false);
        if ranges.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (s, e) in ranges {
            out.push_str(&text[pos..s]);
            out.push_str(MASK);
            pos = e;
        }
        out.push_str(&text[pos..]);
        out
    }

    /// Whether the text contains any secret value (in any of its forms).
    pub fn touches(&self, text: &str) -> bool {
        !self.ranges(text, true).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "(sensitive) (sensitive)");
    }

    #[test]
    fn redactor_masks_all_occurrences() {
        let r = Redactor::new(vec![
            Secret::new("abcd"),
            Secret::new("abcdefg"),
            Secret::new("x"),
        ]);
        assert_eq!(r.redact("x abcdefg y abcd"), "x (sensitive) y (sensitive)");
        assert!(r.touches("..abcd.."));
        assert!(!r.touches("x"), "too short to mask");
    }

    /// Every encoding of `secret` that commands commonly print.
    fn encodings(secret: &str) -> Vec<String> {
        let run = |cmd: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .env("S", secret)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        vec![
            secret.to_uppercase(),
            secret.to_lowercase(),
            run("printf '%s' \"$S\" | base64 -w0"),
            run("printf 'x%s' \"$S\" | base64 -w0"),
            run("printf 'xy%s' \"$S\" | base64 -w0"),
            run("printf 'xyz%s...' \"$S\" | base64 -w 8"),
            run("printf '%s' \"$S\" | base64 -w0 | tr '+/' '-_'"),
            run("printf '%s' \"$S\" | od -An -tx1 | tr -d ' \\n'"),
            run("printf '%s' \"$S\" | od -An -tx1 | tr -d ' \\n' | tr a-f A-F"),
            run(
                "printf '%s' \"$S\" | jq -sRr @uri 2>/dev/null || printf '%s' \"$S\" | sed 's/ /%20/g; s/\\//%2F/g; s/+/%2B/g; s/?/%3F/g'",
            ),
            split(secret, 5, "\n"),
            split(secret, 3, "\r\n"),
        ]
    }

    fn split(s: &str, at: usize, by: &str) -> String {
        let (a, b): (String, String) = (s.chars().take(at).collect(), s.chars().skip(at).collect());
        format!("{a}{by}{b}")
    }

    #[test]
    fn redactor_masks_common_encodings() {
        for secret in ["Pa55 w/rd+?x", "hunter22", "s3cr\u{e9}t-v4lue!!"] {
            let r = Redactor::new(vec![Secret::new(secret)]);
            for enc in encodings(secret) {
                let text = format!("error: got <{enc}> from the server");
                let shown = r.redact(&text);
                assert!(r.touches(&text), "{enc:?}");
                assert!(
                    shown.starts_with("error: got <") && shown.ends_with("> from the server"),
                    "{shown}"
                );
                assert!(
                    shown.contains(MASK),
                    "{secret:?} as {enc:?} not masked: {shown}"
                );
                // The middle of the encoded value is gone.
                let flat: Vec<char> = enc.chars().filter(|c| *c != '\n' && *c != '\r').collect();
                let middle: String = flat[flat.len() / 3..flat.len() * 2 / 3].iter().collect();
                assert!(
                    !shown.replace(['\n', '\r'], "").contains(&middle),
                    "{secret:?} as {enc:?}: {shown}"
                );
            }
            assert_eq!(r.redact("nothing here\nat all"), "nothing here\nat all");
        }
    }

    /// A secret with characters that JSON, XML, GitHub annotations and the
    /// shell escape, a line break and non-ASCII letters.
    const ESCAPED: &str = "s3cr&t<\"%:x,'\\\n-\u{c4}\u{d6}-\u{1F511}-end";

    #[test]
    fn redactor_masks_escaped_forms() {
        let r = Redactor::new(vec![Secret::new(ESCAPED)]);
        let python_json = |ascii: bool| {
            let out = std::process::Command::new("python3")
                .args([
                    "-c",
                    "import json,os,sys; sys.stdout.write(json.dumps(os.environ['S'], ensure_ascii=sys.argv[1]=='1'))",
                    if ascii { "1" } else { "0" },
                ])
                .env("S", ESCAPED)
                .output()
                .expect("this test compares with python3's JSON: install python3");
            String::from_utf8(out.stdout).unwrap()
        };
        let forms = [
            serde_json::to_string(ESCAPED).unwrap(),
            serde_json::to_string(&serde_json::json!({ "x": ESCAPED })).unwrap(),
            python_json(true),
            python_json(false),
            crate::escape::xml(ESCAPED),
            xml_escape(ESCAPED, ""),
            xml_escape(ESCAPED, "&#x27;"),
            crate::escape::github_data(ESCAPED),
            crate::escape::github_property(ESCAPED),
            crate::shell::q(ESCAPED),
            ESCAPED.to_uppercase(),
        ];
        for form in forms {
            let text = format!("before {form} after");
            let shown = r.redact(&text);
            assert_eq!(
                shown.matches(MASK).count(),
                1,
                "{form:?} not masked whole: {shown}"
            );
            assert!(
                shown.starts_with("before ") && shown.ends_with(" after"),
                "{shown}"
            );
            assert!(!shown.contains("CR&T") && !shown.contains("cr&") && !shown.contains("-end"));
        }
    }

    #[test]
    fn a_multi_line_secret_is_masked_whole() {
        let key = "-----BEGIN KEY-----\nQUJDREVGR0g=\r\nSUpLTE1O\n-----END KEY-----";
        let r = Redactor::new(vec![Secret::new(key)]);
        let shown = r.redact(&format!("cannot load <{key}>: bad key"));
        assert_eq!(shown, "cannot load <(sensitive)>: bad key");
        // Printed with other line breaks, or none.
        let lf = key.replace("\r\n", "\n");
        assert_eq!(r.redact(&lf), MASK);
        assert_eq!(r.redact(&key.replace(['\r', '\n'], "")), MASK);
    }

    #[test]
    fn short_secrets_are_refused_with_the_name() {
        let d = SecretDecl {
            name: "pin".into(),
            span: Default::default(),
            source: SecretSource::Command("echo 123".into()),
            timeout: None,
        };
        let e = read(&d, Path::new(".")).unwrap_err();
        assert!(
            e.contains("`pin`") && e.contains("3 characters") && e.contains("longer"),
            "{e}"
        );
        assert!(!e.contains("123"));
        let d = SecretDecl {
            source: SecretSource::Command("echo 1234".into()),
            ..d
        };
        assert_eq!(read(&d, Path::new(".")).unwrap().expose(), "1234");
    }

    #[test]
    fn canaries_are_distinct() {
        let (a, b) = (canary(), canary());
        assert_ne!(a, b);
        assert!(a.len() > 30);
    }

    #[test]
    fn command_source_failure_hides_output() {
        let d = SecretDecl {
            name: "t".into(),
            span: Default::default(),
            source: SecretSource::Command("echo topsecret; exit 3".into()),
            timeout: None,
        };
        let e = read(&d, Path::new(".")).unwrap_err();
        assert!(!e.contains("topsecret"));
    }
}
