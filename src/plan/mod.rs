//! The plan: per host, every resource with its action, attribute-level
//! before → after, and a unified diff for file contents.
//!
//! A plan is a first-class artifact: [`render`] prints it for people,
//! [`Plan`] serializes to a stable JSON document (`keel plan --json`, format
//! described in README), and [`saved`] checks a saved plan against the live
//! state before `keel apply FILE` applies exactly it.

pub mod render;
pub mod saved;
mod work;
pub use work::HostWork;

use crate::graph::Graph;
use crate::resolve::Resolved;
use crate::resources::{Action, AttrChange, Evaluation, ProbeOutput};
use crate::secret::{MASK, MIN_SECRET_LEN, Redactor, Secret};
use serde::{Deserialize, Serialize};

/// Version of the JSON plan format. Bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// A whole plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub keel_version: String,
    pub stack: String,
    pub stack_path: String,
    pub inventory_path: String,
    pub limit: Option<String>,
    /// `--target` addresses the plan was narrowed to (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// `--tags` the plan was narrowed to (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub hosts: Vec<HostPlan>,
    pub summary: Summary,
    /// Whether any host has a change (or an error).
    pub changes: bool,
    /// The `--set` vars the plan was made with (applied again with a saved plan).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub set: std::collections::BTreeMap<String, String>,
    /// Per host, the release a rollback applies instead of the stack's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub release_override: std::collections::BTreeMap<String, String>,
    /// The hosts of each batch of a rollout (`serial:`/`max_fail:`), in
    /// the order they are applied; empty when the stack sets neither.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<Vec<String>>,
}

impl Plan {
    pub fn new(
        stack: String,
        stack_path: String,
        inventory_path: String,
        limit: Option<String>,
        hosts: Vec<HostPlan>,
    ) -> Self {
        let mut summary = Summary::default();
        let mut changes = false;
        for h in &hosts {
            h.add_to(&mut summary, &mut changes);
        }
        Plan {
            format_version: FORMAT_VERSION,
            keel_version: env!("CARGO_PKG_VERSION").to_string(),
            stack,
            stack_path,
            inventory_path,
            limit,
            targets: Vec::new(),
            tags: Vec::new(),
            hosts,
            summary,
            changes,
            set: Default::default(),
            release_override: Default::default(),
            batches: Vec::new(),
        }
    }

    pub fn has_errors(&self) -> bool {
        self.hosts.iter().any(|h| h.error.is_some())
    }
}

/// SSH round trips made for a host, by purpose.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoundTrips {
    /// Gathering facts (0 when no template uses `facts`).
    pub facts: u64,
    /// Reading the state of every resource (1 per plan).
    pub probe: u64,
}

/// The plan of one host.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostPlan {
    pub host: String,
    pub transport: String,
    pub round_trips: RoundTrips,
    /// Set when the host could not be planned (unreachable, probe failed).
    pub error: Option<String>,
    /// Keyed digest (machine key) of the desired state of every resource,
    /// secrets included: a saved plan is refused if the configuration
    /// changed; without the key it reveals nothing.
    pub desired_hash: String,
    pub resources: Vec<ResourcePlan>,
    pub summary: Summary,
    /// What a `when:` left out of this host's graph (not removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The release recorded on the host and the one this run applies,
    /// when the stack declares `release:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<crate::release::ReleasePlan>,
}

impl HostPlan {
    /// Add this host's counts to a plan's totals, and whether it changes anything.
    pub fn add_to(&self, summary: &mut Summary, changes: &mut bool) {
        summary.add(&self.summary);
        *changes |=
            self.summary.changes() > 0 || self.release.as_ref().is_some_and(|r| r.changes());
    }
}

/// One resource in a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourcePlan {
    pub address: String,
    pub kind: String,
    pub name: String,
    pub module: Option<String>,
    pub action: Action,
    pub symbol: String,
    pub attributes: Vec<AttrChangeOut>,
    /// Unified diff of a file's content, or `(sensitive)`.
    pub diff: Option<String>,
    pub reason: Option<String>,
    /// Why the outcome cannot be known until earlier changes are applied.
    pub known_after_apply: Option<String>,
    pub sensitive: bool,
    pub depends_on: Vec<String>,
    /// Summaries of the commands apply will run.
    pub commands: Vec<String>,
    /// Keyed digest (machine key) of the probe output this plan was
    /// computed from.
    pub fingerprint: String,
    /// A probe that could not be read.
    pub error: Option<String>,
    /// Live state beside the declared state that apply leaves alone (UFW
    /// rules keel did not add): reported as drift by `keel drift`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttrChangeOut {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Counts of actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub run: usize,
    pub no_op: usize,
    pub errors: usize,
}

