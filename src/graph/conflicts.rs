//! Resources that would undo each other on every run: a `file` that owns a
//! path's whole content (`content`, `template`, `source`, or `state:
//! absent`) and a `line` that edits the same path. The file would rewrite
//! what the line added, the line would edit it again: the plan would never
//! be empty. A `file` that manages only permissions (no content) leaves
//! the content to the `line` and is fine.

use crate::diag::{Diag, Diagnostics};
use crate::resolve::Resolved;
use crate::resources::common::State;
use crate::resources::file::File;
use crate::resources::line::Line;
use std::collections::BTreeMap;

/// Every `line` on a path whose content a `file` owns.
pub fn file_and_line(res: &Resolved) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let norm = |p: &str| {
        let t = p.trim_end_matches('/');
        if t.is_empty() {
            "/".to_string()
        } else {
            t.to_string()
        }
    };
    let owners: BTreeMap<String, usize> = res
        .instances
        .iter()
        .enumerate()
        .filter_map(|(i, inst)| {
            let f = inst.resource.as_any().downcast_ref::<File>()?;
            let owns = f.state == State::Absent
                || f.content.is_some()
                || f.template.is_some()
                || f.source.is_some();
            owns.then(|| (norm(&f.path), i))
        })
        .collect();
    for inst in &res.instances {
        let Some(l) = inst.resource.as_any().downcast_ref::<Line>() else {
            continue;
        };
        let Some(&fi) = owners.get(&norm(&l.path)) else {
            continue;
        };
        let file = &res.instances[fi];
        let (fl, fc) = file.origin.source.line_col(file.span.offset);
        let mut d = Diag::at(
            "keel::conflict",
            &inst.origin.source,
            inst.span,
            format!(
                "`{}` edits {}, whose whole content `{}` manages",
                inst.address, l.path, file.address
            ),
            "edits the same file",
        )
        .with_help(format!(
            "each run would undo the other (the file rewrites the line, the line edits the file again): put the line in the content of `{}` (declared at {}:{fl}:{fc}), or keep only its mode/owner/group there",
            file.address, file.origin.source.name
        ));
        if file.origin.source.name == inst.origin.source.name {
            d = d.with_note(file.span, format!("`{}` declared here", file.address));
        } else {
            d = d.with_related(Diag::at(
                "keel::conflict",
                &file.origin.source,
                file.span,
                format!("`{}` is declared here", file.address),
                "manages the whole file",
            ));
        }
        diags.push(d);
    }
    diags
}
