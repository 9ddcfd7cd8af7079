//! The `ufw` kind: the host firewall as UFW manages it — default policies,
//! logging, on/off, and the rules keel owns.
//!
//! ```yaml
//! - ufw:
//!     defaults: { incoming: deny, outgoing: allow, routed: deny }
//!     logging: low
//!     enabled: true
//!     rules:
//!       - { allow: 22/tcp, comment: ssh }
//!       - { limit: 2222/tcp }
//!       - { deny: 3306, from: 10.0.0.0/8 }
//!       - { allow: 8000:8100/tcp, from: 192.168.1.0/24, interface: eth0 }
//!       - { reject: 25/tcp, direction: out }
//! ```
//!
//! There is one `ufw` resource per host; its address is `ufw[firewall]`.
//!
//! ## The fact: ufw's own files
//! `ufw status` says little when the firewall is off, so the probe reads what
//! ufw itself reads (as its `_read_rules` does): the `### tuple ###` comment
//! lines of `/etc/ufw/user.rules` and `/etc/ufw/user6.rules` — one per rule
//! and IP family: `ACTION[_LOGTYPE] PROTO DPORT DST SPORT SRC [DAPP SAPP]
//! DIRECTION[_IFACE] [comment=HEX]` — plus `ENABLED`/`LOGLEVEL` from
//! `/etc/ufw/ufw.conf`, `IPV6` and the `DEFAULT_*_POLICY` lines of
//! `/etc/default/ufw`, whether the kernel has IPv6 (ufw ignores `IPV6=yes`
//! without `/proc/sys/net/ipv6`; the probe prints `kernel.ipv6=no` then),
//! and whether ufw's chains are loaded in the running firewall
//! (`iptables -S ufw-user-input`). Probe output, one item a line:
//!
//! ```text
//! installed=yes
//! conf.ENABLED=yes
//! conf.LOGLEVEL=low
//! default.IPV6=yes
//! default.DEFAULT_INPUT_POLICY="DROP"
//! v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c3a20737368
//! v6 allow tcp 22 ::/0 any ::/0 in comment=6b65656c3a20737368
//! loaded=yes
//! ```
//!
//! Without ufw (`installed=no`) the plan says "known after apply" and plans
//! the whole declared state; the resource needs `package[ufw]`, so when the
//! package is installed in the same run the fact is read again first.
//!
//! ## Ownership
//! Rules keel adds carry the comment `keel` or `keel: <comment>`. A rule
//! with that marker that is no longer declared is deleted; any other rule
//! (added by hand, by another tool) is left alone and listed in the plan's
//! reason as "unmanaged rule kept". An unmanaged rule is not drift: when it
//! is the only difference the plan is a no-op (exit 0 with
//! `--detailed-exitcode`); `keel plan --all` or `--json` shows it. ufw keeps
//! one rule per match (ports, protocol, addresses, interface, direction);
//! declaring a rule that exists unmanaged adopts it in place (its action and
//! comment are rewritten). `rules:` left out means rules are not managed at
//! all; `rules: []` removes every keel rule.
//!
//! ## Order and commands
//! ufw applies the first matching rule, so keel keeps its rules in declared
//! order, per IP family. Each rule is compared per family (a rule without
//! addresses is an IPv4 and an IPv6 rule). A missing rule is inserted before
//! the next declared rule that is in place (`ufw insert N`, N computed on
//! the host from the rule files at apply time) or appended; keel rules found
//! out of declared order (those outside a longest in-order run) are deleted
//! and re-inserted. A rule whose action or comment changed is rewritten in
//! place by ufw itself. Deletion is by rule spec, never by number.
//!
//! Lockout safety: rules are added before obsolete rules are deleted, before
//! default policies change and before the firewall is enabled (so the SSH
//! rule is in place first). Re-ordering deletes and re-inserts a rule at
//! once; established connections (keel's own) survive it through ufw's
//! conntrack rules. Every `ufw` call gets `</dev/null` (the script itself
//! arrives on stdin) and `--force` where ufw could prompt.
//!
//! Validation happens when the stack is loaded: ports 1–65535, ranges `A:B`
//! with `A < B` and a protocol, `tcp`/`udp`, addresses and CIDRs (parsed with
//! `std::net` and normalized as ufw does: `/32` and `/128` dropped, an IPv4
//! network's host bits cleared), interface names as ufw accepts them,
//! comments without `'`; errors point at the offending value.

use super::*;
use crate::shell::{Script, q};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

const RULES4: &str = "/etc/ufw/user.rules";
const RULES6: &str = "/etc/ufw/user6.rules";
/// The comment (or comment prefix, followed by `:`) of the rules keel owns.
const MARKER: &str = "keel";

// ---------------------------------------------------------------------------
// What the user declares.

/// The host firewall, as ufw manages it. Every part is optional; what is not
/// declared is left alone.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ufw {
    /// Default policies per direction.
    #[serde(default)]
    pub defaults: Option<Defaults>,
    /// `off`, `low`, `medium`, `high` or `full`.
    #[serde(default)]
    pub logging: Option<LogLevel>,
    /// Firewall on (and at boot) or off.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The rules keel owns, in order. Left out: rules are not managed.
    #[serde(default)]
    pub rules: Option<Vec<Rule>>,
}

/// Default policies (`ufw default POLICY DIRECTION`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub incoming: Option<Policy>,
    #[serde(default)]
    pub outgoing: Option<Policy>,
    #[serde(default)]
    pub routed: Option<Policy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Allow,
    Deny,
    Reject,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Allow => "allow",
            Policy::Deny => "deny",
            Policy::Reject => "reject",
        }
    }
    /// The value `/etc/default/ufw` holds (`ACCEPT`, `DROP`, `REJECT`).
    fn from_file(v: &str) -> Option<Policy> {
        match v {
            "ACCEPT" => Some(Policy::Allow),
            "DROP" => Some(Policy::Deny),
            "REJECT" => Some(Policy::Reject),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Low,
    Medium,
    High,
    Full,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Low => "low",
            LogLevel::Medium => "medium",
            LogLevel::High => "high",
            LogLevel::Full => "full",
        }
    }
}

/// What a rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    Allow,
    Deny,
    /// Allow, but refuse an address that opened 6 connections in 30 s.
    Limit,
    Reject,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
            RuleAction::Limit => "limit",
            RuleAction::Reject => "reject",
        }
    }
    /// Whether matching traffic gets through (`allow`, `limit`).
    pub fn admits(self) -> bool {
        matches!(self, RuleAction::Allow | RuleAction::Limit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// Destination ports of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Every port (`any`).
    Any,
    One(u16),
    /// `A:B`, inclusive, `A < B`.
    Range(u16, u16),
}

/// A port spec: `443`, `443/tcp`, `8000:8100/udp`, `any`, `any/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub ports: Ports,
    /// `None`: both TCP and UDP (ufw's `any`).
    pub proto: Option<Proto>,
}

impl PortSpec {
    fn parse(text: &str) -> Result<PortSpec, String> {
        let t = text.trim();
        let (ports, proto) = match t.split_once('/') {
            Some((p, proto)) => (p, Some(proto)),
            None => (t, None),
        };
        let proto = match proto {
            None => None,
            Some("tcp") => Some(Proto::Tcp),
            Some("udp") => Some(Proto::Udp),
            Some(other) => {
                return Err(format!(
                    "`{}`: the protocol must be `tcp` or `udp`, not `{}`",
                    t.escape_debug(),
                    other.escape_debug()
                ));
            }
        };
        let port = |p: &str| -> Result<u16, String> {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "`{}` is not a port spec: write a port number (`443`), \
                     a port and protocol (`443/tcp`) or a range (`8000:8100/tcp`)",
                    t.escape_debug()
                ));
            }
            match p.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                _ => Err(format!("port {p} is out of range (1–65535)")),
            }
        };
        let ports = if ports == "any" {
            Ports::Any
        } else if let Some((a, b)) = ports.split_once(':') {
            let (a, b) = (port(a)?, port(b)?);
            if a >= b {
                return Err(format!(
                    "the range {a}:{b} is empty or reversed (write the lower port first)"
                ));
            }
            if proto.is_none() {
                return Err(format!(
                    "the range {a}:{b} needs a protocol (ufw requires it): write `{a}:{b}/tcp` or `{a}:{b}/udp`"
                ));
            }
            Ports::Range(a, b)
        } else {
            Ports::One(port(ports)?)
        };
        Ok(PortSpec { ports, proto })
    }

    /// The `DPORT` field of a ufw tuple.
    fn dport(&self) -> String {
        match self.ports {
            Ports::Any => "any".into(),
            Ports::One(p) => p.to_string(),
            Ports::Range(a, b) => format!("{a}:{b}"),
        }
    }

    fn proto_str(&self) -> &'static str {
        self.proto.map_or("any", Proto::as_str)
    }

    /// Whether `port`/`proto` falls under this spec.
    pub fn covers(&self, port: u16, proto: Proto) -> bool {
        let port_ok = match self.ports {
            Ports::Any => true,
            Ports::One(p) => p == port,
            Ports::Range(a, b) => (a..=b).contains(&port),
        };
        port_ok && self.proto.is_none_or(|p| p == proto)
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.dport())?;
        if let Some(p) = self.proto {
            write!(f, "/{}", p.as_str())?;
        }
        Ok(())
    }
}

/// An IP family: ufw keeps IPv4 and IPv6 rules in separate files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn idx(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
    /// ufw's "anywhere" address in this family.
    fn anywhere(self) -> &'static str {
        match self {
            Family::V4 => "0.0.0.0/0",
            Family::V6 => "::/0",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Family::V4 => RULES4,
            Family::V6 => RULES6,
        }
    }
}

/// A source or destination: `any`, or an address or network normalized the
/// way ufw writes it in its rule files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Any,
    V4(String),
    V6(String),
}

