//! `keel sandbox up N` / `keel sandbox down`: throwaway fresh Debian hosts in
//! docker containers for trying a stack, on the machinery of the end-to-end
//! tests (the keel-sandbox crate).
//!
//! `up` starts the hosts and writes, under `.keel/sandbox/` of the current
//! folder, the key that reaches them (mode 0600), their `known_hosts`, an
//! `ssh_config` and an inventory keel uses as it is. The containers and the
//! network carry a label naming the folder, so `down` (another process)
//! finds them again and removes them with that folder.

use super::out;
use crate::exit::Exit;
use keel_sandbox::{SandboxError, SandboxHost, Testbed};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where `up` writes the inventory and key, below the current folder.
pub const SANDBOX_DIR: &str = ".keel/sandbox";
/// The inventory `up` writes, below the current folder.
pub const INVENTORY: &str = ".keel/sandbox/inventory.yaml";
/// Label naming the folder a sandbox belongs to (a hash of its path).
const LABEL: &str = "keel.sandbox";
/// Most hosts one `up` starts.
const MAX_HOSTS: u32 = 20;

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Start N fresh Debian hosts (docker containers) and write an inventory
    /// for them to .keel/sandbox/inventory.yaml (printed too).
    Up {
        /// How many hosts.
        #[arg(default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_HOSTS as i64))]
        n: u32,
    },
    /// Remove this folder's sandbox: its containers, network, key and inventory.
    Down,
}

pub fn run(command: &SandboxCommand) -> Exit {
    let dir = match std::env::current_dir().and_then(|d| d.canonicalize()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("keel: cannot read the current folder: {e}");
            return Exit::Error;
        }
    };
    let result = match command {
        SandboxCommand::Up { n } => up(&dir, *n),
        SandboxCommand::Down => down(&dir),
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(msg) => {
            eprintln!("keel: {msg}");
            Exit::Error
        }
    }
}

/// The label (`key=value`) of the sandbox of `dir`.
fn label(dir: &Path) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{LABEL}={hex}")
}

/// A sandbox error as the user should read it: what to install or start.
fn explain(e: SandboxError) -> String {
    match e {
        SandboxError::DockerUnavailable { detail } => format!(
            "keel sandbox needs Docker, and Docker is not available: {detail}\n\
             Install Docker (Debian/Ubuntu: `apt-get install docker.io`; elsewhere Docker \
             Engine or Docker Desktop), start it (`systemctl start docker`), make sure you may \
             use it (`docker version` shows a Server), then run this again."
        ),
        e => e.to_string(),
    }
}

fn up(dir: &Path, n: u32) -> Result<(), String> {
    keel_sandbox::docker_available().map_err(explain)?;
    let label = label(dir);
    let state = dir.join(SANDBOX_DIR);
    if state.join("inventory.yaml").exists() {
        return Err(format!(
            "a sandbox is already up here ({}); run `keel sandbox down` first",
            state.join("inventory.yaml").display()
        ));
    }
    // Leftovers of a sandbox whose files are gone.
    keel_sandbox::remove_labelled(&label).map_err(explain)?;
    eprintln!("keel: starting {n} sandbox host(s) (the first run builds a Debian image: minutes)");
    let started = start(dir, &label, n);
    match started {
        Ok(inventory) => {
            out(&inventory);
            eprintln!(
                "keel: wrote {INVENTORY}; try `keel plan -i {INVENTORY} STACK`, \
                 and `keel sandbox down` when done"
            );
            Ok(())
        }
        Err(e) => {
            let _ = keel_sandbox::remove_labelled(&label);
            let _ = fs::remove_dir_all(&state);
            Err(e)
        }
    }
}

/// Starts the hosts and writes the files; returns the inventory's text.
fn start(dir: &Path, label: &str, n: u32) -> Result<String, String> {
    let labels = [label.to_string(), format!("{LABEL}.dir={}", dir.display())];
    let tb = Testbed::persistent(&labels).map_err(explain)?;
    let names: Vec<String> = (1..=n).map(|i| format!("sandbox{i}")).collect();
    // Hosts boot in parallel; each is waited for until sshd answers.
    let hosts: Vec<Result<SandboxHost, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| s.spawn(|| tb.start_host(name).map_err(explain)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a thread starting a host panicked".to_string()))
            })
            .collect()
    });
    let hosts: Vec<SandboxHost> = hosts.into_iter().collect::<Result<_, _>>()?;
    write_state(dir, &tb, &hosts)
}

