//! Pruning without a central state file: each host keeps, per stack, a
//! small ledger of what the stack manages there, and a resource that
//! disappears from the stack is planned for removal.
//!
//! The ledger is `STATE_DIR/ledger/STACK.json` (the stack's `state_dir`,
//! default `/var/lib/keel`, root-only like the release records of
//! [`crate::release`]), written atomically at the end of every apply (of what applied, when
//! some of it failed or did not run: see [`next_ledger`]):
//!
//! ```json
//! {"stack":"web","entries":[{"address":"file[/etc/x]","kind":"file",
//!   "spec":{"path":"/etc/x"},"created":true,"sha256":"…"}]}
//! ```
//!
//! `spec` holds what removal needs (the kind's identifying settings);
//! `created` says the thing is keel's: its first apply created it (for a
//! `service`, started or enabled it: [`Prunable::update_creates`]), or it
//! was handed to keel by `keel import` ([`import`]). A file's `sha256` is
//! the content keel last wrote: a file whose content differs was changed
//! by hand and is not removed without `--force-prune`; that, and removals
//! that would shut keel out, are refused at plan time ([`guard`]).
//! Only entries keel created are ever pruned: the next plan builds the
//! entry's kind with its removal settings ([`Prunable::removal`], e.g.
//! `state: absent`) through the normal kind registry, so it is planned and
//! applied like any other resource, and shown as `-` remove.
//! Packages and every kind not listed in [`PRUNABLE`] are never pruned.
//!
//! A kind whose removal only touches what keel marked as its own on the
//! host ([`Prunable::marked`]: `ufw`, whose rules carry the `keel`
//! comment, removed with `rules: []`) is pruned whatever its first apply
//! did: what it removes was made by keel by construction.
//!
//! With the `local` transport, a ledger is kept only when the stack sets
//! `state_dir` (the default folder is shared by everything run on the
//! machine keel runs on). A missing ledger means nothing to prune; a corrupt one gives a warning
//! naming the file, and nothing is pruned. Every stack keeps its own
//! ledger; the plan reads all ledgers of the host in the same round trip,
//! and an address claimed by another stack's ledger is a plan error
//! naming both stacks.

mod guard;
pub mod model;
pub mod ssh_end;
pub use model::{Entry, HostLedger, Ledger};
pub mod import;

use crate::node::{Node, Span};
use crate::resolve::{Instance, Resolved};
use crate::resources::Action;
use crate::shell::{self, q};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A kind that can be pruned, and how.
#[derive(Debug)]
pub struct Prunable {
    pub kind: &'static str,
    /// The identifying settings recorded in the ledger.
    pub keys: &'static [&'static str],
    /// Recorded only when the resource declares this setting (`None`:
    /// always): a `ufw` without `rules:` manages no rules.
    pub when: Option<&'static str>,
    /// The settings (a JSON object) that, added to `keys`, remove it.
    pub removal: &'static str,
    /// Removal touches only what keel marked as its own on the host, so
    /// the entry is pruned even when its first apply was not a create.
    pub marked: bool,
    /// A first apply that changed it (an update) also makes it keel's: a
    /// `service` keel started or enabled is one keel stops and disables.
    pub update_creates: bool,
}

const ABSENT: &str = r#"{"state":"absent"}"#;

/// The kinds that can be pruned.
pub const PRUNABLE: &[Prunable] = &[
    Prunable {
        kind: "file",
        keys: &["path"],
        when: None,
        removal: ABSENT,
        marked: false,
        update_creates: false,
    },
    Prunable {
        kind: "cron",
        keys: &["name", "user"],
        when: None,
        removal: ABSENT,
        marked: false,
        update_creates: false,
    },
    Prunable {
        kind: "directory",
        keys: &["path"],
        when: None,
        removal: ABSENT,
        marked: false,
        update_creates: false,
    },
    // keel's rules (comment `keel`/`keel: …`) go; the firewall's switches,
    // defaults and every other rule stay as they are.
    Prunable {
        kind: "ufw",
        keys: &[],
        when: Some("rules"),
        removal: r#"{"rules":[]}"#,
        marked: true,
        update_creates: false,
    },
    // The account and keel's sudo rule go; its home stays (it may hold
    // data: remove it with `state: absent, remove_home: true` in the stack).
    Prunable {
        kind: "user",
        keys: &["name"],
        when: None,
        removal: ABSENT,
        marked: false,
        update_creates: false,
    },
    // Stopped and disabled; its unit and package stay.
    Prunable {
        kind: "service",
        keys: &["name"],
        when: None,
        removal: r#"{"state":"stopped","enabled":false}"#,
        marked: false,
        update_creates: true,
    },
    // `down` (containers and networks; volumes stay), then the files keel
    // wrote for it; the directory stays. The file names are recorded
    // ([`compose_names`]).
    Prunable {
        kind: "compose",
        keys: &["project", "dir"],
        when: None,
        removal: ABSENT,
        marked: false,
        update_creates: false,
    },
];

