//! The declared `settings:` map: deserialized with checks so every
//! problem points at its key or value, and rendered as drop-in lines.

use super::*;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// One declared setting: the keyword and its (checked) values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub keyword: &'static Keyword,
    pub values: Vec<String>,
}

impl Setting {
    pub(super) fn display(&self) -> String {
        self.values.join(self.keyword.sep())
    }

    /// The lines of the drop-in for this setting.
    pub(super) fn lines(&self, out: &mut String) {
        let name = self.keyword.name;
        match self.keyword.layout {
            Layout::Lines => {
                for v in &self.values {
                    let _ = writeln!(out, "{name} {v}");
                }
            }
            Layout::One | Layout::Words => {
                let _ = writeln!(out, "{name} {}", self.values.join(" "));
            }
            Layout::Commas => {
                let _ = writeln!(out, "{name} {}", self.values.join(","));
            }
        }
    }

    /// Whether the effective value can be compared reliably.
    pub(super) fn comparable(&self) -> bool {
        match self.keyword.eff {
            Eff::FileOnly => false,
            _ => match self.keyword.layout {
                // `+aes128-cbc` and friends edit the default list.
                Layout::Commas => !self.values.iter().any(|v| v.starts_with(['+', '-', '^'])),
                // Quotes, escapes and comments are interpreted by sshd.
                _ => !self
                    .values
                    .iter()
                    .any(|v| v.contains(['"', '\'', '\\', '#'])),
            },
        }
    }

    /// The declared values as `sshd -T` prints them.
    pub(super) fn expected(&self) -> Vec<String> {
        let kw = self.keyword;
        match (kw.eff, kw.layout) {
            (Eff::Subset, _) => self.values.iter().map(|v| normalize(kw, v)).collect(),
            (_, Layout::Commas) => vec![self.values.join(",")],
            _ => vec![normalize(kw, &self.values.join(" "))],
        }
    }
}

/// The `settings:` map, in the order written. Deserialized with checks so
/// that every problem points at its key or value in the YAML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(pub Vec<Setting>);

impl<'de> serde::Deserialize<'de> for Settings {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SettingsVisitor)
    }
}

pub(super) struct SettingsVisitor;

impl<'de> Visitor<'de> for SettingsVisitor {
    type Value = Settings;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of sshd_config keywords to values (e.g. `MaxAuthTries: 3`)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Settings, A::Error> {
        let mut out: Vec<Setting> = Vec::new();
        while let Some(keyword) = map.next_key_seed(KeySeed { seen: &out })? {
            let values = map.next_value_seed(ValueSeed { keyword })?;
            out.push(Setting { keyword, values });
        }
        Ok(Settings(out))
    }
}

pub(super) struct KeySeed<'a> {
    seen: &'a [Setting],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = &'static Keyword;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = &'static Keyword;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an sshd_config keyword")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.eq_ignore_ascii_case("Match") || v.eq_ignore_ascii_case("Include") {
            return Err(E::custom(format!(
                "`{v}` is not supported in `settings`: the drop-in is one flat list of settings (use a `file` resource for a drop-in with `Match` blocks)"
            )));
        }
        if let Some((name, why)) = RETIRED.iter().find(|(n, _)| n.eq_ignore_ascii_case(v)) {
            return Err(E::custom(format!(
                "`{name}` is obsolete and ignored by OpenSSH 9: {why}"
            )));
        }
        let Some(kw) = keyword(v) else {
            let hint = match closest_keyword(v) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "see `man sshd_config` for the keywords".into(),
            };
            return Err(E::custom(format!(
                "unknown sshd_config keyword `{v}`: {hint}"
            )));
        };
        if let Some(prev) = self
            .seen
            .iter()
            .find(|s| s.keyword.canonical() == kw.canonical())
        {
            let same = if prev.keyword.name == kw.name {
                format!("`{}` is set twice", kw.name)
            } else {
                format!(
                    "`{v}` sets the same option as `{}`, set above",
                    prev.keyword.name
                )
            };
            return Err(E::custom(format!(
                "{same} (keywords are case-insensitive): give several values as a list"
            )));
        }
        Ok(kw)
    }
}

pub(super) struct ValueSeed {
    keyword: &'static Keyword,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Vec<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.keyword.layout == Layout::One {
            write!(f, "one value for `{}`", self.keyword.name)
        } else {
            write!(f, "a value or a list of values for `{}`", self.keyword.name)
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let kw = self.keyword;
        // A control character is reported whole, before any splitting.
        if v.chars().any(|c| c.is_control() && c != '\t') {
            return Err(E::custom(check_value(kw, v).unwrap_err()));
        }
        let parts = split_scalar(kw, v);
        if parts.is_empty() {
            return Err(E::custom("a value is needed here"));
        }
        parts
            .iter()
            .map(|p| check_value(kw, p).map_err(E::custom))
            .collect()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("a value is needed here"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kw = self.keyword;
        if kw.layout == Layout::One {
            return Err(de::Error::custom(format!(
                "`{}` takes one value, found a list",
                kw.name
            )));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ItemSeed { keyword: kw })? {
            out.extend(v);
        }
        if out.is_empty() {
            return Err(de::Error::custom(
                "the list is empty: give at least one value",
            ));
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(format!(
            "`{}` takes a value or a list, found a map",
            self.keyword.name
        )))
    }
}

/// One item of a list value (checked where it stands, so errors point at it).
pub(super) struct ItemSeed {
    keyword: &'static Keyword,
}

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Vec<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a value of `{}`", self.keyword.name)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let kw = self.keyword;
        // An item of an algorithm list may itself be `a,b`.
        let parts = if kw.layout == Layout::Commas {
            split_scalar(kw, v)
        } else {
            vec![v.to_string()]
        };
        if parts.is_empty() {
            return Err(E::custom("a value is needed here"));
        }
        parts
            .iter()
            .map(|p| check_value(kw, p).map_err(E::custom))
            .collect()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("this item is empty"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("expected a value here, found a list"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("expected a value here, found a map"))
    }
}
