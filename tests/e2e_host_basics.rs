//! End to end, over real SSH against a fresh Debian host in a container: the
//! host basics — `hostname`, `timezone` and `sysctl`.
//!
//! The test host is a Docker container, which shapes two steps:
//! - `/etc/hostname` and `/etc/hosts` are bind mounts there (renaming over
//!   them fails with EBUSY), so this also checks keel rewrites them in place;
//! - `/proc/sys` is mounted read-only, even for the settings the container's
//!   own network namespace owns: the test first checks that a `sysctl`
//!   fails clearly there and persists nothing, then remounts `/proc/sys`
//!   read-write (the container has CAP_SYS_ADMIN; it only ever writes
//!   `net.*` keys, which belong to the container's network namespace).
//!
//! The flow: bad input is refused by `keel validate` at the right lines;
//! tzdata is purged so that the `package` resource must install it before
//! the `timezone` (plan: "known after apply"); one apply converges
//! everything; the host is checked directly; a second plan exits 0; drift
//! made by hand shows as readable `before → after` lines and exits 2; a
//! value the kernel rejects and a zone that does not exist fail without
//! replacing the working settings.

mod support;

use support::{Host, expect};

const STACK: &str = r#"name: basics
targets: [web]
resources:
  - package: { name: tzdata }
  - hostname: { name: web-01, fqdn: web-01.example.com }
  - timezone: { name: Asia/Shanghai }
  - sysctl: { name: net.core.somaxconn, value: "1024" }
  - sysctl: { name: net.ipv4.ip_local_port_range, value: "20000 60999" }
"#;

