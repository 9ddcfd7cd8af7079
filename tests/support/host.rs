//! A fresh Debian host for end-to-end tests: a container reachable over
//! real SSH (see the keel-sandbox crate), an inventory pointing at it, and
//! keel runs against it recorded in a transcript (so tests can check that
//! no secret ever shows).

use super::{Keel, Run};
use keel_sandbox::{SandboxHost, Testbed};
use std::path::PathBuf;
use std::process::Command;

pub struct Host {
    pub testbed: Testbed,
    pub host: SandboxHost,
    pub dir: tempfile::TempDir,
    /// Everything keel printed in this test (stdout and stderr).
    pub transcript: std::cell::RefCell<String>,
}

impl Host {
    /// A testbed with one fresh host. Fails loudly without Docker.
    pub fn start(name: &str) -> Host {
        let testbed = Testbed::new().unwrap_or_else(|e| {
            panic!("end-to-end tests need Docker and debootstrap (run scripts/ci-setup.sh): {e}")
        });
        let host = testbed
            .start_host(name)
            .unwrap_or_else(|e| panic!("cannot start test host {name}: {e}"));
        Host {
            testbed,
            host,
            dir: tempfile::tempdir().expect("tempdir"),
            transcript: Default::default(),
        }
    }

    /// Write an inventory with this host in group `web`, connecting as
    /// `user` with strict host key checking through the testbed's
    /// known_hosts; `extra` is appended to the host's settings (YAML lines
    /// indented by 4 spaces).
    pub fn inventory(&self, user: &str, vars: &[(&str, &str)], extra: &str) -> PathBuf {
        let mut v = String::new();
        for (k, val) in vars {
            v.push_str(&format!(
                "      {k}: {}\n",
                serde_json::to_string(val).unwrap()
            ));
        }
        let text = format!(
            "hosts:\n  web1:\n    address: \"{ip}\"\n    user: {user}\n    identity_file: \"{key}\"\n    ssh_config: \"{cfg}\"\n{extra}    vars:\n{v}      placeholder: x\ngroups:\n  web:\n    hosts: [web1]\n",
            ip = self.host.ip,
            key = self.testbed.key_path().display(),
            cfg = self.testbed.ssh_config_path().display(),
        );
        let path = self.dir.path().join("inventory.yaml");
        std::fs::write(&path, text).expect("write inventory");
        path
    }

    /// Write a file (a stack, say) into this test's folder; returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a file of the test");
        path.to_str().expect("a UTF-8 path").to_string()
    }

    /// `keel plan --detailed-exitcode` of `stack` has nothing to do (exit
    /// 0, "No changes.").
    pub fn expect_no_changes(&self, inventory: &str, stack: &str, env: &[(&str, &str)]) {
        let again = self.keel(
            &["plan", "--detailed-exitcode", "-i", inventory, stack],
            env,
        );
        super::expect(&again, 0, "plan after apply");
        assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    }

    /// Run the keel binary with arguments and extra environment, adding
    /// what it printed to the transcript.
    pub fn keel(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.record(Keel::new().args(args).envs(env).run(), args)
    }

    /// `keel COMMAND -i INVENTORY REST...` (`args[0]` is the command).
    pub fn keel_inv(&self, inventory: &str, args: &[&str]) -> Run {
        let mut all = vec![args[0], "-i", inventory];
        all.extend_from_slice(&args[1..]);
        self.keel(&all, &[])
    }

    /// Add a run of `keel ARGS` to the transcript; returns the run.
    pub fn record(&self, run: Run, args: &[&str]) -> Run {
        let mut t = self.transcript.borrow_mut();
        t.push_str(&format!(
            "$ keel {}\n{}{}\n",
            args.join(" "),
            run.stdout,
            run.stderr
        ));
        run
    }

    /// Run a shell command on the host directly (docker exec), returning stdout.
    pub fn sh(&self, cmd: &str) -> String {
        self.host
            .exec_ok(cmd)
            .unwrap_or_else(|e| panic!("on the host, `{cmd}` failed: {e}"))
    }

    /// Run a command over a brand-new SSH connection as `user` on `port`
    /// (strict host keys, the testbed's key).
    pub fn ssh_as(&self, user: &str, port: u16, cmd: &str) -> std::process::Output {
        Command::new("ssh")
            .arg("-F")
            .arg(self.testbed.ssh_config_path())
            .args(["-p", &port.to_string(), "-o", "ConnectTimeout=5"])
            .arg(format!("{user}@{}", self.host.ip))
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run ssh")
    }

    /// Whether a shell command succeeds on the host.
    pub fn sh_ok(&self, cmd: &str) -> bool {
        self.host
            .exec(cmd)
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}
