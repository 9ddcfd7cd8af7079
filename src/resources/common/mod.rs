//! What resource kinds share, so that no kind imports another: whether a
//! thing should exist, small parsers of probe output, and one room per
//! shared concern (paths and permissions, accounts, apt, atomic replace of
//! a file, crontab blocks, shell script pieces, file content shown in plans).

pub mod accounts;
pub mod apt;
pub mod content;
pub mod crontab;
pub mod edit;
pub mod paths;
pub mod refuse;
pub mod script;

use super::Invalid;

/// Whether the resource should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// Parse `key=value` lines (as printed by probes) into pairs; lines without
/// `=` are ignored.
pub fn kv_lines(text: &str) -> Vec<(&str, &str)> {
    text.lines().filter_map(|l| l.split_once('=')).collect()
}

/// First value of `key` in `key=value` lines.
pub fn kv<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    kv_lines(text)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Validate an octal file mode such as `"0644"` or `"755"`; returns the
/// canonical four-digit form.
pub fn normalize_mode(mode: &str) -> Result<String, BadMode> {
    let m = mode.trim();
    if m.is_empty() || m.len() > 4 || !m.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(BadMode(mode.to_string()));
    }
    Ok(format!("{:0>4}", m))
}

/// Why a declared value is refused: the message says what is wrong and how
/// to write it (serde attaches it to the offending key or value of the YAML).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

impl From<String> for BadValue {
    fn from(message: String) -> Self {
        BadValue(message)
    }
}

impl From<&str> for BadValue {
    fn from(message: &str) -> Self {
        BadValue(message.to_string())
    }
}

/// A file mode that is not octal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an octal file mode: use up to four digits 0–7, e.g. \"0644\"")]
pub struct BadMode(pub String);

impl From<BadMode> for String {
    fn from(e: BadMode) -> String {
        e.to_string()
    }
}

/// Check that a host path is absolute and clean.
pub fn check_abs_path(field: &'static str, path: &str) -> Option<Invalid> {
    if !path.starts_with('/') {
        return Some(
            Invalid::field(field, format!("`{path}` is not an absolute path"))
                .help("paths on the host must start with `/`"),
        );
    }
    if path.contains('\n') || path.split('/').any(|c| c == "..") {
        return Some(Invalid::field(
            field,
            format!("`{}` contains `..` or a newline", path.escape_debug()),
        ));
    }
    None
}

/// Errors for settings given alongside `state: absent`, where they would
/// be silently ignored: `fields` pairs each name with whether it is set.
pub fn unused_when_absent(fields: &[(&'static str, bool)]) -> Vec<Invalid> {
    fields
        .iter()
        .filter(|(_, set)| *set)
        .map(|(field, _)| {
            Invalid::field(
                field,
                format!("`{field}` has no effect with `state: absent`"),
            )
            .help("remove it, or remove `state: absent`")
        })
        .collect()
}

/// The parent directory of an absolute path (`None` for `/`).
pub fn parent_dir(path: &str) -> Option<String> {
    let trimmed = path.trim_end_matches('/');
    let i = trimmed.rfind('/')?;
    Some(if i == 0 {
        "/".into()
    } else {
        trimmed[..i].into()
    })
}
