//! The testbed container image: a `debootstrap` of Debian bookworm made to
//! boot under docker with systemd as PID 1 and sshd running.
//!
//! The image is cached under `keel-testbed:<hash>`, where the hash covers the
//! whole recipe: [`RECIPE_VERSION`], the suite, the package list, the mirror
//! and every file injected into the root file system. [`ensure_image`] reuses
//! an existing image and builds it otherwise (about a minute, once per
//! machine), holding a lock file so that concurrent test threads and test
//! binaries never build it twice.
//!
//! The Debian mirror is read at run time from this machine's apt
//! configuration (`/etc/apt/sources.list.d/debian.sources`, falling back to
//! `/etc/apt/sources.list`); it can be overridden with `KEEL_TESTBED_MIRROR`
//! and `KEEL_TESTBED_SECURITY_MIRROR`. No mirror is written into the source.
//!
//! No key is baked into the image: the SSH client key is injected per testbed
//! when a container starts, and every container generates its own SSH host
//! keys and machine id on its first boot.

use super::docker::{check, describe, docker, docker_available, run, run_ok, spawn_error};
use super::{Result, SandboxError};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Version of the build steps; bump it whenever the build code changes in a
/// way that changes the resulting image (the hash covers everything else).
pub const RECIPE_VERSION: &str = "keel-testbed-v1";

/// Repository part of the image tag.
pub const IMAGE_REPOSITORY: &str = "keel-testbed";

/// Debian release of the hosts.
const SUITE: &str = "bookworm";

/// Packages on top of `--variant=minbase`: what a minimal server needs for
/// keel to manage it over SSH.
const PACKAGES: &[&str] = &[
    "openssh-server",
    "sudo",
    "iproute2",
    "procps",
    "systemd",
    "systemd-sysv",
    "dbus",
    "ca-certificates",
];

const KEYGEN_UNIT_TEXT: &str = "\
# Part of keel's test image: the image ships without SSH host keys so that
# every container gets its own. `ssh-keygen -A` creates the missing ones.
[Unit]
Description=Generate missing SSH host keys (keel testbed)
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service
";

/// The lock file that serialises image builds across processes.
const LOCK_FILE: &str = "keel-testbed-image.lock";

/// Prefix of the temporary build directories.
const BUILD_PREFIX: &str = "keel-rootfs-";

/// The Debian mirrors the image is built from and configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mirrors {
    main: String,
    security: Option<String>,
}

/// A file written into the root file system.
struct Inject {
    path: &'static str,
    mode: u32,
    content: String,
}

/// Everything that determines the image; its hash names the tag.
struct Recipe {
    mirrors: Mirrors,
    files: Vec<Inject>,
    /// `(link, target)` symlinks created in the root file system.
    symlinks: Vec<(&'static str, &'static str)>,
}

impl Recipe {
    fn new(mirrors: Mirrors) -> Recipe {
        let mut sources = deb822(&mirrors.main, &format!("{SUITE} {SUITE}-updates"));
        if let Some(sec) = &mirrors.security {
            sources.push('\n');
            sources.push_str(&deb822(sec, &format!("{SUITE}-security")));
        }
        Recipe {
            mirrors,
            files: vec![
                Inject {
                    path: "etc/apt/sources.list.d/debian.sources",
                    mode: 0o644,
                    content: sources,
                },
                Inject {
                    path: "etc/systemd/system/keel-testbed-ssh-keygen.service",
                    mode: 0o644,
                    content: KEYGEN_UNIT_TEXT.to_string(),
                },
                // Empty: systemd creates a fresh machine id on each host's first boot.
                Inject {
                    path: "etc/machine-id",
                    mode: 0o444,
                    content: String::new(),
                },
            ],
            symlinks: vec![
                (
                    "etc/systemd/system/ssh.service.wants/keel-testbed-ssh-keygen.service",
                    "/etc/systemd/system/keel-testbed-ssh-keygen.service",
                ),
                ("var/lib/dbus/machine-id", "/etc/machine-id"),
            ],
        }
    }

    /// The canonical text that is hashed.
    fn text(&self) -> String {
        let mut t = format!(
            "version={RECIPE_VERSION}\nsuite={SUITE}\nvariant=minbase\npackages={}\nmirror={}\nsecurity={}\n",
            PACKAGES.join(","),
            self.mirrors.main,
            self.mirrors.security.as_deref().unwrap_or("-"),
        );
        for f in &self.files {
            t.push_str(&format!(
                "file {} {:o} {}\n{}\n",
                f.path,
                f.mode,
                f.content.len(),
                f.content
            ));
        }
        for (link, target) in &self.symlinks {
            t.push_str(&format!("symlink {link} -> {target}\n"));
        }
        t
    }

