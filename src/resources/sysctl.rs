//! The `sysctl` kind: one kernel parameter, set now and kept across reboots.
//!
//! ```yaml
//! - sysctl: { name: net.core.somaxconn, value: "65535" }   # persist: true, apply: true
//! ```
//!
//! With `apply: true` (the default) the running kernel's value is set, as
//! `sysctl -w` does: by writing to `/proc/sys/net/core/somaxconn`. With
//! `persist: true` (the default) the line `net.core.somaxconn = 65535` is
//! kept in `/etc/sysctl.d/99-zz-keel.conf`, which `systemd-sysctl` applies at
//! boot (after `99-sysctl.conf`, Debian's link to `/etc/sysctl.conf`, so
//! keel's value wins). Every `sysctl` resource edits only its own line of that file, at
//! apply time, from the file as it is then (atomically: a temporary file
//! renamed over it), so several resources share the file without
//! clobbering each other and lines written by hand stay.
//!
//! keel reads and writes `/proc/sys` directly rather than running the
//! `sysctl` program, which lives in `procps`, a package minimal images
//! lack. The probe prints, as `key=value` lines, whether the key exists
//! (a missing key usually means its kernel module is not loaded: the plan
//! says "known after apply", and apply fails clearly if it is still
//! missing), its value (base64), whether it is writable, and the values of
//! this key's lines in the persisted file.
//!
//! Values are compared with runs of whitespace collapsed: the kernel prints
//! `net.ipv4.ip_local_port_range` as `32768<TAB>60999`, which equals the
//! declared `"32768 60999"`. The live value is set first and read back; the
//! line is persisted only when the kernel accepted the value, so a value the
//! kernel rejects never reaches the file applied at every boot.
//!
//! In containers `/proc/sys` is usually mounted read-only (even the
//! settings a network namespace owns, like `net.core.somaxconn`). A key
//! that differs but is not writable is a plan error (`Diff::error`) that
//! says why: a read-only `/proc/sys` (with the container runtime's way out,
//! `docker run --sysctl`) or a key the kernel makes read-only; apply does
//! not try it. Keys that cannot be read back (write-only triggers such as
//! `vm.drop_caches`) and groups of keys are plan errors too. Should a write
//! still fail at apply time, the message names the cause (read-only file
//! system, permission denied, a value the kernel rejects).
//!
//! Keys are checked at load time: dot-separated (the slash form
//! `net/ipv4/conf/eth0.1/rp_filter` is accepted and shown in dot form,
//! `net.ipv4.conf.eth0/1.rp_filter`, as `sysctl` does), letters, digits,
//! `_` and `-`, under one of the kernel's top-level groups.

use super::common::edit::rewrite_file;
use super::*;
use crate::shell::{self, Script, q};

/// The file persisted settings are written to.
pub const CONF: &str = "/etc/sysctl.d/99-zz-keel.conf";

/// The top-level groups of `/proc/sys`.
const GROUPS: &[&str] = &[
    "abi", "crypto", "debug", "dev", "fs", "kernel", "net", "sunrpc", "user", "vm",
];

fn yes() -> bool {
    true
}

/// A kernel parameter.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sysctl {
    /// The key, e.g. `net.core.somaxconn`.
    pub name: String,
    /// The value, as `sysctl -n` prints it (whitespace runs are equal).
    pub value: String,
    /// Keep it in /etc/sysctl.d/99-zz-keel.conf (default true).
    #[serde(default = "yes")]
    pub persist: bool,
    /// Set it in the running kernel (default true).
    #[serde(default = "yes")]
    pub apply: bool,
    /// Prefix of every host path (tests only: a scratch root).
    #[serde(skip)]
    root: String,
}

/// The running kernel's side of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Live {
    /// Not probed (`apply: false`).
    #[default]
    NotProbed,
    /// No such key (its module may not be loaded).
    Missing,
    /// A group of keys, not a key.
    Dir,
    /// Exists but cannot be read (a write-only trigger).
    Unreadable,
    Value(String),
}

