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

/// Let's Encrypt's production and staging directories.
pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

const DAY: i64 = 86_400;

/// A certificate managed on the host.
#[derive(Debug, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
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
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
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
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
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
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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

// ---------------------------------------------------------------------------
// Values checked while the YAML is read, so an error points at its own line
// (even inside a list or a nested map).

/// A domain name: RFC 1123 labels, optionally `*.` in front; stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Domain(pub String);

impl Domain {
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }
}

impl<'de> serde::Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a domain name", |s| {
            check_domain(s).map(|()| Domain(s.to_ascii_lowercase()))
        })
    }
}

/// Check a domain name; the error says what is wrong and how to write it.
pub fn check_domain(s: &str) -> Result<(), String> {
    let bad = |why: String| {
        Err(format!(
            "`{}` is not a valid domain: {why}",
            s.escape_debug()
        ))
    };
    if s.is_empty() {
        return Err("a domain is empty".into());
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        return bad(format!(
            "remove the `{scheme}://` (write `{}`)",
            rest.split(['/', ':']).next().unwrap_or(rest)
        ));
    }
    if s.contains('/') {
        return bad(format!(
            "a domain has no path (write `{}`)",
            s.split('/').next().unwrap_or(s)
        ));
    }
    if let Some((host, _)) = s.rsplit_once(':') {
        return bad(format!("a domain has no port (write `{host}`)"));
    }
    if s.len() > 253 {
        return bad("longer than 253 characters".into());
    }
    if s.ends_with('.') {
        return bad(format!(
            "write it without the trailing dot (`{}`)",
            s.trim_end_matches('.')
        ));
    }
    let base = s.strip_prefix("*.").unwrap_or(s);
    if base.contains('*') {
        return bad(
            "a wildcard is only allowed as the whole first label, as in `*.example.com`".into(),
        );
    }
    for label in base.split('.') {
        if label.is_empty() {
            return bad("it has an empty label (`..`, or a leading dot)".into());
        }
        if label.len() > 63 {
            return bad(format!("the label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return bad(format!(
                "`{}` contains `{}`; labels may only hold letters, digits and `-`",
                label.escape_debug(),
                c.escape_debug()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(format!("the label `{label}` starts or ends with `-`"));
        }
    }
    let last = base.rsplit('.').next().unwrap_or(base);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return bad("it looks like an IP address; certificates here are for domain names".into());
    }
    Ok(())
}

/// An e-mail address (a plain syntax check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(pub String);

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "an e-mail address", |s| {
            check_email(s).map(|()| Email(s.into()))
        })
    }
}

pub fn check_email(s: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{}` is not an e-mail address: {why}",
            s.escape_debug()
        ))
    };
    let Some((local, domain)) = s.split_once('@') else {
        return bad("it has no `@`");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("nothing (or too much) before the `@`");
    }
    if domain.contains('@') {
        return bad("it has more than one `@`");
    }
    if let Some(c) = local.chars().find(|c| {
        c.is_whitespace() || c.is_control() || "\"'(),:;<>[\\]`".contains(*c) || !c.is_ascii()
    }) {
        return bad(&format!(
            "`{}` is not allowed before the `@`",
            c.escape_debug()
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("misplaced `.` before the `@`");
    }
    if !domain.contains('.') || check_domain(domain).is_err() || domain.starts_with("*.") {
        return bad(&format!("`{}` is not a domain", domain.escape_debug()));
    }
    Ok(())
}

/// The ACME directory: a well-known name or the https URL of one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Directory {
    #[default]
    Production,
    Staging,
    Url(String),
}

impl Directory {
    pub fn url(&self) -> &str {
        match self {
            Directory::Production => LETSENCRYPT,
            Directory::Staging => LETSENCRYPT_STAGING,
            Directory::Url(u) => u,
        }
    }
    /// How the plan names a directory URL.
    fn describe(url: &str) -> String {
        match url {
            LETSENCRYPT => "production".into(),
            LETSENCRYPT_STAGING => "staging".into(),
            other => other.into(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Directory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "an ACME directory", parse_directory)
    }
}

pub fn parse_directory(s: &str) -> Result<Directory, String> {
    match s {
        "production" => return Ok(Directory::Production),
        "staging" => return Ok(Directory::Staging),
        _ => {}
    }
    let expected = "expected `production`, `staging` or the https:// URL of an ACME directory";
    let Some(rest) = s.strip_prefix("https://") else {
        return Err(if s.starts_with("http://") {
            format!("`{s}`: ACME directories are served over https")
        } else {
            format!("unknown directory `{}`: {expected}", s.escape_debug())
        });
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'`<>\\{}|^".contains(c))
    {
        return Err(format!(
            "`{}` is not a valid URL: {expected}",
            s.escape_debug()
        ));
    }
    Ok(Directory::Url(s.to_string()))
}

/// An absolute, clean path on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath(pub String);

impl<'de> serde::Deserialize<'de> for HostPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(
            d,
            "an absolute path",
            |s| match super::common::paths::check_host_path("path", s, false).first() {
                Some(e) => Err(match &e.help {
                    Some(h) => format!("{} ({h})", e.message),
                    None => e.message.clone(),
                }),
                None => Ok(HostPath(s.into())),
            },
        )
    }
}

