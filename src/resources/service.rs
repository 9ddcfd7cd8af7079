//! The `service` kind: a systemd unit running or stopped, enabled at boot or
//! not, and what to do when another resource notifies it.
//!
//! ```yaml
//! - service: { name: nginx, state: running, enabled: true, on_notify: reload }
//! ```
//!
//! The fact is `systemctl show -p Id -p LoadState -p ActiveState -p SubState
//! -p UnitFileState UNIT` (`key=value` lines). A unit that does not exist
//! (`LoadState=not-found`) is not an error: its package may be installed
//! earlier in the same run, so the plan says "known after apply" and still
//! plans the start/enable that were asked for.
//!
//! Only declared attributes are compared. `enabled` is left alone for units
//! whose enablement systemd does not let one toggle (`static`, `indirect`,
//! `generated`, `transient`, aliases): the plan says why instead of planning
//! a command that could never converge. Masked units are never unmasked:
//! enabling or starting one (which systemd refuses) is a plan error that
//! says to unmask it; stopping one is planned as usual.
//!
//! Every script first runs `systemctl daemon-reload` when systemd reports the
//! unit's file changed on disk (`NeedDaemonReload=yes`), so a unit file
//! written earlier in the run takes effect on the start or restart.
//!
//! Planning compares the declared attributes into typed `Changes`, from
//! which both the plan's attributes and the commands are built.

use super::common::apt::check_package_name;
use super::*;
use crate::shell::Script;

/// A systemd unit (a `.service` unless the name says otherwise).
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The unit: `nginx` means `nginx.service`; `foo.socket` is a socket.
    pub name: String,
    /// `running` or `stopped`; unset leaves it alone.
    #[serde(default)]
    pub state: Option<ServiceState>,
    /// Started at boot; unset leaves it alone.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// What a notification does: `restart` (default) or `reload`.
    #[serde(default)]
    pub on_notify: OnNotify,
    /// The package that ships the unit (default: the unit's name without its
    /// suffix), so the service comes after it in the graph.
    #[serde(default)]
    pub package: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Running,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnNotify {
    #[default]
    Restart,
    Reload,
}

/// The live state of a unit, as `systemctl show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceFact {
    /// The unit's real name (differs from the declared one for aliases).
    pub id: String,
    /// `loaded`, `not-found`, `masked`, `bad-setting`, `error`...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`...
    pub active_state: String,
    /// `running`, `dead`, `exited`, `auto-restart`...
    pub sub_state: String,
    /// `enabled`, `disabled`, `static`, `masked`, `alias`... (empty when
    /// the unit has no file).
    pub unit_file_state: String,
}

/// Unit types systemd knows by suffix; any other name gets `.service`.
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "device",
    "mount",
    "automount",
    "swap",
    "target",
    "path",
    "timer",
    "slice",
    "scope",
];

impl ServiceFact {
    pub fn exists(&self) -> bool {
        self.load_state != "not-found"
    }

    /// Running, or on its way up (but not a crash loop waiting to restart).
    pub fn is_running(&self) -> bool {
        matches!(
            self.active_state.as_str(),
            "active" | "reloading" | "refreshing" | "activating"
        ) && self.sub_state != "auto-restart"
    }

    /// The state as shown in plans.
    fn state_label(&self) -> String {
        match self.active_state.as_str() {
            "active" => "running".into(),
            "inactive" => "stopped".into(),
            "activating" if self.sub_state == "auto-restart" => "restarting after a failure".into(),
            other => other.into(),
        }
    }

    fn is_masked(&self) -> bool {
        self.load_state == "masked" || self.unit_file_state.starts_with("masked")
    }

    /// `Some(enabled)` when `systemctl enable/disable` can change it, `None`
    /// when the unit's enablement is not something one toggles.
    fn enablement(&self) -> Option<bool> {
        match self.unit_file_state.as_str() {
            "enabled" | "enabled-runtime" => Some(true),
            "disabled" | "linked" | "linked-runtime" | "masked" | "masked-runtime" => Some(false),
            _ => None,
        }
    }
}

