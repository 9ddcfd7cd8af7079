//! `keel graph`: the dependency graph of each host, as text or DOT.

use super::{Common, GraphFormat, report};
use crate::exit::Exit;
use crate::graph::render;
use crate::session;

pub fn run(common: &Common, format: GraphFormat) -> Exit {
    let inv = super::inventory_path(common.inventory.as_deref(), &common.stack);
    match session::check_overridden(
        &common.stack,
        &inv,
        common.limit.as_deref(),
        false,
        &super::set_overrides(&common.set),
    ) {
        Ok((_, v)) => {
            let mut text = String::new();
            // In the hosts' natural order (`h-2` before `h-10`), not the map's.
            for (res, g) in v.hosts.iter().filter_map(|h| v.offline.get(h)) {
                text.push_str(&match format {
                    GraphFormat::Text => render::text(res, g),
                    GraphFormat::Dot => render::dot(res, g),
                });
            }
            super::out(&text);
            Exit::Ok
        }
        Err(d) => {
            report(&d);
            Exit::Error
        }
    }
}
