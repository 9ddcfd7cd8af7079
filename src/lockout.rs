//! Lockout analysis: prove, from the desired state and the way keel
//! connects to a host, that the host stays reachable after the apply — or
//! refuse with a diagnostic pointing at the setting that would cut access.
//!
//! keel connects, after this run, as the inventory's `user` on its `port`
//! (the `bootstrap_*` settings only serve the first run of a fresh server).
//! Refused, each at the setting that causes it:
//! - sshd moved to ports that do not include the one the inventory uses;
//! - UFW enabled with incoming deny/reject and no rule letting the SSH port
//!   in from everywhere; a UFW rule denying the SSH port from everywhere,
//!   enabled or not (UFW may be on already);
//! - `PermitRootLogin no` while keel connects as root;
//! - `AllowUsers`/`AllowGroups`/`DenyUsers` that shut out the connecting user;
//! - `PasswordAuthentication no` while the inventory logs in by password, or
//!   the connecting user is declared without an authorized key.
//!
//! - the SSH service stopped or disabled, or its package removed;
//! - the connecting user removed, given a shell that cannot log in, or left
//!   with no authorized key;
//! - shell text whose effect a revert cannot undo (`ip link set`, `ip route
//!   del`, `ifdown`): the diagnostic names the kind to use instead.
//!
//! sshd settings are read from the `sshd` kind, and also from a `file` or
//! `line` that writes sshd's configuration (`/etc/ssh/sshd_config`, its
//! `sshd_config.d/*.conf` drop-ins) when its text is known at plan time.
//!
//! `--allow-lockout-risk` (or `allow_lockout_risk: true` on a host) turns
//! the refusals into warnings. Whatever the analysis says, apply runs every
//! change that can cut access ([`exposure()`], decided from what a resource
//! touches) under commit-confirmed ([`crate::confirm`]).

mod exposure;
pub use exposure::{can_cut_access, exposure, unrevertable};

use crate::config::inventory::{Host, TransportKind};
use crate::diag::Diag;
use crate::node::{Node, Span};
use crate::resolve::{Instance, Resolved};
use crate::resources::command::Command;
use crate::resources::package::{Package, PackageState};
use crate::resources::service::{Service, ServiceState};
use crate::resources::sshd::Sshd;
use crate::resources::ufw::{Policy, Proto, Ufw};
use crate::resources::user::User;
use crate::resources::{Touches, Written};

/// What the analysis needs to know about one sshd setting.
fn setting<'a>(settings: &'a [(String, Vec<String>)], key: &str) -> Option<&'a Vec<String>> {
    settings
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The span of `settings.KEY` in an sshd resource (case-insensitive).
fn setting_span(inst: &Instance, key: &str) -> Span {
    inst.body
        .get("settings")
        .and_then(Node::as_map)
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| {
                    k.as_scalar_text()
                        .is_some_and(|t| t.eq_ignore_ascii_case(key))
                })
                .map(|(_, v)| v.span)
        })
        .unwrap_or(inst.span)
}

fn field_span(inst: &Instance, key: &str) -> Span {
    inst.body.get(key).map_or(inst.span, |n| n.span)
}

