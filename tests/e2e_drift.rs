//! End to end, over real SSH against a fresh Debian host: `keel drift`
//! reports drift made by hand. A stack with a file, a cron entry and a UFW
//! firewall is applied (drift then exits 0); then, by hand, the file is
//! edited, a UFW rule is added and the cron entry is deleted; `keel drift
//! --format junit` reports each of them as a failed test case (the XML
//! parsed with a real parser) and exits 2, as do `--json` and
//! `--format github`.

mod support;

use support::{Host, expect};

const STACK: &str = r#"name: drift
targets: [web]
resources:
  - package: { name: ufw }
  - package: { name: cron }
  - file:
      path: /etc/app.conf
      mode: "0644"
      content: "port = 8080\n"
  - cron:
      name: rotate
      schedule: "*/10 * * * *"
      command: /usr/bin/find /var/tmp -name '*.tmp' -delete
  - ufw:
      defaults: { incoming: deny, outgoing: allow }
      enabled: true
      rules:
        - { allow: 22/tcp, comment: ssh }
"#;

/// JUnit test cases as `name|failure or error: message`, parsed with
/// python3's xml.etree (fails loudly without python3).
fn junit_cases(xml: &str) -> Vec<String> {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "testsuites", root.tag
for c in root.iter("testcase"):
    outcome = ""
    for tag in ("failure", "error"):
        e = c.find(tag)
        if e is not None:
            outcome = tag + ": " + e.get("message")
    print(c.get("name") + "|" + outcome)
"#;
    support::python3_lines(script, xml)
}

#[test]
fn hand_made_drift_is_reported_in_junit_json_and_github() {
    let h = Host::start("drift");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let stack = h.dir.path().join("drift.yaml");
    std::fs::write(&stack, STACK).unwrap();
    let stack = stack.to_str().unwrap();

    expect(
        &h.keel(&["apply", "--yes", "-i", inv, stack], &[]),
        0,
        "apply",
    );
    let clean = h.keel(&["drift", "--format", "junit", "-i", inv, stack], &[]);
    expect(&clean, 0, "drift right after apply");
    let cases = junit_cases(&clean.stdout);
    assert_eq!(cases.len(), 5, "{cases:#?}");
    assert!(cases.iter().all(|c| c.ends_with('|')), "{cases:#?}");

    // Drift by hand.
    h.sh("echo 'debug = true' >> /etc/app.conf");
    h.sh("ufw allow 8080/tcp");
    h.sh("crontab -r");

    let run = h.keel(&["drift", "--format", "junit", "-i", inv, stack], &[]);
    expect(&run, 2, "drift in JUnit");
    let cases = junit_cases(&run.stdout);
    let failures: Vec<&String> = cases.iter().filter(|c| c.contains("|failure: ")).collect();
    assert_eq!(failures.len(), 3, "{cases:#?}");
    for want in [
        "file[/etc/app.conf]|failure: content differs",
        "cron[root/rotate]|failure: missing on the host",
        "ufw[firewall]|failure: on the host, not in the stack: allow 8080/tcp",
    ] {
        assert!(
            failures.iter().any(|c| c.starts_with(want)),
            "{want}:\n{cases:#?}\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("+debug = true") || run.stdout.contains("-debug = true"),
        "{}",
        run.stdout
    );

    let run = h.keel(&["drift", "--json", "-i", inv, stack], &[]);
    expect(&run, 2, "drift in JSON");
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(j["format_version"], 1);
    assert_eq!(j["summary"]["resources_drifted"], 3, "{}", run.stdout);
    assert_eq!(
        j["stacks"][0]["hosts"][0]["round_trips"], 1,
        "{}",
        run.stdout
    );

    let run = h.keel(&["drift", "--format", "github", "-i", inv, stack], &[]);
    expect(&run, 2, "drift as annotations");
    let warnings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::warning "))
        .collect();
    assert_eq!(warnings.len(), 3, "{}", run.stdout);
    for (line, what) in [
        (6, "file[/etc/app.conf]"),
        (10, "cron[root/rotate]"),
        (14, "ufw[firewall]"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!(",line={line},title=drift on web1%3A {what}::"))),
            "{what} at line {line}:\n{}",
            run.stdout
        );
    }
}
