//! Parsers and conversion on real-world shaped inventories
//! (tests/ansible/) and on broken ones.

use super::*;
use serde_json::{Value as J, json};

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ansible")
        .join(rel)
}

fn load_ok(path: &Path) -> Inventory {
    let (inv, diags) = load(path).expect("read as an Ansible inventory");
    assert!(diags.is_empty(), "{diags:?}");
    inv
}

/// A host's own vars as JSON.
fn host_vars(inv: &Inventory, host: &str) -> J {
    inv.hosts[host]
        .vars
        .as_ref()
        .map_or(json!({}), |(_, n)| n.to_json())
}

fn group_vars(inv: &Inventory, group: &str) -> J {
    inv.groups[group]
        .vars
        .as_ref()
        .map_or(json!({}), |(_, n)| n.to_json())
}

/// The vars a host sees: groups in keel's precedence, then the host.
fn effective(inv: &Inventory, host: &str) -> J {
    let mut out = serde_json::Map::new();
    for g in inv.host_groups(host) {
        if let Some(Some((_, n))) = inv.groups.get(&g).map(|g| &g.vars)
            && let J::Object(m) = n.to_json()
        {
            out.extend(m);
        }
    }
    if let J::Object(m) = host_vars(inv, host) {
        out.extend(m);
    }
    J::Object(out)
}

fn d_of(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    dir.path().join(name)
}

