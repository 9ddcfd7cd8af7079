//! The removals the ledger plans that must not go ahead as they are, each
//! refused at plan time with what to do (the host is then left untouched):
//!
//! - a file whose content is not what keel last wrote there (the sha256 in
//!   its ledger entry): changed by hand, so removing it would lose work;
//!   `--force-prune` (or the stack's `prune: force`) removes it anyway;
//! - a `ufw` whose removal deletes the rule that lets keel's own SSH in,
//!   with the firewall on and nothing else letting that port in from
//!   everywhere, over IPv4 or IPv6: the port and family sshd took keel's
//!   connection on when the host told ([`super::ssh_end`]), else the
//!   inventory's port in both; `--allow-lockout-risk` turns this into a
//!   warning;
//! - a `user` that keel logs in as, or the SSH `service` (stopped and
//!   disabled), over SSH: refused whatever the flags, as the lockout
//!   analysis refuses them in a stack.
//! - a `directory` that is not empty: removing it would take what it
//!   holds (often what the stack still declares in it); refused whatever
//!   the flags, until it is declared again or emptied.

use super::HostLedger;
use crate::resolve::Instance;
use crate::resources::ProbeOutput;
use crate::resources::common::paths::PathType;
use crate::resources::directory::{Directory, Entries};
use crate::resources::ufw::{Family, Ufw};

/// Why the planned removal of `inst` must not run (`None`: it may).
pub fn refusal(hl: &HostLedger, inst: &Instance, out: &ProbeOutput) -> Option<String> {
    match inst.resource.kind() {
        "file" if !hl.force => changed_by_hand(hl, inst, out),
        "ufw" => shuts_ssh(hl, inst, out),
        "user" | "service" => cuts_login(hl, inst),
        "directory" => not_empty(inst, out),
        _ => None,
    }
}

/// A directory keel made that holds something now: removing it would take
/// that too, so it stays (whatever `--force-prune` says) until it is empty.
fn not_empty(inst: &Instance, out: &ProbeOutput) -> Option<String> {
    let dir = inst.resource.as_any().downcast_ref::<Directory>()?;
    let fact = crate::resources::Kind::parse(dir, out).ok()?;
    let holds = fact.path == PathType::Dir && fact.via_link.is_none();
    (holds && fact.entries == Entries::Some).then(|| {
        "not empty, so it is not removed: declare it again in the stack to keep it, \
         or empty it (a `directory` with `state: absent, recursive: true` removes it with \
         everything in it)"
            .into()
    })
}

/// The file's live sha256 differs from the one keel recorded.
fn changed_by_hand(hl: &HostLedger, inst: &Instance, out: &ProbeOutput) -> Option<String> {
    let entry = hl
        .previous
        .as_ref()?
        .entries
        .iter()
        .find(|e| e.address == inst.address)?;
    // Entries written before keel recorded contents: nothing to compare.
    let recorded = entry.sha256.as_deref()?;
    if live_sha256(&out.stdout) == Some(recorded) {
        return None;
    }
    Some(
        "changed by hand since keel wrote it, so it is not removed: remove it anyway \
         with `--force-prune` (plan and apply) or `prune: force` in the stack, or declare \
         it again in the stack to keep it"
            .into(),
    )
}

/// The `sha256=` of the file probe's header (`None`: not a readable
/// regular file — a link, a special file, unreadable).
pub(super) fn live_sha256(stdout: &str) -> Option<&str> {
    stdout
        .lines()
        .take_while(|l| *l != "content:")
        .find_map(|l| l.strip_prefix("sha256="))
}

