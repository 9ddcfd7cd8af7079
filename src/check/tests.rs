//! Tests of the check runner: judging answers, the scripts host-side
//! checks run (in a local `sh`), TCP and HTTP(S) against servers on
//! 127.0.0.1, retries and redaction.

use super::*;
use crate::resources::check::Check;
use crate::resources::testing::load;
use crate::secret::Secret;
use crate::transport::local::Local;
use std::io::{Read, Write};
use std::net::TcpListener;

fn check(yaml: &str) -> Check {
    load("check", yaml)
        .as_any()
        .downcast_ref::<Check>()
        .unwrap()
        .clone()
}

/// Masks the secrets of `red` (no rendered values).
fn plain(red: &Redactor) -> Masker<'_> {
    Masker {
        redactor: red,
        tainted: &[],
    }
}

fn none() -> Redactor {
    Redactor::new(Vec::new())
}

async fn run(c: &Check) -> CheckReport {
    let local = Local::new(false);
    let red = none();
    run_check(
        "here",
        "127.0.0.1",
        "check[t]",
        c,
        Some(&local),
        &plain(&red),
    )
    .await
}

/// A port that nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Answer `n` HTTP requests with `response`, on a thread.
fn serve(response: &'static str, n: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let mut s = s.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn http_answers_are_judged_on_status_body_headers_and_expiry() {
    let h = check("http: { url: https://x/, status: 200, body: ok, headers: { content-type: json }, tls_min_days: 10 }\n")
        .http
        .unwrap();
    let mut r = http::Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: "{\"status\":\"ok\"}".into(),
        cert_not_after: Some(100 * 86_400),
    };
    let (ok, seen) = judge_http(&h, &r, 0, &none());
    assert!(ok, "{seen}");
    assert_eq!(seen, "status 200, certificate expires in 100 days");
    let (ok, seen) = judge_http(&h, &r, 95 * 86_400, &none());
    assert!(!ok);
    assert!(
        seen.contains("certificate expires in 5 days, at least 10 wanted"),
        "{seen}"
    );
    r.status = 503;
    r.body = "database down".into();
    r.headers.clear();
    let (ok, seen) = judge_http(&h, &r, 0, &none());
    assert!(!ok);
    for part in [
        "expected status 200",
        "no header content-type",
        "body lacks \"ok\"",
        "status 503",
        "body: \"database down\"",
    ] {
        assert!(seen.contains(part), "{part} in {seen}");
    }
}

#[test]
fn host_side_outputs_are_judged() {
    let c = check("command: \"false\"\nexit_code: 1\n");
    let p = c.probe_kind().unwrap();
    assert!(judge_host(p, Some(1), "", "").0);
    let (ok, seen) = judge_host(p, Some(0), "hi", "");
    assert!(!ok);
    assert_eq!(seen, "exit 0, expected 1: hi");
    let u = check("unit: ssh\n");
    assert!(judge_host(u.probe_kind().unwrap(), Some(0), "active\n", "").0);
    let (ok, seen) = judge_host(u.probe_kind().unwrap(), Some(3), "inactive\n", "");
    assert!(!ok);
    assert_eq!(seen, "ssh is not active: inactive");
    let d = check("container: db\n");
    let p = d.probe_kind().unwrap();
    assert!(judge_host(p, Some(0), "running healthy\n", "").0);
    assert!(judge_host(p, Some(0), "running none\n", "").0);
    assert!(!judge_host(p, Some(0), "running unhealthy\n", "").0);
    assert!(!judge_host(p, Some(0), "exited none\n", "").0);
    let (ok, seen) = judge_host(p, Some(1), "", "Error: No such object: db");
    assert!(!ok);
    assert!(
        seen.contains("cannot inspect container db: Error: No such object"),
        "{seen}"
    );
}

#[test]
fn host_scripts_quote_every_value() {
    let c = check("command: 'printf \"%s\\n\" \"it''s\" \"$HOME\"; exit 3'\nexit_code: 3\n");
    let s = host_script(c.probe_kind().unwrap(), Duration::from_secs(5));
    let out = crate::resources::testing::run_local(&s);
    assert_eq!(out.status, 3, "{out:?}");
    let home = std::env::var("HOME").unwrap();
    assert_eq!(
        out.stdout,
        format!("it's\n{home}\n"),
        "expanded by the host's shell, once"
    );
    let u = check("unit: \"a.service\"\n");
    assert!(
        host_script(u.probe_kind().unwrap(), Duration::from_secs(5))
            .contains("\nkeel_arg=a.service\n")
    );
}

#[tokio::test]
async fn command_checks_run_over_the_transport() {
    let r = run(&check("command: \"test -d /\"\n")).await;
    assert!(r.passed, "{r:?}");
    assert_eq!((r.kind.as_str(), r.runs_on.as_str()), ("command", "host"));
    let r = run(&check(
        "command: \"echo nope >&2; exit 4\"\nretries: 1\ninterval: 0.05\n",
    ))
    .await;
    assert!(!r.passed);
    assert_eq!(r.attempts.len(), 2, "every attempt is kept: {r:?}");
    assert_eq!(r.attempts[1].detail, "exit 4, expected 0: nope");
}

