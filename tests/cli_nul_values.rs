//! A NUL byte cannot travel in a shell word, so a value that holds one once
//! rendered is refused when the stack is loaded, at the value's own
//! `file:line`, instead of being altered on its way to the host (a path
//! `a\0b` once became `ab`).

mod support;

use support::Keel;

fn validate(dir: &std::path::Path) -> (i32, String) {
    let run = Keel::new()
        .current_dir(dir)
        .env("COLUMNS", "100")
        .args([
            "--color",
            "never",
            "validate",
            "-i",
            "inventory.yaml",
            "stack.yaml",
        ])
        .run();
    (run.code, run.stderr)
}

#[test]
fn a_nul_byte_from_a_variable_is_refused_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    // YAML's "\0" is a NUL byte: in a host variable and in a stack variable.
    std::fs::write(
        dir.path().join("inventory.yaml"),
        "hosts:\n  web1:\n    address: 127.0.0.1\n    vars:\n      p: \"/srv/a\\0b\"\ngroups:\n  web:\n    hosts: [web1]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        "name: n\ntargets: [web]\nvars:\n  word: \"x\\0y\"\nresources:\n  - file: { path: \"{{ vars.p }}\", content: \"x\" }\n  - command: { name: c, run: \"echo {{ vars.word }}\", creates: /x }\n  - file: { path: /srv/fine, content: \"{{ vars.p }} is not used as is\" }\n",
    )
    .unwrap();
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, 1, "{stderr}");
    for at in ["stack.yaml:6:", "stack.yaml:7:", "stack.yaml:8:"] {
        assert!(stderr.contains(at), "a diagnostic at {at}: {stderr}");
    }
    assert_eq!(
        stderr
            .matches("contains a NUL byte once rendered; a NUL byte cannot be sent to a host")
            .count(),
        3,
        "{stderr}"
    );
    assert!(stderr.contains("remove it from that value"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Without the NUL bytes the same stack is valid.
    std::fs::write(
        dir.path().join("inventory.yaml"),
        "hosts:\n  web1:\n    address: 127.0.0.1\n    vars:\n      p: \"/srv/ab\"\ngroups:\n  web:\n    hosts: [web1]\n",
    )
    .unwrap();
    let stack = std::fs::read_to_string(dir.path().join("stack.yaml")).unwrap();
    std::fs::write(dir.path().join("stack.yaml"), stack.replace("x\\0y", "xy")).unwrap();
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, 0, "{stderr}");
}
