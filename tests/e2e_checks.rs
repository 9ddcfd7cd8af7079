//! End to end, over real SSH against a fresh Debian host in a container,
//! the `check` kind and `keel verify` (G26, the outside view): TCP checks
//! run from the machine keel runs on against the host's address, unit and
//! command checks run on the host.
//!
//! A stack that says SSH answers, port 8080 is closed and `ssh` is active
//! verifies (exit 0). Then something starts answering on 8080 (busybox
//! httpd, from Debian's packages): `keel verify` exits 1 naming the port,
//! in text and JSON. Last, `keel apply` writes the page that server serves
//! and an HTTP check from keel's machine sees it right after the change.

mod support;

use support::{Host, expect};

#[test]
fn verify_sees_the_host_from_outside_and_from_inside() {
    let h = Host::start("checks");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let stack = h.write(
        "outside.yaml",
        "name: outside
targets: [web]
resources:
  - check: { name: ssh-answers, tcp: { port: 22 } }
  - check: { name: port-8080, tcp: { port: 8080, state: closed }, timeout: 3 }
  - check: { unit: ssh }
  - check: { name: debian, command: \"grep -q '^ID=debian' /etc/os-release\" }
",
    );

    let run = h.keel(&["verify", "-i", inv, &stack], &[]);
    expect(&run, 0, "keel verify on a fresh host");
    assert!(
        run.stdout.contains("4 checks: 4 passed, 0 failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("port 22 on {} answers", h.host.ip)),
        "the TCP check ran from here: {}",
        run.stdout
    );
    assert!(run.stdout.contains("ssh is active"), "{}", run.stdout);

    // Something answers on the port the stack says is closed.
    h.sh("set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends busybox-static >/dev/null
mkdir -p /srv/www
busybox httpd -p 8080 -h /srv/www");
    let run = h.keel(&["verify", "-i", inv, &stack], &[]);
    expect(&run, 1, "keel verify with port 8080 answering");
    assert!(
        run.stderr.contains(&format!(
            "keel: check[port-8080] on web1 failed after 1 attempt: port 8080 on {} answers, but it must be closed",
            h.host.ip
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("4 checks: 3 passed, 1 failed"),
        "{}",
        run.stdout
    );

    let run = h.keel(&["verify", "--json", "-i", inv, &stack], &[]);
    expect(&run, 1, "keel verify --json");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["passed"], false);
    let failed: Vec<&str> = v["hosts"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["check[port-8080]"]);

    // keel apply writes the page, then checks it from outside.
    let web = h.write(
        "web.yaml",
        &format!(
            "name: web
targets: [web]
resources:
  - file: {{ path: /srv/www/index.html, content: \"hello from keel\\n\" }}
  - check:
      name: page
      http: {{ url: \"http://{ip}:8080/index.html\", body: hello from keel }}
      retries: 3
      interval: 1
",
            ip = h.host.ip
        ),
    );
    let run = h.keel(&["apply", "--yes", "-i", inv, &web], &[]);
    expect(&run, 0, "keel apply with an HTTP check");
    assert!(
        run.stdout.contains("✓ web1         check[page]"),
        "{}",
        run.stdout
    );
    let run = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &web], &[]);
    expect(&run, 0, "a check is not drift");
}
