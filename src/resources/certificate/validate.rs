//! Load-time checks of a certificate's settings per issuer and of its
//! installed copies (the values themselves are checked while the YAML is
//! read, in `values.rs`).

use super::*;

impl Certificate {
    /// ACME: names a CA can issue for an HTTP challenge, and settings
    /// that fit the method and directory.
    pub(super) fn check_acme(&self, errs: &mut Vec<Invalid>) {
        if let Some(w) = self.domains.iter().find(|d| d.is_wildcard()) {
            errs.push(
                Invalid::field(
                    "domains",
                    format!("`{}` is a wildcard: an ACME CA issues wildcards only through a DNS-01 challenge, which `standalone` and `webroot` are not", w.0),
                )
                .help("list the names you serve, or use `issuer: self-signed`"),
            );
        }
        if let Some(d) = self.domains.iter().find(|d| !d.0.contains('.')) {
            errs.push(
                Invalid::field(
                    "domains",
                    format!(
                        "`{}` is not a public domain name: an ACME CA needs a fully qualified name",
                        d.0
                    ),
                )
                .help("e.g. `app.example.com`; for a local name use `issuer: self-signed`"),
            );
        }
        if self.self_signed.is_some() {
            errs.push(
                Invalid::field(
                    "self_signed",
                    "`self_signed` settings have no effect with `issuer: acme`",
                )
                .help("remove them, or set `issuer: self-signed`"),
            );
        }
        let a = self.acme();
        match (a.method, &a.webroot) {
            (Method::Webroot, None) => errs.push(
                Invalid::field(
                    "acme",
                    "`method: webroot` needs `webroot`, the web server's document root",
                )
                .help("e.g. webroot: /var/www/html"),
            ),
            (Method::Standalone, Some(_)) => errs.push(
                Invalid::field("acme", "`webroot` is only used with `method: webroot`")
                    .help("set `method: webroot`, or remove `webroot`"),
            ),
            _ => {}
        }
        if let Some(h) = &a.deploy_hook
            && h.trim().is_empty()
        {
            errs.push(Invalid::field("acme", "`deploy_hook` is empty"));
        }
        if a.ca_bundle.is_some() && !matches!(a.directory, Directory::Url(_)) {
            errs.push(
                Invalid::field("acme", "`ca_bundle` is only for a custom `directory` URL")
                    .help("Let's Encrypt's servers are trusted by the system's CA store"),
            );
        }
    }

    /// Self-signed: a validity longer than the renewal threshold.
    pub(super) fn check_self_signed(&self, errs: &mut Vec<Invalid>) {
        if self.acme.is_some() {
            errs.push(
                Invalid::field(
                    "acme",
                    "`acme` settings have no effect with `issuer: self-signed`",
                )
                .help("remove them, or set `issuer: acme`"),
            );
        }
        let ss = self.self_signed();
        if ss.days == 0 {
            errs.push(Invalid::field("self_signed", "`days` must be at least 1"));
        } else if self.renew_before_days >= ss.days {
            errs.push(
                Invalid::field(
                    "renew_before_days",
                    format!(
                        "renew_before_days ({}) is not shorter than the certificate's validity ({} days): it would be regenerated on every run",
                        self.renew_before_days, ss.days
                    ),
                )
                .help("lower renew_before_days, or raise self_signed.days"),
            );
        }
        if let Some(h) = &ss.deploy_hook
            && h.trim().is_empty()
        {
            errs.push(Invalid::field("self_signed", "`deploy_hook` is empty"));
        }
    }
}

/// `install`: at least one copy, two different paths, a valid owner.
pub(super) fn check_install(i: &Install, errs: &mut Vec<Invalid>) {
    if i.cert.is_none() && i.key.is_none() {
        errs.push(
            Invalid::field("install", "`install` names neither `cert` nor `key`")
                .help("e.g. install: { cert: /srv/app/ssl/cert.pem, key: /srv/app/ssl/key.pem }"),
        );
    }
    if let (Some(c), Some(k)) = (&i.cert, &i.key)
        && c == k
    {
        errs.push(Invalid::field(
            "install",
            "`cert` and `key` are the same path",
        ));
    }
    for e in common::paths::check_perms(None, i.owner.as_deref(), i.group.as_deref()) {
        errs.push(Invalid {
            field: Some("install"),
            ..e
        });
    }
}
