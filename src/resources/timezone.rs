//! The `timezone` kind: the host's local time zone.
//!
//! ```yaml
//! - timezone: { name: Asia/Shanghai }
//! ```
//!
//! The address is always `timezone[system]`: a host has one time zone.
//!
//! The zone is what `/etc/localtime` links to (`/usr/share/zoneinfo/NAME`,
//! as `timedatectl` and Debian's tzdata make it) and, on Debian and Ubuntu,
//! the name in `/etc/timezone`. The probe prints, as `key=value` lines, the
//! link's target (or that `/etc/localtime` is a copied file, or absent),
//! the first line of `/etc/timezone`, and whether the zone file exists on
//! the host and is a real zone file (`TZif` magic). A copied zone file is
//! replaced by the link even when its data matches.
//!
//! When the zone file does not exist, the plan says "known after apply":
//! the `tzdata` package may be installed earlier in the same run (the kind
//! needs `package[tzdata]`, so such a resource is ordered first). If it
//! still does not exist at apply time, the command fails and says to
//! install tzdata.
//!
//! Apply uses `timedatectl set-timezone` when systemd runs (so
//! `systemd-timedated` and its clients learn the change) and falls back to
//! replacing the link atomically (`ln -s` to a temporary name, then `mv`).
//! `/etc/timezone` is then rewritten atomically (`timedatectl` does not
//! write it on Debian 12).
//!
//! Names are checked at load time: `Area/Location` (or `UTC`,
//! `Etc/GMT+5`...), path components of letters, digits, `_`, `-` and `+`,
//! each starting with a letter, so no name can leave the zoneinfo
//! directory.
//!
//! Planning compares the link and `/etc/timezone` into a typed `Drift`,
//! from which both the plan's attributes and the commands are built.

use super::common::edit::rewrite_file;
use super::*;
use crate::shell::{Script, q};

/// Where the zone files live.
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The host's time zone.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timezone {
    /// An IANA zone name, e.g. `Europe/Paris` or `UTC`.
    pub name: String,
    /// Prefix of every host path (tests only: a scratch root).
    #[serde(skip)]
    root: String,
}

/// What `/etc/localtime` is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Localtime {
    #[default]
    Absent,
    /// A symbolic link, with its target as written.
    Link(String),
    /// A regular file (a copy of a zone file); `same` when its bytes equal
    /// the wanted zone's file.
    File { same: bool },
}

/// Whether the wanted zone file exists on the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ZoneFile {
    #[default]
    Missing,
    Valid,
    /// It exists but is not a compiled zone file (no `TZif` magic).
    NotAZone,
}

/// The live time zone settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimezoneFact {
    pub localtime: Localtime,
    /// First line of `/etc/timezone`; `None` when the file is absent.
    pub etc_timezone: Option<String>,
    pub zone_file: ZoneFile,
}

/// The zone a link target names: what follows `zoneinfo/`.
pub fn zone_of_target(target: &str) -> Option<&str> {
    target
        .find("zoneinfo/")
        .map(|i| &target[i + "zoneinfo/".len()..])
        .filter(|z| !z.is_empty())
}

impl TimezoneFact {
    /// The zone `/etc/localtime` stands for, as shown in plans.
    fn localtime_label(&self) -> Option<String> {
        match &self.localtime {
            Localtime::Absent => None,
            Localtime::Link(t) => Some(match zone_of_target(t) {
                Some(z) => z.to_string(),
                None => format!("link to {t}"),
            }),
            Localtime::File { same: true } => Some("a copy of the zone file".into()),
            Localtime::File { same: false } => Some("a regular file".into()),
        }
    }
}

const ZONE_HELP: &str = "an IANA time zone name such as `Europe/Paris`, `America/New_York` or `UTC` (see `timedatectl list-timezones`)";