/// Deleting keel's rules would leave the firewall on with keel's SSH port
/// shut: the port and family sshd took keel's connection on when known
/// ([`super::ssh_end`]), else the inventory's port over IPv4 and IPv6.
fn shuts_ssh(hl: &HostLedger, inst: &Instance, out: &ProbeOutput) -> Option<String> {
    let inventory_port = hl.ssh_port?;
    let ufw = inst.resource.as_any().downcast_ref::<Ufw>()?;
    let fact = match crate::resources::Kind::parse(ufw, out) {
        Ok(f) => f,
        Err(e) => return Some(format!("cannot read the firewall's state: {e}")),
    };
    let (port, families, which) = match hl.ssh_end {
        Some(end) => (
            end.port,
            vec![end.family],
            "the port sshd took keel's connection on",
        ),
        None => (
            inventory_port,
            vec![Family::V4, Family::V6],
            "the port keel connects on",
        ),
    };
    let shut: Vec<&str> = families
        .into_iter()
        .filter(|f| !fact.admits_without_own_rules(port, *f))
        .map(|f| match f {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
        .collect();
    if shut.is_empty() {
        return None;
    }
    let why = format!(
        "removing it deletes keel's firewall rules, and then nothing lets SSH in on {port}/tcp \
         over {over} ({which}) while the firewall is on: keep an SSH rule in the stack \
         (`- {{ allow: {port}/tcp }}` in a `ufw` resource), add one outside keel \
         (`ufw allow {port}/tcp`), or turn the firewall off first",
        over = shut.join(" and ")
    );
    if hl.allow_lockout_risk {
        tracing::warn!("{}: {why} (allowed by --allow-lockout-risk)", inst.address);
        return None;
    }
    Some(why)
}

/// Removing the account keel logs in as, or stopping the SSH server.
fn cuts_login(hl: &HostLedger, inst: &Instance) -> Option<String> {
    let login = hl.login.as_deref()?;
    let name = inst.body.get("name").and_then(|n| n.as_scalar_text())?;
    let what = match inst.resource.kind() {
        "user" if name == login => format!("keel logs in to this host as `{login}`"),
        "service"
            if matches!(
                name.strip_suffix(".service").unwrap_or(name),
                "ssh" | "sshd"
            ) =>
        {
            "keel reaches this host through this SSH server".to_string()
        }
        _ => return None,
    };
    Some(format!(
        "{what}: removing it from the stack would shut keel out, so it is not pruned; \
         declare it again (the stack no longer manages it otherwise)"
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, HostLedger, Ledger, Resolved, absent_instance, show_removals};
    use super::*;
    use crate::resources::Action;
    use crate::resources::common::content::sha256_hex;
    use std::collections::BTreeSet;

    fn origin() -> crate::config::entry::Origin {
        crate::config::entry::Origin {
            source: crate::diag::SourceFile::new("s.yaml".into(), String::new()),
            base_dir: "/".into(),
            templates_dir: "/".into(),
        }
    }

    /// The host's ledger listing `entry`, planned for removal.
    fn pruning(entry: Entry) -> (Resolved, ProbeOutput) {
        let mut resolved = Resolved::default();
        resolved
            .instances
            .push(absent_instance(&entry, &origin()).unwrap());
        resolved.ledger = Some(HostLedger {
            stack: "web".into(),
            pruned: BTreeSet::from([entry.address.clone()]),
            previous: Some(Ledger {
                stack: "web".into(),
                entries: vec![entry],
            }),
            ..HostLedger::default()
        });
        (resolved, ProbeOutput::default())
    }

    /// Plan the removal against `live`: the action, and the error if any.
    fn plan(resolved: &Resolved, live: &str) -> (Action, Option<String>) {
        let out = ProbeOutput {
            stdout: live.into(),
            ..ProbeOutput::default()
        };
        let ev = resolved.instances[0].resource.evaluate(&out).unwrap();
        let mut evals = vec![Ok(ev)];
        show_removals(resolved, &[out], &mut evals);
        let ev = evals.remove(0).unwrap();
        if ev.diff.error.is_some() {
            assert!(ev.commands.is_empty(), "a refused removal runs nothing");
        }
        (ev.diff.action(), ev.diff.error)
    }

    fn file_live(content: &[u8]) -> String {
        format!(
            "type=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize={}\nsha256={}\n",
            content.len(),
            sha256_hex(content)
        )
    }

    fn file_entry() -> Entry {
        Entry {
            address: "file[/etc/app.conf]".into(),
            kind: "file".into(),
            spec: serde_json::json!({"path": "/etc/app.conf"})
                .as_object()
                .unwrap()
                .clone(),
            created: true,
            sha256: Some(sha256_hex(b"keel wrote this\n")),
        }
    }

    #[test]
    fn a_file_changed_by_hand_is_not_pruned_without_force() {
        let (mut resolved, _) = pruning(file_entry());
        // As keel wrote it: removed.
        assert_eq!(
            plan(&resolved, &file_live(b"keel wrote this\n")),
            (Action::Delete, None)
        );
        // Changed by hand: refused, saying what to do, and no digest shown.
        let (action, err) = plan(&resolved, &file_live(b"edited\n"));
        assert_eq!(action, Action::Delete);
        let err = err.expect("refused");
        assert!(
            err.contains("changed by hand") && err.contains("--force-prune"),
            "{err}"
        );
        assert!(!err.contains(&sha256_hex(b"edited\n")[..12]), "{err}");
        // Recorded as refused (drift reports it as such), and only while it is.
        assert!(super::super::is_refused(&resolved, "file[/etc/app.conf]"));
        plan(&resolved, &file_live(b"keel wrote this\n"));
        assert!(!super::super::is_refused(&resolved, "file[/etc/app.conf]"));
        // A link where the file was is not what keel wrote either.
        assert!(plan(&resolved, "type=link\ntarget=/x\n").1.is_some());
        // The host is left untouched: the refusal is a preflight error.
        assert!(super::super::is_pruned(&resolved, "file[/etc/app.conf]"));
        // With --force-prune it goes.
        resolved.ledger.as_mut().unwrap().force = true;
        assert_eq!(
            plan(&resolved, &file_live(b"edited\n")),
            (Action::Delete, None)
        );
        // Already gone: nothing to do, nothing refused.
        resolved.ledger.as_mut().unwrap().force = false;
        assert_eq!(plan(&resolved, "type=absent\n"), (Action::NoOp, None));
    }

    #[test]
    fn an_entry_without_a_recorded_content_is_pruned_as_before() {
        let mut e = file_entry();
        e.sha256 = None;
        let (resolved, _) = pruning(e);
        assert_eq!(plan(&resolved, &file_live(b"x")), (Action::Delete, None));
    }

    fn dir_live(entries: &str) -> String {
        format!(
            "type=dir\nmode=755\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=4096\nentries={entries}\n"
        )
    }

    #[test]
    fn a_directory_that_is_not_empty_is_refused_saying_what_to_do() {
        let (mut resolved, _) = pruning(Entry {
            address: "directory[/srv/app]".into(),
            kind: "directory".into(),
            spec: serde_json::json!({"path": "/srv/app"})
                .as_object()
                .unwrap()
                .clone(),
            created: true,
            sha256: None,
        });
        // Empty: removed.
        assert_eq!(plan(&resolved, &dir_live("none")), (Action::Delete, None));
        // Not empty: a refusal (drift reports it as such, not as an error)
        // that says how to keep it, not a setting the stack no longer has.
        let (action, err) = plan(&resolved, &dir_live("some"));
        assert_eq!(action, Action::Delete);
        let err = err.expect("refused");
        assert!(
            err.contains("not empty") && err.contains("declare it again"),
            "{err}"
        );
        assert!(super::super::is_refused(&resolved, "directory[/srv/app]"));
        // --force-prune does not empty it either.
        resolved.ledger.as_mut().unwrap().force = true;
        assert!(plan(&resolved, &dir_live("some")).1.is_some());
        assert_eq!(plan(&resolved, "type=absent\n"), (Action::NoOp, None));
    }

    /// ufw on, incoming dropped, with these IPv4 tuples.
    fn ufw_live(enabled: bool, policy: &str, tuples: &[&str]) -> String {
        let mut s = format!(
            "installed=yes\nconf.ENABLED={}\ndefault.IPV6=no\nkernel.ipv6=no\n\
             default.DEFAULT_INPUT_POLICY=\"{policy}\"\n",
            if enabled { "yes" } else { "no" }
        );
        for t in tuples {
            s.push_str(t);
            s.push('\n');
        }
        s.push_str("loaded=yes\n");
        s
    }

    const KEEL_SSH: &str = "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c";

    fn ufw_pruning(port: u16) -> Resolved {
        let (mut resolved, _) = pruning(Entry {
            address: "ufw[firewall]".into(),
            kind: "ufw".into(),
            spec: serde_json::Map::new(),
            created: true,
            sha256: None,
        });
        resolved.ledger.as_mut().unwrap().ssh_port = Some(port);
        resolved
    }

    #[test]
    fn pruning_the_rule_that_lets_keel_in_is_refused() {
        let mut resolved = ufw_pruning(22);
        let (action, err) = plan(&resolved, &ufw_live(true, "DROP", &[KEEL_SSH]));
        assert_eq!(action, Action::Delete);
        let err = err.expect("refused");
        assert!(
            err.contains("22/tcp") && err.contains("ufw allow 22/tcp"),
            "{err}"
        );
        // Another way in stays: a hand-made rule, a range, any port, an
        // application profile (`ufw allow OpenSSH`: its ports are in the
        // tuple).
        for other in [
            "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
            "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in",
            "v4 allow tcp 80,443,22 0.0.0.0/0 any 0.0.0.0/0 Custom%20SSH - in",
            "v4 limit any 20:30 0.0.0.0/0 any 0.0.0.0/0 in comment=68616e64",
            "v4 allow any any 0.0.0.0/0 any 0.0.0.0/0 in",
        ] {
            let live = ufw_live(true, "DROP", &[KEEL_SSH, other]);
            assert_eq!(plan(&resolved, &live), (Action::Delete, None), "{other}");
        }
        // ... but not one from a single address, nor after a deny of it
        // (by port or by profile).
        for other in [
            &["v4 allow tcp 22 0.0.0.0/0 any 10.0.0.1 in"][..],
            &[
                "v4 deny tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in",
                "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
            ],
            &[
                "v4 deny tcp 22 0.0.0.0/0 any 10.0.0.0/8 in",
                "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
            ],
        ] {
            let mut tuples = vec![KEEL_SSH];
            tuples.extend_from_slice(other);
            let live = ufw_live(true, "DROP", &tuples);
            assert!(plan(&resolved, &live).1.is_some(), "{other:?}");
        }
        // The firewall off, or accepting by default: nothing shuts SSH.
        assert_eq!(
            plan(&resolved, &ufw_live(false, "DROP", &[KEEL_SSH])),
            (Action::Delete, None)
        );
        assert_eq!(
            plan(&resolved, &ufw_live(true, "ACCEPT", &[KEEL_SSH])),
            (Action::Delete, None)
        );
        // keel connects on 2222: the rule for 22 is not its way in.
        let other_port = ufw_pruning(2222);
        let live = ufw_live(true, "DROP", &[KEEL_SSH]);
        assert!(plan(&other_port, &live).1.unwrap().contains("2222/tcp"));
        // Not over SSH, or with --allow-lockout-risk: allowed.
        resolved.ledger.as_mut().unwrap().ssh_port = None;
        assert_eq!(plan(&resolved, &live), (Action::Delete, None));
        let hl = resolved.ledger.as_mut().unwrap();
        hl.ssh_port = Some(22);
        hl.allow_lockout_risk = true;
        assert_eq!(plan(&resolved, &live), (Action::Delete, None));
    }

    /// ufw on and managing IPv6 too, with these IPv4 and IPv6 tuples.
    fn ufw_live6(policy: &str, tuples: &[&str]) -> String {
        ufw_live(true, policy, tuples)
            .replace("default.IPV6=no\nkernel.ipv6=no\n", "default.IPV6=yes\n")
    }

    const KEEL_SSH6: &str = "v6 allow tcp 22 ::/0 any ::/0 in comment=6b65656c";
    const HAND4: &str = "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in";
    const HAND6: &str = "v6 allow tcp 22 ::/0 any ::/0 in";

    fn sshd_took(resolved: &mut Resolved, port: u16, family: Family) {
        resolved.ledger.as_mut().unwrap().ssh_end =
            Some(super::super::ssh_end::SshEnd { port, family });
    }

    #[test]
    fn ipv6_rules_count_for_keel_s_way_in() {
        let mut resolved = ufw_pruning(22);
        // By hand, SSH is let in over IPv4 only; keel's rules are in both.
        let v4_only = ufw_live6("DROP", &[KEEL_SSH, KEEL_SSH6, HAND4]);
        let err = plan(&resolved, &v4_only).1.expect("refused");
        assert!(
            err.contains("nothing lets SSH in on 22/tcp over IPv6 (the port keel connects on)"),
            "{err}"
        );
        // ... and over IPv6 only.
        let v6_only = ufw_live6("DROP", &[KEEL_SSH, KEEL_SSH6, HAND6]);
        let err = plan(&resolved, &v6_only).1.expect("refused");
        assert!(err.contains("22/tcp over IPv4 ("), "{err}");
        // Both families let in by hand: pruned.
        let both = ufw_live6("DROP", &[KEEL_SSH, KEEL_SSH6, HAND4, HAND6]);
        assert_eq!(plan(&resolved, &both), (Action::Delete, None));
        // A hand-made IPv6 deny before the allow shuts it again; nothing
        // at all: both families named.
        let denied = ufw_live6(
            "DROP",
            &[
                KEEL_SSH,
                KEEL_SSH6,
                HAND4,
                "v6 deny tcp 22 ::/0 any 2001:db8::/32 in",
                HAND6,
            ],
        );
        assert!(
            plan(&resolved, &denied)
                .1
                .expect("refused")
                .contains("over IPv6 (")
        );
        let none = ufw_live6("DROP", &[KEEL_SSH, KEEL_SSH6]);
        assert!(
            plan(&resolved, &none)
                .1
                .expect("refused")
                .contains("over IPv4 and IPv6")
        );
        // The incoming policy accepts: both families stay open.
        assert_eq!(
            plan(&resolved, &ufw_live6("ACCEPT", &[KEEL_SSH, KEEL_SSH6])),
            (Action::Delete, None)
        );
        // keel's connection is known to be IPv4: IPv6 rules do not matter;
        // known to be IPv6: IPv4 rules do not.
        sshd_took(&mut resolved, 22, Family::V4);
        assert_eq!(plan(&resolved, &v4_only), (Action::Delete, None));
        assert!(plan(&resolved, &v6_only).1.is_some());
        sshd_took(&mut resolved, 22, Family::V6);
        assert_eq!(plan(&resolved, &v6_only), (Action::Delete, None));
        let err = plan(&resolved, &v4_only).1.expect("refused");
        assert!(
            err.contains("22/tcp over IPv6 (the port sshd took keel's connection on)"),
            "{err}"
        );
    }

    #[test]
    fn the_port_sshd_took_keel_s_connection_on_is_the_one_kept_open() {
        // The inventory connects on 2200, forwarded to sshd's 22.
        let mut resolved = ufw_pruning(2200);
        let hand = ufw_live(true, "DROP", &[KEEL_SSH, HAND4]);
        // Not known: the inventory's port, which nothing lets in.
        let err = plan(&resolved, &hand).1.expect("refused");
        assert!(err.contains("2200/tcp"), "{err}");
        // Known: 22, let in by hand, so the pruning goes ahead ...
        sshd_took(&mut resolved, 22, Family::V4);
        assert_eq!(plan(&resolved, &hand), (Action::Delete, None));
        // ... and without the hand-made rule it is refused, naming 22.
        let err = plan(&resolved, &ufw_live(true, "DROP", &[KEEL_SSH]))
            .1
            .expect("refused");
        assert!(
            err.contains("on 22/tcp over IPv4") && err.contains("`ufw allow 22/tcp`"),
            "{err}"
        );
        // Not over SSH (local transport): nothing to keep open.
        let hl = resolved.ledger.as_mut().unwrap();
        hl.ssh_port = None;
        hl.ssh_end = None;
        let live = ufw_live(true, "DROP", &[KEEL_SSH]);
        assert_eq!(plan(&resolved, &live), (Action::Delete, None));
    }

    #[test]
    fn live_sha256_reads_the_header_only() {
        assert_eq!(
            live_sha256("type=file\nmode=644\nsha256=abc\ncontent:\nc2hhMjU2PXgK\n"),
            Some("abc")
        );
        assert_eq!(live_sha256("type=file\ncontent:\nsha256=x\n"), None);
        assert_eq!(live_sha256("type=link\ntarget=/x\n"), None);
    }

    fn named(kind: &str, name: &str) -> Entry {
        Entry {
            address: format!("{kind}[{name}]"),
            kind: kind.into(),
            spec: serde_json::json!({ "name": name })
                .as_object()
                .unwrap()
                .clone(),
            created: true,
            sha256: None,
        }
    }

    #[test]
    fn a_user_keel_created_is_removed_unless_keel_logs_in_as_it() {
        let (mut resolved, _) = pruning(named("user", "alice"));
        let live = "passwd=alice:x:1001:1001::/home/alice:/bin/sh\nsudoers=absent\n";
        let ev = resolved.instances[0]
            .resource
            .evaluate(&ProbeOutput {
                stdout: live.into(),
                ..ProbeOutput::default()
            })
            .unwrap();
        // The account goes, its home stays.
        assert_eq!(ev.commands.len(), 1);
        assert_eq!(ev.commands[0].summary, "userdel alice");
        assert_eq!(plan(&resolved, live), (Action::Delete, None));
        resolved.ledger.as_mut().unwrap().login = Some("deploy".into());
        assert_eq!(plan(&resolved, live), (Action::Delete, None));
        let hl = resolved.ledger.as_mut().unwrap();
        hl.login = Some("alice".into());
        // Refused even when lockout risks are allowed.
        hl.allow_lockout_risk = true;
        let err = plan(&resolved, live).1.expect("refused");
        assert!(
            err.contains("keel logs in to this host as `alice`"),
            "{err}"
        );
    }

    #[test]
    fn a_service_keel_started_is_stopped_and_disabled_but_not_ssh() {
        let live = "Id=app.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n";
        let (mut resolved, _) = pruning(named("service", "app"));
        resolved.ledger.as_mut().unwrap().login = Some("root".into());
        let ev = resolved.instances[0]
            .resource
            .evaluate(&ProbeOutput {
                stdout: live.into(),
                ..ProbeOutput::default()
            })
            .unwrap();
        let script: String = ev.commands.iter().map(|c| c.script.clone()).collect();
        assert!(
            script.contains("stop") && script.contains("disable"),
            "{script}"
        );
        assert_eq!(plan(&resolved, live), (Action::Delete, None));
        // Already stopped and disabled: nothing to do.
        let off = "Id=app.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\n";
        assert_eq!(plan(&resolved, off), (Action::NoOp, None));
        let (mut ssh, _) = pruning(named("service", "ssh"));
        let live = live.replace("app.service", "ssh.service");
        assert_eq!(plan(&ssh, &live), (Action::Delete, None), "not over SSH");
        ssh.ledger.as_mut().unwrap().login = Some("root".into());
        let err = plan(&ssh, &live).1.expect("refused");
        assert!(err.contains("SSH server"), "{err}");
    }
}
