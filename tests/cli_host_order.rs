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

/// Where `name` first occurs as a whole word (`h-1` is not found in `h-10`).
fn first_at(text: &str, name: &str) -> Option<usize> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
    text.match_indices(name).map(|(i, _)| i).find(|&i| {
        !word(text[..i].chars().next_back()) && !word(text[i + name.len()..].chars().next())
    })
}

/// Three hosts listed out of order, answered by the simulated transport
/// (no host needed), and a stack that changes something on each.
fn simulated_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inventory.yaml"),
        "hosts:\n  h-10: { address: 10.0.0.10 }\n  h-2: { address: 10.0.0.2 }\n  h-1: { address: 10.0.0.1 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        "name: nat\ntargets: [all]\nresources:\n  - package: { name: jq }\n",
    )
    .unwrap();
    dir
}

fn simulated(dir: &std::path::Path, args: &[&str]) -> support::Run {
    Keel::new()
        .current_dir(dir)
        .env("KEEL_SIMULATED_HOSTS", "fresh")
        .args(args)
        .run()
}

#[test]
fn every_output_lists_hosts_in_natural_order() {
    let dir = simulated_project();
    let d = dir.path();
    let junit = d.join("drift.xml");
    let junit_arg = junit.to_str().unwrap();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("plan", vec!["plan", "--color", "never", "stack.yaml"]),
        (
            "plan --all",
            vec!["plan", "--all", "--color", "never", "stack.yaml"],
        ),
        ("plan --json", vec!["plan", "--json", "stack.yaml"]),
        ("graph", vec!["graph", "stack.yaml"]),
        ("graph dot", vec!["graph", "--format", "dot", "stack.yaml"]),
        ("drift", vec!["drift", "--color", "never", "stack.yaml"]),
        ("drift json", vec!["drift", "--json", "stack.yaml"]),
        (
            "drift github",
            vec!["drift", "--format", "github", "stack.yaml"],
        ),
        (
            "drift junit",
            vec![
                "drift",
                "--format",
                "junit",
                "--junit",
                junit_arg,
                "stack.yaml",
            ],
        ),
    ];
    for (what, args) in runs {
        let out = simulated(d, &args);
        let mut texts = vec![(what.to_string(), out.stdout.clone())];
        if what == "drift junit" {
            texts.push((
                "--junit file".into(),
                std::fs::read_to_string(&junit).unwrap(),
            ));
        }
        for (what, text) in texts {
            let at: Vec<Option<usize>> = ["h-1", "h-2", "h-10"]
                .iter()
                .map(|h| first_at(&text, h))
                .collect();
            assert!(
                at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
                "{what}: hosts not in natural order ({at:?}):\n{}",
                out.all()
            );
        }
    }
}

#[test]
fn a_plan_of_more_hosts_than_its_window_prints_each_once_in_order() {
    // --parallel 1: four hosts in flight at a time, refilled as each is
    // printed (keel plan's window); every host once, in natural order.
    let dir = simulated_project();
    let hosts: String = (1..=25)
        .rev()
        .map(|i| format!("  w-{i}: {{ address: 10.0.1.{i} }}\n"))
        .collect();
    std::fs::write(
        dir.path().join("inventory.yaml"),
        format!("hosts:\n{hosts}"),
    )
    .unwrap();
    let want: Vec<String> = (1..=25).map(|i| format!("w-{i}")).collect();
    let out = simulated(
        dir.path(),
        &["plan", "--parallel", "1", "--color", "never", "stack.yaml"],
    );
    let got: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("w-"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(got, want, "{}", out.all());
    assert!(out.stdout.contains("Plan: 25 to create"), "{}", out.stdout);
    let json = simulated(
        dir.path(),
        &["plan", "--parallel", "1", "--json", "stack.yaml"],
    );
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let got: Vec<&str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(got, want);
}
