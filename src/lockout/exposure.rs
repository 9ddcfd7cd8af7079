//! Which changes can cut keel's access to a host, decided in one place from
//! what a resource says it touches ([`Touches`]): the paths it writes, the
//! services it acts on, the shell text it runs, the accounts it changes.
//! Kinds never decide for themselves.
//!
//! A change is exposed when it touches
//! - a file or directory of an access area ([`AREAS`]: the SSH server's
//!   configuration, the firewall's rules, PAM, sudo, TCP wrappers, the
//!   network configuration), or a directory holding one;
//! - the `~/.ssh` of the user keel logs in as;
//! - a service of the SSH server, the network or the firewall;
//! - the account keel logs in as;
//! - shell text that calls `ufw`, `iptables`, `nft`, `ip`, `sshd`, that
//!   acts on one of those services through `systemctl`/`service`, or that
//!   names a path of an access area.
//!
//! For an exposed change the answer also says what the commit-confirmed
//! revert must save and put back ([`Scope`]): everything the resource
//! touches, widened to whole areas where one file depends on its siblings
//! (all of `/etc/ssh`, all of UFW's state), plus the live firewall rules
//! and the state of the services involved.

use crate::confirm::Scope;
use crate::resources::{PathTouch, Touches};

/// A part of the system that keel's access depends on.
#[derive(Debug)]
pub struct Area {
    /// A file, or a directory covering everything under it.
    pub path: &'static str,
    /// What it is, for messages.
    pub what: &'static str,
    /// Saved and restored as a whole (files that only work together);
    /// otherwise only the paths touched are saved.
    pub whole: bool,
    /// Services whose state the revert restores (restarted when they were
    /// running, so they read the restored files).
    pub units: &'static [&'static str],
    /// The live packet filter is saved and restored too.
    pub firewall: bool,
    /// Saved along with it (UFW keeps its state in two places).
    pub with: &'static [&'static str],
}

const fn area(
    path: &'static str,
    what: &'static str,
    whole: bool,
    units: &'static [&'static str],
    firewall: bool,
) -> Area {
    Area {
        path,
        what,
        whole,
        units,
        firewall,
        with: &[],
    }
}

const UFW_PATHS: &[&str] = &["/etc/ufw", "/etc/default/ufw"];

const SSH: &str = "the SSH server's configuration";
const UFW: &str = "the firewall (UFW)";
const NFT: &str = "the firewall (nftables rules)";
const IPT: &str = "the firewall (iptables rules)";
const SUDO: &str = "sudo's rules";
const WRAP: &str = "TCP wrappers";
const NET: &str = "the network configuration";

/// Every access area.
pub const AREAS: &[Area] = &[
    area("/etc/ssh", SSH, true, &["ssh"], false),
    Area {
        with: UFW_PATHS,
        ..area("/etc/ufw", UFW, true, &[], true)
    },
    Area {
        with: UFW_PATHS,
        ..area("/etc/default/ufw", UFW, true, &[], true)
    },
    area("/etc/nftables.conf", NFT, true, &["nftables"], true),
    area("/etc/nftables.d", NFT, true, &["nftables"], true),
    area("/etc/nftables", NFT, true, &["nftables"], true),
    area("/etc/iptables", IPT, true, &["netfilter-persistent"], true),
    area(
        "/etc/pam.d",
        "PAM (how logins are checked)",
        false,
        &[],
        false,
    ),
    area(
        "/etc/security/access.conf",
        "PAM's access rules",
        false,
        &[],
        false,
    ),
    area("/etc/sudoers", SUDO, false, &[], false),
    area("/etc/sudoers.d", SUDO, false, &[], false),
    area("/etc/hosts.allow", WRAP, false, &[], false),
    area("/etc/hosts.deny", WRAP, false, &[], false),
    area("/etc/network", NET, false, &["networking"], false),
    area(
        "/etc/systemd/network",
        NET,
        false,
        &["systemd-networkd"],
        false,
    ),
    area("/etc/netplan", NET, false, &[], false),
];

