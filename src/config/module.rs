//! Modules: reusable bundles of resources with typed inputs.
//!
//! `modules/<name>/module.yaml`, templates in `modules/<name>/templates/`:
//! ```yaml
//! description: SSH hardening
//! inputs:
//!   port: { type: int, default: 22, description: port sshd listens on }
//!   admins: { type: list, required: true }
//! uses: []            # modules can use modules
//! resources:
//!   - file: { path: /etc/ssh/sshd_config.d/keel.conf, template: sshd.conf.hbs }
//! ```
//! Inside a module, inputs are `{{inputs.NAME}}`; `vars`, `host`, `facts`
//! and `secrets` are the same as in the stack.
//!
//! `outputs:` (a map) are values the module exposes, rendered with its
//! inputs; the stack (or module) that uses it reads them as
//! `{{modules.INSTANCE.NAME}}` in its resources and in later uses' `with:`.

use super::entry::{self, Origin, ResourceDecl, UseDecl};
use super::{IgnoredNode, doc_error};
use crate::diag::{Diag, Diagnostics, SourceFile};
use crate::node::{Node, Spanned, Value};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The declared type of a module input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    String,
    Int,
    Bool,
    List,
    Map,
    Any,
}

impl InputType {
    pub fn accepts(self, node: &Node) -> bool {
        match self {
            InputType::Any => true,
            InputType::String => matches!(
                node.value,
                Value::Str(_) | Value::Int(..) | Value::Float(..)
            ),
            InputType::Int => {
                matches!(node.value, Value::Int(..))
                    || matches!(&node.value, Value::Str(s) if s.trim().parse::<i64>().is_ok())
            }
            InputType::Bool => {
                matches!(node.value, Value::Bool(..))
                    || matches!(&node.value, Value::Str(s) if s == "true" || s == "false")
            }
            InputType::List => matches!(node.value, Value::Seq(_)),
            InputType::Map => matches!(node.value, Value::Map(_)),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            InputType::String => "a string",
            InputType::Int => "an integer",
            InputType::Bool => "a boolean",
            InputType::List => "a list",
            InputType::Map => "a map",
            InputType::Any => "any value",
        }
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct InputDoc {
    #[serde(rename = "type", default = "any")]
    ty: InputType,
    #[serde(default)]
    #[allow(dead_code)]
    default: IgnoredNode,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    description: Option<String>,
    /// Values of this input are secrets: shown as (sensitive).
    #[serde(default)]
    sensitive: bool,
}

fn any() -> InputType {
    InputType::Any
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
/// A module: reusable resources with typed inputs.
pub(crate) struct ModuleDoc {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Inputs, read as `{{inputs.NAME}}`.
    #[serde(default)]
    inputs: BTreeMap<Spanned<String>, InputDoc>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "crate::schema::entries::uses")]
    uses: IgnoredNode,
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(schema_with = "crate::schema::entries::resources")]
    resources: IgnoredNode,
    #[serde(default)]
    #[allow(dead_code)]
    outputs: IgnoredNode,
}

#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: String,
    pub ty: InputType,
    pub default: Option<Node>,
    pub required: bool,
    pub description: Option<String>,
    pub sensitive: bool,
}

/// A loaded module.
#[derive(Debug, Clone)]
pub struct Module {
    pub name: String,
    pub source: SourceFile,
    pub description: Option<String>,
    pub inputs: Vec<InputDecl>,
    pub uses: Vec<UseDecl>,
    pub resources: Vec<ResourceDecl>,
    /// `outputs:`, a map of values templated from the inputs, exposed to
    /// the caller as `{{modules.INSTANCE.NAME}}`.
    pub outputs: Option<Node>,
}

