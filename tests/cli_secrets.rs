//! Secrets through the real binary with the `local` transport: what keel
//! prints never reveals a secret — not through `lookup`, not transformed
//! by a helper, not in a command's error upper-cased, base64-encoded or
//! split across lines, not through a hash a plan prints (keyed digests
//! under the machine key) — and secrets too short to mask are refused.

mod support;

use support::Keel;

use std::path::Path;
use std::process::Command;

const PIN: &str = "4821-pin";

fn keel(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    Keel::new()
        .current_dir(dir)
        .args(args)
        .env("KEEL_KEY_FILE", dir.join("key"))
        .envs(env)
        .run()
        .parts()
}

/// [`keel`] that fails the test instead of hanging when keel does not
/// end within `limit` (the process is killed).
fn keel_within(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> (i32, String, String) {
    Keel::new()
        .current_dir(dir)
        .args(args)
        .env("KEEL_KEY_FILE", dir.join("key"))
        .envs(env)
        .timeout(limit)
        .run()
        .parts()
}

fn project(stack: &str) -> tempfile::TempDir {
    support::local_project(&[("stack.yaml", stack)])
}

fn sh(cmd: &str, input: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("S", input)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Every string in a JSON document that looks like a hex digest.
fn digests(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s)
            if s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            out.push(s.clone())
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| digests(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| digests(x, out)),
        _ => {}
    }
}

const STACK: &str = r#"name: secrets
targets: [local]
secrets:
  pin: { env: KEEL_T_PIN }
resources:
  - file:
      path: "{{vars.root}}/pin.conf"
      content: "pin={{secrets.pin}}\n"
  - file:
      path: "{{vars.root}}/lookup.conf"
      content: "code={{lookup secrets \"pin\"}}\n"
  - file:
      path: "{{vars.root}}/derived.conf"
      content: "{{#if (eq (lookup secrets \"pin\") \"4821-pin\")}}pin-is-4821{{else}}other{{/if}}\n"
  - file:
      path: "{{vars.root}}/plain.conf"
      content: "nothing secret\n"
"#;

#[test]
fn printed_hashes_are_keyed_by_the_machine_key() {
    let dir = project(STACK);
    let d = dir.path();
    // An existing file, so a probe reads content that holds the secret.
    std::fs::write(d.join("root/pin.conf"), format!("pin={PIN}\n")).unwrap();
    let env = [("KEEL_T_PIN", PIN)];
    let plan_with = |key: &str| {
        let mut cmd_env = env.to_vec();
        let key_path = d.join(key);
        let key_path = key_path.to_str().unwrap().to_string();
        cmd_env.push(("KEEL_KEY_FILE", &key_path));
        let (code, out, err) = keel(d, &["plan", "--json", "stack.yaml"], &cmd_env);
        assert_eq!(code, 0, "{out}{err}");
        assert!(!out.contains(PIN) && !err.contains(PIN), "{out}{err}");
        json(&out)
    };
    let a = plan_with("key-a");
    let a_again = plan_with("key-a");
    let b = plan_with("key-b");
    let (mut da, mut da2, mut db) = (Vec::new(), Vec::new(), Vec::new());
    digests(&a, &mut da);
    digests(&a_again, &mut da2);
    digests(&b, &mut db);
    // One desired_hash and one fingerprint per resource.
    assert_eq!(da.len(), 1 + 4, "{a:#}");
    assert_eq!(da, da2, "the same key gives the same digests");
    // A plain hash of anything (the secret included) does not depend on the
    // key: every printed digest does.
    for x in &da {
        assert!(!db.contains(x), "`{x}` does not depend on the machine key");
    }
    let host = &a["hosts"][0];
    let hash = host["desired_hash"].as_str().unwrap();
    for candidate in [
        PIN.to_string(),
        format!("pin={PIN}\n"),
        format!(
            "type=file\ncontent:\n{}",
            sh("printf 'pin=%s\\n' \"$S\" | base64", PIN)
        ),
    ] {
        let plain = sh("printf '%s' \"$S\" | sha256sum | cut -d' ' -f1", &candidate);
        assert_ne!(hash, plain);
        assert!(!da.contains(&plain));
    }
}

