//! `keel inventory convert FILE`: print an inventory (Ansible INI or YAML,
//! or keel's own) in keel's YAML format.

use super::{out, report};
use crate::config::ansible::emit;
use crate::config::inventory::Inventory;
use crate::exit::Exit;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum InventoryCommand {
    /// Print FILE (an Ansible INI or YAML inventory, or a folder of them,
    /// with its group_vars/ and host_vars/) in keel's inventory format, on
    /// stdout.
    Convert {
        /// The inventory file or folder, e.g. hosts.ini or inventory.yml.
        file: PathBuf,
    },
}

pub fn run(command: &InventoryCommand) -> Exit {
    match command {
        InventoryCommand::Convert { file } => convert(file),
    }
}

fn convert(file: &Path) -> Exit {
    let (inv, diags) = Inventory::load(file);
    if !diags.is_empty() {
        report(&diags);
        return Exit::Error;
    }
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    out(&emit::to_keel_yaml(&inv, &name));
    Exit::Ok
}