    fn tag(&self) -> String {
        let digest = format!("{:x}", Sha256::digest(self.text().as_bytes()));
        format!("{IMAGE_REPOSITORY}:{}", &digest[..16])
    }
}

fn deb822(uri: &str, suites: &str) -> String {
    format!(
        "Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
}

/// Reads the mirrors from the environment or this machine's apt sources.
fn host_mirrors() -> Result<Mirrors> {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty())
    };
    let deb822 = fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .map(|t| parse_deb822(&t))
        .unwrap_or((None, None));
    let (main, security) = match deb822 {
        (Some(m), s) => (Some(m), s),
        (None, _) => fs::read_to_string("/etc/apt/sources.list")
            .map(|t| parse_sources_list(&t))
            .unwrap_or((None, None)),
    };
    let main = env("KEEL_TESTBED_MIRROR")
        .or(main)
        .ok_or(SandboxError::NoMirror)?;
    let security = env("KEEL_TESTBED_SECURITY_MIRROR").or(security);
    Ok(Mirrors { main, security })
}

fn is_security_suite(suite: &str) -> bool {
    suite.ends_with("-security") || suite.ends_with("/updates")
}

/// `(main, security)` URIs of a deb822 `.sources` file.
fn parse_deb822(text: &str) -> (Option<String>, Option<String>) {
    let (mut main, mut security) = (None, None);
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let (Some(uris), Some(suites)) = (field("URIs"), field("Suites")) else {
            continue;
        };
        if let Some(types) = field("Types")
            && !types.split_whitespace().any(|t| t == "deb")
        {
            continue;
        }
        if field("Enabled").is_some_and(|e| e.eq_ignore_ascii_case("no")) {
            continue;
        }
        let Some(uri) = uris.split_whitespace().next() else {
            continue;
        };
        let uri = uri.trim_end_matches('/').to_string();
        if suites.split_whitespace().any(is_security_suite) {
            security.get_or_insert(uri);
        } else {
            main.get_or_insert(uri);
        }
    }
    (main, security)
}

/// `(main, security)` URIs of a one-line-style `sources.list`.
fn parse_sources_list(text: &str) -> (Option<String>, Option<String>) {
    let (mut main, mut security) = (None, None);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut words = words.peekable();
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let uri = uri.trim_end_matches('/').to_string();
        if is_security_suite(suite) {
            security.get_or_insert(uri);
        } else {
            main.get_or_insert(uri);
        }
    }
    (main, security)
}

fn image_exists(tag: &str) -> Result<bool> {
    Ok(run(&mut docker([
        "image", "inspect", "--format", "{{.Id}}", tag,
    ]))?
    .status
    .success())
}

/// Tag of the last image this process ensured.
static ENSURED: Mutex<Option<String>> = Mutex::new(None);

/// Returns the tag (`keel-testbed:<hash>`) of the testbed image, building it
/// first if this machine does not have it yet.
///
/// Building runs `debootstrap` (about a minute) and needs root and network
/// access to the Debian mirror. Concurrent callers, in this or other
/// processes, wait for one build instead of starting their own.
pub fn ensure_image() -> Result<String> {
    docker_available()?;
    let recipe = Recipe::new(host_mirrors()?);
    let tag = recipe.tag();
    if let Ok(cached) = ENSURED.lock()
        && cached.as_deref() == Some(tag.as_str())
    {
        return Ok(tag);
    }
    if !image_exists(&tag)? {
        let lock_path = std::env::temp_dir().join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| SandboxError::Io {
                action: "open lock file",
                path: lock_path.clone(),
                source,
            })?;
        tracing::info!(lock = %lock_path.display(), "waiting for the testbed image build lock");
        lock.lock().map_err(|source| SandboxError::Io {
            action: "lock",
            path: lock_path.clone(),
            source,
        })?;
        // Someone else may have built it while we waited.
        if !image_exists(&tag)? {
            build(&recipe, &tag)?;
        }
        drop(lock);
    }
    if let Ok(mut cached) = ENSURED.lock() {
        *cached = Some(tag.clone());
    }
    Ok(tag)
}

/// Where build directories go: a disk-backed place that allows executables
/// (the build `chroot`s into it).
fn build_parent() -> PathBuf {
    let var_tmp = Path::new("/var/tmp");
    if var_tmp.is_dir() {
        var_tmp.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Finds `debootstrap`, which usually lives in `/usr/sbin`.
fn find_debootstrap() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("debootstrap"))
        .find(|p| p.is_file())
        .ok_or_else(|| SandboxError::ToolMissing {
            tool: "debootstrap".into(),
            why: "it builds the Debian root file system of the testbed image".into(),
        })
}

