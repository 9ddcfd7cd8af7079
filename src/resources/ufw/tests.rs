//! Fixture tests of the ufw kind.

use super::*;
use crate::resources::testing::assert_sh_syntax;
use crate::resources::testing::{a, attrs};
use crate::resources::testing::{eval, load, run_local, try_load};

fn summaries(e: &Evaluation) -> Vec<String> {
    e.commands.iter().map(|c| c.summary.clone()).collect()
}

/// The commands' own lines (what follows the shared prelude).
fn bodies(e: &Evaluation) -> Vec<String> {
    e.commands
        .iter()
        .map(|c| {
            c.script
                .strip_prefix(prelude().as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Probe output for an installed ufw with these tuples (`v4 ...`/`v6 ...`
/// lines whose `#c=TEXT` suffix becomes a hex comment).
fn live(enabled: bool, tuples: &[&str]) -> String {
    let mut s = format!(
        "installed=yes\nconf.ENABLED={}\nconf.LOGLEVEL=low\ndefault.IPV6=yes\n\
         default.DEFAULT_INPUT_POLICY=\"DROP\"\ndefault.DEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n\
         default.DEFAULT_FORWARD_POLICY=\"DROP\"\ndefault.DEFAULT_APPLICATION_POLICY=\"SKIP\"\n",
        if enabled { "yes" } else { "no" }
    );
    for t in tuples {
        match t.split_once(" #c=") {
            Some((t, c)) => {
                let _ = writeln!(s, "{t} comment={}", hex(c));
            }
            None => {
                let _ = writeln!(s, "{t}");
            }
        }
    }
    let _ = writeln!(s, "loaded={}", if enabled { "yes" } else { "no" });
    s
}

/// Both halves of a `from any to any` inbound rule.
fn both(action: &str, proto: &str, port: &str, comment: Option<&str>) -> [String; 2] {
    let c = comment.map(|c| format!(" #c={c}")).unwrap_or_default();
    [
        format!("v4 {action} {proto} {port} 0.0.0.0/0 any 0.0.0.0/0 in{c}"),
        format!("v6 {action} {proto} {port} ::/0 any ::/0 in{c}"),
    ]
}

fn lines(groups: &[[String; 2]]) -> Vec<String> {
    // ufw's order: all IPv4 rules, then all IPv6 rules.
    let mut v: Vec<String> = groups.iter().map(|g| g[0].clone()).collect();
    v.extend(groups.iter().map(|g| g[1].clone()));
    v
}

fn live_of(enabled: bool, groups: &[[String; 2]]) -> String {
    let l = lines(groups);
    live(enabled, &l.iter().map(String::as_str).collect::<Vec<_>>())
}

const G24: &str = "
defaults: { incoming: deny, outgoing: allow }
logging: low
enabled: true
rules:
  - { allow: 22/tcp, comment: ssh }
  - { allow: 2222/tcp }
  - { allow: 80/tcp }
  - { allow: 443/tcp }
";

fn g24_live(enabled: bool) -> String {
    live_of(
        enabled,
        &[
            both("allow", "tcp", "22", Some("keel: ssh")),
            both("allow", "tcp", "2222", Some("keel")),
            both("allow", "tcp", "80", Some("keel")),
            both("allow", "tcp", "443", Some("keel")),
        ],
    )
}

#[test]
fn not_installed_plans_everything_known_after_apply() {
    let e = eval("ufw", G24, "installed=no\n");
    assert_eq!(e.diff.action(), Action::Create);
    assert_eq!(e.diff.unknown.as_deref(), Some("ufw is not installed yet"));
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("rule allow 22/tcp", None, Some("added")),
            a("rule allow 2222/tcp", None, Some("added")),
            a("rule allow 80/tcp", None, Some("added")),
            a("rule allow 443/tcp", None, Some("added")),
            a("default incoming", None, Some("deny")),
            a("default outgoing", None, Some("allow")),
            a("logging", None, Some("low")),
            a("enabled", Some("false"), Some("true")),
        ]
    );
    assert_eq!(
        summaries(&e),
        vec![
            "add rule allow 22/tcp",
            "add rule allow 2222/tcp",
            "add rule allow 80/tcp",
            "add rule allow 443/tcp",
            "default deny incoming",
            "default allow outgoing",
            "logging low",
            "enable ufw",
        ]
    );
    assert_eq!(
        bodies(&e),
        vec![
            "keel_ufw allow in proto tcp from any to any port 22 comment 'keel: ssh'\n",
            "keel_ufw allow in proto tcp from any to any port 2222 comment keel\n",
            "keel_ufw allow in proto tcp from any to any port 80 comment keel\n",
            "keel_ufw allow in proto tcp from any to any port 443 comment keel\n",
            "keel_ufw default deny incoming\n",
            "keel_ufw default allow outgoing\n",
            "keel_ufw logging low\n",
            "keel_ufw --force enable\n",
        ]
    );
    for c in &e.commands {
        assert_sh_syntax(&c.script);
    }
    let r = load("ufw", G24);
    assert_eq!(r.name(), "firewall");
    assert_eq!(
        r.links(),
        Links {
            provides: vec![Ref::Service("firewall".into())],
            needs: vec![Ref::Package("ufw".into())]
        }
    );
}

#[test]
fn fresh_package_adds_rules_before_defaults_and_enable() {
    // ufw just installed: defaults are Debian's (deny in, allow out),
    // firewall off, no rules.
    let e = eval("ufw", G24, &live(false, &[]));
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(e.diff.unknown, None);
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("rule allow 22/tcp", None, Some("added")),
            a("rule allow 2222/tcp", None, Some("added")),
            a("rule allow 80/tcp", None, Some("added")),
            a("rule allow 443/tcp", None, Some("added")),
            a("enabled", Some("false"), Some("true")),
        ]
    );
    let s = summaries(&e);
    assert_eq!(s.first().unwrap(), "add rule allow 22/tcp");
    assert_eq!(s.last().unwrap(), "enable ufw", "enabled last: {s:?}");
}

#[test]
fn converged_is_noop() {
    let e = eval("ufw", G24, &g24_live(true));
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    assert!(e.commands.is_empty());
    assert_eq!(
        e.diff.reason.as_deref(),
        Some("active, 4 keel rules in place")
    );
}

#[test]
fn unmanaged_rules_are_kept_and_listed_not_drift() {
    let mut groups = vec![
        both("allow", "tcp", "22", Some("keel: ssh")),
        both("allow", "tcp", "2222", Some("keel")),
        both("allow", "tcp", "80", Some("keel")),
        both("allow", "tcp", "443", Some("keel")),
    ];
    groups.insert(2, both("allow", "tcp", "8080", None));
    let mut l = lines(&groups);
    l.push("v4 deny any any 0.0.0.0/0 any 203.0.113.9 in".into());
    l.push("v4 allow tcp 9000 0.0.0.0/0 any 0.0.0.0/0 in #c=made by hand".into());
    let out = live(true, &l.iter().map(String::as_str).collect::<Vec<_>>());
    let e = eval("ufw", G24, &out);
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    assert!(e.commands.is_empty());
    assert_eq!(
        e.diff.reason.as_deref(),
        Some(
            "active, 4 keel rules in place; unmanaged rules kept: allow 8080/tcp; \
             deny any from 203.0.113.9; allow 9000/tcp (IPv4) (comment: made by hand)"
        )
    );
}

#[test]
fn a_keel_rule_removed_by_hand_is_inserted_back_in_place() {
    let out = live_of(
        true,
        &[
            both("allow", "tcp", "22", Some("keel: ssh")),
            both("allow", "tcp", "2222", Some("keel")),
            both("allow", "tcp", "443", Some("keel")),
        ],
    );
    let e = eval("ufw", G24, &out);
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(
        attrs(&e.diff),
        vec![a("rule allow 80/tcp", None, Some("added"))]
    );
    assert_eq!(
        summaries(&e),
        vec![
            "insert rule allow 80/tcp (IPv4) before allow 443/tcp",
            "insert rule allow 80/tcp (IPv6) before allow 443/tcp",
        ]
    );
    let b = bodies(&e);
    assert!(
        b[0].starts_with(
            "keel_pos=$(keel_ufw_pos /etc/ufw/user.rules 'tcp 443 0.0.0.0/0 any 0.0.0.0/0 in')\n"
        ),
        "{}",
        b[0]
    );
    assert!(
        b[0].contains("keel_ufw insert \"$keel_pos\" allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 80 comment keel\n"),
        "{}",
        b[0]
    );
    assert!(
        b[1].contains("keel_ufw insert \"$(( $(keel_ufw_count /etc/ufw/user.rules) + keel_pos ))\" allow in proto tcp from ::/0 to ::/0 port 80 comment keel\n"),
        "{}",
        b[1]
    );
    for c in &e.commands {
        assert_sh_syntax(&c.script);
    }
}

#[test]
fn last_rule_missing_is_appended_for_both_families_at_once() {
    let out = live_of(
        true,
        &[
            both("allow", "tcp", "22", Some("keel: ssh")),
            both("allow", "tcp", "2222", Some("keel")),
            both("allow", "tcp", "80", Some("keel")),
        ],
    );
    let e = eval("ufw", G24, &out);
    assert_eq!(summaries(&e), vec!["add rule allow 443/tcp"]);
    assert_eq!(
        bodies(&e),
        vec!["keel_ufw allow in proto tcp from any to any port 443 comment keel\n"]
    );
}

#[test]
fn one_family_missing_is_named() {
    let mut l = lines(&[
        both("allow", "tcp", "22", Some("keel: ssh")),
        both("allow", "tcp", "2222", Some("keel")),
        both("allow", "tcp", "80", Some("keel")),
        both("allow", "tcp", "443", Some("keel")),
    ]);
    l.retain(|x| !x.starts_with("v6 allow tcp 443 "));
    let e = eval(
        "ufw",
        G24,
        &live(true, &l.iter().map(String::as_str).collect::<Vec<_>>()),
    );
    assert_eq!(
        attrs(&e.diff),
        vec![a(
            "rule allow 443/tcp",
            Some("present for IPv4 only"),
            Some("added for IPv6")
        )]
    );
    assert_eq!(summaries(&e), vec!["update rule allow 443/tcp"]);
}

#[test]
fn removed_from_the_stack_deletes_only_keel_rules() {
    let yaml = "rules:\n  - { allow: 22/tcp, comment: ssh }\n  - { allow: 80/tcp }\n  - { allow: 443/tcp }\n";
    let mut groups = vec![
        both("allow", "tcp", "22", Some("keel: ssh")),
        both("allow", "tcp", "2222", Some("keel")),
        both("allow", "tcp", "80", Some("keel")),
        both("allow", "tcp", "443", Some("keel")),
    ];
    groups.push(both("allow", "tcp", "8080", None));
    let mut l = lines(&groups);
    l.push("v4 deny any 3306 0.0.0.0/0 any 10.0.0.0/8 in #c=keel".into());
    let e = eval(
        "ufw",
        yaml,
        &live(true, &l.iter().map(String::as_str).collect::<Vec<_>>()),
    );
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(
        attrs(&e.diff),
        vec![
            a(
                "rule allow 2222/tcp (keel)",
                Some("present"),
                Some("removed")
            ),
            a(
                "rule deny 3306 from 10.0.0.0/8 (keel)",
                Some("present"),
                Some("removed")
            ),
        ]
    );
    assert_eq!(
        bodies(&e),
        vec![
            "keel_ufw --force delete allow in proto tcp from any to any port 2222\n",
            "keel_ufw --force delete deny in from 10.0.0.0/8 to 0.0.0.0/0 port 3306\n",
        ]
    );
    assert!(
        e.diff
            .reason
            .as_deref()
            .unwrap()
            .contains("unmanaged rule kept: allow 8080/tcp")
    );
    assert_eq!(
        e.diff.unmanaged,
        ["allow 8080/tcp"],
        "kept rules are data, not only prose"
    );
}

#[test]
fn all_rules_removed_with_empty_list_but_not_when_rules_undeclared() {
    let out = g24_live(true);
    let e = eval("ufw", "rules: []", &out);
    assert_eq!(e.commands.len(), 4);
    let e = eval("ufw", "enabled: true", &out);
    assert_eq!(e.diff.action(), Action::NoOp);
    assert_eq!(e.diff.reason.as_deref(), Some("active"));
}

#[test]
fn action_and_comment_changes_rewrite_in_place() {
    let yaml = "rules:\n  - { deny: 80/tcp, comment: web }\n  - { allow: 443/tcp, comment: tls }\n";
    let out = live_of(
        true,
        &[
            both("allow", "tcp", "80", Some("keel: web")),
            both("allow", "tcp", "443", Some("keel")),
        ],
    );
    let e = eval("ufw", yaml, &out);
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("rule deny 80/tcp", Some("allow"), Some("deny")),
            a(
                "rule allow 443/tcp",
                Some("comment \"keel\""),
                Some("comment \"keel: tls\"")
            ),
        ]
    );
    assert_eq!(
        bodies(&e),
        vec![
            "keel_ufw deny in proto tcp from any to any port 80 comment 'keel: web'\n",
            "keel_ufw allow in proto tcp from any to any port 443 comment 'keel: tls'\n",
        ]
    );
}

