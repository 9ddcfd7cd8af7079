//! Helpers for fixture tests of resource kinds: YAML in, probe output in,
//! diff and commands out — no host needed. Also runs probes and commands in
//! a local `sh` for kinds that can be exercised without root. Compiled for
//! the library's own tests only (`#[cfg(test)]`); the offline loader it
//! shares with the fuzz targets lives in `crate::fuzzing`.

use super::{Evaluation, ProbeOutput, Resource};
pub(crate) use crate::fuzzing::{LocalCx, try_load};

/// Build a resource of `kind` from the YAML body of the resource.
/// Panics with the error message on invalid input (tests only).
pub fn load(kind: &str, yaml: &str) -> Box<dyn Resource> {
    try_load(kind, yaml).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// Evaluate a resource against probe stdout (status 0).
pub fn eval(kind: &str, yaml: &str, stdout: &str) -> Evaluation {
    let r = load(kind, yaml);
    r.evaluate(&ProbeOutput::ok(stdout))
        .unwrap_or_else(|e| panic!("{kind}: parse failed: {e}"))
}

/// Run a script in a local `sh -s` (script on stdin) and capture it.
pub fn run_local(script: &str) -> ProbeOutput {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("wait sh");
    ProbeOutput {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code().unwrap_or(-1),
    }
}

/// Probe locally, apply the commands locally, probe again: returns the
/// evaluation before and after. For kinds that work without root.
pub fn converge_locally(res: &dyn Resource) -> (Evaluation, Evaluation) {
    let before = res
        .evaluate(&run_local(&res.probe()))
        .unwrap_or_else(|e| panic!("parse before: {e}"));
    for cmd in &before.commands {
        let out = run_local(&cmd.script);
        assert_eq!(
            out.status, 0,
            "command `{}` failed: {}",
            cmd.summary, out.stderr
        );
    }
    let after = res
        .evaluate(&run_local(&res.probe()))
        .unwrap_or_else(|e| panic!("parse after: {e}"));
    (before, after)
}

/// Assert that a script parses as POSIX sh (`sh -n`), showing it if not.
pub fn assert_sh_syntax(script: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("wait sh");
    assert!(
        out.status.success(),
        "sh -n: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A diff's attribute changes as (name, before, after), for assertions.
pub fn attrs(d: &super::Diff) -> Vec<(String, Option<String>, Option<String>)> {
    d.attrs
        .iter()
        .map(|a| (a.name.clone(), a.before.clone(), a.after.clone()))
        .collect()
}

/// One expected attribute change, as [`attrs`] lists them.
pub fn a(
    name: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (name.into(), before.map(Into::into), after.map(Into::into))
}
