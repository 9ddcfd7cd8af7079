//! `keel verify`'s view of one host: connected, its facts gathered when
//! templates need them, the stack resolved, and the checks it declares
//! kept (for [`crate::check`] to run).

use super::Session;
use crate::check::{self, Target};

/// Connect, gather facts when templates need them, resolve the stack, and
/// keep its checks. Host-side checks need the connection; a stack whose
/// checks all run from keel still needs the host to resolve its templates.
pub async fn check_target(s: &Session, name: &str) -> Target {
    let mut t = Target {
        host: name.to_string(),
        address: String::new(),
        transport: None,
        checks: Vec::new(),
        tainted: Vec::new(),
        error: None,
    };
    let Some(host) = s.project.inventory.hosts.get(name) else {
        t.error = Some("not in the inventory".into());
        return t;
    };
    t.address = host.address.clone();
    let transport = match crate::connect::connect(host, s.options.connect_timeout).await {
        Ok(c) => c,
        Err(e) => {
            t.error = Some(s.redactor.redact(&e.to_string()));
            return t;
        }
    };
    let facts = if s.validated.facts_needed.get(name).copied().unwrap_or(false) {
        match crate::probe::gather_facts(transport.as_ref()).await {
            Ok(f) => f,
            Err(e) => {
                t.error = Some(format!(
                    "cannot gather facts: {}",
                    s.redactor.redact(&e.to_string())
                ));
                t.transport = Some(transport);
                return t;
            }
        }
    } else {
        crate::resolve::placeholder_facts(0)
    };
    let input = crate::resolve::HostInput {
        project: &s.project,
        host,
        facts: &facts,
        secrets: &s.secrets,
        templates: &s.templates,
    };
    match crate::resolve::resolve_host(&input) {
        Ok(resolved) => {
            t.checks = check::checks_in(&resolved);
            t.tainted = check::tainted_in(&resolved);
        }
        Err(d) => t.error = Some(s.redactor.redact(&d.one_line())),
    }
    t.transport = Some(transport);
    t
}
