//! Pieces of generated shell scripts: here-document delimiters that cannot
//! collide with the body, portable environment variable names.

/// Whether `name` is a portable environment variable name.
pub(crate) fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A here-document delimiter that is not a line of `body` (`base`, else
/// `base_1`, `base_2`...).
pub(crate) fn heredoc_delim(base: &str, body: &str) -> String {
    let mut d = base.to_string();
    let mut i = 0;
    while body.lines().any(|l| l == d) {
        i += 1;
        d = format!("{base}_{i}");
    }
    d
}
