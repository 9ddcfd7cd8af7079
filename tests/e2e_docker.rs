//! End to end, over real SSH against a fresh Debian host: the `docker` and
//! `compose` kinds. One host for the whole sequence (installing docker.io is
//! the slow part):
//! - one apply installs Debian's docker.io + docker-compose (v1), writes
//!   daemon.json, builds an application image from busybox (a `command`:
//!   there is no registry), and brings up a two-service compose project with
//!   a health check and an env file rendered from a secret; `curl` on the
//!   host reaches both services; the secret never shows in keel's output;
//! - plan again → exit 0;
//! - `docker stop` by hand → plan exit 2 with `web state: exited → running`,
//!   apply starts it again;
//! - a new image tag for `web` with `rolling` → only `web` is recreated;
//! - a compose file that `docker-compose config` rejects → apply fails, the
//!   old file stays, the containers keep running;
//! - a rolling step whose health check fails → apply exits 1 naming the
//!   check, `web` runs the previous image again with the previous files;
//! - daemon.json edited by hand → plan exit 2 with a JSON diff;
//! - a daemon.json dockerd cannot start with → apply fails with dockerd's
//!   message, the previous daemon.json is back and docker runs; the next
//!   apply converges;
//! - a daemon.json setting of the wrong type is a load-time error;
//! - the project removed from the stack is pruned: plan `-`, apply takes
//!   its containers and network down and removes keel's files, the volume,
//!   the directory and a file keel did not write stay.

mod support;

use support::{Host, expect};

const TOKEN: &str = "tok-S3cr3t-e2e-4242-zz";

const COMPOSE: &str = r#"services:
  web:
    image: local/web:1
    restart: unless-stopped
    stop_grace_period: 1s
    ports: ["8081:8080"]
    environment:
      TOKEN: ${SECRET_TOKEN}
      GREETING: ${GREETING}
    healthcheck:
      test: ["CMD", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]
      interval: 2s
      timeout: 2s
      retries: 3
  api:
    image: local/web:1
    restart: unless-stopped
    stop_grace_period: 1s
    volumes: ["data:/data"]
    ports: ["8082:8080"]
volumes:
  data: {}
"#;

/// The stack: `services`/`daemon_extra`/`compose_extra` vary per step.
fn stack(services: &str, daemon_extra: &str, compose_extra: &str) -> String {
    let compose: String = COMPOSE
        .replace(
            "    ports: [\"8082:8080\"]\n",
            &format!("    ports: [\"8082:8080\"]\n{compose_extra}"),
        )
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    format!(
        r#"name: docker-e2e
targets: [web]
secrets:
  token: {{ env: KEEL_E2E_DOCKER_TOKEN }}
resources:
  - package: {{ name: busybox-static }}
  - package: {{ name: curl }}
  - docker:
      source: debian
      daemon:
        log-driver: json-file
        log-opts: {{ max-size: 10m, max-file: "3" }}
{daemon_extra}
  - directory: {{ path: /srv/app, mode: "0750" }}
  - command:
      name: image-web-1
      run: |
        d=$(mktemp -d)
        mkdir -p "$d/bin" "$d/www"
        cp /bin/busybox "$d/bin/"
        echo "hello v1" > "$d/www/index.html"
        tar -C "$d" -c . | docker import -c 'CMD ["/bin/busybox","httpd","-f","-p","8080","-h","/www"]' - local/web:1
        rm -rf "$d"
      unless: docker image inspect local/web:1
      depends_on:
        - docker[engine]
        - package[busybox-static]
  - compose:
      project: app
      dir: /srv/app
      file:
        content: |
{compose}      env:
        content: |
          SECRET_TOKEN={{{{secrets.token}}}}
          GREETING=hello
      wait: {{ timeout: 60 }}
      rolling: [web, api]
{services}      depends_on:
        - command[image-web-1]
"#
    )
}

fn id_of(h: &Host, name: &str) -> String {
    h.sh(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))
}

/// curl a port on the host, retrying while containers come (back) up.
fn curl(h: &Host, port: u16) -> String {
    h.sh(&format!(
        "for i in $(seq 1 30); do curl -fsS http://127.0.0.1:{port}/ && exit 0; sleep 1; done; exit 1"
    ))
}

