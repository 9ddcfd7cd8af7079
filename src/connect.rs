//! From an inventory host to an open transport: the SSH targets keel
//! reaches it at (its `user`@`port`, and the bootstrap user and port of a
//! fresh server), the connection that falls back from one to the other,
//! and [`connect`] for any transport kind. The transports themselves
//! (`crate::transport`) know nothing of the inventory.

use crate::config::inventory::{Host, TransportKind};
use crate::transport::ssh::{Ssh, SshTarget, host_key_changed, known_hosts_name};
use crate::transport::{Transport, TransportError, local::Local};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Open the transport of a host: its `user`@`port`, or — on a fresh
/// server that does not answer there yet — its bootstrap user and port.
pub async fn connect(host: &Host, timeout: Duration) -> Result<Arc<dyn Transport>, TransportError> {
    if let Some(sim) = crate::transport::sim::from_env(&host.name) {
        return sim; // KEEL_SIMULATED_HOSTS: benchmarks only (bench/scale.sh)
    }
    match host.transport {
        TransportKind::Local => Ok(Arc::new(Local::new(host.become_root))),
        TransportKind::Ssh => Ok(connect_host(host, timeout).await?),
    }
}

/// How to reach a host over SSH as `user` on `port`.
pub fn target_for(host: &Host, user: &str, port: Option<u16>, timeout: Duration) -> SshTarget {
    let mut t = SshTarget::new(&host.name, &host.address);
    t.port = port;
    t.user = Some(user.to_string());
    t.identity_file = host.identity_file.as_deref().map(expand_home);
    t.host_key = host.host_key;
    t.host_key_alias = host_key_alias(host);
    t.ssh_config = host.ssh_config.as_deref().map(expand_home);
    t.become_root = user != "root" && (host.become_root || host.user != "root");
    t.connect_timeout = timeout;
    t
}

/// The known_hosts name of a host reached on two ports (a `bootstrap_port`
/// other than its `port`): the name of its key on the bootstrap port, used
/// on both (`HostKeyAlias`). The key learned or checked there is then the
/// only one accepted after the stack moves sshd; a server with another key
/// on the new port is refused, `host_key: accept-new` or not.
pub fn host_key_alias(host: &Host) -> Option<String> {
    let boot = host.bootstrap_port?;
    (Some(boot) != host.port && !(boot == 22 && host.port.is_none()))
        .then(|| known_hosts_name(&host.address, boot))
}

/// The SSH target keel uses once the stack is applied (the inventory's
/// `user` and `port`).
pub fn primary_target(host: &Host, timeout: Duration) -> SshTarget {
    let mut t = target_for(host, &host.user, host.port, timeout);
    t.become_root = host.become_root;
    t
}

/// The bootstrap target (`bootstrap_user`/`bootstrap_port`), if any.
pub fn bootstrap_target(host: &Host, timeout: Duration) -> Option<SshTarget> {
    if host.bootstrap_port.is_none() && host.bootstrap_user.is_none() {
        return None;
    }
    let user = host.bootstrap_user.as_deref().unwrap_or(&host.user);
    let port = host.bootstrap_port.or(host.port);
    Some(target_for(host, user, port, timeout))
}

/// Connect to an inventory host over SSH: its `user`@`port`, or — on a
/// fresh server that does not answer there yet — its bootstrap user and
/// port ([`connect`] for any transport).
pub async fn connect_host(
    host: &Host,
    timeout: Duration,
) -> Result<std::sync::Arc<Ssh>, TransportError> {
    let primary = primary_target(host, timeout);
    match bootstrap_target(host, timeout) {
        None => Ok(std::sync::Arc::new(Ssh::connect(primary).await?)),
        Some(boot) => {
            // Fail fast on the primary: the bootstrap is the usual case on a fresh server.
            let mut quick = primary.clone();
            quick.connect_timeout = timeout.min(Duration::from_secs(8));
            match Ssh::connect(quick).await {
                Ok(t) => Ok(std::sync::Arc::new(t)),
                // Another key than the recorded one: an alarm, not a
                // reason to log in another way.
                Err(first) if host_key_changed(&first) => Err(first),
                Err(first) => {
                    tracing::info!(host = %host.name, "{first}; trying the bootstrap connection");
                    match Ssh::connect(boot).await {
                        Ok(t) => {
                            tracing::warn!(
                                host = %host.name,
                                "connected with the bootstrap settings ({}): the stack is expected to create the inventory's user/port",
                                t.describe()
                            );
                            Ok(std::sync::Arc::new(t))
                        }
                        Err(second) => Err(TransportError::Connect {
                            host: host.name.clone(),
                            message: format!("{first}\nand with the bootstrap settings: {second}"),
                        }),
                    }
                }
            }
        }
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}
