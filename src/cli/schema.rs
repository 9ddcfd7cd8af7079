//! `keel schema`: print the JSON Schema of keel's YAML files, for editors
//! (yaml-language-server's `# yaml-language-server: $schema=` line, or
//! VS Code's `yaml.schemas` setting; see README, "Editor support").

use super::out;
use crate::exit::Exit;
use crate::schema::{FileKind, document};

/// Print the schema of `kind` files, pretty-printed JSON.
pub fn run(kind: FileKind) -> Exit {
    match serde_json::to_string_pretty(&document(kind)) {
        Ok(text) => {
            out(&format!("{text}\n"));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("keel: cannot print the schema: {e}");
            Exit::Error
        }
    }
}