impl Service {
    /// The full unit name: `nginx` → `nginx.service`.
    pub fn unit(&self) -> String {
        match self.name.rsplit_once('.') {
            Some((_, suffix)) if UNIT_TYPES.contains(&suffix) => self.name.clone(),
            _ => format!("{}.service", self.name),
        }
    }

    /// The package the unit comes from: declared, or guessed from its name
    /// (`php8.2-fpm` → `php8.2-fpm`, `getty@tty1` → `getty`); `None` when
    /// the name cannot be a package name.
    pub fn package_name(&self) -> Option<String> {
        if let Some(p) = &self.package {
            return Some(p.clone());
        }
        let unit = self.unit();
        let stem = unit.rsplit_once('.').map_or(unit.as_str(), |(s, _)| s);
        let stem = stem.split('@').next().unwrap_or(stem);
        check_package_name(stem).ok().map(|()| stem.to_string())
    }

    /// `systemctl VERB -- UNIT`, preceded by a daemon-reload when the unit
    /// file changed on disk.
    fn systemctl(&self, verb: &str) -> String {
        Script::new(include_str!("service/systemctl.sh"))
            .set("keel_unit", self.unit())
            .set("keel_verb", verb)
            .render()
    }
}

/// Check a systemd unit name: letters, digits and `:-_.\@`, at most 255
/// bytes, not starting with `-` or `.`.
fn check_unit_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":-_.\\@".contains(&c));
    if ok {
        return Ok(());
    }
    Err(Invalid::field(
        "name",
        format!("`{}` is not a systemd unit name", name.escape_debug()),
    )
    .help(
        "write the unit's name as `systemctl` shows it, e.g. `nginx` or \
         `nginx.service` (letters, digits and `:-_.\\@`)",
    ))
}

impl Kind for Service {
    const KIND: &'static str = "service";
    type Fact = ServiceFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if let Err(e) = check_unit_name(&self.name) {
            errs.push(e);
        }
        if let Some(p) = &self.package
            && let Err(e) = check_package_name(p)
        {
            errs.push(
                Invalid::field("package", e).help(
                    "the name of the Debian package that ships the unit, e.g. `openssh-server`",
                ),
            );
        }
        errs
    }

    fn touches(&self) -> Touches {
        Touches::default().service(&self.name)
    }

    fn links(&self) -> Links {
        let mut provides = vec![Ref::Service(self.name.clone())];
        let unit = self.unit();
        if let Some(short) = unit.strip_suffix(".service")
            && short != self.name
        {
            provides.push(Ref::Service(short.to_string()));
        }
        if unit != self.name {
            provides.push(Ref::Service(unit));
        }
        Links {
            provides,
            needs: self.package_name().map(Ref::Package).into_iter().collect(),
        }
    }

    fn probe(&self) -> String {
        Script::new(include_str!("service/probe.sh"))
            .set("keel_unit", self.unit())
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<ServiceFact, FactError> {
        out.check("systemctl show")?;
        let get = |k: &str| kv(&out.stdout, k).unwrap_or("").trim().to_string();
        let fact = ServiceFact {
            id: get("Id"),
            load_state: get("LoadState"),
            active_state: get("ActiveState"),
            sub_state: get("SubState"),
            unit_file_state: get("UnitFileState"),
        };
        if fact.load_state.is_empty() {
            return Err(FactError::Unexpected(format!(
                "unexpected `systemctl show` output (no LoadState): {:?}",
                out.stdout.trim()
            )));
        }
        Ok(fact)
    }

    fn plan(&self, fact: &ServiceFact) -> Planned {
        let changes = self.changes(fact);
        let mut diff = self.diff(fact, &changes);
        if fact.is_masked() && changes.needs_unmasked() {
            // systemctl refuses: "Unit file ... is masked".
            let unit = self.unit();
            diff.error = Some(format!(
                "{unit} is masked, so it cannot be enabled or started: run `systemctl unmask {unit}` on the host to let keel manage it, or declare it stopped and disabled"
            ));
            return Planned::only(diff);
        }
        Planned::new(diff, self.commands(&changes))
    }

    fn notified(&self, fact: &ServiceFact, _diff: &Diff) -> Option<Vec<Cmd>> {
        let unit = self.unit();
        if self.state == Some(ServiceState::Stopped) {
            return Some(Vec::new());
        }
        // This run starts it from stopped: it will read the new config anyway.
        // (Not when the unit did not exist: its package's install may start
        // it before the notifying change lands.)
        let starts = matches!(
            self.changes(fact).state,
            Some(Change {
                after: ServiceState::Running,
                ..
            })
        );
        if starts && fact.exists() {
            return Some(Vec::new());
        }
        // A service whose state is not declared is only restarted if it runs.
        let verb = match (self.on_notify, self.state) {
            (OnNotify::Restart, Some(ServiceState::Running)) => "restart",
            (OnNotify::Reload, Some(ServiceState::Running)) => "reload-or-restart",
            (OnNotify::Restart, _) => "try-restart",
            (OnNotify::Reload, _) => "try-reload-or-restart",
        };
        Some(vec![Cmd::new(
            format!("{verb} {unit}"),
            self.systemctl(verb),
        )])
    }

    fn notifiable(&self) -> bool {
        true
    }
}