/// Mount points at or below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|m| PathBuf::from(unescape_mount(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found
}

/// Undoes the octal escapes (`\040` for space, ...) of `/proc/self/mounts`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts whatever an interrupted `debootstrap` left mounted in `dir`
/// (`/proc`, `/sys`, bind-mounted device nodes), so removing it is safe.
fn unmount_below(dir: &Path) {
    for m in mounts_below(dir) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&m)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes build directories left by builds that were killed. Only called
/// while holding the build lock, so no build is in progress.
fn remove_stale_builds(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(BUILD_PREFIX) {
            let p = e.path();
            unmount_below(&p);
            if mounts_below(&p).is_empty() {
                let _ = fs::remove_dir_all(&p);
            }
        }
    }
}

/// A build directory that is unmounted and removed when dropped.
struct BuildDir(Option<tempfile::TempDir>);

impl BuildDir {
    fn path(&self) -> &Path {
        match &self.0 {
            Some(t) => t.path(),
            None => Path::new("/nonexistent"),
        }
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            unmount_below(t.path());
            if mounts_below(t.path()).is_empty() {
                let _ = t.close();
            } else {
                // Never recurse into a live mount; leave it for the next build.
                let _ = t.keep();
            }
        }
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io {
        action,
        path,
        source,
    }
}

/// Builds the image: debootstrap, adjust the root file system, `docker import`.
fn build(recipe: &Recipe, tag: &str) -> Result<()> {
    let debootstrap = find_debootstrap()?;
    let parent = build_parent();
    remove_stale_builds(&parent);
    eprintln!(
        "keel sandbox: building testbed image {tag} with debootstrap from {} (about a minute, once per machine)…",
        recipe.mirrors.main
    );
    tracing::info!(%tag, mirror = %recipe.mirrors.main, "building testbed image");
    let started = std::time::Instant::now();

    let dir = BuildDir(Some(
        tempfile::Builder::new()
            .prefix(BUILD_PREFIX)
            .tempdir_in(&parent)
            .map_err(io_err("create build directory in", &parent))?,
    ));
    let rootfs = dir.path().join("rootfs");

    // The mirror may have a bad moment: one retry with a fresh directory.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let target = rootfs.with_file_name(format!("rootfs{attempt}"));
        match run_debootstrap(&debootstrap, &target, &recipe.mirrors.main) {
            Ok(()) => {
                fs::rename(&target, &rootfs).map_err(io_err("rename", &target))?;
                break;
            }
            Err(e) if attempt >= 2 => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "debootstrap failed, retrying once");
                unmount_below(&target);
            }
        }
    }
    customize(&rootfs, recipe)?;
    import(&rootfs, tag)?;
    eprintln!(
        "keel sandbox: built {tag} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    drop(dir);
    Ok(())
}

fn run_debootstrap(debootstrap: &Path, target: &Path, mirror: &str) -> Result<()> {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    path.push(":/usr/sbin:/sbin:/usr/bin:/bin");
    let mut cmd = Command::new(debootstrap);
    cmd.arg("--variant=minbase")
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(target)
        .arg(mirror)
        .env("PATH", path)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LC_ALL", "C");
    let out = run(&mut cmd)?;
    if out.status.success() {
        return Ok(());
    }
    let log = fs::read_to_string(target.join("debootstrap/debootstrap.log")).unwrap_or_default();
    let tail = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    Err(SandboxError::CommandFailed {
        command: describe(&cmd),
        status: out.status.to_string(),
        stderr: format!(
            "{}\n{}\n--- debootstrap.log (tail) ---\n{}",
            tail(&String::from_utf8_lossy(&out.stdout)),
            tail(&String::from_utf8_lossy(&out.stderr)),
            tail(&log)
        ),
    })
}

