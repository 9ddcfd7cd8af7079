//! The `docker` kind: the Docker engine installed from apt, its
//! `/etc/docker/daemon.json`, and the `docker` service running and enabled.
//!
//! ```yaml
//! - docker:
//!     source: debian          # debian: Debian's docker.io (+ docker-compose v1)
//!                             # docker: Docker's packages (declare the apt_repository first)
//!     daemon:                 # /etc/docker/daemon.json, written from this YAML
//!       log-driver: json-file
//!       log-opts: { max-size: 10m, max-file: "3" }
//!     running: true           # running and enabled (default); false: stopped and disabled
//!     compose: true           # also install Compose (default)
//! ```
//!
//! The address is always `docker[engine]`: a host has one engine.
//!
//! The probe reads the installed packages (`dpkg-query`), the engine's
//! version (`dockerd --version`, and the server's when it runs), the Compose
//! flavour and version (`docker compose` v2 or `docker-compose` v1),
//! `systemctl is-active/is-enabled docker`, and `daemon.json` base64-encoded.
//! The version is shown in the plan ("Docker 20.10.24, docker-compose
//! 1.29.2; running, enabled") and kept in the fact; a minimum version is a
//! job for the `require` kind (`commands: { docker: "20.10" }`, depending on
//! `docker[engine]`).
//!
//! `daemon.json` is compared semantically (JSON values, not bytes) and shown
//! and written pretty-printed with sorted keys, so the plan's diff is about
//! settings, not formatting. Its keys are checked at load time against the
//! options dockerd knows (the union of dockerd 20.10 to 28's flags and
//! configuration fields), with a "did you mean"; a few well-known types are
//! checked too (`log-opts` values must be strings, `mtu` a number...).
//!
//! A daemon.json that dockerd would refuse never stays in place: the new
//! file is written to a temporary file next to it and, when dockerd knows
//! `--validate` (23.0 and later), validated before it replaces the old one.
//! Debian 12's docker.io (20.10) cannot validate a file, so the old file is
//! kept as a backup, docker is restarted with the new one, and if it does
//! not come up the backup is put back, docker is restarted again and apply
//! fails with dockerd's own message from the journal.
//!
//! With `source: docker`, an `apt_repository` named `docker` is ordered
//! before the engine automatically (any other name: `depends_on` it).
//!
//! Installing with `source: debian` while Docker's `docker-ce` is installed
//! (or the other way round) is refused: apt would silently remove one
//! engine to install the other. Remove the other first (a `package` with
//! `state: absent`), deliberately.

use super::common::refuse;
use super::*;
use crate::shell::{self, Script, q};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod daemon_keys;
use daemon_keys::check_daemon;

/// Where dockerd reads its configuration.
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const DAEMON_BACKUP: &str = "/etc/docker/.daemon.json.keel-backup";

/// Where the engine's packages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Debian's (or Ubuntu's) `docker.io` and `docker-compose` (v1).
    #[default]
    Debian,
    /// Docker's own repository: `docker-ce`, `docker-ce-cli`,
    /// `containerd.io`, `docker-compose-plugin` (v2).
    Docker,
}

/// The Docker engine of a host.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Docker {
    #[serde(default)]
    pub source: Source,
    /// The content of /etc/docker/daemon.json, as YAML (rendered to JSON).
    /// Unset: the file is left alone.
    #[serde(default)]
    pub daemon: Option<Json>,
    /// Running and enabled (default), or stopped and disabled.
    #[serde(default = "yes")]
    pub running: bool,
    /// Also install Compose (`docker-compose` or `docker-compose-plugin`).
    #[serde(default = "yes")]
    pub compose: bool,
}

fn yes() -> bool {
    true
}

/// What is at /etc/docker/daemon.json.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DaemonJson {
    #[default]
    Absent,
    File(Vec<u8>),
    /// A directory, link or special file.
    NotAFile,
}

