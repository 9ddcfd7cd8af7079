//! The `apt_repository` kind: a third-party apt repository (Docker's, a
//! vendor's) with the OpenPGP key it is signed with, as a deb822 `.sources`
//! file and a key file only that source trusts.
//!
//! ```yaml
//! - apt_repository:
//!     name: docker                  # → /etc/apt/sources.list.d/keel-docker.sources
//!     uris: [https://download.docker.com/linux/debian]
//!     suites: ["{{facts.os.codename}}"]
//!     components: [stable]
//!     architectures: [amd64]        # optional
//!     key: |                        # or `key_file: docker.asc` (armored or binary)
//!       -----BEGIN PGP PUBLIC KEY BLOCK-----
//!       ...
//!     fingerprint: 9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88   # optional pin
//! - package: { name: docker-ce, depends_on: ["apt_repository[docker]"] }
//! ```
//!
//! Two files, both `0644`: `/etc/apt/keyrings/keel-NAME.asc` (the armored
//! key; apt ≥ 2.4 reads armored keys named in `Signed-By`, so gnupg is not
//! needed on the host) and `/etc/apt/sources.list.d/keel-NAME.sources`
//! with `Signed-By:` naming that key, so the key is trusted for this source
//! only (never added to the global keyring). Because the sources file is
//! world-readable, a URI with credentials (`https://user:pass@host/…`) is
//! refused at load time: they belong in `/etc/apt/auth.conf.d/` (0600).
//!
//! The probe reads both files (base64) and lists other sources files that
//! mention the same URIs. The plan shows the `.sources` file as a content
//! diff and the key by its user ID and fingerprint.
//!
//! A new or changed repository is validated before it replaces anything:
//! 1. the candidate files are written to a temporary directory and
//!    `apt-get update` runs for that source alone (`Dir::Etc::sourcelist`
//!    pointing at the candidate, no `sources.list.d`, no list cleanup,
//!    `--error-on=any`), so an unreachable repository or a wrong key fails
//!    here, with apt's message, and the installed files are untouched;
//!    success also leaves that source's package lists in place, so packages
//!    that depend on the repository can install straight away;
//! 2. the files are installed (key first, each atomically) and
//!    `apt-cache policy` parses the whole apt configuration: if it parsed
//!    before and fails now (typically "Conflicting values set for option
//!    Signed-By" because another file declares the same source with another
//!    key), the previous files (or their absence) are restored and the
//!    resource fails with apt's message.
//!
//! `state: absent` removes both files (package lists already downloaded stay
//! until the next `apt-get update`).
//!
//! Packages from the repository must depend on it explicitly
//! (`depends_on: ["apt_repository[docker]"]`): keel cannot know which
//! repository a package comes from.

use super::common::State;
use super::common::content::showable;
use super::*;
use crate::shell::{self, Perms, Script, TempFile, q};
use std::fmt::Write as _;

const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
const KEYRING_DIR: &str = "/etc/apt/keyrings";
const MODE: &str = "0644";
const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const ARMOR_END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

/// An apt repository with its signing key.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AptRepository {
    /// `[a-z0-9-]+`; names the files `keel-NAME.sources` / `keel-NAME.asc`.
    pub name: String,
    #[serde(default)]
    pub state: State,
    /// `deb` (default) and/or `deb-src`.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "crate::schema::fields::one_or_many")]
    pub types: Vec<String>,
    /// Repository base URIs (http, https or file).
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "crate::schema::fields::one_or_many")]
    pub uris: Vec<String>,
    /// Suites (codenames); a suite ending in `/` is a flat repository path.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "crate::schema::fields::one_or_many")]
    pub suites: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(schema_with = "crate::schema::fields::one_or_many")]
    pub components: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many_opt")]
    #[schemars(schema_with = "crate::schema::fields::one_or_many")]
    pub architectures: Option<Vec<String>>,
    /// The ASCII-armored public key, inline.
    pub key: Option<String>,
    /// A local file with the key (armored, or binary OpenPGP packets).
    pub key_file: Option<String>,
    /// The expected fingerprint of the (first) key: checked at load time.
    pub fingerprint: Option<String>,
    /// The armored key as it will be written (from `key` or `key_file`).
    #[serde(skip)]
    armored: Option<Result<String, KeyError>>,
    /// A directory prefix for every host path (tests only).
    #[serde(skip)]
    root: String,
}

/// One of the two managed files, as the probe saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FileState {
    #[default]
    Absent,
    File {
        content: Vec<u8>,
        mode: String,
    },
    /// A symbolic link, directory or special file.
    Other(String),
}

impl FileState {
    fn content(&self) -> Option<&[u8]> {
        match self {
            FileState::File { content, .. } => Some(content),
            _ => None,
        }
    }
    fn exists(&self) -> bool {
        !matches!(self, FileState::Absent)
    }
}

/// The live state of the repository's files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AptRepoFact {
    pub sources: FileState,
    pub key: FileState,
    /// Other sources files that mention one of the URIs.
    pub also_in: Vec<String>,
}

// ---------------------------------------------------------------------------
// YAML helpers: a list, or a single scalar for a one-element list.

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut s: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(x) = s.next_element::<String>()? {
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

fn one_or_many_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    one_or_many(d).map(Some)
}

// ---------------------------------------------------------------------------
// OpenPGP: just enough to validate a public key and name it in plans.

/// A parsed public key: its binary packets and what the plan shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The first user ID (`Name <email>`), if any.
    pub user_id: Option<String>,
    /// The primary key's fingerprint (v4 keys), upper-case hex.
    pub fingerprint: Option<String>,
}

impl KeyInfo {
    fn describe(&self, text: &[u8]) -> String {
        let mut parts = Vec::new();
        if let Some(u) = &self.user_id {
            parts.push(u.clone());
        }
        match &self.fingerprint {
            Some(f) => parts.push(f.clone()),
            None => parts.push(format!(
                "sha256 {}",
                &super::common::content::sha256_hex(text)[..12]
            )),
        }
        parts.join(" ")
    }
}

/// Iterate OpenPGP packets: (tag, body). Stops at anything malformed.
fn packets(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b & 0x80 == 0 {
            break;
        }
        let (tag, len, hdr) = if b & 0x40 != 0 {
            let tag = b & 0x3f;
            let Some(&o) = data.get(i + 1) else { break };
            match o {
                0..=191 => (tag, o as usize, 2),
                192..=223 => {
                    let Some(&o2) = data.get(i + 2) else { break };
                    (tag, ((o as usize - 192) << 8) + o2 as usize + 192, 3)
                }
                255 => {
                    let Some(l) = data.get(i + 2..i + 6) else {
                        break;
                    };
                    (
                        tag,
                        u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
                        6,
                    )
                }
                _ => break, // partial lengths never occur in keys
            }
        } else {
            let tag = (b >> 2) & 0x0f;
            match b & 3 {
                0 => {
                    let Some(&l) = data.get(i + 1) else { break };
                    (tag, l as usize, 2)
                }
                1 => {
                    let Some(l) = data.get(i + 1..i + 3) else {
                        break;
                    };
                    (tag, u16::from_be_bytes([l[0], l[1]]) as usize, 3)
                }
                2 => {
                    let Some(l) = data.get(i + 1..i + 5) else {
                        break;
                    };
                    (
                        tag,
                        u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
                        5,
                    )
                }
                _ => (tag, data.len() - i - 1, 1),
            }
        };
        let start = i + hdr;
        let Some(body) = data.get(start..start.saturating_add(len)) else {
            break;
        };
        out.push((tag, body));
        i = start + len;
    }
    out
}

