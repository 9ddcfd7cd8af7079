//! Throwaway fresh Debian servers, reachable over real SSH, for end-to-end
//! tests and `keel sandbox` (see [`Testbed::persistent`]).
//!
//! A [`Testbed`] owns a private docker network, an ed25519 key pair, a
//! `known_hosts` file and an `ssh_config` that uses them with strict host key
//! checking. [`Testbed::start_host`] boots a [`SandboxHost`]: a container whose
//! PID 1 is systemd, running sshd with its own freshly generated host keys, on
//! a fixed address of the testbed's network. Everything is removed again when
//! the values are dropped, unless `KEEL_KEEP_TESTBED=1` is set.
//!
//! The container image is a plain `debootstrap` of Debian bookworm, built once
//! per machine and cached under a tag derived from the hash of its recipe (see
//! [`ensure_image`]).
//!
//! Requirements on the machine: a running docker engine, `debootstrap`,
//! `tar`, and the OpenSSH client tools. `scripts/ci-setup.sh` provides them.
//!
//! ```no_run
//! use keel_sandbox::Testbed;
//! # fn main() -> Result<(), keel_sandbox::SandboxError> {
//! let tb = Testbed::new()?;
//! let host = tb.start_host("web1")?;
//! let out = host.ssh(&tb, "id -u")?;
//! assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
//! # Ok(())
//! # }
//! ```

mod docker;
mod host;
mod image;

pub use docker::{cleanup_stale, docker_available, remove_labelled};
pub use host::{SandboxHost, Testbed};
pub use image::{IMAGE_REPOSITORY, RECIPE_VERSION, ensure_image};

use std::path::PathBuf;

/// Environment variable that, when set to `1`, keeps containers, networks and
/// key material after the test for debugging.
pub const KEEP_ENV: &str = "KEEL_KEEP_TESTBED";

/// Everything that can go wrong while building or driving a testbed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The docker CLI is missing or the docker engine does not answer.
    #[error(
        "docker is unavailable: {detail}\n\
         The sandbox needs a running docker engine. Run `scripts/ci-setup.sh` as root \
         (or install docker.io and start it: `setsid dockerd >/var/log/keel-dockerd.log 2>&1 &`)."
    )]
    DockerUnavailable {
        /// What exactly failed.
        detail: String,
    },

    /// A required program is not installed.
    #[error(
        "`{tool}` is not installed: {why}\n\
         Run `scripts/ci-setup.sh` as root (it installs docker.io, debootstrap and openssh-client)."
    )]
    ToolMissing {
        /// Program name.
        tool: String,
        /// Why it is needed.
        why: String,
    },

    /// A program could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line, for the message.
        command: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A program ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The command line, for the message.
        command: String,
        /// Exit status as text.
        status: String,
        /// Its standard error (trimmed).
        stderr: String,
    },

    /// No Debian mirror could be read from this machine's apt configuration.
    #[error(
        "no Debian mirror found: looked for a `URIs:` line in /etc/apt/sources.list.d/debian.sources \
         and a `deb` line in /etc/apt/sources.list"
    )]
    NoMirror,

    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },

    /// sshd on a host did not answer in time.
    #[error("host `{name}` ({addr}): sshd did not answer within {secs} s\n{diagnostics}")]
    SshTimeout {
        /// Logical host name.
        name: String,
        /// Address that was polled.
        addr: String,
        /// Seconds waited.
        secs: u64,
        /// The last polling error, the container log tail and systemd's view.
        diagnostics: String,
    },

    /// The host's container exited while we waited for it.
    #[error("host `{name}`: container {container} is not running\n--- docker logs ---\n{logs}")]
    HostDied {
        /// Logical host name.
        name: String,
        /// Container name.
        container: String,
        /// Tail of the container log.
        logs: String,
    },

    /// No free /24 could be found for the testbed network.
    #[error("no free subnet in 10.231.0.0/16 for a testbed network after {tried} attempts: {last}")]
    NoFreeSubnet {
        /// Subnets tried.
        tried: u32,
        /// The last docker error.
        last: String,
    },

    /// The testbed's subnet has no addresses left.
    #[error("testbed network {network} has no free addresses left")]
    AddressesExhausted {
        /// Network name.
        network: String,
    },

    /// A host name that cannot be used for a container.
    #[error(
        "invalid sandbox host name {0:?}: use 1-40 characters of [a-z0-9-], not starting with '-'"
    )]
    InvalidName(String),

    /// The host's public key file did not look like an OpenSSH public key.
    #[error("host `{name}`: unexpected content in {path}: {content:?}")]
    BadHostKey {
        /// Logical host name.
        name: String,
        /// The key path inside the host.
        path: String,
        /// What was read.
        content: String,
    },
}

/// Result alias for this module.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// True when `KEEL_KEEP_TESTBED=1` (or `true`/`yes`) is set.
pub fn keep_requested() -> bool {
    std::env::var(KEEP_ENV)
        .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_unavailable_says_how_to_fix_it() {
        let e = SandboxError::DockerUnavailable { detail: "x".into() };
        let msg = e.to_string();
        assert!(msg.contains("scripts/ci-setup.sh"), "{msg}");
        assert!(msg.contains("dockerd"), "{msg}");
    }
}
