//! Host patterns of Ansible inventories: ranges (`web[01:20]`, `db-[a:c]`,
//! `node[0:10:2]`) and a trailing `:port` (`mail.example.com:2222`).
//!
//! A pattern expands to a list of host names. Numeric ranges keep the
//! width of a zero-padded start (`[01:03]` is `01 02 03`); alphabetic ones
//! run over single letters. Several ranges in one pattern multiply.

/// How many hosts one pattern may expand to: a typo such as `[0:9999999]`
/// is refused instead of filling memory.
pub const MAX_HOSTS: usize = 10_000;

/// A pattern split into host names and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub names: Vec<String>,
    pub port: Option<u16>,
}

/// Expand a host pattern. The error is a sentence for the user.
pub fn expand(pattern: &str) -> Result<Expanded, String> {
    let (name, port) = split_port(pattern)?;
    if name.is_empty() {
        return Err("a host name is missing".into());
    }
    let mut names = vec![String::new()];
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let close = rest[open..]
            .find(']')
            .map(|i| open + i)
            .ok_or_else(|| format!("`[` without a closing `]` in `{pattern}`"))?;
        let prefix = &rest[..open];
        if prefix.contains(']') {
            return Err(format!("`]` without an opening `[` in `{pattern}`"));
        }
        let items = range_items(&rest[open + 1..close], pattern)?;
        if names.len().saturating_mul(items.len()) > MAX_HOSTS {
            return Err(format!(
                "`{pattern}` expands to more than {MAX_HOSTS} hosts"
            ));
        }
        names = names
            .iter()
            .flat_map(|n| items.iter().map(move |i| format!("{n}{prefix}{i}")))
            .collect();
        rest = &rest[close + 1..];
    }
    if rest.contains(']') {
        return Err(format!("`]` without an opening `[` in `{pattern}`"));
    }
    for n in &mut names {
        n.push_str(rest);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '=' | '"' | '\''))
    {
        return Err(format!(
            "`{pattern}` holds `{bad}`, which a host name cannot"
        ));
    }
    Ok(Expanded { names, port })
}

/// `name:port` → (name, port). A colon inside brackets belongs to a range.
fn split_port(pattern: &str) -> Result<(&str, Option<u16>), String> {
    let mut depth = 0i32;
    let mut colon = None;
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => colon = Some(i),
            _ => {}
        }
    }
    let Some(i) = colon else {
        return Ok((pattern, None));
    };
    let (name, port) = (&pattern[..i], &pattern[i + 1..]);
    if name.contains(':') && !name.contains('[') {
        // An IPv6 address without a port.
        return Ok((pattern, None));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((name, Some(p))),
        _ => Err(format!(
            "`{port}` after `:` in `{pattern}` is not a port (1-65535)"
        )),
    }
}

/// The items of one `[start:end]` or `[start:end:stride]`.
fn range_items(inner: &str, pattern: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = inner.split(':').collect();
    let (start, end, stride) = match parts.as_slice() {
        [s, e] => (*s, *e, 1usize),
        [s, e, st] => {
            let stride = st.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("the step `{st}` in `{pattern}` is not a positive number")
            })?;
            (*s, *e, stride)
        }
        _ => {
            return Err(format!(
                "`[{inner}]` in `{pattern}` is not a range: write `[START:END]` or `[START:END:STEP]`"
            ));
        }
    };
    if start.is_empty() || end.is_empty() {
        return Err(format!(
            "the range `[{inner}]` in `{pattern}` needs a start and an end"
        ));
    }
    if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if a > b {
            return Err(format!(
                "the range `[{inner}]` in `{pattern}` runs backwards: its start is after its end"
            ));
        }
        if (b - a) / stride as u64 >= MAX_HOSTS as u64 {
            return Err(format!(
                "`{pattern}` expands to more than {MAX_HOSTS} hosts"
            ));
        }
        let width = if start.len() > 1 && start.starts_with('0') {
            start.len()
        } else {
            0
        };
        return Ok((a..=b)
            .step_by(stride)
            .map(|n| format!("{n:0width$}"))
            .collect());
    }
    let letter = |s: &str| {
        let mut cs = s.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
            _ => None,
        }
    };
    match (letter(start), letter(end)) {
        (Some(a), Some(b)) if a.is_ascii_lowercase() == b.is_ascii_lowercase() => {
            if a > b {
                return Err(format!(
                    "the range `[{inner}]` in `{pattern}` runs backwards: its start is after its end"
                ));
            }
            Ok((a..=b).step_by(stride).map(String::from).collect())
        }
        _ => Err(format!(
            "the range `[{inner}]` in `{pattern}` must run between two numbers (`[01:20]`) or two letters of the same case (`[a:f]`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<String> {
        expand(p).unwrap().names
    }

    #[test]
    fn plain_names_and_ports() {
        assert_eq!(names("web1.example.com"), ["web1.example.com"]);
        let e = expand("mail.example.com:2222").unwrap();
        assert_eq!(
            (e.names.as_slice(), e.port),
            (&["mail.example.com".to_string()][..], Some(2222))
        );
        assert_eq!(expand("fe80::1").unwrap().port, None);
    }

    #[test]
    fn numeric_ranges_keep_padding_and_steps() {
        assert_eq!(names("web[01:03]"), ["web01", "web02", "web03"]);
        assert_eq!(
            names("web[8:10].lan"),
            ["web8.lan", "web9.lan", "web10.lan"]
        );
        assert_eq!(names("n[0:6:3]"), ["n0", "n3", "n6"]);
        assert_eq!(names("web[01:20]").len(), 20);
        assert_eq!(names("web[01:20]")[19], "web20");
    }

    #[test]
    fn letter_ranges_and_several_ranges() {
        assert_eq!(names("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(names("r[1:2]-[x:y]"), ["r1-x", "r1-y", "r2-x", "r2-y"]);
        let e = expand("db-[a:b]:5432").unwrap();
        assert_eq!(
            (e.names, e.port),
            (vec!["db-a".into(), "db-b".into()], Some(5432))
        );
    }

    #[test]
    fn bad_patterns_are_explained() {
        for (p, part) in [
            ("web[3:1]", "backwards"),
            ("web[1:a]", "two numbers"),
            ("web[a:C]", "same case"),
            ("web[01:20", "closing"),
            ("web01]", "opening"),
            ("web[1:2:0]", "step"),
            ("web[1]", "not a range"),
            ("web:99999", "not a port"),
            ("web[0:99999999]", "more than"),
            ("a[0:999]b[0:999]", "more than"),
            ("web[:3]", "start and an end"),
            ("ansible_host=10.0.0.1", "holds `=`"),
        ] {
            let e = expand(p).unwrap_err();
            assert!(e.contains(part), "{p}: {e}");
        }
    }
}
