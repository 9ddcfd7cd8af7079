//! Every shell script keel keeps as a `.sh` file (under `src/`) passes
//! shellcheck as POSIX sh, with its declared parameters (`# params:`)
//! assigned first, as `shell::Script::render` does. Needs `shellcheck`
//! (Debian package; `.ci/run` installs it): fails, never skips, without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scripts(&path, out);
        } else if path.extension().is_some_and(|e| e == "sh") {
            out.push(path);
        }
    }
}

fn declared(body: &str) -> Vec<&str> {
    body.lines()
        .find_map(|l| l.strip_prefix("# params:"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default()
}

#[test]
fn every_script_passes_shellcheck() {
    let mut files = Vec::new();
    scripts(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    assert!(!files.is_empty(), "no .sh files found under src/");
    let mut failures = Vec::new();
    for file in &files {
        let body = std::fs::read_to_string(file).unwrap();
        assert!(
            body.starts_with("#!/bin/sh\n"),
            "{}: a script starts with `#!/bin/sh`",
            file.display()
        );
        let params = declared(&body);
        if !params.is_empty() {
            let guard: Vec<String> = params.iter().map(|p| format!("\"${{{p}?}}\"")).collect();
            let guard = format!(": {}", guard.join(" "));
            assert!(
                body.lines().any(|l| l == guard),
                "{}: after its header, a script with parameters checks they are set: `{guard}`",
                file.display()
            );
        }
        // The parameters as `render` puts them: assignments after the
        // shebang, so shellcheck knows they are set.
        let mut text = String::from("#!/bin/sh\n");
        for p in declared(&body) {
            text.push_str(&format!("{p}='x'\n"));
        }
        text.push_str(&body["#!/bin/sh\n".len()..]);
        let mut child = Command::new("shellcheck")
            .args(["--shell=sh", "--severity=style", "--format=gcc", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run shellcheck ({e}): install it (Debian: apt-get install shellcheck)"
                )
            });
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failures.push(format!(
                "{}:\n{}{}",
                file.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "shellcheck findings (line numbers count the {} assignment lines added after the shebang):\n{}",
        "`# params:`",
        failures.join("\n")
    );
}

#[test]
fn shellcheck_finds_what_it_should() {
    // The harness itself: a script with an unquoted expansion fails.
    let mut child = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot run shellcheck: install it (Debian: apt-get install shellcheck)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"#!/bin/sh\nx=$1\nrm -rf $x/*\n")
        .unwrap();
    assert!(!child.wait().unwrap().success());
}
