//! Replacing a whole system file atomically from a shell fill command
//! (also when the file is a bind mount that cannot be renamed over).

use crate::shell::{self, Script};

/// Shell lines that replace the file `path` with what the shell code
/// `fill` prints on stdout. `fill` may read the current file as
/// `"$keel_t"` (the path with symbolic links resolved, so a link is
/// followed rather than replaced).
///
/// The new content goes to a temporary file in the same directory, gets the
/// mode and owner of the file it replaces (0644 for a new file), and is
/// renamed over it: readers see the old or the new file, never a part. A
/// file that is a mount point (Docker bind-mounts `/etc/hosts`,
/// `/etc/hostname` and `/etc/resolv.conf` into containers) cannot be
/// renamed over (`EBUSY`), so it is rewritten in place from the complete
/// temporary file instead.
pub(crate) fn rewrite_file(path: &str, fill: &str) -> String {
    let tmp = shell::TempFile::beside_word("keel_tmp", "\"$keel_t\"");
    let mut s = format!("keel_fill() {{\n{fill}\n}}\n");
    s.push_str(&format!("keel_tmp_create() {{\n{}}}\n", tmp.create()));
    s.push_str(&format!(
        "keel_tmp_perms() {{\n{}}}\n",
        tmp.set_perms(&shell::Perms::default())
    ));
    s.push_str(&format!("keel_tmp_rename() {{\n{}}}\n", tmp.rename()));
    s.push_str(
        &Script::new(include_str!("edit/rewrite.sh"))
            .set("keel_edit_path", path)
            .render(),
    );
    s
}
