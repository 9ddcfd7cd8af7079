//! `keel rollback`: apply, on each host, the release it had before its
//! current one (read from the host's release record), then summarise.
//!
//! Every target host must have a previous release recorded; otherwise
//! nothing is changed and the command says which host lacks one. The apply
//! itself is `keel apply` with each host's release overridden, so the plan
//! shows `release: B → A` and what else changes.

use super::{Common, inventory_path, report};
use crate::exit::Exit;
use crate::release::{self, Context, Record};
use crate::resolve::Project;
use std::collections::BTreeMap;

pub struct RollbackArgs {
    pub common: Common,
    pub yes: bool,
    pub json: bool,
    pub parallel: usize,
}

/// Read the release record of `stack` on one host (one round trip).
async fn read_record(project: &Project, host: &str) -> Result<Option<Record>, String> {
    let h = project
        .inventory
        .hosts
        .get(host)
        .ok_or("not in the inventory")?;
    let state_dir = crate::resolve::state_dir_of(project, h).map_err(|d| d.one_line())?;
    let ctx = Context {
        stack: project.stack.name.clone(),
        version: String::new(),
        state_dir,
    };
    let t = crate::connect::connect(h, std::time::Duration::from_secs(15))
        .await
        .map_err(|e| e.to_string())?;
    let out = crate::probe::run_batch(t.as_ref(), &[release::read_script(&ctx)]).await;
    t.close().await;
    let out = out.map_err(|e| e.to_string())?;
    let out = out.into_iter().next().unwrap_or_default();
    release::parse_record(&out.stdout)
}

/// Per host, the release to go back to; or the reasons it cannot.
pub async fn targets(
    project: &Project,
    hosts: &[String],
) -> Result<BTreeMap<String, (String, String)>, Vec<String>> {
    let mut ok = BTreeMap::new();
    let mut problems = Vec::new();
    for h in hosts {
        match read_record(project, h).await {
            Ok(Some(Record {
                release,
                previous: Some(prev),
                ..
            })) => {
                ok.insert(h.clone(), (release, prev));
            }
            Ok(Some(r)) => problems.push(format!(
                "{h}: release {} is recorded with no previous release to go back to",
                r.release
            )),
            Ok(None) => problems.push(format!(
                "{h}: no release of stack `{}` is recorded on this host",
                project.stack.name
            )),
            Err(e) => problems.push(format!("{h}: cannot read the release record: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(ok)
    } else {
        Err(problems)
    }
}

pub async fn run(a: RollbackArgs) -> Exit {
    let c = &a.common;
    let inv = inventory_path(c.inventory.as_deref(), &c.stack);
    let project = match Project::load(&c.stack, &inv) {
        Ok(p) => p,
        Err(d) => {
            report(&d);
            return Exit::Error;
        }
    };
    if project.stack.release.is_none() {
        eprintln!(
            "keel: {} declares no `release:`; there is nothing to roll back.",
            c.stack.display()
        );
        return Exit::Error;
    }
    let hosts = match project.target_hosts(c.limit.as_deref()) {
        Ok(h) => h,
        Err(d) => {
            report(&d);
            return Exit::Error;
        }
    };
    let targets = match targets(&project, &hosts).await {
        Ok(t) => t,
        Err(problems) => {
            for p in problems {
                eprintln!("keel: cannot roll back: {p}");
            }
            eprintln!(
                "keel: nothing was changed; to apply a given release use `keel apply {} --set release=VERSION`.",
                c.stack.display()
            );
            return Exit::Error;
        }
    };
    for (h, (now, prev)) in &targets {
        eprintln!(
            "Rolling back `{}` on {h}: release {now} → {prev}",
            project.stack.name
        );
    }
    let mut overrides = super::set_overrides(&c.set);
    overrides.release = targets.into_iter().map(|(h, (_, p))| (h, p)).collect();
    super::apply::run(super::apply::ApplyArgs {
        confirm_timeout: crate::confirm::DEFAULT_TIMEOUT,
        allow_lockout_risk: false,
        lock_timeout: None,
        target: c.stack.clone(),
        inventory: Some(inv),
        limit: c.limit.clone(),
        yes: a.yes,
        json: a.json,
        parallel: a.parallel,
        overrides,
        subset: Default::default(),
    })
    .await
}
