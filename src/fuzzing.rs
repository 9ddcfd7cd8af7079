//! Entry points for fuzzing every parser of what a host prints, and what
//! `keel validate` does with what the user writes (a stack, an inventory,
//! a module: [`user_files`]).
//!
//! A host is not trusted: whatever its probes print (a crafted `openssl`,
//! a hostile `sshd -T`, a full disk cutting output short) must end in a fact
//! or an error, never in a panic, a hang or an allocation sized by a number
//! in the output. [`run`] feeds one input to one parser; the cargo-fuzz
//! targets in `fuzz/` and the regression test `tests/fuzz_regression.rs`
//! both call it, so a crash found by the fuzzer is replayed by `cargo test`.
//!
//! Input layout for a kind's target: byte 0 picks one of the kind's
//! representative instances (low 6 bits, modulo their count), whether the
//! probe exited non-zero (bit 7) and whether the rest is "plain" (bit 6);
//! the rest, decoded as the transport decodes it (lossy UTF-8), is the
//! probe's stdout. Probes send file contents (a crontab, `sshd -T`, a
//! daemon.json) in base64, which a byte-mutating fuzzer rarely gets past:
//! in plain inputs each span between the bytes 0x02 and 0x03 (or the end)
//! is base64-encoded first, so the fuzzer mutates the text that the
//! parsers behind the decoding read. The whole evaluation is
//! run — `parse`, then `diff`, `commands` and the unified diff of a content
//! change — since a fact that parses is still host data downstream.

use crate::node::Node;
use crate::resources::{PrepareCx, ProbeOutput, Resource};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod user_files;

/// The frame marker [`run`] uses for the `probe_split` target.
const MARKER: &str = "@@KEEL-0123456789abcdef01234567";

/// Every fuzz target: the probe framing, the facts, the records keel keeps
/// on a host (ledgers with keel's SSH end, release records), then one per
/// kind.
pub const TARGETS: &[&str] = &[
    "probe_split",
    "facts",
    "ledger",
    "release",
    "file",
    "directory",
    "package",
    "service",
    "user",
    "group",
    "line",
    "command",
    "sshd",
    "ufw",
    "cron",
    "backup",
    "hostname",
    "timezone",
    "sysctl",
    "apt_repository",
    "git",
    "docker",
    "compose",
    "certificate",
    "require",
    "check",
    // What the user writes (src/fuzzing/user_files.rs).
    "stack",
    "inventory",
    "module",
];

/// A public test key (made with `gpg --quick-gen-key` for keel's tests).
const APT_KEY: &str = "      -----BEGIN PGP PUBLIC KEY BLOCK-----

      mDMEawg55BYJKwYBBAHaRw8BAQdAie53zrHsnTPNr0BL3pY610J6bi2DZGpJq1HP
      XNtVzU60IEtlZWwgVGVzdCA8a2VlbEBleGFtcGxlLmludmFsaWQ+iJAEExYIADgW
      IQRTqR9k2pf+5bLLwgevxYQVxtX2EgUCawg55AIbAwULCQgHAgYVCgkICwIEFgID
      AQIeAQIXgAAKCRCvxYQVxtX2Eud1AP9705/LB6BJR6mDw+QYyi4cJEekdTWyZGQ2
      lAGheVD8QgD9Gdy1w8mhy+qetpcJqE8tUvNVchdENZXnDf/43AEt2AY=
      =+zwJ
      -----END PGP PUBLIC KEY BLOCK-----
";

