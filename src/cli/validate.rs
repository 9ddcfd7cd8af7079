//! `keel validate`: load and check everything offline.

use super::{Common, load, report};
use crate::session;

pub fn run(common: &Common) -> u8 {
    let Ok(project) = load(common) else { return 1 };
    match session::validate(&project, common.limit.as_deref()) {
        Ok(v) => {
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