/// The live state of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysctlFact {
    pub live: Live,
    /// Whether root may write the key (false on a read-only `/proc/sys`).
    pub writable: bool,
    /// `/proc/sys` is a read-only mount (containers); probed only when the
    /// key is not writable.
    pub proc_sys_ro: bool,
    /// Whether the persisted file exists (only probed with `persist`).
    pub conf: bool,
    /// The values of this key's lines in the persisted file, in order.
    pub persisted: Vec<String>,
}

/// Collapse runs of whitespace and trim: how values are compared.
pub fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The dot form of a key: when its first separator is `/`, dots and slashes
/// swap (as `sysctl` reads `net/ipv4/conf/eth0.1/rp_filter`).
pub fn canonical(key: &str) -> String {
    let slash_form = key
        .find(['.', '/'])
        .is_some_and(|i| key[i..].starts_with('/'));
    if slash_form {
        swap(key)
    } else {
        key.to_string()
    }
}

fn swap(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect()
}

/// Check a key (in either form); returns its dot form, or the problem
/// reported on `name`.
fn check_key(key: &str) -> Result<String, Invalid> {
    let bad = |message: String| {
        Err(Invalid::field("name", message)
            .help("a key as `sysctl -a` lists it, e.g. `net.core.somaxconn`"))
    };
    let shown = key.escape_debug();
    if key.is_empty() {
        return bad("the key is empty".into());
    }
    if key.len() > 255 {
        return bad(format!("`{shown}` is too long for a sysctl key"));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')))
    {
        return bad(format!(
            "`{shown}` contains `{}`: keys have letters, digits, `_`, `-`, and `.` between parts",
            c.escape_debug()
        ));
    }
    let dotted = canonical(key);
    let path = swap(&dotted);
    if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return bad(format!(
            "`{shown}` has an empty part (`..`, or a leading or trailing dot)"
        ));
    }
    let group = path.split('/').next().unwrap_or_default();
    if !GROUPS.contains(&group) {
        return bad(format!(
            "`{shown}` is not under one of the kernel's groups ({})",
            GROUPS.join(", ")
        ));
    }
    if !path.contains('/') {
        return bad(format!("`{shown}` is a group of keys, not a key"));
    }
    Ok(dotted)
}

impl Sysctl {
    fn key(&self) -> String {
        canonical(&self.name)
    }

    fn proc_path(&self) -> String {
        format!("{}/proc/sys/{}", self.root, swap(&self.key()))
    }

    fn conf_path(&self) -> String {
        format!("{}{CONF}", self.root)
    }

    fn value(&self) -> &str {
        self.value.trim()
    }

    /// An ERE matching this key's lines in a sysctl.d file (an optional
    /// leading `-` means "ignore failures").
    fn line_regex(&self) -> String {
        format!(
            "^[[:space:]]*-?{}[[:space:]]*=",
            self.key().replace('.', "\\.")
        )
    }

    fn line(&self) -> String {
        format!("{} = {}", self.key(), self.value())
    }

    /// Set the running value, as `sysctl -w` does, and read it back.
    fn live_script(&self) -> String {
        Script::new(include_str!("sysctl/set_live.sh"))
            .set("keel_key", self.key())
            .set("keel_p", self.proc_path())
            .set("keel_v", self.value())
            .set("keel_want", normalize(&self.value))
            .render()
    }

    /// Put this key's line in the persisted file, from the file as it is
    /// at apply time.
    fn persist_script(&self) -> String {
        let conf = self.conf_path();
        let mut s = format!(
            "mkdir -p {}\n",
            q(&parent_dir(&conf).unwrap_or_else(|| "/".into()))
        );
        let fill = Script::new(include_str!("sysctl/persist_line.sh"))
            .set("keel_line", self.line())
            .set("keel_re", self.line_regex())
            .render();
        s.push_str(&rewrite_file(&conf, &fill));
        s
    }

    /// A change that cannot be made as things are on the host.
    fn refusal(diff: Diff, msg: String) -> Planned {
        let mut d = diff;
        d.action = Some(Action::Update);
        d.error = Some(msg);
        Planned::only(d)
    }

