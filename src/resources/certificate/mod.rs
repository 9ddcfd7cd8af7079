//! The `certificate` kind: a TLS certificate for a set of domains, obtained
//! from an ACME CA with certbot (Let's Encrypt, its staging server, or any
//! ACME directory such as a pebble test server) or generated self-signed
//! with openssl, renewed before it expires, and optionally copied where an
//! application reads it.
//!
//! ```yaml
//! - certificate:
//!     name: ai-platform                    # certbot's --cert-name
//!     domains: [ai.example.com, api.ai.example.com]
//!     issuer: acme                         # acme (default) | self-signed
//!     acme:
//!       email: ops@example.com             # optional
//!       directory: production              # production | staging | https://… (an ACME directory)
//!       method: standalone                 # standalone (default) | webroot
//!       webroot: /var/www/html             # with method: webroot
//!       ca_bundle: /etc/keel/pebble-ca.pem # CA certbot trusts for a custom directory
//!       deploy_hook: "systemctl try-reload-or-restart nginx"
//!     renew_before_days: 30
//!     install:                             # optional copies for an application
//!       cert: /srv/app/nginx/ssl/cert.pem  # the full chain, mode 0644
//!       key: /srv/app/nginx/ssl/key.pem    # mode 0600
//!       owner: root
//!
//! - certificate:
//!     name: internal
//!     domains: [internal.example.test, "*.internal.example.test"]
//!     issuer: self-signed
//!     self_signed: { days: 365, key: ec, deploy_hook: "systemctl try-reload-or-restart nginx" }
//! ```
//!
//! A `deploy_hook` may run before the application is up (the first
//! issuance usually comes before the web server's configuration that uses
//! the certificate): prefer `systemctl try-reload-or-restart nginx`, which
//! does nothing when nginx is not running, to `systemctl reload nginx`,
//! which fails then.
//!
//! Where things live on the host:
//! - ACME: certbot's lineage `/etc/letsencrypt/live/NAME/{fullchain,privkey}.pem`
//!   and its renewal settings `/etc/letsencrypt/renewal/NAME.conf`;
//! - self-signed: `/etc/ssl/keel/NAME/{cert,key}.pem` (key 0600);
//! - a deploy hook written by keel, `/etc/keel/certificate/NAME/deploy-hook`
//!   (mode 0700): it copies the live certificate and key to the `install`
//!   paths (atomically: a temporary file in the same directory gets the
//!   content, owner and mode, then is renamed) and then runs the declared
//!   `deploy_hook`. certbot runs it after every issuance *and* every renewal
//!   by its timer (it is certbot's `--deploy-hook`, kept in the renewal
//!   settings), so installed copies never go stale between keel runs; keel
//!   runs it itself when the copies are out of date. certbot ignores a
//!   failing hook (it only logs it), so keel's certbot runs pass the hook a
//!   marker file to touch on success and run it again when it did not, so
//!   that a failure stops the run.
//!
//! The probe (read-only; `openssl` reads the certificates) prints `key=value`
//! lines: `now=` (the host's clock), which tools exist, and per certificate
//! location (`acme.` and `self.` prefixes) whether it exists, the sha256 of
//! the certificate and key files, `issuer`, `subject`, `serial`, `notBefore`
//! and `notAfter` (also as epochs, through `date -d`), the subjectAltName
//! and the key algorithm; then certbot's renewal settings (`renewal.server`,
//! `renewal.authenticator`, …), whether `certbot.timer` is enabled, the deploy
//! hook (base64, so the plan can show how it changes), and for each installed
//! copy (`copy_cert.`, `copy_key.`) its type, mode, owner, group and sha256.
//!
//! The plan reads like `domains: [a] → [a, b]`, `expires: 2026-12-01 (in 5
//! days) → renew (threshold 30 days)`, `issuer: self-signed → acme`,
//! `install.cert (/srv/…/cert.pem): out of date → copy of the live
//! certificate`. A certificate is (re)issued when it is missing, when its
//! domains differ (`--expand` when domains were only added), when it expires
//! within `renew_before_days` (`--force-renewal`), or when the directory or
//! challenge method changed (`--force-renewal`, so certbot records the new
//! settings for its timer). Otherwise `--keep-until-expiring` keeps certbot
//! from replacing a good certificate.
//!
//! A threshold that is not shorter than the certificate's lifetime can never
//! be satisfied (a fresh certificate would be due at once, every run would
//! ask the CA for a new one, and apply would never converge): the plan shows
//! the renewal with an error saying so (`Diff::error`), and apply does not
//! ask the CA. The lifetime is read from the live certificate, since a CA
//! decides it (90 days for Let's Encrypt today). For self-signed
//! certificates it is known at load time (`self_signed.days`), so there it is
//! a load-time error.
//!
//! Renewal between keel runs: Debian's certbot package installs
//! `certbot.timer` (twice a day); keel makes sure it is enabled and writes
//! `renew_before_expiry = N days` into the renewal settings so the timer uses
//! the same threshold. Note that `ca_bundle` only reaches keel's own certbot
//! runs (`REQUESTS_CA_BUNDLE`), not the timer's. Self-signed certificates are
//! renewed by keel runs only.
//!
//! `standalone` needs port 80 free while certbot runs; use `webroot` when a
//! web server holds it. Wildcard domains need a DNS-01 challenge, which
//! neither method offers: they are accepted for self-signed certificates
//! only. Domains, e-mail address, directory and paths are checked when the
//! stack is loaded, each pointing at its own line.

use super::common::paths::{Accounts, Stat, Wanted, probe_accounts};
use super::*;
use crate::shell::{self, Perms, q};
use std::fmt::Write as _;

mod acme;
mod fact;
mod install;
mod plan;
mod self_signed;
mod validate;
mod values;

pub use fact::*;
use plan::*;
use validate::check_install;
pub use values::*;

/// Let's Encrypt's production and staging directories.
pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

const DAY: i64 = 86_400;

