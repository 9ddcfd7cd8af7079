//! The parts of the stack and module schemas that the loader reads by
//! hand: `resources:` entries (one kind each), `uses:` of modules, and the
//! keys every resource accepts besides its kind's. Used by the documents'
//! types (`#[schemars(schema_with)]`) and by the generator.

use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value as J, json};

/// Where the kinds' own definitions live in the document.
pub(super) const KIND_DEFS: &str = "kindDefinitions";

/// The keys every resource accepts besides its kind's (see
/// [`crate::config::entry::COMMON_KEYS`]).
pub(super) fn common_keys() -> Map<String, J> {
    let addresses = json!({
        "description": "Addresses of resources (`file[/etc/motd]`, `module.NAME`): one or a list.",
        "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
    });
    let tag = json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]+$" });
    let props = json!({
        "id": { "description": "The name in the resource's address, instead of its natural name.", "type": ["string", "integer"] },
        "depends_on": addresses,
        "notify": addresses,
        "for_each": { "description": "One resource per item of a list or map (or one `{{ }}` expression giving one): `each.key`, `each.value`, `each.index`." },
        "when": { "description": "A condition (true/false, or a `{{ }}` expression), per host.", "type": ["boolean", "string"] },
        "tags": { "description": "Tags for `--tags`.", "anyOf": [tag, { "type": "array", "items": tag }] },
    });
    match props {
        J::Object(m) => m,
        _ => Map::new(),
    }
}

/// `resources:`: a list of one-key maps, the key a kind.
pub fn resources(_: &mut SchemaGenerator) -> Schema {
    let entries: Vec<J> = crate::resources::kind_names()
        .into_iter()
        .map(|name| {
            json!({
                "type": "object",
                "properties": { name: { "$ref": format!("#/{KIND_DEFS}/kind:{name}") } },
                "required": [name],
                "additionalProperties": false,
            })
        })
        .collect();
    Schema::try_from(json!({
        "description": "Resources: `- KIND: { settings }`, one kind per entry.",
        "type": ["array", "null"],
        "items": { "oneOf": entries },
    }))
    .unwrap_or_default()
}

/// `uses:`: module uses.
pub fn uses(_: &mut SchemaGenerator) -> Schema {
    let mut props = common_keys();
    props.remove("notify");
    props.insert(
        "module".into(),
        json!({ "description": "The module's name (see `keel modules`).", "type": "string" }),
    );
    props.insert(
        "with".into(),
        json!({ "description": "The module's inputs.", "type": ["object", "null"] }),
    );
    Schema::try_from(json!({
        "description": "Modules used, each with its inputs (`with:`).",
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "properties": props,
            "required": ["module"],
            "additionalProperties": false,
        },
    }))
    .unwrap_or_default()
}