impl Addr {
    fn parse(text: &str) -> Result<Addr, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("any") {
            return Ok(Addr::Any);
        }
        let bad = || {
            format!(
                "`{}` is not an IP address, a CIDR network (`10.0.0.0/8`, `2001:db8::/32`) or `any`",
                t.escape_debug()
            )
        };
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) || p.len() > 3 {
                    return Err(if p.contains('.') {
                        format!(
                            "`{}`: write the netmask as a prefix length (`/24`), not dotted",
                            t.escape_debug()
                        )
                    } else {
                        bad()
                    });
                }
                (a, Some(p.parse::<u8>().map_err(|_| bad())?))
            }
            None => (t, None),
        };
        if let Ok(a) = addr.parse::<Ipv4Addr>() {
            return match prefix {
                Some(p) if p > 32 => Err(format!(
                    "`{}`: an IPv4 prefix length is at most 32",
                    t.escape_debug()
                )),
                None | Some(32) => Ok(Addr::V4(a.to_string())),
                Some(p) => {
                    let mask = if p == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(p))
                    };
                    let net = Ipv4Addr::from(u32::from(a) & mask);
                    Ok(Addr::V4(format!("{net}/{p}")))
                }
            };
        }
        if let Ok(a) = addr.parse::<Ipv6Addr>() {
            return match prefix {
                Some(p) if p > 128 => Err(format!(
                    "`{}`: an IPv6 prefix length is at most 128",
                    t.escape_debug()
                )),
                // ufw keeps an IPv6 network's host bits as written.
                None | Some(128) => Ok(Addr::V6(a.to_string())),
                Some(p) => Ok(Addr::V6(format!("{a}/{p}"))),
            };
        }
        Err(bad())
    }

    pub fn is_any(&self) -> bool {
        *self == Addr::Any
    }

    pub fn family(&self) -> Option<Family> {
        match self {
            Addr::Any => None,
            Addr::V4(_) => Some(Family::V4),
            Addr::V6(_) => Some(Family::V6),
        }
    }

    /// The field of a ufw tuple of `fam`.
    fn tuple_field(&self, fam: Family) -> &str {
        match self {
            Addr::Any => fam.anywhere(),
            Addr::V4(s) | Addr::V6(s) => s,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Addr::Any => f.write_str("any"),
            Addr::V4(s) | Addr::V6(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Words of ufw's rule syntax: an interface named like one would be read
/// as syntax by ufw's parser.
const UFW_WORDS: &[&str] = &[
    "in", "out", "on", "proto", "from", "to", "port", "app", "comment", "log", "log-all", "any",
    "allow", "deny", "reject", "limit", "route", "insert", "delete", "prepend", "rule",
];

/// Check an interface name as ufw does (`set_interface`): 1–15 characters
/// of `[A-Za-z0-9_.+,=%@-]`, no alias (`:`), not `.`/`..`.
fn parse_interface(name: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{}` is not an interface name: {why}",
            name.escape_debug()
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 15 {
        return bad("at most 15 characters");
    }
    if name.contains(':') {
        return bad("ufw cannot use interface aliases (`eth0:1`)");
    }
    if name == "." || name == ".." || name.starts_with('-') {
        return bad("it cannot be `.`, `..` or start with `-`");
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"_.+,=%@-".contains(&c))
    {
        return bad("use letters, digits and `_.+,=%@-`");
    }
    if UFW_WORDS.contains(&name) {
        return bad("it is a word of ufw's rule syntax");
    }
    Ok(name.to_string())
}

fn parse_comment(text: &str) -> Result<String, String> {
    if text.contains('\'') {
        return Err("ufw does not accept `'` in a rule comment".into());
    }
    if text.chars().any(char::is_control) {
        return Err(
            "a rule comment is one line of text (no newlines or control characters)".into(),
        );
    }
    if text.chars().count() > 200 {
        return Err("a rule comment is at most 200 characters".into());
    }
    Ok(text.trim().to_string())
}

/// One declared rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: RuleAction,
    pub port: PortSpec,
    pub from: Addr,
    pub to: Addr,
    pub interface: Option<String>,
    pub direction: Direction,
    /// The user's comment (the rule's ufw comment is `keel: <comment>`).
    pub comment: Option<String>,
}

impl Rule {
    /// The rule as the plan names it: `allow 443/tcp`,
    /// `deny 3306 from 10.0.0.0/8`, `allow out 53/udp on eth0`.
    pub fn label(&self) -> String {
        let mut s = self.action.as_str().to_string();
        if self.direction == Direction::Out {
            s.push_str(" out");
        }
        let _ = write!(s, " {}", self.port);
        if !self.from.is_any() {
            let _ = write!(s, " from {}", self.from);
        }
        if !self.to.is_any() {
            let _ = write!(s, " to {}", self.to);
        }
        if let Some(i) = &self.interface {
            let _ = write!(s, " on {i}");
        }
        s
    }

    /// The ufw comment keel writes: `keel` or `keel: <comment>`.
    pub fn marker_comment(&self) -> String {
        match self.comment.as_deref() {
            Some(c) if !c.is_empty() => format!("{MARKER}: {c}"),
            _ => MARKER.to_string(),
        }
    }

    /// The family the rule's addresses pin it to (`None`: both families).
    pub fn family(&self) -> Option<Family> {
        self.from.family().or(self.to.family())
    }

    fn applies_to(&self, fam: Family) -> bool {
        self.family().is_none_or(|f| f == fam)
    }

    /// Whether the rule matches inbound `port`/`proto` traffic (whatever
    /// its source, destination or interface restrictions).
    pub fn covers_inbound(&self, port: u16, proto: Proto) -> bool {
        self.direction == Direction::In && self.port.covers(port, proto)
    }

    /// Whether the rule applies to all sources, destinations and interfaces.
    pub fn is_unconditional(&self) -> bool {
        self.from.is_any() && self.to.is_any() && self.interface.is_none()
    }

    /// The tuple ufw writes for this rule in `fam`'s file.
    fn tuple(&self, fam: Family) -> Tuple {
        Tuple {
            v6: fam == Family::V6,
            route: false,
            action: self.action,
            logtype: LogType::None,
            proto: self.port.proto_str().into(),
            dport: self.port.dport(),
            dst: self.to.tuple_field(fam).into(),
            sport: "any".into(),
            src: self.from.tuple_field(fam).into(),
            apps: None,
            dir: TupleDir::Plain {
                direction: self.direction,
                interface: self.interface.clone(),
            },
            comment: self.marker_comment(),
        }
    }

    /// The words after `ufw` [`insert N`] that add this rule, for one family
    /// or (`None`) for whichever the rule's addresses say.
    fn add_args(&self, only: Option<Family>) -> String {
        let both_any = self.from.is_any() && self.to.is_any();
        let addr = |a: &Addr| match (a, only) {
            (Addr::Any, Some(fam)) if both_any => fam.anywhere().to_string(),
            (Addr::Any, _) => "any".to_string(),
            (a, _) => q(&a.to_string()),
        };
        let mut s = format!("{} {}", self.action.as_str(), self.direction.as_str());
        if let Some(i) = &self.interface {
            let _ = write!(s, " on {}", q(i));
        }
        if let Some(p) = self.port.proto {
            let _ = write!(s, " proto {}", p.as_str());
        }
        let _ = write!(s, " from {} to {}", addr(&self.from), addr(&self.to));
        if self.port.ports != Ports::Any {
            let _ = write!(s, " port {}", self.port.dport());
        }
        let _ = write!(s, " comment {}", q(&self.marker_comment()));
        s
    }
}

/// A rule as written in YAML, before its cross-field checks.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    allow: Option<PortSpec>,
    #[serde(default)]
    deny: Option<PortSpec>,
    #[serde(default)]
    limit: Option<PortSpec>,
    #[serde(default)]
    reject: Option<PortSpec>,
    #[serde(default)]
    from: Option<Addr>,
    #[serde(default)]
    to: Option<Addr>,
    #[serde(default)]
    interface: Option<Interface>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    comment: Option<Comment>,
}

impl RawRule {
    fn into_rule(self) -> Result<Rule, String> {
        let actions: Vec<(RuleAction, PortSpec)> = [
            (RuleAction::Allow, self.allow),
            (RuleAction::Deny, self.deny),
            (RuleAction::Limit, self.limit),
            (RuleAction::Reject, self.reject),
        ]
        .into_iter()
        .filter_map(|(a, p)| p.map(|p| (a, p)))
        .collect();
        let (action, port) = match actions.as_slice() {
            [one] => *one,
            [] => {
                return Err(
                    "a rule needs one of `allow`, `deny`, `limit` or `reject` with a port, \
                     e.g. `{ allow: 443/tcp }`"
                        .into(),
                );
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|(a, _)| format!("`{}`", a.as_str()))
                    .collect();
                return Err(format!(
                    "a rule has exactly one of `allow`, `deny`, `limit`, `reject` (found {}): \
                     write one rule per action",
                    names.join(" and ")
                ));
            }
        };
        let from = self.from.unwrap_or(Addr::Any);
        let to = self.to.unwrap_or(Addr::Any);
        if let (Some(a), Some(b)) = (from.family(), to.family())
            && a != b
        {
            return Err(format!(
                "`from: {from}` is {} but `to: {to}` is {}: a rule's addresses must be of one IP family",
                a.name(),
                b.name()
            ));
        }
        Ok(Rule {
            action,
            port,
            from,
            to,
            interface: self.interface.map(|i| i.0),
            direction: self.direction.unwrap_or_default(),
            comment: self.comment.map(|c| c.0).filter(|c| !c.is_empty()),
        })
    }
}

/// Deserialize a scalar through a parser, so that an error points at the
/// scalar itself.
struct Parsed<T>(fn(&str) -> Result<T, String>, &'static str);

impl<T> Visitor<'_> for Parsed<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for PortSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Parsed(
            PortSpec::parse,
            "a port spec such as `443/tcp`, `53` or `8000:8100/tcp`",
        ))
    }
}

impl<'de> serde::Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Parsed(
            Addr::parse,
            "an IP address, a CIDR network or `any`",
        ))
    }
}

struct Interface(String);

impl<'de> serde::Deserialize<'de> for Interface {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Parsed(
            |s| parse_interface(s).map(Interface),
            "an interface name such as `eth0`",
        ))
    }
}

struct Comment(String);

impl<'de> serde::Deserialize<'de> for Comment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Parsed(
            |s| parse_comment(s).map(Comment),
            "a one-line comment",
        ))
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rule;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rule such as `{ allow: 443/tcp }`")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Rule, A::Error> {
                // Checked inside the map's own deserialization, so an error
                // points at this rule.
                let raw: RawRule =
                    serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
                raw.into_rule().map_err(de::Error::custom)
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------
// The live state.

/// One `### tuple ###` line of a ufw rules file: one rule in one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    pub v6: bool,
    /// A `route` (forwarding) rule.
    pub route: bool,
    pub action: RuleAction,
    pub logtype: LogType,
    pub proto: String,
    pub dport: String,
    pub dst: String,
    pub sport: String,
    pub src: String,
    /// Application profiles (`dapp`, `sapp`; `-` for none) of app rules.
    pub apps: Option<(String, String)>,
    /// `in`, `out`, `in_eth0`, `out_eth0`, `in_eth0!out_eth1`.
    pub dir: TupleDir,
    /// The decoded comment (`""` when none).
    pub comment: String,
}

/// The log type of a tuple's action field (`allow_log`, `deny_log-all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogType {
    /// No logging (`allow`).
    None,
    /// `_log`: new connections are logged.
    Log,
    /// `_log-all`: every packet is logged.
    LogAll,
}

impl LogType {
    fn parse(text: &str) -> Option<LogType> {
        match text {
            "" => Some(LogType::None),
            "log" => Some(LogType::Log),
            "log-all" => Some(LogType::LogAll),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::None => "",
            LogType::Log => "log",
            LogType::LogAll => "log-all",
        }
    }
}

impl RuleAction {
    /// The action word of a tuple.
    fn parse(text: &str) -> Option<RuleAction> {
        match text {
            "allow" => Some(RuleAction::Allow),
            "deny" => Some(RuleAction::Deny),
            "reject" => Some(RuleAction::Reject),
            "limit" => Some(RuleAction::Limit),
            _ => None,
        }
    }
}

/// The direction field of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleDir {
    /// `in`, `out`, or either with `_IFACE`.
    Plain {
        direction: Direction,
        interface: Option<String>,
    },
    /// Anything else ufw writes there (`in_eth0!out_eth1` of a route
    /// rule between interfaces), kept as written.
    Other(String),
}

