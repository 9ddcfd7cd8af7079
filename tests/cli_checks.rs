//! Checks through the real binary with the `local` transport: `keel
//! verify` passing and failing (exit codes, text and JSON, every attempt
//! shown), checks in a plan (never drift), `keel apply` running them after
//! its changes and failing on a failed one, and secrets masked.
//! HTTP and TCP are served by this test on 127.0.0.1.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use support::Keel;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new()
        .current_dir(dir)
        .args(args)
        .env("KEEL_TEST_TOKEN", "tok-9f8e7d6c5b4a")
        .run()
        .parts()
}

/// A scratch project: one local host `here` (address 127.0.0.1), `root`
/// a scratch folder, and `stack.yaml`.
fn project(stack: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let inv = format!(
        "hosts:\n  here:\n    transport: local\n    address: 127.0.0.1\n    vars:\n      root: \"{}\"\n",
        root.display()
    );
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    dir
}

/// An HTTP server answering every request with `status` and `body`.
fn http_server(status: &'static str, body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stack(checks: &str) -> String {
    format!("name: checks\ntargets: [here]\nresources:\n{checks}")
}

#[test]
fn verify_passes_when_every_check_holds() {
    let port = http_server("200 OK", "{\"status\":\"ok\"}");
    let closed = closed_port();
    let dir = project(&stack(&format!(
        r#"  - check: {{ name: api, http: {{ url: "http://127.0.0.1:{port}/health", body: '"ok"', headers: {{ content-type: text }} }} }}
  - check: {{ tcp: {{ port: {closed}, state: closed }} }}
  - check: {{ name: root-exists, command: "test -d '{{{{vars.root}}}}'" }}
"#
    )));
    let (code, out, err) = keel(dir.path(), &["verify", "stack.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("✓ here         check[api]"), "{out}");
    assert!(out.contains(&format!("check[port {closed}]")), "{out}");
    assert!(out.contains("connection refused"), "{out}");
    assert!(out.contains("check[root-exists]"), "{out}");
    assert!(out.contains("3 checks: 3 passed, 0 failed"), "{out}");
}

#[test]
fn verify_fails_naming_the_check_and_showing_every_attempt() {
    // The stack says the port is closed, but something answers there.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let port = http_server("503 Service Unavailable", "database down");
    let dir = project(&stack(&format!(
        r#"  - check: {{ tcp: {{ port: {open}, state: closed }} }}
  - check: {{ name: api, http: {{ url: "http://127.0.0.1:{port}/" }}, retries: 2, interval: 0.1 }}
  - check: {{ name: fine, command: "true" }}
"#
    )));
    let (code, out, err) = keel(dir.path(), &["verify", "stack.yaml"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(&format!("keel: check[port {open}] on here failed after 1 attempt: port {open} on 127.0.0.1 answers, but it must be closed")),
        "{err}"
    );
    for n in 1..=3 {
        assert!(
            out.contains(&format!(
                "attempt {n}: expected status 200; status 503, body: \"database down\""
            )),
            "attempt {n}: {out}"
        );
    }
    assert!(out.contains("3 checks: 1 passed, 2 failed"), "{out}");

    let (code, out, _) = keel(dir.path(), &["verify", "--json", "stack.yaml"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], false);
    let checks = v["hosts"][0]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[0]["address"], format!("check[port {open}]"));
    assert_eq!(checks[0]["runs_on"], "keel");
    assert_eq!(checks[0]["passed"], false);
    assert_eq!(checks[1]["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(checks[2]["runs_on"], "host");
    assert_eq!(checks[2]["passed"], true);
    drop(listener);
}

#[test]
fn verify_json_passes_and_exit_zero() {
    let dir = project(&stack("  - check: { unit_or_not: 1 }\n"));
    let (code, _, err) = keel(dir.path(), &["verify", "stack.yaml"]);
    assert_eq!(code, 1, "an unknown setting is a load error: {err}");
    assert!(err.contains("unit_or_not"), "{err}");

    let dir = project(&stack("  - check: { command: \"exit 3\", exit_code: 3 }\n"));
    let (code, out, err) = keel(dir.path(), &["verify", "--json", "stack.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(
        v["hosts"][0]["checks"][0]["attempts"][0]["detail"],
        "exit 3"
    );
}

#[test]
fn verify_changes_nothing_and_checks_are_no_drift_in_a_plan() {
    let port = http_server("200 OK", "ok");
    let dir = project(&stack(&format!(
        r#"  - file: {{ path: "{{{{vars.root}}}}/app.conf", content: "x\n" }}
  - check: {{ name: api, http: {{ url: "http://127.0.0.1:{port}/" }} }}
"#
    )));
    let conf = dir.path().join("root/app.conf");
    let (code, out, err) = keel(dir.path(), &["verify", "stack.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!conf.exists(), "verify must not apply anything");

    let (code, out, _) = keel(dir.path(), &["plan", "stack.yaml"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "? check[api]  check after apply (from keel's machine): GET http://127.0.0.1:"
        ),
        "{out}"
    );

    std::fs::write(&conf, "x\n").unwrap();
    let (code, out, err) = keel(
        dir.path(),
        &["plan", "--detailed-exitcode", "--json", "stack.yaml"],
    );
    assert_eq!(code, 0, "a check is not drift: {out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let check = &v["hosts"][0]["resources"][1];
    assert_eq!(
        (check["address"].as_str(), check["action"].as_str()),
        (Some("check[api]"), Some("no_op"))
    );
}

#[test]
fn apply_runs_checks_after_its_changes_and_fails_on_a_failed_one() {
    let dir = project(&stack(
        r#"  - file: { path: "{{vars.root}}/ready", content: "yes\n" }
  - check: { name: ready, command: "grep -q yes '{{vars.root}}/ready'" }
  - check: { name: marker, command: "test -e '{{vars.root}}/marker'" }
"#,
    ));
    let (code, out, err) = keel(dir.path(), &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        dir.path().join("root/ready").exists(),
        "the changes are applied first"
    );
    assert!(
        out.contains("✓ here         check[ready]"),
        "checks run after the change: {out}"
    );
    assert!(
        err.contains("keel: check[marker] on here failed after 1 attempt: exit 1, expected 0"),
        "{err}"
    );

    // Nothing left to change: the checks still run, and now pass.
    std::fs::write(dir.path().join("root/marker"), "").unwrap();
    let (code, out, err) = keel(dir.path(), &["apply", "--yes", "--json", "stack.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["plan"]["changes"], false);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c["passed"] == true), "{out}");

    // And a failing check fails an apply that has nothing to change.
    std::fs::remove_file(dir.path().join("root/marker")).unwrap();
    let (code, _, err) = keel(dir.path(), &["apply", "--yes", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("check[marker] on here failed"), "{err}");
}

#[test]
fn secrets_never_show_in_check_output() {
    let dir = project(
        "name: checks\ntargets: [here]\nsecrets:\n  token: { env: KEEL_TEST_TOKEN }\nresources:\n  - check: { name: token, command: \"echo token={{secrets.token}}; exit 1\" }\n",
    );
    for args in [
        &["verify", "stack.yaml"][..],
        &["verify", "--json", "stack.yaml"],
        &["apply", "--yes", "stack.yaml"],
    ] {
        let (code, out, err) = keel(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}\n{err}");
        assert!(
            out.contains("token=") || err.contains("token="),
            "{args:?}: {out}\n{err}"
        );
        assert!(
            !out.contains("tok-9f8e7d6c5b4a") && !err.contains("tok-9f8e7d6c5b4a"),
            "{args:?}: {out}\n{err}"
        );
    }
}

#[test]
fn an_unreachable_host_fails_verify() {
    let dir = project(&stack("  - check: { unit: ssh }\n"));
    let port = closed_port();
    std::fs::write(
        dir.path().join("inventory.yaml"),
        format!(
            "hosts:\n  here:\n    address: 127.0.0.1\n    port: {port}\n    host_key: accept-new\n"
        ),
    )
    .unwrap();
    let (code, out, err) = keel(dir.path(), &["verify", "--json", "stack.yaml"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], false);
    assert!(
        v["hosts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{out}"
    );
    assert!(
        err.contains("keel: here: cannot run its checks: cannot connect"),
        "{err}"
    );
}

#[test]
fn verify_takes_the_values_of_set() {
    let dir = project(
        "name: checks\ntargets: [here]\nrelease: \"{{vars.release}}\"\nresources:\n  - check: { name: release, command: \"test {{release}} = v2\" }\n",
    );
    let (code, out, err) = keel(dir.path(), &["verify", "stack.yaml", "--set", "release=v2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 check: 1 passed, 0 failed"), "{out}");
    let (code, out, err) = keel(dir.path(), &["verify", "stack.yaml", "--set", "release=v1"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("check[release]"), "{out}");
}
