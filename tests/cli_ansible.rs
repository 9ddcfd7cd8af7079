//! Ansible inventories through the real binary: `validate`, `plan` and
//! `apply` with an INI or YAML inventory (a local-transport host through
//! `ansible_connection=local`), `--limit` on Ansible groups, `keel inventory
//! convert` output (snapshots), and errors naming file and line.

mod support;

use std::path::Path;
use support::Keel;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new().current_dir(dir).args(args).run().parts()
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            p,
            text.replace("@ROOT@", &dir.path().join("root").display().to_string()),
        )
        .unwrap();
    }
    dir
}

const STACK: &str = r#"name: ansible-inventory
targets: [control]
resources:
  - directory: { path: "{{vars.root_dir}}" }
  - file:
      path: "{{vars.root_dir}}/app.conf"
      content: "port={{vars.http_port}} tier={{vars.tier}} ntp={{vars.ntp_server}} env={{vars.env}}\n"
"#;

/// An INI inventory with a local host, group_vars/ and host_vars/.
fn ini_project() -> tempfile::TempDir {
    project(&[
        ("stack.yaml", STACK),
        (
            "hosts.ini",
            "# as kept for Ansible\n\
             [web]\n\
             web[01:03].example.com\n\
             \n\
             [control]\n\
             here ansible_connection=local ansible_user=root http_port=9000\n\
             \n\
             [prod:children]\n\
             web\n\
             control\n\
             \n\
             [all:vars]\n\
             ansible_user=deploy\n\
             tier=all\n\
             ntp_server=ntp.example.com\n\
             \n\
             [prod:vars]\n\
             tier=prod\n\
             env=production\n\
             \n\
             [control:vars]\n\
             tier=control\n\
             http_port=8080\n",
        ),
        ("group_vars/all.yml", "ntp_server: time.example.com\n"),
        ("group_vars/control.yml", "tier: control-file\n"),
        (
            "host_vars/here.yml",
            "root_dir: \"@ROOT@\"\nhttp_port: 9090\n",
        ),
    ])
}

