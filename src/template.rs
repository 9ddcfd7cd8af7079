//! Templates: handlebars in strict mode, without HTML escaping.
//!
//! Strings in stacks and modules, and template files, are rendered with a
//! context of `vars`, `inputs` (inside modules), `host`, `facts` and
//! `secrets`. A missing variable is an error naming the template, the line
//! and the variable (strict mode). Note that handlebars' `{{#if missing}}`
//! silently takes the false branch even in strict mode.
//!
//! Helpers (`default`, `json`, `join`, arithmetic, ...) are in [`helpers`].
//!
//! Each distinct template text is compiled once per engine (per run) and
//! kept, keyed by its text: a stack's templates are rendered once per host,
//! and compiling is most of the cost of a render.
//!
//! An engine made with [`Templates::probing_facts`] also finds out whether
//! rendering depends on host facts, in the same pass (`keel validate`):
//! every render is done a second time with other facts, and any difference
//! (or an error only with the other facts) marks the facts as used.

mod helpers;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use handlebars::{
    Context, Handlebars, RenderContext, RenderError, RenderErrorReason, Renderable, Template,
};

// The stack language's helpers and typed values (loops, conditions).
pub mod lang;
mod limits;
pub(crate) use limits::per_host_budget;
use limits::{BoundedOutput, MAX_RENDERED, too_large};

/// A rendering problem, with its line and column inside the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The variable that is missing, for strict-mode errors.
    pub variable: Option<String>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, " (template line {l}, column {c})")?;
        }
        Ok(())
    }
}

/// A context rendered with many times (a host's, a loop item's), kept in
/// the form handlebars renders with: rendering with a plain JSON value
/// copies all of it first, on every render.
#[derive(Debug, Clone)]
pub struct Ctx {
    hb: Context,
    /// The same context with other facts, for an engine that probes facts
    /// ([`Templates::probing_facts`]): made on its first use, with the
    /// facts it was made with (let go when the context changes).
    other_facts: OnceLock<(serde_json::Value, Context)>,
}

impl Ctx {
    pub fn new(data: serde_json::Value) -> Ctx {
        Ctx {
            hb: Context::from(data),
            other_facts: OnceLock::new(),
        }
    }

    pub fn data(&self) -> &serde_json::Value {
        self.hb.data()
    }

    pub fn data_mut(&mut self) -> &mut serde_json::Value {
        self.other_facts = OnceLock::new();
        self.hb.data_mut()
    }
}

/// `data` with its `facts` replaced by `other`.
fn with_facts(data: &serde_json::Value, other: &serde_json::Value) -> Context {
    #[cfg(test)]
    tests::COPIES.with(|n| n.set(n.get() + 1));
    let mut alt = data.clone();
    alt["facts"] = other.clone();
    Context::from(alt)
}

/// What a template renders with: a JSON value (copied into a handlebars
/// context for each render) or a [`Ctx`] (used as it is).
pub trait RenderData {
    fn json(&self) -> &serde_json::Value;
    fn context(&self) -> Result<Cow<'_, Context>, RenderError>;
    /// The context with its `facts` replaced by `other`.
    fn with_other_facts(&self, other: &serde_json::Value) -> Cow<'_, Context> {
        Cow::Owned(with_facts(self.json(), other))
    }
}

impl RenderData for serde_json::Value {
    fn json(&self) -> &serde_json::Value {
        self
    }
    fn context(&self) -> Result<Cow<'_, Context>, RenderError> {
        #[cfg(test)]
        tests::COPIES.with(|n| n.set(n.get() + 1));
        Ok(Cow::Owned(Context::wraps(self)?))
    }
}

impl RenderData for Ctx {
    fn json(&self) -> &serde_json::Value {
        self.data()
    }
    fn context(&self) -> Result<Cow<'_, Context>, RenderError> {
        Ok(Cow::Borrowed(&self.hb))
    }
    fn with_other_facts(&self, other: &serde_json::Value) -> Cow<'_, Context> {
        let (facts, alt) = self
            .other_facts
            .get_or_init(|| (other.clone(), with_facts(self.data(), other)));
        if facts == other {
            Cow::Borrowed(alt)
        } else {
            Cow::Owned(with_facts(self.data(), other))
        }
    }
}

