//! "Did you mean": the closest known name to a misspelt one, for
//! diagnostics of every stage (inventory, stack, modules, references),
//! bounded in the work one run may spend on it.

/// Names longer than this get no "did you mean" (comparing costs time in
/// the product of the lengths: one 100 kB address against 2,000 others
/// took over 20 s) and are shortened when listed.
pub const MAX_SUGGEST_CHARS: usize = 64;

/// Work (product of the lengths compared) all suggestions of one run may
/// take: about a second. 5,000 dangling references among 5,000 resources
/// are 25 million comparisons (46 s); past the budget, no more suggestions
/// (only the first 50 problems are shown anyway).
const SUGGEST_BUDGET: usize = 100_000_000;

static SUGGEST_SPENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The candidate closest to `found`, when it is close enough to suggest.
/// Only names of at most [`MAX_SUGGEST_CHARS`] characters are compared, and
/// only while the run's [`SUGGEST_BUDGET`] lasts.
pub fn closest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    use std::sync::atomic::Ordering::Relaxed;
    let n = found.chars().count();
    if n > MAX_SUGGEST_CHARS {
        return None;
    }
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let m = c.chars().count();
        if m > MAX_SUGGEST_CHARS {
            continue;
        }
        if SUGGEST_SPENT.fetch_add(n.max(1) * m.max(1), Relaxed) > SUGGEST_BUDGET {
            return None;
        }
        let score = strsim::jaro_winkler(found, c);
        if score > 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `` `name` `` for a list of names, long ones shortened.
pub fn quoted_name(name: &str) -> String {
    if name.chars().count() > MAX_SUGGEST_CHARS {
        let short: String = name.chars().take(MAX_SUGGEST_CHARS).collect();
        format!("`{short}…`")
    } else {
        format!("`{name}`")
    }
}

/// "did you mean `x`?" among candidates, or a list of them.
pub fn closest_hint<'a>(found: &str, candidates: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&String> = candidates.collect();
    match closest(found, all.iter().map(|c| c.as_str())) {
        Some(c) => format!("did you mean `{c}`?"),
        None if all.is_empty() => "none are defined".to_string(),
        None => format!(
            "known: {}{}",
            all.iter()
                .take(12)
                .map(|c| quoted_name(c))
                .collect::<Vec<_>>()
                .join(", "),
            if all.len() > 12 {
                format!(" and {} more", all.len() - 12)
            } else {
                String::new()
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_short_names() {
        let names: Vec<String> = vec!["package[nginx]".into(), "x".repeat(100)];
        assert_eq!(
            closest_hint("package[ngnix]", names.iter()),
            "did you mean `package[nginx]`?"
        );
        // A long name is neither compared nor suggested, and is listed short.
        let long = format!("{}y", "x".repeat(99));
        let hint = closest_hint(&long, names.iter());
        assert!(hint.starts_with("known: `package[nginx]`, `xxx"), "{hint}");
        assert!(hint.contains("…`"), "{hint}");
        assert!(hint.len() < 200, "{hint}");
        assert_eq!(closest(&"x".repeat(65), ["x".repeat(65).as_str()]), None);
    }
}