impl TupleDir {
    fn parse(text: &str) -> TupleDir {
        if !text.contains('!') {
            let (d, iface) = match text.split_once('_') {
                Some((d, i)) => (d, Some(i.to_string())),
                None => (text, None),
            };
            let direction = match d {
                "in" => Some(Direction::In),
                "out" => Some(Direction::Out),
                _ => None,
            };
            if let Some(direction) = direction {
                return TupleDir::Plain {
                    direction,
                    interface: iface,
                };
            }
        }
        TupleDir::Other(text.to_string())
    }
}

impl fmt::Display for TupleDir {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            TupleDir::Plain {
                direction,
                interface: None,
            } => f.write_str(direction.as_str()),
            TupleDir::Plain {
                direction,
                interface: Some(i),
            } => write!(f, "{}_{i}", direction.as_str()),
            TupleDir::Other(text) => f.write_str(text),
        }
    }
}

fn hex_decode(h: &str) -> String {
    // Like ufw: an odd trailing digit is dropped.
    let digits: Vec<u8> = h
        .bytes()
        .filter_map(|c| (c as char).to_digit(16).map(|d| d as u8))
        .collect();
    let bytes: Vec<u8> = digits.chunks_exact(2).map(|p| p[0] << 4 | p[1]).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn is_marker(comment: &str) -> bool {
    comment == MARKER
        || comment
            .strip_prefix(MARKER)
            .is_some_and(|rest| rest.starts_with(':'))
}

impl Tuple {
    /// Parse the text after `### tuple ###` (as ufw's `_read_rules` does).
    fn parse(text: &str, v6: bool) -> Option<Tuple> {
        let (main, comment) = match text.split_once(" comment=") {
            Some((m, c)) => (m, hex_decode(c.trim())),
            None => (text, String::new()),
        };
        let f: Vec<&str> = main.split_whitespace().collect();
        if !(6..=9).contains(&f.len()) {
            return None;
        }
        let (route, action_field) = match f[0].strip_prefix("route:") {
            Some(a) => (true, a),
            None => (false, f[0]),
        };
        let (action, logtype) = action_field.split_once('_').unwrap_or((action_field, ""));
        let action = RuleAction::parse(action)?;
        let logtype = LogType::parse(logtype)?;
        let apps = (f.len() >= 8).then(|| (f[6].to_string(), f[7].to_string()));
        let dir = if f.len() == 7 || f.len() == 9 {
            TupleDir::parse(f[f.len() - 1])
        } else {
            // Old 6- and 8-field formats had no direction: inbound.
            TupleDir::Plain {
                direction: Direction::In,
                interface: None,
            }
        };
        Some(Tuple {
            v6,
            route,
            action,
            logtype,
            proto: f[1].into(),
            dport: f[2].into(),
            dst: f[3].into(),
            sport: f[4].into(),
            src: f[5].into(),
            apps,
            dir,
            comment,
        })
    }

    /// What ufw matches rules by: everything but action, log type and
    /// comment (the tuple text after the action, without the comment).
    fn key(&self) -> String {
        let mut k = String::new();
        if self.route {
            k.push_str("route ");
        }
        let _ = write!(
            k,
            "{} {} {} {} {}",
            self.proto, self.dport, self.dst, self.sport, self.src
        );
        if let Some((d, s)) = &self.apps {
            let _ = write!(k, " {d} {s}");
        }
        let _ = write!(k, " {}", self.dir);
        k
    }

    /// `(in|out, interface)` for a plain rule; `None` for `in_X!out_Y`.
    fn dir_parts(&self) -> Option<(&str, Option<&str>)> {
        match &self.dir {
            TupleDir::Plain {
                direction,
                interface,
            } => Some((direction.as_str(), interface.as_deref())),
            TupleDir::Other(_) => None,
        }
    }

    /// A rule keel added (and can delete by its spec).
    fn owned(&self) -> bool {
        !self.route && self.apps.is_none() && self.dir_parts().is_some() && is_marker(&self.comment)
    }

    fn is_anywhere(&self) -> bool {
        let any = if self.v6 { "::/0" } else { "0.0.0.0/0" };
        self.src == any && self.dst == any
    }

    /// The v6 half of the same `from any to any` rule as this v4 tuple.
    fn twin_of(&self, v4: &Tuple) -> bool {
        self.v6
            && !v4.v6
            && self.is_anywhere()
            && v4.is_anywhere()
            && self.route == v4.route
            && self.action == v4.action
            && self.logtype == v4.logtype
            && self.proto == v4.proto
            && self.dport == v4.dport
            && self.sport == v4.sport
            && self.apps == v4.apps
            && self.dir == v4.dir
            && self.comment == v4.comment
    }

    fn action_label(&self) -> String {
        match self.logtype {
            LogType::None => self.action.as_str().to_string(),
            log => format!("{} {}", self.action.as_str(), log.as_str()),
        }
    }

    /// The rule as the plan names it (keel's syntax); `suffix` tells an
    /// IPv4- or IPv6-only half of a `from any to any` rule.
    fn label(&self, suffix: bool) -> String {
        let any = if self.v6 { "::/0" } else { "0.0.0.0/0" };
        let mut s = String::new();
        if self.route {
            s.push_str("route ");
        }
        s.push_str(&self.action_label());
        let (dir, iface) = match self.dir_parts() {
            Some((d, i)) => (d.to_string(), i.map(str::to_string)),
            None => (self.dir.to_string(), None),
        };
        if dir != "in" {
            let _ = write!(s, " {dir}");
        }
        match &self.apps {
            Some((dapp, _)) if dapp != "-" => {
                let _ = write!(s, " app {}", dapp.replace("%20", " "));
            }
            _ => {
                let _ = write!(s, " {}", self.dport);
                if self.proto != "any" {
                    let _ = write!(s, "/{}", self.proto);
                }
            }
        }
        if self.src != any || self.sport != "any" {
            let _ = write!(
                s,
                " from {}",
                if self.src == any { "any" } else { &self.src }
            );
            if self.sport != "any" {
                let _ = write!(s, " port {}", self.sport);
            }
        }
        if let Some((_, sapp)) = &self.apps
            && sapp != "-"
        {
            let _ = write!(s, " app {}", sapp.replace("%20", " "));
        }
        if self.dst != any {
            let _ = write!(s, " to {}", self.dst);
        }
        if let Some(i) = iface {
            let _ = write!(s, " on {i}");
        }
        if suffix && self.is_anywhere() {
            s.push_str(if self.v6 { " (IPv6)" } else { " (IPv4)" });
        }
        s
    }

    /// The words after `ufw` that delete this rule by its spec; `both`
    /// deletes it and its twin in the other family at once.
    fn delete_args(&self, both: bool) -> String {
        let (dir, iface) = self.dir_parts().unwrap_or(("in", None));
        let mut s = format!("delete {} {dir}", self.action.as_str());
        if let Some(i) = iface {
            let _ = write!(s, " on {}", q(i));
        }
        if self.logtype != LogType::None {
            let _ = write!(s, " {}", self.logtype.as_str());
        }
        if self.proto != "any" {
            let _ = write!(s, " proto {}", q(&self.proto));
        }
        let addr = |a: &str| if both { "any".to_string() } else { q(a) };
        let _ = write!(s, " from {}", addr(&self.src));
        if self.sport != "any" {
            let _ = write!(s, " port {}", q(&self.sport));
        }
        let _ = write!(s, " to {}", addr(&self.dst));
        if self.dport != "any" {
            let _ = write!(s, " port {}", q(&self.dport));
        }
        s
    }
}

/// The firewall as ufw's files describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UfwFact {
    /// The `ufw` command exists.
    pub installed: bool,
    /// `ENABLED=yes` in `/etc/ufw/ufw.conf` (on, and on at boot).
    pub enabled: bool,
    /// ufw's chains are in the running firewall (`None`: cannot tell).
    pub loaded: Option<bool>,
    /// `LOGLEVEL` of `/etc/ufw/ufw.conf`.
    pub loglevel: Option<String>,
    /// `DEFAULT_INPUT_POLICY`, `DEFAULT_OUTPUT_POLICY`,
    /// `DEFAULT_FORWARD_POLICY` of `/etc/default/ufw` (`DROP`, ...).
    pub policies: [Option<String>; 3],
    /// ufw also manages IPv6 rules: `IPV6=yes` and the kernel has IPv6
    /// (`/proc/sys/net/ipv6`), as ufw's `use_ipv6` decides.
    pub ipv6: bool,
    /// `/proc/sys/net/ipv6` is missing (ufw then ignores `IPV6=yes`).
    pub no_kernel_ipv6: bool,
    /// Rules of `user.rules` and `user6.rules`, in order.
    pub v4: Vec<Tuple>,
    pub v6: Vec<Tuple>,
    /// Tuple lines ufw itself would skip.
    pub malformed: Vec<String>,
}

