//! End to end, over real SSH against a fresh Debian host in a container:
//! apply `examples/basic-server`, check the host directly, plan again (no
//! changes, exit 0), drift a managed file by hand (plan shows the diff and
//! exits 2), converge again, and check no secret ever reached keel's output.

mod support;

use support::{Host, expect, repo};

const SECRET: &str = "s3cr3t-'quote\"-$(touch /tmp/pwned)-;";

#[test]
fn basic_server_converges_and_detects_drift() {
    let h = Host::start("basic");
    let key = h.testbed.public_key().trim().to_string();
    let inv = h.inventory("root", &[("deploy_key", &key)], "");
    let inv = inv.to_str().unwrap();
    let stack = repo().join("examples/basic-server/stack.yaml");
    let stack = stack.to_str().unwrap();
    let env = [("KEEL_EXAMPLE_DB_PASSWORD", SECRET)];

    // Validate offline, then plan: everything to create, exit 2.
    expect(
        &h.keel(&["validate", "-i", inv, stack], &env),
        0,
        "validate",
    );
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &env);
    expect(&plan, 2, "first plan");
    assert!(plan.stdout.contains("+ package[nginx]"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("known after apply"),
        "service of a package not yet installed: {}",
        plan.stdout
    );

    // Apply.
    let apply = h.keel(&["apply", "--yes", "-i", inv, stack], &env);
    expect(&apply, 0, "apply");

    // The host, checked directly.
    assert!(h.sh_ok("dpkg-query -W -f='${Status}' nginx | grep -q 'install ok installed'"));
    assert_eq!(h.sh("systemctl is-active nginx"), "active");
    assert_eq!(h.sh("systemctl is-enabled nginx"), "enabled");
    assert!(
        h.sh("cat /var/www/html/index.html")
            .contains("Served by web1")
    );
    assert!(
        h.sh("curl -fsS http://127.0.0.1/")
            .contains("keel basic server")
    );
    assert_eq!(h.sh("stat -c '%U:%G %a' /srv/app"), "deploy:deploy 750");
    assert_eq!(
        h.sh("stat -c '%U:%G %a' /srv/app/.env.production"),
        "deploy:deploy 600"
    );
    let env_file = h.sh("cat /srv/app/.env.production");
    assert!(
        env_file.contains(&format!("POSTGRES_PASSWORD={SECRET}")),
        "secret written verbatim: {env_file}"
    );
    assert!(
        !h.sh_ok("test -e /tmp/pwned"),
        "a secret's `$(...)` must never run"
    );
    assert_eq!(h.sh("id -un deploy"), "deploy");
    assert_eq!(h.sh("cat /home/deploy/.ssh/authorized_keys"), key);
    assert_eq!(
        h.sh("stat -c '%U %a' /home/deploy/.ssh/authorized_keys"),
        "deploy 600"
    );
    assert!(h.sh_ok("visudo -cf /etc/sudoers.d/keel-deploy"));
    assert!(h.sh("grep -c '^APP_DIR=/srv/app$' /etc/environment") == "1");
    assert!(h.sh_ok("test -s /srv/app/RELEASE"));
    let release = h.sh("cat /srv/app/RELEASE");

    // Plan again: nothing to do, exit 0.
    h.expect_no_changes(inv, stack, &env);

    // The deploy user can log in with its key (real SSH, strict host keys).
    let out = h.ssh_as("deploy", 22, "id -un && sudo -n id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "deploy\n0",
        "deploy has passwordless sudo: {:?}",
        out
    );

    // Drift: change a managed file and its mode by hand.
    h.sh("echo 'client_max_body_size 1g;' >> /etc/nginx/conf.d/keel-tuning.conf; chmod 600 /etc/nginx/conf.d/keel-tuning.conf");
    h.sh("sed -i 's/^APP_DIR=.*/APP_DIR=\\/tmp/' /etc/environment");
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &env);
    expect(&drift, 2, "plan after drift");
    assert!(
        drift
            .stdout
            .contains("~ file[/etc/nginx/conf.d/keel-tuning.conf]"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("-client_max_body_size 1g;"),
        "unified diff: {}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("mode: 0600 → 0644"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("+APP_DIR=/srv/app"),
        "{}",
        drift.stdout
    );

    // The JSON plan says the same, machine-readably.
    let json = h.keel(&["plan", "--json", "-i", inv, stack], &env);
    expect(&json, 0, "plan --json");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    assert_eq!(doc["changes"], true);
    assert_eq!(doc["hosts"][0]["round_trips"]["probe"], 1);
    let changed: Vec<&str> = doc["hosts"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed.len(),
        2,
        "only the drifted resources change: {changed:?}"
    );

    // Converge again: the handler reloads nginx; the guarded command does not rerun.
    let fix = h.keel(&["apply", "--yes", "-i", inv, stack], &env);
    expect(&fix, 0, "apply after drift");
    assert_eq!(h.sh("stat -c %a /etc/nginx/conf.d/keel-tuning.conf"), "644");
    assert!(
        !h.sh("cat /etc/nginx/conf.d/keel-tuning.conf")
            .contains("1g")
    );
    assert_eq!(
        h.sh("cat /srv/app/RELEASE"),
        release,
        "the guarded command ran once"
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &env),
        0,
        "final plan",
    );

    // The secret never appeared in anything keel printed.
    let transcript = h.transcript.borrow();
    assert!(!transcript.contains(SECRET), "secret leaked:\n{transcript}");
    assert!(
        !transcript.contains("s3cr3t"),
        "secret leaked:\n{transcript}"
    );
}
