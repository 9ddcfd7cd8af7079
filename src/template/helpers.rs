//! Template helpers users reach for at once, registered on every engine.
//!
//! Each helper is a plain function from its arguments to a JSON value, so a
//! helper's result keeps its type inside a subexpression (`{{add (len
//! vars.hosts) 1}}`) and is printed when used alone. Bad arguments are an
//! error naming the helper and what it expects, never a panic; a missing
//! variable as an argument is the usual "variable `x` is not defined"
//! (except as the first argument of `default`, which exists for it).
//!
//! | helper | example | result |
//! |---|---|---|
//! | `default` | `{{default vars.port 8080}}` | the value, or the fallback when it is missing, null or `""` |
//! | `json` | `{{json vars.list}}` | compact JSON (`pretty=true` for indented) |
//! | `yaml` | `{{yaml vars.map}}` | YAML, no trailing newline |
//! | `join` | `{{join vars.names ", "}}` | a list of scalars joined |
//! | `upper`, `lower` | `{{upper vars.env}}` | the text in upper/lower case |
//! | `replace` | `{{replace vars.host "." "-"}}` | every occurrence replaced |
//! | `indent` | `{{indent 4 vars.block}}` | every non-empty line indented by N spaces |
//! | `b64encode` | `{{b64encode vars.token}}` | standard base64 with padding |
//! | `sha256` | `{{sha256 vars.text}}` | lowercase hex digest |
//! | `add` `sub` `mul` `div` `mod` | `{{add vars.port 1}}` | integer arithmetic (float when an argument is); checked |
//! | `lt` `le` `gt` `ge` | `{{lt vars.a 10}}` | numbers by value, strings alphabetically; mixing is an error |
//! | `len` | `{{len vars.list}}` | items of a list or map, characters of a string |
//!
//! `eq`, `ne`, `and`, `or` and `not` are handlebars' own.

use super::{MAX_RENDERED, too_large};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value as J;
use std::collections::BTreeMap;

/// A helper's result, or what was wrong with its arguments.
type Outcome = Result<J, String>;

/// One helper: how many arguments it takes and what it computes.
struct ValueHelper {
    name: &'static str,
    /// Argument names, for messages (`upper TEXT`).
    usage: &'static str,
    min: usize,
    max: usize,
    f: fn(&[J], &BTreeMap<String, J>) -> Outcome,
}

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let n = h.params().len();
        if n < self.min || n > self.max {
            return Err(fail(format!(
                "`{}` takes {}, given {n} argument{}: write `{{{{{} {}}}}}`",
                self.name,
                count(self.min, self.max),
                if n == 1 { "" } else { "s" },
                self.name,
                self.usage,
            )));
        }
        let mut args = Vec::with_capacity(n);
        for (i, p) in h.params().iter().enumerate() {
            if p.is_value_missing() {
                if self.name == "default" && i == 0 {
                    args.push(J::Null);
                    continue;
                }
                return Err(RenderErrorReason::MissingVariable(p.relative_path().cloned()).into());
            }
            args.push(p.value().clone());
        }
        let hash = h
            .hash()
            .iter()
            .map(|(k, v)| (k.to_string(), v.value().clone()))
            .collect();
        (self.f)(&args, &hash)
            .and_then(bounded)
            .map(ScopedJson::Derived)
            .map_err(|e| fail(format!("`{}`: {e}", self.name)))
    }
}

/// A result over [`MAX_RENDERED`] is refused, so that helpers applied to
/// each other's results stop there (the helpers that multiply their input,
/// `replace`, `indent` and `join`, check before they allocate); it counts
/// against the host's budget too ([`super::limits::charge`]).
fn bounded(v: J) -> Outcome {
    let size = match &v {
        J::String(s) => s.len(),
        _ => 0,
    };
    if size > MAX_RENDERED {
        return Err(too_large("the result"));
    }
    super::limits::charge(size)?;
    Ok(v)
}

fn fail(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}

fn count(min: usize, max: usize) -> String {
    match (min, max) {
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (a, b) => format!("{a} to {b} arguments"),
    }
}