#[test]
fn an_unmanaged_rule_that_is_declared_is_adopted() {
    let yaml = "rules:\n  - { allow: 80/tcp }\n";
    let out = live_of(true, &[both("allow_log", "tcp", "80", Some("web"))]);
    let e = eval("ufw", yaml, &out);
    assert_eq!(
        attrs(&e.diff),
        vec![a(
            "rule allow 80/tcp",
            Some("not managed by keel (comment: web), allow log"),
            Some("managed by keel, allow")
        )]
    );
    assert_eq!(summaries(&e), vec!["update rule allow 80/tcp"]);
}

#[test]
fn out_of_order_keel_rules_are_recreated_in_order() {
    // Declared: deny from a network first, then allow the port; live has
    // them the other way round (the deny would never match).
    let yaml = "rules:\n  - { deny: 5432/tcp, from: 10.9.0.0/16 }\n  - { allow: 5432/tcp }\n";
    let mut l = lines(&[both("allow", "tcp", "5432", Some("keel"))]);
    l.insert(
        1,
        "v4 deny tcp 5432 0.0.0.0/0 any 10.9.0.0/16 in #c=keel".into(),
    );
    let e = eval(
        "ufw",
        yaml,
        &live(true, &l.iter().map(String::as_str).collect::<Vec<_>>()),
    );
    assert_eq!(
        attrs(&e.diff),
        vec![a(
            "rule deny 5432/tcp from 10.9.0.0/16",
            Some("out of declared order"),
            Some("re-created in declared order")
        )]
    );
    assert_eq!(
        summaries(&e),
        vec!["move rule deny 5432/tcp from 10.9.0.0/16 into declared order"]
    );
    let b = &bodies(&e)[0];
    assert!(
        b.starts_with("keel_ufw --force delete deny in proto tcp from 10.9.0.0/16 to 0.0.0.0/0 port 5432\nkeel_pos=$(keel_ufw_pos /etc/ufw/user.rules 'tcp 5432 0.0.0.0/0 any 0.0.0.0/0 in')\n"),
        "{b}"
    );
    assert!(
        b.contains("keel_ufw insert \"$keel_pos\" deny in proto tcp from 10.9.0.0/16 to any port 5432 comment keel\n"),
        "{b}"
    );
}