impl Summary {
    pub fn count(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Delete => self.delete += 1,
            Action::Run => self.run += 1,
            Action::NoOp => self.no_op += 1,
        }
    }
    pub fn add(&mut self, o: &Summary) {
        self.create += o.create;
        self.update += o.update;
        self.delete += o.delete;
        self.run += o.run;
        self.no_op += o.no_op;
        self.errors += o.errors;
    }
    pub fn changes(&self) -> usize {
        self.create + self.update + self.delete + self.run + self.errors
    }
}

/// Keyed digest of a probe's output (HMAC under the machine key, see
/// [`crate::keyed`]): probe output can hold secrets (a file's content, a
/// line), so a plain hash printed in a plan would be an offline oracle.
pub fn fingerprint(out: &ProbeOutput) -> Result<String, String> {
    crate::keyed::digest(
        "keel.plan.probe-fingerprint",
        &[out.stdout.as_bytes(), &out.status.to_le_bytes()],
    )
}

/// The desired state of a host as bytes: secrets included in clear, so it
/// is never printed, only keyed-hashed ([`desired_hash`]).
fn desired_material(res: &Resolved) -> Vec<u8> {
    let mut m = Vec::new();
    let mut part = |b: &[u8]| {
        m.extend_from_slice(&(b.len() as u64).to_le_bytes());
        m.extend_from_slice(b);
    };
    for i in &res.instances {
        part(i.address.as_bytes());
        part(i.desired.as_bytes());
        part(&(i.depends_on.len() as u64).to_le_bytes());
        for d in &i.depends_on {
            part(d.value.as_bytes());
        }
        part(&(i.notify.len() as u64).to_le_bytes());
        for n in &i.notify {
            part(n.value.as_bytes());
        }
    }
    m
}

/// Keyed digest of a host's desired state (secrets included): a saved plan
/// is refused if the configuration changed, and the printed value reveals
/// nothing about the secrets without the machine key.
pub fn desired_hash(res: &Resolved) -> Result<String, String> {
    crate::keyed::digest("keel.plan.desired-state", &[&desired_material(res)])
}

/// A unified diff of two texts (similar).
pub fn unified_diff(path: &str, before: Option<&str>, after: &str) -> String {
    let old = before.unwrap_or("");
    let diff = similar::TextDiff::from_lines(old, after);
    let from = if before.is_some() {
        format!("{path} (live)")
    } else {
        "/dev/null".into()
    };
    diff.unified_diff()
        .context_radius(3)
        .header(&from, &format!("{path} (planned)"))
        .to_string()
}

/// Masks, in text about one resource, the values rendered from a secret
/// (taint, see `resolve`) whatever their length, then every secret value
/// in any of its forms ([`Redactor`]).
pub struct Masker<'a> {
    pub redactor: &'a Redactor,
    pub tainted: &'a [Secret],
}

impl Masker<'_> {
    pub fn mask(&self, text: &str) -> String {
        if self.tainted.is_empty() {
            return self.redactor.redact(text);
        }
        let mut values: Vec<&str> = self
            .tainted
            .iter()
            .map(Secret::expose)
            .filter(|v| !v.is_empty())
            .collect();
        // A short value cannot be cut out of a text without garbling it:
        // the whole text is hidden.
        if values
            .iter()
            .any(|v| v.chars().count() < MIN_SECRET_LEN && text.contains(v))
        {
            return MASK.to_string();
        }
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for v in values {
            if out.contains(v) {
                out = out.replace(v, MASK);
            }
        }
        // Last, so that no value is cut into before it is found.
        hide_sizes(&self.redactor.redact(&out))
    }
}

/// `N bytes` / `1 byte` in text about a sensitive resource become
/// `sensitive size`: the size of what was rendered from a secret tells
/// the secret's length.
fn hide_sizes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" byte") {
        let (head, tail) = rest.split_at(at);
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let word = if tail[" byte".len()..].starts_with('s') {
            " bytes"
        } else {
            " byte"
        };
        let ends_word = !tail[word.len()..].starts_with(|c: char| c.is_alphanumeric());
        let starts_word = !head[..head.len() - digits]
            .ends_with(|c: char| c.is_alphanumeric() || c == '.' || c == '_');
        if digits > 0 && ends_word && starts_word {
            out.push_str(&head[..head.len() - digits]);
            out.push_str("sensitive size");
        } else {
            out.push_str(head);
            out.push_str(word);
        }
        rest = &tail[word.len()..];
    }
    out.push_str(rest);
    out
}

