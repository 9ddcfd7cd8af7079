//! The `sshd` kind: the OpenSSH server's settings, as one managed drop-in.
//!
//! ```yaml
//! - sshd:
//!     settings:
//!       Port: [22, 2222]            # several values: one `Port` line each
//!       PermitRootLogin: prohibit-password
//!       PasswordAuthentication: "no"
//!       MaxAuthTries: 3
//!       ClientAliveInterval: 5m
//!       AllowUsers: [deploy, ops]   # one line: `AllowUsers deploy ops`
//!     # path: /etc/ssh/sshd_config.d/50-keel.conf   (the default)
//! ```
//!
//! Keys are `sshd_config` keywords, matched case-insensitively against a
//! table of the keywords of OpenSSH 9.x ([`KEYWORDS`]); an unknown one is
//! refused at load time with a "did you mean". Values are checked where
//! their type is known (yes/no, enumerations, integers, ports, time values,
//! `MaxStartups`, log levels) and may never hold a newline. These checks run
//! while the YAML is deserialized, so the diagnostic points at the exact key
//! or value (a `check()` error could only point at `settings:`).
//!
//! The drop-in is `# managed by keel` followed by one `Keyword value` line
//! per setting, in the order written. Debian and Ubuntu read
//! `Include /etc/ssh/sshd_config.d/*.conf` at the *top* of `sshd_config`,
//! and sshd keeps the first value it reads, so the drop-in overrides the
//! main file. If no `Include` of `sshd_config` (before any `Match`) covers
//! the drop-in, `Include <path>` is added at the top of `sshd_config` (only
//! this file: dormant drop-ins next to it are not switched on), and the plan
//! says so.
//!
//! ## Fact
//! The probe prints `sshd=yes|no`, `dropin=absent|file|dir|link|other|unreadable`,
//! `main=file|absent`, `effective_status=N` and base64 sections: `[dropin]`
//! (the drop-in), `[main]` (`sshd_config`), `[sources]` (`grep -n` of the
//! lines of `sshd_config` and the drop-in directory's `*.conf` that set a
//! declared keyword) and `[effective]` (`sshd -T`: the effective
//! configuration, lowercase `keyword value` lines) or `[effective_error]`.
//! `sshd -T` needs `/run/sshd`; the probe never creates it, so when it is
//! missing (sshd stopped) the comparison falls back to the drop-in file.
//!
//! ## Diff
//! Each declared setting is compared with the *effective* value, normalized
//! as `sshd -T` prints it (`prohibit-password` is `without-password`, times
//! are seconds, `MaxStartups 10` is `10:30:10`...): the plan shows
//! `MaxAuthTries: 6 → 3`. Keywords that accumulate over files (`Port`,
//! `AllowUsers`, `AcceptEnv`...) converge when every declared value is in
//! effect; values set elsewhere are shown. A few keywords that sshd
//! rewrites beyond recognition (`ListenAddress`, `IPQoS`, algorithm lists
//! with `+`/`-`/`^`...) are compared with the drop-in file only.
//! When the drop-in already says the right thing but another file read
//! before it sets the keyword first (a `50-cloud-init.conf` sorts before
//! `50-keel.conf`), the plan shows an error naming that file and line, and
//! apply refuses rather than report a success sshd would not honour; before
//! the drop-in is written, the plan warns about it.
//!
//! ## Apply
//! The new drop-in is written to a temporary file next to it. The whole
//! configuration is then validated *before* anything is replaced: a copy of
//! `sshd_config` whose `Include` lines point at a temporary copy of the
//! drop-in directory (holding the other drop-ins and the new one) is checked
//! with `sshd -t -f`. Only then is the temporary file renamed over the
//! drop-in, so a configuration sshd rejects never replaces the working one,
//! even if keel dies half-way; apply fails with sshd's own message. sshd is
//! then reloaded (`systemctl reload ssh`, or `sshd`; a `SIGHUP` without
//! systemd): existing sessions stay open. sshd re-executes itself on a
//! reload and refuses connections for a moment, so the script waits for its
//! new pid file (written once it listens again) before it returns: the
//! fresh connection that confirms access must not race it. On Ubuntu's
//! socket-activated `ssh.socket`, a change of `Port` or `ListenAddress`
//! also regenerates and restarts the socket.
//!
//! A change can cut keel's own access, so the kind says so
//! (`can_cut_access`): apply runs it under commit-confirmed. It is not
//! notifiable: it reloads sshd itself.
//!
//! [`Sshd::desired_settings`] exposes the declared settings (keyword as
//! sshd names it, values) for lockout analysis.

use super::*;
use crate::shell::{self, Perms, q};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where the drop-in goes unless `path:` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/ssh/sshd_config.d/50-keel.conf";
/// The main configuration file.
pub const MAIN_CONFIG: &str = "/etc/ssh/sshd_config";
/// First line of the drop-in.
const HEADER: &str = "# managed by keel: changes made here by hand are overwritten";

// ---------------------------------------------------------------------------
// The keyword table.

/// What a single value may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    /// `yes` or `no` (YAML `true`/`false` are accepted and written yes/no).
    Flag,
    /// One of the listed values: (accepted spelling, as `sshd -T` prints it).
    Choice(&'static [(&'static str, &'static str)]),
    /// A non-negative integer.
    Int,
    /// An integer or `none`.
    IntOrNone,
    /// A TCP port, 1–65535.
    Port,
    /// An sshd time value (`90`, `5m`, `1h30m`); `sshd -T` prints seconds.
    Time,
    /// A time value or `none` (`0` means `none`).
    TimeOrNone,
    /// `start` or `start:rate:full`.
    MaxStartups,
    /// One token without whitespace (a user pattern, an algorithm name).
    Word,
    /// The rest of the line, verbatim.
    Text,
}

/// How several values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Exactly one value.
    One,
    /// One `Keyword value` line per value (`Port`, `HostKey`).
    Lines,
    /// One line, values separated by spaces (`AllowUsers a b`).
    Words,
    /// One line, values separated by commas (`Ciphers a,b`).
    Commas,
}

/// How the effective value (`sshd -T`) is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eff {
    /// The first value read wins: compare with the normalized value.
    Value,
    /// Values accumulate over every file: converged when all declared
    /// values are in effect.
    Subset,
    /// sshd rewrites the value beyond what keel normalizes (or does not
    /// print it): compare with the drop-in file only.
    FileOnly,
}

/// One `sshd_config` keyword.
#[derive(Debug, PartialEq, Eq)]
pub struct Keyword {
    /// The spelling of the manual page.
    pub name: &'static str,
    ty: Ty,
    layout: Layout,
    eff: Eff,
    /// For legacy names: the keyword sshd actually sets.
    alias_of: Option<&'static str>,
}

impl Keyword {
    /// The keyword sshd sets (and `sshd -T` prints, lowercased).
    pub fn canonical(&self) -> &'static str {
        self.alias_of.unwrap_or(self.name)
    }
    fn effective_key(&self) -> String {
        self.canonical().to_ascii_lowercase()
    }
    fn sep(&self) -> &'static str {
        match self.layout {
            Layout::One | Layout::Words => " ",
            Layout::Lines => ", ",
            Layout::Commas => ",",
        }
    }
}

const fn k(name: &'static str, ty: Ty, layout: Layout, eff: Eff) -> Keyword {
    Keyword {
        name,
        ty,
        layout,
        eff,
        alias_of: None,
    }
}
const fn flag(name: &'static str) -> Keyword {
    k(name, Ty::Flag, Layout::One, Eff::Value)
}
const fn int(name: &'static str) -> Keyword {
    k(name, Ty::Int, Layout::One, Eff::Value)
}
const fn text(name: &'static str) -> Keyword {
    k(name, Ty::Text, Layout::One, Eff::Value)
}
const fn choice(name: &'static str, c: &'static [(&'static str, &'static str)]) -> Keyword {
    k(name, Ty::Choice(c), Layout::One, Eff::Value)
}
const fn algorithms(name: &'static str) -> Keyword {
    k(name, Ty::Word, Layout::Commas, Eff::Value)
}
const fn alias(name: &'static str, of: &Keyword) -> Keyword {
    Keyword {
        name,
        ty: of.ty,
        layout: of.layout,
        eff: of.eff,
        alias_of: Some(of.name),
    }
}

const PERMIT_ROOT: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("no", "no"),
    ("prohibit-password", "without-password"),
    ("without-password", "without-password"),
    ("forced-commands-only", "forced-commands-only"),
];
const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("delayed", "yes"), ("no", "no")];
const FORWARDING: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("all", "yes"),
    ("no", "no"),
    ("local", "local"),
    ("remote", "remote"),
];
const GATEWAY_PORTS: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("no", "no"),
    ("clientspecified", "clientspecified"),
];
const IGNORE_RHOSTS: &[(&str, &str)] =
    &[("yes", "yes"), ("no", "no"), ("shosts-only", "shosts-only")];
const TUNNEL: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("no", "no"),
    ("point-to-point", "point-to-point"),
    ("ethernet", "ethernet"),
];
const FAMILY: &[(&str, &str)] = &[("any", "any"), ("inet", "inet"), ("inet6", "inet6")];
const FP_HASH: &[(&str, &str)] = &[("sha256", "sha256"), ("md5", "md5")];
const LOG_LEVEL: &[(&str, &str)] = &[
    ("QUIET", "QUIET"),
    ("FATAL", "FATAL"),
    ("ERROR", "ERROR"),
    ("INFO", "INFO"),
    ("VERBOSE", "VERBOSE"),
    ("DEBUG", "DEBUG"),
    ("DEBUG1", "DEBUG"),
    ("DEBUG2", "DEBUG2"),
    ("DEBUG3", "DEBUG3"),
];
const FACILITY: &[(&str, &str)] = &[
    ("DAEMON", "DAEMON"),
    ("USER", "USER"),
    ("AUTH", "AUTH"),
    ("AUTHPRIV", "AUTHPRIV"),
    ("LOCAL0", "LOCAL0"),
    ("LOCAL1", "LOCAL1"),
    ("LOCAL2", "LOCAL2"),
    ("LOCAL3", "LOCAL3"),
    ("LOCAL4", "LOCAL4"),
    ("LOCAL5", "LOCAL5"),
    ("LOCAL6", "LOCAL6"),
    ("LOCAL7", "LOCAL7"),
];

const KBD_INTERACTIVE: Keyword = flag("KbdInteractiveAuthentication");
const PUBKEY_ALGORITHMS: Keyword = algorithms("PubkeyAcceptedAlgorithms");
const HOSTBASED_ALGORITHMS: Keyword = algorithms("HostbasedAcceptedAlgorithms");