/// The live state of the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerFact {
    /// Installed packages among the ones this kind knows, with their version.
    pub installed: BTreeMap<String, String>,
    /// `dockerd --version`'s version (installed engine), e.g. `20.10.24+dfsg1`.
    pub dockerd_version: Option<String>,
    /// The running server's version (`docker version`), when it answers.
    pub server_version: Option<String>,
    /// `docker compose 2.20.2` or `docker-compose 1.29.2`.
    pub compose: Option<String>,
    /// `systemctl is-active docker` (`active`, `inactive`, `failed`, ...).
    pub active: String,
    /// `systemctl is-enabled docker` (empty when there is no unit).
    pub enabled: String,
    pub daemon_json: DaemonJson,
}

impl DockerFact {
    /// The engine's version: the running server's, else the installed one.
    pub fn engine_version(&self) -> Option<&str> {
        self.server_version
            .as_deref()
            .or(self.dockerd_version.as_deref())
    }
}

/// Every package the probe asks dpkg about.
const KNOWN_PACKAGES: &[&str] = &[
    "docker.io",
    "docker-compose",
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-compose-plugin",
];

impl Docker {
    /// The packages to install, in install order.
    pub fn packages(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = match self.source {
            Source::Debian => vec!["docker.io"],
            Source::Docker => vec!["docker-ce", "docker-ce-cli", "containerd.io"],
        };
        if self.compose {
            v.push(match self.source {
                Source::Debian => "docker-compose",
                Source::Docker => "docker-compose-plugin",
            });
        }
        v
    }

    /// The desired daemon.json text: pretty JSON, keys sorted, final newline.
    fn daemon_text(&self) -> Option<String> {
        self.daemon.as_ref().map(pretty)
    }

