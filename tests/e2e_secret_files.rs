//! End to end, over real SSH against a fresh Debian host in a container: a
//! file with secret content is never readable by another local user, not
//! even for the moment it is being written.
//!
//! A non-root user on the host (`watcher`) runs a tight loop that tries to
//! open every file in the target directory (the temporary files included)
//! while keel applies many 0600 files with secret content there. Opening
//! is all an attacker needs: a descriptor opened while a temporary file was
//! world-readable keeps reading after a later `chmod`. The loop uses only
//! shell built-ins (a glob and `read` from a redirection), so it spins
//! without forking and catches a window of a single `chmod` command.
//!
//! Half the secret files are new; the other half replace world-readable
//! files of the same name (a secret rotated into a file that was 0644: the
//! old code copied the old file's mode onto the new content first).
//!
//! A 0644 file in the same apply proves the watcher works: its content must
//! be seen. The secret contents never are.

mod support;

use support::{Host, expect};

/// How many secret files one apply writes (each one a chance for a leak).
const FILES: usize = 40;

/// The watcher's loop: every file in `/srv/app` it can open is read and
/// appended to `/home/watcher/seen`, until `/home/watcher/stop` exists.
const WATCHER: &str = r#"cd /srv/app || exit 1
: > /home/watcher/seen
: > /home/watcher/running
while [ ! -e /home/watcher/stop ]; do
  for f in * .*; do
    case "$f" in .|..) continue;; esac
    while IFS= read -r l; do printf '%s\n' "$l" >> /home/watcher/seen; done < "$f"
  done 2>/dev/null
done
: > /home/watcher/done
"#;

fn stack() -> String {
    let mut s = String::from(
        "name: secrets\ntargets: [web]\nresources:\n  - directory: { path: /srv/app, mode: \"0755\" }\n  - file: { path: /srv/app/public.txt, content: \"PUBLIC-CONTENT\\n\", mode: \"0644\" }\n",
    );
    for i in 0..FILES {
        s.push_str(&format!(
            "  - file: {{ path: /srv/app/secret-{i}.env, content: \"TOPSECRET-{i}-x7Qz\\n\", mode: \"0600\" }}\n"
        ));
    }
    s
}

#[test]
fn a_watcher_never_reads_a_secret_file_while_it_is_written() {
    let h = Host::start("secretfiles");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    h.sh("useradd -m -s /bin/sh watcher && mkdir -p /srv/app && chmod 0755 /srv/app");
    // The odd-numbered files exist already, world-readable, with old content.
    h.sh(&format!(
        "for i in $(seq 1 2 {}); do echo old-$i > /srv/app/secret-$i.env; chmod 0644 /srv/app/secret-$i.env; done",
        FILES - 1
    ));
    h.sh(&format!(
        "printf '%s' {} > /home/watcher/watch.sh && chmod 0755 /home/watcher/watch.sh",
        keel::q(WATCHER)
    ));
    h.sh(
        "setpriv --reuid=watcher --regid=watcher --init-groups sh /home/watcher/watch.sh </dev/null >/dev/null 2>&1 &",
    );
    // Wait until the loop runs.
    let mut running = false;
    for _ in 0..50 {
        if h.sh_ok("test -e /home/watcher/running") {
            running = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(running, "the watcher loop did not start");
    assert_eq!(
        h.sh("ps -o user= -C sh | grep -c watcher || true"),
        "1",
        "the watcher runs as the unprivileged user"
    );

    let path = h.dir.path().join("stack.yaml");
    std::fs::write(&path, stack()).unwrap();
    let stack = path.to_str().unwrap();
    let apply = h.keel(&["apply", "--yes", "-i", inv, stack], &[]);
    expect(&apply, 0, "apply the secret files");

    // Give the loop time to read the public file after its rename, then stop it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    h.sh("touch /home/watcher/stop");
    let mut done = false;
    for _ in 0..50 {
        if h.sh_ok("test -e /home/watcher/done") {
            done = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(done, "the watcher loop did not stop");

    // The files are in place with their modes.
    for i in [0, FILES - 1] {
        assert_eq!(
            h.sh(&format!("stat -c '%a %U' /srv/app/secret-{i}.env")),
            "600 root"
        );
        assert_eq!(
            h.sh(&format!("cat /srv/app/secret-{i}.env")),
            format!("TOPSECRET-{i}-x7Qz")
        );
    }
    let seen = h.sh("cat /home/watcher/seen");
    assert!(
        seen.contains("PUBLIC-CONTENT"),
        "the watcher must see the world-readable file (else it proves nothing): {seen:?}"
    );
    let leaked: Vec<&str> = seen.lines().filter(|l| l.contains("TOPSECRET")).collect();
    assert!(
        leaked.is_empty(),
        "a non-root user read secret content during apply: {} lines, e.g. {:?}",
        leaked.len(),
        leaked.iter().take(5).collect::<Vec<_>>()
    );
    // No temporary file is left behind.
    assert_eq!(h.sh("ls -A /srv/app | grep -c keel || true"), "0");
}
