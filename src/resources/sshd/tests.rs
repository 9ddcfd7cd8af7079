//! Fixture tests of the sshd kind.

use super::*;
use crate::resources::testing::assert_sh_syntax as sh_syntax_ok;
use crate::resources::testing::{a, attrs};
use crate::resources::testing::{eval, load, run_local, try_load};

const MAIN: &str = "# Debian's sshd_config, shortened\n\
    Include /etc/ssh/sshd_config.d/*.conf\n\
    KbdInteractiveAuthentication no\n\
    UsePAM yes\n\
    X11Forwarding yes\n\
    AcceptEnv LANG LC_*\n\
    Subsystem sftp /usr/lib/openssh/sftp-server\n";

/// `sshd -T` of Debian 12's defaults (the lines the tests look at).
const EFFECTIVE: &str = "port 22\n\
    addressfamily any\n\
    listenaddress [::]:22\n\
    listenaddress 0.0.0.0:22\n\
    usepam yes\n\
    logingracetime 120\n\
    maxauthtries 6\n\
    maxsessions 10\n\
    clientaliveinterval 0\n\
    clientalivecountmax 3\n\
    permitrootlogin without-password\n\
    passwordauthentication yes\n\
    kbdinteractiveauthentication no\n\
    x11forwarding yes\n\
    compression yes\n\
    loglevel INFO\n\
    maxstartups 10:30:100\n\
    unusedconnectiontimeout none\n\
    ciphers chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com\n\
    acceptenv LANG\n\
    acceptenv LC_*\n";

const YAML: &str =
    "settings:\n  Port: [22, 2222]\n  MaxAuthTries: 3\n  PasswordAuthentication: \"no\"\n";

const DROPIN_OK: &str = "# managed by keel: changes made here by hand are overwritten\n\
    Port 22\nPort 2222\nMaxAuthTries 3\nPasswordAuthentication no\n";