#[test]
fn in_order_keeps_a_longest_run() {
    let p = |v: &[Option<usize>]| in_order(v, &vec![0; v.len()]);
    assert_eq!(p(&[Some(0), Some(1), Some(2)]), vec![true, true, true]);
    assert_eq!(p(&[Some(1), Some(0)]), vec![true, false]);
    // Same length: the weighted (allow) rule stays.
    assert_eq!(in_order(&[Some(1), Some(0)], &[0, 1]), vec![false, true]);
    assert_eq!(
        in_order(&[Some(3), Some(0), Some(1), Some(2)], &[1, 0, 0, 0]),
        vec![false, true, true, true],
        "longer wins over heavier"
    );
    assert_eq!(
        p(&[Some(2), None, Some(0), Some(1)]),
        vec![false, false, true, true]
    );
    assert_eq!(p(&[None, None]), vec![false, false]);
    assert_eq!(p(&[]), Vec::<bool>::new());
}

#[test]
fn defaults_logging_and_enabled_drift() {
    let out = live(false, &[])
        .replace(
            "\"DROP\"\ndefault.DEFAULT_OUTPUT",
            "\"ACCEPT\"\ndefault.DEFAULT_OUTPUT",
        )
        .replace("LOGLEVEL=low", "LOGLEVEL=off");
    let yaml = "{defaults: {incoming: deny, routed: reject}, logging: medium, enabled: true}";
    let e = eval("ufw", yaml, &out);
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("default incoming", Some("allow"), Some("deny")),
            a("default routed", Some("deny"), Some("reject")),
            a("logging", Some("off"), Some("medium")),
            a("enabled", Some("false"), Some("true")),
        ]
    );
    assert_eq!(
        summaries(&e),
        vec![
            "default deny incoming",
            "default reject routed",
            "logging medium",
            "enable ufw"
        ]
    );
    // Enabled in ufw.conf but the chains are not loaded: enable again.
    let out = g24_live(true).replace("loaded=yes", "loaded=no");
    let e = eval("ufw", G24, &out);
    assert_eq!(
        attrs(&e.diff),
        vec![a("enabled", Some("true (rules not loaded)"), Some("true"))]
    );
    // Cannot tell (no iptables): trust ufw.conf.
    let out = g24_live(true).replace("loaded=yes", "loaded=unknown");
    assert_eq!(eval("ufw", G24, &out).diff.action(), Action::NoOp);
}

