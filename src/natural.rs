//! Natural order of host names: runs of digits compare as numbers, so
//! `web-2` comes before `web-10`.

use std::cmp::Ordering;

/// Compare two names in natural order (ties broken by plain order).
pub fn cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (cx, rx) = chunk(x);
        let (cy, ry) = chunk(y);
        let both_digits = cx.starts_with(|c: char| c.is_ascii_digit())
            && cy.starts_with(|c: char| c.is_ascii_digit());
        let o = if both_digits {
            let (nx, ny) = (cx.trim_start_matches('0'), cy.trim_start_matches('0'));
            nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
        } else {
            cx.cmp(cy)
        };
        if o != Ordering::Equal {
            return o;
        }
        (x, y) = (rx, ry);
    }
}

/// The leading run of digits or of non-digits, and the rest.
fn chunk(s: &str) -> (&str, &str) {
    let digit = s.starts_with(|c: char| c.is_ascii_digit());
    let end = s
        .find(|c: char| c.is_ascii_digit() != digit)
        .unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_as_numbers() {
        let mut v = vec![
            "web-10", "db", "web-2", "web-1", "web-02a", "web-100", "web",
        ];
        v.sort_by(|a, b| cmp(a, b));
        assert_eq!(
            v,
            [
                "db", "web", "web-1", "web-2", "web-02a", "web-10", "web-100"
            ]
        );
        assert_eq!(cmp("a01", "a1"), "a01".cmp("a1"), "ties are stable");
        assert_eq!(
            cmp("h99999999999999999999999", "h100000000000000000000000"),
            Ordering::Less,
            "no overflow on long numbers"
        );
    }
}