/// The `sshd_config` keywords of OpenSSH 9.x (Debian's and Ubuntu's builds,
/// checked against OpenSSH 9.2's `sshd -T`), except `Match` and `Include`.
pub static KEYWORDS: &[Keyword] = &[
    // Listening.
    k("Port", Ty::Port, Layout::Lines, Eff::Subset),
    k("ListenAddress", Ty::Text, Layout::Lines, Eff::FileOnly),
    choice("AddressFamily", FAMILY),
    // Authentication.
    choice("PermitRootLogin", PERMIT_ROOT),
    flag("PasswordAuthentication"),
    flag("PubkeyAuthentication"),
    KBD_INTERACTIVE,
    alias("ChallengeResponseAuthentication", &KBD_INTERACTIVE),
    flag("PermitEmptyPasswords"),
    flag("HostbasedAuthentication"),
    flag("HostbasedUsesNameFromPacketOnly"),
    flag("IgnoreUserKnownHosts"),
    choice("IgnoreRhosts", IGNORE_RHOSTS),
    flag("KerberosAuthentication"),
    flag("KerberosOrLocalPasswd"),
    flag("KerberosTicketCleanup"),
    k("KerberosGetAFSToken", Ty::Flag, Layout::One, Eff::FileOnly),
    flag("GSSAPIAuthentication"),
    flag("GSSAPICleanupCredentials"),
    flag("GSSAPIStrictAcceptorCheck"),
    flag("GSSAPIKeyExchange"),
    flag("GSSAPIStoreCredentialsOnRekey"),
    algorithms("GSSAPIKexAlgorithms"),
    flag("UsePAM"),
    k("AuthenticationMethods", Ty::Word, Layout::Words, Eff::Value),
    k("AuthorizedKeysFile", Ty::Word, Layout::Words, Eff::Value),
    text("AuthorizedKeysCommand"),
    text("AuthorizedKeysCommandUser"),
    text("AuthorizedPrincipalsFile"),
    text("AuthorizedPrincipalsCommand"),
    text("AuthorizedPrincipalsCommandUser"),
    text("TrustedUserCAKeys"),
    text("RevokedKeys"),
    k("PubkeyAuthOptions", Ty::Word, Layout::Words, Eff::FileOnly),
    int("RequiredRSASize"),
    text("SecurityKeyProvider"),
    flag("ExposeAuthInfo"),
    // Limits and timeouts.
    int("MaxAuthTries"),
    int("MaxSessions"),
    k("MaxStartups", Ty::MaxStartups, Layout::One, Eff::Value),
    k(
        "PerSourceMaxStartups",
        Ty::IntOrNone,
        Layout::One,
        Eff::Value,
    ),
    k(
        "PerSourceNetBlockSize",
        Ty::Text,
        Layout::One,
        Eff::FileOnly,
    ),
    k("PerSourcePenalties", Ty::Word, Layout::Words, Eff::FileOnly),
    k(
        "PerSourcePenaltyExemptList",
        Ty::Text,
        Layout::One,
        Eff::FileOnly,
    ),
    k("LoginGraceTime", Ty::Time, Layout::One, Eff::Value),
    k("ClientAliveInterval", Ty::Time, Layout::One, Eff::Value),
    int("ClientAliveCountMax"),
    k(
        "UnusedConnectionTimeout",
        Ty::TimeOrNone,
        Layout::One,
        Eff::Value,
    ),
    k("ChannelTimeout", Ty::Word, Layout::Words, Eff::Value),
    flag("TCPKeepAlive"),
    k("RekeyLimit", Ty::Word, Layout::Words, Eff::FileOnly),
    // Who may log in.
    k("AllowUsers", Ty::Word, Layout::Words, Eff::Subset),
    k("DenyUsers", Ty::Word, Layout::Words, Eff::Subset),
    k("AllowGroups", Ty::Word, Layout::Words, Eff::Subset),
    k("DenyGroups", Ty::Word, Layout::Words, Eff::Subset),
    // Forwarding and sessions.
    flag("X11Forwarding"),
    int("X11DisplayOffset"),
    flag("X11UseLocalhost"),
    text("XAuthLocation"),
    choice("AllowTcpForwarding", FORWARDING),
    choice("AllowStreamLocalForwarding", FORWARDING),
    flag("AllowAgentForwarding"),
    flag("DisableForwarding"),
    choice("GatewayPorts", GATEWAY_PORTS),
    choice("PermitTunnel", TUNNEL),
    k("PermitOpen", Ty::Word, Layout::Words, Eff::Value),
    k("PermitListen", Ty::Word, Layout::Words, Eff::FileOnly),
    k("StreamLocalBindMask", Ty::Text, Layout::One, Eff::FileOnly),
    flag("StreamLocalBindUnlink"),
    flag("PermitTTY"),
    flag("PermitUserRC"),
    text("PermitUserEnvironment"),
    k("AcceptEnv", Ty::Word, Layout::Words, Eff::Subset),
    k("SetEnv", Ty::Word, Layout::Words, Eff::FileOnly),
    text("ChrootDirectory"),
    text("ForceCommand"),
    k("Subsystem", Ty::Text, Layout::Lines, Eff::FileOnly),
    // Messages and logging.
    flag("PrintMotd"),
    flag("PrintLastLog"),
    text("Banner"),
    k("DebianBanner", Ty::Flag, Layout::One, Eff::FileOnly),
    text("VersionAddendum"),
    flag("UseDNS"),
    choice("LogLevel", LOG_LEVEL),
    text("LogVerbose"),
    choice("SyslogFacility", FACILITY),
    choice("FingerprintHash", FP_HASH),
    // Cryptography and host keys.
    algorithms("Ciphers"),
    algorithms("MACs"),
    algorithms("KexAlgorithms"),
    algorithms("HostKeyAlgorithms"),
    PUBKEY_ALGORITHMS,
    alias("PubkeyAcceptedKeyTypes", &PUBKEY_ALGORITHMS),
    HOSTBASED_ALGORITHMS,
    alias("HostbasedAcceptedKeyTypes", &HOSTBASED_ALGORITHMS),
    algorithms("CASignatureAlgorithms"),
    k("HostKey", Ty::Text, Layout::Lines, Eff::FileOnly),
    k("HostCertificate", Ty::Text, Layout::Lines, Eff::FileOnly),
    text("HostKeyAgent"),
    k("IPQoS", Ty::Word, Layout::Words, Eff::FileOnly),
    text("ModuliFile"),
    // Files and modes.
    flag("StrictModes"),
    text("PidFile"),
    choice("Compression", COMPRESSION),
    k("SshdSessionPath", Ty::Text, Layout::One, Eff::FileOnly),
];

/// Keywords OpenSSH 9 no longer honours, with what to do instead.
const RETIRED: &[(&str, &str)] = &[
    ("Protocol", "only protocol 2 exists"),
    (
        "UsePrivilegeSeparation",
        "privilege separation is always on",
    ),
    ("RSAAuthentication", "use `PubkeyAuthentication`"),
    ("RhostsRSAAuthentication", "use `HostbasedAuthentication`"),
    ("DSAAuthentication", "use `PubkeyAuthentication`"),
    ("UseLogin", "it was removed in OpenSSH 7.4"),
    ("KeyRegenerationInterval", "it only applied to protocol 1"),
    ("ServerKeyBits", "it only applied to protocol 1"),
    (
        "AuthorizedKeysFile2",
        "list both files in `AuthorizedKeysFile`",
    ),
    ("ShowPatchLevel", "it was removed"),
    ("VerifyReverseMapping", "use `UseDNS`"),
    ("ReverseMappingCheck", "use `UseDNS`"),
];

/// Look up a keyword, case-insensitively.
pub fn keyword(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// The closest known keyword to a misspelt one.
fn closest_keyword(found: &str) -> Option<&'static str> {
    let f = found.to_ascii_lowercase();
    KEYWORDS
        .iter()
        .map(|k| {
            (
                strsim::jaro_winkler(&f, &k.name.to_ascii_lowercase()),
                k.name,
            )
        })
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

// ---------------------------------------------------------------------------
// Values.

/// sshd's time format: `90`, `90s`, `5m`, `1h30m`, `2d`, `1w`; seconds.
fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (mut i, mut total) = (0, 0u64);
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: u64 = s[start..i].parse().ok()?;
        let mult = match b.get(i).map(u8::to_ascii_lowercase) {
            None => 1,
            Some(c) => {
                i += 1;
                match c {
                    b's' => 1,
                    b'm' => 60,
                    b'h' => 3600,
                    b'd' => 86400,
                    b'w' => 604800,
                    _ => return None,
                }
            }
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    (total <= i32::MAX as u64).then_some(total)
}

fn parse_int(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|n| *n <= i32::MAX as i64)
}

