//! The `hostname` kind: the host's name, in the kernel, in `/etc/hostname`
//! and on the `127.0.1.1` line of `/etc/hosts` (as Debian's installer
//! writes it).
//!
//! ```yaml
//! - hostname: { name: web-01, fqdn: web-01.example.com }   # manage_hosts: true
//! ```
//!
//! The address is always `hostname[system]`: a host has one name, so two
//! `hostname` resources on one host are a duplicate-address error.
//!
//! The probe prints the running name (`uname -n`), the name in
//! `/etc/hostname` (its first line that is neither empty nor a `#`
//! comment, as systemd reads it) and the first `127.0.1.1` line of
//! `/etc/hosts`, as `key=value` lines. Each part that differs is an
//! attribute of the plan: `hostname: web1 → web-01`, `/etc/hostname: …`,
//! `/etc/hosts 127.0.1.1: (none) → web-01.example.com web-01`.
//!
//! Apply uses `hostnamectl set-hostname` when systemd runs (so
//! `systemd-hostnamed` and its D-Bus clients learn the change), and falls
//! back to writing `/etc/hostname` and running `hostname NAME` when it is
//! absent or fails. It fails in Docker containers, where `/etc/hostname` and
//! `/etc/hosts` are bind mounts that cannot be renamed over (`EBUSY`): keel
//! replaces files by writing a temporary file in the same directory and
//! renaming it, and rewrites a bind-mounted file in place instead (see
//! `rewrite_file` in `common::edit`). `/etc/hosts` is edited at apply time from the file as
//! it is then: only its first `127.0.1.1` line is replaced (or one is added
//! after the `127.0.0.1` line); every other line is kept byte for byte.
//!
//! Planning compares each part into a typed [`Drift`], from which both the
//! plan's attributes and the commands are built.
//!
//! Names are checked at load time against RFC 1123 (letters, digits and
//! hyphens; labels of at most 63 characters, not starting or ending with a
//! hyphen; at most 253 characters, 64 for the host name itself, the
//! kernel's limit). Upper case is refused: host names are compared without
//! case by resolvers but byte for byte here, and systemd may lower-case them.

use super::*;
use crate::resources::common::edit::rewrite_file;
use crate::shell::Script;

/// The address of the one `hostname` resource of a host.
pub const ADDRESS_NAME: &str = "system";

/// The loopback address Debian maps the host's own name to.
const HOSTS_ADDR: &str = "127.0.1.1";

fn yes() -> bool {
    true
}

/// The host's name.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hostname {
    /// The host name (usually one label, e.g. `web-01`).
    pub name: String,
    /// The fully qualified name, e.g. `web-01.example.com`; its first label
    /// must be `name`.
    pub fqdn: Option<String>,
    /// Keep the `127.0.1.1 FQDN NAME` line of `/etc/hosts` (default true).
    #[serde(default = "yes")]
    pub manage_hosts: bool,
}

/// The live names of a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostnameFact {
    /// The kernel's name (`uname -n`).
    pub running: String,
    /// The name in `/etc/hostname`; `None` when the file is absent or holds
    /// no name.
    pub static_name: Option<String>,
    /// Whether `/etc/hosts` exists (only probed with `manage_hosts`).
    pub hosts_file: bool,
    /// The names on the first `127.0.1.1` line of `/etc/hosts` (comments
    /// dropped); `None` when there is no such line.
    pub hosts_names: Option<Vec<String>>,
}