/// Write files into a temporary folder; returns it.
fn files(list: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in list {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// The problems of loading `name` from `list`, as `file:line:col message`.
fn problems(list: &[(&str, &str)], name: &str) -> Vec<String> {
    let dir = files(list);
    let (_, diags) = load(&dir.path().join(name)).expect("an Ansible inventory");
    diags
        .0
        .iter()
        .map(|d| {
            let loc = d.location().unwrap_or_default();
            let file = loc.rsplit('/').next().unwrap_or_default().to_string();
            format!("{file} {}", d.message)
        })
        .collect()
}

#[test]
fn ini_fixture_hosts_groups_and_ranges() {
    let inv = load_ok(&fixture("ini/hosts.ini"));
    assert_eq!(inv.hosts.len(), 20 + 1 + 3 + 1 + 1 + 1);
    let web = inv.group_hosts("web");
    assert_eq!(web.len(), 21);
    assert!(web.contains("web01.example.com") && web.contains("web20.example.com"));
    assert_eq!(
        inv.group_hosts("db").into_iter().collect::<Vec<_>>(),
        ["db-a.example.com", "db-b.example.com", "db-c.example.com"]
    );
    // prod's hosts come through its children.
    assert_eq!(inv.group_hosts("prod").len(), 21 + 3 + 1);
    assert!(
        inv.host_groups("web05.example.com")
            .contains(&"prod".to_string())
    );
    // Only the host listed outside any group is ungrouped.
    assert_eq!(
        inv.group_hosts("ungrouped").into_iter().collect::<Vec<_>>(),
        ["mail.example.com"]
    );
}

#[test]
fn ini_fixture_connection_settings_with_precedence() {
    let inv = load_ok(&fixture("ini/hosts.ini"));
    let h = |n: &str| &inv.hosts[n];
    // [all:vars] for everyone, overridden on the host line.
    assert_eq!(h("web02.example.com").user, "deploy");
    assert_eq!(h("db-b.example.com").user, "dba");
    assert_eq!(
        h("web02.example.com").identity_file.as_deref(),
        Some("~/.ssh/deploy_ed25519")
    );
    assert_eq!(h("mail.example.com").address, "203.0.113.5");
    assert_eq!(h("web02.example.com").address, "web02.example.com");
    // host:port, a port var, and a host_vars file overriding nothing inline.
    assert_eq!(h("lb1.example.com").port, Some(2200));
    assert_eq!(h("web-canary.example.com").port, Some(2222));
    assert_eq!(h("web01.example.com").port, Some(2201));
    assert_eq!(h("web02.example.com").port, None);
    // ansible_become=yes in [web:vars] (a string there).
    assert!(h("web02.example.com").become_root);
    let local = h("localhost");
    assert_eq!(local.transport, TransportKind::Local);
    assert_eq!(local.user, "root");
    assert!(!local.become_root);
    // Connection variables are settings, not vars.
    for g in inv.groups.values() {
        if let Some((_, v)) = &g.vars {
            assert!(v.get("ansible_user").is_none() && v.get("ansible_become").is_none());
        }
    }
    assert!(
        host_vars(&inv, "web01.example.com")
            .get("ansible_port")
            .is_none()
    );
}

#[test]
fn ini_fixture_vars_precedence_and_files() {
    let inv = load_ok(&fixture("ini/hosts.ini"));
    // group_vars/web.yaml overrides [web:vars]; host_vars beats both.
    assert_eq!(group_vars(&inv, "web")["http_port"], json!(80));
    let web01 = effective(&inv, "web01.example.com");
    assert_eq!(web01["http_port"], json!(8081));
    let web02 = effective(&inv, "web02.example.com");
    assert_eq!(web02["http_port"], json!(80));
    // all < prod (parent) < web (child).
    assert_eq!(web02["tier"], json!("web"));
    assert_eq!(effective(&inv, "db-a.example.com")["tier"], json!("prod"));
    assert_eq!(effective(&inv, "mail.example.com")["tier"], json!("all"));
    // group_vars/all.yml overrides [all:vars]; a folder group_vars/prod/ merges.
    assert_eq!(web02["ntp_server"], json!("time.example.com"));
    assert_eq!(web02["timezone"], json!("Etc/UTC"));
    assert_eq!(web02["monitoring"], json!("enabled"));
    assert_eq!(web02["alert_email"], json!("ops@example.com"));
    assert_eq!(
        web02["nginx"],
        json!({"worker_processes": "auto", "gzip": true})
    );
    // group_vars/staging.yml names no group: skipped.
    assert!(!inv.groups.contains_key("staging"));
    assert!(web02.get("env") == Some(&json!("production")));
    // Host-line values are typed like Python literals, quotes removed.
    let lb = host_vars(&inv, "lb1.example.com");
    assert_eq!(lb["weight"], json!(3));
    assert_eq!(lb["backends"], json!(["web01", "web02"]));
    assert_eq!(
        host_vars(&inv, "web-canary.example.com")["motd"],
        json!("canary host, handle with care")
    );
    assert_eq!(
        effective(&inv, "localhost")["root_dir"],
        json!("/tmp/keel-ansible")
    );
}

#[test]
fn yaml_fixture_reads_like_the_ini_one() {
    let inv = load_ok(&fixture("yaml/inventory.yml"));
    assert_eq!(
        inv.hosts.keys().cloned().collect::<Vec<_>>(),
        [
            "db-a.example.com",
            "db-b.example.com",
            "localhost",
            "mail.example.com",
            "web-canary.example.com",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com"
        ]
    );
    let h = |n: &str| &inv.hosts[n];
    assert_eq!(h("web-canary.example.com").port, Some(2222));
    assert_eq!(h("db-a.example.com").user, "dba");
    assert_eq!(
        h("db-a.example.com").identity_file.as_deref(),
        Some("~/.ssh/dba")
    );
    assert_eq!(h("web01.example.com").user, "deploy");
    assert!(h("web01.example.com").become_root);
    assert_eq!(h("localhost").transport, TransportKind::Local);
    // A password means password logins; it is never kept.
    assert!(h("localhost").password_auth);
    let local = effective(&inv, "localhost");
    assert!(!local.to_string().contains("hunter2"), "{local}");
    assert_eq!(local["root_dir"], json!("/tmp/keel-ansible-yaml"));
    assert_eq!(effective(&inv, "web02.example.com")["http_port"], json!(80));
    assert_eq!(
        effective(&inv, "web02.example.com")["env"],
        json!("production")
    );
    assert_eq!(inv.group_hosts("prod").len(), 4 + 2);
    assert_eq!(
        inv.group_hosts("ungrouped").into_iter().collect::<Vec<_>>(),
        ["mail.example.com"]
    );
}

#[test]
fn formats_are_told_apart_by_content() {
    let dir = files(&[
        (
            "keel.yaml",
            "hosts:\n  a: {}\ngroups:\n  g: { hosts: [a] }\n",
        ),
        ("keel-broken.yaml", "hosts:\n  a: {}\nhost:\n  b: {}\n"),
        ("ans.yaml", "all:\n  hosts:\n    a:\n"),
        (
            "ans-groups.yml",
            "web:\n  hosts:\n    a:\ndb:\n  children:\n    web:\n",
        ),
        ("hosts", "a ansible_host=1.2.3.4\n"),
        ("hosts.ini", "[web]\na\n"),
        ("broken.yaml", "hosts: [\n"),
        ("empty.ini", "# nothing yet\n"),
        ("colon", "h1 note=a: b\n"),
        ("keel-noext", "hosts:\n  a: {}\n"),
    ]);
    assert_eq!(detect(&d_of(&dir, "colon")), Format::AnsibleIni);
    assert_eq!(detect(&d_of(&dir, "keel-noext")), Format::Keel);
    let d = dir.path();
    assert_eq!(detect(&d.join("keel.yaml")), Format::Keel);
    assert_eq!(detect(&d.join("keel-broken.yaml")), Format::Keel);
    assert_eq!(detect(&d.join("ans.yaml")), Format::AnsibleYaml);
    assert_eq!(detect(&d.join("ans-groups.yml")), Format::AnsibleYaml);
    assert_eq!(detect(&d.join("hosts")), Format::AnsibleIni);
    assert_eq!(detect(&d.join("hosts.ini")), Format::AnsibleIni);
    assert_eq!(detect(&d.join("broken.yaml")), Format::Keel);
    assert_eq!(detect(&d.join("empty.ini")), Format::Keel);
    assert_eq!(detect(d), Format::Keel);
    assert!(load(&d.join("keel.yaml")).is_none());
}

#[test]
fn bad_ini_lines_are_reported_with_file_and_line() {
    let text = "\
[web]
web[3:1]
good ansible_port=abc
other ansible_connection=winrm ansible_become=maybe
quoted note=\"open
x novalue
[db:vars]
just a line
[db:weird]
[lb:children]
two words
[lb:vars]
ansible_become_user=postgres
ansible_host={{ inventory_hostname }}.lan
";
    let p = problems(&[("hosts.ini", text)], "hosts.ini");
    let expect = [
        "hosts.ini:2:1 the range `[3:1]` in `web[3:1]` runs backwards",
        "hosts.ini:5:13 the quote \" is not closed",
        "hosts.ini:6:3 `novalue` is not a `name=value` variable",
        "hosts.ini:8:1 `just a line` is not a `name=value` variable",
        "hosts.ini:9:1 unknown section kind `:weird`",
        "hosts.ini:11:1 `two words` is not a group name",
        "hosts.ini:13:21 `ansible_become_user` is `postgres`",
        "hosts.ini:14:14 `ansible_host` is a Jinja template",
        "hosts.ini:3:19 `ansible_port` is `abc`, which is not a port",
        "hosts.ini:4:26 `ansible_connection` is `winrm`",
        "hosts.ini:4:47 `ansible_become` is `maybe`",
    ];
    for e in expect {
        assert!(
            p.iter().any(|x| x.starts_with(e)),
            "missing {e:?} in {p:#?}"
        );
    }
    assert_eq!(p.len(), expect.len(), "{p:#?}");
}

#[test]
fn bad_yaml_and_vars_files_are_reported_with_file_and_line() {
    let inv = "\
all:
  children:
    web:
      host:
        web1:
    db:
      hosts: [db1]
    lb:
      hosts:
        lb[a:1]:
      vars: [x]
    app:
      children: [web]
";
    let p = problems(
        &[
            ("inventory.yml", inv),
            ("group_vars/web.yml", "- not\n- a map\n"),
            (
                "group_vars/db.yml",
                "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n",
            ),
        ],
        "inventory.yml",
    );
    let expect = [
        "inventory.yml:4:7 `host` is not a key of an Ansible group",
        "inventory.yml:7:14 `hosts` of group `db` must be a map",
        "inventory.yml:10:9 the range `[a:1]`",
        "inventory.yml:11:13 `vars` of group `lb` must be a map",
        "inventory.yml:13:17 `children` of group `app` must be a map",
        "web.yml:1:1 ",
        "db.yml:1:1 ",
    ];
    for e in expect {
        assert!(
            p.iter().any(|x| x.starts_with(e)),
            "missing {e:?} in {p:#?}"
        );
    }
    assert!(p.iter().any(|x| x.contains("ansible-vault")), "{p:#?}");
    assert_eq!(p.len(), expect.len(), "{p:#?}");
}

#[test]
fn a_cycle_of_children_is_an_error() {
    let p = problems(&[("hosts", "[a:children]\nb\n[b:children]\na\n")], "hosts");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("its own descendant"), "{p:#?}");
}

#[test]
fn all_vars_have_the_lowest_group_precedence() {
    // `aaa` sorts before `all`: its vars must still win over all's.
    let dir = files(&[(
        "hosts",
        "[aaa]\nh1\n[all:vars]\nx=from-all\ny=from-all\n[aaa:vars]\nx=from-aaa\n",
    )]);
    let inv = load_ok(&dir.path().join("hosts"));
    assert_eq!(inv.host_groups("h1"), ["all", "aaa"]);
    let v = effective(&inv, "h1");
    assert_eq!((&v["x"], &v["y"]), (&json!("from-aaa"), &json!("from-all")));
}

#[test]
fn converted_output_reads_back_as_the_same_inventory() {
    for f in ["ini/hosts.ini", "yaml/inventory.yml"] {
        let inv = load_ok(&fixture(f));
        let text = emit::to_keel_yaml(&inv, f);
        let dir = files(&[("inventory.yaml", &text)]);
        let (back, diags) = Inventory::load(&dir.path().join("inventory.yaml"));
        assert!(diags.is_empty(), "{f}: {diags:?}\n{text}");
        assert_eq!(
            back.hosts.keys().collect::<Vec<_>>(),
            inv.hosts.keys().collect::<Vec<_>>()
        );
        for (name, h) in &inv.hosts {
            let b = &back.hosts[name];
            assert_eq!(
                (&b.address, b.port, &b.user, &b.identity_file, b.become_root),
                (&h.address, h.port, &h.user, &h.identity_file, h.become_root),
                "{f}: {name}"
            );
            assert_eq!(
                (b.transport, b.password_auth, b.host_key),
                (h.transport, h.password_auth, h.host_key)
            );
            assert_eq!(effective(&back, name), effective(&inv, name), "{f}: {name}");
            assert_eq!(back.host_groups(name), inv.host_groups(name));
        }
        assert_eq!(emit::to_keel_yaml(&back, f), text, "{f}: converting twice");
    }
}

#[test]
fn strings_are_quoted_when_yaml_would_read_them_otherwise() {
    for s in [
        "yes",
        "No",
        "on",
        "null",
        "~",
        "010",
        "1.10",
        "-x",
        "a: b",
        "a #b",
        "",
        " x",
        "@x",
        "*x",
        "x\ny",
        "[a]",
        "{a}",
        "~/.ssh/id",
    ] {
        let out = emit::scalar(s);
        assert!(out.starts_with('"'), "{s:?} → {out}");
        let back = Node::parse(&format!("k: {out}\n")).unwrap();
        assert_eq!(
            back.get("k").unwrap().value,
            Value::Str(s.to_string()),
            "{s:?}"
        );
    }
    for s in [
        "web01.example.com",
        "Etc/UTC",
        "/usr/bin/python3",
        "deploy",
        "a b",
    ] {
        assert_eq!(emit::scalar(s), s);
    }
}

#[test]
fn a_folder_of_ansible_files_with_its_vars_folders() {
    let dir = files(&[
        ("inv/hosts", "[web]\nweb[1:2]\n"),
        (
            "inv/db.yml",
            "db:\n  hosts:\n    db1:\n  children:\n    web:\n",
        ),
        ("inv/README.md", "# not an inventory [web\n"),
        ("inv/.hidden", "garbage [\n"),
        (
            "inv/hosts.yaml.in",
            "hosts:\n  app1:\n    address: @ADDRESS@\n",
        ),
        ("inv/hosts.example", "[web\n"),
        ("inv/group_vars/web.yml", "port: 80\n"),
        ("inv/host_vars/db1", "role: primary\n"),
    ]);
    let inv = load_ok(&dir.path().join("inv"));
    assert_eq!(
        inv.group_hosts("db").into_iter().collect::<Vec<_>>(),
        ["db1", "web1", "web2"]
    );
    assert_eq!(effective(&inv, "web2")["port"], json!(80));
    assert_eq!(effective(&inv, "db1")["role"], json!("primary"));
}

/// A folder holding only templates and subfolders of inventories (a
/// project's `inventory/`): one problem, naming the subfolders to pass.
#[test]
fn a_folder_of_templates_and_inventories_names_them() {
    let dir = files(&[
        (
            "inventory/e2e.yaml.in",
            "hosts:\n  app1:\n    address: @ADDRESS@\n",
        ),
        ("inventory/production/hosts.yaml", "hosts:\n  a: {}\n"),
        ("inventory/staging/hosts.yaml", "hosts:\n  b: {}\n"),
    ]);
    let (_, diags) = Inventory::load(&dir.path().join("inventory"));
    let text = format!("{diags:?}");
    assert_eq!(diags.0.len(), 1, "{text}");
    assert!(text.contains("holds no .yaml file"), "{text}");
    assert!(
        text.contains("inventory/production, ") && text.contains("inventory/staging hold"),
        "{text}"
    );
}

#[test]
fn a_folder_of_keel_files_stays_keel() {
    let dir = files(&[
        ("inv/hosts.yaml", "hosts:\n  a: {}\n"),
        ("inv/notes", "remember to rotate keys\n"),
    ]);
    assert!(load(&dir.path().join("inv")).is_none());
    let (inv, diags) = Inventory::load(&dir.path().join("inv"));
    assert!(diags.is_empty(), "{diags:?}");
    assert!(inv.hosts.contains_key("a"));
}

#[test]
fn keel_format_takes_vars_for_all_but_no_members() {
    let dir = files(&[
        (
            "ok.yaml",
            "hosts:\n  a: {}\ngroups:\n  all:\n    vars: { x: 1 }\n  aa:\n    hosts: [a]\n    vars: { x: 2, y: 3 }\n",
        ),
        (
            "bad.yaml",
            "hosts:\n  a: {}\ngroups:\n  all:\n    hosts: [a]\n",
        ),
    ]);
    let (inv, diags) = Inventory::load(&dir.path().join("ok.yaml"));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(inv.host_groups("a"), ["all", "aa"]);
    assert_eq!(effective(&inv, "a"), json!({"x": 2, "y": 3}));
    let (_, diags) = Inventory::load(&dir.path().join("bad.yaml"));
    assert_eq!(diags.len(), 1);
    assert!(
        diags.0[0].message.contains("takes only `vars`"),
        "{diags:?}"
    );
}

#[test]
fn an_unknown_section_kind_creates_no_group() {
    let dir = files(&[("hosts", "[web]\na\n[x:bogus]\nb\n")]);
    let (inv, diags) = load(&dir.path().join("hosts")).unwrap();
    assert_eq!(diags.len(), 1);
    assert!(!inv.groups.contains_key("x") && !inv.hosts.contains_key("b"));
}

#[test]
fn keel_settings_ride_along_as_keel_vars() {
    let dir = files(&[(
        "hosts",
        "[web]\nw1 keel_bootstrap_port=22 ansible_port=2222\nw2 keel_host_key=accept-new keel_auth=password\n\
         [web:vars]\nkeel_ssh_config=./ssh_config\nkeel_confirm_timeout=60\nkeel_allow_lockout_risk=yes\nkeel_bootstrap_user=root\n\
         [bad]\nb1 keel_host_key=never keel_colour=blue\n",
    )]);
    let (inv, diags) = load(&dir.path().join("hosts")).unwrap();
    let w1 = &inv.hosts["w1"];
    assert_eq!((w1.port, w1.bootstrap_port), (Some(2222), Some(22)));
    assert_eq!(w1.ssh_config.as_deref(), Some("./ssh_config"));
    assert_eq!(w1.bootstrap_user.as_deref(), Some("root"));
    assert_eq!(w1.confirm_timeout, Some(60));
    assert!(w1.allow_lockout_risk && !w1.password_auth);
    assert_eq!(w1.host_key, HostKeyPolicy::Strict);
    let w2 = &inv.hosts["w2"];
    assert_eq!(w2.host_key, HostKeyPolicy::AcceptNew);
    assert!(w2.password_auth);
    assert!(effective(&inv, "w2").as_object().unwrap().is_empty());
    let msgs: Vec<_> = diags.0.iter().map(|d| d.message.clone()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(
        msgs.iter()
            .any(|m| m.contains("`keel_host_key` is `never`"))
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("`keel_colour` is not a keel host setting"))
    );
}

#[test]
fn inline_vault_values_are_refused_not_used_as_text() {
    let p = problems(
        &[
            ("hosts", "[web]\nw1\n"),
            (
                "group_vars/web.yml",
                "plain: x\ndb_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6231336539\nnested:\n  - { key: \"$ANSIBLE_VAULT;1.1;AES256\\n00\" }\n",
            ),
        ],
        "hosts",
    );
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with("web.yml:3:")
            && p[0].contains("`db_password` is encrypted with ansible-vault"),
        "{p:#?}"
    );
    assert!(
        p[1].starts_with("web.yml:6:") && p[1].contains("`nested`"),
        "{p:#?}"
    );
}

