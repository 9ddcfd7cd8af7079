//! The `check` kind: something that must hold once a stack is applied —
//! an HTTP(S) endpoint, a TCP port open or **closed**, a command's exit
//! status, a systemd unit active, a container healthy.
//!
//! ```yaml
//! - check:
//!     name: api-health                  # address `check[api-health]` (default: what it checks)
//!     http:
//!       url: https://api.example.com/health
//!       status: 200                     # default 200
//!       body: '"status":"ok"'           # a substring the body must contain
//!       headers: { content-type: json } # response headers that must contain these values
//!       tls_min_days: 14                # certificate valid for at least 14 more days
//!       ca_file: certs/internal-ca.pem  # trust this CA (a file beside the stack) …
//!       insecure: false                 # … or skip verification (self-signed): explicit
//!     retries: 5                        # attempts after the first (default 0)
//!     interval: 2                       # seconds between attempts (default 2)
//!     timeout: 10                       # seconds per attempt (default 10)
//! - check: { tcp: { port: 5432, state: closed } }     # host: the inventory's address
//! - check: { tcp: { host: db.internal, port: 5432 } } # state: open (default)
//! - check: { command: "test -s /srv/app/.env", exit_code: 0 }
//! - check: { unit: nginx }                            # systemd unit active
//! - check: { container: app-db }                      # docker: running, healthy if it has a health check
//! ```
//!
//! **Which side runs it.** `http` and `tcp` run from the machine keel runs
//! on — the outside view of a server (a port the firewall closes must not
//! answer there, whatever the host itself sees). `command`, `unit` and
//! `container` run on the host, over the transport, like a probe; the
//! command text is passed to the host's `sh -c` as one quoted word.
//!
//! **A check never changes anything.** Its probe reads nothing and its
//! diff is always "no change" (so `plan --detailed-exitcode` never reports
//! drift for it); the plan lists it as a check to run after apply. `keel
//! apply` runs every check of a host once its changes are applied and
//! re-probed, and fails naming the check and its last attempt; `keel
//! verify` runs them alone. The runner is [`crate::check`].

use super::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// An HTTP(S) request and what its answer must be.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub url: String,
    #[serde(default = "ok_status")]
    pub status: u16,
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub tls_min_days: Option<u32>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    /// The PEM text of `ca_file`, read at load time.
    #[serde(skip)]
    pub ca_pem: Option<String>,
}

fn ok_status() -> u16 {
    200
}

/// Whether a TCP port must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    #[default]
    Open,
    Closed,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    /// Default: the inventory's address of the host.
    pub host: Option<String>,
    pub port: u16,
    #[serde(default)]
    pub state: PortState,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: Option<String>,
    pub http: Option<Http>,
    pub tcp: Option<Tcp>,
    pub command: Option<String>,
    /// The exit status `command` must end with.
    #[serde(default)]
    pub exit_code: i32,
    pub unit: Option<String>,
    pub container: Option<String>,
    #[serde(default)]
    pub retries: u32,
    #[serde(default = "default_interval")]
    pub interval: f64,
    #[serde(default = "default_timeout")]
    pub timeout: f64,
}

fn default_interval() -> f64 {
    2.0
}
fn default_timeout() -> f64 {
    10.0
}

/// What a check tests, typed: the runner matches on this.
#[derive(Debug, Clone, Copy)]
pub enum Probe<'a> {
    Http(&'a Http),
    Tcp(&'a Tcp),
    Command(&'a str, i32),
    Unit(&'a str),
    Container(&'a str),
}

impl Probe<'_> {
    /// The key of the setting: `http`, `tcp`, …
    pub fn key(&self) -> &'static str {
        match self {
            Probe::Http(_) => "http",
            Probe::Tcp(_) => "tcp",
            Probe::Command(..) => "command",
            Probe::Unit(_) => "unit",
            Probe::Container(_) => "container",
        }
    }
    /// Runs on the machine keel runs on (not on the host).
    pub fn runs_from_keel(&self) -> bool {
        matches!(self, Probe::Http(_) | Probe::Tcp(_))
    }
}

impl Check {
    /// The one thing this check tests (`check()` makes sure there is one).
    pub fn probe_kind(&self) -> Option<Probe<'_>> {
        let mut all = self.all_probes();
        (all.len() == 1).then(|| all.remove(0))
    }

    fn all_probes(&self) -> Vec<Probe<'_>> {
        let mut v = Vec::new();
        if let Some(h) = &self.http {
            v.push(Probe::Http(h));
        }
        if let Some(t) = &self.tcp {
            v.push(Probe::Tcp(t));
        }
        if let Some(c) = &self.command {
            v.push(Probe::Command(c, self.exit_code));
        }
        if let Some(u) = &self.unit {
            v.push(Probe::Unit(u));
        }
        if let Some(c) = &self.container {
            v.push(Probe::Container(c));
        }
        v
    }

    /// One line saying what is checked, for plans and reports.
    pub fn describe(&self) -> String {
        match self.probe_kind() {
            Some(Probe::Http(h)) => {
                let mut s = format!("GET {} → {}", h.url, h.status);
                if let Some(b) = &h.body {
                    s.push_str(&format!(", body contains {b:?}"));
                }
                for (k, v) in &h.headers {
                    s.push_str(&format!(", {k}: {v:?}"));
                }
                if let Some(d) = h.tls_min_days {
                    s.push_str(&format!(", certificate valid ≥ {d} days"));
                }
                s
            }
            Some(Probe::Tcp(t)) => {
                let state = match t.state {
                    PortState::Open => "open",
                    PortState::Closed => "closed",
                };
                match &t.host {
                    Some(h) => format!("tcp {h}:{} {state}", t.port),
                    None => format!("tcp port {} {state} at the host's address", t.port),
                }
            }
            Some(Probe::Command(c, code)) => format!("`{c}` exits {code}"),
            Some(Probe::Unit(u)) => format!("unit {u} active"),
            Some(Probe::Container(c)) => format!("container {c} running and healthy"),
            None => "nothing".into(),
        }
    }

    pub fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }
}