/// Services of the SSH server, the network and the firewall: (unit without
/// `.service`, what it is, whether the firewall is involved).
const UNITS: &[(&str, &str, bool)] = &[
    ("ssh", "the SSH server", false),
    ("sshd", "the SSH server", false),
    ("ssh.socket", "the SSH server", false),
    ("sshd.socket", "the SSH server", false),
    ("networking", "the network", false),
    ("systemd-networkd", "the network", false),
    ("NetworkManager", "the network", false),
    ("ufw", "the firewall", true),
    ("nftables", "the firewall", true),
    ("netfilter-persistent", "the firewall", true),
    ("iptables", "the firewall", true),
    ("ip6tables", "the firewall", true),
    ("firewalld", "the firewall", true),
];

/// Programs that change the packet filter.
const FIREWALL_TOOLS: &[&str] = &[
    "iptables",
    "ip6tables",
    "iptables-restore",
    "ip6tables-restore",
    "iptables-legacy",
    "ip6tables-legacy",
    "iptables-nft",
    "ip6tables-nft",
    "iptables-legacy-restore",
    "iptables-nft-restore",
    "nft",
    "netfilter-persistent",
    "firewall-cmd",
];

/// Why a change can cut access, and what its revert must cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// In words, e.g. "writes /etc/ssh/sshd_config (the SSH server's configuration)".
    pub why: Vec<String>,
    pub scope: Scope,
}

/// `path` is `root` or lies under it (component-wise).
pub fn under(path: &str, root: &str) -> bool {
    let path = path.trim_end_matches('/');
    let root = root.trim_end_matches('/');
    path == root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/')) || root.is_empty()
}

/// The access area a path lies in.
pub fn area_of(path: &str) -> Option<&'static Area> {
    AREAS.iter().find(|a| under(path, a.path))
}

/// The home keel's login user most likely has (where its keys are).
fn login_home(user: &str) -> String {
    if user == "root" {
        "/root".into()
    } else {
        format!("/home/{user}")
    }
}

fn unit_name(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

/// The class of a service that access depends on.
fn unit_class(unit: &str) -> Option<&'static (&'static str, &'static str, bool)> {
    let u = unit_name(unit);
    UNITS.iter().find(|(n, _, _)| *n == u)
}

impl Exposure {
    fn add_area(&mut self, a: &Area, path: &str) {
        if a.whole || under(a.path, path) {
            self.scope.paths.insert(a.path.to_string());
        } else {
            self.scope.paths.insert(path.to_string());
        }
        for p in a.with {
            self.scope.paths.insert((*p).to_string());
        }
        for u in a.units {
            self.scope.services.insert((*u).to_string());
        }
        self.scope.firewall |= a.firewall;
    }

    fn path(&mut self, p: &PathTouch, login: Option<&str>) -> bool {
        if let Some(a) = area_of(&p.path) {
            self.why.push(format!("writes {} ({})", p.path, a.what));
            self.add_area(a, &p.path);
            return true;
        }
        // A directory holding areas (a recursive mode, a removal).
        let inside: Vec<&Area> = AREAS.iter().filter(|a| under(a.path, &p.path)).collect();
        if !inside.is_empty() {
            self.why.push(format!(
                "changes {}, which holds {}",
                p.path,
                inside.first().map_or("", |a| a.what)
            ));
            for a in inside {
                self.add_area(a, a.path);
            }
            return true;
        }
        if let Some(user) = login {
            let ssh_dir = format!("{}/.ssh", login_home(user));
            if under(&p.path, &ssh_dir) {
                self.why.push(format!(
                    "writes {} (the SSH keys of `{user}`, whom keel logs in as)",
                    p.path
                ));
                self.scope.paths.insert(p.path.clone());
                return true;
            }
        }
        false
    }

    fn service(&mut self, unit: &str) -> bool {
        let Some((_, what, firewall)) = unit_class(unit) else {
            return false;
        };
        self.why.push(format!("acts on service {unit} ({what})"));
        self.scope.services.insert(unit.to_string());
        self.scope.firewall |= firewall;
        true
    }

