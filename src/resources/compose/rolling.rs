//! `rolling:`: the services updated one at a time, each waited for and,
//! when it declares a `check`, checked with a shell command before the
//! next; a failed step puts the previous files back and brings the
//! services updated so far up again with them (`rollout.sh`,
//! `keep_previous.sh`).

use super::*;
use crate::shell::Script;

/// A service of `rolling`: its name alone, or with a check run once it is
/// up (`{service: backend, check: "curl -fsS https://api.example.com/health"}`).
#[derive(Debug, Clone, PartialEq, Eq, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RollingStep {
    /// Update the service and wait for it.
    Service(String),
    /// Update the service, wait for it, then run its check.
    Checked(CheckedStep),
}

/// By hand rather than `untagged`, so a wrong key of a step is reported
/// as such (`unknown key `chek``, at the key) instead of "no variant matched".
impl<'de> serde::Deserialize<'de> for RollingStep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RollingStep;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a service name, or a map with `service` and `check`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RollingStep, E> {
                Ok(RollingStep::Service(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<RollingStep, A::Error> {
                let de = serde::de::value::MapAccessDeserializer::new(m);
                serde::Deserialize::deserialize(de).map(RollingStep::Checked)
            }
        }
        d.deserialize_any(V)
    }
}

/// A rolling step with a health check between it and the next.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckedStep {
    pub service: String,
    /// A shell command run on the host after the service is up (and
    /// healthy); exit status 0 passes.
    pub check: String,
    /// Attempts before the check fails (1 to 100).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seconds between attempts (at most 300).
    #[serde(default = "default_delay")]
    pub delay: u64,
    /// Seconds an attempt may take (1 to 600).
    #[serde(default = "default_check_timeout")]
    pub timeout: u64,
}

fn default_retries() -> u32 {
    5
}
fn default_delay() -> u64 {
    3
}
fn default_check_timeout() -> u64 {
    30
}

impl RollingStep {
    pub(super) fn service(&self) -> &String {
        match self {
            RollingStep::Service(s) => s,
            RollingStep::Checked(c) => &c.service,
        }
    }

    fn checked(&self) -> Option<&CheckedStep> {
        match self {
            RollingStep::Service(_) => None,
            RollingStep::Checked(c) => Some(c),
        }
    }

    /// The errors of a step's check settings.
    pub(super) fn check_settings(&self, errs: &mut Vec<Invalid>) {
        let Some(c) = self.checked() else { return };
        let svc = &c.service;
        if c.check.trim().is_empty() || c.check.contains('\0') {
            errs.push(
                Invalid::field("rolling", format!("the check of `{svc}` is empty")).help(
                    "a shell command, e.g. check: \"curl -fsS http://127.0.0.1:8080/health\"",
                ),
            );
        }
        if !(1..=100).contains(&c.retries) {
            errs.push(Invalid::field(
                "rolling",
                format!("`{svc}`: `retries` is from 1 to 100"),
            ));
        }
        if c.delay > 300 {
            errs.push(Invalid::field(
                "rolling",
                format!("`{svc}`: `delay` is at most 300 seconds"),
            ));
        }
        if !(1..=600).contains(&c.timeout) {
            errs.push(Invalid::field(
                "rolling",
                format!("`{svc}`: `timeout` is from 1 to 600 seconds"),
            ));
        }
    }

    /// How the plan names the step: `backend` or `backend (then check)`.
    pub(super) fn describe(&self) -> String {
        match self {
            RollingStep::Service(s) => s.clone(),
            RollingStep::Checked(c) => format!("{} (then check `{}`)", c.service, c.check),
        }
    }
}

impl Compose {
    /// Where the files replaced by a rolling update are kept until it
    /// succeeds.
    pub(super) fn prev_dir(&self) -> String {
        self.path(&format!(".keel-compose-{}.previous", self.project))
    }

    /// The live files are the ones the last `up` that succeeded brought
    /// up (the hash file says so).
    fn live_files_good(&self, fact: &ComposeFact) -> bool {
        let data = |f: &LiveFile| match f {
            LiveFile::File { data, .. } => Some(data.clone()),
            _ => None,
        };
        let Some(file) = data(&fact.file) else {
            return false;
        };
        let env = self
            .env
            .as_ref()
            .map(|_| data(&fact.env).unwrap_or_default());
        let ovr = data(&fact.override_file);
        let live = self.files_hash(&file, env.as_deref(), ovr.as_deref());
        fact.hash.as_deref() == Some(live.as_str())
    }

