//! Entries shared by stacks and modules: resource declarations
//! (`- file: {...}`) and module uses (`- module: name`).
//!
//! At load time an entry is checked for its structure only (one known kind,
//! typed common keys); its body is deserialized into the kind's type after
//! templating, per host, by [`crate::resolve`].

use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Span, Spanned, Value};
use crate::resources::{self, KindEntry};
use std::path::PathBuf;

/// Keys every resource accepts besides its kind's own.
pub const COMMON_KEYS: &[&str] = &["id", "depends_on", "notify", "for_each", "when", "tags"];

/// Where an entry's relative paths and templates are resolved from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source: SourceFile,
    /// Folder for `source:` files (the stack's or module's folder).
    pub base_dir: PathBuf,
    /// Folder for `template:` files (`templates/` of a module, or the
    /// stack's folder).
    pub templates_dir: PathBuf,
}

/// One resource as declared, before templating.
#[derive(Debug, Clone)]
pub struct ResourceDecl {
    pub kind: &'static KindEntry,
    pub kind_span: Span,
    /// The kind's body without the common keys.
    pub body: Node,
    pub id: Option<Spanned<String>>,
    pub depends_on: Vec<Spanned<String>>,
    pub notify: Vec<Spanned<String>>,
    /// `for_each:` a list or map (literal or one expression): one resource
    /// per item, with `each.key`/`each.value`/`each.index` in its templates.
    pub for_each: Option<Node>,
    /// `when:` a condition rendering to `true` or `false`, per host.
    pub when: Option<Node>,
    /// `tags:`, for `--tags` (see [`crate::graph::select`]).
    pub tags: Vec<Spanned<String>>,
    pub origin: Origin,
    pub span: Span,
}

/// One use of a module.
#[derive(Debug, Clone)]
pub struct UseDecl {
    pub module: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub with: Option<Node>,
    pub depends_on: Vec<Spanned<String>>,
    /// `for_each:` one instance per item, `module.NAME[KEY]`.
    pub for_each: Option<Node>,
    /// `when:` a condition rendering to `true` or `false`, per host.
    pub when: Option<Node>,
    /// `tags:`, given to every resource of the instance.
    pub tags: Vec<Spanned<String>>,
    pub origin: Origin,
    pub span: Span,
}

impl UseDecl {
    /// The instance name: `id`, or the module's name.
    pub fn instance(&self) -> &str {
        self.id.as_ref().map_or(&self.module.value, |i| &i.value)
    }
}

fn strings(
    src: &SourceFile,
    node: &Node,
    key: &str,
    diags: &mut Diagnostics,
) -> Vec<Spanned<String>> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .filter_map(|n| match n.as_scalar_text() {
                Some(t) => Some(Spanned::new(n.span, t.to_string())),
                None => {
                    diags.push(Diag::at(
                        "keel::schema",
                        src,
                        n.span,
                        format!(
                            "`{key}` entries must be addresses like `file[/etc/motd]`, found {}",
                            n.type_name()
                        ),
                        "here",
                    ));
                    None
                }
            })
            .collect(),
        _ => match node.as_scalar_text() {
            // A single address is accepted as a one-element list.
            Some(t) => vec![Spanned::new(node.span, t.to_string())],
            None => {
                diags.push(Diag::at(
                    "keel::schema",
                    src,
                    node.span,
                    format!(
                        "`{key}` must be a list of addresses, found {}",
                        node.type_name()
                    ),
                    "here",
                ));
                Vec::new()
            }
        },
    }
}

/// `tags: [web, tls]` (or one tag): names of letters, digits, `-`, `_`.
fn tag_list(src: &SourceFile, node: &Node, diags: &mut Diagnostics) -> Vec<Spanned<String>> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for n in items {
        match n.as_scalar_text() {
            Some(t)
                if !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) =>
            {
                out.push(Spanned::new(n.span, t.to_string()));
            }
            _ => diags.push(
                Diag::at(
                    "keel::schema",
                    src,
                    n.span,
                    "a tag is a name of letters, digits, `-` and `_`",
                    "not a tag",
                )
                .with_help("write `tags: [web, tls]`; select them with `keel plan --tags web`"),
            ),
        }
    }
    out
}

