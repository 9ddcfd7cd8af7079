//! End to end, over real SSH against fresh Debian hosts: the `apt_repository`
//! and `git` kinds.
//!
//! The hosts reach only Debian's mirror, so each test serves its own
//! upstream from the host itself: a signed `file:///srv/repo` apt
//! repository (a package built with `dpkg-deb`, indexes from
//! `apt-ftparchive`, `InRelease` signed with a throwaway gpg key; gnupg is
//! then purged, since apt ≥ 2.4 reads armored keys without it), and a bare
//! git repository at `/srv/origin.git` with two tags and a branch.

mod support;

use support::{Host, Run, expect};

fn out(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

/// Indent a block for a YAML literal scalar.
fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

const SRC: &str = "/etc/apt/sources.list.d/keel-keeltest.sources";
const KEY: &str = "/etc/apt/keyrings/keel-keeltest.asc";

fn repo_stack(name: &str, key: &str, extra: &str) -> String {
    format!(
        r#"name: apt-repo
targets: [web]
resources:
  - apt_repository:
      name: {name}
      uris: [file:///srv/repo]
      suites: ["{{{{facts.os.codename}}}}"]
      components: [main]
{extra}      key: |
{key}"#,
        key = indent(key, 8)
    )
}

#[test]
fn apt_repository_from_a_local_signed_repo() {
    let h = Host::start("aptrepo");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    // The upstream: a signed repository on the host, built with gnupg and
    // apt-utils, which are removed again afterwards.
    h.sh(
        r#"set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends gnupg apt-utils >/dev/null
export GNUPGHOME=/root/gnupg-test
mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Keel Test Repo <repo@keel.test>' ed25519 sign never
gpg --batch --quiet --passphrase '' --quick-gen-key 'Wrong Key <wrong@keel.test>' ed25519 sign never
arch=$(dpkg --print-architecture)
codename=$(. /etc/os-release; echo "$VERSION_CODENAME")
mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/share/keel-hello /srv/repo/pool "/srv/repo/dists/$codename/main/binary-$arch"
printf 'Package: keel-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: keel <keel@keel.test>\nDescription: keel test package\n' > /tmp/pkg/DEBIAN/control
echo 'hello from the local repository' > /tmp/pkg/usr/share/keel-hello/hello.txt
dpkg-deb --build /tmp/pkg /srv/repo/pool/keel-hello_1.0_all.deb >/dev/null
cd /srv/repo
apt-ftparchive packages pool > "dists/$codename/main/binary-$arch/Packages"
cd "dists/$codename"
apt-ftparchive -o APT::FTPArchive::Release::Suite="$codename" -o APT::FTPArchive::Release::Codename="$codename" \
  -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures="$arch" release . > /tmp/Release
mv /tmp/Release Release
gpg --batch --yes --local-user repo@keel.test --clearsign -o InRelease Release
gpg --armor --export repo@keel.test > /root/good.asc
gpg --armor --export wrong@keel.test > /root/wrong.asc
apt-get purge -y -q gnupg gpg apt-utils >/dev/null
"#,
    );
    assert!(
        !h.sh_ok("command -v gpg"),
        "gpg is gone: apt must not need it"
    );
    let good = h.sh("cat /root/good.asc");
    let wrong = h.sh("cat /root/wrong.asc");

    let stack = h.write("repo.yaml",
        &format!(
            "{}  - package:\n      name: keel-hello\n      depends_on: [\"apt_repository[keeltest]\"]\n",
            repo_stack("keeltest", &good, "")
        ),
    );

    // First plan: the sources file as a content diff, the key by name.
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 2, "first plan");
    assert!(
        plan.stdout.contains("+ apt_repository[keeltest]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("+Suites: bookworm")
            && plan.stdout.contains(&format!("+Signed-By: {KEY}")),
        "the codename fact is rendered into the file: {}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("key: (none) → Keel Test Repo <repo@keel.test> "),
        "{}",
        plan.stdout
    );

    // Converge in one apply: the repository, then a package from it.
    let apply = h.keel(&["apply", "--yes", "-i", inv, &stack], &[]);
    expect(&apply, 0, "apply");
    assert_eq!(
        h.sh("cat /usr/share/keel-hello/hello.txt"),
        "hello from the local repository"
    );
    assert_eq!(h.sh(&format!("stat -c %a {SRC} {KEY}")), "644\n644");
    assert_eq!(h.sh(&format!("cat {KEY}")), good);
    assert!(
        h.sh_ok("apt-cache policy keel-hello | grep -q 'file:/srv/repo'"),
        "apt knows the source"
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]),
        0,
        "plan after apply",
    );

    // Drift by hand: an edited file and a key made private.
    h.sh(&format!(
        "sed -i 's/^Components: main$/Components: main contrib/' {SRC} && chmod 600 {KEY}"
    ));
    let drift = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&drift, 2, "plan after drift");
    assert!(
        drift.stdout.contains("-Components: main contrib")
            && drift.stdout.contains("+Components: main")
            && drift.stdout.contains("mode (key): 0600 → 0644"),
        "{}",
        drift.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &stack], &[]),
        0,
        "apply after drift",
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]),
        0,
        "plan after repairing drift",
    );

    // A wrong key fails with apt's message and never replaces the working files.
    let before = h.sh(&format!("sha256sum {SRC} {KEY}"));
    let bad = h.write("wrong.yaml", &repo_stack("keeltest", &wrong, ""));
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &bad], &[]);
    expect(&plan, 2, "plan with the wrong key");
    assert!(
        plan.stdout
            .contains("key: Keel Test Repo <repo@keel.test> ")
            && plan.stdout.contains("→ Wrong Key <wrong@keel.test> "),
        "{}",
        plan.stdout
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &bad], &[]);
    expect(&apply, 1, "apply with the wrong key");
    let text = out(&apply);
    assert!(
        text.contains("NO_PUBKEY") || text.contains("is not signed"),
        "apt's signature error is shown: {text}"
    );
    assert!(
        text.contains("apt-get update failed for apt repository keeltest"),
        "{text}"
    );
    assert_eq!(
        h.sh(&format!("sha256sum {SRC} {KEY}")),
        before,
        "files unchanged"
    );
    assert!(
        h.sh_ok(&format!(
            "apt-get update -q -o Dir::Etc::sourcelist={SRC} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 --error-on=any"
        )),
        "the working repository still verifies"
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]),
        0,
        "the good stack still matches",
    );

    // A new repository with the wrong key leaves nothing behind.
    let new_bad = h.write("new-wrong.yaml", &repo_stack("other", &wrong, ""));
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &new_bad], &[]),
        1,
        "a new repository with the wrong key",
    );
    assert!(!h.sh_ok(
        "test -e /etc/apt/sources.list.d/keel-other.sources || test -e /etc/apt/keyrings/keel-other.asc"
    ));

    // A second declaration of the same source with another key would break
    // every apt command: apt-cache rejects it, the files are restored.
    let dup = h.write("dup.yaml", &repo_stack("dup", &good, ""));
    let plan = h.keel(&["plan", "-i", inv, &dup], &[]);
    assert!(
        plan.stdout
            .contains(&format!("{SRC} also mentions this repository")),
        "{}",
        plan.stdout
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &dup], &[]);
    expect(&apply, 1, "a conflicting Signed-By");
    let text = out(&apply);
    assert!(
        text.contains("Conflicting values set for option Signed-By"),
        "{text}"
    );
    assert!(text.contains("previous files were restored"), "{text}");
    assert!(!h.sh_ok("test -e /etc/apt/sources.list.d/keel-dup.sources"));
    assert!(h.sh_ok("apt-cache policy >/dev/null"), "apt still works");

    // Removal.
    let gone = h.write("gone.yaml",
        "name: apt-repo\ntargets: [web]\nresources:\n  - apt_repository: { name: keeltest, state: absent }\n",
    );
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &gone], &[]);
    expect(&plan, 2, "plan removal");
    assert!(
        plan.stdout.contains("- apt_repository[keeltest]"),
        "{}",
        plan.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &gone], &[]),
        0,
        "apply removal",
    );
    assert!(!h.sh_ok(&format!("test -e {SRC} || test -e {KEY}")));
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &gone], &[]),
        0,
        "plan after removal",
    );
}