    /// The running value: its change and the command that sets it, or a
    /// refusal (a group of keys, a write-only key, a key not writable).
    fn plan_live(&self, fact: &SysctlFact, plan: &mut Planned) -> Option<Planned> {
        let key = self.key();
        let want = normalize(&self.value);
        let d = &mut plan.diff;
        match &fact.live {
            Live::Dir => {
                return Some(Self::refusal(
                    Diff::default(),
                    format!("{key} is a group of settings, not a single one"),
                ));
            }
            Live::Unreadable => {
                return Some(Self::refusal(
                    Diff::default(),
                    format!(
                        "{key} cannot be read back (a write-only trigger such as vm.drop_caches): use a `command` resource"
                    ),
                ));
            }
            Live::Missing => {
                d.attrs
                    .push(AttrChange::new("value", None::<String>, Some(&*want)));
                d.reason = Some(format!(
                    "{key} does not exist on this host yet: apply fails unless its kernel module is loaded first"
                ));
                d.unknown = Some(format!(
                    "{key} does not exist yet (its kernel module may not be loaded)"
                ));
            }
            Live::Value(v) if normalize(v) != want => {
                d.attrs
                    .push(AttrChange::new("value", Some(normalize(v)), Some(&*want)));
                if !fact.writable {
                    return Some(Self::refusal(d.clone(), self.not_writable(fact)));
                }
            }
            Live::Value(_) | Live::NotProbed => return None,
        }
        plan.commands
            .push(Cmd::new(format!("set {key} to {want}"), self.live_script()));
        None
    }

    /// Why a key that differs cannot be set on this host.
    fn not_writable(&self, fact: &SysctlFact) -> String {
        let key = self.key();
        if fact.proc_sys_ro {
            format!(
                "{key} cannot be set on this host: /proc/sys is mounted read-only (as in most containers, where the container runtime sets such settings, e.g. `docker run --sysctl {key}={}`)",
                self.value()
            )
        } else {
            format!(
                "{key} is not writable on this host: the kernel makes it read-only (or keel is not running as root)"
            )
        }
    }

    /// The persisted line: its change and the command that writes it.
    fn plan_persist(&self, fact: &SysctlFact, plan: &mut Planned) {
        let want = normalize(&self.value);
        let have: Vec<String> = fact.persisted.iter().map(|v| normalize(v)).collect();
        if have == [want.clone()] {
            return;
        }
        let before = match have.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            many => Some(format!("{} ({} lines)", many.join(", "), many.len())),
        };
        plan.diff
            .attrs
            .push(AttrChange::new(CONF, before, Some(&*want)));
        plan.commands.push(Cmd::new(
            format!("persist {} in {CONF}", self.line()),
            self.persist_script(),
        ));
    }

    /// What a converged key is, for the no-op's reason.
    fn converged(&self) -> Diff {
        let mut why = Vec::new();
        if self.apply {
            why.push("set");
        }
        if self.persist {
            why.push("persisted");
        }
        Diff::noop().reason(format!(
            "{} = {} ({})",
            self.key(),
            normalize(&self.value),
            why.join(" and ")
        ))
    }
}

impl Kind for Sysctl {
    const KIND: &'static str = "sysctl";
    type Fact = SysctlFact;

