//! End to end, the flagship: `stacks/ai-platform.yaml` (the operations
//! guide's AI platform) applied to two bare Debian hosts over real SSH —
//! `app1` (web + app + db) and `mon1` (monitoring) — with the inventory
//! `inventory/e2e.yaml.in`, the test machine being the outside world.
//!
//! Stand-ins where the machine cannot reach the real thing (no image
//! registry, no public ACME): a pebble ACME server on the app host, the
//! application's repository served by `git daemon` from this machine
//! (tests/e2e/ai-platform/app-repo, tags v1 and v2), images built on the
//! host (see tests/e2e/ai-platform/README.md).
//!
//! Shown, in one story:
//! - one `keel apply` from bare hosts converges (root on 22 at first, then
//!   deploy on 2222), its checks passing;
//! - HTTPS through nginx answers the backend's /health with 200 from
//!   outside, with a certificate from pebble, the guide's TLS protocols and
//!   security headers; only 2222, 80 and 443 answer from outside; deploy
//!   logs in with its key on 2222, root and passwords are refused;
//! - PostgreSQL and Redis answer from the backend container with the
//!   passwords from the secrets (and refuse a wrong one); the guide's
//!   indexes exist; migrations and seeding ran once;
//! - Prometheus on mon1 has every target up, the app host's exporters and
//!   the backend's /metrics included; Alertmanager has the guide's routes;
//!   Grafana's provisioning is written;
//! - the backup jobs, run by the test, write a gzipped dump, a hard-link
//!   snapshot and a config tarball, sync them off-site and apply retention;
//! - a second apply changes nothing; `keel verify` passes;
//! - release v2 rebuilds and updates only the application's services
//!   (PostgreSQL and Redis keep their containers), backs up, migrates once;
//! - no secret ever appears in anything keel printed.
//!
//! Time: 7 minutes (423 s) on 2 cores shared with other builds, up to 14
//! when they are busiest (the first apply installs Docker, PostgreSQL,
//! Prometheus and friends from Debian's mirror and builds the images).

mod support;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, Command};
use std::time::Duration;
use support::{Host, Keel, Run, expect, repo};

const PG_PASSWORD: &str = "pg-Secret-e2e-4711";
const REDIS_PASSWORD: &str = "redis-Secret-e2e-0815";
const JWT_SECRET: &str = "jwt-Secret-e2e-0123456789abcdefghijkl";
const SESSION_SECRET: &str = "session-Secret-e2e-9876";
const OTHER_SECRET: &str = "other-Secret-e2e-5555";

const SECRETS: &[(&str, &str)] = &[
    ("AIP_POSTGRES_PASSWORD", PG_PASSWORD),
    ("AIP_REDIS_PASSWORD", REDIS_PASSWORD),
    ("AIP_JWT_SECRET", JWT_SECRET),
    ("AIP_SESSION_SECRET", SESSION_SECRET),
    ("AIP_SMTP_PASSWORD", OTHER_SECRET),
    ("AIP_GRAFANA_PASSWORD", OTHER_SECRET),
    ("AIP_ELASTIC_PASSWORD", OTHER_SECRET),
    ("AIP_KIBANA_PASSWORD", OTHER_SECRET),
];