/// Validate one value of `kw`; returns the spelling to write.
fn check_value(kw: &Keyword, raw: &str) -> Result<String, String> {
    if let Some(c) = raw.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(format!(
            "the value contains the control character {c:?}: sshd_config values are single lines"
        ));
    }
    let v = raw.trim();
    if v.is_empty() {
        return Err("a value is needed here".into());
    }
    match kw.ty {
        Ty::Flag => match v.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok("yes".into()),
            "no" | "false" => Ok("no".into()),
            _ => Err(format!("expected `yes` or `no`, found `{v}`")),
        },
        Ty::Choice(options) => options
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(v))
            .map(|(o, _)| o.to_string())
            .or_else(|| {
                // YAML booleans for yes/no choices.
                let yes_no = match v.to_ascii_lowercase().as_str() {
                    "true" => "yes",
                    "false" => "no",
                    _ => return None,
                };
                options
                    .iter()
                    .find(|(o, _)| *o == yes_no)
                    .map(|(o, _)| o.to_string())
            })
            .ok_or_else(|| {
                format!(
                    "expected one of {}, found `{v}`",
                    options
                        .iter()
                        .map(|(o, _)| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        Ty::Int => parse_int(v)
            .map(|n| n.to_string())
            .ok_or_else(|| format!("expected a non-negative integer, found `{v}`")),
        Ty::IntOrNone => {
            if v.eq_ignore_ascii_case("none") {
                Ok("none".into())
            } else {
                parse_int(v)
                    .map(|n| n.to_string())
                    .ok_or_else(|| format!("expected an integer or `none`, found `{v}`"))
            }
        }
        Ty::Port => match parse_int(v) {
            Some(p) if (1..=65535).contains(&p) => Ok(p.to_string()),
            _ => Err(format!("`{v}` is not a port (1–65535)")),
        },
        Ty::Time => parse_time(v).map(|_| v.to_string()).ok_or_else(|| {
            format!("expected a time such as `90`, `30s`, `5m` or `1h30m`, found `{v}`")
        }),
        Ty::TimeOrNone => {
            if v.eq_ignore_ascii_case("none") {
                Ok("none".into())
            } else {
                parse_time(v).map(|_| v.to_string()).ok_or_else(|| {
                    format!("expected `none` or a time such as `30s`, `5m` or `1h`, found `{v}`")
                })
            }
        }
        Ty::MaxStartups => {
            let parts: Vec<&str> = v.split(':').collect();
            if (parts.len() == 1 || parts.len() == 3)
                && parts.iter().all(|p| parse_int(p).is_some())
            {
                Ok(v.to_string())
            } else {
                Err(format!(
                    "expected `start` or `start:rate:full` (e.g. `10:30:100`), found `{v}`"
                ))
            }
        }
        Ty::Word => {
            if v.chars().any(char::is_whitespace) {
                Err(format!(
                    "`{v}` contains a space: give several values as a list"
                ))
            } else {
                Ok(v.to_string())
            }
        }
        Ty::Text => Ok(v.to_string()),
    }
}

/// Split a scalar into the values of a multi-value keyword.
fn split_scalar(kw: &Keyword, raw: &str) -> Vec<String> {
    match kw.layout {
        Layout::One | Layout::Lines => vec![raw.to_string()],
        Layout::Words => raw.split_whitespace().map(str::to_string).collect(),
        Layout::Commas => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// How `sshd -T` would print a value (for comparison only).
fn normalize(kw: &Keyword, v: &str) -> String {
    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
    match kw.ty {
        Ty::Flag => v.to_ascii_lowercase(),
        Ty::Choice(options) => {
            let printed = options
                .iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(&v))
                .map_or(v.as_str(), |(_, p)| p);
            printed.to_ascii_lowercase()
        }
        Ty::Int | Ty::Port => parse_int(&v).map_or(v, |n| n.to_string()),
        Ty::IntOrNone => v.to_ascii_lowercase(),
        Ty::Time => parse_time(&v).map_or(v, |n| n.to_string()),
        Ty::TimeOrNone => match parse_time(&v) {
            Some(0) => "none".into(),
            Some(n) => n.to_string(),
            None => v.to_ascii_lowercase(),
        },
        Ty::MaxStartups => {
            if v.contains(':') {
                v
            } else {
                format!("{v}:30:{v}")
            }
        }
        Ty::Word | Ty::Text => v,
    }
}

/// One declared setting: the keyword and its (checked) values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub keyword: &'static Keyword,
    pub values: Vec<String>,
}

impl Setting {
    fn display(&self) -> String {
        self.values.join(self.keyword.sep())
    }

    /// The lines of the drop-in for this setting.
    fn lines(&self, out: &mut String) {
        let name = self.keyword.name;
        match self.keyword.layout {
            Layout::Lines => {
                for v in &self.values {
                    let _ = writeln!(out, "{name} {v}");
                }
            }
            Layout::One | Layout::Words => {
                let _ = writeln!(out, "{name} {}", self.values.join(" "));
            }
            Layout::Commas => {
                let _ = writeln!(out, "{name} {}", self.values.join(","));
            }
        }
    }

    /// Whether the effective value can be compared reliably.
    fn comparable(&self) -> bool {
        match self.keyword.eff {
            Eff::FileOnly => false,
            _ => match self.keyword.layout {
                // `+aes128-cbc` and friends edit the default list.
                Layout::Commas => !self.values.iter().any(|v| v.starts_with(['+', '-', '^'])),
                // Quotes, escapes and comments are interpreted by sshd.
                _ => !self
                    .values
                    .iter()
                    .any(|v| v.contains(['"', '\'', '\\', '#'])),
            },
        }
    }

    /// The declared values as `sshd -T` prints them.
    fn expected(&self) -> Vec<String> {
        let kw = self.keyword;
        match (kw.eff, kw.layout) {
            (Eff::Subset, _) => self.values.iter().map(|v| normalize(kw, v)).collect(),
            (_, Layout::Commas) => vec![self.values.join(",")],
            _ => vec![normalize(kw, &self.values.join(" "))],
        }
    }
}

/// The `settings:` map, in the order written. Deserialized with checks so
/// that every problem points at its key or value in the YAML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(pub Vec<Setting>);

impl<'de> serde::Deserialize<'de> for Settings {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SettingsVisitor)
    }
}

struct SettingsVisitor;

impl<'de> Visitor<'de> for SettingsVisitor {
    type Value = Settings;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of sshd_config keywords to values (e.g. `MaxAuthTries: 3`)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Settings, A::Error> {
        let mut out: Vec<Setting> = Vec::new();
        while let Some(keyword) = map.next_key_seed(KeySeed { seen: &out })? {
            let values = map.next_value_seed(ValueSeed { keyword })?;
            out.push(Setting { keyword, values });
        }
        Ok(Settings(out))
    }
}

struct KeySeed<'a> {
    seen: &'a [Setting],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = &'static Keyword;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = &'static Keyword;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an sshd_config keyword")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.eq_ignore_ascii_case("Match") || v.eq_ignore_ascii_case("Include") {
            return Err(E::custom(format!(
                "`{v}` is not supported in `settings`: the drop-in is one flat list of settings (use a `file` resource for a drop-in with `Match` blocks)"
            )));
        }
        if let Some((name, why)) = RETIRED.iter().find(|(n, _)| n.eq_ignore_ascii_case(v)) {
            return Err(E::custom(format!(
                "`{name}` is obsolete and ignored by OpenSSH 9: {why}"
            )));
        }
        let Some(kw) = keyword(v) else {
            let hint = match closest_keyword(v) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "see `man sshd_config` for the keywords".into(),
            };
            return Err(E::custom(format!(
                "unknown sshd_config keyword `{v}`: {hint}"
            )));
        };
        if let Some(prev) = self
            .seen
            .iter()
            .find(|s| s.keyword.canonical() == kw.canonical())
        {
            let same = if prev.keyword.name == kw.name {
                format!("`{}` is set twice", kw.name)
            } else {
                format!(
                    "`{v}` sets the same option as `{}`, set above",
                    prev.keyword.name
                )
            };
            return Err(E::custom(format!(
                "{same} (keywords are case-insensitive): give several values as a list"
            )));
        }
        Ok(kw)
    }
}

struct ValueSeed {
    keyword: &'static Keyword,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Vec<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.keyword.layout == Layout::One {
            write!(f, "one value for `{}`", self.keyword.name)
        } else {
            write!(f, "a value or a list of values for `{}`", self.keyword.name)
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let kw = self.keyword;
        // A control character is reported whole, before any splitting.
        if v.chars().any(|c| c.is_control() && c != '\t') {
            return Err(E::custom(check_value(kw, v).unwrap_err()));
        }
        let parts = split_scalar(kw, v);
        if parts.is_empty() {
            return Err(E::custom("a value is needed here"));
        }
        parts
            .iter()
            .map(|p| check_value(kw, p).map_err(E::custom))
            .collect()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("a value is needed here"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kw = self.keyword;
        if kw.layout == Layout::One {
            return Err(de::Error::custom(format!(
                "`{}` takes one value, found a list",
                kw.name
            )));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ItemSeed { keyword: kw })? {
            out.extend(v);
        }
        if out.is_empty() {
            return Err(de::Error::custom(
                "the list is empty: give at least one value",
            ));
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(format!(
            "`{}` takes a value or a list, found a map",
            self.keyword.name
        )))
    }
}

/// One item of a list value (checked where it stands, so errors point at it).
struct ItemSeed {
    keyword: &'static Keyword,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Vec<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a value of `{}`", self.keyword.name)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let kw = self.keyword;
        // An item of an algorithm list may itself be `a,b`.
        let parts = if kw.layout == Layout::Commas {
            split_scalar(kw, v)
        } else {
            vec![v.to_string()]
        };
        if parts.is_empty() {
            return Err(E::custom("a value is needed here"));
        }
        parts
            .iter()
            .map(|p| check_value(kw, p).map_err(E::custom))
            .collect()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("this item is empty"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("expected a value here, found a list"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("expected a value here, found a map"))
    }
}

// ---------------------------------------------------------------------------
// The resource.

fn default_path() -> String {
    DEFAULT_PATH.to_string()
}

/// The managed sshd drop-in.
#[derive(Debug, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sshd {
    /// `sshd_config` keywords and their values, in the order written.
    pub settings: Settings,
    /// The drop-in file.
    #[serde(default = "default_path")]
    pub path: String,
}

/// What is at the drop-in's path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DropIn {
    #[default]
    Absent,
    File(Vec<u8>),
    /// A regular file the probe could not read.
    Unreadable,
    Link(String),
    Dir,
    Other,
}

/// The effective configuration (`sshd -T`), or why it is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effective {
    /// Lowercase keyword → values, one per printed line, in order.
    Config(BTreeMap<String, Vec<String>>),
    Unavailable(String),
}

impl Default for Effective {
    fn default() -> Self {
        Effective::Unavailable("not probed".into())
    }
}

/// A line of `sshd_config` or of a drop-in that sets a declared keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub line: usize,
    /// Lowercase keyword as written.
    pub keyword: String,
    /// The rest of the line.
    pub value: String,
}

/// The live state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdFact {
    /// An `sshd` binary exists.
    pub sshd: bool,
    /// `sshd_config`, when it exists.
    pub main: Option<String>,
    pub dropin: DropIn,
    pub effective: Effective,
    pub sources: Vec<Source>,
}

/// The `Include` of `sshd_config` that reads the drop-in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IncludeAt {
    line: usize,
    pattern: String,
}

/// Whether the shell should add `Include <path>` to `sshd_config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddInclude {
    No,
    Yes,
    /// Not known at plan time (sshd not installed yet): decided on the host.
    Auto,
}