/// `user` matches an sshd pattern list entry (`*`, `?`, `user@host`).
fn pattern_matches(pattern: &str, user: &str) -> bool {
    let pat = pattern.split('@').next().unwrap_or(pattern);
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && m(p, &s[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let negated = pat.starts_with('!');
    let hit = m(pat.trim_start_matches('!').as_bytes(), user.as_bytes());
    hit && !negated
}

/// Analyze one host; returns refusals (errors, or warnings when allowed).
/// The steps follow the list above: sshd's settings, the firewall, the SSH
/// service and its package, the login account, unrevertable commands.
pub fn analyze(host: &Host, res: &Resolved, allow: bool) -> Vec<Diag> {
    if host.transport != TransportKind::Ssh {
        return Vec::new();
    }
    let mut a = Analysis::new(host, res, allow);
    let ssh_ports = a.sshd_settings();
    a.firewall(&ssh_ports);
    a.ssh_service();
    a.ssh_package();
    a.login_account();
    a.unrevertable_commands();
    a.out
}

/// The analysis of one host: how keel connects to it, its declared users,
/// and the refusals found so far.
struct Analysis<'a> {
    host: &'a Host,
    res: &'a Resolved,
    /// The user keel connects as.
    user: &'a str,
    allow: bool,
    /// The `user` resource of the connecting user, if declared.
    declared_user: Option<(&'a Instance, &'a User)>,
    /// Declared users with an authorized key and sudo.
    sudo_users: Vec<&'a str>,
    out: Vec<Diag>,
}

impl<'a> Analysis<'a> {
    fn new(host: &'a Host, res: &'a Resolved, allow: bool) -> Self {
        let users: Vec<(&Instance, &User)> = res
            .instances
            .iter()
            .filter_map(|i| i.resource.as_any().downcast_ref::<User>().map(|u| (i, u)))
            .collect();
        let user = host.user.as_str();
        let declared_user = users.iter().find(|(_, u)| u.name == user).copied();
        let sudo_users = users
            .iter()
            .filter(|(_, u)| {
                u.sudo == Some(true) && u.authorized_keys.as_ref().is_some_and(|k| !k.is_empty())
            })
            .map(|(_, u)| u.name.as_str())
            .collect();
        Analysis {
            host,
            res,
            user,
            allow,
            declared_user,
            sudo_users,
            out: Vec::new(),
        }
    }

    /// Refuse what `inst` declares at `span`.
    fn refuse(&mut self, inst: &Instance, span: Span, message: String, help: String) {
        let d = Diag::at(
            "keel::lockout",
            &inst.origin.source,
            span,
            format!("host {}: {message}", self.host.name),
            "would cut keel's access",
        )
        .with_help(format!(
            "{help}\n(if you know better: --allow-lockout-risk, or `allow_lockout_risk: true` on the host; apply still reverts a change that breaks access)"
        ));
        self.out.push(if self.allow { d.into_warning() } else { d });
    }

    /// Refuse the sshd setting `key` of `src`.
    fn refuse_setting(&mut self, src: &SshdSource<'_>, key: &str, message: String, help: String) {
        let span = src.span(src.inst, key);
        self.refuse(src.inst, span, message, format!("{help}{}", src.hint()));
    }

    /// Check every source of sshd settings; returns the ports sshd listens
    /// on after the run.
    fn sshd_settings(&mut self) -> Vec<u16> {
        let port = self.host.port.unwrap_or(22);
        let mut ssh_ports: Vec<u16> = vec![port];
        for src in &sshd_sources(self.res) {
            if let Some(ports) = self.sshd_port(src, port) {
                ssh_ports = ports;
            }
            self.root_login(src);
            self.allowed_users(src);
            self.allowed_groups(src);
            self.password_auth(src);
        }
        ssh_ports
    }

    /// `Port`: the ports it sets (if any), refused when they leave out the
    /// inventory's `port`.
    fn sshd_port(&mut self, src: &SshdSource<'_>, port: u16) -> Option<Vec<u16>> {
        let ports: Vec<u16> = setting(&src.settings, "Port")?
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect();
        if ports.is_empty() {
            return None;
        }
        if !ports.contains(&port) {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            self.refuse_setting(
                src,
                "Port",
                format!(
                    "sshd will listen on port {} but the inventory connects on port {port}",
                    list.join(", ")
                ),
                format!(
                    "set `port: {}` on the host in the inventory, with `bootstrap_port: {port}` while the server still listens there",
                    ports[0]
                ),
            );
        }
        Some(ports)
    }

    /// `PermitRootLogin no` while keel connects as root.
    fn root_login(&mut self, src: &SshdSource<'_>) {
        if self.user == "root"
            && let Some(v) = setting(&src.settings, "PermitRootLogin")
            && matches!(
                v.first().map(String::as_str),
                Some("no" | "forced-commands-only")
            )
        {
            let help = match self.sudo_users.first() {
                Some(u) => format!(
                    "connect as `{u}` instead (it has an authorized key and sudo): set `user: {u}` on the host, with `bootstrap_user: root` for the first run"
                ),
                None => "declare a user with `authorized_keys` and `sudo: true`, and connect as that user (`user:` in the inventory, `bootstrap_user: root` for the first run)".to_string(),
            };
            self.refuse_setting(
                src,
                "PermitRootLogin",
                "`PermitRootLogin no` while keel connects as root".into(),
                help,
            );
        }
    }

    /// `AllowUsers` without the connecting user, `DenyUsers` with it.
    fn allowed_users(&mut self, src: &SshdSource<'_>) {
        let user = self.user;
        if let Some(allowed) = setting(&src.settings, "AllowUsers")
            && !allowed.iter().any(|p| pattern_matches(p, user))
        {
            self.refuse_setting(
                src,
                "AllowUsers",
                format!(
                    "`AllowUsers {}` does not include `{user}`, the user keel connects as",
                    allowed.join(" ")
                ),
                format!("add `{user}` to AllowUsers, or connect as one of the allowed users"),
            );
        }
        if let Some(denied) = setting(&src.settings, "DenyUsers")
            && denied.iter().any(|p| pattern_matches(p, user))
        {
            self.refuse_setting(
                src,
                "DenyUsers",
                format!("`DenyUsers` shuts out `{user}`, the user keel connects as"),
                format!("remove `{user}` from DenyUsers"),
            );
        }
    }

    /// `AllowGroups` without a group of the connecting user.
    fn allowed_groups(&mut self, src: &SshdSource<'_>) {
        let user = self.user;
        let Some(groups) = setting(&src.settings, "AllowGroups") else {
            return;
        };
        let member_of: Vec<String> = match self.declared_user {
            Some((_, u)) => u
                .group
                .iter()
                .cloned()
                .chain(u.groups.iter().flatten().cloned())
                .chain(std::iter::once(u.name.clone()))
                .collect(),
            None if user == "root" => vec!["root".into()],
            None => Vec::new(),
        };
        if !groups
            .iter()
            .any(|g| member_of.iter().any(|m| pattern_matches(g, m)))
        {
            self.refuse_setting(
                src,
                "AllowGroups",
                format!(
                    "`AllowGroups {}` does not include a group of `{user}`, the user keel connects as",
                    groups.join(" ")
                ),
                format!(
                    "declare `user: {{ name: {user}, groups: [...] }}` with one of these groups, or add its group to AllowGroups"
                ),
            );
        }
    }

    /// `PasswordAuthentication no` while the connecting user logs in with a
    /// password (or is declared without a key).
    fn password_auth(&mut self, src: &SshdSource<'_>) {
        let user = self.user;
        if let Some(v) = setting(&src.settings, "PasswordAuthentication")
            && v.first().map(String::as_str) == Some("no")
        {
            let no_key = self
                .declared_user
                .is_some_and(|(_, u)| u.authorized_keys.as_ref().is_none_or(|k| k.is_empty()));
            if self.host.password_auth || no_key {
                self.refuse_setting(
                    src,
                    "PasswordAuthentication",
                    format!("`PasswordAuthentication no` while `{user}` logs in with a password"),
                    format!(
                        "give `{user}` an authorized key (`authorized_keys:` on its user resource) and connect with it first"
                    ),
                );
            }
        }
    }

    /// The firewall must let every SSH port in, from everywhere.
    fn firewall(&mut self, ssh_ports: &[u16]) {
        let res = self.res;
        let ufws = res
            .instances
            .iter()
            .filter_map(|i| i.resource.as_any().downcast_ref::<Ufw>().map(|u| (i, u)));
        for (inst, ufw) in ufws {
            // A rule that shuts SSH out shuts it out whenever UFW is on:
            // already, or later, whatever this stack says of `enabled`.
            for p in ssh_ports {
                if ufw.admits_inbound(*p, Proto::Tcp) == Some(false) {
                    self.refuse(
                        inst,
                        field_span(inst, "rules"),
                        format!(
                            "a rule denies SSH on {p}/tcp from everywhere: with UFW active (now or once enabled) no new login gets in"
                        ),
                        format!(
                            "remove that rule, or put `- {{ allow: {p}/tcp }}` before it (the first rule that matches decides)"
                        ),
                    );
                }
            }
            let will_filter = ufw.enabled() == Some(true)
                && !matches!(ufw.default_incoming(), Some(Policy::Allow));
            if !will_filter {
                continue;
            }
            for p in ssh_ports {
                if ufw.admits_inbound(*p, Proto::Tcp) == Some(false) {
                    continue;
                }
                if ufw.admits_inbound(*p, Proto::Tcp) != Some(true) {
                    self.refuse(
                        inst,
                        if ufw.manages_rules() {
                            field_span(inst, "rules")
                        } else {
                            field_span(inst, "enabled")
                        },
                        format!(
                            "UFW will be enabled with incoming {} but no rule lets SSH in on {p}/tcp from everywhere",
                            ufw.default_incoming()
                                .map_or("deny (ufw's default)", |d| d.as_str())
                        ),
                        format!(
                            "add `- {{ allow: {p}/tcp }}` to the rules (keel adds rules before it enables the firewall)"
                        ),
                    );
                }
            }
        }
    }

    /// The SSH server must keep running.
    fn ssh_service(&mut self) {
        for inst in &self.res.instances {
            let Some(svc) = inst.resource.as_any().downcast_ref::<Service>() else {
                continue;
            };
            if !matches!(
                svc.name.strip_suffix(".service").unwrap_or(&svc.name),
                "ssh" | "sshd"
            ) {
                continue;
            }
            if svc.state == Some(ServiceState::Stopped) {
                self.refuse(
                    inst,
                    field_span(inst, "state"),
                    format!(
                        "service {} is stopped while keel connects over SSH",
                        svc.name
                    ),
                    "leave the SSH server running (remove `state: stopped`)".into(),
                );
            }
            if svc.enabled == Some(false) {
                self.refuse(
                    inst,
                    field_span(inst, "enabled"),
                    format!(
                        "service {} is disabled: after a reboot nothing listens for SSH",
                        svc.name
                    ),
                    "remove `enabled: false`".into(),
                );
            }
        }
    }

    /// The SSH server's package must stay installed.
    fn ssh_package(&mut self) {
        for inst in &self.res.instances {
            let Some(pkg) = inst.resource.as_any().downcast_ref::<Package>() else {
                continue;
            };
            let name = pkg.name.split(':').next().unwrap_or(&pkg.name);
            if pkg.state == PackageState::Absent && name == "openssh-server" {
                self.refuse(
                    inst,
                    field_span(inst, "state"),
                    format!(
                        "removes package {}, the SSH server keel connects through",
                        pkg.name
                    ),
                    "keep openssh-server installed".into(),
                );
            }
        }
    }

    /// The account keel logs in as must stay able to log in.
    fn login_account(&mut self) {
        let user = self.user;
        let Some((inst, u)) = self.declared_user else {
            return;
        };
        if u.state == crate::resources::common::State::Absent {
            self.refuse(
                inst,
                field_span(inst, "state"),
                format!("removes `{user}`, the user keel connects as"),
                "connect as another user first (`user:` in the inventory)".into(),
            );
        } else if let Some(shell) = u
            .shell
            .as_deref()
            .filter(|s| matches!(s.rsplit('/').next(), Some("nologin" | "false")))
        {
            self.refuse(
                inst,
                field_span(inst, "shell"),
                format!(
                    "gives `{user}`, the user keel connects as, the shell {shell}, which cannot run commands"
                ),
                "give it a login shell such as /bin/bash, or connect as another user".into(),
            );
        } else if u.authorized_keys.as_ref().is_some_and(Vec::is_empty) && !self.host.password_auth
        {
            self.refuse(
                inst,
                field_span(inst, "authorized_keys"),
                format!(
                    "removes every authorized key of `{user}`, the user keel connects with by key"
                ),
                format!("keep the key keel logs in with in `authorized_keys` of `{user}`"),
            );
        } else if u.sudo == Some(false) && self.host.become_root && user != "root" {
            // keel's own rule may be the only one: without it, neither keel
            // nor this user becomes root again (the revert needs root too).
            self.refuse(
                inst,
                field_span(inst, "sudo"),
                format!(
                    "removes the sudo rule of `{user}`, the user keel connects as and becomes root with"
                ),
                format!(
                    "keep `sudo: true` on `{user}` (or leave `sudo` out), or connect as another user with sudo first"
                ),
            );
        }
    }

    /// Shell text whose effect no revert can undo.
    fn unrevertable_commands(&mut self) {
        for inst in &self.res.instances {
            let Some(cmd) = inst.resource.as_any().downcast_ref::<Command>() else {
                continue;
            };
            if let Some(why) = unrevertable(&cmd.run) {
                self.refuse(
                    inst,
                    field_span(inst, "run"),
                    format!("the command {why}: keel cannot revert that if it cuts access"),
                    "declare the network configuration as files instead: a `file` under /etc/network/interfaces.d/ (or /etc/systemd/network/) with `notify:` on `service[networking]` (or systemd-networkd); keel applies those under commit-confirmed and restores them if access is lost".into(),
                );
            }
        }
    }
}

/// sshd settings declared somewhere in the stack.
struct SshdSource<'a> {
    inst: &'a Instance,
    settings: Vec<(String, Vec<String>)>,
    /// The `sshd` kind (point at `settings.KEY`); otherwise a file or line
    /// whose text is read (point at this field).
    field: Option<&'static str>,
}

