//! A private per-machine key and keyed digests made with it.
//!
//! Anything keel prints or saves that is derived from desired state or live
//! state (a plan's `desired_hash`, a probe's `fingerprint`, a saved plan's
//! seal) may have secrets in its input. A plain SHA-256 of that input is an
//! offline oracle: with a plan in hand, a low-entropy secret (a PIN) is found
//! by hashing guesses. So every such digest is an HMAC-SHA-256 under a
//! 256-bit key that never leaves the machine keel runs on.
//!
//! The key lives in `$KEEL_KEY_FILE`, or `$XDG_STATE_HOME/keel/key`, or
//! `~/.local/state/keel/key`; it is created on first use with mode 0600 (an
//! exclusive create, so two runs racing agree on one key). A saved plan can
//! therefore only be applied on the machine (or by the user) that made it,
//! which is what a sealed artifact should mean; CI jobs that plan and apply
//! in separate machines share the key file as a CI secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Environment variable naming the key file.
pub const KEY_FILE_ENV: &str = "KEEL_KEY_FILE";

const KEY_LEN: usize = 32;

/// Where the machine key is kept.
pub fn key_path() -> PathBuf {
    if let Some(p) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"));
    state.join("keel").join("key")
}

/// The key, loaded (or created) once per process.
fn key() -> Result<&'static [u8; KEY_LEN], String> {
    static KEY: OnceLock<Result<[u8; KEY_LEN], String>> = OnceLock::new();
    KEY.get_or_init(|| load_or_create(&key_path()))
        .as_ref()
        .map_err(Clone::clone)
}

/// The HMAC state keyed with the machine key, made once per process: a
/// plan takes a digest per resource (2 million for 1,000 hosts × 2,000
/// resources), and keying hashes the key's two pads each time.
fn keyed_mac() -> Result<&'static Hmac<Sha256>, String> {
    static MAC: OnceLock<Result<Hmac<Sha256>, String>> = OnceLock::new();
    MAC.get_or_init(|| key().map(|k| mac_of(&k[..])))
        .as_ref()
        .map_err(Clone::clone)
}

fn mac_of(key: &[u8]) -> Hmac<Sha256> {
    #[cfg(test)]
    tests::KEYED.with(|n| n.set(n.get() + 1));
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// Longest key file read: 64 hex digits plus whitespace, with room to spare.
const MAX_KEY_FILE_BYTES: u64 = 4096;

fn load_or_create(path: &std::path::Path) -> Result<[u8; KEY_LEN], String> {
    let fail = |what: &str, e: std::io::Error| {
        format!(
            "cannot {what} keel's machine key {}: {e} (set {KEY_FILE_ENV} to a writable path)",
            path.display()
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
    }
    let mut fresh = [0u8; KEY_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut fresh))
        .map_err(|e| fail("make", e))?;
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                f.write_all(&hex(&fresh).into_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| fail("write", e))?;
                return Ok(fresh);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail("create", e)),
        }
    }
    // Bounded and regular-only: a FIFO or device named by $KEEL_KEY_FILE
    // must not block keel or fill its memory.
    let text = crate::config::local_file::read_text(path, MAX_KEY_FILE_BYTES).map_err(|e| {
        use crate::config::local_file::LocalFileError;
        match e {
            LocalFileError::TooLarge { .. } => format!(
                "keel's machine key {} is larger than {MAX_KEY_FILE_BYTES} bytes; it should hold \
                 64 hex digits (set {KEY_FILE_ENV} to the right file, or remove it to make a new key)",
                path.display()
            ),
            other => format!(
                "{} (set {KEY_FILE_ENV} to a regular, readable file)",
                other.message("keel's machine key ")
            ),
        }
    })?;
    parse_key(text.trim()).ok_or_else(|| {
        format!(
            "keel's machine key {} is corrupt (expected 64 hex digits); remove it to make a new one \
             (saved plans made with the old key will then be refused)",
            path.display()
        )
    })
}

