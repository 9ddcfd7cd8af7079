//! The live state of a certificate: what the probe prints and how it is
//! read (both locations, certbot's renewal settings, the deploy hook and
//! the installed copies).

use super::*;

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
// Probe parsing.

/// The `key=value` lines under `prefix.`, with the prefix removed.
pub(super) fn section(stdout: &str, prefix: &str) -> String {
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

pub(super) fn get(text: &str, key: &str) -> Option<String> {
    kv(text, key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Seconds since 1970 as `date +%s` prints them, within the years 1–9999:
/// the host's clock and certificate dates are untrusted text, and the plan
/// subtracts them from each other.
pub(super) fn epoch(v: &str) -> Option<i64> {
    const MIN: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    v.parse().ok().filter(|e| (MIN..=MAX).contains(e))
}

pub(super) fn hex64(v: Option<String>) -> Option<String> {
    v.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| h.to_ascii_lowercase())
}

pub(super) fn parse_live(stdout: &str, prefix: &str) -> Option<LiveCert> {
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

pub(super) fn parse_copy(stdout: &str, prefix: &str) -> Result<CopyFact, FactError> {
    let s = section(stdout, prefix);
    let kind = get(&s, "type").unwrap_or_else(|| "absent".into());
    let mut c = CopyFact {
        kind,
        ..CopyFact::default()
    };
    if c.kind == "file" {
        c.stat = Stat::parse(&s).map_err(|e| FactError::Unexpected(e.to_string()))?;
        c.sha256 = hex64(get(&s, "sha256"));
    }
    Ok(c)
}

impl Certificate {
    /// The probe (`probe.sh`), then the owner and group of the copies.
    pub(super) fn probe_script(&self) -> String {
        let mut s = crate::shell::Script::new(include_str!("probe.sh"))
            .set("keel_acme_dir", self.acme_dir())
            .set("keel_self_dir", self.self_dir())
            .set("keel_rc", self.renewal_conf())
            .set("keel_hook", self.hook_path())
            .set("keel_copy_cert", self.install_cert().unwrap_or(""))
            .set("keel_copy_key", self.install_key().unwrap_or(""))
            .render();
        s.push_str(&probe_accounts(Some(self.owner()), self.group()));
        s
    }
}
