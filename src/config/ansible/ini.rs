//! Ansible's INI inventory format.
//!
//! ```ini
//! mail.example.com            # before any section: ungrouped
//!
//! [web]
//! web[01:20].example.com ansible_user=deploy
//! db-[a:c] ansible_port=2222 note="two words"
//!
//! [web:vars]
//! http_port=8080              # one `name=value` per line, read as a string
//!
//! [prod:children]
//! web
//! ```
//!
//! Host lines are split like a shell line (quotes keep spaces, `#` starts a
//! comment); their values, quotes removed, are typed as Ansible does for
//! literals: an integer, `True`/`False`, `None`, a `[...]`/`{...}` literal,
//! or else a string (`1.10` stays the string it is written as).
//! Values of `:vars` sections are strings. Comment lines start with `#` or
//! `;`.

use super::{CODE, Parsed, Var, range};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Span, Value};

enum Section {
    Hosts(String),
    Children(String),
    Vars(String),
}

/// Parse one INI inventory into `out`, reporting each bad line.
pub fn parse(src: &SourceFile, out: &mut Parsed, diags: &mut Diagnostics) {
    let text = src.text().to_string();
    let mut section = Section::Hosts("ungrouped".into());
    // A byte-order mark (files saved by some Windows editors) is no text.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut offset = bom;
    for raw in text[bom..].split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        let trimmed = trimmed.trim_end();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let at = line_start + lead;
        let span = Span::new(at, trimmed.len());
        if trimmed.starts_with('[') {
            match header(trimmed) {
                Ok((name, kind)) => {
                    let name_span = Span::new(at + 1, name.len());
                    if name != "all" && matches!(kind, None | Some("children" | "vars")) {
                        out.group(name, src, name_span);
                    }
                    section = match kind {
                        None => Section::Hosts(name.to_string()),
                        Some("children") => Section::Children(name.to_string()),
                        Some("vars") => Section::Vars(name.to_string()),
                        Some(other) => {
                            diags.push(
                                Diag::at(
                                    CODE,
                                    src,
                                    span,
                                    format!("unknown section kind `:{other}` in `{trimmed}`"),
                                    "here",
                                )
                                .with_help(
                                    "a section is `[group]`, `[group:vars]` or `[group:children]`",
                                ),
                            );
                            // Skip its lines rather than misreading them.
                            Section::Vars(String::new())
                        }
                    };
                }
                Err(msg) => diags.push(
                    Diag::at(CODE, src, span, msg, "here")
                        .with_help("a section is `[group]`, `[group:vars]` or `[group:children]`"),
                ),
            }
            continue;
        }
        match &section {
            Section::Hosts(group) => host_line(src, group, trimmed, at, out, diags),
            Section::Children(group) => {
                let word = trimmed.split_whitespace().next().unwrap_or_default();
                let rest = trimmed[word.len()..].trim_start();
                if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
                    diags.push(
                        Diag::at(
                            CODE,
                            src,
                            span,
                            format!("`{trimmed}` is not a group name"),
                            "here",
                        )
                        .with_help(format!("list one child group of `{group}` per line")),
                    );
                    continue;
                }
                if let Err(msg) = check_name(word) {
                    diags.push(Diag::at(CODE, src, Span::new(at, word.len()), msg, "here"));
                    continue;
                }
                out.child(group, word, src, Span::new(at, word.len()));
            }
            Section::Vars(group) if group.is_empty() => {}
            Section::Vars(group) => {
                if let Some(v) = vars_line(src, trimmed, at, diags) {
                    let g = out.group(group, src, span);
                    g.vars.push(v);
                }
            }
        }
    }
}

/// `[name]` or `[name:kind]`.
fn header(line: &str) -> Result<(&str, Option<&str>), String> {
    let Some(close) = line.find(']') else {
        return Err(format!("`{line}` has no closing `]`"));
    };
    let after = line[close + 1..].trim();
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return Err(format!("unexpected `{after}` after the section header"));
    }
    let inner = &line[1..close];
    let (name, kind) = match inner.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (inner, None),
    };
    check_name(name)?;
    Ok((name, kind))
}

/// A group name: not empty, no spaces, brackets or colons.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a group name is missing".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '[' | ']' | ':' | '=' | ','))
    {
        return Err(format!("the group name `{name}` holds `{c}`"));
    }
    Ok(())
}

/// One word of a host line: its text with quotes removed, where it starts
/// and ends in the file, and whether any of it was quoted.
struct Word {
    text: String,
    start: usize,
    end: usize,
    /// Byte offset in `text` where quoting began (None: unquoted).
    quoted_from: Option<usize>,
}

/// Split a host line like a shell line; `Err` names an unclosed quote.
fn words(line: &str, at: usize) -> Result<Vec<Word>, (String, Span)> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut w = Word {
            text: String::new(),
            start: at + i,
            end: at + i,
            quoted_from: None,
        };
        let mut quote: Option<(char, usize)> = None;
        while let Some(&(j, c)) = chars.peek() {
            match quote {
                Some((q, _)) if c == q => quote = None,
                Some(_) => w.text.push(c),
                None if c.is_whitespace() => break,
                None if c == '"' || c == '\'' => {
                    w.quoted_from.get_or_insert(w.text.len());
                    quote = Some((c, j));
                }
                None => w.text.push(c),
            }
            chars.next();
            w.end = at + j + c.len_utf8();
        }
        if let Some((q, j)) = quote {
            return Err((
                format!("the quote {q} is not closed on this line"),
                Span::new(at + j, 1),
            ));
        }
        out.push(w);
    }
    Ok(out)
}

