//! Planning a compose project: the typed difference between the declared
//! files and containers and the live ones (`Changes`), shown as the diff
//! while it is found, then the commands that follow from it.

use super::*;

/// What differs between the declared project and the host.
#[derive(Debug, Default)]
struct Changes {
    /// The compose file is rewritten.
    file: bool,
    /// The env file is rewritten.
    env: bool,
    /// The override file is rewritten or removed.
    override_file: Option<OverrideChange>,
    /// Modes fixed without a rewrite: (path, mode).
    chmods: Vec<(String, String)>,
    /// The files were not brought up yet (the hash file differs).
    hash_stale: bool,
    /// A container is missing, stopped, runs another image, or an orphan.
    containers: bool,
    /// Unhealthy services to restart.
    restart: Vec<String>,
}

/// What happens to the override file holding per-service images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OverrideChange {
    /// Written with the declared images.
    Write,
    /// Removed: no service sets an image any more.
    Remove,
}

impl Changes {
    fn files(&self) -> bool {
        self.file || self.env || self.override_file.is_some()
    }
    fn up(&self) -> bool {
        self.files() || self.hash_stale || self.containers
    }
}

/// What the planning steps share.
struct Cx<'a> {
    fact: &'a ComposeFact,
    model: Model,
    checked: Vec<String>,
    images: BTreeMap<String, String>,
    override_text: Option<String>,
    diff: Diff,
    notes: Vec<String>,
    /// What an `up` does to the kept releases' images.
    keep: Option<keep::KeepPlan>,
}

impl Compose {
    /// The diff and the commands of the project.
    pub(super) fn plan_project(&self, fact: &ComposeFact) -> Planned {
        if let Some(refused) = self.not_a_file(fact) {
            return refused;
        }
        let model = self.model();
        let mut cx = Cx {
            fact,
            checked: self.checked_services(&model),
            images: self.desired_images(&model),
            override_text: self.override_text(&model),
            model,
            diff: Diff::default(),
            notes: Vec::new(),
            keep: None,
        };
        let mut ch = Changes::default();
        self.file_changes(&mut cx, &mut ch);
        self.env_changes(&mut cx, &mut ch);
        self.override_changes(&mut cx, &mut ch);
        ch.hash_stale = fact.hash.as_deref() != Some(self.desired_hash(&cx.model).as_str());
        if !ch.files() && ch.hash_stale {
            cx.notes.push(
                "the project was not brought up with these files yet (an earlier `up` did not finish)"
                    .into(),
            );
        }
        self.container_changes(&mut cx, &mut ch);
        if ch.up() {
            cx.keep = self.keep_plan(fact, &cx.images);
            if let Some(k) = &cx.keep {
                let attrs = self.keep_attrs(k);
                cx.diff.attrs.extend(attrs);
            }
        }
        if !ch.up()
            && ch.restart.is_empty()
            && ch.chmods.is_empty()
            && cx.diff.attrs.is_empty()
            && cx.diff.content.is_none()
        {
            return Planned::only(Diff::noop().reason(self.describe(fact, &cx.checked)));
        }
        let cmds = self.commands(&cx, &ch);
        Planned::new(self.finish_diff(cx), cmds)
    }

    /// Refuse to replace what is not a regular file.
    fn not_a_file(&self, fact: &ComposeFact) -> Option<Planned> {
        let mut others = Vec::new();
        if fact.file == LiveFile::Other {
            others.push(self.path(self.file_name()));
        }
        if let (Some(n), LiveFile::Other) = (self.env_name(), &fact.env) {
            others.push(self.path(n));
        }
        if fact.override_file == LiveFile::Other {
            others.push(self.path(&self.override_name()));
        }
        let first = others.first()?;
        let why = format!(
            "{} {} not a regular file; keel will not replace it",
            others.join(", "),
            if others.len() == 1 { "is" } else { "are" }
        );
        Some(refuse::refused_update(
            &format!("compose[{}]", self.project),
            format!("refuse: {first} is not a regular file"),
            &why,
        ))
    }

    /// The compose file's content and mode.
    fn file_changes(&self, cx: &mut Cx, ch: &mut Changes) {
        let file_name = self.file_name();
        let want = self.file.data();
        ch.file = match &cx.fact.file {
            LiveFile::File { data, .. } => data.as_slice() != want,
            _ => true,
        };
        if ch.file {
            let before = match &cx.fact.file {
                LiveFile::File { data, .. } => content::showable(data),
                _ => None,
            };
            match content::showable(want) {
                Some(after) => cx.diff.content = Some(ContentChange { before, after }),
                None => cx.diff.attrs.push(AttrChange::new(
                    file_name,
                    None::<String>,
                    Some(format!("{} bytes", want.len())),
                )),
            }
        }
        if let (Some(want), LiveFile::File { mode, .. }) = (self.file_mode(), &cx.fact.file) {
            // A rewrite sets the declared mode anyway.
            self.mode_change(cx, ch, file_name, mode, want, !ch.file);
        }
    }

