//! The `ufw` kind: the host firewall as UFW manages it — default policies,
//! logging, on/off, and the rules keel owns.
//!
//! ```yaml
//! - ufw:
//!     defaults: { incoming: deny, outgoing: allow, routed: deny }
//!     logging: low
//!     enabled: true
//!     rules:
//!       - { allow: 22/tcp, comment: ssh }
//!       - { limit: 2222/tcp }
//!       - { deny: 3306, from: 10.0.0.0/8 }
//!       - { allow: 8000:8100/tcp, from: 192.168.1.0/24, interface: eth0 }
//!       - { reject: 25/tcp, direction: out }
//! ```
//!
//! There is one `ufw` resource per host; its address is `ufw[firewall]`.
//!
//! ## The fact: ufw's own files
//! `ufw status` says little when the firewall is off, so the probe reads what
//! ufw itself reads (as its `_read_rules` does): the `### tuple ###` comment
//! lines of `/etc/ufw/user.rules` and `/etc/ufw/user6.rules` — one per rule
//! and IP family: `ACTION[_LOGTYPE] PROTO DPORT DST SPORT SRC [DAPP SAPP]
//! DIRECTION[_IFACE] [comment=HEX]` — plus `ENABLED`/`LOGLEVEL` from
//! `/etc/ufw/ufw.conf`, `IPV6` and the `DEFAULT_*_POLICY` lines of
//! `/etc/default/ufw`, whether the kernel has IPv6 (ufw ignores `IPV6=yes`
//! without `/proc/sys/net/ipv6`; the probe prints `kernel.ipv6=no` then),
//! and whether ufw's chains are loaded in the running firewall
//! (`iptables -S ufw-user-input`). Probe output, one item a line:
//!
//! ```text
//! installed=yes
//! conf.ENABLED=yes
//! conf.LOGLEVEL=low
//! default.IPV6=yes
//! default.DEFAULT_INPUT_POLICY="DROP"
//! v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c3a20737368
//! v6 allow tcp 22 ::/0 any ::/0 in comment=6b65656c3a20737368
//! loaded=yes
//! ```
//!
//! Without ufw (`installed=no`) the plan says "known after apply" and plans
//! the whole declared state; the resource needs `package[ufw]`, so when the
//! package is installed in the same run the fact is read again first.
//!
//! ## Ownership
//! Rules keel adds carry the comment `keel` or `keel: <comment>`. A rule
//! with that marker that is no longer declared is deleted; any other rule
//! (added by hand, by another tool) is left alone and listed in the plan's
//! reason as "unmanaged rule kept". An unmanaged rule is not drift: when it
//! is the only difference the plan is a no-op (exit 0 with
//! `--detailed-exitcode`); `keel plan --all` or `--json` shows it. ufw keeps
//! one rule per match (ports, protocol, addresses, interface, direction);
//! declaring a rule that exists unmanaged adopts it in place (its action and
//! comment are rewritten). `rules:` left out means rules are not managed at
//! all; `rules: []` removes every keel rule. When a `ufw` resource with
//! `rules:` leaves the stack altogether, the stack's ledger plans exactly
//! that removal ([`crate::ledger`]).
//!
//! ## Order and commands
//! ufw applies the first matching rule, so keel keeps its rules in declared
//! order, per IP family. Each rule is compared per family (a rule without
//! addresses is an IPv4 and an IPv6 rule). A missing rule is inserted before
//! the next declared rule that is in place (`ufw insert N`, N computed on
//! the host from the rule files at apply time) or appended; keel rules found
//! out of declared order (those outside a longest in-order run) are deleted
//! and re-inserted. A rule whose action or comment changed is rewritten in
//! place by ufw itself. Deletion is by rule spec, never by number.
//!
//! Lockout safety: rules are added before obsolete rules are deleted, before
//! default policies change and before the firewall is enabled (so the SSH
//! rule is in place first). Re-ordering deletes and re-inserts a rule at
//! once; established connections (keel's own) survive it through ufw's
//! conntrack rules. Every `ufw` call gets `</dev/null` (the script itself
//! arrives on stdin) and `--force` where ufw could prompt.
//!
//! Validation happens when the stack is loaded: ports 1–65535, ranges `A:B`
//! with `A < B` and a protocol, `tcp`/`udp`, addresses and CIDRs (parsed with
//! `std::net` and normalized as ufw does: `/32` and `/128` dropped, an IPv4
//! network's host bits cleared), interface names as ufw accepts them,
//! comments without `'`; errors point at the offending value.

use super::*;
use crate::shell::{Script, q};
use std::fmt::{self, Write as _};

const RULES4: &str = "/etc/ufw/user.rules";
const RULES6: &str = "/etc/ufw/user6.rules";
/// The comment (or comment prefix, followed by `:`) of the rules keel owns.
const MARKER: &str = "keel";

mod declared;
mod live;
mod plan;
#[cfg(test)]
mod tests;

pub use declared::*;
pub use live::*;
use plan::*;

impl Kind for Ufw {
    const KIND: &'static str = "ufw";
    type Fact = UfwFact;

