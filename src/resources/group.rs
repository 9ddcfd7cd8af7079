//! The `group` kind: a local group in `/etc/group`, managed with the shadow
//! tools (`groupadd`, `groupmod`, `groupdel`).
//!
//! ```yaml
//! - group: { name: devs, gid: 1500 }
//! - group: { name: app, system: true }
//! - group: { name: old, state: absent }
//! ```
//!
//! The fact is `getent group NAME` (so NSS sources count too); only a
//! declared `gid` is compared. `system` only chooses the id range when the
//! group is created: an existing group is never "converted".
//!
//! A declared `gid` that another group has is a plan error naming that
//! group (the probe asks `getent group GID`): groupadd and groupmod would
//! refuse it at apply.

use super::*;
use crate::resources::common::State;
use crate::resources::common::accounts::check_group_name;
use crate::resources::common::accounts::check_id;
use crate::resources::common::accounts::getent_probe;
use crate::resources::common::accounts::parse_id;
use crate::resources::common::accounts::probe_failure;
use crate::shell::q;

/// A local group.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
    /// The numeric group id (kept as text, checked by `check()`).
    pub gid: Option<String>,
    /// Create it as a system group (`groupadd -r`). Creation only.
    #[serde(default)]
    pub system: bool,
}

/// A group as `getent group` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub gid: u32,
    pub members: Vec<String>,
}

/// The live state of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFact {
    /// `None` when the group does not exist.
    pub entry: Option<GroupEntry>,
    /// The name of the group that has the declared gid (probed only when
    /// a gid is declared), to refuse taking another group's gid.
    pub gid_holder: Option<String>,
}

impl Group {
    fn desired_gid(&self) -> Option<u32> {
        self.gid.as_deref().and_then(parse_id)
    }
}

impl Kind for Group {
    const KIND: &'static str = "group";
    type Fact = GroupFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        errs.extend(check_group_name("name", &self.name));
        if let Some(gid) = &self.gid {
            errs.extend(check_id("gid", gid));
        }
        errs
    }

    fn links(&self) -> Links {
        match self.state {
            State::Present => Links {
                provides: vec![Ref::Group(self.name.clone())],
                needs: Vec::new(),
            },
            State::Absent => Links::default(),
        }
    }

    fn probe(&self) -> String {
        let mut s = format!("set +e\n{}", getent_probe("group", &self.name, "group"));
        if let (State::Present, Some(gid)) = (self.state, self.desired_gid()) {
            // Who has that gid (groupadd and groupmod refuse a taken one).
            s.push_str(&format!(
                "keel_h=$(getent group {gid} | cut -d: -f1)\nif [ -n \"$keel_h\" ]; then printf 'gid_holder=%s\\n' \"$keel_h\"; fi\n"
            ));
        }
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<GroupFact, FactError> {
        let gid_holder = kv(&out.stdout, "gid_holder").map(str::to_string);
        if kv(&out.stdout, "group_absent").is_some() {
            return Ok(GroupFact {
                entry: None,
                gid_holder,
            });
        }
        let Some(line) = kv(&out.stdout, "group") else {
            return Err(probe_failure("group", out));
        };
        // name:password:gid:member,member
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 {
            return Err(FactError::Unexpected(format!(
                "unexpected `getent group` line: {line:?}"
            )));
        }
        let gid = fields[2].parse::<u32>().map_err(|_| {
            FactError::Unexpected(format!("unexpected gid in `getent group` line: {line:?}"))
        })?;
        let members = fields[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        Ok(GroupFact {
            entry: Some(GroupEntry { gid, members }),
            gid_holder,
        })
    }

    fn plan(&self, fact: &GroupFact) -> Planned {
        let change = self.change(fact);
        let mut diff = change.diff();
        if let GroupChange::Create { gid: Some(gid), .. } | GroupChange::SetGid { to: gid, .. } =
            change
            && let Some(other) = fact.gid_holder.as_deref().filter(|h| *h != self.name)
        {
            // groupadd/groupmod: "GID '1500' already exists".
            diff.error = Some(format!(
                "{} cannot have gid {gid}: group `{other}` has it; give `{other}` another gid first, or declare another `gid`",
                self.name
            ));
            return Planned::only(diff);
        }
        Planned::new(diff, change.commands(&self.name))
    }
}

/// What planning a group decides: the typed difference the diff and the
/// commands are both rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupChange {
    /// Declared absent and does not exist.
    AlreadyAbsent,
    /// Exists as declared (or no `gid` is declared).
    InPlace,
    /// Declared absent; exists with this gid.
    Delete { gid: u32 },
    /// Does not exist; created with these options.
    Create { gid: Option<u32>, system: bool },
    /// Exists with another gid than the declared one.
    SetGid { from: u32, to: u32 },
}

