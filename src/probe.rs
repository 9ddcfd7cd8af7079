//! Probe: read the live state of a host in one round trip.
//!
//! Every resource's read-only probe script is wrapped and concatenated into
//! ONE script per host, so a plan costs one SSH round trip for all of its
//! resources however many there are. Each probe runs in its own subshell;
//! its stdout, exit status and stderr are framed by marker lines carrying a
//! random nonce, so no output (file contents included) can forge a frame.

use crate::resources::ProbeOutput;
use crate::shell::Script;
use crate::transport::{Transport, TransportError};
use std::fmt::Write as _;

/// The script that gathers host facts for templates (`facts.*`).
pub const FACTS_SCRIPT: &str = include_str!("probe/facts.sh");

/// Parse the output of [`FACTS_SCRIPT`] into the `facts` template value.
pub fn parse_facts(stdout: &str) -> serde_json::Value {
    let get = |k: &str| {
        crate::resources::kv(stdout, k)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let os_id = get("os_id");
    let like = get("os_like");
    let family = if os_id == "debian" || os_id == "ubuntu" || like.contains("debian") {
        "debian"
    } else if like.contains("rhel") || like.contains("fedora") || os_id == "fedora" {
        "redhat"
    } else {
        "other"
    };
    serde_json::json!({
        "hostname": get("hostname"),
        "fqdn": get("fqdn"),
        "os": {
            "id": os_id,
            "version_id": get("os_version_id"),
            "codename": get("os_codename"),
            "pretty_name": get("os_pretty_name"),
            "family": family,
        },
        "arch": get("arch"),
        "kernel": get("kernel"),
        "cpus": get("cpus").parse::<u64>().unwrap_or(1),
        "memory_mb": get("memory_kb").parse::<u64>().unwrap_or(0) / 1024,
        "user": get("user"),
    })
}

/// A random nonce for frame markers.
fn nonce() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!(
        "{:?}{}{:?}",
        std::time::SystemTime::now(),
        std::process::id(),
        std::thread::current().id()
    ));
    let addr = &h as *const _ as usize;
    h.update(addr.to_le_bytes());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One part of a framed script ([`framed_script`]).
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// A read-only probe: runs in the C locale, so what it prints parses
    /// the same on every host.
    Probe(&'a str),
    /// A change: runs as it would alone, in the login's locale.
    Change(&'a str),
}

/// One script running `parts` one after the other, each in its own
/// subshell with stdin closed, its stdout, exit status and stderr framed
/// apart (split them with [`split_output`] or [`split_partial`]); a part
/// that fails does not stop the next. The script and its frames' marker.
pub fn framed_script(parts: &[Part]) -> (String, String) {
    let marker = format!("@@KEEL-{}", nonce());
    let mut s = Script::new(include_str!("probe/batch.sh"))
        .set("KEEL_M", &marker)
        .render();
    // Its size, known beforehand: built in place (2,000 probes are 2 MB).
    let framing = "keel_begin \n(\nexport LC_ALL=C\n\n) 2>\"$KEEL_ERR\" </dev/null\nkeel_end  $?\n";
    s.reserve(
        parts
            .iter()
            .map(|p| match p {
                Part::Probe(t) | Part::Change(t) => t.len() + framing.len() + 40,
            })
            .sum::<usize>()
            + 32,
    );
    for (i, part) in parts.iter().enumerate() {
        let _ = writeln!(s, "keel_begin {i}");
        match part {
            Part::Probe(p) => {
                let _ = writeln!(s, "(\nexport LC_ALL=C\n{p}\n) 2>\"$KEEL_ERR\" </dev/null");
            }
            Part::Change(c) => {
                let _ = writeln!(s, "(\n{c}\n) 2>\"$KEEL_ERR\" </dev/null");
            }
        }
        let _ = writeln!(s, "keel_end {i} $?");
    }
    let _ = writeln!(s, "rm -f \"$KEEL_ERR\"");
    (s, marker)
}

/// Split the batched output into each probe's output.
pub fn split_output(stdout: &str, marker: &str, count: usize) -> Result<Vec<ProbeOutput>, String> {
    let (outs, problem) = split_partial(stdout, marker, count);
    match problem {
        Some(e) => Err(e),
        None => Ok(outs),
    }
}

/// The outputs of the first probes whose frames are complete, in order,
/// and — when fewer than `count` are — what cut the rest short (a script
/// that stopped early still tells what its first parts did).
pub fn split_partial(
    stdout: &str,
    marker: &str,
    count: usize,
) -> (Vec<ProbeOutput>, Option<String>) {
    let mut outs = Vec::with_capacity(count);
    let mut rest = stdout;
    let mut scratch = String::new();
    for i in 0..count {
        match next_frame(rest, marker, i, &mut scratch) {
            Ok((out, after)) => {
                outs.push(out);
                rest = after;
            }
            Err(e) => return (outs, Some(e)),
        }
    }
    (outs, None)
}

/// `args` written into `buf` (emptied first), for a needle to search.
fn text<'b>(buf: &'b mut String, args: std::fmt::Arguments) -> &'b str {
    buf.clear();
    let _ = buf.write_fmt(args);
    buf
}

