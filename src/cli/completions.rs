//! Shell completions and the man page: `keel completions bash|zsh|fish`,
//! `keel man`, and the hidden `keel __complete-hosts` that the completion
//! scripts call to offer the host and group names of the inventory after
//! `--limit`.
//!
//! clap_complete writes the static part (commands, flags, values); a small
//! shell function per shell adds the inventory's names, found the way the
//! command being completed would find its inventory (`-i`, or beside the
//! stack, or in the current folder).

use super::{Args, out};
use crate::config::inventory::Inventory;
use crate::exit::Exit;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Print the completion script of `shell`.
pub fn script(shell: Shell) -> Exit {
    let mut cmd = Args::command();
    let mut buf = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "keel", &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    out(&with_hosts(shell, generated));
    Exit::Ok
}

/// Add the completion of `--limit` from the inventory to a generated script.
fn with_hosts(shell: Shell, generated: String) -> String {
    match shell {
        Shell::Bash => format!("{generated}\n{BASH_HOSTS}"),
        Shell::Fish => format!("{generated}\n{FISH_HOSTS}"),
        Shell::Zsh => {
            let script = generated
                .replace(ZSH_LIMIT_DEFAULT, ZSH_LIMIT_HOSTS)
                .replace(ZSH_TARGET_DEFAULT, ZSH_TARGET_ADDRESSES);
            match script.find(ZSH_TAIL) {
                Some(i) => format!("{}{ZSH_HOSTS}\n{}", &script[..i], &script[i..]),
                None => format!("{script}\n{ZSH_HOSTS}"),
            }
        }
    }
}

const BASH_HOSTS: &str = r#"# keel: host and group names of the inventory after --limit/-l, the
# stack's addresses after --target, stack files (*.yaml) as a stack.
_keel_with_hosts() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local before=$((COMP_CWORD - 1))
    if [[ "$prev" == "=" && $COMP_CWORD -ge 2 ]]; then
        prev="${COMP_WORDS[COMP_CWORD-2]}"
        before=$((COMP_CWORD - 2))
    fi
    if [[ "$prev" == "--limit" || "$prev" == "-l" ]]; then
        local names
        names="$(keel __complete-hosts -- "${COMP_WORDS[@]:1:before}" 2>/dev/null)"
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        return 0
    fi
    if [[ "$prev" == "--target" ]]; then
        local names
        names="$(keel __complete-targets -- "${COMP_WORDS[@]:1:before}" 2>/dev/null)"
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        return 0
    fi
    case "$prev" in
        validate|plan|apply|rollback|verify|graph|drift|modules)
            if [[ "$cur" != -* ]]; then
                local IFS=$'\n'
                COMPREPLY=($(compgen -d -S / -- "$cur"; compgen -f -X '!*.yaml' -- "$cur"))
                compopt -o nospace -o filenames 2>/dev/null
                return 0
            fi
            ;;
    esac
    _keel "$@"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _keel_with_hosts -o nosort -o bashdefault -o default keel
else
    complete -F _keel_with_hosts -o bashdefault -o default keel
fi
"#;

const FISH_HOSTS: &str = r#"# keel: host and group names of the inventory after --limit/-l.
complete -c keel -n "__fish_seen_subcommand_from validate plan apply graph" -s l -l limit -x -a "(keel __complete-hosts -- (commandline -opc)[2..-1] 2>/dev/null)"
complete -c keel -n "__fish_seen_subcommand_from plan apply" -l target -x -a "(keel __complete-targets -- (commandline -opc)[2..-1] 2>/dev/null)"
"#;

/// How clap_complete writes the value of `--limit` for zsh, and ours.
const ZSH_LIMIT_DEFAULT: &str = ":HOST|GROUP:_default'";
const ZSH_LIMIT_HOSTS: &str = ":HOST|GROUP:_keel_hosts'";
/// How clap_complete writes the value of `--target` for zsh, and ours.
const ZSH_TARGET_DEFAULT: &str = ":ADDRESS:_default'";
const ZSH_TARGET_ADDRESSES: &str = ":ADDRESS:_keel_targets'";
const ZSH_TAIL: &str = "if [ \"$funcstack[1]\" = \"_keel\" ]";
const ZSH_HOSTS: &str = r#"# keel: host and group names of the inventory after --limit/-l.
(( $+functions[_keel_hosts] )) ||
_keel_hosts() {
    local -a names
    names=(${(f)"$(keel __complete-hosts -- ${words[2,CURRENT-1]} 2>/dev/null)"})
    _describe -t hosts 'host or group' names
}
# keel: the stack's resource addresses after --target.
(( $+functions[_keel_targets] )) ||
_keel_targets() {
    local -a names
    names=(${(f)"$(keel __complete-targets -- ${words[2,CURRENT-1]} 2>/dev/null)"})
    compadd -Q -a names
}
"#;

/// Print the man page.
pub fn man() -> Exit {
    let mut buf = Vec::new();
    match clap_mangen::Man::new(Args::command()).render(&mut buf) {
        Ok(()) => {
            out(&String::from_utf8_lossy(&buf));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("keel: cannot render the man page: {e}");
            Exit::Error
        }
    }
}