fn git_stack(git: &str) -> String {
    format!(
        r#"name: app
targets: [web]
resources:
  - package: {{ name: git }}
  - user: {{ name: deploy }}
  - directory: {{ path: /srv/app, owner: deploy, group: deploy, mode: "0755" }}
  - git:
      path: /srv/app/src
      repo: file:///srv/origin.git
      owner: deploy
{git}"#
    )
}

#[test]
fn git_checkout_of_a_local_origin() {
    let h = Host::start("gitco");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();

    // The upstream: a bare repository with tags v1 (lightweight) and v2
    // (annotated), pushed from a scratch clone.
    h.sh(r#"set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends git >/dev/null
git init -q --bare -b main /srv/origin.git
git init -q -b main /tmp/scratch
cd /tmp/scratch
g() { git -c user.name=t -c user.email=t@keel.test "$@"; }
echo one > app.txt; g add app.txt; g commit -q -m one; g tag v1
echo two > app.txt; g commit -q -am two; g tag -a -m 'release 2' v2
g push -q /srv/origin.git main v1 v2
"#);
    let rev = |r: &str| {
        h.sh(&format!(
            "git -C /srv/origin.git rev-parse '{r}^{{commit}}'"
        ))
    };
    let head = || h.sh("runuser -u deploy -- git -C /srv/app/src rev-parse HEAD");
    let (v1, v2) = (rev("v1"), rev("v2"));

    // Converge in one apply, as the deploy user.
    let stack = h.write("v1.yaml", &git_stack("      ref: v1\n"));
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 2, "first plan");
    assert!(
        plan.stdout.contains("+ git[/srv/app/src]") && plan.stdout.contains("ref: (none) → v1"),
        "{}",
        plan.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &stack], &[]),
        0,
        "apply v1",
    );
    assert_eq!(head(), v1);
    assert_eq!(h.sh("cat /srv/app/src/app.txt"), "one");
    assert_eq!(
        h.sh("stat -c %U /srv/app/src /srv/app/src/app.txt /srv/app/src/.git/HEAD"),
        "deploy\ndeploy\ndeploy"
    );
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]),
        0,
        "plan after apply",
    );

    // A new tag: not fetched yet, so known after apply.
    let stack2 = h.write("v2.yaml", &git_stack("      ref: v2\n"));
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack2], &[]);
    expect(&plan, 2, "plan v2");
    assert!(
        plan.stdout.contains(&format!(
            "commit: {} → v2 (not in the local clone yet)",
            &v1[..7]
        )) && plan.stdout.contains("known after apply"),
        "{}",
        plan.stdout
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &stack2], &[]),
        0,
        "apply v2",
    );
    assert_eq!(head(), v2);
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack2], &[]),
        0,
        "plan after v2",
    );

    // Back to v1, a tag the clone has: compared exactly.
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack], &[]);
    expect(&plan, 2, "plan back to v1");
    assert!(
        plan.stdout
            .contains(&format!("commit: {} → v1 ({})", &v2[..7], &v1[..7])),
        "{}",
        plan.stdout
    );

    // A branch that moved on the remote.
    h.sh("cd /tmp/scratch && echo three > app.txt && git -c user.name=t -c user.email=t@keel.test commit -q -am three && git push -q /srv/origin.git main");
    let main = rev("main");
    let branch = h.write("main.yaml", &git_stack("      ref: main\n"));
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &branch], &[]),
        0,
        "apply main",
    );
    assert_eq!(head(), main);
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &branch], &[]),
        0,
        "plan after main",
    );

    // A ref that does not exist: apply fails clearly, the tree stays.
    let missing = h.write("v9.yaml", &git_stack("      ref: v9\n"));
    let apply = h.keel(&["apply", "--yes", "-i", inv, &missing], &[]);
    expect(&apply, 1, "apply a missing ref");
    assert!(
        out(&apply).contains("`v9` is not a tag, branch or commit of file:///srv/origin.git"),
        "{}",
        out(&apply)
    );
    assert_eq!(head(), main);

    // Local changes by hand: the plan shows them as an error (exit 1) and
    // apply refuses to touch the tree.
    h.sh("echo 'hot fix' >> /srv/app/src/app.txt && echo 'SECRET=1' > /srv/app/src/.env");
    let plan = h.keel(&["plan", "--detailed-exitcode", "-i", inv, &stack2], &[]);
    expect(&plan, 1, "plan with a dirty tree");
    assert!(
        plan.stdout.contains(
            "error: /srv/app/src has local changes to 1 file (M app.txt); keel will not discard them"
        ) && plan
            .stdout
            .contains("local changes: 1 file → (kept: keel refuses to discard them)"),
        "{}",
        plan.stdout
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &stack2], &[]);
    expect(&apply, 1, "apply with a dirty tree");
    assert!(
        out(&apply).contains("/srv/app/src has local changes")
            && out(&apply).contains("force: true"),
        "{}",
        out(&apply)
    );
    assert!(h.sh("cat /srv/app/src/app.txt").ends_with("hot fix"));
    assert_eq!(head(), main);

    // force: true discards them (untracked files stay).
    let forced = h.write(
        "force.yaml",
        &git_stack("      ref: v2\n      force: true\n"),
    );
    expect(
        &h.keel(&["apply", "--yes", "-i", inv, &forced], &[]),
        0,
        "apply with force",
    );
    assert_eq!(head(), v2);
    assert_eq!(h.sh("cat /srv/app/src/app.txt"), "two");
    assert_eq!(h.sh("cat /srv/app/src/.env"), "SECRET=1");
    expect(
        &h.keel(&["plan", "--detailed-exitcode", "-i", inv, &forced], &[]),
        0,
        "plan after force",
    );

    // Credentials in a URL never show, not even in git's errors.
    let creds = h.write("creds.yaml",
        "name: creds\ntargets: [web]\nresources:\n  - git:\n      path: /srv/private\n      repo: \"https://keeluser:t0ps3cret@git.invalid/acme/app.git\"\n      ref: v1\n",
    );
    let plan = h.keel(&["plan", "-i", inv, &creds], &[]);
    assert!(
        plan.stdout
            .contains("repo: (none) → https://***@git.invalid/acme/app.git"),
        "{}",
        plan.stdout
    );
    let apply = h.keel(&["apply", "--yes", "-i", inv, &creds], &[]);
    expect(&apply, 1, "apply from an unreachable host");
    assert!(
        !h.transcript.borrow().contains("t0ps3cret"),
        "{}",
        h.transcript.borrow()
    );
    assert!(!h.sh_ok("test -e /srv/private/.git"), "no half-made clone");
}
