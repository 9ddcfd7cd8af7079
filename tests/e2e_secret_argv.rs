//! End to end, over real SSH against a fresh Debian host: a secret in the
//! settings of every kind that takes free text never appears in any
//! process's command line on the host (`/proc/*/cmdline` is readable by
//! every local user).
//!
//! Two samplers on the host read every `/proc/*/cmdline` in a tight loop
//! (bash builtins only, so they fork nothing and miss little) while keel
//! applies a stack with the secret in a file's content, in `line` (create,
//! replace, remove), in a git URL (an https-style URL against a local
//! HTTP server that requires exactly those credentials), in a command's
//! `env`, in a user's `password_hash`, and in a host-side check's
//! `command`. A positive control (a process
//! with a marker in its argv) proves the samplers see command lines.

mod support;

use support::{Host, expect};

/// The secrets (distinct, so a hit names its setting).
const TOKEN: &str = "Kt0k3n-argv-5f3a9c";
const HASH_TAIL: &str = "HashTail-argv-8d2b71";
const CONTROL: &str = "keel-argv-control-4e1d";

/// Reads every process's argv in a loop with bash builtins only; records
/// command lines containing a needle, and how many sweeps it made.
const SAMPLER: &str = r#"#!/bin/bash
mapfile -t needles < /root/argv/needles
n=0
while [ ! -e /root/argv/stop ]; do
  for f in /proc/[0-9]*/cmdline; do
    { mapfile -d '' -t a < "$f"; } 2>/dev/null || continue
    line="${a[*]}"
    for nd in "${needles[@]}"; do
      if [[ $line == *"$nd"* ]]; then printf '%s\n' "$line" >> "/root/argv/hits.$1"; fi
    done
  done
  n=$((n + 1))
done
echo "$n" > "/root/argv/sweeps.$1"
"#;

const STACK: &str = r#"name: secret-argv
targets: [web]
secrets:
  token: { env: KEEL_E2E_ARGV_TOKEN }
  hash: { env: KEEL_E2E_ARGV_HASH }
resources:
  - file:
      path: /etc/app/secret.env
      content: "TOKEN={{secrets.token}}\n"
      mode: "0600"
  - line:
      path: /etc/app/app.conf
      match: "^PASSWORD="
      line: "PASSWORD={{secrets.token}}"
      create: true
      mode: "0600"
  - line:
      path: /etc/app/big.conf
      match: "^TOKEN="
      line: "TOKEN={{secrets.token}}"
      mode: "0600"
  - line:
      path: /etc/app/big2.conf
      line: "APPEND={{secrets.token}}"
  - line:
      id: old-token
      path: /etc/app/old.conf
      line: "OLD={{secrets.token}}"
      state: absent
  - git:
      path: /srv/app
      repo: "http://keel:{{secrets.token}}@127.0.0.1:8080/app.git"
      ref: v1
  - command:
      name: uses-token
      run: 'printf "%s" "$APP_TOKEN" > /root/cmd-out'
      env: { APP_TOKEN: "{{secrets.token}}" }
      creates: /root/cmd-out
  - user:
      name: alice
      password_hash: "{{secrets.hash}}"
  - check:
      name: token-check
      command: "test -n '{{secrets.token}}' && sleep 0.5"
"#;

