//! `keel facts` and `keel show` through the real binary, on a host reached
//! with the `local` transport: the facts are those templates read, and a
//! resource's live state and diff are shown without changing anything.

use std::path::Path;
mod support;

use std::process::Command;
use support::Keel;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Keel::new().args(args).current_dir(dir).run();
    (out.code, out.stdout, out.stderr)
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("inventory.yaml"),
        "hosts:\n  here:\n    transport: local\ngroups:\n  local:\n    hosts: [here]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("stack.yaml"),
        format!(
            "name: s\ntargets: [local]\nresources:\n  - file: {{ path: {}, content: \"on {{{{facts.hostname}}}}\\n\" }}\n",
            d.join("motd").display()
        ),
    )
    .unwrap();
    std::fs::write(d.join("motd"), "before\n").unwrap();
    dir
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn facts_are_printed_as_yaml_and_json() {
    let dir = project();
    let (code, out, err) = keel(dir.path(), &["facts", "here"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("hostname: {}\n", hostname())),
        "{out}"
    );
    assert!(out.contains("os:\n"), "{out}");
    let (code, out, err) = keel(
        dir.path(),
        &["facts", "here", "--json", "-i", "inventory.yaml"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["hostname"], hostname());
    assert!(v["cpus"].as_u64().is_some_and(|n| n >= 1), "{v}");
}

#[test]
fn facts_of_an_unknown_host_name_the_known_ones() {
    let dir = project();
    let (code, out, err) = keel(dir.path(), &["facts", "hre"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("no host `hre`") && err.contains("here"),
        "{err}"
    );
}

#[test]
fn show_prints_the_live_state_and_the_diff() {
    let dir = project();
    let address = format!("file[{}]", dir.path().join("motd").display());
    let (code, out, err) = keel(dir.path(), &["show", &address, "stack.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("here\n"), "{out}");
    assert!(out.contains("FileFact"), "{out}");
    assert!(out.contains("sha256"), "{out}");
    assert!(out.contains("-before"), "{out}");
    assert!(out.contains(&format!("+on {}", hostname())), "{out}");
    // Nothing changed.
    let now = std::fs::read_to_string(dir.path().join("motd")).unwrap();
    assert_eq!(now, "before\n");
}

#[test]
fn show_of_an_unknown_address_fails_with_the_known_ones() {
    let dir = project();
    let (code, _, err) = keel(dir.path(), &["show", "file[/nope]", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("file[/nope]") && err.contains("motd"), "{err}");
    // `keel show` takes the address as an argument: no flag to blame.
    assert!(!err.contains("--target"), "{err}");
}

#[test]
fn show_masks_a_resource_rendered_from_a_secret() {
    let dir = project();
    let d = dir.path();
    let path = d.join("token");
    std::fs::write(&path, "old-hunter2-value\n").unwrap();
    std::fs::write(
        d.join("secret.yaml"),
        format!(
            "name: s\ntargets: [local]\nsecrets:\n  tok: {{ env: KEEL_TEST_TOKEN }}\nresources:\n  - file: {{ path: {}, content: \"{{{{secrets.tok}}}}\\n\" }}\n",
            path.display()
        ),
    )
    .unwrap();
    let address = format!("file[{}]", path.display());
    let out = Keel::new()
        .args(["show", &address, "secret.yaml"])
        .current_dir(d)
        .env("KEEL_TEST_TOKEN", "new-hunter2-value")
        .run();
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert_eq!(out.code, 0, "{stderr}");
    assert!(stdout.contains("(sensitive)"), "{stdout}");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "{stdout}{stderr}"
    );
}