impl UfwFact {
    fn rules(&self, fam: Family) -> &[Tuple] {
        match fam {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
    /// What the plan assumes before ufw is installed: the package's state.
    fn fresh() -> UfwFact {
        UfwFact {
            ipv6: true,
            ..UfwFact::default()
        }
    }
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v)
}

// ---------------------------------------------------------------------------
// Comparing and planning.

/// Where a declared rule stands in one family.
#[derive(Debug, Clone)]
enum Status {
    Ok,
    /// Same match, different action/log type/comment or not keel's:
    /// `ufw RULE` rewrites it in place.
    Rewrite {
        before: String,
        after: String,
    },
    /// Absent: insert before the rule with this key (append when `None`).
    Missing {
        before: Option<String>,
    },
    /// Present but out of declared order: delete it and insert it again.
    Moved {
        live: Box<Tuple>,
        before: Option<String>,
    },
}

impl Status {
    fn inserts(&self) -> bool {
        matches!(
            self,
            Status::Moved { .. } | Status::Missing { before: Some(_) }
        )
    }
}

/// Flags the members of one longest strictly increasing run of the present
/// positions (the rules that stay where they are). Among runs of the same
/// length, the one with the most `weight` wins (keel weighs `allow`/`limit`
/// rules, so an SSH rule stays put and a deny moves around it).
fn in_order(pos: &[Option<usize>], weight: &[usize]) -> Vec<bool> {
    let idx: Vec<usize> = (0..pos.len()).filter(|&k| pos[k].is_some()).collect();
    let n = idx.len();
    // score[a]: (length, weight) of the best run ending at idx[a]
    let mut score: Vec<(usize, usize)> = idx.iter().map(|&k| (1, weight[k])).collect();
    let mut prev: Vec<Option<usize>> = vec![None; n];
    for a in 0..n {
        for b in 0..a {
            let cand = (score[b].0 + 1, score[b].1 + weight[idx[a]]);
            if pos[idx[b]] < pos[idx[a]] && cand > score[a] {
                score[a] = cand;
                prev[a] = Some(b);
            }
        }
    }
    let mut keep = vec![false; pos.len()];
    let mut best: Option<usize> = None;
    for a in 0..n {
        if best.is_none_or(|b| score[a] > score[b]) {
            best = Some(a);
        }
    }
    while let Some(a) = best {
        keep[idx[a]] = true;
        best = prev[a];
    }
    keep
}

/// Pair the v4 halves with their v6 twins: `(v4, Some(v6))`, `(v4, None)`,
/// then lone v6 tuples as `(v6, None)`.
fn pair_twins(v4: Vec<Tuple>, v6: Vec<Tuple>) -> Vec<(Tuple, Option<Tuple>)> {
    let mut rest6: Vec<Option<Tuple>> = v6.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for t in v4 {
        let twin = rest6
            .iter_mut()
            .find(|x| x.as_ref().is_some_and(|x| x.twin_of(&t)))
            .and_then(Option::take);
        out.push((t, twin));
    }
    out.extend(rest6.into_iter().flatten().map(|t| (t, None)));
    out
}

/// Everything that differs, and the commands that close the gap.
#[derive(Debug, Default)]
struct Evaluated {
    attrs: Vec<AttrChange>,
    cmds: Vec<Cmd>,
    notes: Vec<String>,
    /// Rules on the host that keel did not add (kept, reported as drift).
    unmanaged: Vec<String>,
    /// Why the declared state cannot be reached (apply runs nothing).
    errors: Vec<String>,
}

/// Opens every command: ufw's presence, and the `keel_ufw*` helpers.
fn prelude() -> String {
    Script::new(include_str!("ufw/prelude.sh")).render()
}

fn cmd(summary: String, body: &str) -> Cmd {
    Cmd::new(summary, format!("{}{body}", prelude()))
}

/// Shell lines that insert the rule `args` into `fam`'s list before the
/// rule with tuple key `before` (looked up on the host), or append it.
fn insert_script(fam: Family, before: Option<&str>, args: &str) -> String {
    let Some(key) = before else {
        return format!("keel_ufw {args}\n");
    };
    let pos = match fam {
        Family::V4 => "\"$keel_pos\"".to_string(),
        // ufw numbers IPv6 rules after the IPv4 ones.
        Family::V6 => format!("\"$(( $(keel_ufw_count {RULES4}) + keel_pos ))\""),
    };
    format!(
        "keel_pos=$(keel_ufw_pos {file} {key})\nif [ -n \"$keel_pos\" ]; then\n  keel_ufw insert {pos} {args}\nelse\n  keel_ufw {args}\nfi\n",
        file = fam.file(),
        key = q(key),
    )
}

impl Ufw {
    /// The declared rules, in order (empty when `rules` is not declared; see
    /// [`Ufw::manages_rules`]).
    pub fn desired_rules(&self) -> &[Rule] {
        self.rules.as_deref().unwrap_or(&[])
    }

    /// Whether the resource manages rules at all (`rules:` declared).
    pub fn manages_rules(&self) -> bool {
        self.rules.is_some()
    }

    /// The declared default policies (unset ones are left alone).
    pub fn default_policies(&self) -> Defaults {
        self.defaults.unwrap_or_default()
    }

    /// The declared default incoming policy.
    pub fn default_incoming(&self) -> Option<Policy> {
        self.defaults.and_then(|d| d.incoming)
    }

    /// Whether the firewall is declared on (`Some(true)`), off, or left alone.
    pub fn enabled(&self) -> Option<bool> {
        self.enabled
    }

    /// Whether the declared rules let inbound `port`/`proto` traffic in from
    /// anywhere: the first declared rule that covers it for every source
    /// decides (`allow`/`limit` → true). `None` when no rule decides it for
    /// every source (then the default incoming policy does). For the
    /// lockout check "SSH allowed before enabling with default deny".
    pub fn admits_inbound(&self, port: u16, proto: Proto) -> Option<bool> {
        self.desired_rules()
            .iter()
            .find(|r| r.covers_inbound(port, proto) && r.is_unconditional())
            .map(|r| r.action.admits())
    }

    /// The rules part of the comparison: where each declared rule stands
    /// in each family, then the commands for the declared rules, the
    /// deletion of keel's rules no longer declared, and the report of
    /// rules keel leaves alone.
    fn eval_rules(&self, rules: &[Rule], fact: &UfwFact, ev: &mut Evaluated) {
        let fams: &[Family] = if fact.ipv6 {
            &[Family::V4, Family::V6]
        } else {
            &[Family::V4]
        };
        let mut st = RuleStatus::new(rules.len());
        for &fam in fams {
            st.family(rules, fact.rules(fam), fam);
        }
        for (i, rule) in rules.iter().enumerate() {
            let sts: Vec<(Family, &Status)> = fams
                .iter()
                .filter_map(|&f| st.status[i][f.idx()].as_ref().map(|s| (f, s)))
                .collect();
            plan_rule(rule, &sts, fact, fams.len() > 1, &st, ev);
        }
        let RuleStatus {
            obsolete,
            unmanaged,
            ..
        } = st;
        delete_obsolete(obsolete, fact, ev);
        report_unmanaged(unmanaged, fact, ev);
    }

    fn evaluate(&self, fact: &UfwFact) -> Evaluated {
        let mut ev = Evaluated::default();
        let fresh;
        let fact = if fact.installed {
            fact
        } else {
            fresh = UfwFact::fresh();
            &fresh
        };
        let mut first = Vec::new();
        // Turning the firewall off comes first; turning it on comes last.
        if self.enabled == Some(false) && (fact.enabled || fact.loaded == Some(true)) {
            let before = if fact.enabled {
                "true"
            } else {
                "false (rules still loaded)"
            };
            ev.attrs
                .push(AttrChange::new("enabled", Some(before), Some("false")));
            first.push(cmd("disable ufw".into(), "keel_ufw --force disable\n"));
        }
        if let Some(rules) = &self.rules {
            self.eval_rules(rules, fact, &mut ev);
        }
        let d = self.default_policies();
        for (i, (name, want)) in [
            ("incoming", d.incoming),
            ("outgoing", d.outgoing),
            ("routed", d.routed),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(want) = want else { continue };
            let have = fact.policies[i].as_deref();
            if have.and_then(Policy::from_file) == Some(want) {
                continue;
            }
            let before = have.map(|h| {
                Policy::from_file(h).map_or_else(|| h.to_lowercase(), |p| p.as_str().to_string())
            });
            ev.attrs.push(AttrChange::new(
                &format!("default {name}"),
                before,
                Some(want.as_str()),
            ));
            ev.cmds.push(cmd(
                format!("default {} {name}", want.as_str()),
                &format!("keel_ufw default {} {name}\n", want.as_str()),
            ));
        }
        if let Some(want) = self.logging
            && fact.loglevel.as_deref() != Some(want.as_str())
        {
            ev.attrs.push(AttrChange::new(
                "logging",
                fact.loglevel.clone(),
                Some(want.as_str()),
            ));
            ev.cmds.push(cmd(
                format!("logging {}", want.as_str()),
                &format!("keel_ufw logging {}\n", want.as_str()),
            ));
        }
        if self.enabled == Some(true) && !(fact.enabled && fact.loaded != Some(false)) {
            let before = if fact.enabled {
                "true (rules not loaded)"
            } else {
                "false"
            };
            ev.attrs
                .push(AttrChange::new("enabled", Some(before), Some("true")));
            ev.cmds
                .push(cmd("enable ufw".into(), "keel_ufw --force enable\n"));
        }
        first.append(&mut ev.cmds);
        ev.cmds = first;
        if !fact.malformed.is_empty() {
            ev.notes.push(format!(
                "ufw skips malformed rule lines: {}",
                fact.malformed.join("; ")
            ));
        }
        ev
    }
}

/// Where every declared rule stands, family by family, and the live
/// rules no declared rule matches.
struct RuleStatus {
    /// `status[rule][family]`: `None` where the rule does not apply.
    status: Vec<[Option<Status>; 2]>,
    /// keel's rules no longer declared, by family.
    obsolete: [Vec<Tuple>; 2],
    /// Rules keel did not add, by family.
    unmanaged: [Vec<Tuple>; 2],
    /// (tuple key, declared label) of the declared rules, by family.
    labels_by_key: [Vec<(String, String)>; 2],
}

impl RuleStatus {
    fn new(n: usize) -> Self {
        RuleStatus {
            status: vec![[None, None]; n],
            obsolete: Default::default(),
            unmanaged: Default::default(),
            labels_by_key: Default::default(),
        }
    }

    /// Compare the declared rules that apply to `fam` with its live list.
    fn family(&mut self, rules: &[Rule], live: &[Tuple], fam: Family) {
        let desired: Vec<(usize, Tuple)> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.applies_to(fam))
            .map(|(i, r)| (i, r.tuple(fam)))
            .collect();
        let keys: HashSet<String> = desired.iter().map(|(_, t)| t.key()).collect();
        self.labels_by_key[fam.idx()] = desired
            .iter()
            .map(|(i, t)| (t.key(), rules[*i].label()))
            .collect();
        let pos: Vec<Option<usize>> = desired
            .iter()
            .map(|(_, d)| live.iter().position(|t| t.key() == d.key()))
            .collect();
        let weight: Vec<usize> = desired
            .iter()
            .map(|(i, _)| usize::from(rules[*i].action.admits()))
            .collect();
        let keep = in_order(&pos, &weight);
        for (k, (i, want)) in desired.iter().enumerate() {
            let before = (k + 1..desired.len())
                .find(|&m| keep[m])
                .map(|m| desired[m].1.key());
            let st = match pos[k] {
                None => Status::Missing { before },
                Some(j) if !keep[k] => Status::Moved {
                    live: Box::new(live[j].clone()),
                    before,
                },
                Some(j) => compare(&live[j], want),
            };
            self.status[*i][fam.idx()] = Some(st);
        }
        for t in live {
            if keys.contains(&t.key()) {
                continue;
            }
            if t.owned() {
                self.obsolete[fam.idx()].push(t.clone());
            } else {
                self.unmanaged[fam.idx()].push(t.clone());
            }
        }
    }

    /// The declared label of the rule with tuple key `key` in `fam`.
    fn label_of(&self, fam: Family, key: &str) -> String {
        self.labels_by_key[fam.idx()]
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| key.to_string(), |(_, l)| l.clone())
    }
}