    /// The engine packages from the other source that are installed.
    fn conflicting(&self, fact: &DockerFact) -> Vec<&'static str> {
        let other: &[&'static str] = match self.source {
            Source::Debian => &["docker-ce", "docker-ce-cli", "containerd.io"],
            Source::Docker => &["docker.io"],
        };
        other
            .iter()
            .copied()
            .filter(|p| fact.installed.contains_key(*p))
            .collect()
    }

    /// Two engines: refuse rather than let apt swap them.
    fn conflict_refusal(&self, others: &[&str]) -> Planned {
        let (want, fix) = match self.source {
            Source::Debian => (
                "Debian's docker.io",
                "set `source: docker`, or remove them first with `package` resources (`state: absent`)",
            ),
            Source::Docker => (
                "Docker's docker-ce",
                "set `source: debian`, or remove docker.io first with a `package` resource (`state: absent`)",
            ),
        };
        let why = format!(
            "{} from the other source {} installed; installing {want} would make apt remove it; {fix}",
            others.join(", "),
            if others.len() == 1 { "is" } else { "are" }
        );
        refusal(&why)
    }

    /// What differs between the declared engine and the host; `Err` when
    /// daemon.json is not a file.
    fn changes(&self, fact: &DockerFact) -> Result<Changes, DaemonNotAFile> {
        let missing: Vec<&'static str> = self
            .packages()
            .into_iter()
            .filter(|p| !fact.installed.contains_key(*p))
            .collect();
        let installed = !missing
            .iter()
            .any(|p| *p == "docker.io" || *p == "docker-ce");
        Ok(Changes {
            daemon: self.daemon_change(fact)?,
            service: self.service_change(fact, installed),
            missing,
            installed,
        })
    }

    /// The daemon.json to write, when it differs semantically from the live one.
    fn daemon_change(&self, fact: &DockerFact) -> Result<Option<DaemonChange>, DaemonNotAFile> {
        let Some(after) = self.daemon_text() else {
            return Ok(None);
        };
        let (before, live_invalid) = match &fact.daemon_json {
            DaemonJson::NotAFile => return Err(DaemonNotAFile),
            DaemonJson::Absent => (None, false),
            DaemonJson::File(bytes) => match serde_json::from_slice::<Json>(bytes) {
                Ok(live) => {
                    let same = self
                        .daemon
                        .as_ref()
                        .is_some_and(|d| canonical(&live) == canonical(d));
                    if same {
                        return Ok(None);
                    }
                    (Some(pretty(&live)), false)
                }
                Err(_) => (String::from_utf8(bytes.clone()).ok(), true),
            },
        };
        Ok(Some(DaemonChange {
            before,
            after,
            live_invalid,
        }))
    }

    /// Whether the service must be started/enabled or stopped/disabled.
    fn service_change(&self, fact: &DockerFact, installed: bool) -> Option<ServiceChange> {
        let (is_running, is_enabled) = (fact.active == "active", fact.enabled == "enabled");
        let change = if self.running {
            ServiceChange {
                run: true,
                state: !is_running || !installed,
                enabled: !is_enabled || !installed,
            }
        } else if installed {
            ServiceChange {
                run: false,
                state: is_running,
                enabled: is_enabled,
            }
        } else {
            return None;
        };
        (change.state || change.enabled).then_some(change)
    }

    /// The diff shown for the changes.
    fn diff_for(&self, fact: &DockerFact, ch: &Changes) -> Diff {
        let mut diff = Diff::with_action(if ch.installed {
            Action::Update
        } else {
            Action::Create
        });
        for p in &ch.missing {
            diff.attrs.push(AttrChange::new(
                &format!("package {p}"),
                None::<String>,
                Some("(latest from apt)"),
            ));
        }
        let mut notes = Vec::new();
        if ch.installed {
            notes.push(self.describe(fact));
        }
        if let Some(d) = &ch.daemon {
            if d.live_invalid {
                notes.push(format!("the live {DAEMON_JSON} is not valid JSON"));
            }
            diff.content = Some(ContentChange {
                before: d.before.clone(),
                after: d.after.clone(),
            });
        }
        if let Some(s) = &ch.service {
            let (state, enabled) = if s.run {
                ("running", "true")
            } else {
                ("stopped", "false")
            };
            if s.state {
                diff.attrs.push(AttrChange::new(
                    "state",
                    ch.installed.then(|| state_label(&fact.active)),
                    Some(state),
                ));
            }
            if s.enabled {
                diff.attrs.push(AttrChange::new(
                    "enabled",
                    enabled_label(&fact.enabled).filter(|_| ch.installed),
                    Some(enabled),
                ));
            }
        }
        if !notes.is_empty() {
            diff.reason = Some(notes.join("; "));
        }
        diff
    }

    /// The commands that close the changes, in order: install, daemon.json,
    /// service state.
    fn commands_for(&self, ch: &Changes) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if !ch.missing.is_empty() {
            cmds.push(Cmd::new(
                format!("install {} (apt)", ch.missing.join(", ")),
                install_script(&ch.missing, self.source),
            ));
        }
        if let Some(d) = &ch.daemon {
            let restart = if self.running { ", restart docker" } else { "" };
            cmds.push(Cmd::new(
                format!("write {DAEMON_JSON} (validated){restart}"),
                daemon_script(d.after.as_bytes(), self.running),
            ));
        }
        match &ch.service {
            Some(s) if s.run => cmds.push(Cmd::new(
                "enable and start docker",
                Script::new(include_str!("docker/start.sh")).render(),
            )),
            Some(_) => cmds.push(Cmd::new(
                "stop and disable docker",
                Script::new(include_str!("docker/stop.sh")).render(),
            )),
            None => {}
        }
        cmds
    }

    /// "Docker 20.10.24, docker-compose 1.29.2; running, enabled".
    fn describe(&self, fact: &DockerFact) -> String {
        let mut s = match fact.engine_version() {
            Some(v) => format!("Docker {v}"),
            None => "Docker (version unknown)".into(),
        };
        if let Some(c) = &fact.compose {
            let _ = write!(s, ", {c}");
        }
        let state = match fact.active.as_str() {
            "active" => "running",
            "" | "inactive" => "stopped",
            other => other,
        };
        let _ = write!(s, "; {state}");
        match fact.enabled.as_str() {
            "" => {}
            "enabled" => s.push_str(", enabled"),
            other => {
                let _ = write!(s, ", {other}");
            }
        }
        s
    }
}

