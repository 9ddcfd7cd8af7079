//! `state: absent`: the project goes. Its containers and networks are
//! taken down (`compose down --remove-orphans` with its files while the
//! compose file is there, then anything left with the project's label,
//! by docker itself); its volumes stay unless `remove_volumes: true`.
//! Then the files keel wrote for it in `dir` are removed — the compose
//! file, the env file, the override file, the hash and release-history
//! files and a rolling update's kept copies — leaving the directory and
//! every other file in it. Images stay.
//!
//! ```yaml
//! - compose: { project: app, dir: /srv/app, state: absent }
//! - compose: { project: old, dir: /srv/old, state: absent, remove_volumes: true,
//!              file: { file_name: docker-compose.prod.yml }, env: { file_name: .env.production } }
//! ```
//!
//! Only `file_name` is read of `file` and `env` (the names the project's
//! files were written under); an env file is removed only when `env` is
//! declared.

use super::*;
use crate::shell::Script;

impl Compose {
    /// The names its files were written under, as the settings of its
    /// removal (`file: { file_name }` when not the default, `env: {
    /// file_name }` when it has one): what the ledger records so that
    /// pruning removes exactly these files.
    pub fn removal_names(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        if let Some(n) = &self.file.file_name {
            m.insert("file".into(), serde_json::json!({ "file_name": n }));
        }
        if let Some(n) = self.env_name() {
            m.insert("env".into(), serde_json::json!({ "file_name": n }));
        }
        m
    }

    /// Settings that have no effect on a removal are errors.
    pub(super) fn check_absent(&self, errs: &mut Vec<Invalid>) {
        let mut names = vec![("file", &self.file)];
        if let Some(env) = &self.env {
            names.push(("env", env));
        }
        let content = |f: &FileSpec| !f.sources().is_empty() || f.mode.is_some();
        for (field, spec) in names {
            spec.check_name_and_mode(field, errs);
            if content(spec) {
                errs.push(
                    Invalid::field(
                        field,
                        format!(
                            "`{field}`: only `file_name` is read with `state: absent` (the file is removed)"
                        ),
                    )
                    .help("keep `file_name` if the file has another name than the default, remove the rest"),
                );
            }
        }
        errs.extend(unused_when_absent(&[
            ("services", !self.services.is_empty()),
            ("rolling", !self.rolling.is_empty()),
        ]));
    }

    /// The paths of the files keel writes for the project in `dir`, and
    /// the folder of a rolling update's kept copies.
    fn own_files(&self) -> (Vec<String>, String) {
        let mut files = vec![self.path(self.file_name())];
        let (env, env_backup) = self.env_paths();
        if !env.is_empty() {
            files.push(env);
            files.push(env_backup);
        }
        files.push(self.path(&self.override_name()));
        files.push(self.path(&self.hash_name()));
        files.push(self.history_path());
        (files, self.prev_dir())
    }

    /// The diff and commands removing the project.
    pub(super) fn plan_absent(&self, fact: &ComposeFact) -> Planned {
        if fact.docker && !fact.daemon {
            let mut d = Diff::with_action(Action::Delete);
            d.error = Some(
                "the docker daemon does not answer, so the project's containers cannot be read: start docker first"
                    .into(),
            );
            return Planned::only(d);
        }
        let mut diff = Diff::with_action(Action::Delete);
        for c in &fact.containers {
            diff = diff.attr(
                &format!("container {}", c.name),
                Some(c.status.clone()),
                None::<String>,
            );
        }
        let present = |f: &LiveFile| *f != LiveFile::Absent;
        let mut shown = vec![(self.file_name().to_string(), present(&fact.file))];
        if let Some(e) = self.env_name() {
            shown.push((e.to_string(), present(&fact.env)));
        }
        shown.push((self.override_name(), present(&fact.override_file)));
        shown.push((self.hash_name(), fact.hash.is_some()));
        for (name, _) in shown.into_iter().filter(|(_, there)| *there) {
            diff = diff.attr(&format!("file {name}"), Some("present"), None::<String>);
        }
        let leftovers = !fact.releases.is_empty() || fact.previous.is_some();
        if diff.attrs.is_empty() && !leftovers {
            return Planned::only(Diff::noop().reason(format!(
                "no containers of project {} and none of its files in {}",
                self.project, self.dir
            )));
        }
        if !self.remove_volumes && !fact.containers.is_empty() {
            diff = diff.reason("its volumes are kept (`remove_volumes: true` removes them)");
        }
        let mut cmds = Vec::new();
        if !fact.containers.is_empty() {
            cmds.push(self.down_cmd(fact));
        }
        cmds.push(self.remove_files_cmd());
        Planned::new(diff, cmds)
    }

