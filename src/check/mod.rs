//! Running checks: what must hold after apply (the `check` kind,
//! [`crate::resources::check`]), for `keel apply` and `keel verify`.
//!
//! Each check runs on its side: `http` and `tcp` from this process (the
//! outside view: a TCP connect with tokio, an HTTP(S) GET with rustls on
//! the blocking pool), `command`, `unit` and `container` on the host over
//! its transport. A check makes `1 + retries` attempts at most, `interval`
//! seconds apart, each bounded by `timeout`; it stops at the first that
//! passes. Every attempt's outcome is kept (status, a body excerpt, the
//! error) so a failure shows what each try saw. Everything reported goes
//! through the session's redactor: a secret in a URL, a command or an
//! answer is masked.

pub mod http;
mod x509;

use crate::plan::HostWork;
use crate::plan::Masker;
use crate::resources::check::{Check, PortState, Probe};
use crate::secret::{Redactor, Secret};
use crate::shell::Script;
use crate::transport::Transport;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One try of a check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: u32,
    pub passed: bool,
    /// What was seen: `status 200`, `connection refused`, the error.
    pub detail: String,
}

/// A check's result on one host.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub host: String,
    /// `check[NAME]`.
    pub address: String,
    /// `http`, `tcp`, `command`, `unit`, `container`.
    pub kind: String,
    /// `keel` (this machine) or `host`.
    pub runs_on: String,
    /// What it checks, one line.
    pub what: String,
    pub passed: bool,
    pub attempts: Vec<Attempt>,
}

impl CheckReport {
    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }
}

/// The checks among a host's resolved resources, in declaration order.
pub fn checks_of(w: &HostWork) -> Vec<(String, Check)> {
    checks_in(&w.resolved)
}

/// Every value rendered from a secret among a host's resolved resources.
pub fn tainted_in(resolved: &crate::resolve::Resolved) -> Vec<Secret> {
    resolved
        .instances
        .iter()
        .flat_map(|i| i.tainted.iter().cloned())
        .collect()
}

pub fn checks_in(resolved: &crate::resolve::Resolved) -> Vec<(String, Check)> {
    resolved
        .instances
        .iter()
        .filter_map(|i| {
            i.resource
                .as_any()
                .downcast_ref::<Check>()
                .map(|c| (i.address.clone(), c.clone()))
        })
        .collect()
}

/// Run a host's checks one after the other (they are few, and a port
/// check must not race a unit check of the same service).
///
/// Reports are masked as plans are: every secret value (`redactor`) and
/// every value rendered from one on the host (`tainted`: a check's command
/// or URL built with `sha256` or `replace` of a secret).
pub async fn run_host(
    host: &str,
    host_address: &str,
    checks: &[(String, Check)],
    transport: Option<Arc<dyn Transport>>,
    redactor: &Redactor,
    tainted: &[Secret],
) -> Vec<CheckReport> {
    let masker = Masker { redactor, tainted };
    let mut out = Vec::new();
    for (address, check) in checks {
        out.push(
            run_check(
                host,
                host_address,
                address,
                check,
                transport.as_deref(),
                &masker,
            )
            .await,
        );
    }
    out
}

/// Run one check with its retries.
pub async fn run_check(
    host: &str,
    host_address: &str,
    address: &str,
    check: &Check,
    transport: Option<&dyn Transport>,
    masker: &Masker<'_>,
) -> CheckReport {
    let redactor = masker.redactor;
    let probe = check.probe_kind();
    let mut report = CheckReport {
        host: host.to_string(),
        address: masker.mask(address),
        kind: probe.map_or("none", |p| p.key()).to_string(),
        runs_on: if probe.is_some_and(|p| p.runs_from_keel()) {
            "keel".into()
        } else {
            "host".into()
        },
        what: masker.mask(&describe(check, host_address)),
        passed: false,
        attempts: Vec::new(),
    };
    let Some(probe) = probe else {
        return report;
    };
    let timeout = Duration::from_secs_f64(check.timeout);
    for n in 1..=check.attempts() {
        if n > 1 {
            tokio::time::sleep(Duration::from_secs_f64(check.interval)).await;
        }
        let (passed, detail) = match tokio::time::timeout(
            timeout + Duration::from_secs(2),
            attempt(probe, host_address, timeout, transport, redactor),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => (false, format!("no result within {}", secs(timeout))),
        };
        tracing::info!(
            host,
            check = address,
            attempt = n,
            passed,
            "{}",
            masker.mask(&detail)
        );
        report.attempts.push(Attempt {
            attempt: n,
            passed,
            detail: masker.mask(&detail),
        });
        if passed {
            report.passed = true;
            break;
        }
    }
    report
}