/// Build the plan of one resource from its evaluation.
#[allow(clippy::too_many_arguments)]
pub fn resource_plan(
    res: &Resolved,
    graph: &Graph,
    i: usize,
    eval: &Evaluation,
    fingerprint: String,
    first_changing_ancestor: Option<usize>,
    redactor: &Redactor,
) -> ResourcePlan {
    let inst = &res.instances[i];
    let r = &inst.resource;
    let diff = &eval.diff;
    let masker = Masker {
        redactor,
        tainted: &inst.tainted,
    };
    let mask = |v: &Option<String>| -> Option<String> { v.as_ref().map(|s| masker.mask(s)) };
    let attributes = diff
        .attrs
        .iter()
        .map(
            |AttrChange {
                 name,
                 before,
                 after,
             }| AttrChangeOut {
                name: name.clone(),
                before: mask(before),
                after: mask(after),
            },
        )
        .collect();
    let content = diff.content.as_ref().map(|c| {
        if inst.sensitive
            || redactor.touches(&c.after)
            || c.before.as_deref().is_some_and(|b| redactor.touches(b))
        {
            MASK.to_string()
        } else {
            unified_diff(&r.name(), c.before.as_deref(), &c.after)
        }
    });
    let changed_ancestor = first_changing_ancestor.map(|a| res.instances[a].address.as_str());
    let known_after_apply = match (&diff.unknown, changed_ancestor) {
        (Some(u), Some(a)) => Some(format!("{u}; {a} changes earlier in this run")),
        (Some(u), None) => Some(u.clone()),
        (None, Some(a)) if r.reads_other_state() => Some(format!(
            "its live state is read again after {a} changes earlier in this run"
        )),
        _ => None,
    };
    ResourcePlan {
        address: masker.mask(&inst.address),
        kind: r.kind().to_string(),
        name: masker.mask(&r.name()),
        module: inst.module.clone(),
        action: diff.action(),
        symbol: diff.action().symbol().to_string(),
        attributes,
        diff: content,
        reason: mask(&diff.reason),
        known_after_apply: mask(&known_after_apply),
        sensitive: inst.sensitive,
        depends_on: graph
            .dependencies(i)
            .into_iter()
            .map(|d| redactor.redact(&res.instances[d].address))
            .collect(),
        commands: eval
            .commands
            .iter()
            .map(|c| masker.mask(&c.summary))
            .collect(),
        fingerprint,
        error: mask(&diff.error),
        unmanaged: diff.unmanaged.iter().map(|u| masker.mask(u)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tainted_values_are_masked_whatever_their_length() {
        let redactor = Redactor::new(vec![Secret::new("hunter22")]);
        let tainted = [Secret::new("PIN_OK=yes-indeed"), Secret::new("7")];
        let m = Masker {
            redactor: &redactor,
            tainted: &tainted[..1],
        };
        assert_eq!(
            m.mask("line PIN_OK=yes-indeed here"),
            "line (sensitive) here"
        );
        assert_eq!(m.mask("pw HUNTER22"), "pw (sensitive)");
        assert_eq!(m.mask("mode 0644"), "mode 0644");
        // A short derived value cannot be cut out: the whole text goes.
        let m = Masker {
            redactor: &redactor,
            tainted: &tainted,
        };
        assert_eq!(m.mask("retries: 7"), MASK);
        assert_eq!(m.mask("retries: 3"), "retries: 3");
    }

    #[test]
    fn sizes_of_sensitive_resources_are_hidden() {
        let redactor = Redactor::new(vec![]);
        let tainted = [Secret::new("TOKEN=hunter2-long")];
        let m = Masker {
            redactor: &redactor,
            tainted: &tainted,
        };
        assert_eq!(
            m.mask("create /etc/env (25 bytes, mode 0600)"),
            "create /etc/env (sensitive size, mode 0600)"
        );
        assert_eq!(
            m.mask("1 byte, keyed digest ab → 12 bytes, keyed digest cd"),
            "sensitive size, keyed digest ab → sensitive size, keyed digest cd"
        );
        // Only a count of bytes: names and other numbers stay.
        for kept in [
            "/srv/v2 bytes",
            "read 3 bytesx",
            "x1 bytes",
            "bytes 4",
            "retry 3 times",
        ] {
            assert_eq!(m.mask(kept), kept);
        }
        // Not sensitive: sizes are shown.
        let m = Masker {
            redactor: &redactor,
            tainted: &[],
        };
        assert_eq!(m.mask("create /x (25 bytes)"), "create /x (25 bytes)");
    }
}
