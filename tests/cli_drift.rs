//! `keel drift` through the real binary with the `local` transport, in a
//! scratch project with two stacks under `stacks/`: applied, then drifted
//! by hand (a file edited, a secret-bearing file edited, a mode changed),
//! then checked in every format — exit codes 0/2/1, JUnit that parses as
//! XML, the JSON schema version, GitHub annotations at the declaring line —
//! with the secret in no output; and an unreachable SSH host reported as an
//! error in every format, never as "no drift".

mod support;

use support::Keel;

use std::path::Path;

const SECRET: &str = "Drift-S3cret-9f2b7c";

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let (code, o, e) = Keel::new()
        .current_dir(dir)
        .args(args)
        .env("DRIFT_TOKEN", SECRET)
        .run()
        .parts();
    assert!(
        !o.contains(SECRET) && !e.contains(SECRET),
        "the secret leaked with {args:?}:\n{o}\n{e}"
    );
    (code, o, e)
}

const APP: &str = r#"name: app
targets: [local]
secrets:
  token: { env: DRIFT_TOKEN }
resources:
  - directory: { path: "{{vars.root}}/app", mode: "0755" }

  - file:
      path: "{{vars.root}}/app/app.conf"
      mode: "0644"
      content: "port = 8080\n"
  - file:
      path: "{{vars.root}}/app/token.env"
      mode: "0600"
      content: "TOKEN={{secrets.token}}\n"
"#;

const BASE: &str = r#"name: base
targets: [local]
resources:
  - directory: { path: "{{vars.root}}/base", mode: "0755" }
  - file: { path: "{{vars.root}}/base/motd", content: "hello\n" }
"#;

/// A project: `inventory.yaml` (host `here`, local; `extra` hosts added
/// to group `local`) and `stacks/app.yaml`, `stacks/base.yaml`.
fn project(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let (hosts, members) = if extra.is_empty() {
        (String::new(), "[here]")
    } else {
        (extra.to_string(), "[here, far]")
    };
    let inv = format!(
        "hosts:\n  here:\n    transport: local\n    vars:\n      root: \"{}\"\n{hosts}groups:\n  local:\n    hosts: {members}\n",
        root.display()
    );
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::write(dir.path().join("stacks/app.yaml"), APP).unwrap();
    std::fs::write(dir.path().join("stacks/base.yaml"), BASE).unwrap();
    dir
}

/// Parse JUnit XML with a real XML parser (python3's xml.etree) and list
/// its test cases as `classname|name|file|line|failure or error: message`.
fn junit_cases(xml: &str) -> Vec<String> {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "testsuites", root.tag
n = 0
for suite in root.findall("testsuite"):
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases), (suite.get("name"), suite.get("tests"), len(cases))
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    assert int(suite.get("errors")) == len(suite.findall("testcase/error"))
    for c in cases:
        n += 1
        outcome = ""
        for tag in ("failure", "error"):
            e = c.find(tag)
            if e is not None:
                outcome = tag + ": " + e.get("message")
        print("|".join([c.get("classname"), c.get("name"), c.get("file") or "", c.get("line") or "", outcome]))
assert int(root.get("tests")) == n
"#;
    support::python3_lines(script, xml)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The 1-based line of the first line of `stack` that contains `needle`.
fn line_of(stack: &str, needle: &str) -> usize {
    stack
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle in stack")
        + 1
}

