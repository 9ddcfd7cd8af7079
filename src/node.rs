//! A YAML document as a tree of spanned nodes, and a serde `Deserializer` over it.
//!
//! serde-saphyr parses the text once into [`Node`]s that each remember their
//! byte span. Typed structures (stacks, resources, module inputs) are then
//! deserialized from those nodes piece by piece, so that:
//! - one broken resource does not hide the errors of the next one (every
//!   resource is deserialized on its own and all errors are collected);
//! - every error carries the span of the innermost node it came from (an
//!   unknown key points at the key, a wrong type at the value);
//! - string fields read a scalar's *source text*, so `mode: 0644` stays
//!   `"0644"` and `version: 1.10` stays `"1.10"` (no YAML 1.1 surprises).
//!
//! [`Spanned<T>`] captures the span of any value for later diagnostics
//! (dangling `depends_on`, duplicate addresses, ...).

use serde::de::{
    self, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::diag::Span;

/// One YAML value with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

/// The shape of a YAML value. Scalars that are not strings keep their source
/// text so that string fields can read them verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool, String),
    Int(i64, String),
    Float(f64, String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(span: Span, value: Value) -> Self {
        Node { span, value }
    }

    /// Parse one of keel's own YAML files into a node tree. An empty
    /// document is `Null`. Application tags (`!env HOME`) are refused: keel
    /// gives them no meaning, and dropping them would use the text instead.
    pub fn parse(src: &str) -> Result<Node, ParseError> {
        Node::parse_with(src, true)
    }

    /// Parse a YAML document keel only reads for another program (a compose
    /// file, whose `!reset` and `!override` tags are Compose's): tags are
    /// kept out of the tree, not refused.
    pub fn parse_foreign(src: &str) -> Result<Node, ParseError> {
        Node::parse_with(src, false)
    }

    fn parse_with(src: &str, reject_tags: bool) -> Result<Node, ParseError> {
        if src.trim().is_empty()
            || src
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(Node::new(Span::default(), Value::Null));
        }
        let mut options = serde_saphyr::Options::default();
        options.reject_unsupported_tags = reject_tags;
        let raw: serde_saphyr::Spanned<Raw> = serde_saphyr::from_str_with_options(src, options)
            .map_err(|e| ParseError::from_saphyr(&e, src))?;
        Ok(convert(raw, src))
    }

    /// Short name of the node's type, for messages ("a map", "a string").
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(..) => "a boolean",
            Value::Int(..) => "an integer",
            Value::Float(..) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// The scalar's text, if it is a scalar.
    pub fn as_scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            Value::Bool(_, t) | Value::Int(_, t) | Value::Float(_, t) => Some(t),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Look up a key of a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar_text() == Some(key))
            .map(|(_, v)| v)
    }

    /// Deserialize a typed value from this node.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, NodeError> {
        T::deserialize(NodeDeserializer { node: self })
    }

    /// Convert to JSON (for template contexts and vars). Scalars keep their type.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            // Only canonical forms become booleans and numbers in templates;
            // `on`, `1.10`, `010` keep the text the user wrote.
            Value::Bool(b, t)
                if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") =>
            {
                J::Bool(*b)
            }
            Value::Int(i, t) if *t == i.to_string() => J::from(*i),
            Value::Float(f, t) if t.parse::<f64>().ok() == Some(*f) && f.to_string() == *t => {
                serde_json::Number::from_f64(*f)
                    .map(J::Number)
                    .unwrap_or_else(|| J::String(t.clone()))
            }
            Value::Bool(_, t) | Value::Int(_, t) | Value::Float(_, t) => J::String(t.clone()),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_scalar_text().unwrap_or_default().to_string(),
                            v.to_json(),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Build a node (with a given span) from JSON, e.g. after rendering.
    pub fn from_json(v: &serde_json::Value, span: Span) -> Node {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b, b.to_string()),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i, n.to_string()),
                None => Value::Float(n.as_f64().unwrap_or(0.0), n.to_string()),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::Seq(a.iter().map(|x| Node::from_json(x, span)).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, x)| {
                        (
                            Node::new(span, Value::Str(k.clone())),
                            Node::from_json(x, span),
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(span, value)
    }
}