/// Representative instances of each kind, as YAML bodies: the branches
/// of a parser often depend on what is desired (a version, `state: absent`).
const INSTANCES: &[(&str, &[&str])] = &[
    (
        "file",
        &[
            "path: /etc/app.conf\ncontent: \"a=1\\n\"\nmode: \"0640\"\nowner: app\ngroup: app\n",
            "path: /etc/old.conf\nstate: absent\n",
            "path: /var/log/app.log\nmode: \"0600\"\n",
            "path: /etc/motd\ncontent: \"hello\\n\"\nowner: root\ngroup: \"0\"\n",
        ],
    ),
    (
        "directory",
        &[
            "path: /srv/app\nmode: \"2775\"\nowner: app\ngroup: app\n",
            "path: /srv/x\nstate: absent\nrecursive: true\n",
            "path: /srv/y\nstate: absent\n",
            "path: /\n",
        ],
    ),
    (
        "package",
        &[
            "name: nginx\n",
            "{name: nginx, version: \"1:1.22.1-9~bpo1\"}",
            "{name: nginx, state: absent, purge: true}",
            "name: \"libc6:amd64\"\n",
            "{name: foo, version: 2.10}",
        ],
    ),
    (
        "service",
        &[
            "{name: nginx, state: running, enabled: true, on_notify: reload}",
            "{name: nginx, state: stopped, enabled: false}",
            "name: \"getty@tty1.service\"\n",
            "{name: ssh.service, package: openssh-server}",
        ],
    ),
    (
        "user",
        &[
            "name: alice\nuid: 1001\ngroup: alice\ngroups: [sudo]\nshell: /bin/bash\nhome: /home/alice\ncomment: Alice\nauthorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeel alice@laptop\"]\nsudo: true\n",
            "name: alice\nstate: absent\nremove_home: true\n",
            "name: alice\ngroups: [docker, sudo]\nappend: false\npassword_hash: '$y$j9T$abcdefghijkl$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef'\n",
            "name: root\nsudo: false\nauthorized_keys: []\n",
            "name: _apt$\nsystem: true\n",
        ],
    ),
    (
        "group",
        &[
            "name: devs\ngid: 1500\n",
            "name: devs\nsystem: true\n",
            "name: old\nstate: absent\n",
        ],
    ),
    (
        "line",
        &[
            "path: /etc/ssh/sshd_config\nmatch: '^#?PermitRootLogin'\nline: PermitRootLogin no\n",
            "path: /etc/hosts.allow\nline: 'sshd: ALL'\n",
            "path: /etc/x\nmatch: '^bad'\nstate: absent\n",
            "path: /etc/x\nline: a=1\ncreate: true\n",
        ],
    ),
    (
        "command",
        &[
            "run: make install\ncreates: /opt/app/.installed\n",
            "run: x\nunless: test -s who\nuser: app\ncwd: /srv\n",
            "run: x\nonlyif: test -e /x\n",
            "run: systemctl daemon-reload\nnotified_only: true\n",
        ],
    ),
    (
        "sshd",
        &[
            "settings:\n  Port: [22, 2222]\n  MaxAuthTries: 3\n  PasswordAuthentication: \"no\"\n",
            "settings:\n  PermitRootLogin: prohibit-password\n  LoginGraceTime: 2m\n  ClientAliveInterval: 5m\n  MaxStartups: 10:30:100\n  Ciphers: [chacha20-poly1305@openssh.com, aes128-ctr]\n  AcceptEnv: LANG\n",
            "settings:\n  AllowUsers: [deploy]\n  ListenAddress: [0.0.0.0]\npath: /etc/ssh/sshd_config.d/00-keel.conf\n",
        ],
    ),
    (
        "ufw",
        &[
            "defaults: { incoming: deny, outgoing: allow }\nlogging: low\nenabled: true\nrules:\n  - { allow: 22/tcp, comment: ssh }\n  - { allow: 80/tcp }\n  - { deny: 5432/tcp, from: 10.9.0.0/16 }\n",
            "rules:\n  - { deny: 3306, from: 10.0.0.0/8 }\n  - { allow: 8000:8100/tcp, from: 192.168.1.7/24, to: any, interface: eth0, direction: in }\n  - { reject: 25/tcp, direction: out }\n  - { limit: 22/tcp }\n  - { allow: 53/udp, to: \"2001:DB8::1/128\", direction: out, interface: wg0 }\n",
            "{enabled: false, rules: [{allow: 22/tcp}]}",
            "{logging: full, defaults: {routed: allow}}",
        ],
    ),
    (
        "cron",
        &[
            "name: db-backup\nschedule: \"0 2 * * *\"\ncommand: /usr/local/bin/backup-db\nenv: { MAILTO: \"\" }\n",
            "name: x\nuser: app\nschedule: \"@daily\"\ncommand: date +\\%F\n",
            "name: db-backup\nstate: absent\n",
        ],
    ),
    (
        "backup",
        &[
            "name: database\nschedule: \"0 2 * * *\"\ntype: postgres\ndatabase: app\ndestination: /backup/database\nretention_days: 7\ncompose_service: db\ncompose_file: /srv/app/compose.yaml\ndb_user: app\noffsite: echo done\n",
            "name: up\nschedule: \"@daily\"\ntype: files\nsource: /srv/up\ndestination: /backup/up\n",
            "name: c\nschedule: \"@daily\"\ntype: config\ndestination: /b\npaths: [/srv/app/.env, /etc/x]\n",
            "name: database\nstate: absent\n",
        ],
    ),
    (
        "hostname",
        &[
            "name: web-01\nfqdn: web-01.example.com\n",
            "name: web-01\nmanage_hosts: false\n",
        ],
    ),
    ("timezone", &["name: Europe/Paris\n", "name: UTC\n"]),
    (
        "sysctl",
        &[
            "name: net.core.somaxconn\nvalue: \"65535\"\n",
            "name: net.ipv4.ip_local_port_range\nvalue: \"20000  60999\"\npersist: false\n",
            "name: net/ipv4/conf/eth0.1/rp_filter\nvalue: 1\napply: false\n",
        ],
    ),
    (
        "apt_repository",
        &[
            "name: docker\nstate: absent\n",
            // The keyed instances are built below (they embed APT_KEY).
        ],
    ),
    (
        "git",
        &[
            "path: /srv/app\nrepo: https://github.com/acme/app.git\nref: main\n",
            "path: /srv/app/src\nrepo: https://github.com/acme/app.git\nref: v1.4.2\nowner: deploy\nforce: true\n",
            "path: /srv/app\nrepo: x\nref: \"dcee1b37009fd89ff2893e6f3e185895e434b8e3\"\ndepth: 1\n",
        ],
    ),
    (
        "docker",
        &[
            "source: debian\ndaemon: { log-driver: json-file, log-opts: { max-size: 10m, max-file: \"3\" } }\n",
            "source: docker\ncompose: false\n",
            "running: false\n",
        ],
    ),
    (
        "compose",
        &[
            "project: app\ndir: /srv/app\nfile:\n  content: \"services:\\n  web:\\n    image: local/web:${TAG:-1}\\n    healthcheck:\\n      test: [CMD, wget, -q, http://127.0.0.1:8080/]\\n  api:\\n    image: local/web:1\\n  tools:\\n    image: local/tools\\n    profiles: [debug]\\n\"\nenv:\n  content: \"TOKEN=abc\\nGREETING=hi\\n\"\n",
            "project: app\ndir: /srv/app\nfile:\n  content: \"services:\\n  web:\\n    image: x\\n\"\n",
        ],
    ),
    (
        "certificate",
        &[
            "name: web\ndomains: [a.example.com, b.example.com]\nacme: { email: ops@example.com, directory: staging }\n",
            "name: ai\ndomains: [ai.example.com]\nacme:\n  email: ops@example.com\n  directory: production\n  deploy_hook: systemctl reload nginx\nrenew_before_days: 20\n",
            "name: t\ndomains: [a.example.com]\nacme:\n  directory: https://localhost:14000/dir\n  method: webroot\n  webroot: /var/www/html\n",
            "name: local\ndomains: [localhost, '*.example.test']\nissuer: self-signed\nself_signed:\n  days: 40\n  key: ec\nrenew_before_days: 10\ninstall:\n  cert: /etc/app/cert.pem\n  key: /etc/app/key.pem\n  owner: root\n",
        ],
    ),
    (
        "require",
        &[
            "cpus: 2\nmemory_mb: 1024\nos: [\"debian >= 11\", \"ubuntu >= 20.04\"]\ndisk: { path: /, free_gb: 40 }\ncommands: { docker: \"20.10\", git: \"2.25\", openssl: \"1.1\" }\n",
        ],
    ),
    (
        "check",
        &[
            "name: api\nhttp: { url: \"https://api.example.com/health\", status: 200, body: ok }\nretries: 2\n",
            "tcp: { port: 5432, state: closed }\n",
            "command: \"test -s /srv/app/.env\"\nexit_code: 0\n",
            "unit: nginx\n",
            "container: app-db\n",
        ],
    ),
];