/// Applies the recipe's changes to a fresh debootstrap root file system.
fn customize(rootfs: &Path, recipe: &Recipe) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;

    // debootstrap's one-line sources.list is replaced by the deb822 file.
    remove_if_exists(&rootfs.join("etc/apt/sources.list"))?;
    // Host keys are created per container on first boot.
    remove_matching(&rootfs.join("etc/ssh"), |n| n.starts_with("ssh_host_"))?;
    // Like Debian's own container images: no cached packages or stale lists;
    // a fresh host needs `apt-get update` before installing.
    remove_matching(&rootfs.join("var/cache/apt/archives"), |n| {
        n.ends_with(".deb")
    })?;
    remove_matching(&rootfs.join("var/lib/apt/lists"), |n| {
        n != "partial" && n != "lock"
    })?;
    remove_matching(&rootfs.join("var/cache/apt"), |n| n.ends_with(".bin"))?;

    for f in &recipe.files {
        let p = rootfs.join(f.path);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).map_err(io_err("create directory", d))?;
        }
        remove_if_exists(&p)?;
        fs::write(&p, &f.content).map_err(io_err("write", &p))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(f.mode)).map_err(io_err("chmod", &p))?;
    }
    for (link, target) in &recipe.symlinks {
        let p = rootfs.join(link);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).map_err(io_err("create directory", d))?;
        }
        remove_if_exists(&p)?;
        std::os::unix::fs::symlink(target, &p).map_err(io_err("symlink", &p))?;
    }
    // Sanity checks: the things the hosts rely on are there.
    for must in [
        "sbin/init",
        "usr/sbin/sshd",
        "usr/bin/ssh-keygen",
        "usr/bin/sudo",
    ] {
        if fs::symlink_metadata(rootfs.join(must)).is_err() {
            return Err(SandboxError::Io {
                action: "missing from the debootstrap result:",
                path: PathBuf::from("/").join(must),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
    }
    Ok(())
}

fn remove_if_exists(p: &Path) -> Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SandboxError::Io {
            action: "remove",
            path: p.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn remove_matching(dir: &Path, pred: impl Fn(&str) -> bool) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    for e in entries.flatten() {
        if pred(&e.file_name().to_string_lossy()) {
            let p = e.path();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let r = if is_dir {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            r.map_err(io_err("remove", &p))?;
        }
    }
    Ok(())
}

/// `tar -C rootfs -c . | docker import - tag`.
fn import(rootfs: &Path, tag: &str) -> Result<()> {
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(rootfs)
        .args(["--numeric-owner", "-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut tar_child = tar.spawn().map_err(|e| spawn_error(&tar, e))?;
    let Some(tar_out) = tar_child.stdout.take() else {
        let _ = tar_child.kill();
        let _ = tar_child.wait();
        return Err(SandboxError::Spawn {
            command: describe(&tar),
            source: std::io::Error::other("no stdout pipe"),
        });
    };
    let mut import = docker(["import", "--change", "CMD [\"/sbin/init\"]", "-", tag]);
    import.stdin(Stdio::from(tar_out));
    let import_out = import.output().map_err(|e| spawn_error(&import, e));
    let mut tar_err = String::new();
    if let Some(mut e) = tar_child.stderr.take() {
        let _ = e.read_to_string(&mut tar_err);
    }
    let tar_status = tar_child.wait().map_err(|e| spawn_error(&tar, e))?;
    let import_out = import_out?;
    if !tar_status.success() {
        return Err(SandboxError::CommandFailed {
            command: describe(&tar),
            status: tar_status.to_string(),
            stderr: tar_err.trim().to_string(),
        });
    }
    check(&import, &import_out)?;
    // Make sure the tag is really there.
    run_ok(&mut docker([
        "image", "inspect", "--format", "{{.Id}}", tag,
    ]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_main_and_security() {
        let text = "Types: deb\n# comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n";
        assert_eq!(
            parse_deb822(text),
            (
                Some("http://mirror.example/debian".into()),
                Some("http://mirror.example/debian-security".into())
            )
        );
    }

    #[test]
    fn deb822_skips_deb_src_and_disabled() {
        let text = "Types: deb-src\nURIs: http://a.example/debian\nSuites: bookworm\n\nEnabled: no\nTypes: deb\nURIs: http://b.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://c.example/debian\nSuites: bookworm\n";
        assert_eq!(
            parse_deb822(text),
            (Some("http://c.example/debian".into()), None)
        );
    }

    #[test]
    fn sources_list_lines() {
        let text = "# x\ndeb-src http://s.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb http://m.example/debian-security bookworm-security main\n";
        assert_eq!(
            parse_sources_list(text),
            (
                Some("http://m.example/debian".into()),
                Some("http://m.example/debian-security".into())
            )
        );
    }

    #[test]
    fn tag_depends_on_mirror() {
        let a = Recipe::new(Mirrors {
            main: "http://a.example/debian".into(),
            security: None,
        });
        let b = Recipe::new(Mirrors {
            main: "http://b.example/debian".into(),
            security: None,
        });
        assert_ne!(a.tag(), b.tag());
        assert!(a.tag().starts_with("keel-testbed:"));
        assert_eq!(a.tag().len(), "keel-testbed:".len() + 16);
        assert!(a.text().contains("bookworm-updates"));
    }

    #[test]
    fn mount_unescape() {
        assert_eq!(unescape_mount("/a\\040b/c"), "/a b/c");
        assert_eq!(unescape_mount("/plain"), "/plain");
    }
}
