//! The `compose` kind: a Docker Compose project — its compose file, its
//! `.env`, and its containers up, running and healthy.
//!
//! ```yaml
//! - compose:
//!     project: app                        # the compose project name (`-p`)
//!     dir: /srv/app                       # where its files live (project directory)
//!     file: { template: docker-compose.prod.yml.hbs }   # or content: / source:; file_name, mode
//!     env: { template: env.production.hbs, file_name: .env.production }  # optional, mode 0600
//!     pull: missing                       # never | missing (default) | always
//!     wait: { timeout: 120 }              # seconds to wait for running/healthy (0: don't wait)
//!     services:                           # optional per-service settings
//!       backend: { image: local/backend:2 }   # image override (written to an override file)
//!       migrate: { state: any }           # a one-shot service: its state is not checked
//!     rolling:                            # update these one at a time, healthy before the next
//!       - service: backend                #   and, with `check`, checked before the next
//!         check: curl -fsS https://api.example.com/health   # shell, on the host
//!         retries: 5                      #   attempts (default 5), `delay: 3` s apart,
//!         timeout: 30                     #   each at most `timeout` s (default 30)
//!       - frontend                        # a plain name: waited for, no check
//!     remove_orphans: true                # remove containers of services no longer declared
//!     keep_releases: 3                    # the images of the last 3 releases stay (see keep.rs)
//! - compose: { project: old, dir: /srv/old, state: absent }   # taken down, keel's files removed
//!     # remove_volumes: true              # with state: absent: its volumes go too (kept by default)
//! ```
//!
//! `state: absent` (see `absent.rs`): `down` for the project, its volumes
//! only with `remove_volumes: true`, then the files keel wrote for it in
//! `dir`; only `file_name` is read of `file` and `env`.
//!
//! Files, in `dir`: the compose file (`file_name`, default
//! `docker-compose.yml`), the env file (`file_name`, default `.env`), an
//! override file `docker-compose.keel-PROJECT.yml` holding the per-service
//! images (only when `services:` sets images), and
//! `.keel-compose-PROJECT.sha256`, the hash of the three files written after
//! the last `up` that succeeded — so files written by an apply whose `up`
//! failed are brought up by the next one. Every compose call names them all
//! (`-p P --project-directory DIR -f FILE [-f OVERRIDE] [--env-file ENV]`);
//! by hand: `docker compose -p app -f docker-compose.yml -f
//! docker-compose.keel-app.yml ps`.
//!
//! The probe reads the files (base64), the hash file, whether Compose v2
//! (`docker compose`) or v1 (`docker-compose`, Debian 12's 1.29) is
//! installed, and the project's containers. Containers are read with
//! `docker ps`/`docker inspect` filtered on the labels both Compose versions
//! set (`com.docker.compose.project`/`.service`), rather than by parsing
//! `compose ps`, whose output differs between v1 (a table) and v2 (JSON):
//! state, health, exit code, image reference and image id per container.
//! The ids of the images the project should run are read too, so an image
//! re-tagged under the same name shows as a change.
//!
//! The compose file is parsed at load time (YAML; `services` must be a
//! map) to know the declared services and their images (`${VAR}`,
//! `${VAR:-default}` interpolated from the declared env file). Drift: a
//! declared service with no container, or one that is not running, is
//! `web state: exited → running`; an unhealthy one `web health: unhealthy →
//! healthy` (restarted); a container whose image differs `web image:
//! local/web:1 → local/web:2`. Services behind `profiles`, with zero
//! replicas, or with `state: any` are not checked. A health check still
//! `starting` is not drift.
//!
//! The env file usually holds secrets, so the plan never shows its values,
//! only which keys are added, changed or removed (`.env DB_PASSWORD: (old
//! value) → (new value)`). The compose file's diff is shown (the engine
//! masks it when the resource was rendered from a secret).
//!
//! Apply, in one script: the new files are written to temporary files in
//! `dir` and validated with `compose config -q` *before* they replace
//! anything — the env file is put in place for the validation (compose
//! files may name it in `env_file:`) and put back as it was when the
//! validation fails — so a broken compose file never replaces a working
//! one and the running containers are not touched. Then images are pulled
//! per `pull` (`never` checks they are all on the host first), `up -d`
//! runs (for `rolling` services of a project that already runs: `up -d
//! --no-deps SERVICE` one at a time, each waited for, then `up -d` for the
//! rest), and keel waits until every checked service runs and is healthy
//! (when it has a health check), failing after `wait.timeout` with the last
//! log lines of the services that are not ready. Only then is the hash
//! file written.
//!
//! A rolling update is health-gated: after each step's service is up (and
//! waited for), its `check` runs on the host (`sh -c`, each attempt under
//! `timeout`, retried). When a step's `up`, wait or check fails, the
//! rollout stops: the compose, env and override files as they were before
//! this run — copied by the write command into `.keel-compose-PROJECT.previous/`
//! (mode 0700) before anything is replaced — are moved back, the services
//! updated so far are brought up again with them (`up -d --no-deps`), and
//! the run fails with `rollout stopped at backend: the check after backend
//! failed (5 of 5 attempts): CHECK` and the check's last output lines. The
//! hash file is not rewritten, so the next apply tries the new release
//! again. The last step, `up -d` of the whole project and the wait, is
//! gated the same way (a failure puts the files back and brings the whole
//! project up with them); the kept copies are removed once it passed. A
//! complete copy left by a run that stopped midway (the live files never
//! came up: the hash file says so) is kept and is what a failure puts
//! back; an unfinished copy is never put back. When no file changed in
//! the run and no such copy exists (only containers drifted) there is
//! nothing to return to: the failure is reported and the services are
//! left as they are.