fn prunable(kind: &str) -> Option<&'static Prunable> {
    PRUNABLE.iter().find(|p| p.kind == kind)
}

/// The probe printing every ledger of the host: `== NAME` then the file;
/// then the section [`ssh_end::SECTION`] ([`ssh_end::SCRIPT`]).
pub fn read_script(dir: &str) -> String {
    format!(
        "for f in {}/*.json; do [ -f \"$f\" ] || continue; n=${{f##*/}}; printf '== %s\\n' \"${{n%.json}}\"; cat -- \"$f\"; echo; done\n{}",
        q(dir),
        ssh_end::SCRIPT
    )
}

/// Split what [`read_script`] printed into stack name → file text.
pub fn split_files(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut cur: Option<(String, String)> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            if let Some((n, t)) = cur.take() {
                out.insert(n, t);
            }
            cur = Some((name.to_string(), String::new()));
        } else if let Some((_, t)) = cur.as_mut() {
            t.push_str(line);
            t.push('\n');
        }
    }
    if let Some((n, t)) = cur {
        out.insert(n, t);
    }
    out
}

/// Parse a ledger file's text.
pub fn parse(text: &str) -> Result<Ledger, String> {
    serde_json::from_str::<Ledger>(text.trim()).map_err(|e| e.to_string())
}

/// The ledger entry of a resource the stack declares (present, of a
/// prunable kind), `created` when this run creates it or it was before.
pub fn entry_of(inst: &Instance, action: Action, before: Option<&Ledger>) -> Option<Entry> {
    let kind = inst.resource.kind();
    let p = prunable(kind)?;
    let body = inst.body.to_json();
    if body.get("state").and_then(J::as_str) == Some("absent") {
        return None;
    }
    if p.when.is_some_and(|w| body.get(w).is_none()) {
        return None;
    }
    let mut spec: serde_json::Map<String, J> = p
        .keys
        .iter()
        .filter_map(|k| body.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    spec.extend(compose_names(inst));
    let prev = before.and_then(|l| l.entries.iter().find(|e| e.address == inst.address));
    Some(Entry {
        address: inst.address.clone(),
        kind: kind.to_string(),
        spec,
        created: p.marked
            || prev.is_some_and(|e| e.created)
            || action == Action::Create
            || (p.update_creates && action == Action::Update),
        sha256: written_sha256(inst, action, prev),
    })
}

/// A compose project's file names (never their contents: an env file
/// holds secrets), so that its removal removes exactly keel's files.
fn compose_names(inst: &Instance) -> serde_json::Map<String, J> {
    inst.resource
        .as_any()
        .downcast_ref::<crate::resources::compose::Compose>()
        .map(|c| c.removal_names())
        .unwrap_or_default()
}

/// What a file holds after the apply: its declared content, an empty file
/// keel creates without content, or else what the ledger knew.
fn written_sha256(inst: &Instance, action: Action, prev: Option<&Entry>) -> Option<String> {
    let file = inst
        .resource
        .as_any()
        .downcast_ref::<crate::resources::file::File>()?;
    file.content_sha256().or_else(|| {
        if action == Action::Create {
            Some(crate::resources::common::content::sha256_hex(b""))
        } else {
            prev.and_then(|e| e.sha256.clone())
        }
    })
}

/// The resource removing `entry`: its kind with its removal settings,
/// built through the kind registry. `None` when it cannot be built.
pub fn absent_instance(entry: &Entry, like: &crate::config::entry::Origin) -> Option<Instance> {
    let p = prunable(&entry.kind)?;
    let mut spec = entry.spec.clone();
    let removal = serde_json::from_str::<serde_json::Map<String, J>>(p.removal).ok()?;
    spec.extend(removal);
    build(&entry.address, &entry.kind, spec, like)
}

/// A resource of `kind` with settings `spec`, through the kind registry.
fn build(
    address: &str,
    kind: &str,
    spec: serde_json::Map<String, J>,
    like: &crate::config::entry::Origin,
) -> Option<Instance> {
    let kind = crate::resources::kind(kind)?;
    let body = Node::from_json(&J::Object(spec), Span::default());
    let resource = (kind.parse)(&body).ok()?;
    if !resource.check().is_empty() {
        return None;
    }
    Some(Instance {
        address: address.to_string(),
        desired: format!("{resource:?}"),
        resource,
        depends_on: Vec::new(),
        notify: Vec::new(),
        module: None,
        origin: like.clone(),
        span: Span::default(),
        sensitive: false,
        tainted: Vec::new(),
        body,
    })
}

/// What of a run decides how it prunes.
pub struct PruneRun<'a> {
    pub project: &'a crate::resolve::Project,
    /// The run is narrowed to some resources (`--target`, `--tags`...).
    pub narrowed: bool,
    /// `--force-prune`.
    pub force: bool,
    /// `--allow-lockout-risk`.
    pub allow_lockout_risk: bool,
}