/// Where `needle` first occurs in `hay`: at its start, most often (a
/// frame follows the one before it), else searched.
fn find(hay: &str, needle: &str) -> Option<usize> {
    if hay.starts_with(needle) {
        Some(0)
    } else {
        hay.find(needle)
    }
}

/// Frame `i` at the start of `rest` (after anything before its begin
/// line): its output and what follows it. `scratch` holds the needles.
fn next_frame<'a>(
    rest: &'a str,
    marker: &str,
    i: usize,
    scratch: &mut String,
) -> Result<(ProbeOutput, &'a str), String> {
    let begin = text(scratch, format_args!("{marker} BEGIN {i}\n"));
    let b =
        find(rest, begin).ok_or_else(|| format!("probe output is cut short before probe {i}"))?;
    let rest = &rest[b + begin.len()..];
    let end_prefix = text(scratch, format_args!("\n{marker} END {i} "));
    let e = find(rest, end_prefix).ok_or_else(|| format!("probe {i} did not finish"))?;
    let stdout_i = &rest[..e];
    let rest = &rest[e + end_prefix.len()..];
    let nl = rest.find('\n').ok_or("malformed probe frame")?;
    let status: i32 = rest[..nl]
        .trim()
        .parse()
        .map_err(|_| "malformed probe status")?;
    let rest = &rest[nl + 1..];
    let errend = text(scratch, format_args!("\n{marker} ERREND {i}\n"));
    let ee = find(rest, errend).ok_or_else(|| format!("probe {i} stderr frame is cut short"))?;
    let stderr_i = &rest[..ee];
    Ok((
        ProbeOutput {
            stdout: stdout_i.to_string(),
            stderr: stderr_i.to_string(),
            status,
        },
        &rest[ee + errend.len()..],
    ))
}

/// Errors of a probe run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the probe script failed (exit {status:?}): {stderr}")]
    Script { status: Option<i32>, stderr: String },
    #[error("cannot read the probe output: {0}")]
    Frame(String),
}

/// Run several probes in one round trip.
pub async fn run_batch(
    t: &dyn Transport,
    probes: &[String],
) -> Result<Vec<ProbeOutput>, ProbeError> {
    let parts: Vec<Part> = probes.iter().map(|p| Part::Probe(p)).collect();
    run_parts(t, &parts).await
}

/// Run the parts of a framed script in one round trip: the output of
/// each, or an error when not every part could be told apart.
pub async fn run_parts(
    t: &dyn Transport,
    parts: &[Part<'_>],
) -> Result<Vec<ProbeOutput>, ProbeError> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let (script, marker) = framed_script(parts);
    let out = t.run(&script).await?;
    let stdout = out.stdout_text();
    match split_output(&stdout, &marker, parts.len()) {
        Ok(v) => Ok(v),
        Err(e) if !out.success() => Err(ProbeError::Script {
            status: out.status,
            stderr: format!("{} ({e})", out.stderr_text().trim()),
        }),
        Err(e) => Err(ProbeError::Frame(e)),
    }
}