    fn command(&mut self, text: &str, login: Option<&str>) -> bool {
        let words = words(text);
        let mut hit = false;
        let has = |w: &str| words.iter().any(|x| x == w);
        if has("ufw") {
            self.why.push("runs ufw (the firewall)".into());
            for p in UFW_PATHS {
                self.scope.paths.insert((*p).into());
            }
            self.scope.firewall = true;
            hit = true;
        }
        if let Some(tool) = FIREWALL_TOOLS.iter().find(|t| has(t)) {
            self.why.push(format!("runs {tool} (the firewall)"));
            self.scope.firewall = true;
            hit = true;
        }
        if has("sshd") || has("ssh-keygen") {
            self.why
                .push("runs sshd or ssh-keygen (the SSH server)".into());
            self.add_area(&AREAS[0], AREAS[0].path);
            hit = true;
        }
        if let Some(why) = unrevertable(text) {
            self.why.push(why);
            hit = true;
        }
        if has("systemctl") || has("service") || has("invoke-rc.d") {
            for w in &words {
                if unit_class(w).is_some() {
                    hit |= self.service(w);
                }
            }
        }
        for a in AREAS {
            if mentions(text, a.path) {
                self.why.push(format!("names {} ({})", a.path, a.what));
                self.add_area(a, a.path);
                hit = true;
            }
        }
        if let Some(user) = login {
            let ssh_dir = format!("{}/.ssh", login_home(user));
            if mentions(text, &ssh_dir) || (user == "root" && mentions(text, "~/.ssh")) {
                self.why
                    .push(format!("names {ssh_dir} (the SSH keys keel logs in with)"));
                self.scope.paths.insert(ssh_dir);
                hit = true;
            }
        }
        hit
    }
}

/// The words of shell text, each as the program name it would be (the last
/// component of a path): good enough to spot a call, not a parser.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ';' | '&' | '|' | '(' | ')' | '<' | '>' | '`' | '"' | '\'' | '$' | '{' | '}'
            )
    })
    .filter(|w| !w.is_empty())
    .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
    .collect()
}

/// `text` names `path` (followed by nothing, `/` or a word boundary).
fn mentions(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + path.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    })
}

/// Shell text whose effect the revert cannot undo: live changes of network
/// interfaces, addresses and routes (`ip link set`, `ip route del`,
/// `ifdown`, `ifconfig ... down`). Plan refuses them (see
/// [`super::analyze`]).
pub fn unrevertable(text: &str) -> Option<String> {
    const OBJECTS: &[&str] = &[
        "link", "l", "addr", "address", "a", "route", "r", "ro", "rule", "neigh", "tunnel",
    ];
    const VERBS: &[&str] = &[
        "set", "add", "del", "delete", "flush", "replace", "change", "append", "down",
    ];
    for statement in text.split(['\n', ';', '&', '|']) {
        let w = words(statement);
        for (i, word) in w.iter().enumerate() {
            let rest = &w[i + 1..];
            let object = rest.iter().find(|x| !x.starts_with('-'));
            if word == "ip"
                && object.is_some_and(|o| OBJECTS.contains(&o.as_str()))
                && rest.iter().any(|x| VERBS.contains(&x.as_str()))
            {
                return Some(format!(
                    "runs `ip {}` (changes network interfaces, addresses or routes live)",
                    object.map_or("", String::as_str)
                ));
            }
            if word == "ifdown" || (word == "ifconfig" && rest.iter().any(|x| x == "down")) {
                return Some(format!("runs {word} (takes a network interface down)"));
            }
        }
    }
    None
}

/// Whoever keel logs in as, whether a change of `r` can cut access
/// (from what it touches, [`exposure`]).
pub fn can_cut_access(r: &dyn crate::resources::Resource) -> bool {
    exposure(&r.touches(), None).is_some()
}