/// Check a zone name: path components of ASCII letters, digits, `_`, `-`
/// and `+`, each starting with a letter; the problem is reported on `name`.
fn check_zone_name(name: &str) -> Result<(), Invalid> {
    let bad = |message: String| Err(Invalid::field("name", message).help(ZONE_HELP));
    let shown = name.escape_debug();
    if name.is_empty() {
        return bad("the time zone name is empty".into());
    }
    if name.len() > 200 {
        return bad(format!("`{shown}` is too long for a time zone name"));
    }
    if name.starts_with('/') {
        return bad(format!(
            "`{shown}` is a path; write the zone's name, relative to {ZONEINFO}"
        ));
    }
    for part in name.split('/') {
        if part.is_empty() {
            return bad(format!("`{shown}` has an empty component"));
        }
        if part == ".." || part == "." {
            return bad(format!("`{shown}` contains `{part}`"));
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+')))
        {
            return bad(format!(
                "`{shown}` contains `{}`: zone names have letters, digits, `_`, `-`, `+` and `/`",
                c.escape_debug()
            ));
        }
        if !part.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return bad(format!(
                "`{shown}`: each part of a zone name starts with a letter (`{part}` does not)"
            ));
        }
    }
    Ok(())
}

impl Timezone {
    fn zone_path(&self) -> String {
        format!("{}{ZONEINFO}/{}", self.root, self.name)
    }

    /// `/etc/localtime` (under the test root).
    fn localtime(&self) -> String {
        format!("{}/etc/localtime", self.root)
    }

    fn localtime_ok(&self, fact: &TimezoneFact) -> bool {
        matches!(&fact.localtime, Localtime::Link(t) if zone_of_target(t) == Some(self.name.as_str()))
    }

    /// Fail clearly when the zone file is missing or not a zone file.
    fn guard(&self) -> String {
        Script::new(include_str!("timezone/guard.sh"))
            .set("keel_zone", &self.name)
            .set("keel_zf", self.zone_path())
            .render()
    }

    fn link_script(&self) -> String {
        let mut s = self.guard();
        // timedatectl only knows the real /etc/localtime.
        s.push_str(
            &Script::new(include_str!("timezone/link.sh"))
                .set("keel_zone", &self.name)
                .set("keel_zf", self.zone_path())
                .set("keel_lt", self.localtime())
                .flag("keel_systemd", self.root.is_empty())
                .render(),
        );
        s
    }

    fn etc_timezone_script(&self) -> String {
        let mut s = format!("keel_zone={}\n", q(&self.name));
        s.push_str(&rewrite_file(
            &format!("{}/etc/timezone", self.root),
            "printf '%s\\n' \"$keel_zone\"",
        ));
        s
    }
}

impl Kind for Timezone {
    const KIND: &'static str = "timezone";
    type Fact = TimezoneFact;

    fn name(&self) -> String {
        "system".into()
    }

    fn check(&self) -> Vec<Invalid> {
        check_zone_name(&self.name).err().into_iter().collect()
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![
                Ref::Path("/etc/localtime".into()),
                Ref::Path("/etc/timezone".into()),
            ],
            needs: vec![Ref::Package("tzdata".into())],
        }
    }

    fn probe(&self) -> String {
        Script::new(include_str!("timezone/probe.sh"))
            .set("keel_zf", self.zone_path())
            .set("keel_lt", self.localtime())
            .set("keel_etz", format!("{}/etc/timezone", self.root))
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<TimezoneFact, FactError> {
        let text = &out.stdout;
        let localtime = match kv(text, "localtime").map(str::trim) {
            Some("link") => Localtime::Link(
                kv(text, "target")
                    .ok_or("the probe printed no link target")?
                    .trim_end_matches('\r')
                    .to_string(),
            ),
            Some("file") => Localtime::File {
                same: kv(text, "same") == Some("yes"),
            },
            Some("absent") => Localtime::Absent,
            _ => {
                return Err(match out.stderr.trim() {
                    "" => FactError::Unexpected(
                        "the probe printed nothing about /etc/localtime".to_string(),
                    ),
                    e => FactError::Unexpected(e.to_string()),
                });
            }
        };
        let zone_file = match kv(text, "zone").map(str::trim) {
            Some("valid") => ZoneFile::Valid,
            Some("invalid") => ZoneFile::NotAZone,
            Some("missing") => ZoneFile::Missing,
            _ => return Err("the probe printed nothing about the zone file".into()),
        };
        Ok(TimezoneFact {
            localtime,
            etc_timezone: kv(text, "etc_timezone").map(|s| s.trim().to_string()),
            zone_file,
        })
    }

    fn plan(&self, fact: &TimezoneFact) -> Planned {
        let drift = self.drift(fact);
        if drift.is_empty() {
            return Planned::only(Diff::noop().reason(format!("the time zone is {}", self.name)));
        }
        let diff = self.diff(&drift, fact.zone_file);
        if diff.error.is_some() {
            return Planned::only(diff);
        }
        Planned::new(diff, self.commands(&drift))
    }
}

