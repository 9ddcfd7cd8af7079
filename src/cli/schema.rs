//! `keel schema`: print the JSON Schema of keel's YAML files, for editors
//! (yaml-language-server's `# yaml-language-server: $schema=` line, or
//! VS Code's `yaml.schemas` setting; see README, "Editor support").

use super::out;
use crate::schema::{FileKind, document};

/// Print the schema of `kind` files, pretty-printed JSON.
pub fn run(kind: FileKind) -> u8 {
    match serde_json::to_string_pretty(&document(kind)) {
        Ok(text) => {
            out(&format!("{text}\n"));
            0
        }
        Err(e) => {
            eprintln!("keel: cannot print the schema: {e}");
            1
        }
    }
}
