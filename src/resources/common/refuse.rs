//! A change keel plans but refuses to carry out (two engines from two
//! sources, a directory where a file should be): the reason is in the plan
//! and the command fails at apply with the same reason on stderr.

use super::super::{Action, Cmd, Diff, Planned};
use crate::shell::Script;

/// An update whose one command prints `keel: <who>: <why>` and fails.
pub fn refused_update(who: &str, summary: String, why: &str) -> Planned {
    let msg = format!("keel: {who}: {why}");
    let script = Script::new(include_str!("refuse/refuse.sh"))
        .set("keel_msg", msg)
        .render();
    Planned::new(
        Diff::with_action(Action::Update).reason(why),
        vec![Cmd::new(summary, script)],
    )
}