/// Read the host's ledgers and add the removals to `resolved`; `Err` when
/// another stack's ledger claims an address of this stack.
pub async fn add_prunes(
    run: &PruneRun<'_>,
    host: &crate::config::inventory::Host,
    transport: &dyn crate::transport::Transport,
    resolved: &mut Resolved,
) -> Result<(), String> {
    // A run narrowed to some resources neither prunes nor records.
    if run.narrowed {
        return Ok(());
    }
    // On the machine keel runs on, only with a `state_dir` the stack sets:
    // the default one is shared by every checkout and user of the machine.
    let local = host.transport == crate::config::inventory::TransportKind::Local;
    if local && run.project.stack.state_dir.is_none() {
        return Ok(());
    }
    let stack = run.project.stack.name.clone();
    if crate::release::check_value(&stack).is_err() {
        return Ok(());
    }
    let state_dir = crate::resolve::state_dir_of(run.project, host).map_err(|d| d.one_line())?;
    let mut hl = HostLedger {
        stack,
        state_dir,
        force: run.force || run.project.stack.prune_force,
        ssh_port: (!local).then(|| host.port.unwrap_or(22)),
        login: (!local).then(|| host.user.clone()),
        allow_lockout_risk: run.allow_lockout_risk || host.allow_lockout_risk,
        ..HostLedger::default()
    };
    let out = transport
        .run(&read_script(&hl.dir()))
        .await
        .map_err(|e| format!("cannot read the ledgers: {e}"))?;
    let mut files = split_files(&out.stdout_text());
    let end = files.remove(ssh_end::SECTION);
    hl.ssh_end = end.as_deref().and_then(ssh_end::parse).filter(|_| !local);
    let mut others = BTreeMap::new();
    for (name, text) in &files {
        match parse(text) {
            Ok(l) if *name == hl.stack => hl.previous = Some(l),
            Ok(l) => {
                others.insert(name.clone(), l);
            }
            Err(e) => tracing::warn!(
                host = %host.name,
                "the ledger {}/{name}.json is not valid ({e}); nothing recorded in it is pruned",
                hl.dir()
            ),
        }
    }
    check_claims(&hl.stack, resolved, &others)?;
    let st = &run.project.stack;
    let origin = crate::config::entry::Origin {
        source: st.source.clone(),
        base_dir: st.dir.clone(),
        templates_dir: st.dir.clone(),
    };
    plan_removals(&mut hl, resolved, &origin);
    resolved.ledger = Some(hl);
    Ok(())
}

