//! JSON Schema (draft-07, the draft yaml-language-server supports fully) of
//! keel's YAML files: stacks, modules and inventories, for editors.
//!
//! Generated with schemars from the types the loader deserializes
//! (`StackDoc`, `ModuleDoc`, `InventoryDoc` and every kind's struct), then
//! adjusted to what the loader really accepts through its
//! [`Node`](crate::node::Node) deserializer:
//! - a string setting reads any scalar's source text (`mode: 0644`), so a
//!   string accepts numbers and booleans too;
//! - a resource's settings are templated before they are typed, so inside a
//!   resource any setting may also be a string holding a `{{ ... }}`
//!   expression (`port: "{{vars.port}}"`);
//! - the parts the loader reads by hand (resource entries, module uses,
//!   common resource keys) are described here, next to the registry of kinds.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value as J, json};
use std::borrow::Cow;

pub mod entries;
pub mod fields;
use entries::{KIND_DEFS, common_keys};

/// Which of keel's files a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileKind {
    /// A stack, a module or an inventory (whichever the file is).
    All,
    Stack,
    Module,
    Inventory,
}

/// The schema of `kind` files, as a JSON document.
pub fn document(kind: FileKind) -> J {
    let mut generator = SchemaSettings::draft07().into_generator();
    let stack = generator.subschema_for::<crate::config::stack::StackDoc>();
    let module = generator.subschema_for::<crate::config::module::ModuleDoc>();
    let inventory = generator.subschema_for::<crate::config::inventory::InventoryDoc>();
    let mut definitions = J::Object(generator.take_definitions(true));
    scalars_as_text(&mut definitions);
    plain_descriptions(&mut definitions);
    let (title, root) = match kind {
        FileKind::All => (
            "keel stack, module or inventory",
            json!({ "anyOf": [stack, module, inventory] }),
        ),
        FileKind::Stack => ("keel stack", inlined(stack.to_value(), &definitions)),
        FileKind::Module => ("keel module", inlined(module.to_value(), &definitions)),
        FileKind::Inventory => (
            "keel inventory",
            inlined(inventory.to_value(), &definitions),
        ),
    };
    let mut doc = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": title,
        "definitions": definitions,
        KIND_DEFS: kind_definitions(),
    });
    if let (J::Object(doc), J::Object(root)) = (&mut doc, root) {
        doc.extend(root);
    }
    doc
}

/// The definition a `$ref` schema points to (in draft-07, keywords beside
/// a `$ref` are ignored, so the root is the definition itself).
fn inlined(schema: J, definitions: &J) -> J {
    let target = schema
        .get("$ref")
        .and_then(J::as_str)
        .and_then(|r| r.strip_prefix("#/definitions/"))
        .and_then(|name| definitions.get(name));
    match target {
        Some(t) => t.clone(),
        None => schema,
    }
}

/// Every kind's settings, keyed by kind name, and the definitions they use.
fn kind_definitions() -> J {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = format!("#/{KIND_DEFS}/").into();
    let mut generator = settings.into_generator();
    let mut kinds = Map::new();
    for (name, schema) in kind_schemas(&mut generator) {
        kinds.insert(name.to_string(), schema.to_value());
    }
    let mut defs = generator.take_definitions(true);
    for (name, body) in kinds.iter_mut() {
        defs.insert(format!("kind:{name}"), body.take());
    }
    let mut defs = J::Object(defs);
    scalars_as_text(&mut defs);
    templatable(&mut defs);
    plain_descriptions(&mut defs);
    for name in kinds.keys() {
        if let Some(body) = defs.get_mut(format!("kind:{name}")) {
            with_common_keys(body);
        }
    }
    defs
}

/// The settings schema of every kind, in the registry's order.
fn kind_schemas(g: &mut SchemaGenerator) -> Vec<(&'static str, Schema)> {
    use crate::resources::{self as r, Kind};
    fn of<K: Kind + JsonSchema>(g: &mut SchemaGenerator) -> (&'static str, Schema) {
        (K::KIND, K::json_schema(g))
    }
    vec![
        of::<r::file::File>(g),
        of::<r::directory::Directory>(g),
        of::<r::package::Package>(g),
        of::<r::service::Service>(g),
        of::<r::user::User>(g),
        of::<r::group::Group>(g),
        of::<r::line::Line>(g),
        of::<r::command::Command>(g),
        of::<r::sshd::Sshd>(g),
        of::<r::ufw::Ufw>(g),
        of::<r::cron::Cron>(g),
        of::<r::backup::Backup>(g),
        of::<r::hostname::Hostname>(g),
        of::<r::timezone::Timezone>(g),
        of::<r::sysctl::Sysctl>(g),
        of::<r::apt_repository::AptRepository>(g),
        of::<r::git::Git>(g),
        of::<r::docker::Docker>(g),
        of::<r::compose::Compose>(g),
        of::<r::certificate::Certificate>(g),
        of::<r::require::Require>(g),
        of::<r::check::Check>(g),
    ]
}

/// Add the common keys to a kind's settings object.
fn with_common_keys(body: &mut J) {
    if let Some(props) = body.get_mut("properties").and_then(J::as_object_mut) {
        for (k, v) in common_keys() {
            props.entry(k).or_insert(v);
        }
    }
}