fn describe(check: &Check, host_address: &str) -> String {
    match check.probe_kind() {
        Some(Probe::Tcp(t)) if t.host.is_none() => {
            let state = if t.state == PortState::Open {
                "open"
            } else {
                "closed"
            };
            format!("tcp {host_address}:{} {state}", t.port)
        }
        _ => check.describe(),
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// One try: whether it passed, and what it saw (secrets masked in what
/// the host or server said before it is cut to an excerpt on one line:
/// a secret split across its lines is masked too).
async fn attempt(
    probe: Probe<'_>,
    host_address: &str,
    timeout: Duration,
    transport: Option<&dyn Transport>,
    redactor: &Redactor,
) -> (bool, String) {
    match probe {
        Probe::Tcp(t) => {
            let host = t.host.as_deref().unwrap_or(host_address);
            tcp(host, t.port, t.state, timeout).await
        }
        Probe::Http(h) => {
            let url = match http::Url::parse(&h.url) {
                Ok(u) => u,
                Err(e) => return (false, e),
            };
            let trust = if h.insecure {
                http::Trust::Insecure
            } else if let Some(pem) = &h.ca_pem {
                http::Trust::Ca(pem.clone())
            } else {
                http::Trust::System
            };
            let spec = h.clone();
            match tokio::task::spawn_blocking(move || http::get(&url, &trust, timeout)).await {
                Ok(Ok(resp)) => judge_http(&spec, &resp, now(), redactor),
                Ok(Err(e)) => (false, e),
                Err(e) => (false, format!("internal error: {e}")),
            }
        }
        Probe::Command(_, _) | Probe::Unit(_) | Probe::Container(_) => {
            let Some(t) = transport else {
                return (false, "no connection to the host".into());
            };
            let script = host_script(probe, timeout);
            match t.run(&script).await {
                Ok(out) => judge_host(
                    probe,
                    out.status,
                    &redactor.redact(&out.stdout_text()),
                    &redactor.redact(&out.stderr_text()),
                ),
                Err(e) => (false, e.to_string()),
            }
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Connect from this process. `closed` passes when nothing accepts the
/// connection: refused, or no answer in time (a firewall that drops).
async fn tcp(host: &str, port: u16, want: PortState, timeout: Duration) -> (bool, String) {
    let started = Instant::now();
    // A name that does not resolve says nothing about the port: a failure
    // either way.
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return (false, format!("cannot resolve {host}: {e}")),
            Err(_) => return (false, format!("cannot resolve {host} in time")),
        };
    if addrs.is_empty() {
        return (false, format!("{host} has no address"));
    }
    // Every address in turn (`localhost` is ::1 and 127.0.0.1): the port
    // answers when one of them accepts.
    let left = timeout.saturating_sub(started.elapsed());
    let seen = match tokio::time::timeout(left, tokio::net::TcpStream::connect(&addrs[..])).await {
        Ok(Ok(_)) => Ok(format!("port {port} on {host} answers")),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(format!("port {port} on {host}: connection refused"))
        }
        Ok(Err(e)) => Err(format!("port {port} on {host}: {e}")),
        Err(_) => Err(format!(
            "port {port} on {host}: no answer within {}",
            secs(started.elapsed())
        )),
    };
    match (want, seen) {
        (PortState::Open, Ok(d)) => (true, d),
        (PortState::Open, Err(d)) => (false, d),
        (PortState::Closed, Ok(d)) => (false, format!("{d}, but it must be closed")),
        (PortState::Closed, Err(d)) => (true, d),
    }
}

/// Status, headers, body and certificate against what the check wants;
/// the body excerpt shown is cut from the body with its secrets masked.
pub fn judge_http(
    h: &crate::resources::check::Http,
    r: &http::Response,
    now: i64,
    redactor: &Redactor,
) -> (bool, String) {
    let mut seen = format!("status {}", r.status);
    let mut problems = Vec::new();
    if r.status != h.status {
        problems.push(format!("expected status {}", h.status));
    }
    for (name, want) in &h.headers {
        match r.header(name) {
            Some(v) if v.contains(want.as_str()) => {}
            Some(v) => problems.push(format!("header {name}: {v:?} lacks {want:?}")),
            None => problems.push(format!("no header {name}")),
        }
    }
    if let Some(want) = &h.body
        && !r.body.contains(want.as_str())
    {
        problems.push(format!("body lacks {want:?}"));
    }
    if let Some(min) = h.tls_min_days {
        match r.cert_not_after {
            Some(t) => {
                let days = (t - now).div_euclid(86_400);
                seen.push_str(&format!(", certificate expires in {days} days"));
                if days < i64::from(min) {
                    problems.push(format!(
                        "certificate expires in {days} days, at least {min} wanted"
                    ));
                }
            }
            None => problems.push("cannot read the certificate's expiry".into()),
        }
    }
    if problems.is_empty() {
        (true, seen)
    } else {
        let body = http::excerpt(&redactor.redact(&r.body), 200);
        if !body.is_empty() {
            seen.push_str(&format!(", body: {body:?}"));
        }
        (false, format!("{}; {seen}", problems.join("; ")))
    }
}

/// The script a host-side check runs: read-only, every value quoted.
pub fn host_script(probe: Probe<'_>, timeout: Duration) -> String {
    let (check, arg) = match probe {
        Probe::Command(c, _) => ("command", c),
        Probe::Unit(u) => ("unit", u),
        Probe::Container(c) => ("container", c),
        Probe::Http(_) | Probe::Tcp(_) => return ":".into(),
    };
    Script::new(include_str!("host.sh"))
        .set("keel_secs", timeout.as_secs().max(1).to_string())
        .set("keel_check", check)
        .set("keel_arg", arg)
        .render()
}

/// Judge what a host-side script printed.
pub fn judge_host(
    probe: Probe<'_>,
    status: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> (bool, String) {
    let said = http::excerpt(&format!("{} {}", stdout.trim(), stderr.trim()), 300);
    let with_output = |s: String| {
        if said.is_empty() {
            s
        } else {
            format!("{s}: {said}")
        }
    };
    match probe {
        Probe::Command(_, want) => {
            let passed = status == Some(want);
            let seen = match status {
                Some(124) => format!("timed out (exit 124), expected {want}"),
                Some(s) if passed => format!("exit {s}"),
                Some(s) => format!("exit {s}, expected {want}"),
                None => "killed by a signal".into(),
            };
            (passed, with_output(seen))
        }
        Probe::Unit(u) => {
            let state = stdout.trim();
            let passed = status == Some(0) && state == "active";
            if passed {
                (true, format!("{u} is active"))
            } else {
                (false, with_output(format!("{u} is not active")))
            }
        }
        Probe::Container(c) => {
            let mut words = stdout.split_whitespace();
            let (state, health) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            if status != Some(0) {
                return (false, with_output(format!("cannot inspect container {c}")));
            }
            let passed = state == "running" && (health == "healthy" || health == "none");
            let seen = if health == "none" {
                format!("{c}: {state} (no health check)")
            } else {
                format!("{c}: {state}, {health}")
            };
            (passed, seen)
        }
        Probe::Http(_) | Probe::Tcp(_) => (false, "not a host-side check".into()),
    }
}

/// A host as `keel verify` sees it: its connection and its checks, with
/// the stack resolved for it (no probe: nothing but the checks runs).
pub struct Target {
    pub host: String,
    pub address: String,
    pub transport: Option<Arc<dyn Transport>>,
    pub checks: Vec<(String, Check)>,
    /// Values rendered from a secret on this host (see [`run_host`]).
    pub tainted: Vec<Secret>,
    pub error: Option<String>,
}

/// Human text of check reports: one line per check, every attempt of a
/// failed one.
pub fn render(reports: &[CheckReport]) -> String {
    use console::style;
    let mut out = String::new();
    for r in reports {
        let mark = if r.passed {
            style("✓").green().bold().to_string()
        } else {
            style("✗").red().bold().to_string()
        };
        let last = r.last().map(|a| a.detail.as_str()).unwrap_or("not run");
        out.push_str(&format!(
            "  {mark} {:<12} {}  {}\n",
            r.host,
            style(&r.address).bold(),
            style(format!("({}, from {})", r.what, r.runs_on)).dim()
        ));
        if r.passed {
            out.push_str(&format!("      {last}\n"));
        } else {
            for a in &r.attempts {
                out.push_str(&format!("      attempt {}: {}\n", a.attempt, a.detail));
            }
        }
    }
    out
}

/// `check[x] on web1: <last attempt>` for each failed check.
pub fn failures(reports: &[CheckReport]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            format!(
                "{} on {} failed after {} attempt{}: {}",
                r.address,
                r.host,
                r.attempts.len(),
                if r.attempts.len() == 1 { "" } else { "s" },
                r.last().map_or("not run", |a| a.detail.as_str())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
