//! Commit confirmed: changes that can cut keel's access to a host (decided
//! by [`crate::lockout::exposure`] from what each resource touches) are
//! applied under a revert that the host runs by itself, as network routers
//! do.
//!
//! Before the first such change of a run, keel saves what those changes
//! touch ([`Scope`]: files and directories, the live firewall rules, the
//! state of services) under `/var/lib/keel/rollback/ID/` and arms a
//! revert: a transient systemd timer (or, without systemd, a detached
//! `sleep`) that survives the SSH session dying, keel being killed, or the
//! network going away. After the last such change keel opens a brand-new
//! SSH connection (not the multiplexed one, which survives many changes)
//! with the user and port the inventory will use from now on, and runs a
//! command through it. If that works the revert is disarmed; if not, keel
//! reverts at once over the connection it still has and reports which
//! change broke access — and if even that connection is gone, the timer
//! puts everything back by itself. A path that did not exist is removed
//! again; a saved one is unpacked in the private state directory and
//! swapped in.

use crate::shell::{Script, q};
use std::collections::BTreeSet;

/// Where rollback state is kept on the host.
pub const ROLLBACK_DIR: &str = "/var/lib/keel/rollback";

/// Default seconds before an unconfirmed change reverts.
pub const DEFAULT_TIMEOUT: u64 = 120;

/// A random-enough id for one confirmation (unit names, directories).
pub fn new_id() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!(
        "{:?}{}",
        std::time::SystemTime::now(),
        std::process::id()
    ));
    h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a revert puts back: saved by [`arm_script`] before the first change
/// that can cut access, restored by the revert. Built from what the changes
/// touch (see [`crate::lockout::exposure`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Files and directories, saved whole and put back as they were
    /// (removed again when they did not exist).
    pub paths: BTreeSet<String>,
    /// systemd units put back in their state after the files: restarted
    /// when they were running (so they read the restored files), stopped
    /// when they were not. The SSH server is always restarted.
    pub services: BTreeSet<String>,
    /// UFW's on/off state and the live iptables (or nftables) rules.
    pub firewall: bool,
}

impl Scope {
    pub fn merge(&mut self, other: &Scope) {
        self.paths.extend(other.paths.iter().cloned());
        self.services.extend(other.services.iter().cloned());
        self.firewall |= other.firewall;
    }

    /// The paths to save: none inside another one.
    pub fn roots(&self) -> Vec<&str> {
        let inside = |p: &str, r: &str| {
            p.len() > r.len() && p.starts_with(r) && p[r.len()..].starts_with('/')
        };
        self.paths
            .iter()
            .map(String::as_str)
            .filter(|p| !self.paths.iter().any(|r| inside(p, r)))
            .collect()
    }

    /// In words, for messages: "/etc/ssh, the firewall, service ssh".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.roots().iter().map(|p| p.to_string()).collect();
        if self.firewall {
            parts.push("the firewall rules".into());
        }
        if !self.services.is_empty() {
            let s: Vec<&str> = self.services.iter().map(String::as_str).collect();
            parts.push(format!("the state of {}", s.join(", ")));
        }
        parts.join(", ")
    }
}

fn is_ssh_unit(unit: &str) -> bool {
    matches!(
        unit.strip_suffix(".service").unwrap_or(unit),
        "ssh" | "sshd"
    )
}

/// The revert script the host runs (by the timer, or at once on failure).
fn revert_script(dir: &str, scope: &Scope) -> String {
    let mut s = format!(
        "#!/bin/sh\n# keel: put back what an unconfirmed change touched ({}), as saved\n# before it. Runs by itself when keel does not confirm in time.\n",
        scope.describe().replace('\n', " ")
    );
    s.push_str(
        &Script::new(include_str!("confirm/revert.sh"))
            .set("d", dir)
            .render(),
    );
    for (i, p) in scope.roots().iter().enumerate() {
        s.push_str(&format!("keel_restore {i} {}\n", q(p)));
    }
    if scope.firewall {
        s.push_str(
            &Script::new(include_str!("confirm/revert-firewall.sh"))
                .set("d", dir)
                .render(),
        );
    }
    for (i, u) in scope.services.iter().enumerate() {
        let kind = if is_ssh_unit(u) { "ssh" } else { "other" };
        s.push_str(&format!("keel_unit {i} {} {kind}\n", q(u)));
    }
    s.push_str(
        &Script::new(include_str!("confirm/revert-end.sh"))
            .set("d", dir)
            .render(),
    );
    s
}