#[test]
fn lookup_and_helpers_taint_what_they_render() {
    let dir = project(STACK);
    let d = dir.path();
    let (code, out, err) = keel(d, &["plan", "--json", "stack.yaml"], &[("KEEL_T_PIN", PIN)]);
    assert_eq!(code, 0, "{out}{err}");
    let plan = json(&out);
    let res = plan["hosts"][0]["resources"].as_array().unwrap();
    let by_name = |end: &str| {
        res.iter()
            .find(|r| r["name"].as_str().unwrap().ends_with(end))
            .unwrap_or_else(|| panic!("{end} in {out}"))
    };
    for sensitive in ["pin.conf", "lookup.conf", "derived.conf"] {
        let r = by_name(sensitive);
        assert_eq!(r["sensitive"], true, "{sensitive}: {r:#}");
        assert_eq!(r["diff"], "(sensitive)", "{sensitive}: {r:#}");
    }
    assert_eq!(by_name("plain.conf")["sensitive"], false);
    let (code, text, err) = keel(d, &["plan", "stack.yaml"], &[("KEEL_T_PIN", PIN)]);
    assert_eq!(code, 0, "{text}{err}");
    for shown in [&out, &text, &err] {
        assert!(!shown.contains(PIN), "{shown}");
        assert!(
            !shown.contains("pin-is-4821"),
            "a value derived from a secret: {shown}"
        );
    }
    assert!(
        text.contains("nothing secret"),
        "other values still show: {text}"
    );
}

#[test]
fn module_inputs_carry_the_taint() {
    let dir = project(
        r#"name: modules
targets: [local]
secrets:
  pin: { env: KEEL_T_PIN }
uses:
  - module: app
    with:
      code: "{{lookup secrets \"pin\"}}"
      marker: "{{vars.root}}"
"#,
    );
    let d = dir.path();
    std::fs::create_dir_all(d.join("modules/app")).unwrap();
    std::fs::write(
        d.join("modules/app/module.yaml"),
        r#"inputs:
  code: { type: string }
  marker: { type: string }
resources:
  - file:
      path: "{{inputs.marker}}/code.txt"
      content: "{{#if (eq inputs.code \"4821-pin\")}}derived-yes{{/if}}\n"
  - file:
      path: "{{inputs.marker}}/open.txt"
      content: "open\n"
"#,
    )
    .unwrap();
    let (code, out, err) = keel(d, &["plan", "--json", "stack.yaml"], &[("KEEL_T_PIN", PIN)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("derived-yes"), "{out}");
    let plan = json(&out);
    let res = plan["hosts"][0]["resources"].as_array().unwrap();
    let s: Vec<(String, bool)> = res
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["sensitive"] == true,
            )
        })
        .collect();
    assert!(
        s.iter().any(|(n, t)| n.ends_with("code.txt") && *t),
        "{s:?}"
    );
    assert!(
        s.iter().any(|(n, t)| n.ends_with("open.txt") && !*t),
        "{s:?}"
    );
}

