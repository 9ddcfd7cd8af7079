//! Reading the host's configuration: the probe's sections, `sshd -T`
//! output, `grep -n` source lines, and which `Include` reads the drop-in.

use super::*;

/// fnmatch-like glob: `*` and `?` do not match `/`; `[...]` classes.
///
/// The pattern comes from the host's `sshd_config`: it is run as a set of
/// pattern positions over the text (time `pattern × text`), never by
/// backtracking, which a pattern of many `*` makes exponential.
pub(super) fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    enum Tok<'a> {
        Star,
        Any,
        Class(&'a [u8], bool),
        Byte(u8),
    }
    let mut toks = Vec::new();
    let mut i = 0;
    while i < pat.len() {
        match pat[i] {
            b'*' => toks.push(Tok::Star),
            b'?' => toks.push(Tok::Any),
            b'[' => match pat.iter().skip(i + 2).position(|&c| c == b']') {
                Some(p) => {
                    let end = i + 2 + p;
                    let class = &pat[i + 1..end];
                    let negate = matches!(class.first(), Some(b'!' | b'^'));
                    toks.push(Tok::Class(if negate { &class[1..] } else { class }, negate));
                    i = end;
                }
                None => toks.push(Tok::Byte(b'[')),
            },
            c => toks.push(Tok::Byte(c)),
        }
        i += 1;
    }
    let in_class = |class: &[u8], c: u8| {
        let mut hit = false;
        let mut i = 0;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == b'-' {
                hit |= class[i] <= c && c <= class[i + 2];
                i += 3;
            } else {
                hit |= class[i] == c;
                i += 1;
            }
        }
        hit
    };
    // `at[k]`: the first k tokens can match the text read so far. A `*`
    // may also match nothing, so its position passes on to the next one.
    let close = |at: &mut Vec<bool>| {
        for k in 0..toks.len() {
            if at[k] && matches!(toks[k], Tok::Star) {
                at[k + 1] = true;
            }
        }
    };
    let mut at = vec![false; toks.len() + 1];
    at[0] = true;
    close(&mut at);
    for &c in s {
        let mut next = vec![false; toks.len() + 1];
        for (k, t) in toks.iter().enumerate() {
            if !at[k] {
                continue;
            }
            match *t {
                Tok::Star if c != b'/' => next[k] = true,
                Tok::Any if c != b'/' => next[k + 1] = true,
                Tok::Class(class, negate) if c != b'/' && in_class(class, c) != negate => {
                    next[k + 1] = true
                }
                Tok::Byte(b) if b == c => next[k + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        if !next.contains(&true) {
            return false;
        }
        at = next;
    }
    at[toks.len()]
}

/// The first token of a config line (keyword) and the rest, or `None` for
/// blank and comment lines. `Keyword=value` is accepted as sshd does.
pub(super) fn split_directive(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let end = t
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(t.len());
    let rest = t[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    Some((t[..end].to_ascii_lowercase(), rest))
}

/// The top-level `Include` of `main` that reads `path` (before any `Match`).
pub(super) fn include_of(main: &str, path: &str) -> Option<IncludeAt> {
    for (i, line) in main.lines().enumerate() {
        let Some((kw, rest)) = split_directive(line) else {
            continue;
        };
        if kw == "match" {
            return None;
        }
        if kw != "include" {
            continue;
        }
        for arg in rest.split_whitespace() {
            let arg = arg.trim_matches('"');
            let abs = if arg.starts_with('/') {
                arg.to_string()
            } else {
                format!("/etc/ssh/{arg}")
            };
            if glob_match(abs.as_bytes(), path.as_bytes()) {
                return Some(IncludeAt {
                    line: i + 1,
                    pattern: abs,
                });
            }
        }
    }
    None
}

/// Split probe output into `key=value` header lines and `[name]` sections.
pub(super) fn sections(stdout: &str) -> (String, BTreeMap<String, String>) {
    let mut header = String::new();
    let mut secs: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.to_string());
            secs.entry(name.to_string()).or_default();
            continue;
        }
        match &current {
            Some(name) => {
                let s = secs.entry(name.clone()).or_default();
                s.push_str(line);
                s.push('\n');
            }
            None => {
                header.push_str(line);
                header.push('\n');
            }
        }
    }
    (header, secs)
}

pub(super) fn decode(
    secs: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<Vec<u8>>, FactError> {
    match secs.get(name) {
        None => Ok(None),
        Some(b64) => shell::unbase64(b64)
            .map(Some)
            .map_err(|e| FactError::Unexpected(format!("section {name}: {e}"))),
    }
}

/// Parse `sshd -T` output.
pub(super) fn parse_effective(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        map.entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.trim().to_string());
    }
    map
}

/// Parse `grep -n` output over several files: `file:line:text`. The
/// `Match` lines (which the probe greps too) are not sources: each setting
/// after one, up to the end of its file or a `Match all`, is marked as
/// under it.
pub(super) fn parse_sources(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    let mut block: Option<(String, usize, String)> = None;
    for l in text.lines() {
        let Some((file, rest)) = l.split_once(':') else {
            continue;
        };
        let Some((n, body)) = rest.split_once(':') else {
            continue;
        };
        let Ok(line) = n.parse::<usize>() else {
            continue;
        };
        let Some((keyword, value)) = split_directive(body) else {
            continue;
        };
        if block.as_ref().is_some_and(|(f, _, _)| f != file) {
            block = None;
        }
        if keyword == "match" {
            // `Match all` ends a block: what follows applies to every connection.
            let all = value
                .split_whitespace()
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case("all"));
            block = (!all).then(|| (file.to_string(), line, value.to_string()));
            continue;
        }
        out.push(Source {
            file: file.to_string(),
            line,
            keyword,
            value: value.to_string(),
            under_match: block.as_ref().map(|(_, n, c)| (*n, c.clone())),
        });
    }
    out
}

/// The values a config text gives each keyword it knows, by canonical name.
pub(super) fn file_values(text: &str) -> Vec<(&'static Keyword, Vec<String>)> {
    let mut out: Vec<(&'static Keyword, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let Some((kw, rest)) = split_directive(line) else {
            continue;
        };
        let Some(k) = keyword(&kw) else { continue };
        let vals = split_scalar(k, rest);
        match out.iter_mut().find(|(o, _)| o.canonical() == k.canonical()) {
            Some((_, v)) if k.layout != Layout::One => v.extend(vals),
            Some(_) => {}
            None => out.push((k, vals)),
        }
    }
    out
}

pub(super) fn same_values(kw: &Keyword, a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| normalize(kw, x) == normalize(kw, y))
}
