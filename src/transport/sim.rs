//! The simulated transport, for benchmarks only (`bench/scale.sh`): every
//! host of the inventory is answered in-process, from fixtures, so a plan
//! of 1,000 hosts measures keel's own load, resolve, graph, probe-parse
//! and report steps without 1,000 machines.
//!
//! It is never chosen by an inventory: only when the environment variable
//! [`ENV`] (`KEEL_SIMULATED_HOSTS`) is set, and then for every host. Its
//! value names the answers: `fresh` (built in, [`FRESH`]: what a fresh
//! Debian host answers — nothing managed exists yet) or the path of a file
//! in the same format. It answers only the read-only scripts of a plan —
//! the batched probe, the facts script and the ledger read — and refuses
//! anything else (an apply's commands) with exit status 97, so it cannot
//! pretend to change a host. Each host's transport describes itself as
//! `simulated`, which every plan output shows.
//!
//! Answers format: `@ NEEDLE` starts a rule; the lines after it, up to the
//! next rule, are printed by any probe whose script contains NEEDLE. Every
//! matching rule adds its lines, in the file's order (a file's owner check
//! and its type are separate rules). A probe no rule matches prints nothing
//! and exits 0. Lines starting with `#` are comments.

use super::{Counter, Output, Transport, TransportError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

/// The variable that turns every host into a simulated one.
pub const ENV: &str = "KEEL_SIMULATED_HOSTS";

/// The built-in answers of a fresh Debian host (`KEEL_SIMULATED_HOSTS=fresh`).
pub const FRESH: &str = include_str!("sim/fresh.txt");

/// The exit status of a script the simulated transport refuses.
pub const REFUSED: i32 = 97;

/// One rule: a probe containing `needle` prints `stdout`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    needle: String,
    stdout: String,
}

/// The answers of simulated hosts, parsed from the fixture format.
#[derive(Debug, Default)]
pub struct Answers {
    rules: Vec<Rule>,
    /// The answer given to each probe so far (every host of a benchmark
    /// sends the same probes: searching each for every needle again was a
    /// fifth of a plan's time), up to [`MEMO_BYTES`] of probes.
    memo: Mutex<Memo>,
}

/// Most bytes of probe text [`Answers`] remembers answers for: beyond,
/// probes are answered by searching them (memory stays bounded when every
/// host's probes differ).
const MEMO_BYTES: usize = 32 << 20;

#[derive(Debug, Default)]
struct Memo {
    answers: HashMap<String, Arc<str>, BuildHasherDefault<FastHash>>,
    bytes: usize,
}

/// A fast hash of probe texts for [`Memo`] (8 bytes a step; collisions
/// cost only time, as the map compares the texts).
#[derive(Default)]
struct FastHash(u64);

impl Hasher for FastHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ (bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
            h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

impl Answers {
    /// Parse the fixture format (see the module documentation).
    pub fn parse(text: &str) -> Result<Answers, String> {
        let mut rules: Vec<Rule> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(needle) = line.strip_prefix("@ ") {
                if needle.trim().is_empty() {
                    return Err(format!("line {}: a rule needs a needle after `@ `", n + 1));
                }
                rules.push(Rule {
                    needle: needle.to_string(),
                    stdout: String::new(),
                });
            } else if line.starts_with('#') {
            } else if let Some(rule) = rules.last_mut() {
                rule.stdout.push_str(line);
                rule.stdout.push('\n');
            } else if !line.trim().is_empty() {
                return Err(format!(
                    "line {}: expected a comment or `@ NEEDLE` before the first rule",
                    n + 1
                ));
            }
        }
        Ok(Answers {
            rules,
            memo: Mutex::default(),
        })
    }

    /// The stdout of one probe: every matching rule's lines, in order.
    fn search(&self, probe: &str) -> String {
        let mut out = String::new();
        for r in &self.rules {
            if probe.contains(&r.needle) {
                out.push_str(&r.stdout);
            }
        }
        out
    }

    /// Append the stdout of one probe to `out`: remembered, or searched
    /// (and remembered while the memo has room).
    fn answer(&self, probe: &str, out: &mut String) {
        let known = self
            .memo
            .lock()
            .ok()
            .and_then(|m| m.answers.get(probe).cloned());
        if let Some(a) = known {
            out.push_str(&a);
            return;
        }
        let a = self.search(probe);
        out.push_str(&a);
        if let Ok(mut memo) = self.memo.lock()
            && memo.bytes + probe.len() <= MEMO_BYTES
            && !memo.answers.contains_key(probe)
        {
            memo.bytes += probe.len();
            memo.answers.insert(probe.to_string(), a.into());
        }
    }

    /// How many probes have a remembered answer (tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.memo.lock().map_or(0, |m| m.answers.len())
    }

    /// Answer a batched probe script ([`crate::probe::batch_script`]) with
    /// the frames it would print. `None` when `script` is not one.
    fn answer_batch(&self, script: &str) -> Option<String> {
        let marker = script.lines().find_map(|l| l.strip_prefix("KEEL_M="))?;
        let marker = marker.trim_matches('\'');
        let mut out = String::new();
        let mut rest = script;
        let mut i = 0usize;
        let (mut begin, mut end) = (String::new(), String::new());
        loop {
            begin.clear();
            let _ = write!(begin, "keel_begin {i}\n(\n");
            let b = if rest.starts_with(&begin) {
                0
            } else {
                let Some(b) = rest.find(&begin) else { break };
                b
            };
            rest = &rest[b + begin.len()..];
            end.clear();
            let _ = write!(end, "\n) 2>\"$KEEL_ERR\" </dev/null\nkeel_end {i} $?\n");
            let e = rest.find(&end)?;
            let _ = writeln!(out, "{marker} BEGIN {i}");
            self.answer(&rest[..e], &mut out);
            let _ = write!(out, "\n{marker} END {i} 0\n\n{marker} ERREND {i}\n");
            rest = &rest[e + end.len()..];
            i += 1;
        }
        (i > 0).then_some(out)
    }
}

