//! Smoke test of the sandbox machinery: one fresh Debian host in docker,
//! reached over real SSH with strict host key checking.
//!
//! Needs a running docker engine (run `scripts/ci-setup.sh`); without one it
//! FAILS with instructions rather than skipping. The first run on a machine
//! builds the testbed image (about a minute); afterwards this takes seconds.

use keel_sandbox::{SandboxHost, Testbed};
use std::process::Command;
use std::time::Instant;

fn assert_send_sync<T: Send + Sync>() {}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn docker_has(kind: &str, name: &str) -> bool {
    Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn fresh_host_over_real_ssh() {
    assert_send_sync::<Testbed>();
    assert_send_sync::<SandboxHost>();

    let t0 = Instant::now();
    let tb = Testbed::new().unwrap_or_else(|e| panic!("creating the testbed failed:\n{e}"));
    let t_tb = t0.elapsed();
    let host = tb
        .start_host("smoke")
        .unwrap_or_else(|e| panic!("starting a host failed:\n{e}"));
    let t_host = t0.elapsed() - t_tb;
    eprintln!(
        "testbed {} ready in {t_tb:.2?}, host {} ({}) in {t_host:.2?}",
        tb.id(),
        host.name,
        host.ip
    );
    assert!(tb.ssh_config_path().starts_with(tb.dir()));
    assert!(tb.key_path().is_file());

    // systemd is PID 1 and finishes booting.
    let out = host
        .ssh(&tb, "systemctl is-system-running --wait")
        .expect("run ssh");
    let state = stdout(&out);
    assert!(
        state == "running" || state == "degraded",
        "systemctl is-system-running: {state:?}, stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Real SSH as root.
    let uid = host.ssh_ok(&tb, "id -u").expect("ssh id -u");
    assert_eq!(uid, "0");
    assert_eq!(host.ssh_ok(&tb, "hostname").expect("ssh hostname"), "smoke");
    assert_eq!(
        host.ssh_ok(&tb, "systemctl is-active ssh.service")
            .expect("ssh.service"),
        "active"
    );

    // The direct (non-SSH) channel sees the same machine.
    assert_eq!(host.exec_ok("cat /etc/hostname").expect("exec"), "smoke");
    let machine_id = host.exec_ok("cat /etc/machine-id").expect("machine-id");
    assert_eq!(machine_id.len(), 32, "machine id {machine_id:?}");

    // known_hosts holds exactly this host's real key.
    let known = std::fs::read_to_string(tb.known_hosts_path()).expect("read known_hosts");
    let key = host.host_public_key().expect("host key");
    assert_eq!(known.trim(), format!("{} {key}", host.ip));

    // Strict host key checking is on: a testbed that does not know this host
    // refuses to talk to it.
    let other = Testbed::new().unwrap_or_else(|e| panic!("second testbed:\n{e}"));
    let out = host.ssh(&other, "true").expect("run ssh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "ssh to an unknown host key succeeded"
    );
    assert!(
        err.contains("Host key verification failed"),
        "unexpected ssh error: {err}"
    );

    // A wrong key for the host's address is refused too (no TOFU, no update).
    other
        .add_known_host(&host.ip.to_string(), tb.public_key())
        .expect("add wrong key");
    let out = host.ssh(&other, "true").expect("run ssh");
    assert!(
        !out.status.success(),
        "ssh with a mismatching host key succeeded"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Host key verification failed"),
        "unexpected ssh error: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Dropping removes the container and the networks.
    let (container, network, other_network) = (
        host.container.clone(),
        tb.network().to_string(),
        other.network().to_string(),
    );
    let dir = tb.dir().to_path_buf();
    drop(host);
    drop(other);
    drop(tb);
    if std::env::var("KEEL_KEEP_TESTBED").as_deref() != Ok("1") {
        assert!(
            !docker_has("container", &container),
            "{container} left behind"
        );
        assert!(!docker_has("network", &network), "{network} left behind");
        assert!(
            !docker_has("network", &other_network),
            "{other_network} left behind"
        );
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    eprintln!("smoke test took {:.2?}", t0.elapsed());
}
