//! Planning a certificate: whether a new one is needed and why, then the
//! upkeep of what surrounds it (the deploy hook, certbot's renewal
//! settings and timer, the installed copies), with the commands.

use super::*;

// ---------------------------------------------------------------------------

/// Why a new certificate is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Issue {
    /// Replace a valid certificate (threshold, settings changed).
    pub(super) force: bool,
    /// Only domains were added.
    pub(super) expand: bool,
}

/// What the plan collects on its way: attributes, reasons, commands.
#[derive(Debug)]
pub(super) struct Acc {
    pub(super) action: Action,
    pub(super) attrs: Vec<AttrChange>,
    pub(super) content: Option<ContentChange>,
    pub(super) reasons: Vec<String>,
    pub(super) unknown: Vec<String>,
    pub(super) cmds: Vec<Cmd>,
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
    pub(super) fn attr(
        &mut self,
        name: &str,
        before: Option<impl Into<String>>,
        after: impl Into<String>,
    ) {
        self.attrs
            .push(AttrChange::new(name, before, Some(after.into())));
    }

    pub(super) fn finish(self) -> Diff {
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
    /// `(live, other)`: the certificate at the declared issuer's location
    /// and at the other one.
    pub(super) fn located<'a>(
        &self,
        fact: &'a CertFact,
    ) -> (Option<&'a LiveCert>, Option<&'a LiveCert>) {
        match self.issuer {
            Issuer::Acme => (fact.acme.as_ref(), fact.self_signed.as_ref()),
            Issuer::SelfSigned => (fact.self_signed.as_ref(), fact.acme.as_ref()),
        }
    }

    /// Whether a new certificate is needed, and why (attributes, reasons).
    /// `Err` when the declared threshold can never be met.
    pub(super) fn judge(
        &self,
        fact: &CertFact,
        p: &mut Acc,
    ) -> Result<Option<Issue>, Unsatisfiable> {
        let (live, other) = self.located(fact);
        let Some(cert) = live else {
            self.judge_absent(other.is_some(), p);
            return Ok(Some(Issue::default()));
        };
        let Some(x) = &cert.x509 else {
            return Ok(judge_unreadable(fact, p));
        };
        let mut issue = self.judge_domains(x, p);
        let mut directory_changed = false;
        match self.issuer {
            Issuer::Acme => directory_changed = self.judge_settings(fact, p, &mut issue),
            Issuer::SelfSigned => self.judge_key(cert, x, p, &mut issue),
        }
        self.judge_expiry(fact, x, p, &mut issue, directory_changed)?;
        Ok(issue)
    }

