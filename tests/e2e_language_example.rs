//! End to end, over real SSH against a fresh Debian host: the example
//! `examples/language/stack.yaml` (loops over a map and a list, conditions
//! on facts and groups, a list var passed to a list setting, the bundled
//! nginx modules used by name) applied as it is in the repository, with an
//! inventory pointing at the host. One apply converges it: the loops' files
//! and directories exist, the resource whose condition is false does not,
//! nginx serves each site; a second plan is empty (exit 0).

mod support;

use support::{Host, expect, repo};

#[test]
fn language_example_converges_and_replans_empty() {
    let h = Host::start("language");
    // The stack is used in place: examples/ has no modules/ folder, so
    // `nginx-base` and `nginx-site` can only come from the bundled ones.
    assert!(!repo().join("examples/modules").exists());
    let stack = repo().join("examples/language/stack.yaml");
    let stack = stack.to_str().unwrap();
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    let modules = h.keel(&["modules", stack], &[]);
    expect(&modules, 0, "modules");
    assert!(
        modules.stdout.contains("nginx-site (bundled)"),
        "{}",
        modules.stdout
    );

    let apply = h.keel(&["apply", "--yes", "-i", inv, stack], &[]);
    expect(&apply, 0, "first apply");

    // The loop over the map: a page per site, with its key.
    assert_eq!(
        h.sh("cat /srv/www/hello/index.html").trim_end(),
        "Hello from keel (hello)"
    );
    assert_eq!(
        h.sh("cat /srv/www/docs/index.html").trim_end(),
        "Docs live here (docs)"
    );
    assert!(h.sh_ok("test -f /etc/nginx/conf.d/hello.conf && test -f /etc/nginx/conf.d/docs.conf"));
    // The loop over the list.
    assert_eq!(
        h.sh("stat -c %a /srv/app/logs /srv/app/cache").trim_end(),
        "750\n750"
    );
    // The typed value: the list var became the user's keys, one a line.
    let keys = h.sh("cat /home/deploy/.ssh/authorized_keys");
    assert!(keys.contains("ann@laptop"), "{keys}");
    // The conditions: curl installed (Debian), the staging motd skipped.
    assert!(h.sh_ok("dpkg-query -W -f '${Status}' curl | grep -q 'install ok installed'"));
    assert!(
        !h.sh("cat /etc/motd 2>/dev/null || true")
            .contains("Staging"),
        "the motd of `staging` hosts was written"
    );

    // nginx serves each site under its names (a list input).
    for (name, text) in [
        ("hello.test", "Hello from keel"),
        ("www.hello.test", "Hello from keel"),
        ("docs.test", "Docs live here"),
    ] {
        let body = h.sh(&format!("curl -fsS -H 'Host: {name}' http://127.0.0.1/"));
        assert!(body.contains(text), "{name}: {body}");
    }

    // The skipped resource is listed as such, and nothing is left to do.
    let plan = h.keel(
        &["plan", "--all", "--detailed-exitcode", "-i", inv, stack],
        &[],
    );
    expect(&plan, 0, "second plan");
    assert!(
        plan.stdout
            .contains("file[/etc/motd] skipped (when: false)"),
        "{}",
        plan.stdout
    );
}