/// `git daemon` serving the stand-in repository; killed on drop.
struct GitDaemon(Child);

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=keel", "-c", "user.email=keel@example.test"])
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// The stand-in application repository with tags v1 and v2, served by git
/// daemon on a free port; its URL as the hosts see this machine.
fn serve_repo(h: &Host) -> (GitDaemon, String) {
    let base = h.dir.path().join("git");
    let work = base.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let src = repo().join("tests/e2e/ai-platform/app-repo");
    let out = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(&work)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    git(&work, &["tag", "v1"]);
    let server = work.join("backend/server.py");
    let text = std::fs::read_to_string(&server).unwrap();
    std::fs::write(&server, text.replace("backend v1", "backend v2")).unwrap();
    git(&work, &["commit", "-q", "-am", "v2"]);
    git(&work, &["tag", "v2"]);
    let bare = base.join("app.git");
    let out = Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(&work)
        .arg(&bare)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("git")
        .args(["daemon", "--reuseaddr", "--export-all", "--listen=0.0.0.0"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(&base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("git daemon");
    let gateway = h.sh("ip route | awk '/^default/ {print $3; exit}'");
    (GitDaemon(child), format!("git://{gateway}:{port}/app.git"))
}

/// Pebble on the app host (as in tests/e2e_certificate.rs), behind a
/// certificate of a small CA made here; that CA's PEM.
fn start_pebble(h: &Host) -> String {
    h.sh("apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pebble openssl >/dev/null");
    h.sh(r#"set -e
mkdir -p /etc/pebble && cd /etc/pebble
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=keel test minica' -keyout minica.key -out minica.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout key.pem -out csr.pem 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in csr.pem -CA minica.pem -CAkey minica.key -CAcreateserial -days 30 -extfile san.ext -out cert.pem 2>/dev/null
cat > config.json <<EOF
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "/etc/pebble/cert.pem", "privateKey": "/etc/pebble/key.pem",
  "httpPort": 5002, "tlsPort": 5001}}
EOF
systemd-run --unit pebble -E PEBBLE_VA_ALWAYS_VALID=1 -E PEBBLE_VA_NOSLEEP=1 -E PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble -config /etc/pebble/config.json >/dev/null 2>&1
for i in $(seq 1 50); do
  if openssl s_client -connect localhost:14000 -CAfile minica.pem -verify_return_error </dev/null >/dev/null 2>&1; then exit 0; fi
  sleep 0.2
done
echo 'pebble did not start' >&2; exit 1
"#);
    h.sh("cat /etc/pebble/minica.pem")
}

/// The project: `stacks/` and `modules/` linked from the repository, and
/// `inventory/e2e.yaml.in` filled in for these hosts.
fn project(
    h: &Host,
    mon: &keel_sandbox::SandboxHost,
    repo_url: &str,
    ca: &str,
) -> (String, String) {
    let dir = h.dir.path();
    std::os::unix::fs::symlink(repo().join("modules"), dir.join("modules")).unwrap();
    std::os::unix::fs::symlink(repo().join("stacks"), dir.join("stacks")).unwrap();
    let j = |s: &str| serde_json::to_string(s).unwrap();
    let text = std::fs::read_to_string(repo().join("inventory/e2e.yaml.in"))
        .unwrap()
        .replace("@APP_ADDRESS@", &h.host.ip.to_string())
        .replace("@MON_ADDRESS@", &mon.ip.to_string())
        .replace(
            "@IDENTITY_FILE@",
            &j(h.testbed.key_path().to_str().unwrap()),
        )
        .replace(
            "@SSH_CONFIG@",
            &j(h.testbed.ssh_config_path().to_str().unwrap()),
        )
        .replace("@ADMIN_KEY@", &j(h.testbed.public_key().trim()))
        .replace("@ACME_CA_PEM@", &j(ca))
        .replace("@APP_REPO@", &j(repo_url));
    let inv = dir.join("e2e-inventory.yaml");
    std::fs::write(&inv, text).unwrap();
    (
        dir.join("stacks/ai-platform.yaml")
            .to_str()
            .unwrap()
            .to_string(),
        inv.to_str().unwrap().to_string(),
    )
}

fn keel(h: &Host, args: &[&str]) -> Run {
    h.keel(args, SECRETS)
}

/// Whether a TCP port of `ip` answers from this machine.
fn answers(ip: IpAddr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(3)).is_ok()
}

/// curl from this machine (the outside) to the app host by name.
fn curl_outside(ip: IpAddr, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "10"])
        .args([
            "--resolve",
            &format!("api.ai.example.test:443:{ip}"),
            "--resolve",
            &format!("ai.example.test:443:{ip}"),
        ])
        .args(args)
        .output()
        .expect("curl on the test machine");
    assert!(out.status.success(), "curl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A compose command in the app's project on the app host.
const DC: &str = "cd /srv/ai-platform && docker-compose -p ai-platform -f docker-compose.prod.yml --env-file .env.production";

fn psql(h: &Host, sql: &str) -> String {
    // The SQL travels base64-encoded on stdin: no quoting to get wrong.
    let b64 = h.sh(&format!("printf '%s' {} | base64 -w0", shell_word(sql)));
    h.sh(&format!(
        "echo {b64} | base64 -d | docker exec -i ai-platform_backend_1 sh -c 'PGPASSWORD=\"$POSTGRES_PASSWORD\" psql -h \"$POSTGRES_HOST\" -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -tA'"
    ))
}

/// `s` as one single-quoted shell word.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn container_id(h: &Host, name: &str) -> String {
    h.sh(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))
}