impl SshdSource<'_> {
    fn span(&self, inst: &Instance, key: &str) -> Span {
        match self.field {
            None => setting_span(inst, key),
            Some(f) => field_span(inst, f),
        }
    }
    /// For settings written as plain text: the kind made for them.
    fn hint(&self) -> &'static str {
        match self.field {
            None => "",
            Some(_) => {
                "\n(the `sshd` kind manages these settings with a validated drop-in: `- sshd: { settings: { ... } }`)"
            }
        }
    }
}

/// A file sshd reads its configuration from.
fn is_sshd_config(path: &str) -> bool {
    path == crate::resources::sshd::MAIN_CONFIG
        || path
            .strip_prefix("/etc/ssh/sshd_config.d/")
            .is_some_and(|f| !f.contains('/') && f.ends_with(".conf"))
}

/// Every place that declares sshd settings: the `sshd` kind, and the text a
/// `file` or `line` writes into sshd's configuration. Text rendered from a
/// secret is not read (it would show in the diagnostic).
fn sshd_sources(res: &Resolved) -> Vec<SshdSource<'_>> {
    let mut out = Vec::new();
    for inst in &res.instances {
        if let Some(sshd) = inst.resource.as_any().downcast_ref::<Sshd>() {
            out.push(SshdSource {
                inst,
                settings: sshd.desired_settings(),
                field: None,
            });
            continue;
        }
        if inst.sensitive {
            continue;
        }
        let touches: Touches = inst.resource.touches();
        for p in touches.paths.iter().filter(|p| is_sshd_config(&p.path)) {
            let (text, field) = match &p.written {
                Written::Whole(t) => (
                    t.as_str(),
                    ["content", "template", "source"]
                        .into_iter()
                        .find(|f| inst.body.get(f).is_some())
                        .unwrap_or("path"),
                ),
                Written::Line(l) => (l.as_str(), "line"),
                Written::Unknown => continue,
            };
            let settings = sshd_settings_of(text);
            if !settings.is_empty() {
                out.push(SshdSource {
                    inst,
                    settings,
                    field: Some(field),
                });
            }
        }
    }
    out
}

