//! Ctrl-C through the real binary with the `local` transport (no Docker):
//! - the first SIGINT while applying lets the step running finish, starts
//!   nothing new but the handler of what changed, records the ledger of
//!   what applied, and exits 1 naming what was not applied; the next apply
//!   finishes the job;
//! - a second SIGINT stops keel at once (130) while the step runs on;
//! - a SIGINT keel was started with ignored stays ignored;
//! - a SIGINT (SIGTERM, SIGHUP) while planning stops keel at once (130,
//!   143, 129): nothing was changed.
//!
//! The slow step waits for a file the test writes, not for a fixed time,
//! so the test holds on a loaded machine.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::{Keel, Running};

/// A handler notified by the first file; a slow command after it, which
/// says when it started and waits for `go`; a file after the command.
const STACK: &str = r#"name: int
targets: [local]
state_dir: "{{vars.root}}/state"
resources:
  - file:
      path: "{{vars.root}}/conf"
      content: "v1\n"
      notify: ["command[reload]"]
  - command:
      name: reload
      run: "echo reloaded >> '{{vars.root}}/reloads.log'"
      notified_only: true
  - command:
      name: slow
      run: "touch '{{vars.root}}/started'; n=0; while [ ! -f '{{vars.root}}/go' ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; touch '{{vars.root}}/slow-done'"
      creates: "{{vars.root}}/slow-done"
      depends_on: ["file[{{vars.root}}/conf]"]
  - file:
      path: "{{vars.root}}/after"
      content: "x\n"
      depends_on: ["command[slow]"]
"#;

/// The signals the tests send, at their default action in keel.
const SIGNALS: &[libc::c_int] = &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn apply(dir: &Path) -> Running {
    Keel::new()
        .signals(SIGNALS, libc::SIG_DFL)
        .current_dir(dir)
        .args(["apply", "--yes", "stack.yaml"])
        .spawn()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// An apply of [`STACK`] in `dir`, given SIGINT while its slow step runs;
/// returned once keel said it stops after the steps running.
fn interrupted_apply(dir: &Path) -> Running {
    let root = dir.join("root");
    let k = apply(dir);
    k.wait_until("the slow step's start", || root.join("started").exists());
    k.signal(libc::SIGINT);
    k.wait_until("keel's notice", || {
        k.printed().contains("Press Ctrl-C again")
    });
    k
}

#[test]
fn first_ctrl_c_finishes_the_running_step_and_starts_nothing_new() {
    let dir = support::local_project(&[("stack.yaml", STACK)]);
    let root = dir.path().join("root");
    let k = interrupted_apply(dir.path());
    std::fs::write(root.join("go"), "").unwrap();
    let run = k.wait();
    let all = run.all();
    assert_eq!(run.code, 1, "{all}");
    assert!(
        root.join("slow-done").exists(),
        "the step running finished: {all}"
    );
    assert!(!root.join("after").exists(), "nothing new started: {all}");
    assert_eq!(read(&root.join("reloads.log")), "reloaded\n", "{all}");
    assert!(
        run.stdout
            .contains("interrupted: 1 of 4 resources not applied; run `keel apply` again"),
        "{all}"
    );
    assert!(
        run.stdout
            .contains("after]: skipped, not started: keel was interrupted"),
        "{all}"
    );
    // What applied is in the ledger: dropping it from the stack prunes it.
    let ledger = read(&root.join("state/ledger/int.json"));
    assert!(ledger.contains("/conf]"), "{ledger}");
    assert!(!ledger.contains("/after]"), "{ledger}");

    let run = apply(dir.path()).wait();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(read(&root.join("after")), "x\n");
    assert_eq!(
        read(&root.join("reloads.log")),
        "reloaded\n",
        "no change, no handler"
    );
}

#[test]
fn second_ctrl_c_stops_at_once_and_the_step_runs_on() {
    let dir = support::local_project(&[("stack.yaml", STACK)]);
    let root = dir.path().join("root");
    let mut k = interrupted_apply(dir.path());
    k.signal(libc::SIGINT);
    k.wait_for_end();
    assert!(!root.join("go").exists());
    let run = k.wait();
    assert_eq!(run.code, 130, "{}", run.all());
    assert!(run.stderr.contains("keel: stopped."), "{}", run.all());
    assert!(!run.stdout.contains("Apply summary"), "{}", run.all());
    // The step keel left runs on (its own process group) and ends there.
    std::fs::write(root.join("go"), "").unwrap();
    let start = Instant::now();
    while !root.join("slow-done").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the step did not end"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!root.join("after").exists());
}

#[test]
fn ctrl_c_while_planning_stops_at_once() {
    // A probe that waits: `unless` runs while planning.
    let stack = r#"name: int
targets: [local]
resources:
  - command:
      name: waits
      run: "true"
      unless: "touch '{{vars.root}}/probing'; n=0; while [ ! -f '{{vars.root}}/go' ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; false"
"#;
    // SIGTERM and a hung-up terminal too, each with its exit code.
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let dir = support::local_project(&[("stack.yaml", stack)]);
        let root = dir.path().join("root");
        let mut k = Keel::new()
            .signals(SIGNALS, libc::SIG_DFL)
            .current_dir(dir.path())
            .args(["plan", "stack.yaml"])
            .spawn();
        k.wait_until("the probe's start", || root.join("probing").exists());
        k.signal(sig);
        k.wait_for_end();
        assert!(!root.join("go").exists(), "ended while the probe ran");
        std::fs::write(root.join("go"), "").unwrap();
        let run = k.wait();
        assert_eq!(run.code, code, "signal {sig}: {}", run.all());
        assert!(run.stderr.contains("keel: stopped."), "{}", run.all());
    }
}

/// A signal keel was started with ignored stays ignored (`keel apply … &`
/// in a script): the run goes on to its end.
#[test]
fn an_ignored_sigint_stays_ignored() {
    let dir = support::local_project(&[("stack.yaml", STACK)]);
    let root = dir.path().join("root");
    let k = Keel::new()
        .signals(&[libc::SIGINT], libc::SIG_IGN)
        .current_dir(dir.path())
        .args(["apply", "--yes", "stack.yaml"])
        .spawn();
    k.wait_until("the slow step's start", || root.join("started").exists());
    k.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(root.join("go"), "").unwrap();
    let run = k.wait();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stderr.contains("interrupted"), "{}", run.all());
    assert_eq!(read(&root.join("after")), "x\n");
}