/// `pattern [name=value ...]` in a group's host section.
fn host_line(
    src: &SourceFile,
    group: &str,
    line: &str,
    at: usize,
    out: &mut Parsed,
    diags: &mut Diagnostics,
) {
    let ws = match words(line, at) {
        Ok(w) => w,
        Err((msg, span)) => return diags.push(Diag::at(CODE, src, span, msg, "here")),
    };
    let Some((first, rest)) = ws.split_first() else {
        return;
    };
    let pattern_span = Span::new(first.start, first.end - first.start);
    let expanded = match range::expand(&first.text) {
        Ok(e) => e,
        Err(msg) => {
            return diags.push(
                Diag::at(CODE, src, pattern_span, msg, "host pattern")
                    .with_help("a host line is `NAME` or `NAME:PORT`, ranges as `web[01:20]` or `db-[a:c]`, then `name=value` variables"),
            );
        }
    };
    let mut vars = Vec::new();
    if let Some(port) = expanded.port {
        vars.push(var(
            src,
            "ansible_port",
            pattern_span,
            Value::Int(port.into(), port.to_string()),
            pattern_span,
        ));
    }
    for w in rest {
        let span = Span::new(w.start, w.end - w.start);
        let Some(eq) = w
            .text
            .find('=')
            .filter(|&e| w.quoted_from.is_none_or(|q| e < q))
        else {
            diags.push(
                Diag::at(CODE, src, span, format!("`{}` is not a `name=value` variable", w.text), "here")
                    .with_help("host variables are `name=value`; quote values with spaces: `motd=\"hello world\"`"),
            );
            continue;
        };
        let (name, value) = (&w.text[..eq], &w.text[eq + 1..]);
        if let Err(msg) = check_var_name(name) {
            diags.push(Diag::at(CODE, src, span, msg, "here"));
            continue;
        }
        let raw = &src.text()[w.start..w.end];
        let value_span = match raw.find('=') {
            Some(e) => Span::new(w.start + e + 1, w.end - w.start - e - 1),
            None => span,
        };
        // Ansible reads the value as a Python literal once quotes are
        // removed (`port="22"` is a number, `x='[1, 2]'` a list).
        let inner = if w.quoted_from.is_some() {
            Span::new(value_span.offset + 1, value_span.len.saturating_sub(2))
        } else {
            value_span
        };
        let typed = literal(value, inner);
        vars.push(var(
            src,
            name,
            Span::new(w.start, name.len()),
            typed,
            value_span,
        ));
    }
    for name in &expanded.names {
        out.host(name, src).vars.extend(vars.iter().cloned());
        out.member(group, name, src, pattern_span);
    }
}

/// `name=value` in a `:vars` section: everything after `=` is the value,
/// a string (surrounding quotes removed).
fn vars_line(src: &SourceFile, line: &str, at: usize, diags: &mut Diagnostics) -> Option<Var> {
    let span = Span::new(at, line.len());
    let Some(eq) = line.find('=') else {
        diags.push(
            Diag::at(
                CODE,
                src,
                span,
                format!("`{line}` is not a `name=value` variable"),
                "here",
            )
            .with_help("a `:vars` section holds one `name=value` per line"),
        );
        return None;
    };
    let name = line[..eq].trim_end();
    if let Err(msg) = check_var_name(name) {
        diags.push(Diag::at(CODE, src, Span::new(at, eq.max(1)), msg, "here"));
        return None;
    }
    let after = &line[eq + 1..];
    let value = after.trim();
    let vstart = at + eq + 1 + (after.len() - after.trim_start().len());
    let unquoted = ['"', '\'']
        .iter()
        .find(|q| value.len() >= 2 && value.starts_with(**q) && value.ends_with(**q))
        .map_or(value, |_| &value[1..value.len() - 1]);
    Some(var(
        src,
        name,
        Span::new(at, name.len()),
        Value::Str(unquoted.to_string()),
        Span::new(vstart, value.len()),
    ))
}

/// A variable name: letters, digits and `_`, not starting with a digit.
fn check_var_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        ))
    }
}

/// An unquoted host-line value, typed like a Python literal.
fn literal(text: &str, span: Span) -> Value {
    let int = text
        .strip_prefix('-')
        .unwrap_or(text)
        .chars()
        .all(|c| c.is_ascii_digit())
        && !text.is_empty()
        && text != "-"
        && !(text.trim_start_matches('-').len() > 1
            && text.trim_start_matches('-').starts_with('0'));
    if int && let Ok(i) = text.parse::<i64>() {
        return Value::Int(i, text.to_string());
    }
    match text {
        "True" => return Value::Bool(true, "true".into()),
        "False" => return Value::Bool(false, "false".into()),
        "None" => return Value::Null,
        _ => {}
    }
    let bracketed = (text.starts_with('[') && text.ends_with(']'))
        || (text.starts_with('{') && text.ends_with('}'));
    if bracketed && let Ok(node) = Node::parse(text) {
        return shifted(node, span.offset).value;
    }
    Value::Str(text.to_string())
}

/// A node parsed from a piece of the file, with spans made file-relative.
fn shifted(mut node: Node, by: usize) -> Node {
    node.span.offset += by;
    node.value = match node.value {
        Value::Seq(s) => Value::Seq(s.into_iter().map(|n| shifted(n, by)).collect()),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| (shifted(k, by), shifted(v, by)))
                .collect(),
        ),
        v => v,
    };
    node
}

fn var(src: &SourceFile, name: &str, key_span: Span, value: Value, value_span: Span) -> Var {
    Var {
        key: Node::new(key_span, Value::Str(name.to_string())),
        value: Node::new(value_span, value),
        source: src.clone(),
    }
}