    /// `compose down` (when the compose file is there), then by label.
    fn down_cmd(&self, fact: &ComposeFact) -> Cmd {
        let use_compose = matches!(fact.file, LiveFile::File { .. });
        let mut s = String::new();
        if use_compose {
            let with_override = matches!(fact.override_file, LiveFile::File { .. });
            s.push_str(&self.compose_prelude(with_override));
        }
        s.push_str(
            &Script::new(include_str!("down.sh"))
                .set("keel_label", self.label())
                .flag("keel_use_compose", use_compose)
                .flag("keel_volumes", self.remove_volumes)
                .set("keel_name", format!("keel: compose[{}]", self.project))
                .render(),
        );
        let volumes = if self.remove_volumes {
            "containers, networks and volumes"
        } else {
            "containers and networks; volumes kept"
        };
        Cmd::new(
            format!("docker compose down (project {}: {volumes})", self.project),
            s,
        )
    }

    /// Remove keel's files of the project; the directory stays.
    fn remove_files_cmd(&self) -> Cmd {
        let (files, prev) = self.own_files();
        let list: Vec<String> = files.iter().map(|f| q(f)).collect();
        let script = format!("rm -f -- {}\nrm -rf -- {}\n", list.join(" "), q(&prev));
        Cmd::new(
            format!(
                "remove the files of compose project {} in {} (the directory stays)",
                self.project, self.dir
            ),
            script,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{a, attrs};

    fn absent(extra: &str) -> Compose {
        let text = format!("project: app\ndir: /srv/app\nstate: absent\n{extra}");
        let c: Compose = Node::parse(&text).unwrap().deserialize().unwrap();
        assert!(Kind::check(&c).is_empty(), "{:?}", Kind::check(&c));
        c
    }

    fn plan(c: &Compose, out: &str) -> Planned {
        let fact = c.parse(&ProbeOutput::ok(out)).unwrap();
        c.plan(&fact)
    }

    const UP: &str = "dir=yes\ndocker=yes\ncompose=v2 2.20.0\ndaemon=up\n\
        file_mode=644\nfile=c2VydmljZXM6IHt9Cg==\nenv_mode=600\nenv=QT0xCg==\n\
        hash=abc\nreleases=MQo=\n\
        ctr=web|1|False|running|healthy|0|local/web:1|sha256:aaaa|/app-web-1\n\
        ctr=db|1|False|exited||0|postgres|sha256:bbbb|/app-db-1\n";

    #[test]
    fn a_running_project_is_taken_down_and_its_files_removed() {
        let c = absent("env: { file_name: .env.prod }\n");
        let p = plan(&c, UP);
        assert_eq!(p.diff.action(), Action::Delete);
        assert_eq!(
            attrs(&p.diff),
            vec![
                a("container app-web-1", Some("running"), None),
                a("container app-db-1", Some("exited"), None),
                a("file docker-compose.yml", Some("present"), None),
                a("file .env.prod", Some("present"), None),
                a("file .keel-compose-app.sha256", Some("present"), None),
            ]
        );
        assert!(
            p.diff
                .reason
                .as_deref()
                .unwrap()
                .contains("volumes are kept")
        );
        let summaries: Vec<&str> = p.commands.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "docker compose down (project app: containers and networks; volumes kept)",
                "remove the files of compose project app in /srv/app (the directory stays)",
            ]
        );
        let down = &p.commands[0].script;
        assert!(
            down.contains("keel_compose down --remove-orphans"),
            "{down}"
        );
        assert!(
            down.contains("keel_env_file=/srv/app/.env.prod\n"),
            "{down}"
        );
        assert!(down.contains("keel_volumes=''\n"), "{down}");
        assert!(down.contains("keel_use_compose=yes\n"), "{down}");
        assert!(down.contains("keel_with_override=''\n"), "{down}");
        assert_eq!(
            p.commands[1].script,
            "rm -f -- /srv/app/docker-compose.yml /srv/app/.env.prod /srv/app/..env.prod.keel-backup \
             /srv/app/docker-compose.keel-app.yml /srv/app/.keel-compose-app.sha256 \
             /srv/app/.keel-compose-app.releases\nrm -rf -- /srv/app/.keel-compose-app.previous\n"
        );
    }

