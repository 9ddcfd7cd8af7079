//! `keel validate` never contacts a host: not over SSH, not through the
//! `local` transport (which used to be how real facts were read), and it
//! runs no secret command.
//!
//! Every program keel could start to reach a host (`sh`, `sudo`, `ssh`) is
//! replaced on PATH by a script that leaves a marker. `validate` and
//! `graph` must leave none; `plan` on the same project must (the control
//! that shows the trap works).

mod support;

use support::Keel;

use std::path::Path;

const STACK: &str = r#"name: web
targets: [fleet]
secrets:
  token: { command: "echo from-a-command" }
resources:
  - file:
      path: "/tmp/keel-offline-{{facts.hostname}}-{{facts.user}}"
      content: "{{secrets.token}} on {{facts.os.id}}\n"
"#;

const INVENTORY: &str = "hosts:\n  here:\n    transport: local\n  far:\n    address: 192.0.2.1\n    user: deploy\ngroups:\n  fleet:\n    hosts: [here, far]\n";

/// A folder of fake `sh`, `sudo` and `ssh` that record being run in `marks`.
fn trap(dir: &Path, marks: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for prog in ["sh", "sudo", "ssh", "bash"] {
        let p = dir.join(prog);
        std::fs::write(
            &p,
            format!("#!/bin/sh\n: > '{}/{prog}'\nexit 1\n", marks.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn marks(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn keel(dir: &Path, path: &Path, args: &[&str]) -> (Option<i32>, String) {
    let run = Keel::new()
        .current_dir(dir)
        .env("PATH", path)
        .args(["--color", "never"])
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .run();
    (run.status.code(), run.all())
}

#[test]
fn validate_and_graph_start_no_program_plan_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (bin, marked) = (tmp.path().join("bin"), tmp.path().join("marks"));
    std::fs::create_dir_all(&marked).unwrap();
    trap(&bin, &marked);
    std::fs::write(tmp.path().join("stack.yaml"), STACK).unwrap();
    std::fs::write(tmp.path().join("inventory.yaml"), INVENTORY).unwrap();

    let (code, out) = keel(tmp.path(), &bin, &["validate", "stack.yaml"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("is valid: 2 hosts, 2 resources"), "{out}");
    assert!(
        out.contains("placeholder facts and secrets") && out.contains("checked at plan"),
        "validate says what it could not check: {out}"
    );
    let (code, out) = keel(tmp.path(), &bin, &["graph", "stack.yaml"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("file[/tmp/keel-offline-keel-placeholder-root]"),
        "{out}"
    );
    assert_eq!(
        marks(&marked),
        Vec::<String>::new(),
        "validate and graph ran a program"
    );

    // The control: plan reads the secret and the hosts, through the traps.
    let (code, out) = keel(tmp.path(), &bin, &["plan", "stack.yaml"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(!marks(&marked).is_empty(), "the trap caught nothing: {out}");
}