#[test]
fn docker_engine_and_compose_project() {
    let h = Host::start("docker");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let env = [("KEEL_E2E_DOCKER_TOKEN", TOKEN)];
    let v1 = h.write("v1.yaml", &stack("", "", ""));

    // A daemon.json setting of the wrong type: refused at load time.
    let bad_type = h.write(
        "bad-type.yaml",
        &stack("", "        mtu: \"fifteen hundred\"\n", ""),
    );
    let run = h.keel(&["validate", "-i", inv, &bad_type], &env);
    expect(&run, 1, "validate a daemon.json with a wrong type");
    assert!(
        run.stderr.contains("`mtu` must be an integer"),
        "{}",
        run.stderr
    );

    // Converge in one apply.
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v1], &env);
    expect(&plan, 2, "first plan");
    assert!(plan.stdout.contains("+ docker[engine]"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("package docker.io: (none) → (latest from apt)"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("+ compose[app]"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(".env SECRET_TOKEN: (none) → (set)"),
        "{}",
        plan.stdout
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &v1], &env);
    expect(&apply, 0, "apply");
    assert_eq!(h.sh("systemctl is-active docker"), "active");
    assert_eq!(h.sh("systemctl is-enabled docker"), "enabled");
    assert_eq!(
        h.sh("docker info --format '{{.LoggingDriver}}'"),
        "json-file"
    );
    assert!(
        h.sh("cat /etc/docker/daemon.json")
            .contains("\"max-size\": \"10m\"")
    );
    assert_eq!(curl(&h, 8081), "hello v1");
    assert_eq!(curl(&h, 8082), "hello v1");
    assert_eq!(
        h.sh("docker inspect -f '{{.State.Health.Status}}' app_web_1"),
        "healthy"
    );
    assert_eq!(h.sh("stat -c %a /srv/app/.env"), "600");
    assert!(
        h.sh("docker exec app_web_1 /bin/busybox env")
            .contains(&format!("TOKEN={TOKEN}")),
        "the secret reaches the container through the env file"
    );
    assert!(h.sh_ok("test -s /srv/app/.keel-compose-app.sha256"));

    // Plan again: nothing to do.
    h.expect_no_changes(inv, &v1, &env);
    let all = h.keel(&["plan", "--all", "-i", inv, &v1], &env);
    assert!(
        all.stdout.contains("web running (healthy)") && all.stdout.contains("docker-compose 1.29"),
        "status in the plan: {}",
        all.stdout
    );

    // Drift by hand: a stopped container.
    h.sh("docker stop -t 1 app_web_1");
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v1], &env);
    expect(&drift, 2, "plan after docker stop");
    assert!(
        drift.stdout.contains("~ compose[app]")
            && drift.stdout.contains("web state: exited → running"),
        "{}",
        drift.stdout
    );
    let api_id = id_of(&h, "app_api_1");
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &v1], &env),
        0,
        "apply after docker stop",
    );
    assert_eq!(
        h.sh("docker inspect -f '{{.State.Status}}' app_web_1"),
        "running"
    );
    assert_eq!(curl(&h, 8081), "hello v1");
    assert_eq!(id_of(&h, "app_api_1"), api_id, "api untouched");
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v1], &env),
        0,
        "plan after fixing the drift",
    );

    // A new image for web, rolled out alone.
    h.sh(
        "d=$(mktemp -d) && mkdir -p $d/bin $d/www && cp /bin/busybox $d/bin/ && echo 'hello v2' > $d/www/index.html && \
         tar -C $d -c . | docker import -c 'CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"]' - local/web:2 && rm -rf $d",
    );
    let v2 = h.write(
        "v2.yaml",
        &stack(
            "      services:\n        web: { image: local/web:2 }\n",
            "",
            "",
        ),
    );
    let web_id = id_of(&h, "app_web_1");
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v2], &env);
    expect(&plan, 2, "plan of the new image");
    assert!(
        plan.stdout.contains("web image: local/web:1 → local/web:2"),
        "{}",
        plan.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &v2], &env),
        0,
        "apply of the new image",
    );
    assert_eq!(curl(&h, 8081), "hello v2");
    assert_eq!(curl(&h, 8082), "hello v1");
    assert_ne!(id_of(&h, "app_web_1"), web_id, "web recreated");
    assert_eq!(id_of(&h, "app_api_1"), api_id, "only web was recreated");
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v2], &env),
        0,
        "plan after the new image",
    );

    // A compose file docker-compose rejects: nothing is replaced.
    let before = h.sh("sha256sum /srv/app/docker-compose.yml");
    let web_id = id_of(&h, "app_web_1");
    let broken = h.write(
        "broken.yaml",
        &stack(
            "      services:\n        web: { image: local/web:2 }\n",
            "",
            "    restart_policy_typo: always\n",
        ),
    );
    let run = h.keel(&["apply", "--yes", "-i", inv, &broken], &env);
    expect(&run, 1, "apply of a broken compose file");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(out.contains("restart_policy_typo"), "{out}");
    assert!(out.contains("left as they were"), "{out}");
    assert_eq!(h.sh("sha256sum /srv/app/docker-compose.yml"), before);
    assert_eq!(
        h.sh("ls -A /srv/app | grep -c '[.]keel[.]' || true"),
        "0",
        "no temporary file left"
    );
    assert_eq!(id_of(&h, "app_web_1"), web_id, "containers untouched");
    assert_eq!(curl(&h, 8081), "hello v2");
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v2], &env),
        0,
        "plan after the refused compose file",
    );

    // A rolling step whose health check fails: web goes back to local/web:2.
    h.sh(
        "d=$(mktemp -d) && mkdir -p $d/bin $d/www && cp /bin/busybox $d/bin/ && echo 'hello v3' > $d/www/index.html && \
         tar -C $d -c . | docker import -c 'CMD [\"/bin/busybox\",\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"]' - local/web:3 && rm -rf $d",
    );
    let gated = h.write(
        "gated.yaml",
        &stack("      services:\n        web: { image: local/web:3 }\n", "", "").replace(
            "      rolling: [web, api]\n",
            "      rolling:\n        - { service: web, check: \"curl -fsS http://127.0.0.1:8081/ | grep v9\", retries: 2, delay: 1 }\n        - api\n",
        ),
    );
    let api_id = id_of(&h, "app_api_1");
    let run = h.keel(&["apply", "--yes", "-i", inv, &gated], &env);
    expect(&run, 1, "apply of a release whose health check fails");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains("rollout stopped at web: the check after web failed (2 of 2 attempts): curl -fsS http://127.0.0.1:8081/ | grep v9"),
        "{out}"
    );
    assert!(
        out.contains("returned web to the previous release"),
        "{out}"
    );
    assert_eq!(
        curl(&h, 8081),
        "hello v2",
        "web back on the previous release"
    );
    assert_eq!(
        h.sh("docker inspect -f '{{.Config.Image}}' app_web_1"),
        "local/web:2"
    );
    assert_eq!(id_of(&h, "app_api_1"), api_id, "api untouched");
    assert_eq!(
        h.sh("ls -A /srv/app | grep -c 'previous' || true"),
        "0",
        "the kept files are gone"
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v2], &env),
        0,
        "plan of the previous release after the rollback",
    );

    // The engine's configuration edited by hand: a readable diff.
    h.sh("sed -i 's/\"max-file\": \"3\"/\"max-file\": \"5\"/' /etc/docker/daemon.json");
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v2], &env);
    expect(&drift, 2, "plan after editing daemon.json by hand");
    assert!(
        drift.stdout.contains("~ docker[engine]")
            && drift.stdout.contains("-    \"max-file\": \"5\",")
            && drift.stdout.contains("+    \"max-file\": \"3\","),
        "{}",
        drift.stdout
    );

    // A daemon.json dockerd cannot start with: the previous one comes back.
    let daemon_before = h.sh("cat /etc/docker/daemon.json");
    let bad_daemon = h.write(
        "bad-daemon.yaml",
        &stack(
            "      services:\n        web: { image: local/web:2 }\n",
            "        storage-driver: no-such-driver\n",
            "",
        ),
    );
    let run = h.keel(&["apply", "--yes", "-i", inv, &bad_daemon], &env);
    expect(&run, 1, "apply of a daemon.json docker cannot start with");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains("driver not supported"),
        "dockerd's own message: {out}"
    );
    assert!(out.contains("the previous file was put back"), "{out}");
    assert_eq!(h.sh("cat /etc/docker/daemon.json"), daemon_before);
    assert_eq!(h.sh("systemctl is-active docker"), "active");
    assert_eq!(curl(&h, 8081), "hello v2", "containers back with docker");

    // Converge again: the declared daemon.json, docker restarted with it.
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &v2], &env),
        0,
        "apply after the refused daemon.json",
    );
    assert!(
        h.sh("cat /etc/docker/daemon.json")
            .contains("\"max-file\": \"3\"")
    );
    assert_eq!(h.sh("systemctl is-active docker"), "active");
    assert_eq!(curl(&h, 8081), "hello v2");
    let settle = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &v2], &env);
    expect(&settle, 0, "plan at the end");

    // The project removed from the stack: keel created it, so it is pruned.
    let label = "label=com.docker.compose.project=app";
    assert_eq!(
        h.sh(&format!("docker volume ls -q --filter {label}")),
        "app_data"
    );
    h.sh("echo mine > /srv/app/notes.txt");
    let full = stack(
        "      services:\n        web: { image: local/web:2 }\n",
        "",
        "",
    );
    let without = h.write("pruned.yaml", &full[..full.find("  - compose:\n").unwrap()]);
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &without], &env);
    expect(&plan, 2, "plan without the compose project");
    assert!(
        plan.stdout.contains("- compose[app]") && plan.stdout.contains("container app_web_1"),
        "{}",
        plan.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &without], &env),
        0,
        "apply without the compose project",
    );
    assert_eq!(
        h.sh(&format!("docker ps -aq --filter {label}")),
        "",
        "containers gone"
    );
    assert_eq!(
        h.sh(&format!("docker network ls -q --filter {label}")),
        "",
        "network gone"
    );
    assert_eq!(
        h.sh(&format!("docker volume ls -q --filter {label}")),
        "app_data",
        "volume kept"
    );
    assert_eq!(
        h.sh("ls -A /srv/app"),
        "notes.txt",
        "only keel's files went"
    );
    h.expect_no_changes(inv, &without, &env);

    // The secret never reached keel's output.
    let transcript = h.transcript.borrow();
    assert!(
        !transcript.contains(TOKEN),
        "the secret leaked into keel's output"
    );
}