#[test]
fn command_errors_mask_encoded_secrets() {
    let secret = "Tok3n-Err-Value";
    let dir = project(
        r#"name: errors
targets: [local]
secrets:
  token: { env: KEEL_T_TOKEN }
resources:
  - command:
      name: leaky
      run: |
        printf '%s\n' "$T" | tr a-z A-Z >&2
        printf '%s' "$T" | base64 >&2
        printf 'x%s' "$T" | base64 >&2
        printf '%s' "$T" | od -An -tx1 | tr -d ' \n' >&2; echo >&2
        printf '%s\n' "$T" | fold -w 4 >&2
        exit 3
      creates: "{{vars.root}}/never"
      env: { T: "{{secrets.token}}" }
"#,
    );
    let d = dir.path();
    let (code, out, err) = keel(
        d,
        &["apply", "--yes", "stack.yaml"],
        &[("KEEL_T_TOKEN", secret)],
    );
    assert_ne!(code, 0, "the command fails: {out}{err}");
    let shown = format!("{out}{err}");
    assert!(shown.contains("(sensitive)"), "{shown}");
    let flat = shown.replace('\n', "");
    for leak in [
        secret.to_uppercase(),
        sh("printf '%s' \"$S\" | base64", secret),
        sh("printf 'x%s' \"$S\" | base64 | cut -c 3-18", secret),
        sh("printf '%s' \"$S\" | od -An -tx1 | tr -d ' \\n'", secret),
        secret.to_string(),
    ] {
        assert!(!flat.contains(&leak), "`{leak}` shows:\n{shown}");
    }
    // Split across lines: no 4-character piece of the secret is left.
    for piece in ["Tok3", "n-Er", "r-Va", "lue"] {
        assert!(
            !shown.lines().any(|l| l.trim() == piece),
            "`{piece}` shows:\n{shown}"
        );
    }
}

/// A secret with characters JSON and HTML escape, and a multi-line secret
/// (a key read from a file): a failing command that prints them as JSON
/// or HTML, and a plan error quoting a path rendered from the multi-line
/// one, show neither.
#[test]
fn escaped_and_multi_line_secrets_are_masked() {
    let token = "t0k\"en<&>-\u{c4}\u{d6}-value";
    let key = "-----BEGIN TEST KEY-----\nMULTILINE-KEY-FIRST\nMULTILINE-KEY-SECOND\n-----END TEST KEY-----";
    let dir = project(
        r#"name: escaped
targets: [local]
secrets:
  token: { env: KEEL_T_TOKEN }
  key: { file: key.pem }
resources:
  - command:
      name: json
      run: |
        python3 -c 'import json,os,sys; print(json.dumps({"t": os.environ["T"], "k": os.environ["K"]})); print(json.dumps(os.environ["T"], ensure_ascii=False))' >&2
        python3 -c 'import html,os; print(html.escape(os.environ["T"]))' >&2
        exit 3
      creates: "{{vars.root}}/never"
      env: { T: "{{secrets.token}}", K: "{{secrets.key}}" }
"#,
    );
    let path_stack = r#"name: path
targets: [local]
secrets:
  key: { file: key.pem }
resources:
  - command:
      name: path
      run: "true"
      creates: "/tmp/{{secrets.key}}"
"#;
    let d = dir.path();
    std::fs::write(d.join("key.pem"), format!("{key}\n")).unwrap();
    std::fs::write(d.join("path.yaml"), path_stack).unwrap();
    let env = [("KEEL_T_TOKEN", token)];
    let (code, out, err) = keel(d, &["apply", "--yes", "stack.yaml"], &env);
    assert_ne!(code, 0, "the command fails: {out}{err}");
    let shown = format!("{out}{err}");
    assert!(
        shown.contains("(sensitive)") && shown.contains("exit status 3"),
        "{shown}"
    );
    for leak in ["t0k", "-value", "MULTILINE-KEY", "BEGIN TEST KEY"] {
        assert!(!shown.contains(leak), "`{leak}` shows:\n{shown}");
    }
    let (_, out, err) = keel(d, &["plan", "--json", "path.yaml"], &env);
    let shown = format!("{out}{err}");
    assert!(shown.contains("contains `..` or a newline"), "{shown}");
    assert!(!shown.contains("MULTILINE-KEY"), "{shown}");
}