/// What differs between the wanted zone and the host's; each part holds
/// what the host has now.
#[derive(Debug, Default, PartialEq, Eq)]
struct Drift {
    /// What `/etc/localtime` stands for (`None`: absent), when it must be
    /// linked again (another zone, a copy, or a zone file that is not
    /// valid yet).
    localtime: Option<Option<String>>,
    /// The name in `/etc/timezone` (`None`: absent), when it differs.
    etc_timezone: Option<Option<String>>,
}

impl Drift {
    fn is_empty(&self) -> bool {
        *self == Drift::default()
    }
}

impl Timezone {
    /// Compare each part of the host's time zone with the wanted one.
    fn drift(&self, fact: &TimezoneFact) -> Drift {
        Drift {
            localtime: (!self.localtime_ok(fact) || fact.zone_file != ZoneFile::Valid)
                .then(|| fact.localtime_label()),
            etc_timezone: (fact.etc_timezone.as_deref() != Some(&*self.name))
                .then(|| fact.etc_timezone.clone()),
        }
    }

    /// The plan's rendering of a drift, with what the zone file's state
    /// means for it (known after apply, or an error).
    fn diff(&self, drift: &Drift, zone_file: ZoneFile) -> Diff {
        let mut d = Diff::with_action(Action::Update);
        if let Some(before) = &drift.localtime {
            d = d.attr("timezone", before.as_deref(), Some(&*self.name));
        }
        if let Some(before) = &drift.etc_timezone {
            d = d.attr("/etc/timezone", before.as_deref(), Some(&*self.name));
        }
        match zone_file {
            ZoneFile::Valid => {}
            ZoneFile::Missing => {
                d = d.reason(format!(
                    "{} does not exist yet: apply fails unless the tzdata package provides it",
                    self.zone_path()
                ));
                d.unknown = Some(format!(
                    "{} does not exist on the host yet (is tzdata installed?)",
                    self.zone_path()
                ));
            }
            ZoneFile::NotAZone => {
                d.error = Some(format!(
                    "{} is not a time zone file (no TZif header)",
                    self.zone_path()
                ));
            }
        }
        d
    }

