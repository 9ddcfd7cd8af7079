//! Every configuration file a run read: the stack, inventory files, module
//! files, templates and local `source:` files.
//!
//! A saved plan is bound to the content of these files (see
//! [`crate::plan::saved`]): `keel apply FILE` refuses when any of them
//! changed since `keel plan --out FILE`, naming the file. Loading happens in
//! several places (config parsing, template rendering, local sources while
//! resolving each host), so each reader notes its path here instead of
//! threading a list through every stage. One keel process runs one stack,
//! so a process-wide set is the run's set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static READ: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Note that `path` was read as part of the configuration.
pub fn note(path: &Path) {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(mut set) = READ.lock() {
        set.insert(abs);
    }
}

/// Every file noted so far, as absolute paths, sorted.
pub fn files() -> Vec<PathBuf> {
    READ.lock()
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_absolute_paths_once() {
        note(Path::new("some/relative.yaml"));
        note(Path::new("some/relative.yaml"));
        let want = std::path::absolute("some/relative.yaml").unwrap();
        let files = files();
        assert_eq!(files.iter().filter(|p| **p == want).count(), 1);
        assert!(files.iter().all(|p| p.is_absolute()));
    }
}
