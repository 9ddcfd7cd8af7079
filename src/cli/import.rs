//! `keel import`: record in each host's ledger what the stack declares and
//! the host already has ([`crate::ledger::import`]), changing nothing else;
//! print, per host, what was recorded.

use super::{Common, inventory_path};
use crate::exit::Exit;
use crate::session::Options;
use std::sync::Arc;

pub async fn run(common: &Common) -> Exit {
    let inv = inventory_path(common.inventory.as_deref(), &common.stack);
    let s = match super::plan::open_with(
        &common.stack,
        &inv,
        Options {
            limit: common.limit.clone(),
            // Nothing but the ledger is written: the host's lock is taken,
            // and lockout refusals (about applying the stack) do not apply.
            allow_lockout_risk: true,
            lock: Some(crate::lock::Wait::No),
            overrides: super::set_overrides(&common.set),
            ..Options::default()
        },
    ) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let works = super::plan::plan_hosts(s.clone()).await;
    let mut failed = false;
    let mut out_all = String::new();
    for w in &works {
        // Addresses can hold a secret (`line[/etc/app.conf: TOKEN=...]`):
        // masked as the plan masks them.
        let mask = |text: &str| crate::apply::mask_for_host(w, &s.redactor, text);
        match crate::ledger::import::import_host(w).await {
            Ok(r) => {
                let mut out = String::new();
                out.push_str(&format!(
                    "{}: recorded {} resource(s) in {}\n",
                    w.host,
                    r.adopted.len(),
                    r.path
                ));
                for a in &r.adopted {
                    let differs = if r.differ.contains(a) {
                        "; differs from the stack: apply changes it, see `keel plan`"
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "  = {a}  (as found, now keel's to remove{differs})\n"
                    ));
                }
                for a in &r.absent {
                    out.push_str(&format!("  + {a}  (not there yet: apply creates it)\n"));
                }
                out_all.push_str(&mask(&out));
            }
            Err(e) => {
                failed = true;
                eprintln!("keel: {}: nothing imported: {}", w.host, mask(&e));
            }
        }
        w.release_lock().await;
        if let Some(t) = &w.transport {
            t.close().await;
        }
    }
    super::out(&out_all);
    if failed { Exit::Error } else { Exit::Ok }
}
