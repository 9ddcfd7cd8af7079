//! End to end, over real SSH against a fresh Debian host: with
//! `host_key: accept-new` and a stack that moves sshd from the bootstrap
//! port to a new one, the key learned on the bootstrap port is the only one
//! accepted on the new port. A server with another key there is refused
//! (it used to be trusted as "new": known_hosts entries are per port); the
//! same key on the new port is accepted.

mod support;

use support::{Host, expect};

/// An inventory connecting as root on 2222 (bootstrap: 22), trusting keys
/// on first use, with a known_hosts of its own that starts empty.
fn setup(h: &Host) -> (String, String, std::path::PathBuf) {
    let d = h.dir.path();
    let known_hosts = d.join("known_hosts");
    std::fs::write(&known_hosts, "").unwrap();
    let cfg = d.join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host *\n  UserKnownHostsFile \"{}\"\n  GlobalKnownHostsFile /dev/null\n  UpdateHostKeys no\n  LogLevel ERROR\n",
            known_hosts.display()
        ),
    )
    .unwrap();
    let inv = d.join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "hosts:\n  web1:\n    address: \"{ip}\"\n    user: root\n    identity_file: \"{key}\"\n    ssh_config: \"{cfg}\"\n    host_key: accept-new\n    port: 2222\n    bootstrap_port: 22\ngroups:\n  web:\n    hosts: [web1]\n",
            ip = h.host.ip,
            key = h.testbed.key_path().display(),
            cfg = cfg.display(),
        ),
    )
    .unwrap();
    let stack = d.join("stack.yaml");
    std::fs::write(
        &stack,
        "name: hostkeys\ntargets: [web]\nresources:\n  - file: { path: /tmp/keel-hostkeys, content: \"x\\n\" }\n",
    )
    .unwrap();
    (
        inv.display().to_string(),
        stack.display().to_string(),
        known_hosts,
    )
}

#[test]
fn the_key_learned_on_the_bootstrap_port_is_the_one_accepted_on_the_new_port() {
    let h = Host::start("hostkeys");
    let (inv, stack, known_hosts) = setup(&h);
    let ip = h.host.ip.to_string();

    // Nothing listens on 2222 yet: keel logs in on 22 and learns the key.
    let first = h.keel(&["plan", "-i", &inv, &stack], &[]);
    expect(&first, 0, "plan over the bootstrap port");
    assert!(
        first.stdout.contains(&format!("{ip}:22;")),
        "{}",
        first.stdout
    );
    let learned = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        learned.lines().any(|l| l.starts_with(&format!("{ip} "))),
        "the key is recorded under the bootstrap port's name: {learned}"
    );

    // Another server on the new port, with a key of its own.
    h.sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/rogue_key && \
         /usr/sbin/sshd -p 2222 -h /etc/ssh/rogue_key -o PidFile=/run/rogue.pid && {}",
        wait_listening("/run/rogue.pid")
    ));
    let rogue = h.keel(&["plan", "-i", &inv, &stack], &[]);
    expect(&rogue, 1, "plan against another key on 2222");
    assert!(
        rogue.stdout.contains("has CHANGED") || rogue.stderr.contains("has CHANGED"),
        "refused as a changed key:\n{}{}",
        rogue.stdout,
        rogue.stderr
    );
    assert!(
        !rogue.stdout.contains(&format!("{ip}:22;")),
        "no fallback to the bootstrap port after a changed key: {}",
        rogue.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        learned,
        "the other key was not recorded"
    );

    // The host's own sshd on the new port (same key): accepted.
    h.sh(&format!(
        "p=$(cat /run/rogue.pid) && kill \"$p\" && \
         while kill -0 \"$p\" 2>/dev/null; do sleep 0.1; done && \
         /usr/sbin/sshd -p 2222 -o PidFile=/run/second.pid && {}",
        wait_listening("/run/second.pid")
    ));
    let same = h.keel(&["plan", "-i", &inv, &stack], &[]);
    expect(&same, 0, "plan against the same key on 2222");
    assert!(
        same.stdout.contains(&format!("{ip}:2222;")),
        "{}",
        same.stdout
    );
}

/// Shell that waits (up to 20 s) for an sshd started in the background to
/// listen: it writes its pid file only once its socket is bound, and the
/// command that starts it returns before that.
fn wait_listening(pid_file: &str) -> String {
    format!(
        "i=0; while [ ! -s {pid_file} ]; do i=$((i + 1)); \
         [ $i -gt 200 ] && {{ echo 'sshd did not start' >&2; exit 1; }}; sleep 0.1; done"
    )
}
