//! What the user declares: the firewall's switches and defaults, and the
//! rules with their ports, addresses, interfaces and comments, checked
//! while the YAML is read.

use super::*;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::net::{Ipv4Addr, Ipv6Addr};

pub use crate::resources::common::BadValue;

// ---------------------------------------------------------------------------
// What the user declares.

/// The host firewall, as ufw manages it. Every part is optional; what is not
/// declared is left alone.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
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
    #[schemars(with = "Option<Vec<RawRule>>")]
    pub rules: Option<Vec<Rule>>,
}

/// Default policies (`ufw default POLICY DIRECTION`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(schemars::JsonSchema)]
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
#[derive(schemars::JsonSchema)]
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
    pub(super) fn from_file(v: &str) -> Option<Policy> {
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
#[derive(schemars::JsonSchema)]
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
    pub(super) fn parse(text: &str) -> Result<PortSpec, BadValue> {
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
                return Err(BadValue::from(format!(
                    "`{}`: the protocol must be `tcp` or `udp`, not `{}`",
                    t.escape_debug(),
                    other.escape_debug()
                )));
            }
        };
        let port = |p: &str| -> Result<u16, BadValue> {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(BadValue::from(format!(
                    "`{}` is not a port spec: write a port number (`443`), \
                     a port and protocol (`443/tcp`) or a range (`8000:8100/tcp`)",
                    t.escape_debug()
                )));
            }
            match p.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                _ => Err(BadValue::from(format!(
                    "port {p} is out of range (1–65535)"
                ))),
            }
        };
        let ports = if ports == "any" {
            Ports::Any
        } else if let Some((a, b)) = ports.split_once(':') {
            let (a, b) = (port(a)?, port(b)?);
            if a >= b {
                return Err(BadValue::from(format!(
                    "the range {a}:{b} is empty or reversed (write the lower port first)"
                )));
            }
            if proto.is_none() {
                return Err(BadValue::from(format!(
                    "the range {a}:{b} needs a protocol (ufw requires it): write `{a}:{b}/tcp` or `{a}:{b}/udp`"
                )));
            }
            Ports::Range(a, b)
        } else {
            Ports::One(port(ports)?)
        };
        Ok(PortSpec { ports, proto })
    }

    /// The `DPORT` field of a ufw tuple.
    pub(super) fn dport(&self) -> String {
        match self.ports {
            Ports::Any => "any".into(),
            Ports::One(p) => p.to_string(),
            Ports::Range(a, b) => format!("{a}:{b}"),
        }
    }

    pub(super) fn proto_str(&self) -> &'static str {
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
    pub(super) fn idx(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }
    pub(super) fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
    /// ufw's "anywhere" address in this family.
    pub(super) fn anywhere(self) -> &'static str {
        match self {
            Family::V4 => "0.0.0.0/0",
            Family::V6 => "::/0",
        }
    }
    pub(super) fn file(self) -> &'static str {
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
    pub(super) fn parse(text: &str) -> Result<Addr, BadValue> {
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
                    return Err(BadValue::from(if p.contains('.') {
                        format!(
                            "`{}`: write the netmask as a prefix length (`/24`), not dotted",
                            t.escape_debug()
                        )
                    } else {
                        bad()
                    }));
                }
                (a, Some(p.parse::<u8>().map_err(|_| bad())?))
            }
            None => (t, None),
        };
        if let Ok(a) = addr.parse::<Ipv4Addr>() {
            return match prefix {
                Some(p) if p > 32 => Err(BadValue::from(format!(
                    "`{}`: an IPv4 prefix length is at most 32",
                    t.escape_debug()
                ))),
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
                Some(p) if p > 128 => Err(BadValue::from(format!(
                    "`{}`: an IPv6 prefix length is at most 128",
                    t.escape_debug()
                ))),
                // ufw keeps an IPv6 network's host bits as written.
                None | Some(128) => Ok(Addr::V6(a.to_string())),
                Some(p) => Ok(Addr::V6(format!("{a}/{p}"))),
            };
        }
        Err(BadValue::from(bad()))
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
    pub(super) fn tuple_field(&self, fam: Family) -> &str {
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
#[derive(schemars::JsonSchema)]
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
pub(super) const UFW_WORDS: &[&str] = &[
    "in", "out", "on", "proto", "from", "to", "port", "app", "comment", "log", "log-all", "any",
    "allow", "deny", "reject", "limit", "route", "insert", "delete", "prepend", "rule",
];

/// Check an interface name as ufw does (`set_interface`): 1–15 characters
/// of `[A-Za-z0-9_.+,=%@-]`, no alias (`:`), not `.`/`..`.
pub(super) fn parse_interface(name: &str) -> Result<String, BadValue> {
    let bad = |why: &str| {
        Err(BadValue::from(format!(
            "`{}` is not an interface name: {why}",
            name.escape_debug()
        )))
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

pub(super) fn parse_comment(text: &str) -> Result<String, BadValue> {
    if text.contains('\'') {
        return Err(BadValue::from("ufw does not accept `'` in a rule comment"));
    }
    if text.chars().any(char::is_control) {
        return Err(BadValue::from(
            "a rule comment is one line of text (no newlines or control characters)",
        ));
    }
    if text.chars().count() > 200 {
        return Err(BadValue::from("a rule comment is at most 200 characters"));
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

    pub(super) fn applies_to(&self, fam: Family) -> bool {
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
    pub(super) fn tuple(&self, fam: Family) -> Tuple {
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
    pub(super) fn add_args(&self, only: Option<Family>) -> String {
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
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(default)]
    pub(super) allow: Option<PortSpec>,
    #[serde(default)]
    pub(super) deny: Option<PortSpec>,
    #[serde(default)]
    pub(super) limit: Option<PortSpec>,
    #[serde(default)]
    pub(super) reject: Option<PortSpec>,
    #[serde(default)]
    pub(super) from: Option<Addr>,
    #[serde(default)]
    pub(super) to: Option<Addr>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(super) interface: Option<Interface>,
    #[serde(default)]
    pub(super) direction: Option<Direction>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(super) comment: Option<Comment>,
}

impl RawRule {
    pub(super) fn into_rule(self) -> Result<Rule, BadValue> {
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
                return Err(BadValue::from(
                    "a rule needs one of `allow`, `deny`, `limit` or `reject` with a port, \
                     e.g. `{ allow: 443/tcp }`",
                ));
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|(a, _)| format!("`{}`", a.as_str()))
                    .collect();
                return Err(BadValue::from(format!(
                    "a rule has exactly one of `allow`, `deny`, `limit`, `reject` (found {}): \
                     write one rule per action",
                    names.join(" and ")
                )));
            }
        };
        let from = self.from.unwrap_or(Addr::Any);
        let to = self.to.unwrap_or(Addr::Any);
        if let (Some(a), Some(b)) = (from.family(), to.family())
            && a != b
        {
            return Err(BadValue::from(format!(
                "`from: {from}` is {} but `to: {to}` is {}: a rule's addresses must be of one IP family",
                a.name(),
                b.name()
            )));
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
pub(super) struct Parsed<T>(fn(&str) -> Result<T, BadValue>, &'static str);

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

pub(super) struct Interface(String);

impl<'de> serde::Deserialize<'de> for Interface {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Parsed(
            |s| parse_interface(s).map(Interface),
            "an interface name such as `eth0`",
        ))
    }
}

pub(super) struct Comment(String);

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