enum Eff<'a> {
    Config(&'a str),
    NoPrivsep,
    Failed(&'a str),
}

fn b64(s: &str) -> String {
    shell::base64(s.as_bytes())
}

fn probe_out(dropin: Option<&str>, main: Option<&str>, eff: Eff, sources: &str) -> String {
    let mut s = String::from("sshd=yes\n");
    s.push_str(if dropin.is_some() {
        "dropin=file\n"
    } else {
        "dropin=absent\n"
    });
    s.push_str(if main.is_some() {
        "main=file\n"
    } else {
        "main=absent\n"
    });
    match eff {
        Eff::Config(t) => s.push_str(&format!("effective_status=0\n[effective]\n{}\n", b64(t))),
        Eff::NoPrivsep => s.push_str("effective_status=noprivsep\n"),
        Eff::Failed(e) => s.push_str(&format!(
            "effective_status=1\n[effective_error]\n{}\n",
            b64(e)
        )),
    }
    s.push_str(&format!("[dropin]\n{}\n", b64(dropin.unwrap_or(""))));
    s.push_str(&format!("[main]\n{}\n", b64(main.unwrap_or(""))));
    s.push_str(&format!("[sources]\n{}\n", b64(sources)));
    s
}

/// `sshd -T` after the drop-in of `YAML` is in place.
fn effective_ok() -> String {
    EFFECTIVE
        .replace("port 22\n", "port 22\nport 2222\n")
        .replace("maxauthtries 6", "maxauthtries 3")
        .replace("passwordauthentication yes", "passwordauthentication no")
}

fn summaries(cmds: &[Cmd]) -> Vec<String> {
    cmds.iter().map(|c| c.summary.clone()).collect()
}

fn sshd(yaml: &str) -> Sshd {
    Node::parse(yaml).unwrap().deserialize().unwrap()
}

use crate::node::Node;

// --- Desired state --------------------------------------------------

#[test]
fn content_is_one_line_per_setting_in_the_order_written() {
    let r = sshd(
        "settings:\n  port: [22, 2222]\n  permitrootlogin: No\n  X11Forwarding: false\n  AllowUsers: [deploy, ops]\n  DenyUsers: \"bad  worse\"\n  ciphers: [aes256-gcm@openssh.com, \"aes128-ctr,aes192-ctr\"]\n  LogLevel: verbose\n  Subsystem: \"sftp internal-sftp -u 002\"\n",
    );
    assert_eq!(
        r.content(),
        "# managed by keel: changes made here by hand are overwritten\n\
         Port 22\nPort 2222\nPermitRootLogin no\nX11Forwarding no\n\
         AllowUsers deploy ops\nDenyUsers bad worse\n\
         Ciphers aes256-gcm@openssh.com,aes128-ctr,aes192-ctr\n\
         LogLevel VERBOSE\nSubsystem sftp internal-sftp -u 002\n"
    );
    assert_eq!(Kind::name(&r), DEFAULT_PATH);
}

#[test]
fn desired_settings_use_sshds_names() {
    let r = sshd(
        "settings:\n  PORT: 2222\n  ChallengeResponseAuthentication: yes\n  PubkeyAcceptedKeyTypes: ssh-ed25519\n  AllowUsers: deploy ops\n  PermitRootLogin: prohibit-password\n",
    );
    assert_eq!(
        r.desired_settings(),
        vec![
            ("Port".to_string(), vec!["2222".to_string()]),
            ("KbdInteractiveAuthentication".into(), vec!["yes".into()]),
            (
                "PubkeyAcceptedAlgorithms".into(),
                vec!["ssh-ed25519".into()]
            ),
            ("AllowUsers".into(), vec!["deploy".into(), "ops".into()]),
            ("PermitRootLogin".into(), vec!["prohibit-password".into()]),
        ]
    );
}

#[test]
fn links_need_the_package_and_provide_the_path() {
    let r = load("sshd", YAML);
    let l = r.links();
    assert_eq!(l.provides, vec![Ref::Path(DEFAULT_PATH.into())]);
    assert!(l.needs.contains(&Ref::Package("openssh-server".into())));
    assert!(
        l.needs
            .contains(&Ref::Path("/etc/ssh/sshd_config.d".into()))
    );
    assert!(!r.notifiable());
    assert!(crate::lockout::can_cut_access(r.as_ref()));
}

#[test]
fn the_table_has_no_duplicates_and_aliases_resolve() {
    for (i, k) in KEYWORDS.iter().enumerate() {
        assert!(
            KEYWORDS[i + 1..]
                .iter()
                .all(|o| !o.name.eq_ignore_ascii_case(k.name)),
            "{} twice",
            k.name
        );
        if let Some(target) = k.alias_of {
            assert!(keyword(target).is_some(), "{} → {target}", k.name);
        }
    }
    assert!(KEYWORDS.len() > 100, "{}", KEYWORDS.len());
    assert_eq!(keyword("maxauthtries").unwrap().name, "MaxAuthTries");
}

// --- Load-time checks -----------------------------------------------

fn err(yaml: &str) -> String {
    match try_load("sshd", yaml) {
        Ok(r) => panic!("accepted: {r:?}"),
        Err(e) => e,
    }
}

#[test]
fn unknown_keywords_are_refused_with_a_suggestion() {
    let e = err("settings:\n  MaxAuthTry: 3\n");
    assert!(
        e.contains("unknown sshd_config keyword `MaxAuthTry`"),
        "{e}"
    );
    assert!(e.contains("did you mean `MaxAuthTries`?"), "{e}");
    let e = err("settings:\n  passwordauth: no\n");
    assert!(e.contains("did you mean `PasswordAuthentication`?"), "{e}");
    let e = err("settings:\n  Zzzz: 1\n");
    assert!(e.contains("man sshd_config"), "{e}");
}

#[test]
fn match_include_retired_and_duplicates_are_refused() {
    assert!(err("settings:\n  Match: User x\n").contains("`Match` is not supported"));
    assert!(err("settings:\n  include: /x\n").contains("`include` is not supported"));
    assert!(err("settings:\n  UsePrivilegeSeparation: sandbox\n").contains("obsolete"));
    assert!(err("settings:\n  Protocol: 2\n").contains("obsolete"));
    let e = err("settings:\n  Port: 22\n  port: 2222\n");
    assert!(e.contains("`Port` is set twice"), "{e}");
    assert!(e.contains("as a list"), "{e}");
    let e = err(
        "settings:\n  KbdInteractiveAuthentication: no\n  ChallengeResponseAuthentication: no\n",
    );
    assert!(
        e.contains("same option as `KbdInteractiveAuthentication`"),
        "{e}"
    );
}

#[test]
fn typed_values_are_checked() {
    for (yaml, want) in [
        ("Port: 0", "`0` is not a port"),
        ("Port: [22, 70000]", "`70000` is not a port"),
        ("Port: ssh", "`ssh` is not a port"),
        (
            "PermitRootLogin: maybe",
            "expected one of `yes`, `no`, `prohibit-password`",
        ),
        (
            "PasswordAuthentication: maybe",
            "expected `yes` or `no`, found `maybe`",
        ),
        ("MaxAuthTries: -1", "non-negative integer"),
        ("MaxAuthTries: 3x", "non-negative integer"),
        ("MaxAuthTries: 99999999999", "non-negative integer"),
        ("MaxAuthTries: [1, 2]", "takes one value, found a list"),
        ("ClientAliveInterval: 5x", "expected a time"),
        ("LoginGraceTime: 3000000000", "expected a time"),
        ("UnusedConnectionTimeout: soon", "expected `none` or a time"),
        ("MaxStartups: \"10:30\"", "start:rate:full"),
        ("LogLevel: LOUD", "`QUIET`"),
        ("SyslogFacility: KERN", "`LOCAL7`"),
        ("AllowUsers: [\"a b\"]", "contains a space"),
        ("AllowUsers: []", "the list is empty"),
        ("AllowUsers:", "a value is needed"),
        (
            "Banner: \"/etc/issue\\nPermitRootLogin yes\"",
            "control character '\\n'",
        ),
        ("ForceCommand: \"a\\u0000b\"", "control character"),
        ("AllowUsers: [[a]]", "found a list"),
        ("Port: {a: 1}", "found a map"),
    ] {
        let e = err(&format!("settings:\n  {yaml}\n"));
        assert!(e.contains(want), "{yaml}: {e}");
    }
}

#[test]
fn values_are_accepted_in_yaml_forms() {
    let r = sshd(
        "settings:\n  PasswordAuthentication: true\n  UseDNS: no\n  Compression: false\n  MaxAuthTries: 03\n  ClientAliveInterval: 1h30m\n  UnusedConnectionTimeout: NONE\n  PerSourceMaxStartups: none\n  MaxStartups: \"10:30:60\"\n",
    );
    assert_eq!(
        r.desired_settings()
            .into_iter()
            .map(|(_, v)| v.join(" "))
            .collect::<Vec<_>>(),
        ["yes", "no", "no", "3", "1h30m", "none", "none", "10:30:60"]
    );
}

#[test]
fn path_is_checked() {
    assert!(err(&format!("{YAML}path: relative.conf\n")).contains("not an absolute path"));
    assert!(
        err(&format!(
            "{YAML}path: \"/etc/ssh/sshd_config.d/a b.conf\"\n"
        ))
        .contains("contains ' '")
    );
    assert!(err(&format!("{YAML}path: /etc/ssh/sshd_config.d/\n")).contains("directory"));
    assert!(err(&format!("{YAML}path: /etc/ssh/sshd_config\n")).contains("drop-in"));
    assert!(err(&format!("{YAML}path: /etc/ssh/keel.conf\n")).contains("drop-in"));
    assert!(err("settings: {}\n").contains("no settings"));
    let e = err("settings: [a]\n");
    assert!(e.contains("expected a map"), "{e}");
    assert!(err(&format!("{YAML}bogus: 1\n")).contains("bogus"));
    let r = load(
        "sshd",
        &format!("{YAML}path: /etc/ssh/sshd_config.d/00-keel.conf\n"),
    );
    assert_eq!(r.name(), "/etc/ssh/sshd_config.d/00-keel.conf");
}

// --- Diff -------------------------------------------------------------

#[test]
fn absent_dropin_is_created_with_settings_against_the_effective_config() {
    let e = eval(
        "sshd",
        YAML,
        &probe_out(None, Some(MAIN), Eff::Config(EFFECTIVE), ""),
    );
    assert_eq!(e.diff.action(), Action::Create);
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("Port", Some("22"), Some("22, 2222")),
            a("MaxAuthTries", Some("6"), Some("3")),
            a("PasswordAuthentication", Some("yes"), Some("no")),
        ]
    );
    let c = e.diff.content.as_ref().unwrap();
    assert_eq!(c.before, None);
    assert_eq!(c.after, DROPIN_OK);
    assert_eq!(e.diff.reason, None);
    assert_eq!(
        summaries(&e.commands),
        [
            format!("check the new configuration with `sshd -t`, then write {DEFAULT_PATH}"),
            "reload sshd (open sessions stay connected)".to_string(),
        ]
    );
    assert!(e.commands[0].script.contains("keel_add_include=no"));
    assert!(
        e.commands[0]
            .script
            .contains("-t -f \"$keel_v/main/sshd_config\"")
    );
    // Port changed: Ubuntu's socket activation is regenerated.
    assert!(e.commands[1].script.contains("\nkeel_socket=yes\n"));
    for c in &e.commands {
        sh_syntax_ok(&c.script);
    }
}