/// A certificate managed on the host.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
pub struct Certificate {
    /// The certificate's name: certbot's `--cert-name`, and the folder name
    /// of self-signed certificates.
    pub name: String,
    /// The domains it covers (the first one is the subject's common name).
    pub domains: Vec<Domain>,
    /// Who signs it: `acme` (default) or `self-signed`.
    #[serde(default)]
    pub issuer: Issuer,
    /// ACME settings (with `issuer: acme`).
    #[serde(default)]
    pub acme: Option<Acme>,
    /// Self-signed settings (with `issuer: self-signed`).
    #[serde(default)]
    pub self_signed: Option<SelfSigned>,
    /// Renew when it expires within this many days.
    #[serde(default = "default_renew_before_days")]
    pub renew_before_days: u32,
    /// Copies of the certificate and key for an application.
    #[serde(default)]
    pub install: Option<Install>,
    /// A folder the host paths keel owns are placed under (tests only; empty
    /// on real hosts).
    #[serde(skip)]
    root: String,
}

fn default_renew_before_days() -> u32 {
    30
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(schemars::JsonSchema)]
pub enum Issuer {
    #[default]
    Acme,
    SelfSigned,
}

impl Issuer {
    fn label(self) -> &'static str {
        match self {
            Issuer::Acme => "acme",
            Issuer::SelfSigned => "self-signed",
        }
    }
}

/// How certbot proves control of the domains (HTTP-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(schemars::JsonSchema)]
pub enum Method {
    /// certbot answers the challenge itself on port 80.
    #[default]
    Standalone,
    /// certbot writes the challenge under a web server's document root.
    Webroot,
}

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Standalone => "standalone",
            Method::Webroot => "webroot",
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
pub struct Acme {
    /// Account e-mail address (registered without one when unset).
    #[serde(default)]
    pub email: Option<Email>,
    /// `production` (default), `staging` or the https URL of a directory.
    #[serde(default)]
    pub directory: Directory,
    #[serde(default)]
    pub method: Method,
    /// Document root for `method: webroot`.
    #[serde(default)]
    pub webroot: Option<HostPath>,
    /// CA certificates certbot trusts for the directory (`REQUESTS_CA_BUNDLE`).
    #[serde(default)]
    pub ca_bundle: Option<HostPath>,
    /// A shell command run after each issuance or renewal.
    #[serde(default)]
    pub deploy_hook: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
pub struct SelfSigned {
    /// Validity of a generated certificate, in days.
    #[serde(default = "default_days")]
    pub days: u32,
    /// Key type: `rsa` (2048 bits, default) or `ec` (P-256).
    #[serde(default)]
    pub key: KeyType,
    /// A shell command run after each generation.
    #[serde(default)]
    pub deploy_hook: Option<String>,
}

impl Default for SelfSigned {
    fn default() -> Self {
        SelfSigned {
            days: default_days(),
            key: KeyType::default(),
            deploy_hook: None,
        }
    }
}

fn default_days() -> u32 {
    365
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(schemars::JsonSchema)]
pub enum KeyType {
    #[default]
    Rsa,
    Ec,
}

impl KeyType {
    fn label(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ec => "ec",
        }
    }
    /// From openssl's "Public Key Algorithm".
    fn from_openssl(alg: &str) -> Option<KeyType> {
        match alg {
            "rsaEncryption" => Some(KeyType::Rsa),
            "id-ecPublicKey" => Some(KeyType::Ec),
            _ => None,
        }
    }
}

/// Where an application wants its copies.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
pub struct Install {
    /// The certificate with its chain (mode 0644).
    #[serde(default)]
    pub cert: Option<HostPath>,
    /// The private key (mode 0600).
    #[serde(default)]
    pub key: Option<HostPath>,
    /// Owner of the copies (default `root`).
    #[serde(default)]
    pub owner: Option<String>,
    /// Group of the copies (default: the owner's login group).
    #[serde(default)]
    pub group: Option<String>,
}

impl Certificate {
    pub(super) fn live_dir(&self) -> String {
        match self.issuer {
            Issuer::Acme => self.acme_dir(),
            Issuer::SelfSigned => self.self_dir(),
        }
    }

    /// The live certificate (with chain) and key files.
    pub(super) fn live_files(&self) -> (String, String) {
        let dir = self.live_dir();
        match self.issuer {
            Issuer::Acme => (format!("{dir}/fullchain.pem"), format!("{dir}/privkey.pem")),
            Issuer::SelfSigned => (format!("{dir}/cert.pem"), format!("{dir}/key.pem")),
        }
    }

    pub(super) fn hook_path(&self) -> String {
        format!(
            "{}/etc/keel/certificate/{}/deploy-hook",
            self.root, self.name
        )
    }

    pub(super) fn renewal_conf(&self) -> String {
        format!("{}/etc/letsencrypt/renewal/{}.conf", self.root, self.name)
    }

    pub(super) fn acme_dir(&self) -> String {
        format!("{}/etc/letsencrypt/live/{}", self.root, self.name)
    }

    pub(super) fn self_dir(&self) -> String {
        format!("{}/etc/ssl/keel/{}", self.root, self.name)
    }

    pub(super) fn acme(&self) -> Acme {
        self.acme.clone().unwrap_or_default()
    }

    pub(super) fn self_signed(&self) -> SelfSigned {
        self.self_signed.clone().unwrap_or_default()
    }

    pub(super) fn deploy_hook(&self) -> Option<&str> {
        match self.issuer {
            Issuer::Acme => self.acme.as_ref().and_then(|a| a.deploy_hook.as_deref()),
            Issuer::SelfSigned => self
                .self_signed
                .as_ref()
                .and_then(|s| s.deploy_hook.as_deref()),
        }
    }

    pub(super) fn owner(&self) -> &str {
        self.install
            .as_ref()
            .and_then(|i| i.owner.as_deref())
            .unwrap_or("root")
    }

    pub(super) fn group(&self) -> Option<&str> {
        self.install.as_ref().and_then(|i| i.group.as_deref())
    }

