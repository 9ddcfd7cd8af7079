//! The compose file as far as keel reads it (its services, their images
//! and whether `up` starts them), Compose's `.env` syntax and variable
//! interpolation, and the checks of the names a project declares.

use crate::node::{Node, Value};
use std::collections::BTreeMap;

/// Why the compose file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ModelError {
    #[error("the compose file is not UTF-8 text")]
    NotText,
    #[error("the compose file is not valid YAML (line {line}): {message}")]
    Yaml { line: usize, message: String },
    #[error("the compose file must be a map with a `services:` key")]
    NotAMap,
    #[error("the compose file has no `services:` map")]
    NoServicesMap,
    #[error("a service name in the compose file is not a string")]
    ServiceName,
    #[error("the compose file declares no services")]
    NoServices,
}

/// A name of the project that Compose or keel would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum NameError {
    #[error("`{0}` is not a compose project name")]
    Project(String),
    #[error("`{0}` is not a file name (no `/`; the file lives in `dir`)")]
    FileName(String),
    #[error("`{0}` is a name keel uses for its own files")]
    KeelFile(String),
    #[error("`{0}` is not an image reference")]
    Image(String),
}

/// A service of the compose file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SvcModel {
    /// `image:` as written (before interpolation).
    pub(super) image: Option<String>,
    /// Behind `profiles`, or scaled to zero: not started by `up`.
    pub(super) optional: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Model {
    pub(super) version: Option<String>,
    pub(super) services: BTreeMap<String, SvcModel>,
}

/// A key of a YAML map, following `<<` merge keys.
fn lookup<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    if let Some(v) = node.get(key) {
        return Some(v);
    }
    match node.get("<<").map(|m| &m.value) {
        Some(Value::Map(_)) => lookup(node.get("<<")?, key),
        Some(Value::Seq(items)) => items.iter().find_map(|n| lookup(n, key)),
        _ => None,
    }
}

pub(super) fn parse_model(text: &[u8]) -> Result<Model, ModelError> {
    let text = std::str::from_utf8(text).map_err(|_| ModelError::NotText)?;
    let root = Node::parse_foreign(text).map_err(|e| ModelError::Yaml {
        line: line_of(text, e.span.offset).0,
        message: e.message.to_string(),
    })?;
    if root.as_map().is_none() {
        return Err(ModelError::NotAMap);
    }
    let version = root
        .get("version")
        .and_then(Node::as_scalar_text)
        .map(str::to_string);
    let services = root
        .get("services")
        .and_then(Node::as_map)
        .ok_or(ModelError::NoServicesMap)?;
    let mut out = BTreeMap::new();
    for (k, v) in services {
        let name = k
            .as_scalar_text()
            .ok_or(ModelError::ServiceName)?
            .to_string();
        let image = lookup(v, "image")
            .and_then(Node::as_scalar_text)
            .map(str::to_string);
        let profiles = lookup(v, "profiles")
            .and_then(Node::as_seq)
            .is_some_and(|s| !s.is_empty());
        let zero = |n: Option<&Node>| n.and_then(Node::as_scalar_text) == Some("0");
        let replicas0 = zero(lookup(v, "deploy").and_then(|d| lookup(d, "replicas")))
            || zero(lookup(v, "scale"));
        out.insert(
            name,
            SvcModel {
                image,
                optional: profiles || replicas0,
            },
        );
    }
    if out.is_empty() {
        return Err(ModelError::NoServices);
    }
    Ok(Model {
        version,
        services: out,
    })
}

fn line_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    (
        line,
        before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
    )
}

/// `KEY=VALUE` lines of an env file (`export`, quotes and ` #` comments as
/// Compose reads them; the last definition wins).
pub(super) fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let value = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1].to_string()
        } else {
            match v.find(" #") {
                Some(i) => v[..i].trim_end().to_string(),
                None => v.to_string(),
            }
        };
        m.insert(k.trim().to_string(), value);
    }
    m
}

/// Compose's variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?err}`, `$$`);
/// `None` when a variable without a default is not in `env` (it may come
/// from the environment compose runs in, which keel cannot know).
pub(super) fn interpolate(s: &str, env: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let end = r.char_indices().find_map(|(i, c)| match c {
                '{' => {
                    depth += 1;
                    None
                }
                '}' if depth == 0 => Some(i),
                '}' => {
                    depth -= 1;
                    None
                }
                _ => None,
            })?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            let name_len = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_len);
            let val = env.get(name);
            let set_nonempty = val.is_some_and(|v| !v.is_empty());
            let v = if op.is_empty() {
                val?.clone()
            } else if let Some(d) = op.strip_prefix(":-") {
                if set_nonempty {
                    val?.clone()
                } else {
                    interpolate(d, env)?
                }
            } else if let Some(d) = op.strip_prefix('-') {
                match val {
                    Some(v) => v.clone(),
                    None => interpolate(d, env)?,
                }
            } else if let Some(a) = op.strip_prefix(":+") {
                if set_nonempty {
                    interpolate(a, env)?
                } else {
                    String::new()
                }
            } else if let Some(a) = op.strip_prefix('+') {
                if val.is_some() {
                    interpolate(a, env)?
                } else {
                    String::new()
                }
            } else if op.starts_with(":?") {
                if set_nonempty {
                    val?.clone()
                } else {
                    return None;
                }
            } else if op.starts_with('?') {
                val?.clone()
            } else {
                return None;
            };
            out.push_str(&v);
        } else {
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if n == 0 {
                out.push('$');
                rest = after;
            } else {
                out.push_str(env.get(&after[..n])?);
                rest = &after[n..];
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// A compose project name, as Compose v2 requires it.
pub(super) fn check_project(name: &str) -> Result<(), NameError> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(NameError::Project(name.escape_debug().to_string()))
    }
}

pub(super) fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

pub(super) fn check_file_name(name: &str) -> Result<(), NameError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(|c| c.is_control())
    {
        return Err(NameError::FileName(name.escape_debug().to_string()));
    }
    if name.starts_with(".keel-compose-") || name.contains(".keel.") {
        return Err(NameError::KeelFile(name.to_string()));
    }
    Ok(())
}

pub(super) fn check_image(image: &str) -> Result<(), NameError> {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(NameError::Image(image.escape_debug().to_string()))
    } else {
        Ok(())
    }
}