/// The template engine of a run.
pub struct Templates {
    hb: Handlebars<'static>,
    /// Compiled templates of this run, keyed by their text.
    compiled: RwLock<HashMap<String, Arc<Template>>>,
    /// Other facts to render with as well, to learn whether facts are used.
    facts_probe: Option<serde_json::Value>,
    /// Whether a render's output depended on the facts (with a probe).
    facts_used: AtomicBool,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        #[cfg(test)]
        tests::ENGINES.with(|n| n.set(n.get() + 1));
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        lang::register(&mut hb);
        helpers::register(&mut hb);
        Templates {
            hb,
            compiled: RwLock::new(HashMap::new()),
            facts_probe: None,
            facts_used: AtomicBool::new(false),
        }
    }

    /// An engine that also renders every template with `other` facts (in
    /// place of the context's `facts`), to learn whether the output depends
    /// on them: see [`Templates::take_facts_used`].
    pub fn probing_facts(other: serde_json::Value) -> Self {
        Templates {
            facts_probe: Some(other),
            ..Self::new()
        }
    }

    /// Whether a render since the last call depended on the facts (always
    /// `false` without a probe); resets the answer, e.g. for the next host.
    pub fn take_facts_used(&self) -> bool {
        self.facts_used.swap(false, Ordering::Relaxed)
    }

    /// Whether a string needs rendering at all.
    pub fn is_template(text: &str) -> bool {
        text.contains("{{")
    }

    /// The typed value of a string that is exactly one expression
    /// (`"{{vars.ports}}"` → the list): `None` for any other string, and
    /// for a null value (which renders as text, as before). Call it after
    /// [`Templates::render`] succeeded: that one reports errors where they are.
    pub fn render_value<C: RenderData + ?Sized>(
        &self,
        text: &str,
        ctx: &C,
    ) -> Result<Option<serde_json::Value>, TemplateError> {
        let Some(expr) = lang::single_expression(text) else {
            return Ok(None);
        };
        let json = self.render(&lang::typed_template(expr), ctx)?;
        let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| TemplateError {
            message: format!("internal: the value of `{expr}` is not JSON: {e}"),
            line: None,
            column: None,
            variable: None,
        })?;
        Ok((!value.is_null()).then_some(value))
    }

    /// Render a template string against a context (JSON, or a [`Ctx`]
    /// made once for many renders).
    pub fn render<C: RenderData + ?Sized>(
        &self,
        text: &str,
        ctx: &C,
    ) -> Result<String, TemplateError> {
        if !Self::is_template(text) {
            return Ok(text.to_string());
        }
        let out = self.render_compiled(text, ctx);
        if let Ok(rendered) = &out {
            limits::spend(rendered.len());
            self.probe_facts(text, ctx, rendered);
        }
        out.map_err(|e| {
            // A syntax error carries its position on the parse error.
            let (mut line, mut column) = (e.line_no, e.column_no);
            let (message, variable) = match e.reason() {
                RenderErrorReason::MissingVariable(Some(v)) => {
                    (format!("variable `{v}` is not defined"), Some(v.clone()))
                }
                RenderErrorReason::MissingVariable(None) => {
                    ("a variable is not defined".to_string(), None)
                }
                RenderErrorReason::TemplateError(t) => {
                    if let Some((l, c)) = t.pos() {
                        (line, column) = (Some(l), Some(c));
                    }
                    let reason = t.reason().to_string();
                    let msg = if reason.len() > 120 || reason.contains("expected") {
                        "invalid template syntax: check for an unclosed `{{`, a `{{#block}}` without its `{{/block}}`, or a stray `}}`".to_string()
                    } else {
                        format!("invalid template: {reason}")
                    };
                    (msg, None)
                }
                RenderErrorReason::ParamNotFoundForIndex(helper, i) => (
                    format!("`{helper}`: argument {} is missing (a variable that is not defined?)", i + 1),
                    None,
                ),
                // Only the output is written ([`limits::BoundedOutput`]).
                RenderErrorReason::IOError(e) => (e.to_string(), None),
                other => (other.to_string(), None),
            };
            TemplateError {
                message,
                line,
                column,
                variable,
            }
        })
    }
}

impl Templates {
    /// Render `text` with its compiled form, compiling it on first use.
    /// Same output and errors as handlebars' `render_template`, which
    /// compiles on every call.
    fn render_compiled<C: RenderData + ?Sized>(
        &self,
        text: &str,
        ctx: &C,
    ) -> Result<String, RenderError> {
        self.render_in(text, &*ctx.context()?)
    }

    fn render_in(&self, text: &str, ctx: &Context) -> Result<String, RenderError> {
        let template = self.compile(text)?;
        let mut rc = RenderContext::new(None);
        let mut out = BoundedOutput::default();
        template.render(&self.hb, ctx, &mut rc, &mut out)?;
        Ok(out.0)
    }