/// Representative instances of a kind, as YAML bodies: the branches of a
/// parser often depend on what is desired (a version, `state: absent`).
fn instances(kind: &str) -> Vec<String> {
    let v: &[&str] = INSTANCES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, v)| v);
    let mut v: Vec<String> = v.iter().map(|s| (*s).to_string()).collect();
    if kind == "apt_repository" {
        let head = "name: docker\nuris: [https://download.docker.com/linux/debian]\nsuites: [bookworm]\ncomponents: [stable]\n";
        v.push(format!("{head}key: |\n{APT_KEY}"));
        v.push(format!(
            "name: vendor\nuris: http://apt.example.com:8080/repo/\nsuites: [\"./\"]\narchitectures: [amd64, arm64]\ntypes: [deb, deb-src]\nkey: |\n{APT_KEY}"
        ));
    }
    v
}

/// A [`PrepareCx`] over a local directory; templates are returned verbatim
/// (template rendering is tested with the resolver).
pub(crate) struct LocalCx {
    pub(crate) dir: PathBuf,
}

impl PrepareCx for LocalCx {
    fn base_dir(&self) -> &Path {
        &self.dir
    }
    fn read_local(&self, path: &str) -> Result<Vec<u8>, crate::resources::LocalError> {
        std::fs::read(self.local_path(path))
            .map_err(|e| crate::resources::LocalError(format!("cannot read {path}: {e}")))
    }
    fn render_template(&mut self, path: &str) -> Result<String, crate::resources::LocalError> {
        std::fs::read_to_string(self.local_path(path))
            .map_err(|e| crate::resources::LocalError(format!("cannot read {path}: {e}")))
    }
}