    /// No certificate where the issuer keeps it: a first one, or one from
    /// the other issuer.
    fn judge_absent(&self, at_other_issuer: bool, p: &mut Acc) {
        if at_other_issuer {
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
        p.attr("domains", None::<String>, list(&self.domain_list()));
    }

    /// The certificate's domains against the declared ones (order and
    /// duplicates aside); `expand` when domains were only added.
    fn judge_domains(&self, x: &X509, p: &mut Acc) -> Option<Issue> {
        let want_domains = self.domain_list();
        let mut have: Vec<&String> = x.sans.iter().collect();
        have.sort();
        have.dedup();
        let mut want: Vec<&String> = want_domains.iter().collect();
        want.sort();
        want.dedup();
        if have == want {
            return None;
        }
        p.attr("domains", Some(list(&x.sans)), list(&want_domains));
        Some(Issue {
            force: false,
            expand: have.iter().all(|d| want.contains(d)),
        })
    }

    /// Self-signed: the key type and the key file.
    fn judge_key(&self, cert: &LiveCert, x: &X509, p: &mut Acc, issue: &mut Option<Issue>) {
        let key = self.self_signed().key;
        if let Some(k) = KeyType::from_openssl(&x.key_alg)
            && k != key
        {
            p.attr("key", Some(k.label()), key.label());
            force(issue);
        }
        if cert.key_sha256.is_none() {
            p.attr("key file", None::<String>, "generated");
            force(issue);
        }
    }

    /// The expiry against the threshold; `Err` when a new certificate from
    /// the same CA would be due at once.
    fn judge_expiry(
        &self,
        fact: &CertFact,
        x: &X509,
        p: &mut Acc,
        issue: &mut Option<Issue>,
        directory_changed: bool,
    ) -> Result<(), Unsatisfiable> {
        let threshold = i64::from(self.renew_before_days) * DAY;
        let Some(end) = x.not_after else {
            p.reasons.push("the expiry date cannot be read".into());
            force(issue);
            return Ok(());
        };
        if end - fact.now >= threshold {
            if issue.is_none() {
                p.reasons.push(format!(
                    "issued by {}, expires {}",
                    short_dn(&x.issuer),
                    expiry(end, fact.now)
                ));
            }
            return Ok(());
        }
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
            && !directory_changed
        {
            return Err(Unsatisfiable {
                renew_before_days: self.renew_before_days,
                lifetime: life,
            });
        }
        force(issue);
        Ok(())
    }

    /// ACME: certbot's recorded settings against the declared ones. certbot
    /// records them only when it issues, so a change asks for a new
    /// certificate. Returns whether the directory (the CA) changed.
    pub(super) fn judge_settings(
        &self,
        fact: &CertFact,
        p: &mut Acc,
        issue: &mut Option<Issue>,
    ) -> bool {
        let acme = self.acme();
        let Some(r) = &fact.renewal else {
            p.reasons
                .push("certbot has no renewal settings for this certificate".into());
            p.attr("renewal settings", None::<String>, self.renewal_conf());
            force(issue);
            return false;
        };
        let url = acme.directory.url();
        let directory_changed = r.server.as_deref() != Some(url);
        if directory_changed {
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
        directory_changed
    }

    /// The deploy hook file: written first, since certbot runs it.
    pub(super) fn hook_upkeep(&self, fact: &CertFact, p: &mut Acc) {
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
    pub(super) fn issue(&self, fact: &CertFact, iss: Issue, p: &mut Acc) {
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
                        crate::shell::Script::new(include_str!("certbot_delete.sh"))
                            .set("keel_name", &self.name)
                            .render(),
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
    pub(super) fn upkeep(&self, fact: &CertFact, p: &mut Acc) {
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
    pub(super) fn timer(&self, fact: &CertFact, p: &mut Acc) {
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
    pub(super) fn copies<'a>(
        &'a self,
        fact: &'a CertFact,
    ) -> Vec<(&'static str, &'a str, &'a CopyFact)> {
        let mut v = Vec::new();
        if let Some(c) = self.install_cert() {
            v.push(("cert", c, &fact.copy_cert));
        }
        if let Some(k) = self.install_key() {
            v.push(("key", k, &fact.copy_key));
        }
        v
    }

    pub(super) fn wanted(&self, field: &str) -> Wanted<'_> {
        Wanted {
            mode: Some(if field == "cert" { "0644" } else { "0600" }.into()),
            owner: Some(self.owner()),
            group: self.group(),
        }
    }

    pub(super) fn copy_perms(&self, field: &str) -> String {
        self.wanted(field).describe()
    }
}

/// Mark an issuance as forced (creating it when none was planned).
pub(super) fn force(issue: &mut Option<Issue>) {
    let i = issue.get_or_insert_with(Issue::default);
    i.force = true;
}

/// A plan keel will not carry out: an error of the plan, nothing to run.
pub(super) fn refuse(diff: Diff, why: String) -> Planned {
    let mut d = diff;
    d.action = Some(Action::Update);
    d.error = Some(why);
    Planned::only(d)
}

/// A renewal threshold no certificate of this CA can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "renew_before_days ({renew_before_days}) is not shorter than the lifetime of this CA's certificates ({}): a new certificate would be due at once and every run would ask the CA for another; lower renew_before_days",
    human_duration(*lifetime)
)]
pub(super) struct Unsatisfiable {
    pub(super) renew_before_days: u32,
    pub(super) lifetime: i64,
}

/// The certificate exists but openssl cannot read it (a new one), or
/// openssl is not installed yet (known after apply).
fn judge_unreadable(fact: &CertFact, p: &mut Acc) -> Option<Issue> {
    if fact.openssl {
        p.reasons
            .push("the current certificate cannot be read by openssl".into());
        p.attr("certificate", Some("unreadable"), "new");
        return Some(Issue {
            force: true,
            expand: false,
        });
    }
    p.unknown.push(
        "openssl is not installed yet: the certificate's domains and expiry are read once it is"
            .into(),
    );
    None
}

pub(super) fn list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

pub(super) fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

pub(super) fn human_duration(secs: i64) -> String {
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
pub(super) fn short_dn(dn: &str) -> String {
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
pub(super) fn parse_days(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace();
    let n: i64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("day" | "days" | "d") => Some(n),
        Some("week" | "weeks" | "w") => Some(n * 7),
        _ => None,
    }
}