/// Deserialize a string and check it inside the deserializer's own call, so
/// the error carries the span of this very value (an item of a list, a key
/// of a nested map), not of its container.
fn checked_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    check: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V<T> {
        expecting: &'static str,
        check: fn(&str) -> Result<T, String>,
    }
    impl<T> serde::de::Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.check)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V { expecting, check })
}

// ---------------------------------------------------------------------------
// The fact.

/// What `openssl x509` says about a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct X509 {
    pub issuer: String,
    pub subject: String,
    pub serial: String,
    /// DNS names of the subjectAltName (lowercase), in the certificate's order.
    pub sans: Vec<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// `rsaEncryption`, `id-ecPublicKey`, …
    pub key_alg: String,
}

/// A certificate file (and its key) at one of the known locations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCert {
    pub sha256: Option<String>,
    pub key_sha256: Option<String>,
    /// `None` when openssl is missing or could not read the file.
    pub x509: Option<X509>,
}

/// certbot's renewal settings for the lineage (`renewal/NAME.conf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewal {
    pub server: Option<String>,
    pub authenticator: Option<String>,
    pub webroot_path: Option<String>,
    pub renew_hook: Option<String>,
    /// The top-level `renew_before_expiry` (certbot's default is 30 days).
    pub renew_before_expiry: Option<String>,
}

/// An installed copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyFact {
    /// `file`, `absent`, `link`, `dir` or `other`.
    pub kind: String,
    pub stat: Stat,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertFact {
    /// The host's clock (seconds since the epoch).
    pub now: i64,
    pub openssl: bool,
    pub certbot: bool,
    pub systemd: bool,
    /// `systemctl is-enabled certbot.timer` (empty: no such unit).
    pub timer: String,
    /// certbot's lineage.
    pub acme: Option<LiveCert>,
    /// keel's self-signed certificate.
    pub self_signed: Option<LiveCert>,
    pub renewal: Option<Renewal>,
    /// The deploy hook keel wrote (its content).
    pub hook: Option<Vec<u8>>,
    pub hook_mode: Option<String>,
    pub copy_cert: CopyFact,
    pub copy_key: CopyFact,
    pub accounts: Accounts,
}

// ---------------------------------------------------------------------------

/// Why a new certificate is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Issue {
    /// Replace a valid certificate (threshold, settings changed).
    force: bool,
    /// Only domains were added.
    expand: bool,
}

/// What the plan collects on its way: attributes, reasons, commands.
#[derive(Debug)]
struct Acc {
    action: Action,
    attrs: Vec<AttrChange>,
    content: Option<ContentChange>,
    reasons: Vec<String>,
    unknown: Vec<String>,
    cmds: Vec<Cmd>,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            action: Action::Update,
            attrs: Vec::new(),
            content: None,
            reasons: Vec::new(),
            unknown: Vec::new(),
            cmds: Vec::new(),
        }
    }
}

impl Acc {
    fn attr(&mut self, name: &str, before: Option<impl Into<String>>, after: impl Into<String>) {
        self.attrs
            .push(AttrChange::new(name, before, Some(after.into())));
    }

    fn has(&self, name: &str) -> bool {
        self.attrs.iter().any(|a| a.name == name)
    }

    fn finish(self) -> Diff {
        Diff {
            action: Some(self.action),
            attrs: self.attrs,
            content: self.content,
            reason: (!self.reasons.is_empty()).then(|| self.reasons.join("; ")),
            unknown: (!self.unknown.is_empty()).then(|| self.unknown.join("; ")),
            error: None,
            unmanaged: Vec::new(),
        }
    }
}

impl Certificate {
    fn live_dir(&self) -> String {
        match self.issuer {
            Issuer::Acme => self.acme_dir(),
            Issuer::SelfSigned => self.self_dir(),
        }
    }

    /// The live certificate (with chain) and key files.
    fn live_files(&self) -> (String, String) {
        let dir = self.live_dir();
        match self.issuer {
            Issuer::Acme => (format!("{dir}/fullchain.pem"), format!("{dir}/privkey.pem")),
            Issuer::SelfSigned => (format!("{dir}/cert.pem"), format!("{dir}/key.pem")),
        }
    }

    fn hook_path(&self) -> String {
        format!(
            "{}/etc/keel/certificate/{}/deploy-hook",
            self.root, self.name
        )
    }

    fn renewal_conf(&self) -> String {
        format!("{}/etc/letsencrypt/renewal/{}.conf", self.root, self.name)
    }

    fn acme_dir(&self) -> String {
        format!("{}/etc/letsencrypt/live/{}", self.root, self.name)
    }