fn scalar(
    src: &SourceFile,
    node: &Node,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Spanned<String>> {
    match node.as_scalar_text() {
        Some(t) if !t.is_empty() => Some(Spanned::new(node.span, t.to_string())),
        _ => {
            diags.push(Diag::at(
                "keel::schema",
                src,
                node.span,
                format!(
                    "`{key}` must be a non-empty name, found {}",
                    node.type_name()
                ),
                "here",
            ));
            None
        }
    }
}

/// Parse the `resources:` list of a stack or module.
pub fn parse_resources(
    origin: &Origin,
    list: Option<&Node>,
    diags: &mut Diagnostics,
) -> Vec<ResourceDecl> {
    let src = &origin.source;
    let Some(list) = list else { return Vec::new() };
    if list.value == Value::Null {
        return Vec::new();
    }
    let Some(items) = list.as_seq() else {
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                list.span,
                format!("`resources` must be a list, found {}", list.type_name()),
                "here",
            )
            .with_help(
                "write each resource as a list item: `- file: { path: /etc/motd, content: hi }`",
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(r) = parse_resource(origin, item, diags) {
            out.push(r);
        }
    }
    out
}

/// The one `KIND: body` pair of a resource entry; a problem (not a map,
/// empty, settings without a kind, a second key) is reported at the entry.
fn kind_entry<'n>(
    src: &SourceFile,
    item: &'n Node,
    diags: &mut Diagnostics,
) -> Option<(&'n Node, &'n Node)> {
    let Some(entries) = item.as_map() else {
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                item.span,
                format!(
                    "a resource must be a map with its kind as key, found {}",
                    item.type_name()
                ),
                "here",
            )
            .with_help(format!("kinds: {}", resources::kind_names().join(", "))),
        );
        return None;
    };
    if entries.is_empty() {
        diags.push(Diag::at(
            "keel::schema",
            src,
            item.span,
            "empty resource",
            "here",
        ));
        return None;
    }
    let is_kind = |k: &Node| k.as_scalar_text().and_then(resources::kind).is_some();
    if entries.len() > 1 && !entries.iter().any(|(k, _)| is_kind(k)) {
        // `- { name: nginx, state: present }`: settings without a kind.
        let keys: Vec<String> = entries
            .iter()
            .take(4)
            .map(|(k, _)| crate::suggest::quoted_name(k.as_scalar_text().unwrap_or("?")))
            .collect();
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                entries[0].0.span,
                format!(
                    "a resource needs its kind as the key: {} look like settings, and no key is a kind",
                    keys.join(", ")
                ),
                "no kind",
            )
            .with_help(format!(
                "write the settings under the kind, e.g. `- package: {{ name: nginx, state: present }}`; kinds: {}",
                resources::kind_names().join(", ")
            )),
        );
        return None;
    }
    if entries.len() > 1 {
        let (k, _) = entries
            .iter()
            .find(|(k, _)| !is_kind(k))
            .unwrap_or(&entries[1]);
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                k.span,
                format!(
                    "a resource entry has one key, its kind; `{}` is a second key",
                    k.as_scalar_text().unwrap_or("?")
                ),
                "second key",
            )
            .with_help(
                "indent the resource's settings under its kind, or start a new entry with `- `",
            ),
        );
        return None;
    }
    let (key, body) = &entries[0];
    Some((key, body))
}

