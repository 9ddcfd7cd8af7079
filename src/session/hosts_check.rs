//! The per-host part of offline validation ([`super::validate_with`]):
//! each target host resolved and graphed with placeholder facts and
//! secrets, and its lockout risks analysed — spread over the machine's
//! cores, since the hosts are independent (1,000 hosts checked one after
//! the other were a fifth of a plan's time, on one core). The results come
//! back in the hosts' order, so the problems read the same whatever the
//! number of threads.

use crate::config::inventory::Host;
use crate::diag::{Diag, Diagnostics};
use crate::graph::{self, Graph};
use crate::resolve::{self, HostInput, Project, Resolved};
use crate::secret::Secret;
use crate::template::Templates;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    /// Set by [`on_calling_thread`]: check the hosts on this thread.
    static CALLING_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` with every host checked on the calling thread, not spread over
/// the cores (the fuzz targets: one input, one thread, nothing spawned).
pub(crate) fn on_calling_thread<T>(f: impl FnOnce() -> T) -> T {
    /// Puts the setting back, also when `f` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            CALLING_THREAD.set(self.0);
        }
    }
    let _restore = Restore(CALLING_THREAD.replace(true));
    f()
}

/// What validating one host found.
pub(super) struct HostCheck {
    /// Its resolve problems, then its graph problems (each kept apart:
    /// they are reported naming the hosts that have them).
    pub problems: Vec<Diagnostics>,
    /// Whether its rendering depends on facts; `None` when it did not resolve.
    pub facts_needed: Option<bool>,
    /// The lockout analysis' findings (warnings among them).
    pub lockout: Vec<Diag>,
    /// Its resources, when it resolved and graphed (else 0).
    pub resources: usize,
    /// Its resolution and graph, when asked to keep them and they are sound.
    pub offline: Option<(Resolved, Graph)>,
}

/// What the checks of every host share.
pub(super) struct Shared<'a> {
    pub project: &'a Project,
    pub placeholders: &'a BTreeMap<String, Secret>,
    pub allow_lockout_risk: bool,
    pub keep: bool,
}

/// The engine a thread checks hosts with: it renders with other facts too,
/// to learn whether a host's stack depends on them (one per thread, as the
/// answer is noted on the engine).
fn engine() -> Templates {
    Templates::probing_facts(resolve::placeholder_facts(1))
}

/// Check one host; `templates` is the thread's [`engine`].
fn check_host(sh: &Shared, host: &Host, templates: &Templates) -> HostCheck {
    let facts = resolve::placeholder_facts(0);
    let input = HostInput {
        project: sh.project,
        host,
        facts: &facts,
        secrets: sh.placeholders,
        templates,
    };
    let mut check = HostCheck {
        problems: Vec::new(),
        facts_needed: None,
        lockout: Vec::new(),
        resources: 0,
        offline: None,
    };
    // Every stage runs on what the earlier ones produced, so one run
    // reports every independent problem: the graph (dangling
    // references, cycles) is built from the resources that resolved
    // even when others failed.
    templates.take_facts_used();
    let (resolved, resolve_diags) = resolve::resolve_host_partial(&input);
    let needs = templates.take_facts_used();
    let resolved_ok = resolve_diags.is_empty();
    if !resolved_ok {
        check.problems.push(resolve_diags);
    }
    let graph = graph::build(&resolved);
    if !resolved_ok {
        if let Err(d) = graph {
            check.problems.push(d);
        }
        return check;
    }
    check.facts_needed = Some(needs);
    // The lockout analysis needs every resource (a user that failed to
    // resolve would read as a lockout), not the graph: it runs even
    // when the graph has problems.
    check.lockout = crate::lockout::analyze(
        host,
        &resolved,
        sh.allow_lockout_risk || host.allow_lockout_risk,
    );
    match graph {
        Ok(g) => {
            check.resources = resolved.instances.len();
            if sh.keep {
                check.offline = Some((resolved, g));
            }
        }
        Err(d) => check.problems.push(d),
    }
    check
}

/// Check every host of `hosts` that the inventory knows, on as many
/// threads as the machine has cores (at most one per host): one result
/// per known host, in the order of `hosts`.
pub(super) fn check_hosts(sh: &Shared, hosts: &[String]) -> Vec<(String, HostCheck)> {
    let known: Vec<(&String, &Host)> = hosts
        .iter()
        .filter_map(|name| sh.project.inventory.hosts.get(name).map(|h| (name, h)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(known.len());
    if threads <= 1 || CALLING_THREAD.get() {
        let templates = engine();
        return known
            .into_iter()
            .map(|(name, host)| (name.clone(), check_host(sh, host, &templates)))
            .collect();
    }
    // Each thread takes the next host not taken yet (hosts differ in cost).
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, HostCheck)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let templates = engine();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((_, host)) = known.get(i) else {
                            break mine;
                        };
                        mine.push((i, check_host(sh, host, &templates)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(mine) => mine,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter()
        .map(|(i, check)| (known[i].0.clone(), check))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project of `n` local hosts `h1`…`hN` and `stack` (after its head).
    fn project(n: usize, stack: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory.yaml");
        let hosts: String = (1..=n)
            .map(|i| format!("  h{i}: {{ transport: local }}\n"))
            .collect();
        std::fs::write(&inv, format!("hosts:\n{hosts}")).unwrap();
        let path = dir.path().join("stack.yaml");
        std::fs::write(
            &path,
            format!("name: t\ntargets: [all]\nresources:\n{stack}"),
        )
        .unwrap();
        let p = Project::load(&path, &inv).unwrap_or_else(|d| panic!("{d:?}"));
        (dir, p)
    }

    /// Every host gets its own result, in the hosts' order, with the facts
    /// probe of its own (a host that reads facts does not mark the others).
    #[test]
    fn hosts_are_checked_apart_and_come_back_in_order() {
        let stack = "  - file: { path: \"/tmp/{{host.name}}\", content: \"{{#if (eq host.name 'h7')}}{{facts.arch}}{{/if}}\" }\n";
        let (_dir, p) = project(40, stack);
        let placeholders = BTreeMap::new();
        let sh = Shared {
            project: &p,
            placeholders: &placeholders,
            allow_lockout_risk: false,
            keep: true,
        };
        let mut names: Vec<String> = (1..=40).map(|i| format!("h{i}")).collect();
        names.reverse();
        names.push("unknown".into());
        let checks = check_hosts(&sh, &names);
        let got: Vec<&str> = checks.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<&str> = names[..40].iter().map(String::as_str).collect();
        assert_eq!(got, want);
        for (name, c) in &checks {
            assert_eq!(c.facts_needed, Some(name == "h7"), "{name}");
            assert_eq!(c.resources, 1);
            let (resolved, _) = c.offline.as_ref().unwrap();
            assert_eq!(resolved.instances[0].address, format!("file[/tmp/{name}]"));
        }
    }

    /// Inside [`on_calling_thread`], every host is checked on this thread
    /// (its one engine is made here); afterwards, as before.
    #[test]
    fn on_calling_thread_spawns_no_thread() {
        let (_dir, p) = project(8, "  - file: { path: /tmp/x, content: x }\n");
        let placeholders = BTreeMap::new();
        let sh = Shared {
            project: &p,
            placeholders: &placeholders,
            allow_lockout_risk: false,
            keep: false,
        };
        let names: Vec<String> = (1..=8).map(|i| format!("h{i}")).collect();
        let engines = crate::template::tests::engines;
        let before = engines();
        let checks = on_calling_thread(|| check_hosts(&sh, &names));
        assert_eq!(checks.len(), 8);
        assert_eq!(engines() - before, 1, "one engine, made on this thread");
        assert!(!CALLING_THREAD.get(), "the setting is put back");
    }
}
