//! End to end, over real SSH against a fresh Debian host in a container:
//! an Ansible INI inventory as a team keeps it (`ansible_host`,
//! `ansible_user`, `ansible_ssh_private_key_file`, `[group:vars]`,
//! `group_vars/`, `host_vars/`) drives `keel apply`, and a second plan finds
//! nothing to change.

mod support;

use support::{Host, expect};

#[test]
fn an_ansible_inventory_drives_a_real_host() {
    let h = Host::start("ansible");
    let d = h.dir.path();
    let ini = format!(
        "# inventory kept for Ansible\n\
         [web]\n\
         target ansible_host={ip} ansible_user=root ansible_ssh_private_key_file={key}\n\
         \n\
         [prod:children]\n\
         web\n\
         \n\
         [prod:vars]\n\
         keel_ssh_config={cfg}\n\
         motd_text=\"from the inline vars\"\n\
         env=production\n",
        ip = h.host.ip,
        key = h.testbed.key_path().display(),
        cfg = h.testbed.ssh_config_path().display(),
    );
    std::fs::write(d.join("hosts.ini"), ini).unwrap();
    std::fs::create_dir_all(d.join("group_vars")).unwrap();
    std::fs::create_dir_all(d.join("host_vars")).unwrap();
    std::fs::write(d.join("group_vars/web.yml"), "motd_text: from group_vars\n").unwrap();
    std::fs::write(d.join("host_vars/target.yml"), "role: primary\n").unwrap();
    std::fs::write(
        d.join("stack.yaml"),
        "name: motd\ntargets: [prod]\nresources:\n  - file:\n      path: /etc/motd\n      mode: \"0644\"\n      content: \"{{vars.motd_text}} ({{vars.env}}, {{vars.role}})\\n\"\n",
    )
    .unwrap();
    let inv = d.join("hosts.ini");
    let inv = inv.to_str().unwrap();
    let stack = d.join("stack.yaml");
    let stack = stack.to_str().unwrap();

    let run = h.keel(&["validate", "-i", inv, stack], &[]);
    expect(&run, 0, "validate");
    let run = h.keel(&["apply", "--yes", "-i", inv, "--limit", "web", stack], &[]);
    expect(&run, 0, "apply");
    assert_eq!(
        h.sh("cat /etc/motd"),
        "from group_vars (production, primary)"
    );
    let run = h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &[]);
    expect(&run, 0, "second plan");
}
