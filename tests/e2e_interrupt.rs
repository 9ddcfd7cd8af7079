//! End to end, over real SSH against a fresh Debian host: Ctrl-C.
//! - The first SIGINT while applying lets the remote step running finish,
//!   starts nothing new, records the host's ledger of what applied, lets
//!   go of the host lock and shuts keel's ControlMaster; exit 1. The next
//!   apply takes the lock at once and finishes the job.
//! - A SIGINT while planning stops keel at once (130) and leaves no
//!   ControlMaster behind (killed by the signal's default action, the
//!   master stayed up: `ControlPersist`).

mod support;

use std::time::{Duration, Instant};
use support::{Host, Keel};

/// A file, a remote step that says when it started and waits for
/// /root/go, and a file after it.
const STACK: &str = r#"name: int
targets: [web]
resources:
  - file: { path: /root/conf, content: "v1\n" }
  - command:
      name: slow
      run: "touch /root/started; n=0; while [ ! -f /root/go ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; touch /root/slow-done"
      creates: /root/slow-done
      depends_on: ["file[/root/conf]"]
  - file: { path: /root/after, content: "x\n", depends_on: ["command[slow]"] }
"#;

/// The signals these tests send, at their default action in keel
/// whatever the suite inherited.
const SIGNALS: &[libc::c_int] = &[libc::SIGINT];

/// The `ssh` ControlMasters running on this machine to `ip`.
fn masters_to(ip: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_master = args.first().is_some_and(|a| a.ends_with("ssh"))
            && args.iter().any(|a| a == "-M")
            && args.last().is_some_and(|a| a == ip);
        if is_master {
            found.push(args.join(" "));
        }
    }
    found
}

/// Masters end a moment after keel: wait (at most 10 s) for none to `ip`.
fn no_master_left(ip: &str) {
    let start = Instant::now();
    while !masters_to(ip).is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        masters_to(ip),
        Vec::<String>::new(),
        "a ControlMaster outlived keel"
    );
}

#[test]
fn ctrl_c_over_ssh_finishes_the_step_records_and_lets_go() {
    let h = Host::start("interrupt");
    let ip = h.host.ip.to_string();
    let inv = h.inventory("root", &[], "");
    let inv = inv.display().to_string();
    let stack = h.write("int.yaml", STACK);
    let args = ["apply", "--yes", "-i", &inv, &stack];

    let k = Keel::new()
        .signals(SIGNALS, libc::SIG_DFL)
        .args(args)
        .spawn();
    k.wait_until("the remote step's start", || {
        h.sh_ok("test -f /root/started")
    });
    k.signal(libc::SIGINT);
    k.wait_until("keel's notice", || {
        k.printed().contains("Press Ctrl-C again")
    });
    h.sh("touch /root/go");
    let run = h.record(k.wait(), &args);
    let all = run.all();
    assert_eq!(run.code, 1, "{all}");
    assert!(
        run.stdout
            .contains("interrupted: 1 of 3 resources not applied"),
        "{all}"
    );
    assert!(
        h.sh_ok("test -f /root/slow-done"),
        "the step running finished"
    );
    assert!(!h.sh_ok("test -e /root/after"), "nothing new started");
    let ledger = h.sh("cat /var/lib/keel/ledger/int.json");
    assert!(ledger.contains("file[/root/conf]"), "{ledger}");
    assert!(!ledger.contains("/root/after"), "{ledger}");
    no_master_left(&ip);

    // The lock went with the run: the next apply takes it and finishes.
    let run = h.keel(&args, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(h.sh("cat /root/after").trim(), "x");
    no_master_left(&ip);
}

#[test]
fn ctrl_c_while_planning_over_ssh_leaves_no_master() {
    let h = Host::start("interrupt-plan");
    let ip = h.host.ip.to_string();
    let inv = h.inventory("root", &[], "");
    let inv = inv.display().to_string();
    let stack = h.write(
        "wait.yaml",
        r#"name: wait
targets: [web]
resources:
  - command:
      name: waits
      run: "true"
      unless: "touch /root/probing; n=0; while [ ! -f /root/go ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; false"
"#,
    );
    let mut k = Keel::new()
        .signals(SIGNALS, libc::SIG_DFL)
        .args(["plan", "-i", &inv, &stack])
        .spawn();
    k.wait_until("the probe's start", || h.sh_ok("test -f /root/probing"));
    k.signal(libc::SIGINT);
    k.wait_for_end();
    let run = k.wait();
    assert_eq!(run.code, 130, "{}", run.all());
    no_master_left(&ip);
    h.sh("touch /root/go");
}
