//! Fuzz targets for what the user writes: a stack, an inventory or a
//! module, each taken through what `keel validate` runs offline (load →
//! modules → resolve with placeholder facts and secrets → graph → lockout
//! analysis, [`crate::session::check_keeping`]), then every problem found
//! rendered as the command line renders it.
//!
//! The input is one file of a small fixed project (two hosts in two
//! groups, a module with a template, a valid stack using it), written into
//! a temporary folder made once per process: the loaders read paths, and
//! the project around the file is what a real one looks like. The other
//! files stay fixed, so a crash names the one file that caused it.
//!
//! Besides panics and hangs, a problem that cannot be rendered (a span
//! past the end of its file, or inside a character) panics here: the user
//! would be shown an error without its file and line.

use crate::diag::{Diag, Diagnostics};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The fixed inventory: two SSH hosts, each in a group.
const INVENTORY: &str = "hosts:
  web1: { address: 192.0.2.10, user: deploy, port: 2222 }
  db1: { address: 192.0.2.11, port: 2222 }
groups:
  web: { hosts: [web1], vars: { site: hello } }
  db: { hosts: [db1] }
";

/// The fixed module `motd` (a required input, a default, a template).
const MODULE: &str = "description: A message of the day, from a template.
inputs:
  path: { type: string, required: true }
  message: { type: string, default: \"Managed by keel.\" }
resources:
  - file:
      path: \"{{inputs.path}}\"
      template: motd.hbs
      mode: \"0644\"
outputs:
  path: \"{{inputs.path}}\"
";

/// The fixed valid stack the `inventory` target loads.
const STACK: &str = "name: fuzz
targets: [web, db]
vars:
  root: /srv/app
secrets:
  token: { env: FUZZ_TOKEN }
uses:
  - module: motd
    with: { path: /etc/motd }
resources:
  - directory: { path: \"{{vars.root}}\", mode: \"0755\" }
  - file:
      path: \"{{vars.root}}/app.env\"
      content: \"TOKEN={{secrets.token}}\\nHOST={{host.name}}\\n\"
      mode: \"0600\"
      depends_on: [\"directory[{{vars.root}}]\"]
  - user: { name: deploy, authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeel deploy@laptop\"], sudo: true }
  - sshd: { settings: { PasswordAuthentication: \"no\", Port: 2222 } }
  - ufw: { rules: [{ allow: 2222/tcp }] }
";

/// The fixed stack the `module` target loads: it uses the fuzzed module.
const MODULE_STACK: &str = "name: fuzz-module
targets: [web]
uses:
  - module: fuzzed
resources:
  - package: { name: nginx }
";

/// The folder of a project per target (the folders `stack`, `inventory`
/// and `module`, so no target sees another's last input), made on first
/// use; the lock keeps two threads (the regression test's) from writing
/// one file at once.
fn projects() -> &'static Mutex<PathBuf> {
    static DIR: OnceLock<Mutex<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        // Kept for the life of the process (each input rewrites one file).
        let dir = tempfile::Builder::new()
            .prefix("keel-fuzz-")
            .tempdir()
            .expect("a temporary folder for the fuzz projects")
            .keep();
        for target in ["stack", "inventory", "module"] {
            for (path, text) in [
                ("inventory.yaml", INVENTORY),
                ("stack.yaml", STACK),
                ("module-stack.yaml", MODULE_STACK),
                ("modules/motd/module.yaml", MODULE),
                ("modules/motd/templates/motd.hbs", "{{inputs.message}}\n"),
                ("modules/fuzzed/templates/motd.hbs", "{{inputs.message}}\n"),
                ("templates/app.conf.hbs", "name = {{vars.app}}\n"),
                ("files/app.conf", "a = 1\n"),
            ] {
                let p = dir.join(target).join(path);
                std::fs::create_dir_all(p.parent().expect("a file in a folder"))
                    .and_then(|()| std::fs::write(&p, text))
                    .expect("write a fuzz project");
            }
        }
        Mutex::new(dir)
    })
}

/// Run one input through the target named (`stack`, `inventory` or
/// `module`); `false` for another name. Input layout: `stack` and
/// `module`, the whole input (lossy UTF-8) is the file; `inventory`, byte
/// 0's low bit picks the file name (`fuzzed.yaml`, or `hosts` without an
/// extension, which may be read as an Ansible INI inventory) and the rest
/// is the file, with the fixed stack.
pub fn run(target: &str, data: &[u8]) -> bool {
    validate_input(target, data).is_some()
}

/// [`run`]'s work: `None` for an unknown target, else the outcome of the
/// validation (the number of resources, or the problems found).
fn validate_input(target: &str, data: &[u8]) -> Option<Result<usize, Diagnostics>> {
    let (stack, file, text) = match target {
        "stack" => ("fuzzed.yaml", "fuzzed.yaml", data),
        "module" => ("module-stack.yaml", "modules/fuzzed/module.yaml", data),
        "inventory" => {
            let (sel, rest) = data.split_first().unwrap_or((&0, data));
            let name = if sel & 1 == 0 { "fuzzed.yaml" } else { "hosts" };
            ("stack.yaml", name, rest)
        }
        _ => return None,
    };
    let base = projects().lock().unwrap_or_else(|e| e.into_inner());
    let dir = base.join(target);
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the fuzzed file's folder");
    }
    std::fs::write(&path, String::from_utf8_lossy(text).as_bytes()).expect("write the fuzzed file");
    let inventory = if target == "inventory" {
        path
    } else {
        dir.join("inventory.yaml")
    };
    Some(validate(&dir.join(stack), &inventory))
}

/// What `keel validate` runs, on the calling thread; every problem (and
/// warning) is rendered.
fn validate(stack: &Path, inventory: &Path) -> Result<usize, Diagnostics> {
    let overrides = crate::resolve::Overrides::default();
    let result = crate::session::on_calling_thread(|| {
        crate::session::check_keeping(stack, inventory, (None, false), &overrides, false)
    });
    match result {
        Ok((_, v)) => {
            render(&v.warnings);
            Ok(v.resources)
        }
        Err(d) => {
            assert!(!d.is_empty(), "validation failed without a problem");
            render(&d);
            Err(d)
        }
    }
}

/// Render each problem as `keel` does, after checking that each of its
/// places is in its file: miette shows a place past the end without its
/// line, so that is a bug here.
fn render(diags: &Diagnostics) {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_context_lines(2);
    for d in &diags.0 {
        check_places(d);
        let _ = d.location();
        let mut out = String::new();
        if let Err(e) = handler.render_report(&mut out, d) {
            panic!("cannot render the problem {:?}: {e}", d.message);
        }
    }
}

/// Panics when a place of `d` (its span, its notes', its related
/// problems') is not a range of its file's text.
fn check_places(d: &Diag) {
    if let Some(src) = &d.source {
        let text = src.text();
        for span in d.span.iter().chain(d.notes.iter().map(|(s, _)| s)) {
            let end = span.offset.saturating_add(span.len);
            let inside = end <= text.len()
                && text.is_char_boundary(span.offset)
                && text.is_char_boundary(end);
            assert!(
                inside,
                "cannot render the problem {:?}: {span:?} is not in {} ({} bytes)",
                d.message,
                src.name,
                text.len()
            );
        }
    }
    d.related.iter().for_each(check_places);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .map(|d| format!("{}: {}", d.location().unwrap_or_default(), d.message))
            .collect()
    }

    /// The fixed files are a valid project: each target's mutations start
    /// from a stack that resolves, graphs and passes the lockout analysis.
    #[test]
    fn the_fixed_project_is_valid_for_every_target() {
        let stack = validate_input("stack", STACK.as_bytes()).unwrap();
        // 2 hosts: a directory, a file, a user, sshd, ufw and the module's file.
        assert_eq!(stack.map_err(|d| messages(&d)), Ok(12));
        let mut inv = vec![0];
        inv.extend_from_slice(INVENTORY.as_bytes());
        let inventory = validate_input("inventory", &inv).unwrap();
        assert_eq!(inventory.map_err(|d| messages(&d)), Ok(12));
        let module = validate_input(
            "module",
            MODULE
                .replace("required: true", "default: /etc/m")
                .as_bytes(),
        )
        .unwrap();
        // 1 host: the package and the module's file.
        assert_eq!(module.map_err(|d| messages(&d)), Ok(2));
    }

    /// A broken file gets a problem naming the fuzzed file and its line.
    #[test]
    fn a_broken_file_is_reported_at_its_line() {
        let d = validate_input(
            "stack",
            b"name: x\ntargets: [web]\nresources:\n  - nope: {}\n",
        )
        .unwrap()
        .unwrap_err();
        let at = d.0[0].location().unwrap();
        assert!(at.ends_with("fuzzed.yaml:4:5"), "{at}: {:?}", messages(&d));
        let d = validate_input("inventory", b"\x01[web]\nweb1 ansible_port=x\n")
            .unwrap()
            .unwrap_err();
        assert!(
            d.0.iter()
                .any(|d| d.location().is_some_and(|l| l.ends_with("hosts:2:19"))),
            "{:?}",
            messages(&d)
        );
        assert!(validate_input("nope", b"").is_none());
    }

    /// A problem that could not be shown at its line is a crash.
    #[test]
    #[should_panic(expected = "cannot render the problem")]
    fn a_problem_outside_its_file_is_a_crash() {
        use crate::diag::{SourceFile, Span};
        let src = SourceFile::new("f.yaml".into(), "a: 1\n".into());
        let d = Diag::at("keel::schema", &src, Span::new(100, 3), "m", "here");
        render(&Diagnostics(vec![d]));
    }
}
