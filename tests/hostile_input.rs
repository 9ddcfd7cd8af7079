//! Hostile input: the real binary on broken, malicious and absurd input.
//!
//! Every case must end, within a timeout, with exit code 1, a message on
//! stderr, no panic and no library internals in the text, and — where the
//! problem is in a file — a `file:line:col` location (miette's `[file:line:`
//! header). Cases come from three places:
//! - `tests/hostile/<case>/`: a small project and a `case` file:
//!   `run:` the arguments, `at:` the expected `file:line`, `says:` phrases
//!   the output must contain (any number), `not:` phrases it must not.
//!   Projects without their own inventory use `tests/hostile/inventory.yaml`
//!   (keel looks one folder up);
//! - a table of every resource kind × mutations (unknown key, wrong shape,
//!   YAML tags, duplicate keys, deep nesting, ...), generated below;
//! - files that cannot be committed: FIFOs, devices, huge and sparse files,
//!   made at run time.
//!
//! Run one group with `cargo test --test hostile_input NAME`.

mod support;

use support::{Keel, Run};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Longer than any case needs on a loaded machine; a hang is far longer.
const TIMEOUT: Duration = Duration::from_secs(90);

/// Texts that must never reach a user.
const NEVER: &[&str] = &[
    "panicked",
    "RUST_BACKTRACE",
    "DuplicateKeyPolicy",
    "from_str_multiple",
    "budget breached",
    "Depth {",
    "OutOfBounds",
    "Failed to read contents for label",
];

#[derive(Debug, Clone, Default)]
struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    /// `file:line` of the first diagnostic's location.
    at: Option<String>,
    says: Vec<String>,
    not: Vec<String>,
    env: Vec<(String, String)>,
    /// Exit code (1 unless said otherwise).
    code: i32,
}

impl Case {
    fn new(name: &str, dir: &Path, args: &[&str]) -> Case {
        Case {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            code: 1,
            ..Case::default()
        }
    }
    fn at(mut self, at: &str) -> Case {
        self.at = Some(at.to_string());
        self
    }
    fn says(mut self, s: &str) -> Case {
        self.says.push(s.to_string());
        self
    }
    fn not(mut self, s: &str) -> Case {
        self.not.push(s.to_string());
        self
    }
}

/// The binary under test; `KEEL_HOSTILE_BIN` runs the corpus against
/// another build (e.g. an older one, to see which cases it fails).
fn keel() -> Keel {
    match std::env::var_os("KEEL_HOSTILE_BIN") {
        Some(bin) => Keel::at(Path::new(&bin)),
        None => Keel::new(),
    }
}

/// Run keel with a time limit; a hang is an error.
fn run(dir: &Path, args: &[String], env: &[(String, String)]) -> Result<Run, String> {
    keel()
        .current_dir(dir)
        .env("COLUMNS", "100")
        .args(args)
        .envs(env)
        .timeout(TIMEOUT)
        .try_run()
}

/// Text with its lines joined by one space, without miette's margins.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim().trim_start_matches('│').trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run one case; `Err` says everything that is wrong with its outcome.
fn check(case: &Case) -> Result<Run, String> {
    let out = run(&case.dir, &case.args, &case.env)?;
    let mut wrong = Vec::new();
    if out.code != case.code {
        wrong.push(format!("exit code {}, expected {}", out.code, case.code));
    }
    let text = format!("{}{}", out.stderr, out.stdout);
    // miette wraps long messages: compare phrases with the lines joined.
    let flat = flat(&text);
    if case.code == 1 && text.trim().is_empty() {
        wrong.push("no message".to_string());
    }
    for n in NEVER
        .iter()
        .copied()
        .chain(case.not.iter().map(|s| s.as_str()))
    {
        if text.contains(n) {
            wrong.push(format!("output contains `{n}`"));
        }
    }
    for s in &case.says {
        if !text.contains(s.as_str()) && !flat.contains(&self::flat(s)) {
            wrong.push(format!("output lacks `{s}`"));
        }
    }
    if let Some(at) = &case.at
        && !out.stderr.contains(&format!("[{at}:"))
    {
        wrong.push(format!("no location `{at}`"));
    }
    if wrong.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "{}: {}\n--- stderr ---\n{}",
            case.name,
            wrong.join("; "),
            out.stderr.chars().take(3000).collect::<String>()
        ))
    }
}

