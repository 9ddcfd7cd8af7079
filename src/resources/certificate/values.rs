//! Values of a certificate checked while the YAML is read (domains, an
//! email, an ACME directory, host paths), so an error points at its own
//! line, even inside a list or a nested map.

use super::*;

// ---------------------------------------------------------------------------
// Values checked while the YAML is read, so an error points at its own line
// (even inside a list or a nested map).

/// A domain name: RFC 1123 labels, optionally `*.` in front; stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Domain(pub String);

impl Domain {
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }
}

impl<'de> serde::Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a domain name", |s| {
            check_domain(s).map(|()| Domain(s.to_ascii_lowercase()))
        })
    }
}

/// Check a domain name; the error says what is wrong and how to write it.
pub fn check_domain(s: &str) -> Result<(), BadValue> {
    let bad = |why: String| {
        Err(BadValue(format!(
            "`{}` is not a valid domain: {why}",
            s.escape_debug()
        )))
    };
    if s.is_empty() {
        return Err(BadValue("a domain is empty".into()));
    }
    if let Some((scheme, rest)) = s.split_once("://") {
        return bad(format!(
            "remove the `{scheme}://` (write `{}`)",
            rest.split(['/', ':']).next().unwrap_or(rest)
        ));
    }
    if s.contains('/') {
        return bad(format!(
            "a domain has no path (write `{}`)",
            s.split('/').next().unwrap_or(s)
        ));
    }
    if let Some((host, _)) = s.rsplit_once(':') {
        return bad(format!("a domain has no port (write `{host}`)"));
    }
    if s.len() > 253 {
        return bad("longer than 253 characters".into());
    }
    if s.ends_with('.') {
        return bad(format!(
            "write it without the trailing dot (`{}`)",
            s.trim_end_matches('.')
        ));
    }
    let base = s.strip_prefix("*.").unwrap_or(s);
    if base.contains('*') {
        return bad(
            "a wildcard is only allowed as the whole first label, as in `*.example.com`".into(),
        );
    }
    for label in base.split('.') {
        if label.is_empty() {
            return bad("it has an empty label (`..`, or a leading dot)".into());
        }
        if label.len() > 63 {
            return bad(format!("the label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return bad(format!(
                "`{}` contains `{}`; labels may only hold letters, digits and `-`",
                label.escape_debug(),
                c.escape_debug()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(format!("the label `{label}` starts or ends with `-`"));
        }
    }
    let last = base.rsplit('.').next().unwrap_or(base);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return bad("it looks like an IP address; certificates here are for domain names".into());
    }
    Ok(())
}

pub use crate::resources::common::BadValue;

/// An e-mail address (a plain syntax check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(pub String);

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "an e-mail address", |s| {
            check_email(s).map(|()| Email(s.into()))
        })
    }
}

pub fn check_email(s: &str) -> Result<(), BadValue> {
    let bad = |why: &str| {
        Err(BadValue(format!(
            "`{}` is not an e-mail address: {why}",
            s.escape_debug()
        )))
    };
    let Some((local, domain)) = s.split_once('@') else {
        return bad("it has no `@`");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("nothing (or too much) before the `@`");
    }
    if domain.contains('@') {
        return bad("it has more than one `@`");
    }
    if let Some(c) = local.chars().find(|c| {
        c.is_whitespace() || c.is_control() || "\"'(),:;<>[\\]`".contains(*c) || !c.is_ascii()
    }) {
        return bad(&format!(
            "`{}` is not allowed before the `@`",
            c.escape_debug()
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("misplaced `.` before the `@`");
    }
    if !domain.contains('.') || check_domain(domain).is_err() || domain.starts_with("*.") {
        return bad(&format!("`{}` is not a domain", domain.escape_debug()));
    }
    Ok(())
}

/// The ACME directory: a well-known name or the https URL of one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Directory {
    #[default]
    Production,
    Staging,
    Url(String),
}

impl Directory {
    pub fn url(&self) -> &str {
        match self {
            Directory::Production => LETSENCRYPT,
            Directory::Staging => LETSENCRYPT_STAGING,
            Directory::Url(u) => u,
        }
    }
    /// How the plan names a directory URL.
    pub(super) fn describe(url: &str) -> String {
        match url {
            LETSENCRYPT => "production".into(),
            LETSENCRYPT_STAGING => "staging".into(),
            other => other.into(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Directory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "an ACME directory", parse_directory)
    }
}

pub fn parse_directory(s: &str) -> Result<Directory, BadValue> {
    match s {
        "production" => return Ok(Directory::Production),
        "staging" => return Ok(Directory::Staging),
        _ => {}
    }
    let expected = "expected `production`, `staging` or the https:// URL of an ACME directory";
    let Some(rest) = s.strip_prefix("https://") else {
        return Err(BadValue(if s.starts_with("http://") {
            format!("`{s}`: ACME directories are served over https")
        } else {
            format!("unknown directory `{}`: {expected}", s.escape_debug())
        }));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'`<>\\{}|^".contains(c))
    {
        return Err(BadValue(format!(
            "`{}` is not a valid URL: {expected}",
            s.escape_debug()
        )));
    }
    Ok(Directory::Url(s.to_string()))
}

/// An absolute, clean path on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath(pub String);

impl<'de> serde::Deserialize<'de> for HostPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(
            d,
            "an absolute path",
            |s| match super::common::paths::check_host_path("path", s, false).first() {
                Some(e) => Err(BadValue(match &e.help {
                    Some(h) => format!("{} ({h})", e.message),
                    None => e.message.clone(),
                })),
                None => Ok(HostPath(s.into())),
            },
        )
    }
}

/// Deserialize a string and check it inside the deserializer's own call, so
/// the error carries the span of this very value (an item of a list, a key
/// of a nested map), not of its container.
fn checked_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    check: fn(&str) -> Result<T, BadValue>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V<T> {
        expecting: &'static str,
        check: fn(&str) -> Result<T, BadValue>,
    }
    impl<T> serde::de::Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.check)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V { expecting, check })
}
