//! The lockout analysis through the real binary: each way of locking keel
//! out, written as a stack, is refused at plan time with a diagnostic that
//! points at the setting — before keel connects to anything (the host's
//! address is never contacted) — and `--allow-lockout-risk` turns the
//! refusal into a warning.

mod support;

use support::Keel;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let (code, stdout, stderr) = Keel::new().current_dir(dir).args(args).run().parts();
    (code, stdout, flat(&stderr))
}

/// Diagnostics wrap long lines; compare their words in one line.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A project whose host is an address nothing listens on: a plan that got
/// past the analysis would fail to connect, with another message.
fn project(host_extra: &str, resources: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inventory.yaml"),
        format!(
            "hosts:\n  web1:\n    address: 127.0.0.1\n    port: 1\n{host_extra}groups:\n  web:\n    hosts: [web1]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        format!("name: lockout\ntargets: [web]\nresources:\n{resources}"),
    )
    .unwrap();
    dir
}

fn refused(host_extra: &str, resources: &str, says: &[&str], at: &str) {
    let dir = project(host_extra, resources);
    let (code, out, err) = run(dir.path(), &["plan", "stack.yaml"]);
    assert_eq!(code, 1, "refused: {out}{err}");
    assert!(err.contains("keel::lockout"), "{err}");
    assert!(err.contains(at), "points at {at}: {err}");
    for s in says {
        assert!(err.contains(s), "says `{s}`: {err}");
    }
    assert!(
        !err.contains("cannot connect"),
        "refused before connecting: {err}"
    );
    // Forced: a warning, and the plan goes on (here: to the unreachable host).
    let (code, out, err) = run(dir.path(), &["plan", "--allow-lockout-risk", "stack.yaml"]);
    assert_eq!(code, 1, "the host itself is unreachable");
    assert!(err.contains("keel::lockout"), "still reported: {err}");
    assert!(
        out.contains("cannot connect"),
        "went on to connect: {out}{err}"
    );
}

#[test]
fn firewall_without_an_ssh_rule_is_refused() {
    refused(
        "",
        "  - ufw:\n      defaults: { incoming: deny }\n      rules:\n        - { allow: 443/tcp }\n      enabled: true\n",
        &["no rule lets SSH in on 1/tcp", "allow: 1/tcp"],
        "stack.yaml:7:",
    );
}

/// A rule denying the SSH port shuts SSH out whenever UFW is on, even
/// when the stack does not enable UFW itself (it may be on already).
#[test]
fn a_rule_denying_ssh_is_refused_without_enabled_too() {
    refused(
        "",
        "  - ufw:\n      rules:\n        - { deny: 1/tcp }\n        - { allow: 80/tcp }\n",
        &[
            "a rule denies SSH on 1/tcp from everywhere",
            "allow: 1/tcp }` before it",
        ],
        "stack.yaml:6:",
    );
}

#[test]
fn root_login_off_while_connecting_as_root_is_refused() {
    refused(
        "",
        "  - sshd:\n      settings: { PermitRootLogin: \"no\" }\n",
        &[
            "`PermitRootLogin no` while keel connects as root",
            "declare a user with `authorized_keys`",
        ],
        "stack.yaml:5:",
    );
}

#[test]
fn root_login_off_names_the_sudo_user_to_switch_to() {
    refused(
        "",
        "  - user: { name: deploy, sudo: true, authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOrLkn1s8Y9Iu7f3Rx+K0n7f0pwK3Q1n8xJm4vXhR2bq me@laptop\"] }\n  - sshd:\n      settings: { PermitRootLogin: \"no\" }\n",
        &["connect as `deploy` instead", "bootstrap_user: root"],
        "stack.yaml:6:",
    );
}

#[test]
fn passwords_off_while_logging_in_by_password_is_refused() {
    refused(
        "    auth: password\n",
        "  - sshd:\n      settings: { PasswordAuthentication: \"no\" }\n",
        &["`PasswordAuthentication no` while `root` logs in with a password"],
        "stack.yaml:5:",
    );
}

#[test]
fn allow_users_without_the_connecting_user_is_refused() {
    refused(
        "",
        "  - sshd:\n      settings:\n        AllowUsers: [nobody]\n",
        &["`AllowUsers nobody` does not include `root`"],
        "stack.yaml:6:",
    );
}

#[test]
fn allow_groups_without_the_connecting_users_group_is_refused() {
    refused(
        "",
        "  - sshd:\n      settings:\n        AllowGroups: [sshusers]\n",
        &["does not include a group of `root`"],
        "stack.yaml:6:",
    );
}