/// Gather host facts (one round trip).
pub async fn gather_facts(t: &dyn Transport) -> Result<serde_json::Value, ProbeError> {
    let out = t.run(&Script::new(FACTS_SCRIPT).render()).await?;
    if !out.success() {
        return Err(ProbeError::Script {
            status: out.status,
            stderr: out.stderr_text(),
        });
    }
    Ok(parse_facts(&out.stdout_text()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::Local;

    #[tokio::test]
    async fn batch_frames_survive_hostile_output() {
        let t = Local::new(false);
        let probes = vec![
            "echo one".to_string(),
            "printf 'no newline'; echo oops >&2; exit 3".to_string(),
            "printf '@@KEEL-fake END 0 0\\n'".to_string(),
            "true".to_string(),
        ];
        let outs = run_batch(&t, &probes).await.unwrap();
        assert_eq!(t.round_trips(), 1);
        assert_eq!(outs[0].stdout, "one\n");
        assert_eq!(outs[0].status, 0);
        assert_eq!(outs[1].stdout, "no newline");
        assert_eq!(outs[1].stderr.trim(), "oops");
        assert_eq!(outs[1].status, 3);
        assert_eq!(outs[2].stdout, "@@KEEL-fake END 0 0\n");
        assert_eq!(outs[3].stdout, "");
    }

    #[tokio::test]
    async fn changes_run_apart_in_the_login_locale_and_a_failure_stops_none() {
        let t = Local::new(false);
        let parts = [
            Part::Change("echo one; echo bad >&2; exit 4"),
            Part::Change("printf '%s' \"${LC_ALL-unset}\""),
            Part::Probe("printf '%s' \"$LC_ALL\""),
        ];
        let outs = run_parts(&t, &parts).await.unwrap();
        assert_eq!(t.round_trips(), 1);
        assert_eq!((outs[0].status, outs[0].stdout.as_str()), (4, "one\n"));
        assert_eq!(outs[0].stderr.trim(), "bad");
        let inherited = std::env::var("LC_ALL").unwrap_or_else(|_| "unset".into());
        assert_eq!(
            (outs[1].status, outs[1].stdout.as_str()),
            (0, inherited.as_str())
        );
        assert_eq!(outs[2].stdout, "C");
    }

    #[test]
    fn a_script_cut_short_still_tells_its_first_parts() {
        let (script, marker) =
            framed_script(&[Part::Change("echo first"), Part::Change("echo second")]);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let full = String::from_utf8(out.stdout).unwrap();
        let (outs, cut) = split_partial(&full, &marker, 2);
        assert_eq!((outs.len(), cut), (2, None));
        // The connection dropped in the middle of the second part.
        let short = &full[..full.find("second").unwrap()];
        let (outs, cut) = split_partial(short, &marker, 2);
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].stdout, "first\n");
        assert!(cut.unwrap().contains("did not finish"));
        assert!(split_output(short, &marker, 2).is_err());
    }

    #[test]
    fn the_probe_fails_clearly_without_a_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let (script, _) = framed_script(&[Part::Probe("echo probed")]);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("TMPDIR", &missing)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("probed"), "no probe ran: {stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot create a temporary file for the probe"),
            "{stderr}"
        );
        assert!(!script.contains("/tmp/"), "no predictable path: {script}");
    }

    #[tokio::test]
    async fn facts_parse_locally() {
        let t = Local::new(false);
        let f = gather_facts(&t).await.unwrap();
        assert!(f["cpus"].as_u64().unwrap() >= 1);
        assert!(!f["hostname"].as_str().unwrap().is_empty());
        assert!(f["memory_mb"].as_u64().unwrap() > 0);
    }
}
