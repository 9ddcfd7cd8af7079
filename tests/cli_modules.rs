//! Modules by name from anywhere: the real binary in scratch projects
//! outside the repository (so the repository's `modules/` cannot be found
//! on disk), using bundled modules, the search path, shadowing, `keel
//! modules`, `depends_on` on one resource inside a module instance, and
//! module `outputs:`.

mod support;

use support::{Keel, Run};

use std::path::Path;

/// stderr with miette's line wrapping undone.
trait Flat {
    fn flat_stderr(&self) -> String;
}

impl Flat for Run {
    fn flat_stderr(&self) -> String {
        self.stderr
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn keel(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    Keel::new()
        .current_dir(dir)
        .args(["--color", "never"])
        .args(args)
        .envs(env)
        .run()
}

const INVENTORY: &str =
    "hosts:\n  web1:\n    transport: local\ngroups:\n  web:\n    hosts: [web1]\n";

/// A scratch project: `inventory.yaml`, `stack.yaml`, and more files.
fn project(stack: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn module_yaml(description: &str, path: &str) -> String {
    format!(
        "description: {description}\ninputs:\n  text: {{ type: string, default: hi, description: what to write }}\nresources:\n  - file: {{ path: {path}, content: \"{{{{inputs.text}}}}\\n\" }}\n"
    )
}

#[test]
fn a_bundled_module_is_used_by_name_from_outside_the_repository() {
    let p = project(
        "name: web\ntargets: [web]\nuses:\n  - module: nginx-base\n    with: { worker_connections: 2048 }\n",
        &[],
    );
    assert!(!p.path().join("modules").exists());
    let o = keel(p.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("is valid"), "{}", o.all());
    // Its template (bundled too) was rendered with the input.
    let g = keel(p.path(), &[], &["graph", "stack.yaml"]);
    assert_eq!(g.code, 0, "{}", g.all());
    assert!(
        g.stdout.contains("file[/etc/nginx/nginx.conf]"),
        "{}",
        g.all()
    );
    assert!(g.stdout.contains("service[nginx]"), "{}", g.all());
}

#[test]
fn keel_modules_lists_bundled_modules_with_their_inputs() {
    let p = project("name: web\ntargets: [web]\n", &[]);
    let o = keel(p.path(), &[], &["modules"]);
    assert_eq!(o.code, 0, "{}", o.all());
    for name in [
        "alertmanager (bundled)",
        "exporters (bundled)",
        "grafana-provisioning (bundled)",
        "nginx-base (bundled)",
        "nginx-site (bundled)",
        "prometheus (bundled)",
    ] {
        assert!(o.stdout.contains(name), "{name} missing:\n{}", o.all());
    }
    assert!(
        o.stdout
            .contains("worker_connections (an integer, default 1024): connections per worker"),
        "{}",
        o.all()
    );
    assert!(
        o.stdout
            .contains("smtp_auth_password (a string, default \"\", sensitive)"),
        "{}",
        o.all()
    );
}

#[test]
fn project_path_and_env_modules_are_found_in_order() {
    let p = project(
        "name: web\ntargets: [web]\nmodule_path: [lib]\nuses:\n  - module: nginx-base\n  - module: from-lib\n  - module: from-env\n",
        &[
            (
                "modules/nginx-base/module.yaml",
                &module_yaml("my own nginx-base", "/tmp/keel-mine"),
            ),
            (
                "lib/from-lib/module.yaml",
                &module_yaml("from lib", "/tmp/keel-lib"),
            ),
            (
                "envdir/from-env/module.yaml",
                &module_yaml("from env", "/tmp/keel-env"),
            ),
            // Shadowed by lib/ (module_path comes before KEEL_MODULE_PATH).
            (
                "envdir/from-lib/module.yaml",
                &module_yaml("shadowed", "/tmp/keel-shadowed"),
            ),
        ],
    );
    let env = p.path().join("envdir");
    let env = [("KEEL_MODULE_PATH", env.to_str().unwrap())];
    let g = keel(p.path(), &env, &["graph", "stack.yaml"]);
    assert_eq!(g.code, 0, "{}", g.all());
    for addr in [
        "file[/tmp/keel-mine]",
        "file[/tmp/keel-lib]",
        "file[/tmp/keel-env]",
    ] {
        assert!(g.stdout.contains(addr), "{addr}:\n{}", g.all());
    }
    assert!(
        !g.stdout.contains("nginx.conf"),
        "the project's module shadows the bundled one:\n{}",
        g.all()
    );
    assert!(!g.stdout.contains("keel-shadowed"), "{}", g.all());

    let m = keel(p.path(), &env, &["modules", "stack.yaml"]);
    assert_eq!(m.code, 0, "{}", m.all());
    assert!(
        m.stdout
            .contains("nginx-base (project: modules/nginx-base)\n  my own nginx-base"),
        "{}",
        m.all()
    );
    assert!(
        m.stdout.contains("  shadows nginx-base (bundled)"),
        "{}",
        m.all()
    );
    assert!(
        m.stdout.contains("from-lib (path: lib/from-lib)"),
        "{}",
        m.all()
    );
    assert!(
        m.stdout.contains("from-env (path: envdir/from-env)"),
        "{}",
        m.all()
    );
    assert!(
        m.stdout
            .contains("  shadows from-lib (path: envdir/from-lib)"),
        "{}",
        m.all()
    );
    assert!(
        m.stdout
            .contains("    text (a string, default \"hi\"): what to write"),
        "{}",
        m.all()
    );
}

#[test]
fn a_module_found_nowhere_lists_every_place_looked_in() {
    let p = project(
        "name: web\ntargets: [web]\nmodule_path: [lib]\nuses:\n  - module: nginx-bsae\n",
        &[],
    );
    let o = keel(
        p.path(),
        &[("KEEL_MODULE_PATH", "/nonexistent/keel")],
        &["validate", "stack.yaml"],
    );
    assert_eq!(o.code, 1, "{}", o.all());
    for says in [
        "module `nginx-bsae` not found",
        "stack.yaml:5:13",
        "modules (project)",
        "lib (module_path)",
        "/nonexistent/keel (KEEL_MODULE_PATH)",
        "the modules bundled with keel",
        "did you mean `nginx-base`?",
        "keel modules",
    ] {
        assert!(o.flat_stderr().contains(says), "{says}:\n{}", o.all());
    }
}

#[test]
fn a_module_name_cannot_leave_the_search_path() {
    let p = project(
        "name: web\ntargets: [web]\nuses:\n  - module: ../outside\n",
        &[("../outside/module.yaml", "resources: []\n")],
    );
    let o = keel(p.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr.contains("module `../outside` not found"),
        "{}",
        o.all()
    );
    assert!(o.stderr.contains("named by its folder"), "{}", o.all());
}

#[test]
fn module_versions_are_reserved_with_a_clear_error() {
    let p = project(
        "name: web\ntargets: [web]\nuses:\n  - module: { name: nginx-base, version: 1.2.0 }\n",
        &[],
    );
    let o = keel(p.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr
            .contains("module versions and git sources are not supported yet"),
        "{}",
        o.all()
    );
    assert!(o.stderr.contains("stack.yaml:4:13"), "{}", o.all());
    assert!(!o.stderr.contains("needs `module: NAME`"), "{}", o.all());
    assert!(o.stderr.contains("1 problem found"), "{}", o.all());
}

#[test]
fn template_helpers_render_in_a_stack() {
    let p = project(
        "name: web\ntargets: [web]\nvars: { name: Web, port: 8080, list: [a, b] }\nresources:\n  - file: { path: \"/tmp/{{lower vars.name}}-{{add vars.port 1}}-{{join vars.list \\\"-\\\"}}-{{default vars.missing 'x'}}\", content: hi }\n",
        &[],
    );
    let o = keel(p.path(), &[], &["graph", "stack.yaml"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout.contains("file[/tmp/web-8081-a-b-x]"),
        "{}",
        o.all()
    );
}

const DEPENDS_ON_ONE_RESOURCE: &str = r##"name: web
targets: [web]
uses:
  - module: nginx-base
    id: web
resources:
  - file:
      path: /etc/nginx/conf.d/app.conf
      content: "# app\n"
      depends_on: ["DEP"]
      notify: ["service[nginx]"]
"##;

#[test]
fn depends_on_one_resource_inside_a_module_instance() {
    // The whole instance includes service[nginx], which the file notifies:
    // a cycle. One resource of it is what the file really needs.
    let whole = project(&DEPENDS_ON_ONE_RESOURCE.replace("DEP", "module.web"), &[]);
    let o = keel(whole.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("dependency cycle"), "{}", o.all());

    let one = project(
        &DEPENDS_ON_ONE_RESOURCE.replace("DEP", "module.web.package[nginx]"),
        &[],
    );
    let o = keel(one.path(), &[], &["graph", "stack.yaml"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout.contains(
            "2. file[/etc/nginx/conf.d/app.conf]\n         after package[nginx] [depends_on]\n"
        ),
        "{}",
        o.all()
    );

    // A handler inside a module instance can be notified by its address too.
    let handler = project(
        &DEPENDS_ON_ONE_RESOURCE
            .replace("DEP", "module.web.package[nginx]")
            .replace(
                "notify: [\"service[nginx]\"]",
                "notify: [\"module.web.service[nginx]\"]",
            ),
        &[],
    );
    let o = keel(handler.path(), &[], &["graph", "stack.yaml"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout
            .contains("after file[/etc/nginx/conf.d/app.conf] [notify]"),
        "{}",
        o.all()
    );

    let typo = project(
        &DEPENDS_ON_ONE_RESOURCE.replace("DEP", "module.web.package[nginz]"),
        &[],
    );
    let o = keel(typo.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("stack.yaml:10:20"), "{}", o.all());
    assert!(
        o.stderr
            .contains("did you mean `module.web.package[nginx]`?"),
        "{}",
        o.all()
    );

    let wrong_instance = project(
        &DEPENDS_ON_ONE_RESOURCE
            .replace("DEP", "module.web.package[nginx]")
            .replace(
                "notify: [\"service[nginx]\"]",
                "notify: [\"module.wbe.service[nginx]\"]",
            ),
        &[],
    );
    let o = keel(wrong_instance.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.flat_stderr()
            .contains("there is no module instance `module.wbe`; did you mean `module.web`?"),
        "{}",
        o.all()
    );
}

#[test]
fn module_outputs_reach_the_stack_and_later_uses() {
    let p = project(
        r#"name: web
targets: [web]
uses:
  - module: app
    id: my-api
    with: { port: 8080 }
  - module: consumer
    with: { url: "{{modules.my-api.url}}" }
resources:
  - file:
      path: "/tmp/keel-out-{{modules.my-api.port_plus_one}}"
      content: "{{modules.my-api.url}}\n"
"#,
        &[
            (
                "modules/app/module.yaml",
                "inputs:\n  port: { type: int }\noutputs:\n  url: \"http://localhost:{{inputs.port}}\"\n  port_plus_one: \"{{add inputs.port 1}}\"\nresources: []\n",
            ),
            (
                "modules/consumer/module.yaml",
                "inputs:\n  url: { type: string, required: true }\nresources:\n  - file: { path: \"/tmp/keel-consumer\", content: \"{{inputs.url}}\\n\" }\n",
            ),
        ],
    );
    let o = keel(p.path(), &[], &["graph", "stack.yaml"]);
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(o.stdout.contains("file[/tmp/keel-out-8081]"), "{}", o.all());

    // A missing output is named with what the module does expose.
    std::fs::write(
        p.path().join("stack.yaml"),
        "name: web\ntargets: [web]\nuses:\n  - module: app\n    id: my-api\n    with: { port: 1 }\nresources:\n  - file: { path: /tmp/x, content: \"{{modules.my-api.uri}}\" }\n",
    )
    .unwrap();
    let o = keel(p.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(o.stderr.contains("stack.yaml:8:37"), "{}", o.all());
    assert!(
        o.flat_stderr().contains("did you mean `url`?"),
        "{}",
        o.all()
    );
}

#[test]
fn problems_in_a_bundled_module_name_it_not_a_temporary_folder() {
    let p = project(
        "name: web\ntargets: [web]\nuses:\n  - module: nginx-base\nresources:\n  - package: { name: nginx, state: absent }\n",
        &[],
    );
    let o = keel(p.path(), &[], &["validate", "stack.yaml"]);
    assert_eq!(o.code, 1, "{}", o.all());
    assert!(
        o.stderr
            .contains("duplicate resource address `package[nginx]`"),
        "{}",
        o.all()
    );
    assert!(
        o.stderr.contains("╭─[bundled:nginx-base/module.yaml:"),
        "{}",
        o.all()
    );
    assert!(!o.stderr.contains("keel-modules-"), "{}", o.all());
}
