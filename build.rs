//! Build script: puts the git revision into `keel --version`.
//!
//! `KEEL_VERSION` is the crate version followed by the short hash of HEAD,
//! e.g. `0.1.0 (5edea26)`, or the crate version alone when building outside
//! a git checkout or without git (a source tarball, a vendored copy).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let full = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => format!("{version} ({rev})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=KEEL_VERSION={full}");
    // Rebuild when HEAD moves: a checkout changes HEAD, a commit the branch
    // ref (loose in the common git dir, or packed).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        println!("cargo:rerun-if-changed={common}/packed-refs");
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={common}/{r}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
