//! The live state: ufw's rule tuples (typed), its switches and policies.

use super::*;

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
    pub(super) fn parse(text: &str) -> Option<LogType> {
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
    pub(super) fn parse(text: &str) -> Option<RuleAction> {
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
    pub(super) fn parse(text: &str) -> TupleDir {
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

pub(super) fn hex_decode(h: &str) -> String {
    // Like ufw: an odd trailing digit is dropped.
    let digits: Vec<u8> = h
        .bytes()
        .filter_map(|c| (c as char).to_digit(16).map(|d| d as u8))
        .collect();
    let bytes: Vec<u8> = digits.chunks_exact(2).map(|p| p[0] << 4 | p[1]).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(super) fn is_marker(comment: &str) -> bool {
    comment == MARKER
        || comment
            .strip_prefix(MARKER)
            .is_some_and(|rest| rest.starts_with(':'))
}

impl Tuple {
    /// Parse the text after `### tuple ###` (as ufw's `_read_rules` does).
    pub(super) fn parse(text: &str, v6: bool) -> Option<Tuple> {
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
    pub(super) fn key(&self) -> String {
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
    pub(super) fn dir_parts(&self) -> Option<(&str, Option<&str>)> {
        match &self.dir {
            TupleDir::Plain {
                direction,
                interface,
            } => Some((direction.as_str(), interface.as_deref())),
            TupleDir::Other(_) => None,
        }
    }

    /// The tuple is about TCP (or any protocol) to `port`.
    fn covers_tcp(&self, port: u16) -> bool {
        if !matches!(self.proto.as_str(), "tcp" | "any") {
            return false;
        }
        self.dport == "any"
            || self.dport.split(',').any(|p| match p.split_once(':') {
                Some((lo, hi)) => {
                    lo.parse::<u16>().is_ok_and(|lo| lo <= port)
                        && hi.parse::<u16>().is_ok_and(|hi| port <= hi)
                }
                None => p.parse::<u16>() == Ok(port),
            })
    }

    /// A rule keel added (and can delete by its spec).
    pub(super) fn owned(&self) -> bool {
        !self.route && self.apps.is_none() && self.dir_parts().is_some() && is_marker(&self.comment)
    }

    pub(super) fn is_anywhere(&self) -> bool {
        let any = if self.v6 { "::/0" } else { "0.0.0.0/0" };
        self.src == any && self.dst == any
    }

    /// The v6 half of the same `from any to any` rule as this v4 tuple.
    pub(super) fn twin_of(&self, v4: &Tuple) -> bool {
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

    pub(super) fn action_label(&self) -> String {
        match self.logtype {
            LogType::None => self.action.as_str().to_string(),
            log => format!("{} {}", self.action.as_str(), log.as_str()),
        }
    }

    /// The rule as the plan names it (keel's syntax); `suffix` tells an
    /// IPv4- or IPv6-only half of a `from any to any` rule.
    pub(super) fn label(&self, suffix: bool) -> String {
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
    pub(super) fn delete_args(&self, both: bool) -> String {
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
    pub(super) fn rules(&self, fam: Family) -> &[Tuple] {
        match fam {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }
    /// Whether, once keel's own rules are deleted (a pruned `ufw`),
    /// incoming TCP on `port` from everywhere is still let in over `fam`:
    /// the firewall is off, or the first rule of that family that is not
    /// keel's and concerns such a connection allows it, or none does and
    /// the incoming policy accepts. Conservative: a deny/reject of the port
    /// from or to any address counts as shutting it; an allow counts only
    /// from and to anywhere, from any port, on every interface. Over IPv6
    /// when ufw does not manage IPv6 (`IPV6=no`, or no IPv6 in the kernel),
    /// keel's IPv6 rules are not in effect, so deleting them changes
    /// nothing: true.
    pub fn admits_without_own_rules(&self, port: u16, fam: Family) -> bool {
        if !self.enabled || (fam == Family::V6 && !self.ipv6) {
            return true;
        }
        for t in self.rules(fam).iter().filter(|t| !t.owned()) {
            // An application profile's rule (`ufw allow OpenSSH`) holds
            // its ports in the tuple, as iptables gets them: it counts.
            if t.route || !t.covers_tcp(port) {
                continue;
            }
            let inbound = |any_iface: bool| {
                matches!(&t.dir, TupleDir::Plain { direction: Direction::In, interface }
                    if any_iface || interface.is_none())
            };
            match t.action {
                RuleAction::Deny | RuleAction::Reject if inbound(true) => return false,
                RuleAction::Allow | RuleAction::Limit
                    if inbound(false) && t.is_anywhere() && t.sport == "any" =>
                {
                    return true;
                }
                _ => {}
            }
        }
        self.policies[0].as_deref().map(unquote) == Some("ACCEPT")
    }

    /// What the plan assumes before ufw is installed: the package's state.
    pub(super) fn fresh() -> UfwFact {
        UfwFact {
            ipv6: true,
            ..UfwFact::default()
        }
    }
}

pub(super) fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v)
}
