//! Ansible's connection variables (`ansible_host`, `ansible_port`, ...)
//! and keel's `keel_*` settings, read from one level's vars (a group or a
//! host) into typed settings; [`super::build`] layers them per host.

use super::{CODE, Var};
use crate::config::inventory::TransportKind;
use crate::diag::{Diag, Diagnostics};
use crate::node::{Node, Span, Value};

/// Connection settings found at one level (a group or a host).
#[derive(Debug, Clone, Default)]
pub struct Conn {
    pub address: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<String>,
    pub become_root: Option<bool>,
    pub transport: Option<TransportKind>,
    pub accept_new: Option<bool>,
    pub password: Option<bool>,
    pub ssh_config: Option<String>,
    pub bootstrap_port: Option<u16>,
    pub bootstrap_user: Option<String>,
    pub confirm_timeout: Option<u64>,
    pub allow_lockout_risk: Option<bool>,
}

impl Conn {
    /// `other` wins where it sets something.
    pub fn then(mut self, other: &Conn) -> Conn {
        macro_rules! over {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f.clone(); } )* };
        }
        over!(
            address,
            port,
            user,
            identity_file,
            become_root,
            transport,
            accept_new,
            password,
            ssh_config,
            bootstrap_port,
            bootstrap_user,
            confirm_timeout,
            allow_lockout_risk
        );
        self
    }
}

/// Split a level's vars into its connection settings and the other vars.
/// Problems are reported at the value.
pub fn split(vars: &[Var], diags: &mut Diagnostics) -> (Conn, Vec<Var>) {
    let mut c = Conn::default();
    let mut rest: Vec<Var> = Vec::new();
    for v in vars {
        let name = v.name();
        if let Some(span) = vault_span(&v.value) {
            diags.push(
                Diag::at(CODE, &v.source, span, format!("`{name}` is encrypted with ansible-vault"), "vault data")
                    .with_help("keel does not decrypt ansible-vault data: declare the secret in the stack's `secrets:` (env, file or command, e.g. `ansible-vault view`) instead"),
            );
            continue;
        }
        if !is_conn_var(name) {
            rest.retain(|r| r.name() != name);
            rest.push(v.clone());
            continue;
        }
        if name.starts_with("ansible_") && (name.ends_with("pass") || name.ends_with("password")) {
            // Never kept: keel does not take passwords from an inventory.
            if name == "ansible_password" || name.starts_with("ansible_ssh_pass") {
                c.password = Some(v.value.value != Value::Null);
            }
            continue;
        }
        let set = conn_text(v).and_then(|text| match text {
            Some(text) => set_conn(&mut c, v, text),
            None => Ok(()),
        });
        if let Err(d) = set {
            diags.push(*d);
        }
    }
    (c, rest)
}

/// Whether a var is a connection setting (Ansible's or keel's own).
fn is_conn_var(name: &str) -> bool {
    let ansible = matches!(
        name,
        "ansible_host"
            | "ansible_ssh_host"
            | "ansible_port"
            | "ansible_ssh_port"
            | "ansible_user"
            | "ansible_ssh_user"
            | "ansible_ssh_private_key_file"
            | "ansible_private_key_file"
            | "ansible_become"
            | "ansible_sudo"
            | "ansible_become_user"
            | "ansible_sudo_user"
            | "ansible_connection"
            | "ansible_host_key_checking"
            | "ansible_password"
            | "ansible_ssh_pass"
            | "ansible_ssh_password"
            | "ansible_become_password"
            | "ansible_become_pass"
            | "ansible_sudo_pass"
    );
    ansible || name.starts_with("keel_")
}

/// A problem with var `v`, at its value.
fn bad(v: &Var, msg: String, help: &str) -> Box<Diag> {
    Box::new(Diag::at(CODE, &v.source, v.value.span, msg, "here").with_help(help.to_string()))
}