#[test]
fn a_port_change_the_inventory_and_firewall_do_not_follow_is_refused() {
    let dir = project(
        "",
        "  - sshd:\n      settings: { Port: 2222 }\n  - ufw:\n      rules:\n        - { allow: 1/tcp }\n      enabled: true\n",
    );
    let (code, _, err) = run(dir.path(), &["plan", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("sshd will listen on port 2222 but the inventory connects on port 1"),
        "{err}"
    );
    assert!(err.contains("bootstrap_port: 1"), "{err}");
    assert!(err.contains("no rule lets SSH in on 2222/tcp"), "{err}");
    assert!(err.contains("keel: 2 problems found"), "{err}");
}

#[test]
fn a_safe_hardening_passes_the_analysis() {
    // G23 + G24 through a new sudo user: nothing to refuse (the plan then
    // fails only because this test's host does not exist).
    let dir = project(
        "    user: deploy\n    bootstrap_user: root\n",
        "  - user: { name: deploy, sudo: true, authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOrLkn1s8Y9Iu7f3Rx+K0n7f0pwK3Q1n8xJm4vXhR2bq me@laptop\"] }\n  - sshd:\n      settings: { Port: 1, PermitRootLogin: \"no\", PasswordAuthentication: \"no\" }\n  - ufw:\n      defaults: { incoming: deny, outgoing: allow }\n      rules:\n        - { allow: 1/tcp }\n        - { allow: 80/tcp }\n      enabled: true\n",
    );
    let (code, out, err) = run(dir.path(), &["plan", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(!err.contains("keel::lockout"), "{err}");
    assert!(out.contains("cannot connect"), "{out}{err}");
}

// Settings written as text into sshd's configuration are read too, and the
// diagnostic names the kind made for them (issue 7, finding 7).

#[test]
fn a_line_moving_the_ssh_port_is_refused_and_names_the_sshd_kind() {
    refused(
        "",
        "  - line:\n      path: /etc/ssh/sshd_config\n      match: '^#?Port '\n      line: Port 2222\n",
        &[
            "sshd will listen on port 2222 but the inventory connects on port 1",
            "the `sshd` kind manages these settings",
        ],
        "stack.yaml:7:",
    );
}

#[test]
fn a_dropin_file_shutting_out_the_login_user_is_refused() {
    refused(
        "",
        "  - file:\n      path: /etc/ssh/sshd_config.d/10-x.conf\n      content: |\n        # only nobody\n        AllowUsers nobody\n",
        &["`AllowUsers nobody` does not include `root`", "`sshd` kind"],
        "stack.yaml:7:",
    );
}

#[test]
fn settings_after_a_match_block_or_in_other_files_are_not_read() {
    // `Match` scopes what follows; ssh_config is the client's file.
    let dir = project(
        "",
        "  - file:\n      path: /etc/ssh/sshd_config.d/10-x.conf\n      content: \"Match User nobody\\n  PermitRootLogin no\\n\"\n  - line:\n      path: /etc/ssh/ssh_config\n      line: Port 2222\n",
    );
    let (code, out, err) = run(dir.path(), &["plan", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(!err.contains("keel::lockout"), "{err}");
    assert!(out.contains("cannot connect"), "{out}{err}");
}

#[test]
fn a_command_changing_interfaces_live_is_refused_and_names_the_kinds_to_use() {
    refused(
        "",
        "  - command:\n      run: ip link set eth0 down\n      creates: /x\n",
        &[
            "runs `ip link`",
            "keel cannot revert that",
            "a `file` under /etc/network/",
            "service[networking]",
        ],
        "stack.yaml:5:",
    );
}

#[test]
fn stopping_or_disabling_the_ssh_server_is_refused() {
    refused(
        "",
        "  - service:\n      name: ssh\n      state: stopped\n",
        &["service ssh is stopped while keel connects over SSH"],
        "stack.yaml:6:",
    );
    refused(
        "",
        "  - service:\n      name: sshd.service\n      enabled: false\n",
        &["service sshd.service is disabled"],
        "stack.yaml:6:",
    );
}

#[test]
fn taking_the_login_users_shell_or_keys_away_is_refused() {
    refused(
        "",
        "  - user:\n      name: root\n      shell: /usr/sbin/nologin\n",
        &["gives `root`, the user keel connects as, the shell /usr/sbin/nologin"],
        "stack.yaml:6:",
    );
    refused(
        "    user: deploy\n",
        "  - user:\n      name: deploy\n      authorized_keys: []\n",
        &["removes every authorized key of `deploy`"],
        "stack.yaml:6:",
    );
    refused(
        "    user: deploy\n",
        "  - user:\n      name: deploy\n      state: absent\n",
        &["removes `deploy`, the user keel connects as"],
        "stack.yaml:6:",
    );
    // Its sudo rule: keel (and the owner) would not become root again.
    refused(
        "    user: deploy\n",
        "  - user:\n      name: deploy\n      sudo: false\n",
        &["removes the sudo rule of `deploy`, the user keel connects as and becomes root with"],
        "stack.yaml:6:",
    );
}

#[test]
fn removing_the_ssh_server_package_is_refused() {
    refused(
        "",
        "  - package:\n      name: openssh-server\n      state: absent\n",
        &["removes package openssh-server, the SSH server keel connects through"],
        "stack.yaml:6:",
    );
}