/// `keel show` of a file keel manages as plain text, whose live content
/// holds a secret (written by hand, or by an earlier stack): neither the
/// secret (the fact prints content as an escaped byte string, `\"` and
/// `\xc3\x84`, which the redactor alone cannot recognise) nor the
/// content's plain sha256 shows.
#[test]
fn show_hides_live_content_holding_a_secret() {
    let token = "t0k\"en-\u{c4}\u{d6}-value";
    let dir = project(
        r#"name: show
targets: [local]
secrets:
  token: { env: KEEL_T_TOKEN }
resources:
  - file:
      path: "{{vars.root}}/app.conf"
      content: "token=managed-elsewhere\n"
"#,
    );
    let d = dir.path();
    let live = format!("token={token}\n");
    std::fs::write(d.join("root/app.conf"), &live).unwrap();
    let address = format!("file[{}]", d.join("root/app.conf").display());
    let (code, out, err) = keel(
        d,
        &["show", &address, "stack.yaml"],
        &[("KEEL_T_TOKEN", token)],
    );
    assert_eq!(code, 0, "{out}{err}");
    let shown = format!("{out}{err}");
    assert!(shown.contains("live state of"), "{shown}");
    let digest = sh("printf '%s' \"$S\" | sha256sum | cut -c1-64", &live);
    assert_eq!(digest.len(), 64);
    for leak in ["t0k", "-value", digest.as_str()] {
        assert!(!shown.contains(leak), "`{leak}` shows:\n{shown}");
    }
}

/// `keel import` lists the addresses it recorded: one rendered from a
/// secret is masked there as in plans.
#[test]
fn import_masks_addresses_rendered_from_secrets() {
    let token = "imp0rt-token-value";
    let dir = project(
        r#"name: import
targets: [local]
state_dir: "{{vars.root}}/state"
secrets:
  token: { env: KEEL_T_TOKEN }
resources:
  - file:
      path: "{{vars.root}}/present-{{secrets.token}}.conf"
      content: "x\n"
  - file:
      path: "{{vars.root}}/absent-{{secrets.token}}.conf"
      content: "y\n"
"#,
    );
    let d = dir.path();
    std::fs::write(d.join(format!("root/present-{token}.conf")), "x\n").unwrap();
    let (code, out, err) = keel(d, &["import", "stack.yaml"], &[("KEEL_T_TOKEN", token)]);
    assert_eq!(code, 0, "{out}{err}");
    let shown = format!("{out}{err}");
    assert!(
        shown.contains("recorded 1 resource(s)") && shown.contains("(sensitive)"),
        "{shown}"
    );
    assert!(!shown.contains("imp0rt"), "{shown}");
}

/// A check built from a value derived from a secret (`sha256`, `replace`)
/// is masked in `verify` and `apply` reports (human and JSON) as in plans:
/// the redactor alone does not know such values.
#[test]
fn check_reports_mask_values_rendered_from_secrets() {
    let token = "chk-token&value";
    let dir = project(
        r#"name: derived
targets: [local]
secrets:
  token: { env: KEEL_T_TOKEN }
resources:
  - check:
      name: derived
      command: "test x = '{{sha256 secrets.token}} {{replace secrets.token \"&\" \"AND\"}}'"
"#,
    );
    let d = dir.path();
    let digest = sh("printf '%s' \"$S\" | sha256sum | cut -c1-64", token);
    let env = [("KEEL_T_TOKEN", token)];
    for args in [
        &["verify", "stack.yaml"][..],
        &["verify", "--json", "stack.yaml"],
        &["-v", "apply", "--yes", "--json", "stack.yaml"],
    ] {
        let (code, out, err) = keel(d, args, &env);
        assert_eq!(code, 1, "the check fails: {out}{err}");
        let shown = format!("{out}{err}");
        assert!(shown.contains("check[derived]"), "{shown}");
        for leak in [digest.as_str(), "chk-tokenANDvalue"] {
            assert!(!shown.contains(leak), "{args:?}: `{leak}` shows:\n{shown}");
        }
    }
}

