//! Saved plans: `keel plan --out FILE` writes the plan; `keel apply FILE`
//! applies exactly it, or refuses.
//!
//! A saved plan is an approval artifact, so it must say truthfully what it
//! applies:
//! - **Sealed.** The whole document is sealed with a keyed MAC
//!   ([`crate::keyed`], a private per-machine key): the seal is the file's
//!   second line, `"seal": "<hex>"`, over every other byte of the file. An
//!   edit of any byte — a stack path pointed at another stack, a limit, a
//!   host, a space — is refused before anything is read from the document.
//!   The file stays plain JSON (`jq` reads it).
//! - **Bound to the configuration's content.** It lists every file the run
//!   read ([`crate::loaded`]: stack, inventory, modules, templates, local
//!   sources) with a keyed digest of its content; `keel apply FILE` refuses
//!   when one changed, naming it. It then re-reads the stack and the live
//!   state and refuses unless both still give the same plan
//!   (desired-state hash per host, probe fingerprint per resource).
//! - **Applied with the choices it was made with.** `--force-prune` and
//!   `--allow-lockout-risk` change what a plan shows (a removal refused or
//!   planned), so the file records them ([`Choices`]) and `keel apply FILE`
//!   uses them; a flag given to apply that the plan was made without is
//!   refused ([`Choices::refuse_extra`]): it would apply something else.
//! - **Written privately.** An exclusive (`O_EXCL`) temp file with a random
//!   name and mode 0600 in the target's folder, renamed over the target: no
//!   predictable temp path, no symlink followed, no window where others can
//!   read it.

use super::{HostPlan, Plan};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The MAC domain of a saved plan's seal.
const SEAL_DOMAIN: &str = "keel saved plan seal";
/// The MAC domain of a configuration file's digest.
const SOURCE_DOMAIN: &str = "keel saved plan source file";
/// The start of a sealed file, before the seal's hex digits.
const SEAL_PREFIX: &str = "{\n  \"seal\": \"";
/// The digest recorded for a file that could not be read.
const UNREADABLE: &str = "unreadable";
/// A configuration file the plan was made from, with a keyed digest of its
/// content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub digest: String,
}

/// The command-line choices a plan was made with that change what it
/// shows; absent from files saved before they were recorded (`false`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Choices {
    /// `--force-prune`: files changed by hand are pruned too.
    #[serde(default)]
    pub force_prune: bool,
    /// `--allow-lockout-risk`: lockout refusals are warnings.
    #[serde(default)]
    pub allow_lockout_risk: bool,
}

impl Choices {
    /// The flags, as typed (`""` for none).
    pub fn flags(&self) -> String {
        let mut f = Vec::new();
        if self.force_prune {
            f.push("--force-prune");
        }
        if self.allow_lockout_risk {
            f.push("--allow-lockout-risk");
        }
        f.join(" ")
    }

    /// Why `keel apply FILE` with the flags `given` must not apply a plan
    /// made with `self`: a flag the plan was made without would apply
    /// something other than what was reviewed. Repeating a recorded flag,
    /// or leaving it out, applies the plan as saved.
    pub fn refuse_extra(&self, given: &Choices, file: &str) -> Option<String> {
        let extra = [
            (given.force_prune && !self.force_prune, "--force-prune"),
            (
                given.allow_lockout_risk && !self.allow_lockout_risk,
                "--allow-lockout-risk",
            ),
        ];
        let (_, flag) = extra.into_iter().find(|(extra, _)| *extra)?;
        Some(format!(
            "it was saved without {flag}, and a saved plan is applied only as it was made: \
             drop {flag}, or make the plan again with it (`keel plan {flag} --out {file} ...`) \
             and review it"
        ))
    }
}

/// What a saved plan file holds besides its seal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(flatten)]
    pub choices: Choices,
    /// Every file read to make the plan.
    pub sources: Vec<Source>,
}

/// Why a saved plan cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Stale {
    #[error("{0} is not a keel plan: {1}")]
    Unreadable(String, String),
    /// Not JSON, or not a plan's shape: see [`Stale::diag`] for the location.
    #[error("{path}:{line}:{column}: {message}")]
    Corrupt {
        path: String,
        text: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{0} is not sealed by keel (an edited file, or one saved by an older keel): run `keel plan --out` again"
    )]
    Unsealed(String),
    #[error(
        "{0} was modified after `keel plan` saved it (its seal does not match; an edit of any byte breaks it), \
         or it was saved on another machine (its key is ~/.local/state/keel/key there, or $KEEL_KEY_FILE); \
         refusing to apply it: run `keel plan --out` again"
    )]
    Tampered(String),
    #[error("cannot check the seal of {0}: {1}")]
    Key(String, String),
    #[error("the plan was made by keel plan format {found}; this keel reads format {expected}")]
    Format { found: u32, expected: u32 },
    #[error("{path} changed since the plan was made; run `keel plan --out` again")]
    Source { path: String },
    #[error(
        "host {host}: the stack's configuration changed since the plan was made; run `keel plan` again"
    )]
    Config { host: String },
    #[error(
        "host {host}: the live state of {address} changed since the plan was made; run `keel plan` again"
    )]
    Live { host: String, address: String },
    #[error("host {host} is not in the saved plan (or the plan has hosts this run doesn't target)")]
    Hosts { host: String },
    #[error("host {host} could not be planned when the plan was saved: {error}")]
    HostError { host: String, error: String },
    #[error(
        "host {host}: the release recorded on the host changed since the plan was made; run `keel plan` again"
    )]
    Release { host: String },
}

