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
        let mut s = String::from("set -e\n");
        s.push_str(&lookup());
        s.push_str(
            &Script::new(include_str!("need_sshd.sh"))
                .set("keel_p", &self.path)
                .set("keel_d", &dir)
                .set("keel_main", MAIN_CONFIG)
                .render(),
        );
        s.push_str("keel_v=\n");
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
        let rel = dir.strip_prefix("/etc/ssh/").map(sed_escape);
        s.push_str(
            &Script::new(include_str!("validate.sh"))
                .set("keel_p", &self.path)
                .set("keel_d", &dir)
                .set("keel_base", base)
                .set("keel_main", MAIN_CONFIG)
                .set("keel_re", sed_escape(&dir))
                .set("keel_rel", rel.as_deref().unwrap_or(""))
                .render(),
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

/// Sets `keel_sshd` to sshd's path, or empty when it is not installed.
pub(super) fn lookup() -> String {
    Script::new(include_str!("lookup.sh")).render()
}

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

/// Reload sshd and wait until it listens again; `socket`: also restart
/// Ubuntu's `ssh.socket`.
pub(super) fn reload_script(socket: bool) -> String {
    let mut s = lookup();
    s.push_str(
        &Script::new(include_str!("reload.sh"))
            .flag("keel_socket", socket)
            .render(),
    );
    s
}