/// An address this stack declares that another stack's ledger lists.
fn check_claims(
    stack: &str,
    resolved: &Resolved,
    others: &BTreeMap<String, Ledger>,
) -> Result<(), String> {
    for inst in &resolved.instances {
        for (other, l) in others {
            if l.entries.iter().any(|e| e.address == inst.address) {
                return Err(format!(
                    "{} is claimed by two stacks: `{stack}` and `{other}` (its ledger lists it); manage it in one stack only",
                    inst.address
                ));
            }
        }
    }
    Ok(())
}

/// Add, for every created entry the stack no longer declares, its removal.
fn plan_removals(
    hl: &mut HostLedger,
    resolved: &mut Resolved,
    origin: &crate::config::entry::Origin,
) {
    let Some(prev) = &hl.previous else { return };
    let declared: BTreeSet<String> = resolved
        .instances
        .iter()
        .map(|i| i.address.clone())
        .collect();
    for e in prev.entries.iter().filter(|e| e.created) {
        if declared.contains(&e.address) {
            continue;
        }
        if let Some(inst) = absent_instance(e, origin) {
            hl.pruned.insert(e.address.clone());
            resolved.instances.push(inst);
        }
    }
}

/// A removal the ledger planned is shown as one (`-`), also for a kind
/// whose removal is a change of settings (`ufw` with `rules: []`); one
/// that [`guard`] refuses (a file changed by hand, a firewall that would
/// shut keel out) carries the error and runs nothing.
pub fn show_removals(
    resolved: &Resolved,
    outputs: &[crate::resources::ProbeOutput],
    evals: &mut [Result<crate::resources::Evaluation, String>],
) {
    let Some(hl) = &resolved.ledger else { return };
    let mut refused = BTreeSet::new();
    for ((inst, out), ev) in resolved.instances.iter().zip(outputs).zip(evals) {
        let Ok(ev) = ev else { continue };
        if !hl.pruned.contains(&inst.address) || !ev.diff.action().is_change() {
            continue;
        }
        ev.diff.action = Some(Action::Delete);
        if let Some(why) = guard::refusal(hl, inst, out) {
            ev.diff.error = Some(why);
            ev.commands.clear();
            ev.batch = None;
            refused.insert(inst.address.clone());
        }
    }
    hl.refused.set(refused);
}

/// The planned removal of `address` was refused by [`guard`] (a file
/// changed by hand, a removal that would shut keel out): the host differs
/// from the stack, and apply leaves it so. Its plan's error says why.
pub fn is_refused(resolved: &Resolved, address: &str) -> bool {
    resolved
        .ledger
        .as_ref()
        .is_some_and(|hl| hl.refused.contains(address))
}

/// A removal the ledger planned: when it cannot go ahead, the host is
/// left untouched (`session`'s preflight).
pub fn is_pruned(resolved: &Resolved, address: &str) -> bool {
    resolved
        .ledger
        .as_ref()
        .is_some_and(|hl| hl.pruned.contains(address))
}

/// The ledger to record after an apply: every declared prunable resource
/// that applied (`done[i]`). What failed or did not run (a failed
/// dependency, an interrupted run) keeps its previous entry: a removal
/// that did not happen stays listed, so the next plan tries it again, and
/// a creation that did not happen is not recorded.
pub fn next_ledger(
    hl: &HostLedger,
    resolved: &Resolved,
    actions: &[Action],
    done: &[bool],
) -> Ledger {
    let previous = |address: &str| {
        hl.previous
            .as_ref()
            .and_then(|l| l.entries.iter().find(|e| e.address == address))
            .cloned()
    };
    let entries = resolved
        .instances
        .iter()
        .zip(actions)
        .zip(done)
        .filter_map(|((i, a), &ok)| {
            if !ok {
                previous(&i.address)
            } else if hl.pruned.contains(&i.address) {
                None
            } else {
                entry_of(i, *a, hl.previous.as_ref())
            }
        })
        .collect();
    Ledger {
        stack: hl.stack.clone(),
        entries,
    }
}