/// The keyed digest of a file's content (or [`UNREADABLE`]).
fn source_digest(path: &Path) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => crate::keyed::digest(SOURCE_DOMAIN, &[&bytes]),
        Err(_) => Ok(UNREADABLE.to_string()),
    }
}

/// Every configuration file read so far, with digests.
pub fn sources() -> Result<Vec<Source>, String> {
    crate::loaded::files()
        .into_iter()
        .map(|p| {
            Ok(Source {
                digest: source_digest(&p)?,
                path: p.display().to_string(),
            })
        })
        .collect()
}

/// The sealed text of a plan.
fn sealed_text(saved: &Saved) -> std::io::Result<String> {
    let body = serde_json::to_string_pretty(saved).map_err(std::io::Error::other)? + "\n";
    let seal =
        crate::keyed::digest(SEAL_DOMAIN, &[body.as_bytes()]).map_err(std::io::Error::other)?;
    let rest = body
        .strip_prefix("{\n")
        .ok_or_else(|| std::io::Error::other("unexpected JSON layout"))?;
    Ok(format!("{SEAL_PREFIX}{seal}\",\n{rest}"))
}

/// Save `plan` made with `choices`, bound to every configuration file
/// read so far, sealed.
pub fn save(plan: &Plan, choices: Choices, path: &Path) -> std::io::Result<()> {
    let saved = Saved {
        plan: plan.clone(),
        choices,
        sources: sources().map_err(std::io::Error::other)?,
    };
    write_private(path, sealed_text(&saved)?.as_bytes())
}

/// Write `bytes` to `path` atomically: a fresh O_EXCL temp file (random
/// name, mode 0600) in the same folder, synced, then renamed over `path`
/// (a symlink at `path` is replaced, never followed).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into());
    // tempfile opens with O_CREAT|O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Read a saved plan: check its seal, then parse it.
pub fn load(path: &Path) -> Result<Saved, Stale> {
    let name = path.display().to_string();
    let text =
        crate::config::local_file::read_text(path, crate::config::local_file::MAX_DATA_BYTES)
            .map_err(|e| Stale::Unreadable(name.clone(), e.to_string()))?;
    // Not JSON at all (cut short, garbage): a located error in the file.
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
        return Err(corrupt(name, &text, &e));
    }
    let body = unseal(&name, &text)?;
    let saved: Saved = serde_json::from_str(&body).map_err(|e| corrupt(name.clone(), &body, &e))?;
    if saved.plan.format_version != super::FORMAT_VERSION {
        return Err(Stale::Format {
            found: saved.plan.format_version,
            expected: super::FORMAT_VERSION,
        });
    }
    Ok(saved)
}

/// Check the seal line; return the sealed body (the file without it).
fn unseal(name: &str, text: &str) -> Result<String, Stale> {
    let Some(rest) = text.strip_prefix(SEAL_PREFIX) else {
        return Err(Stale::Unsealed(name.to_string()));
    };
    let Some((seal, body_rest)) = rest.split_once("\",\n") else {
        return Err(Stale::Unsealed(name.to_string()));
    };
    if seal.len() != 64 || !seal.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Stale::Unsealed(name.to_string()));
    }
    let body = format!("{{\n{body_rest}");
    match crate::keyed::verify(SEAL_DOMAIN, &[body.as_bytes()], seal) {
        Ok(true) => Ok(body),
        Ok(false) => Err(Stale::Tampered(name.to_string())),
        Err(e) => Err(Stale::Key(name.to_string(), e)),
    }
}

/// The configuration files that changed since the plan was saved.
pub fn check_sources(saved: &Saved) -> Vec<Stale> {
    saved
        .sources
        .iter()
        .filter(|s| match source_digest(Path::new(&s.path)) {
            Ok(d) => d != s.digest,
            Err(_) => true,
        })
        .map(|s| Stale::Source {
            path: s.path.clone(),
        })
        .collect()
}