/// Run cases on a few threads; fail with every failure listed.
fn check_all(cases: &[Case]) {
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(c) = cases.get(i) else { break };
                    if let Err(e) = check(c) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("hostile")
}

/// The cases of `tests/hostile/<case>/case`.
fn directory_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(hostile_dir())
        .expect("tests/hostile exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let spec = std::fs::read_to_string(dir.join("case"))
            .unwrap_or_else(|e| panic!("{name}: no `case` file: {e}"));
        let mut c = Case::new(&name, &dir, &[]);
        for line in spec.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{name}: bad line `{line}`"));
            let v = v.trim();
            match k {
                "run" => c.args = v.split_whitespace().map(String::from).collect(),
                "at" => c.at = Some(v.to_string()),
                "says" => c.says.push(v.to_string()),
                "not" => c.not.push(v.to_string()),
                "code" => c.code = v.parse().expect("code is a number"),
                "env" => {
                    let (a, b) = v.split_once('=').expect("env: NAME=value");
                    c.env.push((a.to_string(), b.to_string()));
                }
                _ => panic!("{name}: unknown key `{k}`"),
            }
        }
        assert!(!c.args.is_empty(), "{name}: no `run:`");
        cases.push(c);
    }
    cases
}

#[test]
fn corpus_of_broken_projects() {
    let cases = directory_cases();
    assert!(cases.len() >= 60, "only {} directory cases", cases.len());
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Every kind × mutations.

/// A valid body for each kind, one `key: value` line each.
const KINDS: &[(&str, &[&str])] = &[
    ("file", &["path: /etc/motd", "content: hi"]),
    ("directory", &["path: /srv/app"]),
    ("package", &["name: nginx"]),
    ("service", &["name: nginx"]),
    ("user", &["name: deploy"]),
    ("group", &["name: deployers"]),
    ("line", &["path: /etc/x.conf", "line: a=1"]),
    (
        "command",
        &["name: hello", "run: echo hi", "creates: /tmp/hello"],
    ),
    ("sshd", &["settings: { PasswordAuthentication: \"no\" }"]),
    ("ufw", &["rules: [{ allow: 22/tcp }]"]),
    (
        "cron",
        &[
            "name: job",
            "user: root",
            "schedule: \"0 3 * * *\"",
            "command: /usr/bin/true",
        ],
    ),
    (
        "backup",
        &[
            "name: uploads",
            "schedule: \"30 2 * * *\"",
            "type: files",
            "source: /srv/app/uploads",
            "destination: /backup/uploads",
        ],
    ),
    ("hostname", &["name: web1"]),
    ("timezone", &["name: Etc/UTC"]),
    ("sysctl", &["name: net.core.somaxconn", "value: \"1024\""]),
    (
        "apt_repository",
        &[
            "name: docker",
            "uris: [https://download.docker.com/linux/debian]",
            "suites: [bookworm]",
            "components: [stable]",
            "key_file: key.asc",
        ],
    ),
    (
        "git",
        &["path: /srv/app", "repo: https://example.com/app.git"],
    ),
    ("docker", &["daemon: { log-driver: journald }"]),
    (
        "compose",
        &[
            "project: app",
            "dir: /srv/app",
            "file: { content: \"services:\\n  web:\\n    image: nginx\\n\" }",
        ],
    ),
    (
        "certificate",
        &["name: web", "domains: [example.com]", "issuer: self-signed"],
    ),
    ("require", &["cpus: 1"]),
];

/// A public key for `apt_repository` (made with `gpg --quick-gen-key` for
/// keel's tests).
const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawg55BYJKwYBBAHaRw8BAQdAie53zrHsnTPNr0BL3pY610J6bi2DZGpJq1HP
XNtVzU60IEtlZWwgVGVzdCA8a2VlbEBleGFtcGxlLmludmFsaWQ+iJAEExYIADgW
IQRTqR9k2pf+5bLLwgevxYQVxtX2EgUCawg55AIbAwULCQgHAgYVCgkICwIEFgID
AQIeAQIXgAAKCRCvxYQVxtX2Eud1AP9705/LB6BJR6mDw+QYyi4cJEekdTWyZGQ2
lAGheVD8QgD9Gdy1w8mhy+qetpcJqE8tUvNVchdENZXnDf/43AEt2AY=
=+zwJ
-----END PGP PUBLIC KEY BLOCK-----
";

const INVENTORY: &str = "hosts:\n  web1: { transport: local }\ngroups:\n  web: { hosts: [web1] }\n";

/// A project folder with these files.
fn project(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(dir.join("key.asc"), KEY).unwrap();
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// `name`, `targets`, then one resource of `kind` with `lines` as its
/// settings (from line 5 of the file).
fn stack_with(kind: &str, lines: &[String]) -> String {
    let mut s = format!("name: t\ntargets: [web]\nresources:\n  - {kind}:\n");
    for l in lines {
        s.push_str(&format!("      {l}\n"));
    }
    s
}

fn kind_cases(root: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let long_key = "k".repeat(1000);
    let deep = format!("{}{}", "[".repeat(80), "]".repeat(80));
    for (kind, body) in KINDS {
        let body: Vec<String> = body.iter().map(|s| s.to_string()).collect();
        let next = 5 + body.len(); // the line after the body
        let with = |extra: &str| {
            let mut b = body.clone();
            b.push(extra.to_string());
            stack_with(kind, &b)
        };
        let at_next = format!("stack.yaml:{next}");
        // The valid body is valid (or every case below proves nothing).
        let ok_dir = project(
            root,
            &format!("{kind}-valid"),
            &[("stack.yaml", &stack_with(kind, &body))],
        );
        let mut ok = Case::new(
            &format!("{kind}-valid"),
            &ok_dir,
            &["validate", "stack.yaml"],
        );
        ok.code = 0;
        cases.push(ok);
        let mut add = |m: &str, stack: String, at: &str, says: &[&str], not: &[&str]| {
            let name = format!("{kind}-{m}");
            let dir = project(root, &name, &[("stack.yaml", &stack)]);
            let mut c = Case::new(&name, &dir, &["validate", "stack.yaml"]).at(at);
            for s in says {
                c = c.says(s);
            }
            for n in not {
                c = c.not(n);
            }
            cases.push(c);
        };
        add(
            "unknown-key",
            with("bogus_setting: 1"),
            &at_next,
            &["unknown key `bogus_setting`"],
            &[],
        );
        add(
            "long-unknown-key",
            with(&format!("{long_key}: 1")),
            &at_next,
            &["unknown key"],
            &["did you mean"],
        );
        add(
            "scalar-body",
            format!("name: t\ntargets: [web]\nresources:\n  - {kind}: just-text\n"),
            "stack.yaml:4",
            &["must be a map"],
            &[],
        );
        add(
            "list-body",
            format!("name: t\ntargets: [web]\nresources:\n  - {kind}: [a, b]\n"),
            "stack.yaml:4",
            &["must be a map"],
            &[],
        );
        add(
            "yaml-tag",
            with("bogus_setting: !env HOME"),
            &at_next,
            &["YAML tag `!env` is not supported"],
            &[],
        );
        add(
            "duplicate-key",
            with(&body[0]),
            &at_next,
            &["appears twice"],
            &[],
        );
        add(
            "deep-nesting",
            with(&format!("bogus_setting: {deep}")),
            &at_next,
            &["nested too deeply"],
            &[],
        );
        add(
            "empty-id",
            with("id: \"\""),
            &at_next,
            &["`id` must be a non-empty name"],
            &[],
        );
        add(
            "notify-map",
            with("notify: { a: 1 }"),
            &at_next,
            &["`notify` must be a list"],
            &[],
        );
        add(
            "dangling-depends-on",
            with("depends_on: [\"package[nope-missing]\"]"),
            &at_next,
            &["package[nope-missing]"],
            &[],
        );
        add(
            "kindless",
            format!(
                "name: t\ntargets: [web]\nresources:\n  - {{ {}, bogus: 1 }}\n",
                body[0]
            ),
            "stack.yaml:4",
            &["a resource needs its kind as the key"],
            &["is a second key"],
        );
    }
    cases
}

#[test]
fn every_kind_with_broken_settings() {
    let root = tempfile::tempdir().unwrap();
    let cases = kind_cases(root.path());
    assert!(cases.len() >= 200, "only {} generated cases", cases.len());
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Files that are not files: FIFOs, devices, folders, huge and sparse files.

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo runs");
    assert!(ok.success(), "mkfifo {}", p.display());
}

const STACK: &str =
    "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, content: hi }\n";

#[test]
fn special_files_are_refused_without_blocking() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let mut cases = Vec::new();

    // The stack itself.
    let d = project(r, "stack-fifo", &[]);
    mkfifo(&d.join("stack.yaml"));
    cases.push(
        Case::new("stack-fifo", &d, &["validate", "stack.yaml"])
            .says("stack.yaml is a named pipe (FIFO), not a regular file"),
    );
    let d = project(r, "stack-dev-zero", &[]);
    cases.push(
        Case::new("stack-dev-zero", &d, &["validate", "/dev/zero"])
            .says("/dev/zero is a character device"),
    );
    let d = project(r, "stack-dev-null", &[]);
    cases.push(
        Case::new("stack-dev-null", &d, &["validate", "/dev/null"])
            .says("/dev/null is a character device"),
    );
    let d = project(r, "stack-folder", &[("stack.yaml/x", "")]);
    cases.push(Case::new("stack-folder", &d, &["validate", "stack.yaml"]).says("is a folder"));
    let d = project(r, "plan-stack-fifo", &[]);
    mkfifo(&d.join("stack.yaml"));
    cases.push(Case::new("plan-stack-fifo", &d, &["plan", "stack.yaml"]).says("named pipe (FIFO)"));
    let d = project(r, "apply-target-fifo", &[]);
    mkfifo(&d.join("stack.yaml"));
    cases.push(
        Case::new("apply-target-fifo", &d, &["apply", "--yes", "stack.yaml"])
            .says("named pipe (FIFO)"),
    );
    let d = project(r, "apply-plan-fifo", &[]);
    mkfifo(&d.join("saved.json"));
    cases.push(
        Case::new("apply-plan-fifo", &d, &["apply", "--yes", "saved.json"])
            .says("named pipe (FIFO)"),
    );
    let d = project(r, "apply-dev-zero", &[]);
    cases.push(
        Case::new("apply-dev-zero", &d, &["apply", "--yes", "/dev/zero"]).says("character device"),
    );

    // The inventory.
    let d = project(r, "inventory-fifo", &[("stack.yaml", STACK)]);
    std::fs::remove_file(d.join("inventory.yaml")).unwrap();
    mkfifo(&d.join("inventory.yaml"));
    cases.push(
        Case::new("inventory-fifo", &d, &["validate", "stack.yaml"])
            .says("inventory.yaml is a named pipe (FIFO)"),
    );
    let d = project(r, "inventory-dev-zero", &[("stack.yaml", STACK)]);
    cases.push(
        Case::new(
            "inventory-dev-zero",
            &d,
            &["validate", "-i", "/dev/zero", "stack.yaml"],
        )
        .says("/dev/zero is a character device"),
    );
    let d = project(r, "inventory-dev-null", &[("stack.yaml", STACK)]);
    cases.push(
        Case::new(
            "inventory-dev-null",
            &d,
            &["validate", "-i", "/dev/null", "stack.yaml"],
        )
        .says("/dev/null is a character device"),
    );
    let d = project(
        r,
        "inventory-folder-with-fifo",
        &[("stack.yaml", STACK), ("inv/a.yaml", INVENTORY)],
    );
    mkfifo(&d.join("inv/b.yaml"));
    cases.push(
        Case::new(
            "inventory-folder-with-fifo",
            &d,
            &["validate", "-i", "inv", "stack.yaml"],
        )
        .says("b.yaml is a named pipe (FIFO)"),
    );

    // A module file.
    let d = project(
        r,
        "module-fifo",
        &[(
            "stack.yaml",
            "name: t\ntargets: [web]\nuses:\n  - module: m\n",
        )],
    );
    std::fs::create_dir_all(d.join("modules/m")).unwrap();
    mkfifo(&d.join("modules/m/module.yaml"));
    cases.push(
        Case::new("module-fifo", &d, &["validate", "stack.yaml"])
            .says("module.yaml is a named pipe (FIFO)"),
    );

    // A template, a `source:` file, a secret file.
    let d = project(
        r,
        "template-fifo",
        &[(
            "stack.yaml",
            "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, template: t.hbs }\n",
        )],
    );
    mkfifo(&d.join("t.hbs"));
    cases.push(
        Case::new("template-fifo", &d, &["validate", "stack.yaml"])
            .at("stack.yaml:4")
            .says("template t.hbs is a named pipe (FIFO)"),
    );
    let d = project(
        r,
        "template-dev-zero",
        &[(
            "stack.yaml",
            "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, template: /dev/zero }\n",
        )],
    );
    cases.push(
        Case::new("template-dev-zero", &d, &["validate", "stack.yaml"])
            .at("stack.yaml:4")
            .says("character device"),
    );
    let d = project(
        r,
        "source-fifo",
        &[(
            "stack.yaml",
            "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, source: data.bin }\n",
        )],
    );
    mkfifo(&d.join("data.bin"));
    cases.push(
        Case::new("source-fifo", &d, &["validate", "stack.yaml"])
            .at("stack.yaml:4")
            .says("data.bin is a named pipe (FIFO)"),
    );
    let d = project(
        r,
        "source-dev-zero",
        &[(
            "stack.yaml",
            "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, source: /dev/zero }\n",
        )],
    );
    cases.push(
        Case::new("source-dev-zero", &d, &["validate", "stack.yaml"])
            .at("stack.yaml:4")
            .says("/dev/zero is a character device"),
    );
    let secret_stack = "name: t\ntargets: [web]\nsecrets:\n  token: { file: token.txt }\nresources:\n  - file: { path: /tmp/keel-hostile-x, content: \"{{secrets.token}}\" }\n";
    let d = project(r, "secret-fifo", &[("stack.yaml", secret_stack)]);
    mkfifo(&d.join("token.txt"));
    cases.push(
        Case::new("secret-fifo", &d, &["plan", "stack.yaml"])
            .says("token.txt is a named pipe (FIFO)")
            .says("secret `token`"),
    );
    let d = project(
        r,
        "secret-dev-zero",
        &[(
            "stack.yaml",
            &secret_stack.replace("token.txt", "/dev/zero"),
        )],
    );
    cases.push(Case::new("secret-dev-zero", &d, &["plan", "stack.yaml"]).says("character device"));

    // Too large: a stack of 5 MiB, a sparse `source:` of 3 GiB, a template of 5 MiB.
    let big = format!("name: t\ntargets: [web]\n#{}\n", "x".repeat(5 << 20));
    let d = project(r, "stack-too-large", &[("stack.yaml", &big)]);
    cases.push(
        Case::new("stack-too-large", &d, &["validate", "stack.yaml"])
            .says("stack.yaml is larger than 4 MiB"),
    );
    let d = project(
        r,
        "source-sparse-3g",
        &[(
            "stack.yaml",
            "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, source: huge.bin }\n",
        )],
    );
    std::fs::File::create(d.join("huge.bin"))
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    cases.push(
        Case::new("source-sparse-3g", &d, &["validate", "stack.yaml"])
            .at("stack.yaml:4")
            .says("huge.bin is larger than 64 MiB"),
    );
    let d = project(
        r,
        "template-too-large",
        &[
            (
                "stack.yaml",
                "name: t\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostile-x, template: t.hbs }\n",
            ),
            ("t.hbs", &"y".repeat(5 << 20)),
        ],
    );
    cases.push(
        Case::new("template-too-large", &d, &["validate", "stack.yaml"])
            .at("stack.yaml:4")
            .says("larger than 4 MiB"),
    );
    let d = project(r, "saved-plan-too-large", &[]);
    std::fs::File::create(d.join("saved.json"))
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    cases.push(
        Case::new(
            "saved-plan-too-large",
            &d,
            &["apply", "--yes", "saved.json"],
        )
        .says("larger than 64 MiB"),
    );
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Command-line usage errors exit 1 (2 is drift under --detailed-exitcode).

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let root = tempfile::tempdir().unwrap();
    let d = project(root.path(), "cli", &[("stack.yaml", STACK)]);
    let usage: &[(&str, &[&str], &str)] = &[
        ("no-arguments", &[], "Usage"),
        ("unknown-command", &["plna", "stack.yaml"], "plan"),
        (
            "unknown-flag",
            &["plan", "--bogus", "stack.yaml"],
            "--bogus",
        ),
        (
            "detailed-exitcode-typo",
            &["plan", "--detailed-exit-code", "stack.yaml"],
            "--detailed-exitcode",
        ),
        ("missing-stack", &["validate"], "<STACK>"),
        (
            "missing-plan-stack",
            &["plan", "--detailed-exitcode"],
            "<STACK>",
        ),
        ("missing-apply-target", &["apply", "--yes"], "<TARGET>"),
        (
            "limit-without-value",
            &["plan", "stack.yaml", "--limit"],
            "--limit",
        ),
        (
            "bad-color",
            &["--color", "sometimes", "validate", "stack.yaml"],
            "sometimes",
        ),
        (
            "bad-parallel",
            &["plan", "--parallel", "many", "stack.yaml"],
            "many",
        ),
        (
            "negative-parallel",
            &["plan", "--parallel", "-1", "stack.yaml"],
            "-1",
        ),
        (
            "bad-graph-format",
            &["graph", "--format", "svg", "stack.yaml"],
            "svg",
        ),
        (
            "bad-confirm-timeout",
            &["apply", "--confirm-timeout", "soon", "stack.yaml"],
            "soon",
        ),
        (
            "two-stacks",
            &["validate", "stack.yaml", "other.yaml"],
            "other.yaml",
        ),
        (
            "help-with-garbage",
            &["help", "nothing-like-this"],
            "nothing-like-this",
        ),
    ];
    let mut cases: Vec<Case> = usage
        .iter()
        .map(|(name, args, says)| Case::new(name, &d, args).says(says))
        .collect();
    for (name, args) in [
        ("help", &["--help"][..]),
        ("plan-help", &["plan", "--help"]),
        ("help-command", &["help", "apply"]),
        ("version", &["--version"]),
        ("short-version", &["-V"]),
    ] {
        let mut c = Case::new(name, &d, args);
        c.code = 0;
        cases.push(c);
    }
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Error reporting stays fast whatever the number or size of errors.

#[test]
fn ten_thousand_errors_are_reported_quickly_and_capped() {
    let root = tempfile::tempdir().unwrap();
    let mut stack = String::from("name: t\ntargets: [web]\nresources:\n");
    for i in 0..10_000 {
        stack.push_str(&format!("  - nokind{i}: {{ a: 1 }}\n"));
    }
    let d = project(root.path(), "many", &[("stack.yaml", &stack)]);
    let c = Case::new("many", &d, &["validate", "stack.yaml"])
        .at("stack.yaml:4")
        .says("keel: 9950 more problems not shown")
        .says("keel: 10000 problems found");
    let out = check(&c).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.cpu < Duration::from_secs(15),
        "took {:?} (35 s before the cap)",
        out.cpu
    );
    assert_eq!(out.stderr.matches("unknown resource kind").count(), 50);
}

#[test]
fn a_huge_bad_address_among_thousands_gets_no_slow_suggestion() {
    let root = tempfile::tempdir().unwrap();
    let mut stack = String::from("name: t\ntargets: [web]\nresources:\n");
    for i in 0..2000 {
        stack.push_str(&format!("  - file: {{ path: /tmp/f{i}, content: x }}\n"));
    }
    stack.push_str(&format!(
        "  - file: {{ path: /tmp/z, content: x, depends_on: [\"file[/tmp/{}]\"] }}\n",
        "a".repeat(100_000)
    ));
    let d = project(root.path(), "long", &[("stack.yaml", &stack)]);
    let c = Case::new("long", &d, &["validate", "stack.yaml"])
        .at("stack.yaml:2004")
        .says("and 1989 more")
        .not("did you mean");
    let out = check(&c).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.cpu < Duration::from_secs(10),
        "took {:?} (over 20 s before)",
        out.cpu
    );
}