#[test]
fn disabling_comes_first() {
    let yaml = "{enabled: false, rules: [{allow: 22/tcp}]}";
    let e = eval("ufw", yaml, &live(true, &[]));
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("enabled", Some("true"), Some("false")),
            a("rule allow 22/tcp", None, Some("added")),
        ]
    );
    assert_eq!(summaries(&e), vec!["disable ufw", "add rule allow 22/tcp"]);
    assert_eq!(bodies(&e)[0], "keel_ufw --force disable\n");
    let e = eval("ufw", "enabled: false", &live(false, &[]));
    assert_eq!(e.diff.action(), Action::NoOp);
}

#[test]
fn full_rule_syntax() {
    let yaml = r#"
rules:
  - { deny: 3306, from: 10.0.0.0/8 }
  - { allow: 8000:8100/tcp, from: 192.168.1.7/24, to: any, interface: eth0, direction: in }
  - { reject: 25/tcp, direction: out }
  - { limit: 22/tcp }
  - { allow: 53/udp, to: "2001:DB8::1/128", direction: out, interface: wg0 }
  - { allow: any, from: 203.0.113.5 }
"#;
    let e = eval("ufw", yaml, "installed=no\n");
    assert_eq!(
        attrs(&e.diff).into_iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![
            "rule deny 3306 from 10.0.0.0/8",
            "rule allow 8000:8100/tcp from 192.168.1.0/24 on eth0",
            "rule reject out 25/tcp",
            "rule limit 22/tcp",
            "rule allow out 53/udp to 2001:db8::1 on wg0",
            "rule allow any from 203.0.113.5",
        ]
    );
    assert_eq!(
        bodies(&e),
        vec![
            "keel_ufw deny in from 10.0.0.0/8 to any port 3306 comment keel\n",
            "keel_ufw allow in on eth0 proto tcp from 192.168.1.0/24 to any port 8000:8100 comment keel\n",
            "keel_ufw reject out proto tcp from any to any port 25 comment keel\n",
            "keel_ufw limit in proto tcp from any to any port 22 comment keel\n",
            "keel_ufw allow out on wg0 proto udp from any to 2001:db8::1 port 53 comment keel\n",
            "keel_ufw allow in from 203.0.113.5 to any comment keel\n",
        ]
    );
    // Exactly the tuples ufw 0.36 writes for those commands (checked on
    // Debian 12): converged, nothing to do.
    let out = live(
        true,
        &[
            "v4 deny any 3306 0.0.0.0/0 any 10.0.0.0/8 in #c=keel",
            "v4 allow tcp 8000:8100 0.0.0.0/0 any 192.168.1.0/24 in_eth0 #c=keel",
            "v4 reject tcp 25 0.0.0.0/0 any 0.0.0.0/0 out #c=keel",
            "v4 limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in #c=keel",
            "v4 allow any any 0.0.0.0/0 any 203.0.113.5 in #c=keel",
            "v6 reject tcp 25 ::/0 any ::/0 out #c=keel",
            "v6 limit tcp 22 ::/0 any ::/0 in #c=keel",
            "v6 allow udp 53 2001:db8::1 any ::/0 out_wg0 #c=keel",
        ],
    );
    let e = eval("ufw", yaml, &out);
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
}

