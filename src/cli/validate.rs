//! `keel validate`: load and check everything offline.
//!
//! No host is contacted and no secret is read: templates are rendered with
//! placeholder facts (`resolve::placeholder_facts`: a Debian 12 host named
//! `keel-placeholder`, user `root`) and placeholder secrets
//! (`$keel$placeholder-secret-NAME`). What depends on their real values is
//! checked at plan, and the output says so.

use super::{Common, report};
use crate::exit::Exit;
use crate::session;

pub fn run(common: &Common) -> Exit {
    let inv = super::inventory_path(common.inventory.as_deref(), &common.stack);
    // Counted, not kept: 1,000 hosts' resolutions held at once took GBs.
    match session::check_keeping(
        &common.stack,
        &inv,
        (common.limit.as_deref(), false),
        &super::set_overrides(&common.set),
        false,
    ) {
        Ok((project, v)) => {
            let resources = v.resources;
            super::out(&format!(
                "{} is valid: {} host{}, {} resource{} in all.\n",
                common.stack.display(),
                v.hosts.len(),
                if v.hosts.len() == 1 { "" } else { "s" },
                resources,
                if resources == 1 { "" } else { "s" }
            ));
            let uses_facts = v.facts_needed.values().any(|&n| n);
            if uses_facts || !project.stack.secrets.is_empty() {
                super::out(&format!(
                    "No host was contacted: templates were rendered with placeholder facts and secrets ({}); values that depend on them are checked at plan.\n",
                    match (uses_facts, project.stack.secrets.is_empty()) {
                        (true, false) => "facts and secrets are used",
                        (true, true) => "facts are used",
                        _ => "secrets are used",
                    }
                ));
            }
            Exit::Ok
        }
        Err(d) => {
            report(&d);
            Exit::Error
        }
    }
}