#[tokio::test]
async fn a_command_check_s_text_is_not_on_a_command_line() {
    // Fails when its own text is in the argv of the shell that runs it or
    // of that shell's parent (`timeout`): argv is readable by every user.
    let r = run(&check(
        "command: \"for p in $$ $PPID; do tr '\\\\0' ' ' < /proc/$p/cmdline | grep -q ARGV-MARK && exit 1; done; exit 0\"\n",
    ))
    .await;
    assert!(r.passed, "{r:?}");
}

#[tokio::test]
async fn retries_stop_at_the_first_pass() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("n");
    // Fails twice, then passes: counts its runs in a file.
    let cmd = format!(
        "n=$(cat {m} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {m}; [ $n -ge 3 ]",
        m = marker.display()
    );
    let c = check(&format!(
        "command: {}\nretries: 5\ninterval: 0.05\n",
        serde_json::to_string(&cmd).unwrap()
    ));
    let r = run(&c).await;
    assert!(r.passed, "{r:?}");
    assert_eq!(
        r.attempts.iter().map(|a| a.passed).collect::<Vec<_>>(),
        [false, false, true]
    );
}

#[tokio::test]
async fn tcp_open_and_closed_from_this_process() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let closed = free_port();
    let r = run(&check(&format!("tcp: {{ port: {open} }}\n"))).await;
    assert!(r.passed, "{r:?}");
    assert_eq!(r.runs_on, "keel");
    assert_eq!(r.what, format!("tcp 127.0.0.1:{open} open"));
    let r = run(&check(&format!(
        "tcp: {{ host: 127.0.0.1, port: {closed}, state: closed }}\n"
    )))
    .await;
    assert!(r.passed, "{r:?}");
    assert!(r.attempts[0].detail.contains("connection refused"), "{r:?}");
    let r = run(&check(&format!("tcp: {{ port: {open}, state: closed }}\n"))).await;
    assert!(!r.passed);
    assert!(
        r.attempts[0]
            .detail
            .contains("answers, but it must be closed"),
        "{r:?}"
    );
    let r = run(&check(&format!("tcp: {{ port: {closed} }}\ntimeout: 1\n"))).await;
    assert!(!r.passed);
    // A name works too (every address it resolves to is tried in turn).
    let r = run(&check(&format!(
        "tcp: {{ host: localhost, port: {open} }}\n"
    )))
    .await;
    assert!(r.passed, "{r:?}");
    drop(l);
}

#[tokio::test]
async fn http_checks_from_this_process() {
    let port = serve(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
        1,
    );
    let r = run(&check(&format!(
        "http: {{ url: \"http://127.0.0.1:{port}/health\", body: ok }}\n"
    )))
    .await;
    assert!(r.passed, "{r:?}");
    assert_eq!(r.attempts[0].detail, "status 200");
    let port = serve(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom",
        2,
    );
    let r = run(&check(&format!(
        "http: {{ url: \"http://127.0.0.1:{port}/\" }}\nretries: 1\ninterval: 0.05\n"
    )))
    .await;
    assert!(!r.passed);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(
        r.attempts[1].detail,
        "expected status 200; status 500, body: \"boom\""
    );
    let r = run(&check(&format!(
        "http: {{ url: \"http://127.0.0.1:{}/\" }}\ntimeout: 2\n",
        free_port()
    )))
    .await;
    assert!(!r.passed);
    assert!(r.attempts[0].detail.contains("cannot connect"), "{r:?}");
}

#[tokio::test]
async fn secrets_are_redacted_in_reports() {
    let secret = "hunter2-the-secret";
    let port = serve(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 27\r\n\r\nbad token hunter2-the-secret",
        1,
    );
    let c = check(&format!(
        "http: {{ url: \"http://127.0.0.1:{port}/?t={secret}\" }}\n"
    ));
    let red = Redactor::new(vec![Secret::new(secret.to_string())]);
    let local = Local::new(false);
    let r = run_check(
        "h",
        "127.0.0.1",
        &format!("check[{secret}]"),
        &c,
        Some(&local),
        &plain(&red),
    )
    .await;
    let text = serde_json::to_string(&r).unwrap()
        + &render(std::slice::from_ref(&r))
        + &failures(&[r]).join("");
    assert!(!text.contains(secret), "{text}");
}