#[test]
fn host_basics_converge_drift_and_validate() {
    let h = Host::start("basics");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    // Bad input: refused offline, each at its line.
    let bad = h.write("bad.yaml",
        "name: bad\ntargets: [web]\nresources:\n  - hostname: { name: -bad_name- }\n  - timezone: { name: Asia/Shanghai }\n  - sysctl:\n      name: net.core.som axconn\n      value: \"1\"\n",
    );
    let v = h.keel(&["validate", "-i", inv, &bad], &[]);
    expect(&v, 1, "validate bad input");
    assert!(
        v.stderr.contains("bad.yaml:4:"),
        "hostname at line 4: {}",
        v.stderr
    );
    assert!(v.stderr.contains("contains `_`"), "{}", v.stderr);
    assert!(
        v.stderr.contains("bad.yaml:7:"),
        "sysctl name at line 7: {}",
        v.stderr
    );
    assert!(v.stderr.contains("net.core.som axconn"), "{}", v.stderr);
    assert!(
        !v.stderr.contains("bad.yaml:5:"),
        "the timezone is fine: {}",
        v.stderr
    );

    // The starting point: Docker's names, UTC, tzdata purged.
    assert_eq!(h.sh("uname -n"), "basics");
    h.sh("dpkg --purge tzdata >/dev/null");
    assert!(!h.sh_ok("test -e /usr/share/zoneinfo/Asia/Shanghai"));

    // A read-only /proc/sys: the sysctl fails clearly, nothing persisted.
    let ro = h.write("ro.yaml",
        "name: ro\ntargets: [web]\nresources:\n  - sysctl: { name: net.core.somaxconn, value: \"1024\" }\n",
    );
    let plan = h.keel(&["plan", "-i", inv, &ro], &[]);
    expect(&plan, 1, "plan on a read-only /proc/sys");
    let ro_msg = "net.core.somaxconn cannot be set on this host: /proc/sys is mounted read-only";
    assert!(
        plan.stdout.contains("value: 4096 → 1024"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains(ro_msg), "{}", plan.stdout);
    let apply = h.keel(&["apply", "--yes", "-i", inv, &ro], &[]);
    expect(&apply, 1, "apply on a read-only /proc/sys");
    let all = format!("{}{}", apply.stdout, apply.stderr);
    assert!(all.contains(ro_msg), "{all}");
    assert!(!h.sh_ok("test -e /etc/sysctl.d/99-zz-keel.conf"));
    h.sh("mount -o remount,rw /proc/sys");

    // Plan: everything changes; the time zone waits for tzdata.
    let stack = h.write("stack.yaml", STACK);
    expect(
        &h.keel(&["validate", "-i", inv, &stack], &[]),
        0,
        "validate",
    );
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 2, "first plan");
    println!("--- first plan\n{}", plan.stdout);
    for want in [
        "+ package[tzdata]",
        "~ hostname[system]",
        "hostname: basics → web-01",
        "/etc/hosts 127.0.1.1: (none) → web-01.example.com web-01",
        "~ timezone[system]",
        "known after apply",
        "~ sysctl[net.core.somaxconn]",
        "/etc/sysctl.d/99-zz-keel.conf: (none) → 20000 60999",
    ] {
        assert!(plan.stdout.contains(want), "{want}: {}", plan.stdout);
    }

    // One apply converges.
    let apply = h.keel(&["apply", "--yes", "-i", inv, &stack], &[]);
    expect(&apply, 0, "apply");

    // The host, checked directly.
    assert_eq!(h.sh("uname -n"), "web-01");
    assert_eq!(h.sh("hostname"), "web-01");
    assert_eq!(h.sh("cat /etc/hostname"), "web-01");
    assert_eq!(h.sh("hostname -f"), "web-01.example.com");
    assert_eq!(
        h.sh("grep '^127.0.1.1' /etc/hosts"),
        "127.0.1.1\tweb-01.example.com\tweb-01"
    );
    assert!(
        h.sh("cat /etc/hosts").contains("127.0.0.1\tlocalhost"),
        "other lines kept"
    );
    assert!(
        h.sh_ok("grep -q 'basics$' /etc/hosts"),
        "Docker's own line kept"
    );
    assert!(h.sh_ok("dpkg-query -W -f='${Status}' tzdata | grep -q 'install ok installed'"));
    assert!(
        h.sh("readlink /etc/localtime")
            .ends_with("/usr/share/zoneinfo/Asia/Shanghai")
    );
    assert_eq!(h.sh("cat /etc/timezone"), "Asia/Shanghai");
    assert_eq!(h.sh("date +%Z"), "CST");
    assert_eq!(
        h.sh("timedatectl show -p Timezone --value"),
        "Asia/Shanghai"
    );
    assert_eq!(h.sh("sysctl -n net.core.somaxconn"), "1024");
    assert_eq!(
        h.sh("sysctl -n net.ipv4.ip_local_port_range"),
        "20000\t60999"
    );
    let conf = h.sh("cat /etc/sysctl.d/99-zz-keel.conf");
    assert!(
        conf.contains("\nnet.core.somaxconn = 1024\n"),
        "persisted: {conf}"
    );
    assert!(
        conf.ends_with("\nnet.ipv4.ip_local_port_range = 20000 60999"),
        "persisted: {conf}"
    );
    // systemd-sysctl accepts the file as it will at boot.
    assert!(h.sh_ok("sysctl -p /etc/sysctl.d/99-zz-keel.conf >/dev/null"));

    // Plan again: nothing to do.
    h.expect_no_changes(inv, &stack, &[]);

    // The first apply went through the fallback (`hostnamectl` cannot
    // rename over Docker's bind-mounted /etc/hostname). Unmount it, as on a
    // real host, so that the next apply takes the `hostnamectl` path
    // (systemd-hostnamed is stopped: it keeps the mount namespace it
    // started in, where the bind mount is still there).
    h.sh("umount /etc/hostname && systemctl stop systemd-hostnamed");

    // Drift by hand (in place: /etc/hosts is a bind mount).
    h.sh("hostname drifted && echo drifted > /etc/hostname");
    h.sh("sed 's/^127.0.1.1.*/127.0.1.1 old.example.com old/' /etc/hosts > /tmp/hosts && cat /tmp/hosts > /etc/hosts");
    h.sh("ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime && echo Europe/Paris > /etc/timezone");
    h.sh("sysctl -qw net.core.somaxconn=4096");
    h.sh("sed -i 's/= 20000 60999/= 1024 65535/' /etc/sysctl.d/99-zz-keel.conf");
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&drift, 2, "plan after drift");
    println!("--- plan after drift\n{}", drift.stdout);
    for want in [
        "hostname: drifted → web-01",
        "/etc/hostname: drifted → web-01",
        "/etc/hosts 127.0.1.1: old.example.com old → web-01.example.com web-01",
        "timezone: Europe/Paris → Asia/Shanghai",
        "/etc/timezone: Europe/Paris → Asia/Shanghai",
        "value: 4096 → 1024",
        "/etc/sysctl.d/99-zz-keel.conf: 1024 65535 → 20000 60999",
    ] {
        assert!(drift.stdout.contains(want), "{want}: {}", drift.stdout);
    }
    assert!(
        !drift.stdout.contains("package[tzdata]"),
        "only drifted resources change: {}",
        drift.stdout
    );

    // Converge again.
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &stack], &[]),
        0,
        "apply after drift",
    );
    assert_eq!(h.sh("uname -n"), "web-01");
    assert_eq!(h.sh("cat /etc/hostname"), "web-01");
    assert_eq!(
        h.sh("hostnamectl --static"),
        "web-01",
        "systemd-hostnamed agrees"
    );
    assert!(
        h.sh_ok("journalctl -u systemd-hostnamed --no-pager | grep -qF 'Hostname set to <web-01> (static)'"),
        "set through hostnamectl: {}",
        h.sh("journalctl -u systemd-hostnamed --no-pager | tail -5")
    );
    assert_eq!(h.sh("date +%Z"), "CST");
    assert_eq!(h.sh("sysctl -n net.core.somaxconn"), "1024");
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]),
        0,
        "plan after the second apply",
    );

    // A value the kernel rejects never reaches the boot-time file; a zone
    // that does not exist never replaces the working one.
    let conf_before = h.sh("cat /etc/sysctl.d/99-zz-keel.conf");
    let rejected = h.write("rejected.yaml",
        "name: rejected\ntargets: [web]\nresources:\n  - sysctl: { name: net.core.somaxconn, value: lots }\n  - timezone: { name: Mars/Olympus_Mons }\n",
    );
    let plan = h.keel(&["plan", "-i", inv, &rejected], &[]);
    expect(&plan, 0, "plan of rejected values");
    assert!(
        plan.stdout.contains("value: 1024 → lots"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("/usr/share/zoneinfo/Mars/Olympus_Mons does not exist"),
        "{}",
        plan.stdout
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &rejected], &[]);
    expect(&apply, 1, "apply of rejected values");
    let all = format!("{}{}", apply.stdout, apply.stderr);
    assert!(
        all.contains("the kernel rejected the value (invalid argument)"),
        "{all}"
    );
    assert!(all.contains("install the tzdata package"), "{all}");
    assert_eq!(h.sh("cat /etc/sysctl.d/99-zz-keel.conf"), conf_before);
    assert_eq!(h.sh("sysctl -n net.core.somaxconn"), "1024");
    assert_eq!(h.sh("date +%Z"), "CST");
    assert_eq!(h.sh("cat /etc/timezone"), "Asia/Shanghai");
}