use super::common::{State, content, refuse};
use super::*;
use crate::shell::{self, Perms, q};
use model::{
    Model, check_file_name, check_image, check_project, interpolate, parse_dotenv, parse_model,
    valid_service_name,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

mod absent;
mod keep;
mod model;
mod plan;
mod rolling;
mod scripts;

pub use rolling::RollingStep;

/// A file of the project: its content from exactly one of `content`,
/// `template` or `source`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub content: Option<String>,
    pub template: Option<String>,
    pub source: Option<String>,
    /// The file's name in `dir`.
    pub file_name: Option<String>,
    /// Octal mode (compose file: default 0644 on creation, compared only
    /// when declared; env file: 0600 unless declared otherwise, always
    /// compared).
    pub mode: Option<String>,
    #[serde(skip)]
    loaded: Option<Vec<u8>>,
}

impl FileSpec {
    fn data(&self) -> &[u8] {
        match (&self.content, &self.loaded) {
            (Some(c), _) => c.as_bytes(),
            (None, Some(d)) => d,
            (None, None) => &[],
        }
    }

    fn sources(&self) -> Vec<&'static str> {
        [
            ("content", self.content.is_some()),
            ("template", self.template.is_some()),
            ("source", self.source.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| f)
        .collect()
    }

    fn load(&mut self, field: &'static str, cx: &mut dyn PrepareCx) -> Result<(), Invalid> {
        if self.sources().len() != 1 {
            return Ok(());
        }
        if let Some(t) = &self.template {
            self.loaded = Some(
                cx.render_template(t)
                    .map_err(|e| Invalid::field(field, e))?
                    .into_bytes(),
            );
        } else if let Some(s) = &self.source {
            self.loaded = Some(cx.read_local(s).map_err(|e| Invalid::field(field, e))?);
        }
        Ok(())
    }

    fn check(&self, field: &'static str, errs: &mut Vec<Invalid>) {
        self.check_sources(field, errs);
        self.check_name_and_mode(field, errs);
    }

    /// Exactly one of `content`, `template` or `source`.
    fn check_sources(&self, field: &'static str, errs: &mut Vec<Invalid>) {
        let sources = self.sources();
        if sources.len() != 1 {
            errs.push(
                Invalid::field(
                    field,
                    if sources.is_empty() {
                        format!("`{field}` needs its content")
                    } else {
                        format!(
                            "`{field}`: `{}` and `{}` both give the content",
                            sources[0], sources[1]
                        )
                    },
                )
                .help("use exactly one of `content`, `template` or `source`"),
            );
        }
    }

    /// `file_name` is a file name of `dir` that keel does not use itself,
    /// and `mode` is octal.
    fn check_name_and_mode(&self, field: &'static str, errs: &mut Vec<Invalid>) {
        if let Some(n) = &self.file_name
            && let Err(e) = check_file_name(n)
        {
            errs.push(
                Invalid::field(field, e.to_string())
                    .help("a file name in `dir`, e.g. `docker-compose.prod.yml`"),
            );
        }
        if let Some(m) = &self.mode
            && let Err(e) = normalize_mode(m)
        {
            errs.push(Invalid::field(field, e).help("e.g. mode: \"0600\""));
        }
    }
}

/// When images are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pull {
    /// Never: every image must already be on the host.
    Never,
    /// Images not on the host are pulled by `up` (Compose's default).
    #[default]
    Missing,
    /// `compose pull` before every `up` this kind runs.
    Always,
}

/// Waiting for the containers after `up`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// Seconds to wait for every checked service to run (and be healthy,
    /// when it has a health check); 0: don't wait.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> u64 {
    120
}

fn yes() -> bool {
    true
}

/// What is checked of a service's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Its containers run (and are healthy, with a health check).
    #[default]
    Running,
    /// Not checked (one-shot jobs such as migrations).
    Any,
}

/// Per-service settings.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// The image to run instead of the compose file's.
    pub image: Option<String>,
    #[serde(default)]
    pub state: Expect,
}

/// A Compose project.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    pub project: String,
    pub dir: String,
    /// `absent`: the project goes (see the module's documentation).
    #[serde(default)]
    pub state: State,
    /// With `state: absent`: also remove the project's volumes.
    #[serde(default)]
    pub remove_volumes: bool,
    /// The compose file (with `state: absent` only its `file_name` is
    /// read).
    #[serde(default)]
    pub file: FileSpec,
    #[serde(default)]
    pub env: Option<FileSpec>,
    #[serde(default)]
    pub pull: Pull,
    #[serde(default)]
    pub wait: Wait,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceSpec>,
    #[serde(default)]
    pub rolling: Vec<RollingStep>,
    #[serde(default = "yes")]
    pub remove_orphans: bool,
    /// The images of this many releases (the last ones the project ran)
    /// stay on the host; older ones are removed (1 to 100).
    #[serde(default = "keep::default_keep")]
    pub keep_releases: u32,
    /// The stack's release (set at prepare time).
    #[serde(skip)]
    release: Option<String>,
}

// ---------------------------------------------------------------------------
// The live state.

/// A file of the project as the probe saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveFile {
    Absent,
    File {
        data: Vec<u8>,
        mode: String,
    },
    /// A directory, link or special file.
    Other,
}

/// Which Compose is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// `docker compose` (the v2 plugin), with its version.
    V2(String),
    /// `docker-compose` (v1), with its version.
    V1(String),
}

impl Tool {
    fn describe(&self) -> String {
        match self {
            Tool::V2(v) => format!("docker compose {v}"),
            Tool::V1(v) => format!("docker-compose {v}"),
        }
    }
}

/// A container of the project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    pub service: String,
    pub number: String,
    pub oneoff: bool,
    /// `running`, `exited`, `created`, `restarting`, `paused`, `dead`.
    pub status: String,
    /// `healthy`, `unhealthy`, `starting`; empty without a health check.
    pub health: String,
    pub exit_code: String,
    /// The image reference it was created from.
    pub image: String,
    /// The id of the image it runs.
    pub image_id: String,
    pub name: String,
}