/// Register every helper of this module.
pub fn register(hb: &mut Handlebars<'static>) {
    let helpers: [(&'static str, &'static str, usize, usize, HelperFn); 19] = [
        ("default", "VALUE FALLBACK", 2, 2, default),
        ("json", "VALUE", 1, 1, json),
        ("yaml", "VALUE", 1, 1, yaml),
        ("join", "LIST SEPARATOR", 2, 2, join),
        ("upper", "TEXT", 1, 1, upper),
        ("lower", "TEXT", 1, 1, lower),
        ("replace", "TEXT FROM TO", 3, 3, replace),
        ("indent", "N TEXT", 2, 2, indent),
        ("b64encode", "TEXT", 1, 1, b64encode),
        ("sha256", "TEXT", 1, 1, sha256),
        ("add", "A B", 2, 2, |a, _| arith("add", a)),
        ("sub", "A B", 2, 2, |a, _| arith("sub", a)),
        ("mul", "A B", 2, 2, |a, _| arith("mul", a)),
        ("div", "A B", 2, 2, |a, _| arith("div", a)),
        ("mod", "A B", 2, 2, |a, _| arith("mod", a)),
        ("lt", "A B", 2, 2, |a, _| compare(a, |o| o.is_lt())),
        ("le", "A B", 2, 2, |a, _| compare(a, |o| o.is_le())),
        ("gt", "A B", 2, 2, |a, _| compare(a, |o| o.is_gt())),
        ("ge", "A B", 2, 2, |a, _| compare(a, |o| o.is_ge())),
    ];
    for (name, usage, min, max, f) in helpers {
        hb.register_helper(
            name,
            Box::new(ValueHelper {
                name,
                usage,
                min,
                max,
                f,
            }),
        );
    }
    hb.register_helper(
        "len",
        Box::new(ValueHelper {
            name: "len",
            usage: "LIST|MAP|TEXT",
            min: 1,
            max: 1,
            f: len,
        }),
    );
}

type HelperFn = fn(&[J], &BTreeMap<String, J>) -> Outcome;

fn kind(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "a map",
    }
}

/// A scalar as text (strings as they are, numbers and booleans printed).
fn text(v: &J, what: &str) -> Result<String, String> {
    match v {
        J::String(s) => Ok(s.clone()),
        J::Number(n) => Ok(n.to_string()),
        J::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{what} must be text, found {}", kind(other))),
    }
}

fn default(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    Ok(match &a[0] {
        J::Null => a[1].clone(),
        J::String(s) if s.is_empty() => a[1].clone(),
        v => v.clone(),
    })
}

fn json(a: &[J], hash: &BTreeMap<String, J>) -> Outcome {
    let pretty = match hash.get("pretty") {
        None => false,
        Some(J::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "`pretty=` must be true or false, found {}",
                kind(other)
            ));
        }
    };
    let out = if pretty {
        serde_json::to_string_pretty(&a[0])
    } else {
        serde_json::to_string(&a[0])
    };
    out.map(J::String).map_err(|e| e.to_string())
}

fn yaml(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    let out = serde_saphyr::to_string(&a[0]).map_err(|e| e.to_string())?;
    Ok(J::String(out.trim_end_matches('\n').to_string()))
}

