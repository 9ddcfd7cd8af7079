//! End to end, over real SSH against a fresh Debian host: the `sshd` kind.
//! One apply converges sshd's settings (a second port included) and sshd
//! serves them; a plan after it has nothing to do; a drop-in edited by hand
//! shows as `MaxAuthTries: 6 → 3`; a wide set of keywords converges against
//! the real `sshd -T` (the normalization is right); a configuration sshd
//! rejects never replaces the working drop-in and the host stays reachable;
//! a file that overrides the drop-in is named; an unknown keyword is refused
//! offline with "did you mean".

mod support;

use std::time::Duration;
use support::{Host, expect};

const DROPIN: &str = "/etc/ssh/sshd_config.d/50-keel.conf";

fn write_stack(h: &Host, name: &str, settings: &str) -> String {
    let body =
        format!("name: sshd\ntargets: [web]\nresources:\n  - sshd:\n      settings:\n{settings}");
    h.write(name, &body)
}

/// `ssh -p port root@host true` over real SSH, retried while sshd re-executes
/// after a reload.
fn ssh_works(h: &Host, port: u16) -> bool {
    for _ in 0..30 {
        if let Ok(out) = h.host.ssh_port(&h.testbed, port, "true")
            && out.status.success()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    false
}

/// The effective value lines of `sshd -T` on the host for one keyword.
fn effective(h: &Host, keyword: &str) -> Vec<String> {
    h.sh("sshd -T")
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{keyword} ")))
        .map(str::to_string)
        .collect()
}

const BASIC: &str = "        Port: [22, 2222]
        MaxAuthTries: 3
        ClientAliveInterval: 300
        ClientAliveCountMax: 2
        X11Forwarding: \"no\"
        PasswordAuthentication: \"no\"
";

/// Keywords of every comparison type, written in forms sshd prints
/// differently (aliases, time units, case), which must still converge.
const WIDE: &str = "        Port: [22, 2222]
        PermitRootLogin: prohibit-password
        PubkeyAuthentication: yes
        PasswordAuthentication: false
        ChallengeResponseAuthentication: \"no\"
        MaxAuthTries: 4
        LoginGraceTime: 1m30s
        ClientAliveInterval: 5m
        UnusedConnectionTimeout: 0
        MaxStartups: 10
        Compression: delayed
        AllowTcpForwarding: all
        LogLevel: verbose
        SyslogFacility: auth
        FingerprintHash: SHA256
        IgnoreRhosts: shosts-only
        AcceptEnv: LANG
        AllowUsers: [root, deploy]
        AuthorizedKeysFile: .ssh/authorized_keys .ssh/authorized_keys2
        Ciphers: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com, aes128-ctr]
        KexAlgorithms: curve25519-sha256,curve25519-sha256@libssh.org
        MACs: +hmac-sha1
        Banner: none
        UseDNS: no
        X11Forwarding: no
";