fn parse_key(text: &str) -> Option<[u8; KEY_LEN]> {
    if text.len() != KEY_LEN * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; KEY_LEN];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// HMAC-SHA-256 (hex) of `parts` under the machine key, separated by
/// `domain` so digests of different kinds never collide. Parts are
/// length-prefixed, so `["ab","c"]` and `["a","bc"]` differ.
pub fn digest(domain: &str, parts: &[&[u8]]) -> Result<String, String> {
    Ok(digest_in(keyed_mac()?.clone(), domain, parts))
}

/// [`digest`] with an explicit key (tests).
#[cfg(test)]
pub fn digest_with(key: &[u8], domain: &str, parts: &[&[u8]]) -> String {
    digest_in(mac_of(key), domain, parts)
}

/// The digest of `parts` in `domain`, continuing a freshly keyed `mac`.
fn digest_in(mut mac: Hmac<Sha256>, domain: &str, parts: &[&[u8]]) -> String {
    mac.update(&(domain.len() as u64).to_le_bytes());
    mac.update(domain.as_bytes());
    for p in parts {
        mac.update(&(p.len() as u64).to_le_bytes());
        mac.update(p);
    }
    hex(&mac.finalize().into_bytes())
}

/// Compare a digest in constant time.
pub fn verify(domain: &str, parts: &[&[u8]], expected_hex: &str) -> Result<bool, String> {
    let actual = digest(domain, parts)?;
    Ok(actual.len() == expected_hex.len()
        && actual
            .bytes()
            .zip(expected_hex.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// HMAC states keyed on this thread.
        pub(super) static KEYED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// The machine key keys one HMAC state per process, not one per digest.
    #[test]
    fn digests_share_one_keyed_state() {
        // The key may be keyed already (by another test): then none is.
        let before = KEYED.with(|n| n.get());
        let a = digest("d", &[b"x"]).unwrap();
        let b = digest("d", &[b"x"]).unwrap();
        digest("d", &[b"y"]).unwrap();
        assert_eq!(a, b);
        assert!(KEYED.with(|n| n.get()) - before <= 1);
    }

    #[test]
    fn domains_and_parts_are_separated() {
        let k = [7u8; 32];
        let a = digest_with(&k, "plan", &[b"ab", b"c"]);
        assert_ne!(a, digest_with(&k, "plan", &[b"a", b"bc"]));
        assert_ne!(a, digest_with(&k, "probe", &[b"ab", b"c"]));
        assert_ne!(a, digest_with(&[8u8; 32], "plan", &[b"ab", b"c"]));
        assert_eq!(a, digest_with(&k, "plan", &[b"ab", b"c"]));
        assert_eq!(a.len(), 64);
    }

    /// Run `load_or_create` on a thread so a blocking read fails the test
    /// instead of hanging it.
    fn load_within(path: std::path::PathBuf) -> Result<[u8; KEY_LEN], String> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(load_or_create(&path));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("reading the key file blocked")
    }

    #[test]
    fn a_fifo_or_device_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = load_within(fifo).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let e = load_within("/dev/zero".into()).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn an_oversized_key_file_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("key");
        std::fs::write(&big, "a".repeat(1 << 20)).unwrap();
        let e = load_within(big).unwrap_err();
        assert!(e.contains("larger than 4096 bytes"), "{e}");
    }

    #[test]
    fn a_key_file_is_created_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/key");
        let k = load_within(p.clone()).unwrap();
        assert_eq!(load_within(p).unwrap(), k);
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn a_cloned_keyed_state_digests_as_a_fresh_one() {
        let k = [3u8; 32];
        let keyed = mac_of(&k);
        for parts in [&[b"a".as_slice()][..], &[b"bc", b""]] {
            assert_eq!(
                digest_in(keyed.clone(), "d", parts),
                digest_with(&k, "d", parts)
            );
        }
    }

    #[test]
    fn key_text_round_trips() {
        let k: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        assert_eq!(parse_key(&hex(&k)), Some(k));
        assert_eq!(parse_key("zz"), None);
        assert_eq!(parse_key(&"g".repeat(64)), None);
    }
}
