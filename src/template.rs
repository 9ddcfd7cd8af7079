//! Templates: handlebars in strict mode, without HTML escaping.
//!
//! Strings in stacks and modules, and template files, are rendered with a
//! context of `vars`, `inputs` (inside modules), `host`, `facts` and
//! `secrets`. A missing variable is an error naming the template, the line
//! and the variable (strict mode). Note that handlebars' `{{#if missing}}`
//! silently takes the false branch even in strict mode.
//!
//! Helpers (`default`, `json`, `join`, arithmetic, ...) are in [`helpers`].

mod helpers;

use handlebars::{Handlebars, RenderErrorReason};

// The stack language's helpers and typed values (loops, conditions).
pub mod lang;

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

/// The template engine of a run.
pub struct Templates {
    hb: Handlebars<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        lang::register(&mut hb);
        helpers::register(&mut hb);
        Templates { hb }
    }

    /// Whether a string needs rendering at all.
    pub fn is_template(text: &str) -> bool {
        text.contains("{{")
    }

    /// The typed value of a string that is exactly one expression
    /// (`"{{vars.ports}}"` → the list): `None` for any other string, and
    /// for a null value (which renders as text, as before). Call it after
    /// [`Templates::render`] succeeded: that one reports errors where they are.
    pub fn render_value(
        &self,
        text: &str,
        ctx: &serde_json::Value,
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

    /// Render a template string against a JSON context.
    pub fn render(&self, text: &str, ctx: &serde_json::Value) -> Result<String, TemplateError> {
        if !Self::is_template(text) {
            return Ok(text.to_string());
        }
        self.hb.render_template(text, ctx).map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn syntax_error_has_its_position() {
        let t = Templates::new();
        let e = t
            .render("a\n{{#if x}}\n{{else}\nb\n{{/if}}", &json!({"x": true}))
            .unwrap_err();
        assert!(e.line.is_some() && e.column.is_some(), "{e:?}");
    }
}
