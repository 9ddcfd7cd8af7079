//! Shared helpers for integration tests: [`Keel`], the one runner of the
//! real `keel` binary (clean environment, output captured, time-limited),
//! and [`Host`], a fresh Debian host in a container reachable over real SSH.
// Each test crate uses a part of this module.
#![allow(dead_code, unused_imports)]

mod host;
mod keel;

pub use host::Host;
pub use keel::{Keel, Run, Running, binary};

use std::path::Path;

/// The repository's root (to find examples/).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The number in `keel apply -v`'s "applied in N round trip(s)" (the
/// first host's).
pub fn applied_round_trips(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("applied in "))
        .unwrap_or_else(|| panic!("no round trip count: {stderr}"));
    let n = line.split("applied in ").nth(1).unwrap();
    n.split_whitespace().next().unwrap().parse().unwrap()
}

/// `keel ARGS` run in `dir` with a key of the test's own (`dir/keel.key`:
/// a saved plan's seal depends on it): exit code, stdout, stderr.
pub fn keel_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new()
        .current_dir(dir)
        .args(args)
        .env("KEEL_KEY_FILE", dir.join("keel.key"))
        .run()
        .parts()
}

/// A project in a temporary folder for the `local` transport: an
/// inventory with one host `here` in group `local`, whose var `root` is
/// the folder's `root/` (where stacks write), and `files` (relative path,
/// text) written beside it.
#[allow(dead_code)] // not every test binary uses it
pub fn local_project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let inv = format!(
        "hosts:\n  here:\n    transport: local\n    vars:\n      root: \"{}\"\ngroups:\n  local:\n    hosts: [here]\n",
        root.display()
    );
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// Run a python3 `script` with `input` on its stdin (for checks made with
/// a real parser, such as JUnit XML through `xml.etree`) and return its
/// output lines; fails loudly without python3 or when the script fails.
pub fn python3_lines(script: &str, input: &str) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("this test parses its output with python3: install python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 check failed: {}\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Assert a run exited with `code`, showing its output otherwise.
pub fn expect(run: &Run, code: i32, what: &str) {
    assert_eq!(
        run.code, code,
        "{what}: expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
}