#[test]
fn present_and_in_effect_is_a_noop() {
    let e = eval(
        "sshd",
        YAML,
        &probe_out(
            Some(DROPIN_OK),
            Some(MAIN),
            Eff::Config(&effective_ok()),
            "",
        ),
    );
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    assert!(e.commands.is_empty());
}

#[test]
fn drift_in_the_dropin_shows_the_setting_and_the_diff() {
    let drifted = DROPIN_OK.replace("MaxAuthTries 3", "MaxAuthTries 6");
    let eff = effective_ok().replace("maxauthtries 3", "maxauthtries 6");
    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(&drifted), Some(MAIN), Eff::Config(&eff), ""),
    );
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(
        attrs(&e.diff),
        vec![a("MaxAuthTries", Some("6"), Some("3"))]
    );
    let c = e.diff.content.as_ref().unwrap();
    assert_eq!(c.before.as_deref(), Some(drifted.as_str()));
    assert_eq!(c.after, DROPIN_OK);
    // Port did not change: the socket is left alone.
    assert!(
        e.commands
            .last()
            .unwrap()
            .script
            .contains("\nkeel_socket=''\n")
    );
}

#[test]
fn normalized_values_compare_equal() {
    let yaml = "settings:\n  PermitRootLogin: prohibit-password\n  LoginGraceTime: 2m\n  Compression: delayed\n  LogLevel: debug1\n  MaxStartups: 10\n  UnusedConnectionTimeout: 0\n  Ciphers: [chacha20-poly1305@openssh.com, aes128-ctr, aes256-gcm@openssh.com]\n  ChallengeResponseAuthentication: no\n  AcceptEnv: LANG\n";
    let r = sshd(yaml);
    let eff = EFFECTIVE
        .replace("loglevel INFO", "loglevel DEBUG")
        .replace("maxstartups 10:30:100", "maxstartups 10:30:10");
    let dropin = r.content();
    let e = eval(
        "sshd",
        yaml,
        &probe_out(Some(&dropin), Some(MAIN), Eff::Config(&eff), ""),
    );
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
}

