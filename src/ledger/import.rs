//! `keel import`: bring what a stack declares and a host already has under
//! the stack's ledger, changing nothing else on the host.
//!
//! Every declared resource of a prunable kind that exists on the host (its
//! plan is not a create) is recorded as handed to keel (`created: true`):
//! the user said, by running the command, that keel may remove it once the
//! stack no longer declares it. A file is recorded with the content found
//! (its sha256), so one edited after the import is still not pruned
//! without `--force-prune`. Resources the plan would create are left to the
//! apply (which records them as keel's); what the ledger already lists and
//! the stack no longer declares stays listed as it was (importing prunes
//! nothing).

use super::{Entry, HostLedger, Ledger, entry_of, write_script};
use crate::plan::HostWork;
use crate::resolve::Instance;
use crate::resources::Action;

/// What an import recorded on one host.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// The ledger file written.
    pub path: String,
    /// Addresses recorded as handed to keel.
    pub adopted: Vec<String>,
    /// Those of `adopted` the host has otherwise than the stack declares:
    /// the next apply changes them (`keel plan` shows how).
    pub differ: Vec<String>,
    /// Declared, prunable, not on the host yet: left to the apply.
    pub absent: Vec<String>,
}

/// The ledger after importing: `hl`'s previous entries, with the declared
/// resources that exist (`actions` is their plan, in order) recorded as
/// keel's. `live` gives a file's live sha256 by address.
pub fn imported_ledger(
    hl: &HostLedger,
    instances: &[Instance],
    actions: &[Action],
    live: &dyn Fn(&str) -> Option<String>,
) -> (Ledger, Imported) {
    let mut report = Imported {
        path: hl.path(),
        ..Imported::default()
    };
    let mut entries: Vec<Entry> = Vec::new();
    let declared = instances.iter().zip(actions);
    for (inst, action) in declared.filter(|(i, _)| !hl.pruned.contains(&i.address)) {
        let Some(mut e) = entry_of(inst, *action, hl.previous.as_ref()) else {
            continue;
        };
        if *action == Action::Create {
            report.absent.push(e.address);
            continue;
        }
        e.created = true;
        if e.kind == "file" {
            // Not a readable regular file (a link, say): a digest nothing
            // matches, so it is not pruned before keel wrote it once.
            e.sha256 = Some(live(&e.address).unwrap_or_else(|| "unknown".into()));
        }
        if *action != Action::NoOp {
            report.differ.push(e.address.clone());
        }
        report.adopted.push(e.address.clone());
        entries.push(e);
    }
    // What the ledger knew and the stack does not declare stays.
    if let Some(prev) = &hl.previous {
        for e in &prev.entries {
            if !entries.iter().any(|n| n.address == e.address) {
                entries.push(e.clone());
            }
        }
    }
    let ledger = Ledger {
        stack: hl.stack.clone(),
        entries,
    };
    (ledger, report)
}