/// What differs between the declared engine and the host.
struct Changes {
    /// Packages to install, in install order.
    missing: Vec<&'static str>,
    /// The engine is installed (no engine package missing).
    installed: bool,
    daemon: Option<DaemonChange>,
    service: Option<ServiceChange>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.daemon.is_none() && self.service.is_none()
    }
}

/// daemon.json is a directory, link or special file: keel refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{DAEMON_JSON} is not a regular file; keel will not replace it")]
struct DaemonNotAFile;

/// daemon.json rewritten: the live text (pretty when it is JSON) and the new.
struct DaemonChange {
    before: Option<String>,
    after: String,
    live_invalid: bool,
}

/// The service to bring to running and enabled (`run`) or stopped and
/// disabled, with which of the two differs.
struct ServiceChange {
    run: bool,
    state: bool,
    enabled: bool,
}

/// `systemctl is-active` as the plan shows it.
fn state_label(active: &str) -> String {
    match active {
        "active" => "running".into(),
        "inactive" | "" => "stopped".into(),
        other => other.into(),
    }
}

/// `systemctl is-enabled` as the plan shows it (none without a unit).
fn enabled_label(enabled: &str) -> Option<String> {
    Some(match enabled {
        "" => return None,
        "enabled" => "true".into(),
        "disabled" => "false".into(),
        other => other.into(),
    })
}

/// A change whose command refuses, with the reason in the plan.
fn refusal(why: &str) -> Planned {
    refuse::refused_update(
        "docker[engine]",
        "refuse: docker engine conflict".into(),
        why,
    )
}

