//! Diagnostics of the real binary on a corpus of broken projects.
//!
//! Each folder of `tests/cli/broken/` is a small project (`stack.yaml`,
//! `inventory.yaml`, maybe `modules/`) with one mistake a user really makes
//! (`several-mistakes` has several, in several files). For each, `keel
//! validate` (or `keel plan`, for secrets) runs with the case folder as its
//! working directory, so the paths in the output are relative and stable.
//! Every case must:
//! - exit with 1, without panicking;
//! - point at the right `file:line:col` (the `╭─[...]` header of each
//!   diagnostic) and report exactly as many problems as expected;
//! - say what is wrong (a few key phrases are checked);
//! - match its insta snapshot of the whole stderr
//!   (`tests/snapshots/cli_diagnostics__<case>.snap`).
//!
//! Regenerate snapshots with `INSTA_UPDATE=always cargo test --test
//! cli_diagnostics`, then read every changed `.snap` as a user would.

mod support;

use support::{Keel, Run};

use std::path::{Path, PathBuf};

fn cli_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("cli")
}

fn case_dir(case: &str) -> PathBuf {
    cli_dir().join("broken").join(case)
}

/// Run keel in `dir` with colours off, no inherited keel settings and
/// 100 columns.
fn keel_in(dir: &Path, args: &[&str]) -> Run {
    Keel::new()
        .current_dir(dir)
        .env("COLUMNS", "100")
        .args(["--color", "never"])
        .args(args)
        .run()
}

/// What a case must report.
struct Expect<'a> {
    /// `validate` or `plan`.
    command: &'a str,
    /// Every `file:line:col` that heads a diagnostic, one per problem.
    locations: &'a [&'a str],
    /// Places in other files shown below a diagnostic (`Advice:`, e.g. the
    /// `template:` setting of an error inside a template file).
    related: &'a [&'a str],
    /// Phrases the output must contain (what is wrong, what to do).
    says: &'a [&'a str],
    /// Phrases it must not contain (internals, wrong advice).
    not: &'a [&'a str],
}

const VALIDATE: Expect<'static> = Expect {
    command: "validate",
    locations: &[],
    related: &[],
    says: &[],
    not: &[],
};

fn check(case: &str, e: Expect) {
    let dir = case_dir(case);
    assert!(
        dir.join("stack.yaml").is_file(),
        "missing case folder {}",
        dir.display()
    );
    let out = keel_in(&dir, &[e.command, "-i", "inventory.yaml", "stack.yaml"]);
    let err = &out.stderr;
    assert!(!err.contains("panicked"), "{case}: keel panicked:\n{err}");
    assert_eq!(
        out.code, 1,
        "{case}: exit code (stdout: {}) stderr:\n{err}",
        out.stdout
    );
    // Nothing was planned or printed on stdout: the run stopped at the diagnostics.
    assert_eq!(out.stdout, "", "{case}: unexpected stdout; stderr:\n{err}");

    let n = e.locations.len();
    let count_line = format!("keel: {n} problem{} found", if n == 1 { "" } else { "s" });
    assert!(
        err.contains(&count_line),
        "{case}: expected `{count_line}` in stderr:\n{err}"
    );
    let headers: Vec<&str> = err
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("╭─["))
        .filter_map(|l| l.strip_suffix(']'))
        .collect();
    for loc in e.locations.iter().chain(e.related) {
        assert!(
            headers.iter().any(|h| h.ends_with(loc)),
            "{case}: no diagnostic at `{loc}` (diagnostics at {headers:?}); stderr:\n{err}"
        );
    }
    assert_eq!(
        headers.len(),
        n + e.related.len(),
        "{case}: expected {n} located diagnostic(s) and {} related place(s), found {headers:?}; stderr:\n{err}",
        e.related.len()
    );
    assert_eq!(
        err.matches("\nAdvice: ").count(),
        e.related.len(),
        "{case}: related places; stderr:\n{err}"
    );
    for s in e.says {
        assert!(err.contains(s), "{case}: stderr should say `{s}`:\n{err}");
    }
    for s in e.not {
        assert!(
            !err.contains(s),
            "{case}: stderr should not contain `{s}`:\n{err}"
        );
    }
    insta::assert_snapshot!(case.to_string(), out.stderr);
}

// ---------------------------------------------------------------------------
// YAML and schema

#[test]
fn yaml_syntax_error() {
    check(
        "yaml-syntax-error",
        Expect {
            locations: &["stack.yaml:6:6"],
            says: &["invalid YAML", "indentation"],
            ..VALIDATE
        },
    );
}