/// fnmatch-like glob: `*` and `?` do not match `/`; `[...]` classes.
///
/// The pattern comes from the host's `sshd_config`: it is run as a set of
/// pattern positions over the text (time `pattern × text`), never by
/// backtracking, which a pattern of many `*` makes exponential.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    enum Tok<'a> {
        Star,
        Any,
        Class(&'a [u8], bool),
        Byte(u8),
    }
    let mut toks = Vec::new();
    let mut i = 0;
    while i < pat.len() {
        match pat[i] {
            b'*' => toks.push(Tok::Star),
            b'?' => toks.push(Tok::Any),
            b'[' => match pat.iter().skip(i + 2).position(|&c| c == b']') {
                Some(p) => {
                    let end = i + 2 + p;
                    let class = &pat[i + 1..end];
                    let negate = matches!(class.first(), Some(b'!' | b'^'));
                    toks.push(Tok::Class(if negate { &class[1..] } else { class }, negate));
                    i = end;
                }
                None => toks.push(Tok::Byte(b'[')),
            },
            c => toks.push(Tok::Byte(c)),
        }
        i += 1;
    }
    let in_class = |class: &[u8], c: u8| {
        let mut hit = false;
        let mut i = 0;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == b'-' {
                hit |= class[i] <= c && c <= class[i + 2];
                i += 3;
            } else {
                hit |= class[i] == c;
                i += 1;
            }
        }
        hit
    };
    // `at[k]`: the first k tokens can match the text read so far. A `*`
    // may also match nothing, so its position passes on to the next one.
    let close = |at: &mut Vec<bool>| {
        for k in 0..toks.len() {
            if at[k] && matches!(toks[k], Tok::Star) {
                at[k + 1] = true;
            }
        }
    };
    let mut at = vec![false; toks.len() + 1];
    at[0] = true;
    close(&mut at);
    for &c in s {
        let mut next = vec![false; toks.len() + 1];
        for (k, t) in toks.iter().enumerate() {
            if !at[k] {
                continue;
            }
            match *t {
                Tok::Star if c != b'/' => next[k] = true,
                Tok::Any if c != b'/' => next[k + 1] = true,
                Tok::Class(class, negate) if c != b'/' && in_class(class, c) != negate => {
                    next[k + 1] = true
                }
                Tok::Byte(b) if b == c => next[k + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        if !next.contains(&true) {
            return false;
        }
        at = next;
    }
    at[toks.len()]
}

/// The first token of a config line (keyword) and the rest, or `None` for
/// blank and comment lines. `Keyword=value` is accepted as sshd does.
fn split_directive(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let end = t
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(t.len());
    let rest = t[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    Some((t[..end].to_ascii_lowercase(), rest))
}

/// The top-level `Include` of `main` that reads `path` (before any `Match`).
fn include_of(main: &str, path: &str) -> Option<IncludeAt> {
    for (i, line) in main.lines().enumerate() {
        let Some((kw, rest)) = split_directive(line) else {
            continue;
        };
        if kw == "match" {
            return None;
        }
        if kw != "include" {
            continue;
        }
        for arg in rest.split_whitespace() {
            let arg = arg.trim_matches('"');
            let abs = if arg.starts_with('/') {
                arg.to_string()
            } else {
                format!("/etc/ssh/{arg}")
            };
            if glob_match(abs.as_bytes(), path.as_bytes()) {
                return Some(IncludeAt {
                    line: i + 1,
                    pattern: abs,
                });
            }
        }
    }
    None
}

/// Split probe output into `key=value` header lines and `[name]` sections.
fn sections(stdout: &str) -> (String, BTreeMap<String, String>) {
    let mut header = String::new();
    let mut secs: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            secs.entry(name.to_string()).or_default();
            continue;
        }
        match &current {
            Some(name) => {
                let s = secs.entry(name.clone()).or_default();
                s.push_str(line);
                s.push('\n');
            }
            None => {
                header.push_str(line);
                header.push('\n');
            }
        }
    }
    (header, secs)
}

fn decode(secs: &BTreeMap<String, String>, name: &str) -> Result<Option<Vec<u8>>, String> {
    match secs.get(name) {
        None => Ok(None),
        Some(b64) => shell::unbase64(b64)
            .map(Some)
            .map_err(|e| format!("section {name}: {e}")),
    }
}

/// Parse `sshd -T` output.
fn parse_effective(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        map.entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.trim().to_string());
    }
    map
}

/// Parse `grep -n` output over several files: `file:line:text`.
fn parse_sources(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for l in text.lines() {
        let Some((file, rest)) = l.split_once(':') else {
            continue;
        };
        let Some((n, body)) = rest.split_once(':') else {
            continue;
        };
        let Ok(line) = n.parse::<usize>() else {
            continue;
        };
        if let Some((keyword, value)) = split_directive(body) {
            out.push(Source {
                file: file.to_string(),
                line,
                keyword,
                value: value.to_string(),
            });
        }
    }
    out
}

/// The values a config text gives each keyword it knows, by canonical name.
fn file_values(text: &str) -> Vec<(&'static Keyword, Vec<String>)> {
    let mut out: Vec<(&'static Keyword, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let Some((kw, rest)) = split_directive(line) else {
            continue;
        };
        let Some(k) = keyword(&kw) else { continue };
        let vals = split_scalar(k, rest);
        match out.iter_mut().find(|(o, _)| o.canonical() == k.canonical()) {
            Some((_, v)) if k.layout != Layout::One => v.extend(vals),
            Some(_) => {}
            None => out.push((k, vals)),
        }
    }
    out
}

fn same_values(kw: &Keyword, a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| normalize(kw, x) == normalize(kw, y))
}

impl Sshd {
    /// The declared settings: the keyword as sshd names it (legacy aliases
    /// resolved, e.g. `ChallengeResponseAuthentication` is
    /// `KbdInteractiveAuthentication`) and its values (ports one by one,
    /// users one by one, `yes`/`no` lowercased), in the order written.
    pub fn desired_settings(&self) -> Vec<(String, Vec<String>)> {
        self.settings
            .0
            .iter()
            .map(|s| (s.keyword.canonical().to_string(), s.values.clone()))
            .collect()
    }

    /// The drop-in's content.
    pub fn content(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for setting in &self.settings.0 {
            setting.lines(&mut s);
        }
        s
    }

    fn dir(&self) -> String {
        parent_dir(&self.path).unwrap_or_else(|| "/".into())
    }

