//! The real binary on `examples/quickstart`: help, validate, graph, and the
//! whole plan → apply → plan cycle on the local machine, in a scratch root.
//!
//! The quickstart manages files under `vars.root` through the `local`
//! transport; each test copies the example to a temporary folder and points
//! `root` inside it, so tests run in parallel and touch nothing else.

mod support;

use support::{Keel, Run};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("quickstart")
}

/// The secret of the quickstart, as keel reads it (one trailing newline off).
fn secret_value() -> String {
    let raw = std::fs::read_to_string(quickstart().join("secrets").join("api_token"))
        .expect("the quickstart's secret");
    let v = raw.strip_suffix('\n').unwrap_or(&raw).to_string();
    assert!(
        v.len() >= 8,
        "the quickstart's secret is suspiciously short: {v:?}"
    );
    v
}

fn keel_cmd(dir: &Path, args: &[&str]) -> Keel {
    Keel::new()
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
}

fn run(c: Keel) -> Run {
    let o = c.run();
    assert!(
        !o.stderr.contains("panicked"),
        "keel panicked:\n{}",
        o.all()
    );
    o
}

fn keel(dir: &Path, args: &[&str]) -> Run {
    run(keel_cmd(dir, args))
}

/// keel in the example folder itself (offline commands only).
fn keel_example(args: &[&str]) -> Run {
    let mut full = args.to_vec();
    full.extend(["-i", "inventory.yaml", "stack.yaml"]);
    keel(&quickstart(), &full)
}

// ---------------------------------------------------------------------------
// A scratch copy of the quickstart

struct Scratch {
    _tmp: tempfile::TempDir,
    /// The copied project (stack.yaml, inventory.yaml, modules/, secrets/).
    dir: PathBuf,
    /// What `vars.root` points to: everything keel manages is below it.
    root: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

impl Scratch {
    fn new() -> Scratch {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let dir = tmp.path().join("project");
        copy_dir(&quickstart(), &dir);
        let root = tmp.path().join("root");
        let inv_path = dir.join("inventory.yaml");
        let inv = std::fs::read_to_string(&inv_path).unwrap();
        let from = "root: /tmp/keel-quickstart";
        assert!(
            inv.contains(from),
            "the quickstart inventory changed:\n{inv}"
        );
        let inv = inv.replace(from, &format!("root: \"{}\"", root.display()));
        std::fs::write(&inv_path, inv).unwrap();
        Scratch {
            _tmp: tmp,
            dir,
            root,
        }
    }

    /// `keel ARGS -i inventory.yaml stack.yaml` in the project folder.
    fn keel(&self, args: &[&str]) -> Run {
        let mut full = args.to_vec();
        full.extend(["-i", "inventory.yaml", "stack.yaml"]);
        keel(&self.dir, &full)
    }

    fn conf(&self) -> PathBuf {
        self.root.join("etc").join("hello.conf")
    }

    fn env_file(&self) -> PathBuf {
        self.root.join("etc").join("hello.env")
    }

    fn apply(&self) {
        let out = self.keel(&["apply", "--yes"]);
        assert_eq!(out.code, 0, "apply --yes:\n{}", out.all());
    }
}

fn assert_no_secret(what: &str, out: &Run) {
    let secret = secret_value();
    assert!(
        !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
        "{what} shows the secret:\n{}",
        out.all()
    );
}

// ---------------------------------------------------------------------------
// Help, validate, graph

#[test]
fn help_mentions_every_command() {
    let out = keel(&quickstart(), &["--help"]);
    assert_eq!(out.code, 0, "{}", out.all());
    for cmd in ["validate", "plan", "apply", "graph"] {
        assert!(
            out.stdout.contains(cmd),
            "--help does not mention `{cmd}`:\n{}",
            out.stdout
        );
        let sub = keel(&quickstart(), &[cmd, "--help"]);
        assert_eq!(sub.code, 0, "{cmd} --help:\n{}", sub.all());
        assert!(
            sub.stdout.contains("Usage:"),
            "{cmd} --help:\n{}",
            sub.stdout
        );
        assert!(
            sub.stdout.contains("--inventory"),
            "{cmd} --help has no --inventory:\n{}",
            sub.stdout
        );
    }
    let plan = keel(&quickstart(), &["plan", "--help"]);
    for flag in ["--detailed-exitcode", "--json", "--out", "--limit"] {
        assert!(
            plan.stdout.contains(flag),
            "plan --help lacks {flag}:\n{}",
            plan.stdout
        );
    }
    let apply = keel(&quickstart(), &["apply", "--help"]);
    assert!(apply.stdout.contains("--yes"), "{}", apply.stdout);
    let v = keel(&quickstart(), &["--version"]);
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with("keel "), "{}", v.stdout);
}