/// One declared attribute that changes: what the plan shows before (`None`
/// when the unit does not exist yet) and the wanted value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change<T> {
    before: Option<String>,
    after: T,
}

/// What differs between the declared unit and the live one.
#[derive(Debug, Default, PartialEq, Eq)]
struct Changes {
    /// Enable (`true`) or disable the unit at boot.
    enabled: Option<Change<bool>>,
    /// Start or stop it.
    state: Option<Change<ServiceState>>,
    /// Why a declared attribute is left alone (an alias, a static unit, a
    /// masked unit).
    notes: Vec<String>,
}

impl Changes {
    fn any(&self) -> bool {
        self.enabled.is_some() || self.state.is_some()
    }

    /// Whether a change enables or starts the unit, which systemd refuses
    /// for a masked unit (stopping one works).
    fn needs_unmasked(&self) -> bool {
        self.enabled.as_ref().is_some_and(|e| e.after)
            || self
                .state
                .as_ref()
                .is_some_and(|s| s.after == ServiceState::Running)
    }
}

impl ServiceState {
    fn label(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Stopped => "stopped",
        }
    }
}

impl Service {
    /// Compare the declared attributes with the live unit.
    fn changes(&self, fact: &ServiceFact) -> Changes {
        if !fact.exists() {
            // Stopped / disabled are satisfied by a unit that does not exist.
            return Changes {
                enabled: (self.enabled == Some(true)).then_some(Change {
                    before: None,
                    after: true,
                }),
                state: (self.state == Some(ServiceState::Running)).then_some(Change {
                    before: None,
                    after: ServiceState::Running,
                }),
                notes: Vec::new(),
            };
        }
        let mut c = Changes::default();
        if let Some(want) = self.enabled {
            match fact.enablement() {
                Some(is) if is != want => {
                    c.enabled = Some(Change {
                        before: Some(is.to_string()),
                        after: want,
                    });
                }
                Some(_) => {}
                None => c.notes.push(self.enablement_note(fact)),
            }
        }
        c.state = match self.state {
            Some(want @ ServiceState::Running) if !fact.is_running() => Some(want),
            Some(want @ ServiceState::Stopped) if fact.is_running() => Some(want),
            _ => None,
        }
        .map(|after| Change {
            before: Some(fact.state_label()),
            after,
        });
        if fact.is_masked() && c.any() {
            let unit = self.unit();
            c.notes.push(format!(
                "{unit} is masked: keel does not unmask units (run `systemctl unmask {unit}`)"
            ));
        }
        c
    }

