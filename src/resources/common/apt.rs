//! apt: package names, and the `apt-get` invocations every kind that
//! installs packages uses.

use crate::shell::Script;

/// Shell that defines `keel_apt`: `apt-get` with the options every keel
/// apt call uses (non-interactive, keep locally modified configuration
/// files, wait for the dpkg lock).
pub(crate) fn apt_prelude() -> String {
    Script::new(include_str!("apt/prelude.sh")).render()
}

/// An apt script for `keel_apt ARGS` (already quoted): refresh the lists
/// when there are none, run it, and when the failure looks like stale
/// lists, update and retry once; `hint` is printed if the retry fails too.
/// Shared by every kind that installs packages.
pub(crate) fn apt_install_script(args: &str, hint: Option<&str>) -> String {
    let mut s = apt_prelude();
    s.push_str(&format!("keel_run() {{ keel_apt {args}; }}\n"));
    s.push_str(
        &Script::new(include_str!("apt/install.sh"))
            .set("keel_hint", hint.unwrap_or_default())
            .render(),
    );
    s
}

/// One `apt-get install` of several targets (each already quoted), with
/// the same list refresh and retry as [`apt_install_script`]: apt's cache
/// is loaded once for all of them.
pub(crate) fn apt_install_many(targets: &[String]) -> String {
    apt_install_script(&format!("install {}", targets.join(" ")), None)
}

/// A name that is not a Debian package name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a Debian package name", .0.escape_debug())]
pub struct BadPackageName(pub String);

/// For callers that put the message into an `Invalid` (of `crate::resources`).
impl From<BadPackageName> for String {
    fn from(e: BadPackageName) -> Self {
        e.to_string()
    }
}

/// Check a Debian package name (`[a-z0-9][a-z0-9+.-]+`), optionally
/// followed by `:architecture`.
pub fn check_package_name(name: &str) -> Result<(), BadPackageName> {
    let (base, arch) = match name.split_once(':') {
        Some((b, a)) => (b, Some(a)),
        None => (name, None),
    };
    let ok_base = base.len() >= 2
        && base
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && base
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+.-".contains(&c));
    let ok_arch = arch.is_none_or(|a| {
        !a.is_empty()
            && a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    });
    if ok_base && ok_arch {
        Ok(())
    } else {
        Err(BadPackageName(name.to_string()))
    }
}