/// Writes key, known_hosts, ssh_config and inventory under `.keel/sandbox/`.
fn write_state(dir: &Path, tb: &Testbed, hosts: &[SandboxHost]) -> Result<String, String> {
    let state = dir.join(SANDBOX_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&state)
        .map_err(|e| format!("cannot create {}: {e}", state.display()))?;
    let key = state.join("id_ed25519");
    let known_hosts = state.join("known_hosts");
    let ssh_config = state.join("ssh_config");
    let read = |p: &Path| fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    write_private(&key, &read(tb.key_path())?)?;
    write_private(&known_hosts, &read(tb.known_hosts_path())?)?;
    let config = format!(
        "# Written by `keel sandbox up`: reach the sandbox hosts with strict host keys.\n\
         Host *\n  UserKnownHostsFile \"{}\"\n  GlobalKnownHostsFile /dev/null\n  \
         StrictHostKeyChecking yes\n  IdentityFile \"{}\"\n  IdentitiesOnly yes\n  \
         BatchMode yes\n  PasswordAuthentication no\n  ConnectTimeout 10\n  LogLevel ERROR\n",
        known_hosts.display(),
        key.display()
    );
    write_private(&ssh_config, config.as_bytes())?;
    let inventory = inventory_text(hosts, &key, &ssh_config);
    write_private(&state.join("inventory.yaml"), inventory.as_bytes())?;
    Ok(inventory)
}

/// The inventory of the sandbox hosts, all in group `sandbox`.
fn inventory_text(hosts: &[SandboxHost], key: &Path, ssh_config: &Path) -> String {
    let mut t = String::from(
        "# Sandbox hosts of `keel sandbox up` (fresh Debian in docker); `keel sandbox down` removes them.\n\
         hosts:\n",
    );
    for h in hosts {
        t.push_str(&format!(
            "  {}:\n    address: \"{}\"\n    user: root\n    identity_file: {:?}\n    ssh_config: {:?}\n",
            h.name,
            h.ip,
            key.display().to_string(),
            ssh_config.display().to_string(),
        ));
    }
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    t.push_str(&format!(
        "groups:\n  sandbox:\n    hosts: [{}]\n",
        names.join(", ")
    ));
    t
}

/// Writes `bytes` to a new file of mode 0600 at `path`.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)
}

fn down(dir: &Path) -> Result<(), String> {
    keel_sandbox::docker_available().map_err(explain)?;
    let (containers, networks) = keel_sandbox::remove_labelled(&label(dir)).map_err(explain)?;
    let state: PathBuf = dir.join(SANDBOX_DIR);
    let had_files = state.exists();
    if had_files {
        fs::remove_dir_all(&state)
            .map_err(|e| format!("cannot remove {}: {e}", state.display()))?;
    }
    if containers == 0 && networks == 0 && !had_files {
        eprintln!(
            "keel: no sandbox is up in {}: nothing to remove",
            dir.display()
        );
    } else {
        eprintln!(
            "keel: removed the sandbox: {containers} host(s), {networks} network(s) and {SANDBOX_DIR}/"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_depends_on_the_folder() {
        let a = label(Path::new("/a"));
        assert!(a.starts_with("keel.sandbox="), "{a}");
        assert_ne!(a, label(Path::new("/b")));
        assert_eq!(a, label(Path::new("/a")));
    }

    #[test]
    fn docker_missing_says_what_to_install_and_start() {
        let msg = explain(SandboxError::DockerUnavailable {
            detail: "no socket".into(),
        });
        assert!(msg.contains("Install Docker"), "{msg}");
        assert!(msg.contains("systemctl start docker"), "{msg}");
        assert!(msg.contains("no socket"), "{msg}");
    }
}
