//! End to end, over real SSH against three fresh Debian hosts: a stack
//! with `serial: 1` whose check fails on the second host stops there —
//! the first host is applied, the second applied and failed by its check,
//! the third untouched and reported as not applied.

mod support;

use support::{Host, expect};

#[test]
fn a_failed_check_on_the_second_host_leaves_the_third_untouched() {
    let h = Host::start("roll-1");
    let b = h.testbed.start_host("roll-2").expect("second host");
    let c = h.testbed.start_host("roll-3").expect("third host");
    let mut inv = String::from("hosts:\n");
    for (name, ip, healthy) in [
        ("web-1", h.host.ip, "yes"),
        ("web-2", b.ip, "no"),
        ("web-3", c.ip, "yes"),
    ] {
        inv.push_str(&format!(
            "  {name}:\n    address: \"{ip}\"\n    identity_file: \"{key}\"\n    ssh_config: \"{cfg}\"\n    vars: {{ healthy: \"{healthy}\" }}\n",
            key = h.testbed.key_path().display(),
            cfg = h.testbed.ssh_config_path().display(),
        ));
    }
    inv.push_str("groups:\n  web:\n    hosts: [web-1, web-2, web-3]\n");
    let inv = h.write("inventory.yaml", &inv);
    let stack = h.write(
        "stack.yaml",
        r#"name: app
targets: [web]
serial: 1
resources:
  - file: { path: /srv/app.conf, content: "v2\n" }
  - check: { name: healthy, command: "test '{{vars.healthy}}' = yes" }
"#,
    );
    let plan = h.keel(&["plan", "-i", &inv, &stack], &[]);
    expect(&plan, 0, "plan three hosts");
    for line in ["batch 1/3: web-1", "batch 2/3: web-2", "batch 3/3: web-3"] {
        assert!(plan.stdout.contains(line), "{}", plan.stdout);
    }

    let apply = h.keel(&["apply", "--yes", "-i", &inv, &stack], &[]);
    expect(&apply, 1, "the check fails on web-2");
    assert!(h.sh_ok("test -f /srv/app.conf"), "web-1 applied");
    assert!(
        b.exec("test -f /srv/app.conf").unwrap().status.success(),
        "web-2 applied before its check"
    );
    assert!(
        !c.exec("test -e /srv/app.conf").unwrap().status.success(),
        "web-3 must be untouched:\n{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("check[healthy] on web-2")
            && apply
                .stdout
                .contains("not applied: the rollout stopped after batch 2/3"),
        "{}",
        apply.stdout
    );
}