#[test]
fn validate_plan_and_apply_with_an_ini_inventory() {
    let dir = ini_project();
    let d = dir.path();
    let (code, out, err) = keel(d, &["validate", "-i", "hosts.ini", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 host"), "{out}");

    let (code, out, err) = keel(d, &["plan", "-i", "hosts.ini", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("app.conf"), "{out}");

    let (code, out, err) = keel(d, &["apply", "--yes", "-i", "hosts.ini", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    // host_vars file > host line > group_vars file > [control:vars] >
    // [prod:vars] > group_vars/all.yml > [all:vars].
    assert_eq!(
        std::fs::read_to_string(d.join("root/app.conf")).unwrap(),
        "port=9090 tier=control-file ntp=time.example.com env=production\n"
    );
    let (code, out, err) = keel(
        d,
        &[
            "plan",
            "--detailed-exitcode",
            "-i",
            "hosts.ini",
            "stack.yaml",
        ],
    );
    assert_eq!(code, 0, "a second run changes nothing: {out}{err}");
}

#[test]
fn limit_takes_ansible_groups_and_ranged_hosts() {
    let dir = ini_project();
    let d = dir.path();
    let stack = STACK.replace("targets: [control]", "targets: [prod]");
    std::fs::write(d.join("prod.yaml"), stack).unwrap();
    // web hosts are unreachable names: validate works offline.
    let (code, out, err) = keel(d, &["validate", "-i", "hosts.ini", "prod.yaml"]);
    assert_eq!(code, 1, "web hosts have no root_dir var: {out}{err}");
    let (code, out, err) = keel(
        d,
        &[
            "validate",
            "-i",
            "hosts.ini",
            "--limit",
            "control",
            "prod.yaml",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 host"), "{out}");
    let (code, out, err) = keel(
        d,
        &[
            "validate",
            "-i",
            "hosts.ini",
            "--limit",
            "web02.example.com",
            "prod.yaml",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("root_dir"), "{err}");
}

#[test]
fn validate_and_plan_with_a_yaml_inventory() {
    let dir = project(&[
        ("stack.yaml", STACK),
        (
            "inventory.yml",
            "all:\n  vars:\n    tier: all\n    ntp_server: ntp.example.com\n  children:\n    prod:\n      vars: { env: production }\n      children:\n        control:\n          hosts:\n            here:\n              ansible_connection: local\n              root_dir: \"@ROOT@\"\n          vars: { http_port: 8080, tier: control }\n",
        ),
        ("host_vars/here.yaml", "http_port: 9090\n"),
    ]);
    let d = dir.path();
    let (code, out, err) = keel(d, &["validate", "-i", "inventory.yml", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = keel(d, &["apply", "--yes", "-i", "inventory.yml", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("root/app.conf")).unwrap(),
        "port=9090 tier=control ntp=ntp.example.com env=production\n"
    );
}

#[test]
fn a_keel_inventory_beside_the_stack_is_still_keel() {
    let dir = project(&[
        ("stack.yaml", STACK),
        (
            "inventory.yaml",
            "hosts:\n  here:\n    transport: local\n    vars: { root_dir: \"@ROOT@\", http_port: 1, tier: t, ntp_server: n, env: e }\ngroups:\n  control: { hosts: [here] }\n",
        ),
    ]);
    let (code, out, err) = keel(dir.path(), &["validate", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn bad_ansible_inventories_name_file_and_line() {
    let dir = project(&[
        ("stack.yaml", STACK),
        (
            "hosts.ini",
            "[control]\nhere ansible_connection=local\n[web]\nweb[20:01]\nweb-x ansible_port=http\n",
        ),
        (
            "inventory.yml",
            "all:\n  children:\n    control:\n      hostz:\n        here:\n",
        ),
    ]);
    let d = dir.path();
    let (code, _, err) = keel(d, &["validate", "-i", "hosts.ini", "stack.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("hosts.ini:4:1"), "{err}");
    assert!(err.contains("runs backwards"), "{err}");
    assert!(err.contains("hosts.ini:5:20"), "{err}");
    assert!(err.contains("`ansible_port` is `http`"), "{err}");
    let (code, _, err) = keel(d, &["inventory", "convert", "inventory.yml"]);
    assert_eq!(code, 1);
    assert!(err.contains("inventory.yml:4:7"), "{err}");
    assert!(
        err.contains("`hostz` is not a key of an Ansible group"),
        "{err}"
    );
}

/// A mistake next to a password (inline, in `[group:vars]`, in
/// group_vars/): the diagnostics quote the lines around it, never the
/// password; the host still logs in with a password (`auth: password`).
#[test]
fn passwords_never_show_in_diagnostics() {
    let dir = project(&[
        ("stack.yaml", STACK),
        (
            "hosts.ini",
            "[control]\nhere ansible_connection=local ansible_password=Hunter2-ini\nweb-x ansible_port=http\n[control:vars]\nansible_become_pass='Hunter2 grp'\n",
        ),
        (
            "group_vars/control.yml",
            "ansible_ssh_pass: Hunter2-yml\nansible_port: [1, 2]\n",
        ),
    ]);
    let d = dir.path();
    let (code, out, err) = keel(d, &["validate", "-i", "hosts.ini", "stack.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("hosts.ini:3:"), "{err}");
    assert!(err.contains("control.yml:2:"), "{err}");
    assert!(err.contains("ansible_password=xxxxxxxxxxx"), "{err}");
    assert!(
        !out.contains("Hunter2") && !err.contains("Hunter2"),
        "{out}{err}"
    );
    std::fs::write(
        d.join("hosts.ini"),
        "[control]\nhere ansible_connection=local ansible_password=Hunter2-ini\n",
    )
    .unwrap();
    std::fs::remove_dir_all(d.join("group_vars")).unwrap();
    let (code, out, err) = keel(d, &["inventory", "convert", "hosts.ini"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("auth: password"), "{out}");
    assert!(!out.contains("Hunter2"), "{out}");
}

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible")
}

#[test]
fn convert_ini_fixture() {
    let (code, out, err) = keel(&fixture_dir(), &["inventory", "convert", "ini/hosts.ini"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn convert_yaml_fixture() {
    let (code, out, err) = keel(
        &fixture_dir(),
        &["inventory", "convert", "yaml/inventory.yml"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("hunter2"),
        "a password never reaches the output"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn converted_inventory_validates_like_the_original() {
    let dir = ini_project();
    let d = dir.path();
    let (code, out, err) = keel(d, &["inventory", "convert", "hosts.ini"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(d.join("converted.yaml"), &out).unwrap();
    let (code, out, err) = keel(d, &["apply", "--yes", "-i", "converted.yaml", "stack.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("root/app.conf")).unwrap(),
        "port=9090 tier=control-file ntp=time.example.com env=production\n"
    );
}