    fn base(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Every keyword that sets the same option as `kw` (aliases included).
    fn names_of(kw: &Keyword) -> Vec<String> {
        KEYWORDS
            .iter()
            .filter(|k| k.canonical() == kw.canonical())
            .map(|k| k.name.to_ascii_lowercase())
            .collect()
    }

    /// Lines of other files that set `kw` and that sshd reads before the
    /// drop-in (so their value wins for first-value keywords).
    fn earlier(&self, fact: &SshdFact, inc: Option<&IncludeAt>, kw: &Keyword) -> Vec<String> {
        let Some(inc) = inc else { return Vec::new() };
        let names = Self::names_of(kw);
        fact.sources
            .iter()
            .filter(|s| names.contains(&s.keyword) && s.file != self.path)
            .filter(|s| {
                if s.file == MAIN_CONFIG {
                    s.line < inc.line
                } else {
                    glob_match(inc.pattern.as_bytes(), s.file.as_bytes())
                        && s.file.as_str() < self.path.as_str()
                }
            })
            .map(|s| format!("{}:{}", s.file, s.line))
            .collect()
    }

    /// Values of an accumulating keyword set by other files.
    fn elsewhere(&self, fact: &SshdFact, kw: &Keyword) -> Vec<(String, String)> {
        let names = Self::names_of(kw);
        fact.sources
            .iter()
            .filter(|s| names.contains(&s.keyword) && s.file != self.path)
            .flat_map(|s| {
                split_scalar(kw, &s.value)
                    .into_iter()
                    .map(move |v| (v, format!("{}:{}", s.file, s.line)))
            })
            .collect()
    }

    /// The diff and the commands, computed together so they always agree.
    fn plan_changes(&self, fact: &SshdFact) -> (Diff, Vec<Cmd>) {
        let path = self.path.as_str();
        match &fact.dropin {
            DropIn::Dir => return refusal(path, "is a directory; keel will not replace it"),
            DropIn::Link(t) => {
                return refusal(
                    path,
                    &format!(
                        "is a symbolic link to `{t}`; keel will not replace it (point `path` at a regular file)"
                    ),
                );
            }
            DropIn::Other => {
                return refusal(
                    path,
                    "is a special file (device, socket or pipe); keel will not replace it",
                );
            }
            _ => {}
        }
        let desired = self.content();
        let current: Option<&[u8]> = match &fact.dropin {
            DropIn::File(d) => Some(d),
            _ => None,
        };
        let current_text = current.and_then(|d| std::str::from_utf8(d).ok());
        let content_differs = current != Some(desired.as_bytes());
        let installed = fact.sshd && fact.main.is_some();
        let inc = fact.main.as_deref().and_then(|m| include_of(m, path));
        let add_include = if !installed {
            AddInclude::Auto
        } else if inc.is_none() {
            AddInclude::Yes
        } else {
            AddInclude::No
        };

        // Setting by setting.
        let effective = match (&fact.effective, installed) {
            (Effective::Config(m), true) => Some(m),
            _ => None,
        };
        let in_file = current_text.map(file_values).unwrap_or_default();
        let from_file = |kw: &Keyword| {
            in_file
                .iter()
                .find(|(k, _)| k.canonical() == kw.canonical())
                .map(|(_, v)| v.clone())
        };
        let mut attrs = Vec::new();
        let mut overridden = Vec::new();
        let mut notes = Vec::new();
        for s in &self.settings.0 {
            let kw = s.keyword;
            // A first-value keyword sshd -T does not print (another version
            // of sshd) is compared with the file.
            let got = effective
                .filter(|_| s.comparable())
                .map(|eff| eff.get(&kw.effective_key()).cloned().unwrap_or_default())
                .filter(|got| kw.eff == Eff::Subset || !got.is_empty());
            match got {
                Some(got) => {
                    let want = s.expected();
                    let ok = match kw.eff {
                        Eff::Subset => {
                            let have: Vec<String> = got.iter().map(|v| normalize(kw, v)).collect();
                            want.iter().all(|w| have.contains(w))
                        }
                        _ => got.first().map(|g| normalize(kw, g)) == want.first().cloned(),
                    };
                    let others: Vec<(String, String)> = if kw.eff == Eff::Subset {
                        self.elsewhere(fact, kw)
                            .into_iter()
                            .filter(|(v, _)| !s.values.contains(v))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    if !others.is_empty() {
                        let vals: Vec<&str> = others.iter().map(|(v, _)| v.as_str()).collect();
                        let mut at: Vec<&str> = others.iter().map(|(_, a)| a.as_str()).collect();
                        at.dedup();
                        notes.push(format!(
                            "note: {} {} is also in effect (from {})",
                            kw.name,
                            vals.join(kw.sep()),
                            at.join(", ")
                        ));
                    }
                    if !ok {
                        let before = (!got.is_empty()).then(|| got.join(kw.sep()));
                        let mut after = s.values.clone();
                        after.extend(others.into_iter().map(|(v, _)| v));
                        let mut after = after.join(kw.sep());
                        // sshd -T prints seconds: say what `5m` is.
                        if matches!(kw.ty, Ty::Time | Ty::TimeOrNone)
                            && let Some(secs) = s.values.first().and_then(|v| parse_time(v))
                            && secs.to_string() != after
                        {
                            after = format!("{after} ({secs} s)");
                        }
                        attrs.push(AttrChange::new(kw.name, before, Some(after)));
                        overridden.push((s, got));
                    }
                }
                _ => {
                    let old = from_file(kw);
                    if old
                        .as_deref()
                        .is_none_or(|o| !same_values(kw, o, &s.values))
                    {
                        attrs.push(AttrChange::new(
                            kw.name,
                            old.map(|o| o.join(kw.sep())),
                            Some(s.display()),
                        ));
                    }
                }
            }
        }
        for (kw, vals) in &in_file {
            if !self
                .settings
                .0
                .iter()
                .any(|s| s.keyword.canonical() == kw.canonical())
            {
                attrs.push(AttrChange::new(
                    kw.name,
                    Some(vals.join(kw.sep())),
                    None::<String>,
                ));
            }
        }

        let unavailable = match (&fact.effective, installed) {
            (Effective::Unavailable(why), true) => Some(format!(
                "the effective configuration is unknown (`sshd -T`: {why}): compared with the drop-in file only"
            )),
            _ => None,
        };

        if content_differs || add_include == AddInclude::Yes {
            let mut diff =
                Diff::with_action(if current.is_some() || fact.dropin == DropIn::Unreadable {
                    Action::Update
                } else {
                    Action::Create
                });
            diff.attrs = attrs;
            if content_differs {
                diff.content = Some(ContentChange {
                    before: current_text.map(str::to_string),
                    after: desired.clone(),
                });
            }
            let mut reasons = Vec::new();
            if add_include == AddInclude::Yes {
                reasons.push(format!(
                    "{MAIN_CONFIG} does not read {path}: `Include {path}` will be added at its top"
                ));
            }
            if let Some(u) = unavailable {
                reasons.push(u);
            }
            for s in &self.settings.0 {
                if s.keyword.eff != Eff::Value {
                    continue;
                }
                let first = self.earlier(fact, inc.as_ref(), s.keyword);
                if !first.is_empty() {
                    reasons.push(format!(
                        "warning: {} is also set in {}, which sshd reads first: that value wins ({})",
                        s.keyword.name,
                        first.join(", "),
                        self.move_first_hint()
                    ));
                }
            }
            reasons.extend(notes);
            if !reasons.is_empty() {
                diff.reason = Some(reasons.join("; "));
            }
            if !installed {
                diff.unknown = Some(
                    "sshd is not installed yet (openssh-server): its effective settings are known after apply"
                        .into(),
                );
            }
            let reload_socket = diff
                .attrs
                .iter()
                .any(|a| a.name == "Port" || a.name == "ListenAddress")
                || (!installed
                    && self
                        .settings
                        .0
                        .iter()
                        .any(|s| matches!(s.keyword.name, "Port" | "ListenAddress")));
            let mut cmds = vec![Cmd::new(
                format!("check the new configuration with `sshd -t`, then write {path}"),
                self.write_script(desired.as_bytes(), add_include),
            )];
            if add_include != AddInclude::No {
                cmds.push(Cmd::new(
                    if add_include == AddInclude::Yes {
                        format!("add `Include {path}` at the top of {MAIN_CONFIG}")
                    } else {
                        format!("add `Include {path}` at the top of {MAIN_CONFIG} if nothing includes it")
                    },
                    self.include_script(add_include),
                ));
            }
            cmds.push(Cmd::new(
                "reload sshd (open sessions stay connected)",
                reload_script(reload_socket),
            ));
            return (diff, cmds);
        }

        if !overridden.is_empty() {
            let mut why = Vec::new();
            for (s, got) in &overridden {
                let first = self.earlier(fact, inc.as_ref(), s.keyword);
                let is = if got.is_empty() {
                    "is not in effect".to_string()
                } else {
                    format!("is `{}` in effect", got.join(s.keyword.sep()))
                };
                let by = if first.is_empty() {
                    "another setting read before it wins (sshd keeps the first value it reads; see `sshd -T` and the files it includes)".to_string()
                } else {
                    format!(
                        "{} sets it first and sshd keeps the first value it reads",
                        first.join(", ")
                    )
                };
                why.push(format!(
                    "{} {is} although the drop-in sets `{}`: {by}",
                    s.keyword.name,
                    s.display()
                ));
            }
            let why = format!("{} ({})", why.join("; "), self.move_first_hint());
            let (mut diff, cmds) = refusal(path, &why);
            diff.attrs = attrs;
            return (diff, cmds);
        }

        let mut diff = Diff::noop();
        let mut reasons = notes;
        if let Some(u) = unavailable {
            reasons.push(u);
        }
        if !reasons.is_empty() {
            diff.reason = Some(reasons.join("; "));
        }
        (diff, Vec::new())
    }

    fn move_first_hint(&self) -> String {
        let dir = self.dir();
        format!(
            "name the drop-in so it sorts first, e.g. `path: {dir}/00-keel.conf`, or remove the other setting"
        )
    }

    /// Write the drop-in through a temporary file, validating the whole
    /// configuration with the new drop-in in place (in a copy) before the
    /// rename.
    fn write_script(&self, data: &[u8], add: AddInclude) -> String {
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
    fn include_script(&self, add: AddInclude) -> String {
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
const SSHD_LOOKUP: &str = r#"keel_sshd=$(command -v sshd 2>/dev/null || true)
if [ -z "$keel_sshd" ] && [ -x /usr/sbin/sshd ]; then keel_sshd=/usr/sbin/sshd; fi
"#;

/// Sets `keel_add_include` to yes or no.
fn add_include_decision(add: AddInclude, path: &str, dir: &str) -> String {
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
fn sed_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

fn reload_script(socket: bool) -> String {
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

/// A change that cannot be made as things are: the plan shows the error and
/// apply runs nothing.
fn refusal(path: &str, why: &str) -> (Diff, Vec<Cmd>) {
    let mut d = Diff::with_action(Action::Update);
    d.error = Some(format!("{path}: {why}"));
    (d, Vec::new())
}

/// Characters allowed in the drop-in's path (they are used in `sed`
/// expressions and `Include` lines).
fn path_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '@' | '+' | '-')
}

impl Kind for Sshd {
    const KIND: &'static str = "sshd";
    type Fact = SshdFact;

    fn name(&self) -> String {
        self.path.clone()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if let Some(e) = check_abs_path("path", &self.path) {
            errs.push(e);
        } else if let Some(c) = self.path.chars().find(|c| !path_char_ok(*c)) {
            errs.push(
                Invalid::field(
                    "path",
                    format!("`{}` contains {c:?}", self.path.escape_debug()),
                )
                .help("use letters, digits and `._-+@/` in the drop-in's path"),
            );
        } else if self.path.ends_with('/') || self.base().is_empty() {
            errs.push(Invalid::field(
                "path",
                format!("`{}` names a directory, not a file", self.path),
            ));
        } else if self.path == MAIN_CONFIG || self.dir() == "/etc/ssh" {
            errs.push(
                Invalid::field(
                    "path",
                    format!("`{}` is not a drop-in directory's file", self.path),
                )
                .help(format!(
                    "keel manages a drop-in next to the main file, e.g. `{DEFAULT_PATH}`"
                )),
            );
        }
        if self.settings.0.is_empty() {
            errs.push(
                Invalid::field("settings", "no settings are given")
                    .help("declare at least one sshd_config keyword, e.g. `MaxAuthTries: 3`"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            provides: vec![Ref::Path(self.path.clone())],
            // After the firewall: a new SSH port is allowed before sshd moves.
            needs: vec![
                Ref::Package("openssh-server".into()),
                Ref::Path(self.dir()),
                Ref::Service("firewall".into()),
            ],
        }
    }

    /// The drop-in, the main file (its `Include` line) and the server: a
    /// bad setting can shut keel out, so apply runs it under commit-confirmed.
    fn touches(&self) -> Touches {
        Touches::default()
            .write(&self.path, Written::Whole(self.content()))
            .path(MAIN_CONFIG)
            .service("ssh")
    }

    fn probe(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for s in &self.settings.0 {
            for n in Self::names_of(s.keyword) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        let mut s = String::new();
        let _ = writeln!(s, "keel_p={}", q(&self.path));
        let _ = writeln!(s, "keel_d={}", q(&self.dir()));
        let _ = writeln!(s, "keel_main={}", q(MAIN_CONFIG));
        let _ = writeln!(
            s,
            "keel_re={}",
            q(&format!(
                "^[[:space:]]*({})([[:space:]]|=)",
                names.join("|")
            ))
        );
        s.push_str(SSHD_LOOKUP);
        s.push_str(
            r#"if [ -n "$keel_sshd" ]; then echo sshd=yes; else echo sshd=no; fi
if [ -L "$keel_p" ]; then
  echo dropin=link
  printf 'target=%s\n' "$(readlink -- "$keel_p")"
elif [ -d "$keel_p" ]; then
  echo dropin=dir
elif [ -f "$keel_p" ]; then
  if [ -r "$keel_p" ]; then echo dropin=file; else echo dropin=unreadable; fi
elif [ -e "$keel_p" ]; then
  echo dropin=other
else
  echo dropin=absent
fi
if [ -f "$keel_main" ]; then echo main=file; else echo main=absent; fi
if [ -n "$keel_sshd" ] && [ -f "$keel_main" ]; then
  if [ ! -d /run/sshd ]; then
    echo effective_status=noprivsep
  elif keel_eff=$("$keel_sshd" -T 2>/dev/null); then
    echo effective_status=0
    echo '[effective]'
    printf '%s\n' "$keel_eff" | base64
  else
    echo effective_status=1
    echo '[effective_error]'
    "$keel_sshd" -T 2>&1 >/dev/null | head -n 5 | base64
  fi
fi
echo '[dropin]'
if [ -f "$keel_p" ] && [ ! -L "$keel_p" ] && [ -r "$keel_p" ]; then base64 < "$keel_p"; fi
echo '[main]'
if [ -f "$keel_main" ] && [ -r "$keel_main" ]; then base64 < "$keel_main"; fi
echo '[sources]'
grep -iEn -- "$keel_re" "$keel_main" "$keel_d"/*.conf 2>/dev/null | base64
exit 0
"#,
        );
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<SshdFact, FactError> {
        let (header, secs) = sections(&out.stdout);
        let dropin_kind = kv(&header, "dropin").ok_or("the probe printed no `dropin=` line")?;
        let text = |name: &str| -> Result<Option<String>, String> {
            Ok(decode(&secs, name)?.map(|d| String::from_utf8_lossy(&d).into_owned()))
        };
        let dropin = match dropin_kind.trim() {
            "absent" => DropIn::Absent,
            "file" => DropIn::File(decode(&secs, "dropin")?.unwrap_or_default()),
            "unreadable" => DropIn::Unreadable,
            "link" => DropIn::Link(kv(&header, "target").unwrap_or_default().to_string()),
            "dir" => DropIn::Dir,
            "other" => DropIn::Other,
            other => return Err(FactError::Unexpected(format!("unexpected `dropin={other}`"))),
        };
        let main = if kv(&header, "main") == Some("file") {
            Some(text("main")?.unwrap_or_default())
        } else {
            None
        };
        let effective = match kv(&header, "effective_status").map(str::trim) {
            Some("0") => {
                Effective::Config(parse_effective(&text("effective")?.unwrap_or_default()))
            }
            Some("noprivsep") => Effective::Unavailable(
                "/run/sshd is missing (sshd is not running), and the probe does not create it"
                    .into(),
            ),
            Some(_) => {
                let err = text("effective_error")?.unwrap_or_default();
                let err = err.lines().map(str::trim).filter(|l| !l.is_empty());
                let err = err.collect::<Vec<_>>().join(" / ");
                Effective::Unavailable(if err.is_empty() {
                    "it failed".into()
                } else {
                    err
                })
            }
            None => Effective::Unavailable("sshd is not installed".into()),
        };
        Ok(SshdFact {
            sshd: kv(&header, "sshd") == Some("yes"),
            main,
            dropin,
            effective,
            sources: parse_sources(&text("sources")?.unwrap_or_default()),
        })
    }

    fn plan(&self, fact: &SshdFact) -> Planned {
        self.plan_changes(fact).into()
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::testing::assert_sh_syntax as sh_syntax_ok;
    use super::*;
    use crate::resources::testing::{eval, load, run_local, try_load};

    const MAIN: &str = "# Debian's sshd_config, shortened\n\
        Include /etc/ssh/sshd_config.d/*.conf\n\
        KbdInteractiveAuthentication no\n\
        UsePAM yes\n\
        X11Forwarding yes\n\
        AcceptEnv LANG LC_*\n\
        Subsystem sftp /usr/lib/openssh/sftp-server\n";

    /// `sshd -T` of Debian 12's defaults (the lines the tests look at).
    const EFFECTIVE: &str = "port 22\n\
        addressfamily any\n\
        listenaddress [::]:22\n\
        listenaddress 0.0.0.0:22\n\
        usepam yes\n\
        logingracetime 120\n\
        maxauthtries 6\n\
        maxsessions 10\n\
        clientaliveinterval 0\n\
        clientalivecountmax 3\n\
        permitrootlogin without-password\n\
        passwordauthentication yes\n\
        kbdinteractiveauthentication no\n\
        x11forwarding yes\n\
        compression yes\n\
        loglevel INFO\n\
        maxstartups 10:30:100\n\
        unusedconnectiontimeout none\n\
        ciphers chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com\n\
        acceptenv LANG\n\
        acceptenv LC_*\n";

    const YAML: &str =
        "settings:\n  Port: [22, 2222]\n  MaxAuthTries: 3\n  PasswordAuthentication: \"no\"\n";

    const DROPIN_OK: &str = "# managed by keel: changes made here by hand are overwritten\n\
        Port 22\nPort 2222\nMaxAuthTries 3\nPasswordAuthentication no\n";

    enum Eff<'a> {
        Config(&'a str),
        NoPrivsep,
        Failed(&'a str),
    }

    fn b64(s: &str) -> String {
        shell::base64(s.as_bytes())
    }

    fn probe_out(dropin: Option<&str>, main: Option<&str>, eff: Eff, sources: &str) -> String {
        let mut s = String::from("sshd=yes\n");
        s.push_str(if dropin.is_some() {
            "dropin=file\n"
        } else {
            "dropin=absent\n"
        });
        s.push_str(if main.is_some() {
            "main=file\n"
        } else {
            "main=absent\n"
        });
        match eff {
            Eff::Config(t) => s.push_str(&format!("effective_status=0\n[effective]\n{}\n", b64(t))),
            Eff::NoPrivsep => s.push_str("effective_status=noprivsep\n"),
            Eff::Failed(e) => s.push_str(&format!(
                "effective_status=1\n[effective_error]\n{}\n",
                b64(e)
            )),
        }
        s.push_str(&format!("[dropin]\n{}\n", b64(dropin.unwrap_or(""))));
        s.push_str(&format!("[main]\n{}\n", b64(main.unwrap_or(""))));
        s.push_str(&format!("[sources]\n{}\n", b64(sources)));
        s
    }

    /// `sshd -T` after the drop-in of `YAML` is in place.
    fn effective_ok() -> String {
        EFFECTIVE
            .replace("port 22\n", "port 22\nport 2222\n")
            .replace("maxauthtries 6", "maxauthtries 3")
            .replace("passwordauthentication yes", "passwordauthentication no")
    }

    fn attrs(d: &Diff) -> Vec<(String, Option<String>, Option<String>)> {
        d.attrs
            .iter()
            .map(|a| (a.name.clone(), a.before.clone(), a.after.clone()))
            .collect()
    }

    fn a(
        name: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> (String, Option<String>, Option<String>) {
        (name.into(), before.map(Into::into), after.map(Into::into))
    }

    fn summaries(cmds: &[Cmd]) -> Vec<String> {
        cmds.iter().map(|c| c.summary.clone()).collect()
    }


    fn sshd(yaml: &str) -> Sshd {
        Node::parse(yaml).unwrap().deserialize().unwrap()
    }

    use crate::config::node::Node;

    // --- Desired state --------------------------------------------------

    #[test]
    fn content_is_one_line_per_setting_in_the_order_written() {
        let r = sshd(
            "settings:\n  port: [22, 2222]\n  permitrootlogin: No\n  X11Forwarding: false\n  AllowUsers: [deploy, ops]\n  DenyUsers: \"bad  worse\"\n  ciphers: [aes256-gcm@openssh.com, \"aes128-ctr,aes192-ctr\"]\n  LogLevel: verbose\n  Subsystem: \"sftp internal-sftp -u 002\"\n",
        );
        assert_eq!(
            r.content(),
            "# managed by keel: changes made here by hand are overwritten\n\
             Port 22\nPort 2222\nPermitRootLogin no\nX11Forwarding no\n\
             AllowUsers deploy ops\nDenyUsers bad worse\n\
             Ciphers aes256-gcm@openssh.com,aes128-ctr,aes192-ctr\n\
             LogLevel VERBOSE\nSubsystem sftp internal-sftp -u 002\n"
        );
        assert_eq!(Kind::name(&r), DEFAULT_PATH);
    }

    #[test]
    fn desired_settings_use_sshds_names() {
        let r = sshd(
            "settings:\n  PORT: 2222\n  ChallengeResponseAuthentication: yes\n  PubkeyAcceptedKeyTypes: ssh-ed25519\n  AllowUsers: deploy ops\n  PermitRootLogin: prohibit-password\n",
        );
        assert_eq!(
            r.desired_settings(),
            vec![
                ("Port".to_string(), vec!["2222".to_string()]),
                ("KbdInteractiveAuthentication".into(), vec!["yes".into()]),
                (
                    "PubkeyAcceptedAlgorithms".into(),
                    vec!["ssh-ed25519".into()]
                ),
                ("AllowUsers".into(), vec!["deploy".into(), "ops".into()]),
                ("PermitRootLogin".into(), vec!["prohibit-password".into()]),
            ]
        );
    }

    #[test]
    fn links_need_the_package_and_provide_the_path() {
        let r = load("sshd", YAML);
        let l = r.links();
        assert_eq!(l.provides, vec![Ref::Path(DEFAULT_PATH.into())]);
        assert!(l.needs.contains(&Ref::Package("openssh-server".into())));
        assert!(
            l.needs
                .contains(&Ref::Path("/etc/ssh/sshd_config.d".into()))
        );
        assert!(!r.notifiable());
        assert!(r.can_cut_access());
    }

    #[test]
    fn the_table_has_no_duplicates_and_aliases_resolve() {
        for (i, k) in KEYWORDS.iter().enumerate() {
            assert!(
                KEYWORDS[i + 1..]
                    .iter()
                    .all(|o| !o.name.eq_ignore_ascii_case(k.name)),
                "{} twice",
                k.name
            );
            if let Some(target) = k.alias_of {
                assert!(keyword(target).is_some(), "{} → {target}", k.name);
            }
        }
        assert!(KEYWORDS.len() > 100, "{}", KEYWORDS.len());
        assert_eq!(keyword("maxauthtries").unwrap().name, "MaxAuthTries");
    }

    // --- Load-time checks -----------------------------------------------

    fn err(yaml: &str) -> String {
        match try_load("sshd", yaml) {
            Ok(r) => panic!("accepted: {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn unknown_keywords_are_refused_with_a_suggestion() {
        let e = err("settings:\n  MaxAuthTry: 3\n");
        assert!(
            e.contains("unknown sshd_config keyword `MaxAuthTry`"),
            "{e}"
        );
        assert!(e.contains("did you mean `MaxAuthTries`?"), "{e}");
        let e = err("settings:\n  passwordauth: no\n");
        assert!(e.contains("did you mean `PasswordAuthentication`?"), "{e}");
        let e = err("settings:\n  Zzzz: 1\n");
        assert!(e.contains("man sshd_config"), "{e}");
    }

    #[test]
    fn match_include_retired_and_duplicates_are_refused() {
        assert!(err("settings:\n  Match: User x\n").contains("`Match` is not supported"));
        assert!(err("settings:\n  include: /x\n").contains("`include` is not supported"));
        assert!(err("settings:\n  UsePrivilegeSeparation: sandbox\n").contains("obsolete"));
        assert!(err("settings:\n  Protocol: 2\n").contains("obsolete"));
        let e = err("settings:\n  Port: 22\n  port: 2222\n");
        assert!(e.contains("`Port` is set twice"), "{e}");
        assert!(e.contains("as a list"), "{e}");
        let e = err(
            "settings:\n  KbdInteractiveAuthentication: no\n  ChallengeResponseAuthentication: no\n",
        );
        assert!(
            e.contains("same option as `KbdInteractiveAuthentication`"),
            "{e}"
        );
    }

    #[test]
    fn typed_values_are_checked() {
        for (yaml, want) in [
            ("Port: 0", "`0` is not a port"),
            ("Port: [22, 70000]", "`70000` is not a port"),
            ("Port: ssh", "`ssh` is not a port"),
            (
                "PermitRootLogin: maybe",
                "expected one of `yes`, `no`, `prohibit-password`",
            ),
            (
                "PasswordAuthentication: maybe",
                "expected `yes` or `no`, found `maybe`",
            ),
            ("MaxAuthTries: -1", "non-negative integer"),
            ("MaxAuthTries: 3x", "non-negative integer"),
            ("MaxAuthTries: 99999999999", "non-negative integer"),
            ("MaxAuthTries: [1, 2]", "takes one value, found a list"),
            ("ClientAliveInterval: 5x", "expected a time"),
            ("LoginGraceTime: 3000000000", "expected a time"),
            ("UnusedConnectionTimeout: soon", "expected `none` or a time"),
            ("MaxStartups: \"10:30\"", "start:rate:full"),
            ("LogLevel: LOUD", "`QUIET`"),
            ("SyslogFacility: KERN", "`LOCAL7`"),
            ("AllowUsers: [\"a b\"]", "contains a space"),
            ("AllowUsers: []", "the list is empty"),
            ("AllowUsers:", "a value is needed"),
            (
                "Banner: \"/etc/issue\\nPermitRootLogin yes\"",
                "control character '\\n'",
            ),
            ("ForceCommand: \"a\\u0000b\"", "control character"),
            ("AllowUsers: [[a]]", "found a list"),
            ("Port: {a: 1}", "found a map"),
        ] {
            let e = err(&format!("settings:\n  {yaml}\n"));
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }

    #[test]
    fn values_are_accepted_in_yaml_forms() {
        let r = sshd(
            "settings:\n  PasswordAuthentication: true\n  UseDNS: no\n  Compression: false\n  MaxAuthTries: 03\n  ClientAliveInterval: 1h30m\n  UnusedConnectionTimeout: NONE\n  PerSourceMaxStartups: none\n  MaxStartups: \"10:30:60\"\n",
        );
        assert_eq!(
            r.desired_settings()
                .into_iter()
                .map(|(_, v)| v.join(" "))
                .collect::<Vec<_>>(),
            ["yes", "no", "no", "3", "1h30m", "none", "none", "10:30:60"]
        );
    }

    #[test]
    fn path_is_checked() {
        assert!(err(&format!("{YAML}path: relative.conf\n")).contains("not an absolute path"));
        assert!(
            err(&format!(
                "{YAML}path: \"/etc/ssh/sshd_config.d/a b.conf\"\n"
            ))
            .contains("contains ' '")
        );
        assert!(err(&format!("{YAML}path: /etc/ssh/sshd_config.d/\n")).contains("directory"));
        assert!(err(&format!("{YAML}path: /etc/ssh/sshd_config\n")).contains("drop-in"));
        assert!(err(&format!("{YAML}path: /etc/ssh/keel.conf\n")).contains("drop-in"));
        assert!(err("settings: {}\n").contains("no settings"));
        let e = err("settings: [a]\n");
        assert!(e.contains("expected a map"), "{e}");
        assert!(err(&format!("{YAML}bogus: 1\n")).contains("bogus"));
        let r = load(
            "sshd",
            &format!("{YAML}path: /etc/ssh/sshd_config.d/00-keel.conf\n"),
        );
        assert_eq!(r.name(), "/etc/ssh/sshd_config.d/00-keel.conf");
    }

    // --- Diff -------------------------------------------------------------

    #[test]
    fn absent_dropin_is_created_with_settings_against_the_effective_config() {
        let e = eval(
            "sshd",
            YAML,
            &probe_out(None, Some(MAIN), Eff::Config(EFFECTIVE), ""),
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("Port", Some("22"), Some("22, 2222")),
                a("MaxAuthTries", Some("6"), Some("3")),
                a("PasswordAuthentication", Some("yes"), Some("no")),
            ]
        );
        let c = e.diff.content.as_ref().unwrap();
        assert_eq!(c.before, None);
        assert_eq!(c.after, DROPIN_OK);
        assert_eq!(e.diff.reason, None);
        assert_eq!(
            summaries(&e.commands),
            [
                format!("check the new configuration with `sshd -t`, then write {DEFAULT_PATH}"),
                "reload sshd (open sessions stay connected)".to_string(),
            ]
        );
        assert!(e.commands[0].script.contains("keel_add_include=no"));
        assert!(
            e.commands[0]
                .script
                .contains("-t -f \"$keel_v/main/sshd_config\"")
        );
        // Port changed: Ubuntu's socket activation is regenerated.
        assert!(e.commands[1].script.contains("ssh.socket"));
        for c in &e.commands {
            sh_syntax_ok(&c.script);
        }
    }

    #[test]
    fn present_and_in_effect_is_a_noop() {
        let e = eval(
            "sshd",
            YAML,
            &probe_out(
                Some(DROPIN_OK),
                Some(MAIN),
                Eff::Config(&effective_ok()),
                "",
            ),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn drift_in_the_dropin_shows_the_setting_and_the_diff() {
        let drifted = DROPIN_OK.replace("MaxAuthTries 3", "MaxAuthTries 6");
        let eff = effective_ok().replace("maxauthtries 3", "maxauthtries 6");
        let e = eval(
            "sshd",
            YAML,
            &probe_out(Some(&drifted), Some(MAIN), Eff::Config(&eff), ""),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("MaxAuthTries", Some("6"), Some("3"))]
        );
        let c = e.diff.content.as_ref().unwrap();
        assert_eq!(c.before.as_deref(), Some(drifted.as_str()));
        assert_eq!(c.after, DROPIN_OK);
        // Port did not change: the socket is left alone.
        assert!(!e.commands.last().unwrap().script.contains("ssh.socket"));
    }

    #[test]
    fn normalized_values_compare_equal() {
        let yaml = "settings:\n  PermitRootLogin: prohibit-password\n  LoginGraceTime: 2m\n  Compression: delayed\n  LogLevel: debug1\n  MaxStartups: 10\n  UnusedConnectionTimeout: 0\n  Ciphers: [chacha20-poly1305@openssh.com, aes128-ctr, aes256-gcm@openssh.com]\n  ChallengeResponseAuthentication: no\n  AcceptEnv: LANG\n";
        let r = sshd(yaml);
        let eff = EFFECTIVE
            .replace("loglevel INFO", "loglevel DEBUG")
            .replace("maxstartups 10:30:100", "maxstartups 10:30:10");
        let dropin = r.content();
        let e = eval(
            "sshd",
            yaml,
            &probe_out(Some(&dropin), Some(MAIN), Eff::Config(&eff), ""),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    }

    #[test]
    fn time_values_say_their_seconds() {
        let e = eval(
            "sshd",
            "settings:\n  ClientAliveInterval: 5m\n",
            &probe_out(None, Some(MAIN), Eff::Config(EFFECTIVE), ""),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![a("ClientAliveInterval", Some("0"), Some("5m (300 s)"))]
        );
    }

    #[test]
    fn accumulating_keywords_show_values_set_elsewhere() {
        let yaml = "settings:\n  AllowUsers: [deploy]\n  AcceptEnv: LANG\n";
        let sources =
            "/etc/ssh/sshd_config:5:AcceptEnv LANG LC_*\n/etc/ssh/sshd_config:9:AllowUsers root\n";
        let eff = format!("{EFFECTIVE}allowusers root\n");
        let e = eval(
            "sshd",
            yaml,
            &probe_out(None, Some(MAIN), Eff::Config(&eff), sources),
        );
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(
            attrs(&e.diff),
            vec![a("AllowUsers", Some("root"), Some("deploy root"))]
        );
        let reason = e.diff.reason.unwrap();
        assert!(
            reason
                .contains("note: AllowUsers root is also in effect (from /etc/ssh/sshd_config:9)"),
            "{reason}"
        );
        assert!(reason.contains("AcceptEnv LC_*"), "{reason}");
    }

    #[test]
    fn settings_dropped_from_the_stack_show_as_removed() {
        let old = format!("{DROPIN_OK}X11Forwarding no\n");
        let e = eval(
            "sshd",
            YAML,
            &probe_out(Some(&old), Some(MAIN), Eff::Config(&effective_ok()), ""),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(attrs(&e.diff), vec![a("X11Forwarding", Some("no"), None)]);
    }

    #[test]
    fn without_sshd_t_the_dropin_file_is_compared() {
        let drifted = DROPIN_OK.replace("MaxAuthTries 3", "maxauthtries=6");
        let e = eval(
            "sshd",
            YAML,
            &probe_out(Some(&drifted), Some(MAIN), Eff::NoPrivsep, ""),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("MaxAuthTries", Some("6"), Some("3"))]
        );
        let reason = e.diff.reason.unwrap();
        assert!(reason.contains("/run/sshd is missing"), "{reason}");
        assert!(
            reason.contains("compared with the drop-in file only"),
            "{reason}"
        );

        let e = eval(
            "sshd",
            YAML,
            &probe_out(
                Some(DROPIN_OK),
                Some(MAIN),
                Eff::Failed("/etc/ssh/sshd_config line 3: Bad configuration option: Frobnicate\n"),
                "",
            ),
        );
        assert_eq!(e.diff.action(), Action::NoOp);
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("Bad configuration option: Frobnicate")
        );
    }

    #[test]
    fn a_missing_include_is_added_at_the_top() {
        let main = MAIN.replace("Include /etc/ssh/sshd_config.d/*.conf", "#Include gone");
        let e = eval(
            "sshd",
            YAML,
            &probe_out(Some(DROPIN_OK), Some(&main), Eff::Config(EFFECTIVE), ""),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content, None, "the drop-in itself is right");
        assert!(
            e.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("`Include /etc/ssh/sshd_config.d/50-keel.conf` will be added at its top")
        );
        assert_eq!(
            summaries(&e.commands)[1],
            format!("add `Include {DEFAULT_PATH}` at the top of /etc/ssh/sshd_config")
        );
        assert!(e.commands[0].script.contains("keel_add_include=yes"));
        for c in &e.commands {
            sh_syntax_ok(&c.script);
        }
    }

    #[test]
    fn an_earlier_file_that_wins_is_named() {
        let sources = "/etc/ssh/sshd_config.d/10-cloud.conf:1:PasswordAuthentication yes\n\
                       /etc/ssh/sshd_config.d/60-late.conf:1:MaxAuthTries 9\n\
                       /etc/ssh/sshd_config.d/50-keel.conf:5:PasswordAuthentication no\n";
        // Before the drop-in is written: a warning in the plan.
        let e = eval(
            "sshd",
            YAML,
            &probe_out(None, Some(MAIN), Eff::Config(EFFECTIVE), sources),
        );
        assert_eq!(e.diff.action(), Action::Create);
        let reason = e.diff.reason.unwrap();
        assert!(
            reason.contains("warning: PasswordAuthentication is also set in /etc/ssh/sshd_config.d/10-cloud.conf:1, which sshd reads first"),
            "{reason}"
        );
        assert!(!reason.contains("60-late"), "{reason}");
        assert!(
            reason.contains("path: /etc/ssh/sshd_config.d/00-keel.conf"),
            "{reason}"
        );

        // The drop-in is right but not in effect: the plan shows an error and
        // apply runs nothing.
        let eff = effective_ok().replace("passwordauthentication no", "passwordauthentication yes");
        let e = eval(
            "sshd",
            YAML,
            &probe_out(Some(DROPIN_OK), Some(MAIN), Eff::Config(&eff), sources),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("PasswordAuthentication", Some("yes"), Some("no"))]
        );
        let error = e.diff.error.clone().unwrap();
        assert!(
            error.contains("/etc/ssh/sshd_config.d/50-keel.conf: PasswordAuthentication is `yes` in effect although the drop-in sets `no`: /etc/ssh/sshd_config.d/10-cloud.conf:1 sets it first"),
            "{error}"
        );
        assert!(error.contains("00-keel.conf"), "{error}");
        assert!(e.commands.is_empty());
    }

    #[test]
    fn main_file_lines_before_the_include_win() {
        let main = format!("PasswordAuthentication yes\n{MAIN}");
        let sources = "/etc/ssh/sshd_config:1:PasswordAuthentication yes\n";
        let eff = effective_ok().replace("passwordauthentication no", "passwordauthentication yes");
        let e = eval(
            "sshd",
            YAML,
            &probe_out(Some(DROPIN_OK), Some(&main), Eff::Config(&eff), sources),
        );
        let error = e.diff.error.unwrap();
        assert!(
            error.contains("/etc/ssh/sshd_config:1 sets it first"),
            "{error}"
        );
    }

    #[test]
    fn sshd_not_installed_is_known_after_apply() {
        let out = "sshd=no\ndropin=absent\nmain=absent\n[dropin]\n[main]\n[sources]\n";
        let e = eval("sshd", YAML, out);
        assert_eq!(e.diff.action(), Action::Create);
        assert!(
            e.diff
                .unknown
                .as_deref()
                .unwrap()
                .contains("not installed yet")
        );
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("Port", None, Some("22, 2222")),
                a("MaxAuthTries", None, Some("3")),
                a("PasswordAuthentication", None, Some("no")),
            ]
        );
        // Whether sshd_config reads the drop-in is decided on the host.
        let s = &e.commands[1].script;
        assert!(
            s.contains("grep -qF -e /etc/ssh/sshd_config.d/50-keel.conf"),
            "{s}"
        );
        assert!(s.contains("'sshd_config.d/*.conf'"), "{s}");
        assert!(
            e.commands[0]
                .script
                .contains("install openssh-server first")
        );
        for c in &e.commands {
            sh_syntax_ok(&c.script);
        }
    }

    #[test]
    fn something_else_at_the_path_is_refused() {
        for (kind, extra, want) in [
            ("dir", "", "is a directory"),
            ("link", "target=/tmp/x\n", "symbolic link to `/tmp/x`"),
            ("other", "", "special file"),
        ] {
            let out = format!(
                "sshd=yes\ndropin={kind}\n{extra}main=file\n[main]\n{}\n",
                b64(MAIN)
            );
            let e = eval("sshd", YAML, &out);
            assert_eq!(e.diff.action(), Action::Update);
            assert!(e.diff.error.as_deref().unwrap().contains(want), "{kind}");
            assert!(e.commands.is_empty());
        }
    }

    #[test]
    fn odd_probe_outputs() {
        let r = load("sshd", YAML);
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err(), "no header");
        assert!(
            r.evaluate(&ProbeOutput::ok("dropin=file\n[dropin]\n!!notbase64\n"))
                .is_err()
        );
        assert!(r.evaluate(&ProbeOutput::ok("dropin=weird\n")).is_err());
        // An empty drop-in file and no sources section at all.
        let e = r
            .evaluate(&ProbeOutput::ok(format!(
                "sshd=yes\ndropin=file\nmain=file\neffective_status=0\n[effective]\n{}\n[dropin]\n[main]\n{}\n",
                b64(EFFECTIVE),
                b64(MAIN)
            )))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content.unwrap().before.as_deref(), Some(""));
    }

    #[test]
    fn hostile_values_stay_inert() {
        let hostile = "echo \"$(touch /tmp/keel-pwned)\"; rm -rf '/' `id` $HOME \\";
        let yaml = format!(
            "settings:\n  ForceCommand: {}\n  Banner: \"/etc/issue; $(reboot)\"\n",
            serde_json::to_string(hostile).unwrap()
        );
        let r = load("sshd", &yaml);
        let e = r
            .evaluate(&ProbeOutput::ok(probe_out(
                None,
                Some(MAIN),
                Eff::Config(EFFECTIVE),
                "",
            )))
            .unwrap();
        let content = e.diff.content.as_ref().unwrap().after.clone();
        assert!(content.contains(&format!("ForceCommand {hostile}\n")));
        for c in &e.commands {
            assert!(!c.script.contains("keel-pwned"), "{}", c.script);
            assert!(!c.script.contains("reboot"), "{}", c.script);
            sh_syntax_ok(&c.script);
        }
        // The content travels base64-encoded: decoding the here-document
        // gives the file byte for byte.
        let script = &e.commands[0].script;
        let start = script.find("<<'KEEL_DATA_END'\n").unwrap() + "<<'KEEL_DATA_END'\n".len();
        let end = script[start..].find("\nKEEL_DATA_END").unwrap() + start;
        assert_eq!(
            shell::unbase64(&script[start..end]).unwrap(),
            content.as_bytes()
        );
        sh_syntax_ok(&r.probe());
    }

    #[test]
    fn the_probe_runs_and_reads_a_dropin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sshd_config.d/50-keel.conf");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let yaml = format!("{YAML}path: {}\n", path.display());
        let r = load("sshd", &yaml);
        let fact = |r: &dyn Resource| {
            let out = run_local(&r.probe());
            assert_eq!(out.status, 0, "{}", out.stderr);
            let s: Sshd = sshd(&yaml);
            s.parse(&out).unwrap()
        };
        assert_eq!(fact(r.as_ref()).dropin, DropIn::Absent);
        std::fs::write(&path, "MaxAuthTries 6\n").unwrap();
        let f = fact(r.as_ref());
        assert_eq!(f.dropin, DropIn::File(b"MaxAuthTries 6\n".to_vec()));
        assert!(
            f.sources.iter().any(|s| s.keyword == "maxauthtries"
                && s.value == "6"
                && s.line == 1
                && s.file == path.to_str().unwrap()),
            "{:?}",
            f.sources
        );
        // Whatever this machine has (sshd or not, root or not), the fact parses
        // and the diff plans the write.
        let e = r.evaluate(&run_local(&r.probe())).unwrap();
        assert!(e.diff.action().is_change());
    }

    // --- Helpers ------------------------------------------------------------

    #[test]
    fn time_values_parse_like_sshd() {
        assert_eq!(parse_time("90"), Some(90));
        assert_eq!(parse_time("1m30s"), Some(90));
        assert_eq!(parse_time("1H"), Some(3600));
        assert_eq!(parse_time("2d1w"), Some(2 * 86400 + 604800));
        assert_eq!(parse_time("0"), Some(0));
        for bad in ["", "m", "5x", "1.5m", "-1", "2147483648", "5 m"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn globs_match_like_sshd_includes() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
        assert!(m(
            "/etc/ssh/sshd_config.d/*.conf",
            "/etc/ssh/sshd_config.d/50-keel.conf"
        ));
        assert!(!m(
            "/etc/ssh/sshd_config.d/*.conf",
            "/etc/ssh/sshd_config.d/50-keel.cfg"
        ));
        assert!(!m("/etc/ssh/*.conf", "/etc/ssh/sshd_config.d/50-keel.conf"));
        assert!(m(
            "/etc/ssh/sshd_config.d/[0-9]?-*",
            "/etc/ssh/sshd_config.d/50-keel.conf"
        ));
        assert!(!m(
            "/etc/ssh/sshd_config.d/[!5]*",
            "/etc/ssh/sshd_config.d/50-keel.conf"
        ));
        assert!(m("/a/[x", "/a/[x"));
        assert!(m("*", "") && m("a*", "a") && !m("*", "/") && m("[]]x", "]x"));
        // Many stars (from a hostile host's `Include`) stay fast.
        let stars = format!("/etc/ssh/sshd_config.d/{}", "*".repeat(200));
        assert!(m(&format!("{stars}.conf"), DEFAULT_PATH));
        assert!(!m(&format!("{stars}x"), DEFAULT_PATH));
    }

    #[test]
    fn includes_are_found_before_match_blocks() {
        let p = DEFAULT_PATH;
        assert_eq!(
            include_of(MAIN, p),
            Some(IncludeAt {
                line: 2,
                pattern: "/etc/ssh/sshd_config.d/*.conf".into()
            })
        );
        assert!(include_of("include \"sshd_config.d/*.conf\"\n", p).is_some());
        assert!(include_of("Include=/etc/ssh/other.conf /etc/ssh/sshd_config.d/*\n", p).is_some());
        assert!(include_of("# Include /etc/ssh/sshd_config.d/*.conf\n", p).is_none());
        assert!(include_of("Match User x\n  Include /etc/ssh/sshd_config.d/*.conf\n", p).is_none());
        assert!(include_of("Include /etc/ssh/sshd_config.d/*.cfg\n", p).is_none());
    }

    #[test]
    fn probe_sections_parse() {
        let (h, s) = sections("a=1\nb=2\n[x]\nQUJD\n[y]\n[z]\nREVG\nR0hJ\n");
        assert_eq!(kv(&h, "b"), Some("2"));
        assert_eq!(s["x"], "QUJD\n");
        assert_eq!(s["y"], "");
        assert_eq!(decode(&s, "z").unwrap().unwrap(), b"DEFGHI");
        let eff = parse_effective("port 22\nport 2222\nbanner none\nversionaddendum\n");
        assert_eq!(eff["port"], ["22", "2222"]);
        assert_eq!(eff["versionaddendum"], [""]);
        let src = parse_sources(
            "/etc/ssh/sshd_config:12:  PermitRootLogin=yes # x\nnonsense\n/a:x:Port 1\n",
        );
        assert_eq!(src.len(), 1);
        assert_eq!(src[0].keyword, "permitrootlogin");
        assert_eq!(src[0].line, 12);
    }
}