#[test]
fn thousands_of_dangling_references_are_reported_quickly() {
    // Each one searched every address for a suggestion, cloning them all:
    // 5,000 took 46 s.
    let root = tempfile::tempdir().unwrap();
    let mut stack = String::from("name: t\ntargets: [web]\nresources:\n");
    for i in 0..5000 {
        stack.push_str(&format!(
            "  - file: {{ path: /tmp/f{i}, content: x, depends_on: [\"file[/tmp/g{i}]\"] }}\n"
        ));
    }
    let d = project(root.path(), "dangling", &[("stack.yaml", &stack)]);
    let c = Case::new("dangling", &d, &["validate", "stack.yaml"])
        .at("stack.yaml:4")
        .says("keel: 5000 problems found");
    let out = check(&c).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.cpu < Duration::from_secs(15),
        "took {:?} (46 s before)",
        out.cpu
    );
}

/// The whole message of a few cases, as a user reads it (one per class of
/// message fixed here). Regenerate with `INSTA_UPDATE=always cargo test
/// --test hostile_input snapshots`, then read every changed `.snap`.
#[test]
fn snapshots_of_messages() {
    for name in [
        "resource-without-kind",
        "unknown-enum-value-lists-values-only",
        "yaml-tag-env-in-stack",
        "inventory-empty-file",
        "inventory-host-and-group-same-name",
        "variable-missing-on-one-host",
        "duplicate-key-in-stack",
        "deep-nesting",
        "line-match-invalid-regex",
    ] {
        let case = directory_cases()
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name}"));
        let out = check(&case).unwrap_or_else(|e| panic!("{e}"));
        insta::assert_snapshot!(format!("hostile-{name}"), out.stderr);
    }
}

