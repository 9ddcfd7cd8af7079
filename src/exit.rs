//! keel's exit codes, all in one place: 0 ok, 1 error, 2 changes or drift
//! (`plan --detailed-exitcode`, `drift`).
//!
//! A usage error exits 1 like every other error: 2 is reserved for "there
//! are changes", so a typo in CI cannot read as drift.

/// How a keel command ended, as the process sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; nothing to report (or changes, without `--detailed-exitcode`).
    Ok,
    /// Something failed: bad input, an unreachable host, a failed apply or check.
    Error,
    /// It worked and found changes to make (`plan --detailed-exitcode`) or drift.
    Changes,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Changes => 2,
        }
    }

    /// [`Exit::Error`] if `failed`, else [`Exit::Ok`].
    pub fn error_if(failed: bool) -> Exit {
        if failed { Exit::Error } else { Exit::Ok }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(
            [Exit::Ok, Exit::Error, Exit::Changes].map(Exit::code),
            [0, 1, 2]
        );
        assert_eq!(Exit::error_if(true), Exit::Error);
        assert_eq!(Exit::error_if(false), Exit::Ok);
    }
}