    /// A mode that differs from the declared one: shown, and fixed with a
    /// chmod when the file is not rewritten anyway.
    fn mode_change(
        &self,
        cx: &mut Cx,
        ch: &mut Changes,
        name: &str,
        live: &str,
        want: String,
        chmod: bool,
    ) {
        let live = normalize_mode(live).unwrap_or_else(|_| live.to_string());
        if live == want {
            return;
        }
        cx.diff.attrs.push(AttrChange::new(
            &format!("{name} mode"),
            Some(live),
            Some(want.clone()),
        ));
        if chmod {
            ch.chmods.push((self.path(name), want));
        }
    }

    /// The env file: which keys change (never their values), and its mode.
    fn env_changes(&self, cx: &mut Cx, ch: &mut Changes) {
        let (Some(env), Some(env_name)) = (&self.env, self.env_name()) else {
            return;
        };
        let want = env.data();
        let live = match &cx.fact.env {
            LiveFile::File { data, .. } => Some(data.as_slice()),
            _ => None,
        };
        if live != Some(want) {
            ch.env = true;
            let old = live
                .map(|l| parse_dotenv(&String::from_utf8_lossy(l)))
                .unwrap_or_default();
            let new = parse_dotenv(&String::from_utf8_lossy(want));
            if !env_key_changes(&mut cx.diff, env_name, &old, &new) {
                cx.diff.attrs.push(AttrChange::new(
                    env_name,
                    live.map(|_| "present"),
                    Some(if live.is_some() {
                        "comments or formatting changed"
                    } else {
                        "written"
                    }),
                ));
            }
        }
        if let LiveFile::File { mode, .. } = &cx.fact.env {
            let want_mode = self.env_mode();
            self.mode_change(cx, ch, env_name, mode, want_mode, !ch.env);
        }
    }

    /// The override file holding per-service images.
    fn override_changes(&self, cx: &mut Cx, ch: &mut Changes) {
        let live = match &cx.fact.override_file {
            LiveFile::File { data, .. } => Some(data.as_slice()),
            _ => None,
        };
        if live == cx.override_text.as_deref().map(str::as_bytes) {
            return;
        }
        let name = self.override_name();
        if cx.override_text.is_some() {
            let images: Vec<String> = self
                .services
                .iter()
                .filter_map(|(k, s)| s.image.as_ref().map(|i| format!("{k}={i}")))
                .collect();
            cx.diff.attrs.push(AttrChange::new(
                &name,
                live.map(|_| "(other images)"),
                Some(format!("images {}", images.join(", "))),
            ));
            ch.override_file = Some(OverrideChange::Write);
        } else {
            cx.diff
                .attrs
                .push(AttrChange::new(&name, Some("present"), None::<String>));
            ch.override_file = Some(OverrideChange::Remove);
        }
    }

    /// The containers: every checked service running (healthy), on the
    /// declared image; orphans; what cannot be read.
    fn container_changes(&self, cx: &mut Cx, ch: &mut Changes) {
        if cx.fact.daemon {
            for svc in cx.checked.clone() {
                service_changes(cx, ch, &svc);
            }
            if self.remove_orphans {
                orphan_changes(cx, ch);
            }
            if self.pull == Pull::Never {
                missing_images_note(cx);
            }
        } else {
            for svc in &cx.checked {
                cx.diff.attrs.push(AttrChange::new(
                    &format!("{svc} state"),
                    None::<String>,
                    Some("running"),
                ));
            }
            cx.diff.unknown = Some(if !cx.fact.docker {
                "docker is not installed yet (it may be installed earlier in this run): the containers cannot be read".into()
            } else {
                "docker does not answer: the containers cannot be read".into()
            });
            ch.containers = true;
        }
        if cx.fact.docker && cx.fact.tool.is_none() {
            let u = "neither `docker compose` (v2) nor `docker-compose` (v1) is installed yet";
            cx.diff.unknown = Some(match cx.diff.unknown.take() {
                Some(x) => format!("{x}; {u}"),
                None => u.to_string(),
            });
        }
    }

