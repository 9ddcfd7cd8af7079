//! `keel facts HOST`: the facts templates read as `{{facts.NAME}}` on one
//! host of the inventory, gathered the way a plan gathers them (one round
//! trip), as YAML or JSON.

use super::{out, report};
use crate::config::inventory::Inventory;
use crate::exit::Exit;
use std::path::Path;
use std::time::Duration;

/// Seconds to wait for the host to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Print the facts of `host` of the inventory at `inventory` (or the one
/// found in the current folder).
pub async fn run(host: &str, inventory: Option<&Path>, json: bool) -> Exit {
    let path = super::inventory_path(inventory, Path::new("stack.yaml"));
    let Some(h) = host_of(&path, host) else {
        return Exit::Error;
    };
    let transport = match crate::connect::connect(&h, CONNECT_TIMEOUT).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("keel: cannot connect to `{host}`: {e}");
            return Exit::Error;
        }
    };
    let facts = crate::probe::gather_facts(transport.as_ref()).await;
    transport.close().await;
    match facts {
        Ok(f) => {
            out(&render(&f, json));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("keel: cannot gather the facts of `{host}`: {e}");
            Exit::Error
        }
    }
}

/// A host of the inventory; problems are reported.
pub fn host_of(path: &Path, name: &str) -> Option<crate::config::inventory::Host> {
    let (inv, diags) = Inventory::load(path);
    if !diags.is_empty() {
        report(&diags);
        return None;
    }
    match inv.hosts.get(name) {
        Some(h) => Some(h.clone()),
        None => {
            eprintln!(
                "keel: no host `{name}` in {}: {}",
                path.display(),
                crate::suggest::closest_hint(name, inv.hosts.keys())
            );
            None
        }
    }
}

/// The facts as YAML (`facts:` and one line per fact) or pretty JSON.
fn render(facts: &serde_json::Value, json: bool) -> String {
    if json {
        let text = serde_json::to_string_pretty(facts).unwrap_or_default();
        return format!("{text}\n");
    }
    match serde_saphyr::to_string(facts) {
        Ok(text) => text,
        Err(e) => format!("# cannot write YAML ({e}); as JSON:\n{facts}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_yaml_and_json() {
        let f = serde_json::json!({ "hostname": "web1", "cpus": 2 });
        assert_eq!(render(&f, false).trim(), "cpus: 2\nhostname: web1");
        assert!(render(&f, true).contains("\"hostname\": \"web1\""));
    }
}