/// A YAML syntax error (or a document serde-saphyr refused), with its span.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
    /// What to do, when the message calls for more than "check the syntax".
    pub help: Option<&'static str>,
}

impl ParseError {
    fn from_saphyr(e: &serde_saphyr::Error, src: &str) -> Self {
        let span = e
            .location()
            .map(|loc| {
                let s = loc.span();
                match s.byte_offset() {
                    Some(off) => Span::new(off as usize, s.byte_len().unwrap_or(0) as usize),
                    None => Span::new(line_col_to_offset(src, loc.line(), loc.column()), 0),
                }
            })
            .unwrap_or_default();
        let e = e.without_snippet();
        ParseError {
            message: user_message(e),
            span,
            help: user_help(e),
        }
    }
}

/// A hint for the problems whose fix is not about indentation or quoting.
fn user_help(e: &serde_saphyr::Error) -> Option<&'static str> {
    use serde_saphyr::Error as E;
    Some(match e {
        E::DuplicateMappingKey { .. } => {
            "keep one of the two; the second would silently win in many YAML tools"
        }
        E::MultipleDocuments { .. } => {
            "remove the `---` line and merge the two, or split them into two files"
        }
        E::UnsupportedTag { .. } => {
            "write the value itself; for a value from the environment, declare it under `secrets:` with `env:`"
        }
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => "the limits are in the README (\"Limits\")",
        E::AliasError { error, .. } => return user_help(error.without_snippet()),
        _ => return None,
    })
}

/// serde-saphyr's message in a YAML user's words: no API names, no Rust
/// debug output, no "at line N" (the location is shown separately).
fn user_message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    match e {
        E::DuplicateMappingKey { key: Some(k), .. } => format!(
            "the key `{}` appears twice in this map",
            k.chars()
                .take(crate::suggest::MAX_SUGGEST_CHARS)
                .collect::<String>()
        ),
        E::DuplicateMappingKey { key: None, .. } => "a key appears twice in this map".to_string(),
        E::MultipleDocuments { .. } => {
            "a second YAML document (`---`) starts here: a keel file holds one document".to_string()
        }
        E::UnsupportedTag { tag, .. } => format!(
            "the YAML tag `{}` is not supported: keel gives tags no meaning (they do not read environment variables or files)",
            tag.chars()
                .take(crate::suggest::MAX_SUGGEST_CHARS)
                .collect::<String>()
        ),
        E::Budget { breach, .. } => match breach {
            B::Depth { .. } => {
                "lists and maps are nested too deeply here (more than 64 levels)".to_string()
            }
            B::Aliases { .. }
            | B::AliasAnchorRatio { .. }
            | B::RecordedAnchorEvents { .. }
            | B::RecordedAnchorBytes { .. } => {
                "too many aliases (`*name`) or alias expansions in this file".to_string()
            }
            B::Anchors { .. } => "too many anchors (`&name`) in this file".to_string(),
            B::Documents { .. } => "too many YAML documents (`---`) in this file".to_string(),
            B::Nodes { .. } => {
                "too many values in this file (aliases `*name` may expand to more than 250,000)"
                    .to_string()
            }
            _ => "this file is too large or too complex for keel to read".to_string(),
        },
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => {
            "aliases (`*name`) expand to too much data here".to_string()
        }
        E::InvalidScalar { ty, .. } => format!(
            "this value does not match its tag: it is not {}",
            match *ty {
                t if t.starts_with('u') || t.starts_with('i') => "an integer",
                t if t.starts_with('f') => "a number",
                "bool" => "true or false",
                _ => "of that type",
            }
        ),
        E::AliasError { error, .. } => user_message(error.without_snippet()),
        E::UnknownAnchor { .. } => {
            "an alias (`*name`) refers to an anchor (`&name`) that is not defined before it"
                .to_string()
        }
        other => {
            let text = other.to_string();
            let first = text.lines().next().unwrap_or("invalid YAML").trim();
            // "... at line 3, column 5": the label shows where.
            let first = match first.rfind(" at line ") {
                Some(i) => &first[..i],
                None => first,
            };
            first.to_string()
        }
    }
}

