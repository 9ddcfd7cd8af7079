//! Shell completions and the man page through the real binary: bash
//! completes `keel plan --limit ` with the host and group names of the
//! inventory (run for real in bash), the zsh and fish scripts hook the same
//! names, and `keel man` prints a man page.

mod support;

use support::Keel;

use std::path::Path;
use std::process::Command;

fn keel(dir: &Path, args: &[&str]) -> (i32, String, String) {
    Keel::new().current_dir(dir).args(args).run().parts()
}

/// Source the bash script, complete `line` (the cursor at its end) and
/// return the offered words, one per line.
fn bash_complete(dir: &Path, line: &str) -> Vec<String> {
    let (code, script, err) = keel(dir, &["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.join("keel.bash"), script).unwrap();
    let bin_dir = support::binary().parent().unwrap();
    let driver = format!(
        r#"source ./keel.bash
COMP_LINE={line:?}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_POINT=${{#COMP_LINE}}
spec=$(complete -p keel)
fn=${{spec#*-F }}; fn=${{fn%% *}}
"$fn" keel "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(driver)
        .current_dir(dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("bash must be installed to test completions");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("stacks")).unwrap();
    std::fs::write(d.join("stacks/web.yaml"), "name: web\ntargets: [web]\n").unwrap();
    std::fs::write(
        d.join("hosts.ini"),
        "[web]\nweb[01:03].example.com\n[db]\ndb-a\n",
    )
    .unwrap();
    std::fs::write(
        d.join("inventory.yaml"),
        "hosts:\n  keelhost1: {}\n  keelhost2: {}\ngroups:\n  edge: { hosts: [keelhost1] }\n",
    )
    .unwrap();
    dir
}

#[test]
fn bash_completes_limit_with_hosts_and_groups_of_the_inventory() {
    let dir = project();
    let d = dir.path();
    let offered = bash_complete(d, "keel plan -i hosts.ini stacks/web.yaml --limit ");
    for name in ["web02.example.com", "web", "db", "db-a", "all"] {
        assert!(
            offered.contains(&name.to_string()),
            "{name} not in {offered:?}"
        );
    }
    assert!(!offered.contains(&"keelhost1".to_string()), "{offered:?}");
    // A prefix narrows the names.
    let offered = bash_complete(d, "keel plan -i hosts.ini stacks/web.yaml -l web0");
    assert_eq!(
        offered,
        [
            "web01.example.com",
            "web02.example.com",
            "web03.example.com"
        ]
    );
    // Without -i: the inventory the command would find (here ./inventory.yaml).
    let offered = bash_complete(d, "keel validate stacks/web.yaml --limit ");
    assert!(offered.contains(&"keelhost2".to_string()), "{offered:?}");
    assert!(offered.contains(&"edge".to_string()), "{offered:?}");
}

#[test]
fn bash_completes_target_with_the_addresses_of_the_stack() {
    let dir = project();
    let d = dir.path();
    std::fs::write(
        d.join("stacks/app.yaml"),
        "name: app\ntargets: [edge]\nresources:\n  - package: { name: nginx }\n  - file: { path: /etc/motd, content: hi }\n",
    )
    .unwrap();
    let offered = bash_complete(d, "keel plan stacks/app.yaml --target ");
    assert_eq!(offered, ["file[/etc/motd]", "package[nginx]"]);
    let offered = bash_complete(d, "keel apply -y stacks/app.yaml --target pack");
    assert_eq!(offered, ["package[nginx]"]);
}

#[test]
fn bash_completes_stack_files() {
    let dir = project();
    let d = dir.path();
    std::fs::write(d.join("stacks/notes.txt"), "not a stack").unwrap();
    std::fs::write(d.join("stacks/db.yaml"), "name: db\n").unwrap();
    let mut offered = bash_complete(d, "keel plan stacks/");
    offered.sort();
    assert_eq!(offered, ["stacks/db.yaml", "stacks/web.yaml"]);
    let offered = bash_complete(d, "keel validate st");
    assert_eq!(offered, ["stacks/"]);
}

#[test]
fn bash_still_completes_commands_and_flags() {
    let dir = project();
    let offered = bash_complete(dir.path(), "keel pl");
    assert_eq!(offered, ["plan"]);
    let offered = bash_complete(dir.path(), "keel plan --detailed");
    assert_eq!(offered, ["--detailed-exitcode"]);
}

#[test]
fn zsh_and_fish_scripts_ask_keel_for_the_names() {
    let dir = project();
    let (code, zsh, _) = keel(dir.path(), &["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(zsh.starts_with("#compdef keel"));
    assert!(zsh.contains(":HOST|GROUP:_keel_hosts'"));
    assert!(zsh.contains("keel __complete-hosts"));
    assert!(zsh.contains(":ADDRESS:_keel_targets'"));
    assert!(zsh.contains("keel __complete-targets"));
    let (code, fish, _) = keel(dir.path(), &["completions", "fish"]);
    assert_eq!(code, 0);
    assert!(fish.contains("-l limit -x -a \"(keel __complete-hosts"));
    assert!(fish.contains("-l target -x -a \"(keel __complete-targets"));
    let (code, _, err) = keel(dir.path(), &["completions", "tcsh"]);
    assert_eq!(
        code, 1,
        "an unknown shell is a usage error (exit 1, never the drift code)"
    );
    assert!(err.contains("bash"), "{err}");
}

#[test]
fn complete_hosts_is_silent_on_a_broken_inventory() {
    let dir = project();
    std::fs::write(dir.path().join("bad.ini"), "[web\n").unwrap();
    let (code, out, err) = keel(
        dir.path(),
        &["__complete-hosts", "--", "plan", "-i", "bad.ini", "s.yaml"],
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "all\n", ""));
}

#[test]
fn man_page_and_version() {
    let dir = project();
    let (code, man, _) = keel(dir.path(), &["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH keel 1"), "{man}");
    assert!(man.contains("completions"), "subcommands are listed");
    assert!(
        !man.contains("__complete-hosts"),
        "hidden commands stay hidden"
    );
    let (code, version, _) = keel(dir.path(), &["--version"]);
    assert_eq!(code, 0);
    let v = version.trim();
    // `keel 0.1.0 (abc1234)` in a git checkout, `keel 0.1.0` outside one.
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match rev {
        Some(r) => assert!(
            v.starts_with("keel ") && v.contains(&format!("({r}")),
            "{v}"
        ),
        None => assert_eq!(v, format!("keel {}", env!("CARGO_PKG_VERSION"))),
    }
}