/// Descriptions come from rustdoc comments: their intra-doc links
/// (`` [`Name`] ``) read as plain code in an editor's hover.
fn plain_descriptions(v: &mut J) {
    match v {
        J::Object(m) => {
            if let Some(J::String(d)) = m.get_mut("description") {
                *d = d.replace("[`", "`").replace("`]", "`");
            }
            m.values_mut().for_each(plain_descriptions);
        }
        J::Array(a) => a.iter_mut().for_each(plain_descriptions),
        _ => {}
    }
}

/// Strings read a scalar's source text: a string type accepts numbers and
/// booleans too (`mode: 0644`, `version: 1.10`).
fn scalars_as_text(v: &mut J) {
    match v {
        J::Object(m) => {
            let plain_string = m.get("enum").is_none() && m.get("const").is_none();
            if plain_string && let Some(t) = m.get_mut("type") {
                let has_string = match t {
                    J::String(s) => s == "string",
                    J::Array(a) => a.iter().any(|x| x == "string"),
                    _ => false,
                };
                if has_string {
                    let mut types: Vec<J> = match t.take() {
                        J::Array(a) => a,
                        other => vec![other],
                    };
                    for extra in ["number", "boolean"] {
                        if !types.iter().any(|x| x == extra) {
                            types.push(J::from(extra));
                        }
                    }
                    *t = J::Array(types);
                }
            }
            m.values_mut().for_each(scalars_as_text);
        }
        J::Array(a) => a.iter_mut().for_each(scalars_as_text),
        _ => {}
    }
}

/// A string holding a template expression, accepted wherever a resource
/// setting is (it is rendered, then typed).
fn template() -> J {
    json!({ "type": "string", "pattern": "\\{\\{" })
}

/// Let every setting position (property, list item, map value) also be a
/// template string.
fn templatable(v: &mut J) {
    match v {
        J::Object(m) => {
            for key in ["properties", "patternProperties"] {
                if let Some(J::Object(props)) = m.get_mut(key) {
                    props.values_mut().for_each(or_template);
                }
            }
            for key in ["items", "additionalProperties"] {
                if let Some(sub) = m.get_mut(key)
                    && sub.is_object()
                {
                    or_template(sub);
                }
            }
            m.values_mut().for_each(templatable);
        }
        J::Array(a) => a.iter_mut().for_each(templatable),
        _ => {}
    }
}

fn or_template(s: &mut J) {
    let accepts_text = s.get("type").is_some_and(|t| {
        t == "string" || t.as_array().is_some_and(|a| a.contains(&J::from("string")))
    }) && s.get("enum").is_none()
        && s.get("pattern").is_none();
    if accepts_text || s.as_object().is_some_and(|m| m.is_empty()) {
        return;
    }
    let mut inner = s.take();
    let description = inner.as_object_mut().and_then(|m| m.remove("description"));
    let mut wrapped = json!({ "anyOf": [inner, template()] });
    if let (Some(d), Some(m)) = (description, wrapped.as_object_mut()) {
        m.insert("description".into(), d);
    }
    *s = wrapped;
}

/// Types the loader reads through a hand-written deserializer.
macro_rules! text_schema {
    ($($ty:path => $name:literal, $description:literal;)*) => {$(
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "description": $description })
            }
        }
    )*};
}

text_schema! {
    crate::resources::ufw::PortSpec => "PortSpec", "A port spec such as `443/tcp`, `53` or `8000:8100/tcp`.";
    crate::resources::ufw::Addr => "Addr", "An IP address, a CIDR network or `any`.";
    crate::resources::certificate::Domain => "Domain", "A domain name, optionally `*.` in front.";
    crate::resources::certificate::Email => "Email", "An email address.";
    crate::resources::certificate::Directory => "AcmeDirectory", "An ACME directory: a URL or a known name.";
    crate::resources::certificate::HostPath => "HostPath", "An absolute path on the host.";
}

impl JsonSchema for crate::resources::sshd::Settings {
    fn schema_name() -> Cow<'static, str> {
        "SshdSettings".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "sshd_config keywords and their values (e.g. `MaxAuthTries: 3`, `AllowUsers: [deploy]`).",
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    { "type": ["string", "integer", "boolean"] },
                    { "type": "array", "items": { "type": ["string", "integer", "boolean"] } },
                ],
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_has_a_schema() {
        let mut g = SchemaSettings::draft07().into_generator();
        let names: Vec<&str> = kind_schemas(&mut g).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, crate::resources::kind_names());
    }

    #[test]
    fn strings_accept_scalars_and_settings_accept_templates() {
        let mut v = json!({ "properties": {
            "mode": { "type": "string" },
            "port": { "type": "integer", "description": "d" },
        }});
        scalars_as_text(&mut v);
        templatable(&mut v);
        assert_eq!(
            v["properties"]["mode"],
            json!({ "type": ["string", "number", "boolean"] })
        );
        assert_eq!(v["properties"]["port"]["description"], "d");
        assert_eq!(v["properties"]["port"]["anyOf"][1], template());
    }
}