    fn self_dir(&self) -> String {
        format!("{}/etc/ssl/keel/{}", self.root, self.name)
    }

    fn acme(&self) -> Acme {
        self.acme.clone().unwrap_or_default()
    }

    fn self_signed(&self) -> SelfSigned {
        self.self_signed.clone().unwrap_or_default()
    }

    fn deploy_hook(&self) -> Option<&str> {
        match self.issuer {
            Issuer::Acme => self.acme.as_ref().and_then(|a| a.deploy_hook.as_deref()),
            Issuer::SelfSigned => self
                .self_signed
                .as_ref()
                .and_then(|s| s.deploy_hook.as_deref()),
        }
    }

    fn owner(&self) -> &str {
        self.install
            .as_ref()
            .and_then(|i| i.owner.as_deref())
            .unwrap_or("root")
    }

    fn group(&self) -> Option<&str> {
        self.install.as_ref().and_then(|i| i.group.as_deref())
    }

    fn install_cert(&self) -> Option<&str> {
        self.install
            .as_ref()
            .and_then(|i| i.cert.as_ref())
            .map(|p| p.0.as_str())
    }

    fn install_key(&self) -> Option<&str> {
        self.install
            .as_ref()
            .and_then(|i| i.key.as_ref())
            .map(|p| p.0.as_str())
    }

    fn domain_list(&self) -> Vec<String> {
        self.domains.iter().map(|d| d.0.clone()).collect()
    }

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