/// The plain text of a connection setting: `None` when null; a list, a
/// map or a Jinja template is refused.
fn conn_text(v: &Var) -> Result<Option<String>, Box<Diag>> {
    let name = v.name();
    let text = match &v.value.value {
        Value::Null => return Ok(None),
        Value::Seq(_) | Value::Map(_) => {
            return Err(bad(
                v,
                format!(
                    "`{name}` must be a single value, found {}",
                    v.value.type_name()
                ),
                "write it as `name=value` (INI) or `name: value` (YAML)",
            ));
        }
        _ => v
            .value
            .as_scalar_text()
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    if text.contains("{{") || text.contains("{%") {
        return Err(bad(
            v,
            format!(
                "`{name}` is a Jinja template (`{text}`), which keel cannot evaluate in an inventory"
            ),
            "write the plain value (keel reads connection settings as written)",
        ));
    }
    Ok(Some(text))
}

/// Set the connection setting `v` to `text`.
fn set_conn(c: &mut Conn, v: &Var, text: String) -> Result<(), Box<Diag>> {
    if v.name().starts_with("keel_") {
        return set_keel(c, v, text);
    }
    let name = v.name();
    match name {
        "ansible_host" | "ansible_ssh_host" => c.address = Some(text),
        "ansible_port" | "ansible_ssh_port" => match text.parse::<u16>() {
            Ok(p) if p > 0 => c.port = Some(p),
            _ => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`, which is not a port"),
                    "a port is a number from 1 to 65535",
                ));
            }
        },
        "ansible_user" | "ansible_ssh_user" => c.user = Some(text),
        "ansible_ssh_private_key_file" | "ansible_private_key_file" => c.identity_file = Some(text),
        "ansible_become" | "ansible_sudo" => match ansible_bool(&text) {
            Some(b) => c.become_root = Some(b),
            None => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`, which is not a boolean"),
                    "write true or false (yes/no, 1/0 also work)",
                ));
            }
        },
        "ansible_host_key_checking" => match ansible_bool(&text) {
            Some(b) => c.accept_new = Some(!b),
            None => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`, which is not a boolean"),
                    "write true or false",
                ));
            }
        },
        "ansible_become_user" | "ansible_sudo_user" if text != "root" => {
            return Err(bad(
                v,
                format!("`{name}` is `{text}`: keel runs privileged steps as root only"),
                "remove it (or set it to root); a resource that must run as another user says so itself (e.g. a file's owner)",
            ));
        }
        "ansible_connection" => match text.as_str() {
            "local" => c.transport = Some(TransportKind::Local),
            "ssh"
            | "smart"
            | "paramiko"
            | "paramiko_ssh"
            | "ansible.builtin.ssh"
            | "ansible.builtin.paramiko_ssh" => c.transport = Some(TransportKind::Ssh),
            "ansible.builtin.local" => c.transport = Some(TransportKind::Local),
            other => {
                return Err(bad(
                    v,
                    format!(
                        "`ansible_connection` is `{other}`: keel connects over SSH or to the local machine only"
                    ),
                    "use `ssh` (the default) or `local`",
                ));
            }
        },
        _ => {}
    }
    Ok(())
}

/// Set keel's own host setting `v` (`keel_*`) to `text`.
fn set_keel(c: &mut Conn, v: &Var, text: String) -> Result<(), Box<Diag>> {
    let name = v.name();
    match name {
        "keel_ssh_config" => c.ssh_config = Some(text),
        "keel_bootstrap_user" => c.bootstrap_user = Some(text),
        "keel_bootstrap_port" => match text.parse::<u16>() {
            Ok(p) if p > 0 => c.bootstrap_port = Some(p),
            _ => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`, which is not a port"),
                    "a port is a number from 1 to 65535",
                ));
            }
        },
        "keel_confirm_timeout" => match text.parse::<u64>() {
            Ok(t) => c.confirm_timeout = Some(t),
            _ => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`, which is not a number of seconds"),
                    "e.g. keel_confirm_timeout=120",
                ));
            }
        },
        "keel_allow_lockout_risk" => match ansible_bool(&text) {
            Some(b) => c.allow_lockout_risk = Some(b),
            None => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`, which is not a boolean"),
                    "write true or false",
                ));
            }
        },
        "keel_host_key" => match text.as_str() {
            "strict" => c.accept_new = Some(false),
            "accept-new" => c.accept_new = Some(true),
            _ => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`"),
                    "write `strict` (the default) or `accept-new`",
                ));
            }
        },
        "keel_auth" => match text.as_str() {
            "key" => c.password = Some(false),
            "password" => c.password = Some(true),
            _ => {
                return Err(bad(
                    v,
                    format!("`{name}` is `{text}`"),
                    "write `key` (the default) or `password`",
                ));
            }
        },
        other if other.starts_with("keel_") => {
            return Err(bad(
                v,
                format!("`{other}` is not a keel host setting"),
                "keel settings in an Ansible inventory: keel_ssh_config, keel_host_key, keel_bootstrap_port, keel_bootstrap_user, keel_confirm_timeout, keel_allow_lockout_risk, keel_auth",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Where a value holds ansible-vault ciphertext (`!vault |` values).
fn vault_span(n: &Node) -> Option<Span> {
    match &n.value {
        Value::Str(s) if s.trim_start().starts_with("$ANSIBLE_VAULT;") => Some(n.span),
        Value::Seq(items) => items.iter().find_map(vault_span),
        Value::Map(m) => m.iter().find_map(|(_, v)| vault_span(v)),
        _ => None,
    }
}

/// Ansible's booleans: yes/no, true/false, on/off, 1/0, y/n, t/f.
pub fn ansible_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "on" | "1" => Some(true),
        "no" | "n" | "false" | "f" | "off" | "0" => Some(false),
        _ => None,
    }
}
