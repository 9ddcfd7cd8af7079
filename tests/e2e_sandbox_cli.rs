//! End to end, with docker: `keel sandbox up 1` starts a fresh Debian host
//! and writes an inventory for it, `keel init` makes a project of it, `keel
//! plan` reads the host over real SSH, `keel apply` brings it to the
//! project (a second plan has nothing to do), and `keel sandbox down` (another
//! process) finds the host again by its labels and removes it. With a
//! docker that does not answer, `up` says what to install and start.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use support::{Keel, expect};

/// Containers (any state) of the sandbox of `dir`.
fn containers_of(dir: &std::path::Path) -> usize {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=keel.sandbox.dir={}", dir.display()))
        .output()
        .expect("docker ps (the e2e tests need docker)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn sandbox_up_init_plan_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let keel = |args: &[&str]| Keel::new().args(args).current_dir(&dir).run();

    let run = keel(&["sandbox", "down"]);
    expect(&run, 0, "keel sandbox down with nothing up");
    assert!(run.stderr.contains("no sandbox is up"), "{}", run.stderr);

    let run = keel(&["sandbox", "up", "1"]);
    expect(&run, 0, "keel sandbox up 1");
    assert!(run.stdout.contains("sandbox1:"), "{}", run.stdout);
    let inv = dir.join(".keel/sandbox/inventory.yaml");
    assert_eq!(std::fs::read_to_string(&inv).unwrap(), run.stdout);
    let key = dir.join(".keel/sandbox/id_ed25519");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode");
    assert_eq!(containers_of(&dir), 1, "one labelled container");

    let run = keel(&["sandbox", "up", "1"]);
    expect(&run, 1, "a second keel sandbox up");
    assert!(run.stderr.contains("already up"), "{}", run.stderr);

    expect(&keel(&["init"]), 0, "keel init");
    expect(&keel(&["validate", "stacks/site.yaml"]), 0, "keel validate");
    let run = keel(&["plan", "--detailed-exitcode", "stacks/site.yaml"]);
    expect(&run, 2, "keel plan against the sandbox");
    assert!(run.stdout.contains("sandbox1 (ssh root@"), "{}", run.stdout);
    assert!(
        run.stdout.contains("+ directory[/srv/site]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Welcome to sandbox1, managed by keel."),
        "{}",
        run.stdout
    );
    // The new project applies to the sandbox, and a second run finds
    // nothing to do.
    let run = keel(&["apply", "--yes", "stacks/site.yaml"]);
    expect(&run, 0, "keel apply of the init project to the sandbox");
    let run = keel(&["plan", "--detailed-exitcode", "stacks/site.yaml"]);
    expect(&run, 0, "keel plan after the apply: no changes");

    let run = keel(&["sandbox", "down"]);
    expect(&run, 0, "keel sandbox down");
    assert!(
        run.stderr.contains("removed the sandbox: 1 host"),
        "{}",
        run.stderr
    );
    assert_eq!(containers_of(&dir), 0, "containers left after down");
    assert!(
        !dir.join(".keel/sandbox").exists(),
        "key and inventory left"
    );
    // The project stays.
    assert!(dir.join("stacks/site.yaml").is_file());
}

#[test]
fn sandbox_up_without_a_working_docker_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("missing.sock");
    let run = Keel::new()
        .args(["sandbox", "up", "1"])
        .current_dir(tmp.path())
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .run();
    expect(&run, 1, "keel sandbox up with docker not answering");
    assert!(run.stderr.contains("needs Docker"), "{}", run.stderr);
    assert!(run.stderr.contains("Install Docker"), "{}", run.stderr);
    assert!(
        run.stderr.contains("systemctl start docker"),
        "{}",
        run.stderr
    );
    assert!(!tmp.path().join(".keel").exists(), "wrote files anyway");
}