fn line_col_to_offset(src: &str, line: u64, col: u64) -> usize {
    let mut off = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let chars: usize = l
                .chars()
                .take(col.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return off + chars;
        }
        off += l.len();
    }
    src.len()
}

// ---------------------------------------------------------------------------
// From serde-saphyr's spanned values to nodes.

#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<serde_saphyr::Spanned<Raw>>),
    Map(Vec<(serde_saphyr::Spanned<Raw>, serde_saphyr::Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Raw, E> {
                Err(E::custom(
                    "binary values (`!!binary`) are not supported; write the text itself",
                ))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Raw::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = a.next_key()? {
                    let val = a.next_value()?;
                    v.push((k, val));
                }
                Ok(Raw::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn raw_span(loc: &serde_saphyr::Location, src: &str) -> Span {
    let s = loc.span();
    match s.byte_offset() {
        Some(off) => Span::new(off as usize, s.byte_len().unwrap_or(0) as usize),
        None => Span::new(line_col_to_offset(src, loc.line(), loc.column()), 0),
    }
}

fn convert(raw: serde_saphyr::Spanned<Raw>, src: &str) -> Node {
    let mut span = raw_span(&raw.referenced, src);
    let text = |span: Span| -> String {
        src.get(span.offset..span.offset + span.len)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b, non_empty(text(span), || b.to_string())),
        Raw::Int(i) => Value::Int(i, non_empty(text(span), || i.to_string())),
        Raw::Float(f) => Value::Float(f, non_empty(text(span), || f.to_string())),
        Raw::Str(s) => {
            if span.len == 0 {
                span.len = s.len().min(src.len().saturating_sub(span.offset));
            }
            Value::Str(s)
        }
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| convert(n, src)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, src), convert(v, src)))
                .collect(),
        ),
    };
    Node { span, value }
}

fn non_empty(s: String, fallback: impl FnOnce() -> String) -> String {
    if s.is_empty() { fallback() } else { s }
}

// ---------------------------------------------------------------------------
// Spanned<T>: a value with the span it came from.

const SPANNED_NAME: &str = "__keel_spanned";

/// A deserialized value and the span of the node it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Spanned<T> {
    pub fn new(span: Span, value: T) -> Self {
        Spanned { span, value }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let offset: usize = a.next_element()?.unwrap_or_default();
                let len: usize = a.next_element()?.unwrap_or_default();
                let value: T = a
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("missing value"))?;
                Ok(Spanned::new(Span::new(offset, len), value))
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                Ok(Spanned::new(Span::default(), T::deserialize(d)?))
            }
        }
        d.deserialize_newtype_struct(SPANNED_NAME, V(std::marker::PhantomData))
    }
}

// ---------------------------------------------------------------------------
// The deserializer over nodes.

/// An error while deserializing typed data from a node, with the span of the
/// innermost node it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeError {
    pub message: String,
    pub span: Option<Span>,
    /// For unknown keys or variants: the accepted names, for "did you mean".
    pub expected: Vec<&'static str>,
    pub found: Option<String>,
    /// The message already names the key it is under.
    pub keyed: bool,
}

impl NodeError {
    pub fn at(span: Span, message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            span: Some(span),
            expected: Vec::new(),
            found: None,
            keyed: false,
        }
    }
    fn or_span(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
    /// A hint for unknown names: the closest accepted one, or the list.
    pub fn hint(&self) -> Option<String> {
        let found = self.found.as_deref()?;
        if self.expected.is_empty() {
            return None;
        }
        Some(
            match crate::suggest::closest(found, self.expected.iter().copied()) {
                Some(e) => format!("did you mean `{e}`?"),
                None => format!(
                    "accepted here: {}",
                    self.expected
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        )
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NodeError {}

impl de::Error for NodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NodeError {
            message: msg.to_string(),
            span: None,
            expected: Vec::new(),
            found: None,
            keyed: false,
        }
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        NodeError {
            message: format!("unknown key `{field}`"),
            span: None,
            expected: expected.to_vec(),
            found: Some(field.to_string()),
            keyed: true,
        }
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        NodeError {
            message: format!("unknown value `{variant}`"),
            span: None,
            expected: expected.to_vec(),
            found: Some(variant.to_string()),
            keyed: false,
        }
    }
    fn missing_field(field: &'static str) -> Self {
        NodeError::custom(format!("missing required key `{field}`"))
    }
    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        NodeError::custom(format!(
            "expected {}, found {}",
            expected_words(&exp.to_string()),
            describe(unexp)
        ))
    }
    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        NodeError::custom(format!(
            "{} is not valid here: expected {}",
            describe(unexp),
            expected_words(&exp.to_string())
        ))
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        NodeError::custom(format!(
            "expected {}, found {len} item(s)",
            expected_words(&exp.to_string())
        ))
    }
}

