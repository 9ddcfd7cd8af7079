//! File content in plans: what can be shown as text, digests of what
//! cannot, and the split of a probe's header from the content it sends.

use sha2::{Digest, Sha256};

/// Largest file whose content the probe sends back for the plan's diff.
pub const SHOW_LIMIT: u64 = 256 * 1024;

/// Content that can be shown as text in a plan.
pub(crate) fn showable(data: &[u8]) -> Option<String> {
    if data.len() as u64 > SHOW_LIMIT || data.contains(&0) {
        return None;
    }
    String::from_utf8(data.to_vec()).ok()
}

/// Lowercase hex sha256 of data.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Split probe output into the `key=value` header and the base64 text that
/// follows a `content:` line.
pub(crate) fn split_content(stdout: &str) -> (&str, Option<&str>) {
    if let Some(rest) = stdout.strip_prefix("content:\n") {
        return ("", Some(rest));
    }
    match stdout.find("\ncontent:\n") {
        Some(i) => (&stdout[..=i], Some(&stdout[i + "\ncontent:\n".len()..])),
        None => match stdout.strip_suffix("\ncontent:") {
            Some(h) => (h, Some("")),
            None => (stdout, None),
        },
    }
}