#[test]
fn sshd_settings_converge_validate_and_detect_drift() {
    let h = Host::start("sshd");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    // Plan: the drop-in is created; settings show against the effective config.
    let stack = write_stack(&h, "basic.yaml", BASIC);
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 2, "first plan");
    assert!(
        plan.stdout.contains(&format!("+ sshd[{DROPIN}]")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("MaxAuthTries: 6 → 3"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Port: 22 → 22, 2222"),
        "{}",
        plan.stdout
    );

    // Apply: one run converges.
    let apply = h.keel(&["apply", "--yes", "-i", inv, &stack], &[]);
    expect(&apply, 0, "apply");
    assert_eq!(
        h.sh(&format!("cat {DROPIN}")),
        "# managed by keel: changes made here by hand are overwritten\n\
         Port 22\nPort 2222\nMaxAuthTries 3\nClientAliveInterval 300\n\
         ClientAliveCountMax 2\nX11Forwarding no\nPasswordAuthentication no"
    );
    assert_eq!(effective(&h, "maxauthtries"), ["3"]);
    assert_eq!(effective(&h, "clientaliveinterval"), ["300"]);
    assert_eq!(effective(&h, "clientalivecountmax"), ["2"]);
    assert_eq!(effective(&h, "x11forwarding"), ["no"]);
    assert_eq!(effective(&h, "passwordauthentication"), ["no"]);
    let mut ports = effective(&h, "port");
    ports.sort();
    assert_eq!(ports, ["22", "2222"]);
    // The reloaded daemon listens on the new port.
    h.testbed.add_known_host_port(&h.host, 2222).unwrap();
    assert!(ssh_works(&h, 2222), "ssh on port 2222 after apply");
    assert!(ssh_works(&h, 22), "ssh on port 22 after apply");

    // Plan again: nothing to do.
    let again = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&again, 0, "plan after apply");

    // Drift by hand: the plan shows the setting and the file's diff.
    h.sh(&format!(
        "sed -i 's/^MaxAuthTries 3$/MaxAuthTries 6/' {DROPIN}"
    ));
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&drift, 2, "plan after drift");
    assert!(
        drift.stdout.contains(&format!("~ sshd[{DROPIN}]")),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("MaxAuthTries: 6 → 3"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("-MaxAuthTries 6") && drift.stdout.contains("+MaxAuthTries 3"),
        "content diff: {}",
        drift.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &stack], &[]),
        0,
        "apply after drift",
    );
    assert_eq!(effective(&h, "maxauthtries"), ["3"]);

    // Every comparison type against the real sshd -T: one apply, then no change.
    let wide = write_stack(&h, "wide.yaml", WIDE);
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &wide], &[]),
        0,
        "apply wide",
    );
    let wide_again = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &wide], &[]);
    expect(&wide_again, 0, "plan after the wide apply");
    assert_eq!(effective(&h, "permitrootlogin"), ["without-password"]);
    assert_eq!(effective(&h, "logingracetime"), ["90"]);
    assert_eq!(
        effective(&h, "allowusers"),
        ["root", "deploy"],
        "AllowUsers in effect"
    );
    assert!(ssh_works(&h, 22), "ssh on port 22 after the wide apply");

    // A configuration sshd -t rejects (well-typed, so keel's checks let it
    // through): apply fails with sshd's message, nothing is replaced.
    let before = h.sh(&format!("cat {DROPIN}"));
    let bad = write_stack(
        &h,
        "bad.yaml",
        &WIDE.replace(
            "Ciphers: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com, aes128-ctr]",
            "Ciphers: not-a-cipher",
        ),
    );
    let plan_bad = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &bad], &[]);
    expect(&plan_bad, 2, "plan of the bad config");
    let apply_bad = h.keel(&["apply", "--yes", "-i", inv, &bad], &[]);
    assert_ne!(
        apply_bad.code, 0,
        "apply of a config sshd rejects must fail"
    );
    let out = format!("{}{}", apply_bad.stdout, apply_bad.stderr);
    assert!(
        out.contains("Bad SSH2 cipher spec 'not-a-cipher'"),
        "sshd -t's message: {out}"
    );
    assert!(out.contains("was left unchanged"), "{out}");
    assert_eq!(
        h.sh(&format!("cat {DROPIN}")),
        before,
        "the working drop-in is still in place"
    );
    assert_eq!(
        h.sh(&format!(
            "ls -A {} | grep -c keel || true",
            "/etc/ssh/sshd_config.d"
        )),
        "1",
        "no temporary file left next to the drop-in"
    );
    assert!(h.sh_ok("sshd -t"), "the host's configuration still passes");
    assert!(ssh_works(&h, 22), "ssh still works on port 22");
    assert!(ssh_works(&h, 2222), "ssh still works on port 2222");
    let still = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &wide], &[]);
    expect(&still, 0, "the wide stack still matches");

    // A file read before the drop-in overrides it: the plan names it, as an
    // error (apply would report a success sshd does not honour).
    h.sh("echo 'MaxAuthTries 5' > /etc/ssh/sshd_config.d/10-by-hand.conf");
    let shadowed = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &wide], &[]);
    expect(&shadowed, 1, "plan with an overriding file");
    let words = shadowed
        .stdout
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains("MaxAuthTries is `5` in effect although the drop-in sets `4`")
            && words.contains("/etc/ssh/sshd_config.d/10-by-hand.conf:1 sets it first"),
        "{}",
        shadowed.stdout
    );
    h.sh("rm /etc/ssh/sshd_config.d/10-by-hand.conf");

    // An unknown keyword: refused offline, at its line, with a suggestion.
    let typo = write_stack(&h, "typo.yaml", "        Port: 22\n        MaxAuthTry: 3\n");
    let v = h.keel(&["validate", "-i", inv, &typo], &[]);
    expect(&v, 1, "validate with an unknown keyword");
    let out = format!("{}{}", v.stdout, v.stderr);
    // The diagnostic may be wrapped: compare its words.
    let words = out.replace('│', " ");
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("did you mean `MaxAuthTries`"), "{out}");
    assert!(out.contains("typo.yaml:7:9"), "points at the key: {out}");
}