#[test]
fn time_values_say_their_seconds() {
    let e = eval(
        "sshd",
        "settings:\n  ClientAliveInterval: 5m\n",
        &probe_out(None, Some(MAIN), Eff::Config(EFFECTIVE), ""),
    );
    assert_eq!(
        attrs(&e.diff),
        vec![a("ClientAliveInterval", Some("0"), Some("5m (300 s)"))]
    );
}

#[test]
fn accumulating_keywords_show_values_set_elsewhere() {
    let yaml = "settings:\n  AllowUsers: [deploy]\n  AcceptEnv: LANG\n";
    let sources =
        "/etc/ssh/sshd_config:5:AcceptEnv LANG LC_*\n/etc/ssh/sshd_config:9:AllowUsers root\n";
    let eff = format!("{EFFECTIVE}allowusers root\n");
    let e = eval(
        "sshd",
        yaml,
        &probe_out(None, Some(MAIN), Eff::Config(&eff), sources),
    );
    assert_eq!(e.diff.action(), Action::Create);
    assert_eq!(
        attrs(&e.diff),
        vec![a("AllowUsers", Some("root"), Some("deploy root"))]
    );
    let reason = e.diff.reason.unwrap();
    assert!(
        reason.contains("note: AllowUsers root is also in effect (from /etc/ssh/sshd_config:9)"),
        "{reason}"
    );
    assert!(reason.contains("AcceptEnv LC_*"), "{reason}");
}

#[test]
fn settings_dropped_from_the_stack_show_as_removed() {
    let old = format!("{DROPIN_OK}X11Forwarding no\n");
    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(&old), Some(MAIN), Eff::Config(&effective_ok()), ""),
    );
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(attrs(&e.diff), vec![a("X11Forwarding", Some("no"), None)]);
}