    /// `(live, other)`: the certificate at the declared issuer's location
    /// and at the other one.
    fn located<'a>(&self, fact: &'a CertFact) -> (Option<&'a LiveCert>, Option<&'a LiveCert>) {
        match self.issuer {
            Issuer::Acme => (fact.acme.as_ref(), fact.self_signed.as_ref()),
            Issuer::SelfSigned => (fact.self_signed.as_ref(), fact.acme.as_ref()),
        }
    }

    /// The diff and the commands, computed together so they always agree.
    fn plan_changes(&self, fact: &CertFact) -> (Diff, Vec<Cmd>) {
        let mut p = Acc::default();
        let issue = match self.judge(fact, &mut p) {
            Ok(issue) => issue,
            Err(why) => return refuse(p.finish(), why),
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
        (diff, cmds)
    }

    /// Whether a new certificate is needed, and why (attributes, reasons).
    /// `Err` when the declared threshold can never be met.
    fn judge(&self, fact: &CertFact, p: &mut Acc) -> Result<Option<Issue>, String> {
        let want_domains = self.domain_list();
        let (live, other) = self.located(fact);
        let Some(cert) = live else {
            if other.is_some() {
                let before = match self.issuer {
                    Issuer::Acme => Issuer::SelfSigned,
                    Issuer::SelfSigned => Issuer::Acme,
                };
                p.attr("issuer", Some(before.label()), self.issuer.label());
                if self.issuer == Issuer::SelfSigned {
                    p.reasons.push(format!(
                        "certbot's lineage `{}` will be deleted, so its timer stops renewing it",
                        self.name
                    ));
                }
            } else {
                p.action = Action::Create;
            }
            p.attr("domains", None::<String>, list(&want_domains));
            return Ok(Some(Issue::default()));
        };
        let Some(x) = &cert.x509 else {
            if fact.openssl {
                p.reasons
                    .push("the current certificate cannot be read by openssl".into());
                p.attr("certificate", Some("unreadable"), "new");
                return Ok(Some(Issue {
                    force: true,
                    expand: false,
                }));
            }
            p.unknown.push(
                "openssl is not installed yet: the certificate's domains and expiry are read once it is"
                    .into(),
            );
            return Ok(None);
        };
        let mut issue = None;
        let mut have: Vec<&String> = x.sans.iter().collect();
        have.sort();
        have.dedup();
        let mut want: Vec<&String> = want_domains.iter().collect();
        want.sort();
        want.dedup();
        if have != want {
            p.attr("domains", Some(list(&x.sans)), list(&want_domains));
            issue = Some(Issue {
                force: false,
                expand: have.iter().all(|d| want.contains(d)),
            });
        }
        match self.issuer {
            Issuer::Acme => self.judge_settings(fact, p, &mut issue),
            Issuer::SelfSigned => {
                let key = self.self_signed().key;
                if let Some(k) = KeyType::from_openssl(&x.key_alg)
                    && k != key
                {
                    p.attr("key", Some(k.label()), key.label());
                    force(&mut issue);
                }
                if cert.key_sha256.is_none() {
                    p.attr("key file", None::<String>, "generated");
                    force(&mut issue);
                }
            }
        }
        let threshold = i64::from(self.renew_before_days) * DAY;
        match x.not_after {
            Some(end) if end - fact.now < threshold => {
                let verb = match self.issuer {
                    Issuer::Acme => "renew",
                    Issuer::SelfSigned => "regenerate",
                };
                p.attr(
                    "expires",
                    Some(expiry(end, fact.now)),
                    format!(
                        "{verb} (threshold {})",
                        days(i64::from(self.renew_before_days))
                    ),
                );
                // A new certificate from the same CA would be due at once.
                if self.issuer == Issuer::Acme
                    && let Some(life) = x.not_before.map(|b| end - b + 1)
                    && threshold >= life
                    && !p.has("directory")
                {
                    return Err(format!(
                        "renew_before_days ({}) is not shorter than the lifetime of this CA's certificates ({}): a new certificate would be due at once and every run would ask the CA for another; lower renew_before_days",
                        self.renew_before_days,
                        human_duration(life)
                    ));
                }
                force(&mut issue);
            }
            Some(end) => {
                if issue.is_none() {
                    p.reasons.push(format!(
                        "issued by {}, expires {}",
                        short_dn(&x.issuer),
                        expiry(end, fact.now)
                    ));
                }
            }
            None => {
                p.reasons.push("the expiry date cannot be read".into());
                force(&mut issue);
            }
        }
        Ok(issue)
    }

    /// ACME: certbot's recorded settings against the declared ones. certbot
    /// records them only when it issues, so a change asks for a new
    /// certificate.
    fn judge_settings(&self, fact: &CertFact, p: &mut Acc, issue: &mut Option<Issue>) {
        let acme = self.acme();
        let Some(r) = &fact.renewal else {
            p.reasons
                .push("certbot has no renewal settings for this certificate".into());
            p.attr("renewal settings", None::<String>, self.renewal_conf());
            force(issue);
            return;
        };
        let url = acme.directory.url();
        if r.server.as_deref() != Some(url) {
            p.attr(
                "directory",
                r.server.as_deref().map(Directory::describe),
                Directory::describe(url),
            );
            force(issue);
        }
        if r.authenticator.as_deref() != Some(acme.method.label()) {
            p.attr("method", r.authenticator.clone(), acme.method.label());
            force(issue);
        } else if let Some(w) = &acme.webroot
            && acme.method == Method::Webroot
            && r.webroot_path.as_deref() != Some(w.0.as_str())
        {
            p.attr("webroot", r.webroot_path.clone(), w.0.clone());
            force(issue);
        }
    }

    /// The deploy hook file: written first, since certbot runs it.
    fn hook_upkeep(&self, fact: &CertFact, p: &mut Acc) {
        let path = self.hook_path();
        let hook = self.hook_script();
        if fact.hook.as_deref() == Some(hook.as_bytes())
            && fact.hook_mode.as_deref() == Some("0700")
        {
            return;
        }
        match &fact.hook {
            Some(old) if old.as_slice() != hook.as_bytes() => {
                p.content = Some(ContentChange {
                    before: String::from_utf8(old.clone()).ok(),
                    after: hook.clone(),
                })
            }
            Some(_) => p.attr(&format!("{path} mode"), fact.hook_mode.clone(), "0700"),
            None => {}
        }
        let dir = parent_dir(&path).unwrap_or_default();
        let mut script = format!("mkdir -p -- {0}\nchmod 0700 {0}\n", q(&dir));
        script.push_str(&shell::write_file_atomic(
            &path,
            hook.as_bytes(),
            &Perms {
                owner: Some("root".into()),
                group: None,
                mode: Some("0700".into()),
            },
        ));
        p.cmds
            .push(Cmd::new(format!("write the deploy hook {path}"), script));
    }

    /// Commands for a new certificate; the deploy hook then refreshes the
    /// copies.
    fn issue(&self, fact: &CertFact, iss: Issue, p: &mut Acc) {
        let (live, other) = self.located(fact);
        let domains = self.domain_list().join(", ");
        let threshold = days(i64::from(self.renew_before_days));
        match self.issuer {
            Issuer::Acme => {
                let acme = self.acme();
                if !fact.certbot {
                    p.unknown.push("certbot is not installed yet".into());
                }
                let flag = match (iss.force, iss.expand) {
                    (true, _) => ", --force-renewal",
                    (false, true) => ", --expand",
                    _ => "",
                };
                p.cmds.push(Cmd::new(
                    format!(
                        "certbot certonly --cert-name {} for {domains} ({}){flag}",
                        self.name,
                        Directory::describe(acme.directory.url()),
                    ),
                    self.certbot_script(&acme, iss, other.is_some()),
                ));
                p.cmds.push(Cmd::new(
                    format!("renewal settings: renew {threshold} before expiry, deploy hook"),
                    self.renewal_fix_script(),
                ));
                if live.is_none() {
                    p.attr(
                        "renewal",
                        None::<String>,
                        format!("certbot.timer, {threshold} before expiry"),
                    );
                }
            }
            Issuer::SelfSigned => {
                let ss = self.self_signed();
                let validity = days(i64::from(ss.days));
                if live.is_none() {
                    p.attr(
                        "validity",
                        None::<String>,
                        format!("{validity} ({} key)", ss.key.label()),
                    );
                }
                if !fact.openssl {
                    p.unknown.push("openssl is not installed yet".into());
                }
                p.cmds.push(Cmd::new(
                    format!("openssl: self-signed certificate for {domains} ({validity})"),
                    self.openssl_script(),
                ));
                // Only once the new certificate exists.
                if other.is_some() {
                    p.cmds.push(Cmd::new(
                        format!("certbot delete --cert-name {}", self.name),
                        format!(
                            "if command -v certbot >/dev/null 2>&1; then\n  certbot delete --non-interactive --cert-name {}\nfi\n",
                            q(&self.name)
                        ),
                    ));
                }
                p.cmds.push(Cmd::new(
                    format!("run the deploy hook {}", self.hook_path()),
                    format!("{}\n", q(&self.hook_path())),
                ));
            }
        }
        for (field, dest, copy) in self.copies(fact) {
            p.attr(
                &format!("install.{field} ({dest})"),
                (copy.kind != "absent").then_some("current copy"),
                format!(
                    "copy of the new {}{}",
                    if field == "cert" {
                        "certificate"
                    } else {
                        "key"
                    },
                    self.copy_perms(field)
                ),
            );
        }
    }

    /// No new certificate: certbot's renewal settings and the copies.
    fn upkeep(&self, fact: &CertFact, p: &mut Acc) {
        let (Some(live), _) = self.located(fact) else {
            return;
        };
        let hook_path = self.hook_path();
        if self.issuer == Issuer::Acme {
            let r = fact.renewal.clone().unwrap_or_default();
            let have = r.renew_before_expiry.clone();
            let mut fix = false;
            if have.as_deref().map_or(Some(30), parse_days) != Some(self.renew_before_days.into()) {
                p.attr(
                    "renew_before_days (certbot.timer)",
                    Some(have.unwrap_or_else(|| "30 days (certbot's default)".into())),
                    format!("{} days", self.renew_before_days),
                );
                fix = true;
            }
            if r.renew_hook.as_deref() != Some(hook_path.as_str()) {
                p.attr(
                    "certbot deploy hook",
                    r.renew_hook.clone(),
                    hook_path.clone(),
                );
                fix = true;
            }
            if fix {
                p.cmds.push(Cmd::new(
                    format!("update certbot's renewal settings {}", self.renewal_conf()),
                    self.renewal_fix_script(),
                ));
            }
        }
        // Installed copies: stale content goes through the deploy hook (the
        // application reloads); drifted permissions are only fixed.
        let mut stale = false;
        let mut perm_cmds = Vec::new();
        for (field, dest, copy) in self.copies(fact) {
            let (source, what) = match field {
                "cert" => (&live.sha256, "certificate"),
                _ => (&live.key_sha256, "key"),
            };
            let attr = format!("install.{field} ({dest})");
            if copy.kind != "file" {
                let before = match copy.kind.as_str() {
                    "absent" | "" => None,
                    other => Some(format!("a {other}")),
                };
                p.attr(
                    &attr,
                    before,
                    format!("copy of the live {what}{}", self.copy_perms(field)),
                );
                stale = true;
            } else if copy.sha256.is_none() || copy.sha256 != *source {
                p.attr(
                    &attr,
                    Some("out of date"),
                    format!("copy of the live {what}"),
                );
                stale = true;
            } else {
                let wanted = self.wanted(field);
                let changes = wanted.changes(Some(&copy.stat));
                if !changes.is_empty() {
                    for c in changes {
                        p.attrs.push(AttrChange {
                            name: format!("{dest} {}", c.name),
                            ..c
                        });
                    }
                    perm_cmds.push(Cmd::new(
                        format!("chown/chmod {dest}{}", wanted.describe()),
                        wanted.perms(false).apply_to(&q(dest)),
                    ));
                }
            }
        }
        if stale {
            let (src, _) = self.live_files();
            p.cmds.push(Cmd::new(
                format!(
                    "run the deploy hook {hook_path} (copies {src}{})",
                    if self.deploy_hook().is_some() {
                        ", then runs the declared deploy_hook"
                    } else {
                        ""
                    }
                ),
                format!("{}\n", q(&hook_path)),
            ));
        } else {
            p.cmds.extend(perm_cmds);
        }
    }

    /// ACME: certbot.timer renews between keel runs.
    fn timer(&self, fact: &CertFact, p: &mut Acc) {
        if self.issuer != Issuer::Acme || !fact.systemd {
            return;
        }
        match fact.timer.as_str() {
            "enabled" | "enabled-runtime" | "static" => {}
            // certbot (and its timer) is not installed yet.
            "" if !fact.certbot => {}
            "" => p.reasons.push(
                "certbot.timer does not exist on this host: renewals are not scheduled between keel runs"
                    .into(),
            ),
            "masked" | "masked-runtime" => p
                .reasons
                .push("certbot.timer is masked: renewals are not scheduled between keel runs".into()),
            other => {
                p.attr("renewal timer (certbot.timer)", Some(other), "enabled");
                p.cmds.push(Cmd::new(
                    "systemctl enable --now certbot.timer",
                    "systemctl enable --now certbot.timer\n",
                ));
            }
        }
    }

    /// The declared copies with their facts.
    fn copies<'a>(&'a self, fact: &'a CertFact) -> Vec<(&'static str, &'a str, &'a CopyFact)> {
        let mut v = Vec::new();
        if let Some(c) = self.install_cert() {
            v.push(("cert", c, &fact.copy_cert));
        }
        if let Some(k) = self.install_key() {
            v.push(("key", k, &fact.copy_key));
        }
        v
    }

    fn wanted(&self, field: &str) -> Wanted<'_> {
        Wanted {
            mode: Some(if field == "cert" { "0644" } else { "0600" }.into()),
            owner: Some(self.owner()),
            group: self.group(),
        }
    }

    fn copy_perms(&self, field: &str) -> String {
        self.wanted(field).describe()
    }

    fn certbot_script(&self, acme: &Acme, iss: Issue, from_self_signed: bool) -> String {
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
    fn renewal_fix_script(&self) -> String {
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

    fn openssl_script(&self) -> String {
        let ss = self.self_signed();
        let dir = self.self_dir();
        let first = &self.domains[0].0;
        let san: Vec<String> = self
            .domains
            .iter()
            .map(|d| format!("DNS:{}", d.0))
            .collect();
        let newkey = match ss.key {
            KeyType::Rsa => "-newkey rsa:2048".to_string(),
            KeyType::Ec => "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1".to_string(),
        };
        format!(
            "if ! command -v openssl >/dev/null 2>&1; then\n  echo 'keel: openssl is not installed on this host; declare `- package: {{ name: openssl }}` before this certificate' >&2\n  exit 1\nfi\nmkdir -p -- {dir}\nchmod 0755 {dir}\nkeel_ss=$(mktemp -d {tmpl})\nif ! (umask 077; openssl req -x509 {newkey} -nodes -days {days} -subj {subj} -addext {san} -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth -keyout \"$keel_ss/key.pem\" -out \"$keel_ss/cert.pem\" 2>\"$keel_ss/err\"); then\n  cat -- \"$keel_ss/err\" >&2\n  rm -rf -- \"$keel_ss\"\n  exit 1\nfi\nchmod 0600 \"$keel_ss/key.pem\"\nchmod 0644 \"$keel_ss/cert.pem\"\nmv -f -- \"$keel_ss/key.pem\" {key}\nmv -f -- \"$keel_ss/cert.pem\" {cert}\nrm -rf -- \"$keel_ss\"\n",
            dir = q(&dir),
            tmpl = q(&format!("{dir}/.keel.XXXXXX")),
            days = ss.days,
            subj = q(&format!("/CN={first}")),
            san = q(&format!("subjectAltName={}", san.join(","))),
            key = q(&format!("{dir}/key.pem")),
            cert = q(&format!("{dir}/cert.pem")),
        )
    }
}

/// Mark an issuance as forced (creating it when none was planned).
fn force(issue: &mut Option<Issue>) {
    let i = issue.get_or_insert_with(Issue::default);
    i.force = true;
}

fn refuse(diff: Diff, why: String) -> (Diff, Vec<Cmd>) {
    let mut d = diff;
    d.action = Some(Action::Update);
    d.error = Some(why);
    (d, Vec::new())
}

fn sed_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('&', "\\&")
}