#[tokio::test]
async fn a_secret_quoted_by_the_report_is_redacted() {
    // The report quotes header values and the expected body as Rust
    // strings (`"..\".."`) before it is masked: a secret with a quote in
    // it changes form there.
    let secret = "hun\"ter2-the-secret";
    let port = serve(
        "HTTP/1.1 200 OK\r\nX-Token: hun\"ter2-the-secret\r\nContent-Length: 2\r\n\r\nok",
        1,
    );
    let c = check(&format!(
        "http: {{ url: \"http://127.0.0.1:{port}/\", headers: {{ x-token: nope }}, body: 'hun\"ter2-the-secret' }}\n"
    ));
    let red = Redactor::new(vec![Secret::new(secret.to_string())]);
    let local = Local::new(false);
    let r = run_check("h", "127.0.0.1", "check[t]", &c, Some(&local), &plain(&red)).await;
    let detail = &r.attempts[0].detail;
    assert!(
        detail.contains("header x-token") && detail.contains("body lacks"),
        "{detail}"
    );
    assert!(!detail.contains("ter2"), "{detail}");
}

#[tokio::test]
async fn a_secret_split_across_lines_of_the_output_is_redacted() {
    // The excerpt puts the output on one line: the redactor must see the
    // line breaks first, or the pieces of the secret show.
    let secret = "hunter2secret";
    let red = Redactor::new(vec![Secret::new(secret.to_string())]);
    let local = Local::new(false);
    let c = check("command: \"printf 'hunte\\\\nr2sec\\\\nret\\\\n'; exit 1\"\n");
    let r = run_check("h", "127.0.0.1", "check[t]", &c, Some(&local), &plain(&red)).await;
    let detail = &r.attempts[0].detail;
    assert!(detail.contains("exit 1"), "{detail}");
    assert!(
        !detail.contains("hunte") && !detail.contains("r2sec"),
        "{detail}"
    );
    let port = serve(
        "HTTP/1.1 500 Oops\r\nContent-Length: 18\r\n\r\ntoken hunter2\nsecret",
        1,
    );
    let c = check(&format!("http: {{ url: \"http://127.0.0.1:{port}/\" }}\n"));
    let r = run_check("h", "127.0.0.1", "check[t]", &c, Some(&local), &plain(&red)).await;
    let detail = &r.attempts[0].detail;
    assert!(detail.contains("status 500"), "{detail}");
    assert!(!detail.contains("hunter2"), "{detail}");
}

/// An HTTPS server on 127.0.0.1 with a test certificate (rustls).
fn serve_tls(n: usize, cert: &[u8], key: &[u8]) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(cert).unwrap();
    let key = PrivateKeyDer::from_pem_slice(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let config = Arc::new(config);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s.unwrap());
            let mut buf = [0u8; 4096];
            if tls.read(&mut buf).is_ok() {
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    port
}

#[tokio::test]
async fn https_verifies_unless_told_not_to_and_reads_the_expiry() {
    let port = serve_tls(
        3,
        include_bytes!("testdata/cert.pem"),
        include_bytes!("testdata/key.pem"),
    );
    // Not trusted by the system's roots: refused, saying why.
    let r = run(&check(&format!(
        "http: {{ url: \"https://127.0.0.1:{port}/\" }}\ntimeout: 5\n"
    )))
    .await;
    assert!(!r.passed, "{r:?}");
    assert!(
        r.attempts[0]
            .detail
            .starts_with("TLS: invalid peer certificate"),
        "{r:?}"
    );
    // Self-signed, accepted explicitly: the expiry is still read (the
    // test certificate is valid for ten years from when it was made).
    let r = run(&check(&format!(
        "http: {{ url: \"https://127.0.0.1:{port}/\", insecure: true, tls_min_days: 30 }}\ntimeout: 5\n"
    )))
    .await;
    assert!(r.passed, "{r:?}");
    assert!(
        r.attempts[0].detail.contains("certificate expires in"),
        "{r:?}"
    );
    let r = run(&check(&format!(
        "http: {{ url: \"https://127.0.0.1:{port}/\", insecure: true, tls_min_days: 100000 }}\ntimeout: 5\n"
    )))
    .await;
    assert!(!r.passed);
    assert!(
        r.attempts[0].detail.contains("at least 100000 wanted"),
        "{r:?}"
    );
}

#[tokio::test]
async fn https_trusts_a_ca_file() {
    // leaf.pem: CN and SAN 127.0.0.1, signed by ca.pem (both made with
    // openssl for these tests, valid for about ten years from 2026-11-30).
    let port = serve_tls(
        2,
        include_bytes!("testdata/leaf.pem"),
        include_bytes!("testdata/leaf.key"),
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, include_str!("testdata/ca.pem")).unwrap();
    let r = run(&check(&format!(
        "http: {{ url: \"https://127.0.0.1:{port}/\", ca_file: \"{}\", tls_min_days: 30 }}\ntimeout: 5\n",
        ca.display()
    )))
    .await;
    assert!(r.passed, "{r:?}");
    // Another CA does not vouch for it.
    std::fs::write(&ca, include_str!("testdata/cert.pem")).unwrap();
    let r = run(&check(&format!(
        "http: {{ url: \"https://127.0.0.1:{port}/\", ca_file: \"{}\" }}\ntimeout: 5\n",
        ca.display()
    )))
    .await;
    assert!(!r.passed, "{r:?}");
    assert!(
        r.attempts[0]
            .detail
            .starts_with("TLS: invalid peer certificate"),
        "{r:?}"
    );
}