impl Module {
    /// Load `DIR/module.yaml` (or `.yml`).
    /// Load a module; problems are collected, and the module is returned
    /// whenever its file could be parsed.
    pub fn load(name: &str, dir: &Path) -> (Option<Module>, Diagnostics) {
        let file = ["module.yaml", "module.yml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .unwrap_or_else(|| dir.join("module.yaml"));
        let (src, node) = match super::read_source(&file) {
            Ok(x) => x,
            Err(d) => return (None, d),
        };
        let mut diags = Diagnostics::new();
        if node.value == Value::Null {
            diags.push(
                Diag::at("keel::schema", &src, node.span, "the module file is empty", "here")
                    .with_help(
                        "a module holds `resources:` (and maybe `inputs:` and `uses:`), e.g.\n  resources:\n    - package: { name: nginx }",
                    ),
            );
            return (None, diags);
        }
        if let Some(n) = node.get("name")
            && n.as_scalar_text().is_some_and(|t| t.trim().is_empty())
        {
            diags.push(Diag::at(
                "keel::schema",
                &src,
                n.span,
                "`name` is empty",
                "here",
            ));
        }
        let doc: ModuleDoc = match node.deserialize() {
            Ok(d) => d,
            Err(e) => {
                diags.push(doc_error(&src, &node, &e, "module"));
                ModuleDoc {
                    name: None,
                    description: None,
                    inputs: super::readable_entries(&node, "inputs"),
                    uses: IgnoredNode,
                    resources: IgnoredNode,
                    outputs: IgnoredNode,
                }
            }
        };
        let origin = Origin {
            source: src.clone(),
            base_dir: dir.to_path_buf(),
            templates_dir: dir.join("templates"),
        };
        let inputs = input_decls(&src, &node, doc.inputs, &mut diags);
        let inputs = with_unreadable_inputs(&node, inputs);
        let uses = entry::parse_uses(&origin, node.get("uses"), &mut diags);
        let resources = entry::parse_resources(&origin, node.get("resources"), &mut diags);
        let outputs = node
            .get("outputs")
            .filter(|o| o.value != Value::Null)
            .cloned();
        if let Some(o) = &outputs
            && o.as_map().is_none()
        {
            diags.push(
                Diag::at(
                    "keel::schema",
                    &src,
                    o.span,
                    format!(
                        "`outputs` must be a map of names to values, found {}",
                        o.type_name()
                    ),
                    "here",
                )
                .with_help("e.g. `outputs: { url: \"http://{{inputs.host}}:{{inputs.port}}\" }`"),
            );
        }
        let module = Module {
            name: name.to_string(),
            source: src,
            description: doc.description,
            inputs,
            uses,
            resources,
            outputs: outputs.filter(|o| o.as_map().is_some()),
        };
        (Some(module), diags)
    }
}

/// The declared `inputs:`, each default checked against its type.
fn input_decls(
    src: &SourceFile,
    node: &Node,
    entries: BTreeMap<Spanned<String>, InputDoc>,
    diags: &mut Diagnostics,
) -> Vec<InputDecl> {
    entries
        .into_iter()
        .map(|(name, d)| {
            let default = node
                .get("inputs")
                .and_then(|i| i.get(&name.value))
                .and_then(|i| i.get("default"))
                .cloned();
            if let Some(def) = &default
                && !d.ty.accepts(def)
            {
                diags.push(Diag::at(
                    "keel::module-input",
                    src,
                    def.span,
                    format!(
                        "the default of input `{}` must be {}, found {}",
                        name.value,
                        d.ty.name(),
                        def.type_name()
                    ),
                    "wrong type",
                ));
            }
            InputDecl {
                name: name.value,
                ty: d.ty,
                default,
                required: d.required,
                description: d.description,
                sensitive: d.sensitive,
            }
        })
        .collect()
}

/// The declared inputs, plus those whose declaration did not read (an
/// unknown key, a wrong type: reported already) as inputs of any type, so
/// that their uses are not reported again as unknown inputs.
fn with_unreadable_inputs(node: &Node, mut inputs: Vec<InputDecl>) -> Vec<InputDecl> {
    let Some(entries) = node.get("inputs").and_then(Node::as_map) else {
        return inputs;
    };
    for (k, v) in entries {
        let Some(name) = k.as_scalar_text() else {
            continue;
        };
        if inputs.iter().any(|i| i.name == name) {
            continue;
        }
        let flag = |key: &str| v.get(key).and_then(|n| n.deserialize::<bool>().ok());
        inputs.push(InputDecl {
            name: name.to_string(),
            ty: InputType::Any,
            default: v.get("default").cloned(),
            required: false,
            description: None,
            sensitive: flag("sensitive").unwrap_or(false),
        });
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    inputs
}