/// serde's names of Rust types, in the words of a YAML user.
fn expected_words(exp: &str) -> String {
    let ranged = |lo: &str, hi: &str| format!("an integer from {lo} to {hi}");
    match exp {
        "u8" => ranged("0", "255"),
        "u16" => ranged("0", "65535"),
        "u32" => ranged("0", "4294967295"),
        "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        e if e.starts_with("struct ") => "a map of settings".into(),
        e if e.starts_with("a sequence") => "a list".into(),
        e if e.starts_with("enum ") => "one of the accepted names".into(),
        e if e.starts_with("tuple struct") || e.starts_with("tuple of") => "a list".into(),
        e => e.to_string(),
    }
}

fn describe(u: de::Unexpected) -> String {
    match u {
        de::Unexpected::Map => "a map".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Unit => "null".into(),
        de::Unexpected::Str(s) => format!("the string {s:?}"),
        other => other.to_string(),
    }
}

/// Deserializes one node.
pub struct NodeDeserializer<'a> {
    pub node: &'a Node,
}

impl<'a> NodeDeserializer<'a> {
    fn spanned<T>(&self, r: Result<T, NodeError>) -> Result<T, NodeError> {
        r.map_err(|e| e.or_span(self.node.span))
    }
}

struct SeqDe<'a> {
    iter: std::slice::Iter<'a, Node>,
}

impl<'de, 'a: 'de> SeqAccess<'de> for SeqDe<'a> {
    type Error = NodeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, NodeError> {
        match self.iter.next() {
            Some(n) => seed.deserialize(NodeDeserializer { node: n }).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDe<'a> {
    iter: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
    key: Option<&'a str>,
}

impl<'de, 'a: 'de> MapAccess<'de> for MapDe<'a> {
    type Error = NodeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, NodeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                self.key = k.as_scalar_text();
                seed.deserialize(NodeDeserializer { node: k })
                    .map(Some)
                    .map_err(|e| e.or_span(k.span))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NodeError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| NodeError::custom("value without key"))?;
        let key = self.key.take();
        seed.deserialize(NodeDeserializer { node: v })
            .map_err(|mut e| {
                // Name the innermost key the problem is under.
                if !e.keyed
                    && let Some(k) = key
                {
                    e.message = if e.found.is_some() {
                        // An unknown value: "unknown value `x` for `state`".
                        format!("{} for `{k}`", e.message)
                    } else {
                        format!("`{k}`: {}", e.message)
                    };
                    e.keyed = true;
                }
                e
            })
    }
}

struct SpannedDe<'a> {
    node: &'a Node,
    step: u8,
}

impl<'de, 'a: 'de> SeqAccess<'de> for SpannedDe<'a> {
    type Error = NodeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, NodeError> {
        self.step += 1;
        match self.step {
            1 => seed
                .deserialize(self.node.span.offset.into_deserializer())
                .map(Some),
            2 => seed
                .deserialize(self.node.span.len.into_deserializer())
                .map(Some),
            3 => seed
                .deserialize(NodeDeserializer { node: self.node })
                .map(Some),
            _ => Ok(None),
        }
    }
}

struct EnumDe<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
}