/// Settings of sshd_config text, before any `Match` block. As in sshd, the
/// first value of a keyword wins, except for keywords that add up
/// (`Port`, `ListenAddress`, `AllowUsers`, ...).
pub fn sshd_settings_of(text: &str) -> Vec<(String, Vec<String>)> {
    const ADDITIVE: &[&str] = &[
        "port",
        "listenaddress",
        "allowusers",
        "allowgroups",
        "denyusers",
        "denygroups",
    ];
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (key, rest) = l
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or((l, ""));
        if key.eq_ignore_ascii_case("Match") {
            break;
        }
        let values: Vec<String> = rest
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .split_whitespace()
            .map(|v| v.trim_matches('"').to_string())
            .collect();
        match out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some((_, v)) if ADDITIVE.contains(&key.to_ascii_lowercase().as_str()) => {
                v.extend(values)
            }
            Some(_) => {}
            None => out.push((key.to_string(), values)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_sshd_config, pattern_matches, sshd_settings_of};

    #[test]
    fn sshd_text_is_read_like_sshd() {
        let s = sshd_settings_of(
            "# comment\nPort 2222\nport=2223\nPermitRootLogin no\nPermitRootLogin yes\nAllowUsers a b\nMatch User x\n  PasswordAuthentication yes\n",
        );
        assert_eq!(
            s,
            vec![
                (
                    "Port".to_string(),
                    vec!["2222".to_string(), "2223".to_string()]
                ),
                ("PermitRootLogin".to_string(), vec!["no".to_string()]),
                (
                    "AllowUsers".to_string(),
                    vec!["a".to_string(), "b".to_string()]
                ),
            ]
        );
        assert!(is_sshd_config("/etc/ssh/sshd_config"));
        assert!(is_sshd_config("/etc/ssh/sshd_config.d/10-x.conf"));
        assert!(!is_sshd_config("/etc/ssh/sshd_config.d/10-x.txt"));
        assert!(!is_sshd_config("/etc/ssh/ssh_config"));
    }

    #[test]
    fn sshd_patterns() {
        assert!(pattern_matches("deploy", "deploy"));
        assert!(pattern_matches("dep*", "deploy"));
        assert!(pattern_matches("deploy@10.0.0.*", "deploy"));
        assert!(pattern_matches("?eploy", "deploy"));
        assert!(!pattern_matches("nobody", "deploy"));
        assert!(!pattern_matches("!deploy", "deploy"));
    }
}