    pub(super) fn install_cert(&self) -> Option<&str> {
        self.install
            .as_ref()
            .and_then(|i| i.cert.as_ref())
            .map(|p| p.0.as_str())
    }

    pub(super) fn install_key(&self) -> Option<&str> {
        self.install
            .as_ref()
            .and_then(|i| i.key.as_ref())
            .map(|p| p.0.as_str())
    }

    pub(super) fn domain_list(&self) -> Vec<String> {
        self.domains.iter().map(|d| d.0.clone()).collect()
    }
}

impl Kind for Certificate {
    const KIND: &'static str = "certificate";
    type Fact = CertFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let n = &self.name;
        let name_ok = !n.is_empty()
            && n.len() <= 64
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
        if !name_ok {
            errs.push(
                Invalid::field(
                    "name",
                    format!("`{}` is not a certificate name", n.escape_debug()),
                )
                .help("letters, digits, `.`, `_` and `-` (it names certbot's lineage and a folder), e.g. `ai-platform`"),
            );
        }
        if self.domains.is_empty() {
            errs.push(
                Invalid::field("domains", "a certificate needs at least one domain")
                    .help("e.g. domains: [example.com, www.example.com]"),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.domains {
            if !seen.insert(&d.0) {
                errs.push(Invalid::field(
                    "domains",
                    format!("`{}` is listed twice", d.0),
                ));
            }
        }
        match self.issuer {
            Issuer::Acme => self.check_acme(&mut errs),
            Issuer::SelfSigned => self.check_self_signed(&mut errs),
        }
        if self.renew_before_days == 0 {
            errs.push(
                Invalid::field("renew_before_days", "must be at least 1 day")
                    .help("30 is a good value for 90-day certificates"),
            );
        }
        if let Some(i) = &self.install {
            check_install(i, &mut errs);
        }
        errs
    }

    fn links(&self) -> Links {
        let mut needs = vec![Ref::Package("openssl".into())];
        if self.issuer == Issuer::Acme {
            needs.push(Ref::Package("certbot".into()));
            let a = self.acme();
            if let Some(w) = &a.webroot {
                needs.push(Ref::Path(w.0.clone()));
            }
            if let Some(b) = &a.ca_bundle {
                needs.push(Ref::Path(b.0.clone()));
            }
        }
        let mut provides = Vec::new();
        for p in [self.install_cert(), self.install_key()]
            .into_iter()
            .flatten()
        {
            provides.push(Ref::Path(p.to_string()));
            if let Some(d) = parent_dir(p) {
                needs.push(Ref::Path(d));
            }
        }
        if self.install.is_some() {
            let owner = self.owner();
            if owner != "root" && !owner.bytes().all(|b| b.is_ascii_digit()) {
                needs.push(Ref::User(owner.to_string()));
            }
            if let Some(g) = self
                .group()
                .filter(|g| !g.bytes().all(|b| b.is_ascii_digit()))
            {
                needs.push(Ref::Group(g.to_string()));
            }
        }
        needs.sort();
        needs.dedup();
        Links { provides, needs }
    }

    fn probe(&self) -> String {
        self.probe_script()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<CertFact, FactError> {
        let o = out.stdout.as_str();
        let now = match get(o, "now") {
            Some(n) => {
                epoch(&n).ok_or_else(|| format!("the host's clock reads `{n}`: not a time"))?
            }
            None => return Err("the probe printed no `now=` line".into()),
        };
        let renewal = (get(o, "renewal.present").as_deref() == Some("yes")).then(|| {
            let r = section(o, "renewal");
            Renewal {
                server: get(&r, "server"),
                authenticator: get(&r, "authenticator"),
                webroot_path: get(&r, "webroot_path")
                    .map(|w| w.split(',').next().unwrap_or_default().trim().to_string()),
                renew_hook: get(&r, "renew_hook"),
                renew_before_expiry: get(&r, "renew_before_expiry"),
            }
        });
        let hook = match kv(o, "hook.content") {
            Some(b) => Some(shell::unbase64(b.trim()).map_err(|e| format!("deploy hook: {e}"))?),
            None => None,
        };
        let hook_mode = match get(o, "hook.mode") {
            Some(m) => Some(normalize_mode(&m).map_err(|_| format!("`{m}` is not a mode"))?),
            None => None,
        };
        Ok(CertFact {
            now,
            openssl: get(o, "openssl").as_deref() == Some("yes"),
            certbot: get(o, "certbot").as_deref() == Some("yes"),
            systemd: get(o, "systemd").as_deref() == Some("yes"),
            timer: get(o, "timer").unwrap_or_default(),
            acme: parse_live(o, "acme"),
            self_signed: parse_live(o, "self"),
            renewal,
            hook,
            hook_mode,
            copy_cert: parse_copy(o, "copy_cert")?,
            copy_key: parse_copy(o, "copy_key")?,
            accounts: Accounts::parse(o),
        })
    }

    /// Judge the certificate (a new one, and why), keep the deploy hook
    /// first (certbot runs it), then issue or keep up what surrounds the
    /// certificate, and certbot's timer. Nothing to run is a no-op.
    fn plan(&self, fact: &CertFact) -> Planned {
        let mut p = Acc::default();
        let issue = match self.judge(fact, &mut p) {
            Ok(issue) => issue,
            Err(why) => return refuse(p.finish(), why.to_string()),
        };
        self.hook_upkeep(fact, &mut p);
        match issue {
            Some(iss) => self.issue(fact, iss, &mut p),
            None => self.upkeep(fact, &mut p),
        }
        self.timer(fact, &mut p);
        if let Some(u) = fact.accounts.unknown(&self.wanted("cert")) {
            p.unknown.push(u);
        }
        let cmds = std::mem::take(&mut p.cmds);
        let mut diff = p.finish();
        if cmds.is_empty() {
            diff.action = Some(Action::NoOp);
            diff.attrs.clear();
            diff.content = None;
        }
        Planned::new(diff, cmds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;
    use crate::resources::testing::{converge_locally, run_local, try_load};

    const NOW: i64 = 1_795_701_703; // 2026-11-26
    const SHA_CERT: &str = "ab3a0a8a5034297dff8cf1917bea74250455dcefd69e1ed6b27d96d4f97b29d9";
    const SHA_KEY: &str = "8b488de7ca7b66585b98e762bc6a430b76f91a75f59ec31ce27fa916648ba017";
    const STAGING: &str = "name: web\ndomains: [a.example.com]\nacme: { email: ops@example.com, directory: staging }\n";

    fn cert(yaml: &str) -> Certificate {
        let c: Certificate = Node::parse(yaml).unwrap().deserialize().unwrap();
        let errs = Kind::check(&c);
        assert!(errs.is_empty(), "{errs:?}");
        c
    }

    fn evaluate(c: &Certificate, stdout: &str) -> Evaluation {
        Resource::evaluate(c, &ProbeOutput::ok(stdout)).unwrap()
    }

    fn head(now: i64) -> String {
        format!(
            "now={now}\nopenssl=yes\ncertbot=yes\nsystemd=yes\ntimer=enabled\nowner_exists=yes\n"
        )
    }

    /// A live certificate at `prefix` (`acme` or `self`).
    fn live(prefix: &str, sans: &[&str], not_before: i64, not_after: i64, alg: &str) -> String {
        let san = sans
            .iter()
            .map(|d| format!("DNS:{d}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{prefix}.present=yes\n{prefix}.sha256={SHA_CERT}\n{prefix}.key_sha256={SHA_KEY}\n\
{prefix}.issuer=CN=Pebble Intermediate CA 62c3c6\n{prefix}.subject=CN={}\n{prefix}.serial=21D46BE7DB4CCE45\n\
{prefix}.notBefore=Nov 26 13:53:50 2026 GMT\n{prefix}.notAfter=Dec 26 13:55:19 2026 GMT\n\
{prefix}.not_after_epoch={not_after}\n{prefix}.not_before_epoch={not_before}\n{prefix}.san=    {san}\n{prefix}.key_alg={alg}\n",
            sans[0]
        )
    }

    fn renewal(server: &str, c: &Certificate, before: Option<&str>) -> String {
        let mut s = format!(
            "renewal.present=yes\nrenewal.renew_hook={}\nrenewal.server={server}\nrenewal.authenticator=standalone\n",
            c.hook_path()
        );
        if let Some(b) = before {
            s.push_str(&format!("renewal.renew_before_expiry={b}\n"));
        }
        s
    }

    fn hook(c: &Certificate) -> String {
        format!(
            "hook.mode=700\nhook.content={}\n",
            shell::base64(c.hook_script().as_bytes()).replace('\n', "")
        )
    }

    fn copy(prefix: &str, mode: &str, sha: &str) -> String {
        format!(
            "{prefix}.type=file\n{prefix}.mode={mode}\n{prefix}.uid=0\n{prefix}.gid=0\n{prefix}.owner=root\n{prefix}.group=root\n{prefix}.size=1000\n{prefix}.sha256={sha}\n"
        )
    }

    /// A converged ACME certificate (staging, 30-day threshold, 90 days left).
    fn converged(c: &Certificate, sans: &[&str]) -> String {
        head(NOW)
            + &live("acme", sans, NOW - 3600, NOW + 90 * DAY, "id-ecPublicKey")
            + &renewal(LETSENCRYPT_STAGING, c, Some("30 days"))
            + &hook(c)
    }

    fn attrs(e: &Evaluation) -> Vec<String> {
        e.diff
            .attrs
            .iter()
            .map(|a| {
                format!(
                    "{}: {} → {}",
                    a.name,
                    a.before.as_deref().unwrap_or("(none)"),
                    a.after.as_deref().unwrap_or("(none)")
                )
            })
            .collect()
    }

    fn script(e: &Evaluation) -> String {
        e.commands
            .iter()
            .map(|c| c.script.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn absent_acme_certificate_is_requested_with_certbot() {
        let c = cert(
            "name: ai-platform\ndomains: [ai.example.com, api.ai.example.com]\nacme:\n  email: ops@example.com\n  directory: production\n  deploy_hook: systemctl reload nginx\n",
        );
        let e = evaluate(&c, &head(NOW));
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            attrs(&e),
            [
                "domains: (none) → [ai.example.com, api.ai.example.com]",
                "renewal: (none) → certbot.timer, 30 days before expiry",
            ]
        );
        let summaries: Vec<&str> = e.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "write the deploy hook /etc/keel/certificate/ai-platform/deploy-hook",
                "certbot certonly --cert-name ai-platform for ai.example.com, api.ai.example.com (production)",
                "renewal settings: renew 30 days before expiry, deploy hook",
            ]
        );
        let s = script(&e);
        assert!(s.contains(
            "set -- certonly --non-interactive --agree-tos --email ops@example.com --cert-name ai-platform -d ai.example.com -d api.ai.example.com --standalone --server https://acme-v02.api.letsencrypt.org/directory --deploy-hook /etc/keel/certificate/ai-platform/deploy-hook --keep-until-expiring"
        ), "{s}");
        assert!(s.contains("keel_ca_bundle=''\n"), "{s}");
        assert!(c.hook_script().contains("sh -c 'systemctl reload nginx'"));
    }

    #[test]
    fn certbot_runs_with_its_arguments_intact_and_runs_a_skipped_hook() {
        // A fake certbot records its arguments and the CA bundle, and does
        // not run the hook: the script runs it then.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let fake = bin.join("certbot");
        std::fs::write(
            &fake,
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$KEEL_TEST/args\"\nprintf '%s' \"$REQUESTS_CA_BUNDLE\" > \"$KEEL_TEST/bundle\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = cert(
            "name: t\ndomains: [a.example.com, b.example.com]\nacme:\n  directory: https://localhost:14000/dir\n  method: webroot\n  webroot: \"/var/www/my site $(touch pwned)\"\n  ca_bundle: \"/etc/keel/it's ca.pem\"\n",
        );
        let hook = dir.path().join("hook");
        std::fs::write(&hook, format!("#!/bin/sh\ntouch {d}/hook-ran\n")).unwrap();
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = c
            .certbot_script(&c.acme(), Issue::default(), false)
            .replace(&c.hook_path(), hook.to_str().unwrap());
        let out = run_local(&format!(
            "set -e\nKEEL_TEST={}\nexport KEEL_TEST\nPATH={}:$PATH\ncd {}\n{script}",
            q(d),
            q(bin.to_str().unwrap()),
            q(d)
        ));
        assert_eq!(out.status, 0, "{}", out.stderr);
        let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
        assert!(
            args.contains("-d\na.example.com\n-d\nb.example.com\n--webroot\n-w\n/var/www/my site $(touch pwned)\n--server\nhttps://localhost:14000/dir\n"),
            "{args}"
        );
        assert!(args.starts_with("certonly\n--non-interactive\n"), "{args}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("bundle")).unwrap(),
            "/etc/keel/it's ca.pem"
        );
        assert!(dir.path().join("hook-ran").exists(), "the skipped hook ran");
        assert!(!dir.path().join("pwned").exists());
    }

    #[test]
    fn custom_directory_webroot_and_ca_bundle() {
        let c = cert(
            "name: t\ndomains: [a.example.com]\nacme:\n  directory: https://localhost:14000/dir\n  method: webroot\n  webroot: /var/www/html\n  ca_bundle: /etc/keel/pebble ca.pem\n",
        );
        let s = script(&evaluate(&c, &head(NOW)));
        assert!(
            s.contains("keel_ca_bundle='/etc/keel/pebble ca.pem'\n"),
            "{s}"
        );
        assert!(s.contains("--register-unsafely-without-email"), "{s}");
        assert!(
            s.contains("--webroot -w /var/www/html --server https://localhost:14000/dir"),
            "{s}"
        );
        let l = Kind::links(&c);
        assert!(l.needs.contains(&Ref::Package("certbot".into())));
        assert!(l.needs.contains(&Ref::Package("openssl".into())));
        assert!(l.needs.contains(&Ref::Path("/var/www/html".into())));
        assert!(
            l.needs
                .contains(&Ref::Path("/etc/keel/pebble ca.pem".into()))
        );
    }

    #[test]
    fn converged_certificate_is_a_noop() {
        let c = cert(STAGING);
        let e = evaluate(&c, &converged(&c, &["a.example.com"]));
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("issued by CN=Pebble Intermediate CA 62c3c6, expires 2027-02-24 (in 90 days)")
        );
    }

    #[test]
    fn added_domain_expands_the_certificate() {
        let c = cert(
            "name: web\ndomains: [a.example.com, b.example.com]\nacme: { directory: staging }\n",
        );
        let e = evaluate(&c, &converged(&c, &["a.example.com"]));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e),
            ["domains: [a.example.com] → [a.example.com, b.example.com]"]
        );
        let s = script(&e);
        assert!(s.contains("-d a.example.com -d b.example.com"), "{s}");
        assert!(s.contains("--keep-until-expiring --expand"), "{s}");
        assert!(!s.contains("--force-renewal"));
        // Removing a domain replaces the list (no --expand).
        let c = cert(STAGING);
        let e = evaluate(&c, &converged(&c, &["a.example.com", "b.example.com"]));
        assert_eq!(
            attrs(&e),
            ["domains: [a.example.com, b.example.com] → [a.example.com]"]
        );
        assert!(!script(&e).contains("--expand"));
    }

    #[test]
    fn domain_order_and_case_do_not_matter() {
        let c = cert(
            "name: web\ndomains: [B.example.com, a.example.com]\nacme: { directory: staging }\n",
        );
        let e = evaluate(&c, &converged(&c, &["a.example.com", "b.example.com"]));
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    }

    #[test]
    fn expiring_certificate_is_renewed() {
        let c = cert(STAGING);
        let out = head(NOW)
            + &live(
                "acme",
                &["a.example.com"],
                NOW - 85 * DAY,
                NOW + 5 * DAY,
                "id-ecPublicKey",
            )
            + &renewal(LETSENCRYPT_STAGING, &c, None)
            + &hook(&c);
        let e = evaluate(&c, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e),
            ["expires: 2026-12-01 (in 5 days) → renew (threshold 30 days)"]
        );
        assert!(e.commands[0].summary.ends_with(", --force-renewal"));
        let s = script(&e);
        assert!(s.contains("--force-renewal"), "{s}");
        assert!(!s.contains("--keep-until-expiring"), "{s}");
        // The renewal settings get the threshold.
        assert!(s.contains("keel_days=30\n"), "{s}");
    }

