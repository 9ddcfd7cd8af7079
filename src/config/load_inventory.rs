//! Which reader an inventory path gets: Ansible's INI and YAML
//! inventories are read as they are ([`super::ansible`]); anything else is
//! keel's own format ([`Inventory::load_keel`]).

use super::inventory::Inventory;
use crate::diag::Diagnostics;
use std::path::Path;

impl Inventory {
    /// Load an inventory (a file, or a folder of them), whichever its
    /// format; problems are collected and the hosts that could be read
    /// are kept.
    pub fn load(path: &Path) -> (Inventory, Diagnostics) {
        if let Some(loaded) = super::ansible::load(path) {
            return loaded;
        }
        Inventory::load_keel(path)
    }
}
