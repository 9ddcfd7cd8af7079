//! Loading YAML configuration: inventory, modules and stacks, with spans.
pub mod node;