    /// Action and reason of a plan that changes something.
    fn finish_diff(&self, cx: Cx) -> Diff {
        let Cx {
            fact,
            checked,
            mut diff,
            mut notes,
            ..
        } = cx;
        // Containers of the project without its compose file: it runs
        // already (brought up by hand or from elsewhere), so it is not
        // keel's to prune later (`crate::ledger`).
        diff.action = Some(
            if matches!(fact.file, LiveFile::Absent) && fact.containers.is_empty() {
                Action::Create
            } else {
                Action::Update
            },
        );
        if fact.daemon && !matches!(fact.file, LiveFile::Absent) {
            notes.insert(0, self.describe(fact, &checked));
        }
        if !fact.dir_exists {
            notes.push(format!("{} will be created", self.dir));
        }
        if !notes.is_empty() {
            diff.reason = Some(notes.join("; "));
        }
        diff
    }

    /// The commands that follow from the changes: write the files, fix
    /// modes, then `up` (or restart the unhealthy services).
    fn commands(&self, cx: &Cx, ch: &Changes) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        let prelude = self.compose_prelude(cx.override_text.is_some());
        if ch.files() {
            cmds.push(self.write_cmd(cx, ch, &prelude));
        }
        for (path, mode) in &ch.chmods {
            cmds.push(Cmd::new(
                format!("chmod {mode} {path}"),
                format!("chmod {} {}\n", q(mode), q(path)),
            ));
        }
        if ch.up() {
            cmds.push(self.up_cmd(cx, ch, &prelude));
        } else if !ch.restart.is_empty() {
            cmds.push(self.restart_cmd(&ch.restart, &prelude));
        }
        cmds
    }

    /// Write (or remove) the changed files, validated first.
    fn write_cmd(&self, cx: &Cx, ch: &Changes, prelude: &str) -> Cmd {
        let writes_override = ch.override_file == Some(OverrideChange::Write);
        let mut s = prelude.to_string();
        s.push_str(&self.write_script(
            ch.file,
            if ch.env {
                self.env.as_ref().map(FileSpec::data)
            } else {
                None
            },
            if writes_override {
                cx.override_text.as_deref()
            } else {
                None
            },
            ch.override_file == Some(OverrideChange::Remove),
            !self.rolling_now(cx.fact).is_empty() && self.previous_plan(cx.fact, true).0,
        ));
        let mut written = Vec::new();
        if ch.file {
            written.push(self.file_name().to_string());
        }
        if ch.env {
            written.push(self.env_name().unwrap_or(".env").to_string());
        }
        if writes_override {
            written.push(self.override_name());
        }
        let summary = if written.is_empty() {
            format!("remove {}", self.path(&self.override_name()))
        } else {
            format!(
                "write {} in {} (validated with compose config)",
                written.join(", "),
                self.dir
            )
        };
        Cmd::new(summary, s)
    }

    /// `up` (rolling services first when the project runs), wait, and
    /// record the hash of the files brought up.
    fn up_cmd(&self, cx: &Cx, ch: &Changes, prelude: &str) -> Cmd {
        let rolling = self.rolling_now(cx.fact);
        let mut s = prelude.to_string();
        s.push_str(&self.wait_function());
        if let Some(text) = cx.keep.as_ref().and_then(|k| k.start.as_deref()) {
            s.push_str(&self.history_write(text));
        }
        let restore = self.previous_plan(cx.fact, ch.files()).1;
        s.push_str(&self.up_script(&rolling, restore, &cx.checked, &cx.images));
        s.push_str(&shell::write_file_atomic(
            &self.path(&self.hash_name()),
            format!("{}\n", self.desired_hash(&cx.model)).as_bytes(),
            // A plain hash over the env file (secrets): readable by root
            // only, or it is an offline oracle for a weak secret.
            &Perms {
                mode: Some("0600".into()),
                ..Perms::default()
            },
        ));
        if let Some(k) = &cx.keep {
            s.push_str(&self.history_write(&k.finish));
            s.push_str(&self.prune_script(&k.remove));
        }
        let tool = match &cx.fact.tool {
            Some(Tool::V1(_)) => "docker-compose",
            _ => "docker compose",
        };
        let wait = if self.wait.timeout > 0 {
            format!(", wait until running/healthy ({} s)", self.wait.timeout)
        } else {
            String::new()
        };
        let prune = match cx.keep.as_ref().map(|k| k.remove.len()) {
            Some(n) if n > 0 => format!(
                ", then remove {n} image{} of older releases",
                if n == 1 { "" } else { "s" }
            ),
            _ => String::new(),
        };
        let wait = format!("{wait}{prune}");
        let summary = if rolling.is_empty() {
            format!("{tool} up -d (project {}){wait}", self.project)
        } else {
            let list: Vec<String> = rolling.iter().map(|s| s.describe()).collect();
            format!(
                "{tool} up -d --no-deps {} one at a time, then up -d (project {}){wait}",
                list.join(", "),
                self.project
            )
        };
        Cmd::new(summary, s)
    }

    /// The rolling steps of this update: none when the project does not
    /// run yet (everything starts at once).
    fn rolling_now(&self, fact: &ComposeFact) -> Vec<&RollingStep> {
        if fact.containers.iter().any(|c| !c.oneoff) {
            self.rolling.iter().collect()
        } else {
            Vec::new()
        }
    }

    /// Restart unhealthy services (and wait for them).
    fn restart_cmd(&self, restart: &[String], prelude: &str) -> Cmd {
        let mut s = prelude.to_string();
        s.push_str(&self.wait_function());
        let list = restart.iter().map(|x| q(x)).collect::<Vec<_>>().join(" ");
        let _ = writeln!(s, "keel_compose restart {list}");
        if self.wait.timeout > 0 {
            let _ = writeln!(s, "keel_wait {list}");
        }
        Cmd::new(
            format!(
                "restart unhealthy {} (project {})",
                restart.join(", "),
                self.project
            ),
            s,
        )
    }
}

