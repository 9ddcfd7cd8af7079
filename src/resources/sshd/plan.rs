//! Planning: each declared setting compared with the effective
//! configuration (or the drop-in file), and the commands that follow.

use super::*;

impl Sshd {
    /// Lines of other files that set `kw` and that sshd reads before the
    /// drop-in (so their value wins for first-value keywords).
    pub(super) fn earlier(
        &self,
        fact: &SshdFact,
        inc: Option<&IncludeAt>,
        kw: &Keyword,
    ) -> Vec<String> {
        let Some(inc) = inc else { return Vec::new() };
        let names = Self::names_of(kw);
        fact.sources
            .iter()
            .filter(|s| names.contains(&s.keyword) && s.file != self.path)
            .filter(|s| s.under_match.is_none())
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
    pub(super) fn elsewhere(&self, fact: &SshdFact, kw: &Keyword) -> Vec<(String, String)> {
        let names = Self::names_of(kw);
        fact.sources
            .iter()
            .filter(|s| names.contains(&s.keyword) && s.file != self.path)
            .filter(|s| s.under_match.is_none())
            .flat_map(|s| {
                split_scalar(kw, &s.value)
                    .into_iter()
                    .map(move |v| (v, format!("{}:{}", s.file, s.line)))
            })
            .collect()
    }

    /// The diff and the commands, computed together so they always agree:
    /// refuse what is at the path, compare setting by setting, then write
    /// the drop-in, refuse a drop-in another file overrides, or do nothing.
    pub(super) fn plan_dropin(&self, fact: &SshdFact) -> Planned {
        if let Some(refused) = self.refuse_path(&fact.dropin) {
            return refused;
        }
        let mut planned = self.plan_settings(fact);
        let matched = self.match_overrides(fact);
        if !matched.is_empty() {
            let warning = format!(
                "warning: {}; keel manages the settings outside `Match` blocks: edit or remove \
                 those lines for the stack's values to hold for every connection",
                matched.join("; ")
            );
            let d = &mut planned.diff;
            d.reason = Some(match d.reason.take() {
                Some(r) => format!("{r}; {warning}"),
                None => warning,
            });
            // Reported as drift by `keel drift`, like a UFW rule added by hand.
            d.unmanaged = matched;
        }
        planned
    }

    /// Declared settings that a `Match` block of another file sets to
    /// another value: the connections it matches get that value, not the
    /// drop-in's (`sshd -T` shows neither: it prints the settings outside
    /// every block).
    fn match_overrides(&self, fact: &SshdFact) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.settings.0 {
            let kw = s.keyword;
            let names = Self::names_of(kw);
            let mine = |src: &&Source| names.contains(&src.keyword) && src.file != self.path;
            let mut seen: Vec<(&str, usize)> = Vec::new();
            for src in fact.sources.iter().filter(mine) {
                let Some((at, criteria)) = &src.under_match else {
                    continue;
                };
                // Within a block, too, sshd keeps the first value.
                if seen.contains(&(src.file.as_str(), *at)) {
                    continue;
                }
                seen.push((src.file.as_str(), *at));
                if same_values(kw, &split_scalar(kw, &src.value), &s.values) {
                    continue;
                }
                out.push(format!(
                    "{} {} at {}:{} is under `Match {criteria}` (line {at}): the connections it \
                     matches get that, not the drop-in's `{}`",
                    kw.name,
                    src.value,
                    src.file,
                    src.line,
                    s.display()
                ));
            }
        }
        out
    }

    /// The settings compared and planned (the drop-in's path is usable).
    fn plan_settings(&self, fact: &SshdFact) -> Planned {
        let host = Host::of(self, fact);
        let cmp = self.compare(fact, &host);
        if host.content_differs || host.add_include == AddInclude::Yes {
            return self.write_plan(fact, &host, cmp);
        }
        if !cmp.overridden.is_empty() {
            return self.overridden_refusal(fact, &host, cmp);
        }
        let mut diff = Diff::noop();
        let mut reasons = cmp.notes;
        reasons.extend(host.unavailable);
        if !reasons.is_empty() {
            diff.reason = Some(reasons.join("; "));
        }
        Planned::only(diff)
    }

    /// Something other than a regular file at the drop-in's path.
    fn refuse_path(&self, dropin: &DropIn) -> Option<Planned> {
        let why = match dropin {
            DropIn::Dir => "is a directory; keel will not replace it".to_string(),
            DropIn::Link(t) => format!(
                "is a symbolic link to `{t}`; keel will not replace it (point `path` at a regular file)"
            ),
            DropIn::Other => {
                "is a special file (device, socket or pipe); keel will not replace it".to_string()
            }
            DropIn::Absent | DropIn::File(_) | DropIn::Unreadable => return None,
        };
        Some(refusal(&self.path, &why))
    }