impl<'de, 'a: 'de> EnumAccess<'de> for EnumDe<'a> {
    type Error = NodeError;
    type Variant = VariantDe<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe<'a>), NodeError> {
        let v = seed
            .deserialize(NodeDeserializer { node: self.key })
            .map_err(|e| e.or_span(self.key.span))?;
        Ok((
            v,
            VariantDe {
                key: self.key,
                value: self.value,
            },
        ))
    }
}

struct VariantDe<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
}

impl<'de, 'a: 'de> VariantAccess<'de> for VariantDe<'a> {
    type Error = NodeError;
    fn unit_variant(self) -> Result<(), NodeError> {
        match self.value {
            None => Ok(()),
            Some(v) if v.value == Value::Null => Ok(()),
            Some(v) => Err(NodeError::at(v.span, "this option takes no value")),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, NodeError> {
        match self.value {
            Some(v) => seed.deserialize(NodeDeserializer { node: v }),
            None => Err(NodeError::at(self.key.span, "expected a value after this")),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        match self.value {
            Some(v) => de::Deserializer::deserialize_seq(NodeDeserializer { node: v }, visitor),
            None => Err(NodeError::at(self.key.span, "expected a list after this")),
        }
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        match self.value {
            Some(v) => de::Deserializer::deserialize_map(NodeDeserializer { node: v }, visitor),
            None => Err(NodeError::at(self.key.span, "expected a map after this")),
        }
    }
}

impl<'de, 'a: 'de> de::Deserializer<'de> for NodeDeserializer<'a> {
    type Error = NodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b, _) => visitor.visit_bool(*b),
            Value::Int(i, _) => visitor.visit_i64(*i),
            Value::Float(f, _) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe { iter: items.iter() }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                iter: entries.iter(),
                value: None,
                key: None,
            }),
        };
        self.spanned(r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        static EMPTY: [(Node, Node); 0] = [];
        let r = match &self.node.value {
            Value::Map(entries) => visitor.visit_map(MapDe {
                iter: entries.iter(),
                value: None,
                key: None,
            }),
            // An empty value (`web1:`) is an empty map: defaults apply and
            // missing required keys are named.
            Value::Null => visitor.visit_map(MapDe {
                iter: EMPTY.iter(),
                value: None,
                key: None,
            }),
            _ => Err(NodeError::custom(format!(
                "expected a map of settings (`key: value` lines), found {}",
                self.node.type_name()
            ))),
        };
        self.spanned(r)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let r = match &self.node.value {
            Value::Seq(items) => visitor.visit_seq(SeqDe { iter: items.iter() }),
            _ => Err(NodeError::custom(format!(
                "expected a list (`- item` lines or `[a, b]`), found {}",
                self.node.type_name()
            ))),
        };
        self.spanned(r)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let r = match &self.node.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bool(_, t) | Value::Int(_, t) | Value::Float(_, t) => {
                visitor.visit_borrowed_str(t)
            }
            _ => return self.deserialize_any(visitor),
        };
        self.spanned(r)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(NodeDeserializer { node: self.node }),
        };
        self.spanned(r)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        let r = if name == SPANNED_NAME {
            visitor.visit_seq(SpannedDe {
                node: self.node,
                step: 0,
            })
        } else {
            visitor.visit_newtype_struct(NodeDeserializer { node: self.node })
        };
        self.spanned(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        let r = match &self.node.value {
            Value::Str(_) | Value::Bool(..) | Value::Int(..) => visitor.visit_enum(EnumDe {
                key: self.node,
                value: None,
            }),
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumDe {
                key: &entries[0].0,
                value: Some(&entries[0].1),
            }),
            Value::Map(entries) if entries.is_empty() => Err(NodeError::at(
                self.node.span,
                "expected exactly one key here, found an empty map",
            )),
            Value::Map(entries) => Err(NodeError::at(
                entries[1].0.span,
                "expected exactly one key here: a second key starts a new entry (add `- ` before it?)",
            )),
            _ => Err(NodeError::custom(format!(
                "expected a name or a one-key map, found {}",
                self.node.type_name()
            ))),
        };
        self.spanned(r)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let r = match &self.node.value {
            Value::Bool(b, _) => visitor.visit_bool(*b),
            _ => Err(NodeError::custom(format!(
                "expected true or false, found {}",
                self.node.type_name()
            ))),
        };
        self.spanned(r)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit_struct tuple
        tuple_struct ignored_any
    }
}