#[test]
fn ipv6_off_in_ufw() {
    let yaml = "rules:\n  - { allow: 22/tcp }\n  - { allow: 80/tcp, from: \"2001:db8::/32\" }\n";
    let out = live(
        true,
        &["v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in #c=keel"],
    )
    .replace("IPV6=yes", "IPV6=no");
    let e = eval("ufw", yaml, &out);
    assert!(e.diff.attrs.is_empty());
    assert_eq!(
        e.diff.error.as_deref(),
        Some(
            "rule allow 80/tcp from 2001:db8::/32 is an IPv6 rule but IPv6 is off in ufw \
             (IPV6=no in /etc/default/ufw; set it to yes, then `ufw reload`)"
        )
    );
}

#[test]
fn no_ipv6_in_the_kernel() {
    // ufw ignores IPV6=yes then: only IPv4 rules are expected.
    let out = live(
        true,
        &["v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in #c=keel"],
    )
    .replace("loaded=yes", "kernel.ipv6=no\nloaded=yes");
    let e = eval("ufw", "rules: [{allow: 22/tcp}]", &out);
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    let e = eval("ufw", "rules: [{allow: 22/tcp, from: \"fd00::/8\"}]", &out);
    assert!(e.diff.error.unwrap().contains("kernel has no IPv6"));
}