    /// Every declared setting compared with the effective configuration
    /// (or the drop-in file), then the file's settings no longer declared.
    fn compare<'a>(&'a self, fact: &SshdFact, host: &Host) -> Compared<'a> {
        let mut cmp = Compared::default();
        for s in &self.settings.0 {
            match host.effective_of(s) {
                Some(got) => self.compare_effective(fact, s, got, &mut cmp),
                None => {
                    let kw = s.keyword;
                    let old = host.in_file_of(kw);
                    if old
                        .as_deref()
                        .is_none_or(|o| !same_values(kw, o, &s.values))
                    {
                        cmp.change(kw, old.map(|o| o.join(kw.sep())), Some(s.display()));
                    }
                }
            }
        }
        for (kw, vals) in &host.in_file {
            if !self
                .settings
                .0
                .iter()
                .any(|s| s.keyword.canonical() == kw.canonical())
            {
                cmp.change(kw, Some(vals.join(kw.sep())), None);
            }
        }
        cmp
    }

    /// One setting against what `sshd -T` says is in effect (`got`).
    fn compare_effective<'a>(
        &self,
        fact: &SshdFact,
        s: &'a Setting,
        got: Vec<String>,
        cmp: &mut Compared<'a>,
    ) {
        let kw = s.keyword;
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
            cmp.notes.push(format!(
                "note: {} {} is also in effect (from {})",
                kw.name,
                vals.join(kw.sep()),
                at.join(", ")
            ));
        }
        if ok {
            return;
        }
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
        cmp.change(kw, before, Some(after));
        cmp.overridden.push((s, got));
    }

    /// The drop-in (or the `Include`) must change: the diff, its reasons,
    /// and write, include and reload.
    fn write_plan(&self, fact: &SshdFact, host: &Host, cmp: Compared) -> Planned {
        let path = self.path.as_str();
        let action = if host.current.is_some() || fact.dropin == DropIn::Unreadable {
            Action::Update
        } else {
            Action::Create
        };
        let mut diff = Diff::with_action(action);
        diff.attrs = cmp.attrs;
        if host.content_differs {
            diff.content = Some(ContentChange {
                before: host.current_text.clone(),
                after: host.desired.clone(),
            });
        }
        let mut reasons = Vec::new();
        if host.add_include == AddInclude::Yes {
            reasons.push(format!(
                "{MAIN_CONFIG} does not read {path}: `Include {path}` will be added at its top"
            ));
        }
        reasons.extend(host.unavailable.clone());
        reasons.extend(self.first_value_warnings(fact, host));
        reasons.extend(cmp.notes);
        if !reasons.is_empty() {
            diff.reason = Some(reasons.join("; "));
        }
        if !host.installed {
            diff.unknown = Some(
                "sshd is not installed yet (openssh-server): its effective settings are known after apply"
                    .into(),
            );
        }
        let reload_socket = cmp.listen_changed || (!host.installed && self.sets_listen());
        Planned::new(diff, self.write_commands(host, reload_socket))
    }

    /// Warnings for first-value settings another file sets before the
    /// drop-in.
    fn first_value_warnings(&self, fact: &SshdFact, host: &Host) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.settings.0 {
            if s.keyword.eff != Eff::Value {
                continue;
            }
            let first = self.earlier(fact, host.inc.as_ref(), s.keyword);
            if !first.is_empty() {
                out.push(format!(
                    "warning: {} is also set in {}, which sshd reads first: that value wins ({})",
                    s.keyword.name,
                    first.join(", "),
                    self.move_first_hint(&first, host.inc.as_ref())
                ));
            }
        }
        out
    }

    /// Whether `Port` or `ListenAddress` is declared (the socket unit of
    /// Ubuntu's socket activation takes them).
    fn sets_listen(&self) -> bool {
        self.settings.0.iter().any(|s| is_listen(s.keyword))
    }

    /// Write (validated), add the `Include` when needed, reload.
    fn write_commands(&self, host: &Host, reload_socket: bool) -> Vec<Cmd> {
        let path = self.path.as_str();
        let add = host.add_include;
        let mut cmds = vec![Cmd::new(
            format!("check the new configuration with `sshd -t`, then write {path}"),
            self.write_script(host.desired.as_bytes(), add),
        )];
        if add != AddInclude::No {
            cmds.push(Cmd::new(
                if add == AddInclude::Yes {
                    format!("add `Include {path}` at the top of {MAIN_CONFIG}")
                } else {
                    format!(
                        "add `Include {path}` at the top of {MAIN_CONFIG} if nothing includes it"
                    )
                },
                self.include_script(add),
            ));
        }
        cmds.push(Cmd::new(
            "reload sshd (open sessions stay connected)",
            reload_script(reload_socket),
        ));
        cmds
    }

    /// The drop-in says the right thing but other files win: an error
    /// naming them (apply would report a success sshd does not honour).
    fn overridden_refusal(&self, fact: &SshdFact, host: &Host, cmp: Compared) -> Planned {
        let mut why = Vec::new();
        let mut all_first = Vec::new();
        for (s, got) in &cmp.overridden {
            let first = self.earlier(fact, host.inc.as_ref(), s.keyword);
            all_first.extend(first.iter().cloned());
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
        let hint = self.move_first_hint(&all_first, host.inc.as_ref());
        let why = format!("{} ({hint})", why.join("; "));
        let mut refused = refusal(&self.path, &why);
        refused.diff.attrs = cmp.attrs;
        refused
    }

    /// What to do about the lines in `first` that sshd reads before the
    /// drop-in: a drop-in sorting first cannot come before a line of
    /// `sshd_config` above its `Include`.
    pub(super) fn move_first_hint(&self, first: &[String], inc: Option<&IncludeAt>) -> String {
        let in_main = |f: &String| f.starts_with(&format!("{MAIN_CONFIG}:"));
        let mut hints = Vec::new();
        if first.iter().any(in_main) {
            let above = inc.map_or(String::new(), |i| {
                format!(" above its `Include` (line {})", i.line)
            });
            hints.push(format!(
                "remove or comment out that line of {MAIN_CONFIG}: it is read{above}, before any drop-in"
            ));
        }
        if first.is_empty() || !first.iter().all(in_main) {
            let dir = self.dir();
            hints.push(format!(
                "name the drop-in so it sorts first, e.g. `path: {dir}/00-keel.conf`, or remove the other setting"
            ));
        }
        hints.join("; ")
    }
}