/// A spanned value has the schema of its value.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: Spanned<String>,
        mode: String,
        #[serde(default)]
        list: Vec<u32>,
    }

    #[test]
    fn spans_point_at_values() {
        let src = "name: hello\nmode: 0644\nlist: [1, 2]\n";
        let n = Node::parse(src).unwrap();
        let d: Doc = n.deserialize().unwrap();
        assert_eq!(d.name.value, "hello");
        assert_eq!(&src[d.name.span.offset..d.name.span.offset + 5], "hello");
        assert_eq!(d.mode, "0644", "string fields read the source text");
        assert_eq!(d.list, vec![1, 2]);
    }

    #[test]
    fn unknown_key_points_at_key_with_hint() {
        let src = "name: x\nmode: a\nlsit: []\n";
        let n = Node::parse(src).unwrap();
        let e = n.deserialize::<Doc>().unwrap_err();
        let span = e.span.unwrap();
        assert_eq!(&src[span.offset..span.offset + 4], "lsit");
        assert_eq!(e.hint().as_deref(), Some("did you mean `list`?"));
    }

    #[test]
    fn wrong_type_points_at_value() {
        let src = "name: x\nmode: a\nlist: nope\n";
        let n = Node::parse(src).unwrap();
        let e = n.deserialize::<Doc>().unwrap_err();
        let span = e.span.unwrap();
        assert_eq!(&src[span.offset..span.offset + 4], "nope");
        assert!(e.message.contains("expected"), "{}", e.message);
    }

    #[test]
    fn missing_key_points_at_map() {
        let src = "name: x\n";
        let n = Node::parse(src).unwrap();
        let e = n.deserialize::<Doc>().unwrap_err();
        assert!(e.message.contains("`mode`"));
        assert!(e.span.is_some());
    }

    #[test]
    fn syntax_error_has_location() {
        let src = "a: [1, 2\nb: c\n";
        let e = Node::parse(src).unwrap_err();
        assert!(!e.message.is_empty());
    }

    #[test]
    fn vars_keep_the_text_of_non_canonical_scalars() {
        let n = Node::parse("a: [true, on, 1.10, 1.5, 010, 42, -3, 1e3]\n").unwrap();
        assert_eq!(
            n.to_json(),
            serde_json::json!({"a": [true, "on", "1.10", 1.5, "010", 42, -3, "1e3"]})
        );
    }

    #[test]
    fn tags_are_refused_in_keel_files_and_kept_out_of_foreign_ones() {
        let e = Node::parse("a: !env HOME\n").unwrap_err();
        assert!(
            e.message.contains("`!env` is not supported"),
            "{}",
            e.message
        );
        assert_eq!(e.span.offset, 8, "at the tagged value");
        let n = Node::parse_foreign("a: !reset null\nb: !override [1]\n").unwrap();
        assert_eq!(n.to_json(), serde_json::json!({"a": null, "b": [1]}));
        // Standard tags are fine everywhere.
        let n = Node::parse("a: !!str 010\n").unwrap();
        assert_eq!(n.get("a").unwrap().as_scalar_text(), Some("010"));
    }

    #[test]
    fn library_internals_never_reach_the_message() {
        for (src, want) in [
            ("a: 1\na: 2\n", "the key `a` appears twice"),
            ("a: 1\n---\nb: 2\n", "a second YAML document"),
            (
                &format!("a: {}{}\n", "[".repeat(70), "]".repeat(70)),
                "nested too deeply",
            ),
            ("a: *nope\n", "not defined before it"),
        ] {
            let e = Node::parse(src).unwrap_err();
            assert!(e.message.contains(want), "{src}: {}", e.message);
            for leak in ["Options", "from_str", "budget", "Depth", " at line "] {
                assert!(!e.message.contains(leak), "{src}: {}", e.message);
            }
        }
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(
            Node::parse("# only a comment\n").unwrap().value,
            Value::Null
        );
    }
}