/// Whether changing something with these touches can cut the access of a
/// login as `login` (`None`: whoever keel logs in as), and what its revert
/// must then cover. The one place that decides; see the module docs.
pub fn exposure(t: &Touches, login: Option<&str>) -> Option<Exposure> {
    let mut e = Exposure::default();
    let mut hit = false;
    for p in &t.paths {
        hit |= e.path(p, login);
    }
    for s in &t.services {
        hit |= e.service(s);
    }
    for c in &t.commands {
        hit |= e.command(c, login);
    }
    for a in &t.accounts {
        if login == Some(a.as_str()) {
            e.why
                .push(format!("changes the account `{a}`, whom keel logs in as"));
            hit = true;
        }
    }
    if !hit {
        return None;
    }
    // The revert covers everything the change touches, not only the parts
    // that made it exposed (a drop-in outside /etc/ssh, a unit it restarts).
    for p in &t.paths {
        let holds_area = AREAS
            .iter()
            .any(|a| under(a.path, &p.path) && a.path != p.path);
        if !holds_area && !e.scope.paths.iter().any(|s| under(&p.path, s)) {
            e.scope.paths.insert(p.path.clone());
        }
    }
    for s in &t.services {
        e.scope.services.insert(s.clone());
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Written;

    fn set(v: &[&str]) -> std::collections::BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths_in_areas_and_their_scope() {
        let t = Touches::default().write("/etc/ssh/sshd_config", Written::Line("Port 2222".into()));
        let e = exposure(&t, Some("root")).expect("exposed");
        assert_eq!(e.scope.paths, set(&["/etc/ssh"]), "the whole of /etc/ssh");
        assert_eq!(e.scope.services, set(&["ssh"]));
        assert!(e.why[0].contains("SSH server"), "{:?}", e.why);

        let t = Touches::default().path("/etc/pam.d/sshd");
        let e = exposure(&t, None).expect("exposed");
        assert_eq!(e.scope.paths, set(&["/etc/pam.d/sshd"]), "only the file");

        let t = Touches::default().path("/etc/ufw/before.rules");
        let e = exposure(&t, None).expect("exposed");
        assert!(e.scope.firewall);
        assert_eq!(e.scope.paths, set(&["/etc/default/ufw", "/etc/ufw"]));

        for p in [
            "/etc/sudoers",
            "/etc/sudoers.d/ops",
            "/etc/hosts.allow",
            "/etc/hosts.deny",
            "/etc/nftables.conf",
            "/etc/iptables/rules.v4",
            "/etc/network/interfaces",
            "/etc/network/interfaces.d/eth0",
            "/etc/systemd/network/10-eth0.network",
            "/etc/ssh/sshd_config.d/10-x.conf",
            "/etc/ssh",
        ] {
            assert!(exposure(&Touches::default().path(p), None).is_some(), "{p}");
        }
        for p in [
            "/etc/sshd",
            "/etc/ssh_config_notes",
            "/etc/networks",
            "/etc/nginx/nginx.conf",
            "/var/www/index.html",
            "/etc/sudoers-notes",
        ] {
            assert!(exposure(&Touches::default().path(p), None).is_none(), "{p}");
        }
    }

    #[test]
    fn a_directory_holding_an_area_covers_the_area_not_itself() {
        let e = exposure(&Touches::default().path("/etc"), None).expect("exposed");
        assert!(e.scope.paths.contains("/etc/ssh"), "{:?}", e.scope);
        assert!(
            !e.scope.paths.contains("/etc"),
            "never /etc whole: {:?}",
            e.scope
        );
        assert!(e.scope.firewall);
    }

    #[test]
    fn the_login_users_keys() {
        let t = Touches::default().path("/root/.ssh/authorized_keys");
        assert!(exposure(&t, Some("root")).is_some());
        assert!(exposure(&t, Some("deploy")).is_none());
        let t = Touches::default().path("/home/deploy/.ssh/authorized_keys");
        let e = exposure(&t, Some("deploy")).expect("exposed");
        assert_eq!(e.scope.paths, set(&["/home/deploy/.ssh/authorized_keys"]));
        // Another user's keys (and, without a login, any user's) do not cut access.
        assert!(exposure(&t, Some("root")).is_none());
        assert!(exposure(&t, None).is_none());
    }

    #[test]
    fn accounts_only_of_the_login_user() {
        let t = Touches::default()
            .account("deploy")
            .path("/home/deploy/.ssh/authorized_keys");
        assert!(exposure(&t, Some("alice")).is_none());
        let e = exposure(&t, Some("deploy")).expect("exposed");
        assert!(e.why.iter().any(|w| w.contains("account `deploy`")));
        assert!(e.scope.paths.contains("/home/deploy/.ssh/authorized_keys"));
    }

    #[test]
    fn services() {
        for u in [
            "ssh",
            "sshd.service",
            "networking",
            "systemd-networkd",
            "ufw",
            "nftables",
        ] {
            let e = exposure(&Touches::default().service(u), None).unwrap_or_else(|| panic!("{u}"));
            assert!(e.scope.services.contains(u), "{u}: {:?}", e.scope);
        }
        assert!(
            exposure(&Touches::default().service("ufw"), None)
                .unwrap()
                .scope
                .firewall
        );
        for u in ["nginx", "cron", "sshguard-notes"] {
            assert!(
                exposure(&Touches::default().service(u), None).is_none(),
                "{u}"
            );
        }
    }

    #[test]
    fn commands() {
        let exposed = [
            "ufw default deny incoming && ufw --force enable",
            "/usr/sbin/ufw allow 80/tcp",
            "iptables -A INPUT -p tcp --dport 22 -j DROP",
            "nft add rule inet filter input drop",
            "sudo iptables-restore < /root/rules",
            "systemctl restart ssh",
            "systemctl stop sshd.service",
            "service networking restart",
            "sed -i 's/^#Port 22/Port 2222/' /etc/ssh/sshd_config",
            "echo 'deploy ALL=(ALL) ALL' > /etc/sudoers.d/deploy",
            "echo ALL: ALL >> /etc/hosts.deny",
            "ip link set eth0 down",
            "sshd -t && kill -HUP $(cat /run/sshd.pid)",
            "cp rules /etc/nftables.conf",
        ];
        for c in exposed {
            assert!(
                exposure(&Touches::default().command(c), None).is_some(),
                "{c}"
            );
        }
        let harmless = [
            "apt-get install -y nginx",
            "systemctl restart nginx",
            "echo ssh is fine > /tmp/ssh",
            "cat /etc/ssh_known_notes",
            "ip addr show",
            "ip -br link",
            "curl https://example.com/ufw.deb -o /tmp/x",
            "grep -q ufwish /etc/motd",
        ];
        for c in harmless {
            assert!(
                exposure(&Touches::default().command(c), None).is_none(),
                "{c}"
            );
        }
        let e = exposure(
            &Touches::default().command("ufw default deny incoming && ufw --force enable"),
            None,
        )
        .unwrap();
        assert!(e.scope.firewall);
        assert!(e.scope.paths.contains("/etc/ufw"));
        let e = exposure(
            &Touches::default().command("cat k >> /root/.ssh/authorized_keys"),
            Some("root"),
        )
        .expect("the login's keys");
        assert!(e.scope.paths.contains("/root/.ssh"));
    }

    #[test]
    fn unrevertable_network_changes() {
        for c in [
            "ip link set eth0 down",
            "ip route del default",
            "ip -4 addr flush dev eth0",
            "true; ip a add 10.0.0.2/24 dev eth0",
            "ifdown eth0",
            "/sbin/ifconfig eth0 down",
        ] {
            assert!(unrevertable(c).is_some(), "{c}");
        }
        for c in [
            "ip addr show",
            "ip route get 1.1.1.1",
            "ip -j link",
            "ip -6 route show",
        ] {
            assert!(unrevertable(c).is_none(), "{c}");
        }
    }

    /// Fixtures: resources of every kind that can reach an access area, as
    /// a stack declares them, with the login user; whether they are exposed
    /// and what the revert saves.
    #[test]
    fn kinds_as_declared() {
        use crate::resources::testing::load;
        let case = |kind: &str, yaml: &str, login: &str| {
            exposure(&load(kind, yaml).touches(), Some(login))
        };
        let exposed: &[(&str, &str, &str, &[&str])] = &[
            (
                "line",
                "path: /etc/ssh/sshd_config\nmatch: '^#?Port'\nline: Port 2222\n",
                "root",
                &["/etc/ssh"],
            ),
            (
                "file",
                "path: /etc/ssh/sshd_config.d/10-port.conf\ncontent: \"Port 2222\\n\"\n",
                "root",
                &["/etc/ssh"],
            ),
            (
                "file",
                "path: /etc/ssh/banner\ncontent: hello\n",
                "root",
                &["/etc/ssh"],
            ),
            (
                "file",
                "path: /etc/pam.d/sshd\ncontent: x\n",
                "root",
                &["/etc/pam.d/sshd"],
            ),
            (
                "file",
                "path: /etc/sudoers.d/ops\ncontent: x\n",
                "root",
                &["/etc/sudoers.d/ops"],
            ),
            (
                "file",
                "path: /etc/hosts.deny\nstate: absent\n",
                "root",
                &["/etc/hosts.deny"],
            ),
            (
                "file",
                "path: /etc/nftables.conf\ncontent: flush ruleset\n",
                "root",
                &["/etc/nftables.conf"],
            ),
            (
                "file",
                "path: /root/.ssh/authorized_keys\ncontent: x\n",
                "root",
                &["/root/.ssh/authorized_keys"],
            ),
            (
                "file",
                "path: /etc/network/interfaces.d/eth1\ncontent: x\n",
                "root",
                &["/etc/network/interfaces.d/eth1"],
            ),
            (
                "directory",
                "path: /etc/ssh/sshd_config.d\nmode: \"0700\"\n",
                "root",
                &["/etc/ssh"],
            ),
            (
                "directory",
                "path: /etc/ufw/applications.d\n",
                "root",
                &["/etc/default/ufw", "/etc/ufw"],
            ),
            (
                "command",
                "run: ufw default deny incoming && ufw --force enable\nunless: test -e /x\n",
                "root",
                &["/etc/default/ufw", "/etc/ufw"],
            ),
            (
                "command",
                "run: iptables -P INPUT DROP\nunless: test -e /x\n",
                "root",
                &[],
            ),
            ("service", "name: ssh\nstate: running\n", "root", &[]),
            ("service", "name: systemd-networkd\n", "root", &[]),
            (
                "user",
                "name: deploy\nauthorized_keys: []\n",
                "deploy",
                &["/home/deploy/.ssh/authorized_keys"],
            ),
            ("user", "name: root\nshell: /bin/bash\n", "root", &[]),
            (
                "user",
                "name: ops\nsudo: true\n",
                "deploy",
                &["/etc/sudoers.d/keel-ops"],
            ),
            ("sshd", "settings: { Port: 2222 }\n", "root", &["/etc/ssh"]),
            (
                "ufw",
                "enabled: true\n",
                "root",
                &["/etc/default/ufw", "/etc/ufw"],
            ),
        ];
        for (kind, yaml, login, paths) in exposed {
            let e = case(kind, yaml, login).unwrap_or_else(|| panic!("{kind}: {yaml}"));
            let got: Vec<&str> = e.scope.paths.iter().map(String::as_str).collect();
            assert_eq!(&got, paths, "{kind}: {yaml}");
            // Whoever logs in, except for the login's own account and keys.
            let login_specific =
                (*kind == "user" && !yaml.contains("sudo")) || yaml.contains("/root/");
            assert_eq!(
                can_cut_access(load(kind, yaml).as_ref()),
                !login_specific,
                "{kind}: {yaml}"
            );
        }
        assert!(
            case(
                "command",
                "run: iptables -P INPUT DROP\nunless: test -e /x\n",
                "root"
            )
            .unwrap()
            .scope
            .firewall
        );
        assert!(
            case("service", "name: ssh\n", "root")
                .unwrap()
                .scope
                .services
                .contains("ssh")
        );
        let harmless: &[(&str, &str, &str)] = &[
            ("file", "path: /etc/nginx/nginx.conf\ncontent: x\n", "root"),
            (
                "file",
                "path: /home/alice/.ssh/authorized_keys\ncontent: x\n",
                "root",
            ),
            (
                "line",
                "path: /etc/default/grub\nline: GRUB_TIMEOUT=1\n",
                "root",
            ),
            ("directory", "path: /srv/www\n", "root"),
            (
                "command",
                "run: apt-get update\nunless: test -e /x\n",
                "root",
            ),
            ("service", "name: nginx\nstate: running\n", "root"),
            ("user", "name: alice\nauthorized_keys: []\n", "deploy"),
            ("package", "name: openssh-server\n", "root"),
        ];
        for (kind, yaml, login) in harmless {
            assert!(case(kind, yaml, login).is_none(), "{kind}: {yaml}");
        }
    }

    #[test]
    fn the_scope_covers_everything_touched() {
        // An sshd drop-in outside /etc/ssh with the server: both saved.
        let t = Touches::default()
            .path("/srv/ssh/extra.conf")
            .service("ssh");
        let e = exposure(&t, None).expect("exposed");
        assert!(
            e.scope.paths.contains("/srv/ssh/extra.conf"),
            "{:?}",
            e.scope
        );
        // A harmless path of an exposed resource is saved too; paths under
        // a saved area are not listed twice.
        let t = Touches::default()
            .path("/etc/ssh/sshd_config.d/x.conf")
            .path("/etc/ssh/banner");
        let e = exposure(&t, None).unwrap();
        assert_eq!(e.scope.paths, set(&["/etc/ssh"]));
    }
}
