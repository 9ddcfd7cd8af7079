//! Where a module named in `- module: NAME` comes from.
//!
//! A name is looked up, first match wins, in:
//! 1. the project: `modules/` beside the stack, then `modules/` one folder
//!    up (a project with `stacks/` and `modules/`);
//! 2. the search path: each folder of the stack's `module_path:` (relative
//!    to the stack), then each folder of `KEEL_MODULE_PATH` (separated by
//!    `:`, relative to the current folder);
//! 3. the modules bundled with keel ([`super::bundled`]).
//!
//! So a project can always shadow a bundled module by writing its own of
//! the same name. A name that is found nowhere is an error listing every
//! place looked in. `module: { name: x, version: ... }` and git sources
//! are reserved for later (rejected with "not supported yet" when parsed).

use super::bundled;
use super::module::Module;
use super::stack::Stack;
use crate::config::entry::UseDecl;
use crate::diag::{Diag, Diagnostics};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable holding extra module folders.
pub const ENV: &str = "KEEL_MODULE_PATH";

/// Which kind of place a module was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// `modules/` of the project.
    Project,
    /// A folder of `module_path:` or `KEEL_MODULE_PATH`.
    Path,
    /// Shipped inside the keel binary.
    Bundled,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Project => "project",
            Origin::Path => "path",
            Origin::Bundled => "bundled",
        }
    }
}

/// One folder searched for modules, with why it is searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    pub dir: PathBuf,
    pub origin: Origin,
    /// Where the folder was named, for messages (`module_path`, `KEEL_MODULE_PATH`).
    pub via: &'static str,
}

/// A module found on the search path.
#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub dir: PathBuf,
    pub origin: Origin,
}

/// The ordered places where modules are looked up for one stack.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub dirs: Vec<SearchDir>,
    /// The bundled modules, written out on first use.
    bundled: Option<Arc<tempfile::TempDir>>,
}

impl Lookup {
    /// The search path of a stack in `stack_dir` with `module_path:`
    /// folders, and `env` as the value of [`ENV`].
    pub fn new(stack_dir: &Path, module_path: &[String], env: Option<&std::ffi::OsStr>) -> Self {
        let mut dirs: Vec<SearchDir> = Vec::new();
        let mut push = |dir: PathBuf, origin, via| {
            if !dirs.iter().any(|d| d.dir == dir) {
                dirs.push(SearchDir { dir, origin, via });
            }
        };
        push(stack_dir.join("modules"), Origin::Project, "project");
        if let Some(parent) = stack_dir.parent() {
            push(parent.join("modules"), Origin::Project, "project");
        }
        for p in module_path {
            push(stack_dir.join(p), Origin::Path, "module_path");
        }
        if let Some(env) = env {
            for p in std::env::split_paths(env).filter(|p| !p.as_os_str().is_empty()) {
                let p = std::path::absolute(&p).unwrap_or(p);
                push(p, Origin::Path, ENV);
            }
        }
        Lookup {
            dirs,
            bundled: None,
        }
    }

    /// The search path of a loaded stack, with [`ENV`] from the environment.
    pub fn for_stack(stack: &Stack) -> Self {
        let module_path: Vec<String> = stack.module_path.iter().map(|p| p.value.clone()).collect();
        Lookup::new(&stack.dir, &module_path, std::env::var_os(ENV).as_deref())
    }

    /// Find a module by name; bundled modules are written to a private
    /// temporary folder the first time one is needed.
    pub fn find(&mut self, name: &str) -> Result<Option<Found>, String> {
        if !valid_name(name) {
            return Ok(None);
        }
        if let Some(d) = self.dirs.iter().find(|d| d.dir.join(name).is_dir()) {
            return Ok(Some(Found {
                name: name.to_string(),
                dir: d.dir.join(name),
                origin: d.origin,
            }));
        }
        if !bundled::has(name) {
            return Ok(None);
        }
        let root = self.bundled_dir()?;
        Ok(Some(Found {
            name: name.to_string(),
            dir: root.join(name),
            origin: Origin::Bundled,
        }))
    }