/// Save what `scope` names into `dir` (which exists): the first half of
/// [`arm_script`].
fn save_script(dir: &str, scope: &Scope) -> String {
    let mut save = Script::new(include_str!("confirm/save.sh"))
        .set("d", dir)
        .render();
    for (i, p) in scope.roots().iter().enumerate() {
        save.push_str(&format!("keel_save {i} {}\n", q(p)));
    }
    for (i, u) in scope.services.iter().enumerate() {
        save.push_str(&format!("keel_state {i} {}\n", q(u)));
    }
    if scope.firewall {
        save.push_str(
            &Script::new(include_str!("confirm/save-firewall.sh"))
                .set("d", dir)
                .render(),
        );
    }
    save
}

/// Save what `scope` names and arm a revert in `timeout` seconds. Prints
/// `armed` on success; arms nothing when saving fails.
pub fn arm_script(id: &str, timeout: u64, scope: &Scope) -> String {
    let dir = format!("{ROLLBACK_DIR}/{id}");
    let mut s = Script::new(include_str!("confirm/arm-prepare.sh"))
        .set("root", ROLLBACK_DIR)
        .set("d", &dir)
        .render();
    s.push_str(&save_script(&dir, scope));
    s.push_str(
        &Script::new(include_str!("confirm/arm-timer.sh"))
            .set("d", &dir)
            .set("revert", revert_script(&dir, scope))
            .set("unit", format!("keel-revert-{id}"))
            .set("timeout", timeout.to_string())
            .render(),
    );
    s
}

/// Confirm: the change kept access; cancel the revert and drop the saved state.
pub fn disarm_script(id: &str) -> String {
    Script::new(include_str!("confirm/disarm.sh"))
        .set("d", format!("{ROLLBACK_DIR}/{id}"))
        .set("unit", format!("keel-revert-{id}"))
        .render()
}