fn join(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    let J::Array(items) = &a[0] else {
        return Err(format!(
            "the first argument must be a list, found {}",
            kind(&a[0])
        ));
    };
    let sep = text(&a[1], "the separator")?;
    let parts = items
        .iter()
        .enumerate()
        .map(|(i, v)| text(v, &format!("item {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let size = parts.iter().map(String::len).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    if size > MAX_RENDERED {
        return Err(too_large("the result"));
    }
    Ok(J::String(parts.join(&sep)))
}

fn upper(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    Ok(J::String(text(&a[0], "its argument")?.to_uppercase()))
}

fn lower(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    Ok(J::String(text(&a[0], "its argument")?.to_lowercase()))
}

fn replace(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    let s = text(&a[0], "the text")?;
    let from = text(&a[1], "what to replace")?;
    let to = text(&a[2], "the replacement")?;
    if from.is_empty() {
        return Err("what to replace cannot be empty".into());
    }
    let grows = to.len().saturating_sub(from.len());
    if grows > 0 && s.len() + s.matches(&from).count().saturating_mul(grows) > MAX_RENDERED {
        return Err(too_large("the result"));
    }
    Ok(J::String(s.replace(&from, &to)))
}

fn indent(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    let n = a[0].as_u64().filter(|n| *n <= 256).ok_or_else(|| {
        format!(
            "the first argument is a number of spaces (0 to 256), found {}",
            a[0]
        )
    })?;
    let s = text(&a[1], "the text")?;
    let lines = s.split('\n').filter(|l| !l.is_empty()).count();
    if s.len() + lines * n as usize > MAX_RENDERED {
        return Err(too_large("the result"));
    }
    let pad = " ".repeat(n as usize);
    let out: Vec<String> = s
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect();
    Ok(J::String(out.join("\n")))
}

fn b64encode(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    Ok(J::String(base64(text(&a[0], "its argument")?.as_bytes())))
}

/// Standard base64 (RFC 4648) with padding, on one line.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text(&a[0], "its argument")?.as_bytes());
    Ok(J::String(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ))
}

/// A number argument: a JSON number or a string holding one.
enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &J, which: &str) -> Result<Num, String> {
    let parsed = match v {
        J::Number(n) => n
            .as_i64()
            .map(Num::Int)
            .or_else(|| n.as_f64().map(Num::Float)),
        J::String(s) => s.trim().parse::<i64>().map(Num::Int).ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Num::Float)
        }),
        _ => None,
    };
    parsed.ok_or_else(|| format!("{which} must be a number, found {} ({v})", kind(v)))
}

fn arith(op: &str, a: &[J]) -> Outcome {
    let (x, y) = (
        num(&a[0], "the first argument")?,
        num(&a[1], "the second argument")?,
    );
    if let (Num::Int(x), Num::Int(y)) = (&x, &y) {
        let (x, y) = (*x, *y);
        let r = match op {
            "add" => x.checked_add(y),
            "sub" => x.checked_sub(y),
            "mul" => x.checked_mul(y),
            "div" | "mod" if y == 0 => return Err("division by zero".into()),
            "div" => x.checked_div(y),
            _ => x.checked_rem(y),
        };
        return r
            .map(J::from)
            .ok_or_else(|| format!("{x} and {y}: the result does not fit in 64 bits"));
    }
    let f = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    };
    let (x, y) = (f(x), f(y));
    let r = match op {
        "add" => x + y,
        "sub" => x - y,
        "mul" => x * y,
        "div" | "mod" if y == 0.0 => return Err("division by zero".into()),
        "div" => x / y,
        _ => x % y,
    };
    serde_json::Number::from_f64(r)
        .map(J::Number)
        .ok_or_else(|| "the result is not a finite number".to_string())
}

fn compare(a: &[J], test: fn(std::cmp::Ordering) -> bool) -> Outcome {
    let ordering = match (&a[0], &a[1]) {
        (J::String(x), J::String(y)) => match (num(&a[0], ""), num(&a[1], "")) {
            // Two numbers written as text compare as numbers.
            (Ok(nx), Ok(ny)) => cmp_num(nx, ny),
            _ => Some(x.cmp(y)),
        },
        (J::Number(_), _) | (_, J::Number(_)) => {
            match (
                num(&a[0], "the first argument"),
                num(&a[1], "the second argument"),
            ) {
                (Ok(x), Ok(y)) => cmp_num(x, y),
                (Err(e), _) | (_, Err(e)) => return Err(e),
            }
        }
        (x, y) => {
            return Err(format!(
                "compares two numbers or two strings, found {} and {}",
                kind(x),
                kind(y)
            ));
        }
    };
    ordering
        .map(|o| J::Bool(test(o)))
        .ok_or_else(|| "the numbers cannot be compared".to_string())
}