#[test]
fn without_sshd_t_the_dropin_file_is_compared() {
    let drifted = DROPIN_OK.replace("MaxAuthTries 3", "maxauthtries=6");
    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(&drifted), Some(MAIN), Eff::NoPrivsep, ""),
    );
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(
        attrs(&e.diff),
        vec![a("MaxAuthTries", Some("6"), Some("3"))]
    );
    let reason = e.diff.reason.unwrap();
    assert!(reason.contains("/run/sshd is missing"), "{reason}");
    assert!(
        reason.contains("compared with the drop-in file only"),
        "{reason}"
    );

    let e = eval(
        "sshd",
        YAML,
        &probe_out(
            Some(DROPIN_OK),
            Some(MAIN),
            Eff::Failed("/etc/ssh/sshd_config line 3: Bad configuration option: Frobnicate\n"),
            "",
        ),
    );
    assert_eq!(e.diff.action(), Action::NoOp);
    assert!(
        e.diff
            .reason
            .unwrap()
            .contains("Bad configuration option: Frobnicate")
    );
}

#[test]
fn a_missing_include_is_added_at_the_top() {
    let main = MAIN.replace("Include /etc/ssh/sshd_config.d/*.conf", "#Include gone");
    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(DROPIN_OK), Some(&main), Eff::Config(EFFECTIVE), ""),
    );
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(e.diff.content, None, "the drop-in itself is right");
    assert!(
        e.diff
            .reason
            .as_deref()
            .unwrap()
            .contains("`Include /etc/ssh/sshd_config.d/50-keel.conf` will be added at its top")
    );
    assert_eq!(
        summaries(&e.commands)[1],
        format!("add `Include {DEFAULT_PATH}` at the top of /etc/ssh/sshd_config")
    );
    assert!(e.commands[0].script.contains("keel_add_include=yes"));
    for c in &e.commands {
        sh_syntax_ok(&c.script);
    }
}

#[test]
fn an_earlier_file_that_wins_is_named() {
    let sources = "/etc/ssh/sshd_config.d/10-cloud.conf:1:PasswordAuthentication yes\n\
                   /etc/ssh/sshd_config.d/60-late.conf:1:MaxAuthTries 9\n\
                   /etc/ssh/sshd_config.d/50-keel.conf:5:PasswordAuthentication no\n";
    // Before the drop-in is written: a warning in the plan.
    let e = eval(
        "sshd",
        YAML,
        &probe_out(None, Some(MAIN), Eff::Config(EFFECTIVE), sources),
    );
    assert_eq!(e.diff.action(), Action::Create);
    let reason = e.diff.reason.unwrap();
    assert!(
        reason.contains("warning: PasswordAuthentication is also set in /etc/ssh/sshd_config.d/10-cloud.conf:1, which sshd reads first"),
        "{reason}"
    );
    assert!(!reason.contains("60-late"), "{reason}");
    assert!(
        reason.contains("path: /etc/ssh/sshd_config.d/00-keel.conf"),
        "{reason}"
    );

    // The drop-in is right but not in effect: the plan shows an error and
    // apply runs nothing.
    let eff = effective_ok().replace("passwordauthentication no", "passwordauthentication yes");
    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(DROPIN_OK), Some(MAIN), Eff::Config(&eff), sources),
    );
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(
        attrs(&e.diff),
        vec![a("PasswordAuthentication", Some("yes"), Some("no"))]
    );
    let error = e.diff.error.clone().unwrap();
    assert!(
        error.contains("/etc/ssh/sshd_config.d/50-keel.conf: PasswordAuthentication is `yes` in effect although the drop-in sets `no`: /etc/ssh/sshd_config.d/10-cloud.conf:1 sets it first"),
        "{error}"
    );
    assert!(error.contains("00-keel.conf"), "{error}");
    assert!(e.commands.is_empty());
}

#[test]
fn main_file_lines_before_the_include_win() {
    let main = format!("PasswordAuthentication yes\n{MAIN}");
    let sources = "/etc/ssh/sshd_config:1:PasswordAuthentication yes\n";
    let eff = effective_ok().replace("passwordauthentication no", "passwordauthentication yes");
    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(DROPIN_OK), Some(&main), Eff::Config(&eff), sources),
    );
    let error = e.diff.error.unwrap();
    assert!(
        error.contains("/etc/ssh/sshd_config:1 sets it first"),
        "{error}"
    );
    // No drop-in name comes before a line above the `Include`: the advice
    // is to remove that line, not to rename the drop-in.
    assert!(
        error.contains(
            "remove or comment out that line of /etc/ssh/sshd_config: it is read above its `Include` (line 3), before any drop-in"
        ),
        "{error}"
    );
    assert!(!error.contains("00-keel.conf"), "{error}");
}

