//! The `require` kind: preflight checks on live facts, evaluated before
//! anything changes on a host (G2, G3).
//!
//! ```yaml
//! - require:
//!     name: platform             # label: address `require[platform]`
//!     cpus: 4                    # at least this many online CPUs
//!     memory_mb: 7600            # at least this much RAM (MemTotal)
//!     disk: { path: /, free_gb: 100 }
//!     os: ["debian >= 11", "ubuntu >= 20.04"]   # any of these
//!     commands:                  # minimum versions of installed commands
//!       docker: "20.10"
//!       docker compose: "2.0"
//!       git: "2.25"
//!       openssl: "1.1"
//! ```
//!
//! A host that fails a requirement is reported and left untouched: the plan
//! of that host is an error and nothing is applied. A requirement that
//! depends on resources changing in the same run (`depends_on: [docker[engine]]`
//! to check the Docker version it installs) is "known after apply": it is
//! checked again at apply time, just before its dependents, which it stops
//! when it fails.

use super::*;
use crate::shell::Script;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    #[serde(default = "root")]
    pub path: String,
    pub free_gb: u64,
}

fn root() -> String {
    "/".into()
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Require {
    #[serde(default = "default_name")]
    pub name: String,
    pub cpus: Option<u64>,
    pub memory_mb: Option<u64>,
    pub disk: Option<Disk>,
    #[serde(default)]
    pub os: Vec<String>,
    #[serde(default)]
    pub commands: BTreeMap<String, String>,
}

fn default_name() -> String {
    "preflight".into()
}

/// What the probe read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequireFact {
    pub cpus: Option<u64>,
    pub memory_mb: Option<u64>,
    pub disk_free_gb: Option<u64>,
    pub os_id: String,
    pub os_version: String,
    /// Command → its version, or `None` when not installed.
    pub commands: BTreeMap<String, Option<String>>,
}

/// How to ask a command for its version.
fn version_command(cmd: &str) -> String {
    match cmd {
        "docker" => {
            "docker version --format '{{.Server.Version}}' 2>/dev/null || docker --version".into()
        }
        "docker compose" => {
            "docker compose version --short 2>/dev/null || docker compose version".into()
        }
        "docker-compose" => {
            "docker-compose version --short 2>/dev/null || docker-compose --version".into()
        }
        "openssl" => "openssl version".into(),
        "nginx" => "nginx -v 2>&1".into(),
        "psql" | "postgres" => format!("{cmd} --version"),
        "kubectl" => "kubectl version --client 2>/dev/null".into(),
        "helm" => "helm version --short".into(),
        other => format!("{other} --version"),
    }
}

