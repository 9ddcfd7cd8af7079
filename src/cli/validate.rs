//! `keel validate`: load and check everything offline.

use super::{Common, report};
use crate::session;

pub fn run(common: &Common) -> u8 {
    let inv = super::inventory_path(common.inventory.as_deref(), &common.stack);
    match session::check_overridden(
        &common.stack,
        &inv,
        common.limit.as_deref(),
        false,
        &super::set_overrides(&common.set),
    ) {
        Ok((_, v)) => {
            let resources: usize = v.offline.values().map(|(r, _)| r.instances.len()).sum();
            super::out(&format!(
                "{} is valid: {} host{}, {} resource{} in all.\n",
                common.stack.display(),
                v.hosts.len(),
                if v.hosts.len() == 1 { "" } else { "s" },
                resources,
                if resources == 1 { "" } else { "s" }
            ));
            0
        }
        Err(d) => {
            report(&d);
            1
        }
    }
}