#[test]
fn parse_odd_output() {
    let r = load("ufw", G24);
    // Malformed tuples are skipped (as ufw does) and reported.
    let out =
        "installed=yes\nv4 allow tcp\nv4 frobnicate tcp 1 0.0.0.0/0 any 0.0.0.0/0 in\nnoise\n";
    let e = r.evaluate(&ProbeOutput::ok(out)).unwrap();
    assert!(
        e.diff
            .reason
            .unwrap()
            .contains("ufw skips malformed rule lines: allow tcp; frobnicate")
    );
    // Old formats, app rules, route rules and odd comments parse.
    let t = Tuple::parse("allow tcp 22 0.0.0.0/0 any 0.0.0.0/0", false).unwrap();
    assert_eq!(
        t.dir,
        TupleDir::Plain {
            direction: Direction::In,
            interface: None
        }
    );
    let t = Tuple::parse(
        "allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 Nginx%20Full - in comment=6b65656c",
        false,
    )
    .unwrap();
    assert_eq!(t.apps, Some(("Nginx%20Full".into(), "-".into())));
    assert!(!t.owned(), "app rules are never keel's");
    assert_eq!(t.label(false), "allow app Nginx Full");
    let t = Tuple::parse(
        "route:allow_log any any 0.0.0.0/0 any 0.0.0.0/0 in_eth0!out_eth1",
        false,
    )
    .unwrap();
    assert!(t.route && t.logtype == LogType::Log && !t.owned());
    assert_eq!(t.label(false), "route allow log in_eth0!out_eth1 any");
    assert_eq!(t.dir, TupleDir::Other("in_eth0!out_eth1".into()));
    let t = Tuple::parse(
        "allow_log-all tcp 22 0.0.0.0/0 any 0.0.0.0/0 out_eth0",
        false,
    )
    .unwrap();
    assert_eq!(t.logtype, LogType::LogAll);
    assert_eq!(
        t.dir,
        TupleDir::Plain {
            direction: Direction::Out,
            interface: Some("eth0".into())
        }
    );
    assert_eq!(t.key(), "tcp 22 0.0.0.0/0 any 0.0.0.0/0 out_eth0");
    assert!(Tuple::parse("allow_loud tcp 22 0.0.0.0/0 any 0.0.0.0/0 in", false).is_none());
    let t = Tuple::parse(
        "deny tcp 1 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c3a2",
        false,
    )
    .unwrap();
    assert_eq!(t.comment, "keel:", "odd hex digit dropped");
    assert!(t.owned());
    assert!(!is_marker("keeled"));
    assert!(is_marker("keel: x") && is_marker("keel"));
    // Errors.
    assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
    let err = r
        .evaluate(&ProbeOutput {
            stdout: "installed=yes\n".into(),
            stderr: "keel: cannot read /etc/ufw/user.rules: reading ufw's state needs root\n"
                .into(),
            status: 2,
        })
        .unwrap_err();
    assert!(err.contains("needs root"), "{err}");
}