/// Why a declared key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum KeyError {
    #[error(
        "this is a SECRET key: give the public key only (`gpg --armor --export KEYID`), never the private one"
    )]
    SecretKey,
    #[error("this is a PRIVATE key block: give the public key only (`gpg --armor --export KEYID`)")]
    PrivateBlock,
    #[error("the data is not an OpenPGP public key (its first packet has tag {0})")]
    FirstPacket(u8),
    #[error("the data is not an OpenPGP public key")]
    NotKey,
    #[error(
        "no `{}` line: this does not look like an ASCII-armored public key",
        ARMOR_BEGIN
    )]
    NoBegin,
    #[error("the key block has no `{}` line", ARMOR_END)]
    NoEnd,
    #[error("the key block is damaged: {0}")]
    Damaged(String),
    #[error("the key block is empty")]
    Empty,
    #[error("is neither an ASCII-armored key nor binary OpenPGP data")]
    NotText,
    /// The key file could not be read (the message of the reader).
    #[error("{0}")]
    Read(String),
}

/// Why a repository URI is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum BadUri {
    #[error("`{}` {why}", .uri.escape_debug())]
    Invalid { uri: String, why: &'static str },
    /// The message leaves the user info out: it may be a password.
    #[error(
        "`{scheme}://…@{}{}` carries credentials (user:password@): the sources \
         file is readable by every user, so keel does not write them there; \
         give the URI without them and put them in \
         /etc/apt/auth.conf.d/NAME.conf (a `file` resource with mode 0600 holding \
         `machine {} login USER password PASSWORD`, see apt_auth.conf(5))",
        .host_port.escape_debug(),
        .path.escape_debug(),
        .host_port.escape_debug()
    )]
    Credentials {
        scheme: String,
        host_port: String,
        path: String,
    },
}

/// Check binary OpenPGP data is a public key and describe it.
fn key_info(data: &[u8]) -> Result<KeyInfo, KeyError> {
    let pk = packets(data);
    match pk.first() {
        Some((6, body)) => {
            let fingerprint = (body.first() == Some(&4) && body.len() <= 0xffff).then(|| {
                let mut m = vec![0x99, (body.len() >> 8) as u8, body.len() as u8];
                m.extend_from_slice(body);
                sha1(&m).iter().map(|b| format!("{b:02X}")).collect()
            });
            let user_id = pk
                .iter()
                .find(|(t, _)| *t == 13)
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned());
            Ok(KeyInfo {
                user_id,
                fingerprint,
            })
        }
        Some((5, _)) => Err(KeyError::SecretKey),
        Some((t, _)) => Err(KeyError::FirstPacket(*t)),
        None => Err(KeyError::NotKey),
    }
}

/// Take an ASCII-armored public key block apart: (normalized text, binary).
fn dearmor(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    if text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
        return Err(KeyError::PrivateBlock);
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let begin = lines
        .iter()
        .position(|l| *l == ARMOR_BEGIN)
        .ok_or(KeyError::NoBegin)?;
    let end = lines
        .iter()
        .rposition(|l| *l == ARMOR_END)
        .filter(|&e| e > begin)
        .ok_or(KeyError::NoEnd)?;
    let block = &lines[begin..=end];
    let mut normalized = block.join("\n");
    normalized.push('\n');
    // Armor headers (`Comment: ...`) run until the first empty line.
    let inner = &block[1..block.len() - 1];
    let body_start = if inner.first().is_some_and(|l| l.contains(": ")) {
        inner
            .iter()
            .position(|l| l.is_empty())
            .map_or(inner.len(), |i| i + 1)
    } else {
        0
    };
    let mut b64 = String::new();
    for l in &inner[body_start..] {
        if l.starts_with('=') || l.starts_with("-----") {
            break;
        }
        b64.push_str(l);
    }
    let data = shell::unbase64(&b64).map_err(KeyError::Damaged)?;
    if data.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok((normalized, data))
}

/// Armor binary key packets (RFC 4880 §6: base64 and a CRC-24 line).
fn armor(data: &[u8]) -> String {
    let mut crc: u32 = 0xB7_04CE;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x186_4CFB;
            }
        }
    }
    let crc = crc & 0xFF_FFFF;
    let sum = shell::base64(&[(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]);
    let body: Vec<String> = data
        .chunks(48)
        .map(|c| shell::base64(c).replace('\n', ""))
        .collect();
    format!(
        "{ARMOR_BEGIN}\n\n{}\n={sum}\n{ARMOR_END}\n",
        body.join("\n")
    )
}

/// SHA-1, only for OpenPGP v4 fingerprints (RFC 4880 §12.2), which are how
/// vendors publish their keys.
fn sha1(data: &[u8]) -> [u8; 20] {
    use sha1::Digest as _;
    sha1::Sha1::digest(data).into()
}

/// Describe key file content for the plan (user ID and fingerprint, or a
/// hash when it cannot be parsed).
fn describe_key_text(text: &[u8]) -> String {
    match std::str::from_utf8(text)
        .ok()
        .and_then(|t| dearmor(t).ok())
        .and_then(|(_, d)| key_info(&d).ok())
    {
        Some(info) => info.describe(text),
        None => format!(
            "{} bytes, sha256 {}",
            text.len(),
            &super::common::content::sha256_hex(text)[..12]
        ),
    }
}

// ---------------------------------------------------------------------------
// Validation of the other fields.

fn check_name(name: &str) -> Option<Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    (!ok).then(|| {
        Invalid::field(
            "name",
            format!("`{}` is not a valid repository name", name.escape_debug()),
        )
        .help("lower-case letters, digits and `-` (it names the files keel-NAME.sources and keel-NAME.asc)")
    })
}

/// Check a repository URI: `http(s)://host[:port]/path` or `file:///path`.
fn check_uri(uri: &str) -> Result<(), BadUri> {
    let bad = |why: &'static str| {
        Err(BadUri::Invalid {
            uri: uri.to_string(),
            why,
        })
    };
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains spaces or control characters");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return bad("is not a URI (it has no scheme such as https://)");
    };
    match scheme {
        "http" | "https" => {
            let Some(rest) = rest.strip_prefix("//") else {
                return bad("is not a URI: write it `scheme://host/path`");
            };
            let authority = rest.split('/').next().unwrap_or_default();
            if let Some((_, host_port)) = authority.rsplit_once('@') {
                // The sources file is world-readable (0644, apt reads it as
                // `_apt`), so credentials never go into it. The message
                // leaves the user info out: it may be a password.
                let path = &rest[authority.len()..];
                return Err(BadUri::Credentials {
                    scheme: scheme.to_string(),
                    host_port: host_port.to_string(),
                    path: path.to_string(),
                });
            }
            let host_port = authority;
            let host = if let Some(h) = host_port.strip_prefix('[') {
                h.split(']').next().unwrap_or_default()
            } else {
                host_port.split(':').next().unwrap_or_default()
            };
            if host.is_empty()
                || !host
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-._:".contains(&c))
            {
                return bad("has no valid host name");
            }
            if let Some(port) = host_port
                .strip_prefix('[')
                .and_then(|h| h.split_once("]:"))
                .map(|(_, p)| p)
                .or_else(|| {
                    (!host_port.starts_with('['))
                        .then(|| host_port.split_once(':').map(|(_, p)| p))
                        .flatten()
                })
                && port.parse::<u16>().ok().filter(|p| *p > 0).is_none()
            {
                return bad("has an invalid port");
            }
            Ok(())
        }
        "file" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return bad("is not a local path URI: write it `file:///path/to/repo`");
            }
            Ok(())
        }
        _ => bad("must use http, https or file"),
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#')
}