/// Which resources of `work` applied, from its `outcome`; `None` when the
/// host's walk did not run (it never started, or could not be planned).
fn applied(work: &crate::plan::HostWork, outcome: &crate::apply::HostOutcome) -> Option<Vec<bool>> {
    use crate::apply::Outcome;
    let n = work.resolved.instances.len();
    if work.plan.error.is_some() {
        return None;
    }
    if outcome.resources.is_empty() {
        // No walk: the host had nothing to change, or never started.
        return outcome.error.is_none().then(|| vec![true; n]);
    }
    (outcome.resources.len() == n).then(|| {
        outcome
            .resources
            .iter()
            .map(|r| !matches!(r.outcome, Outcome::Failed(_) | Outcome::Skipped(_)))
            .collect()
    })
}

/// The script writing `ledger` atomically, root-only.
pub fn write_script(hl: &HostLedger, ledger: &Ledger) -> Result<String, String> {
    let json = serde_json::to_string(ledger).map_err(|e| e.to_string())?;
    let mut s = String::from("set -e\numask 077\n");
    let _ = writeln!(s, "mkdir -p -- {d}\nchmod 0700 -- {d}", d = q(&hl.dir()));
    let print = format!("printf '%s\\n' {}", q(&json));
    s.push_str(&shell::write_private_from(
        "keel_ledger",
        &hl.path(),
        &print,
    ));
    Ok(s)
}