#[test]
fn ai_platform_from_bare_hosts() {
    let h = Host::start("app1");
    let mon = h
        .testbed
        .start_host("mon1")
        .unwrap_or_else(|e| panic!("cannot start mon1: {e}"));
    let app_ip = IpAddr::V4(h.host.ip);
    let ca = start_pebble(&h);
    let (_daemon, repo_url) = serve_repo(&h);
    let (stack, inv) = project(&h, &mon, &repo_url, &ca);

    expect(&keel(&h, &["validate", "-i", &inv, &stack]), 0, "validate");

    // One apply from bare hosts.
    let apply = keel(&h, &["apply", "--yes", "-i", &inv, &stack]);
    expect(&apply, 0, "first apply");

    // HTTPS from outside: the backend's health through nginx, TLS as the
    // guide says, a certificate from pebble.
    let head = curl_outside(app_ip, &["-D", "-", "https://api.ai.example.test/health"]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.contains("\"status\": \"ok\""), "{head}");
    for header in [
        "strict-transport-security: max-age=31536000; includeSubDomains",
        "x-frame-options: DENY",
        "x-content-type-options: nosniff",
        "x-xss-protection: 1; mode=block",
    ] {
        assert!(head.contains(header), "{header} in {head}");
    }
    let front = curl_outside(app_ip, &["https://ai.example.test/"]);
    assert!(front.contains("AI design platform"), "{front}");
    assert!(
        h.sh("openssl x509 -in /srv/ai-platform/nginx/ssl/cert.pem -noout -issuer -ext subjectAltName")
            .contains("api.ai.example.test"),
    );
    assert!(
        h.sh("openssl x509 -in /srv/ai-platform/nginx/ssl/cert.pem -noout -issuer")
            .to_lowercase()
            .contains("pebble")
    );
    let tls = h.sh("nginx -T 2>/dev/null");
    assert!(tls.contains("ssl_protocols TLSv1.2 TLSv1.3;"), "{tls}");
    assert!(tls.contains("listen 443 ssl http2;"));
    let tls10 = Command::new("curl")
        .args(["-sk", "--tlsv1.1", "--tls-max", "1.1", "--max-time", "5"])
        .arg(format!("https://{app_ip}/"))
        .output()
        .unwrap();
    assert!(!tls10.status.success(), "TLS 1.1 must be refused");

    // Only 2222, 80 and 443 answer from outside.
    for port in [2222, 80, 443] {
        assert!(answers(app_ip, port), "port {port} answers");
    }
    for port in [22, 3000, 3001, 5432, 6379, 8000, 9100, 9121, 9180, 9187] {
        assert!(!answers(app_ip, port), "port {port} is closed from outside");
    }
    let ok = h.ssh_as("deploy", 2222, "id -un");
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "deploy",
        "{ok:?}"
    );
    assert!(
        !h.ssh_as("root", 2222, "true").status.success(),
        "root refused"
    );
    let pw = Command::new("ssh")
        .arg("-F")
        .arg(h.testbed.ssh_config_path())
        .args([
            "-p",
            "2222",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
        ])
        .args([
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ])
        .arg(format!("deploy@{app_ip}"))
        .arg("true")
        .output()
        .unwrap();
    assert!(!pw.status.success(), "password login refused");
    assert!(
        String::from_utf8_lossy(&pw.stderr).contains("(publickey)"),
        "only publickey offered: {pw:?}"
    );

    // The data services, from the backend container, with the secrets.
    assert_eq!(psql(&h, "select 1"), "1");
    assert_eq!(
        psql(
            &h,
            "select string_agg(indexname, ',' order by indexname) from pg_indexes where indexname like 'idx_%'"
        ),
        "idx_conversations_user_id,idx_users_email"
    );
    assert_eq!(
        psql(&h, "select string_agg(release, ',') from migrations_run"),
        "v1"
    );
    assert_eq!(psql(&h, "select count(*) from users"), "1", "seeded once");
    assert_eq!(
        h.sh(&format!("{DC} exec -T backend sh -c 'REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli -h \"$REDIS_HOST\" ping'")),
        "PONG"
    );
    assert!(
        h.sh(&format!("{DC} exec -T backend sh -c 'REDISCLI_AUTH=wrong-password redis-cli -h \"$REDIS_HOST\" ping 2>&1 || true'"))
            .contains("WRONGPASS"),
        "a wrong Redis password is refused"
    );
    assert_eq!(h.sh("stat -c %a /srv/ai-platform/.env.production"), "600");
    assert_eq!(h.sh("stat -c %a /srv/ai-platform/backups"), "700");
    assert_eq!(h.sh("cat /srv/ai-platform/VERSION"), "v1");

    // Monitoring: every target up, the app host's exporters included.
    let up = mon
        .exec_ok("curl -fsS 'http://127.0.0.1:9090/api/v1/query?query=up' | python3 -c 'import json,sys; print(\" \".join(sorted(r[\"metric\"][\"job\"]+\"=\"+r[\"value\"][1] for r in json.load(sys.stdin)[\"data\"][\"result\"])))' 2>/dev/null || curl -fsS 'http://127.0.0.1:9090/api/v1/query?query=up'")
        .unwrap();
    for job in [
        "backend-api",
        "node",
        "postgres-exporter",
        "redis-exporter",
        "prometheus",
        "alertmanager",
    ] {
        assert!(
            up.contains(&format!("\"job\":\"{job}\"")) || up.contains(&format!("{job}=1")),
            "{job} in {up}"
        );
    }
    assert!(
        !up.contains("=0") && !up.contains("\"0\"]"),
        "every target up: {up}"
    );
    let am = mon
        .exec_ok("curl -fsS http://127.0.0.1:9093/api/v2/status")
        .unwrap();
    assert!(
        am.contains("dev-team@example.com") && am.contains("severity"),
        "{am}"
    );
    let prov = mon
        .exec_ok("ls /srv/monitoring/grafana/provisioning/dashboards/keel /srv/monitoring/grafana/provisioning/datasources")
        .unwrap();
    assert!(
        prov.contains("system-overview.json") && prov.contains("keel.yaml"),
        "{prov}"
    );

    // Nothing left to do; the checks pass alone.
    let plan = keel(&h, &["plan", "--detailed-exitcode", "-i", &inv, &stack]);
    expect(&plan, 0, "plan after apply");
    let again = keel(&h, &["apply", "--yes", "--json", "-i", &inv, &stack]);
    expect(&again, 0, "second apply");
    let doc: serde_json::Value = serde_json::from_str(&again.stdout).expect("apply JSON");
    assert_eq!(
        doc["plan"]["changes"], false,
        "the second apply changes nothing"
    );
    expect(&keel(&h, &["verify", "-i", &inv, &stack]), 0, "keel verify");

    // Backups, run once by the test: a gzipped dump, a snapshot, a tarball,
    // the off-site copy, retention.
    h.sh("echo avatar > /srv/ai-platform/uploads/avatar.png");
    h.sh("touch -d '10 days ago' /backup/database/ai_platform_backup_20000101_000000.sql.gz");
    for job in ["ai_platform", "files", "config"] {
        h.sh(&format!("/usr/local/lib/keel/backup-{job}"));
    }
    assert!(
        !h.sh_ok("test -e /backup/database/ai_platform_backup_20000101_000000.sql.gz"),
        "retention"
    );
    assert!(
        h.sh("zcat $(ls -t /backup/database/ai_platform_backup_*.sql.gz | head -n 1)")
            .contains("CREATE TABLE public.users")
    );
    assert_eq!(h.sh("cat /backup/files/snapshot-*/avatar.png"), "avatar");
    assert!(
        h.sh("tar tzf $(ls -t /backup/config/config_*.tar.gz | head -n 1)")
            .contains(".env.production")
    );
    assert!(
        h.sh_ok("ls /var/backups/offsite/database/ai_platform_backup_*.sql.gz"),
        "off-site copy"
    );
    assert_eq!(h.sh("stat -c %a /backup"), "700");

    // Release v2: only the application's services are updated.
    let pg = container_id(&h, "ai-platform-postgres_postgres_1");
    let redis = container_id(&h, "ai-platform-redis_redis_1");
    let backend = container_id(&h, "ai-platform_backend_1");
    let dumps = h.sh("ls /backup/database | wc -l");
    let v2 = keel(
        &h,
        &["apply", "--yes", "-i", &inv, &stack, "--set", "release=v2"],
    );
    expect(&v2, 0, "apply of release v2");
    assert_eq!(
        container_id(&h, "ai-platform-postgres_postgres_1"),
        pg,
        "postgres untouched"
    );
    assert_eq!(
        container_id(&h, "ai-platform-redis_redis_1"),
        redis,
        "redis untouched"
    );
    assert_ne!(
        container_id(&h, "ai-platform_backend_1"),
        backend,
        "backend updated"
    );
    assert!(curl_outside(app_ip, &["https://api.ai.example.test/health"]).contains("backend v2"));
    assert_eq!(
        psql(
            &h,
            "select string_agg(release, ',' order by at) from migrations_run"
        ),
        "v1,v2"
    );
    assert_ne!(
        h.sh("ls /backup/database | wc -l"),
        dumps,
        "a backup before the migration"
    );
    expect(
        &keel(
            &h,
            &[
                "plan",
                "--detailed-exitcode",
                "-i",
                &inv,
                &stack,
                "--set",
                "release=v2",
            ],
        ),
        0,
        "plan after v2",
    );

    // No secret in anything keel printed.
    let transcript = h.transcript.borrow();
    for (_, secret) in SECRETS {
        assert!(
            !transcript.contains(secret),
            "a secret leaked into keel's output"
        );
    }
}