impl AptRepository {
    fn sources_path(&self) -> String {
        format!("{}{SOURCES_DIR}/keel-{}.sources", self.root, self.name)
    }
    fn key_path(&self) -> String {
        format!("{}{KEYRING_DIR}/keel-{}.asc", self.root, self.name)
    }
    fn types(&self) -> Vec<String> {
        if self.types.is_empty() {
            vec!["deb".into()]
        } else {
            self.types.clone()
        }
    }

    /// The deb822 file, with `Signed-By` naming `key_path` (last line;
    /// left out with `None`, for the install script to append).
    fn sources_text(&self, key_path: Option<&str>) -> String {
        let mut s = format!(
            "# Managed by keel: apt_repository[{}]. Changes made here are overwritten.\n",
            self.name
        );
        let _ = writeln!(s, "Types: {}", self.types().join(" "));
        let _ = writeln!(s, "URIs: {}", self.uris.join(" "));
        let _ = writeln!(s, "Suites: {}", self.suites.join(" "));
        if !self.components.is_empty() {
            let _ = writeln!(s, "Components: {}", self.components.join(" "));
        }
        if let Some(a) = self.architectures.as_ref().filter(|a| !a.is_empty()) {
            let _ = writeln!(s, "Architectures: {}", a.join(" "));
        }
        if let Some(k) = key_path {
            let _ = writeln!(s, "Signed-By: {k}");
        }
        s
    }

    /// The armored key to install, once `prepare()` read it.
    fn key_text(&self) -> Option<&str> {
        match &self.armored {
            Some(Ok(t)) => Some(t),
            _ => None,
        }
    }

    /// Turn the declared key into the armored text keel writes.
    fn load_key(&self, cx: Option<&mut dyn PrepareCx>) -> Option<Result<String, KeyError>> {
        if let Some(k) = &self.key {
            return Some(dearmor(k).and_then(|(t, data)| key_info(&data).map(|_| t)));
        }
        let (f, cx) = (self.key_file.as_ref()?, cx?);
        Some(
            cx.read_local(f)
                .map_err(|e| KeyError::Read(e.into()))
                .and_then(|data| {
                    if data.first().is_some_and(|b| b & 0x80 != 0) {
                        key_info(&data)?;
                        Ok(armor(&data))
                    } else {
                        let text = String::from_utf8(data).map_err(|_| KeyError::NotText)?;
                        let (t, data) = dearmor(&text)?;
                        key_info(&data)?;
                        Ok(t)
                    }
                }),
        )
    }

    /// A directory, link or special file where a managed file belongs:
    /// refused when the files are wanted, and when removing (a directory).
    fn refuse_other(&self, fact: &AptRepoFact) -> Option<Planned> {
        let src = self.sources_path();
        let key = self.key_path();
        let present = self.state == State::Present;
        [(&src, &fact.sources), (&key, &fact.key)]
            .into_iter()
            .find_map(|(path, st)| match st {
                FileState::Other(what) if present || what == "dir" => Some(refuse(
                    if present {
                        Action::Update
                    } else {
                        Action::Delete
                    },
                    path,
                    &format!("is a {}; keel will not replace it", describe_other(what)),
                )),
                _ => None,
            })
    }

    /// `state: absent`: both files removed.
    fn plan_removal(&self, fact: &AptRepoFact) -> Planned {
        let src = self.sources_path();
        let key = self.key_path();
        if !fact.sources.exists() && !fact.key.exists() {
            return Planned::only(Diff::noop().reason("not configured"));
        }
        let mut d = Diff::with_action(Action::Delete);
        let mut rm = Vec::new();
        if fact.sources.exists() {
            d = d.attr("sources", Some(src.as_str()), None::<String>);
            rm.push(q(&src));
        }
        if fact.key.exists() {
            let before = fact
                .key
                .content()
                .map_or_else(|| key.clone(), describe_key_text);
            d = d.attr("key", Some(before), None::<String>);
            rm.push(q(&key));
        }
        let cmd = Cmd::new(
            format!("remove apt repository {} ({})", self.name, rm.join(", ")),
            format!("rm -f -- {}\n", rm.join(" ")),
        );
        Planned::new(d, vec![cmd])
    }

    /// The files wanted: written (validated first) when a content differs,
    /// else only a wrong mode fixed.
    fn plan_files(&self, fact: &AptRepoFact) -> Planned {
        let Some(key_text) = self.key_text() else {
            // check() reports this; never write a repository without its key.
            return refuse(Action::Update, &self.sources_path(), "has no usable key");
        };
        let want_src = self.sources_text(Some(&self.key_path()));
        let drift = Drift {
            sources: fact.sources.content() != Some(want_src.as_bytes()),
            key: fact.key.content() != Some(key_text.as_bytes()),
            modes: self.wrong_modes(fact),
        };
        let action = if !fact.sources.exists() && !fact.key.exists() {
            Action::Create
        } else {
            Action::Update
        };
        let mut diff = Diff::with_action(action);
        if drift.sources {
            diff.content = Some(ContentChange {
                before: fact.sources.content().and_then(showable),
                after: want_src.clone(),
            });
        }
        if drift.key {
            diff = diff.attr(
                "key",
                fact.key.content().map(describe_key_text),
                Some(describe_key_text(key_text.as_bytes())),
            );
        }
        for (label, _, mode) in &drift.modes {
            diff = diff.attr(&format!("mode ({label})"), Some(mode.as_str()), Some(MODE));
        }
        if !drift.sources && !drift.key {
            return self.plan_modes(diff, &drift.modes);
        }
        diff.reason = Some(install_reason(&fact.also_in));
        let verb = if action == Action::Create {
            "add"
        } else {
            "update"
        };
        let cmd = Cmd::new(
            format!(
                "{verb} apt repository {} ({}, {}) and apt-get update for it",
                self.name,
                self.sources_path(),
                self.key_path()
            ),
            self.install_script(&want_src, key_text),
        );
        Planned::new(diff, vec![cmd])
    }

    /// The managed files whose mode is not [`MODE`]: (label, path, mode).
    fn wrong_modes(&self, fact: &AptRepoFact) -> Vec<(&'static str, String, String)> {
        [
            ("sources", self.sources_path(), &fact.sources),
            ("key", self.key_path(), &fact.key),
        ]
        .into_iter()
        .filter_map(|(label, path, st)| match st {
            FileState::File { mode, .. } if mode != MODE => Some((label, path, mode.clone())),
            _ => None,
        })
        .collect()
    }

    /// Contents as wanted: a chmod for each wrong mode, or nothing.
    fn plan_modes(&self, diff: Diff, modes: &[(&str, String, String)]) -> Planned {
        if modes.is_empty() {
            return Planned::only(Diff::noop().reason("configured"));
        }
        let cmds = modes
            .iter()
            .map(|(_, p, _)| {
                Cmd::new(
                    format!("chmod {MODE} {p}"),
                    format!("chmod {MODE} -- {}\n", q(p)),
                )
            })
            .collect();
        Planned::new(diff, cmds)
    }

