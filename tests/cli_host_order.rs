//! Hosts appear in natural order in plans (`h-2` before `h-10`), not in
//! plain string order.

use assert_cmd::Command;

#[test]
fn plan_lists_hosts_in_natural_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inventory.yaml"),
        "hosts:\n  h-10: { transport: local }\n  h-2: { transport: local }\n  h-1: { transport: local }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        "name: nat\ntargets: [all]\nresources:\n  - command: { name: hello, run: \"true\", unless: \"true\" }\n",
    )
    .unwrap();
    let out = Command::cargo_bin("keel")
        .unwrap()
        .current_dir(dir.path())
        .args(["plan", "--color", "never", "stack.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("h-"))
        .collect();
    assert_eq!(order, ["h-1", "h-2", "h-10"], "{text}");
}