/// The env keys added, changed or removed, values hidden; false when none
/// (only comments or formatting differ).
fn env_key_changes(
    diff: &mut Diff,
    env_name: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> bool {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut any = false;
    for k in keys {
        let (b, a) = match (old.get(k), new.get(k)) {
            (None, Some(_)) => (None, Some("(set)")),
            (Some(_), None) => (Some("(set)"), None),
            (Some(o), Some(n)) if o != n => (Some("(old value)"), Some("(new value)")),
            _ => continue,
        };
        any = true;
        diff.attrs
            .push(AttrChange::new(&format!("{env_name} {k}"), b, a));
    }
    any
}

/// One checked service: its containers exist and run, are healthy, and
/// run the declared image.
fn service_changes(cx: &mut Cx, ch: &mut Changes, svc: &str) {
    let fact = cx.fact;
    let cs: Vec<&Container> = fact
        .containers
        .iter()
        .filter(|c| !c.oneoff && c.service == svc)
        .collect();
    let Some(first) = cs.first() else {
        ch.containers = true;
        cx.diff.attrs.push(AttrChange::new(
            &format!("{svc} state"),
            None::<String>,
            Some("running"),
        ));
        return;
    };
    if let Some(bad) = cs.iter().find(|c| c.status != "running") {
        ch.containers = true;
        cx.diff.attrs.push(AttrChange::new(
            &format!("{svc} state"),
            Some(bad.status.clone()),
            Some("running"),
        ));
        if bad.status == "exited" && !bad.exit_code.is_empty() {
            cx.notes
                .push(format!("{} exited with status {}", bad.name, bad.exit_code));
        }
    } else if cs.iter().any(|c| c.health == "unhealthy") {
        cx.diff.attrs.push(AttrChange::new(
            &format!("{svc} health"),
            Some("unhealthy"),
            Some("healthy"),
        ));
        ch.restart.push(svc.to_string());
    }
    if let Some(want) = cx.images.get(svc) {
        let want = want.clone();
        image_change(cx, ch, svc, first, want);
    }
}

/// A container on another image, or on an image re-tagged under the same name.
fn image_change(cx: &mut Cx, ch: &mut Changes, svc: &str, c: &Container, want: String) {
    let (before, after) = if c.image != want {
        (c.image.clone(), want)
    } else if let Some(Some(id)) = cx.fact.images.get(&want)
        && !c.image_id.is_empty()
        && &c.image_id != id
    {
        (
            format!("{want} ({})", short_id(&c.image_id)),
            format!("{want} ({})", short_id(id)),
        )
    } else {
        return;
    };
    ch.containers = true;
    cx.diff.attrs.push(AttrChange::new(
        &format!("{svc} image"),
        Some(before),
        Some(after),
    ));
}

/// Containers of services no longer declared, removed by `up --remove-orphans`.
fn orphan_changes(cx: &mut Cx, ch: &mut Changes) {
    let fact = cx.fact;
    let mut seen = BTreeSet::new();
    for c in fact.containers.iter().filter(|c| {
        !c.oneoff && !c.service.is_empty() && !cx.model.services.contains_key(&c.service)
    }) {
        if seen.insert(c.service.clone()) {
            ch.containers = true;
            cx.diff.attrs.push(AttrChange::new(
                &format!("{} state", c.service),
                Some(c.status.clone()),
                Some("(removed: no longer declared)"),
            ));
        }
    }
}

/// With `pull: never`, a note naming the images not on the host.
fn missing_images_note(cx: &mut Cx) {
    let missing: BTreeSet<&str> = cx
        .images
        .values()
        .filter(|i| matches!(cx.fact.images.get(*i), Some(None)))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return;
    }
    let missing: Vec<&str> = missing.into_iter().collect();
    cx.notes.push(format!(
        "`pull: never`, and {} not on the host: apply will fail unless an earlier resource provides {}",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    ));
}
