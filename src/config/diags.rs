//! How the loader's own errors become diagnostics: a YAML syntax error
//! ([`ParseError`]) and a typed-deserialization error ([`NodeError`]), each
//! pointed at its file with a hint of what to do. (`diag` knows nothing of
//! the loader; the loader builds on `diag`.)

use crate::diag::{Diag, SourceFile};
use crate::node::{NodeError, ParseError, Span};

impl ParseError {
    /// The diagnostic for this YAML syntax error in `source`.
    pub fn to_diag(&self, source: &SourceFile) -> Diag {
        let text = source.text();
        let start = text[..self.span.offset.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = text[start..].lines().next().unwrap_or_default();
        let help = if let Some(h) = self.help {
            h
        } else if (line.contains("depends_on:") || line.contains("notify:")) && line.contains('[') {
            "addresses such as `package[nginx]` contain brackets, which YAML reads as a list inside `[...]`: quote them (`[\"package[nginx]\"]`) or write a block list (`- package[nginx]`)"
        } else {
            "check indentation, quoting and brackets around this point"
        };
        Diag::at(
            "keel::yaml",
            source,
            self.span,
            format!("invalid YAML: {}", self.message),
            "here",
        )
        .with_help(help)
    }
}

impl NodeError {
    /// The diagnostic for this deserialization error in `source` (at
    /// `fallback` when the error has no span), with a "did you mean" hint
    /// for unknown keys and values; `what` opens the message.
    pub fn to_diag(&self, source: &SourceFile, fallback: Span, what: &str) -> Diag {
        let label = if self.found.is_some() {
            "not recognised"
        } else {
            "here"
        };
        let d = Diag::at(
            "keel::schema",
            source,
            self.span.unwrap_or(fallback),
            format!("{what}: {}", self.message),
            label,
        );
        match self.hint() {
            Some(h) => d.with_help(h),
            None => d,
        }
    }
}
