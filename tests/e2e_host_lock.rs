//! End to end, over real SSH against a fresh Debian host: one `keel apply`
//! at a time on a host.
//! - Two applies started together: exactly one proceeds, the other fails
//!   at once (not on a terminal) saying the host is locked.
//! - A second apply while one runs is told who holds the lock (user@machine,
//!   pid, since when); with `--lock-timeout` it waits, then applies — after
//!   the first, never interleaved with it.
//! - The lock goes with its holder: after the first keel is killed
//!   (SIGKILL), the next apply takes it at once. `keel plan` takes no lock.

mod support;

use std::time::{Duration, Instant};
use support::{Host, Keel, Running, expect};

/// A stack whose apply holds until the test lets it go (the file
/// /root/go; at most 120 s) and leaves a trace of each run; once applied,
/// it has nothing left to do. Waiting on an event rather than a fixed
/// sleep keeps the test right on a loaded machine.
const SLOW: &str = r#"name: slow
targets: [web]
resources:
  - command:
      name: slow
      run: "echo start >> /root/runs; n=0; while [ ! -f /root/go ] && [ $n -lt 600 ]; do sleep 0.2; n=$((n+1)); done; echo end >> /root/runs; touch /root/done"
      creates: /root/done
"#;

/// Let the slow command go.
fn release(h: &Host) {
    h.sh("touch /root/go");
}

/// Wait until a running keel has printed `text`.
fn wait_for_text(k: &Running, text: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if k.printed().contains(text) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("keel did not print {text:?} within 120 s:\n{}", k.printed());
}

fn setup(h: &Host) -> (String, String) {
    let inv = h.inventory("root", &[], "");
    let stack = h.dir.path().join("slow.yaml");
    std::fs::write(&stack, SLOW).unwrap();
    (inv.display().to_string(), stack.display().to_string())
}

/// Start keel in the background (stdin not a terminal, as in CI).
fn spawn_keel(args: &[&str]) -> Running {
    Keel::new().args(args).spawn()
}

/// Wait until the host's lock file names a holder; return it.
fn wait_for_holder(h: &Host) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let holder = h.sh("cat /run/keel/host.lock 2>/dev/null || true");
        if !holder.trim().is_empty() {
            return holder.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no keel took the host lock within 60 s");
}

fn runs(h: &Host) -> String {
    h.sh("cat /root/runs 2>/dev/null || true")
}

#[test]
fn two_applies_at_once_one_proceeds() {
    let h = Host::start("lock-race");
    let (inv, stack) = setup(&h);
    let args = ["apply", "--yes", "-i", &inv, &stack];
    let a = spawn_keel(&args);
    let b = spawn_keel(&args);
    // The one that lost says so while the winner holds; then let it go.
    let start = Instant::now();
    while !(a.printed().contains("is locked") || b.printed().contains("is locked")) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "neither apply was refused:\n--- a\n{}\n--- b\n{}",
            a.printed(),
            b.printed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    release(&h);
    let (a, b) = (a.wait(), b.wait());
    let (won, lost) = match (a.code, b.code) {
        (0, 1) => (a, b),
        (1, 0) => (b, a),
        _ => panic!(
            "expected one success and one refusal, got {} and {}\n--- a\n{}{}\n--- b\n{}{}",
            a.code, b.code, a.stdout, a.stderr, b.stdout, b.stderr
        ),
    };
    let said = format!("{}{}", lost.stdout, lost.stderr);
    assert!(
        said.contains("web1 is locked by another keel apply") && said.contains("nothing was done"),
        "{said}"
    );
    assert!(won.stdout.contains("ok"), "{}", won.stdout);
    assert_eq!(runs(&h), "start\nend", "exactly one run touched the host");
    assert_eq!(
        h.sh("cat /run/keel/host.lock"),
        "",
        "the holder is cleared on release"
    );
}

#[test]
fn the_second_apply_is_told_who_holds_the_lock_and_can_wait() {
    let h = Host::start("lock-wait");
    let (inv, stack) = setup(&h);
    let args = ["apply", "--yes", "-i", &inv, &stack];
    let first = spawn_keel(&args);
    let pid = first.id();
    let holder = wait_for_holder(&h);
    assert!(
        holder.contains('@') && holder.contains(&format!(" pid {pid} since 20")),
        "{holder}"
    );

    // A plan takes no lock: it runs while the apply holds it.
    expect(
        &h.keel(&["plan", "-i", &inv, &stack], &[]),
        0,
        "plan during an apply",
    );
    // Not on a terminal, no --lock-timeout: fail at once, naming the holder.
    let started = Instant::now();
    let refused = h.keel(&args, &[]);
    expect(&refused, 1, "apply while locked");
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        said.contains(&format!("pid {pid} since 20")),
        "the holder and since when: {said}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "did not wait");

    // With --lock-timeout: waits for the first, then plans and applies —
    // reading the host after the first has finished, so nothing is left.
    let waiter = spawn_keel(&[
        "apply",
        "--yes",
        "--lock-timeout",
        "120",
        "-i",
        &inv,
        &stack,
    ]);
    wait_for_text(&waiter, "waiting up to 120 s");
    release(&h);
    let waited = waiter.wait();
    expect(&waited, 0, "apply with --lock-timeout");
    assert!(
        waited.stderr.contains("waiting up to 120 s"),
        "{}",
        waited.stderr
    );
    assert!(waited.stdout.contains("No changes"), "{}", waited.stdout);
    expect(&first.wait(), 0, "the first apply");
    assert_eq!(runs(&h), "start\nend", "one run, not two interleaved");

    // --lock-timeout runs out.
    h.sh("rm /root/done /root/go");
    let first = spawn_keel(&args);
    wait_for_holder(&h);
    let timed_out = h.keel(
        &["apply", "--yes", "--lock-timeout", "1", "-i", &inv, &stack],
        &[],
    );
    expect(&timed_out, 1, "apply whose lock timeout runs out");
    assert!(
        format!("{}{}", timed_out.stdout, timed_out.stderr).contains("still locked"),
        "{}{}",
        timed_out.stdout,
        timed_out.stderr
    );
    release(&h);
    expect(&first.wait(), 0, "the first apply");
}

#[test]
fn the_lock_is_released_when_its_keel_is_killed() {
    let h = Host::start("lock-kill");
    let (inv, stack) = setup(&h);
    let args = ["apply", "--yes", "-i", &inv, &stack];
    let mut first = spawn_keel(&args);
    wait_for_holder(&h);
    expect(
        &h.keel(&args, &[]),
        1,
        "apply while the first holds the lock",
    );
    first.kill(); // SIGKILL
    // Let the remote command of the killed run finish, then apply again.
    release(&h);
    let start = Instant::now();
    while !h.sh_ok("test -f /root/done") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the command never ended"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let start = Instant::now();
    let next = h.keel(&args, &[]);
    expect(&next, 0, "apply after the holder was killed");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "taken at once, not after a timeout"
    );
}