/// The live state of a compose project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeFact {
    /// The `docker` command exists.
    pub docker: bool,
    /// The docker daemon answered.
    pub daemon: bool,
    pub tool: Option<Tool>,
    pub dir_exists: bool,
    pub file: LiveFile,
    pub env: LiveFile,
    pub override_file: LiveFile,
    /// The hash written after the last successful `up`.
    pub hash: Option<String>,
    /// Image reference → its id on the host (`None`: not on the host).
    pub images: BTreeMap<String, Option<String>>,
    pub containers: Vec<Container>,
    /// The history of the releases' images (`keep_releases`), as read.
    pub releases: String,
    /// A rolling update's copy of the files is there: `Some(true)`
    /// complete, `Some(false)` partial (a run stopped while copying).
    pub previous: Option<bool>,
}

impl Default for ComposeFact {
    fn default() -> Self {
        ComposeFact {
            docker: false,
            daemon: false,
            tool: None,
            dir_exists: false,
            file: LiveFile::Absent,
            env: LiveFile::Absent,
            override_file: LiveFile::Absent,
            hash: None,
            images: BTreeMap::new(),
            containers: Vec::new(),
            releases: String::new(),
            previous: None,
        }
    }
}

// ---------------------------------------------------------------------------

impl Compose {
    fn file_name(&self) -> &str {
        self.file
            .file_name
            .as_deref()
            .unwrap_or("docker-compose.yml")
    }
    fn env_name(&self) -> Option<&str> {
        self.env
            .as_ref()
            .map(|e| e.file_name.as_deref().unwrap_or(".env"))
    }
    fn override_name(&self) -> String {
        format!("docker-compose.keel-{}.yml", self.project)
    }
    fn hash_name(&self) -> String {
        format!(".keel-compose-{}.sha256", self.project)
    }
    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.dir.trim_end_matches('/'))
    }

    fn model(&self) -> Model {
        parse_model(self.file.data()).unwrap_or_default()
    }

    fn env_vars(&self) -> BTreeMap<String, String> {
        self.env
            .as_ref()
            .map(|e| parse_dotenv(&String::from_utf8_lossy(e.data())))
            .unwrap_or_default()
    }

    /// The override file's content, when services set images.
    fn override_text(&self, model: &Model) -> Option<String> {
        let images: Vec<(&String, &String)> = self
            .services
            .iter()
            .filter_map(|(k, s)| s.image.as_ref().map(|i| (k, i)))
            .collect();
        if images.is_empty() {
            return None;
        }
        let js = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut t = format!(
            "# Written by keel (compose project {}): per-service settings.\n",
            self.project
        );
        if let Some(v) = &model.version {
            let _ = writeln!(t, "version: {}", js(v));
        }
        t.push_str("services:\n");
        for (svc, image) in images {
            let _ = writeln!(t, "  {}:\n    image: {}", js(svc), js(image));
        }
        Some(t)
    }

    /// The image each service should run, when keel can tell.
    fn desired_images(&self, model: &Model) -> BTreeMap<String, String> {
        let env = self.env_vars();
        let mut m = BTreeMap::new();
        for (name, svc) in &model.services {
            let img = match self.services.get(name).and_then(|s| s.image.clone()) {
                Some(i) => Some(i),
                None => svc.image.as_deref().and_then(|i| interpolate(i, &env)),
            };
            if let Some(i) = img.filter(|i| !i.is_empty()) {
                m.insert(name.clone(), i);
            }
        }
        m
    }

    /// Services whose containers must run.
    fn checked_services(&self, model: &Model) -> Vec<String> {
        model
            .services
            .iter()
            .filter(|(n, s)| {
                !s.optional
                    && self.services.get(*n).map(|x| x.state).unwrap_or_default() == Expect::Running
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The hash of everything `up` reads from keel's files.
    fn desired_hash(&self, model: &Model) -> String {
        self.files_hash(
            self.file.data(),
            self.env.as_ref().map(|e| e.data()),
            self.override_text(model).as_deref().map(str::as_bytes),
        )
    }

    /// The hash of the project's files with these contents (`None`: no
    /// env file declared; no override file).
    fn files_hash(&self, file: &[u8], env: Option<&[u8]>, override_text: Option<&[u8]>) -> String {
        let mut h = Vec::new();
        for part in [
            self.project.as_bytes(),
            self.file_name().as_bytes(),
            file,
            self.env_name().unwrap_or("-").as_bytes(),
            env.unwrap_or(b"-"),
            override_text.unwrap_or(b"-"),
        ] {
            h.extend_from_slice(part);
            h.push(0);
        }
        content::sha256_hex(&h)
    }

    fn env_mode(&self) -> String {
        self.env
            .as_ref()
            .and_then(|e| e.mode.as_deref())
            .and_then(|m| normalize_mode(m).ok())
            .unwrap_or_else(|| "0600".into())
    }

    fn file_mode(&self) -> Option<String> {
        self.file
            .mode
            .as_deref()
            .and_then(|m| normalize_mode(m).ok())
    }

    /// "web running (healthy), api running; docker-compose 1.29.2".
    fn describe(&self, fact: &ComposeFact, checked: &[String]) -> String {
        let mut parts = Vec::new();
        for svc in checked {
            let cs: Vec<&Container> = fact
                .containers
                .iter()
                .filter(|c| !c.oneoff && &c.service == svc)
                .collect();
            let Some(c) = cs.first() else {
                parts.push(format!("{svc} absent"));
                continue;
            };
            let mut p = format!("{svc} {}", c.status);
            if !c.health.is_empty() && c.status == "running" {
                let _ = write!(p, " ({})", c.health);
            }
            if cs.len() > 1 {
                let _ = write!(p, " ×{}", cs.len());
            }
            parts.push(p);
        }
        let mut s = if parts.is_empty() {
            "no checked services".to_string()
        } else {
            parts.join(", ")
        };
        if let Some(t) = &fact.tool {
            let _ = write!(s, "; {}", t.describe());
        }
        s
    }
}

fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

impl Kind for Compose {
    const KIND: &'static str = "compose";
    type Fact = ComposeFact;

    fn name(&self) -> String {
        self.project.clone()
    }

    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        let mut errs = Vec::new();
        self.release = cx.release().map(|r| r.version);
        if self.state == State::Absent {
            return Ok(());
        }
        if let Err(e) = self.file.load("file", cx) {
            errs.push(e);
        }
        if let Some(env) = &mut self.env
            && let Err(e) = env.load("env", cx)
        {
            errs.push(e);
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if let Err(e) = check_project(&self.project) {
            errs.push(Invalid::field("project", e.to_string()).help(
                "lower-case letters, digits, `-` and `_`, starting with a letter or digit (as `docker compose -p` requires)",
            ));
        }
        if let Some(e) = check_abs_path("dir", &self.dir) {
            errs.push(e);
        } else if self.dir.trim_end_matches('/').is_empty() {
            errs.push(Invalid::field("dir", "a project cannot live in `/`"));
        }
        if self.state == State::Absent {
            self.check_absent(&mut errs);
            return errs;
        }
        if self.remove_volumes {
            errs.push(
                Invalid::field(
                    "remove_volumes",
                    "`remove_volumes` only applies to `state: absent`",
                )
                .help("volumes are removed only when the project is, with `state: absent`"),
            );
        }
        self.file.check("file", &mut errs);
        if let Some(env) = &self.env {
            env.check("env", &mut errs);
            if self.env_name() == Some(self.file_name()) {
                errs.push(Invalid::field(
                    "env",
                    "the env file and the compose file have the same name",
                ));
            }
        }
        if self.file.sources().len() == 1 {
            match parse_model(self.file.data()) {
                Err(e) => errs.push(Invalid::field("file", e.to_string())),
                Ok(model) => {
                    let known = || {
                        model
                            .services
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    for (name, spec) in &self.services {
                        if !model.services.contains_key(name) {
                            errs.push(
                                Invalid::field(
                                    "services",
                                    format!("service `{name}` is not in the compose file"),
                                )
                                .help(format!("its services: {}", known())),
                            );
                        }
                        if let Some(i) = &spec.image
                            && let Err(e) = check_image(i)
                        {
                            errs.push(Invalid::field("services", e.to_string()));
                        }
                    }
                    let mut seen = BTreeSet::new();
                    for step in &self.rolling {
                        step.check_settings(&mut errs);
                        let r = step.service();
                        if !model.services.contains_key(r) {
                            errs.push(
                                Invalid::field(
                                    "rolling",
                                    format!("service `{r}` is not in the compose file"),
                                )
                                .help(format!("its services: {}", known())),
                            );
                        } else if !seen.insert(r) {
                            errs.push(Invalid::field("rolling", format!("`{r}` is listed twice")));
                        }
                    }
                    for name in model.services.keys() {
                        if !valid_service_name(name) {
                            errs.push(Invalid::field(
                                "file",
                                format!(
                                    "`{}` is not a valid compose service name",
                                    name.escape_debug()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if !(1..=100).contains(&self.keep_releases) {
            errs.push(
                Invalid::field("keep_releases", "`keep_releases` is from 1 to 100").help(
                    "the number of releases whose images stay on the host, e.g. keep_releases: 3",
                ),
            );
        }
        if self.wait.timeout > 3600 {
            errs.push(
                Invalid::field("wait", "`timeout` is at most 3600 seconds")
                    .help("a deploy that takes longer is better split up"),
            );
        }
        errs
    }

    fn links(&self) -> Links {
        if self.state == State::Absent {
            return Links {
                provides: Vec::new(),
                needs: vec![Ref::Service("docker".into())],
            };
        }
        let mut provides = vec![
            Ref::Path(self.path(self.file_name())),
            Ref::Path(self.path(&self.override_name())),
        ];
        if let Some(e) = self.env_name() {
            provides.push(Ref::Path(self.path(e)));
        }
        Links {
            provides,
            needs: vec![Ref::Service("docker".into()), Ref::Path(self.dir.clone())],
        }
    }

    fn probe(&self) -> String {
        self.probe_script()
    }

    fn parse(&self, out: &ProbeOutput) -> Result<ComposeFact, FactError> {
        out.check("the compose probe")?;
        let mut fact = ComposeFact::default();
        let mut modes: BTreeMap<&str, String> = BTreeMap::new();
        let mut datas: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        let mut others: BTreeSet<&str> = BTreeSet::new();
        for (k, v) in kv_lines(&out.stdout) {
            match k {
                "dir" => fact.dir_exists = v.trim() == "yes",
                "docker" => fact.docker = v.trim() == "yes",
                "daemon" => fact.daemon = v.trim() == "up",
                "compose" => {
                    let v = v.trim();
                    let (flavour, version) = v.split_once(' ').unwrap_or((v, ""));
                    let version = version.trim().to_string();
                    fact.tool = match flavour {
                        "v2" => Some(Tool::V2(version)),
                        "v1" => Some(Tool::V1(version)),
                        _ => None,
                    };
                }
                "releases" => {
                    let text = shell::unbase64(v).map_err(|e| format!("releases: {e}"))?;
                    fact.releases = String::from_utf8_lossy(&text).into_owned();
                }
                "previous" => fact.previous = Some(v.trim() == "complete"),
                "hash" => {
                    let h = v.trim();
                    fact.hash = (!h.is_empty()).then(|| h.to_string());
                }
                "image" => {
                    let (r, id) = v.split_once('|').unwrap_or((v, ""));
                    let id = id.trim();
                    fact.images
                        .insert(r.to_string(), (!id.is_empty()).then(|| id.to_string()));
                }
                "ctr" => {
                    let p: Vec<&str> = v.split('|').collect();
                    if p.len() != 9 {
                        return Err(FactError::Unexpected(format!(
                            "unexpected container line {v:?}"
                        )));
                    }
                    fact.containers.push(Container {
                        service: p[0].to_string(),
                        number: p[1].to_string(),
                        oneoff: p[2].eq_ignore_ascii_case("true"),
                        status: p[3].to_string(),
                        health: p[4].to_string(),
                        exit_code: p[5].to_string(),
                        image: p[6].to_string(),
                        image_id: p[7].to_string(),
                        name: p[8].trim_start_matches('/').to_string(),
                    });
                }
                key => {
                    for f in ["file", "env", "override"] {
                        if key == f {
                            datas.insert(
                                f,
                                shell::unbase64(v).map_err(|e| format!("{f} content: {e}"))?,
                            );
                        } else if key.strip_prefix(f) == Some("_mode") {
                            modes.insert(f, v.trim().to_string());
                        } else if key.strip_prefix(f) == Some("_type") {
                            others.insert(f);
                        }
                    }
                }
            }
        }
        let live = |f: &str| -> LiveFile {
            if others.contains(f) {
                LiveFile::Other
            } else if let Some(d) = datas.get(f) {
                LiveFile::File {
                    data: d.clone(),
                    mode: modes.get(f).cloned().unwrap_or_default(),
                }
            } else {
                LiveFile::Absent
            }
        };
        fact.file = live("file");
        fact.env = live("env");
        fact.override_file = live("override");
        Ok(fact)
    }

    fn plan(&self, fact: &ComposeFact) -> Planned {
        if self.state == State::Absent {
            return self.plan_absent(fact);
        }
        self.plan_project(fact)
    }

    fn notified(&self, _fact: &ComposeFact, _diff: &Diff) -> Option<Vec<Cmd>> {
        if self.state == State::Absent {
            return None;
        }
        let model = self.model();
        let checked = self.checked_services(&model);
        let mut s = self.compose_prelude(self.override_text(&model).is_some());
        s.push_str(&self.wait_function());
        s.push_str("keel_compose restart\n");
        if self.wait.timeout > 0 && !checked.is_empty() {
            let list = checked.iter().map(|x| q(x)).collect::<Vec<_>>().join(" ");
            let _ = writeln!(s, "keel_wait {list}");
        }
        Some(vec![Cmd::new(
            format!("restart compose project {}", self.project),
            s,
        )])
    }

    fn notifiable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{a, attrs};
    use crate::resources::testing::{load, run_local, try_load};

    const COMPOSE: &str = "services:\n  web:\n    image: local/web:${TAG:-1}\n    healthcheck:\n      test: [CMD, /bin/busybox, wget, -q, -O-, http://127.0.0.1:8080/]\n  api:\n    image: local/web:1\n  tools:\n    image: local/tools\n    profiles: [debug]\n";

    fn yaml(extra: &str) -> String {
        format!(
            "project: app\ndir: /srv/app\nfile:\n  content: {}\nenv:\n  content: \"TOKEN=abc\\nGREETING=hi\\n\"\n{extra}",
            serde_json::to_string(COMPOSE).unwrap()
        )
    }

    fn b64(s: &str) -> String {
        shell::base64(s.as_bytes()).replace('\n', "")
    }

    fn compose(extra: &str) -> Compose {
        let node = Node::parse(&yaml(extra)).unwrap();
        let c: Compose = node.deserialize().unwrap();
        assert!(Kind::check(&c).is_empty(), "{:?}", Kind::check(&c));
        c
    }

    fn live(c: &Compose, containers: &str) -> String {
        let model = c.model();
        let mut s = String::from("dir=yes\ndocker=yes\ncompose=v1 1.29.2\ndaemon=up\n");
        s.push_str(&format!(
            "file_mode=644\nfile={}\n",
            b64(std::str::from_utf8(c.file.data()).unwrap())
        ));
        if let Some(e) = &c.env {
            s.push_str(&format!(
                "env_mode=600\nenv={}\n",
                b64(std::str::from_utf8(e.data()).unwrap())
            ));
        }
        if let Some(o) = c.override_text(&model) {
            s.push_str(&format!("override_mode=644\noverride={}\n", b64(&o)));
        }
        s.push_str(&format!("hash={}\n", c.desired_hash(&model)));
        s.push_str(containers);
        s
    }

    fn ev(c: &Compose, out: &str) -> (Diff, Vec<Cmd>) {
        let fact = c.parse(&ProbeOutput::ok(out)).unwrap();
        let p = c.plan(&fact);
        (p.diff, p.commands)
    }

    const RUNNING: &str = "image=local/web:1|sha256:aaaa\nctr=web|1|False|running|healthy|0|local/web:1|sha256:aaaa|/app_web_1\nctr=api|1|False|running||0|local/web:1|sha256:aaaa|/app_api_1\n";

    #[test]
    fn fresh_host_creates_files_and_brings_the_project_up() {
        let c = compose("");
        let (d, cmds) = ev(&c, "dir=no\ndocker=no\n");
        assert_eq!(d.action(), Action::Create);
        let content = d.content.as_ref().unwrap();
        assert_eq!(content.before, None);
        assert_eq!(content.after, COMPOSE);
        assert_eq!(
            attrs(&d),
            vec![
                a(".env GREETING", None, Some("(set)")),
                a(".env TOKEN", None, Some("(set)")),
                a("api state", None, Some("running")),
                a("web state", None, Some("running")),
            ]
        );
        assert!(
            d.unknown
                .as_deref()
                .unwrap()
                .contains("docker is not installed yet")
        );
        assert!(
            d.reason
                .as_deref()
                .unwrap()
                .contains("/srv/app will be created")
        );
        let summaries: Vec<&str> = cmds.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "write docker-compose.yml, .env in /srv/app (validated with compose config)",
                "docker compose up -d (project app), wait until running/healthy (120 s)",
            ]
        );
        // The profile-only service is not waited for.
        assert!(cmds[1].script.contains("keel_wait api web\n"));
        assert!(
            cmds[1]
                .script
                .contains("keel_compose up -d --remove-orphans\n")
        );
        assert!(cmds[1].script.contains(".keel-compose-app.sha256"));
        // The hash covers the env file (secrets): readable by root only.
        let hash_part = &cmds[1].script[cmds[1].script.find(".keel-compose-app.sha256").unwrap()..];
        assert!(
            hash_part.contains("chmod 0600 \"$keel_tmp\""),
            "{hash_part}"
        );
        // Secrets never appear in summaries or attributes.
        assert!(!format!("{d:?}{summaries:?}").contains("abc"));
    }

    #[test]
    fn converged_project_is_noop_with_status() {
        let c = compose("");
        let (d, cmds) = ev(&c, &live(&c, RUNNING));
        assert_eq!(d.action(), Action::NoOp, "{d:?}");
        assert!(cmds.is_empty());
        assert_eq!(
            d.reason.as_deref(),
            Some("api running, web running (healthy); docker-compose 1.29.2")
        );
        // A health check still starting is not drift.
        let (d, _) = ev(&c, &live(&c, &RUNNING.replace("healthy", "starting")));
        assert_eq!(d.action(), Action::NoOp);
    }

    #[test]
    fn stopped_container_is_drift_and_up_restarts_it() {
        let c = compose("");
        let out = live(
            &c,
            &RUNNING.replace("web|1|False|running|healthy|0", "web|1|False|exited||137"),
        );
        let (d, cmds) = ev(&c, &out);
        assert_eq!(d.action(), Action::Update);
        assert_eq!(
            attrs(&d),
            vec![a("web state", Some("exited"), Some("running"))]
        );
        assert!(d.content.is_none());
        assert!(
            d.reason
                .as_deref()
                .unwrap()
                .contains("app_web_1 exited with status 137")
        );
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            cmds[0].summary,
            "docker-compose up -d (project app), wait until running/healthy (120 s)"
        );
        // No file is rewritten for a state drift.
        assert!(!cmds[0].script.contains("config -q"));
        // A missing container too.
        let (d, _) = ev(
            &c,
            &live(
                &c,
                "image=local/web:1|sha256:aaaa\nctr=api|1|False|running||0|local/web:1|sha256:aaaa|/app_api_1\n",
            ),
        );
        assert_eq!(attrs(&d), vec![a("web state", None, Some("running"))]);
    }

    #[test]
    fn unhealthy_container_is_restarted() {
        let c = compose("");
        let (d, cmds) = ev(&c, &live(&c, &RUNNING.replace("|healthy|", "|unhealthy|")));
        assert_eq!(
            attrs(&d),
            vec![a("web health", Some("unhealthy"), Some("healthy"))]
        );
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].summary, "restart unhealthy web (project app)");
        assert!(
            cmds[0]
                .script
                .contains("keel_compose restart web\nkeel_wait web\n")
        );
    }

    #[test]
    fn image_change_rolls_services_one_at_a_time() {
        let c = compose("services:\n  web: { image: local/web:2 }\nrolling: [web, api]\n");
        let mut out = live(&c, RUNNING);
        // The override file was not written yet: live is the old state.
        out = out
            .lines()
            .filter(|l| !l.starts_with("override") && !l.starts_with("hash="))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str("image=local/web:2|sha256:bbbb\n");
        let (d, cmds) = ev(&c, &out);
        assert_eq!(d.action(), Action::Update);
        assert_eq!(
            attrs(&d),
            vec![
                a(
                    "docker-compose.keel-app.yml",
                    None,
                    Some("images web=local/web:2")
                ),
                a("web image", Some("local/web:1"), Some("local/web:2")),
            ]
        );
        assert_eq!(cmds.len(), 2);
        assert_eq!(
            cmds[0].summary,
            "write docker-compose.keel-app.yml in /srv/app (validated with compose config)"
        );
        assert!(cmds[0].script.contains("keel_with_override=yes\n"));
        assert_eq!(
            cmds[1].summary,
            "docker-compose up -d --no-deps web, api one at a time, then up -d (project app), wait until running/healthy (120 s)"
        );
        let s = &cmds[1].script;
        let web = s.find("keel_step web\n").unwrap();
        let api = s.find("keel_step api\n").unwrap();
        // Then the whole project, gated too (a failure puts the files back).
        let all = s.find("\nkeel_last api web\n").unwrap();
        assert!(web < api && api < all);
        // The override keeps the compose file's version.
        let c2 = Compose {
            file: FileSpec {
                content: Some(format!("version: \"3.8\"\n{COMPOSE}")),
                ..FileSpec::default()
            },
            ..compose("services:\n  web: { image: local/web:2 }\n")
        };
        let o = c2.override_text(&c2.model()).unwrap();
        assert!(
            o.contains("version: \"3.8\"\nservices:\n  \"web\":\n    image: \"local/web:2\"\n"),
            "{o}"
        );
    }

    #[test]
    fn retagged_image_is_drift() {
        let c = compose("");
        let out = live(
            &c,
            &RUNNING.replace(
                "image=local/web:1|sha256:aaaa",
                "image=local/web:1|sha256:cccccccccccccccccc",
            ),
        );
        let (d, _) = ev(&c, &out);
        assert_eq!(
            attrs(&d),
            vec![
                a(
                    "api image",
                    Some("local/web:1 (sha256:aaaa)"),
                    Some("local/web:1 (sha256:cccccccccccc)")
                ),
                a(
                    "web image",
                    Some("local/web:1 (sha256:aaaa)"),
                    Some("local/web:1 (sha256:cccccccccccc)")
                ),
            ]
        );
    }

    #[test]
    fn file_and_env_drift_hide_env_values() {
        let c = compose("");
        let mut out = live(&c, RUNNING);
        out = out.replace(
            &b64("TOKEN=abc\nGREETING=hi\n"),
            &b64("TOKEN=old-secret\nOLD=1\nGREETING=hi\n"),
        );
        out = out.replace(&b64(COMPOSE), &b64(&COMPOSE.replace("api:", "apii:")));
        let (d, cmds) = ev(&c, &out);
        assert_eq!(
            attrs(&d),
            vec![
                a(".env OLD", Some("(set)"), None),
                a(".env TOKEN", Some("(old value)"), Some("(new value)")),
            ]
        );
        assert!(!format!("{d:?}").contains("old-secret"));
        let content = d.content.as_ref().unwrap();
        assert!(content.before.as_deref().unwrap().contains("apii:"));
        assert_eq!(cmds.len(), 2);
        assert!(cmds[0].script.contains("config -q"));
        // Only the hash is stale: up again, with the reason.
        let c = compose("");
        let out =
            live(&c, RUNNING).replace(&format!("hash={}", c.desired_hash(&c.model())), "hash=0000");
        let (d, cmds) = ev(&c, &out);
        assert_eq!(d.action(), Action::Update);
        assert!(
            d.reason
                .as_deref()
                .unwrap()
                .contains("not brought up with these files yet")
        );
        assert_eq!(cmds.len(), 1);
        // Env mode drift alone: chmod, no up.
        let c = compose("");
        let out = live(&c, RUNNING).replace("env_mode=600", "env_mode=644");
        let (d, cmds) = ev(&c, &out);
        assert_eq!(attrs(&d), vec![a(".env mode", Some("0644"), Some("0600"))]);
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].summary, "chmod 0600 /srv/app/.env");
    }

    #[test]
    fn orphans_pull_never_and_refusals() {
        let c = compose("pull: never\n");
        let out = live(
            &c,
            &format!(
                "{RUNNING}ctr=old|1|False|running||0|x|sha256:1|/app_old_1\nimage=local/web:1|\n"
            ),
        );
        let (d, cmds) = ev(&c, &out);
        assert!(attrs(&d).contains(&a(
            "old state",
            Some("running"),
            Some("(removed: no longer declared)")
        )));
        assert!(
            d.reason
                .as_deref()
                .unwrap()
                .contains("`pull: never`, and local/web:1 not on the host")
        );
        assert!(cmds[0].script.contains("docker image inspect \"$keel_i\""));
        let c = compose("remove_orphans: false\n");
        let out = live(
            &c,
            &format!("{RUNNING}ctr=old|1|False|running||0|x|sha256:1|/app_old_1\n"),
        );
        assert_eq!(ev(&c, &out).0.action(), Action::NoOp);
        // One-off containers (`compose run`) are ignored.
        let out = live(
            &c,
            &format!("{RUNNING}ctr=web|1|True|exited||0|local/web:1|sha256:aaaa|/app_web_run_1\n"),
        );
        assert_eq!(ev(&c, &out).0.action(), Action::NoOp);
        // state: any is not checked.
        let c = compose("services:\n  web: { state: any }\n");
        let out = live(
            &c,
            &RUNNING.replace("web|1|False|running|healthy|0", "web|1|False|exited||0"),
        );
        assert_eq!(ev(&c, &out).0.action(), Action::NoOp);
        // A directory where the compose file should be.
        let (d, cmds) = ev(&c, "dir=yes\nfile_type=other\ndocker=yes\ndaemon=up\n");
        assert!(
            d.reason
                .as_deref()
                .unwrap()
                .contains("/srv/app/docker-compose.yml is not a regular file")
        );
        assert_eq!(run_local(&cmds[0].script).status, 1);
    }

    #[test]
    fn parse_odd_outputs() {
        let c = compose("");
        assert!(c.parse(&ProbeOutput::ok("")).is_ok());
        assert!(c.parse(&ProbeOutput::ok("ctr=a|b\n")).is_err());
        assert!(c.parse(&ProbeOutput::ok("file=!!!\n")).is_err());
        let f = c
            .parse(&ProbeOutput::ok(
                "file=\nfile_mode=644\ndocker=yes\ndaemon=down\n",
            ))
            .unwrap();
        assert_eq!(
            f.file,
            LiveFile::File {
                data: vec![],
                mode: "644".into()
            }
        );
        let (d, _) = ev(
            &c,
            "file=\nfile_mode=644\ndocker=yes\ndaemon=down\ndir=yes\n",
        );
        assert!(
            d.unknown
                .as_deref()
                .unwrap()
                .contains("docker does not answer")
        );
        assert!(
            c.parse(&ProbeOutput {
                stdout: String::new(),
                stderr: "boom".into(),
                status: 2
            })
            .is_err()
        );
        // compose absent although docker is there.
        let (d, _) = ev(&c, "docker=yes\ndaemon=up\ndir=yes\n");
        assert!(
            d.unknown
                .as_deref()
                .unwrap()
                .contains("neither `docker compose`")
        );
    }

    #[test]
    fn validation_errors() {
        let bad = |extra: &str, want: &str| {
            let err = try_load("compose", &yaml(extra)).unwrap_err();
            assert!(err.contains(want), "{extra}: {err}");
        };
        bad(
            "rolling: [nope]\n",
            "service `nope` is not in the compose file",
        );
        bad("rolling: [web, web]\n", "`web` is listed twice");
        bad(
            "services:\n  nope: { image: x }\n",
            "service `nope` is not in the compose file",
        );
        bad(
            "services:\n  web: { image: \"a b\" }\n",
            "not an image reference",
        );
        bad("wait: { timeout: 99999 }\n", "at most 3600");
        bad("pull: sometimes\n", "unknown value");
        let e = |y: &str, want: &str| {
            let err = try_load("compose", y).unwrap_err();
            assert!(err.contains(want), "{y}: {err}");
        };
        e(
            "project: App\ndir: /srv/app\nfile: { content: \"services: {a: {image: x}}\" }",
            "not a compose project name",
        );
        e(
            "project: app\ndir: srv/app\nfile: { content: \"services: {a: {image: x}}\" }",
            "not an absolute path",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"services: [\" }",
            "not valid YAML",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"version: '3'\" }",
            "no `services:` map",
        );
        e("project: app\ndir: /srv/app\nfile: {}", "needs its content");
        e(
            "project: app\ndir: /srv/app\nfile: { content: x, source: y }",
            "both give the content",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"services: {a: {image: x}}\", file_name: ../x }",
            "not a file name",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"services: {a: {image: x}}\", mode: rw }",
            "not an octal file mode",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"services: {a: {image: x}}\" }\nenv: { content: x, file_name: docker-compose.yml }",
            "same name",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"services: {a: {image: x}}\" }\nbogus: 1",
            "unknown key",
        );
        e(
            "project: app\ndir: /srv/app\nfile: { content: \"services: {a: {image: x}}\" }\nenv: { template: /nonexistent/env.hbs }",
            "cannot read",
        );
    }

    #[test]
    fn interpolation_and_dotenv() {
        let env =
            parse_dotenv("A=1\nexport B=\"two\"\nC='3' \nD=x #comment\n# c\nE=\nnot a line\n");
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert_eq!(env.get("B").map(String::as_str), Some("two"));
        assert_eq!(env.get("C").map(String::as_str), Some("3"));
        assert_eq!(env.get("D").map(String::as_str), Some("x"));
        assert_eq!(env.get("E").map(String::as_str), Some(""));
        let i = |s: &str| interpolate(s, &env);
        assert_eq!(i("img:${A}").as_deref(), Some("img:1"));
        assert_eq!(i("img:$A-$B").as_deref(), Some("img:1-two"));
        assert_eq!(i("img:${E:-def}").as_deref(), Some("img:def"));
        assert_eq!(i("img:${E-def}").as_deref(), Some("img:"));
        assert_eq!(i("img:${Z:-${A}}").as_deref(), Some("img:1"));
        assert_eq!(i("img:${A:+yes}").as_deref(), Some("img:yes"));
        assert_eq!(i("$$A").as_deref(), Some("$A"));
        assert_eq!(i("img:${Z}"), None);
        assert_eq!(i("img:${Z:?must}"), None);
        assert_eq!(i("a $ b").as_deref(), Some("a $ b"));
        // The compose file's ${TAG:-1} resolves with the env file.
        let c = compose("");
        assert_eq!(
            c.desired_images(&c.model()).get("web").map(String::as_str),
            Some("local/web:1")
        );
        // Merge keys are followed.
        let m = parse_model(
            b"x-common: &c\n  image: base:1\nservices:\n  a:\n    <<: *c\n    ports: []\n",
        )
        .unwrap();
        assert_eq!(m.services["a"].image.as_deref(), Some("base:1"));
    }

    #[test]
    fn probe_reads_nothing_it_should_not_and_runs_locally() {
        // The probe runs anywhere (no docker here is fine) and reads files.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("app dir; $(touch x)");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("docker-compose.yml"), COMPOSE).unwrap();
        let y = format!(
            "project: app\ndir: {}\nfile:\n  content: {}\n",
            serde_json::to_string(d.to_str().unwrap()).unwrap(),
            serde_json::to_string(COMPOSE).unwrap()
        );
        let r = load("compose", &y);
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(out.stdout.contains("dir=yes"));
        let e = r.evaluate(&out).unwrap();
        assert!(e.diff.content.is_none(), "same file: {:?}", e.diff);
        assert!(!d.join("x").exists());
    }

    #[test]
    fn write_script_validates_before_replacing_and_restores_env() {
        // A fake `docker-compose` whose `config -q` fails when the compose
        // file contains BROKEN; files are checked on disk afterwards.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("app 'dir'");
        std::fs::create_dir(&d).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let fake = bin.join("docker-compose");
        std::fs::write(
            &fake,
            "#!/bin/sh\nf=\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    -f) shift; if [ -z \"$f\" ]; then f=\"$1\"; fi ;;\n    config) if grep -q BROKEN \"$f\"; then echo \"ERROR: bad compose file\" >&2; exit 1; fi; exit 0 ;;\n  esac\n  shift\ndone\nexit 0\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            d.join("docker-compose.yml"),
            "services: {old: {image: x}}\n",
        )
        .unwrap();
        std::fs::write(d.join(".env"), "TOKEN=old\n").unwrap();
        let mk = |compose: &str| {
            format!(
                "project: app\ndir: {}\nfile:\n  content: {}\nenv:\n  content: \"TOKEN=new'$(touch pwned)\\n\"\n",
                serde_json::to_string(d.to_str().unwrap()).unwrap(),
                serde_json::to_string(compose).unwrap()
            )
        };
        let run = |y: &str| {
            let r = load("compose", y);
            let out = run_local(&r.probe());
            let e = r.evaluate(&out).unwrap();
            let script = format!(
                "set -e\nPATH={}:$PATH\ndocker() {{ return 1; }}\n{}",
                q(bin.to_str().unwrap()),
                e.commands[0].script
            );
            run_local(&script)
        };
        let out = run(&mk("services:\n  web:\n    image: x\n    BROKEN: 1\n"));
        assert_eq!(out.status, 1);
        assert!(
            out.stderr.contains("ERROR: bad compose file"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("left as they were"), "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services: {old: {image: x}}\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".env")).unwrap(),
            "TOKEN=old\n"
        );
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");

        let out = run(&mk("services:\n  web:\n    image: x\n"));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: x\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".env")).unwrap(),
            "TOKEN=new'$(touch pwned)\n"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(d.join(".env")).unwrap().mode() & 0o777,
            0o600
        );
        assert!(!d.join("pwned").exists() && !dir.path().join("pwned").exists());
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "no temporary or backup files left: {names:?}"
        );
    }

    #[test]
    fn links_and_notify() {
        let r = load("compose", &yaml(""));
        let l = r.links();
        assert!(l.needs.contains(&Ref::Service("docker".into())));
        assert!(l.needs.contains(&Ref::Path("/srv/app".into())));
        assert!(l.provides.contains(&Ref::Path("/srv/app/.env".into())));
        assert!(r.notifiable());
        let e = r
            .evaluate(&ProbeOutput::ok(
                "docker=yes\ndaemon=up\ncompose=v2 2.20.2\n",
            ))
            .unwrap();
        assert_eq!(e.on_notify[0].summary, "restart compose project app");
        assert!(e.on_notify[0].script.contains("keel_compose restart\n"));
        assert_eq!(r.name(), "app");
    }
}