#[test]
fn a_chain_of_twenty_thousand_groups_is_checked_quickly() {
    // Each group's vars were looked up in the whole list, each group's
    // cycle check walked every group again, and membership recursed:
    // minutes, and a deep enough chain overflows a recursive walk.
    let root = tempfile::tempdir().unwrap();
    let n = 20_000;
    let mut inv = String::from(
        "hosts:\n  web1: { transport: local }\ngroups:\n  web: { hosts: [web1], children: [g0] }\n",
    );
    for i in 0..n {
        let next = if i + 1 < n { i + 1 } else { 0 };
        inv.push_str(&format!(
            "  g{i}: {{ hosts: [web1], children: [g{next}], vars: {{ v{i}: {i} }} }}\n"
        ));
    }
    let d = project(
        root.path(),
        "chain",
        &[("stack.yaml", STACK), ("inventory.yaml", &inv)],
    );
    let c = Case::new("chain", &d, &["validate", "stack.yaml"])
        .at("inventory.yaml:5")
        .says("group `g0` is its own descendant");
    let out = check(&c).unwrap_or_else(|e| panic!("{e}"));
    // The measurement itself works: loading 20,000 groups takes some CPU.
    assert!(
        out.cpu > Duration::from_millis(20),
        "CPU time not measured: {:?}",
        out.cpu
    );
    assert!(
        out.cpu < Duration::from_secs(20),
        "took {:?} of CPU (minutes before)",
        out.cpu
    );
}

