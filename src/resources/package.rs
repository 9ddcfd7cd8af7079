//! The `package` kind: a Debian/Ubuntu package installed (optionally at an
//! exact version) or removed, through `apt-get`.
//!
//! ```yaml
//! - package: { name: nginx }
//! - package: { name: nginx, version: "1.22.1-9" }
//! - package: { name: telnetd, state: absent, purge: true }
//! ```
//!
//! The fact is read with `dpkg-query` (cheap, no network, no lock): one line
//! `<status-abbrev>|<version>` per matching package, where the abbreviation
//! is dpkg's three characters (desired, current, error flag: `ii `, `rc `,
//! `un `, `iU `, `hi `, ...). No line at all (dpkg-query's "no packages found
//! matching", exit status 1) means never installed. When the package is to be
//! removed, the probe also asks apt for a simulation (`apt-get -s`) so the
//! plan can name the other packages the removal takes with it.
//!
//! `present` means installed at any version (an installed package is never
//! upgraded unless a `version` is pinned); the candidate version is not read.
//!
//! Package indexes: a kind cannot know about the run, so the install script
//! runs `apt-get update` itself only when it must — when the package lists
//! are missing (a fresh image) or more than a day old, or when the install
//! fails in a way stale lists explain ("Unable to locate package", a pinned
//! version "was not found", a 404 while fetching) and keel did not just
//! refresh them; then it retries once (see `common/apt/install.sh`).
//!
//! Plain installs are batchable ([`Kind::batch`]): apply runs the ready
//! ones of a host in one `apt-get install`.

use super::common::apt::{apt_install_many, apt_install_script, apt_prelude, check_package_name};
use super::*;
use crate::shell::{Script, q};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// A Debian/Ubuntu package managed with apt.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// The package name, optionally with an architecture (`libc6:i386`).
    pub name: String,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: PackageState,
    /// An exact version to hold the package at (`present` only), written as
    /// dpkg prints it, epoch included (`1:4.13+dfsg1-1`).
    #[serde(default)]
    pub version: Option<String>,
    /// With `state: absent`: also remove the configuration files.
    #[serde(default)]
    pub purge: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageState {
    #[default]
    Present,
    Absent,
}

/// What dpkg says about the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DpkgStatus {
    /// Not known to dpkg, or known but not installed (`un`, `pn`).
    NotInstalled,
    /// Removed, but its configuration files remain (`rc`).
    ConfigFiles,
    /// Left half-way by an interrupted or failed dpkg run (`iU`, `iF`,
    /// `iH`, or the reinstall-required flag).
    Broken,
    /// Installed (`ii`, `hi`; pending triggers count as installed).
    Installed,
}

/// The live state of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFact {
    pub status: DpkgStatus,
    /// dpkg's status abbreviation, trimmed (`ii`, `rc`, `iU`...), for messages.
    pub abbrev: String,
    /// The version dpkg records (installed, broken or config-files states).
    pub version: Option<String>,
    /// Marked `hold` (apt-mark hold): apt refuses to change its version.
    pub held: bool,
    /// Packages an `apt-get remove`/`purge` would remove (from a simulation;
    /// only probed for `state: absent`), including this one.
    pub would_remove: Vec<String>,
}

const LATEST: &str = "(latest from apt)";

/// A version that is not a Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a Debian version", .0.escape_debug())]
struct BadVersion(String);

/// Check a Debian version string: `[epoch:]upstream[-revision]` made of
/// letters, digits and `.+~-:`.
fn check_version(v: &str) -> Result<(), BadVersion> {
    let bad = || BadVersion(v.to_string());
    if v.is_empty()
        || !v
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".+~-:".contains(&c))
    {
        return Err(bad());
    }
    let upstream = match v.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() || !epoch.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            rest
        }
        None => v,
    };
    if !upstream.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(())
}