/// Import on one planned host: read the adopted files' contents, write the
/// ledger. `Err` says why nothing was recorded.
pub async fn import_host(work: &HostWork) -> Result<Imported, String> {
    if let Some(e) = &work.plan.error {
        return Err(format!("it could not be planned: {e}"));
    }
    let hl = work.resolved.ledger.as_ref().ok_or(
        "keel keeps no ledger here (with the local transport, set `state_dir` in the stack)",
    )?;
    let t = work.conn().ok_or("no connection")?;
    // The files' live contents, in one round trip.
    let files: Vec<&Instance> = work
        .resolved
        .instances
        .iter()
        .filter(|i| i.resource.kind() == "file" && !hl.pruned.contains(&i.address))
        .collect();
    let probes: Vec<String> = files.iter().map(|i| i.resource.probe()).collect();
    let outs = crate::probe::run_batch(t.as_ref(), &probes)
        .await
        .map_err(|e| format!("cannot read the files: {e}"))?;
    let sums: Vec<(String, Option<String>)> = files
        .iter()
        .zip(&outs)
        .map(|(i, o)| {
            let sum = super::guard::live_sha256(&o.stdout).map(str::to_string);
            (i.address.clone(), sum)
        })
        .collect();
    let live = |addr: &str| {
        sums.iter()
            .find(|(a, _)| a == addr)
            .and_then(|(_, s)| s.clone())
    };
    let actions: Vec<Action> = work.plan.resources.iter().map(|r| r.action).collect();
    let (ledger, report) = imported_ledger(hl, &work.resolved.instances, &actions, &live);
    let fail = |e: String| format!("the ledger {} could not be written: {e}", hl.path());
    match t.run(&write_script(hl, &ledger)?).await {
        Ok(o) if o.success() => Ok(report),
        Ok(o) => Err(fail(o.stderr_text().trim().to_string())),
        Err(e) => Err(fail(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::build;
    use super::*;
    use std::collections::BTreeSet;

    fn declared(address: &str, kind: &str, spec: serde_json::Value) -> Instance {
        let origin = crate::config::entry::Origin {
            source: crate::diag::SourceFile::new("s.yaml".into(), String::new()),
            base_dir: "/".into(),
            templates_dir: "/".into(),
        };
        build(address, kind, spec.as_object().unwrap().clone(), &origin).unwrap()
    }

    #[test]
    fn existing_resources_are_recorded_as_handed_to_keel() {
        let old = Entry {
            address: "file[/old]".into(),
            kind: "file".into(),
            spec: serde_json::json!({"path": "/old"})
                .as_object()
                .unwrap()
                .clone(),
            created: false,
            sha256: None,
        };
        let hl = HostLedger {
            stack: "web".into(),
            state_dir: "/var/lib/keel".into(),
            previous: Some(Ledger {
                stack: "web".into(),
                entries: vec![old.clone()],
            }),
            pruned: BTreeSet::from(["file[/gone]".to_string()]),
            ..HostLedger::default()
        };
        let instances = [
            declared(
                "file[/etc/a]",
                "file",
                serde_json::json!({"path": "/etc/a", "content": "new"}),
            ),
            declared(
                "cron[root/job]",
                "cron",
                serde_json::json!({"name": "job", "schedule": "@daily", "command": "/bin/true"}),
            ),
            declared(
                "directory[/srv/d]",
                "directory",
                serde_json::json!({"path": "/srv/d"}),
            ),
            declared(
                "package[nginx]",
                "package",
                serde_json::json!({"name": "nginx"}),
            ),
            declared(
                "file[/gone]",
                "file",
                serde_json::json!({"path": "/gone", "state": "absent"}),
            ),
            declared(
                "file[/etc/link]",
                "file",
                serde_json::json!({"path": "/etc/link", "content": "x"}),
            ),
        ];
        let actions = [
            Action::Update,
            Action::NoOp,
            Action::Create,
            Action::NoOp,
            Action::Delete,
            Action::Update,
        ];
        let live = |a: &str| (a == "file[/etc/a]").then(|| "found".to_string());
        let (ledger, report) = imported_ledger(&hl, &instances, &actions, &live);
        assert_eq!(report.path, "/var/lib/keel/ledger/web.json");
        assert_eq!(
            report.adopted,
            ["file[/etc/a]", "cron[root/job]", "file[/etc/link]"]
        );
        assert_eq!(report.absent, ["directory[/srv/d]"]);
        // Recorded as found; the apply then changes what differs.
        assert_eq!(report.differ, ["file[/etc/a]", "file[/etc/link]"]);
        let addrs: Vec<&str> = ledger.entries.iter().map(|e| e.address.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "file[/etc/a]",
                "cron[root/job]",
                "file[/etc/link]",
                "file[/old]"
            ]
        );
        assert!(ledger.entries[..3].iter().all(|e| e.created));
        // The file's content as found, not as declared; a path that is not
        // a readable file gets a digest no file matches.
        assert_eq!(ledger.entries[0].sha256.as_deref(), Some("found"));
        assert_eq!(ledger.entries[2].sha256.as_deref(), Some("unknown"));
        // What the ledger knew stays as it was.
        assert_eq!(ledger.entries[3], old);
    }
}
