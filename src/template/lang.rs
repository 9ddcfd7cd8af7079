//! The stack language's own helpers and typed values (loops, conditions).
//!
//! Kept apart from the general helpers (`default`, `json`, …) on purpose:
//! - `contains` — `{{contains host.groups "web"}}`: whether a list holds a
//!   value, a map has a key, or a string holds a substring; for `when:`
//!   conditions (handlebars already has `eq`, `ne`, `and`, `or`, `not`).
//! - typed values — a string that is exactly one expression
//!   (`"{{vars.blocked}}"`, `"{{eq facts.os.id 'ubuntu'}}"`) evaluates to
//!   the value with its type (list, map, number, boolean) instead of text:
//!   [`single_expression`] tells such strings apart and [`typed_template`]
//!   rewrites one into a template that prints its value as JSON.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value as J;

/// The helper that prints its one argument as JSON (internal: typed values).
const TYPED: &str = "__keel_typed";

/// Register the helpers of this file.
pub fn register(hb: &mut Handlebars<'static>) {
    hb.register_helper("contains", Box::new(Contains));
    hb.register_helper(TYPED, Box::new(Typed));
}

struct Contains;

impl HelperDef for Contains {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let (Some(hay), Some(needle)) = (h.param(0), h.param(1)) else {
            return Err(RenderErrorReason::Other(
                "`contains` takes two arguments: a list, map or string, and a value".into(),
            )
            .into());
        };
        Ok(ScopedJson::Derived(J::Bool(contains(
            hay.value(),
            needle.value(),
        ))))
    }
}

/// Whether `hay` holds `needle`: an element of a list (a number and its
/// text are the same), a key of a map, a substring of a string.
pub fn contains(hay: &J, needle: &J) -> bool {
    let text = |v: &J| match v {
        J::String(s) => s.clone(),
        other => other.to_string(),
    };
    match hay {
        J::Array(items) => items.iter().any(|i| i == needle || text(i) == text(needle)),
        J::Object(m) => m.contains_key(&text(needle)),
        J::String(s) => s.contains(&text(needle)),
        _ => false,
    }
}

struct Typed;

impl HelperDef for Typed {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let v = h.param(0).map(|p| p.value().clone()).unwrap_or(J::Null);
        Ok(ScopedJson::Derived(J::String(v.to_string())))
    }
}

/// The expression of a string that is exactly one `{{expression}}` (no
/// text around it, not a block, comment or partial), trimmed.
pub fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.starts_with('{') {
        return None;
    }
    let inner = inner.trim_start_matches('~').trim_end_matches('~').trim();
    let first = inner.chars().next()?;
    if matches!(first, '#' | '/' | '!' | '>' | '^' | '&' | '*')
        || inner == "else"
        || inner.starts_with("else ")
    {
        return None;
    }
    Some(inner)
}

/// A template printing the value of `expr` (see [`single_expression`]) as
/// JSON: a path or literal is passed as it is, a helper call as a
/// subexpression.
pub fn typed_template(expr: &str) -> String {
    if expr.contains(char::is_whitespace) {
        format!("{{{{{TYPED} ({expr})}}}}")
    } else {
        format!("{{{{{TYPED} {expr}}}}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_expressions() {
        assert_eq!(single_expression("{{vars.x}}"), Some("vars.x"));
        assert_eq!(single_expression("{{ eq a 'b' }}"), Some("eq a 'b'"));
        assert_eq!(single_expression("{{~vars.x~}}"), Some("vars.x"));
        for not in [
            "a {{vars.x}}",
            "{{vars.x}} b",
            "{{a}}{{b}}",
            "{{#if x}}y{{/if}}",
            "{{{raw}}}",
            "{{! comment }}",
            "{{> partial}}",
            "plain",
        ] {
            assert_eq!(single_expression(not), None, "{not}");
        }
    }

    #[test]
    fn contains_lists_maps_and_strings() {
        assert!(contains(&json!(["web", "db"]), &json!("web")));
        assert!(!contains(&json!(["web", "db"]), &json!("we")));
        assert!(contains(&json!([22, 80]), &json!("22")));
        assert!(contains(&json!({"a": 1}), &json!("a")));
        assert!(contains(&json!("bookworm"), &json!("worm")));
        assert!(!contains(&json!(null), &json!("x")));
    }
}
