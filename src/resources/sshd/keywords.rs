//! The keyword table of `sshd_config` (OpenSSH 9.x) and the checks and
//! normalization of values by their type.

pub use crate::resources::common::BadValue;
// ---------------------------------------------------------------------------
// The keyword table.

/// What a single value may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
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
pub(super) enum Layout {
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
pub(super) enum Eff {
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
    pub(super) ty: Ty,
    pub(super) layout: Layout,
    pub(super) eff: Eff,
    /// For legacy names: the keyword sshd actually sets.
    pub(super) alias_of: Option<&'static str>,
}

impl Keyword {
    /// The keyword sshd sets (and `sshd -T` prints, lowercased).
    pub fn canonical(&self) -> &'static str {
        self.alias_of.unwrap_or(self.name)
    }
    pub(super) fn effective_key(&self) -> String {
        self.canonical().to_ascii_lowercase()
    }
    pub(super) fn sep(&self) -> &'static str {
        match self.layout {
            Layout::One | Layout::Words => " ",
            Layout::Lines => ", ",
            Layout::Commas => ",",
        }
    }
}

pub(super) const fn k(name: &'static str, ty: Ty, layout: Layout, eff: Eff) -> Keyword {
    Keyword {
        name,
        ty,
        layout,
        eff,
        alias_of: None,
    }
}
pub(super) const fn flag(name: &'static str) -> Keyword {
    k(name, Ty::Flag, Layout::One, Eff::Value)
}
pub(super) const fn int(name: &'static str) -> Keyword {
    k(name, Ty::Int, Layout::One, Eff::Value)
}
pub(super) const fn text(name: &'static str) -> Keyword {
    k(name, Ty::Text, Layout::One, Eff::Value)
}
pub(super) const fn choice(
    name: &'static str,
    c: &'static [(&'static str, &'static str)],
) -> Keyword {
    k(name, Ty::Choice(c), Layout::One, Eff::Value)
}
pub(super) const fn algorithms(name: &'static str) -> Keyword {
    k(name, Ty::Word, Layout::Commas, Eff::Value)
}
pub(super) const fn alias(name: &'static str, of: &Keyword) -> Keyword {
    Keyword {
        name,
        ty: of.ty,
        layout: of.layout,
        eff: of.eff,
        alias_of: Some(of.name),
    }
}

pub(super) const PERMIT_ROOT: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("no", "no"),
    ("prohibit-password", "without-password"),
    ("without-password", "without-password"),
    ("forced-commands-only", "forced-commands-only"),
];
pub(super) const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("delayed", "yes"), ("no", "no")];
pub(super) const FORWARDING: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("all", "yes"),
    ("no", "no"),
    ("local", "local"),
    ("remote", "remote"),
];
pub(super) const GATEWAY_PORTS: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("no", "no"),
    ("clientspecified", "clientspecified"),
];
pub(super) const IGNORE_RHOSTS: &[(&str, &str)] =
    &[("yes", "yes"), ("no", "no"), ("shosts-only", "shosts-only")];
pub(super) const TUNNEL: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("no", "no"),
    ("point-to-point", "point-to-point"),
    ("ethernet", "ethernet"),
];
pub(super) const FAMILY: &[(&str, &str)] = &[("any", "any"), ("inet", "inet"), ("inet6", "inet6")];
pub(super) const FP_HASH: &[(&str, &str)] = &[("sha256", "sha256"), ("md5", "md5")];
pub(super) const LOG_LEVEL: &[(&str, &str)] = &[
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
pub(super) const FACILITY: &[(&str, &str)] = &[
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

pub(super) const KBD_INTERACTIVE: Keyword = flag("KbdInteractiveAuthentication");
pub(super) const PUBKEY_ALGORITHMS: Keyword = algorithms("PubkeyAcceptedAlgorithms");
pub(super) const HOSTBASED_ALGORITHMS: Keyword = algorithms("HostbasedAcceptedAlgorithms");

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
pub(super) const RETIRED: &[(&str, &str)] = &[
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
pub(super) fn closest_keyword(found: &str) -> Option<&'static str> {
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
pub(super) fn parse_time(s: &str) -> Option<u64> {
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

pub(super) fn parse_int(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|n| *n <= i32::MAX as i64)
}

/// Validate one value of `kw`; returns the spelling to write.
pub(super) fn check_value(kw: &Keyword, raw: &str) -> Result<String, BadValue> {
    if let Some(c) = raw.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(BadValue::from(format!(
            "the value contains the control character {c:?}: sshd_config values are single lines"
        )));
    }
    let v = raw.trim();
    if v.is_empty() {
        return Err(BadValue::from("a value is needed here"));
    }
    match kw.ty {
        Ty::Flag => match v.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok("yes".into()),
            "no" | "false" => Ok("no".into()),
            _ => Err(BadValue::from(format!(
                "expected `yes` or `no`, found `{v}`"
            ))),
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
                BadValue::from(format!(
                    "expected one of {}, found `{v}`",
                    options
                        .iter()
                        .map(|(o, _)| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
        Ty::Int => int_value(v, "a non-negative integer"),
        Ty::IntOrNone => none_or(v, |v| int_value(v, "an integer or `none`")),
        Ty::Port => match parse_int(v) {
            Some(p) if (1..=65535).contains(&p) => Ok(p.to_string()),
            _ => Err(BadValue::from(format!("`{v}` is not a port (1–65535)"))),
        },
        Ty::Time => time_value(v, "a time such as `90`, `30s`, `5m` or `1h30m`"),
        Ty::TimeOrNone => none_or(v, |v| {
            time_value(v, "`none` or a time such as `30s`, `5m` or `1h`")
        }),
        Ty::MaxStartups => {
            let parts: Vec<&str> = v.split(':').collect();
            if (parts.len() == 1 || parts.len() == 3)
                && parts.iter().all(|p| parse_int(p).is_some())
            {
                Ok(v.to_string())
            } else {
                Err(BadValue::from(format!(
                    "expected `start` or `start:rate:full` (e.g. `10:30:100`), found `{v}`"
                )))
            }
        }
        Ty::Word => {
            if v.chars().any(char::is_whitespace) {
                Err(BadValue::from(format!(
                    "`{v}` contains a space: give several values as a list"
                )))
            } else {
                Ok(v.to_string())
            }
        }
        Ty::Text => Ok(v.to_string()),
    }
}

/// `none`, or a value `other` checks.
fn none_or(v: &str, other: impl Fn(&str) -> Result<String, BadValue>) -> Result<String, BadValue> {
    if v.eq_ignore_ascii_case("none") {
        Ok("none".into())
    } else {
        other(v)
    }
}

/// An integer, written as sshd reads it; `expected` names what was wanted.
fn int_value(v: &str, expected: &str) -> Result<String, BadValue> {
    parse_int(v)
        .map(|n| n.to_string())
        .ok_or_else(|| BadValue::from(format!("expected {expected}, found `{v}`")))
}

/// A time as written (sshd reads it); `expected` names what was wanted.
fn time_value(v: &str, expected: &str) -> Result<String, BadValue> {
    parse_time(v)
        .map(|_| v.to_string())
        .ok_or_else(|| BadValue::from(format!("expected {expected}, found `{v}`")))
}

/// Split a scalar into the values of a multi-value keyword.
pub(super) fn split_scalar(kw: &Keyword, raw: &str) -> Vec<String> {
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
pub(super) fn normalize(kw: &Keyword, v: &str) -> String {
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
