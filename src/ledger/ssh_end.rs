//! Where sshd took keel's connection on the host: the address family and
//! the port (after any port forwarding in front of it), read in the same
//! round trip as the ledgers ([`SCRIPT`], after them) from the host's
//! `$SSH_CONNECTION`. Pruning a `ufw` must leave that port open in that
//! family ([`super::guard`]); when it is not known, the inventory's port
//! in both families is checked instead.

use crate::resources::ufw::Family;
use std::net::IpAddr;

/// Printed after the ledgers: a section `== :ssh` (no stack is named so)
/// holding `$SSH_CONNECTION`.
pub const SCRIPT: &str = include_str!("ssh_end.sh");

/// The name of [`SCRIPT`]'s section in the ledger read's output.
pub const SECTION: &str = ":ssh";

/// The host's end of keel's SSH connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshEnd {
    pub port: u16,
    pub family: Family,
}

/// Parse the section's text (`CLIENT_IP CLIENT_PORT SERVER_IP
/// SERVER_PORT`); `None` for anything else (empty: not over SSH, or not
/// found).
pub fn parse(text: &str) -> Option<SshEnd> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let [_, _, addr, port] = f[..] else {
        return None;
    };
    let addr: IpAddr = addr.parse().ok()?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    // An IPv4 client of a dual-stack socket, if sshd kept it mapped.
    let v4 = match addr {
        IpAddr::V4(_) => true,
        IpAddr::V6(a) => a.to_ipv4_mapped().is_some(),
    };
    Some(SshEnd {
        port,
        family: if v4 { Family::V4 } else { Family::V6 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_half_of_ssh_connection() {
        assert_eq!(
            parse("203.0.113.7 51234 10.0.0.5 2222\n"),
            Some(SshEnd {
                port: 2222,
                family: Family::V4
            })
        );
        assert_eq!(
            parse("2001:db8::7 51234 2001:db8::5 22"),
            Some(SshEnd {
                port: 22,
                family: Family::V6
            })
        );
        assert_eq!(
            parse("::ffff:203.0.113.7 1 ::ffff:10.0.0.5 22").map(|e| e.family),
            Some(Family::V4)
        );
        for bad in [
            "",
            "\n",
            "a b c d",
            "1.2.3.4 1 5.6.7.8",
            "1.2.3.4 1 5.6.7.8 0",
            "1.2.3.4 1 5.6.7.8 70000",
            "1 2 3.4.5.6 22 x",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    /// The script, run here: `$SSH_CONNECTION` from its environment, or
    /// from its parent's when its own lost it (as under sudo).
    #[test]
    fn the_script_reads_the_environment_or_an_ancestor_s() {
        let v = "192.0.2.1 40000 192.0.2.2 2200";
        let run = |args: &[&str]| -> String {
            let out = std::process::Command::new("sh")
                .args(args)
                .arg(SCRIPT)
                .env("SSH_CONNECTION", v)
                .output()
                .unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(run(&["-c", "eval \"$0\""]), format!("== :ssh\n{v}\n"));
        // (`; true`: the outer shell stays, the script's parent.)
        assert_eq!(
            run(&["-c", "env -u SSH_CONNECTION sh -c \"$0\"; true"]),
            format!("== :ssh\n{v}\n")
        );
    }
}