    /// Validate in a temporary directory, install, check the whole apt
    /// configuration, restore on failure (`apt_repository/install.sh`; the
    /// file contents go in the functions defined before it).
    fn install_script(&self, sources: &str, key: &str) -> String {
        let perms = Perms {
            mode: Some(MODE.into()),
            ..Perms::default()
        };
        let mut s = String::from("keel_write_candidates() {\n");
        s.push_str(&shell::write_data("\"$keel_cand_key\"", key.as_bytes()));
        s.push_str(&shell::write_data(
            "\"$keel_cand_src\"",
            self.sources_text(None).as_bytes(),
        ));
        s.push_str("}\nkeel_install_files() {\n");
        s.push_str(&shell::write_file_atomic(
            &self.key_path(),
            key.as_bytes(),
            &perms,
        ));
        s.push_str(&shell::write_file_atomic(
            &self.sources_path(),
            sources.as_bytes(),
            &perms,
        ));
        s.push_str("}\n");
        s.push_str(&put_back_fn());
        s.push_str(
            &Script::new(include_str!("apt_repository/install.sh"))
                .set("keel_src", self.sources_path())
                .set("keel_key", self.key_path())
                .set("keel_name", &self.name)
                .render(),
        );
        s
    }
}

/// Which of the managed files differ from what is wanted.
struct Drift {
    sources: bool,
    key: bool,
    /// (label, path, live mode) of each file whose mode is wrong.
    modes: Vec<(&'static str, String, String)>,
}

/// Why an install runs as it does, with the other sources files that name
/// the same repository.
fn install_reason(also_in: &[String]) -> String {
    let mut reason =
        String::from("apt-get update checks this source before its files are installed");
    if !also_in.is_empty() {
        let _ = write!(
            reason,
            "; note: {} also mention{} this repository (apt fails when one source has two different Signed-By keys)",
            also_in.join(", "),
            if also_in.len() == 1 { "s" } else { "" }
        );
    }
    reason
}

/// `keel_put_back BACKUP TARGET`: put a saved copy back over the target
/// atomically (a private temporary file beside it, renamed over it).
fn put_back_fn() -> String {
    let tmp = TempFile::beside_word("keel_r", "\"$2\"");
    format!(
        "keel_put_back() {{\n{create}cp -p -- \"$1\" {w}\n{rename}}}\n",
        create = tmp.create(),
        w = tmp.word(),
        rename = tmp.rename(),
    )
}

/// A change that cannot be made as things are: the plan shows the error
/// and apply does not run anything.
fn refuse(action: Action, path: &str, why: &str) -> Planned {
    let mut d = Diff::with_action(action);
    d.error = Some(format!("{path} {why}"));
    Planned::only(d)
}

fn describe_other(what: &str) -> &str {
    match what {
        "dir" => "directory",
        "link" => "symbolic link",
        _ => "special file",
    }
}

fn parse_file(header: &str, prefix: &str) -> Result<FileState, FactError> {
    let key = |k: &str| kv(header, &format!("{prefix}{k}")).map(str::trim);
    Ok(match key("") {
        None | Some("absent") => FileState::Absent,
        Some("file") => {
            let content = shell::unbase64(key("_b64").unwrap_or_default())
                .map_err(|e| format!("{prefix} file content: {e}"))?;
            let mode = key("_mode").unwrap_or_default();
            let mode =
                normalize_mode(mode).map_err(|_| format!("`{mode}` is not an octal mode"))?;
            FileState::File { content, mode }
        }
        Some(other @ ("dir" | "link" | "other")) => FileState::Other(other.to_string()),
        Some(t) => return Err(format!("unknown file type `{t}` for {prefix}").into()),
    })
}

impl AptRepository {
    /// The fields of the deb822 source: URIs, suites, components, types,
    /// architectures.
    fn check_source(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        if self.uris.is_empty() {
            errs.push(
                Invalid::field("uris", "at least one repository URI is needed")
                    .help("e.g. uris: [https://download.docker.com/linux/debian]"),
            );
        }
        for u in &self.uris {
            if let Err(e) = check_uri(u) {
                errs.push(
                    Invalid::field("uris", e.to_string())
                        .help("e.g. https://download.docker.com/linux/debian or file:///srv/repo"),
                );
            }
        }
        if self.suites.is_empty() {
            errs.push(
                Invalid::field("suites", "at least one suite is needed")
                    .help("e.g. suites: [\"{{facts.os.codename}}\"]"),
            );
        }
        for (field, list) in [("suites", &self.suites), ("components", &self.components)] {
            for v in list.iter().filter(|v| !is_word(v)) {
                errs.push(Invalid::field(
                    field,
                    format!("`{}` is empty or contains spaces or `#`", v.escape_debug()),
                ));
            }
        }
        let flat = self.suites.iter().any(|s| s.ends_with('/'));
        if flat && !self.components.is_empty() {
            errs.push(
                Invalid::field(
                    "components",
                    "a suite ending in `/` is a flat repository path: apt forbids components with it",
                )
                .help("remove `components`, or write the suite without the trailing `/`"),
            );
        } else if !flat && !self.suites.is_empty() && self.components.is_empty() {
            errs.push(
                Invalid::field("components", "`components` is needed with these suites")
                    .help("e.g. components: [main] (only flat repositories, whose suite ends in `/`, have none)"),
            );
        }
        for t in &self.types {
            if t != "deb" && t != "deb-src" {
                errs.push(
                    Invalid::field(
                        "types",
                        format!("`{}` is not an apt source type", t.escape_debug()),
                    )
                    .help("`deb` (binary packages, the default) or `deb-src`"),
                );
            }
        }
        if let Some(archs) = &self.architectures {
            for a in archs {
                if a.is_empty()
                    || !a
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                {
                    errs.push(
                        Invalid::field(
                            "architectures",
                            format!("`{}` is not a Debian architecture", a.escape_debug()),
                        )
                        .help("e.g. amd64, arm64, armhf, i386"),
                    );
                }
            }
        }
        errs
    }

    /// The key: given once, usable, and the one `fingerprint` pins.
    fn check_key(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        let key_field = if self.key_file.is_some() {
            "key_file"
        } else {
            "key"
        };
        match (&self.key, &self.key_file) {
            (Some(_), Some(_)) => errs.push(
                Invalid::field("key_file", "`key` and `key_file` both give the key")
                    .help("use one of them"),
            ),
            (None, None) => errs.push(
                Invalid::field("key", "the repository's signing key is missing")
                    .help("add `key:` (the ASCII-armored public key) or `key_file:` (a local file); keel trusts it for this repository only"),
            ),
            _ => match &self.armored {
                Some(Err(e)) => errs.push(Invalid::field(key_field, e.to_string()).help(
                    "give the repository's public key as the vendor publishes it, \
                     e.g. the output of `gpg --armor --export KEYID`",
                )),
                Some(Ok(text)) => {
                    if let Some(want) = &self.fingerprint {
                        let want: String = want
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .collect::<String>()
                            .to_ascii_uppercase();
                        let got = dearmor(text)
                            .ok()
                            .and_then(|(_, d)| key_info(&d).ok())
                            .and_then(|i| i.fingerprint);
                        if want.len() != 40 || !want.bytes().all(|c| c.is_ascii_hexdigit()) {
                            errs.push(
                                Invalid::field("fingerprint", "not a 40-digit hex fingerprint")
                                    .help("as `gpg --show-keys --fingerprint FILE` prints it (spaces are ignored)"),
                            );
                        } else if got.as_deref() != Some(want.as_str()) {
                            errs.push(
                                Invalid::field(
                                    "fingerprint",
                                    format!(
                                        "the key's fingerprint is {}, not {want}",
                                        got.as_deref().unwrap_or("unknown (not a v4 key)")
                                    ),
                                )
                                .help("the key is not the one you expect: check where it came from"),
                            );
                        }
                    }
                }
                None => {}
            },
        }
        errs
    }
}

impl Kind for AptRepository {
    const KIND: &'static str = "apt_repository";
    type Fact = AptRepoFact;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn prepare(&mut self, cx: &mut dyn PrepareCx) -> Result<(), Vec<Invalid>> {
        if self.key.is_some() && self.key_file.is_some() {
            return Ok(()); // check() reports it
        }
        self.armored = self.load_key(Some(cx));
        Ok(())
    }

