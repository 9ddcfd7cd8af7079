//! Installation: the deploy hook keel writes, which copies the live
//! certificate and key where an application reads them and then runs the
//! declared hook.

use super::*;

impl Certificate {
    /// The deploy hook keel writes: copies, then the declared hook.
    pub fn hook_script(&self) -> String {
        let (src_cert, src_key) = self.live_files();
        let mut s = format!(
            "#!/bin/sh\n# Managed by keel: certificate[{}]. Run by certbot after each issuance\n# or renewal (its --deploy-hook), and by keel when the copies are out of date.\nset -e\n",
            self.name
        );
        let owner = match self.group() {
            Some(g) => format!("{}:{g}", self.owner()),
            None => self.owner().to_string(),
        };
        if self.install_cert().is_some() || self.install_key().is_some() {
            // The copy goes through a private temporary file (shell::TempFile):
            // 0600 from its creation, then the owner, then the mode.
            let tmp = shell::TempFile::beside_word("keel_tmp", "\"$2\"");
            let _ = write!(
                s,
                "# keel_install SOURCE DEST MODE OWNER: an atomic copy with owner and mode.\n\
keel_install() {{\n  mkdir -p -- \"$(dirname -- \"$2\")\"\n{create}  if cat -- \"$1\" > \"$keel_tmp\" && chown -- \"$4\" \"$keel_tmp\" && chmod \"$3\" \"$keel_tmp\" && {rename}  then\n    return 0\n  fi\n  {remove}\n  echo \"keel: could not install $2\" >&2\n  exit 1\n}}\n",
                create = tmp.create(),
                rename = tmp.rename().replace('\n', ";\n"),
                remove = tmp.remove(),
            );
            if let Some(c) = self.install_cert() {
                let _ = writeln!(
                    s,
                    "keel_install {} {} 0644 {}",
                    q(&src_cert),
                    q(c),
                    q(&owner)
                );
            }
            if let Some(k) = self.install_key() {
                let _ = writeln!(
                    s,
                    "keel_install {} {} 0600 {}",
                    q(&src_key),
                    q(k),
                    q(&owner)
                );
            }
        }
        if let Some(h) = self.deploy_hook() {
            let _ = writeln!(s, "sh -c {}", q(h));
        }
        s.push_str("if [ -n \"${KEEL_HOOK_DONE:-}\" ]; then : > \"$KEEL_HOOK_DONE\"; fi\n");
        s
    }
}