/// Compare two Debian versions the way dpkg does (epoch, then upstream
/// version, then revision, each with `verrevcmp`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) => (e.parse().unwrap_or(0), r),
            None => (0, v),
        };
        match rest.rfind('-') {
            Some(i) => (epoch, &rest[..i], &rest[i + 1..]),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(c),
            Some(b'~') => -1,
            Some(c) => i32::from(c) + 256,
        }
    }
    fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
                if ac != bc {
                    return ac.cmp(&bc);
                }
                i += 1;
                j += 1;
            }
            while a.get(i) == Some(&b'0') {
                i += 1;
            }
            while b.get(j) == Some(&b'0') {
                j += 1;
            }
            let mut first_diff = Ordering::Equal;
            while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
                if first_diff == Ordering::Equal {
                    first_diff = a[i].cmp(&b[j]);
                }
                i += 1;
                j += 1;
            }
            if i < a.len() && a[i].is_ascii_digit() {
                return Ordering::Greater;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                return Ordering::Less;
            }
            if first_diff != Ordering::Equal {
                return first_diff;
            }
        }
        Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

fn strip_epoch(v: &str) -> &str {
    v.split_once(':').map_or(v, |(_, rest)| rest)
}

/// Describe a dpkg status abbreviation for humans.
fn describe_abbrev(abbrev: &str) -> &'static str {
    let b = abbrev.as_bytes();
    if b.get(2) == Some(&b'R') {
        return "needs reinstalling";
    }
    match b.get(1) {
        Some(b'H') => "half-installed",
        Some(b'U') => "unpacked but not configured",
        Some(b'F') => "half-configured",
        Some(b'c') => "removed, configuration files remain",
        Some(b'n') => "not installed",
        _ => "installed",
    }
}