#[test]
fn secrets_too_short_to_mask_are_refused() {
    let dir = project(
        r#"name: short
targets: [local]
secrets:
  pin: { env: KEEL_T_PIN }
resources:
  - file:
      path: "{{vars.root}}/pin.conf"
      content: "pin={{secrets.pin}}\n"
"#,
    );
    let d = dir.path();
    let (code, out, err) = keel(d, &["plan", "stack.yaml"], &[("KEEL_T_PIN", "482")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("secret `pin` is 3 characters long"), "{err}");
    assert!(
        err.contains("stack.yaml"),
        "points at the declaration: {err}"
    );
    assert!(!out.contains("482") && !err.contains("482"), "{out}{err}");
}

/// A secret command that never ends is stopped at the timeout with the
/// whole process group (a backgrounded child holding stdout included).
#[test]
fn a_hanging_secret_command_times_out() {
    let dir = project(
        r#"name: hang
targets: [local]
secrets:
  token: { command: "sleep 3017 & sleep 3017" }
resources:
  - file:
      path: "{{vars.root}}/t.conf"
      content: "t={{secrets.token}}\n"
"#,
    );
    let d = dir.path();
    let (code, out, err) = keel_within(
        d,
        &["plan", "stack.yaml"],
        &[("KEEL_SECRET_TIMEOUT", "2")],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("the command of secret `token` did not finish within 2 s"),
        "{err}"
    );
    assert!(err.contains("KEEL_SECRET_TIMEOUT"), "{err}");
    // No process of the group is left behind.
    let left = sh("pgrep -f 'sleep 301[7]' || true", "");
    assert!(left.is_empty(), "left running: {left}");

    // A secret's own `timeout:` wins over the default and the variable.
    std::fs::write(
        d.join("stack.yaml"),
        r#"name: hang
targets: [local]
secrets:
  token: { command: "sleep 3017", timeout: 1 }
resources:
  - file:
      path: "{{vars.root}}/t.conf"
      content: "t={{secrets.token}}\n"
"#,
    )
    .unwrap();
    let (code, out, err) = keel_within(
        d,
        &["plan", "stack.yaml"],
        &[("KEEL_SECRET_TIMEOUT", "600")],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("the command of secret `token` did not finish within 1 s"),
        "{err}"
    );
    let left = sh("pgrep -f 'sleep 301[7]' || true", "");
    assert!(left.is_empty(), "left running: {left}");
}

/// A secret command printing without end is stopped at the output cap.
#[test]
fn an_endless_secret_command_is_capped() {
    let dir = project(
        r#"name: flood
targets: [local]
secrets:
  token: { command: "cat /dev/zero" }
resources:
  - file:
      path: "{{vars.root}}/t.conf"
      content: "t={{secrets.token}}\n"
"#,
    );
    let (code, out, err) = keel_within(
        dir.path(),
        &["plan", "stack.yaml"],
        &[],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("the command of secret `token` printed more than 4 MiB"),
        "{err}"
    );
}

/// Apply-time messages are masked as the plan is: a failing command that
/// echoes a value derived from a short secret (which the redactor alone
/// does not know) shows it nowhere — text, JSON, logs.
#[test]
fn apply_failures_mask_values_rendered_from_secrets() {
    let dir = project(
        r#"name: apply-taint
targets: [local]
secrets:
  pin: { env: KEEL_T_PIN }
resources:
  - command:
      name: leaky
      run: |
        printf '%s\n' "$T" >&2
        exit 3
      creates: "{{vars.root}}/never"
      env:
        T: "code-{{#if (eq secrets.pin \"k7Qz9\")}}alpha-ok{{else}}other{{/if}}"
"#,
    );
    let d = dir.path();
    let env = [("KEEL_T_PIN", "k7Qz9")];
    for args in [
        &["apply", "--yes", "stack.yaml"][..],
        &["apply", "--yes", "--json", "stack.yaml"][..],
        &["-v", "apply", "--yes", "stack.yaml"][..],
    ] {
        let (code, out, err) = keel(d, args, &env);
        assert_ne!(code, 0, "the command fails: {out}{err}");
        let shown = format!("{out}{err}");
        assert!(shown.contains("exit status 3"), "{args:?}: {shown}");
        assert!(shown.contains("(sensitive)"), "{args:?}: {shown}");
        for leak in ["k7Qz9", "code-alpha-ok", "alpha-ok"] {
            assert!(!shown.contains(leak), "{args:?}: `{leak}` shows:\n{shown}");
        }
    }
}
