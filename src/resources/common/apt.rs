//! apt: package names, and the `apt-get` invocations every kind that
//! installs packages uses.

use crate::shell::q;
use std::fmt::Write as _;

/// `apt-get` with the options every keel apt call uses: non-interactive,
/// keep locally modified configuration files, wait for the dpkg lock.
pub(crate) const APT_PRELUDE: &str = "export DEBIAN_FRONTEND=noninteractive
keel_apt() {
  apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \"$@\"
}
";

/// An apt script for `keel_apt ARGS` (already quoted): refresh the lists
/// when there are none, run it, and when the failure looks like stale
/// lists, update and retry once; `hint` is printed if the retry fails too.
/// Shared by every kind that installs packages.
pub(crate) fn apt_install_script(args: &str, hint: Option<&str>) -> String {
    let hint = hint
        .map(|h| format!("echo {} >&2; ", q(h)))
        .unwrap_or_default();
    let mut s = String::from(APT_PRELUDE);
    s.push_str(
        "keel_lists=
for keel_f in /var/lib/apt/lists/*_Packages*; do
  if [ -e \"$keel_f\" ]; then keel_lists=yes; fi
  break
done
if [ -z \"$keel_lists\" ]; then
  echo 'keel: no apt package lists yet: running apt-get update' >&2
  keel_apt update
fi
",
    );
    let _ = write!(
        s,
        "if keel_out=$(keel_apt {args} 2>&1); then
  printf '%s\\n' \"$keel_out\"
else
  keel_rc=$?
  printf '%s\\n' \"$keel_out\" >&2
  if printf '%s\\n' \"$keel_out\" | grep -q -e 'Unable to locate package' -e 'has no installation candidate' -e 'was not found' -e 'Failed to fetch' -e 'Unable to fetch some archives'; then
    echo 'keel: the apt package lists look stale: running apt-get update and retrying once' >&2
    keel_apt update
    if ! keel_apt {args}; then {hint}exit 1; fi
  else
    exit \"$keel_rc\"
  fi
fi
"
    );
    s
}

/// Check a Debian package name (`[a-z0-9][a-z0-9+.-]+`), optionally
/// followed by `:architecture`.
pub fn check_package_name(name: &str) -> Result<(), String> {
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
        Err(format!(
            "`{}` is not a Debian package name",
            name.escape_debug()
        ))
    }
}
