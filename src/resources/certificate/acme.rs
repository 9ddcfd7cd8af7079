//! The ACME issuer: certbot obtains (or renews) the certificate, and
//! certbot's renewal settings are kept in line with the declared ones.

use super::*;
use crate::shell::Script;

impl Certificate {
    /// certbot's arguments, built from the declared settings (quoted).
    fn certbot_args(&self, acme: &Acme, iss: Issue) -> Vec<String> {
        let mut args = vec![
            "certonly".to_string(),
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
        args
    }

    /// Run certbot (its arguments set with `set --`, then `certbot.sh`),
    /// removing the self-signed pair it replaces.
    pub(super) fn certbot_script(&self, acme: &Acme, iss: Issue, from_self_signed: bool) -> String {
        let mut s = format!("set -- {}\n", self.certbot_args(acme, iss).join(" "));
        s.push_str(
            &Script::new(include_str!("certbot.sh"))
                .set("keel_hook", self.hook_path())
                .set(
                    "keel_ca_bundle",
                    acme.ca_bundle.as_ref().map(|b| b.0.as_str()).unwrap_or(""),
                )
                .set(
                    "keel_self_dir",
                    if from_self_signed {
                        self.self_dir()
                    } else {
                        String::new()
                    },
                )
                .render(),
        );
        s
    }

    /// Keep certbot's renewal settings in line: the threshold its timer
    /// uses and keel's deploy hook.
    pub(super) fn renewal_fix_script(&self) -> String {
        let hook = self.hook_path();
        Script::new(include_str!("renewal_fix.sh"))
            .set("keel_rc", self.renewal_conf())
            .set("keel_days", self.renew_before_days.to_string())
            .set("keel_hook_sed", sed_escape(&hook))
            .set("keel_hook", hook)
            .render()
    }
}

/// A path escaped for the replacement of a `s|...|...|` sed command.
fn sed_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('&', "\\&")
}
