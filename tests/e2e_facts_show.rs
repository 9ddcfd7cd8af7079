//! End to end, over real SSH against a fresh Debian host in a container:
//! `keel facts` prints what the host reports about itself, and `keel show`
//! a resource's live state and diff, before and after a change made by
//! hand — without changing anything itself.

mod support;

use support::{Host, expect};

#[test]
fn facts_and_show_over_ssh() {
    let h = Host::start("facts");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    let run = h.keel(&["facts", "web1", "-i", inv, "--json"], &[]);
    expect(&run, 0, "keel facts --json");
    let facts: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(facts["hostname"], h.sh("hostname").trim());
    assert_eq!(facts["os"]["id"], "debian");
    assert_eq!(facts["user"], "root");
    let run = h.keel(&["facts", "web1", "-i", inv], &[]);
    expect(&run, 0, "keel facts");
    assert!(run.stdout.contains("family: debian"), "{}", run.stdout);

    let stack = h.dir.path().join("stack.yaml");
    std::fs::write(
        &stack,
        "name: s\ntargets: [web]\nresources:\n  - file: { path: /etc/keel-show, content: \"wanted\\n\", mode: \"0600\" }\n",
    )
    .unwrap();
    let stack = stack.to_str().unwrap();
    let address = "file[/etc/keel-show]";
    let run = h.keel(&["show", address, stack, "-i", inv], &[]);
    expect(&run, 0, "keel show, file absent");
    assert!(run.stdout.contains("path: Absent"), "{}", run.stdout);
    assert!(
        run.stdout.contains("+ file[/etc/keel-show]"),
        "{}",
        run.stdout
    );

    h.sh("printf 'by hand\\n' > /etc/keel-show && chmod 0644 /etc/keel-show");
    let run = h.keel(&["show", address, stack, "-i", inv, "--limit", "web1"], &[]);
    expect(&run, 0, "keel show, file present");
    assert!(run.stdout.contains("\"0644\""), "{}", run.stdout);
    assert!(run.stdout.contains("-by hand"), "{}", run.stdout);
    assert!(run.stdout.contains("+wanted"), "{}", run.stdout);
    assert_eq!(
        h.sh("cat /etc/keel-show").trim_end(),
        "by hand",
        "show changes nothing"
    );
}