impl Group {
    fn change(&self, fact: &GroupFact) -> GroupChange {
        match (self.state, &fact.entry) {
            (State::Absent, None) => GroupChange::AlreadyAbsent,
            (State::Absent, Some(g)) => GroupChange::Delete { gid: g.gid },
            (State::Present, None) => GroupChange::Create {
                gid: self.desired_gid(),
                system: self.system,
            },
            (State::Present, Some(g)) => match self.desired_gid() {
                Some(to) if to != g.gid => GroupChange::SetGid { from: g.gid, to },
                _ => GroupChange::InPlace,
            },
        }
    }
}

impl GroupChange {
    fn diff(self) -> Diff {
        match self {
            GroupChange::AlreadyAbsent => Diff::noop().reason("does not exist"),
            GroupChange::InPlace => Diff::noop(),
            GroupChange::Delete { gid } => {
                Diff::with_action(Action::Delete).attr("gid", Some(gid.to_string()), None::<String>)
            }
            GroupChange::Create { gid, system } => {
                let mut d = Diff::with_action(Action::Create);
                if let Some(gid) = gid {
                    d = d.attr("gid", None::<String>, Some(gid.to_string()));
                }
                if system {
                    d = d.attr("system", None::<String>, Some("true"));
                }
                d
            }
            GroupChange::SetGid { from, to } => Diff::with_action(Action::Update).attr(
                "gid",
                Some(from.to_string()),
                Some(to.to_string()),
            ),
        }
    }