impl Hostname {
    /// The names wanted on the `127.0.1.1` line: FQDN first (the resolver's
    /// canonical name), then the short name.
    fn hosts_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(f) = &self.fqdn {
            v.push(f.clone());
        }
        if !v.contains(&self.name) {
            v.push(self.name.clone());
        }
        v
    }

    fn hosts_line(&self) -> String {
        format!("{HOSTS_ADDR}\t{}", self.hosts_names().join("\t"))
    }

    /// Set the kernel's and the static host name.
    ///
    /// `hostnamectl` is trusted only when both names read back as wanted:
    /// `systemd-hostnamed` runs in its own mount namespace and may see
    /// another `/etc/hostname` than ours (a bind mount it started with).
    fn set_name_script(&self) -> String {
        let mut s = Script::new(include_str!("hostname/set_name.sh"))
            .set("keel_name", &self.name)
            .render();
        s.push_str(&rewrite_file(
            "/etc/hostname",
            "printf '%s\\n' \"$keel_name\"",
        ));
        s.push_str(
            &Script::new(include_str!("hostname/set_kernel.sh"))
                .set("keel_name", &self.name)
                .render(),
        );
        s
    }

    /// Replace (or add) the `127.0.1.1` line of `/etc/hosts`, from the file
    /// as it is at apply time.
    fn hosts_script(&self, path: &str) -> String {
        let fill = Script::new(include_str!("hostname/hosts_line.sh"))
            .set("keel_line", self.hosts_line())
            .render();
        rewrite_file(path, &fill)
    }
}

