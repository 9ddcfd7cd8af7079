//! Hosts appear in natural order in plans (`h-2` before `h-10`), not in
//! plain string order.

mod support;

use support::Keel;

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
    let out = Keel::new()
        .current_dir(dir.path())
        .args(["plan", "--color", "never", "stack.yaml"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    let order: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("h-"))
        .collect();
    assert_eq!(order, ["h-1", "h-2", "h-10"], "{}", out.stdout);
}