    /// With a facts probe, render `text` again with the other facts and
    /// note whether the output differs from `rendered` (once noted, the
    /// probe rests until [`Templates::take_facts_used`]).
    fn probe_facts<C: RenderData + ?Sized>(&self, text: &str, ctx: &C, rendered: &str) {
        let Some(other) = &self.facts_probe else {
            return;
        };
        if self.facts_used.load(Ordering::Relaxed) || ctx.json().get("facts").is_none() {
            return;
        }
        let same = self
            .render_in(text, &ctx.with_other_facts(other))
            .is_ok_and(|o| o == rendered);
        if !same {
            self.facts_used.store(true, Ordering::Relaxed);
        }
    }

    /// The compiled form of `text`, from the cache or compiled now (a
    /// template that does not compile is not kept: its error is reported
    /// each time, as before).
    fn compile(&self, text: &str) -> Result<Arc<Template>, RenderError> {
        let cached = self.compiled.read().map(|m| m.get(text).cloned());
        if let Ok(Some(t)) = cached {
            return Ok(t);
        }
        let template = Arc::new(Template::compile(text)?);
        if let Ok(mut m) = self.compiled.write() {
            m.entry(text.to_string())
                .or_insert_with(|| template.clone());
        }
        Ok(template)
    }

    /// How many distinct templates were compiled (tests).
    #[cfg(test)]
    fn compiled_count(&self) -> usize {
        self.compiled.read().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    thread_local! {
        /// Contexts this thread copied out of a JSON value to render with.
        pub(crate) static COPIES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    thread_local! {
        /// Engines made on this thread.
        pub(crate) static ENGINES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Engines made on this thread so far.
    pub(crate) fn engines() -> usize {
        ENGINES.with(|n| n.get())
    }

    /// Contexts copied on this thread so far.
    pub(crate) fn copies() -> usize {
        COPIES.with(|n| n.get())
    }

    #[test]
    fn a_ctx_is_rendered_with_as_it_is_and_as_its_json_would_be() {
        let t = Templates::new();
        let data = json!({"host": {"name": "h1"}, "vars": {"l": [1, 2]}});
        let mut ctx = Ctx::new(data.clone());
        let texts = [
            "on {{host.name}}",
            "{{#each vars.l}}{{this}},{{/each}}",
            "plain",
        ];
        let with_ctx: Vec<_> = texts.iter().map(|x| t.render(x, &ctx)).collect();
        let before = copies();
        let with_json: Vec<_> = texts.iter().map(|x| t.render(x, &data)).collect();
        assert_eq!(with_ctx, with_json);
        // A JSON value is copied for each template ("plain" is none)...
        assert_eq!(copies() - before, 2);
        // ...a Ctx never.
        let before = copies();
        assert_eq!(
            t.render_value("{{vars.l}}", &ctx).unwrap(),
            Some(json!([1, 2]))
        );
        t.render("on {{host.name}}", &ctx).unwrap();
        assert_eq!(copies(), before);
        ctx.data_mut()["host"]["name"] = json!("h2");
        assert_eq!(t.render("on {{host.name}}", &ctx).unwrap(), "on h2");
        let e = t.render("{{vars.nope}}", &ctx).unwrap_err();
        assert_eq!(e.variable.as_deref(), Some("vars.nope"));
    }

    /// Loops inside loops of a short list would print 30^6 lines: the
    /// render stops at 16 MiB with an error at the template.
    #[test]
    fn a_render_past_the_limit_is_an_error() {
        let ctx = json!({"vars": {"l": (0..30).collect::<Vec<_>>()}});
        let open = "{{#each @root.vars.l}}".repeat(6);
        let text = format!("{open}x{}", "{{/each}}".repeat(6));
        let e = Templates::new().render(&text, &ctx).unwrap_err();
        assert!(
            e.message.contains("the rendered text is over 16 MiB"),
            "{e}"
        );
        let four = "{{#each vars.l}}{{#each @root.vars.l}}{{#each @root.vars.l}}{{#each @root.vars.l}}x{{/each}}{{/each}}{{/each}}{{/each}}";
        assert_eq!(
            Templates::new().render(four, &ctx).unwrap().len(),
            30usize.pow(4)
        );
    }

    #[test]
    fn renders_without_escaping() {
        let t = Templates::new();
        let out = t
            .render("{{vars.x}}", &json!({"vars": {"x": "<a & 'b'>"}}))
            .unwrap();
        assert_eq!(out, "<a & 'b'>");
    }

    #[test]
    fn missing_variable_is_an_error_with_line() {
        let t = Templates::new();
        let e = t
            .render("line one\n{{vars.nope}}", &json!({"vars": {}}))
            .unwrap_err();
        assert_eq!(e.variable.as_deref(), Some("vars.nope"));
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn paths_may_hold_dashes() {
        // Module instances are often named like `nginx-base`.
        let t = Templates::new();
        let out = t
            .render(
                "{{modules.nginx-base.url}}",
                &json!({"modules": {"nginx-base": {"url": "u"}}}),
            )
            .unwrap();
        assert_eq!(out, "u");
    }

    #[test]
    fn syntax_error_is_reported() {
        let t = Templates::new();
        let e = t
            .render("{{#if x}}unclosed", &json!({"x": true}))
            .unwrap_err();
        assert!(e.message.contains("invalid template"), "{}", e.message);
    }

    #[test]
    fn one_expression_keeps_its_type() {
        let t = Templates::new();
        let ctx = json!({"vars": {"l": [1, "a"], "m": {"k": true}, "n": 3, "s": "x"}, "facts": {"os": {"id": "debian"}}});
        let v = |s: &str| t.render_value(s, &ctx).unwrap();
        assert_eq!(v("{{vars.l}}"), Some(json!([1, "a"])));
        assert_eq!(v("{{ vars.m }}"), Some(json!({"k": true})));
        assert_eq!(v("{{vars.n}}"), Some(json!(3)));
        assert_eq!(v("{{vars.s}}"), Some(json!("x")));
        assert_eq!(v("{{eq facts.os.id 'debian'}}"), Some(json!(true)));
        assert_eq!(v("{{contains vars.l 'a'}}"), Some(json!(true)));
        assert_eq!(v("{{not (contains vars.l 'b')}}"), Some(json!(true)));
        assert_eq!(v("list: {{vars.l}}"), None);
    }

    #[test]
    fn each_text_is_compiled_once() {
        let t = Templates::new();
        for host in ["a", "b", "c"] {
            let ctx = json!({"host": {"name": host}});
            assert_eq!(
                t.render("on {{host.name}}", &ctx).unwrap(),
                format!("on {host}")
            );
            assert_eq!(
                t.render("{{host.name}}!", &ctx).unwrap(),
                format!("{host}!")
            );
        }
        assert_eq!(t.compiled_count(), 2);
        // A cached template reports its errors as a fresh one does.
        let e = t
            .render("on {{host.name}}", &json!({"host": {}}))
            .unwrap_err();
        assert_eq!(e.variable.as_deref(), Some("host.name"));
        assert_eq!(e.line, Some(1));
    }

    /// A probing engine renders with the other facts a context made once
    /// per [`Ctx`] (again after a change), not once per render.
    #[test]
    fn a_ctx_makes_its_other_facts_context_once() {
        let t = Templates::probing_facts(json!({"os": {"id": "ubuntu"}}));
        let mut ctx = Ctx::new(json!({"facts": {"os": {"id": "debian"}}, "host": {"name": "a"}}));
        let before = copies();
        for _ in 0..3 {
            assert_eq!(t.render("on {{host.name}}", &ctx).unwrap(), "on a");
        }
        assert!(!t.take_facts_used());
        assert_eq!(copies() - before, 1);
        ctx.data_mut()["host"]["name"] = json!("b");
        assert_eq!(t.render("on {{host.name}}", &ctx).unwrap(), "on b");
        assert_eq!(copies() - before, 2);
        assert_eq!(t.render("{{facts.os.id}}", &ctx).unwrap(), "debian");
        assert!(t.take_facts_used(), "the other facts are the probe's");
    }

    #[test]
    fn a_facts_probe_finds_templates_that_read_facts() {
        let t = Templates::probing_facts(json!({"os": {"id": "ubuntu"}}));
        let ctx = json!({"facts": {"os": {"id": "debian"}}, "vars": {"x": 1}});
        t.render("{{vars.x}} {{#if vars.x}}yes{{/if}}", &ctx)
            .unwrap();
        t.render("plain", &ctx).unwrap();
        assert!(!t.take_facts_used());
        assert_eq!(t.render("{{facts.os.id}}", &ctx).unwrap(), "debian");
        assert!(t.take_facts_used());
        assert!(!t.take_facts_used(), "reset for the next host");
        assert_eq!(
            t.render_value("{{eq facts.os.id 'debian'}}", &ctx).unwrap(),
            Some(json!(true))
        );
        assert!(t.take_facts_used());
        t.render("{{json this}}", &ctx).unwrap();
        assert!(t.take_facts_used(), "the whole context holds the facts");
        // Without a probe, nothing is noted.
        let plain = Templates::new();
        plain.render("{{facts.os.id}}", &ctx).unwrap();
        assert!(!plain.take_facts_used());
    }

    #[test]
    fn syntax_error_has_its_position() {
        let t = Templates::new();
        let e = t
            .render("a\n{{#if x}}\n{{else}\nb\n{{/if}}", &json!({"x": true}))
            .unwrap_err();
        assert!(e.line.is_some() && e.column.is_some(), "{e:?}");
    }
}