/// The answers named by [`ENV`], read once per process.
fn answers_from_env(value: &str) -> Result<Arc<Answers>, String> {
    static ANSWERS: OnceLock<Result<Arc<Answers>, String>> = OnceLock::new();
    ANSWERS
        .get_or_init(|| {
            let text = if value == "fresh" {
                FRESH.to_string()
            } else {
                std::fs::read_to_string(value).map_err(|e| {
                    format!("{ENV}={value}: cannot read the answers file ({e}); use `fresh` or a file's path")
                })?
            };
            Answers::parse(&text)
                .map(Arc::new)
                .map_err(|e| format!("{ENV}={value}: {e}"))
        })
        .clone()
}

/// When [`ENV`] is set: the simulated transport of `host` (or why not).
pub fn from_env(host: &str) -> Option<Result<Arc<dyn Transport>, TransportError>> {
    let value = std::env::var(ENV).ok().filter(|v| !v.is_empty())?;
    Some(
        answers_from_env(&value)
            .map(|a| Arc::new(Sim::new(host, a)) as Arc<dyn Transport>)
            .map_err(|message| TransportError::Connect {
                host: host.to_string(),
                message,
            }),
    )
}

/// A simulated host: answers a plan's read-only scripts from [`Answers`].
#[derive(Debug)]
pub struct Sim {
    host: String,
    answers: Arc<Answers>,
    counter: Counter,
}

impl Sim {
    pub fn new(host: &str, answers: Arc<Answers>) -> Sim {
        Sim {
            host: host.to_string(),
            answers,
            counter: Counter::default(),
        }
    }

    fn facts(&self) -> String {
        format!(
            "hostname={h}\nfqdn={h}\nos_id=debian\nos_like=\nos_version_id=12\nos_codename=bookworm\nos_pretty_name=Debian GNU/Linux 12 (bookworm)\narch=x86_64\nkernel=6.1.0-simulated\ncpus=2\nmemory_kb=2048000\nuser=root\n",
            h = self.host
        )
    }
}

/// Whether `script` is the ledger read of [`crate::ledger::read_script`].
fn is_ledger_read(script: &str) -> bool {
    script.starts_with("for f in ") && script.contains("/*.json; do [ -f \"$f\" ] || continue;")
}

#[async_trait]
impl Transport for Sim {
    async fn run(&self, script: &str) -> Result<Output, TransportError> {
        self.counter.bump();
        let ok = |stdout: String| Output {
            stdout: stdout.into_bytes(),
            stderr: Vec::new(),
            status: Some(0),
        };
        if script == crate::shell::Script::new(crate::probe::FACTS_SCRIPT).render() {
            return Ok(ok(self.facts()));
        }
        if is_ledger_read(script) {
            return Ok(ok(String::new()));
        }
        if let Some(out) = self.answers.answer_batch(script) {
            return Ok(ok(out));
        }
        Ok(Output {
            stdout: Vec::new(),
            stderr: format!(
                "keel: the simulated transport ({ENV}, for benchmarks only) answers a plan's probes, not this script"
            )
            .into_bytes(),
            status: Some(REFUSED),
        })
    }

    fn round_trips(&self) -> u64 {
        self.counter.get()
    }

    fn describe(&self) -> String {
        "simulated".into()
    }
}

#[cfg(test)]
mod tests;
