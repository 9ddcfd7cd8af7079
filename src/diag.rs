//! Diagnostics: errors in user input, pointing at file, line and column.
//!
//! Every loading and resolving stage collects [`Diag`]s instead of stopping at
//! the first problem; a run reports them all together as [`Diagnostics`].
//! A `Diag` is a miette diagnostic with a named source, a labelled span and
//! an optional hint, rendered at the edge of the program (the binary).

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(offset: usize, len: usize) -> Self {
        Span { offset, len }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.offset, s.len).into()
    }
}

/// A loaded file, shared by every diagnostic that points into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<NamedSource<String>>,
    /// Where each line starts, computed on first use and shared by clones:
    /// [`SourceFile::line_col`] is then a binary search (counting newlines
    /// from the top per call was quadratic for `keel drift`'s locations).
    lines: Arc<LineStarts>,
}

/// Byte offsets of the starts of a text's lines (Debug shows no contents:
/// whether it was computed yet must not change a value's Debug form).
#[derive(Default)]
struct LineStarts(std::sync::OnceLock<Vec<usize>>);

impl std::fmt::Debug for LineStarts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineStarts")
    }
}

impl SourceFile {
    /// A file's text under the name messages give it (see
    /// `config::display_path`).
    pub fn new(name: String, text: String) -> Self {
        SourceFile {
            text: Arc::new(NamedSource::new(&name, text).with_language("yaml")),
            name,
            lines: Arc::default(),
        }
    }

    /// A file read as bytes: text when it is UTF-8, else a diagnostic at
    /// the line and column of the first byte that is not.
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<Self, Diagnostics> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(name, text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bad = e.as_bytes()[at];
                // The valid prefix is the same text, so offsets match.
                let src = SourceFile::new(name, String::from_utf8_lossy(e.as_bytes()).into_owned());
                let (line, col) = src.line_col(at);
                Err(Diag::at(
                    "keel::encoding",
                    &src,
                    Span {
                        offset: at,
                        len: char::REPLACEMENT_CHARACTER.len_utf8(),
                    },
                    format!(
                        "{} is not UTF-8: byte 0x{bad:02X} at line {line}, column {col}",
                        src.name
                    ),
                    "not UTF-8",
                )
                .with_help(
                    "keel reads UTF-8 only: re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or remove the byte",
                )
                .into())
            }
        }
    }

    pub fn text(&self) -> &str {
        self.text.inner()
    }

    /// Byte offset of a 1-based line and column (columns count characters);
    /// clamped to the end of the line or the file.
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let text = self.text();
        let mut start = 0;
        for _ in 1..line.max(1) {
            match text[start..].find('\n') {
                Some(i) => start += i + 1,
                None => return text.len(),
            }
        }
        let line_text = text[start..].split('\n').next().unwrap_or_default();
        start
            + line_text
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(line_text.len(), |(i, _)| i)
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let text = self.text();
        let offset = offset.min(text.len());
        let starts = self.lines.0.get_or_init(|| {
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // starts[0] = 0 <= offset: at least one start precedes it.
        let line = starts.partition_point(|&s| s <= offset);
        let col = text[starts[line - 1]..offset].chars().count() + 1;
        (line, col)
    }
}

/// One problem in the user's input.
#[derive(Debug, Clone)]
pub struct Diag {
    pub message: String,
    pub source: Option<SourceFile>,
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
    /// Further places that explain this one (e.g. the first definition of a
    /// duplicate, each edge of a cycle).
    pub notes: Vec<(Span, String)>,
    pub code: &'static str,
    /// A warning: reported, but the run goes on.
    pub warning: bool,
    /// Places in other files that explain this one (the `template:` setting
    /// of an error inside a template file), shown below it.
    pub related: Vec<Diag>,
    /// Shown as advice: set on the `related` places of a diagnostic.
    pub advice: bool,
}

impl Diag {
    /// A diagnostic that points at a span in a file.
    pub fn at(
        code: &'static str,
        source: &SourceFile,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Diag {
            message: message.into(),
            source: Some(source.clone()),
            span: Some(span),
            label: label.into(),
            help: None,
            notes: Vec::new(),
            code,
            warning: false,
            related: Vec::new(),
            advice: false,
        }
    }

    /// A diagnostic without a location (a missing file, a command-line problem).
    pub fn plain(code: &'static str, message: impl Into<String>) -> Self {
        Diag {
            message: message.into(),
            source: None,
            span: None,
            label: String::new(),
            help: None,
            notes: Vec::new(),
            code,
            warning: false,
            related: Vec::new(),
            advice: false,
        }
    }

    /// Make this a warning.
    pub fn into_warning(mut self) -> Self {
        self.warning = true;
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, span: Span, note: impl Into<String>) -> Self {
        self.notes.push((span, note.into()));
        self
    }

    /// A place in another file that explains this diagnostic (shown as
    /// advice, not counted as a problem of its own).
    pub fn with_related(mut self, mut d: Diag) -> Self {
        d.advice = true;
        self.related.push(d);
        self
    }

    /// `file:line:col` of the primary span, for plain-text output and logs.
    pub fn location(&self) -> Option<String> {
        let (src, span) = (self.source.as_ref()?, self.span?);
        let (l, c) = src.line_col(span.offset);
        Some(format!("{}:{l}:{c}", src.name))
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.advice {
            miette::Severity::Advice
        } else if self.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| &*s.text as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        self.source.as_ref()?;
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), span);
        let notes = self
            .notes
            .iter()
            .map(|(s, n)| LabeledSpan::new_with_span(Some(n.clone()), *s));
        Some(Box::new(std::iter::once(primary).chain(notes)))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}

/// Every problem found in one run, reported together.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diag>);

impl Diagnostics {
    /// Plain-text rendering on one line, for a host-level error:
    /// `file:line:col: message; ...`.
    pub fn one_line(&self) -> String {
        self.0
            .iter()
            .map(|d| match d.location() {
                Some(l) => format!("{l}: {}", d.message),
                None => d.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }
    pub fn push(&mut self, d: Diag) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// `Ok(value)` when nothing was reported, else every diagnostic.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diag> for Diagnostics {
    fn from(d: Diag) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0.len() {
            1 => write!(f, "{}", self.0[0]),
            n => write!(f, "{n} problems found"),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostic for Diagnostics {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.0.iter().map(|d| d as &dyn Diagnostic)))
    }
}

#[cfg(test)]
mod tests {
    use super::SourceFile;

    #[test]
    fn line_col_counts_lines_and_characters_at_every_offset() {
        let text = "a: 1\n\nné: ü\r\n  - x\nlast";
        let src = SourceFile::new("t.yaml".into(), text.into());
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            assert_eq!(src.line_col(offset), (line, col), "offset {offset}");
        }
        assert_eq!(src.line_col(10_000), src.line_col(text.len()), "clamped");
        let clone = src.clone();
        assert_eq!(clone.line_col(6), (3, 1));
        assert_eq!(format!("{src:?}"), format!("{clone:?}"));
    }
}