/// Revert at once (the change broke access, but this connection still works).
pub fn revert_now_script(id: &str) -> String {
    Script::new(include_str!("confirm/revert-now.sh"))
        .set("d", format!("{ROLLBACK_DIR}/{id}"))
        .set("unit", format!("keel-revert-{id}"))
        .render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax as syntax_ok;

    fn scope(paths: &[&str], services: &[&str], firewall: bool) -> Scope {
        Scope {
            paths: paths.iter().map(|s| s.to_string()).collect(),
            services: services.iter().map(|s| s.to_string()).collect(),
            firewall,
        }
    }

    #[test]
    fn scripts_are_valid_sh() {
        let s = scope(
            &["/etc/ssh", "/etc/pam.d/sshd", "/etc/it's here"],
            &["ssh", "networking"],
            true,
        );
        syntax_ok(&arm_script("abc123", 30, &s));
        syntax_ok(&arm_script("abc123", 30, &Scope::default()));
        syntax_ok(&disarm_script("abc123"));
        syntax_ok(&revert_now_script("abc123"));
        syntax_ok(&revert_script("/var/lib/keel/rollback/abc123", &s));
    }

    #[test]
    fn revert_work_folders_are_per_run() {
        let s = revert_script(
            "/var/lib/keel/rollback/abc123",
            &scope(&["/etc/ssh", "/etc/ufw"], &["ssh"], true),
        );
        // Work folders live in this run's private state directory only:
        // never a fixed name that two runs (or a local user) could share.
        assert!(s.contains("t=\"$d/restore-$1\""), "{s}");
        for fixed in ["/etc/.", "/tmp/", ".keel-restore"] {
            assert!(!s.contains(fixed), "a shared work path {fixed}: {s}");
        }
    }

    #[test]
    fn the_revert_survives_the_session() {
        let s = arm_script("abc123", 45, &scope(&["/etc/ssh"], &["ssh"], false));
        assert!(
            s.contains("\nunit=keel-revert-abc123\ntimeout=45\n")
                && s.contains("systemd-run --quiet --unit=\"$unit\" --on-active=\"${timeout}s\""),
            "{s}"
        );
        assert!(
            s.contains(
                "setsid sh -c 'sleep \"$1\"; sh \"$2/revert.sh\"' keel-revert \"$timeout\" \"$d\""
            ),
            "fallback without systemd: {s}"
        );
    }

    /// The revert script travels as one quoted value: no path can end it
    /// early (a here-document ended at a line equal to its delimiter).
    #[test]
    fn a_hostile_path_cannot_cut_the_revert_script() {
        let s = scope(&["/etc/a\nKEEL_REVERT_END\n"], &["ssh"], false);
        let arm = arm_script("abc123", 45, &s);
        syntax_ok(&arm);
        let revert = revert_script("/var/lib/keel/rollback/abc123", &s);
        assert!(arm.contains(&format!("\nrevert={}\n", q(&revert))), "{arm}");
    }

    #[test]
    fn roots_drop_nested_paths() {
        let s = scope(
            &[
                "/etc/ssh",
                "/etc/ssh/sshd_config",
                "/etc/sshx",
                "/etc/pam.d/sshd",
            ],
            &[],
            false,
        );
        assert_eq!(s.roots(), vec!["/etc/pam.d/sshd", "/etc/ssh", "/etc/sshx"]);
        assert_eq!(s.describe(), "/etc/pam.d/sshd, /etc/ssh, /etc/sshx");
    }

    #[test]
    fn only_what_the_scope_names_is_saved_and_restored() {
        let s = arm_script("abc123", 45, &scope(&["/etc/pam.d/sshd"], &[], false));
        assert!(s.contains("keel_save 0 /etc/pam.d/sshd"), "{s}");
        assert!(
            !s.contains("/etc/ufw") && !s.contains("iptables-save"),
            "{s}"
        );
        assert!(!s.contains("keel_unit 0"), "no service to restart: {s}");
        let s = arm_script("abc123", 45, &scope(&["/etc/ufw"], &["ssh"], true));
        assert!(
            s.contains("iptables-save") && s.contains("ufw-state"),
            "{s}"
        );
        assert!(s.contains("keel_unit 0 ssh ssh"), "{s}");
    }

    /// The save and revert halves, run for real on files in a scratch
    /// directory: a changed file, a created file, a changed and a removed
    /// directory all come back as they were.
    #[test]
    fn save_then_revert_restores_files_and_removes_new_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap().to_string();
        let state = format!("{root}/state");
        std::fs::create_dir(&state).unwrap();
        let conf = format!("{root}/sshd_config");
        let newfile = format!("{root}/drop-in.conf");
        let dir = format!("{root}/ssh d");
        let gone = format!("{root}/gone");
        std::fs::write(&conf, "Port 22\n").unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(format!("{dir}/a"), "a\n").unwrap();
        std::fs::create_dir(&gone).unwrap();
        std::fs::write(format!("{gone}/keep"), "k\n").unwrap();
        let s = scope(&[&conf, &newfile, &dir, &gone], &[], false);
        let sh = |script: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh(&format!("set -e\n{}", save_script(&state, &s)));
        // The change.
        std::fs::write(&conf, "Port 2222\n").unwrap();
        std::fs::write(&newfile, "AllowUsers nobody\n").unwrap();
        std::fs::write(format!("{dir}/a"), "changed\n").unwrap();
        std::fs::write(format!("{dir}/b"), "new\n").unwrap();
        std::fs::remove_dir_all(&gone).unwrap();
        sh(&revert_script(&state, &s));
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "Port 22\n");
        assert!(
            !std::path::Path::new(&newfile).exists(),
            "a new file is removed"
        );
        assert_eq!(std::fs::read_to_string(format!("{dir}/a")).unwrap(), "a\n");
        assert!(!std::path::Path::new(&format!("{dir}/b")).exists());
        assert_eq!(
            std::fs::read_to_string(format!("{gone}/keep")).unwrap(),
            "k\n"
        );
        assert!(
            !std::path::Path::new(&state).exists(),
            "the saved state is dropped"
        );
        let left: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 3, "no temporary leftovers: {left:?}");
    }
}