/// The plan line and commands of one declared rule, from its status in
/// each family (`sts`; empty: it applies to no family ufw manages here).
fn plan_rule(
    rule: &Rule,
    sts: &[(Family, &Status)],
    fact: &UfwFact,
    both: bool,
    st: &RuleStatus,
    ev: &mut Evaluated,
) {
    if sts.is_empty() {
        // An IPv6 rule while ufw's IPv6 support is off: ufw would refuse it.
        ev.errors.push(if fact.no_kernel_ipv6 {
            format!(
                "rule {} is an IPv6 rule but this host's kernel has no IPv6 \
                 (no /proc/sys/net/ipv6)",
                rule.label()
            )
        } else {
            format!(
                "rule {} is an IPv6 rule but IPv6 is off in ufw \
                 (IPV6=no in /etc/default/ufw; set it to yes, then `ufw reload`)",
                rule.label()
            )
        });
        return;
    }
    if sts.iter().all(|(_, s)| matches!(s, Status::Ok)) {
        return;
    }
    let label = rule.label();
    ev.attrs.push(rule_attr(&label, sts));
    let all_missing = sts.iter().all(|(_, s)| matches!(s, Status::Missing { .. }));
    if !sts.iter().any(|(_, s)| s.inserts()) {
        // Adds (appended) and rewrites: one ufw call for all families.
        let verb = if all_missing { "add" } else { "update" };
        ev.cmds.push(cmd(
            format!("{verb} rule {label}"),
            &format!("keel_ufw {}\n", rule.add_args(None)),
        ));
        return;
    }
    let suffix = |fam: Family| {
        if rule.family().is_none() && both {
            format!(" ({})", fam.name())
        } else {
            String::new()
        }
    };
    for &(fam, status) in sts {
        let args = rule.add_args(Some(fam));
        match status {
            Status::Ok => {}
            Status::Rewrite { .. } => ev.cmds.push(cmd(
                format!("update rule {label}{}", suffix(fam)),
                &format!("keel_ufw {args}\n"),
            )),
            Status::Missing { before } => {
                let summary = match before {
                    Some(k) => format!(
                        "insert rule {label}{} before {}",
                        suffix(fam),
                        st.label_of(fam, k)
                    ),
                    None => format!("add rule {label}{}", suffix(fam)),
                };
                ev.cmds
                    .push(cmd(summary, &insert_script(fam, before.as_deref(), &args)));
            }
            Status::Moved { live, before } => {
                let mut body = format!("keel_ufw --force {}\n", live.delete_args(false));
                body.push_str(&insert_script(fam, before.as_deref(), &args));
                ev.cmds.push(cmd(
                    format!("move rule {label}{} into declared order", suffix(fam)),
                    &body,
                ));
            }
        }
    }
}

/// Keel's rules no longer declared: deleted after the adds.
fn delete_obsolete(obsolete: [Vec<Tuple>; 2], fact: &UfwFact, ev: &mut Evaluated) {
    let [ob4, ob6] = obsolete;
    for (t, twin) in pair_twins(ob4, ob6) {
        let label = format!("{} ({MARKER})", t.label(fact.ipv6 && twin.is_none()));
        ev.attrs.push(AttrChange::new(
            &format!("rule {label}"),
            Some("present"),
            Some("removed"),
        ));
        ev.cmds.push(cmd(
            format!("delete rule {label}"),
            &format!("keel_ufw --force {}\n", t.delete_args(twin.is_some())),
        ));
    }
}

/// Rules keel did not add: kept, and reported as drift.
fn report_unmanaged(unmanaged: [Vec<Tuple>; 2], fact: &UfwFact, ev: &mut Evaluated) {
    let [un4, un6] = unmanaged;
    let kept: Vec<String> = pair_twins(un4, un6)
        .into_iter()
        .map(|(t, twin)| {
            let mut l = t.label(fact.ipv6 && twin.is_none());
            if !t.comment.is_empty() {
                let _ = write!(l, " (comment: {})", t.comment.escape_debug());
            }
            l
        })
        .collect();
    ev.unmanaged.extend(kept.iter().cloned());
    if !kept.is_empty() {
        ev.notes.push(format!(
            "unmanaged rule{} kept: {}",
            if kept.len() == 1 { "" } else { "s" },
            kept.join("; ")
        ));
    }
}

/// Compare a live rule with the declared one of the same match.
fn compare(live: &Tuple, want: &Tuple) -> Status {
    let mut before = Vec::new();
    let mut after = Vec::new();
    if !live.owned() {
        before.push(if live.comment.is_empty() {
            "not managed by keel".to_string()
        } else {
            format!(
                "not managed by keel (comment: {})",
                live.comment.escape_debug()
            )
        });
        after.push("managed by keel".to_string());
    }
    if live.action != want.action || live.logtype != LogType::None {
        before.push(live.action_label());
        after.push(want.action.as_str().to_string());
    }
    if live.owned() && live.comment != want.comment {
        before.push(format!("comment {:?}", live.comment));
        after.push(format!("comment {:?}", want.comment));
    }
    if before.is_empty() {
        Status::Ok
    } else {
        Status::Rewrite {
            before: before.join(", "),
            after: after.join(", "),
        }
    }
}

/// The plan line of a declared rule that is not as declared everywhere.
fn rule_attr(label: &str, sts: &[(Family, &Status)]) -> AttrChange {
    let name = format!("rule {label}");
    let fam_list = |pred: &dyn Fn(&Status) -> bool| -> Vec<&'static str> {
        sts.iter()
            .filter(|(_, s)| pred(s))
            .map(|(f, _)| f.name())
            .collect()
    };
    let missing = fam_list(&|s| matches!(s, Status::Missing { .. }));
    if missing.len() == sts.len() {
        return AttrChange::new(&name, None::<String>, Some("added"));
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    if !missing.is_empty() {
        let present = fam_list(&|s| !matches!(s, Status::Missing { .. }));
        before.push(format!("present for {} only", present.join(" and ")));
        after.push(format!("added for {}", missing.join(" and ")));
    }
    let moved = fam_list(&|s| matches!(s, Status::Moved { .. }));
    if !moved.is_empty() {
        let which = if moved.len() == sts.len() {
            String::new()
        } else {
            format!(" ({})", moved.join(", "))
        };
        before.push(format!("out of declared order{which}"));
        after.push("re-created in declared order".to_string());
    }
    for (_, s) in sts {
        if let Status::Rewrite {
            before: b,
            after: a,
        } = s
            && !before.contains(b)
        {
            before.push(b.clone());
            after.push(a.clone());
        }
    }
    AttrChange::new(&name, Some(before.join("; ")), Some(after.join("; ")))
}

impl Kind for Ufw {
    const KIND: &'static str = "ufw";
    type Fact = UfwFact;

