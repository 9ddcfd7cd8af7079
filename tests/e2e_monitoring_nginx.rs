//! End to end, over real SSH against a fresh Debian host: the project's
//! monitoring and nginx modules (`modules/prometheus`, `alertmanager`,
//! `exporters`, `grafana-provisioning`, `nginx-base`, `nginx-site`) applied
//! by the stack `tests/e2e/monitoring/stacks/monitoring.yaml`.
//!
//! One host, one story: converge in one apply (Prometheus ready with the
//! ops guide's rules, Alertmanager with our routes, exporters scraped,
//! nginx serving a TLS site with the guide's headers); plan again → exit 0;
//! an invalid alert rule fails with promtool's message and never replaces
//! the live rule file; an nginx site nginx -t refuses is put back and nginx
//! keeps serving; a hand edit of prometheus.yml is drift (exit 2, a diff)
//! and the next apply repairs it. Secrets never reach keel's output.

mod support;

use support::{Host, Run, expect, repo};

const SMTP_PASSWORD: &str = "sm'tp\"pw-$(touch /tmp/pwned)-;";
const PG_DSN: &str = "postgresql://exporter:pg-s3cret-x@localhost:5432/postgres?sslmode=disable";

/// Lay out the test project: `stacks/monitoring.yaml` beside a `modules`
/// link to the repository's modules (keel looks one folder up).
fn project(h: &Host) -> String {
    let dir = h.dir.path();
    std::os::unix::fs::symlink(repo().join("modules"), dir.join("modules")).unwrap();
    std::fs::create_dir(dir.join("stacks")).unwrap();
    let stack = dir.join("stacks/monitoring.yaml");
    std::fs::copy(
        repo().join("tests/e2e/monitoring/stacks/monitoring.yaml"),
        &stack,
    )
    .unwrap();
    stack.to_str().unwrap().to_string()
}

fn keel(h: &Host, args: &[&str]) -> Run {
    h.keel(
        args,
        &[
            ("KEEL_TEST_SMTP_PASSWORD", SMTP_PASSWORD),
            ("KEEL_TEST_PG_DSN", PG_DSN),
        ],
    )
}

