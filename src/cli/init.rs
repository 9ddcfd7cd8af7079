//! `keel init [DIR]`: a new project that validates at once — an inventory
//! (the hosts of `keel sandbox up` when one is up there, a placeholder host
//! otherwise), a stack, a module, a `.gitignore` keeping secrets and `.keel/`
//! out of git, and the editor schema line in each file (with the schemas
//! written to `.keel/`). Existing files are never overwritten.

use crate::exit::Exit;
use crate::schema::{FileKind, document};
use std::fs;
use std::path::{Path, PathBuf};

const STACK: &str = "# yaml-language-server: $schema=../.keel/stack.schema.json
# What every host of the inventory must look like.
#   keel validate stacks/site.yaml    check it offline
#   keel plan stacks/site.yaml        what would change on each host
#   keel apply stacks/site.yaml       make it so
name: site
targets: [all]

vars:
  site_dir: /srv/site

uses:
  - module: example
    with:
      message: \"Welcome to {{facts.hostname}}, managed by keel.\"

resources:
  - directory: { path: \"{{vars.site_dir}}\", mode: \"0755\" }
  - file:
      path: \"{{vars.site_dir}}/README\"
      mode: \"0644\"
      content: |
        This folder is managed by keel (stacks/site.yaml).
";

const MODULE: &str = "# yaml-language-server: $schema=../../.keel/module.schema.json
description: An example module, the message of the day.
inputs:
  message: { type: string, default: \"Managed by keel.\", description: the text of /etc/motd }
resources:
  - file:
      path: /etc/motd
      mode: \"0644\"
      content: \"{{inputs.message}}\\n\"
";

const PLACEHOLDER_INVENTORY: &str = "# yaml-language-server: $schema=.keel/inventory.schema.json
# The hosts keel manages: put your servers here. To try the project on
# throwaway hosts instead: `keel sandbox up 1`, then
# `keel plan -i .keel/sandbox/inventory.yaml stacks/site.yaml`.
hosts:
  web1:
    address: 203.0.113.10     # your server's address
    user: root
groups:
  web:
    hosts: [web1]
";

const GITIGNORE: &str =
    "# keel: local state (sandbox keys, generated schemas) and secrets stay out of git
.keel/
secrets/
*.key
*.pem
.env
";

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The project folder (created when missing) [default: the current folder]
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// The files of a new project in `dir`: (path, content).
fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    let sandbox = dir.join(super::sandbox::INVENTORY);
    let inventory = match fs::read_to_string(&sandbox) {
        Ok(text) => format!(
            "# yaml-language-server: $schema=.keel/inventory.schema.json\n\
             # The hosts of `keel sandbox up` (a copy of {}): replace them with your\n\
             # servers when the stack is ready.\n{text}",
            super::sandbox::INVENTORY
        ),
        Err(_) => PLACEHOLDER_INVENTORY.to_string(),
    };
    vec![
        (dir.join("inventory.yaml"), inventory),
        (dir.join("stacks/site.yaml"), STACK.to_string()),
        (dir.join("modules/example/module.yaml"), MODULE.to_string()),
        (dir.join(".gitignore"), GITIGNORE.to_string()),
    ]
}

/// The schemas the files' `$schema=` lines point at (refreshed every time).
fn schemas(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    [
        (FileKind::Stack, "stack"),
        (FileKind::Module, "module"),
        (FileKind::Inventory, "inventory"),
    ]
    .into_iter()
    .map(|(kind, name)| {
        let text = serde_json::to_string_pretty(&document(kind))
            .map_err(|e| format!("cannot print the {name} schema: {e}"))?;
        Ok((dir.join(format!(".keel/{name}.schema.json")), text + "\n"))
    })
    .collect()
}

pub fn run(args: &InitArgs) -> Exit {
    match init(&args.dir) {
        Ok(()) => Exit::Ok,
        Err(msg) => {
            eprintln!("keel: {msg}");
            Exit::Error
        }
    }
}

fn init(dir: &Path) -> Result<(), String> {
    let files = files(dir);
    let existing: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.symlink_metadata().is_ok())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "not overwriting existing files: {}\nRun `keel init` in an empty folder, or move them away.",
            existing.join(", ")
        ));
    }
    for (path, text) in files.iter().chain(schemas(dir)?.iter()) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let shown = dir.display();
    eprintln!(
        "keel: new project in {shown}: inventory.yaml, stacks/site.yaml, modules/example/, .gitignore\n\
         Next: cd {shown} && keel validate stacks/site.yaml && keel plan stacks/site.yaml"
    );
    Ok(())
}