    fn commands(self, name: &str) -> Vec<Cmd> {
        let n = q(name);
        let line = match self {
            GroupChange::AlreadyAbsent | GroupChange::InPlace => return Vec::new(),
            GroupChange::Delete { .. } => format!("groupdel {n}"),
            GroupChange::Create { gid, system } => {
                let mut args = String::new();
                if let Some(gid) = gid {
                    args.push_str(&format!("-g {gid} "));
                }
                if system {
                    args.push_str("-r ");
                }
                format!("groupadd {args}{n}")
            }
            GroupChange::SetGid { to, .. } => format!("groupmod -g {to} {n}"),
        };
        vec![Cmd::new(line.clone(), format!("{line}\n"))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};

    fn summaries(e: &Evaluation) -> Vec<String> {
        e.commands.iter().map(|c| c.summary.clone()).collect()
    }

    #[test]
    fn absent_group_is_created_with_gid_and_system() {
        let e = eval(
            "group",
            "name: devs\ngid: 1500\nsystem: true\n",
            "group_absent=1\n",
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.attrs,
            vec![
                AttrChange::new("gid", None::<String>, Some("1500")),
                AttrChange::new("system", None::<String>, Some("true")),
            ]
        );
        assert_eq!(summaries(&e), vec!["groupadd -g 1500 -r devs"]);
        assert_eq!(e.commands[0].script, "groupadd -g 1500 -r devs\n");
    }

    #[test]
    fn absent_group_is_created_plainly() {
        let e = eval("group", "name: devs\n", "group_absent=1\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert!(e.diff.attrs.is_empty());
        assert_eq!(summaries(&e), vec!["groupadd devs"]);
    }

    #[test]
    fn present_and_equal_is_noop() {
        let e = eval(
            "group",
            "name: devs\ngid: 1500\n",
            "group=devs:x:1500:alice,bob\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.commands.is_empty());
        // Undeclared gid: left alone.
        let e = eval(
            "group",
            "name: devs\nsystem: true\n",
            "group=devs:x:1500:\n",
        );
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn gid_drift_is_an_update() {
        let e = eval("group", "name: devs\ngid: 1600\n", "group=devs:x:1500:\n");
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.attrs,
            vec![AttrChange::new("gid", Some("1500"), Some("1600"))]
        );
        assert_eq!(summaries(&e), vec!["groupmod -g 1600 devs"]);
    }

    #[test]
    fn state_absent_removes() {
        let e = eval("group", "name: old\nstate: absent\n", "group=old:x:1700:\n");
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(summaries(&e), vec!["groupdel old"]);
        let e = eval("group", "name: old\nstate: absent\n", "group_absent=1\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn odd_probe_outputs() {
        let r = load("group", "name: devs\n");
        // getent failing for another reason: an error, not "absent".
        let err = r
            .evaluate(&ProbeOutput {
                stdout: String::new(),
                stderr: "getent group failed with status 1\n".into(),
                status: 1,
            })
            .unwrap_err();
        assert!(err.contains("status 1"), "{err}");
        assert!(r.evaluate(&ProbeOutput::ok("group=devs:x\n")).is_err());
        assert!(r.evaluate(&ProbeOutput::ok("group=devs:x:abc:\n")).is_err());
        // Extra noise lines and no members are fine.
        let e = r
            .evaluate(&ProbeOutput::ok("noise\ngroup=devs:x:1500:\n"))
            .unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn validation_errors() {
        for bad in [
            "name: \"devs; rm -rf /\"\n",
            "name: 1abc\n",
            "name: \"\"\n",
            "name: \"a b\"\n",
            "name: -devs\n",
            "name: abcdefghijabcdefghijabcdefghijabc\n",
        ] {
            let e = try_load("group", bad).unwrap_err();
            assert!(e.contains("not a valid group name"), "{bad}: {e}");
        }
        let e = try_load("group", "name: devs\ngid: -5\n").unwrap_err();
        assert!(e.contains("not a numeric id"), "{e}");
        let e = try_load("group", "name: devs\ngid: 4294967295\n").unwrap_err();
        assert!(e.contains("not a numeric id"), "{e}");
        let e = try_load("group", "name: devs\nstate: gone\n").unwrap_err();
        assert!(e.contains("gone"), "{e}");
        let e = try_load("group", "name: devs\ngdi: 5\n").unwrap_err();
        assert!(e.contains("gdi"), "{e}");
        assert!(try_load("group", "name: Debian-exim\n").is_ok());
        assert!(try_load("group", "name: machine$\n").is_ok());
    }

    #[test]
    fn links() {
        let r = load("group", "name: devs\n");
        assert_eq!(r.links().provides, vec![Ref::Group("devs".into())]);
        let r = load("group", "name: devs\nstate: absent\n");
        assert_eq!(r.links(), Links::default());
    }

    #[test]
    fn probe_runs_read_only_on_this_host() {
        // `root` exists everywhere; a made-up group does not.
        let r = load("group", "name: root\n");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::NoOp);
        let r = load("group", "name: keel_no_such_group\ngid: 4242\n");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert_eq!(e.diff.action(), Action::Create);
    }

    /// groupadd and groupmod refuse a gid another group has: a plan error
    /// naming that group, not an apply failure.
    #[test]
    fn a_gid_another_group_has_is_a_plan_error() {
        let e = eval("group", "{name: g2, gid: 2400}", "group=g2:x:2401:\ngid_holder=taken\n");
        assert!(e.commands.is_empty());
        let err = e.diff.error.unwrap();
        assert!(err.contains("group `taken` has it"), "{err}");
        let e = eval("group", "{name: g3, gid: 2400}", "group_absent=1\ngid_holder=taken\n");
        assert!(e.commands.is_empty());
        assert!(e.diff.error.is_some());
        // Its own gid, or a free one: as before.
        let e = eval("group", "{name: g2, gid: 2400}", "group=g2:x:2400:\ngid_holder=g2\n");
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval("group", "{name: g2, gid: 2400}", "group=g2:x:2401:\n");
        assert_eq!(summaries(&e), vec!["groupmod -g 2400 g2"]);
        // The probe asks who has the gid, on this host: root has 0.
        let r = load("group", "name: keel_no_such_group\ngid: 0\n");
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.error.unwrap().contains("group `root` has it"));
    }
}
