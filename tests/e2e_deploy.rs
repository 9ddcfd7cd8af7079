//! End to end, over real SSH against a fresh Debian host: the deployment
//! story of issue 10 with `examples/deploy` — a two-service compose
//! application (api and web) whose images are built on the host from
//! files keel ships, tagged with the release:
//! - release A deployed; B rolls out api, then its health check, then web
//!   (container start times and the api's log prove the order); the
//!   migration runs once per release after the backup (not on a re-run),
//!   and `keel verify` passes;
//! - release `X-broken` (its api answers 500) is rolled back
//!   automatically: the run exits 1 naming the check, the services run B;
//! - with the host cut off from every outside address (proved), `keel
//!   rollback` goes back to A: A's images were kept (not rebuilt), the
//!   broken release's images are removed;
//! - release C: the migration runs again, and with `keep_releases: 2`
//!   B's images are removed while A's and C's stay.

mod support;

use support::{Host, expect, repo};

/// Nanoseconds since the epoch of an RFC 3339 time, read on the host.
fn nanos(h: &Host, time: &str) -> u128 {
    let out = h.sh(&format!("date -d '{time}' +%s%N"));
    out.parse()
        .unwrap_or_else(|e| panic!("not a time: {out:?} ({e})"))
}

fn started(h: &Host, svc: &str) -> u128 {
    let t = h.sh(&format!(
        "docker inspect -f '{{{{.State.StartedAt}}}}' deploy_{svc}_1"
    ));
    nanos(h, &t)
}

fn container_id(h: &Host, svc: &str) -> String {
    h.sh(&format!("docker inspect -f '{{{{.Id}}}}' deploy_{svc}_1"))
}

fn image_of(h: &Host, svc: &str) -> String {
    h.sh(&format!(
        "docker inspect -f '{{{{.Config.Image}}}}' deploy_{svc}_1"
    ))
}

fn has_image(h: &Host, image: &str) -> bool {
    h.sh_ok(&format!("docker image inspect {image} >/dev/null 2>&1"))
}

/// What the services answer on the host: (api /health, web /).
fn answers(h: &Host) -> (String, String) {
    let get = |port: u16, path: &str| {
        h.sh(&format!(
            "for i in $(seq 1 20); do curl -sS http://127.0.0.1:{port}{path} && exit 0; sleep 1; done; exit 1"
        ))
    };
    (get(8081, "/cgi-bin/health"), get(8080, "/"))
}