#[test]
fn unknown_command_or_flag_is_a_usage_error() {
    // Exit 1 like every error: 2 means drift with --detailed-exitcode.
    let out = keel(&quickstart(), &["plna"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("plan"),
        "no suggestion:\n{}",
        out.stderr
    );
    let out = keel(
        &quickstart(),
        &["plan", "--detailed-exit-code", "stack.yaml"],
    );
    assert_eq!(out.code, 1, "{}", out.all());
}

#[test]
fn validate_quickstart() {
    let out = keel_example(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("is valid: 1 host, 8 resources"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
}

const ADDRESSES: [&str; 8] = [
    "directory[/tmp/keel-quickstart]",
    "directory[/tmp/keel-quickstart/etc]",
    "directory[/tmp/keel-quickstart/srv/hello]",
    "file[/tmp/keel-quickstart/etc/hello.conf]",
    "file[/tmp/keel-quickstart/etc/hello.env]",
    "line[/tmp/keel-quickstart/etc/hosts.local: 127.0.0.1 hello.internal]",
    "command[build-hello]",
    "file[/tmp/keel-quickstart/etc/motd]",
];

#[test]
fn graph_text_lists_resources_in_apply_order() {
    let out = keel_example(&["graph"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = &out.stdout;
    assert!(text.starts_with("host workstation (8 resources)"), "{text}");
    // `N. address` lines, then `after X [why]` lines under each.
    let mut order: Vec<String> = Vec::new();
    let mut after: Vec<(String, String)> = Vec::new();
    for line in text.lines().skip(1) {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("after ") {
            let dep = rest.rsplit_once(" [").map_or(rest, |(d, _)| d);
            after.push((
                order
                    .last()
                    .expect("an `after` line under a resource")
                    .clone(),
                dep.to_string(),
            ));
        } else if let Some((n, rest)) = t.split_once(". ") {
            assert_eq!(
                n.parse::<usize>().ok(),
                Some(order.len() + 1),
                "numbering: {line}"
            );
            let addr = rest.split("  (").next().unwrap().to_string();
            order.push(addr);
        } else if !t.is_empty() {
            panic!("unexpected graph line: {line:?}\n{text}");
        }
    }
    let mut sorted = order.clone();
    sorted.sort();
    let mut expected: Vec<String> = ADDRESSES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(sorted, expected, "{text}");
    // Every dependency comes before its dependent.
    let pos = |a: &str| {
        order
            .iter()
            .position(|o| o == a)
            .unwrap_or_else(|| panic!("`{a}` not listed:\n{text}"))
    };
    assert!(!after.is_empty(), "{text}");
    for (res, dep) in &after {
        assert!(
            pos(dep) < pos(res),
            "{res} is listed before its dependency {dep}:\n{text}"
        );
    }
    // The module's file is after the directory its use depends on.
    assert!(
        pos("directory[/tmp/keel-quickstart/etc]") < pos("file[/tmp/keel-quickstart/etc/motd]"),
        "{text}"
    );
    assert!(text.contains("(module.motd)"), "{text}");
}

#[test]
fn graph_dot_is_valid() {
    let out = keel_example(&["graph", "--format", "dot"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let dot = out.stdout.trim();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.ends_with('}'), "{dot}");
    // Braces balance outside quoted strings, and never go negative.
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for c in dot.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => {
                depth -= 1;
                assert!(depth >= 0, "unbalanced braces:\n{dot}");
            }
            _ => {}
        }
    }
    assert!(!quoted, "unterminated string:\n{dot}");
    assert_eq!(depth, 0, "unbalanced braces:\n{dot}");
    // 8 nodes, labelled with their addresses; edges between declared nodes.
    let mut nodes = Vec::new();
    let mut edges = 0;
    for line in dot.lines() {
        let t = line.trim();
        if let Some((from, rest)) = t.split_once(" -> ") {
            let to = rest.split([' ', ';', '[']).next().unwrap();
            assert!(
                nodes.contains(&from.to_string()),
                "edge from undeclared node: {t}"
            );
            assert!(
                nodes.contains(&to.to_string()),
                "edge to undeclared node: {t}"
            );
            edges += 1;
        } else if let Some((id, rest)) = t.split_once(" [label=")
            && id.starts_with('n')
        {
            nodes.push(id.to_string());
            assert!(
                ADDRESSES.iter().any(|a| rest.contains(a)),
                "unknown node label: {t}"
            );
        }
    }
    assert_eq!(nodes.len(), 8, "{dot}");
    assert!(edges >= 7, "{dot}");
}

// ---------------------------------------------------------------------------
// plan → apply → plan

#[test]
fn plan_apply_plan_cycle() {
    let s = Scratch::new();
    let secret = secret_value();

    // Nothing exists yet: everything is to create (and the command to run).
    let plan = s.keel(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "first plan:\n{}", plan.all());
    assert!(plan.stdout.contains("  + directory["), "{}", plan.stdout);
    assert!(plan.stdout.contains("  + file["), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("(sensitive)"),
        "the .env content is not masked:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 7 to create, 0 to update, 0 to remove, 1 to run, 0 unchanged."),
        "{}",
        plan.stdout
    );
    assert_no_secret("plan", &plan);
    assert!(!s.root.exists(), "plan changed the host");

    // The same as JSON.
    let json = s.keel(&["plan", "--json"]);
    assert_eq!(json.code, 0, "plan --json:\n{}", json.all());
    assert_no_secret("plan --json", &json);
    let doc: Value = serde_json::from_str(&json.stdout).expect("plan --json is JSON");
    assert_eq!(doc["format_version"], 1, "{doc:#}");
    assert_eq!(doc["stack"], "quickstart");
    let host = &doc["hosts"][0];
    assert_eq!(host["host"], "workstation");
    assert_eq!(
        host["round_trips"]["probe"], 1,
        "one probe round trip:\n{host:#}"
    );
    let resources = host["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 8, "{host:#}");
    for r in resources {
        let addr = r["address"].as_str().unwrap();
        let expected = if addr.starts_with("command[") {
            "run"
        } else {
            "create"
        };
        assert_eq!(r["action"], expected, "{addr}: {r:#}");
    }
    let env = resources
        .iter()
        .find(|r| r["address"].as_str().unwrap().ends_with("hello.env]"))
        .expect("the .env file");
    assert_eq!(env["sensitive"], true, "{env:#}");
    assert!(!s.root.exists(), "plan --json changed the host");

    // Apply.
    let apply = s.keel(&["apply", "--yes"]);
    assert_eq!(apply.code, 0, "apply --yes:\n{}", apply.all());
    assert_no_secret("apply", &apply);
    assert!(
        apply.stdout.contains("8 changed, 0 failed"),
        "{}",
        apply.stdout
    );
    let on_disk = std::fs::read_to_string(s.env_file()).expect("the .env file was written");
    assert_eq!(on_disk, format!("API_TOKEN={secret}\n"));
    assert!(
        s.root.join("srv/hello/index.txt").is_file(),
        "the command did not run"
    );
    assert!(
        std::fs::read_to_string(s.root.join("etc/motd"))
            .unwrap()
            .contains("managed by keel")
    );

    // Converged.
    let again = s.keel(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "plan after apply:\n{}", again.all());
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_no_secret("plan after apply", &again);
    let json = s.keel(&["plan", "--json"]);
    let doc: Value = serde_json::from_str(&json.stdout).expect("plan --json is JSON");
    for r in doc["hosts"][0]["resources"].as_array().unwrap() {
        assert_eq!(r["action"], "no_op", "{r:#}");
    }

    // Drift: a managed file edited by hand shows as a unified diff.
    let conf = std::fs::read_to_string(s.conf()).unwrap();
    assert!(conf.contains("port = 8080\n"), "{conf}");
    std::fs::write(s.conf(), conf.replace("port = 8080", "port = 9090")).unwrap();
    let drift = s.keel(&["plan", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "plan after a hand edit:\n{}", drift.all());
    let out = &drift.stdout;
    assert!(out.contains("~ file["), "{out}");
    assert!(out.contains("hello.conf (live)"), "{out}");
    assert!(out.contains("hello.conf (planned)"), "{out}");
    assert!(out.contains("@@ "), "{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.contains(&"-port = 9090"), "{out}");
    assert!(lines.contains(&"+port = 8080"), "{out}");
    assert!(out.contains("Plan: 0 to create, 1 to update"), "{out}");

    // Drift in the secret file: the diff is not shown, nor the secret.
    std::fs::write(s.env_file(), "API_TOKEN=old\n").unwrap();
    let drift = s.keel(&["plan", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}", drift.all());
    assert_no_secret("plan of a changed secret file", &drift);
    assert!(drift.stdout.contains("(sensitive)"), "{}", drift.stdout);
    let json = s.keel(&["plan", "--json"]);
    assert_no_secret("plan --json of a changed secret file", &json);
    let verbose = s.keel(&["-vv", "plan"]);
    assert_no_secret("plan -vv", &verbose);

    // Apply as JSON repairs both; still no secret.
    let apply = s.keel(&["apply", "--yes", "--json"]);
    assert_eq!(apply.code, 0, "apply --json:\n{}", apply.all());
    assert_no_secret("apply --json", &apply);
    let doc: Value = serde_json::from_str(&apply.stdout).expect("apply --json is JSON");
    assert!(doc["plan"].is_object(), "{doc:#}");
    let outcomes = doc["outcome"][0]["resources"].as_array().expect("outcomes");
    let changed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o["outcome"]["status"] == "changed")
        .map(|o| o["address"].as_str().unwrap())
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(
        std::fs::read_to_string(s.env_file()).unwrap(),
        format!("API_TOKEN={secret}\n")
    );
    assert!(
        std::fs::read_to_string(s.conf())
            .unwrap()
            .contains("port = 8080\n")
    );

    let last = s.keel(&["plan", "--detailed-exitcode"]);
    assert_eq!(last.code, 0, "{}", last.all());
}

#[test]
fn verbose_apply_does_not_show_the_secret() {
    let s = Scratch::new();
    let apply = s.keel(&["-vv", "apply", "--yes"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert_no_secret("apply -vv", &apply);
    assert!(
        std::fs::read_to_string(s.env_file())
            .unwrap()
            .contains(&secret_value())
    );
}

// ---------------------------------------------------------------------------
// Saved plans

#[test]
fn saved_plan_is_applied_exactly() {
    let s = Scratch::new();
    let plan = s.keel(&["plan", "--out", "quickstart.plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert_no_secret("plan --out", &plan);
    let saved =
        std::fs::read_to_string(s.dir.join("quickstart.plan.json")).expect("the saved plan");
    assert!(
        !saved.contains(&secret_value()),
        "the saved plan holds the secret"
    );
    let _: Value = serde_json::from_str(&saved).expect("a saved plan is JSON");
    assert!(!s.root.exists(), "plan --out changed the host");

    let apply = keel(&s.dir, &["apply", "quickstart.plan.json"]);
    assert_eq!(apply.code, 0, "apply FILE:\n{}", apply.all());
    assert_no_secret("apply FILE", &apply);
    assert!(s.conf().is_file());
    let after = s.keel(&["plan", "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{}", after.all());
}

#[test]
fn saved_plan_is_refused_when_live_state_changed() {
    let s = Scratch::new();
    s.apply();
    // Something to do, saved.
    std::fs::write(s.conf(), "edited by hand\n").unwrap();
    let plan = s.keel(&["plan", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    // The file changes again between plan and apply.
    std::fs::write(s.conf(), "edited by hand, twice\n").unwrap();
    let apply = keel(&s.dir, &["apply", "p.json"]);
    assert_eq!(apply.code, 1, "a stale plan was applied:\n{}", apply.all());
    assert!(
        apply.stderr.contains("refusing to apply"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stderr.contains("changed since the plan was made"),
        "{}",
        apply.stderr
    );
    assert!(apply.stderr.contains("hello.conf"), "{}", apply.stderr);
    assert!(apply.stderr.contains("keel plan"), "{}", apply.stderr);
    assert_eq!(
        std::fs::read_to_string(s.conf()).unwrap(),
        "edited by hand, twice\n",
        "apply changed the file"
    );
}

#[test]
fn saved_plan_can_be_applied_from_another_directory() {
    let s = Scratch::new();
    let plan = s.keel(&["plan", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let plan_file = s.dir.join("p.json");
    let elsewhere = s.dir.parent().unwrap().to_path_buf();
    let apply = keel(&elsewhere, &["apply", plan_file.to_str().unwrap()]);
    assert_eq!(
        apply.code,
        0,
        "a plan saved in {} applied from {}:\n{}",
        s.dir.display(),
        elsewhere.display(),
        apply.all()
    );
    assert!(s.conf().is_file());
}

// ---------------------------------------------------------------------------
// Confirmation

#[test]
fn apply_without_yes_and_no_terminal_refuses() {
    let s = Scratch::new();
    // Even `yes` piped in is not a confirmation: stdin is not a terminal.
    let c = keel_cmd(&s.dir, &["apply", "-i", "inventory.yaml", "stack.yaml"]).stdin("yes\n");
    let out = run(c);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_no_secret("refused apply", &out);
    assert!(!s.root.exists(), "a refused apply changed the host");

    let out = run(
        keel_cmd(&s.dir, &["apply", "-i", "inventory.yaml", "stack.yaml"]), // stdin: empty, not a terminal
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(!s.root.exists(), "a refused apply changed the host");
}

#[test]
fn apply_with_nothing_to_do_needs_no_confirmation() {
    let s = Scratch::new();
    s.apply();
    let out = run(
        keel_cmd(&s.dir, &["apply", "-i", "inventory.yaml", "stack.yaml"]), // stdin: empty, not a terminal
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
}

// ---------------------------------------------------------------------------
// A closed stdout (`keel plan | head -1`)

fn closed_stdout(dir: &Path, args: &[&str]) {
    let mut c = keel_cmd(dir, args).into_command();
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("keel starts");
    // Close the reading end before keel writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("keel ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "{args:?} with a closed stdout panicked:\n{stderr}"
    );
    assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    assert!(
        out.status.code().is_some(),
        "{args:?} was killed by a signal: {:?}",
        out.status
    );
}

#[test]
fn closed_stdout_does_not_panic() {
    let s = Scratch::new();
    for args in [
        &["validate", "-i", "inventory.yaml", "stack.yaml"][..],
        &["graph", "-i", "inventory.yaml", "stack.yaml"],
        &[
            "graph",
            "--format",
            "dot",
            "-i",
            "inventory.yaml",
            "stack.yaml",
        ],
        &["plan", "-i", "inventory.yaml", "stack.yaml"],
        &["plan", "--json", "-i", "inventory.yaml", "stack.yaml"],
        &["--help"],
    ] {
        closed_stdout(&s.dir, args);
    }
    assert!(!s.root.exists(), "plan changed the host");
    closed_stdout(
        &s.dir,
        &["apply", "--yes", "-i", "inventory.yaml", "stack.yaml"],
    );
    assert!(
        s.conf().is_file(),
        "apply with a closed stdout did not apply"
    );
}

// ---------------------------------------------------------------------------
// The runner every test uses (tests/support)

#[test]
fn the_runner_starts_keel_in_a_clean_environment() {
    use std::ffi::OsStr;
    let cmd = Keel::new().env("KEEL_KEY_FILE", "k").into_command();
    let envs: std::collections::HashMap<&OsStr, Option<&OsStr>> = cmd.get_envs().collect();
    assert_eq!(
        envs.get(OsStr::new("NO_COLOR")),
        Some(&Some(OsStr::new("1")))
    );
    for removed in ["COLUMNS", "RUST_BACKTRACE"] {
        assert_eq!(envs.get(OsStr::new(removed)), Some(&None), "{removed}");
    }
    // A test's own setting wins over the clean-up.
    assert_eq!(
        envs.get(OsStr::new("KEEL_KEY_FILE")),
        Some(&Some(OsStr::new("k")))
    );
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEEL_") && name != "KEEL_KEY_FILE" {
            assert_eq!(envs.get(name.as_os_str()), Some(&None), "{name:?}");
        }
    }
}

#[test]
fn the_runner_stops_a_run_that_outlives_its_limit() {
    let start = std::time::Instant::now();
    let err = Keel::at(Path::new("/bin/sleep"))
        .arg("30")
        .timeout(std::time::Duration::from_millis(200))
        .try_run()
        .unwrap_err();
    assert!(err.contains("did not end within"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}