    fn bundled_dir(&mut self) -> Result<PathBuf, String> {
        if self.bundled.is_none() {
            let dir = bundled::extract().map_err(|e| {
                format!("cannot write the bundled modules to a temporary folder: {e}")
            })?;
            if let Ok(mut roots) = BUNDLED_ROOTS.lock() {
                roots.push(dir.path().to_path_buf());
            }
            self.bundled = Some(Arc::new(dir));
        }
        Ok(self
            .bundled
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default())
    }

    /// The folder of bundled modules, when one was written: keep it alive
    /// as long as the modules loaded from it are used.
    pub fn bundled_keepalive(&self) -> Option<Arc<tempfile::TempDir>> {
        self.bundled.clone()
    }

    /// Every module visible from this search path, first match of each name
    /// first, then the ones it shadows.
    pub fn available(&mut self) -> Vec<Found> {
        let mut out = Vec::new();
        for d in &self.dirs {
            for name in module_folders(&d.dir) {
                out.push(Found {
                    dir: d.dir.join(&name),
                    name,
                    origin: d.origin,
                });
            }
        }
        if let Ok(root) = self.bundled_dir() {
            for name in bundled::names() {
                out.push(Found {
                    name: name.to_string(),
                    dir: root.join(name),
                    origin: Origin::Bundled,
                });
            }
        }
        // Stable: by name, then in search order (the winner first).
        out.sort_by_key(|f| f.name.clone());
        out
    }

    /// Names of every module visible, for "did you mean".
    fn names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self
            .dirs
            .iter()
            .flat_map(|d| module_folders(&d.dir))
            .collect();
        names.extend(bundled::names().into_iter().map(str::to_string));
        names.into_iter().collect()
    }

    /// Where a name was looked up, for the "not found" message.
    pub fn places(&self) -> String {
        let mut v: Vec<String> = self
            .dirs
            .iter()
            .map(|d| format!("{} ({})", short_path(&d.dir), d.via))
            .collect();
        v.push("the modules bundled with keel".to_string());
        v.join(", ")
    }
}

/// Folders the bundled modules were written to in this process.
static BUNDLED_ROOTS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// How messages name a file of a bundled module: `bundled:NAME/FILE`
/// rather than the temporary folder it was written to.
pub fn bundled_label(path: &Path) -> Option<String> {
    let roots = BUNDLED_ROOTS.lock().ok()?;
    roots.iter().find_map(|root| {
        let rest = path.strip_prefix(root).ok()?;
        Some(format!("bundled:{}", rest.display()))
    })
}

