//! Comparing the declared rules with the live ones, family by family, and
//! the commands that close the gap in declared order.

use super::*;
use std::collections::HashSet;

// ---------------------------------------------------------------------------
// Comparing and planning.

/// Where a declared rule stands in one family.
#[derive(Debug, Clone)]
pub(super) enum Status {
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
    pub(super) fn inserts(&self) -> bool {
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
pub(super) fn in_order(pos: &[Option<usize>], weight: &[usize]) -> Vec<bool> {
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
pub(super) fn pair_twins(v4: Vec<Tuple>, v6: Vec<Tuple>) -> Vec<(Tuple, Option<Tuple>)> {
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
pub(super) struct Evaluated {
    pub(super) attrs: Vec<AttrChange>,
    pub(super) cmds: Vec<Cmd>,
    pub(super) notes: Vec<String>,
    /// Rules on the host that keel did not add (kept, reported as drift).
    pub(super) unmanaged: Vec<String>,
    /// Why the declared state cannot be reached (apply runs nothing).
    pub(super) errors: Vec<String>,
}

/// Opens every command: ufw's presence, and the `keel_ufw*` helpers.
pub(super) fn prelude() -> String {
    Script::new(include_str!("prelude.sh")).render()
}

pub(super) fn cmd(summary: String, body: &str) -> Cmd {
    Cmd::new(summary, format!("{}{body}", prelude()))
}

/// Shell lines that insert the rule `args` into `fam`'s list before the
/// rule with tuple key `before` (looked up on the host), or append it.
pub(super) fn insert_script(fam: Family, before: Option<&str>, args: &str) -> String {
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
    pub(super) fn eval_rules(&self, rules: &[Rule], fact: &UfwFact, ev: &mut Evaluated) {
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

    pub(super) fn evaluate(&self, fact: &UfwFact) -> Evaluated {
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
pub(super) struct RuleStatus {
    /// `status[rule][family]`: `None` where the rule does not apply.
    pub(super) status: Vec<[Option<Status>; 2]>,
    /// keel's rules no longer declared, by family.
    pub(super) obsolete: [Vec<Tuple>; 2],
    /// Rules keel did not add, by family.
    pub(super) unmanaged: [Vec<Tuple>; 2],
    /// (tuple key, declared label) of the declared rules, by family.
    pub(super) labels_by_key: [Vec<(String, String)>; 2],
}

impl RuleStatus {
    pub(super) fn new(n: usize) -> Self {
        RuleStatus {
            status: vec![[None, None]; n],
            obsolete: Default::default(),
            unmanaged: Default::default(),
            labels_by_key: Default::default(),
        }
    }

    /// Compare the declared rules that apply to `fam` with its live list.
    pub(super) fn family(&mut self, rules: &[Rule], live: &[Tuple], fam: Family) {
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
    pub(super) fn label_of(&self, fam: Family, key: &str) -> String {
        self.labels_by_key[fam.idx()]
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| key.to_string(), |(_, l)| l.clone())
    }
}

/// The plan line and commands of one declared rule, from its status in
/// each family (`sts`; empty: it applies to no family ufw manages here).
pub(super) fn plan_rule(
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
pub(super) fn delete_obsolete(obsolete: [Vec<Tuple>; 2], fact: &UfwFact, ev: &mut Evaluated) {
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
pub(super) fn report_unmanaged(unmanaged: [Vec<Tuple>; 2], fact: &UfwFact, ev: &mut Evaluated) {
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
pub(super) fn compare(live: &Tuple, want: &Tuple) -> Status {
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
pub(super) fn rule_attr(label: &str, sts: &[(Family, &Status)]) -> AttrChange {
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