/// Print the host and group names (and `all`) of the inventory that the
/// command line `words` would use, one per line. Silent on any problem:
/// a completion prints what it can.
pub fn hosts(words: &[String]) -> Exit {
    let (inventory, stack) = inventory_and_stack(words);
    let stack = stack.unwrap_or_else(|| PathBuf::from("stack.yaml"));
    let path = super::inventory_path(inventory.as_deref(), &stack);
    let (inv, _) = Inventory::load(&path);
    let mut names: Vec<&str> = std::iter::once("all")
        .chain(inv.groups.keys().map(String::as_str))
        .chain(inv.hosts.keys().map(String::as_str))
        .collect();
    names.sort();
    names.dedup();
    let mut text = names.join("\n");
    text.push('\n');
    out(&text);
    Exit::Ok
}

/// Print the resource addresses of the stack that the command line `words`
/// names (as `keel graph` resolves them offline), one per line, for
/// `--target`. Silent on any problem.
pub fn targets(words: &[String]) -> Exit {
    let (inventory, stack) = inventory_and_stack(words);
    let Some(stack) = stack else {
        return Exit::Ok;
    };
    let path = super::inventory_path(inventory.as_deref(), &stack);
    let Ok((_, validated)) = crate::session::check_overridden(
        &stack,
        &path,
        None,
        true,
        &crate::resolve::Overrides::default(),
    ) else {
        return Exit::Ok;
    };
    let mut names: Vec<&str> = validated
        .offline
        .values()
        .flat_map(|(resolved, _)| resolved.instances.iter().map(|i| i.address.as_str()))
        .collect();
    names.sort();
    names.dedup();
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    out(&text);
    Exit::Ok
}

/// Options whose value is the next word (besides -i).
const TAKES_VALUE: [&str; 13] = [
    "--target",
    "--tags",
    "--set",
    "--lock-timeout",
    "--junit",
    "--parallel",
    "--out",
    "--confirm-timeout",
    "--format",
    "--color",
    "-l",
    "--limit",
    "--shell",
];

/// `-i`/`--inventory` and the stack (the first argument after the
/// subcommand) of a command line, as far as they are written.
fn inventory_and_stack(words: &[String]) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut inventory = None;
    let mut positionals = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "--" {
            continue;
        }
        if w == "-i" || w == "--inventory" {
            inventory = it.next().map(PathBuf::from);
        } else if let Some(v) = w.strip_prefix("--inventory=") {
            inventory = Some(PathBuf::from(v));
        } else if let Some(v) = w
            .strip_prefix("-i")
            .filter(|v| !v.is_empty() && !w.starts_with("--"))
        {
            inventory = Some(PathBuf::from(v.strip_prefix('=').unwrap_or(v)));
        } else if TAKES_VALUE.contains(&w.as_str()) {
            it.next();
        } else if !w.starts_with('-') {
            positionals.push(w.clone());
        }
    }
    // positionals[0] is the subcommand (plan, apply, ...); `show` takes
    // an address before the stack.
    let at = if positionals.first().is_some_and(|c| c == "show") {
        2
    } else {
        1
    };
    let stack = positionals.get(at).map(|s| Path::new(s).to_path_buf());
    (inventory, stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn finds_the_inventory_and_the_stack() {
        let (i, s) = inventory_and_stack(&words("plan -i hosts.ini stacks/web.yaml --limit"));
        assert_eq!(i, Some(PathBuf::from("hosts.ini")));
        assert_eq!(s, Some(PathBuf::from("stacks/web.yaml")));
        let (i, s) = inventory_and_stack(&words(
            "--color never apply --parallel 4 -y s.yaml --inventory=inv.yml",
        ));
        assert_eq!(i, Some(PathBuf::from("inv.yml")));
        assert_eq!(s, Some(PathBuf::from("s.yaml")));
        let (i, s) = inventory_and_stack(&words("validate -iinv s.yaml"));
        assert_eq!(
            (i, s),
            (Some(PathBuf::from("inv")), Some(PathBuf::from("s.yaml")))
        );
        assert_eq!(inventory_and_stack(&words("plan")), (None, None));
        let (_, s) = inventory_and_stack(&words("show file[/a] s.yaml --limit"));
        assert_eq!(s, Some(PathBuf::from("s.yaml")));
    }

    #[test]
    fn zsh_limit_values_come_from_the_inventory() {
        let mut cmd = Args::command();
        let mut buf = Vec::new();
        clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "keel", &mut buf);
        let generated = String::from_utf8(buf).unwrap();
        assert!(
            generated.contains(ZSH_LIMIT_DEFAULT),
            "clap_complete's zsh output changed"
        );
        assert!(
            generated.contains(ZSH_TAIL),
            "clap_complete's zsh output changed"
        );
        assert!(
            generated.contains(ZSH_TARGET_DEFAULT),
            "clap_complete's zsh output changed"
        );
        let script = with_hosts(Shell::Zsh, generated);
        assert!(!script.contains(ZSH_LIMIT_DEFAULT));
        assert!(!script.contains(ZSH_TARGET_DEFAULT));
        assert!(script.contains(ZSH_TARGET_ADDRESSES));
        assert!(script.find("_keel_targets() {").unwrap() < script.find(ZSH_TAIL).unwrap());
        assert!(script.contains(ZSH_LIMIT_HOSTS));
        assert!(script.find("_keel_hosts() {").unwrap() < script.find(ZSH_TAIL).unwrap());
    }
}