    fn check(&self) -> Vec<Invalid> {
        let mut errs = Vec::new();
        errs.extend(check_name(&self.name));
        if self.state == State::Absent {
            errs.extend(unused_when_absent(&[
                ("uris", !self.uris.is_empty()),
                ("suites", !self.suites.is_empty()),
                ("components", !self.components.is_empty()),
                ("types", !self.types.is_empty()),
                ("architectures", self.architectures.is_some()),
                ("key", self.key.is_some()),
                ("key_file", self.key_file.is_some()),
                ("fingerprint", self.fingerprint.is_some()),
            ]));
            return errs;
        }
        errs.extend(self.check_source());
        errs.extend(self.check_key());
        errs
    }

    fn links(&self) -> Links {
        if self.state == State::Absent {
            return Links::default();
        }
        let mut needs = Vec::new();
        if self.uris.iter().any(|u| u.starts_with("https:")) {
            needs.push(Ref::Package("ca-certificates".into()));
        }
        Links {
            provides: vec![Ref::Path(self.sources_path()), Ref::Path(self.key_path())],
            needs,
        }
    }

    fn probe(&self) -> String {
        let mut s = Script::new(include_str!("apt_repository/probe.sh"))
            .set("keel_sources", self.sources_path())
            .set("keel_keyfile", self.key_path())
            .render();
        if self.state == State::Present && !self.uris.is_empty() {
            // The URIs may hold credentials (`https://user:pass@host/`): grep
            // reads them from a here-document, never from its arguments.
            let pats: Vec<&str> = self.uris.iter().map(|u| u.trim_end_matches('/')).collect();
            let pats = pats.join("\n");
            let end = super::common::script::heredoc_delim("KEEL_URIS", &pats);
            let _ = writeln!(
                s,
                r#"for keel_f in {root}/etc/apt/sources.list {root}/etc/apt/sources.list.d/*.list {root}/etc/apt/sources.list.d/*.sources; do
  if [ -f "$keel_f" ] && [ "$keel_f" != {src} ] && grep -v '^[[:space:]]*#' "$keel_f" 2>/dev/null | grep -qF -f /dev/fd/3 3<<'{end}'
{pats}
{end}
  then
    printf 'also=%s\n' "$keel_f"
  fi
done"#,
                root = if self.root.is_empty() {
                    String::new()
                } else {
                    q(&self.root)
                },
                src = q(&self.sources_path()),
            );
        }
        s.push_str("exit 0\n");
        s
    }

    fn parse(&self, out: &ProbeOutput) -> Result<AptRepoFact, FactError> {
        out.check("the probe")?;
        let h = &out.stdout;
        if kv(h, "sources").is_none() || kv(h, "key").is_none() {
            return Err("the probe printed no `sources=`/`key=` lines".into());
        }
        Ok(AptRepoFact {
            sources: parse_file(h, "sources")?,
            key: parse_file(h, "key")?,
            also_in: kv_lines(h)
                .into_iter()
                .filter(|(k, _)| *k == "also")
                .map(|(_, v)| v.to_string())
                .collect(),
        })
    }