/// `n` modules `m0`..: each uses the next `fan` times; the last declares a
/// package.
fn module_chain(root: &Path, name: &str, n: usize, fan: usize) -> PathBuf {
    let mut files: Vec<(String, String)> = vec![(
        "stack.yaml".into(),
        "name: t\ntargets: [web]\nuses:\n  - module: m0\n".into(),
    )];
    for i in 0..n {
        let text = if i + 1 < n {
            let mut t = String::from("uses:\n");
            for k in 0..fan {
                t.push_str(&format!("  - module: m{}\n    id: u{k}\n", i + 1));
            }
            t
        } else {
            "resources:\n  - package: { name: deep }\n".to_string()
        };
        files.push((format!("modules/m{i}/module.yaml"), text));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    project(root, name, &refs)
}

#[test]
fn modules_nested_too_deep_or_multiplying_are_errors_not_hangs() {
    let root = tempfile::tempdir().unwrap();
    // 20 deep: the resources below level 16 were silently dropped (exit 0).
    let d = module_chain(root.path(), "deep", 20, 1);
    let deep = Case::new("deep", &d, &["validate", "stack.yaml"])
        .at("modules/m16/module.yaml:2")
        .says("modules nest more than 16 levels deep");
    // Each using the next twice, 24 deep: the cycle check walked 16 million
    // paths and the expansion multiplied without end.
    let d = module_chain(root.path(), "fan", 24, 2);
    let fan = Case::new("fan", &d, &["validate", "stack.yaml"])
        .says("more than 10000 module uses for one host");
    check_all(&[deep, fan]);
}