/// The flagship's other inventories and the newcomers' examples load and
/// validate offline (no host, no Docker): the modules are found by name
/// (bundled), every input has its type, every address exists.
#[test]
fn platform_inventories_and_examples_validate_offline() {
    let stack = repo().join("stacks/ai-platform.yaml");
    let cases = [
        (stack.clone(), repo().join("inventory/production")),
        (stack, repo().join("inventory/single-host")),
        (
            repo().join("examples/hardened-host/stack.yaml"),
            repo().join("examples/hardened-host/inventory.example.yaml"),
        ),
        (
            repo().join("examples/compose-app-tls/stack.yaml"),
            repo().join("examples/compose-app-tls/inventory.example.yaml"),
        ),
        (
            repo().join("examples/backups-only/stack.yaml"),
            repo().join("examples/backups-only/inventory.example.yaml"),
        ),
    ];
    for (stack, inv) in cases {
        let out = Keel::new()
            .arg("validate")
            .arg("-i")
            .arg(&inv)
            .arg(&stack)
            .envs(SECRETS)
            .run();
        assert!(
            out.status.success(),
            "validate {} -i {}: {}",
            stack.display(),
            inv.display(),
            out.stderr
        );
    }
}

/// G10 without a cluster: the kubernetes module writes the guide's
/// manifests and runs `kubectl apply -f` only when they changed — shown
/// with the local transport and a stand-in kubectl that records its calls.
#[test]
fn kubernetes_manifests_are_applied_when_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(repo().join("modules"), d.join("modules")).unwrap();
    std::fs::create_dir(d.join("stacks")).unwrap();
    let log = d.join("kubectl.log");
    let kubectl = d.join("kubectl");
    std::fs::write(
        &kubectl,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&kubectl)
        .status()
        .unwrap();
    std::fs::write(
        d.join("stacks/inventory.yaml"),
        "hosts:\n  admin:\n    transport: local\ngroups:\n  kubectl:\n    hosts: [admin]\n",
    )
    .unwrap();
    let stack = |node_env: &str| {
        format!(
            "name: k8s\ntargets: [kubectl]\nuses:\n  - module: kubernetes\n    with:\n      dir: {m}\n      kubectl: {k}\n      app_domain: ai.example.test\n      api_domain: api.ai.example.test\n      node_env: {node_env}\n",
            m = d.join("k8s").display(),
            k = kubectl.display(),
        )
    };
    let path = d.join("stacks/k8s.yaml");
    let run = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let out = Keel::new().args(["apply", "--yes"]).arg(&path).run();
        assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
        std::fs::read_to_string(&log).unwrap_or_default()
    };
    let apply = format!("apply -f {}\n", d.join("k8s").display());
    assert_eq!(run(&stack("production")), apply, "applied once");
    let ingress = std::fs::read_to_string(d.join("k8s/20-ingress.yaml")).unwrap();
    for want in [
        "cert-manager.io/cluster-issuer: letsencrypt-prod",
        "- ai.example.test",
        "- api.ai.example.test",
        "number: 3001",
    ] {
        assert!(ingress.contains(want), "{want} in {ingress}");
    }
    assert!(
        std::fs::read_to_string(d.join("k8s/10-configmap.yaml"))
            .unwrap()
            .contains("NODE_ENV: \"production\"")
    );
    assert_eq!(
        run(&stack("production")),
        apply,
        "unchanged: not applied again"
    );
    assert_eq!(
        run(&stack("staging")),
        format!("{apply}{apply}"),
        "a changed manifest is applied"
    );
}