#[test]
fn sshd_not_installed_is_known_after_apply() {
    let out = "sshd=no\ndropin=absent\nmain=absent\n[dropin]\n[main]\n[sources]\n";
    let e = eval("sshd", YAML, out);
    assert_eq!(e.diff.action(), Action::Create);
    assert!(
        e.diff
            .unknown
            .as_deref()
            .unwrap()
            .contains("not installed yet")
    );
    assert_eq!(
        attrs(&e.diff),
        vec![
            a("Port", None, Some("22, 2222")),
            a("MaxAuthTries", None, Some("3")),
            a("PasswordAuthentication", None, Some("no")),
        ]
    );
    // Whether sshd_config reads the drop-in is decided on the host.
    let s = &e.commands[1].script;
    assert!(
        s.contains("grep -qF -e /etc/ssh/sshd_config.d/50-keel.conf"),
        "{s}"
    );
    assert!(s.contains("'sshd_config.d/*.conf'"), "{s}");
    assert!(
        e.commands[0]
            .script
            .contains("install openssh-server first")
    );
    for c in &e.commands {
        sh_syntax_ok(&c.script);
    }
}

#[test]
fn something_else_at_the_path_is_refused() {
    for (kind, extra, want) in [
        ("dir", "", "is a directory"),
        ("link", "target=/tmp/x\n", "symbolic link to `/tmp/x`"),
        ("other", "", "special file"),
    ] {
        let out = format!(
            "sshd=yes\ndropin={kind}\n{extra}main=file\n[main]\n{}\n",
            b64(MAIN)
        );
        let e = eval("sshd", YAML, &out);
        assert_eq!(e.diff.action(), Action::Update);
        assert!(e.diff.error.as_deref().unwrap().contains(want), "{kind}");
        assert!(e.commands.is_empty());
    }
}

#[test]
fn odd_probe_outputs() {
    let r = load("sshd", YAML);
    assert!(r.evaluate(&ProbeOutput::ok("")).is_err(), "no header");
    assert!(
        r.evaluate(&ProbeOutput::ok("dropin=file\n[dropin]\n!!notbase64\n"))
            .is_err()
    );
    assert!(r.evaluate(&ProbeOutput::ok("dropin=weird\n")).is_err());
    // An empty drop-in file and no sources section at all.
    let e = r
        .evaluate(&ProbeOutput::ok(format!(
            "sshd=yes\ndropin=file\nmain=file\neffective_status=0\n[effective]\n{}\n[dropin]\n[main]\n{}\n",
            b64(EFFECTIVE),
            b64(MAIN)
        )))
        .unwrap();
    assert_eq!(e.diff.action(), Action::Update);
    assert_eq!(e.diff.content.unwrap().before.as_deref(), Some(""));
}

#[test]
fn hostile_values_stay_inert() {
    let hostile = "echo \"$(touch /tmp/keel-pwned)\"; rm -rf '/' `id` $HOME \\";
    let yaml = format!(
        "settings:\n  ForceCommand: {}\n  Banner: \"/etc/issue; $(reboot)\"\n",
        serde_json::to_string(hostile).unwrap()
    );
    let r = load("sshd", &yaml);
    let e = r
        .evaluate(&ProbeOutput::ok(probe_out(
            None,
            Some(MAIN),
            Eff::Config(EFFECTIVE),
            "",
        )))
        .unwrap();
    let content = e.diff.content.as_ref().unwrap().after.clone();
    assert!(content.contains(&format!("ForceCommand {hostile}\n")));
    for c in &e.commands {
        assert!(!c.script.contains("keel-pwned"), "{}", c.script);
        assert!(!c.script.contains("reboot"), "{}", c.script);
        sh_syntax_ok(&c.script);
    }
    // The content travels base64-encoded: decoding the here-document
    // gives the file byte for byte.
    let script = &e.commands[0].script;
    let start = script.find("<<'KEEL_DATA_END'\n").unwrap() + "<<'KEEL_DATA_END'\n".len();
    let end = script[start..].find("\nKEEL_DATA_END").unwrap() + start;
    assert_eq!(
        shell::unbase64(&script[start..end]).unwrap(),
        content.as_bytes()
    );
    sh_syntax_ok(&r.probe());
}