#[test]
fn drift_in_every_format_with_exit_codes_and_no_secret() {
    let dir = project("");
    let d = dir.path();
    for s in ["stacks/app.yaml", "stacks/base.yaml"] {
        let (code, out, err) = keel(d, &["apply", "--yes", s]);
        assert_eq!(code, 0, "{out}{err}");
    }
    assert!(
        std::fs::read_to_string(d.join("root/app/token.env"))
            .unwrap()
            .contains(SECRET)
    );

    // No drift: exit 0 in every format, both stacks read.
    let (code, out, err) = keel(d, &["drift"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("here") && out.contains("in sync"), "{out}");
    let (code, out, err) = keel(d, &["drift", "--json", "."]);
    assert_eq!(code, 0, "{out}{err}");
    let j = json(&out);
    assert_eq!(j["format_version"], 1);
    assert_eq!(j["drift"], false);
    assert_eq!(j["stacks"].as_array().unwrap().len(), 2);
    for s in j["stacks"].as_array().unwrap() {
        let h = &s["hosts"][0];
        assert_eq!(h["host"], "here");
        assert_eq!(h["status"], "in_sync");
        assert_eq!(h["round_trips"], 1, "one round trip per stack: {h}");
    }
    let (code, out, err) = keel(d, &["drift", "--format", "junit"]);
    assert_eq!(code, 0, "{out}{err}");
    let cases = junit_cases(&out);
    assert_eq!(cases.len(), 5, "one case per host × resource: {cases:?}");
    assert!(cases.iter().all(|c| c.ends_with('|')), "{cases:?}");
    let (code, out, err) = keel(d, &["drift", "--format", "github"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains("::warning") && !out.contains("::error"),
        "{out}"
    );

    // Drift by hand: one file edited and its mode changed, the secret file
    // edited (its old and new content hold the secret).
    let conf = d.join("root/app/app.conf");
    std::fs::write(&conf, "port = 9090\n").unwrap();
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::write(
        d.join("root/app/token.env"),
        format!("TOKEN={SECRET}\nDEBUG=1\n"),
    )
    .unwrap();

    let (code, out, err) = keel(d, &["drift", "stacks/app.yaml"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("mode: 0640 → 0644"), "{out}");
    assert!(out.contains("-port = 9090"), "{out}");
    assert!(out.contains("(sensitive)"), "{out}");

    let (code, out, err) = keel(d, &["drift", "--json"]);
    assert_eq!(code, 2, "{out}{err}");
    let j = json(&out);
    assert_eq!(j["format_version"], 1);
    assert_eq!(
        (j["drift"].clone(), j["error"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(j["summary"]["resources_drifted"], 2);
    let app = j["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == "app")
        .unwrap();
    let conf_r = app["hosts"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"].as_str().unwrap().ends_with("app.conf]"))
        .unwrap();
    assert_eq!(conf_r["status"], "drift");
    assert_eq!(conf_r["file"], "stacks/app.yaml");
    assert_eq!(conf_r["line"], line_of(APP, "- file:"));
    assert!(
        j["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["stack"] == "base" && s["hosts"][0]["status"] == "in_sync"),
        "{out}"
    );

    let (code, out, err) = keel(d, &["drift", "--format", "junit"]);
    assert_eq!(code, 2, "{out}{err}");
    let cases = junit_cases(&out);
    let root = d.join("root");
    let root = root.display();
    let conf_line = line_of(APP, "- file:");
    let token_line = line_of(APP, "token.env") - 1;
    assert!(
        cases.contains(&format!(
            "app.here|file[{root}/app/app.conf]|stacks/app.yaml|{conf_line}|failure: mode: 0640 → 0644; content differs"
        )),
        "{cases:#?}"
    );
    assert!(
        cases.contains(&format!(
            "app.here|file[{root}/app/token.env]|stacks/app.yaml|{token_line}|failure: content differs"
        )),
        "{cases:#?}"
    );
    assert_eq!(cases.iter().filter(|c| c.contains("|failure: ")).count(), 2);
    assert!(
        out.contains("(sensitive)"),
        "the secret's diff is masked: {out}"
    );

    // GitHub annotations at the declaring lines, and the JUnit file beside.
    let (code, out, err) = keel(d, &["drift", "--format", "github", "--junit", "drift.xml"]);
    assert_eq!(code, 2, "{out}{err}");
    let warnings: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("::warning "))
        .collect();
    assert_eq!(warnings.len(), 2, "{out}");
    assert!(
        warnings[0].starts_with(&format!(
            "::warning file=stacks/app.yaml,line={conf_line},title=drift on here%3A file[{root}/app/app.conf]::mode: 0640 → 0644%0Acontent differs"
        )),
        "{out}"
    );
    assert!(
        warnings[1].starts_with(&format!(
            "::warning file=stacks/app.yaml,line={token_line},"
        )),
        "{out}"
    );
    assert!(
        err.contains("HOST") && err.contains("drift"),
        "table on stderr: {err}"
    );
    let xml = std::fs::read_to_string(d.join("drift.xml")).unwrap();
    assert!(!xml.contains(SECRET));
    assert_eq!(junit_cases(&xml).len(), 5);
}

#[test]
fn an_unreachable_host_is_an_error_in_every_format() {
    // Port 1 on localhost: nothing listens there, the connection is refused.
    let dir = project(
        "  far:\n    address: 127.0.0.1\n    port: 1\n    user: nobody\n    vars: { root: /srv/far }\n",
    );
    let d = dir.path();
    let (code, out, err) = keel(
        d,
        &["apply", "--yes", "--limit", "here", "stacks/base.yaml"],
    );
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = keel(d, &["drift", "stacks/base.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("far error"), "{out}");
    assert!(out.contains("here in sync"), "{out}");

    let (code, out, err) = keel(d, &["drift", "--json", "stacks/base.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    let j = json(&out);
    assert_eq!(j["error"], true);
    assert_eq!(j["drift"], false);
    let hosts = j["stacks"][0]["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["host"], "far", "natural order: {out}");
    assert_eq!(hosts[0]["status"], "error");
    assert!(hosts[0]["error"].is_string(), "{out}");

    let (code, out, err) = keel(d, &["drift", "--format", "junit", "stacks/base.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    let cases = junit_cases(&out);
    let far: Vec<&String> = cases
        .iter()
        .filter(|c| c.starts_with("base.far|"))
        .collect();
    assert_eq!(far.len(), 1, "{cases:#?}");
    assert!(
        far[0].starts_with("base.far|(host)|||error: "),
        "{cases:#?}"
    );

    let (code, out, err) = keel(d, &["drift", "--format", "github", "stacks/base.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.lines().any(|l| l
            .starts_with("::error file=stacks/base.yaml,title=keel drift%3A far not checked::")),
        "{out}"
    );
}

#[test]
fn bad_arguments_and_missing_stacks_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = keel(dir.path(), &["drift"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no stacks/ folder here"), "{err}");
    let (code, _, err) = keel(dir.path(), &["drift", "nope.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nope.yaml does not exist"), "{err}");
}

#[test]
fn the_ci_examples_use_flags_keel_knows() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci");
    let mut seen = 0;
    for f in ["drift.yml", ".gitlab-ci.yml"] {
        let text = std::fs::read_to_string(repo.join(f)).unwrap();
        assert!(
            text.contains("drift-report.xml"),
            "{f} uploads the JUnit report"
        );
        for line in text.lines().filter(|l| l.contains("keel drift ")) {
            let cmd = line.split("keel drift ").nth(1).unwrap();
            if line.trim_start().starts_with('#') {
                continue;
            }
            let args: Vec<&str> = std::iter::once("drift")
                .chain(cmd.split_whitespace())
                .collect();
            // In an empty folder the flags parse, then keel finds no stacks.
            let dir = tempfile::tempdir().unwrap();
            let (code, _, err) = keel(dir.path(), &args);
            assert_eq!(code, 1, "{f}: {args:?}: {err}");
            assert!(
                err.contains("no stacks/ folder here"),
                "{f}: {args:?}: {err}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
}

#[test]
fn many_hosts_in_natural_order_and_a_broken_stack_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut inv = String::from("hosts:\n");
    for n in 1..=11 {
        inv.push_str(&format!(
            "  web-{n}:\n    transport: local\n    vars: {{ root: \"{}\" }}\n",
            d.join(format!("root/web-{n}")).display()
        ));
    }
    inv.push_str("groups:\n  local:\n    hosts: [");
    inv.push_str(
        &(1..=11)
            .map(|n| format!("web-{n}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    inv.push_str("]\n");
    std::fs::write(d.join("inventory.yaml"), inv).unwrap();
    std::fs::create_dir_all(d.join("stacks")).unwrap();
    std::fs::write(d.join("stacks/base.yaml"), BASE).unwrap();
    let (code, out, err) = keel(d, &["apply", "--yes", "stacks/base.yaml"]);
    assert_eq!(code, 0, "{out}{err}");

    std::fs::write(d.join("root/web-10/base/motd"), "bye\n").unwrap();
    let (code, out, err) = keel(d, &["drift", "--parallel", "3"]);
    assert_eq!(code, 2, "{out}{err}");
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("HOST "))
        .skip(1)
        .filter(|l| l.starts_with("web-"))
        .collect();
    let hosts: Vec<&str> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    let want: Vec<String> = (1..=11).map(|n| format!("web-{n}")).collect();
    assert_eq!(hosts, want, "{out}");
    assert!(
        rows[9].contains(" drift ") && rows[9].split_whitespace().nth(3) == Some("1"),
        "{out}"
    );
    assert_eq!(
        rows.iter().filter(|r| r.contains(" in sync ")).count(),
        10,
        "{out}"
    );

    // A stack that does not load: reported, the others still checked, exit 1.
    std::fs::write(
        d.join("stacks/broken.yaml"),
        "name: broken\ntargets: [nowhere]\n",
    )
    .unwrap();
    let (code, out, err) = keel(d, &["drift", "--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let j = json(&out);
    let stacks = j["stacks"].as_array().unwrap();
    assert_eq!(stacks.len(), 2);
    assert_eq!(stacks[1]["stack_path"], "stacks/broken.yaml");
    assert!(
        stacks[1]["error"]
            .as_str()
            .unwrap()
            .contains("could not be loaded"),
        "{out}"
    );
    assert_eq!(stacks[0]["hosts"].as_array().unwrap().len(), 11);
    assert!(
        err.contains("nowhere"),
        "the load problem is printed: {err}"
    );
    let (code, out, _) = keel(d, &["drift", "--format", "junit"]);
    assert_eq!(code, 1);
    assert!(
        junit_cases(&out)
            .iter()
            .any(|c| c.starts_with("broken|(stack)|||error: ")),
        "{out}"
    );
}
