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
//! a command that could never converge. Masked units are never unmasked.
//!
//! Every script first runs `systemctl daemon-reload` when systemd reports the
//! unit's file changed on disk (`NeedDaemonReload=yes`), so a unit file
//! written earlier in the run takes effect on the start or restart.

use super::common::apt::{check_package_name};
use super::*;
use crate::shell::q;
use std::fmt::Write as _;

/// A systemd unit (a `.service` unless the name says otherwise).
#[derive(Debug, Clone, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Running,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
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
    fn systemctl(&self, verbs: &[&str]) -> String {
        let unit = q(&self.unit());
        let mut s = format!(
            "if [ \"$(systemctl show -p NeedDaemonReload --value -- {unit} 2>/dev/null)\" = yes ]; then\n  systemctl daemon-reload\nfi\n"
        );
        for verb in verbs {
            let _ = writeln!(s, "systemctl {verb} -- {unit}");
        }
        s
    }
}

/// Check a systemd unit name: letters, digits and `:-_.\@`, at most 255
/// bytes, not starting with `-` or `.`.
fn check_unit_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b":-_.\\@".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a systemd unit name",
            name.escape_debug()
        ))
    }
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
            errs.push(Invalid::field("name", e).help(
                "write the unit's name as `systemctl` shows it, e.g. `nginx` or \
                 `nginx.service` (letters, digits and `:-_.\\@`)",
            ));
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
        format!(
            "if [ ! -d /run/systemd/system ]; then
  echo 'keel: systemd is not running on this host (no /run/systemd/system): the service kind needs systemd' >&2
  exit 2
fi
systemctl show -p Id -p LoadState -p ActiveState -p SubState -p UnitFileState -- {}
",
            q(&self.unit())
        )
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
        let diff = self.diff_of(fact);
        let commands = self.commands_for(fact, &diff);
        Planned::new(diff, commands)
    }

    fn notified(&self, fact: &ServiceFact, diff: &Diff) -> Option<Vec<Cmd>> {
        let unit = self.unit();
        if self.state == Some(ServiceState::Stopped) {
            return Some(Vec::new());
        }
        // This run starts it from stopped: it will read the new config anyway.
        // (Not when the unit did not exist: its package's install may start
        // it before the notifying change lands.)
        let starts = diff
            .attrs
            .iter()
            .any(|a| a.name == "state" && a.after.as_deref() == Some("running"));
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
            self.systemctl(&[verb]),
        )])
    }

    fn notifiable(&self) -> bool {
        true
    }
}

impl Service {
    fn diff_of(&self, fact: &ServiceFact) -> Diff {
        let unit = self.unit();
        if !fact.exists() {
            let mut d = Diff::default();
            if self.state == Some(ServiceState::Running) {
                d = d.attr("state", None::<String>, Some("running"));
            }
            if self.enabled == Some(true) {
                d = d.attr("enabled", None::<String>, Some("true"));
            }
            // Stopped / disabled are satisfied by a unit that does not exist;
            // but a package installed earlier in the run may bring (and
            // start) it, hence "unknown" either way.
            d.action = Some(if d.attrs.is_empty() {
                Action::NoOp
            } else {
                Action::Update
            });
            d.unknown = Some(format!(
                "unit {unit} does not exist yet (its package may be installed earlier in this run)"
            ));
            return d.reason(format!("unit {unit} does not exist"));
        }

        let mut d = Diff::default();
        let mut notes: Vec<String> = Vec::new();
        if let Some(want) = self.enabled {
            match fact.enablement() {
                Some(is) if is != want => {
                    d = d.attr("enabled", Some(is.to_string()), Some(want.to_string()));
                }
                Some(_) => {}
                None if fact.unit_file_state == "alias" => notes.push(format!(
                    "`enabled` left alone: {unit} is an alias of {}; declare that unit to manage it",
                    fact.id
                )),
                None if fact.unit_file_state.is_empty() => notes.push(format!(
                    "`enabled` left alone: {unit} has no unit file"
                )),
                None => notes.push(format!(
                    "`enabled` left alone: {unit} is {} and cannot be enabled or disabled",
                    fact.unit_file_state
                )),
            }
        }
        match self.state {
            Some(ServiceState::Running) if !fact.is_running() => {
                d = d.attr("state", Some(fact.state_label()), Some("running"));
            }
            Some(ServiceState::Stopped) if fact.is_running() => {
                d = d.attr("state", Some(fact.state_label()), Some("stopped"));
            }
            _ => {}
        }
        if fact.is_masked() && !d.attrs.is_empty() {
            notes.push(format!(
                "{unit} is masked: keel does not unmask units (run `systemctl unmask {unit}`)"
            ));
        }
        if d.attrs.is_empty() {
            d.action = Some(Action::NoOp);
            let mut now = vec![fact.state_label()];
            if !fact.unit_file_state.is_empty() {
                now.push(fact.unit_file_state.clone());
            }
            notes.insert(0, now.join(", "));
        } else {
            d.action = Some(Action::Update);
        }
        if !notes.is_empty() {
            d.reason = Some(notes.join("; "));
        }
        d
    }

    fn commands_for(&self, _fact: &ServiceFact, diff: &Diff) -> Vec<Cmd> {
        if !diff.action().is_change() {
            return Vec::new();
        }
        let unit = self.unit();
        let changes = |name: &str| diff.attrs.iter().any(|a| a.name == name);
        let mut verbs = Vec::new();
        if changes("enabled") {
            verbs.push(if self.enabled == Some(true) {
                "enable"
            } else {
                "disable"
            });
        }
        if changes("state") {
            verbs.push(match self.state {
                Some(ServiceState::Running) => "start",
                _ => "stop",
            });
        }
        verbs
            .iter()
            .map(|verb| Cmd::new(format!("{verb} {unit}"), self.systemctl(&[verb])))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::testing::assert_sh_syntax;
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};

    fn show(active: &str, sub: &str, file: &str) -> String {
        format!(
            "Id=nginx.service\nLoadState=loaded\nActiveState={active}\nSubState={sub}\nUnitFileState={file}\n"
        )
    }

    const NOT_FOUND: &str = "Id=nginx.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n";

    fn attrs(d: &Diff) -> Vec<(String, Option<String>, Option<String>)> {
        d.attrs
            .iter()
            .map(|a| (a.name.clone(), a.before.clone(), a.after.clone()))
            .collect()
    }

    fn a(
        name: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> (String, Option<String>, Option<String>) {
        (name.into(), before.map(Into::into), after.map(Into::into))
    }

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
        assert!(
            e.commands[0]
                .script
                .ends_with("systemctl enable -- nginx.service\n")
        );
        assert!(
            e.commands[1]
                .script
                .ends_with("systemctl start -- nginx.service\n")
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
        assert!(
            e.on_notify[0]
                .script
                .ends_with("systemctl reload-or-restart -- nginx.service\n")
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
        assert!(p.contains(&format!("-- {quoted}\n")), "{p}");
        assert_sh_syntax(&p);
        let e = r.evaluate(&ProbeOutput::ok(NOT_FOUND)).unwrap();
        assert!(
            e.commands[0]
                .script
                .contains(&format!("systemctl start -- {quoted}\n"))
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