/// After a host was applied, also in part (a resource failed, the run was
/// interrupted): record its ledger when it changed.
pub async fn record_after_apply(
    work: &crate::plan::HostWork,
    outcome: &crate::apply::HostOutcome,
) -> Result<(), String> {
    let Some(hl) = &work.resolved.ledger else {
        return Ok(());
    };
    let Some(done) = applied(work, outcome) else {
        return Ok(());
    };
    let actions: Vec<Action> = work.plan.resources.iter().map(|r| r.action).collect();
    let next = next_ledger(hl, &work.resolved, &actions, &done);
    if hl.previous.as_ref() == Some(&next) {
        return Ok(());
    }
    let t = work.conn().ok_or("no connection")?;
    let fail = |e: String| format!("the ledger {} could not be written: {e}", hl.path());
    match t.run(&write_script(hl, &next)?).await {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(fail(o.stderr_text().trim().to_string())),
        Err(e) => Err(fail(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(addr: &str, kind: &str, spec: J, created: bool) -> Entry {
        Entry {
            address: addr.into(),
            kind: kind.into(),
            spec: spec.as_object().unwrap().clone(),
            created,
            sha256: None,
        }
    }

    #[test]
    fn parse_round_trips_and_refuses_garbage() {
        let l = Ledger {
            stack: "web".into(),
            entries: vec![entry(
                "file[/x]",
                "file",
                serde_json::json!({"path": "/x"}),
                true,
            )],
        };
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(parse(&text).unwrap(), l);
        assert!(parse("{not json").is_err());
        assert!(parse("{\"stack\":\"web\"}").is_err());
    }

    #[test]
    fn split_files_separates_stacks() {
        let out = "== a\n{\"stack\":\"a\",\"entries\":[]}\n\n== b\ngarbage\n";
        let f = split_files(out);
        assert_eq!(f.len(), 2);
        assert!(parse(&f["a"]).is_ok());
        assert!(parse(&f["b"]).is_err());
        assert!(split_files("").is_empty());
    }

    /// After a partial apply (a failure, an interruption) the ledger keeps
    /// what did not apply as it was: a removal that did not run stays
    /// listed, a creation that did not run is not recorded, what applied
    /// is recorded as always.
    #[test]
    fn next_ledger_keeps_what_did_not_apply() {
        let origin = crate::config::entry::Origin {
            source: crate::diag::SourceFile::new("s.yaml".into(), String::new()),
            base_dir: "/".into(),
            templates_dir: "/".into(),
        };
        let file = |path: &str| {
            let spec = serde_json::json!({"path": path, "content": "x\n"});
            let spec = spec.as_object().unwrap().clone();
            build(&format!("file[{path}]"), "file", spec, &origin).unwrap()
        };
        let gone = |path: &str| {
            absent_instance(
                &entry(
                    &format!("file[{path}]"),
                    "file",
                    serde_json::json!({"path": path}),
                    true,
                ),
                &origin,
            )
            .unwrap()
        };
        let old = |path: &str| {
            entry(
                &format!("file[{path}]"),
                "file",
                serde_json::json!({"path": path}),
                true,
            )
        };
        let resolved = Resolved {
            instances: vec![
                file("/new-ok"),
                file("/new-failed"),
                gone("/old-ok"),
                gone("/old-stopped"),
            ],
            ..Resolved::default()
        };
        let hl = HostLedger {
            stack: "web".into(),
            state_dir: "/var/lib/keel".into(),
            previous: Some(Ledger {
                stack: "web".into(),
                entries: vec![old("/old-ok"), old("/old-stopped")],
            }),
            pruned: ["file[/old-ok]", "file[/old-stopped]"]
                .map(String::from)
                .into(),
            force: false,
            ssh_port: None,
            ssh_end: None,
            login: None,
            allow_lockout_risk: false,
            refused: model::Refused::default(),
        };
        let actions = [
            Action::Create,
            Action::Create,
            Action::Delete,
            Action::Delete,
        ];
        let addresses = |l: &Ledger| {
            l.entries
                .iter()
                .map(|e| e.address.clone())
                .collect::<Vec<_>>()
        };
        let all = next_ledger(&hl, &resolved, &actions, &[true; 4]);
        assert_eq!(addresses(&all), ["file[/new-ok]", "file[/new-failed]"]);
        let part = next_ledger(&hl, &resolved, &actions, &[true, false, true, false]);
        assert_eq!(addresses(&part), ["file[/new-ok]", "file[/old-stopped]"]);
        assert!(part.entries.iter().all(|e| e.created));
    }

    #[test]
    fn absent_instances_come_from_the_registry() {
        let origin = crate::config::entry::Origin {
            source: crate::diag::SourceFile::new("s.yaml".into(), String::new()),
            base_dir: "/".into(),
            templates_dir: "/".into(),
        };
        let e = entry("file[/x]", "file", serde_json::json!({"path": "/x"}), true);
        let i = absent_instance(&e, &origin).unwrap();
        assert_eq!(i.resource.kind(), "file");
        let ev = i
            .resource
            .evaluate(&crate::resources::ProbeOutput::ok("type=file\n"))
            .unwrap();
        assert_eq!(ev.diff.action, Some(Action::Delete));
        // Packages are never pruned, and a bad spec builds nothing.
        let p = entry(
            "package[nginx]",
            "package",
            serde_json::json!({"name": "nginx"}),
            true,
        );
        assert!(absent_instance(&p, &origin).is_none());
        let bad = entry(
            "file[x]",
            "file",
            serde_json::json!({"path": "relative"}),
            true,
        );
        assert!(absent_instance(&bad, &origin).is_none());
    }

    fn origin() -> crate::config::entry::Origin {
        crate::config::entry::Origin {
            source: crate::diag::SourceFile::new("s.yaml".into(), String::new()),
            base_dir: "/".into(),
            templates_dir: "/".into(),
        }
    }

    fn declared(kind: &str, spec: J) -> Instance {
        let addr = format!("{kind}[firewall]");
        build(&addr, kind, spec.as_object().unwrap().clone(), &origin()).unwrap()
    }

    /// ufw's probe output: installed, on, with these IPv4 tuples.
    fn ufw_live(tuples: &[&str]) -> crate::resources::ProbeOutput {
        let mut s = String::from(
            "installed=yes\nconf.ENABLED=yes\ndefault.IPV6=no\nkernel.ipv6=no\n\
             default.DEFAULT_INPUT_POLICY=\"DROP\"\n",
        );
        for t in tuples {
            s.push_str(t);
            s.push('\n');
        }
        s.push_str("loaded=yes\n");
        crate::resources::ProbeOutput::ok(&s)
    }

    #[test]
    fn ufw_rules_are_recorded_as_keel_made_only_when_declared() {
        let rules = serde_json::json!({"rules": [{"allow": "8080/tcp"}], "enabled": true});
        // Its first apply is an update (ufw was installed): still prunable,
        // since removal only touches the rules marked as keel's.
        let e = entry_of(&declared("ufw", rules), Action::Update, None).unwrap();
        assert_eq!(e.address, "ufw[firewall]");
        assert!(e.spec.is_empty(), "{:?}", e.spec);
        assert!(e.created);
        // Without `rules:` keel manages no rules: nothing to prune later.
        let switches = declared("ufw", serde_json::json!({"enabled": true}));
        assert!(entry_of(&switches, Action::Update, None).is_none());
        // A file keel did not create stays not created.
        let f = build(
            "file[/x]",
            "file",
            serde_json::json!({"path": "/x", "content": "x"})
                .as_object()
                .unwrap()
                .clone(),
            &origin(),
        )
        .unwrap();
        assert!(!entry_of(&f, Action::Update, None).unwrap().created);
    }

    #[test]
    fn users_and_services_are_keel_s_when_it_made_them() {
        let user = build(
            "user[alice]",
            "user",
            serde_json::json!({"name": "alice", "shell": "/bin/bash"})
                .as_object()
                .unwrap()
                .clone(),
            &origin(),
        )
        .unwrap();
        let e = entry_of(&user, Action::Create, None).unwrap();
        assert!(e.created);
        assert_eq!(
            e.spec,
            *serde_json::json!({"name": "alice"}).as_object().unwrap()
        );
        // A user that was there, changed by keel, is not keel's.
        assert!(!entry_of(&user, Action::Update, None).unwrap().created);
        let svc = build(
            "service[app]",
            "service",
            serde_json::json!({"name": "app", "state": "running", "enabled": true})
                .as_object()
                .unwrap()
                .clone(),
            &origin(),
        )
        .unwrap();
        // Started or enabled by keel: keel's; running already: not.
        assert!(entry_of(&svc, Action::Update, None).unwrap().created);
        assert!(!entry_of(&svc, Action::NoOp, None).unwrap().created);
    }

    #[test]
    fn compose_projects_keel_created_are_taken_down_by_name_only() {
        let declared = build(
            "compose[app]",
            "compose",
            serde_json::json!({
                "project": "app", "dir": "/srv/app",
                "file": {"content": "services: {web: {image: x}}\n", "file_name": "prod.yml"},
                "env": {"content": "TOKEN=secret\n"},
            })
            .as_object()
            .unwrap()
            .clone(),
            &origin(),
        )
        .unwrap();
        // Recorded with its names, never the env file's content.
        let e = entry_of(&declared, Action::Create, None).unwrap();
        assert!(e.created);
        assert_eq!(
            J::Object(e.spec.clone()),
            serde_json::json!({"project": "app", "dir": "/srv/app",
                "file": {"file_name": "prod.yml"}, "env": {"file_name": ".env"}})
        );
        assert!(!serde_json::to_string(&e).unwrap().contains("secret"));
        // A project that was running before keel managed it is not keel's.
        assert!(!entry_of(&declared, Action::Update, None).unwrap().created);
        // Pruned: `down`, then exactly the files it was written under.
        let inst = absent_instance(&e, &origin()).unwrap();
        let live = "dir=yes\ndocker=yes\ncompose=v2 2.20.0\ndaemon=up\nfile_mode=644\nfile=eDoK\n\
                    ctr=web|1|False|running||0|x|sha256:a|/app-web-1\n";
        let out = crate::resources::ProbeOutput::ok(live);
        let ev = inst.resource.evaluate(&out).unwrap();
        assert_eq!(ev.diff.action, Some(Action::Delete));
        assert!(ev.commands[0].summary.contains("down"), "{:?}", ev.commands);
        assert!(ev.commands[0].summary.contains("volumes kept"));
        let rm = &ev.commands[1].script;
        assert!(
            rm.contains("/srv/app/prod.yml ") && rm.contains("/srv/app/.env "),
            "{rm}"
        );
        assert!(!rm.contains("docker-compose.yml"), "{rm}");
        // Shown as `-` when the ledger planned it.
        let mut resolved = Resolved::default();
        resolved.instances.push(inst);
        resolved.ledger = Some(HostLedger {
            pruned: BTreeSet::from(["compose[app]".to_string()]),
            ..HostLedger::default()
        });
        let mut evals = vec![Ok(ev)];
        show_removals(&resolved, &[out], &mut evals);
        let ev = evals.remove(0).unwrap();
        assert_eq!(ev.diff.action(), Action::Delete);
        assert_eq!(ev.diff.error, None);
    }

    #[test]
    fn files_are_recorded_with_the_content_keel_writes() {
        use crate::resources::common::content::sha256_hex;
        let file = |spec: J| {
            let spec = spec.as_object().unwrap().clone();
            build("file[/x]", "file", spec, &origin()).unwrap()
        };
        let with = file(serde_json::json!({"path": "/x", "content": "x\n"}));
        let e = entry_of(&with, Action::Update, None).unwrap();
        assert_eq!(e.sha256, Some(sha256_hex(b"x\n")));
        // Created without content: empty; else what the ledger knew.
        let without = file(serde_json::json!({"path": "/x", "mode": "0644"}));
        let e = entry_of(&without, Action::Create, None).unwrap();
        assert_eq!(e.sha256, Some(sha256_hex(b"")));
        let before = Ledger {
            stack: "s".into(),
            entries: vec![Entry {
                sha256: Some("known".into()),
                ..e
            }],
        };
        let e = entry_of(&without, Action::NoOp, Some(&before)).unwrap();
        assert_eq!(e.sha256.as_deref(), Some("known"));
        assert!(e.created);
        // Other kinds record none.
        let d = build(
            "directory[/d]",
            "directory",
            serde_json::json!({"path": "/d"})
                .as_object()
                .unwrap()
                .clone(),
            &origin(),
        )
        .unwrap();
        assert_eq!(entry_of(&d, Action::Create, None).unwrap().sha256, None);
    }

    #[test]
    fn a_pruned_ufw_deletes_only_keel_rules_and_shows_as_removal() {
        let e = entry("ufw[firewall]", "ufw", serde_json::json!({}), true);
        let inst = absent_instance(&e, &origin()).unwrap();
        assert_eq!(inst.resource.kind(), "ufw");
        let live = ufw_live(&[
            "v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
            "v4 allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c",
            "v4 allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in comment=68616e64",
        ]);
        let ev = inst.resource.evaluate(&live).unwrap();
        assert_eq!(ev.commands.len(), 1, "{:?}", ev.commands);
        // The command's own line follows ufw's shared prelude.
        let own = ev.commands[0].script.lines().last().unwrap();
        assert_eq!(
            own,
            "keel_ufw --force delete allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 8080"
        );
        // The plan shows it as `-`, and only when it is the ledger's removal.
        let mut resolved = Resolved::default();
        resolved.instances.push(inst);
        let mut evals = vec![Ok(ev)];
        let outs = [live.clone()];
        show_removals(&resolved, &outs, &mut evals);
        assert_eq!(evals[0].as_ref().unwrap().diff.action(), Action::Update);
        resolved.ledger = Some(HostLedger {
            pruned: BTreeSet::from(["ufw[firewall]".to_string()]),
            ..HostLedger::default()
        });
        show_removals(&resolved, &outs, &mut evals);
        assert_eq!(evals[0].as_ref().unwrap().diff.action(), Action::Delete);
        // Nothing of keel's left: nothing to do, and it stays a no-op.
        let left = ufw_live(&["v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"]);
        let gone = resolved.instances[0].resource.evaluate(&left).unwrap();
        let mut evals = vec![Ok(gone)];
        show_removals(&resolved, &[left], &mut evals);
        assert_eq!(evals[0].as_ref().unwrap().diff.action(), Action::NoOp);
    }

    #[test]
    fn write_script_quotes_the_ledger() {
        let hl = HostLedger {
            stack: "web".into(),
            state_dir: "/var/lib/keel/".into(),
            ..HostLedger::default()
        };
        assert_eq!(hl.path(), "/var/lib/keel/ledger/web.json");
        let l = Ledger {
            stack: "web".into(),
            entries: vec![entry(
                "file[/a'b]",
                "file",
                serde_json::json!({"path": "/a'b"}),
                true,
            )],
        };
        let s = write_script(&hl, &l).unwrap();
        assert!(s.contains("chmod 0700 -- /var/lib/keel/ledger"), "{s}");
        assert!(!s.contains("/a'b\""), "{s}");
    }
}