/// Output of a run, both streams.
fn out(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

/// Run `cmd` on the host until it succeeds (services start asynchronously
/// after a start or a reload); its stdout.
fn eventually(h: &Host, cmd: &str) -> String {
    for _ in 0..60 {
        if let Ok(o) = h.host.exec_ok(cmd) {
            return o;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    h.sh(cmd)
}

fn sha(h: &Host, path: &str) -> String {
    h.sh(&format!("sha256sum {path}"))
}

const CURL_SITE: &str = "curl -sk --resolve ai.example.test:443:127.0.0.1";

#[test]
fn monitoring_and_nginx_modules_converge_and_refuse_broken_configs() {
    let h = Host::start("monitoring");
    let stack = project(&h);
    // `h.inventory` rewrites the same file: each phase writes its own.
    let inventory =
        |vars: &[(&str, &str)]| h.inventory("root", vars, "").to_str().unwrap().to_string();
    let inv = &inventory(&[]);

    expect(&keel(&h, &["validate", "-i", inv, &stack]), 0, "validate");

    // Converge in one apply.
    let apply = keel(&h, &["apply", "--yes", "-i", inv, &stack]);
    expect(&apply, 0, "first apply");

    // Prometheus: valid files, ready, running our configuration and rules.
    assert!(h.sh_ok("promtool check config /etc/prometheus/prometheus.yml"));
    assert!(h.sh_ok(
        "promtool check rules /etc/prometheus/rules/keel-default.yml /etc/prometheus/rules/keel-custom.yml"
    ));
    assert!(
        eventually(&h, "curl -fsS http://127.0.0.1:9090/-/ready").contains("Ready"),
        "prometheus ready"
    );
    let groups = eventually(
        &h,
        "curl -fsS http://127.0.0.1:9090/api/v1/rules | jq -r '.data.groups[].name' | sort | tr '\\n' ' ' | grep app",
    );
    assert_eq!(
        groups, "app keel-application keel-availability keel-events keel-system",
        "rule groups loaded"
    );
    let config = h.sh("curl -fsS http://127.0.0.1:9090/api/v1/status/config | jq -r .data.yaml");
    assert!(config.contains("env: e2e"), "reloaded with ours: {config}");
    assert!(config.contains("job_name: backend-api"), "{config}");
    assert!(config.contains("scrape_interval: 5s"), "{config}");
    let rules = h.sh("cat /etc/prometheus/rules/keel-default.yml");
    for alert in [
        "InstanceDown",
        "HighErrorRate",
        "HighLatencyP95",
        "HighCpuUsage",
        "HighMemoryUsage",
        "DiskSpaceLow",
        "DiskSpaceCritical",
        "ServiceRestarted",
    ] {
        assert!(rules.contains(&format!("alert: {alert}")), "{alert}");
    }
    assert!(
        rules.contains("{{ $labels.instance }}"),
        "prometheus templating kept"
    );

    // Alertmanager: valid, ready, with our routes; the SMTP password in its
    // own file, alertmanager.yml free of it.
    assert!(h.sh_ok("amtool check-config /etc/prometheus/alertmanager.yml"));
    eventually(&h, "curl -fsS http://127.0.0.1:9093/-/ready");
    let am = eventually(
        &h,
        "curl -fsS http://127.0.0.1:9093/api/v2/status | jq -r .config.original | grep dev-team",
    );
    assert!(am.contains("dev-team@example.test"), "{am}");
    assert_eq!(
        h.sh("stat -c '%a %U:%G' /etc/prometheus/alertmanager-smtp-password"),
        "640 root:prometheus"
    );
    assert_eq!(
        h.sh("cat /etc/prometheus/alertmanager-smtp-password"),
        SMTP_PASSWORD
    );
    assert!(!h.sh_ok("grep -q pw- /etc/prometheus/alertmanager.yml"));

    // Exporters: node and postgres running, redis not installed; the DSN in
    // a 0600 file.
    assert!(
        eventually(
            &h,
            "curl -fsS http://127.0.0.1:9100/metrics | grep -c '^node_cpu_seconds_total'"
        )
        .parse::<u32>()
        .unwrap()
            > 0
    );
    assert!(eventually(&h, "curl -fsS http://127.0.0.1:9187/metrics").contains("pg_up 0"));
    assert_eq!(
        h.sh("stat -c '%a %U:%G' /etc/default/prometheus-postgres-exporter"),
        "600 root:root"
    );
    assert!(
        h.sh("cat /etc/default/prometheus-postgres-exporter")
            .contains(&format!("DATA_SOURCE_NAME='{PG_DSN}'"))
    );
    assert!(
        !h.sh_ok("dpkg-query -W -f='${Status}' prometheus-redis-exporter | grep -q 'ok installed'")
    );
    let up = eventually(
        &h,
        "r=$(curl -fsS 'http://127.0.0.1:9090/api/v1/query?query=up' | jq -r '.data.result[] | select(.value[1]==\"1\") | .metric.job' | sort | tr '\\n' ' '); \
         case \"$r\" in *alertmanager*node*postgres-exporter*prometheus*) echo \"$r\";; *) exit 1;; esac",
    );
    assert_eq!(
        up, "alertmanager node postgres-exporter prometheus",
        "targets up"
    );

    // Grafana provisioning: three dashboards of valid JSON, the data source.
    let prov = "/srv/monitoring/grafana/provisioning";
    assert_eq!(
        h.sh(&format!("for f in {prov}/dashboards/keel/*.json; do jq -r .title \"$f\"; done | sort | tr '\\n' ','")),
        "Application performance,Business metrics,System overview,"
    );
    assert!(
        h.sh(&format!(
            "jq -r '.panels[].targets[].expr' {prov}/dashboards/keel/system-overview.json"
        ))
        .contains("node_cpu_seconds_total{mode=\"idle\"}")
    );
    assert!(
        h.sh(&format!("cat {prov}/datasources/keel.yaml"))
            .contains("url: 'http://host.docker.internal:9090'")
    );

    // nginx: the guide's tuning, a TLS site with its headers and asset cache.
    assert!(h.sh_ok("nginx -t"));
    let conf = h.sh("nginx -T 2>/dev/null");
    for d in [
        "worker_rlimit_nofile 65535;",
        "worker_connections 1024;",
        "use epoll;",
        "multi_accept on;",
        "gzip_min_length 1024;",
        "listen 443 ssl http2;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_session_cache shared:SSL:10m;",
        "server 127.0.0.1:3001 max_fails=3 fail_timeout=30s;",
        "keepalive 32;",
    ] {
        assert!(conf.contains(d), "nginx -T has `{d}`");
    }
    let redirect = h.sh("curl -sI -H 'Host: ai.example.test' http://127.0.0.1/x");
    assert!(redirect.starts_with("HTTP/1.1 301"), "{redirect}");
    assert!(
        redirect.contains("Location: https://ai.example.test/x"),
        "{redirect}"
    );
    assert_eq!(
        h.sh(&format!("{CURL_SITE} https://ai.example.test/healthz")),
        "ok"
    );
    let head = h.sh(&format!(
        "{CURL_SITE} -D - -o /dev/null https://ai.example.test/"
    ));
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    for header in [
        "strict-transport-security: max-age=31536000; includeSubDomains",
        "x-frame-options: DENY",
        "x-content-type-options: nosniff",
        "x-xss-protection: 1; mode=block",
    ] {
        assert!(head.contains(header), "{header} in {head}");
    }
    let asset = h.sh(&format!(
        "{CURL_SITE} -D - -o /dev/null https://ai.example.test/app.css"
    ));
    assert!(
        asset.contains("cache-control: public, immutable"),
        "{asset}"
    );
    assert!(asset.contains("x-frame-options: DENY"), "{asset}");
    assert!(
        h.sh(&format!("{CURL_SITE} https://ai.example.test/"))
            .contains("ai-platform on web1")
    );

    // Nothing left to do.
    expect(
        &keel(&h, &["plan", "--detailed-exitcode", "-i", inv, &stack]),
        0,
        "plan after apply",
    );

    // An invalid alert rule: promtool refuses it, the live rule file and the
    // running Prometheus are untouched.
    let rules_file = "/etc/prometheus/rules/keel-custom.yml";
    let before = sha(&h, rules_file);
    let bad_inv = inventory(&[("queue_expr", "rate((")]);
    let bad = keel(&h, &["apply", "--yes", "-i", &bad_inv, &stack]);
    expect(&bad, 1, "apply with an invalid rule");
    let text = out(&bad);
    assert!(text.contains("validation failed"), "{text}");
    assert!(
        text.contains("unclosed left parenthesis"),
        "promtool's message: {text}"
    );
    assert_eq!(sha(&h, rules_file), before, "rule file unchanged");
    assert!(h.sh("ls -A /etc/prometheus/rules") == "keel-custom.yml\nkeel-default.yml");
    assert!(
        h.sh("curl -fsS http://127.0.0.1:9090/-/ready")
            .contains("Ready")
    );
    assert_eq!(
        h.sh("curl -fsS http://127.0.0.1:9090/api/v1/rules | jq -r '.data.groups[] | select(.name==\"app\") | .rules[0].query'"),
        "app_queue_length > 1000"
    );

    // A site nginx -t refuses (a hand-written template with an unknown
    // directive): the previous site is put back, nginx keeps serving.
    let site = "/etc/nginx/conf.d/ai-platform.conf";
    let before = sha(&h, site);
    let template = h.dir.path().join("broken-site.conf.hbs");
    std::fs::write(
        &template,
        "# {{inputs.name}}, written by hand\nserver {\n    listen {{inputs.http_port}};\n    server_name{{#each inputs.server_names}} {{this}}{{/each}};\n    proxy_pass_everything on;\n}\n",
    )
    .unwrap();
    let bad_inv = inventory(&[("site_template", template.to_str().unwrap())]);
    let plan = keel(&h, &["plan", "-i", &bad_inv, &stack]);
    assert!(
        plan.stdout.contains("+    proxy_pass_everything on;"),
        "the plan shows the new site: {}",
        plan.stdout
    );
    let bad = keel(&h, &["apply", "--yes", "-i", &bad_inv, &stack]);
    expect(&bad, 1, "apply with a broken site");
    let text = out(&bad);
    assert!(text.contains("put back"), "{text}");
    assert!(
        text.contains("unknown directive \"proxy_pass_everything\""),
        "nginx -t's message: {text}"
    );
    assert_eq!(sha(&h, site), before, "site file restored");
    assert_eq!(
        h.sh("ls -A /etc/nginx/conf.d"),
        "ai-platform.conf",
        "no backup left"
    );
    assert!(h.sh_ok("nginx -t"));
    assert_eq!(
        h.sh(&format!("{CURL_SITE} https://ai.example.test/healthz")),
        "ok"
    );

    // Back to the stack as written: nothing to do.
    let inv = &inventory(&[]);
    expect(
        &keel(&h, &["plan", "--detailed-exitcode", "-i", inv, &stack]),
        0,
        "plan after the refused changes",
    );

    // Drift: prometheus.yml edited by hand.
    h.sh(
        "sed -i 's/^  scrape_interval: 15s/  scrape_interval: 1m/' /etc/prometheus/prometheus.yml",
    );
    let drift = keel(&h, &["plan", "--detailed-exitcode", "-i", inv, &stack]);
    expect(&drift, 2, "plan after a hand edit");
    assert!(
        drift
            .stdout
            .contains("~ file[/etc/prometheus/prometheus.yml]"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("-  scrape_interval: 1m"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("+  scrape_interval: 15s"),
        "{}",
        drift.stdout
    );
    expect(
        &keel(&h, &["apply", "--yes", "-i", inv, &stack]),
        0,
        "apply repairs the drift",
    );
    assert!(h.sh_ok("grep -q '^  scrape_interval: 15s' /etc/prometheus/prometheus.yml"));
    expect(
        &keel(&h, &["plan", "--detailed-exitcode", "-i", inv, &stack]),
        0,
        "plan after the repair",
    );

    // No secret ever reached keel's output, no value was run as code.
    let transcript = h.transcript.borrow();
    assert!(!transcript.contains("pw-$("), "SMTP password leaked");
    assert!(!transcript.contains("pg-s3cret"), "DSN leaked");
    assert!(!h.sh_ok("test -e /tmp/pwned"));
}