    /// Why `enabled` is left alone for a unit whose enablement systemd does
    /// not let one toggle.
    fn enablement_note(&self, fact: &ServiceFact) -> String {
        let unit = self.unit();
        match fact.unit_file_state.as_str() {
            "alias" => format!(
                "`enabled` left alone: {unit} is an alias of {}; declare that unit to manage it",
                fact.id
            ),
            "" => format!("`enabled` left alone: {unit} has no unit file"),
            other => {
                format!("`enabled` left alone: {unit} is {other} and cannot be enabled or disabled")
            }
        }
    }

    /// The plan's rendering of the changes.
    fn diff(&self, fact: &ServiceFact, c: &Changes) -> Diff {
        let mut d = Diff::with_action(if c.any() {
            Action::Update
        } else {
            Action::NoOp
        });
        let enabled = c
            .enabled
            .as_ref()
            .map(|e| AttrChange::new("enabled", e.before.clone(), Some(e.after.to_string())));
        let state = c
            .state
            .as_ref()
            .map(|st| AttrChange::new("state", st.before.clone(), Some(st.after.label())));
        // A unit that does not exist yet shows what it will do first.
        d.attrs = if fact.exists() {
            enabled.into_iter().chain(state).collect()
        } else {
            state.into_iter().chain(enabled).collect()
        };
        if !fact.exists() {
            // A package installed earlier in the run may bring (and start)
            // the unit, hence "unknown" either way.
            let unit = self.unit();
            d.unknown = Some(format!(
                "unit {unit} does not exist yet (its package may be installed earlier in this run)"
            ));
            return d.reason(format!("unit {unit} does not exist"));
        }
        let mut notes = c.notes.clone();
        if !c.any() {
            let mut now = vec![fact.state_label()];
            if !fact.unit_file_state.is_empty() {
                now.push(fact.unit_file_state.clone());
            }
            notes.insert(0, now.join(", "));
        }
        if !notes.is_empty() {
            d.reason = Some(notes.join("; "));
        }
        d
    }