/// Check a host name or FQDN against RFC 1123: dot-separated labels of
/// 1–63 lower-case letters, digits and hyphens, not starting or ending with
/// a hyphen, at most `max` characters in all, not an IPv4 address; the
/// problem is reported on `field`.
fn check_host_name(field: &'static str, name: &str, max: usize) -> Result<(), Invalid> {
    let bad = |message: String| Err(Invalid::field(field, message).help(NAME_HELP));
    let shown = name.escape_debug();
    if name.is_empty() {
        return bad("the name is empty".into());
    }
    if name.len() > max {
        return bad(format!(
            "`{shown}` is {} characters long; the most is {max}",
            name.len()
        ));
    }
    if name.ends_with('.') {
        return bad(format!("`{shown}` ends with a dot"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad(format!("`{shown}` is an IP address, not a name"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad(format!(
                "`{shown}` has an empty label (`..` or a leading dot)"
            ));
        }
        if label.len() > 63 {
            return bad(format!(
                "the label `{label}` of `{shown}` is {} characters long; the most is 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return bad(if c.is_ascii_uppercase() {
                format!("`{shown}` has upper-case letters; write host names in lower case")
            } else {
                format!(
                    "`{shown}` contains `{}`: only letters, digits and hyphens are allowed",
                    c.escape_debug()
                )
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(format!(
                "the label `{label}` of `{shown}` starts or ends with a hyphen"
            ));
        }
    }
    Ok(())
}

const NAME_HELP: &str = "RFC 1123: letters a-z, digits and hyphens, e.g. `web-01`";

impl Kind for Hostname {
    const KIND: &'static str = "hostname";
    type Fact = HostnameFact;

    fn name(&self) -> String {
        ADDRESS_NAME.into()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        // The kernel keeps at most 64 bytes (HOST_NAME_MAX).
        if let Err(e) = check_host_name("name", &self.name, 64) {
            errs.push(e);
        }
        if let Some(f) = &self.fqdn {
            if let Err(e) = check_host_name("fqdn", f, 253) {
                errs.push(e);
            } else if f != &self.name && !f.starts_with(&format!("{}.", self.name)) {
                errs.push(
                    Invalid::field(
                        "fqdn",
                        format!("`{f}` does not start with the host name `{}.`", self.name),
                    )
                    .help(format!(
                        "the first label of the FQDN is the host name, e.g. `{}.example.com`",
                        self.name
                    )),
                );
            } else if !f.contains('.') {
                errs.push(
                    Invalid::field("fqdn", format!("`{f}` has no domain"))
                        .help("a fully qualified name has a domain, e.g. `web-01.example.com`"),
                );
            }
            if !self.manage_hosts {
                errs.push(
                    Invalid::field("fqdn", "`fqdn` has no effect with `manage_hosts: false`")
                        .help("the FQDN is only written to the 127.0.1.1 line of /etc/hosts"),
                );
            }
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![
                Ref::Path("/etc/hostname".into()),
                Ref::Path("/etc/hosts".into()),
            ],
            needs: Vec::new(),
        }
    }

    fn probe(&self) -> String {
        Script::new(include_str!("hostname/probe.sh"))
            .flag("keel_hosts", self.manage_hosts)
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<HostnameFact, FactError> {
        let text = &out.stdout;
        let running = kv(text, "running")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| match out.stderr.trim() {
                "" => "the probe printed no running host name".to_string(),
                e => e.to_string(),
            })?;
        let static_name = kv(text, "static")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        let hosts_names = kv(text, "hosts_line").map(|l| {
            l.split_whitespace()
                .skip(1)
                .take_while(|w| !w.starts_with('#'))
                .map(String::from)
                .collect()
        });
        Ok(HostnameFact {
            running: running.to_string(),
            static_name,
            hosts_file: kv(text, "hosts") == Some("present"),
            hosts_names,
        })
    }

    fn plan(&self, fact: &HostnameFact) -> Planned {
        let drift = self.drift(fact);
        if drift.is_empty() {
            return Planned::only(Diff::noop().reason(format!("the host is named {}", self.name)));
        }
        let mut diff = self.diff(&drift);
        if drift.hosts.is_some() && !fact.hosts_file {
            diff = diff.reason("/etc/hosts does not exist: it will be created");
        }
        Planned::new(diff, self.commands(&drift))
    }
}

/// What differs between the wanted names and the live ones; each part
/// holds what the host has now.
#[derive(Debug, Default, PartialEq, Eq)]
struct Drift {
    /// The kernel's name, when it is not the wanted one.
    running: Option<String>,
    /// The name in `/etc/hostname` (`None`: absent), when it differs.
    static_name: Option<Option<String>>,
    /// The names of the `127.0.1.1` line (`None`: no line), when they
    /// differ and `/etc/hosts` is managed.
    hosts: Option<Option<Vec<String>>>,
}

impl Drift {
    fn is_empty(&self) -> bool {
        *self == Drift::default()
    }
}

impl Hostname {
    /// Compare each part of the host's names with the wanted ones.
    fn drift(&self, fact: &HostnameFact) -> Drift {
        let want_hosts = self.hosts_names();
        Drift {
            running: (fact.running != self.name).then(|| fact.running.clone()),
            static_name: (fact.static_name.as_deref() != Some(&*self.name))
                .then(|| fact.static_name.clone()),
            hosts: (self.manage_hosts && fact.hosts_names.as_ref() != Some(&want_hosts))
                .then(|| fact.hosts_names.clone()),
        }
    }

    /// The plan's rendering of a drift: one attribute per part.
    fn diff(&self, drift: &Drift) -> Diff {
        let mut d = Diff::with_action(Action::Update);
        if let Some(running) = &drift.running {
            d = d.attr("hostname", Some(running.as_str()), Some(&*self.name));
        }
        if let Some(before) = &drift.static_name {
            d = d.attr("/etc/hostname", before.as_deref(), Some(&*self.name));
        }
        if let Some(before) = &drift.hosts {
            d = d.attr(
                "/etc/hosts 127.0.1.1",
                before.as_ref().map(|n| n.join(" ")),
                Some(self.hosts_names().join(" ")),
            );
        }
        d
    }

    /// The commands that close a drift: the name (kernel and static are
    /// set together), then the hosts line.
    fn commands(&self, drift: &Drift) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if drift.running.is_some() || drift.static_name.is_some() {
            cmds.push(Cmd::new(
                format!("set the host name to {}", self.name),
                self.set_name_script(),
            ));
        }
        if drift.hosts.is_some() {
            cmds.push(Cmd::new(
                format!(
                    "set the 127.0.1.1 line of /etc/hosts to {}",
                    self.hosts_names().join(" ")
                ),
                self.hosts_script("/etc/hosts"),
            ));
        }
        cmds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};
    use crate::shell::q;

    const Y: &str = "name: web-01\nfqdn: web-01.example.com\n";

    fn probe(running: &str, stat: Option<&str>, hosts: Option<&str>) -> String {
        let mut s = format!("running={running}\n");
        if let Some(st) = stat {
            s.push_str(&format!("static={st}\n"));
        }
        s.push_str("hosts=present\n");
        if let Some(h) = hosts {
            s.push_str(&format!("hosts_line={h}\n"));
        }
        s
    }

    #[test]
    fn fresh_host_gets_every_part() {
        let e = eval("hostname", Y, &probe("web1", Some("web1"), None));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("hostname", Some("web1"), Some("web-01")),
                AttrChange::new("/etc/hostname", Some("web1"), Some("web-01")),
                AttrChange::new(
                    "/etc/hosts 127.0.1.1",
                    None::<String>,
                    Some("web-01.example.com web-01")
                ),
            ]
        );
        let summaries: Vec<_> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "set the host name to web-01",
                "set the 127.0.1.1 line of /etc/hosts to web-01.example.com web-01"
            ]
        );
    }

    #[test]
    fn converged_host_is_noop() {
        let e = eval(
            "hostname",
            Y,
            &probe(
                "web-01",
                Some("web-01"),
                Some("127.0.1.1\tweb-01.example.com   web-01  # set by the installer"),
            ),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
        // Without fqdn, the line holds the name only.
        let e = eval(
            "hostname",
            "name: web-01\n",
            &probe("web-01", Some("web-01"), Some("127.0.1.1 web-01")),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        // manage_hosts: false never looks at /etc/hosts.
        let r = load("hostname", "name: web-01\nmanage_hosts: false\n");
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(!out.stdout.contains("hosts"), "{}", out.stdout);
        let e = r
            .evaluate(&ProbeOutput::ok("running=web-01\nstatic=web-01\n"))
            .unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn drift_shows_each_part() {
        let e = eval(
            "hostname",
            Y,
            &probe(
                "web-01",
                Some("oops"),
                Some("127.0.1.1 old.example.com old"),
            ),
        );
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("/etc/hostname", Some("oops"), Some("web-01")),
                AttrChange::new(
                    "/etc/hosts 127.0.1.1",
                    Some("old.example.com old"),
                    Some("web-01.example.com web-01")
                ),
            ]
        );
        // Only the hosts line differs: only that command.
        let e = eval(
            "hostname",
            Y,
            &probe("web-01", Some("web-01"), Some("127.0.1.1 web-01")),
        );
        assert_eq!(e.commands.len(), 1);
        assert!(e.commands[0].summary.contains("/etc/hosts"));
        // Only the kernel's name differs: only the name is set.
        let e = eval(
            "hostname",
            Y,
            &probe(
                "old",
                Some("web-01"),
                Some("127.0.1.1 web-01.example.com web-01"),
            ),
        );
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new("hostname", Some("old"), Some("web-01"))]
        );
        let summaries: Vec<_> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(summaries, ["set the host name to web-01"]);
        // An empty /etc/hostname, and no /etc/hosts at all.
        let e = eval("hostname", Y, "running=web-01\nstatic=\nhosts=absent\n");
        assert_eq!(e.diff.attrs[0].before, None);
        assert!(e.diff.reason.unwrap().contains("will be created"));
    }

    #[test]
    fn odd_probe_output() {
        let r = load("hostname", Y);
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        let err = r
            .evaluate(&ProbeOutput {
                stdout: String::new(),
                stderr: "uname: not found\n".into(),
                status: 0,
            })
            .unwrap_err();
        assert_eq!(err, "uname: not found");
        // A 127.0.1.1 line with no name at all.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "running=web-01\r\nstatic=web-01\r\nhosts=present\nhosts_line=127.0.1.1\n",
            ))
            .unwrap();
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new(
                "/etc/hosts 127.0.1.1",
                Some(""),
                Some("web-01.example.com web-01")
            )]
        );
    }

    #[test]
    fn validation_errors() {
        let err = |y: &str| try_load("hostname", y).unwrap_err();
        assert!(err("name: -bad_name-\n").contains("contains `_`"));
        assert!(err("name: -bad\n").contains("hyphen"));
        assert!(err("name: bad-\n").contains("hyphen"));
        assert!(err("name: Web01\n").contains("lower case"));
        assert!(err("name: ''\n").contains("empty"));
        assert!(err("name: a..b\n").contains("empty label"));
        assert!(err("name: web.\n").contains("ends with a dot"));
        assert!(err("name: 10.0.0.1\n").contains("IP address"));
        assert!(err("name: \"a b\"\n").contains("contains ` `"));
        assert!(err("name: \"a;$(x)\"\n").contains("contains `;`"));
        assert!(err(&format!("name: {}\n", "a".repeat(64))).contains("label"));
        assert!(err(&format!("name: {}.b\n", "a".repeat(63))).contains("the most is 64"));
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(err(&format!("name: web\nfqdn: web.{long}\n")).contains("the most is 253"));
        assert!(err("name: web\nfqdn: db.example.com\n").contains("does not start with"));
        assert!(err("name: web\nfqdn: web\n").contains("no domain"));
        assert!(
            err("name: web\nfqdn: web.example.com\nmanage_hosts: false\n").contains("no effect")
        );
        assert!(err("name: web\nhost: x\n").contains("unknown"));
        assert!(try_load("hostname", "name: 0web-1\n").is_ok());
        assert!(try_load("hostname", "name: web.example.com\n").is_ok());
        assert!(try_load("hostname", &format!("name: {}\n", "a".repeat(63))).is_ok());
    }

    #[test]
    fn address_is_constant() {
        assert_eq!(load("hostname", Y).name(), "system");
        assert_eq!(load("hostname", "name: db\n").name(), "system");
    }

    /// The /etc/hosts edit and the file replacement, run locally on a copy.
    fn run_hosts_edit(r: &Hostname, path: &std::path::Path) {
        let script = r.hosts_script(path.to_str().unwrap());
        let out = run_local(&format!("set -e\n{script}"));
        assert_eq!(out.status, 0, "{}", out.stderr);
    }

    fn hn(y: &str) -> Hostname {
        crate::node::Node::parse(y)
            .unwrap()
            .deserialize()
            .unwrap()
    }

    #[test]
    fn hosts_edit_replaces_only_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        let r = hn(Y);
        // Replaced in place; other lines (and a missing final newline) kept.
        std::fs::write(
            &path,
            "127.0.0.1\tlocalhost\n127.0.1.1\told\n::1 localhost ip6-localhost\n10.0.0.5 web1",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        run_hosts_edit(&r, &path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "127.0.0.1\tlocalhost\n127.0.1.1\tweb-01.example.com\tweb-01\n::1 localhost ip6-localhost\n10.0.0.5 web1"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        // Added after 127.0.0.1 (Docker's /etc/hosts has no 127.0.1.1 line).
        std::fs::write(
            &path,
            "127.0.0.1\tlocalhost\n::1\tlocalhost\n172.17.0.2\tweb1\n",
        )
        .unwrap();
        run_hosts_edit(&r, &path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "127.0.0.1\tlocalhost\n127.0.1.1\tweb-01.example.com\tweb-01\n::1\tlocalhost\n172.17.0.2\tweb1\n"
        );
        // No loopback line: added first. Missing file: created.
        std::fs::write(&path, "10.0.0.1 a\n").unwrap();
        run_hosts_edit(&r, &path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "127.0.1.1\tweb-01.example.com\tweb-01\n10.0.0.1 a\n"
        );
        std::fs::remove_file(&path).unwrap();
        run_hosts_edit(&hn("name: web-01\n"), &path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "127.0.0.1\tlocalhost\n127.0.1.1\tweb-01\n"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn rewrite_follows_links_and_keeps_values_inert() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("it's $(touch pwned) `x`; real");
        let link = dir.path().join("link");
        std::fs::write(&real, "old\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let script = rewrite_file(link.to_str().unwrap(), "printf '%s\\n' \"$keel_v\"");
        let value = "new 'q' \"dq\" $(touch pwned) `id`; \\";
        let out = run_local(&format!("set -e\nkeel_v={}\n{script}", q(value)));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&real).unwrap(),
            format!("{value}\n")
        );
        assert!(!std::path::Path::new("pwned").exists());
        assert!(!dir.path().join("pwned").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn probe_runs_locally() {
        // Read-only and parseable on this machine, whatever its names are.
        let r = load("hostname", Y);
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        let e = r.evaluate(&out).unwrap();
        let running = run_local("uname -n").stdout.trim().to_string();
        if running == "web-01" {
            return;
        }
        assert_eq!(e.diff.attrs[0].before.as_deref(), Some(running.as_str()));
    }
}