    fn name(&self) -> String {
        self.key()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if let Err(e) = check_key(&self.name) {
            errs.push(e);
        }
        let v = self.value.trim();
        if v.is_empty() {
            errs.push(
                Invalid::field("value", "`value` is empty")
                    .help("the value as `sysctl -n` prints it, e.g. value: \"65535\""),
            );
        } else if self.value.contains(['\n', '\r']) {
            errs.push(Invalid::field("value", "`value` contains a newline").help(
                "separate the parts of a multi-value setting with spaces, e.g. \"32768 60999\"",
            ));
        } else if let Some(c) = self.value.chars().find(|c| c.is_control() && *c != '\t') {
            errs.push(Invalid::field(
                "value",
                format!("`value` contains the control character {:?}", c),
            ));
        } else if v.len() > 4096 {
            errs.push(Invalid::field("value", "`value` is longer than 4096 bytes"));
        }
        if !self.apply && !self.persist {
            errs.push(
                Invalid::field(
                    "apply",
                    "with `apply: false` and `persist: false` nothing is managed",
                )
                .help("keep `apply` (set it now) or `persist` (set it at boot), or both"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            provides: Vec::new(),
            needs: if self.persist {
                vec![Ref::Path(CONF.into())]
            } else {
                Vec::new()
            },
        }
    }

    fn probe(&self) -> String {
        let mut s = String::new();
        if self.apply {
            s.push_str(
                &Script::new(include_str!("sysctl/probe_live.sh"))
                    .set("keel_p", self.proc_path())
                    .render(),
            );
        }
        if self.persist {
            s.push_str(
                &Script::new(include_str!("sysctl/probe_conf.sh"))
                    .set("keel_f", self.conf_path())
                    .set("keel_re", self.line_regex())
                    .render(),
            );
        }
        s.push_str("exit 0\n");
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<SysctlFact, FactError> {
        let text = &out.stdout;
        let live = if !self.apply {
            Live::NotProbed
        } else {
            match kv(text, "live").map(str::trim) {
                Some("dir") => Live::Dir,
                Some("missing") => Live::Missing,
                Some("unreadable") => Live::Unreadable,
                Some("value") => {
                    let b64 = kv(text, "value").ok_or("the probe printed no value")?;
                    let bytes =
                        shell::unbase64(b64.trim()).map_err(|e| format!("sysctl value: {e}"))?;
                    Live::Value(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => {
                    return Err(match out.stderr.trim() {
                        "" => FactError::Unexpected(
                            "the probe printed nothing about the key".to_string(),
                        ),
                        e => FactError::Unexpected(e.to_string()),
                    });
                }
            }
        };
        let persisted = kv_lines(text)
            .into_iter()
            .filter(|(k, _)| *k == "persisted")
            .filter_map(|(_, line)| line.split_once('=').map(|(_, v)| v.trim().to_string()))
            .collect();
        Ok(SysctlFact {
            live,
            writable: kv(text, "writable").map(str::trim) == Some("yes"),
            proc_sys_ro: kv(text, "proc_sys").map(str::trim) == Some("ro"),
            conf: kv(text, "conf").map(str::trim) == Some("present"),
            persisted,
        })
    }

    fn plan(&self, fact: &SysctlFact) -> Planned {
        let mut plan = Planned::only(Diff::with_action(Action::Update));
        if self.apply
            && let Some(refused) = self.plan_live(fact, &mut plan)
        {
            return refused;
        }
        if self.persist {
            self.plan_persist(fact, &mut plan);
        }
        if plan.diff.attrs.is_empty() {
            return Planned::only(self.converged());
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{converge_locally, eval, load, run_local, try_load};

    const Y: &str = "name: net.core.somaxconn\nvalue: \"65535\"\n";

    fn b64(s: &str) -> String {
        shell::base64(s.as_bytes())
    }

    fn probe(live: &str, persisted: &[&str]) -> String {
        let mut s = format!("live=value\nvalue={}\nwritable=yes\n", b64(live));
        if !persisted.is_empty() {
            s.push_str("conf=present\n");
        }
        for p in persisted {
            s.push_str(&format!("persisted={p}\n"));
        }
        s
    }

    #[test]
    fn fresh_host_sets_and_persists() {
        let e = eval("sysctl", Y, &probe("4096\n", &[]));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("value", Some("4096"), Some("65535")),
                AttrChange::new(CONF, None::<String>, Some("65535")),
            ]
        );
        let summaries: Vec<_> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "set net.core.somaxconn to 65535",
                "persist net.core.somaxconn = 65535 in /etc/sysctl.d/99-zz-keel.conf"
            ]
        );
    }

    #[test]
    fn equal_values_are_noop_whitespace_aside() {
        let y = "name: net.ipv4.ip_local_port_range\nvalue: \"20000  60999\"\n";
        let e = eval(
            "sysctl",
            y,
            &probe(
                "20000\t60999\n",
                &["net.ipv4.ip_local_port_range=20000 60999"],
            ),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("net.ipv4.ip_local_port_range = 20000 60999 (set and persisted)")
        );
        // Drift shows normalized values.
        let e = eval(
            "sysctl",
            y,
            &probe(
                "32768\t60999\n",
                &["  -net.ipv4.ip_local_port_range = 1 2 "],
            ),
        );
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("value", Some("32768 60999"), Some("20000 60999")),
                AttrChange::new(CONF, Some("1 2"), Some("20000 60999")),
            ]
        );
    }

    #[test]
    fn apply_or_persist_only() {
        let r = load("sysctl", &format!("{Y}persist: false\n"));
        assert!(!r.probe().contains("99-keel"));
        let e = r.evaluate(&ProbeOutput::ok(probe("4096", &[]))).unwrap();
        assert_eq!(e.diff.attrs.len(), 1);
        assert_eq!(e.commands.len(), 1);
        let e = r.evaluate(&ProbeOutput::ok(probe("65535", &[]))).unwrap();
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("net.core.somaxconn = 65535 (set)")
        );

        let r = load("sysctl", &format!("{Y}apply: false\n"));
        assert!(!r.probe().contains("/proc/sys"));
        let e = r.evaluate(&ProbeOutput::ok("")).unwrap();
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new(CONF, None::<String>, Some("65535"))]
        );
        let e = r
            .evaluate(&ProbeOutput::ok(
                "conf=present\npersisted=net.core.somaxconn = 65535\n",
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
        // Duplicated lines are drift.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "conf=present\npersisted=net.core.somaxconn = 65535\npersisted=net.core.somaxconn=1\n",
            ))
            .unwrap();
        assert_eq!(
            e.diff.attrs[0].before.as_deref(),
            Some("65535, 1 (2 lines)")
        );
    }

    #[test]
    fn missing_read_only_and_odd_keys() {
        let e = eval("sysctl", Y, "live=missing\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.unknown.as_deref().unwrap().contains("kernel module"));
        assert_eq!(e.commands.len(), 2);

        let e = eval(
            "sysctl",
            Y,
            &format!(
                "live=value\nvalue={}\nwritable=no\nproc_sys=ro\n",
                b64("4096\n")
            ),
        );
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new("value", Some("4096"), Some("65535"))]
        );
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("/proc/sys is mounted read-only (as in most containers, where the container runtime sets such settings, e.g. `docker run --sysctl net.core.somaxconn=65535`)")
        );
        assert!(e.commands.is_empty());
        let e = eval(
            "sysctl",
            Y,
            &format!("live=value\nvalue={}\nwritable=no\n", b64("4096\n")),
        );
        assert!(
            e.diff
                .error
                .unwrap()
                .contains("the kernel makes it read-only")
        );
        // Not writable but already as wanted: nothing to do.
        let e = eval(
            "sysctl",
            &format!("{Y}persist: false\n"),
            &format!("live=value\nvalue={}\nwritable=no\n", b64("65535\n")),
        );
        assert_eq!(e.diff.action(), Action::NoOp);

        let e = eval("sysctl", Y, "live=dir\n");
        assert!(e.diff.error.unwrap().contains("group of settings"));
        assert!(e.commands.is_empty());
        let e = eval(
            "sysctl",
            "name: vm.drop_caches\nvalue: \"3\"\n",
            "live=unreadable\nwritable=yes\n",
        );
        assert!(e.diff.error.unwrap().contains("use a `command` resource"));
    }

    #[test]
    fn odd_probe_output() {
        let r = load("sysctl", Y);
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("live=value\n")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("live=value\nvalue=%%%\n"))
                .is_err()
        );
        let err = r
            .evaluate(&ProbeOutput {
                stderr: "cat: not found\n".into(),
                ..ProbeOutput::default()
            })
            .unwrap_err();
        assert_eq!(err, "cat: not found");
        // A multi-line value, an empty one.
        let e = r
            .evaluate(&ProbeOutput::ok(format!(
                "live=value\nvalue={}\n",
                b64("a\nb\n")
            )))
            .unwrap();
        assert_eq!(e.diff.attrs[0].before.as_deref(), Some("a b"));
        let e = r
            .evaluate(&ProbeOutput::ok("live=value\nvalue=\n"))
            .unwrap();
        assert_eq!(e.diff.attrs[0].before.as_deref(), Some(""));
    }

    #[test]
    fn keys() {
        assert_eq!(canonical("net.core.somaxconn"), "net.core.somaxconn");
        assert_eq!(
            canonical("net/ipv4/conf/eth0.1/rp_filter"),
            "net.ipv4.conf.eth0/1.rp_filter"
        );
        let r = load("sysctl", "name: net/ipv4/conf/eth0.1/rp_filter\nvalue: 1\n");
        assert_eq!(r.name(), "net.ipv4.conf.eth0/1.rp_filter");
        assert!(
            r.probe()
                .contains("/proc/sys/net/ipv4/conf/eth0.1/rp_filter")
        );
        let s = scratch(
            std::path::Path::new(""),
            "name: net/ipv4/conf/eth0.1/rp_filter\nvalue: 1\n",
        );
        assert_eq!(
            s.line_regex(),
            "^[[:space:]]*-?net\\.ipv4\\.conf\\.eth0/1\\.rp_filter[[:space:]]*="
        );
        assert_eq!(s.line(), "net.ipv4.conf.eth0/1.rp_filter = 1");
        assert_eq!(
            load(
                "sysctl",
                "name: net.bridge.bridge-nf-call-iptables\nvalue: 1\n"
            )
            .name(),
            "net.bridge.bridge-nf-call-iptables"
        );
    }

    #[test]
    fn validation_errors() {
        let err = |y: &str| try_load("sysctl", y).unwrap_err();
        assert!(err("name: \"net.core.som axconn\"\nvalue: 1\n").contains("contains ` `"));
        assert!(err("name: \"net.core.x;$(id)\"\nvalue: 1\n").contains("contains `;`"));
        assert!(err("name: net..core\nvalue: 1\n").contains("empty part"));
        assert!(err("name: net.core.\nvalue: 1\n").contains("empty part"));
        assert!(err("name: .net.core\nvalue: 1\n").contains("empty part"));
        assert!(err("name: net/../../etc/x\nvalue: 1\n").contains("empty part"));
        assert!(err("name: somaxconn\nvalue: 1\n").contains("groups"));
        assert!(err("name: net\nvalue: 1\n").contains("group of keys"));
        assert!(err("name: ''\nvalue: 1\n").contains("empty"));
        assert!(err("name: net.core.somaxconn\nvalue: ''\n").contains("`value` is empty"));
        assert!(err("name: net.core.somaxconn\nvalue: \"1\\n2\"\n").contains("newline"));
        assert!(err("name: net.core.somaxconn\nvalue: \"1\\u0007\"\n").contains("control"));
        assert!(
            err("name: net.core.somaxconn\nvalue: 1\napply: false\npersist: false\n")
                .contains("nothing is managed")
        );
        assert!(err("name: net.core.somaxconn\n").contains("value"));
        assert!(err("name: net.core.somaxconn\nvalue: 1\nstate: x\n").contains("unknown"));
        assert!(
            try_load(
                "sysctl",
                "name: kernel.core_pattern\nvalue: \"|/bin/x %p\"\n"
            )
            .is_ok()
        );
    }

    fn scratch(dir: &std::path::Path, yaml: &str) -> Sysctl {
        let mut s: Sysctl = crate::config::node::Node::parse(yaml)
            .unwrap()
            .deserialize()
            .unwrap();
        s.root = dir.to_str().unwrap().to_string();
        s
    }

    /// A scratch root with a writable fake /proc/sys file.
    fn fake_proc(root: &std::path::Path, rel: &str, value: &str) -> std::path::PathBuf {
        let p = root.join("proc/sys").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, value).unwrap();
        p
    }

    #[test]
    fn converges_locally_and_shares_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("it's $(touch pwned) `id`; root");
        let somax = fake_proc(&root, "net/core/somaxconn", "4096\n");
        let range = fake_proc(&root, "net/ipv4/ip_local_port_range", "32768\t60999\n");
        let conf = root.join("etc/sysctl.d/99-zz-keel.conf");

        let a = scratch(&root, Y);
        let (before, after) = converge_locally(&a);
        assert_eq!(before.diff.action(), Action::Update);
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(std::fs::read_to_string(&somax).unwrap(), "65535\n");
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            "# Managed by keel: one line per `sysctl` resource.\nnet.core.somaxconn = 65535\n"
        );

        // A second key, and a line written by hand, share the file.
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("vm.swappiness = 10 # by hand");
        std::fs::write(&conf, text).unwrap();
        let b = scratch(
            &root,
            "name: net.ipv4.ip_local_port_range\nvalue: \"20000 60999\"\n",
        );
        let (before, after) = converge_locally(&b);
        assert_eq!(before.diff.attrs[0].before.as_deref(), Some("32768 60999"));
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(std::fs::read_to_string(&range).unwrap(), "20000 60999\n");

        // Change the first: only its line changes, duplicates go.
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("net.core.somaxconn=1\n");
        std::fs::write(&conf, text).unwrap();
        let a2 = scratch(&root, "name: net.core.somaxconn\nvalue: 1024\n");
        let (_, after) = converge_locally(&a2);
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            "# Managed by keel: one line per `sysctl` resource.\nnet.core.somaxconn = 1024\nvm.swappiness = 10 # by hand\nnet.ipv4.ip_local_port_range = 20000 60999\n"
        );
        assert!(!dir.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());
        assert_eq!(
            std::fs::read_dir(conf.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn hostile_values_stay_inert_and_readback_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let p = fake_proc(root, "kernel/core_pattern", "core\n");
        let hostile = "|/bin/x 'q' \"dq\" $(touch pwned) `id`; \\ %p";
        let s = scratch(
            root,
            &format!(
                "name: kernel.core_pattern\nvalue: {}\n",
                serde_json::to_string(hostile).unwrap()
            ),
        );
        let (_, after) = converge_locally(&s);
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), format!("{hostile}\n"));
        assert!(
            std::fs::read_to_string(root.join("etc/sysctl.d/99-zz-keel.conf"))
                .unwrap()
                .contains(&format!("kernel.core_pattern = {hostile}\n"))
        );
        assert!(!root.join("pwned").exists() && !std::path::Path::new("pwned").exists());

        // A key that is a directory, or missing, fails clearly at apply and
        // nothing is persisted.
        let s = scratch(root, "name: net.core.nothere\nvalue: 1\n");
        let e = Resource::evaluate(&s, &run_local(&Resource::probe(&s))).unwrap();
        assert!(e.diff.unknown.is_some());
        let out = run_local(&e.commands[0].script);
        assert_eq!(out.status, 1);
        assert!(
            out.stderr.contains("does not exist on this host"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn write_errors_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let p = fake_proc(root, "net/core/somaxconn", "4096\n");
        let s = scratch(root, Y);
        // A read-only file (as root, a directory that cannot hold it: make
        // the path a dangling place instead) — simulate the kernel's error
        // messages through the case arms by pointing at a directory.
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        let out = run_local(&s.live_script());
        assert_eq!(out.status, 1);
        assert!(
            out.stderr
                .contains("keel: cannot set sysctl net.core.somaxconn to 65535"),
            "{}",
            out.stderr
        );
        std::fs::remove_dir(&p).unwrap();
        // The kernel reads back something else: a clear error.
        std::fs::write(&p, "").unwrap();
        let script = s.live_script().replace(
            "keel_now=$(tr",
            "printf 'clamped\\n' > \"$keel_p\"\nkeel_now=$(tr",
        );
        let out = run_local(&script);
        assert_eq!(out.status, 1);
        assert!(out.stderr.contains("reads back clamped"), "{}", out.stderr);
    }

    #[test]
    fn probe_runs_locally_read_only() {
        let r = load("sysctl", "name: net.core.somaxconn\nvalue: \"4096\"\n");
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        r.evaluate(&out).unwrap();
    }
}