    /// The commands that close a drift: the link, then `/etc/timezone`.
    fn commands(&self, drift: &Drift) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        if drift.localtime.is_some() {
            cmds.push(Cmd::new(
                format!("link /etc/localtime to {}", self.zone_path()),
                self.link_script(),
            ));
        }
        if drift.etc_timezone.is_some() {
            let mut script = self.guard();
            script.push_str(&self.etc_timezone_script());
            cmds.push(Cmd::new(
                format!("write {} to /etc/timezone", self.name),
                script,
            ));
        }
        cmds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};

    const Y: &str = "name: Asia/Shanghai\n";

    #[test]
    fn fresh_debian_host_changes_both() {
        let e = eval(
            "timezone",
            Y,
            "localtime=link\ntarget=/usr/share/zoneinfo/Etc/UTC\netc_timezone=Etc/UTC\nzone=valid\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("timezone", Some("Etc/UTC"), Some("Asia/Shanghai")),
                AttrChange::new("/etc/timezone", Some("Etc/UTC"), Some("Asia/Shanghai")),
            ]
        );
        let summaries: Vec<_> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "link /etc/localtime to /usr/share/zoneinfo/Asia/Shanghai",
                "write Asia/Shanghai to /etc/timezone"
            ]
        );
        assert!(e.diff.unknown.is_none());
    }

    #[test]
    fn converged_is_noop_for_relative_and_absolute_links() {
        for target in [
            "../usr/share/zoneinfo/Asia/Shanghai",
            "/usr/share/zoneinfo/Asia/Shanghai",
        ] {
            let e = eval(
                "timezone",
                Y,
                &format!(
                    "localtime=link\ntarget={target}\netc_timezone=Asia/Shanghai\nzone=valid\n"
                ),
            );
            assert_eq!(e.diff.action(), Action::NoOp, "{target}");
            assert_eq!(
                e.diff.reason.as_deref(),
                Some("the time zone is Asia/Shanghai")
            );
        }
    }

    #[test]
    fn drift_and_odd_states() {
        // Only /etc/timezone drifted.
        let e = eval(
            "timezone",
            Y,
            "localtime=link\ntarget=../usr/share/zoneinfo/Asia/Shanghai\netc_timezone=Europe/Paris\nzone=valid\n",
        );
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new(
                "/etc/timezone",
                Some("Europe/Paris"),
                Some("Asia/Shanghai")
            )]
        );
        assert_eq!(e.commands.len(), 1);
        // A copied zone file, no /etc/timezone.
        let e = eval("timezone", Y, "localtime=file\nsame=yes\nzone=valid\n");
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new(
                    "timezone",
                    Some("a copy of the zone file"),
                    Some("Asia/Shanghai")
                ),
                AttrChange::new("/etc/timezone", None::<String>, Some("Asia/Shanghai")),
            ]
        );
        // A link somewhere odd, an absent /etc/localtime.
        let e = eval(
            "timezone",
            Y,
            "localtime=link\ntarget=/etc/mytz\netc_timezone=Asia/Shanghai\nzone=valid\n",
        );
        assert_eq!(e.diff.attrs[0].before.as_deref(), Some("link to /etc/mytz"));
        let e = eval(
            "timezone",
            Y,
            "localtime=absent\netc_timezone=Asia/Shanghai\nzone=valid\n",
        );
        assert_eq!(e.diff.attrs[0].before, None);
        // Same name under posix/ is a different link.
        let e = eval(
            "timezone",
            Y,
            "localtime=link\ntarget=/usr/share/zoneinfo/posix/Asia/Shanghai\netc_timezone=Asia/Shanghai\nzone=valid\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
    }

    #[test]
    fn missing_zone_file_is_known_after_apply() {
        let e = eval(
            "timezone",
            Y,
            "localtime=link\ntarget=/usr/share/zoneinfo/Asia/Shanghai\netc_timezone=Asia/Shanghai\nzone=missing\n",
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.unknown.as_deref().unwrap().contains("tzdata"));
        assert_eq!(e.commands.len(), 1);
        let e = eval(
            "timezone",
            Y,
            "localtime=link\ntarget=/usr/share/zoneinfo/Etc/UTC\nzone=invalid\n",
        );
        assert!(e.diff.error.unwrap().contains("not a time zone file"));
        assert!(e.commands.is_empty());
        assert!(e.diff.unknown.is_none());
        // The guard fails clearly when the zone file is missing.
        let r = Timezone {
            name: "Nowhere/Keel_Test".into(),
            root: String::new(),
        };
        let out = run_local(&format!("set -e\n{}", r.guard()));
        assert_eq!(out.status, 1);
        assert!(
            out.stderr.contains("install the tzdata package"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn odd_probe_output() {
        let r = load("timezone", Y);
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("localtime=link\nzone=valid\n"))
                .is_err()
        );
        assert!(r.evaluate(&ProbeOutput::ok("localtime=absent\n")).is_err());
        let err = r
            .evaluate(&ProbeOutput {
                stderr: "sh: readlink: not found\n".into(),
                ..ProbeOutput::default()
            })
            .unwrap_err();
        assert!(err.contains("readlink: not found"));
        // CRLF noise.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "localtime=link\r\ntarget=/usr/share/zoneinfo/Asia/Shanghai\r\netc_timezone=Asia/Shanghai\r\nzone=valid\r\n",
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn validation_errors() {
        let err = |y: &str| try_load("timezone", y).unwrap_err();
        assert!(err("name: ''\n").contains("empty"));
        assert!(err("name: ../../etc/passwd\n").contains("`..`"));
        assert!(err("name: /usr/share/zoneinfo/UTC\n").contains("is a path"));
        assert!(err("name: Asia//Shanghai\n").contains("empty component"));
        assert!(err("name: Asia/\n").contains("empty component"));
        assert!(err("name: zone.tab\n").contains("contains `.`"));
        assert!(err("name: \"Asia/Sh anghai\"\n").contains("contains ` `"));
        assert!(err("name: \"$(touch x)\"\n").contains("contains `$`"));
        assert!(err("name: -u\n").contains("starts with a letter"));
        assert!(err("name: UTC\nzone: x\n").contains("unknown"));
        for ok in [
            "UTC",
            "Etc/UTC",
            "Etc/GMT+5",
            "Etc/GMT-14",
            "America/Port-au-Prince",
            "America/Argentina/Buenos_Aires",
            "posix/Europe/Paris",
        ] {
            assert!(
                try_load("timezone", &format!("name: {ok}\n")).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn name_and_links() {
        let r = load("timezone", Y);
        assert_eq!(r.name(), "system");
        assert_eq!(r.links().needs, vec![Ref::Package("tzdata".into())]);
    }

    #[test]
    fn probe_runs_locally() {
        let r = load("timezone", "name: Etc/UTC\n");
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        r.evaluate(&out).unwrap();
    }

    #[test]
    fn converges_locally_in_a_scratch_root() {
        use crate::resources::testing::converge_locally;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("it's $(touch pwned) `id`; root");
        let zi = root.join("usr/share/zoneinfo");
        std::fs::create_dir_all(zi.join("Asia")).unwrap();
        std::fs::create_dir_all(zi.join("Etc")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(zi.join("Asia/Shanghai"), "TZif2 shanghai").unwrap();
        std::fs::write(zi.join("Etc/UTC"), "TZif2 utc").unwrap();
        std::fs::write(zi.join("zone.tab"), "# not a zone").unwrap();
        let lt = root.join("etc/localtime");
        // A copied zone file, as some images have.
        std::fs::write(&lt, "TZif2 utc").unwrap();
        let tz = |name: &str| Timezone {
            name: name.into(),
            root: root.to_str().unwrap().into(),
        };
        let (before, after) = converge_locally(&tz("Asia/Shanghai"));
        assert_eq!(
            before.diff.attrs[0].before.as_deref(),
            Some("a regular file")
        );
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(std::fs::read_link(&lt).unwrap(), zi.join("Asia/Shanghai"));
        assert_eq!(
            std::fs::read_to_string(root.join("etc/timezone")).unwrap(),
            "Asia/Shanghai\n"
        );
        // Drift back by hand, then converge again.
        std::fs::remove_file(&lt).unwrap();
        std::os::unix::fs::symlink("../usr/share/zoneinfo/Etc/UTC", &lt).unwrap();
        let (before, after) = converge_locally(&tz("Asia/Shanghai"));
        assert_eq!(
            before.diff.attrs,
            vec![AttrChange::new(
                "timezone",
                Some("Etc/UTC"),
                Some("Asia/Shanghai")
            )]
        );
        assert_eq!(after.diff.action(), Action::NoOp);
        // A zone that is missing: known after apply, and apply fails clearly
        // without touching anything.
        let r = tz("Europe/Paris");
        let e = Resource::evaluate(&r, &run_local(&Resource::probe(&r))).unwrap();
        assert!(e.diff.unknown.is_some());
        for c in &e.commands {
            let out = run_local(&c.script);
            assert_eq!(out.status, 1);
            assert!(out.stderr.contains("install the tzdata package"));
        }
        assert_eq!(std::fs::read_link(&lt).unwrap(), zi.join("Asia/Shanghai"));
        assert!(!dir.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());
        assert_eq!(
            std::fs::read_dir(root.join("etc")).unwrap().count(),
            2,
            "no temp file left"
        );
    }

    #[test]
    fn zone_of_targets() {
        assert_eq!(
            zone_of_target("../usr/share/zoneinfo/Etc/UTC"),
            Some("Etc/UTC")
        );
        assert_eq!(zone_of_target("/usr/share/zoneinfo/"), None);
        assert_eq!(zone_of_target("/etc/x"), None);
    }
}