    fn name(&self) -> String {
        "firewall".into()
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let rules = self.desired_rules();
        // ufw keeps one rule per match: two declared rules with the same one
        // would overwrite each other on every run.
        'outer: for (j, b) in rules.iter().enumerate() {
            for (i, a) in rules[..j].iter().enumerate() {
                let same = [Family::V4, Family::V6].iter().any(|&f| {
                    a.applies_to(f) && b.applies_to(f) && a.tuple(f).key() == b.tuple(f).key()
                });
                if same {
                    errs.push(
                        Invalid::field(
                            "rules",
                            format!(
                                "rule {} (`{}`) matches the same traffic as rule {} (`{}`): \
                                 ufw keeps one rule per port, protocol, addresses, interface and direction",
                                j + 1,
                                b.label(),
                                i + 1,
                                a.label()
                            ),
                        )
                        .help("keep one of them (the first matching rule decides anyway)"),
                    );
                    continue 'outer;
                }
            }
        }
        errs
    }

    fn links(&self) -> Links {
        Links {
            // sshd changes come after the firewall's: a new SSH port is
            // allowed before sshd moves to it.
            provides: vec![Ref::Service("firewall".into())],
            needs: vec![Ref::Package("ufw".into())],
        }
    }

    /// UFW's files (rules, defaults, on/off): firewall changes can cut
    /// keel's access, so apply runs them under commit-confirmed.
    fn touches(&self) -> Touches {
        Touches::default().path("/etc/ufw").path("/etc/default/ufw")
    }

    fn probe(&self) -> String {
        Script::new(include_str!("ufw/probe.sh"))
            .set("keel_rules4", RULES4)
            .set("keel_rules6", RULES6)
            .render()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<UfwFact, FactError> {
        out.check("reading ufw's state")?;
        let mut fact = UfwFact::default();
        let mut seen = false;
        for line in out.stdout.lines() {
            let line = line.trim_end();
            if let Some(t) = line.strip_prefix("v4 ") {
                match Tuple::parse(t, false) {
                    Some(t) => fact.v4.push(t),
                    None => fact.malformed.push(t.to_string()),
                }
                continue;
            }
            if let Some(t) = line.strip_prefix("v6 ") {
                match Tuple::parse(t, true) {
                    Some(t) => fact.v6.push(t),
                    None => fact.malformed.push(t.to_string()),
                }
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = unquote(v);
            match k {
                "installed" => {
                    seen = true;
                    fact.installed = v == "yes";
                }
                "conf.ENABLED" => fact.enabled = v.eq_ignore_ascii_case("yes"),
                "conf.LOGLEVEL" => fact.loglevel = Some(v.to_lowercase()),
                "default.IPV6" => fact.ipv6 = v.eq_ignore_ascii_case("yes"),
                "kernel.ipv6" => fact.no_kernel_ipv6 = v == "no",
                "default.DEFAULT_INPUT_POLICY" => fact.policies[0] = Some(v.to_uppercase()),
                "default.DEFAULT_OUTPUT_POLICY" => fact.policies[1] = Some(v.to_uppercase()),
                "default.DEFAULT_FORWARD_POLICY" => fact.policies[2] = Some(v.to_uppercase()),
                "loaded" => {
                    fact.loaded = match v {
                        "yes" => Some(true),
                        "no" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        if fact.no_kernel_ipv6 {
            fact.ipv6 = false;
        }
        if !seen {
            return Err(FactError::Unexpected(format!(
                "unexpected output from the ufw probe: {:?}",
                out.stdout.trim()
            )));
        }
        Ok(fact)
    }

    fn plan(&self, fact: &UfwFact) -> Planned {
        let ev = self.evaluate(fact);
        let commands = ev.cmds.clone();
        let diff = self.diff(fact, ev);
        if diff.action().is_change() {
            Planned::new(diff, commands)
        } else {
            Planned::only(diff)
        }
    }
}

impl Ufw {
    /// The diff of an evaluation: its action, and a reason that says the
    /// firewall's state when nothing changes.
    fn diff(&self, fact: &UfwFact, ev: Evaluated) -> Diff {
        let mut d = Diff {
            attrs: ev.attrs,
            unmanaged: ev.unmanaged,
            ..Diff::default()
        };
        let mut notes = ev.notes;
        if !fact.installed {
            d.action = Some(Action::Create);
            d.unknown = Some("ufw is not installed yet".into());
        } else if d.attrs.is_empty() {
            d.action = Some(Action::NoOp);
            let mut now = vec![if fact.enabled { "active" } else { "inactive" }.to_string()];
            if self.rules.is_some() {
                let n = self.desired_rules().len();
                now.push(format!(
                    "{n} keel rule{} in place",
                    if n == 1 { "" } else { "s" }
                ));
            }
            notes.insert(0, now.join(", "));
        } else {
            d.action = Some(Action::Update);
        }
        if !notes.is_empty() {
            d.reason = Some(notes.join("; "));
        }
        if !ev.errors.is_empty() {
            d.error = Some(ev.errors.join("; "));
            if d.action() == Action::NoOp {
                d.action = Some(Action::Update);
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax;
    use crate::resources::testing::{eval, load, run_local, try_load};

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

    fn summaries(e: &Evaluation) -> Vec<String> {
        e.commands.iter().map(|c| c.summary.clone()).collect()
    }

    /// The commands' own lines (what follows the shared prelude).
    fn bodies(e: &Evaluation) -> Vec<String> {
        e.commands
            .iter()
            .map(|c| {
                c.script
                    .strip_prefix(prelude().as_str())
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// Probe output for an installed ufw with these tuples (`v4 ...`/`v6 ...`
    /// lines whose `#c=TEXT` suffix becomes a hex comment).
    fn live(enabled: bool, tuples: &[&str]) -> String {
        let mut s = format!(
            "installed=yes\nconf.ENABLED={}\nconf.LOGLEVEL=low\ndefault.IPV6=yes\n\
             default.DEFAULT_INPUT_POLICY=\"DROP\"\ndefault.DEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n\
             default.DEFAULT_FORWARD_POLICY=\"DROP\"\ndefault.DEFAULT_APPLICATION_POLICY=\"SKIP\"\n",
            if enabled { "yes" } else { "no" }
        );
        for t in tuples {
            match t.split_once(" #c=") {
                Some((t, c)) => {
                    let _ = writeln!(s, "{t} comment={}", hex(c));
                }
                None => {
                    let _ = writeln!(s, "{t}");
                }
            }
        }
        let _ = writeln!(s, "loaded={}", if enabled { "yes" } else { "no" });
        s
    }

    /// Both halves of a `from any to any` inbound rule.
    fn both(action: &str, proto: &str, port: &str, comment: Option<&str>) -> [String; 2] {
        let c = comment.map(|c| format!(" #c={c}")).unwrap_or_default();
        [
            format!("v4 {action} {proto} {port} 0.0.0.0/0 any 0.0.0.0/0 in{c}"),
            format!("v6 {action} {proto} {port} ::/0 any ::/0 in{c}"),
        ]
    }

    fn lines(groups: &[[String; 2]]) -> Vec<String> {
        // ufw's order: all IPv4 rules, then all IPv6 rules.
        let mut v: Vec<String> = groups.iter().map(|g| g[0].clone()).collect();
        v.extend(groups.iter().map(|g| g[1].clone()));
        v
    }

    fn live_of(enabled: bool, groups: &[[String; 2]]) -> String {
        let l = lines(groups);
        live(enabled, &l.iter().map(String::as_str).collect::<Vec<_>>())
    }

    const G24: &str = "
defaults: { incoming: deny, outgoing: allow }
logging: low
enabled: true
rules:
  - { allow: 22/tcp, comment: ssh }
  - { allow: 2222/tcp }
  - { allow: 80/tcp }
  - { allow: 443/tcp }
";

    fn g24_live(enabled: bool) -> String {
        live_of(
            enabled,
            &[
                both("allow", "tcp", "22", Some("keel: ssh")),
                both("allow", "tcp", "2222", Some("keel")),
                both("allow", "tcp", "80", Some("keel")),
                both("allow", "tcp", "443", Some("keel")),
            ],
        )
    }

    #[test]
    fn not_installed_plans_everything_known_after_apply() {
        let e = eval("ufw", G24, "installed=no\n");
        assert_eq!(e.diff.action(), Action::Create);
        assert_eq!(e.diff.unknown.as_deref(), Some("ufw is not installed yet"));
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("rule allow 22/tcp", None, Some("added")),
                a("rule allow 2222/tcp", None, Some("added")),
                a("rule allow 80/tcp", None, Some("added")),
                a("rule allow 443/tcp", None, Some("added")),
                a("default incoming", None, Some("deny")),
                a("default outgoing", None, Some("allow")),
                a("logging", None, Some("low")),
                a("enabled", Some("false"), Some("true")),
            ]
        );
        assert_eq!(
            summaries(&e),
            vec![
                "add rule allow 22/tcp",
                "add rule allow 2222/tcp",
                "add rule allow 80/tcp",
                "add rule allow 443/tcp",
                "default deny incoming",
                "default allow outgoing",
                "logging low",
                "enable ufw",
            ]
        );
        assert_eq!(
            bodies(&e),
            vec![
                "keel_ufw allow in proto tcp from any to any port 22 comment 'keel: ssh'\n",
                "keel_ufw allow in proto tcp from any to any port 2222 comment keel\n",
                "keel_ufw allow in proto tcp from any to any port 80 comment keel\n",
                "keel_ufw allow in proto tcp from any to any port 443 comment keel\n",
                "keel_ufw default deny incoming\n",
                "keel_ufw default allow outgoing\n",
                "keel_ufw logging low\n",
                "keel_ufw --force enable\n",
            ]
        );
        for c in &e.commands {
            assert_sh_syntax(&c.script);
        }
        let r = load("ufw", G24);
        assert_eq!(r.name(), "firewall");
        assert_eq!(
            r.links(),
            Links {
                provides: vec![Ref::Service("firewall".into())],
                needs: vec![Ref::Package("ufw".into())]
            }
        );
    }

    #[test]
    fn fresh_package_adds_rules_before_defaults_and_enable() {
        // ufw just installed: defaults are Debian's (deny in, allow out),
        // firewall off, no rules.
        let e = eval("ufw", G24, &live(false, &[]));
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.unknown, None);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("rule allow 22/tcp", None, Some("added")),
                a("rule allow 2222/tcp", None, Some("added")),
                a("rule allow 80/tcp", None, Some("added")),
                a("rule allow 443/tcp", None, Some("added")),
                a("enabled", Some("false"), Some("true")),
            ]
        );
        let s = summaries(&e);
        assert_eq!(s.first().unwrap(), "add rule allow 22/tcp");
        assert_eq!(s.last().unwrap(), "enable ufw", "enabled last: {s:?}");
    }

    #[test]
    fn converged_is_noop() {
        let e = eval("ufw", G24, &g24_live(true));
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
        assert_eq!(
            e.diff.reason.as_deref(),
            Some("active, 4 keel rules in place")
        );
    }

    #[test]
    fn unmanaged_rules_are_kept_and_listed_not_drift() {
        let mut groups = vec![
            both("allow", "tcp", "22", Some("keel: ssh")),
            both("allow", "tcp", "2222", Some("keel")),
            both("allow", "tcp", "80", Some("keel")),
            both("allow", "tcp", "443", Some("keel")),
        ];
        groups.insert(2, both("allow", "tcp", "8080", None));
        let mut l = lines(&groups);
        l.push("v4 deny any any 0.0.0.0/0 any 203.0.113.9 in".into());
        l.push("v4 allow tcp 9000 0.0.0.0/0 any 0.0.0.0/0 in #c=made by hand".into());
        let out = live(true, &l.iter().map(String::as_str).collect::<Vec<_>>());
        let e = eval("ufw", G24, &out);
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
        assert_eq!(
            e.diff.reason.as_deref(),
            Some(
                "active, 4 keel rules in place; unmanaged rules kept: allow 8080/tcp; \
                 deny any from 203.0.113.9; allow 9000/tcp (IPv4) (comment: made by hand)"
            )
        );
    }

    #[test]
    fn a_keel_rule_removed_by_hand_is_inserted_back_in_place() {
        let out = live_of(
            true,
            &[
                both("allow", "tcp", "22", Some("keel: ssh")),
                both("allow", "tcp", "2222", Some("keel")),
                both("allow", "tcp", "443", Some("keel")),
            ],
        );
        let e = eval("ufw", G24, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![a("rule allow 80/tcp", None, Some("added"))]
        );
        assert_eq!(
            summaries(&e),
            vec![
                "insert rule allow 80/tcp (IPv4) before allow 443/tcp",
                "insert rule allow 80/tcp (IPv6) before allow 443/tcp",
            ]
        );
        let b = bodies(&e);
        assert!(b[0].starts_with(
            "keel_pos=$(keel_ufw_pos /etc/ufw/user.rules 'tcp 443 0.0.0.0/0 any 0.0.0.0/0 in')\n"
        ), "{}", b[0]);
        assert!(
            b[0].contains("keel_ufw insert \"$keel_pos\" allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 80 comment keel\n"),
            "{}",
            b[0]
        );
        assert!(
            b[1].contains("keel_ufw insert \"$(( $(keel_ufw_count /etc/ufw/user.rules) + keel_pos ))\" allow in proto tcp from ::/0 to ::/0 port 80 comment keel\n"),
            "{}",
            b[1]
        );
        for c in &e.commands {
            assert_sh_syntax(&c.script);
        }
    }

    #[test]
    fn last_rule_missing_is_appended_for_both_families_at_once() {
        let out = live_of(
            true,
            &[
                both("allow", "tcp", "22", Some("keel: ssh")),
                both("allow", "tcp", "2222", Some("keel")),
                both("allow", "tcp", "80", Some("keel")),
            ],
        );
        let e = eval("ufw", G24, &out);
        assert_eq!(summaries(&e), vec!["add rule allow 443/tcp"]);
        assert_eq!(
            bodies(&e),
            vec!["keel_ufw allow in proto tcp from any to any port 443 comment keel\n"]
        );
    }

    #[test]
    fn one_family_missing_is_named() {
        let mut l = lines(&[
            both("allow", "tcp", "22", Some("keel: ssh")),
            both("allow", "tcp", "2222", Some("keel")),
            both("allow", "tcp", "80", Some("keel")),
            both("allow", "tcp", "443", Some("keel")),
        ]);
        l.retain(|x| !x.starts_with("v6 allow tcp 443 "));
        let e = eval(
            "ufw",
            G24,
            &live(true, &l.iter().map(String::as_str).collect::<Vec<_>>()),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "rule allow 443/tcp",
                Some("present for IPv4 only"),
                Some("added for IPv6")
            )]
        );
        assert_eq!(summaries(&e), vec!["update rule allow 443/tcp"]);
    }

    #[test]
    fn removed_from_the_stack_deletes_only_keel_rules() {
        let yaml = "rules:\n  - { allow: 22/tcp, comment: ssh }\n  - { allow: 80/tcp }\n  - { allow: 443/tcp }\n";
        let mut groups = vec![
            both("allow", "tcp", "22", Some("keel: ssh")),
            both("allow", "tcp", "2222", Some("keel")),
            both("allow", "tcp", "80", Some("keel")),
            both("allow", "tcp", "443", Some("keel")),
        ];
        groups.push(both("allow", "tcp", "8080", None));
        let mut l = lines(&groups);
        l.push("v4 deny any 3306 0.0.0.0/0 any 10.0.0.0/8 in #c=keel".into());
        let e = eval(
            "ufw",
            yaml,
            &live(true, &l.iter().map(String::as_str).collect::<Vec<_>>()),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a(
                    "rule allow 2222/tcp (keel)",
                    Some("present"),
                    Some("removed")
                ),
                a(
                    "rule deny 3306 from 10.0.0.0/8 (keel)",
                    Some("present"),
                    Some("removed")
                ),
            ]
        );
        assert_eq!(
            bodies(&e),
            vec![
                "keel_ufw --force delete allow in proto tcp from any to any port 2222\n",
                "keel_ufw --force delete deny in from 10.0.0.0/8 to 0.0.0.0/0 port 3306\n",
            ]
        );
        assert!(
            e.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("unmanaged rule kept: allow 8080/tcp")
        );
        assert_eq!(
            e.diff.unmanaged,
            ["allow 8080/tcp"],
            "kept rules are data, not only prose"
        );
    }

    #[test]
    fn all_rules_removed_with_empty_list_but_not_when_rules_undeclared() {
        let out = g24_live(true);
        let e = eval("ufw", "rules: []", &out);
        assert_eq!(e.commands.len(), 4);
        let e = eval("ufw", "enabled: true", &out);
        assert_eq!(e.diff.action(), Action::NoOp);
        assert_eq!(e.diff.reason.as_deref(), Some("active"));
    }

    #[test]
    fn action_and_comment_changes_rewrite_in_place() {
        let yaml =
            "rules:\n  - { deny: 80/tcp, comment: web }\n  - { allow: 443/tcp, comment: tls }\n";
        let out = live_of(
            true,
            &[
                both("allow", "tcp", "80", Some("keel: web")),
                both("allow", "tcp", "443", Some("keel")),
            ],
        );
        let e = eval("ufw", yaml, &out);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("rule deny 80/tcp", Some("allow"), Some("deny")),
                a(
                    "rule allow 443/tcp",
                    Some("comment \"keel\""),
                    Some("comment \"keel: tls\"")
                ),
            ]
        );
        assert_eq!(
            bodies(&e),
            vec![
                "keel_ufw deny in proto tcp from any to any port 80 comment 'keel: web'\n",
                "keel_ufw allow in proto tcp from any to any port 443 comment 'keel: tls'\n",
            ]
        );
    }

    #[test]
    fn an_unmanaged_rule_that_is_declared_is_adopted() {
        let yaml = "rules:\n  - { allow: 80/tcp }\n";
        let out = live_of(true, &[both("allow_log", "tcp", "80", Some("web"))]);
        let e = eval("ufw", yaml, &out);
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "rule allow 80/tcp",
                Some("not managed by keel (comment: web), allow log"),
                Some("managed by keel, allow")
            )]
        );
        assert_eq!(summaries(&e), vec!["update rule allow 80/tcp"]);
    }

    #[test]
    fn out_of_order_keel_rules_are_recreated_in_order() {
        // Declared: deny from a network first, then allow the port; live has
        // them the other way round (the deny would never match).
        let yaml = "rules:\n  - { deny: 5432/tcp, from: 10.9.0.0/16 }\n  - { allow: 5432/tcp }\n";
        let mut l = lines(&[both("allow", "tcp", "5432", Some("keel"))]);
        l.insert(
            1,
            "v4 deny tcp 5432 0.0.0.0/0 any 10.9.0.0/16 in #c=keel".into(),
        );
        let e = eval(
            "ufw",
            yaml,
            &live(true, &l.iter().map(String::as_str).collect::<Vec<_>>()),
        );
        assert_eq!(
            attrs(&e.diff),
            vec![a(
                "rule deny 5432/tcp from 10.9.0.0/16",
                Some("out of declared order"),
                Some("re-created in declared order")
            )]
        );
        assert_eq!(
            summaries(&e),
            vec!["move rule deny 5432/tcp from 10.9.0.0/16 into declared order"]
        );
        let b = &bodies(&e)[0];
        assert!(
            b.starts_with("keel_ufw --force delete deny in proto tcp from 10.9.0.0/16 to 0.0.0.0/0 port 5432\nkeel_pos=$(keel_ufw_pos /etc/ufw/user.rules 'tcp 5432 0.0.0.0/0 any 0.0.0.0/0 in')\n"),
            "{b}"
        );
        assert!(
            b.contains("keel_ufw insert \"$keel_pos\" deny in proto tcp from 10.9.0.0/16 to any port 5432 comment keel\n"),
            "{b}"
        );
    }

    #[test]
    fn in_order_keeps_a_longest_run() {
        let p = |v: &[Option<usize>]| in_order(v, &vec![0; v.len()]);
        assert_eq!(p(&[Some(0), Some(1), Some(2)]), vec![true, true, true]);
        assert_eq!(p(&[Some(1), Some(0)]), vec![true, false]);
        // Same length: the weighted (allow) rule stays.
        assert_eq!(in_order(&[Some(1), Some(0)], &[0, 1]), vec![false, true]);
        assert_eq!(
            in_order(&[Some(3), Some(0), Some(1), Some(2)], &[1, 0, 0, 0]),
            vec![false, true, true, true],
            "longer wins over heavier"
        );
        assert_eq!(
            p(&[Some(2), None, Some(0), Some(1)]),
            vec![false, false, true, true]
        );
        assert_eq!(p(&[None, None]), vec![false, false]);
        assert_eq!(p(&[]), Vec::<bool>::new());
    }

    #[test]
    fn defaults_logging_and_enabled_drift() {
        let out = live(false, &[])
            .replace(
                "\"DROP\"\ndefault.DEFAULT_OUTPUT",
                "\"ACCEPT\"\ndefault.DEFAULT_OUTPUT",
            )
            .replace("LOGLEVEL=low", "LOGLEVEL=off");
        let yaml = "{defaults: {incoming: deny, routed: reject}, logging: medium, enabled: true}";
        let e = eval("ufw", yaml, &out);
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("default incoming", Some("allow"), Some("deny")),
                a("default routed", Some("deny"), Some("reject")),
                a("logging", Some("off"), Some("medium")),
                a("enabled", Some("false"), Some("true")),
            ]
        );
        assert_eq!(
            summaries(&e),
            vec![
                "default deny incoming",
                "default reject routed",
                "logging medium",
                "enable ufw"
            ]
        );
        // Enabled in ufw.conf but the chains are not loaded: enable again.
        let out = g24_live(true).replace("loaded=yes", "loaded=no");
        let e = eval("ufw", G24, &out);
        assert_eq!(
            attrs(&e.diff),
            vec![a("enabled", Some("true (rules not loaded)"), Some("true"))]
        );
        // Cannot tell (no iptables): trust ufw.conf.
        let out = g24_live(true).replace("loaded=yes", "loaded=unknown");
        assert_eq!(eval("ufw", G24, &out).diff.action(), Action::NoOp);
    }

    #[test]
    fn disabling_comes_first() {
        let yaml = "{enabled: false, rules: [{allow: 22/tcp}]}";
        let e = eval("ufw", yaml, &live(true, &[]));
        assert_eq!(
            attrs(&e.diff),
            vec![
                a("enabled", Some("true"), Some("false")),
                a("rule allow 22/tcp", None, Some("added")),
            ]
        );
        assert_eq!(summaries(&e), vec!["disable ufw", "add rule allow 22/tcp"]);
        assert_eq!(bodies(&e)[0], "keel_ufw --force disable\n");
        let e = eval("ufw", "enabled: false", &live(false, &[]));
        assert_eq!(e.diff.action(), Action::NoOp);
    }

    #[test]
    fn full_rule_syntax() {
        let yaml = r#"
rules:
  - { deny: 3306, from: 10.0.0.0/8 }
  - { allow: 8000:8100/tcp, from: 192.168.1.7/24, to: any, interface: eth0, direction: in }
  - { reject: 25/tcp, direction: out }
  - { limit: 22/tcp }
  - { allow: 53/udp, to: "2001:DB8::1/128", direction: out, interface: wg0 }
  - { allow: any, from: 203.0.113.5 }
"#;
        let e = eval("ufw", yaml, "installed=no\n");
        assert_eq!(
            attrs(&e.diff).into_iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![
                "rule deny 3306 from 10.0.0.0/8",
                "rule allow 8000:8100/tcp from 192.168.1.0/24 on eth0",
                "rule reject out 25/tcp",
                "rule limit 22/tcp",
                "rule allow out 53/udp to 2001:db8::1 on wg0",
                "rule allow any from 203.0.113.5",
            ]
        );
        assert_eq!(
            bodies(&e),
            vec![
                "keel_ufw deny in from 10.0.0.0/8 to any port 3306 comment keel\n",
                "keel_ufw allow in on eth0 proto tcp from 192.168.1.0/24 to any port 8000:8100 comment keel\n",
                "keel_ufw reject out proto tcp from any to any port 25 comment keel\n",
                "keel_ufw limit in proto tcp from any to any port 22 comment keel\n",
                "keel_ufw allow out on wg0 proto udp from any to 2001:db8::1 port 53 comment keel\n",
                "keel_ufw allow in from 203.0.113.5 to any comment keel\n",
            ]
        );
        // Exactly the tuples ufw 0.36 writes for those commands (checked on
        // Debian 12): converged, nothing to do.
        let out = live(
            true,
            &[
                "v4 deny any 3306 0.0.0.0/0 any 10.0.0.0/8 in #c=keel",
                "v4 allow tcp 8000:8100 0.0.0.0/0 any 192.168.1.0/24 in_eth0 #c=keel",
                "v4 reject tcp 25 0.0.0.0/0 any 0.0.0.0/0 out #c=keel",
                "v4 limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in #c=keel",
                "v4 allow any any 0.0.0.0/0 any 203.0.113.5 in #c=keel",
                "v6 reject tcp 25 ::/0 any ::/0 out #c=keel",
                "v6 limit tcp 22 ::/0 any ::/0 in #c=keel",
                "v6 allow udp 53 2001:db8::1 any ::/0 out_wg0 #c=keel",
            ],
        );
        let e = eval("ufw", yaml, &out);
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    }

    #[test]
    fn ipv6_off_in_ufw() {
        let yaml =
            "rules:\n  - { allow: 22/tcp }\n  - { allow: 80/tcp, from: \"2001:db8::/32\" }\n";
        let out = live(
            true,
            &["v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in #c=keel"],
        )
        .replace("IPV6=yes", "IPV6=no");
        let e = eval("ufw", yaml, &out);
        assert!(e.diff.attrs.is_empty());
        assert_eq!(
            e.diff.error.as_deref(),
            Some(
                "rule allow 80/tcp from 2001:db8::/32 is an IPv6 rule but IPv6 is off in ufw \
                 (IPV6=no in /etc/default/ufw; set it to yes, then `ufw reload`)"
            )
        );
    }

    #[test]
    fn no_ipv6_in_the_kernel() {
        // ufw ignores IPV6=yes then: only IPv4 rules are expected.
        let out = live(
            true,
            &["v4 allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in #c=keel"],
        )
        .replace("loaded=yes", "kernel.ipv6=no\nloaded=yes");
        let e = eval("ufw", "rules: [{allow: 22/tcp}]", &out);
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        let e = eval("ufw", "rules: [{allow: 22/tcp, from: \"fd00::/8\"}]", &out);
        assert!(e.diff.error.unwrap().contains("kernel has no IPv6"));
    }

    #[test]
    fn parse_odd_output() {
        let r = load("ufw", G24);
        // Malformed tuples are skipped (as ufw does) and reported.
        let out =
            "installed=yes\nv4 allow tcp\nv4 frobnicate tcp 1 0.0.0.0/0 any 0.0.0.0/0 in\nnoise\n";
        let e = r.evaluate(&ProbeOutput::ok(out)).unwrap();
        assert!(
            e.diff
                .reason
                .unwrap()
                .contains("ufw skips malformed rule lines: allow tcp; frobnicate")
        );
        // Old formats, app rules, route rules and odd comments parse.
        let t = Tuple::parse("allow tcp 22 0.0.0.0/0 any 0.0.0.0/0", false).unwrap();
        assert_eq!(
            t.dir,
            TupleDir::Plain {
                direction: Direction::In,
                interface: None
            }
        );
        let t = Tuple::parse(
            "allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 Nginx%20Full - in comment=6b65656c",
            false,
        )
        .unwrap();
        assert_eq!(t.apps, Some(("Nginx%20Full".into(), "-".into())));
        assert!(!t.owned(), "app rules are never keel's");
        assert_eq!(t.label(false), "allow app Nginx Full");
        let t = Tuple::parse(
            "route:allow_log any any 0.0.0.0/0 any 0.0.0.0/0 in_eth0!out_eth1",
            false,
        )
        .unwrap();
        assert!(t.route && t.logtype == LogType::Log && !t.owned());
        assert_eq!(t.label(false), "route allow log in_eth0!out_eth1 any");
        assert_eq!(t.dir, TupleDir::Other("in_eth0!out_eth1".into()));
        let t = Tuple::parse(
            "allow_log-all tcp 22 0.0.0.0/0 any 0.0.0.0/0 out_eth0",
            false,
        )
        .unwrap();
        assert_eq!(t.logtype, LogType::LogAll);
        assert_eq!(
            t.dir,
            TupleDir::Plain {
                direction: Direction::Out,
                interface: Some("eth0".into())
            }
        );
        assert_eq!(t.key(), "tcp 22 0.0.0.0/0 any 0.0.0.0/0 out_eth0");
        assert!(Tuple::parse("allow_loud tcp 22 0.0.0.0/0 any 0.0.0.0/0 in", false).is_none());
        let t = Tuple::parse(
            "deny tcp 1 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c3a2",
            false,
        )
        .unwrap();
        assert_eq!(t.comment, "keel:", "odd hex digit dropped");
        assert!(t.owned());
        assert!(!is_marker("keeled"));
        assert!(is_marker("keel: x") && is_marker("keel"));
        // Errors.
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        let err = r
            .evaluate(&ProbeOutput {
                stdout: "installed=yes\n".into(),
                stderr: "keel: cannot read /etc/ufw/user.rules: reading ufw's state needs root\n"
                    .into(),
                status: 2,
            })
            .unwrap_err();
        assert!(err.contains("needs root"), "{err}");
    }

    #[test]
    fn validation_errors() {
        let bad = |yaml: &str, want: &str| {
            let err = try_load("ufw", yaml)
                .err()
                .unwrap_or_else(|| panic!("accepted: {yaml}"));
            assert!(err.contains(want), "{yaml}: {err}");
        };
        bad(
            "rules: [{allow: 70000/tcp}]",
            "port 70000 is out of range (1–65535)",
        );
        bad("rules: [{allow: 0}]", "port 0 is out of range");
        bad("rules: [{allow: 80/icmp}]", "must be `tcp` or `udp`");
        bad("rules: [{allow: 100:90/tcp}]", "empty or reversed");
        bad("rules: [{allow: 90:90/tcp}]", "empty or reversed");
        bad("rules: [{allow: 8000:8100}]", "needs a protocol");
        bad("rules: [{allow: ssh}]", "is not a port spec");
        bad("rules: [{allow: 80-90/tcp}]", "is not a port spec");
        bad("rules: [{allow: \"\"}]", "is not a port spec");
        bad(
            "rules: [{allow: 80, from: 10.0.0.300}]",
            "is not an IP address",
        );
        bad("rules: [{allow: 80, from: 10.0.0.0/33}]", "at most 32");
        bad("rules: [{allow: 80, from: \"::/129\"}]", "at most 128");
        bad(
            "rules: [{allow: 80, from: 10.0.0.0/255.0.0.0}]",
            "prefix length",
        );
        bad(
            "rules: [{allow: 80, from: \"10.0.0.1; reboot\"}]",
            "is not an IP address",
        );
        bad(
            "rules: [{allow: 80, from: 10.0.0.1, to: \"::1\"}]",
            "must be of one IP family",
        );
        bad("rules: [{allow: 80, interface: \"eth0:1\"}]", "aliases");
        bad(
            "rules: [{allow: 80, interface: averyveryverylongname}]",
            "at most 15",
        );
        bad(
            "rules: [{allow: 80, interface: \"e th0\"}]",
            "is not an interface name",
        );
        bad(
            "rules: [{allow: 80, interface: \"$(reboot)\"}]",
            "is not an interface name",
        );
        bad(
            "rules: [{allow: 80, interface: comment}]",
            "ufw's rule syntax",
        );
        bad("rules: [{allow: 80, interface: \"-x\"}]", "start with `-`");
        bad("rules: [{allow: 80, direction: sideways}]", "sideways");
        bad(
            "rules: [{allow: 80, comment: \"it's\"}]",
            "does not accept `'`",
        );
        bad("rules: [{allow: 80, comment: \"a\\nb\"}]", "one line");
        bad("rules: [{from: 10.0.0.1}]", "needs one of `allow`");
        bad("rules: [{allow: 80, deny: 80}]", "found `allow` and `deny`");
        bad("rules: [{alow: 80}]", "alow");
        bad("rules: [\"allow 80\"]", "expected a map");
        bad("logging: loud", "loud");
        bad("defaults: {incoming: drop}", "drop");
        bad("defaults: {inbound: deny}", "inbound");
        bad("enabled: maybe", "true or false");
        bad(
            "rules: [{allow: 80/tcp}, {deny: 80/tcp}]",
            "rule 2 (`deny 80/tcp`) matches the same traffic as rule 1 (`allow 80/tcp`)",
        );
        bad(
            "rules: [{allow: 22, from: 10.0.0.0/8}, {allow: 22, from: 10.1.2.3/8}]",
            "matches the same traffic",
        );
        // Fine: same port, other protocol or family or direction.
        for ok in [
            "rules: [{allow: 80/tcp}, {allow: 80/udp}, {allow: 80}]",
            "rules: [{allow: 80, from: 10.0.0.0/8}, {allow: 80, from: \"fd00::/8\"}]",
            "rules: [{allow: 80/tcp}, {allow: 80/tcp, direction: out}]",
            "logging: off",
            "{logging: full, enabled: false, defaults: {routed: allow}}",
            "rules: [{allow: 1}, {allow: 65535/udp}, {allow: any/tcp}, {allow: 1:65535/tcp}]",
            "rules: [{allow: 80, interface: br-lan.10}]",
            "",
        ] {
            try_load("ufw", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn addresses_are_normalized_like_ufw() {
        let n = |s: &str| Addr::parse(s).unwrap().to_string();
        assert_eq!(n("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(n("10.1.2.3/32"), "10.1.2.3");
        assert_eq!(n("0.0.0.0/0"), "0.0.0.0/0");
        assert_eq!(n("ANY"), "any");
        assert_eq!(n("2001:DB8:0:0::1/128"), "2001:db8::1");
        assert_eq!(n("2001:db8::1/64"), "2001:db8::1/64");
        assert!(Addr::parse("010.0.0.1").is_err());
        assert!(Addr::parse("fe80::1%eth0").is_err());
    }

    #[test]
    fn lockout_helpers() {
        let r: Ufw = {
            let node = crate::config::node::Node::parse(G24).unwrap();
            node.deserialize().unwrap()
        };
        assert_eq!(r.desired_rules().len(), 4);
        assert_eq!(r.default_incoming(), Some(Policy::Deny));
        assert_eq!(r.enabled(), Some(true));
        assert!(r.manages_rules());
        assert_eq!(r.admits_inbound(22, Proto::Tcp), Some(true));
        assert_eq!(r.admits_inbound(22, Proto::Udp), None);
        assert_eq!(r.admits_inbound(8080, Proto::Tcp), None);
        let node = crate::config::node::Node::parse(
            "rules: [{deny: 22/tcp, from: 10.0.0.0/8}, {deny: 20:30/tcp}, {allow: 22/tcp}]",
        )
        .unwrap();
        let r: Ufw = node.deserialize().unwrap();
        assert_eq!(r.admits_inbound(22, Proto::Tcp), Some(false));
    }

    #[test]
    fn hostile_values_stay_inert() {
        // Everything that reaches a script is validated and quoted; comments
        // are free text.
        let yaml = r#"rules: [{allow: 80/tcp, comment: "$(touch /tmp/keel-ufw-pwned); `id` \"x\" && rm -rf /"}]"#;
        let e = eval("ufw", yaml, "installed=no\n");
        let body = &bodies(&e)[0];
        assert_eq!(
            body,
            "keel_ufw allow in proto tcp from any to any port 80 comment 'keel: $(touch /tmp/keel-ufw-pwned); `id` \"x\" && rm -rf /'\n"
        );
        // Run the scripts with a fake `ufw` that prints its arguments.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("ufw");
        std::fs::write(
            &fake,
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done; echo\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = format!(
            "PATH={}:$PATH\n{}",
            q(dir.path().to_str().unwrap()),
            e.commands[0].script
        );
        let out = run_local(&script);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "[allow][in][proto][tcp][from][any][to][any][port][80][comment][keel: $(touch /tmp/keel-ufw-pwned); `id` \"x\" && rm -rf /]\n"
        );
        assert!(!std::path::Path::new("/tmp/keel-ufw-pwned").exists());
    }

    #[test]
    fn position_lookup_runs_in_sh() {
        // keel_ufw_pos / keel_ufw_count against real rule files.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("user.rules");
        std::fs::write(
            &f,
            "*filter\n### RULES ###\n\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=6b65656c\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n\n\
             ### tuple ### route:allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n\n\
             ### tuple ### deny tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n\n\
             ### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in_eth0 comment=6b65656c\n### END RULES ###\n",
        )
        .unwrap();
        let f = q(f.to_str().unwrap());
        // The prelude without its "is ufw installed" check.
        let prelude = prelude().replace("if ! command -v ufw", "if false");
        let run = |body: &str| {
            let out = run_local(&format!("{prelude}{body}"));
            assert_eq!(out.status, 0, "{}", out.stderr);
            out.stdout
        };
        assert_eq!(run(&format!("keel_ufw_count {f}\n")), "4\n");
        assert_eq!(
            run(&format!(
                "keel_ufw_pos {f} 'tcp 443 0.0.0.0/0 any 0.0.0.0/0 in'\n"
            )),
            "3\n",
            "the route rule with the same fields is not it"
        );
        assert_eq!(
            run(&format!(
                "keel_ufw_pos {f} 'tcp 80 0.0.0.0/0 any 0.0.0.0/0 in_eth0'\n"
            )),
            "4\n"
        );
        assert_eq!(
            run(&format!(
                "keel_ufw_pos {f} 'tcp 81 0.0.0.0/0 any 0.0.0.0/0 in'\n"
            )),
            ""
        );
        assert_eq!(run("keel_ufw_pos /nonexistent 'x'\necho rc=$?\n"), "rc=0\n");
    }

    #[test]
    fn probe_is_valid_sh_and_reads_only() {
        let r = load("ufw", G24);
        let p = r.probe();
        assert_sh_syntax(&p);
        for verb in [
            "ufw allow",
            "ufw delete",
            "--force",
            "ufw default",
            "ufw logging",
            "ufw enable",
            "ufw disable",
            "iptables -A",
            "iptables -D",
            "iptables -F",
            "rm ",
            "> /etc",
        ] {
            assert!(!p.contains(verb), "the probe must only read: {verb}");
        }
        // Here, ufw is most likely not installed (or not readable): either
        // way the output parses or fails with a clear message.
        let out = run_local(&p);
        match r.evaluate(&out) {
            Ok(e) => assert!(e.diff.action().is_change() || e.diff.reason.is_some()),
            Err(e) => assert!(e.contains("needs root"), "{e}"),
        }
    }
}