#[test]
fn unknown_top_level_key() {
    check(
        "unknown-top-level-key",
        Expect {
            locations: &["stack.yaml:3:1"],
            says: &["unknown key `resorces`", "did you mean `resources`?"],
            ..VALIDATE
        },
    );
}

#[test]
fn unknown_field_in_kind() {
    check(
        "unknown-field-in-kind",
        Expect {
            locations: &["stack.yaml:6:7"],
            says: &[
                "invalid `file`",
                "unknown key `contnet`",
                "did you mean `content`?",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn wrong_type_mode_list() {
    check(
        "wrong-type-mode-list",
        Expect {
            locations: &["stack.yaml:7:13"],
            says: &["invalid `file`", "expected a string, found a list"],
            ..VALIDATE
        },
    );
}

#[test]
fn wrong_type_map_for_string() {
    check(
        "wrong-type-map-for-string",
        Expect {
            locations: &["stack.yaml:7:14"],
            says: &["invalid `file`", "expected a string, found a map"],
            ..VALIDATE
        },
    );
}

#[test]
fn unknown_enum_value() {
    check(
        "unknown-enum-value",
        Expect {
            locations: &["stack.yaml:7:14"],
            says: &["unknown value `runing`", "did you mean `running`?"],
            ..VALIDATE
        },
    );
}

#[test]
fn unknown_kind() {
    check(
        "unknown-kind",
        Expect {
            locations: &["stack.yaml:4:5"],
            says: &["unknown resource kind `fiel`", "did you mean `file`?"],
            ..VALIDATE
        },
    );
}

#[test]
fn two_kinds_in_one_entry() {
    check(
        "two-kinds-in-one-entry",
        Expect {
            locations: &["stack.yaml:5:5"],
            says: &["`service` is a second key", "start a new entry with `- `"],
            ..VALIDATE
        },
    );
}

#[test]
fn empty_stack() {
    check(
        "empty-stack",
        Expect {
            locations: &["stack.yaml:1:1"],
            says: &["empty"],
            // A Rust type name means nothing to a user.
            not: &["StackDoc", "struct"],
            ..VALIDATE
        },
    );
}

#[test]
fn resources_at_top_level() {
    check(
        "resources-at-top-level",
        Expect {
            locations: &["stack.yaml:1:1"],
            // The document is a list where a map (name, targets, resources) is expected.
            says: &["found a list", "resources:"],
            not: &["StackDoc", "struct", "expected a string"],
            ..VALIDATE
        },
    );
}

#[test]
fn flow_list_address() {
    check(
        "flow-list-address",
        Expect {
            locations: &["stack.yaml:8:27"],
            says: &["invalid YAML", "quote them", "[\"package[nginx]\"]"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// References and the graph

#[test]
fn dangling_depends_on() {
    check(
        "dangling-depends-on",
        Expect {
            locations: &["stack.yaml:9:11"],
            says: &[
                "depends on `package[ngnix]`, which does not exist",
                "did you mean `package[nginx]`?",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn dangling_notify() {
    check(
        "dangling-notify",
        Expect {
            locations: &["stack.yaml:8:11"],
            says: &[
                "notifies `service[nginx]`, which does not exist",
                "did you mean `service[ngnix]`?",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn notify_non_notifiable() {
    check(
        "notify-non-notifiable",
        Expect {
            locations: &["stack.yaml:9:11"],
            says: &[
                "`file[/etc/app/app.conf]` cannot be notified",
                "notified_only: true",
                "`compose` (restarts the project)",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn duplicate_address() {
    check(
        "duplicate-address",
        Expect {
            locations: &["stack.yaml:6:5"],
            says: &[
                "duplicate resource address `file[/etc/motd]`",
                "first declared at stack.yaml:4:5",
                "first declared here",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn dependency_cycle() {
    check(
        "dependency-cycle",
        Expect {
            locations: &["stack.yaml:4:5"],
            says: &[
                "dependency cycle between",
                "package[nginx]",
                "service[php-fpm]",
                "file[/etc/php/fpm.conf]",
                // Every edge, with where it was written.
                "depends_on at stack.yaml:6:21",
                "depends_on at stack.yaml:10:21",
                "depends_on at stack.yaml:14:21",
            ],
            ..VALIDATE
        },
    );
}

/// A module use's `depends_on` closes a cycle: its edges are labelled with
/// the stack, where they are written (they were labelled with the module's
/// file and the stack's line numbers).
#[test]
fn uses_depends_on_cycle() {
    check(
        "uses-depends-on-cycle",
        Expect {
            locations: &["stack.yaml:8:5"],
            says: &[
                "dependency cycle between service[nginx], directory[/srv/app], file[/srv/app/config.ini]",
                "service[nginx] → directory[/srv/app] (depends_on at stack.yaml:5:19)",
                "directory[/srv/app] → service[nginx] (depends_on at stack.yaml:11:21)",
            ],
            not: &["modules/app/module.yaml:"],
            ..VALIDATE
        },
    );
}

/// A dangling `depends_on` of a module use: one problem at the use (it was
/// miette's "Failed to read contents for label", once per resource).
#[test]
fn dangling_depends_on_module_use() {
    check(
        "dangling-depends-on-module-use",
        Expect {
            locations: &["stack.yaml:5:19"],
            says: &[
                "`module.app` depends on `package[postgressql]`, which does not exist",
                "did you mean `package[postgresql]`?",
            ],
            not: &["Failed to read contents", "OutOfBounds"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Modules

#[test]
fn module_missing_input() {
    check(
        "module-missing-input",
        Expect {
            locations: &["stack.yaml:4:13"],
            says: &["module `site` needs input `domain`", "with:"],
            ..VALIDATE
        },
    );
}

#[test]
fn module_unknown_input() {
    check(
        "module-unknown-input",
        Expect {
            locations: &["stack.yaml:7:7"],
            says: &["module `site` has no input `prot`", "did you mean `port`?"],
            ..VALIDATE
        },
    );
}

#[test]
fn module_input_wrong_type() {
    check(
        "module-input-wrong-type",
        Expect {
            locations: &["stack.yaml:7:13"],
            says: &["input `port` of module `site` must be an integer, found a list"],
            ..VALIDATE
        },
    );
}

#[test]
fn module_not_found() {
    check(
        "module-not-found",
        Expect {
            locations: &["stack.yaml:4:13"],
            says: &["module `sites` not found", "did you mean `site`?"],
            // The folders searched are listed once each (a stack in the
            // working directory used to list `./modules` twice).
            not: &["./modules or ./modules"],
            ..VALIDATE
        },
    );
}

#[test]
fn module_missing_everywhere() {
    check(
        "module-missing-everywhere",
        Expect {
            locations: &["stack.yaml:5:13"],
            says: &[
                "module `nginx-bsae` not found",
                "(module_path)",
                "the modules bundled with keel",
                "did you mean `nginx-base`?",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn template_helper_bad_argument() {
    check(
        "template-helper-bad-argument",
        Expect {
            locations: &["stack.yaml:8:27"],
            says: &["`add`: the first argument must be a number, found a string (\"four\")"],
            ..VALIDATE
        },
    );
}

#[test]
fn file_and_line_same_path() {
    check(
        "file-and-line-same-path",
        Expect {
            locations: &["stack.yaml:7:5"],
            says: &[
                "edits /etc/app.conf, whose whole content `file[/etc/",
                "declared here",
                "each run would undo the other",
            ],
            not: &["other.conf"],
            ..VALIDATE
        },
    );
}

#[test]
fn module_use_cycle() {
    check(
        "module-use-cycle",
        Expect {
            locations: &["modules/b/module.yaml:3:13"],
            says: &["a → b → a"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Templates

#[test]
fn template_missing_var_inline() {
    // At the expression inside the string (it was the whole string, with
    // the template's line and column in prose).
    check(
        "template-missing-var-inline",
        Expect {
            locations: &["stack.yaml:8:28"],
            says: &["variable `vars.ap` is not defined", "did you mean `app`?"],
            ..VALIDATE
        },
    );
}

/// In a block scalar: at the expression, on its line of the YAML.
#[test]
fn template_missing_var_block() {
    check(
        "template-missing-var-block",
        Expect {
            locations: &["stack.yaml:9:16"],
            says: &["variable `vars.owner` is not defined"],
            not: &["template line"],
            ..VALIDATE
        },
    );
}

#[test]
fn template_missing_var_in_file() {
    check(
        "template-missing-var-in-file",
        Expect {
            // In the template file, at the expression; then where it is used.
            locations: &["modules/motd/templates/motd.hbs:4:10"],
            related: &["modules/motd/module.yaml:7:17"],
            says: &[
                "motd.hbs",
                "variable `inputs.owner` is not defined",
                "known: `message`",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn template_file_not_found() {
    check(
        "template-file-not-found",
        Expect {
            locations: &["stack.yaml:6:17"],
            says: &["cannot read template", "motd.hb"],
            ..VALIDATE
        },
    );
}

#[test]
fn template_syntax_error() {
    check(
        "template-syntax-error",
        Expect {
            locations: &["stack.yaml:8:16"],
            says: &["invalid template"],
            // The handlebars grammar's rule names mean nothing to a user.
            not: &[
                "html_expression",
                "decorator_expression",
                "hbs_comment_compact",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn template_syntax_error_in_file() {
    check(
        "template-syntax-error-in-file",
        Expect {
            // The `{{else}` missing a brace, line 5 of the template.
            locations: &["templates/site.conf.hbs:5:9"],
            related: &["stack.yaml:9:17"],
            says: &["invalid template syntax", "the template of this `file`"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Values checked by the kinds

#[test]
fn invalid_octal_mode() {
    check(
        "invalid-octal-mode",
        Expect {
            locations: &["stack.yaml:7:13"],
            says: &["`0898` is not an octal file mode", "\"0644\""],
            ..VALIDATE
        },
    );
}

#[test]
fn relative_path() {
    check(
        "relative-path",
        Expect {
            locations: &["stack.yaml:5:13"],
            says: &["`etc/motd` is not an absolute path", "start with `/`"],
            ..VALIDATE
        },
    );
}

#[test]
fn command_without_guard() {
    check(
        "command-without-guard",
        Expect {
            locations: &["stack.yaml:6:12"],
            says: &[
                "no guard",
                "creates:",
                "unless:",
                "onlyif:",
                "notified_only: true",
            ],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Inventory and targets

#[test]
fn unknown_target_group() {
    check(
        "unknown-target-group",
        Expect {
            locations: &["stack.yaml:2:11"],
            says: &[
                "target `webs` is neither a host nor a group",
                "did you mean `web`?",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn inventory_unknown_host() {
    check(
        "inventory-unknown-host",
        Expect {
            locations: &["inventory.yaml:6:19"],
            says: &[
                "group `web` lists unknown host `web2`",
                "did you mean `web1`?",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn inventory_unknown_key() {
    check(
        "inventory-unknown-key",
        Expect {
            locations: &["inventory.yaml:3:5"],
            says: &["unknown key `adress`", "did you mean `address`?"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Secrets (plan: validate uses placeholders)

#[test]
fn secret_env_unset() {
    let never = Path::new("/tmp/keel-test-never-written");
    check(
        "secret-env-unset",
        Expect {
            command: "plan",
            locations: &["stack.yaml:4:16"],
            says: &[
                "`KEEL_TEST_UNSET_DB_PASSWORD` is not set",
                "secret `db_password`",
            ],
            ..VALIDATE
        },
    );
    // The run stopped before touching the (local) host.
    assert!(!never.exists(), "{} was created", never.display());
}

#[test]
fn secret_env_unset_is_fine_for_validate() {
    let out = keel_in(
        &case_dir("secret-env-unset"),
        &["validate", "-i", "inventory.yaml", "stack.yaml"],
    );
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
}

/// An unknown top-level key in a stack and in a module is one problem each:
/// the stack's secrets and the module's inputs are still read (they were
/// dropped, and their uses reported as undefined: three more problems).
#[test]
fn unknown_key_keeps_the_rest() {
    check(
        "unknown-key-keeps-the-rest",
        Expect {
            locations: &["stack.yaml:3:1", "modules/app/module.yaml:1:1"],
            says: &["unknown key `colour`", "unknown key `descripton`"],
            not: &["`secrets.token` is not defined", "has no input `port`"],
            ..VALIDATE
        },
    );
}

/// A lockout refusal and a dangling reference are independent: both are
/// reported (the graph's error hid the lockout analysis).
#[test]
fn lockout_and_dangling() {
    check(
        "lockout-and-dangling",
        Expect {
            locations: &["stack.yaml:5:36", "stack.yaml:9:21"],
            says: &[
                "`PermitRootLogin no` while keel connects as root",
                "`service[nginx]` depends on `package[nginx]`, which does not exist",
            ],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Files that are not UTF-8

#[test]
fn non_utf8_byte() {
    check(
        "non-utf8-byte",
        Expect {
            locations: &["stack.yaml:6:27"],
            says: &[
                "stack.yaml is not UTF-8: byte 0xE0 at line 6, column 27",
                "re-save the file as UTF-8",
            ],
            not: &["permissions", "stream did not contain"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Several mistakes in several files, reported in one run.

/// One mistake of each stage — inventory, loading, resolving, templates,
/// the graph (a dangling reference, a cycle) and duplicates — all reported
/// in one run (the inventory's error used to hide everything but the
/// stack's unknown kind). References to the broken resources (`file[...]`
/// of the unknown kind, `directory[...]` with the bad mode) are not
/// reported as dangling: they are consequences.
#[test]
fn every_stage_at_once() {
    check(
        "every-stage-at-once",
        Expect {
            locations: &[
                "inventory.yaml:4:5",
                "stack.yaml:8:5",
                "stack.yaml:10:40",
                "stack.yaml:27:5",
                "modules/site/templates/site.conf.hbs:3:8",
                "stack.yaml:16:21",
                "stack.yaml:18:5",
            ],
            related: &["modules/site/module.yaml:6:17"],
            not: &["`directory[/srv/www]`, which", "`file[/etc/issue]`, which"],
            says: &[
                "invalid host `web1`: unknown key `adress`",
                "unknown resource kind `fiel`",
                "`0898` is not an octal file mode",
                "duplicate resource address `package[git]`",
                "variable `inputs.root` is not defined",
                "`service[nginx]` depends on `package[ngnix]`, which does not exist",
                "dependency cycle between package[redis-server], service[redis-server]",
            ],
            ..VALIDATE
        },
    );
}

#[test]
fn several_mistakes() {
    check(
        "several-mistakes",
        Expect {
            locations: &[
                // inventory: a group lists a host that is not defined
                "inventory.yaml:6:19",
                // stack: a typo in a key, a bad mode, an unknown kind
                "stack.yaml:10:7",
                "stack.yaml:15:13",
                "stack.yaml:16:5",
                // module: an unknown kind, a relative path
                "modules/site/module.yaml:5:5",
                "modules/site/module.yaml:7:13",
            ],
            says: &[
                "unknown host `web2`",
                "unknown key `contnet`",
                "`0898` is not an octal file mode",
                "unknown resource kind `fiel`",
                "unknown resource kind `pakage`",
                "is not an absolute path",
            ],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// Loops, conditions and typed values

#[test]
fn for_each_not_a_list() {
    check(
        "for-each-not-a-list",
        Expect {
            locations: &["stack.yaml:7:17"],
            says: &["`for_each` needs a list or a map, found a string"],
            ..VALIDATE
        },
    );
}

#[test]
fn for_each_duplicate_key() {
    check(
        "for-each-duplicate-key",
        Expect {
            locations: &["stack.yaml:8:11"],
            says: &["has the key `/srv/app/logs` twice", "first here"],
            ..VALIDATE
        },
    );
}

#[test]
fn for_each_duplicate_key_from_vars() {
    check(
        "for-each-duplicate-key-from-vars",
        Expect {
            locations: &["stack.yaml:10:17"],
            says: &["has the key `api` twice"],
            ..VALIDATE
        },
    );
}

#[test]
fn when_not_a_boolean() {
    check(
        "when-not-a-boolean",
        Expect {
            locations: &["stack.yaml:6:13"],
            says: &[
                "`when` must be `true` or `false`, found `debian`",
                "eq facts.os.id",
            ],
            ..VALIDATE
        },
    );
}

/// One broken input declaration is one problem: the inputs it declares
/// are not then reported unknown at every use.
#[test]
fn module_input_bad_declaration() {
    check(
        "module-input-bad-declaration",
        Expect {
            locations: &["modules/site/module.yaml:3:27"],
            says: &["unknown key `requird`", "did you mean `required`?"],
            not: &["has no input", "none are defined", "not defined"],
            ..VALIDATE
        },
    );
}

/// A bare name (`{{greeting}}`) is pointed at `vars.greeting`.
#[test]
fn template_bare_name() {
    check(
        "template-bare-name",
        Expect {
            locations: &["stack.yaml:8:17"],
            says: &["write `vars.greeting`"],
            not: &["(under ``"],
            ..VALIDATE
        },
    );
}

// ---------------------------------------------------------------------------
// The corpus itself

/// Every case folder has its test above (and every test its folder).
#[test]
fn every_case_is_tested() {
    let src = include_str!("cli_diagnostics.rs");
    let mut missing = Vec::new();
    let mut cases = Vec::new();
    for e in std::fs::read_dir(cli_dir().join("broken")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if !src.contains(&format!("\"{name}\"")) {
            missing.push(name.clone());
        }
        cases.push(name);
    }
    assert!(
        missing.is_empty(),
        "case folders without a test: {missing:?}"
    );
    assert!(cases.len() >= 20, "only {} cases", cases.len());
}

// ---------------------------------------------------------------------------
// Not broken, but easy to get wrong.

/// A project laid out as `stacks/`, `modules/` and `inventory/`: the
/// modules one level up from the stack are found wherever keel is run from.
#[test]
fn modules_one_level_up_from_any_working_directory() {
    let root = cli_dir().join("layout");
    let from_root = keel_in(&root, &["validate", "stacks/web.yaml"]);
    assert_eq!(
        from_root.code, 0,
        "from the project root:\n{}",
        from_root.stderr
    );
    assert!(
        from_root.stdout.contains("2 resources"),
        "{}",
        from_root.stdout
    );
    let from_stacks = keel_in(&root.join("stacks"), &["validate", "web.yaml"]);
    assert_eq!(
        from_stacks.code, 0,
        "from stacks/ (modules are in ../modules):\n{}",
        from_stacks.stderr
    );
    assert!(
        from_stacks.stdout.contains("2 resources"),
        "{}",
        from_stacks.stdout
    );
}

/// `web1:` with no settings (everything defaulted: address = name, user
/// root) is either accepted, or refused in words a user understands.
#[test]
fn inventory_host_without_settings() {
    let out = keel_in(
        &cli_dir()
            .join("edge")
            .join("inventory-host-without-settings"),
        &["validate", "-i", "inventory.yaml", "stack.yaml"],
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    if out.code != 0 {
        assert_eq!(out.code, 1);
        assert!(
            !out.stderr.contains("struct") && !out.stderr.contains("HostDef"),
            "a Rust type name in a diagnostic:\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("inventory.yaml:2:"), "{}", out.stderr);
    }
}

/// A saved plan cut short: a located diagnostic (it was one line,
/// "broken.json is not a keel plan: EOF while parsing a value at line 6
/// column 0"), and nothing is applied.
#[test]
fn corrupt_saved_plan() {
    let out = keel_in(&cli_dir().join("saved-plan"), &["apply", "cut-short.json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("╭─[cut-short.json:5:21]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("cut-short.json is cut short"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("keel plan --out"), "{}", out.stderr);
    insta::assert_snapshot!("corrupt-saved-plan", out.stderr);
}

/// A missing stack file or inventory is a plain, clear error.
#[test]
fn missing_files() {
    let dir = case_dir("unknown-kind");
    let out = keel_in(&dir, &["validate", "-i", "inventory.yaml", "nope.yaml"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot read nope.yaml"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("keel: 1 problem found"),
        "{}",
        out.stderr
    );
    // A mistyped stack where no inventory is found either: the stack is
    // the news (the inventory was looked for beside it).
    let empty = tempfile::tempdir().unwrap();
    for cmd in ["validate", "plan"] {
        let out = keel_in(empty.path(), &[cmd, "nope.yaml"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("cannot read nope.yaml")
                && out.stderr.contains("keel: 1 problem found")
                && !out.stderr.contains("inventory"),
            "{}",
            out.stderr
        );
    }
    // A folder given as the stack: the same, one problem.
    let out = keel_in(empty.path(), &["validate", "."]);
    assert!(
        out.stderr.contains(". is a folder, not a regular file")
            && out.stderr.contains("keel: 1 problem found"),
        "{}",
        out.stderr
    );
    // An inventory that is there but broken is news all the same.
    std::fs::write(empty.path().join("inventory.yaml"), "hosts: [\n").unwrap();
    let out = keel_in(empty.path(), &["validate", "nope.yaml"]);
    assert!(
        out.stderr.contains("cannot read nope.yaml")
            && out.stderr.contains("inventory.yaml")
            && out.stderr.contains("keel: 2 problems found"),
        "{}",
        out.stderr
    );
    let out = keel_in(&dir, &["validate", "-i", "nope", "stack.yaml"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("nope does not exist"), "{}", out.stderr);
    assert!(out.stderr.contains("--inventory"), "{}", out.stderr);
    // A valid stack (for validate) with a typo in --limit.
    let dir = case_dir("secret-env-unset");
    let out = keel_in(
        &dir,
        &[
            "validate",
            "-i",
            "inventory.yaml",
            "--limit",
            "wbe1",
            "stack.yaml",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--limit `wbe1`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `web1`?"),
        "{}",
        out.stderr
    );
}
