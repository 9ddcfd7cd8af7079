//! Schemas of field shapes that the derived ones cannot say, for
//! `#[schemars(schema_with = ...)]` on the loader's and the kinds' types:
//! free-form `vars:`, and a list written as one value or many.

use schemars::{Schema, SchemaGenerator, json_schema};

/// `vars:`: a map of values, read by templates as `{{vars.NAME}}`.
pub fn vars(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Values templates read as `{{vars.NAME}}`.",
        "type": ["object", "null"],
    })
}

/// A list written as one value or a list (`uris: https://...`).
pub fn one_or_many(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } },
        ],
    })
}
