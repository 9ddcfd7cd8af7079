//! The `local` transport: runs scripts on the machine keel runs on, through
//! the same trait as SSH (used by the quickstart and by tests).

use super::{Counter, Output, Transport, TransportError, shell_argv};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// Runs `sh -s` locally (or `sudo -n sh -s` with `become`).
#[derive(Debug, Default)]
pub struct Local {
    pub become_root: bool,
    counter: Counter,
}

impl Local {
    pub fn new(become_root: bool) -> Self {
        Local {
            become_root,
            counter: Counter::default(),
        }
    }
}

#[async_trait]
impl Transport for Local {
    async fn run(&self, script: &str) -> Result<Output, TransportError> {
        self.counter.bump();
        let argv = shell_argv(self.become_root);
        let io = |e: std::io::Error| TransportError::Io {
            host: "local".into(),
            message: e.to_string(),
        };
        let mut child = tokio::process::Command::new(argv[0])
            // Its own process group: a Ctrl-C at the terminal is keel's to
            // handle (crate::interrupt); the step running finishes.
            .process_group(0)
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io)?;
        let mut stdin = child.stdin.take().ok_or_else(|| TransportError::Io {
            host: "local".into(),
            message: "no stdin".into(),
        })?;
        let script = super::read_whole_first(script).into_bytes();
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&script).await;
            let _ = stdin.shutdown().await;
        });
        let out = child.wait_with_output().await.map_err(io)?;
        let _ = writer.await;
        Ok(Output {
            stdout: out.stdout,
            stderr: out.stderr,
            status: out.status.code(),
        })
    }

    fn round_trips(&self) -> u64 {
        self.counter.get()
    }

    fn describe(&self) -> String {
        if self.become_root {
            "local (sudo)".into()
        } else {
            "local".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_script_from_stdin_and_counts() {
        let t = Local::new(false);
        let out = t
            .run("echo \"$((1+2))\"; echo err >&2; exit 3")
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "3\n");
        assert_eq!(out.stderr_text(), "err\n");
        assert_eq!(out.status, Some(3));
        assert_eq!(t.round_trips(), 1);
    }

    #[tokio::test]
    async fn a_command_reading_stdin_cannot_swallow_the_script() {
        let t = Local::new(false);
        let out = t
            .run(
                "cat
echo after",
            )
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "after\n");
    }
}