/// A JSON value with every object's keys sorted (whatever map type
/// serde_json was built with).
fn canonical(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let sorted: BTreeMap<&String, Json> =
                m.iter().map(|(k, v)| (k, canonical(v))).collect();
            Json::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Json::Array(a) => Json::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Pretty JSON with sorted keys and a final newline.
fn pretty(v: &Json) -> String {
    let mut s = serde_json::to_string_pretty(&canonical(v)).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// Install Docker's packages the way the package kind installs any.
fn install_script(pkgs: &[&str], source: Source) -> String {
    let args = pkgs.iter().map(|p| q(p)).collect::<Vec<_>>().join(" ");
    let hint = match source {
        Source::Debian => "keel: apt could not install Docker from the distribution's archive",
        Source::Docker => {
            "keel: apt could not install Docker's packages: declare Docker's apt repository (an `apt_repository` resource) and make docker[engine] depend on it"
        }
    };
    super::common::apt::apt_install_script(&format!("install {args}"), Some(hint))
}

/// Write daemon.json: validate it with dockerd when dockerd can (23.0+),
/// keep the old one, restart docker (when it is to run), and put the old
/// one back (and restart again) when docker does not start with the new.
fn daemon_script(data: &[u8], restart: bool) -> String {
    let mut s = String::new();
    let tmp = shell::TempFile::beside("keel_tmp", DAEMON_JSON);
    s.push_str("mkdir -p /etc/docker\n");
    s.push_str(&tmp.create());
    let _ = writeln!(s, "trap '{}' EXIT", tmp.remove());
    s.push_str(&tmp.fill(data));
    s.push_str(&tmp.set_perms(&shell::Perms {
        mode: Some("0644".into()),
        ..shell::Perms::default()
    }));
    s.push_str(
        &Script::new(include_str!("docker/daemon_json.sh"))
            .set("keel_target", DAEMON_JSON)
            .set("keel_backup", DAEMON_BACKUP)
            .flag("keel_restart", restart)
            .render(),
    );
    s
}

impl Kind for Docker {
    const KIND: &'static str = "docker";
    type Fact = DockerFact;

    fn name(&self) -> String {
        "engine".into()
    }

    fn check(&self) -> Vec<Invalid> {
        match &self.daemon {
            Some(d) => check_daemon(d),
            None => Vec::new(),
        }
    }

    fn links(&self) -> Links {
        let mut provides = vec![
            Ref::Service("docker".into()),
            Ref::Service("docker.service".into()),
        ];
        provides.extend(self.packages().into_iter().map(|p| Ref::Package(p.into())));
        if self.daemon.is_some() {
            provides.push(Ref::Path(DAEMON_JSON.into()));
        }
        // Docker's repository, when declared as `apt_repository: { name: docker }`.
        let needs = match self.source {
            Source::Docker => vec![Ref::Path(
                "/etc/apt/sources.list.d/keel-docker.sources".into(),
            )],
            Source::Debian => Vec::new(),
        };
        Links { provides, needs }
    }

    fn probe(&self) -> String {
        Script::new(include_str!("docker/probe.sh"))
            .set("keel_packages", KNOWN_PACKAGES.join(" "))
            .set("keel_daemon_json", DAEMON_JSON)
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<DockerFact, FactError> {
        out.check("the docker probe")?;
        let mut fact = DockerFact::default();
        for (k, v) in kv_lines(&out.stdout) {
            let v = v.trim();
            match k {
                "pkg" => {
                    let mut parts = v.splitn(3, '|');
                    let (Some(name), Some(abbrev), version) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        return Err(FactError::Unexpected(format!(
                            "unexpected dpkg-query line {v:?}"
                        )));
                    };
                    let a = abbrev.as_bytes();
                    let installed = a.len() >= 2
                        && matches!(a[1], b'i' | b'W' | b't')
                        && a.get(2) != Some(&b'R');
                    if installed {
                        fact.installed
                            .insert(name.to_string(), version.unwrap_or("").to_string());
                    }
                }
                "dockerd" => fact.dockerd_version = version_in(v),
                "server" => {
                    fact.server_version = Some(v.to_string()).filter(|s| !s.is_empty());
                }
                "compose" => {
                    let v = v.trim();
                    if v.rsplit(' ').next().is_some_and(|x| !x.is_empty()) {
                        fact.compose = Some(v.to_string());
                    }
                }
                "active" => fact.active = v.to_string(),
                "enabled" => fact.enabled = v.to_string(),
                "daemon_json" => {
                    fact.daemon_json = if v == "other" {
                        DaemonJson::NotAFile
                    } else {
                        DaemonJson::File(
                            shell::unbase64(v).map_err(|e| format!("daemon.json content: {e}"))?,
                        )
                    };
                }
                _ => {}
            }
        }
        Ok(fact)
    }

    fn plan(&self, fact: &DockerFact) -> Planned {
        let others = self.conflicting(fact);
        if !others.is_empty() {
            return self.conflict_refusal(&others);
        }
        let changes = match self.changes(fact) {
            Ok(c) => c,
            Err(e) => return refusal(&e.to_string()),
        };
        if changes.is_empty() {
            return Planned::only(Diff::noop().reason(self.describe(fact)));
        }
        Planned::new(self.diff_for(fact, &changes), self.commands_for(&changes))
    }

    fn notified(&self, _fact: &DockerFact, _diff: &Diff) -> Option<Vec<Cmd>> {
        if !self.running {
            return Some(Vec::new());
        }
        Some(vec![Cmd::new(
            "restart docker",
            "systemctl restart docker.service\n",
        )])
    }

    fn notifiable(&self) -> bool {
        true
    }
}

/// `Docker version 20.10.24+dfsg1, build 5d6db84` → `20.10.24+dfsg1`.
fn version_in(line: &str) -> Option<String> {
    let rest = line.split("version ").nth(1)?;
    let v = rest.split([',', ' ']).next()?.trim();
    (!v.is_empty()).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{a, attrs};
    use crate::resources::testing::{eval, load, run_local, try_load};

    const YAML: &str = "source: debian\ndaemon: { log-driver: json-file, log-opts: { max-size: 10m, max-file: \"3\" } }\n";

    fn installed(daemon_json: Option<&str>, active: &str, enabled: &str) -> String {
        let mut s = String::from(
            "pkg=docker.io|ii |20.10.24+dfsg1-1+deb12u1+b6\npkg=docker-compose|ii |1.29.2-3\n\
             dockerd=Docker version 20.10.24+dfsg1, build 5d6db84\n",
        );
        s.push_str(&format!("active={active}\nenabled={enabled}\n"));
        if active == "active" {
            s.push_str("server=20.10.24+dfsg1\n");
        }
        s.push_str("compose=docker-compose 1.29.2\n");
        if let Some(j) = daemon_json {
            s.push_str(&format!(
                "daemon_json={}\n",
                shell::base64(j.as_bytes()).replace('\n', "")
            ));
        }
        s
    }

    #[test]
    fn fresh_host_installs_configures_and_starts() {
        let e = eval("docker", YAML, "active=inactive\nenabled=\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("package docker.io", None, Some("(latest from apt)")),
                a("package docker-compose", None, Some("(latest from apt)")),
                a("state", None, Some("running")),
                a("enabled", None, Some("true")),
            ]
        );
        let c = e.diff.content.as_ref().unwrap();
        assert_eq!(c.before, None);
        assert_eq!(
            c.after,
            "{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-file\": \"3\",\n    \"max-size\": \"10m\"\n  }\n}\n"
        );
        let summaries: Vec<&str> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "install docker.io, docker-compose (apt)",
                "write /etc/docker/daemon.json (validated), restart docker",
                "enable and start docker",
            ]
        );
        assert!(
            e.commands[0]
                .script
                .contains("keel_apt install docker.io docker-compose")
        );
        assert!(
            e.commands[1]
                .script
                .contains("dockerd --validate --config-file")
        );
        assert!(
            e.commands[1]
                .script
                .contains("keel_backup=/etc/docker/.daemon.json.keel-backup\n")
        );
        assert!(
            e.commands[1]
                .script
                .contains("mv -f \"$keel_backup\" \"$keel_target\"")
        );
    }

    #[test]
    fn converged_is_noop_with_versions_and_semantic_json() {
        // Same settings, other order and formatting.
        let live = "{\"log-opts\":{\"max-size\":\"10m\",\"max-file\":\"3\"},\n \"log-driver\":\"json-file\"}";
        let e = eval("docker", YAML, &installed(Some(live), "active", "enabled"));
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("Docker 20.10.24+dfsg1, docker-compose 1.29.2; running, enabled")
        );
        assert!(e.commands.is_empty());
        // No daemon declared: the file is left alone.
        let e = eval(
            "docker",
            "{}",
            &installed(Some("not json"), "active", "enabled"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn daemon_drift_shows_sorted_pretty_diff_and_restarts() {
        let live = "{\"log-driver\":\"journald\",\"debug\":true}";
        let e = eval("docker", YAML, &installed(Some(live), "active", "enabled"));
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.attrs.is_empty());
        let c = e.diff.content.as_ref().unwrap();
        assert_eq!(
            c.before.as_deref(),
            Some("{\n  \"debug\": true,\n  \"log-driver\": \"journald\"\n}\n")
        );
        assert_eq!(e.commands.len(), 1);
        assert!(
            e.commands[0]
                .script
                .contains("systemctl restart docker.service")
        );
        // Invalid live JSON: shown raw, said so.
        let e = eval(
            "docker",
            YAML,
            &installed(Some("{oops"), "active", "enabled"),
        );
        assert_eq!(
            e.diff.content.as_ref().unwrap().before.as_deref(),
            Some("{oops")
        );
        assert!(e.diff.reason.as_deref().unwrap().contains("not valid JSON"));
    }

    #[test]
    fn stopped_and_disabled_drift() {
        let e = eval("docker", "{}", &installed(None, "inactive", "disabled"));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("state", Some("stopped"), Some("running")),
                a("enabled", Some("false"), Some("true")),
            ]
        );
        assert_eq!(e.commands[0].summary, "enable and start docker");
        let e = eval(
            "docker",
            "running: false",
            &installed(None, "active", "enabled"),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("state", Some("running"), Some("stopped")),
                a("enabled", Some("true"), Some("false")),
            ]
        );
        assert!(
            e.commands[0]
                .script
                .contains("systemctl disable docker.socket")
        );
        let e = eval(
            "docker",
            "running: false",
            &installed(None, "inactive", "disabled"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        // A crash loop is not running.
        let e = eval("docker", "{}", &installed(None, "activating", "enabled"));
        assert_eq!(
            attrs(&e.diff),
            vec![a("state", Some("activating"), Some("running"))]
        );
    }

    #[test]
    fn docker_source_packages_and_conflicts() {
        let e = eval("docker", "source: docker", "active=inactive\nenabled=\n");
        let names: Vec<String> = e.diff.attrs.iter().map(|a| a.name.clone()).collect();
        assert_eq!(
            names,
            vec![
                "package docker-ce",
                "package docker-ce-cli",
                "package containerd.io",
                "package docker-compose-plugin",
                "state",
                "enabled"
            ]
        );
        let e = eval(
            "docker",
            "source: docker\ncompose: false",
            "active=inactive\nenabled=\n",
        );
        assert!(!e.commands[0].script.contains("docker-compose-plugin"));
        // Debian's engine wanted, Docker's installed: refused.
        let e = eval(
            "docker",
            "source: debian",
            "pkg=docker-ce|ii |5:24.0.7-1~debian.12~bookworm\npkg=containerd.io|ii |1.6.24-1\nactive=active\nenabled=enabled\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert!(
            e.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("docker-ce, containerd.io from the other source are installed")
        );
        assert_eq!(e.commands.len(), 1);
        let out = run_local(&e.commands[0].script);
        assert_eq!(out.status, 1);
        assert!(out.stderr.contains("set `source: docker`"));
        // Partial install: only the missing package; the engine is there.
        let e = eval(
            "docker",
            "{}",
            "pkg=docker.io|ii |20.10.24\npkg=docker-compose|un |\nactive=active\nenabled=enabled\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("package docker-compose", None, Some("(latest from apt)"))]
        );
    }

    #[test]
    fn parse_odd_outputs() {
        let r = load("docker", "{}");
        assert!(r.evaluate(&ProbeOutput::ok("")).is_ok());
        let err = r
            .evaluate(&ProbeOutput {
                stdout: String::new(),
                stderr: "keel: systemd is not running".into(),
                status: 2,
            })
            .unwrap_err();
        assert!(err.contains("systemd"));
        assert!(r.evaluate(&ProbeOutput::ok("pkg=garbage\n")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("daemon_json=!!!\n")).is_err());
        let e = eval(
            "docker",
            YAML,
            "active=active\nenabled=enabled\npkg=docker.io|ii |1\npkg=docker-compose|ii |1\ndaemon_json=other\n",
        );
        assert!(
            e.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("not a regular file")
        );
        assert_eq!(
            version_in("Docker version 24.0.7, build afdd53b"),
            Some("24.0.7".into())
        );
        assert_eq!(version_in("garbage"), None);
        // An empty daemon.json file is "{}"-less: invalid JSON, rewritten.
        let e = eval(
            "docker",
            "daemon: {}",
            &installed(Some(""), "active", "enabled"),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content.as_ref().unwrap().after, "{}\n");
    }

    #[test]
    fn bad_daemon_settings_are_load_errors() {
        let err = try_load("docker", "daemon: { log-driverr: json-file }").unwrap_err();
        assert!(
            err.contains("`log-driverr` is not a dockerd setting"),
            "{err}"
        );
        let d: Docker = crate::node::Node::parse("daemon: { log-driverr: x }")
            .unwrap()
            .deserialize()
            .unwrap();
        let errs = Kind::check(&d);
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `log-driver`?"));
        let err = try_load("docker", "daemon: { log-opts: { max-file: 3 } }").unwrap_err();
        assert!(
            err.contains("log-opts `max-file` must be a string"),
            "{err}"
        );
        let err = try_load("docker", "daemon: { mtu: \"abc\" }").unwrap_err();
        assert!(err.contains("`mtu` must be an integer"), "{err}");
        let err = try_load("docker", "daemon: { live-restore: \"yes\" }").unwrap_err();
        assert!(err.contains("true or false"), "{err}");
        let err = try_load("docker", "daemon: { dns: 8.8.8.8 }").unwrap_err();
        assert!(err.contains("a list of strings"), "{err}");
        let err = try_load("docker", "daemon: [a]").unwrap_err();
        assert!(err.contains("expected a map"), "{err}");
        assert!(try_load("docker", "source: ubuntu").is_err());
        assert!(try_load("docker", "nonsense: 1").is_err());
        assert!(try_load("docker", "daemon: { mtu: 1450, registry-mirrors: [\"https://m.example\"], default-ulimits: { nofile: { Name: nofile, Hard: 64000, Soft: 64000 } } }").is_ok());
    }

    #[test]
    fn hostile_values_stay_inert_in_daemon_json() {
        let yaml =
            "daemon: { labels: [\"a'b\", \"$(touch /tmp/keel-pwned-docker)\", \"x;y\\nz\"] }";
        let e = eval("docker", yaml, &installed(None, "active", "enabled"));
        let want = e.diff.content.as_ref().unwrap().after.clone();
        // Run the write part against a scratch directory: the data lands verbatim.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("daemon.json");
        let script = e.commands[0]
            .script
            .replace("/etc/docker", dir.path().to_str().unwrap())
            .replace("systemctl", "true")
            .replace("journalctl", "true");
        let out = run_local(&script);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), want);
        assert!(!std::path::Path::new("/tmp/keel-pwned-docker").exists());
        let parsed: Json = serde_json::from_str(&want).unwrap();
        assert_eq!(parsed["labels"][1], "$(touch /tmp/keel-pwned-docker)");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp or backup left"
        );
    }

    #[test]
    fn failed_restart_restores_the_previous_file() {
        // Simulate: `systemctl restart` fails once (the new file), then works.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        std::fs::write(dir.path().join("daemon.json"), "{\"old\": true}\n").unwrap();
        let e = eval(
            "docker",
            "daemon: { storage-driver: nosuch }",
            &installed(Some("{\"old\": true}"), "active", "enabled"),
        );
        let fake = format!(
            "systemctl() {{ if [ \"$1\" = restart ]; then if [ -f {d}/failed-once ]; then return 0; fi; touch {d}/failed-once; return 1; fi; }}\njournalctl() {{ echo 'failed to start daemon: error initializing graphdriver: driver not supported'; }}\n"
        );
        let script = format!(
            "set -e\n{fake}{}",
            e.commands[0].script.replace("/etc/docker", d)
        );
        let out = run_local(&script);
        assert_eq!(out.status, 1);
        assert!(
            out.stderr.contains("driver not supported"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("the previous file was put back and docker runs again"),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("daemon.json")).unwrap(),
            "{\"old\": true}\n"
        );
        assert!(!dir.path().join(".daemon.json.keel-backup").exists());
    }

    #[test]
    fn install_failure_names_the_missing_repository() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("apt-get");
        std::fs::write(
            &fake,
            "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = update ] && exit 0; done\necho 'E: Unable to locate package docker-ce'\nexit 100\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Lists fetched just now.
        std::fs::create_dir_all(dir.path().join("lists")).unwrap();
        std::fs::write(dir.path().join("lists/x_Packages"), "").unwrap();
        let e = eval("docker", "source: docker", "active=inactive\nenabled=\n");
        let d = q(dir.path().to_str().unwrap());
        let script = format!(
            "set -e\nPATH={d}:$PATH\nKEEL_APT_STAMP={d}/stamp\nKEEL_APT_LISTS={d}/lists\n{}",
            e.commands[0].script
        );
        let out = run_local(&script);
        assert_eq!(out.status, 1);
        assert!(
            out.stderr.contains("Unable to locate package"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("declare Docker's apt repository"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn links_and_notify() {
        let r = load("docker", "{}");
        let l = r.links();
        assert!(l.provides.contains(&Ref::Service("docker".into())));
        assert!(l.provides.contains(&Ref::Package("docker.io".into())));
        assert!(r.notifiable());
        assert_eq!(r.name(), "engine");
        let l = load("docker", "source: docker").links();
        assert!(l.provides.contains(&Ref::Package("docker-ce".into())));
        assert_eq!(
            l.needs,
            vec![Ref::Path(
                "/etc/apt/sources.list.d/keel-docker.sources".into()
            )]
        );
    }
}
