//! Passwords in an Ansible inventory never reach keel's output.
//!
//! keel drops every `ansible_*pass`/`ansible_*password` value (it takes
//! no password from an inventory), but a problem anywhere near one would
//! show it: a diagnostic quotes its file around the line at fault. So the
//! text of every Ansible inventory file is masked as it is read, before
//! anything parses or quotes it: each such value's characters become `x`,
//! byte for byte (every span stays where it was), quotes kept. `null`,
//! `~` and empty values are left as they are, so a password set and one
//! set to null still read differently (`auth: password` or not).

/// Whether a variable holds a password (the rule `conn.rs` drops them by).
pub fn is_password(name: &str) -> bool {
    name.starts_with("ansible_") && (name.ends_with("pass") || name.ends_with("password"))
}

/// An Ansible inventory file read as bytes, masked (see the module doc);
/// an error naming the first byte that is not UTF-8 otherwise (the text
/// before it masked too).
pub fn source(
    name: String,
    bytes: Vec<u8>,
) -> Result<crate::diag::SourceFile, crate::diag::Diagnostics> {
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return Ok(crate::diag::SourceFile::new(name, mask(&text))),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            let prefix = std::str::from_utf8(&bytes[..valid])
                .map(mask)
                .unwrap_or_default();
            if prefix.len() == valid {
                bytes[..valid].copy_from_slice(prefix.as_bytes());
            }
            bytes
        }
    };
    crate::diag::SourceFile::from_bytes(name, bytes)
}

/// `text` with every password value masked (see the module doc).
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(&mask_line(line));
    }
    out
}

/// One line, masked: every `KEY=VALUE` (INI) and `KEY: VALUE` (YAML) of a
/// password key on it.
fn mask_line(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut masked: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word =
            i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'{' | b',' | b'"' | b'\'');
        if !starts_word || !line[i..].starts_with("ansible_") {
            i += 1;
            continue;
        }
        let name_end = line[i..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(line.len(), |n| i + n);
        let name = &line[i..name_end];
        let mut j = name_end;
        // A quoted YAML key: `"ansible_password": x`.
        if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
            j += 1;
        }
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        let sep = bytes.get(j).copied();
        if !is_password(name) || !matches!(sep, Some(b'=' | b':')) {
            i = name_end.max(i + 1);
            continue;
        }
        j += 1;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        let flow = line[..i].contains('{');
        let end = value_end(line, j, sep == Some(b'='), flow);
        if let Some(range) = secret_range(line, j, end) {
            masked.push(range);
        }
        i = end.max(name_end);
    }
    let mut s = line.to_string();
    for (a, b) in masked {
        let x: String = line[a..b]
            .chars()
            .map(|c| "x".repeat(c.len_utf8()))
            .collect();
        s.replace_range(a..b, &x);
    }
    s
}

/// Where the value starting at `start` ends: its closing quote, else the
/// first blank (INI), the end of a flow item (`,`, `}`, `]`) or of the line
/// before a comment (YAML).
fn value_end(line: &str, start: usize, ini: bool, flow: bool) -> usize {
    let bytes = line.as_bytes();
    let body_end = line.trim_end_matches(['\n', '\r']).len();
    match bytes.get(start) {
        Some(&q @ (b'"' | b'\'')) => {
            let mut k = start + 1;
            while k < body_end {
                if bytes[k] == b'\\' && q == b'"' {
                    k += 2;
                    continue;
                }
                if bytes[k] == q {
                    return k + 1;
                }
                k += 1;
            }
            body_end
        }
        _ => {
            let rest = &line[start..body_end];
            let stop = rest
                .char_indices()
                .find(|&(k, c)| {
                    if ini {
                        c.is_whitespace()
                    } else {
                        (flow && matches!(c, ',' | '}' | ']'))
                            || (c == '#' && rest[..k].ends_with([' ', '\t']))
                    }
                })
                .map_or(rest.len(), |(k, _)| k);
            start + rest[..stop].trim_end().len()
        }
    }
}

/// The characters to mask of the value `line[start..end]`: inside its
/// quotes; none for an empty, null or vault-encrypted value.
fn secret_range(line: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let value = &line[start..end];
    if value.is_empty() || matches!(value, "null" | "Null" | "NULL" | "~" | "|" | ">") {
        return None;
    }
    if value.starts_with("!vault") {
        return None;
    }
    let quoted = value.len() >= 2
        && matches!(value.as_bytes()[0], b'"' | b'\'')
        && value.as_bytes()[value.len() - 1] == value.as_bytes()[0];
    let (a, b) = if quoted {
        (start + 1, end - 1)
    } else {
        (start, end)
    };
    (a < b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_and_yaml_password_values_are_masked_in_place() {
        let ini = "[web]\nweb1 ansible_user=deploy ansible_password=hunter2 ansible_port=22\nweb2 ansible_become_pass='s3 cr\"et' x=1\n[web:vars]\nansible_ssh_pass = \"p@ss w\\\"d\"\n";
        let m = mask(ini);
        assert_eq!(m.len(), ini.len());
        for s in ["hunter2", "s3 cr", "p@ss"] {
            assert!(!m.contains(s), "{s} in {m}");
        }
        assert!(
            m.contains("ansible_password=xxxxxxx ansible_port=22"),
            "{m}"
        );
        assert!(m.contains("ansible_become_pass='xxxxxxxx' x=1"), "{m}");
        assert!(m.contains("ansible_user=deploy"), "{m}");

        let yaml = "all:\n  vars:\n    ansible_password: Äpfel-#1 # the old one\n    \"ansible_become_password\": 'q'\n  hosts:\n    a: { ansible_ssh_password: abc, ansible_user: u }\n    b:\n      ansible_password: null\n      ansible_sudo_pass: !vault |\n";
        let m = mask(yaml);
        assert_eq!(m.len(), yaml.len());
        assert!(!m.contains("Äpfel") && !m.contains("abc,"), "{m}");
        assert!(
            m.contains("ansible_password: xxxxxxxxx # the old one"),
            "{m}"
        );
        assert!(m.contains("'x'") && m.contains("ansible_user: u }"), "{m}");
        assert!(
            m.contains("ansible_password: null") && m.contains("!vault |"),
            "{m}"
        );
        // Other variables, and names that merely contain the word, stay.
        let other = "web1 my_ansible_password=keep ansible_passwordless=1 db_password=keep\n";
        assert_eq!(mask(other), other);
    }
}
