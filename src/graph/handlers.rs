//! The kinds a `notify:` can name, and what each does when notified: one
//! table, used by the "cannot be notified" message and mirrored in the
//! README ("Notify"). A unit test keeps it equal to the kinds' own
//! `notifiable()`.

/// `(kind, what happens when it is notified)`.
pub const HANDLERS: &[(&str, &str)] = &[
    ("service", "reloads or restarts the unit, per `on_notify:`"),
    ("command", "runs; with `notified_only: true`, only then"),
    ("compose", "restarts the project"),
    ("docker", "restarts the engine"),
];

/// The help of a "cannot be notified" error: the kinds that can be, and
/// the resources of this host that are handlers.
pub fn help(handlers_here: &[String]) -> String {
    let kinds = HANDLERS
        .iter()
        .map(|(k, what)| format!("`{k}` ({what})"))
        .collect::<Vec<_>>()
        .join(", ");
    let here = if handlers_here.is_empty() {
        "none".to_string()
    } else {
        handlers_here
            .iter()
            .take(8)
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("kinds that can be notified: {kinds}\nhandlers on this host: {here}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::load;

    #[test]
    fn the_table_matches_the_kinds() {
        let minimal = [
            ("service", "name: nginx"),
            ("command", "run: \"true\"\nnotified_only: true"),
            (
                "compose",
                "project: app\ndir: /srv/app\nfile: { content: \"services:\\n  web:\\n    image: nginx\\n\" }",
            ),
            ("docker", "{}"),
            ("file", "path: /etc/x\ncontent: x"),
            ("line", "path: /etc/x\nline: x"),
            ("package", "name: nginx"),
            ("directory", "path: /srv/x"),
        ];
        for (kind, body) in minimal {
            let listed = HANDLERS.iter().any(|(k, _)| *k == kind);
            assert_eq!(load(kind, body).notifiable(), listed, "{kind}");
        }
        for (kind, _) in HANDLERS {
            assert!(
                minimal.iter().any(|(k, _)| k == kind),
                "{kind} is not checked"
            );
        }
    }
}
