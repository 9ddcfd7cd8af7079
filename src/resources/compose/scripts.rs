//! The shell scripts of a compose project, from the `.sh` files beside
//! this one: the probe, the `keel_compose` and `keel_wait` functions, the
//! validated replacement of the files, and `up`.

use super::*;
use crate::shell::Script;

impl Compose {
    pub(super) fn label(&self) -> String {
        format!("label=com.docker.compose.project={}", self.project)
    }

    /// The probe: files, hash, Compose flavour, containers, image ids.
    pub(super) fn probe_script(&self) -> String {
        let model = self.model();
        let images: BTreeSet<String> = self.desired_images(&model).into_values().collect();
        let images: Vec<String> = images.into_iter().collect();
        Script::new(include_str!("probe.sh"))
            .set("keel_dir", &self.dir)
            .set("keel_file", self.path(self.file_name()))
            .set(
                "keel_env",
                self.env_name().map(|e| self.path(e)).unwrap_or_default(),
            )
            .set("keel_override", self.path(&self.override_name()))
            .set("keel_hash", self.path(&self.hash_name()))
            .set("keel_label", self.label())
            .set("keel_images", images.join("\n"))
            .set("keel_releases", self.history_path())
            .set("keel_prev", self.prev_dir())
            .render()
    }

    /// Detects Compose (v2 first, then v1) and defines `keel_compose`,
    /// which runs it on this project with `$keel_file` (and
    /// `$keel_override`) as compose files.
    pub(super) fn compose_prelude(&self, with_override: bool) -> String {
        Script::new(include_str!("prelude.sh"))
            .set("keel_file", self.path(self.file_name()))
            .set("keel_override", self.path(&self.override_name()))
            .flag("keel_with_override", with_override)
            .set("keel_project", &self.project)
            .set("keel_dir", &self.dir)
            .set(
                "keel_env_file",
                self.env_name().map(|e| self.path(e)).unwrap_or_default(),
            )
            .render()
    }

    /// `keel_wait SERVICE...`: wait until every container of the services
    /// runs (and is healthy when it has a health check); on timeout print
    /// the last log lines of the services that are not ready, and fail.
    pub(super) fn wait_function(&self) -> String {
        Script::new(include_str!("wait.sh"))
            .set("keel_timeout", self.wait.timeout.to_string())
            .set("keel_label", self.label())
            .set(
                "keel_wait_msg",
                format!(
                    "keel: compose[{}]: not ready after {} s:",
                    self.project, self.wait.timeout
                ),
            )
            .render()
    }

    /// The env file's path and the backup kept while it is replaced
    /// (both empty without an env file).
    pub(super) fn env_paths(&self) -> (String, String) {
        match self.env_name() {
            Some(n) => (self.path(n), self.path(&format!(".{n}.keel-backup"))),
            None => (String::new(), String::new()),
        }
    }

    /// A temporary copy of a file beside its final name, filled and
    /// given its mode.
    fn temp_copy(&self, var: &str, name: &str, data: &[u8], mode: Option<String>) -> String {
        let t = shell::TempFile::beside(var, &self.path(name));
        let mut s = t.create();
        s.push_str(&t.fill(data));
        s.push_str(&t.set_perms(&Perms {
            mode,
            ..Perms::default()
        }));
        s
    }