    fn plan(&self, fact: &AptRepoFact) -> Planned {
        if let Some(refused) = self.refuse_other(fact) {
            return refused;
        }
        match self.state {
            State::Absent => self.plan_removal(fact),
            State::Present => self.plan_files(fact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax;
    use crate::resources::testing::attrs;
    use crate::resources::testing::{eval, load, run_local, try_load};

    /// A real ed25519 public key made with `gpg --quick-gen-key` for these tests.
    pub(crate) const KEY: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawg55BYJKwYBBAHaRw8BAQdAie53zrHsnTPNr0BL3pY610J6bi2DZGpJq1HP
XNtVzU60IEtlZWwgVGVzdCA8a2VlbEBleGFtcGxlLmludmFsaWQ+iJAEExYIADgW
IQRTqR9k2pf+5bLLwgevxYQVxtX2EgUCawg55AIbAwULCQgHAgYVCgkICwIEFgID
AQIeAQIXgAAKCRCvxYQVxtX2Eud1AP9705/LB6BJR6mDw+QYyi4cJEekdTWyZGQ2
lAGheVD8QgD9Gdy1w8mhy+qetpcJqE8tUvNVchdENZXnDf/43AEt2AY=
=+zwJ
-----END PGP PUBLIC KEY BLOCK-----
";
    const FPR: &str = "53A91F64DA97FEE5B2CBC207AFC58415C6D5F612";
    const UID: &str = "Keel Test <keel@example.invalid>";

    fn yaml(extra: &str) -> String {
        let key: String = KEY.lines().map(|l| format!("      {l}\n")).collect();
        format!(
            "name: docker\nuris: [https://download.docker.com/linux/debian]\nsuites: [bookworm]\ncomponents: [stable]\n{extra}key: |\n{key}"
        )
    }

    const SOURCES: &str =
        "# Managed by keel: apt_repository[docker]. Changes made here are overwritten.
Types: deb
URIs: https://download.docker.com/linux/debian
Suites: bookworm
Components: stable
Signed-By: /etc/apt/keyrings/keel-docker.asc
";

    fn b64(s: &str) -> String {
        shell::base64(s.as_bytes()).replace('\n', "")
    }

    fn probe_out(sources: Option<(&str, &str)>, key: Option<(&str, &str)>) -> String {
        let mut s = String::new();
        for (name, f) in [("sources", sources), ("key", key)] {
            match f {
                Some((content, mode)) => {
                    s.push_str(&format!(
                        "{name}=file\n{name}_mode={mode}\n{name}_b64={}\n",
                        b64(content)
                    ));
                }
                None => s.push_str(&format!("{name}=absent\n")),
            }
        }
        s
    }

    #[test]
    fn sha1_and_fingerprint() {
        let hex = |d: [u8; 20]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let long = vec![b'a'; 1000];
        assert_eq!(hex(sha1(&long)), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
        let (_, data) = dearmor(KEY).unwrap();
        let info = key_info(&data).unwrap();
        assert_eq!(info.fingerprint.as_deref(), Some(FPR));
        assert_eq!(info.user_id.as_deref(), Some(UID));
    }

    #[test]
    fn armor_round_trips_and_matches_gnupg() {
        let (text, data) = dearmor(KEY).unwrap();
        assert_eq!(text, KEY);
        let again = armor(&data);
        // Same CRC-24 line as gpg printed.
        assert!(again.contains("\n=+zwJ\n"), "{again}");
        assert_eq!(dearmor(&again).unwrap().1, data);
    }

    #[test]
    fn absent_repository_is_created() {
        let e = eval("apt_repository", &yaml(""), &probe_out(None, None));
        assert_eq!(e.diff.action(), Action::Create);
        let c = e.diff.content.as_ref().unwrap();
        assert_eq!(c.before, None);
        assert_eq!(c.after, SOURCES);
        assert_eq!(
            attrs(&e.diff),
            vec![("key".into(), None, Some(format!("{UID} {FPR}")))]
        );
        assert_eq!(e.commands.len(), 1);
        assert_eq!(
            e.commands[0].summary,
            "add apt repository docker (/etc/apt/sources.list.d/keel-docker.sources, /etc/apt/keyrings/keel-docker.asc) and apt-get update for it"
        );
        let s = &e.commands[0].script;
        assert!(s.contains("--error-on=any"), "{s}");
        assert!(s.contains("Dir::Etc::sourceparts=-"), "{s}");
        assert!(s.contains("APT::Get::List-Cleanup=0"), "{s}");
        assert_sh_syntax(s);
    }

    #[test]
    fn equal_files_are_noop() {
        let e = eval(
            "apt_repository",
            &yaml(""),
            &probe_out(Some((SOURCES, "644")), Some((KEY, "644"))),
        );
        assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
        assert!(e.commands.is_empty());
    }

    #[test]
    fn drift_shows_content_and_key_and_mode() {
        let edited = SOURCES.replace("Suites: bookworm", "Suites: bullseye");
        let other_key = armor(&[0x99, 0, 1, 4]);
        let e = eval(
            "apt_repository",
            &yaml(""),
            &probe_out(Some((&edited, "600")), Some((&other_key, "644"))),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.content.as_ref().unwrap().before.as_deref(),
            Some(edited.as_str())
        );
        let a = attrs(&e.diff);
        assert_eq!(a[0].0, "key");
        // A key without a user ID shows its fingerprint alone.
        assert_eq!(
            a[0].1.as_deref(),
            Some("9BDA2648851C894A02CE41912C50BAAC82F15F8C")
        );
        assert_eq!(a[0].2.as_deref(), Some(format!("{UID} {FPR}").as_str()));
        assert_eq!(
            a[1],
            (
                "mode (sources)".into(),
                Some("0600".into()),
                Some("0644".into())
            )
        );
        assert_eq!(e.commands.len(), 1);
    }

    #[test]
    fn unparseable_key_file_on_host_shows_a_hash() {
        let e = eval(
            "apt_repository",
            &yaml(""),
            &probe_out(Some((SOURCES, "644")), Some(("garbage\n", "644"))),
        );
        let a = attrs(&e.diff);
        assert_eq!(a.len(), 1);
        assert!(
            a[0].1.as_deref().unwrap().starts_with("8 bytes, sha256 "),
            "{a:?}"
        );
    }

    #[test]
    fn mode_only_drift_is_a_chmod() {
        let e = eval(
            "apt_repository",
            &yaml(""),
            &probe_out(Some((SOURCES, "644")), Some((KEY, "600"))),
        );
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            attrs(&e.diff),
            vec![(
                "mode (key)".into(),
                Some("0600".into()),
                Some("0644".into())
            )]
        );
        assert_eq!(e.commands.len(), 1);
        assert_eq!(
            e.commands[0].summary,
            "chmod 0644 /etc/apt/keyrings/keel-docker.asc"
        );
    }

    #[test]
    fn optional_fields_and_single_values() {
        let y = format!(
            "name: vendor\nuris: http://apt.example.com:8080/repo/\nsuites: [\"./\"]\narchitectures: [amd64, arm64]\ntypes: [deb, deb-src]\nkey: |\n{}",
            KEY.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        let e = eval("apt_repository", &y, &probe_out(None, None));
        let after = &e.diff.content.as_ref().unwrap().after;
        assert!(after.contains("Types: deb deb-src\nURIs: http://apt.example.com:8080/repo/\nSuites: ./\nArchitectures: amd64 arm64\nSigned-By: /etc/apt/keyrings/keel-vendor.asc\n"), "{after}");
        assert!(!after.contains("Components"));
    }

    #[test]
    fn other_files_mentioning_the_uri_are_noted() {
        let out = format!(
            "{}also=/etc/apt/sources.list.d/docker.list\n",
            probe_out(None, None)
        );
        let e = eval("apt_repository", &yaml(""), &out);
        let r = e.diff.reason.unwrap();
        assert!(
            r.contains("/etc/apt/sources.list.d/docker.list also mentions"),
            "{r}"
        );
    }

    #[test]
    fn removal() {
        let y = "name: docker\nstate: absent";
        let e = eval("apt_repository", y, &probe_out(None, None));
        assert_eq!(e.diff.action(), Action::NoOp);
        let e = eval(
            "apt_repository",
            y,
            &probe_out(Some((SOURCES, "644")), Some((KEY, "644"))),
        );
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(
            attrs(&e.diff),
            vec![
                (
                    "sources".into(),
                    Some("/etc/apt/sources.list.d/keel-docker.sources".into()),
                    None
                ),
                ("key".into(), Some(format!("{UID} {FPR}")), None)
            ]
        );
        assert_eq!(
            e.commands[0].script,
            "rm -f -- /etc/apt/sources.list.d/keel-docker.sources /etc/apt/keyrings/keel-docker.asc\n"
        );
        // Only the key left behind.
        let e = eval("apt_repository", y, &probe_out(None, Some((KEY, "644"))));
        assert_eq!(e.diff.action(), Action::Delete);
        assert_eq!(e.diff.attrs.len(), 1);
    }

    #[test]
    fn non_regular_files_are_refused() {
        let out = "sources=dir\nkey=absent\n";
        let e = eval("apt_repository", &yaml(""), out);
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(
            e.diff.error.as_deref(),
            Some(
                "/etc/apt/sources.list.d/keel-docker.sources is a directory; keel will not replace it"
            )
        );
        assert!(e.commands.is_empty());
        let e = eval(
            "apt_repository",
            "name: docker\nstate: absent",
            "sources=link\nkey=absent\n",
        );
        assert_eq!(e.diff.action(), Action::Delete, "a link is removed");
        assert!(e.commands[0].script.starts_with("rm -f"));
    }

    #[test]
    fn odd_probe_output() {
        let r = load("apt_repository", &yaml(""));
        assert!(r.evaluate(&ProbeOutput::ok("")).is_err());
        assert!(
            r.evaluate(&ProbeOutput::ok("sources=weird\nkey=absent\n"))
                .is_err()
        );
        assert!(
            r.evaluate(&ProbeOutput::ok(
                "sources=file\nsources_mode=644\nsources_b64=!!\nkey=absent\n"
            ))
            .is_err()
        );
        // An empty file: base64 prints nothing.
        let e = r
            .evaluate(&ProbeOutput::ok(
                "sources=file\nsources_mode=644\nsources_b64=\nkey=absent\n",
            ))
            .unwrap();
        assert_eq!(e.diff.action(), Action::Update);
        assert_eq!(e.diff.content.unwrap().before.as_deref(), Some(""));
        let failed = ProbeOutput {
            stdout: String::new(),
            stderr: "stat: boom".into(),
            status: 2,
        };
        assert_eq!(r.evaluate(&failed).unwrap_err(), "stat: boom");
    }

    #[test]
    fn validation() {
        let err = |y: &str| try_load("apt_repository", y).unwrap_err();
        assert!(
            err(&yaml("").replace("name: docker", "name: Docker"))
                .contains("not a valid repository name")
        );
        assert!(
            err(&yaml("").replace("name: docker", "name: \"a/b\""))
                .contains("not a valid repository name")
        );
        assert!(
            err(&yaml("").replace("https://download.docker.com/linux/debian", "ftp://x/y"))
                .contains("must use http, https or file")
        );
        assert!(
            err(&yaml("").replace(
                "https://download.docker.com/linux/debian",
                "\"https://exa mple.com\""
            ))
            .contains("spaces")
        );
        assert!(
            err(&yaml("").replace(
                "https://download.docker.com/linux/debian",
                "https:///nohost"
            ))
            .contains("host")
        );
        assert!(
            err(&yaml("").replace(
                "https://download.docker.com/linux/debian",
                "\"https://h:99999/\""
            ))
            .contains("port")
        );
        assert!(
            err(&yaml("").replace(
                "https://download.docker.com/linux/debian",
                "file://relative"
            ))
            .contains("file:///")
        );
        assert!(
            err(&yaml("").replace("suites: [bookworm]", "suites: []"))
                .contains("at least one suite")
        );
        assert!(err(&yaml("").replace("suites: [bookworm]", "suites: [\"\"]")).contains("empty"));
        assert!(
            err(&yaml("").replace("components: [stable]\n", "")).contains("`components` is needed")
        );
        assert!(
            err(&yaml("").replace("suites: [bookworm]", "suites: [\"./\"]"))
                .contains("flat repository")
        );
        assert!(err(&yaml("types: [rpm]\n")).contains("not an apt source type"));
        assert!(err(&yaml("architectures: [\"AMD 64\"]\n")).contains("not a Debian architecture"));
        assert!(
            err(&yaml("").replace("uris: [https://download.docker.com/linux/debian]\n", ""))
                .contains("at least one repository URI")
        );
        // Keys.
        let no_key = "name: docker\nuris: [https://x.example]\nsuites: [a]\ncomponents: [b]";
        assert!(err(no_key).contains("signing key is missing"));
        assert!(
            err(&format!("{no_key}\nkey: hello")).contains("does not look like an ASCII-armored")
        );
        assert!(
            err(&format!(
                "{no_key}\nkey: \"-----BEGIN PGP PRIVATE KEY BLOCK-----\""
            ))
            .contains("PRIVATE")
        );
        let damaged = KEY.replace("mDMEawg55BYJ", "mDMEawg55B!J");
        let y = format!(
            "{no_key}\nkey: |\n{}",
            damaged
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        assert!(err(&y).contains("damaged"));
        let notkey = armor(&[0xb4, 3, b'a', b'b', b'c']);
        let y = format!(
            "{no_key}\nkey: |\n{}",
            notkey
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        assert!(err(&y).contains("not an OpenPGP public key"), "{}", err(&y));
        assert!(err(&format!("{}key_file: x.asc\n", yaml(""))).contains("both give the key"));
        // Fingerprint pin.
        let spaced = FPR
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(try_load("apt_repository", &yaml(&format!("fingerprint: {spaced}\n"))).is_ok());
        let wrong = format!("fingerprint: {}\n", "A".repeat(40));
        assert!(err(&yaml(&wrong)).contains(&format!("the key's fingerprint is {FPR}")));
        assert!(err(&yaml("fingerprint: abc\n")).contains("40-digit"));
        // state: absent takes only the name.
        assert!(err("name: docker\nstate: absent\nuris: [https://x]").contains("no effect"));
        assert!(err(&format!("{}unknown: 1\n", yaml(""))).contains("unknown"));
    }

    #[test]
    fn key_file_armored_or_binary() {
        let dir = tempfile::tempdir().unwrap();
        let (_, data) = dearmor(KEY).unwrap();
        std::fs::write(dir.path().join("k.gpg"), &data).unwrap();
        std::fs::write(
            dir.path().join("k.asc"),
            format!("junk before\n{KEY}junk after\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("bad"), b"\xff\xfe binary junk").unwrap();
        for f in ["k.gpg", "k.asc"] {
            let y = format!(
                "name: docker\nuris: [https://download.docker.com/linux/debian]\nsuites: [bookworm]\ncomponents: [stable]\nkey_file: {}\n",
                dir.path().join(f).display()
            );
            let e = eval(
                "apt_repository",
                &y,
                &probe_out(Some((SOURCES, "644")), Some((KEY, "644"))),
            );
            // keel armors a binary key exactly as gpg does: no change.
            assert_eq!(e.diff.action(), Action::NoOp, "{f}: {:?}", e.diff);
        }
        let y = format!(
            "name: docker\nuris: [https://x.example]\nsuites: [a]\ncomponents: [b]\nkey_file: {}\n",
            dir.path().join("bad").display()
        );
        assert!(
            try_load("apt_repository", &y)
                .unwrap_err()
                .contains("not an OpenPGP public key")
        );
        let y = "name: docker\nuris: [https://x.example]\nsuites: [a]\ncomponents: [b]\nkey_file: /nonexistent/k.asc\n";
        assert!(
            try_load("apt_repository", y)
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn links() {
        let r = load("apt_repository", &yaml(""));
        let l = r.links();
        assert_eq!(
            l.provides,
            vec![
                Ref::Path("/etc/apt/sources.list.d/keel-docker.sources".into()),
                Ref::Path("/etc/apt/keyrings/keel-docker.asc".into())
            ]
        );
        assert_eq!(l.needs, vec![Ref::Package("ca-certificates".into())]);
    }

    /// Build a repository with the fields below, rooted in a temp dir.
    fn local(root: &std::path::Path, y: &str) -> AptRepository {
        let node = crate::node::Node::parse(y).unwrap();
        let mut r: AptRepository = node.deserialize().unwrap();
        r.root = root.to_str().unwrap().to_string();
        let mut cx = crate::resources::testing::LocalCx {
            dir: root.to_path_buf(),
        };
        Kind::prepare(&mut r, &mut cx).unwrap();
        assert!(Kind::check(&r).is_empty(), "{:?}", Kind::check(&r));
        r
    }

    fn evaluate(r: &AptRepository) -> (Diff, Vec<Cmd>) {
        let out = run_local(&Kind::probe(r));
        assert_eq!(out.status, 0, "{}", out.stderr);
        let fact = Kind::parse(r, &out).unwrap();
        let planned = Kind::plan(r, &fact);
        (planned.diff, planned.commands)
    }

    /// Fake `apt-get` and `apt-cache` that record their arguments and fail
    /// on demand, so the install script's validation and restore run locally.
    fn fake_apt(root: &std::path::Path) -> String {
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(
            bin.join("apt-get"),
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}/apt-get.args\nfor a; do case \"$a\" in Dir::Etc::sourcelist=*) cp \"${{a#*=}}\" {log}/candidate.sources;; esac; done\nif [ -e {log}/fail-update ]; then echo 'Err:1 file:/srv/repo keeltest InRelease'; echo 'W: GPG error: NO_PUBKEY 0123'; echo \"E: The repository 'x' is not signed.\"; exit 100; fi\necho 'Get:1 fine'\n",
                log = q(root.to_str().unwrap())
            ),
        )
        .unwrap();
        std::fs::write(
            bin.join("apt-cache"),
            format!(
                "#!/bin/sh\nif [ -e {log}/fail-policy ] && grep -rqsF \"$(cat {log}/fail-policy)\" {log}/etc/apt/sources.list.d/; then echo 'E: Conflicting values set for option Signed-By' >&2; exit 100; fi\nexit 0\n",
                log = q(root.to_str().unwrap())
            ),
        )
        .unwrap();
        run_local(&format!(
            "chmod +x {}/apt-get {}/apt-cache",
            q(bin.to_str().unwrap()),
            q(bin.to_str().unwrap())
        ));
        format!("PATH={}:$PATH; export PATH\n", q(bin.to_str().unwrap()))
    }

    fn run_cmds(env: &str, cmds: &[Cmd]) -> ProbeOutput {
        let script = crate::apply::script_of(cmds);
        run_local(&format!("{env}{script}"))
    }

    #[test]
    fn converges_locally_with_validation_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let env = fake_apt(root);
        let y = yaml("").replace("docker", "we-ird");
        let r = local(root, &y);
        let (d, cmds) = evaluate(&r);
        assert_eq!(d.action(), Action::Create);
        let out = run_cmds(&env, &cmds);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let src = std::fs::read_to_string(root.join("etc/apt/sources.list.d/keel-we-ird.sources"))
            .unwrap();
        assert!(src.contains(&format!(
            "Signed-By: {}/etc/apt/keyrings/keel-we-ird.asc\n",
            root.display()
        )));
        assert_eq!(
            std::fs::read_to_string(root.join("etc/apt/keyrings/keel-we-ird.asc")).unwrap(),
            KEY
        );
        // apt-get saw a candidate that trusts the candidate key, alone.
        let args = std::fs::read_to_string(root.join("apt-get.args")).unwrap();
        assert!(args.contains("Dir::Etc::sourceparts=-\n"), "{args}");
        assert!(args.ends_with("update\n"), "{args}");
        let cand = std::fs::read_to_string(root.join("candidate.sources")).unwrap();
        assert!(
            cand.contains("Signed-By: /")
                && cand.contains("/keel-we-ird.asc\n")
                && !cand.contains(root.join("etc").to_str().unwrap()),
            "{cand}"
        );
        let (d, _) = evaluate(&r);
        assert_eq!(d.action(), Action::NoOp, "{d:?}");
        let mode = run_local(&format!(
            "stat -c %a {}",
            q(root
                .join("etc/apt/keyrings/keel-we-ird.asc")
                .to_str()
                .unwrap())
        ));
        assert_eq!(mode.stdout.trim(), "644");

        // A change whose apt-get update fails leaves the files untouched.
        std::fs::write(root.join("fail-update"), "").unwrap();
        let r2 = local(root, &y.replace("bookworm", "trixie"));
        let (d, cmds) = evaluate(&r2);
        assert_eq!(d.action(), Action::Update);
        let out = run_cmds(&env, &cmds);
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("NO_PUBKEY 0123"), "{}", out.stderr);
        assert!(out.stderr.contains("is not signed"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("apt-get update failed for apt repository we-ird"),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/apt/sources.list.d/keel-we-ird.sources"))
                .unwrap(),
            src
        );
        std::fs::remove_file(root.join("fail-update")).unwrap();

        // A change that breaks the whole configuration is rolled back.
        std::fs::write(root.join("fail-policy"), "trixie").unwrap();
        let out = run_cmds(&env, &cmds);
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("Conflicting values"), "{}", out.stderr);
        assert!(
            out.stderr.contains("previous files were restored"),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/apt/sources.list.d/keel-we-ird.sources"))
                .unwrap(),
            src
        );
        // ... and a new repository that breaks it leaves nothing behind.
        let r3 = local(root, &yaml("").replace("docker", "other"));
        let (_, cmds) = evaluate(&r3);
        std::fs::write(root.join("fail-policy"), "keel-other").unwrap();
        std::fs::remove_file(root.join("etc/apt/sources.list.d/keel-we-ird.sources")).unwrap();
        let out = run_cmds(&env, &cmds);
        assert_ne!(out.status, 0);
        assert!(
            !root
                .join("etc/apt/sources.list.d/keel-other.sources")
                .exists()
        );
        assert!(!root.join("etc/apt/keyrings/keel-other.asc").exists());
        std::fs::remove_file(root.join("fail-policy")).unwrap();

        // Removal.
        let gone = local(root, "name: we-ird\nstate: absent");
        let (d, cmds) = evaluate(&gone);
        assert_eq!(d.action(), Action::Delete);
        assert_eq!(run_cmds(&env, &cmds).status, 0);
        assert_eq!(evaluate(&gone).0.action(), Action::NoOp);
        // No temp files anywhere.
        let left = run_local(&format!(
            "find {} -name '*keel*' -newer {} | grep -v -e keel-other -e /bin/ || true",
            q(root.to_str().unwrap()),
            q(root.join("bin").to_str().unwrap())
        ));
        assert_eq!(left.stdout.trim(), "", "leftovers");
    }

    #[test]
    fn credentials_in_uris_are_refused_without_echoing_them() {
        for uri in [
            "https://user:s3cret-pw@apt.example/repo",
            "http://tok-s3cret@apt.example:8080/deb/",
        ] {
            let e = check_uri(uri).unwrap_err().to_string();
            assert!(e.contains("carries credentials"), "{e}");
            assert!(e.contains("/etc/apt/auth.conf.d/"), "{e}");
            assert!(e.contains("apt.example"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
        assert_eq!(check_uri("https://apt.example/repo"), Ok(()));
        assert_eq!(check_uri("http://[::1]:8080/repo"), Ok(()));
    }

    #[test]
    fn uris_never_reach_grep_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = local(dir.path(), &yaml(""));
        r.uris = vec!["https://user:s3cret-pw@apt.example/repo/".into()];
        let probe = Kind::probe(&r);
        for l in probe.lines().filter(|l| l.contains("s3cret-pw")) {
            assert_eq!(l, "https://user:s3cret-pw@apt.example/repo", "{probe}");
        }
    }

    #[test]
    fn probe_notes_other_files_and_quotes_values() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/apt/sources.list.d")).unwrap();
        std::fs::write(
            root.join("etc/apt/sources.list.d/docker.list"),
            "deb [signed-by=/x.gpg] https://download.docker.com/linux/debian bookworm stable\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/apt/sources.list.d/commented.list"),
            "# deb https://download.docker.com/linux/debian bookworm stable\n",
        )
        .unwrap();
        let r = local(root, &yaml(""));
        let out = run_local(&Kind::probe(&r));
        let fact = Kind::parse(&r, &out).unwrap();
        assert_eq!(
            fact.also_in,
            vec![format!(
                "{}/etc/apt/sources.list.d/docker.list",
                root.display()
            )]
        );
        assert_eq!(fact.sources, FileState::Absent);
        // Hostile suite/URI text stays inert in the probe.
        let mut r = local(root, &yaml(""));
        r.uris = vec!["https://x.example/$(touch pwned)';`touch pwned2`".into()];
        let out = run_local(&format!(
            "cd {} && {{\n{}\n}}",
            q(root.to_str().unwrap()),
            Kind::probe(&r)
        ));
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(!root.join("pwned").exists() && !root.join("pwned2").exists());
    }
}