    #[test]
    fn volumes_go_only_when_asked_and_without_a_file_docker_does_it() {
        let c = absent("remove_volumes: true\nfile: { file_name: prod.yml }\n");
        let out = "dir=yes\ndocker=yes\ncompose=v1 1.29.2\ndaemon=up\n\
            ctr=web|1|False|running||0|local/web:1|sha256:aaaa|/app_web_1\n";
        let p = plan(&c, out);
        assert_eq!(p.diff.action(), Action::Delete);
        assert_eq!(p.diff.reason, None);
        assert!(
            p.commands[0].summary.contains("volumes"),
            "{}",
            p.commands[0].summary
        );
        let down = &p.commands[0].script;
        assert!(down.contains("keel_volumes=yes\n"), "{down}");
        // No compose file on the host: no prelude, docker by label only.
        assert!(down.contains("keel_use_compose=''\n"), "{down}");
        assert!(!down.contains("keel_compose()"), "{down}");
        assert!(
            down.contains("keel_label='label=com.docker.compose.project=app'\n"),
            "{down}"
        );
        assert!(p.commands[1].script.contains("/srv/app/prod.yml "));
        // No env declared: no env file is touched.
        assert!(!p.commands[1].script.contains(".env"));
    }

    #[test]
    fn nothing_left_is_a_noop_and_a_silent_daemon_an_error() {
        let c = absent("");
        let p = plan(&c, "dir=yes\ndocker=yes\ncompose=v2 2.20.0\ndaemon=up\n");
        assert_eq!(p.diff.action(), Action::NoOp);
        assert!(p.commands.is_empty());
        assert_eq!(plan(&c, "dir=no\ndocker=no\n").diff.action(), Action::NoOp);
        // Only a rolling update's kept copies: still removed.
        let p = plan(&c, "dir=yes\ndocker=no\nprevious=partial\n");
        assert_eq!(p.diff.action(), Action::Delete);
        assert_eq!(p.commands.len(), 1);
        let p = plan(&c, "dir=yes\ndocker=yes\ndaemon=down\n");
        assert!(p.diff.error.unwrap().contains("daemon"));
        assert!(p.commands.is_empty());
    }

    #[test]
    fn a_project_running_without_keel_s_files_is_updated_not_created() {
        let text = "project: app\ndir: /srv/app\nfile: { content: \"services: {web: {image: local/web:1}}\" }\n";
        let c: Compose = Node::parse(text).unwrap().deserialize().unwrap();
        let fresh = "dir=no\ndocker=yes\ncompose=v2 2.20.0\ndaemon=up\n";
        assert_eq!(plan(&c, fresh).diff.action(), Action::Create);
        // Brought up by hand from another folder: pruning must not take it
        // down later, so keel's first apply is not a create.
        let running =
            format!("{fresh}ctr=web|1|False|running||0|local/web:1|sha256:aaaa|/app-web-1\n");
        assert_eq!(plan(&c, &running).diff.action(), Action::Update);
    }

    #[test]
    fn settings_without_effect_are_refused_and_present_needs_a_file() {
        let errs = |text: &str| {
            let c: Compose = Node::parse(text).unwrap().deserialize().unwrap();
            Kind::check(&c)
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let e = errs(
            "project: app\ndir: /srv/app\nstate: absent\nfile: { content: x }\nservices: { web: {} }\n",
        );
        assert!(e.contains("only `file_name` is read"), "{e}");
        assert!(e.contains("`services` has no effect"), "{e}");
        let e = errs("project: app\ndir: /srv/app\nstate: absent\nfile: { file_name: a/b }\n");
        assert!(e.contains("not a file name"), "{e}");
        let e = errs(
            "project: app\ndir: /srv/app\nremove_volumes: true\nfile: { content: \"services: {a: {image: x}}\" }\n",
        );
        assert!(e.contains("only applies to `state: absent`"), "{e}");
        let e = errs("project: app\ndir: /srv/app\n");
        assert!(e.contains("`file` needs its content"), "{e}");
        // No links to files it does not write.
        assert!(Kind::links(&absent("")).provides.is_empty());
    }
}