/// Build a resource of `kind` from the YAML body of the resource, as the
/// loader would but offline (see [`LocalCx`]); deserialization, prepare
/// and check errors come back as text.
pub(crate) fn try_load(kind: &str, yaml: &str) -> Result<Box<dyn Resource>, String> {
    let entry = crate::resources::kind(kind).ok_or_else(|| format!("no kind {kind}"))?;
    let node = Node::parse(yaml).map_err(|e| e.message)?;
    let mut res = (entry.parse)(&node).map_err(|e| e.message)?;
    let mut cx = LocalCx {
        dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    res.prepare(&mut cx).map_err(|errs| {
        errs.iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let errs = res.check();
    if !errs.is_empty() {
        return Err(errs
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; "));
    }
    Ok(res)
}

/// The instances of every kind, loaded once per process.
fn loaded() -> &'static BTreeMap<&'static str, Vec<Box<dyn Resource>>> {
    static LOADED: OnceLock<BTreeMap<&'static str, Vec<Box<dyn Resource>>>> = OnceLock::new();
    LOADED.get_or_init(|| {
        TARGETS
            .iter()
            .filter(|t| crate::resources::kind(t).is_some())
            .map(|&kind| {
                let res = instances(kind)
                    .iter()
                    .map(|y| {
                        try_load(kind, y)
                            .unwrap_or_else(|e| panic!("fuzz instance of {kind}: {e}\n{y}"))
                    })
                    .collect();
                (kind, res)
            })
            .collect()
    })
}

/// How many instances a kind's target chooses from (0 for other targets).
pub fn instance_count(target: &str) -> usize {
    loaded().get(target).map_or(0, Vec::len)
}

/// Base64-encode (on one line) each span between 0x02 and 0x03 (or the end).
fn encode_spans(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let mut rest = data;
    while let Some(i) = rest.iter().position(|&b| b == 2) {
        out.extend_from_slice(&rest[..i]);
        let span = &rest[i + 1..];
        let end = span.iter().position(|&b| b == 3).unwrap_or(span.len());
        out.extend(
            crate::shell::base64(&span[..end])
                .bytes()
                .filter(|&b| b != b'\n'),
        );
        rest = span.get(end + 1..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out
}

/// Feed one input to the parser named by `target` (one of [`TARGETS`]).
/// Returns `false` for an unknown target. A parser that panics, panics
/// here: that is the bug the fuzzer looks for.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "stack" | "inventory" | "module" => user_files::run(target, data),
        "probe_split" => {
            let (count, rest) = match data.split_first() {
                Some((b, rest)) => (usize::from(b % 8), rest),
                None => (0, data),
            };
            let text = String::from_utf8_lossy(rest);
            let _ = crate::probe::split_output(&text, MARKER, count);
            true
        }
        "facts" => {
            let _ = crate::probe::parse_facts(&String::from_utf8_lossy(data));
            true
        }
        "ledger" => {
            ledger_read(&String::from_utf8_lossy(data));
            true
        }
        "release" => {
            let _ = crate::release::parse_record(&String::from_utf8_lossy(data));
            true
        }
        kind => {
            let Some(res) = loaded().get(kind) else {
                return false;
            };
            let (sel, rest) = match data.split_first() {
                Some((b, rest)) => (*b, rest),
                None => (0, data),
            };
            let r = &res[usize::from(sel & 0x3f) % res.len()];
            let stdout = if sel & 0x40 != 0 {
                String::from_utf8_lossy(&encode_spans(rest)).into_owned()
            } else {
                String::from_utf8_lossy(rest).into_owned()
            };
            let out = ProbeOutput {
                status: i32::from(sel >> 7),
                stderr: if sel >> 7 == 1 {
                    stdout.clone()
                } else {
                    String::new()
                },
                stdout,
            };
            if let Ok(ev) = r.evaluate(&out)
                && let Some(c) = &ev.diff.content
            {
                let _ = crate::plan::unified_diff(&r.name(), c.before.as_deref(), &c.after);
            }
            true
        }
    }
}

/// What the plan does with a host's ledger read: split it by stack, parse
/// each ledger and keel's SSH end, and rebuild every recorded entry as the
/// resource a prune would remove (the entries are host data too).
fn ledger_read(text: &str) {
    let mut files = crate::ledger::split_files(text);
    if let Some(end) = files.remove(crate::ledger::ssh_end::SECTION) {
        let _ = crate::ledger::ssh_end::parse(&end);
    }
    let origin = crate::config::entry::Origin {
        source: crate::diag::SourceFile::new("fuzz.yaml".into(), String::new()),
        base_dir: "/".into(),
        templates_dir: "/".into(),
    };
    for text in files.values() {
        if let Ok(l) = crate::ledger::parse(text) {
            for e in &l.entries {
                let _ = crate::ledger::absent_instance(e, &origin);
            }
        }
    }
}