#[test]
fn releases_roll_out_health_gated_and_roll_back_without_a_registry() {
    let h = Host::start("deploy");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let stack = repo().join("examples/deploy/stack.yaml");
    let stack = stack.to_str().unwrap();
    let run = |cmd: &str, release: &str| {
        let set = format!("release={release}");
        let mut args = vec![cmd];
        if cmd != "verify" {
            args.push("--yes");
        }
        args.extend(["-i", inv, stack, "--set", &set]);
        h.keel(&args, &[])
    };
    let migrations = || h.sh("cat /srv/deploy/data/migrations.log");
    let t0 = std::time::Instant::now();
    let phase = |name: &str| eprintln!("[{:>5.1} s] {name}", t0.elapsed().as_secs_f64());

    // Release A, from a bare host.
    let r = run("apply", "A");
    expect(&r, 0, "apply A");
    assert!(r.stdout.contains("release: (none) → A"), "{}", r.stdout);
    assert_eq!(answers(&h), ("ok A".into(), "web A".into()));
    assert_eq!(migrations(), "migrated to A");
    let image_a = h.sh("docker image inspect -f '{{.Id}}' keel-deploy/api:A");

    phase("Release B: api, its check, then web.");
    // Release B: api, its check, then web.
    let r = run("apply", "B");
    expect(&r, 0, "apply B");
    assert!(r.stdout.contains("release: A → B"), "{}", r.stdout);
    assert_eq!(answers(&h), ("ok B".into(), "web B".into()));
    let api_up = started(&h, "api");
    let web_up = started(&h, "web");
    let first_check = h.sh(
        "docker logs -t deploy_api_1 2>&1 | grep -m1 'health requested at release B' | cut -d' ' -f1",
    );
    let checked = nanos(&h, &first_check);
    assert!(
        api_up < checked && checked < web_up,
        "api started ({api_up}), then its check ran ({checked}), then web started ({web_up})"
    );
    assert_eq!(migrations(), "migrated to A\nmigrated to B");
    assert_eq!(
        h.sh("ls /srv/deploy/backups"),
        "data-before-A.tar.gz\ndata-before-B.tar.gz",
        "a backup before each migration"
    );

    phase("B again: nothing runs.");
    // B again: nothing runs.
    let r = run("apply", "B");
    expect(&r, 0, "apply B again");
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert_eq!(migrations(), "migrated to A\nmigrated to B");
    expect(&run("verify", "B"), 0, "keel verify at B");

    phase("A release whose api answers 500: rolled back automatically.");
    // A release whose api answers 500: rolled back automatically.
    let web_id = container_id(&h, "web");
    let r = run("apply", "X-broken");
    expect(&r, 1, "apply X-broken");
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains(
            "rollout stopped at api: the check after api failed (3 of 3 attempts): curl -fsS http://127.0.0.1:8081/cgi-bin/health"
        ),
        "{out}"
    );
    assert!(
        out.contains("returned api to the previous release"),
        "{out}"
    );
    assert_eq!(answers(&h), ("ok B".into(), "web B".into()));
    assert_eq!(image_of(&h, "api"), "keel-deploy/api:B");
    assert_eq!(container_id(&h, "web"), web_id, "web was never touched");
    expect(
        &run("verify", "B"),
        0,
        "keel verify at B after the rollback",
    );

    phase("Cut the host off from every address outside its own network: no");
    // Cut the host off from every address outside its own network: no
    // registry can answer.
    let gateway = h.sh("ip route show default | cut -d' ' -f3");
    h.sh("ip route replace unreachable default");
    assert!(
        !h.sh_ok("ip route get 192.0.2.1"),
        "outside addresses are unreachable"
    );
    let pull = h
        .host
        .exec("timeout 10 docker pull busybox:latest")
        .expect("docker pull");
    assert!(!pull.status.success(), "a pull must fail offline");

    phase("Back to A, offline: its images were kept.");
    // Back to A, offline: its images were kept.
    let r = h.keel(&["rollback", "--yes", "-i", inv, stack], &[]);
    expect(&r, 0, "rollback to A offline");
    assert!(r.stderr.contains("release B → A"), "{}", r.stderr);
    assert_eq!(answers(&h), ("ok A".into(), "web A".into()));
    assert_eq!(
        h.sh("docker inspect -f '{{.Image}}' deploy_api_1"),
        image_a,
        "A's own image, not a rebuild"
    );
    assert_eq!(
        migrations(),
        "migrated to A\nmigrated to B\nmigrated to X-broken"
    );
    assert!(!has_image(&h, "keel-deploy/api:X-broken"));
    assert!(!has_image(&h, "keel-deploy/web:X-broken"));
    h.sh(&format!("ip route replace default via {gateway}"));

    phase("Release C: migrated once more; keep_releases: 2 keeps A's and C's images.");
    // Release C: migrated once more; keep_releases: 2 keeps A's and C's images.
    let r = run("apply", "C");
    expect(&r, 0, "apply C");
    assert!(
        r.stdout.contains(
            "images of release B: keel-deploy/api:B keel-deploy/web:B → (removed: keep_releases 2)"
        ),
        "{}",
        r.stdout
    );
    assert_eq!(answers(&h), ("ok C".into(), "web C".into()));
    assert_eq!(
        migrations(),
        "migrated to A\nmigrated to B\nmigrated to X-broken\nmigrated to C"
    );
    for (image, kept) in [
        ("keel-deploy/api:A", true),
        ("keel-deploy/web:A", true),
        ("keel-deploy/api:B", false),
        ("keel-deploy/web:B", false),
        ("keel-deploy/api:C", true),
        ("keel-deploy/web:C", true),
    ] {
        assert_eq!(has_image(&h, image), kept, "{image} kept: {kept}");
    }
    assert_eq!(
        h.sh("cat /srv/deploy/.keel-compose-deploy.releases"),
        "ok A keel-deploy/api:A keel-deploy/web:A\nok C keel-deploy/api:C keel-deploy/web:C"
    );
    expect(&run("verify", "C"), 0, "keel verify at C");
    phase("done");
}
