//! The ACME issuer: certbot obtains (or renews) the certificate, and
//! certbot's renewal settings are kept in line with the declared ones.

use super::*;

impl Certificate {
    pub(super) fn certbot_script(&self, acme: &Acme, iss: Issue, from_self_signed: bool) -> String {
        let mut s = String::from(
            "if ! command -v certbot >/dev/null 2>&1; then\n  echo 'keel: certbot is not installed on this host; declare `- package: { name: certbot }` before this certificate' >&2\n  exit 1\nfi\n",
        );
        if let Some(b) = &acme.ca_bundle {
            let _ = writeln!(
                s,
                "REQUESTS_CA_BUNDLE={}\nexport REQUESTS_CA_BUNDLE",
                q(&b.0)
            );
        }
        let mut args = vec![
            "certbot".to_string(),
            "certonly".into(),
            "--non-interactive".into(),
            "--agree-tos".into(),
        ];
        match &acme.email {
            Some(e) => args.extend(["--email".into(), q(&e.0)]),
            None => args.push("--register-unsafely-without-email".into()),
        }
        args.extend(["--cert-name".into(), q(&self.name)]);
        for d in &self.domains {
            args.extend(["-d".into(), q(&d.0)]);
        }
        match acme.method {
            Method::Standalone => args.push("--standalone".into()),
            Method::Webroot => {
                args.push("--webroot".into());
                if let Some(w) = &acme.webroot {
                    args.extend(["-w".into(), q(&w.0)]);
                }
            }
        }
        args.extend(["--server".into(), q(acme.directory.url())]);
        args.extend(["--deploy-hook".into(), q(&self.hook_path())]);
        if iss.force {
            args.push("--force-renewal".into());
        } else {
            args.push("--keep-until-expiring".into());
        }
        if iss.expand {
            args.push("--expand".into());
        }
        let _ = write!(
            s,
            "keel_hook_dir=$(mktemp -d)\nKEEL_HOOK_DONE=\"$keel_hook_dir/done\"\nexport KEEL_HOOK_DONE\nif ! {}; then\n  rm -rf -- \"$keel_hook_dir\"\n  echo 'keel: certbot could not obtain the certificate (its messages are above; details in /var/log/letsencrypt/letsencrypt.log)' >&2\n  exit 1\nfi\nunset KEEL_HOOK_DONE\n# certbot runs the hook after an issuance but ignores its failure: when it\n# did not complete, run it here so a failure stops the run.\nif [ ! -e \"$keel_hook_dir/done\" ]; then\n  rm -rf -- \"$keel_hook_dir\"\n  {}\nfi\nrm -rf -- \"$keel_hook_dir\"\n",
            args.join(" "),
            q(&self.hook_path())
        );
        if from_self_signed {
            let _ = writeln!(s, "rm -rf -- {}", q(&self.self_dir()));
        }
        s
    }

    /// Keep certbot's renewal settings in line: the threshold its timer
    /// uses and keel's deploy hook.
    pub(super) fn renewal_fix_script(&self) -> String {
        let conf = q(&self.renewal_conf());
        let days = self.renew_before_days;
        let hook = self.hook_path();
        format!(
            "keel_rc={conf}\nif [ -f \"$keel_rc\" ]; then\n  if grep -q '^renew_before_expiry *=' \"$keel_rc\"; then\n    sed -i {a} \"$keel_rc\"\n  else\n    sed -i {b} \"$keel_rc\"\n  fi\n  if grep -q '^renew_hook *=' \"$keel_rc\"; then\n    sed -i {c} \"$keel_rc\"\n  else\n    sed -i {d} \"$keel_rc\"\n  fi\nfi\n",
            a = q(&format!(
                "s/^renew_before_expiry *=.*/renew_before_expiry = {days} days/"
            )),
            b = q(&format!("1i renew_before_expiry = {days} days")),
            c = q(&format!(
                "s|^renew_hook *=.*|renew_hook = {}|",
                sed_escape(&hook)
            )),
            d = q(&format!("/^\\[renewalparams\\]/a renew_hook = {hook}")),
        )
    }
}

pub(super) fn sed_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('&', "\\&")
}

