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
            .flat_map(|s| {
                split_scalar(kw, &s.value)
                    .into_iter()
                    .map(move |v| (v, format!("{}:{}", s.file, s.line)))
            })
            .collect()
    }

    /// The diff and the commands, computed together so they always agree.
    pub(super) fn plan_changes(&self, fact: &SshdFact) -> (Diff, Vec<Cmd>) {
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

    pub(super) fn move_first_hint(&self) -> String {
        let dir = self.dir();
        format!(
            "name the drop-in so it sorts first, e.g. `path: {dir}/00-keel.conf`, or remove the other setting"
        )
    }
}

/// A change that cannot be made as things are: the plan shows the error and
/// apply runs nothing.
pub(super) fn refusal(path: &str, why: &str) -> (Diff, Vec<Cmd>) {
    let mut d = Diff::with_action(Action::Update);
    d.error = Some(format!("{path}: {why}"));
    (d, Vec::new())
}