#[test]
fn validation_errors() {
    let bad = |yaml: &str, want: &str| {
        let err = try_load("ufw", yaml)
            .err()
            .unwrap_or_else(|| panic!("accepted: {yaml}"));
        assert!(err.contains(want), "{yaml}: {err}");
    };
    bad(
        "rules: [{allow: 70000/tcp}]",
        "port 70000 is out of range (1–65535)",
    );
    bad("rules: [{allow: 0}]", "port 0 is out of range");
    bad("rules: [{allow: 80/icmp}]", "must be `tcp` or `udp`");
    bad("rules: [{allow: 100:90/tcp}]", "empty or reversed");
    bad("rules: [{allow: 90:90/tcp}]", "empty or reversed");
    bad("rules: [{allow: 8000:8100}]", "needs a protocol");
    bad("rules: [{allow: ssh}]", "is not a port spec");
    bad("rules: [{allow: 80-90/tcp}]", "is not a port spec");
    bad("rules: [{allow: \"\"}]", "is not a port spec");
    bad(
        "rules: [{allow: 80, from: 10.0.0.300}]",
        "is not an IP address",
    );
    bad("rules: [{allow: 80, from: 10.0.0.0/33}]", "at most 32");
    bad("rules: [{allow: 80, from: \"::/129\"}]", "at most 128");
    bad(
        "rules: [{allow: 80, from: 10.0.0.0/255.0.0.0}]",
        "prefix length",
    );
    bad(
        "rules: [{allow: 80, from: \"10.0.0.1; reboot\"}]",
        "is not an IP address",
    );
    bad(
        "rules: [{allow: 80, from: 10.0.0.1, to: \"::1\"}]",
        "must be of one IP family",
    );
    bad("rules: [{allow: 80, interface: \"eth0:1\"}]", "aliases");
    bad(
        "rules: [{allow: 80, interface: averyveryverylongname}]",
        "at most 15",
    );
    bad(
        "rules: [{allow: 80, interface: \"e th0\"}]",
        "is not an interface name",
    );
    bad(
        "rules: [{allow: 80, interface: \"$(reboot)\"}]",
        "is not an interface name",
    );
    bad(
        "rules: [{allow: 80, interface: comment}]",
        "ufw's rule syntax",
    );
    bad("rules: [{allow: 80, interface: \"-x\"}]", "start with `-`");
    bad("rules: [{allow: 80, direction: sideways}]", "sideways");
    bad(
        "rules: [{allow: 80, comment: \"it's\"}]",
        "does not accept `'`",
    );
    bad("rules: [{allow: 80, comment: \"a\\nb\"}]", "one line");
    bad("rules: [{from: 10.0.0.1}]", "needs one of `allow`");
    bad("rules: [{allow: 80, deny: 80}]", "found `allow` and `deny`");
    bad("rules: [{alow: 80}]", "alow");
    bad("rules: [\"allow 80\"]", "expected a map");
    bad("logging: loud", "loud");
    bad("defaults: {incoming: drop}", "drop");
    bad("defaults: {inbound: deny}", "inbound");
    bad("enabled: maybe", "true or false");
    bad(
        "rules: [{allow: 80/tcp}, {deny: 80/tcp}]",
        "rule 2 (`deny 80/tcp`) matches the same traffic as rule 1 (`allow 80/tcp`)",
    );
    bad(
        "rules: [{allow: 22, from: 10.0.0.0/8}, {allow: 22, from: 10.1.2.3/8}]",
        "matches the same traffic",
    );
    // Fine: same port, other protocol or family or direction.
    for ok in [
        "rules: [{allow: 80/tcp}, {allow: 80/udp}, {allow: 80}]",
        "rules: [{allow: 80, from: 10.0.0.0/8}, {allow: 80, from: \"fd00::/8\"}]",
        "rules: [{allow: 80/tcp}, {allow: 80/tcp, direction: out}]",
        "logging: off",
        "{logging: full, enabled: false, defaults: {routed: allow}}",
        "rules: [{allow: 1}, {allow: 65535/udp}, {allow: any/tcp}, {allow: 1:65535/tcp}]",
        "rules: [{allow: 80, interface: br-lan.10}]",
        "",
    ] {
        try_load("ufw", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

#[test]
fn addresses_are_normalized_like_ufw() {
    let n = |s: &str| Addr::parse(s).unwrap().to_string();
    assert_eq!(n("10.1.2.3/8"), "10.0.0.0/8");
    assert_eq!(n("10.1.2.3/32"), "10.1.2.3");
    assert_eq!(n("0.0.0.0/0"), "0.0.0.0/0");
    assert_eq!(n("ANY"), "any");
    assert_eq!(n("2001:DB8:0:0::1/128"), "2001:db8::1");
    assert_eq!(n("2001:db8::1/64"), "2001:db8::1/64");
    assert!(Addr::parse("010.0.0.1").is_err());
    assert!(Addr::parse("fe80::1%eth0").is_err());
}

#[test]
fn lockout_helpers() {
    let r: Ufw = {
        let node = crate::node::Node::parse(G24).unwrap();
        node.deserialize().unwrap()
    };
    assert_eq!(r.desired_rules().len(), 4);
    assert_eq!(r.default_incoming(), Some(Policy::Deny));
    assert_eq!(r.enabled(), Some(true));
    assert!(r.manages_rules());
    assert_eq!(r.admits_inbound(22, Proto::Tcp), Some(true));
    assert_eq!(r.admits_inbound(22, Proto::Udp), None);
    assert_eq!(r.admits_inbound(8080, Proto::Tcp), None);
    let node = crate::node::Node::parse(
        "rules: [{deny: 22/tcp, from: 10.0.0.0/8}, {deny: 20:30/tcp}, {allow: 22/tcp}]",
    )
    .unwrap();
    let r: Ufw = node.deserialize().unwrap();
    assert_eq!(r.admits_inbound(22, Proto::Tcp), Some(false));
}

#[test]
fn hostile_values_stay_inert() {
    // Everything that reaches a script is validated and quoted; comments
    // are free text.
    let yaml = r#"rules: [{allow: 80/tcp, comment: "$(touch /tmp/keel-ufw-pwned); `id` \"x\" && rm -rf /"}]"#;
    let e = eval("ufw", yaml, "installed=no\n");
    let body = &bodies(&e)[0];
    assert_eq!(
        body,
        "keel_ufw allow in proto tcp from any to any port 80 comment 'keel: $(touch /tmp/keel-ufw-pwned); `id` \"x\" && rm -rf /'\n"
    );
    // Run the scripts with a fake `ufw` that prints its arguments.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ufw");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done; echo\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = format!(
        "PATH={}:$PATH\n{}",
        q(dir.path().to_str().unwrap()),
        e.commands[0].script
    );
    let out = run_local(&script);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "[allow][in][proto][tcp][from][any][to][any][port][80][comment][keel: $(touch /tmp/keel-ufw-pwned); `id` \"x\" && rm -rf /]\n"
    );
    assert!(!std::path::Path::new("/tmp/keel-ufw-pwned").exists());
}

#[test]
fn position_lookup_runs_in_sh() {
    // keel_ufw_pos / keel_ufw_count against real rule files.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user.rules");
    std::fs::write(
        &f,
        "*filter\n### RULES ###\n\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n\n\
         ### tuple ### route:allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n\n\
         ### tuple ### deny tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n\n\
         ### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in_eth0 comment=6b65656c\n### END RULES ###\n",
    )
    .unwrap();
    let f = q(f.to_str().unwrap());
    // The prelude without its "is ufw installed" check.
    let prelude = prelude().replace("if ! command -v ufw", "if false");
    let run = |body: &str| {
        let out = run_local(&format!("{prelude}{body}"));
        assert_eq!(out.status, 0, "{}", out.stderr);
        out.stdout
    };
    assert_eq!(run(&format!("keel_ufw_count {f}\n")), "4\n");
    assert_eq!(
        run(&format!(
            "keel_ufw_pos {f} 'tcp 443 0.0.0.0/0 any 0.0.0.0/0 in'\n"
        )),
        "3\n",
        "the route rule with the same fields is not it"
    );
    assert_eq!(
        run(&format!(
            "keel_ufw_pos {f} 'tcp 80 0.0.0.0/0 any 0.0.0.0/0 in_eth0'\n"
        )),
        "4\n"
    );
    assert_eq!(
        run(&format!(
            "keel_ufw_pos {f} 'tcp 81 0.0.0.0/0 any 0.0.0.0/0 in'\n"
        )),
        ""
    );
    assert_eq!(run("keel_ufw_pos /nonexistent 'x'\necho rc=$?\n"), "rc=0\n");
}

#[test]
fn probe_is_valid_sh_and_reads_only() {
    let r = load("ufw", G24);
    let p = r.probe();
    assert_sh_syntax(&p);
    for verb in [
        "ufw allow",
        "ufw delete",
        "--force",
        "ufw default",
        "ufw logging",
        "ufw enable",
        "ufw disable",
        "iptables -A",
        "iptables -D",
        "iptables -F",
        "rm ",
        "> /etc",
    ] {
        assert!(!p.contains(verb), "the probe must only read: {verb}");
    }
    // Here, ufw is most likely not installed (or not readable): either
    // way the output parses or fails with a clear message.
    let out = run_local(&p);
    match r.evaluate(&out) {
        Ok(e) => assert!(e.diff.action().is_change() || e.diff.reason.is_some()),
        Err(e) => assert!(e.contains("needs root"), "{e}"),
    }
}