fn cmp_num(x: Num, y: Num) -> Option<std::cmp::Ordering> {
    match (x, y) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (x, y) => {
            let f = |n: Num| match n {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
            };
            f(x).partial_cmp(&f(y))
        }
    }
}

fn len(a: &[J], _: &BTreeMap<String, J>) -> Outcome {
    match &a[0] {
        J::Array(v) => Ok(J::from(v.len())),
        J::Object(m) => Ok(J::from(m.len())),
        J::String(s) => Ok(J::from(s.chars().count())),
        other => Err(format!(
            "counts the items of a list or map or the characters of a string, found {}",
            kind(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::Templates;
    use serde_json::json;

    fn ctx() -> serde_json::Value {
        json!({"vars": {
            "name": "Web-01", "port": 8080, "list": ["a", "b", "c"], "nested": [["x"]],
            "map": {"k": "v", "num": 2}, "empty": "", "nothing": null, "text": "l1\n\nl2",
            "big": 9223372036854775807i64, "half": 0.5, "port_text": "8080",
        }})
    }

    fn ok(t: &str) -> String {
        Templates::new()
            .render(t, &ctx())
            .unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    fn err(t: &str) -> String {
        match Templates::new().render(t, &ctx()) {
            Ok(v) => panic!("{t} rendered {v:?}, expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn default_takes_the_fallback_for_missing_null_and_empty() {
        assert_eq!(ok("{{default vars.missing 80}}"), "80");
        assert_eq!(ok("{{default vars.nothing \"x\"}}"), "x");
        assert_eq!(ok("{{default vars.empty \"x\"}}"), "x");
        assert_eq!(ok("{{default vars.port 80}}"), "8080");
        assert!(err("{{default vars.port}}").contains("`default` takes 2 arguments, given 1"));
        // Only the first argument may be missing.
        assert!(err("{{default 1 vars.missing}}").contains("`vars.missing` is not defined"));
    }

    #[test]
    fn json_and_yaml() {
        assert_eq!(ok("{{json vars.list}}"), r#"["a","b","c"]"#);
        assert_eq!(ok("{{json vars.name}}"), r#""Web-01""#);
        assert_eq!(
            ok("{{json vars.map pretty=true}}"),
            "{\n  \"k\": \"v\",\n  \"num\": 2\n}"
        );
        assert!(err("{{json vars.map pretty=1}}").contains("`pretty=` must be true or false"));
        assert_eq!(ok("{{yaml vars.map}}"), "k: v\nnum: 2");
        assert_eq!(ok("{{yaml vars.list}}"), "- a\n- b\n- c");
        assert!(err("{{yaml}}").contains("`yaml` takes 1 argument, given 0"));
    }

    #[test]
    fn join_lists_of_scalars() {
        assert_eq!(ok("{{join vars.list \", \"}}"), "a, b, c");
        assert!(
            err("{{join vars.name \",\"}}")
                .contains("the first argument must be a list, found a string")
        );
        assert!(err("{{join vars.nested \",\"}}").contains("item 0 must be text, found a list"));
    }

    #[test]
    fn case_replace_indent() {
        assert_eq!(ok("{{upper vars.name}}"), "WEB-01");
        assert_eq!(ok("{{lower vars.name}}"), "web-01");
        assert!(
            err("{{upper vars.list}}").contains("`upper`: its argument must be text, found a list")
        );
        assert_eq!(ok("{{replace vars.name \"-\" \"_\"}}"), "Web_01");
        assert!(err("{{replace vars.name \"\" \"_\"}}").contains("cannot be empty"));
        assert_eq!(ok("{{indent 2 vars.text}}"), "  l1\n\n  l2");
        assert!(err("{{indent vars.text 2}}").contains("number of spaces"));
        assert!(err("{{indent -1 vars.text}}").contains("number of spaces"));
    }

    /// Helpers applied to their own results would grow the text past any
    /// memory (20^8 bytes here): refused at 16 MiB, before the allocation;
    /// so are an indent or a join past it.
    #[test]
    fn results_that_multiply_the_text_are_refused() {
        let ctx = json!({"vars": {
            "a": "a".repeat(20),
            "lines": "a\n".repeat(100_000),
            "l": vec!["a"; 1000],
            "sep": "-".repeat(20_000),
        }});
        let t = Templates::new();
        let nested = (0..8).fold("vars.a".to_string(), |x, _| {
            format!("(replace {x} 'a' vars.a)")
        });
        for (name, text) in [
            ("replace", nested),
            ("indent", "indent 256 vars.lines".to_string()),
            ("join", "join vars.l vars.sep".to_string()),
        ] {
            let e = t.render(&format!("{{{{{text}}}}}"), &ctx).unwrap_err();
            let want = format!("`{name}`: the result is over 16 MiB");
            assert!(e.message.contains(&want), "{name}: {e}");
        }
        // Up to the limit, as before.
        let big = "{{replace (replace (replace vars.a 'a' vars.a) 'a' vars.a) 'a' vars.a}}";
        assert_eq!(t.render(big, &ctx).unwrap().len(), 20usize.pow(4));
        assert_eq!(
            t.render("{{indent 100 vars.lines}}", &ctx).unwrap().len(),
            102 * 100_000
        );
    }

    #[test]
    fn encodings() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(super::base64(input.as_bytes()), expected);
        }
        assert_eq!(ok("{{b64encode \"user:pass\"}}"), "dXNlcjpwYXNz");
        assert_eq!(
            ok("{{sha256 \"abc\"}}"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(err("{{sha256 vars.map}}").contains("found a map"));
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(ok("{{add vars.port 1}}"), "8081");
        assert_eq!(ok("{{add vars.port_text 1}}"), "8081");
        assert_eq!(ok("{{sub 1 3}}"), "-2");
        assert_eq!(ok("{{mul 6 7}}"), "42");
        assert_eq!(ok("{{div 7 2}}"), "3");
        assert_eq!(ok("{{mod 7 2}}"), "1");
        assert_eq!(ok("{{mul vars.half 3}}"), "1.5");
        assert_eq!(ok("{{add (len vars.list) 1}}"), "4");
        assert!(err("{{div 1 0}}").contains("`div`: division by zero"));
        assert!(err("{{mod 1 0}}").contains("division by zero"));
        assert!(err("{{add vars.big 1}}").contains("does not fit"));
        assert!(
            err("{{add vars.name 1}}")
                .contains("the first argument must be a number, found a string")
        );
        assert!(err("{{add 1}}").contains("`add` takes 2 arguments"));
        assert!(err("{{add vars.nope 1}}").contains("`vars.nope` is not defined"));
    }

    #[test]
    fn comparisons() {
        assert_eq!(
            ok("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 3 2}}"),
            "true true false true"
        );
        assert_eq!(
            ok("{{lt \"9\" \"10\"}}"),
            "true",
            "numbers as text compare as numbers"
        );
        assert_eq!(ok("{{lt \"apple\" \"banana\"}}"), "true");
        assert_eq!(ok("{{gt vars.port_text 80}}"), "true");
        assert_eq!(
            ok("{{#if (ge vars.port 1024)}}high{{else}}low{{/if}}"),
            "high"
        );
        assert!(err("{{lt vars.list 1}}").contains("must be a number, found a list"));
        assert!(err("{{lt vars.map vars.list}}").contains("two numbers or two strings"));
        assert!(err("{{gt vars.name 2}}").contains("must be a number"));
        // handlebars' own
        assert_eq!(
            ok("{{eq vars.port 8080}} {{ne vars.name \"x\"}}"),
            "true true"
        );
        let e = err("{{eq vars.nope 1}}");
        assert!(e.contains("`eq`: argument 1 is missing"), "{e}");
    }

    #[test]
    fn len_counts_items_and_characters() {
        assert_eq!(
            ok("{{len vars.list}} {{len vars.map}} {{len \"héllo\"}}"),
            "3 2 5"
        );
        assert!(err("{{len vars.port}}").contains("`len`: counts the items"));
        assert!(err("{{len vars.nope}}").contains("`vars.nope` is not defined"));
    }
}