/// What a saved plan applies and from where, for the user to read before
/// it runs.
pub fn describe(file: &Path, saved: &Saved) -> String {
    let plan = &saved.plan;
    let hosts: Vec<&str> = plan.hosts.iter().map(|h| h.host.as_str()).collect();
    let flags = saved.choices.flags();
    format!(
        "Applying the saved plan {file} (keel {version}):\n  stack:     {stack} ({name})\n  inventory: {inv}\n  limit:     {limit}\n  hosts:     {hosts}\n  choices:   {choices}\n  plan:      {summary}\n",
        file = file.display(),
        choices = if flags.is_empty() { "(none)" } else { &flags },
        version = plan.keel_version,
        stack = plan.stack_path,
        name = plan.stack,
        inv = plan.inventory_path,
        limit = plan
            .limit
            .as_deref()
            .unwrap_or("(none: every target of the stack)"),
        hosts = if hosts.is_empty() {
            "(none)".to_string()
        } else {
            hosts.join(", ")
        },
        summary = super::render::summary(&plan.summary),
    )
}

/// A saved plan that does not parse, with where and why.
fn corrupt(path: String, text: &str, e: &serde_json::Error) -> Stale {
    let full = e.to_string();
    // serde_json appends " at line L column C"; the location is kept apart.
    let what = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i])
        .to_string();
    let message = match e.classify() {
        serde_json::error::Category::Data => format!("not a keel plan: {what}"),
        serde_json::error::Category::Eof => {
            "cut short: its JSON ends before it is complete".to_string()
        }
        _ => format!("not valid JSON ({what}): the file was edited or damaged"),
    };
    Stale::Corrupt {
        path,
        text: text.to_string(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

impl Stale {
    /// A located diagnostic, for errors that have a place in the file.
    pub fn diag(&self) -> Option<crate::diag::Diag> {
        let Stale::Corrupt {
            path,
            text,
            line,
            column,
            message,
        } = self
        else {
            return None;
        };
        let src = crate::diag::SourceFile::new(
            crate::config::display_path(Path::new(path)),
            text.clone(),
        );
        let mut offset = src.offset_of(*line, *column).min(text.len());
        let mut label = "here";
        let end = text.trim_end().len();
        if offset >= end {
            // Cut short: point at the last character there is.
            offset = text[..end].char_indices().last().map_or(0, |(i, _)| i);
            label = "the file ends here";
        }
        let len = text[offset..].chars().next().map_or(0, char::len_utf8);
        Some(
            crate::diag::Diag::at(
                "keel::saved-plan",
                &src,
                crate::node::Span { offset, len },
                format!("{} is {message}", src.name),
                label,
            )
            .with_help(
                "a saved plan is applied only exactly as `keel plan --out FILE` wrote it: make a new one",
            ),
        )
    }
}

/// Compare a freshly computed plan with the saved one: every way they
/// differ (another host list, or a host whose plan changed); empty when the
/// saved plan can be applied.
pub fn compare(saved: &Plan, fresh: &Plan) -> Vec<Stale> {
    let by_host: std::collections::BTreeMap<&str, &HostPlan> =
        fresh.hosts.iter().map(|h| (h.host.as_str(), h)).collect();
    let mut stale = Vec::new();
    if saved.hosts.len() != fresh.hosts.len() {
        stale.push(Stale::Hosts {
            host: saved
                .hosts
                .iter()
                .map(|h| h.host.clone())
                .collect::<Vec<_>>()
                .join(","),
        });
    }
    for h in &saved.hosts {
        match by_host.get(h.host.as_str()) {
            Some(f) => {
                if let Err(e) = check_host(h, f) {
                    stale.push(e);
                }
            }
            None => stale.push(Stale::Hosts {
                host: h.host.clone(),
            }),
        }
    }
    stale
}

/// Compare a freshly computed host plan with the saved one.
pub fn check_host(saved: &HostPlan, fresh: &HostPlan) -> Result<(), Stale> {
    if let Some(e) = &saved.error {
        return Err(Stale::HostError {
            host: saved.host.clone(),
            error: e.clone(),
        });
    }
    if saved.desired_hash != fresh.desired_hash || saved.resources.len() != fresh.resources.len() {
        return Err(Stale::Config {
            host: saved.host.clone(),
        });
    }
    if saved.release != fresh.release {
        return Err(Stale::Release {
            host: saved.host.clone(),
        });
    }
    for (s, f) in saved.resources.iter().zip(&fresh.resources) {
        if s.address != f.address {
            return Err(Stale::Config {
                host: saved.host.clone(),
            });
        }
        if s.fingerprint != f.fingerprint || s.action != f.action {
            return Err(Stale::Live {
                host: saved.host.clone(),
                address: s.address.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::new(
            "web".into(),
            "/p/stack.yaml".into(),
            "/p/inventory.yaml".into(),
            None,
            Vec::new(),
        )
    }

    fn sealed() -> String {
        sealed_text(&Saved {
            plan: plan(),
            choices: Choices {
                force_prune: true,
                allow_lockout_risk: false,
            },
            sources: vec![Source {
                path: "/p/stack.yaml".into(),
                digest: "d".into(),
            }],
        })
        .unwrap()
    }

    fn host(name: &str, hash: &str) -> HostPlan {
        HostPlan {
            host: name.into(),
            transport: "ssh".into(),
            round_trips: Default::default(),
            error: None,
            desired_hash: hash.into(),
            resources: Vec::new(),
            summary: Default::default(),
            skipped: Vec::new(),
            release: None,
        }
    }

    fn with_hosts(hosts: Vec<HostPlan>) -> Plan {
        Plan { hosts, ..plan() }
    }

    #[test]
    fn compare_names_every_difference_of_hosts() {
        let saved = with_hosts(vec![host("a", "1"), host("b", "2")]);
        assert_eq!(compare(&saved, &saved.clone()), []);
        // A host gone: the host list differs and the host is missing.
        let fewer = with_hosts(vec![host("a", "1")]);
        assert_eq!(
            compare(&saved, &fewer),
            [
                Stale::Hosts { host: "a,b".into() },
                Stale::Hosts { host: "b".into() }
            ]
        );
        // Same hosts, one with another configuration.
        let changed = with_hosts(vec![host("a", "1"), host("b", "3")]);
        assert_eq!(
            compare(&saved, &changed),
            [Stale::Config { host: "b".into() }]
        );
        // Another host of the same count.
        let other = with_hosts(vec![host("a", "1"), host("c", "2")]);
        assert_eq!(compare(&saved, &other), [Stale::Hosts { host: "b".into() }]);
    }

    #[test]
    fn a_sealed_plan_unseals_to_valid_json() {
        let text = sealed();
        let v: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(v["seal"].as_str().map(str::len), Some(64));
        let body = unseal("f", &text).expect("unseals");
        let saved: Saved = serde_json::from_str(&body).unwrap();
        assert_eq!(saved.plan.stack_path, "/p/stack.yaml");
        assert_eq!(saved.sources.len(), 1);
        assert_eq!(v["force_prune"], true);
        assert_eq!(saved.choices.flags(), "--force-prune");
        // Saved before the choices were recorded: made without them.
        let mut old = v.clone();
        let o = old.as_object_mut().unwrap();
        o.remove("force_prune");
        o.remove("allow_lockout_risk");
        let old: Saved = serde_json::from_value(old).unwrap();
        assert_eq!(old.choices, Choices::default());
    }

    #[test]
    fn apply_may_repeat_a_recorded_choice_but_not_add_one() {
        let none = Choices::default();
        let force = Choices {
            force_prune: true,
            ..none
        };
        let risk = Choices {
            allow_lockout_risk: true,
            ..none
        };
        assert_eq!(force.refuse_extra(&force, "p.json"), None);
        assert_eq!(force.refuse_extra(&none, "p.json"), None);
        let why = none.refuse_extra(&force, "p.json").unwrap();
        assert!(
            why.contains("it was saved without --force-prune")
                && why.contains("keel plan --force-prune --out p.json"),
            "{why}"
        );
        let why = force.refuse_extra(&risk, "p.json").unwrap();
        assert!(why.contains("without --allow-lockout-risk"), "{why}");
    }

    #[test]
    fn any_edited_byte_breaks_the_seal() {
        let text = sealed();
        let bytes = text.as_bytes();
        // Every byte after the seal's hex digits, changed one at a time.
        for i in SEAL_PREFIX.len() + 64..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] = if b[i] == b'x' { b'y' } else { b'x' };
            let edited = String::from_utf8_lossy(&b);
            assert!(
                unseal("f", &edited).is_err(),
                "byte {i} edited was accepted"
            );
        }
        // The seal itself.
        let mut b = bytes.to_vec();
        let i = SEAL_PREFIX.len();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            unseal("f", &String::from_utf8_lossy(&b)),
            Err(Stale::Tampered("f".into()))
        );
        assert_eq!(
            unseal("f", "{\"format_version\": 1}"),
            Err(Stale::Unsealed("f".into()))
        );
    }

    #[test]
    fn a_fifo_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("plan.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
        match load(&fifo) {
            Err(Stale::Unreadable(_, why)) => {
                assert!(why.contains("not a regular file"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn written_privately_through_no_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let out = dir.path().join("p.json");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("p.tmp")).unwrap();
        write_private(&out, b"plan\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        let meta = std::fs::symlink_metadata(&out).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "plan\n");
    }
}
