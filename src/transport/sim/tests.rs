//! Tests of the simulated transport: its answers go through the real probe
//! batch and every kind's own parser.

use super::*;
use crate::resources::testing::load;
use crate::resources::{Action, Resource};

/// The kinds and settings the scale benchmark's stacks use.
fn mix() -> Vec<Box<dyn Resource>> {
    [
        (
            "file",
            "{ path: /srv/a/f.conf, content: \"x=1\\n\", mode: \"0644\" }",
        ),
        (
            "file",
            "{ path: /srv/a/owned, content: y, owner: root, group: root }",
        ),
        ("directory", "{ path: /srv/a, mode: \"0755\" }"),
        ("package", "{ name: jq }"),
        (
            "cron",
            "{ name: job, schedule: \"0 3 * * *\", command: /bin/true }",
        ),
        ("line", "{ path: /etc/a.conf, line: \"k=v\" }"),
        ("sysctl", "{ name: net.ipv4.ip_forward, value: \"1\" }"),
        ("service", "{ name: cron, state: running, enabled: true }"),
        ("user", "{ name: app }"),
        ("group", "{ name: app }"),
    ]
    .iter()
    .map(|(k, y)| load(k, y))
    .collect()
}

#[tokio::test]
async fn fresh_answers_parse_as_changes_for_every_kind_of_the_mix() {
    let sim = Sim::new("h1", Arc::new(Answers::parse(FRESH).unwrap()));
    let res = mix();
    let probes: Vec<String> = res.iter().map(|r| r.probe()).collect();
    let outs = crate::probe::run_batch(&sim, &probes).await.unwrap();
    assert_eq!(sim.round_trips(), 1);
    assert_eq!(outs.len(), res.len());
    for (r, o) in res.iter().zip(&outs) {
        let ev = r
            .evaluate(o)
            .unwrap_or_else(|e| panic!("{}[{}]: {e}", r.kind(), r.name()));
        assert_ne!(
            ev.diff.action(),
            Action::NoOp,
            "{}[{}] on a fresh host",
            r.kind(),
            r.name()
        );
    }
}

#[tokio::test]
async fn every_rule_of_the_fresh_answers_still_matches_a_probe_of_the_mix() {
    // A kind whose probe script changed would otherwise silently lose its
    // answer (and the benchmark plan errors instead of creates).
    let answers = Answers::parse(FRESH).unwrap();
    let probes: Vec<String> = mix().iter().map(|r| r.probe()).collect();
    for rule in &answers.rules {
        assert!(
            probes.iter().any(|p| p.contains(&rule.needle)),
            "no probe contains `{}`",
            rule.needle
        );
    }
}

#[tokio::test]
async fn hosts_sending_the_same_probes_get_remembered_answers() {
    let answers = Arc::new(Answers::parse(FRESH).unwrap());
    let probes: Vec<String> = mix().iter().map(|r| r.probe()).collect();
    let mut seen = Vec::new();
    for host in ["h1", "h2", "h3"] {
        let sim = Sim::new(host, answers.clone());
        let outs = crate::probe::run_batch(&sim, &probes).await.unwrap();
        seen.push(outs.iter().map(|o| o.stdout.clone()).collect::<Vec<_>>());
    }
    assert!(seen.iter().all(|s| *s == seen[0]));
    // Each distinct probe was searched once and remembered.
    let distinct: std::collections::BTreeSet<&String> = probes.iter().collect();
    assert_eq!(answers.remembered(), distinct.len());
    let fresh = Answers::parse(FRESH).unwrap();
    for (p, out) in probes.iter().zip(&seen[0]) {
        assert_eq!(*out, fresh.search(&format!("export LC_ALL=C\n{p}")));
    }
}

#[tokio::test]
async fn it_refuses_what_is_not_a_plan_read() {
    let sim = Sim::new("h1", Arc::new(Answers::default()));
    let out = sim.run("apt-get install -y jq\n").await.unwrap();
    assert_eq!(out.status, Some(REFUSED));
    assert!(out.stderr_text().contains(ENV), "{}", out.stderr_text());
    let ledger = sim
        .run(&crate::ledger::read_script("/var/lib/keel/ledger"))
        .await
        .unwrap();
    assert!(ledger.success() && ledger.stdout.is_empty());
}

#[tokio::test]
async fn facts_name_the_simulated_host() {
    let sim = Sim::new("web-7", Arc::new(Answers::default()));
    let facts = crate::probe::gather_facts(&sim).await.unwrap();
    assert_eq!(facts["hostname"], "web-7");
    assert_eq!(facts["os"]["family"], "debian");
}

#[test]
fn answers_parse_rules_and_reject_text_before_the_first() {
    let a = Answers::parse("# c\n@ needle one\nline a\n# inner comment\nline b\n@ two\n").unwrap();
    assert_eq!(
        a.rules,
        vec![
            Rule {
                needle: "needle one".into(),
                stdout: "line a\nline b\n".into()
            },
            Rule {
                needle: "two".into(),
                stdout: String::new()
            },
        ]
    );
    let e = Answers::parse("stray\n@ x\n").unwrap_err();
    assert!(e.contains("line 1"), "{e}");
    assert!(Answers::parse("@ \n").unwrap_err().contains("needle"));
}