/// The first dotted number in a text (`Docker version 20.10.24+dfsg1` → 20.10.24).
pub fn extract_version(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let v = text[start..i].trim_end_matches('.');
            if v.contains('.') {
                return Some(v.to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Compare dotted versions numerically (`20.10` < `24.0.5`).
pub fn version_at_least(have: &str, want: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (h, w) = (parse(have), parse(want));
    for i in 0..h.len().max(w.len()) {
        let (a, b) = (
            h.get(i).copied().unwrap_or(0),
            w.get(i).copied().unwrap_or(0),
        );
        if a != b {
            return a > b;
        }
    }
    true
}

/// `debian >= 11` → ("debian", Some("11")); `ubuntu` → ("ubuntu", None).
fn parse_os(spec: &str) -> Option<(String, Option<String>)> {
    let mut parts = spec.split_whitespace();
    let id = parts.next()?.to_lowercase();
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Some((id, None)),
        (Some(">="), Some(v), None) if extract_version(&format!("{v}.0")).is_some() => {
            Some((id, Some(v.to_string())))
        }
        _ => None,
    }
}

impl Require {
    fn failures(&self, f: &RequireFact) -> (Vec<String>, Vec<String>) {
        let (mut bad, mut good) = (Vec::new(), Vec::new());
        let mut cmp = |what: &str, have: Option<u64>, want: Option<u64>, unit: &str| {
            if let Some(w) = want {
                match have {
                    Some(h) if h >= w => good.push(format!("{what} {h}{unit} ≥ {w}{unit}")),
                    Some(h) => bad.push(format!("{what}: {h}{unit}, at least {w}{unit} required")),
                    None => bad.push(format!("{what}: unknown, at least {w}{unit} required")),
                }
            }
        };
        cmp("cpus", f.cpus, self.cpus, "");
        cmp("memory", f.memory_mb, self.memory_mb, " MB");
        if let Some(d) = &self.disk {
            cmp(
                &format!("free disk on {}", d.path),
                f.disk_free_gb,
                Some(d.free_gb),
                " GB",
            );
        }
        if !self.os.is_empty() {
            let ok = self.os.iter().filter_map(|s| parse_os(s)).any(|(id, min)| {
                id == f.os_id && min.is_none_or(|m| version_at_least(&f.os_version, &m))
            });
            let os = format!("{} {}", f.os_id, f.os_version);
            if ok {
                good.push(format!("os {os}"));
            } else {
                bad.push(format!(
                    "os: {os}, one of [{}] required",
                    self.os.join(", ")
                ));
            }
        }
        for (cmd, want) in &self.commands {
            match f.commands.get(cmd).cloned().flatten() {
                Some(v) if version_at_least(&v, want) => good.push(format!("{cmd} {v} ≥ {want}")),
                Some(v) => bad.push(format!("{cmd}: {v}, at least {want} required")),
                None => bad.push(format!("{cmd}: not installed, {want}+ required")),
            }
        }
        (bad, good)
    }
}

impl Kind for Require {
    const KIND: &'static str = "require";
    type Fact = RequireFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        for (ix, s) in self.os.iter().enumerate() {
            if parse_os(s).is_none() {
                errs.push(
                    Invalid::field("os", format!("`{s}` is not an OS requirement"))
                        .at([ix.to_string()])
                        .help("write `ID` or `ID >= VERSION`, e.g. \"debian >= 11\", \"ubuntu >= 20.04\""),
                );
            }
        }
        for (cmd, want) in &self.commands {
            if cmd.is_empty()
                || !cmd
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c))
            {
                errs.push(
                    Invalid::field("commands", format!("`{cmd}` is not a command name"))
                        .at([cmd.as_str()]),
                );
            }
            if extract_version(&format!("{want}.0")).is_none() || want.contains(' ') {
                errs.push(
                    Invalid::field("commands", format!("`{want}` (for {cmd}) is not a version"))
                        .at([cmd.as_str()])
                        .help("write a dotted version, e.g. \"20.10\""),
                );
            }
        }
        if let Some(d) = &self.disk
            && let Some(e) = check_abs_path("disk", &d.path)
        {
            errs.push(e);
        }
        if self.cpus.is_none()
            && self.memory_mb.is_none()
            && self.disk.is_none()
            && self.os.is_empty()
            && self.commands.is_empty()
        {
            errs.push(
                Invalid::field("name", "a `require` with nothing to check")
                    .help("set at least one of `cpus`, `memory_mb`, `disk`, `os`, `commands`"),
            );
        }
        errs
    }

    fn probe(&self) -> String {
        let mut s = Script::new(include_str!("require/probe.sh")).render();
        if let Some(d) = &self.disk {
            let _ = writeln!(
                s,
                "printf 'disk_kb=%s\\n' \"$(df -Pk {} 2>/dev/null | awk 'NR==2 {{print $4}}')\"",
                crate::shell::q(&d.path)
            );
        }
        for (i, cmd) in self.commands.keys().enumerate() {
            let first = cmd.split_whitespace().next().unwrap_or(cmd);
            let _ = writeln!(
                s,
                "if command -v {first} >/dev/null 2>&1; then printf 'cmd{i}=%s\\n' \"$( ( {v} ) 2>&1 | head -n 1)\"; else echo 'cmd{i}=-'; fi",
                first = crate::shell::q(first),
                v = version_command(cmd)
            );
        }
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<RequireFact, FactError> {
        let t = &out.stdout;
        let num = |k: &str| kv(t, k).and_then(|v| v.trim().parse::<u64>().ok());
        let mut f = RequireFact {
            cpus: num("cpus"),
            memory_mb: num("mem_kb").map(|k| k / 1024),
            disk_free_gb: num("disk_kb").map(|k| k / (1024 * 1024)),
            os_id: kv(t, "os_id").unwrap_or("").to_string(),
            os_version: kv(t, "os_version").unwrap_or("").to_string(),
            commands: BTreeMap::new(),
        };
        for (i, cmd) in self.commands.keys().enumerate() {
            let v = kv(t, &format!("cmd{i}")).unwrap_or("-");
            f.commands.insert(
                cmd.clone(),
                if v == "-" { None } else { extract_version(v) },
            );
        }
        Ok(f)
    }

    /// Never a command: met requirements are a no-op with the evidence,
    /// unmet ones a plan error naming each shortfall.
    fn plan(&self, fact: &RequireFact) -> Planned {
        let (bad, good) = self.failures(fact);
        Planned::only(if bad.is_empty() {
            Diff::noop().reason(good.join(", "))
        } else {
            Diff {
                error: Some(format!("requirements not met: {}", bad.join("; "))),
                ..Diff::noop()
            }
        })
    }

    fn precondition(&self) -> bool {
        true
    }

    fn reads_other_state(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::testing::{eval, try_load};

    const OUT: &str = "cpus=2\nmem_kb=4030000\nos_id=debian\nos_version=12\ndisk_kb=52428800\ncmd0=Docker version 20.10.24+dfsg1, build 297e128\ncmd1=-\ncmd2=OpenSSL 3.0.15 3 Sep 2024 (Library: OpenSSL 3.0.15 3 Sep 2024)\n";

    #[test]
    fn satisfied_requirements_are_a_noop_with_the_evidence() {
        let e = eval(
            "require",
            "cpus: 2\nos: [\"debian >= 11\"]\ndisk: { free_gb: 40 }\ncommands: { docker: \"20.10\", git: \"2.25\", openssl: \"1.1\" }\n",
            "cpus=2\nmem_kb=4030000\nos_id=debian\nos_version=12\ndisk_kb=52428800\ncmd0=Docker version 20.10.24+dfsg1, build 297e128\ncmd1=git version 2.39.5\ncmd2=OpenSSL 3.0.15 3 Sep 2024\n",
        );
        assert_eq!(e.diff.error, None);
        let reason = e.diff.reason.unwrap();
        assert!(reason.contains("docker 20.10.24 ≥ 20.10"), "{reason}");
        assert!(reason.contains("os debian 12"), "{reason}");
        assert!(e.commands.is_empty());
    }

    #[test]
    fn unmet_requirements_name_each_shortfall() {
        let e = eval(
            "require",
            "cpus: 4\nmemory_mb: 7600\nos: [\"ubuntu >= 20.04\"]\ncommands: { docker: \"24.0\", git: \"2.25\", openssl: \"1.1\" }\n",
            OUT,
        );
        let err = e.diff.error.unwrap();
        for part in [
            "cpus: 2, at least 4 required",
            "memory: 3935 MB, at least 7600 MB required",
            "os: debian 12",
            "docker: 20.10.24, at least 24.0 required",
            "git: not installed",
        ] {
            assert!(err.contains(part), "{part} in {err}");
        }
        assert!(!err.contains("openssl"), "openssl 3.0 satisfies 1.1: {err}");
    }

    #[test]
    fn versions_compare_numerically() {
        use super::{extract_version, version_at_least};
        assert!(version_at_least("20.10.24", "20.10"));
        assert!(version_at_least("24.0", "20.10"));
        assert!(!version_at_least("2.9", "2.25"));
        assert!(version_at_least("2.39.5", "2.25"));
        assert_eq!(
            extract_version("Docker Compose version v2.20.2").as_deref(),
            Some("2.20.2")
        );
        assert_eq!(
            extract_version("nginx version: nginx/1.22.1").as_deref(),
            Some("1.22.1")
        );
    }

    #[test]
    fn bad_input_is_rejected_at_load() {
        assert!(
            try_load("require", "os: [\"debian > 11\"]\n")
                .unwrap_err()
                .contains("not an OS requirement")
        );
        assert!(
            try_load("require", "commands: { docker: \"new\" }\n")
                .unwrap_err()
                .contains("not a version")
        );
        assert!(
            try_load("require", "name: x\n")
                .unwrap_err()
                .contains("nothing to check")
        );
        assert!(
            try_load("require", "commands: { \"rm -rf;\": \"1.0\" }\n")
                .unwrap_err()
                .contains("not a command")
        );
    }

    #[test]
    fn probe_runs_read_only_here() {
        let r = crate::resources::testing::load(
            "require",
            "cpus: 1\ndisk: { path: /, free_gb: 0 }\ncommands: { sh: \"0.0\", nonexistent-cmd: \"1.0\" }\n",
        );
        let out = crate::resources::testing::run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        let e = r.evaluate(&out).unwrap();
        let err = e.diff.error.unwrap_or_default();
        assert!(err.contains("nonexistent-cmd: not installed"), "{err}");
    }
}