    /// For a rolling update: (copy the files aside before replacing them,
    /// put a copy back when a step fails). A complete copy left by an
    /// earlier run that stopped midway holds the last files that came up
    /// while the live ones did not: it is kept and is what a failure puts
    /// back. Otherwise the files are copied when this run replaces them;
    /// an unfinished copy is never put back.
    pub(super) fn previous_plan(&self, fact: &ComposeFact, files_change: bool) -> (bool, bool) {
        if fact.previous == Some(true) && !self.live_files_good(fact) {
            (false, true)
        } else {
            (files_change, files_change)
        }
    }

    /// Copy the files as they are into `prev_dir` (in the write command,
    /// before anything is replaced).
    pub(super) fn keep_previous_script(&self) -> String {
        Script::new(include_str!("keep_previous.sh"))
            .set("keel_prev", self.prev_dir())
            .render()
    }

    /// The rolling steps, then `up -d` of the whole project and the wait
    /// for the `checked` services as the last step; `restore`: the files
    /// were replaced in this run (kept in `prev_dir`), so a failed step
    /// puts them back.
    pub(super) fn rolling_script(
        &self,
        steps: &[&RollingStep],
        restore: bool,
        checked: &[String],
    ) -> String {
        let mut s = String::new();
        if !restore {
            // A copy left by an earlier run is not needed: the live files
            // came up, or none is complete.
            let _ = writeln!(s, "rm -rf -- {}", q(&self.prev_dir()));
        }
        s += &Script::new(include_str!("rollout.sh"))
            .set(
                "keel_prev",
                if restore {
                    self.prev_dir()
                } else {
                    String::new()
                },
            )
            .flag("keel_wait_on", self.wait.timeout > 0)
            .set("keel_name", format!("keel: compose[{}]", self.project))
            .flag("keel_orphans", self.remove_orphans)
            .render();
        for step in steps {
            let _ = write!(s, "keel_step {}", q(step.service()));
            if let Some(c) = step.checked() {
                let _ = write!(
                    s,
                    " {} {} {} {}",
                    q(&c.check),
                    c.retries,
                    c.delay,
                    c.timeout
                );
            }
            s.push('\n');
        }
        s.push_str("keel_last");
        for c in checked {
            let _ = write!(s, " {}", q(c));
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::{load, run_local, try_load};
    use std::path::Path;

    /// A project in `dir` rolling `web` with the given step settings.
    fn yaml(dir: &Path, image: &str, step: &str) -> String {
        format!(
            "project: app\ndir: {}\nfile:\n  content: {}\nenv:\n  content: \"TOKEN=new\\n\"\nwait: {{ timeout: 0 }}\nrolling: [{step}]\n",
            serde_json::to_string(dir.to_str().unwrap()).unwrap(),
            serde_json::to_string(&format!("services:\n  web:\n    image: {image}\n")).unwrap(),
        )
    }

    #[test]
    fn steps_parse_plain_and_checked_and_are_validated() {
        let d = Path::new("/srv/app");
        let r = load(
            "compose",
            &yaml(
                d,
                "x",
                "{service: web, check: \"curl -f http://127.0.0.1/\"}",
            ),
        );
        let e = r
            .evaluate(&ProbeOutput::ok(
                "dir=yes\ndocker=yes\ndaemon=up\ncompose=v2 2.20\nctr=web|1|False|running||0|old|sha256:a|/app-web-1\n",
            ))
            .unwrap();
        let up = e.commands.last().unwrap();
        assert_eq!(
            up.summary,
            "docker compose up -d --no-deps web (then check `curl -f http://127.0.0.1/`) one at a time, then up -d (project app)"
        );
        assert!(
            up.script
                .contains("keel_step web 'curl -f http://127.0.0.1/' 5 3 30\n"),
            "{}",
            up.script
        );
        // The plain form still loads.
        load("compose", &yaml(d, "x", "web"));
        let bad = |step: &str, want: &str| {
            let err = try_load("compose", &yaml(d, "x", step)).unwrap_err();
            assert!(err.contains(want), "{step}: {err}");
        };
        bad(
            "{service: web, check: \" \"}",
            "the check of `web` is empty",
        );
        bad(
            "{service: web, check: x, retries: 0}",
            "`retries` is from 1 to 100",
        );
        bad(
            "{service: web, check: x, timeout: 0}",
            "`timeout` is from 1 to 600",
        );
        bad(
            "{service: web, check: x, delay: 301}",
            "`delay` is at most 300",
        );
        bad(
            "{service: nope, check: x}",
            "service `nope` is not in the compose file",
        );
        bad("{service: web, chek: x}", "unknown key `chek`");
        bad(
            "[web]",
            "a service name, or a map with `service` and `check`",
        );
    }

    /// Probe `dir` locally as a running project, then run the commands one
    /// by one (as apply does, `set -e`) with a fake `docker-compose` that
    /// logs each call and the image of the compose file it was given.
    fn apply(dir: &Path, bin: &Path, y: &str) -> Vec<ProbeOutput> {
        let r = load("compose", y);
        let mut out = run_local(&r.probe());
        out.stdout.push_str(
            "docker=yes\ndaemon=up\ncompose=v1 1.29.2\nctr=web|1|False|running||0|old|sha256:a|/app_web_1\n",
        );
        let e = r.evaluate(&out).unwrap();
        assert!(!e.commands.is_empty(), "{:?}", e.diff);
        let mut outs = Vec::new();
        for c in &e.commands {
            let o = run_local(&format!(
                "set -e\nPATH={}:$PATH\ndocker() {{ return 1; }}\ncd {}\n{}",
                q(bin.to_str().unwrap()),
                q(dir.to_str().unwrap()),
                c.script
            ));
            let failed = o.status != 0;
            outs.push(o);
            if failed {
                break;
            }
        }
        outs
    }

    fn fixture() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("app 'dir'");
        std::fs::create_dir(&d).unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let fake = bin.join("docker-compose");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\nlog={}\nf=\nfor a in \"$@\"; do if [ \"$prev\" = -f ] && [ -z \"$f\" ]; then f=$a; fi; prev=$a; done\nprintf '%s | %s\\n' \"$*\" \"$(grep image: \"$f\" | tr -d ' ')\" >> \"$log\"\ncase \"$* $(cat \"$f\")\" in *' up '*crash*) echo 'no such image: crash' >&2; exit 1 ;; *'up -d --remove-orphans '*brokenlast*) echo 'cannot start' >&2; exit 1 ;; esac\nexit 0\n",
                q(t.path().join("log").to_str().unwrap())
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            d.join("docker-compose.yml"),
            "services:\n  web:\n    image: old\n",
        )
        .unwrap();
        std::fs::write(d.join(".env"), "TOKEN=old\n").unwrap();
        (t, d, bin)
    }

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn failed_check_puts_the_previous_files_back_and_fails_naming_it() {
        let (t, d, bin) = fixture();
        let check = "echo \"not ready: $(printf x)'\"; touch pwned-$((1+1)); exit 3";
        let step = format!(
            "{{service: web, check: {}, retries: 2, delay: 0, timeout: 5}}",
            serde_json::to_string(check).unwrap()
        );
        let outs = apply(&d, &bin, &yaml(&d, "new'$(touch pwned)", &step));
        let last = outs.last().unwrap();
        assert_eq!(last.status, 1, "{}", last.stderr);
        let err = &last.stderr;
        assert!(
            err.contains("keel: compose[app]: rollout stopped at web: the check after web failed (2 of 2 attempts): echo"),
            "{err}"
        );
        assert!(err.contains("--- its output:\nnot ready: x'\n"), "{err}");
        assert!(
            err.contains("returned web to the previous release"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: old\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".env")).unwrap(),
            "TOKEN=old\n"
        );
        // The check ran as shell text, twice; the hostile image value did not.
        assert!(d.join("pwned-2").exists());
        assert!(!d.join("pwned").exists() && !t.path().join("pwned").exists());
        std::fs::remove_file(d.join("pwned-2")).unwrap();
        assert_eq!(
            names(&d),
            [".env", "docker-compose.yml"],
            "kept files cleaned up"
        );
        let log = std::fs::read_to_string(t.path().join("log")).unwrap();
        let ups: Vec<&str> = log.lines().filter(|l| l.contains(" up -d")).collect();
        assert_eq!(ups.len(), 2, "{log}");
        assert!(
            ups[0].contains("up -d --no-deps web | image:new'$(touchpwned)"),
            "{log}"
        );
        assert!(ups[1].contains("up -d --no-deps web | image:old"), "{log}");
    }

    #[test]
    fn the_check_text_is_not_on_a_command_line() {
        // The check fails when its own text is in the argv of the shell
        // that runs it or of that shell's parent (`timeout`).
        let (_t, d, bin) = fixture();
        let check = "for p in $$ $PPID; do tr '\\0' ' ' < /proc/$p/cmdline | grep -q ARGV-MARKER && exit 1; done; exit 0";
        let step = format!(
            "{{service: web, check: {}, retries: 1, delay: 0, timeout: 5}}",
            serde_json::to_string(check).unwrap()
        );
        let outs = apply(&d, &bin, &yaml(&d, "new", &step));
        let last = outs.last().unwrap();
        assert_eq!(last.status, 0, "{}", last.stderr);
    }

    #[test]
    fn failed_up_of_a_step_puts_the_previous_files_back_too() {
        let (t, d, bin) = fixture();
        let outs = apply(&d, &bin, &yaml(&d, "crash", "web"));
        let last = outs.last().unwrap();
        assert_eq!(last.status, 1, "{}", last.stderr);
        assert!(
            last.stderr
                .contains("rollout stopped at web: `up -d --no-deps web` failed"),
            "{}",
            last.stderr
        );
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: old\n"
        );
        // The release that never came up is recorded as pending (its images
        // are removed once another release comes up).
        assert_eq!(
            names(&d),
            [".env", ".keel-compose-app.releases", "docker-compose.yml"]
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".keel-compose-app.releases")).unwrap(),
            "pending - crash\n"
        );
        let log = std::fs::read_to_string(t.path().join("log")).unwrap();
        assert!(log.ends_with("up -d --no-deps web | image:old\n"), "{log}");
    }

    #[test]
    fn failed_last_up_puts_the_previous_files_back_and_brings_everything_up() {
        let (t, d, bin) = fixture();
        let outs = apply(&d, &bin, &yaml(&d, "brokenlast", "web"));
        let last = outs.last().unwrap();
        assert_eq!(last.status, 1, "{}", last.stderr);
        assert!(
            last.stderr.contains(
                "keel: compose[app]: rollout stopped after the last step: `up -d --remove-orphans` of the whole project failed"
            ),
            "{}",
            last.stderr
        );
        assert!(
            last.stderr
                .contains("returned every service to the previous release"),
            "{}",
            last.stderr
        );
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: old\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".env")).unwrap(),
            "TOKEN=old\n"
        );
        let log = std::fs::read_to_string(t.path().join("log")).unwrap();
        let ups: Vec<&str> = log.lines().filter(|l| l.contains(" up -d")).collect();
        assert_eq!(ups.len(), 3, "{log}");
        assert!(
            ups[0].contains("up -d --no-deps web | image:brokenlast"),
            "{log}"
        );
        assert!(
            ups[1].contains("up -d --remove-orphans | image:brokenlast"),
            "{log}"
        );
        assert!(ups[2].ends_with("up -d | image:old"), "{log}");
    }

    /// A copy of the files as an earlier run that stopped midway left it.
    fn leave_copy(d: &Path, image: &str, complete: bool) {
        let p = d.join(".keel-compose-app.previous");
        std::fs::create_dir(&p).unwrap();
        let file = format!("services:\n  web:\n    image: {image}\n");
        std::fs::write(p.join("file"), file).unwrap();
        std::fs::write(p.join("env"), format!("TOKEN={image}\n")).unwrap();
        if complete {
            std::fs::write(p.join("complete"), "").unwrap();
        }
    }

    fn failing(d: &Path, image: &str) -> String {
        yaml(
            d,
            image,
            "{service: web, check: \"exit 1\", retries: 1, delay: 0}",
        )
    }

    #[test]
    fn a_complete_copy_left_by_an_interrupted_run_is_what_a_failure_puts_back() {
        // The run before was cut off after replacing the files with `mid`
        // (never brought up: no hash); its copy holds `good`.
        let (t, d, bin) = fixture();
        std::fs::write(
            d.join("docker-compose.yml"),
            "services:\n  web:\n    image: mid\n",
        )
        .unwrap();
        leave_copy(&d, "good", true);
        let outs = apply(&d, &bin, &failing(&d, "new"));
        assert_eq!(outs.last().unwrap().status, 1);
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: good\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".env")).unwrap(),
            "TOKEN=good\n"
        );
        let log = std::fs::read_to_string(t.path().join("log")).unwrap();
        assert!(log.ends_with("up -d --no-deps web | image:good\n"), "{log}");

        // The same, retried at the release that was cut off (no file
        // changes in this run): the copy still goes back.
        let (_t, d, bin) = fixture();
        std::fs::write(
            d.join("docker-compose.yml"),
            "services:\n  web:\n    image: new\n",
        )
        .unwrap();
        std::fs::write(d.join(".env"), "TOKEN=new\n").unwrap();
        leave_copy(&d, "good", true);
        let outs = apply(&d, &bin, &failing(&d, "new"));
        let last = outs.last().unwrap();
        assert_eq!(last.status, 1);
        assert!(
            last.stderr.contains("returned web to the previous release"),
            "{}",
            last.stderr
        );
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: good\n"
        );
    }

    #[test]
    fn an_unfinished_copy_is_never_put_back() {
        // The live files came up (the hash says so); a partial copy of
        // other files lies beside them.
        let (_t, d, bin) = fixture();
        let c = load_compose();
        let hash = c.files_hash(
            b"services:\n  web:\n    image: old\n",
            Some(b"TOKEN=old\n"),
            None,
        );
        std::fs::write(d.join(".keel-compose-app.sha256"), format!("{hash}\n")).unwrap();
        leave_copy(&d, "partial", false);
        let outs = apply(&d, &bin, &failing(&d, "new"));
        assert_eq!(outs.last().unwrap().status, 1);
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: old\n"
        );
        // A stale complete copy, when the live files came up and nothing
        // changes: not used, and removed.
        let (_t, d, _bin) = fixture();
        let y = failing(&d, "old").replace("TOKEN=new", "TOKEN=old");
        std::fs::write(d.join(".keel-compose-app.sha256"), format!("{hash}\n")).unwrap();
        leave_copy(&d, "stale", true);
        let r = load("compose", &y);
        let mut out = run_local(&r.probe());
        out.stdout.push_str(
            "docker=yes\ndaemon=up\ncompose=v1 1.29.2\nctr=web|1|False|exited||0|old|sha256:a|/app_web_1\n",
        );
        let e = r.evaluate(&out).unwrap();
        let up = e.commands.last().unwrap();
        assert!(
            up.script.contains(&format!(
                "rm -rf -- {}\n",
                q(&d.join(".keel-compose-app.previous").to_string_lossy())
            )),
            "{}",
            up.script
        );
        assert!(up.script.contains("keel_prev=''\n"), "{}", up.script);
    }

    #[test]
    fn the_rollout_script_is_valid_shell() {
        let c = Compose {
            wait: Wait { timeout: 10 },
            ..load_compose()
        };
        let steps: Vec<&RollingStep> = c.rolling.iter().collect();
        let s = format!(
            "{}{}{}",
            c.compose_prelude(false),
            c.wait_function(),
            c.rolling_script(&steps, true, &["web".to_string()])
        );
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &s])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The check reaches keel_step as one word, unchanged.
        let call = format!("keel_step web {} 5 3 30\n", q("'$(id)`id`'"));
        assert!(s.contains(&call), "{s}");
        let out = run_local(&format!("keel_step() {{ printf '%s|' \"$@\"; }}\n{call}"));
        assert_eq!(out.stdout, "web|'$(id)`id`'|5|3|30|");
    }

    fn load_compose() -> Compose {
        let y = yaml(
            Path::new("/srv/a b"),
            "x",
            "{service: web, check: \"'$(id)`id`'\"}",
        );
        crate::node::Node::parse(&y)
            .unwrap()
            .deserialize()
            .unwrap()
    }

    #[test]
    fn passing_check_keeps_the_new_files_and_goes_on() {
        let (t, d, bin) = fixture();
        let step = "{service: web, check: \"test -f docker-compose.yml\", retries: 1}";
        let outs = apply(&d, &bin, &yaml(&d, "new", step));
        let last = outs.last().unwrap();
        assert_eq!(last.status, 0, "{}", last.stderr);
        assert_eq!(
            std::fs::read_to_string(d.join("docker-compose.yml")).unwrap(),
            "services:\n  web:\n    image: new\n"
        );
        assert_eq!(
            names(&d),
            [
                ".env",
                ".keel-compose-app.releases",
                ".keel-compose-app.sha256",
                "docker-compose.yml"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(d.join(".keel-compose-app.releases")).unwrap(),
            "ok - new\n"
        );
        let log = std::fs::read_to_string(t.path().join("log")).unwrap();
        let ups: Vec<&str> = log.lines().filter(|l| l.contains(" up -d")).collect();
        assert_eq!(ups.len(), 2, "{log}");
        assert!(ups[0].contains("up -d --no-deps web | image:new"), "{log}");
        assert!(
            ups[1].contains("up -d --remove-orphans | image:new"),
            "{log}"
        );
    }
}
