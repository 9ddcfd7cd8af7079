//! The scripts apply runs: write the drop-in after `sshd -t` accepted the
//! whole configuration, add the `Include`, reload sshd.

use super::*;

impl Sshd {
    /// Write the drop-in through a temporary file, validating the whole
    /// configuration with the new drop-in in place (in a copy) before the
    /// rename.
    pub(super) fn write_script(&self, data: &[u8], add: AddInclude) -> String {
        let dir = self.dir();
        let base = self.base();
        let mut s = String::new();
        let _ = writeln!(s, "set -e");
        let _ = writeln!(s, "keel_p={}", q(&self.path));
        let _ = writeln!(s, "keel_d={}", q(&dir));
        let _ = writeln!(s, "keel_base={}", q(base));
        let _ = writeln!(s, "keel_main={}", q(MAIN_CONFIG));
        s.push_str(SSHD_LOOKUP);
        s.push_str(
            r#"if [ -z "$keel_sshd" ] || [ ! -f "$keel_main" ]; then
  echo "keel: sshd is not installed (no sshd binary or no $keel_main): install openssh-server first; $keel_p was not written" >&2
  exit 1
fi
mkdir -p -- "$keel_d"
keel_v=
"#,
        );
        let tmp = shell::TempFile::beside_word("keel_tmp", "\"$keel_p\"");
        s.push_str(&tmp.create());
        s.push_str(&shell::private_dir("keel_v"));
        let _ = writeln!(s, "trap '{}; rm -rf \"$keel_v\"' EXIT", tmp.remove());
        s.push_str(&tmp.fill(data));
        s.push_str(&tmp.set_perms(&Perms {
            mode: Some("0644".into()),
            ..Perms::default()
        }));
        s.push_str(&add_include_decision(add, &self.path, &dir));
        // The copy: every file of the drop-in directory plus the new drop-in,
        // and sshd_config with its Include lines pointing at the copy.
        let _ = writeln!(s, "keel_re={}", q(&sed_escape(&dir)));
        let rel = dir.strip_prefix("/etc/ssh/").map(sed_escape);
        let _ = writeln!(s, "keel_rel={}", q(rel.as_deref().unwrap_or("")));
        s.push_str(
            r#"mkdir "$keel_v/d" "$keel_v/main"
for keel_f in "$keel_d"/*; do
  if [ -f "$keel_f" ]; then cp -p -- "$keel_f" "$keel_v/d/"; fi
done
cp -- "$keel_tmp" "$keel_v/d/$keel_base"
keel_inc='/^[[:space:]]*[Ii][Nn][Cc][Ll][Uu][Dd][Ee][[:space:]=]/'
{
  if [ "$keel_add_include" = yes ]; then printf 'Include %s\n' "$keel_v/d/$keel_base"; fi
  if [ -n "$keel_rel" ]; then
    sed -e "${keel_inc}s#${keel_re}/#${keel_v}/d/#g" -e "${keel_inc}s#\([[:space:]=\"]\)${keel_rel}/#\1${keel_v}/d/#g" "$keel_main"
  else
    sed -e "${keel_inc}s#${keel_re}/#${keel_v}/d/#g" "$keel_main"
  fi
} > "$keel_v/main/sshd_config"
mkdir -p /run/sshd
if ! keel_out=$("$keel_sshd" -t -f "$keel_v/main/sshd_config" 2>&1); then
  printf '%s\n' "$keel_out" | sed -e "s#${keel_v}/main/sshd_config#${keel_main}#g" -e "s#${keel_v}/d/#${keel_d}/#g" >&2
  echo "keel: sshd -t rejected the new configuration (line numbers of $keel_p are those of the new content); $keel_p was left unchanged" >&2
  exit 1
fi
"#,
        );
        s.push_str(&tmp.rename());
        s.push_str("trap - EXIT\nrm -rf \"$keel_v\"\n");
        s
    }

    /// Prepend `Include <path>` to sshd_config (atomically, once).
    pub(super) fn include_script(&self, add: AddInclude) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "set -e");
        let _ = writeln!(s, "keel_p={}", q(&self.path));
        let _ = writeln!(s, "keel_main={}", q(MAIN_CONFIG));
        s.push_str(&add_include_decision(add, &self.path, &self.dir()));
        s.push_str(
            "if [ \"$keel_add_include\" = yes ] && ! grep -qxF \"Include $keel_p\" \"$keel_main\"; then\n",
        );
        let tmp = shell::TempFile::beside_word("keel_mtmp", "\"$keel_main\"");
        s.push_str(&tmp.create());
        let _ = writeln!(s, "trap '{}' EXIT", tmp.remove());
        s.push_str(&tmp.fill_from(
            "printf '# added by keel: read the managed drop-in first\\nInclude %s\\n' \"$keel_p\"; cat \"$keel_main\"",
        ));
        s.push_str(&tmp.set_perms(&Perms::default()));
        s.push_str(&tmp.rename());
        s.push_str("trap - EXIT\nfi\n");
        s
    }
}

/// Finds sshd (root's PATH has /usr/sbin; a user's may not).
pub(super) const SSHD_LOOKUP: &str = r#"keel_sshd=$(command -v sshd 2>/dev/null || true)
if [ -z "$keel_sshd" ] && [ -x /usr/sbin/sshd ]; then keel_sshd=/usr/sbin/sshd; fi
"#;

/// Sets `keel_add_include` to yes or no.
pub(super) fn add_include_decision(add: AddInclude, path: &str, dir: &str) -> String {
    match add {
        AddInclude::Yes => "keel_add_include=yes\n".into(),
        AddInclude::No => "keel_add_include=no\n".into(),
        AddInclude::Auto => {
            // Decided on the host: does an Include line name the drop-in or
            // the `*.conf` glob of its directory?
            let mut pats = vec![path.to_string()];
            if path.ends_with(".conf") {
                pats.push(format!("{dir}/*.conf"));
                if let Some(rel) = dir.strip_prefix("/etc/ssh/") {
                    pats.push(format!("{rel}/*.conf"));
                }
            }
            let args: Vec<String> = pats.iter().map(|p| format!("-e {}", q(p))).collect();
            format!(
                "if grep -iE '^[[:space:]]*include[[:space:]=]' \"$keel_main\" 2>/dev/null | grep -qF {}; then keel_add_include=no; else keel_add_include=yes; fi\n",
                args.join(" ")
            )
        }
    }
}

/// Escape a path (already restricted to `[A-Za-z0-9._/@+-]`) for a sed
/// regular expression.
pub(super) fn sed_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

pub(super) fn reload_script(socket: bool) -> String {
    let mut s = String::new();
    s.push_str(SSHD_LOOKUP);
    // sshd re-executes itself on SIGHUP: its listening sockets close for a
    // moment and the pid file is removed, then written again once it
    // listens. Note the pid file now, to wait for the new one below (so
    // the connection that confirms access is not refused).
    s.push_str(
        r#"keel_pidf=
if [ -n "$keel_sshd" ]; then keel_pidf=$("$keel_sshd" -T 2>/dev/null | sed -n 's/^pidfile //p' | head -n 1); fi
keel_ino=
if [ -n "$keel_pidf" ] && [ -f "$keel_pidf" ]; then keel_ino=$(stat -c "%i %y" "$keel_pidf" 2>/dev/null || true); fi
keel_reloaded=no
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
"#,
    );
    if socket {
        // Ubuntu's socket activation takes the ports from the generated socket unit.
        s.push_str(
            "  if systemctl is-active --quiet ssh.socket; then systemctl daemon-reload; systemctl restart ssh.socket; fi\n",
        );
    }
    s.push_str(
        r#"  if systemctl is-active --quiet ssh.service; then systemctl reload ssh.service; keel_reloaded=yes
  elif systemctl is-active --quiet sshd.service; then systemctl reload sshd.service; keel_reloaded=yes
  fi
elif [ -n "$keel_ino" ]; then
  kill -HUP "$(cat "$keel_pidf")" 2>/dev/null && keel_reloaded=yes
fi
if [ "$keel_reloaded" = yes ] && [ -n "$keel_ino" ]; then
  keel_n=0
  while [ ! -f "$keel_pidf" ] || [ "$(stat -c "%i %y" "$keel_pidf" 2>/dev/null)" = "$keel_ino" ]; do
    keel_n=$((keel_n + 1))
    if [ "$keel_n" -gt 100 ]; then
      echo "keel: sshd did not come back within 10 s after the reload (no new $keel_pidf)" >&2
      exit 1
    fi
    sleep 0.1
  done
fi
"#,
    );
    s
}
