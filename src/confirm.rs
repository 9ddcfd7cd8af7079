//! Commit confirmed: changes that can cut keel's access to a host (sshd
//! settings, firewall rules and policies) are applied under a revert that
//! the host runs by itself, as network routers do.
//!
//! Before the first such change of a run, keel saves the host's SSH and
//! firewall configuration under `/var/lib/keel/rollback/ID/` and arms a
//! revert: a transient systemd timer (or, without systemd, a detached
//! `sleep`) that survives the SSH session dying, keel being killed, or the
//! network going away. After the last such change keel opens a brand-new
//! SSH connection (not the multiplexed one, which survives many changes)
//! with the user and port the inventory will use from now on, and runs a
//! command through it. If that works the revert is disarmed; if not, keel
//! reverts at once over the connection it still has and reports which
//! change broke access — and if even that connection is gone, the timer
//! restores the previous configuration by itself.

use crate::shell::q;

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

/// The revert script the host runs (by the timer, or at once on failure).
fn revert_script(dir: &str) -> String {
    format!(
        r#"#!/bin/sh
# keel: restore the SSH and firewall configuration saved before an
# unconfirmed change. Runs by itself when keel does not confirm in time.
d={d}
[ -d "$d" ] || exit 0
# Work folders of this revert only: another run's revert may run at the same time.
id=$(basename "$d")
logger -t keel "reverting an unconfirmed SSH/firewall change ($d)" 2>/dev/null || true
if [ -f "$d/ssh.tar" ]; then
  rm -rf "/etc/.ssh.keel-restore.$id" && mkdir -p "/etc/.ssh.keel-restore.$id"
  if tar -C "/etc/.ssh.keel-restore.$id" -xpf "$d/ssh.tar"; then
    rm -rf "/etc/.ssh.keel-broken.$id"
    mv /etc/ssh "/etc/.ssh.keel-broken.$id" 2>/dev/null
    mv "/etc/.ssh.keel-restore.$id/ssh" /etc/ssh && rm -rf "/etc/.ssh.keel-broken.$id" "/etc/.ssh.keel-restore.$id"
  fi
  mkdir -p /run/sshd
  systemctl restart ssh 2>/dev/null || systemctl restart sshd 2>/dev/null || service ssh restart 2>/dev/null || true
fi
if command -v ufw >/dev/null 2>&1; then
  if [ -f "$d/ufw.tar" ]; then
    rm -rf "/etc/.ufw.keel-restore.$id" && mkdir -p "/etc/.ufw.keel-restore.$id"
    if tar -C "/etc/.ufw.keel-restore.$id" -xpf "$d/ufw.tar"; then
      rm -rf /etc/ufw && mv "/etc/.ufw.keel-restore.$id/ufw" /etc/ufw && rm -rf "/etc/.ufw.keel-restore.$id"
    fi
  fi
  [ -f "$d/default-ufw" ] && cp -p "$d/default-ufw" /etc/default/ufw
  if [ "$(cat "$d/ufw-state" 2>/dev/null)" = active ]; then
    ufw --force disable >/dev/null 2>&1; ufw --force enable >/dev/null 2>&1
  else
    ufw --force disable >/dev/null 2>&1
  fi
fi
rm -rf "$d"
logger -t keel "reverted ($d)" 2>/dev/null || true
"#,
        d = q(dir)
    )
}

/// Save the SSH and firewall configuration and arm a revert in `timeout`
/// seconds. Prints `armed` on success.
pub fn arm_script(id: &str, timeout: u64) -> String {
    let dir = format!("{ROLLBACK_DIR}/{id}");
    let unit = format!("keel-revert-{id}");
    format!(
        r#"set -e
umask 077
d={d}
mkdir -p {root} "$d"
[ -d /etc/ssh ] && tar -C /etc -cpf "$d/ssh.tar" ssh
if [ -d /etc/ufw ]; then tar -C /etc -cpf "$d/ufw.tar" ufw; fi
[ -f /etc/default/ufw ] && cp -p /etc/default/ufw "$d/default-ufw"
if command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep -q '^Status: active'; then echo active > "$d/ufw-state"; else echo inactive > "$d/ufw-state"; fi
cat > "$d/revert.sh" <<'KEEL_REVERT_END'
{revert}KEEL_REVERT_END
chmod 700 "$d/revert.sh"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  systemd-run --quiet --unit={unit} --on-active={timeout}s --timer-property=AccuracySec=1s /bin/sh "$d/revert.sh"
else
  setsid sh -c "sleep {timeout}; sh '$d/revert.sh'" </dev/null >/dev/null 2>&1 &
fi
echo armed
"#,
        d = q(&dir),
        root = q(ROLLBACK_DIR),
        revert = revert_script(&dir),
        unit = q(&unit),
    )
}

/// Confirm: the change kept access; cancel the revert and drop the saved state.
pub fn disarm_script(id: &str) -> String {
    let dir = format!("{ROLLBACK_DIR}/{id}");
    let unit = format!("keel-revert-{id}");
    format!(
        "rm -rf {d}\nsystemctl stop {t} 2>/dev/null || true\nsystemctl reset-failed {s} 2>/dev/null || true\necho disarmed\n",
        d = q(&dir),
        t = q(&format!("{unit}.timer")),
        s = q(&format!("{unit}.service")),
    )
}

/// Revert at once (the change broke access, but this connection still works).
pub fn revert_now_script(id: &str) -> String {
    let dir = format!("{ROLLBACK_DIR}/{id}");
    let unit = format!("keel-revert-{id}");
    format!(
        "systemctl stop {t} 2>/dev/null || true\n[ ! -x {d}/revert.sh ] || sh {d}/revert.sh\necho reverted\n",
        d = q(&dir),
        t = q(&format!("{unit}.timer")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax as syntax_ok;

    #[test]
    fn scripts_are_valid_sh() {
        syntax_ok(&arm_script("abc123", 30));
        syntax_ok(&disarm_script("abc123"));
        syntax_ok(&revert_now_script("abc123"));
        syntax_ok(&revert_script("/var/lib/keel/rollback/abc123"));
    }

    #[test]
    fn revert_work_folders_are_per_run() {
        let s = revert_script("/var/lib/keel/rollback/abc123");
        assert!(s.contains("id=$(basename \"$d\")"), "{s}");
        for name in [".ssh.keel-restore", ".ssh.keel-broken", ".ufw.keel-restore"] {
            let uses: Vec<&str> = s.split(name).skip(1).collect();
            assert!(!uses.is_empty(), "{name}");
            assert!(
                uses.iter().all(|rest| rest.starts_with(".$id")),
                "a fixed {name} path shared by every run: {s}"
            );
        }
    }

    #[test]
    fn the_revert_survives_the_session() {
        let s = arm_script("abc123", 45);
        assert!(
            s.contains("systemd-run --quiet --unit=keel-revert-abc123 --on-active=45s"),
            "{s}"
        );
        assert!(
            s.contains("setsid sh -c \"sleep 45;"),
            "fallback without systemd: {s}"
        );
    }
}