    /// Write the changed files through temporary files, validated with
    /// `compose config -q` before anything replaces a working file;
    /// `keep_previous`: first copy the files as they are aside for a
    /// rolling update to put back.
    pub(super) fn write_script(
        &self,
        file: bool,
        env: Option<&[u8]>,
        override_text: Option<&str>,
        remove_override: bool,
        keep_previous: bool,
    ) -> String {
        let (env_path, env_backup) = self.env_paths();
        let mut s = Script::new(include_str!("write_begin.sh"))
            .set("keel_dir", &self.dir)
            .set("keel_env_path", &env_path)
            .set("keel_env_backup", &env_backup)
            .render();
        if keep_previous {
            s.push_str(&self.keep_previous_script());
        }
        if file {
            let data = self.file.data();
            s.push_str(&self.temp_copy("keel_tmp_file", self.file_name(), data, self.file_mode()));
            s.push_str("keel_file=$keel_tmp_file\n");
        }
        if let Some(text) = override_text {
            let mode = Some("0644".into());
            s.push_str(&self.temp_copy(
                "keel_tmp_ovr",
                &self.override_name(),
                text.as_bytes(),
                mode,
            ));
            s.push_str("keel_override=$keel_tmp_ovr\n");
        }
        if let (Some(data), Some(env_name)) = (env, self.env_name()) {
            s.push_str(&self.temp_copy("keel_tmp_env", env_name, data, Some(self.env_mode())));
            s.push_str(
                &Script::new(include_str!("env_swap.sh"))
                    .set("keel_env_path", &env_path)
                    .set("keel_env_backup", &env_backup)
                    .render(),
            );
        }
        s.push_str(&Script::new(include_str!("validate.sh")).set("keel_msg", format!(
            "keel: compose[{}]: the new files do not pass `compose config` (checked as temporary copies); the files in {} were left as they were and the containers untouched",
            self.project, self.dir
        )).render());
        s.push_str(&self.put_in_place(file, override_text.is_some(), remove_override));
        s
    }

    /// After the validation: rename the temporary copies over the files.
    fn put_in_place(&self, file: bool, write_override: bool, remove_override: bool) -> String {
        let mut s = String::new();
        let final_ovr = self.path(&self.override_name());
        if file {
            let t = shell::TempFile::beside("keel_tmp_file", &self.path(self.file_name()));
            let final_file = q(&self.path(self.file_name()));
            let _ = writeln!(s, "{}keel_tmp_file=\nkeel_file={final_file}", t.rename());
        }
        if write_override {
            let t = shell::TempFile::beside("keel_tmp_ovr", &final_ovr);
            let _ = writeln!(
                s,
                "{}keel_tmp_ovr=\nkeel_override={}",
                t.rename(),
                q(&final_ovr)
            );
        }
        if remove_override {
            let _ = writeln!(s, "rm -f {}", q(&final_ovr));
        }
        let (_, env_backup) = self.env_paths();
        if !env_backup.is_empty() {
            let _ = writeln!(s, "rm -f {}", q(&env_backup));
        }
        s.push_str("keel_env_restore=\ntrap - EXIT\n");
        s
    }

    /// Pull (per `pull`), `up -d` (rolling services first, each waited
    /// for and checked; `restore`: a failed step puts back the files kept
    /// by the write command), then wait for the checked services.
    pub(super) fn up_script(
        &self,
        rolling: &[&RollingStep],
        restore: bool,
        checked: &[String],
        images: &BTreeMap<String, String>,
    ) -> String {
        let mut s = String::new();
        match self.pull {
            Pull::Never => {
                let set: BTreeSet<&String> = images.values().collect();
                if !set.is_empty() {
                    let list: Vec<&str> = set.into_iter().map(String::as_str).collect();
                    s.push_str(
                        &Script::new(include_str!("pull_never.sh"))
                            .set("keel_images", list.join("\n"))
                            .set(
                                "keel_msg",
                                format!(
                                    "keel: compose[{}]: `pull: never`, and these images are not on the host:",
                                    self.project
                                ),
                            )
                            .render(),
                    );
                }
            }
            Pull::Missing => {}
            Pull::Always => s.push_str("keel_compose pull\n"),
        }
        if !rolling.is_empty() {
            s.push_str(&self.rolling_script(rolling, restore, checked));
            return s;
        }
        let wait = self.wait.timeout > 0;
        let orphans = if self.remove_orphans {
            " --remove-orphans"
        } else {
            ""
        };
        let _ = writeln!(s, "keel_compose up -d{orphans}");
        if wait && !checked.is_empty() {
            let list = checked.iter().map(|x| q(x)).collect::<Vec<_>>().join(" ");
            let _ = writeln!(s, "keel_wait {list}");
        }
        s
    }
}