impl Package {
    fn pinned(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// `name` or `name=version` as apt wants it, quoted.
    fn apt_target(&self) -> String {
        match self.pinned() {
            Some(v) => q(&format!("{}={v}", self.name)),
            None => q(&self.name),
        }
    }

    /// The install script (see [`apt_install_script`]).
    fn install_script(&self, flags: &[&str]) -> String {
        let mut args: Vec<String> = vec!["install".into()];
        args.extend(flags.iter().map(|f| f.to_string()));
        args.push(self.apt_target());
        apt_install_script(&args.join(" "), None)
    }

    fn remove_script(&self) -> String {
        let verb = if self.purge { "purge" } else { "remove" };
        format!("{}keel_apt {verb} {}\n", apt_prelude(), q(&self.name))
    }

    /// Other packages the removal takes along, for the plan.
    fn collateral(&self, fact: &PackageFact) -> Vec<String> {
        let base = self.name.split(':').next().unwrap_or(&self.name);
        fact.would_remove
            .iter()
            .filter(|p| p.as_str() != self.name && p.split(':').next() != Some(base))
            .cloned()
            .collect()
    }
}

fn parse_line(line: &str) -> Result<(DpkgStatus, String, Option<String>, bool), FactError> {
    let (abbrev, version) = line
        .split_once('|')
        .ok_or_else(|| format!("unexpected dpkg-query output {line:?}"))?;
    let a = abbrev.as_bytes();
    if a.len() < 2 {
        return Err(format!("unexpected dpkg status {abbrev:?}").into());
    }
    let (desired, current, flag) = (a[0], a[1], a.get(2).copied().unwrap_or(b' '));
    if !b"uirhp".contains(&desired) {
        return Err(format!("unexpected dpkg status {abbrev:?}").into());
    }
    let mut status = match current {
        b'n' => DpkgStatus::NotInstalled,
        b'c' => DpkgStatus::ConfigFiles,
        b'H' | b'U' | b'F' => DpkgStatus::Broken,
        b'i' | b'W' | b't' => DpkgStatus::Installed,
        _ => return Err(format!("unexpected dpkg status {abbrev:?}").into()),
    };
    if flag == b'R' && status == DpkgStatus::Installed {
        status = DpkgStatus::Broken;
    }
    let version = version.trim();
    let version =
        (!version.is_empty() && status != DpkgStatus::NotInstalled).then(|| version.to_string());
    Ok((
        status,
        abbrev.trim_end().to_string(),
        version,
        desired == b'h',
    ))
}

impl Kind for Package {
    const KIND: &'static str = "package";
    type Fact = PackageFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if let Err(e) = check_package_name(&self.name) {
            errs.push(Invalid::field("name", e.to_string()).help(
                "Debian package names are lower-case letters, digits and `+.-`, \
                 at least two characters, starting with a letter or digit \
                 (optionally `:arch`, e.g. `libc6:i386`)",
            ));
        }
        if let Some(v) = &self.version {
            if let Err(e) = check_version(v) {
                errs.push(Invalid::field("version", e.to_string()).help(
                    "write the exact version as `apt-cache policy NAME` prints it, \
                     epoch included, e.g. \"1:4.13+dfsg1-1\" (quote it in YAML)",
                ));
            }
            if self.state == PackageState::Absent {
                errs.push(
                    Invalid::field("version", "`version` only applies with `state: present`")
                        .help("remove `version`, or set `state: present`"),
                );
            }
        }
        if self.purge && self.state == PackageState::Present {
            errs.push(
                Invalid::field("purge", "`purge` only applies with `state: absent`")
                    .help("set `state: absent` to remove the package and its configuration files"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![Ref::Package(self.name.clone())],
            needs: Vec::new(),
        }
    }

    fn probe(&self) -> String {
        let simulate = match (self.state, self.purge) {
            (PackageState::Present, _) => "",
            (PackageState::Absent, false) => "remove",
            (PackageState::Absent, true) => "purge",
        };
        Script::new(include_str!("package/probe.sh"))
            .set("keel_name", &self.name)
            .set("keel_simulate", simulate)
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<PackageFact, FactError> {
        match out.status {
            0 => {}
            // dpkg-query's own "no packages found matching NAME".
            1 if out.stdout.trim().is_empty() => {}
            s => {
                let err = out.stderr.trim();
                return Err(FactError::ProbeFailed {
                    status: s,
                    message: if err.is_empty() {
                        format!("dpkg-query failed (exit status {s})")
                    } else {
                        err.to_string()
                    },
                });
            }
        }
        let mut fact = PackageFact {
            status: DpkgStatus::NotInstalled,
            abbrev: "un".into(),
            version: None,
            held: false,
            would_remove: Vec::new(),
        };
        let mut best: Option<DpkgStatus> = None;
        for line in out.stdout.lines() {
            if let Some(rest) = line
                .strip_prefix("Remv ")
                .or_else(|| line.strip_prefix("Purg "))
            {
                if let Some(pkg) = rest.split_whitespace().next() {
                    fact.would_remove.push(pkg.to_string());
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let (status, abbrev, version, held) = parse_line(line)?;
            // Several lines for several architectures: the most installed wins.
            if best.is_none_or(|b| status > b) {
                best = Some(status);
                fact.status = status;
                fact.abbrev = abbrev;
                fact.version = version;
                fact.held = held;
            }
        }
        Ok(fact)
    }

    /// A plain install (not a repair, not a version change) joins the
    /// host's other plain installs in one `apt-get install`.
    fn batch(&self, fact: &PackageFact) -> Option<BatchItem> {
        let plain = self.state == PackageState::Present
            && matches!(
                fact.status,
                DpkgStatus::NotInstalled | DpkgStatus::ConfigFiles
            );
        plain.then(|| BatchItem {
            key: "apt-install",
            item: self.apt_target(),
            script: apt_install_many,
        })
    }

    fn plan(&self, fact: &PackageFact) -> Planned {
        let planned = self.plan_change(fact);
        if fact.held && !planned.commands.is_empty() {
            return self.refuse_held(planned);
        }
        planned
    }
}

impl Package {
    /// A held package (`apt-mark hold`): apt refuses every change to it
    /// (`Held packages were changed and -y was used without
    /// --allow-change-held-packages`), and overriding the hold would undo
    /// a decision made on the host. The plan keeps the change it would
    /// make, runs nothing, and fails saying how to go on.
    fn refuse_held(&self, planned: Planned) -> Planned {
        let name = &self.name;
        let why = format!(
            "is on hold (apt-mark hold): apt refuses to change it; run `apt-mark unhold {name}` on the host to let keel change it, or change the stack to match the host"
        );
        let mut diff = planned.diff;
        diff.error = Some(format!("{name} {why}"));
        Planned::only(diff)
    }

    /// The change the state calls for, before holds are considered.
    fn plan_change(&self, fact: &PackageFact) -> Planned {
        match (self.state, fact.status) {
            (PackageState::Present, DpkgStatus::NotInstalled | DpkgStatus::ConfigFiles) => {
                self.plan_install(fact)
            }
            (PackageState::Present, DpkgStatus::Broken) => self.plan_repair(fact),
            (PackageState::Present, DpkgStatus::Installed) => self.plan_version(fact),
            (PackageState::Absent, DpkgStatus::NotInstalled) => {
                Planned::only(Diff::noop().reason("not installed"))
            }
            (PackageState::Absent, DpkgStatus::ConfigFiles) => self.plan_config_files(),
            (PackageState::Absent, DpkgStatus::Installed | DpkgStatus::Broken) => {
                self.plan_removal(fact)
            }
        }
    }
}

impl Package {
    /// Not installed: install it (the pinned version, or apt's latest).
    fn plan_install(&self, fact: &PackageFact) -> Planned {
        let reason = if fact.status == DpkgStatus::ConfigFiles {
            "not installed (its configuration files remain from an earlier install)"
        } else {
            "not installed"
        };
        let diff = Diff::with_action(Action::Create)
            .attr(
                "version",
                None::<String>,
                Some(self.pinned().unwrap_or(LATEST)),
            )
            .reason(reason);
        let summary = match self.pinned() {
            Some(v) => format!("install {} {v}", self.name),
            None => format!("install {}", self.name),
        };
        Planned::new(diff, vec![Cmd::new(summary, self.install_script(&[]))])
    }

    /// Left half-way by dpkg: finish the interrupted runs, then install
    /// again (the pinned version when it differs).
    fn plan_repair(&self, fact: &PackageFact) -> Planned {
        let installed = fact.version.as_deref();
        let mut diff = Diff::with_action(Action::Update)
            .attr(
                "status",
                Some(describe_abbrev(&fact.abbrev)),
                Some("installed"),
            )
            .reason(format!(
                "dpkg left it {} (status `{}`), as after an interrupted install",
                describe_abbrev(&fact.abbrev),
                fact.abbrev
            ));
        if let Some(pin) = self.pinned()
            && installed.is_none_or(|v| compare_versions(v, pin) != Ordering::Equal)
        {
            diff = diff.attr("version", installed, Some(pin));
        }
        let mut cmds = vec![Cmd::new(
            "finish interrupted dpkg runs (dpkg --configure -a)",
            Script::new(include_str!("package/configure.sh")).render(),
        )];
        let b = fact.abbrev.as_bytes();
        let reinstall = b.get(1) == Some(&b'H') || b.get(2) == Some(&b'R');
        cmds.push(self.install_cmd(installed, reinstall));
        Planned::new(diff, cmds)
    }

    /// Installed: a no-op unless the pinned version differs.
    fn plan_version(&self, fact: &PackageFact) -> Planned {
        let installed = fact.version.as_deref().unwrap_or("");
        let Some(pin) = self
            .pinned()
            .filter(|pin| compare_versions(installed, pin) != Ordering::Equal)
        else {
            return Planned::only(Diff::noop().reason(format!("installed ({installed})")));
        };
        let mut reason = format!("version {installed} is installed");
        if !pin.contains(':')
            && installed.contains(':')
            && compare_versions(strip_epoch(installed), pin) == Ordering::Equal
        {
            let _ = write!(
                reason,
                "; apt needs the epoch: write `version: \"{installed}\"`"
            );
        }
        let diff = Diff::with_action(Action::Update)
            .attr("version", Some(installed), Some(pin))
            .reason(reason);
        Planned::new(diff, vec![self.install_cmd(fact.version.as_deref(), false)])
    }

    /// The install that repairs the package or moves it to the pinned
    /// version (up or down).
    fn install_cmd(&self, installed: Option<&str>, reinstall: bool) -> Cmd {
        let name = &self.name;
        let mut flags = Vec::new();
        if reinstall {
            flags.push("--reinstall");
        }
        let summary = match (self.pinned(), installed) {
            (Some(pin), Some(v)) if compare_versions(v, pin) != Ordering::Equal => {
                flags.push("--allow-downgrades");
                let verb = match compare_versions(pin, v) {
                    Ordering::Greater => "upgrade",
                    _ => "downgrade",
                };
                format!("{verb} {name} {v} → {pin}")
            }
            (Some(pin), _) => format!("repair {name} (install {pin})"),
            (None, _) => format!("repair {name}"),
        };
        Cmd::new(summary, self.install_script(&flags))
    }

    /// Removed, its configuration files left: purged with `purge: true`.
    fn plan_config_files(&self) -> Planned {
        if !self.purge {
            return Planned::only(Diff::noop().reason(
                "not installed (its configuration files remain; \
                 `purge: true` removes them)",
            ));
        }
        let diff = Diff::with_action(Action::Delete)
            .attr("config files", Some("present"), None::<String>)
            .reason("removed, but its configuration files remain");
        Planned::new(diff, vec![self.remove_cmd()])
    }

    /// Installed (or broken) and not wanted: removed, naming what apt takes
    /// along.
    fn plan_removal(&self, fact: &PackageFact) -> Planned {
        let installed = fact.version.as_deref();
        let mut d = Diff::with_action(Action::Delete).attr(
            "version",
            Some(installed.unwrap_or("(unknown)")),
            None::<String>,
        );
        if self.purge {
            d = d.attr("config files", Some("present"), None::<String>);
        }
        let others = self.collateral(fact);
        let reason = if others.is_empty() {
            format!("installed ({})", installed.unwrap_or("unknown version"))
        } else {
            format!(
                "installed; apt will also remove {} that depend on it: {}",
                if others.len() == 1 {
                    "1 package"
                } else {
                    "packages"
                },
                others.join(", ")
            )
        };
        Planned::new(d.reason(reason), vec![self.remove_cmd()])
    }

    fn remove_cmd(&self) -> Cmd {
        let verb = if self.purge { "purge" } else { "remove" };
        Cmd::new(format!("{verb} {}", self.name), self.remove_script())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax;
    use crate::resources::testing::{a, attrs};
    use crate::resources::testing::{eval, load, run_local, try_load};

    fn out(stdout: &str, stderr: &str, status: i32) -> ProbeOutput {
        ProbeOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
            status,
        }
    }

    fn summaries(e: &Evaluation) -> Vec<String> {
        e.commands.iter().map(|c| c.summary.clone()).collect()
    }

    #[test]
    fn absent_package_is_installed() {
        let e = eval("package", "name: nginx", "");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(attrs(&e.diff), vec![a("version", None, Some(LATEST))]);
        assert_eq!(summaries(&e), vec!["install nginx"]);
        let s = &e.commands[0].script;
        assert!(s.contains("keel_apt install nginx"), "{s}");
        assert!(s.contains("DEBIAN_FRONTEND=noninteractive"));
        assert!(s.contains("--force-confold") && s.contains("DPkg::Lock::Timeout=120"));
        assert_sh_syntax(s);
    }

    #[test]
    fn not_found_on_stderr_with_status_1_is_absence() {
        let r = load("package", "name: nginx");
        let e = r
            .evaluate(&out(
                "",
                "dpkg-query: no packages found matching nginx\n",
                1,
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Create);
    }

    #[test]
    fn un_and_rc_states() {
        let e = eval("package", "name: acl", "un |\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(e.diff.reason.as_deref(), Some("not installed"));

        let e = eval("package", "name: nginx", "rc |1.22.1-9\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(attrs(&e.diff), vec![a("version", None, Some(LATEST))]);

        let e = eval("package", "{name: nginx, state: absent}", "rc |1.22.1-9\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.reason.unwrap().contains("purge: true"));

        let e = eval(
            "package",
            "{name: nginx, state: absent, purge: true}",
            "rc |1.22.1-9\n",
        );
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(
            attrs(&e.diff),
            vec![a("config files", Some("present"), None)]
        );
        assert_eq!(summaries(&e), vec!["purge nginx"]);
        assert!(e.commands[0].script.contains("keel_apt purge nginx"));
    }

    #[test]
    fn installed_is_noop() {
        let e = eval("package", "name: nginx", "ii |1.22.1-9\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("installed (1.22.1-9)"));
        assert!(e.commands.is_empty());
        // Held and pending-trigger states count as installed.
        assert_eq!(
            eval("package", "name: nginx", "hi |1.0\n").diff.action(),
            Action::NoOp
        );
        assert_eq!(
            eval("package", "name: nginx", "it |1.0\n").diff.action(),
            Action::NoOp
        );
        // Pinned to what is installed.
        let e = eval(
            "package",
            "{name: nginx, version: 1.22.1-9}",
            "ii |1.22.1-9\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn pinned_version_drift_upgrades_or_downgrades() {
        let e = eval(
            "package",
            "{name: nginx, version: 1.24.0-1}",
            "ii |1.22.1-9\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("version", Some("1.22.1-9"), Some("1.24.0-1"))]
        );
        assert_eq!(summaries(&e), vec!["upgrade nginx 1.22.1-9 → 1.24.0-1"]);
        let s = &e.commands[0].script;
        assert!(
            s.contains("keel_apt install --allow-downgrades 'nginx=1.24.0-1'"),
            "{s}"
        );
        assert_sh_syntax(s);

        let e = eval(
            "package",
            "{name: nginx, version: \"1.22.1-9~bpo1\"}",
            "ii |1.22.1-9\n",
        );
        assert_eq!(
            summaries(&e),
            vec!["downgrade nginx 1.22.1-9 → 1.22.1-9~bpo1"]
        );
    }

    #[test]
    fn pinned_install_of_absent_package() {
        let e = eval("package", "{name: nginx, version: \"1:1.22.1-9\"}", "");
        assert_eq!(attrs(&e.diff), vec![a("version", None, Some("1:1.22.1-9"))]);
        assert_eq!(summaries(&e), vec!["install nginx 1:1.22.1-9"]);
        assert!(
            e.commands[0]
                .script
                .contains("keel_apt install 'nginx=1:1.22.1-9'")
        );
        // a version as YAML number arrives as its source text
        let e = eval("package", "{name: foo, version: 2.10}", "ii |2.10\n");
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn missing_epoch_is_explained_and_hold_is_mentioned() {
        let e = eval(
            "package",
            "{name: passwd, version: 4.13+dfsg1-1}",
            "hi |1:4.13+dfsg1-1\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
        let reason = e.diff.reason.unwrap();
        assert!(reason.contains("apt needs the epoch"), "{reason}");
        let error = e.diff.error.unwrap();
        assert!(error.contains("on hold"), "{error}");
    }

    /// apt refuses any change to a held package ("Held packages were
    /// changed"): the plan must fail up front, not apply.
    #[test]
    fn held_package_changes_are_plan_errors() {
        let cases = [
            ("{name: passwd, version: 4.13+dfsg1-1}", "hi |1:4.13+dfsg1-1\n"),
            ("{name: nano, state: absent}", "hi |7.2-1\nRemv nano [7.2-1]\n"),
            ("{name: nano, state: absent, purge: true}", "hi |7.2-1\n"),
            ("name: less", "hn |\n"),
            ("name: less", "hc |590-2\n"),
            ("name: less", "hU |590-2\n"),
        ];
        for (yaml, fact) in cases {
            let e = eval("package", yaml, fact);
            assert!(e.commands.is_empty(), "{yaml} on {fact:?}: runs nothing");
            let err = e.diff.error.clone().unwrap_or_else(|| panic!("{yaml}: an error"));
            assert!(err.contains("on hold"), "{err}");
            assert!(err.contains("apt-mark unhold"), "{err}");
            assert_ne!(e.diff.action(), Action::NoOp, "{yaml}");
        }
        // Nothing to change: a hold is fine.
        let e = eval("package", "name: nano", "hi |7.2-1\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.error.is_none());
        let e = eval("package", "{name: less, state: absent}", "hn |\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.diff.error.is_none());
    }

    #[test]
    fn broken_states_are_repaired() {
        let e = eval("package", "name: nginx", "iU |1.22.1-9\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "status",
                Some("unpacked but not configured"),
                Some("installed")
            )]
        );
        assert_eq!(
            summaries(&e),
            vec![
                "finish interrupted dpkg runs (dpkg --configure -a)",
                "repair nginx"
            ]
        );
        assert!(!e.commands[1].script.contains("--reinstall"));
        let e = eval("package", "name: nginx", "iHR|1.22.1-9\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.commands[1].script.contains("install --reinstall nginx"));
        for c in &e.commands {
            assert_sh_syntax(&c.script);
        }
        // a broken package to be removed is removed
        let e = eval("package", "{name: nginx, state: absent}", "iF |1.0\n");
        assert_eq!(e.diff.action(), Action::Delete);
    }

    #[test]
    fn removal_names_collateral_packages() {
        let probe = "ii |1.22.1-9\nRemv nginx-full [1.22.1-9]\nRemv nginx [1.22.1-9]\nRemv libnginx-mod-http-geoip [1:1.22.1-9]\n";
        let e = eval("package", "{name: nginx, state: absent}", probe);
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(attrs(&e.diff), vec![a("version", Some("1.22.1-9"), None)]);
        assert_eq!(
            e.diff.reason.as_deref(),
            Some(
                "installed; apt will also remove packages that depend on it: nginx-full, libnginx-mod-http-geoip"
            )
        );
        assert_eq!(summaries(&e), vec!["remove nginx"]);
        assert!(e.commands[0].script.contains("keel_apt remove nginx"));
        assert_sh_syntax(&e.commands[0].script);

        let e = eval(
            "package",
            "{name: nginx, state: absent, purge: true}",
            "ii |1.0\nPurg nginx [1.0]\n",
        );
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("version", Some("1.0"), None),
                a("config files", Some("present"), None)
            ]
        );
        assert_eq!(e.diff.reason.as_deref(), Some("installed (1.0)"));
        let e = eval("package", "{name: nginx, state: absent}", "");
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn several_architectures() {
        let e = eval("package", "name: libfoo1", "rc |1.0\nii |1.1\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("installed (1.1)"));
        let e = eval("package", "name: libc6:i386", "un |\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert!(e.commands[0].script.contains("install libc6:i386"));
    }

    #[test]
    fn unparseable_output_and_failures_are_errors() {
        let r = load("package", "name: nginx");
        assert!(r.evaluate(&ProbeOutput::ok("garbage\n")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("zz |1.0\n")).is_err());
        let err = r
            .evaluate(&out(
                "",
                "keel: dpkg-query not found: the package kind needs a Debian or Ubuntu host\n",
                2,
            ))
            .unwrap_err();
        assert!(err.contains("Debian or Ubuntu"));
        assert!(
            r.evaluate(&out("", "", 2))
                .unwrap_err()
                .contains("exit status 2")
        );
    }

    #[test]
    fn validation() {
        for bad in [
            "Nginx",
            "a",
            "ngi;nx",
            "-foo",
            "nginx $(reboot)",
            "a b",
            "",
            "x:",
            "lib:I386",
            "foo\nbar",
        ] {
            let yaml = format!("name: {}", serde_json::to_string(bad).unwrap());
            let err = try_load("package", &yaml)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(err.contains("not a Debian package name"), "{bad:?}: {err}");
        }
        for good in [
            "g++",
            "libstdc++6",
            "python3.11",
            "0ad",
            "libc6:amd64",
            "x11-common",
        ] {
            try_load("package", &format!("name: {good:?}")).unwrap();
        }
        for bad in ["latest", "1.0;reboot", "a:1.0", "1.0 ", ":1.0", "$(x)"] {
            let yaml = format!(
                "{{name: nginx, version: {}}}",
                serde_json::to_string(bad).unwrap()
            );
            let err = try_load("package", &yaml)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(err.contains("not a Debian version"), "{bad:?}: {err}");
        }
        let err =
            try_load("package", "{name: nginx, state: absent, version: \"1.0\"}").unwrap_err();
        assert!(err.contains("only applies with `state: present`"), "{err}");
        let err = try_load("package", "{name: nginx, purge: true}").unwrap_err();
        assert!(err.contains("only applies with `state: absent`"), "{err}");
        assert!(try_load("package", "{name: nginx, state: purged}").is_err());
        assert!(try_load("package", "{name: nginx, version_: 1}").is_err());
        assert!(try_load("package", "{state: absent}").is_err());
    }

    #[test]
    fn links() {
        let r = load("package", "name: nginx");
        assert_eq!(r.links().provides, vec![Ref::Package("nginx".into())]);
        assert!(r.links().needs.is_empty());
    }

    #[test]
    fn names_are_quoted_in_scripts() {
        let e = eval("package", "{name: g++, version: \"4:12.2.0-3\"}", "");
        let s = &e.commands[0].script;
        assert!(s.contains("keel_apt install 'g++=4:12.2.0-3'"), "{s}");
        let r = load("package", "name: libstdc++6");
        assert_sh_syntax(&r.probe());
        assert_sh_syntax(
            &load("package", "{name: libstdc++6, state: absent, purge: true}").probe(),
        );
    }

    #[test]
    fn versions_compare_like_dpkg() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-0", Equal),
            ("1.0", "01.0", Equal),
            ("1.0", "1.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0+b1", "1.0", Greater),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-2", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("2.36-9+deb12u4", "2.36-9+deb12u14", Less),
            ("1.2.3-1ubuntu1", "1.2.3-1", Greater),
        ];
        for (x, y, want) in cases {
            assert_eq!(compare_versions(x, y), want, "{x} vs {y}");
            assert_eq!(compare_versions(y, x), want.reverse(), "{y} vs {x}");
        }
    }

    /// The probe is read-only: run it for real on this (Debian) machine.
    #[test]
    fn probe_runs_locally_on_debian() {
        if run_local("command -v dpkg-query").status != 0 {
            return;
        }
        let r = load("package", "name: dpkg");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        let r = load("package", "name: keel-no-such-package");
        // also under `set -e`, in case the probe batch uses it
        let o = run_local(&format!("set -e\n{}", r.probe()));
        assert_eq!(o.status, 0, "{o:?}");
        assert_eq!(r.evaluate(&o).unwrap().diff.action(), Action::Create);
        let r = load(
            "package",
            "{name: keel-no-such-package, state: absent, purge: true}",
        );
        let o = run_local(&r.probe());
        assert_eq!(o.status, 0, "{o:?}");
        assert_eq!(r.evaluate(&o).unwrap().diff.action(), Action::NoOp);
    }

    /// The install script with a fake `apt-get`: a failure that looks like
    /// stale lists triggers one `apt-get update` and one retry; any other
    /// failure is reported as is.
    #[test]
    fn stale_lists_are_refreshed_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let fake = format!(
            "#!/bin/sh
echo \"$*\" >> {d}/calls
case \"$*\" in
  *' update') touch {d}/updated; exit 0 ;;
  *'install nginx') if [ -e {d}/updated ]; then echo installed; exit 0; fi
     echo 'E: Unable to locate package nginx'; exit 100 ;;
  *'install broken') echo 'E: Sub-process /usr/bin/dpkg returned an error code (1)'; exit 100 ;;
esac
exit 1
"
        );
        std::fs::write(dir.path().join("apt-get"), fake).unwrap();
        // Lists fetched just now.
        std::fs::create_dir_all(dir.path().join("lists")).unwrap();
        std::fs::write(dir.path().join("lists/x_Packages"), "").unwrap();
        let run = |name: &str| {
            let _ = std::fs::remove_file(dir.path().join("calls"));
            let _ = std::fs::remove_file(dir.path().join("updated"));
            let _ = std::fs::remove_file(dir.path().join("stamp"));
            let e = eval("package", &format!("name: {name}"), "");
            let script = format!(
                "set -e\nchmod +x {d}/apt-get\nPATH={d}:$PATH\nKEEL_APT_STAMP={d}/stamp\nKEEL_APT_LISTS={d}/lists\n{}",
                e.commands[0].script
            );
            let o = run_local(&script);
            let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap_or_default();
            let calls: Vec<String> = calls
                .lines()
                .map(|l| {
                    l.rsplit(" -o ")
                        .next()
                        .unwrap()
                        .split_once(' ')
                        .unwrap()
                        .1
                        .to_string()
                })
                .collect();
            (o, calls)
        };
        let (o, calls) = run("nginx");
        assert_eq!(o.status, 0, "{o:?}");
        assert!(o.stdout.contains("installed"));
        assert!(o.stderr.contains("look stale"), "{o:?}");
        // fresh lists: no update before the install
        assert_eq!(
            calls,
            vec!["install nginx", "update", "install nginx"],
            "{calls:?}"
        );

        // Lists more than a day old are refreshed first; the failure right
        // after that refresh is not retried.
        let old = format!("touch -d '2 days ago' {d}/lists/x_Packages");
        assert_eq!(run_local(&old).status, 0);
        let (o, calls) = run("nginx");
        assert_eq!(o.status, 0, "{o:?}");
        assert!(o.stderr.contains("more than a day old"), "{o:?}");
        assert_eq!(calls, vec!["update", "install nginx"], "{calls:?}");
        let (o, calls) = run("broken");
        assert_eq!(o.status, 100, "{o:?}");
        assert_eq!(calls, vec!["update", "install broken"], "{calls:?}");
        std::fs::write(dir.path().join("lists/x_Packages"), "").unwrap();

        let (o, calls) = run("broken");
        assert_eq!(o.status, 100, "{o:?}");
        assert!(o.stderr.contains("dpkg returned an error code"));
        assert_eq!(
            calls.iter().filter(|c| *c == "install broken").count(),
            1,
            "{calls:?}"
        );
        assert!(
            !calls
                .iter()
                .skip_while(|c| *c == "update")
                .any(|c| c == "update")
        );
    }
}