impl Kind for Check {
    const KIND: &'static str = "check";
    type Fact = ();

    fn name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match self.probe_kind() {
            Some(Probe::Http(h)) => h.url.clone(),
            Some(Probe::Tcp(t)) => match &t.host {
                Some(h) => format!("{h}:{}", t.port),
                None => format!("port {}", t.port),
            },
            Some(Probe::Command(c, _)) => c.to_string(),
            Some(Probe::Unit(u)) => format!("unit {u}"),
            Some(Probe::Container(c)) => format!("container {c}"),
            None => "check".into(),
        }
    }

    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        if let Some(h) = &mut self.http
            && let Some(path) = &h.ca_file
        {
            let bytes = cx
                .read_local(path)
                .map_err(|e| vec![Invalid::field("http", e).at(["ca_file"])])?;
            let pem = String::from_utf8(bytes).map_err(|_| {
                vec![
                    Invalid::field("http", format!("`{path}` is not a PEM text file"))
                        .at(["ca_file"]),
                ]
            })?;
            h.ca_pem = Some(pem);
        }
        Ok(())
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let set = self.all_probes();
        if set.len() != 1 {
            let names: Vec<&str> = set.iter().map(Probe::key).collect();
            errs.push(
                Invalid::field(
                    "name",
                    if names.is_empty() {
                        "a `check` with nothing to check".to_string()
                    } else {
                        format!("a `check` tests one thing, this one sets {}", names.join(", "))
                    },
                )
                .help("set exactly one of `http`, `tcp`, `command`, `unit`, `container` (one check per thing)"),
            );
        }
        if self.exit_code != 0 && self.command.is_none() {
            errs.push(Invalid::field(
                "exit_code",
                "`exit_code` is for `command` checks",
            ));
        }
        for (field, v, max) in [
            ("interval", self.interval, 3600.0),
            ("timeout", self.timeout, 3600.0),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= max) {
                errs.push(
                    Invalid::field(
                        field,
                        format!("`{field}: {v}` is not a number of seconds from 0 to 3600"),
                    )
                    .help("write seconds, e.g. 2 or 0.5"),
                );
            }
        }
        if self.retries > 1000 {
            errs.push(Invalid::field("retries", "at most 1000 retries"));
        }
        if let Some(h) = &self.http {
            check_http(h, &mut errs);
        }
        if let Some(t) = &self.tcp {
            check_tcp(t, &mut errs);
        }
        if let Some(c) = &self.command
            && c.trim().is_empty()
        {
            errs.push(Invalid::field("command", "an empty command"));
        }
        for (field, v) in [("unit", &self.unit), ("container", &self.container)] {
            if let Some(v) = v
                && (v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.@:".contains(c)))
            {
                errs.push(Invalid::field(
                    field,
                    format!("`{v}` is not a {field} name"),
                ));
            }
        }
        errs
    }

    fn probe(&self) -> String {
        // Checks read nothing at plan time: they run after apply.
        ":".into()
    }

    fn parse(&self, _: &ProbeOutput) -> Result<(), FactError> {
        Ok(())
    }

    /// A check is never a change: it runs after apply, so the plan only
    /// says what it will test and from where.
    fn plan(&self, _fact: &()) -> Planned {
        let side = match self.probe_kind() {
            Some(p) if p.runs_from_keel() => "from keel's machine",
            _ => "on the host",
        };
        Planned::only(
            Diff::noop().reason(format!("check after apply ({side}): {}", self.describe())),
        )
    }
}