/// Parse one entry of `resources:`: `- KIND: { settings }`.
fn parse_resource(origin: &Origin, item: &Node, diags: &mut Diagnostics) -> Option<ResourceDecl> {
    let src = &origin.source;
    let (key, body) = kind_entry(src, item, diags)?;
    let kind_name = key.as_scalar_text().unwrap_or_default();
    let Some(kind) = resources::kind(kind_name) else {
        let names: Vec<String> = resources::kind_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        diags.push(
            Diag::at(
                "keel::unknown-kind",
                src,
                key.span,
                format!("unknown resource kind `{kind_name}`"),
                "not a kind",
            )
            .with_help(crate::suggest::closest_hint(kind_name, names.iter())),
        );
        return None;
    };
    let Some(fields) = body.as_map() else {
        diags.push(Diag::at(
            "keel::schema",
            src,
            body.span,
            format!(
                "the settings of a `{kind_name}` must be a map, found {}",
                body.type_name()
            ),
            "here",
        ));
        return None;
    };
    let mut id = None;
    let mut depends_on = Vec::new();
    let mut notify = Vec::new();
    let mut for_each = None;
    let mut when = None;
    let mut tags = Vec::new();
    let mut rest = Vec::new();
    for (k, v) in fields {
        match k.as_scalar_text() {
            Some("id") => id = scalar(src, v, "id", diags),
            Some("for_each") => for_each = Some(v.clone()),
            Some("when") => when = Some(v.clone()),
            Some("depends_on") => depends_on = strings(src, v, "depends_on", diags),
            Some("notify") => notify = strings(src, v, "notify", diags),
            Some("tags") => tags = tag_list(src, v, diags),
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    Some(ResourceDecl {
        kind,
        kind_span: key.span,
        body: Node::new(body.span, Value::Map(rest)),
        id,
        depends_on,
        notify,
        for_each,
        when,
        tags,
        origin: origin.clone(),
        span: item.span,
    })
}

/// Parse the `uses:` list of a stack or module.
pub fn parse_uses(origin: &Origin, list: Option<&Node>, diags: &mut Diagnostics) -> Vec<UseDecl> {
    let src = &origin.source;
    let Some(list) = list else { return Vec::new() };
    if list.value == Value::Null {
        return Vec::new();
    }
    let Some(items) = list.as_seq() else {
        diags.push(Diag::at(
            "keel::schema",
            src,
            list.span,
            format!("`uses` must be a list, found {}", list.type_name()),
            "here",
        ));
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| parse_use(origin, item, diags))
        .collect()
}

/// Parse one module use: `- module: NAME` with its optional keys.
fn parse_use(origin: &Origin, item: &Node, diags: &mut Diagnostics) -> Option<UseDecl> {
    let src = &origin.source;
    let Some(entries) = item.as_map() else {
        diags.push(
            Diag::at(
                "keel::schema",
                src,
                item.span,
                format!("a module use must be a map, found {}", item.type_name()),
                "here",
            )
            .with_help("write `- module: NAME` with optional `id:`, `with:`, `depends_on:`, `for_each:` and `when:`"),
        );
        return None;
    };
    let mut module = None;
    let mut id = None;
    let mut with = None;
    let mut depends_on = Vec::new();
    let mut for_each = None;
    let mut when = None;
    let mut tags = Vec::new();
    let mut ok = true;
    let mut reserved = false;
    for (k, v) in entries {
        match k.as_scalar_text() {
            Some("module") if v.as_map().is_some() => {
                // Reserved: `module: { name: x, version: 1.2 }` or
                // `{ name: x, git: URL, ref: v1 }`.
                diags.push(reserved_module(src, v));
                ok = false;
                reserved = true;
            }
            Some("module") => module = scalar(src, v, "module", diags),
            Some("id") => id = scalar(src, v, "id", diags),
            Some("with") => {
                if v.value != Value::Null && v.as_map().is_none() {
                    diags.push(Diag::at(
                        "keel::schema",
                        src,
                        v.span,
                        format!(
                            "`with` must be a map of input values, found {}",
                            v.type_name()
                        ),
                        "here",
                    ));
                    ok = false;
                } else {
                    with = Some(v.clone());
                }
            }
            Some("depends_on") => depends_on = strings(src, v, "depends_on", diags),
            Some("for_each") => for_each = Some(v.clone()),
            Some("when") => when = Some(v.clone()),
            Some("tags") => tags = tag_list(src, v, diags),
            other => {
                diags.push(unknown_use_key(src, k, other.unwrap_or("?")));
                ok = false;
            }
        }
    }
    match module {
        Some(module) if ok => Some(UseDecl {
            module,
            id,
            with,
            depends_on,
            for_each,
            when,
            tags,
            origin: origin.clone(),
            span: item.span,
        }),
        Some(_) => None,
        None if reserved => None,
        None => {
            diags.push(Diag::at(
                "keel::schema",
                src,
                item.span,
                "a module use needs `module: NAME`",
                "here",
            ));
            None
        }
    }
}

/// `module:` written as a map (a version or a git source): reserved.
fn reserved_module(src: &SourceFile, v: &Node) -> Diag {
    Diag::at(
        "keel::schema",
        src,
        v.span,
        "module versions and git sources are not supported yet",
        "reserved for later",
    )
    .with_help(
        "name the module by its folder, `module: NAME`; it is looked up in the project's modules/, the module path, then the modules bundled with keel",
    )
}

/// A key a module use does not have, with the closest one it has.
fn unknown_use_key(src: &SourceFile, k: &Node, other: &str) -> Diag {
    let known: Vec<String> = [
        "module",
        "id",
        "with",
        "depends_on",
        "for_each",
        "when",
        "tags",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Diag::at(
        "keel::schema",
        src,
        k.span,
        format!("unknown key `{other}` in a module use"),
        "not recognised",
    )
    .with_help(crate::suggest::closest_hint(other, known.iter()))
}