/// What the probe found that planning needs, worked out once.
struct Host<'f> {
    /// The drop-in's declared content.
    desired: String,
    /// The drop-in's current bytes, when it is a readable file.
    current: Option<&'f [u8]>,
    current_text: Option<String>,
    content_differs: bool,
    /// sshd and its main file exist.
    installed: bool,
    /// The `Include` of `sshd_config` that reads the drop-in.
    inc: Option<IncludeAt>,
    add_include: AddInclude,
    /// `sshd -T`, when sshd is installed and it ran.
    effective: Option<&'f BTreeMap<String, Vec<String>>>,
    /// Why the effective configuration is unknown although sshd is installed.
    unavailable: Option<String>,
    /// The settings the current drop-in file gives.
    in_file: Vec<(&'static Keyword, Vec<String>)>,
}

impl<'f> Host<'f> {
    fn of(sshd: &Sshd, fact: &'f SshdFact) -> Self {
        let desired = sshd.content();
        let current: Option<&[u8]> = match &fact.dropin {
            DropIn::File(d) => Some(d),
            _ => None,
        };
        let current_text = current
            .and_then(|d| std::str::from_utf8(d).ok())
            .map(str::to_string);
        let installed = fact.sshd && fact.main.is_some();
        let inc = fact.main.as_deref().and_then(|m| include_of(m, &sshd.path));
        let add_include = match (installed, &inc) {
            (false, _) => AddInclude::Auto,
            (true, None) => AddInclude::Yes,
            (true, Some(_)) => AddInclude::No,
        };
        let (effective, unavailable) = match (&fact.effective, installed) {
            (Effective::Config(m), true) => (Some(m), None),
            (Effective::Unavailable(why), true) => (
                None,
                Some(format!(
                    "the effective configuration is unknown (`sshd -T`: {why}): compared with the drop-in file only"
                )),
            ),
            _ => (None, None),
        };
        let in_file = current_text.as_deref().map(file_values).unwrap_or_default();
        Host {
            content_differs: current != Some(desired.as_bytes()),
            desired,
            current,
            current_text,
            installed,
            inc,
            add_include,
            effective,
            unavailable,
            in_file,
        }
    }

    /// What `sshd -T` says is in effect for `s`, when that can be compared;
    /// `None`: compare with the drop-in file. A first-value keyword sshd -T
    /// does not print (another version of sshd) is compared with the file.
    fn effective_of(&self, s: &Setting) -> Option<Vec<String>> {
        let kw = s.keyword;
        self.effective
            .filter(|_| s.comparable())
            .map(|eff| eff.get(&kw.effective_key()).cloned().unwrap_or_default())
            .filter(|got| kw.eff == Eff::Subset || !got.is_empty())
    }

    /// The values the current drop-in file gives `kw`.
    fn in_file_of(&self, kw: &Keyword) -> Option<Vec<String>> {
        self.in_file
            .iter()
            .find(|(k, _)| k.canonical() == kw.canonical())
            .map(|(_, v)| v.clone())
    }
}

/// The comparison of the declared settings with the host.
#[derive(Default)]
struct Compared<'a> {
    attrs: Vec<AttrChange>,
    /// Settings whose effective value differs: with what is in effect.
    overridden: Vec<(&'a Setting, Vec<String>)>,
    notes: Vec<String>,
    /// A `Port` or `ListenAddress` changes (the socket unit must follow).
    listen_changed: bool,
}

impl Compared<'_> {
    fn change(&mut self, kw: &Keyword, before: Option<String>, after: Option<String>) {
        self.listen_changed |= is_listen(kw);
        self.attrs.push(AttrChange::new(kw.name, before, after));
    }
}

/// `Port` and `ListenAddress`: what a socket unit listens on.
fn is_listen(kw: &Keyword) -> bool {
    matches!(kw.name, "Port" | "ListenAddress")
}

/// A change that cannot be made as things are: the plan shows the error and
/// apply runs nothing.
pub(super) fn refusal(path: &str, why: &str) -> Planned {
    let mut d = Diff::with_action(Action::Update);
    d.error = Some(format!("{path}: {why}"));
    Planned::only(d)
}