    fn name(&self) -> String {
        "firewall".into()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let rules = self.desired_rules();
        // ufw keeps one rule per match: two declared rules with the same one
        // would overwrite each other on every run.
        'outer: for (j, b) in rules.iter().enumerate() {
            for (i, a) in rules[..j].iter().enumerate() {
                let same = [Family::V4, Family::V6].iter().any(|&f| {
                    a.applies_to(f) && b.applies_to(f) && a.tuple(f).key() == b.tuple(f).key()
                });
                if same {
                    errs.push(
                        Invalid::field(
                            "rules",
                            format!(
                                "rule {} (`{}`) matches the same traffic as rule {} (`{}`): \
                                 ufw keeps one rule per port, protocol, addresses, interface and direction",
                                j + 1,
                                b.label(),
                                i + 1,
                                a.label()
                            ),
                        )
                        .help("keep one of them (the first matching rule decides anyway)"),
                    );
                    continue 'outer;
                }
            }
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            // sshd changes come after the firewall's: a new SSH port is
            // allowed before sshd moves to it.
            provides: vec![Ref::Service("firewall".into())],
            needs: vec![Ref::Package("ufw".into())],
        }
    }

    /// UFW's files (rules, defaults, on/off): firewall changes can cut
    /// keel's access, so apply runs them under commit-confirmed.
    fn touches(&self) -> Touches {
        Touches::default().path("/etc/ufw").path("/etc/default/ufw")
    }

    fn probe(&self) -> String {
        Script::new(include_str!("probe.sh"))
            .set("keel_rules4", RULES4)
            .set("keel_rules6", RULES6)
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<UfwFact, FactError> {
        out.check("reading ufw's state")?;
        let mut fact = UfwFact::default();
        let mut seen = false;
        for line in out.stdout.lines() {
            let line = line.trim_end();
            if let Some(t) = line.strip_prefix("v4 ") {
                match Tuple::parse(t, false) {
                    Some(t) => fact.v4.push(t),
                    None => fact.malformed.push(t.to_string()),
                }
                continue;
            }
            if let Some(t) = line.strip_prefix("v6 ") {
                match Tuple::parse(t, true) {
                    Some(t) => fact.v6.push(t),
                    None => fact.malformed.push(t.to_string()),
                }
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = unquote(v);
            match k {
                "installed" => {
                    seen = true;
                    fact.installed = v == "yes";
                }
                "conf.ENABLED" => fact.enabled = v.eq_ignore_ascii_case("yes"),
                "conf.LOGLEVEL" => fact.loglevel = Some(v.to_lowercase()),
                "default.IPV6" => fact.ipv6 = v.eq_ignore_ascii_case("yes"),
                "kernel.ipv6" => fact.no_kernel_ipv6 = v == "no",
                "default.DEFAULT_INPUT_POLICY" => fact.policies[0] = Some(v.to_uppercase()),
                "default.DEFAULT_OUTPUT_POLICY" => fact.policies[1] = Some(v.to_uppercase()),
                "default.DEFAULT_FORWARD_POLICY" => fact.policies[2] = Some(v.to_uppercase()),
                "loaded" => {
                    fact.loaded = match v {
                        "yes" => Some(true),
                        "no" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        if fact.no_kernel_ipv6 {
            fact.ipv6 = false;
        }
        if !seen {
            return Err(FactError::Unexpected(format!(
                "unexpected output from the ufw probe: {:?}",
                out.stdout.trim()
            )));
        }
        Ok(fact)
    }

    fn plan(&self, fact: &UfwFact) -> Planned {
        let ev = self.evaluate(fact);
        let commands = ev.cmds.clone();
        let diff = self.diff(fact, ev);
        if diff.action().is_change() {
            Planned::new(diff, commands)
        } else {
            Planned::only(diff)
        }
    }
}

impl Ufw {
    /// The diff of an evaluation: its action, and a reason that says the
    /// firewall's state when nothing changes.
    fn diff(&self, fact: &UfwFact, ev: Evaluated) -> Diff {
        let mut d = Diff {
            attrs: ev.attrs,
            unmanaged: ev.unmanaged,
            ..Diff::default()
        };
        let mut notes = ev.notes;
        if !fact.installed {
            d.action = Some(Action::Create);
            d.unknown = Some("ufw is not installed yet".into());
        } else if d.attrs.is_empty() {
            d.action = Some(Action::NoOp);
            let mut now = vec![if fact.enabled { "active" } else { "inactive" }.to_string()];
            if self.rules.is_some() {
                let n = self.desired_rules().len();
                now.push(format!(
                    "{n} keel rule{} in place",
                    if n == 1 { "" } else { "s" }
                ));
            }
            notes.insert(0, now.join(", "));
        } else {
            d.action = Some(Action::Update);
        }
        if !notes.is_empty() {
            d.reason = Some(notes.join("; "));
        }
        if !ev.errors.is_empty() {
            d.error = Some(ev.errors.join("; "));
            if d.action() == Action::NoOp {
                d.action = Some(Action::Update);
            }
        }
        d
    }
}