#[test]
fn the_probe_runs_and_reads_a_dropin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sshd_config.d/50-keel.conf");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let yaml = format!("{YAML}path: {}\n", path.display());
    let r = load("sshd", &yaml);
    let fact = |r: &dyn Resource| {
        let out = run_local(&r.probe());
        assert_eq!(out.status, 0, "{}", out.stderr);
        let s: Sshd = sshd(&yaml);
        s.parse(&out).unwrap()
    };
    assert_eq!(fact(r.as_ref()).dropin, DropIn::Absent);
    std::fs::write(&path, "MaxAuthTries 6\n").unwrap();
    let f = fact(r.as_ref());
    assert_eq!(f.dropin, DropIn::File(b"MaxAuthTries 6\n".to_vec()));
    assert!(
        f.sources.iter().any(|s| s.keyword == "maxauthtries"
            && s.value == "6"
            && s.line == 1
            && s.file == path.to_str().unwrap()),
        "{:?}",
        f.sources
    );
    // Whatever this machine has (sshd or not, root or not), the fact parses
    // and the diff plans the write.
    let e = r.evaluate(&run_local(&r.probe())).unwrap();
    assert!(e.diff.action().is_change());
}

// --- Helpers ------------------------------------------------------------

#[test]
fn time_values_parse_like_sshd() {
    assert_eq!(parse_time("90"), Some(90));
    assert_eq!(parse_time("1m30s"), Some(90));
    assert_eq!(parse_time("1H"), Some(3600));
    assert_eq!(parse_time("2d1w"), Some(2 * 86400 + 604800));
    assert_eq!(parse_time("0"), Some(0));
    for bad in ["", "m", "5x", "1.5m", "-1", "2147483648", "5 m"] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}

#[test]
fn globs_match_like_sshd_includes() {
    let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
    assert!(m(
        "/etc/ssh/sshd_config.d/*.conf",
        "/etc/ssh/sshd_config.d/50-keel.conf"
    ));
    assert!(!m(
        "/etc/ssh/sshd_config.d/*.conf",
        "/etc/ssh/sshd_config.d/50-keel.cfg"
    ));
    assert!(!m("/etc/ssh/*.conf", "/etc/ssh/sshd_config.d/50-keel.conf"));
    assert!(m(
        "/etc/ssh/sshd_config.d/[0-9]?-*",
        "/etc/ssh/sshd_config.d/50-keel.conf"
    ));
    assert!(!m(
        "/etc/ssh/sshd_config.d/[!5]*",
        "/etc/ssh/sshd_config.d/50-keel.conf"
    ));
    assert!(m("/a/[x", "/a/[x"));
    assert!(m("*", "") && m("a*", "a") && !m("*", "/") && m("[]]x", "]x"));
    // Many stars (from a hostile host's `Include`) stay fast.
    let stars = format!("/etc/ssh/sshd_config.d/{}", "*".repeat(200));
    assert!(m(&format!("{stars}.conf"), DEFAULT_PATH));
    assert!(!m(&format!("{stars}x"), DEFAULT_PATH));
}

#[test]
fn includes_are_found_before_match_blocks() {
    let p = DEFAULT_PATH;
    assert_eq!(
        include_of(MAIN, p),
        Some(IncludeAt {
            line: 2,
            pattern: "/etc/ssh/sshd_config.d/*.conf".into()
        })
    );
    assert!(include_of("include \"sshd_config.d/*.conf\"\n", p).is_some());
    assert!(include_of("Include=/etc/ssh/other.conf /etc/ssh/sshd_config.d/*\n", p).is_some());
    assert!(include_of("# Include /etc/ssh/sshd_config.d/*.conf\n", p).is_none());
    assert!(include_of("Match User x\n  Include /etc/ssh/sshd_config.d/*.conf\n", p).is_none());
    assert!(include_of("Include /etc/ssh/sshd_config.d/*.cfg\n", p).is_none());
}

#[test]
fn probe_sections_parse() {
    let (h, s) = sections("a=1\nb=2\n[x]\nQUJD\n[y]\n[z]\nREVG\nR0hJ\n");
    assert_eq!(kv(&h, "b"), Some("2"));
    assert_eq!(s["x"], "QUJD\n");
    assert_eq!(s["y"], "");
    assert_eq!(decode(&s, "z").unwrap().unwrap(), b"DEFGHI");
    let eff = parse_effective("port 22\nport 2222\nbanner none\nversionaddendum\n");
    assert_eq!(eff["port"], ["22", "2222"]);
    assert_eq!(eff["versionaddendum"], [""]);
    let src =
        parse_sources("/etc/ssh/sshd_config:12:  PermitRootLogin=yes # x\nnonsense\n/a:x:Port 1\n");
    assert_eq!(src.len(), 1);
    assert_eq!(src[0].keyword, "permitrootlogin");
    assert_eq!(src[0].line, 12);
}