fn list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

fn human_duration(secs: i64) -> String {
    let d = secs / DAY;
    if d >= 1 {
        days(d)
    } else {
        format!("{} hours", secs / 3600)
    }
}

/// "2026-12-01 (in 5 days)", "2026-11-01 (expired 3 days ago)".
pub fn expiry(end: i64, now: i64) -> String {
    let left = end - now;
    let when = if left >= DAY {
        format!("in {}", days(left / DAY))
    } else if left > 0 {
        "in less than a day".into()
    } else if -left < DAY {
        "expired today".into()
    } else {
        format!("expired {} ago", days(-left / DAY))
    };
    format!("{} ({when})", ymd(end))
}

/// The UTC calendar date of an epoch (days-from-civil, inverted).
pub fn ymd(epoch: i64) -> String {
    let z = epoch.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `CN=Pebble Intermediate CA 62c3c6` → as is; long DNs keep their CN.
fn short_dn(dn: &str) -> String {
    if dn.len() <= 60 {
        return dn.to_string();
    }
    dn.split(',')
        .find(|p| p.trim_start().starts_with("CN="))
        .unwrap_or(dn)
        .trim()
        .to_string()
}

/// `30 days` → 30 (certbot also accepts weeks).
fn parse_days(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace();
    let n: i64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("day" | "days" | "d") => Some(n),
        Some("week" | "weeks" | "w") => Some(n * 7),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Probe parsing.

/// The `key=value` lines under `prefix.`, with the prefix removed.
fn section(stdout: &str, prefix: &str) -> String {
    let p = format!("{prefix}.");
    let mut s = String::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix(&p) {
            s.push_str(rest);
            s.push('\n');
        }
    }
    s
}

fn get(text: &str, key: &str) -> Option<String> {
    kv(text, key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Seconds since 1970 as `date +%s` prints them, within the years 1–9999:
/// the host's clock and certificate dates are untrusted text, and the plan
/// subtracts them from each other.
fn epoch(v: &str) -> Option<i64> {
    const MIN: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    v.parse().ok().filter(|e| (MIN..=MAX).contains(e))
}

fn hex64(v: Option<String>) -> Option<String> {
    v.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| h.to_ascii_lowercase())
}

fn parse_live(stdout: &str, prefix: &str) -> Option<LiveCert> {
    let s = section(stdout, prefix);
    if get(&s, "present").as_deref() != Some("yes") {
        return None;
    }
    let x509 = get(&s, "notAfter").map(|_| X509 {
        issuer: get(&s, "issuer").unwrap_or_default(),
        subject: get(&s, "subject").unwrap_or_default(),
        serial: get(&s, "serial").unwrap_or_default(),
        sans: get(&s, "san")
            .unwrap_or_default()
            .split(',')
            .filter_map(|e| e.trim().strip_prefix("DNS:"))
            .map(|d| d.trim().to_ascii_lowercase())
            .collect(),
        not_before: get(&s, "not_before_epoch").and_then(|e| epoch(&e)),
        not_after: get(&s, "not_after_epoch").and_then(|e| epoch(&e)),
        key_alg: get(&s, "key_alg").unwrap_or_default(),
    });
    Some(LiveCert {
        sha256: hex64(get(&s, "sha256")),
        key_sha256: hex64(get(&s, "key_sha256")),
        x509,
    })
}

fn parse_copy(stdout: &str, prefix: &str) -> Result<CopyFact, String> {
    let s = section(stdout, prefix);
    let kind = get(&s, "type").unwrap_or_else(|| "absent".into());
    let mut c = CopyFact {
        kind,
        ..CopyFact::default()
    };
    if c.kind == "file" {
        c.stat = Stat::parse(&s)?;
        c.sha256 = hex64(get(&s, "sha256"));
    }
    Ok(c)
}

/// Shell printing what `openssl` says about the certificate `$2` (and the
/// sha256 of `$2` and its key `$3`) with the prefix `$1.`.
const PROBE_CERT_FN: &str = r#"keel_cert() {
  [ -f "$2" ] || return 0
  echo "$1.present=yes"
  printf '%s.sha256=%s\n' "$1" "$(sha256sum < "$2" | cut -d ' ' -f 1)"
  if [ -f "$3" ]; then printf '%s.key_sha256=%s\n' "$1" "$(sha256sum < "$3" | cut -d ' ' -f 1)"; fi
  command -v openssl >/dev/null 2>&1 || return 0
  openssl x509 -in "$2" -noout -nameopt RFC2253 -issuer -subject -serial -startdate -enddate 2>/dev/null | sed "s/^/$1./"
  keel_d=$(openssl x509 -in "$2" -noout -enddate 2>/dev/null | cut -d = -f 2-)
  if [ -n "$keel_d" ]; then printf '%s.not_after_epoch=%s\n' "$1" "$(date -d "$keel_d" +%s 2>/dev/null)"; fi
  keel_d=$(openssl x509 -in "$2" -noout -startdate 2>/dev/null | cut -d = -f 2-)
  if [ -n "$keel_d" ]; then printf '%s.not_before_epoch=%s\n' "$1" "$(date -d "$keel_d" +%s 2>/dev/null)"; fi
  printf '%s.san=%s\n' "$1" "$(openssl x509 -in "$2" -noout -ext subjectAltName 2>/dev/null | sed 1d | tr -d '\n')"
  printf '%s.key_alg=%s\n' "$1" "$(openssl x509 -in "$2" -noout -text 2>/dev/null | sed -n 's/^ *Public Key Algorithm: *//p' | head -n 1)"
}
keel_copy() {
  if [ -L "$2" ]; then echo "$1.type=link"
  elif [ -d "$2" ]; then echo "$1.type=dir"
  elif [ -f "$2" ]; then
    echo "$1.type=file"
    stat -L --printf "$1.mode=%a\n$1.uid=%u\n$1.gid=%g\n$1.owner=%U\n$1.group=%G\n$1.size=%s\n" -- "$2"
    printf '%s.sha256=%s\n' "$1" "$(sha256sum < "$2" | cut -d ' ' -f 1)"
  elif [ -e "$2" ]; then echo "$1.type=other"
  else echo "$1.type=absent"
  fi
}
"#;

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
            Issuer::Acme => {
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
                            format!("`{}` is not a public domain name: an ACME CA needs a fully qualified name", d.0),
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
            Issuer::SelfSigned => {
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
        if self.renew_before_days == 0 {
            errs.push(
                Invalid::field("renew_before_days", "must be at least 1 day")
                    .help("30 is a good value for 90-day certificates"),
            );
        }
        if let Some(i) = &self.install {
            if i.cert.is_none() && i.key.is_none() {
                errs.push(
                    Invalid::field("install", "`install` names neither `cert` nor `key`").help(
                        "e.g. install: { cert: /srv/app/ssl/cert.pem, key: /srv/app/ssl/key.pem }",
                    ),
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
            for e in super::common::paths::check_perms(None, i.owner.as_deref(), i.group.as_deref()) {
                errs.push(Invalid {
                    field: Some("install"),
                    ..e
                });
            }
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
        let mut s = String::from(PROBE_CERT_FN);
        s.push_str(
            "echo \"now=$(date +%s)\"\n\
if command -v openssl >/dev/null 2>&1; then echo openssl=yes; else echo openssl=no; fi\n\
if command -v certbot >/dev/null 2>&1; then echo certbot=yes; else echo certbot=no; fi\n\
if [ -d /run/systemd/system ]; then\n  echo systemd=yes\n  echo \"timer=$(systemctl is-enabled certbot.timer 2>/dev/null)\"\nelse\n  echo systemd=no\nfi\n",
        );
        let le = self.acme_dir();
        let _ = writeln!(
            s,
            "keel_cert acme {} {}",
            q(&format!("{le}/fullchain.pem")),
            q(&format!("{le}/privkey.pem"))
        );
        let sd = self.self_dir();
        let _ = writeln!(
            s,
            "keel_cert self {} {}",
            q(&format!("{sd}/cert.pem")),
            q(&format!("{sd}/key.pem"))
        );
        let _ = writeln!(
            s,
            "keel_rc={}\nif [ -f \"$keel_rc\" ]; then\n  echo renewal.present=yes\n  sed -n -e 's/^server *= */renewal.server=/p' -e 's/^authenticator *= */renewal.authenticator=/p' -e 's/^webroot_path *= */renewal.webroot_path=/p' -e 's/^renew_hook *= */renewal.renew_hook=/p' -e 's/^renew_before_expiry *= */renewal.renew_before_expiry=/p' \"$keel_rc\"\nfi",
            q(&self.renewal_conf())
        );
        let _ = writeln!(
            s,
            "keel_hook={}\nif [ -f \"$keel_hook\" ]; then\n  printf 'hook.mode=%s\\n' \"$(stat -c %a -- \"$keel_hook\")\"\n  printf 'hook.content=%s\\n' \"$(base64 -w 0 < \"$keel_hook\")\"\nfi",
            q(&self.hook_path())
        );
        s.push_str(&probe_accounts(Some(self.owner()), self.group()));
        if let Some(c) = self.install_cert() {
            let _ = writeln!(s, "keel_copy copy_cert {}", q(c));
        }
        if let Some(k) = self.install_key() {
            let _ = writeln!(s, "keel_copy copy_key {}", q(k));
        }
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<CertFact, FactError> {
        let o = out.stdout.as_str();
        let now = match get(o, "now") {
            Some(n) => epoch(&n).ok_or_else(|| format!("the host's clock reads `{n}`: not a time"))?,
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

    fn plan(&self, fact: &CertFact) -> Planned {
        self.plan_changes(fact).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node::Node;
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
            "certbot certonly --non-interactive --agree-tos --email ops@example.com --cert-name ai-platform -d ai.example.com -d api.ai.example.com --standalone --server https://acme-v02.api.letsencrypt.org/directory --deploy-hook /etc/keel/certificate/ai-platform/deploy-hook --keep-until-expiring"
        ), "{s}");
        assert!(!s.contains("REQUESTS_CA_BUNDLE"));
        assert!(c.hook_script().contains("sh -c 'systemctl reload nginx'"));
    }

    #[test]
    fn custom_directory_webroot_and_ca_bundle() {
        let c = cert(
            "name: t\ndomains: [a.example.com]\nacme:\n  directory: https://localhost:14000/dir\n  method: webroot\n  webroot: /var/www/html\n  ca_bundle: /etc/keel/pebble ca.pem\n",
        );
        let s = script(&evaluate(&c, &head(NOW)));
        assert!(
            s.contains("REQUESTS_CA_BUNDLE='/etc/keel/pebble ca.pem'\nexport REQUESTS_CA_BUNDLE"),
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
        assert!(s.contains("renew_before_expiry = 30 days"), "{s}");
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
        assert!(!s.contains("certbot certonly"), "no new certificate: {s}");
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
        assert!(script(&e).contains("rm -rf -- /etc/ssl/keel/web\n"));

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
        assert!(script(&e).contains("certbot delete --non-interactive --cert-name web"));
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