    #[test]
    fn expired_certificate_says_so() {
        assert_eq!(
            expiry(NOW - 3 * DAY - 5, NOW),
            "2026-11-23 (expired 3 days ago)"
        );
        assert_eq!(expiry(NOW + 100, NOW), "2026-11-26 (in less than a day)");
        assert_eq!(expiry(NOW + DAY, NOW), "2026-11-27 (in 1 day)");
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(951_782_400), "2000-02-29");
    }

    #[test]
    fn threshold_longer_than_the_lifetime_is_refused() {
        let c = cert(
            "name: web\ndomains: [a.example.com]\nacme: { directory: staging }\nrenew_before_days: 31\n",
        );
        let out = head(NOW)
            + &live(
                "acme",
                &["a.example.com"],
                NOW - 60,
                NOW + 30 * DAY,
                "id-ecPublicKey",
            )
            + &renewal(LETSENCRYPT_STAGING, &c, Some("31 days"))
            + &hook(&c);
        let e = evaluate(&c, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e),
            ["expires: 2026-12-26 (in 30 days) → renew (threshold 31 days)"]
        );
        assert!(
            e.diff.error.as_deref().unwrap().starts_with(
                "renew_before_days (31) is not shorter than the lifetime of this CA's certificates (30 days)"
            ),
            "{:?}",
            e.diff.error
        );
        assert!(e.commands.is_empty(), "nothing runs: {:?}", e.commands);
    }

    #[test]
    fn settings_and_timer_drift() {
        let c = cert(
            "name: web\ndomains: [a.example.com]\nacme: { directory: staging }\nrenew_before_days: 20\n",
        );
        let out = head(NOW).replace("timer=enabled", "timer=disabled")
            + &live(
                "acme",
                &["a.example.com"],
                NOW - 3600,
                NOW + 90 * DAY,
                "id-ecPublicKey",
            )
            + &renewal(LETSENCRYPT_STAGING, &c, None)
                .replace(&c.hook_path(), "/usr/local/bin/old-hook")
            + &hook(&c);
        let e = evaluate(&c, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e),
            [
                "renew_before_days (certbot.timer): 30 days (certbot's default) → 20 days",
                "certbot deploy hook: /usr/local/bin/old-hook → /etc/keel/certificate/web/deploy-hook",
                "renewal timer (certbot.timer): disabled → enabled",
            ]
        );
        let s = script(&e);
        assert!(!s.contains("set -- certonly"), "no new certificate: {s}");
        assert!(s.contains("systemctl enable --now certbot.timer"));
    }

    #[test]
    fn renewal_settings_fix_edits_the_conf_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cert(
            "name: web\ndomains: [a.example.com]\nacme: { directory: staging }\nrenew_before_days: 20\n",
        );
        c.root = dir.path().to_str().unwrap().to_string();
        let conf = c.renewal_conf();
        std::fs::create_dir_all(parent_dir(&conf).unwrap()).unwrap();
        std::fs::write(
            &conf,
            "# renew_before_expiry = 30 days\nversion = 2.1.0\n\n[renewalparams]\naccount = x\nserver = https://x/dir\n",
        )
        .unwrap();
        let out = run_local(&c.renewal_fix_script());
        assert_eq!(out.status, 0, "{}", out.stderr);
        let text = std::fs::read_to_string(&conf).unwrap();
        assert_eq!(
            text,
            format!(
                "renew_before_expiry = 20 days\n# renew_before_expiry = 30 days\nversion = 2.1.0\n\n[renewalparams]\nrenew_hook = {}\naccount = x\nserver = https://x/dir\n",
                c.hook_path()
            )
        );
        // Again: values replaced in place, nothing added.
        c.renew_before_days = 10;
        assert_eq!(run_local(&c.renewal_fix_script()).status, 0);
        let again = std::fs::read_to_string(&conf).unwrap();
        assert_eq!(again, text.replace("= 20 days", "= 10 days"));
    }

    #[test]
    fn directory_or_method_change_forces_a_new_certificate() {
        let c = cert("name: web\ndomains: [a.example.com]\nacme: { directory: production }\n");
        let mut c2 = cert(STAGING);
        c2.renew_before_days = 30;
        let e = evaluate(&c, &converged(&c, &["a.example.com"]));
        assert_eq!(attrs(&e), ["directory: staging → production"]);
        assert!(script(&e).contains("--force-renewal"));
        let c = cert(
            "name: web\ndomains: [a.example.com]\nacme: { directory: staging, method: webroot, webroot: /var/www/html }\n",
        );
        let e = evaluate(&c, &converged(&c, &["a.example.com"]));
        assert_eq!(attrs(&e), ["method: standalone → webroot"]);
        assert!(script(&e).contains("--force-renewal"));
    }

    #[test]
    fn self_signed_to_acme_and_back() {
        let c = cert(STAGING);
        let out = head(NOW)
            + &live(
                "self",
                &["a.example.com"],
                NOW - DAY,
                NOW + 300 * DAY,
                "rsaEncryption",
            );
        let e = evaluate(&c, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e),
            [
                "issuer: self-signed → acme",
                "domains: (none) → [a.example.com]",
                "renewal: (none) → certbot.timer, 30 days before expiry"
            ]
        );
        assert!(script(&e).contains("keel_self_dir=/etc/ssl/keel/web\n"));

        let c = cert("name: web\ndomains: [a.example.com]\nissuer: self-signed\n");
        let e = evaluate(&c, &converged(&cert(STAGING), &["a.example.com"]));
        assert_eq!(attrs(&e)[0], "issuer: acme → self-signed");
        assert!(
            e.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("certbot's lineage `web` will be deleted"),
            "{:?}",
            e.diff.reason
        );
        assert!(script(&e).contains("keel_name=web\n"));
        assert!(script(&e).contains("certbot delete --non-interactive --cert-name \"$keel_name\""));
    }

    #[test]
    fn installed_copies_out_of_date_run_the_hook() {
        let yaml =
            format!("{STAGING}install: {{ cert: /srv/ssl/cert.pem, key: /srv/ssl/key.pem }}\n");
        let c = cert(&yaml);
        let ok = converged(&c, &["a.example.com"])
            + &copy("copy_cert", "644", SHA_CERT)
            + &copy("copy_key", "600", SHA_KEY);
        assert_eq!(evaluate(&c, &ok).diff.action(), Action::NoOp);

        let stale = converged(&c, &["a.example.com"])
            + &copy("copy_cert", "644", SHA_KEY)
            + "copy_key.type=absent\n";
        let e = evaluate(&c, &stale);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e),
            [
                "install.cert (/srv/ssl/cert.pem): out of date → copy of the live certificate",
                "install.key (/srv/ssl/key.pem): (none) → copy of the live key, mode 0600, owner root",
            ]
        );
        assert_eq!(e.commands.len(), 1);
        assert_eq!(script(&e), "/etc/keel/certificate/web/deploy-hook\n");

        let perms = converged(&c, &["a.example.com"])
            + &copy("copy_cert", "644", SHA_CERT)
            + &copy("copy_key", "644", SHA_KEY);
        let e = evaluate(&c, &perms);
        assert_eq!(attrs(&e), ["/srv/ssl/key.pem mode: 0644 → 0600"]);
        assert_eq!(
            script(&e),
            "chown root '/srv/ssl/key.pem'\nchmod 0600 '/srv/ssl/key.pem'\n".replace('\'', "")
        );
    }

    #[test]
    fn changed_hook_shows_a_diff_without_a_new_certificate() {
        let c = cert(STAGING);
        let with_hook = cert(&STAGING.replace(
            "directory: staging }",
            "directory: staging, deploy_hook: systemctl reload nginx }",
        ));
        let e = evaluate(&with_hook, &converged(&c, &["a.example.com"]));
        assert_eq!(e.diff.action(), Action::Update);
        let content = e.diff.content.as_ref().unwrap();
        assert_eq!(content.before.as_deref(), Some(c.hook_script().as_str()));
        assert!(content.after.contains("sh -c 'systemctl reload nginx'"));
        assert_eq!(e.commands.len(), 1);
        assert!(e.commands[0].summary.starts_with("write the deploy hook"));
    }

    #[test]
    fn missing_tools_are_known_after_apply() {
        let c = cert(STAGING);
        let out = "now=1795701703\nopenssl=no\ncertbot=no\nsystemd=yes\ntimer=\nowner_exists=yes\n";
        let e = evaluate(&c, out);
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            e.diff.unknown.as_deref(),
            Some("certbot is not installed yet")
        );
        // A certificate that openssl cannot read yet: no guess.
        let out = format!("{out}acme.present=yes\nacme.sha256={SHA_CERT}\n")
            + &renewal(LETSENCRYPT_STAGING, &c, None)
            + &hook(&c);
        let e = evaluate(&c, &out);
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(
            e.diff
                .unknown
                .as_deref()
                .unwrap()
                .starts_with("openssl is not installed yet")
        );
    }

    #[test]
    fn odd_probe_output() {
        let c = cert(STAGING);
        assert!(Resource::evaluate(&c, &ProbeOutput::ok("")).is_err());
        assert!(
            Resource::evaluate(
                &c,
                &ProbeOutput::ok(format!("{}hook.content=@@@\n", head(NOW)))
            )
            .is_err()
        );
        // A certificate without subjectAltName, an unknown key type, junk lines.
        let out = head(NOW)
            + "garbage line\nacme.present=yes\nacme.notAfter=x\nacme.not_after_epoch=1803477703\nacme.not_before_epoch=1795701230\nacme.san=\nacme.key_alg=\n"
            + &renewal(LETSENCRYPT_STAGING, &c, None)
            + &hook(&c);
        let f = c.parse(&ProbeOutput::ok(&out)).unwrap();
        let x = f.acme.as_ref().unwrap().x509.as_ref().unwrap();
        assert!(x.sans.is_empty());
        let e = evaluate(&c, &out);
        assert_eq!(attrs(&e), ["domains: [] → [a.example.com]"]);
        // An unreadable certificate (openssl present, printed nothing).
        let out =
            head(NOW) + "acme.present=yes\n" + &renewal(LETSENCRYPT_STAGING, &c, None) + &hook(&c);
        let e = evaluate(&c, &out);
        assert_eq!(attrs(&e), ["certificate: unreadable → new"]);
        assert!(script(&e).contains("--force-renewal"));
    }

    #[test]
    fn probe_runs_and_reads_nothing_on_an_empty_root() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cert(&format!(
            "{STAGING}install: {{ cert: \"{0}/a b/cert.pem\", key: \"{0}/a b/key.pem\" }}\n",
            dir.path().display()
        ));
        c.root = dir.path().to_str().unwrap().to_string();
        let out = run_local(&Kind::probe(&c));
        assert_eq!(out.status, 0, "{}", out.stderr);
        let f = c.parse(&out).unwrap();
        assert!(f.acme.is_none() && f.self_signed.is_none() && f.renewal.is_none());
        assert_eq!(f.copy_cert.kind, "absent");
        assert!(f.now > 1_700_000_000);
    }

    fn me() -> String {
        run_local("id -un").stdout.trim().to_string()
    }

    /// Self-signed, for real: openssl in a temp root, hostile install paths
    /// and hook, then a second evaluation is a no-op.
    #[test]
    fn self_signed_converges_locally_with_hostile_values() {
        if !run_local("command -v openssl").stdout.contains("openssl") {
            panic!("this test needs openssl");
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let evil = format!("{root}/it's \"$(touch {root}/pwned)\"; `x` dir");
        let marker = format!("{root}/hook ran");
        let yaml = format!(
            "name: local-test\ndomains: [localhost, '*.example.test']\nissuer: self-signed\nself_signed:\n  days: 40\n  key: ec\n  deploy_hook: {}\nrenew_before_days: 10\ninstall:\n  cert: {}\n  key: {}\n  owner: {}\n",
            serde_json::to_string(&format!(
                "printf '%s\\n' \"it's $((1+1))\" >> '{marker}'; echo done"
            ))
            .unwrap(),
            serde_json::to_string(&format!("{evil}/cert.pem")).unwrap(),
            serde_json::to_string(&format!("{evil}/key.pem")).unwrap(),
            me()
        );
        let mut c = cert(&yaml);
        c.root = root.to_string();
        let (before, after) = converge_locally(&c);
        assert_eq!(before.diff.action(), Action::Create);
        assert!(
            attrs(&before).contains(&"validity: (none) → 40 days (ec key)".to_string()),
            "{:?}",
            attrs(&before)
        );
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert!(!std::path::Path::new(&format!("{root}/pwned")).exists());
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "it's 2\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&format!("{evil}/cert.pem")), 0o644);
        assert_eq!(mode(&format!("{evil}/key.pem")), 0o600);
        assert_eq!(
            mode(&format!("{root}/etc/ssl/keel/local-test/key.pem")),
            0o600
        );
        assert_eq!(mode(&c.hook_path()), 0o700);
        let fact = c.parse(&run_local(&Kind::probe(&c))).unwrap();
        let x = fact.self_signed.unwrap().x509.unwrap();
        assert_eq!(x.sans, ["localhost", "*.example.test"]);
        assert_eq!(x.key_alg, "id-ecPublicKey");
        assert_eq!(x.issuer, "CN=localhost");
        let life = x.not_after.unwrap() - x.not_before.unwrap();
        assert!((40 * DAY - 5..=40 * DAY + 5).contains(&life), "{life}");

        // A domain more: regenerated, copies refreshed, hook run again.
        let old = std::fs::read(format!("{evil}/cert.pem")).unwrap();
        let mut c2 = cert(&yaml.replace("'*.example.test'", "'*.example.test', api.example.test"));
        c2.root = root.to_string();
        let (before, after) = converge_locally(&c2);
        assert_eq!(
            attrs(&before),
            [
                "domains: [localhost, *.example.test] → [localhost, *.example.test, api.example.test]"
                    .to_string(),
                format!(
                    "install.cert ({evil}/cert.pem): current copy → copy of the new certificate, mode 0644, owner {}",
                    me()
                ),
                format!(
                    "install.key ({evil}/key.pem): current copy → copy of the new key, mode 0600, owner {}",
                    me()
                ),
            ]
        );
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_ne!(std::fs::read(format!("{evil}/cert.pem")).unwrap(), old);
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            "it's 2\nit's 2\n"
        );

        // Drift by hand: a copy edited, the key's mode opened.
        std::fs::write(format!("{evil}/cert.pem"), "junk").unwrap();
        std::fs::set_permissions(
            format!("{evil}/key.pem"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let (before, after) = converge_locally(&c2);
        assert_eq!(
            attrs(&before)[0],
            format!("install.cert ({evil}/cert.pem): out of date → copy of the live certificate")
        );
        assert_eq!(after.diff.action(), Action::NoOp, "{:?}", after.diff);
        assert_eq!(mode(&format!("{evil}/key.pem")), 0o600);
    }

    fn err(yaml: &str) -> String {
        match try_load("certificate", yaml) {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn invalid_domains_are_rejected() {
        for (d, msg) in [
            ("bad_domain!.com", "`bad_domain!` contains `_`"),
            (
                "https://a.example.com/x",
                "remove the `https://` (write `a.example.com`)",
            ),
            (
                "a.example.com:443",
                "a domain has no port (write `a.example.com`)",
            ),
            ("a.example.com/", "a domain has no path"),
            ("a..example.com", "empty label"),
            ("-a.example.com", "starts or ends with `-`"),
            ("a.*.example.com", "only allowed as the whole first label"),
            ("example.com.", "without the trailing dot"),
            ("10.0.0.1", "looks like an IP address"),
        ] {
            let e = err(&format!("name: x\ndomains: [\"{d}\"]\n"));
            assert!(e.contains(msg), "{d}: {e}");
        }
        assert!(err("name: x\ndomains: []\n").contains("at least one domain"));
        assert!(err("name: x\ndomains: [a.example.com, A.example.com]\n").contains("listed twice"));
        assert!(err("name: x\ndomains: ['*.example.com']\n").contains("DNS-01"));
        assert!(err("name: x\ndomains: [localhost]\n").contains("fully qualified"));
        assert!(check_domain(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(check_domain("xn--bcher-kva.example").is_ok());
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let e = err("name: x\ndomains: [a.example.com]\nacme: { email: ops.example.com }\n");
        assert!(
            e.contains("`ops.example.com` is not an e-mail address: it has no `@`"),
            "{e}"
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { email: 'o p@example.com' }\n")
                .contains("not an e-mail")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { email: ops@localhost }\n")
                .contains("not a domain")
        );
        let e = err(
            "name: x\ndomains: [a.example.com]\nacme: { directory: http://localhost:14000/dir }\n",
        );
        assert!(e.contains("served over https"), "{e}");
        let e = err("name: x\ndomains: [a.example.com]\nacme: { directory: prod }\n");
        assert!(
            e.contains("expected `production`, `staging` or the https:// URL"),
            "{e}"
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { method: webroot }\n")
                .contains("needs `webroot`")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { webroot: /var/www }\n")
                .contains("only used with `method: webroot`")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { webroot: var/www, method: webroot }\n")
                .contains("not an absolute path")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { ca_bundle: /etc/ca.pem }\n")
                .contains("only for a custom `directory`")
        );
        assert!(err("name: x\ndomains: [a.example.com]\nacme: { method: dns }\n").contains("dns"));
        assert!(err("name: 'a/b'\ndomains: [a.example.com]\n").contains("not a certificate name"));
        assert!(
            err("name: x\ndomains: [a.example.com]\ninstall: { cert: ssl/cert.pem }\n")
                .contains("not an absolute path")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\ninstall: { owner: root }\n")
                .contains("neither")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\ninstall: { cert: /a, key: /a }\n")
                .contains("same path")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\ninstall: { cert: /a, owner: 'a b' }\n")
                .contains("not a valid owner")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nrenew_before_days: 0\n").contains("at least 1")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nrenew_before_days: -1\n")
                .contains("renew_before_days")
        );
        let e = err(
            "name: x\ndomains: [a.example.com]\nissuer: self-signed\nself_signed: { days: 30 }\n",
        );
        assert!(
            e.contains(
                "renew_before_days (30) is not shorter than the certificate's validity (30 days)"
            ),
            "{e}"
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nissuer: self-signed\nacme: {}\n")
                .contains("no effect")
        );
        assert!(err("name: x\ndomains: [a.example.com]\nself_signed: {}\n").contains("no effect"));
        assert!(
            err("name: x\ndomains: [a.example.com]\nissuer: letsencrypt\n").contains("letsencrypt")
        );
        assert!(
            err("name: x\ndomains: [a.example.com]\nacme: { emial: a@example.com }\n")
                .contains("emial")
        );
    }
}