#[test]
fn secrets_never_reach_argv_on_the_host() {
    let h = Host::start("argv");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let hash = format!("$6$keelsalt${HASH_TAIL}");

    // An HTTP server (busybox httpd) serving a bare repository with a tag
    // `v1` through git's dumb protocol, behind basic auth with the token.
    // The needles file is written through stdin, not argv.
    h.sh(r#"set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends git busybox-static >/dev/null
mkdir -p /root/argv /srv/www /etc/app
g() { git -c user.name=t -c user.email=t@example.invalid "$@"; }
git init -q --bare -b main /srv/www/app.git
w=$(mktemp -d)
git init -q -b main "$w"
echo one > "$w/README"
g -C "$w" add README
g -C "$w" commit -q -m one
g -C "$w" tag v1
git -C "$w" push -q /srv/www/app.git main v1
git -C /srv/www/app.git update-server-info
seq 1 60000 | sed 's/^/filler=/' > /etc/app/big.conf
cp /etc/app/big.conf /etc/app/big2.conf
echo 'TOKEN=old' >> /etc/app/big.conf
"#);
    let needles = format!("{TOKEN}\n{HASH_TAIL}\n{CONTROL}\n");
    let write = |path: &str, text: &str| {
        let out = std::process::Command::new("docker")
            .args(["exec", "-i", &h.host.container, "sh", "-c"])
            .arg(format!("umask 077; cat > {path}"))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(text.as_bytes())?;
                c.wait()
            })
            .expect("docker exec");
        assert!(out.success(), "writing {path} on the host");
    };
    write("/root/argv/needles", &needles);
    write("/etc/httpd.conf", &format!("/:keel:{TOKEN}\n"));
    write("/etc/app/old.conf", &format!("keep=1\nOLD={TOKEN}\n"));
    write("/root/argv/sampler.sh", SAMPLER);
    h.sh(
        "cd /srv/www && setsid busybox httpd -p 127.0.0.1:8080 -h /srv/www -c /etc/httpd.conf </dev/null >/dev/null 2>&1
         for i in 1 2; do setsid bash /root/argv/sampler.sh $i </dev/null >/dev/null 2>&1 & done
         sleep 0.5",
    );
    // Without the credentials the server refuses the clone (so a clone that
    // works below got them from keel's credential helper).
    assert!(
        !h.sh_ok("GIT_TERMINAL_PROMPT=0 git ls-remote http://127.0.0.1:8080/app.git"),
        "the test server must require authentication"
    );
    // Positive control: a command line with a marker, seen by the samplers.
    h.sh(&format!(
        "setsid bash -c 'sleep 1; :' {CONTROL} </dev/null >/dev/null 2>&1 &"
    ));

    let env = [
        ("KEEL_E2E_ARGV_TOKEN", TOKEN),
        ("KEEL_E2E_ARGV_HASH", hash.as_str()),
    ];
    let stack_path = h.dir.path().join("stack.yaml");
    std::fs::write(&stack_path, STACK).unwrap();
    let stack_path = stack_path.to_str().unwrap();
    let apply = h.keel(&["apply", "--yes", "-i", inv, stack_path], &env);
    // A second run: every probe again, and no change.
    let again = h.keel(
        &["plan", "--detailed-exitcode", "-i", inv, stack_path],
        &env,
    );

    h.sh("touch /root/argv/stop; for i in $(seq 50); do [ -e /root/argv/sweeps.1 ] && [ -e /root/argv/sweeps.2 ] && break; sleep 0.2; done");
    let sweeps: u64 = h
        .sh("cat /root/argv/sweeps.1 /root/argv/sweeps.2")
        .split_whitespace()
        .map(|n| n.parse::<u64>().unwrap_or(0))
        .sum();
    let hits = h.sh("cat /root/argv/hits.* 2>/dev/null || true");
    let leaks: Vec<&str> = hits.lines().filter(|l| !l.contains(CONTROL)).collect();

    expect(&apply, 0, "apply");
    expect(&again, 0, "a second plan shows no change");
    assert!(sweeps > 100, "the samplers ran ({sweeps} sweeps)");
    assert!(
        hits.contains(CONTROL),
        "the samplers see command lines (control missing):\n{hits}"
    );
    assert!(
        leaks.is_empty(),
        "a secret was on a command line on the host:\n{}",
        leaks.join("\n")
    );

    // What was applied is right: the clone authenticated through keel,
    // and nothing on disk keeps the credentials outside the declared files.
    assert_eq!(
        h.sh("git -C /srv/app describe --tags").trim(),
        "v1",
        "cloned with the credentials"
    );
    let config = h.sh("cat /srv/app/.git/config");
    assert!(!config.contains(TOKEN), ".git/config: {config}");
    assert!(
        config.contains("url = http://127.0.0.1:8080/app.git"),
        "{config}"
    );
    assert_eq!(
        h.sh("grep -c . /etc/app/app.conf; stat -c %a /etc/app/app.conf /etc/app/big.conf"),
        "1\n600\n600"
    );
    assert!(h.sh_ok(&format!("grep -qxF 'TOKEN={TOKEN}' /etc/app/big.conf")));
    assert!(h.sh_ok(&format!(
        "tail -n 1 /etc/app/big2.conf | grep -qxF 'APPEND={TOKEN}'"
    )));
    assert_eq!(h.sh("cat /etc/app/old.conf"), "keep=1");
    assert_eq!(h.sh("cat /root/cmd-out"), TOKEN);
    assert!(h.sh_ok("getent shadow alice | grep -q keelsalt"));
    let transcript = h.transcript.borrow();
    assert!(
        !transcript.contains(TOKEN) && !transcript.contains(HASH_TAIL),
        "keel printed a secret:\n{transcript}"
    );
}
