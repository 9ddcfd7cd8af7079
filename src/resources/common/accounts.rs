//! Users and groups: valid names, numeric ids and the `getent` probe
//! shared by the kinds that create or reference accounts.

use super::super::*;
use crate::shell::Script;

/// Longest user or group name the shadow tools accept.
pub const MAX_NAME_LEN: usize = 32;

/// Check a user or group name against the portable pattern Debian's
/// `adduser` and the shadow tools agree on: `[a-z_][a-z0-9_-]*[$]?`, at most
/// 32 characters. Groups also accept upper case and `.` (Debian ships
/// `Debian-exim`), via `relaxed`.
pub fn valid_name(name: &str, relaxed: bool) -> bool {
    let body = name.strip_suffix('$').unwrap_or(name);
    let mut chars = body.chars();
    let first_ok = match chars.next() {
        Some(c) => c.is_ascii_lowercase() || c == '_' || (relaxed && c.is_ascii_uppercase()),
        None => false,
    };
    first_ok
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '_'
                || c == '-'
                || (relaxed && (c.is_ascii_uppercase() || c == '.'))
        })
}

/// An [`Invalid`] for `field` when `name` is not a valid group name.
pub fn check_group_name(field: &'static str, name: &str) -> Option<Invalid> {
    if valid_name(name, true) {
        return None;
    }
    Some(
        Invalid::field(
            field,
            format!("`{}` is not a valid group name", name.escape_debug()),
        )
        .help(
            "a group name starts with a letter or `_`, continues with letters, digits, `_`, `-` \
             or `.`, may end with `$`, and has at most 32 characters",
        ),
    )
}

/// An [`Invalid`] for `field` when `id` is not a numeric user or group id.
pub fn check_id(field: &'static str, id: &str) -> Option<Invalid> {
    match parse_id(id) {
        Some(_) => None,
        None => Some(
            Invalid::field(
                field,
                format!("`{}` is not a numeric id", id.escape_debug()),
            )
            .help("ids are whole numbers from 0 to 4294967294, e.g. `1500`"),
        ),
    }
}

/// Parse a uid/gid (`u32`, without the reserved `-1`).
pub fn parse_id(id: &str) -> Option<u32> {
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

/// Shell lines that run `getent DB NAME` and print `PREFIX=<entry>` when
/// found, `PREFIX_absent=1` when not (exit status 2), and fail otherwise.
pub(crate) fn getent_probe(db: &str, name: &str, prefix: &str) -> String {
    Script::new(include_str!("accounts/getent.sh"))
        .set("keel_db", db)
        .set("keel_name", name)
        .set("keel_prefix", prefix)
        .render()
}

/// The error for a probe that printed none of the expected lines.
pub(crate) fn probe_failure(what: &str, out: &ProbeOutput) -> FactError {
    let err = out.stderr.trim();
    let message = if err.is_empty() {
        format!(
            "the {what} probe printed nothing usable (exit status {})",
            out.status
        )
    } else {
        format!(
            "the {what} probe failed (exit status {}): {err}",
            out.status
        )
    };
    FactError::ProbeFailed {
        status: out.status,
        message,
    }
}