/// A folder for messages: relative to the current folder when it is below
/// it or one level up, else absolute.
fn short_path(dir: &Path) -> String {
    let rel = crate::config::display_path(dir);
    if rel.starts_with("../..") {
        std::path::absolute(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display()
            .to_string()
    } else {
        rel
    }
}

/// A module name is a folder name: letters, digits, `-`, `_`, `.`, not
/// starting with `.` (so it cannot leave the folders searched).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Sub-folders of `dir` holding a `module.yaml` (or `module.yml`), sorted.
fn module_folders(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            let p = e.path();
            p.join("module.yaml").exists() || p.join("module.yml").exists()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every module a stack uses, recursively.
pub struct Loaded {
    pub modules: BTreeMap<String, Module>,
    /// Names that could not be found or loaded (reported).
    pub missing: BTreeSet<String>,
    /// Keeps the bundled modules' folder while the project lives.
    pub bundled: Option<Arc<tempfile::TempDir>>,
}

/// Find and load every module the stack uses (and the modules they use),
/// reporting each name found nowhere at its use.
pub fn load_all(stack: &Stack, diags: &mut Diagnostics) -> Loaded {
    let mut lookup = Lookup::for_stack(stack);
    let mut modules = BTreeMap::new();
    let mut missing = BTreeSet::new();
    let mut pending: Vec<UseDecl> = stack.uses.clone();
    pending.reverse();
    while let Some(u) = pending.pop() {
        let name = &u.module.value;
        if modules.contains_key(name) || missing.contains(name) {
            continue;
        }
        let found = match lookup.find(name) {
            Ok(f) => f,
            Err(e) => {
                diags.push(Diag::plain("keel::io", e));
                missing.insert(name.clone());
                continue;
            }
        };
        match found {
            Some(f) => match Module::load(name, &f.dir) {
                (Some(m), d) => {
                    diags.extend(d);
                    pending.extend(m.uses.iter().rev().cloned());
                    modules.insert(name.clone(), m);
                }
                (None, d) => {
                    diags.extend(d);
                    missing.insert(name.clone());
                }
            },
            None => {
                missing.insert(name.clone());
                diags.push(not_found(&u, &lookup));
            }
        }
    }
    Loaded {
        modules,
        missing,
        bundled: lookup.bundled_keepalive(),
    }
}

fn not_found(u: &UseDecl, lookup: &Lookup) -> Diag {
    let name = &u.module.value;
    let d = Diag::at(
        "keel::unknown-module",
        &u.origin.source,
        u.module.span,
        format!("module `{name}` not found"),
        "no such module",
    );
    if !valid_name(name) {
        return d.with_help(
            "a module is named by its folder: letters, digits, `-`, `_` and `.`, e.g. `module: nginx-base`",
        );
    }
    let hint = crate::suggest::closest_hint(name, lookup.names().iter());
    d.with_help(format!(
        "{hint}\nlooked for a folder `{name}` with a module.yaml in {}\n(`keel modules` lists every module a stack can use)",
        lookup.places(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(dir: &Path, name: &str, description: &str) {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(
            dir.join(name).join("module.yaml"),
            format!("description: {description}\nresources: []\n"),
        )
        .unwrap();
    }

    #[test]
    fn project_then_path_then_bundled() {
        let tmp = tempfile::tempdir().unwrap();
        let stack_dir = tmp.path().join("proj").join("stacks");
        std::fs::create_dir_all(&stack_dir).unwrap();
        let extra = tmp.path().join("extra");
        let env = tmp.path().join("env");
        module(
            &tmp.path().join("proj").join("modules"),
            "nginx-base",
            "mine",
        );
        module(&extra, "only-extra", "x");
        module(&env, "only-env", "x");
        module(&env, "only-extra", "shadowed");
        let mut l = Lookup::new(
            &stack_dir,
            &["../../extra".to_string()],
            Some(env.as_os_str()),
        );
        let f = l.find("nginx-base").unwrap().unwrap();
        assert_eq!(f.origin, Origin::Project, "the project shadows bundled");
        let f = l.find("only-extra").unwrap().unwrap();
        assert_eq!(f.origin, Origin::Path);
        assert!(f.dir.starts_with(stack_dir.join("../../extra")), "{f:?}");
        assert_eq!(l.find("only-env").unwrap().unwrap().origin, Origin::Path);
        let f = l.find("prometheus").unwrap().unwrap();
        assert_eq!(f.origin, Origin::Bundled);
        assert!(f.dir.join("module.yaml").exists());
        assert!(l.find("nope").unwrap().is_none());
    }

    #[test]
    fn names_cannot_leave_the_search_path() {
        let tmp = tempfile::tempdir().unwrap();
        module(tmp.path(), "secret", "x");
        let stack_dir = tmp.path().join("a").join("b");
        let mut l = Lookup::new(&stack_dir, &[], None);
        assert!(l.find("../../secret").unwrap().is_none());
        assert!(l.find("/etc").unwrap().is_none());
        assert!(!valid_name(".."));
        assert!(valid_name("nginx-base"));
    }

    #[test]
    fn places_name_every_folder_once() {
        let l = Lookup::new(
            Path::new("/p/stacks"),
            &["lib".to_string()],
            Some(std::ffi::OsStr::new("/x:/y::/x")),
        );
        let dirs: Vec<_> = l.dirs.iter().map(|d| d.dir.clone()).collect();
        assert_eq!(
            dirs,
            [
                "/p/stacks/modules",
                "/p/modules",
                "/p/stacks/lib",
                "/x",
                "/y"
            ]
            .map(PathBuf::from)
        );
        assert!(l.places().ends_with("the modules bundled with keel"));
    }

    #[test]
    fn available_lists_the_winner_first() {
        let tmp = tempfile::tempdir().unwrap();
        module(&tmp.path().join("modules"), "prometheus", "mine");
        let mut l = Lookup::new(tmp.path(), &[], None);
        let all = l.available();
        let proms: Vec<_> = all.iter().filter(|f| f.name == "prometheus").collect();
        assert_eq!(proms.len(), 2);
        assert_eq!(proms[0].origin, Origin::Project);
        assert_eq!(proms[1].origin, Origin::Bundled);
    }
}