#[test]
fn windows_files_read_like_unix_ones() {
    let dir = files(&[(
        "hosts",
        "\u{feff}[web]\r\nweb[1:2] http_port=80\r\n[web:vars]\r\nenv=prod\r\n",
    )]);
    let inv = load_ok(&dir.path().join("hosts"));
    assert_eq!(
        effective(&inv, "web2"),
        json!({"env": "prod", "http_port": 80})
    );
}

#[test]
fn group_vars_files_rank_above_every_inline_group_var_as_in_ansible() {
    // Ansible: inline group vars < group_vars/all < group_vars/* <
    // inline host vars < host_vars/*, whatever the groups' depth.
    let dir = files(&[
        (
            "hosts",
            "[web]\nw1\nw2 port=1\n[prod:children]\nweb\n\
             [web:vars]\nport=8080\nlevel=web-inline\nansible_user=inline\nonly_inline=yes\n",
        ),
        (
            "group_vars/all.yml",
            "port: 80\nansible_user: from-all-file\n",
        ),
        ("group_vars/prod.yml", "level: prod-file\n"),
    ]);
    let inv = load_ok(&dir.path().join("hosts"));
    let w1 = effective(&inv, "w1");
    assert_eq!(w1["port"], json!(80), "group_vars/all beats [web:vars]");
    assert_eq!(
        w1["level"],
        json!("prod-file"),
        "a parent's file beats a child's inline vars"
    );
    assert_eq!(w1["only_inline"], json!("yes"));
    assert_eq!(inv.hosts["w1"].user, "from-all-file");
    // The host's own value still wins.
    assert_eq!(effective(&inv, "w2")["port"], json!(1));
    // The group structure keeps the group's own vars.
    assert_eq!(group_vars(&inv, "web")["port"], json!("8080"));
}

/// 10,000 hosts from one range load in linear time: each host's groups
/// were found by indexing every group again (quadratic, minutes in a debug
/// build; found by fuzzing `keel validate`'s inventory).
#[test]
fn many_hosts_load_in_linear_time() {
    let dir = files(&[(
        "hosts",
        "[web]\nw[0:9999]\n[db]\nd[0:99] ansible_user=admin\n[all:vars]\nansible_port=2222\n",
    )]);
    let start = std::time::Instant::now();
    let inv = load_ok(&d_of(&dir, "hosts"));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(inv.hosts.len(), 10_100);
    assert_eq!(inv.hosts["w9999"].port, Some(2222));
    assert_eq!(inv.hosts["d42"].user, "admin");
}