#[test]
fn a_match_block_that_sets_a_declared_keyword_is_named() {
    // Set by hand at the end of sshd_config, and in an earlier drop-in,
    // under `Match` blocks: `sshd -T` (no connection) shows the drop-in's
    // value, but the connections they match get another one.
    let main = format!("{MAIN}Match Address 10.0.0.0/8\n    PasswordAuthentication yes\n");
    let sources = "/etc/ssh/sshd_config:8:Match Address 10.0.0.0/8\n\
                   /etc/ssh/sshd_config:9:    PasswordAuthentication yes\n\
                   /etc/ssh/sshd_config.d/10-sftp.conf:1:Match Group sftp\n\
                   /etc/ssh/sshd_config.d/10-sftp.conf:2:  MaxAuthTries 10\n\
                   /etc/ssh/sshd_config.d/10-sftp.conf:3:  MaxAuthTries 3\n\
                   /etc/ssh/sshd_config.d/10-sftp.conf:4:Match User ops\n\
                   /etc/ssh/sshd_config.d/10-sftp.conf:5:  MaxAuthTries 3\n\
                   /etc/ssh/sshd_config.d/60-late.conf:1:MaxAuthTries 9\n\
                   /etc/ssh/sshd_config.d/50-keel.conf:4:MaxAuthTries 3\n\
                   /etc/ssh/sshd_config.d/50-keel.conf:5:PasswordAuthentication no\n";
    let got = config::parse_sources(sources);
    assert_eq!(got.len(), 7, "Match lines are not sources: {got:?}");
    assert_eq!(
        got[0].under_match,
        Some((8, "Address 10.0.0.0/8".to_string()))
    );
    assert_eq!(got[2].under_match, Some((1, "Group sftp".to_string())));
    assert_eq!(got[3].under_match, Some((4, "User ops".to_string())));
    // A block ends with its file.
    assert_eq!(got[4].under_match, None);

    let e = eval(
        "sshd",
        YAML,
        &probe_out(Some(DROPIN_OK), Some(&main), Eff::Config(&effective_ok()), sources),
    );
    // Not an error (the drop-in holds outside the blocks), but said.
    assert_eq!(e.diff.action(), Action::NoOp, "{:?}", e.diff);
    assert!(e.diff.error.is_none(), "{:?}", e.diff.error);
    let reason = e.diff.reason.clone().unwrap();
    assert!(reason.starts_with("warning: "), "{reason}");
    assert!(
        reason.contains(
            "PasswordAuthentication yes at /etc/ssh/sshd_config:9 is under `Match Address 10.0.0.0/8` (line 8): the connections it matches get that, not the drop-in's `no`"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("MaxAuthTries 10 at /etc/ssh/sshd_config.d/10-sftp.conf:2"),
        "{reason}"
    );
    // The block's second value is not read; the same value is no conflict.
    assert!(!reason.contains("10-sftp.conf:3"), "{reason}");
    assert!(!reason.contains("10-sftp.conf:5"), "{reason}");
    assert!(!reason.contains("60-late"), "{reason}");
    assert_eq!(e.diff.unmanaged.len(), 2, "{:?}", e.diff.unmanaged);

    // Before the drop-in is written: the same warning beside the change,
    // and a block's line is never taken for a file sshd reads first.
    let e = eval(
        "sshd",
        YAML,
        &probe_out(None, Some(&main), Eff::Config(EFFECTIVE), sources),
    );
    assert_eq!(e.diff.action(), Action::Create);
    let reason = e.diff.reason.unwrap();
    assert!(reason.contains("under `Match Address 10.0.0.0/8`"), "{reason}");
    assert!(!reason.contains("which sshd reads first"), "{reason}");
}

/// `Match all` ends a block: the lines after it are global again.
#[test]
fn match_all_ends_a_block() {
    let got = config::parse_sources(
        "/etc/ssh/sshd_config.d/10-m.conf:1:Match User bob\n\
         /etc/ssh/sshd_config.d/10-m.conf:2:  MaxAuthTries 9\n\
         /etc/ssh/sshd_config.d/10-m.conf:3:Match all\n\
         /etc/ssh/sshd_config.d/10-m.conf:4:MaxAuthTries 3\n",
    );
    let marks: Vec<(usize, bool)> = got.iter().map(|s| (s.line, s.under_match.is_some())).collect();
    assert_eq!(marks, [(2, true), (4, false)]);
}