/// Value checks of an `http:` check.
fn check_http(h: &Http, errs: &mut Vec<Invalid>) {
    let scheme_ok = h.url.starts_with("http://") || h.url.starts_with("https://");
    if !scheme_ok || crate::url::Url::parse(&h.url).is_err() {
        errs.push(
            Invalid::field(
                "http",
                format!("`{}` is not an http:// or https:// URL", h.url),
            )
            .at(["url"])
            .help("write e.g. https://api.example.com/health"),
        );
    }
    if !(100..=599).contains(&h.status) {
        errs.push(
            Invalid::field("http", format!("`{}` is not an HTTP status", h.status)).at(["status"]),
        );
    }
    let tls_setting = h.tls_min_days.is_some() || h.ca_file.is_some() || h.insecure;
    if tls_setting && h.url.starts_with("http://") {
        errs.push(
            Invalid::field("http", "TLS settings on a plain http:// URL")
                .at(["url"])
                .help("use https://, or remove `tls_min_days`, `ca_file`, `insecure`"),
        );
    }
    if h.insecure && h.ca_file.is_some() {
        errs.push(
            Invalid::field(
                "http",
                "`insecure` skips verification: `ca_file` would be ignored",
            )
            .at(["insecure"])
            .help("keep one of them"),
        );
    }
    for k in h.headers.keys() {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            errs.push(
                Invalid::field("http", format!("`{k}` is not a header name"))
                    .at(["headers", k.as_str()]),
            );
        }
    }
}

/// Value checks of a `tcp:` check.
fn check_tcp(t: &Tcp, errs: &mut Vec<Invalid>) {
    if t.port == 0 {
        errs.push(Invalid::field("tcp", "port 0 is not a port").at(["port"]));
    }
    if let Some(h) = &t.host
        && (h.is_empty() || h.chars().any(|c| c.is_whitespace() || c == '/'))
    {
        errs.push(
            Invalid::field("tcp", format!("`{h}` is not a host name or address")).at(["host"]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, try_load};

    fn check_of(yaml: &str) -> Check {
        let r = load("check", yaml);
        r.as_any().downcast_ref::<Check>().unwrap().clone()
    }

    #[test]
    fn a_check_is_never_a_change() {
        for y in [
            "http: { url: https://example.com/health }\n",
            "tcp: { port: 2222, state: closed }\n",
            "command: \"test -e /etc/passwd\"\n",
            "unit: ssh\n",
            "container: db\n",
        ] {
            let e = eval("check", y, "");
            assert_eq!(e.diff.action(), Action::NoOp, "{y}");
            assert!(e.commands.is_empty(), "{y}");
            assert!(
                e.diff
                    .reason
                    .as_deref()
                    .unwrap()
                    .starts_with("check after apply"),
                "{y}"
            );
        }
    }

    #[test]
    fn names_and_sides() {
        assert_eq!(load("check", "tcp: { port: 80 }\n").name(), "port 80");
        assert_eq!(load("check", "unit: ssh\n").name(), "unit ssh");
        assert_eq!(
            load("check", "name: api\nhttp: { url: http://x/ }\n").name(),
            "api"
        );
        let c = check_of("tcp: { port: 5432, state: closed }\nretries: 2\n");
        assert!(c.probe_kind().unwrap().runs_from_keel());
        assert_eq!(c.attempts(), 3);
        assert_eq!(c.describe(), "tcp port 5432 closed at the host's address");
        assert!(
            !check_of("container: db\n")
                .probe_kind()
                .unwrap()
                .runs_from_keel()
        );
        let e = eval("check", "unit: ssh\n", "");
        assert_eq!(
            e.diff.reason.unwrap(),
            "check after apply (on the host): unit ssh active"
        );
    }

    #[test]
    fn bad_checks_are_refused_at_load() {
        let bad = |y: &str, want: &str| {
            let e = try_load("check", y).unwrap_err();
            assert!(e.contains(want), "{y}: {e}");
        };
        bad("name: x\n", "nothing to check");
        bad("unit: ssh\ncontainer: db\n", "sets unit, container");
        bad(
            "http: { url: ftp://x/ }\n",
            "not an http:// or https:// URL",
        );
        bad(
            "http: { url: \"https://\" }\n",
            "not an http:// or https:// URL",
        );
        bad(
            "http: { url: http://x/, tls_min_days: 3 }\n",
            "plain http://",
        );
        bad(
            "http: { url: https://x/, status: 42 }\n",
            "not an HTTP status",
        );
        bad(
            "http: { url: https://x/, insecure: true, ca_file: /nonexistent/ca.pem }\n",
            "cannot read",
        );
        bad("tcp: { port: 0 }\n", "port 0");
        bad("tcp: { port: 70000 }\n", "70000");
        bad("tcp: { port: 22, state: half }\n", "half");
        bad("unit: \"ssh; reboot\"\n", "not a unit name");
        bad("unit: ssh\nexit_code: 3\n", "for `command` checks");
        bad("unit: ssh\ntimeout: 0\n", "seconds from 0 to 3600");
        bad("unit: ssh\ninterval: -1\n", "seconds from 0 to 3600");
        bad("command: \"  \"\n", "empty command");
        bad("unit: ssh\nwhatever: 1\n", "whatever");
    }

    #[test]
    fn ca_file_is_read_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, include_str!("../check/testdata/cert.pem")).unwrap();
        let c = check_of(&format!(
            "http: {{ url: https://x/, ca_file: {} }}\n",
            ca.display()
        ));
        assert!(
            c.http
                .unwrap()
                .ca_pem
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
    }
}