    /// The commands that make the changes: enablement first, then state.
    fn commands(&self, c: &Changes) -> Vec<Cmd> {
        let unit = self.unit();
        let mut verbs = Vec::new();
        if let Some(e) = &c.enabled {
            verbs.push(if e.after { "enable" } else { "disable" });
        }
        if let Some(st) = &c.state {
            verbs.push(match st.after {
                ServiceState::Running => "start",
                ServiceState::Stopped => "stop",
            });
        }
        verbs
            .iter()
            .map(|verb| Cmd::new(format!("{verb} {unit}"), self.systemctl(verb)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax;
    use crate::resources::testing::{a, attrs};
    use crate::shell::q;

    /// Run a command's script with a `systemctl` that only logs its
    /// arguments; returns the log, one call a line.
    fn systemctl_calls(script: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("systemctl");
        let log = dir.path().join("log");
        std::fs::write(
            &bin,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\n",
                q(log.to_str().unwrap())
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = run_local(&format!(
            "PATH={}:\"$PATH\"\nset -e\n{script}",
            q(dir.path().to_str().unwrap())
        ));
        assert_eq!(out.status, 0, "{}", out.stderr);
        std::fs::read_to_string(&log).unwrap()
    }
    use crate::resources::testing::{eval, load, run_local, try_load};

    fn show(active: &str, sub: &str, file: &str) -> String {
        format!(
            "Id=nginx.service\nLoadState=loaded\nActiveState={active}\nSubState={sub}\nUnitFileState={file}\n"
        )
    }

    const NOT_FOUND: &str = "Id=nginx.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n";

    fn summaries(cmds: &[Cmd]) -> Vec<String> {
        cmds.iter().map(|c| c.summary.clone()).collect()
    }

    const FULL: &str = "{name: nginx, state: running, enabled: true}";

    #[test]
    fn running_and_enabled_is_noop() {
        let e = eval("service", FULL, &show("active", "running", "enabled"));
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("running, enabled"));
        assert!(e.commands.is_empty());
        // enabled-runtime counts as enabled; activating is on its way up
        let e = eval(
            "service",
            FULL,
            &show("activating", "start", "enabled-runtime"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn stopped_and_disabled_is_started_and_enabled() {
        let e = eval("service", FULL, &show("inactive", "dead", "disabled"));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("enabled", Some("false"), Some("true")),
                a("state", Some("stopped"), Some("running")),
            ]
        );
        assert_eq!(
            summaries(&e.commands),
            vec!["enable nginx.service", "start nginx.service"]
        );
        assert_eq!(
            systemctl_calls(&e.commands[0].script),
            "show -p NeedDaemonReload --value -- nginx.service\nenable -- nginx.service\n"
        );
        assert_eq!(
            systemctl_calls(&e.commands[1].script),
            "show -p NeedDaemonReload --value -- nginx.service\nstart -- nginx.service\n"
        );
        assert!(e.commands[1].script.contains("NeedDaemonReload"));
        for c in &e.commands {
            assert_sh_syntax(&c.script);
        }
    }

    #[test]
    fn failed_and_crash_looping_units_are_started() {
        let e = eval(
            "service",
            "{name: nginx, state: running}",
            &show("failed", "failed", "enabled"),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![a("state", Some("failed"), Some("running"))]
        );
        let e = eval(
            "service",
            "{name: nginx, state: running}",
            &show("activating", "auto-restart", "enabled"),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "state",
                Some("restarting after a failure"),
                Some("running")
            )]
        );
        // a failed unit is stopped
        let e = eval(
            "service",
            "{name: nginx, state: stopped}",
            &show("failed", "failed", "enabled"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("failed, enabled"));
    }

    #[test]
    fn running_is_stopped_and_disabled() {
        let e = eval(
            "service",
            "{name: nginx, state: stopped, enabled: false}",
            &show("active", "running", "enabled"),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("enabled", Some("true"), Some("false")),
                a("state", Some("running"), Some("stopped")),
            ]
        );
        assert_eq!(
            summaries(&e.commands),
            vec!["disable nginx.service", "stop nginx.service"]
        );
    }

    #[test]
    fn undeclared_attributes_are_left_alone() {
        let e = eval(
            "service",
            "{name: nginx, enabled: true}",
            &show("inactive", "dead", "enabled"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval(
            "service",
            "{name: nginx, state: running}",
            &show("active", "running", "disabled"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval(
            "service",
            "name: nginx",
            &show("inactive", "dead", "disabled"),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("stopped, disabled"));
    }

    #[test]
    fn missing_unit_is_known_after_apply() {
        let e = eval("service", FULL, NOT_FOUND);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("state", None, Some("running")),
                a("enabled", None, Some("true"))
            ]
        );
        assert_eq!(
            e.diff.unknown.as_deref(),
            Some(
                "unit nginx.service does not exist yet (its package may be installed earlier in this run)"
            )
        );
        assert_eq!(
            summaries(&e.commands),
            vec!["enable nginx.service", "start nginx.service"]
        );
        // its package may start it on install: a notification still restarts
        assert_eq!(summaries(&e.on_notify), vec!["restart nginx.service"]);

        // stopped/disabled are satisfied by a missing unit, but flagged
        let e = eval(
            "service",
            "{name: telnet, state: stopped, enabled: false}",
            NOT_FOUND,
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.unknown.is_some());
        assert!(e.commands.is_empty());
    }

    #[test]
    fn enablement_that_cannot_be_toggled_is_left_alone() {
        for (state, want) in [
            (
                "static",
                "nginx.service is static and cannot be enabled or disabled",
            ),
            ("indirect", "is indirect"),
            ("generated", "is generated"),
        ] {
            for enabled in ["true", "false"] {
                let e = eval(
                    "service",
                    &format!("{{name: nginx, enabled: {enabled}}}"),
                    &show("active", "running", state),
                );
                assert_eq!(e.diff.action(), Action::NoOp);
                let reason = e.diff.reason.unwrap();
                assert!(reason.contains(want), "{reason}");
            }
        }
        let out = "Id=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=alias\n";
        let e = eval("service", "{name: sshd, enabled: true}", out);
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.reason.unwrap().contains("alias of ssh.service"));
    }

    #[test]
    fn masked_units_are_not_unmasked() {
        let out = "Id=nginx.service\nLoadState=masked\nActiveState=inactive\nSubState=dead\nUnitFileState=masked\n";
        let e = eval("service", FULL, out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("enabled", Some("false"), Some("true")),
                a("state", Some("stopped"), Some("running")),
            ]
        );
        assert!(e.diff.reason.unwrap().contains("keel does not unmask"));
        assert!(e.commands.iter().all(|c| !c.script.contains("unmask")));
    }

    /// systemctl refuses to enable or start a masked unit: the plan fails
    /// up front and apply runs nothing; stopping one is planned as usual.
    #[test]
    fn enabling_or_starting_a_masked_unit_is_a_plan_error() {
        let masked = |active: &str, sub: &str| {
            format!("Id=nginx.service\nLoadState=masked\nActiveState={active}\nSubState={sub}\nUnitFileState=masked\n")
        };
        for yaml in [FULL, "{name: nginx, enabled: true}", "{name: nginx, state: running}"] {
            let e = eval("service", yaml, &masked("inactive", "dead"));
            assert!(e.commands.is_empty(), "{yaml}: runs nothing");
            let err = e.diff.error.unwrap_or_else(|| panic!("{yaml}: an error"));
            assert!(err.contains("systemctl unmask nginx.service"), "{err}");
        }
        let e = eval(
            "service",
            "{name: nginx, state: stopped, enabled: false}",
            &masked("active", "running"),
        );
        assert!(e.diff.error.is_none());
        assert_eq!(summaries(&e.commands), vec!["stop nginx.service"]);
    }

    #[test]
    fn notifications() {
        let running = show("active", "running", "enabled");
        let stopped = show("inactive", "dead", "enabled");
        let n = |yaml: &str, out: &str| summaries(&eval("service", yaml, out).on_notify);

        assert_eq!(n(FULL, &running), vec!["restart nginx.service"]);
        assert_eq!(
            n("{name: nginx, state: running, on_notify: reload}", &running),
            vec!["reload-or-restart nginx.service"]
        );
        // not declared running: only if it runs
        assert_eq!(
            n("name: nginx", &running),
            vec!["try-restart nginx.service"]
        );
        assert_eq!(
            n("{name: nginx, on_notify: reload}", &stopped),
            vec!["try-reload-or-restart nginx.service"]
        );
        // desired stopped: nothing
        assert!(n("{name: nginx, state: stopped}", &running).is_empty());
        // started by this run's own commands: nothing more
        assert!(n(FULL, &stopped).is_empty());

        let e = eval(
            "service",
            "{name: nginx, state: running, on_notify: reload}",
            &running,
        );
        assert_eq!(
            systemctl_calls(&e.on_notify[0].script),
            "show -p NeedDaemonReload --value -- nginx.service\nreload-or-restart -- nginx.service\n"
        );
        assert_sh_syntax(&e.on_notify[0].script);
        assert!(load("service", "name: nginx").notifiable());
    }

    #[test]
    fn unit_names_and_links() {
        let unit = |name: &str| {
            let r: Service = serde_json::from_value(serde_json::json!({"name": name})).unwrap();
            (r.unit(), r.package_name())
        };
        assert_eq!(
            unit("nginx"),
            ("nginx.service".into(), Some("nginx".into()))
        );
        assert_eq!(
            unit("nginx.service"),
            ("nginx.service".into(), Some("nginx".into()))
        );
        assert_eq!(
            unit("php8.2-fpm"),
            ("php8.2-fpm.service".into(), Some("php8.2-fpm".into()))
        );
        assert_eq!(
            unit("getty@tty1"),
            ("getty@tty1.service".into(), Some("getty".into()))
        );
        assert_eq!(
            unit("certbot.timer"),
            ("certbot.timer".into(), Some("certbot".into()))
        );
        assert_eq!(
            unit("NetworkManager"),
            ("NetworkManager.service".into(), None)
        );

        let r = load("service", "name: nginx");
        assert_eq!(
            r.links(),
            Links {
                provides: vec![
                    Ref::Service("nginx".into()),
                    Ref::Service("nginx.service".into())
                ],
                needs: vec![Ref::Package("nginx".into())],
            }
        );
        let r = load("service", "{name: ssh.service, package: openssh-server}");
        assert_eq!(
            r.links(),
            Links {
                provides: vec![
                    Ref::Service("ssh.service".into()),
                    Ref::Service("ssh".into())
                ],
                needs: vec![Ref::Package("openssh-server".into())],
            }
        );
    }

    #[test]
    fn validation() {
        for bad in [
            "nginx; reboot",
            "ngi nx",
            "$(reboot)",
            "-nginx",
            ".service",
            "",
            "a/b",
            "nginx\nreboot",
            "it's",
        ] {
            let yaml = format!("name: {}", serde_json::to_string(bad).unwrap());
            let err = try_load("service", &yaml)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(err.contains("not a systemd unit name"), "{bad:?}: {err}");
        }
        for good in [
            "nginx",
            "getty@tty1.service",
            "dev-disk-by\\x2duuid.swap",
            "user@1000",
            "php8.2-fpm",
        ] {
            try_load(
                "service",
                &format!("name: {}", serde_json::to_string(good).unwrap()),
            )
            .unwrap();
        }
        let err = try_load("service", "{name: ssh, package: \"Open SSH\"}").unwrap_err();
        assert!(err.contains("not a Debian package name"), "{err}");
        assert!(try_load("service", "{name: nginx, state: started}").is_err());
        assert!(try_load("service", "{name: nginx, on_notify: kill}").is_err());
        assert!(try_load("service", "{name: nginx, enabled: yes please}").is_err());
        assert!(try_load("service", "{name: nginx, daemon_reload: true}").is_err());
    }

    #[test]
    fn odd_unit_names_stay_quoted() {
        let r = load(
            "service",
            r#"{name: 'dev-disk-by\x2duuid.swap', state: running}"#,
        );
        let name = r"dev-disk-by\x2duuid.swap";
        let quoted = q(name);
        // the quoted word reads back as the literal name in sh
        assert_eq!(run_local(&format!("printf '%s' {quoted}")).stdout, name);
        let p = r.probe();
        assert!(p.contains(&format!("keel_unit={quoted}\n")), "{p}");
        assert_sh_syntax(&p);
        let e = r.evaluate(&ProbeOutput::ok(NOT_FOUND)).unwrap();
        assert_eq!(
            systemctl_calls(&e.commands[0].script),
            format!("show -p NeedDaemonReload --value -- {name}\nstart -- {name}\n")
        );
    }

    #[test]
    fn parse_errors() {
        let r = load("service", "name: nginx");
        let err = r
            .evaluate(&ProbeOutput {
                stdout: String::new(),
                stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\n".into(),
                status: 1,
            })
            .unwrap_err();
        assert!(err.contains("not been booted with systemd"));
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("garbage")).is_err());
        assert!(
            r.evaluate(&ProbeOutput {
                status: 3,
                ..ProbeOutput::default()
            })
            .unwrap_err()
            .contains("exit status 3")
        );
    }

    /// On this dev machine systemd is not PID 1: the probe must say so
    /// cleanly, not print something half-parsed.
    #[test]
    fn probe_runs_locally() {
        let r = load("service", "{name: nginx, state: running}");
        let out = run_local(&r.probe());
        if std::path::Path::new("/run/systemd/system").is_dir() {
            assert!(r.evaluate(&out).is_ok(), "{out:?}");
        } else {
            assert_eq!(out.status, 2);
            assert!(
                r.evaluate(&out)
                    .unwrap_err()
                    .contains("systemd is not running")
            );
        }
    }
}
