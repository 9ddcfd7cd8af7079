//! Load-time checks of daemon.json: its keys against the options dockerd
//! knows (with a "did you mean"), and the types of well-known ones.

use super::*;

/// Options dockerd accepts in daemon.json: its configuration fields and
/// flag names, united over dockerd 20.10 to 28 (from moby's
/// `daemon/config`, `registry` and `cmd/dockerd` sources). Keys known only
/// to some versions pass here; the version on the host decides at apply.
const DAEMON_KEYS: &[&str] = &[
    "allow-direct-routing",
    "allow-nondistributable-artifacts",
    "api-cors-header",
    "authorization-plugins",
    "bip",
    "bip6",
    "bridge",
    "bridge-accept-fwmark",
    "builder",
    "cdi-spec-dirs",
    "cgroup-parent",
    "cluster-advertise",
    "cluster-store",
    "cluster-store-opts",
    "containerd",
    "containerd-namespace",
    "containerd-plugin-namespace",
    "containerd-plugins-namespace",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cri-containerd",
    "data-root",
    "debug",
    "default-address-pool",
    "default-address-pools",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-init",
    "default-ipc-mode",
    "default-network-opts",
    "default-runtime",
    "default-shm-size",
    "default-stop-timeout",
    "default-ulimits",
    "deprecated-key-path",
    "device",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "exec-root",
    "experimental",
    "features",
    "firewall-backend",
    "fixed-cidr",
    "fixed-cidr-v6",
    "graph",
    "group",
    "host-gateway-ip",
    "host-gateway-ips",
    "hosts",
    "http-proxy",
    "https-proxy",
    "icc",
    "init",
    "init-path",
    "insecure-registries",
    "insecure-registry",
    "ip",
    "ip-forward",
    "ip-forward-no-drop",
    "ip-masq",
    "ip6tables",
    "iptables",
    "ipv6",
    "labels",
    "live-restore",
    "log-driver",
    "log-format",
    "log-level",
    "log-opts",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "metrics-addr",
    "min-api-version",
    "mtu",
    "network-control-plane-mtu",
    "network-diagnostic-port",
    "network-host",
    "no-new-privileges",
    "no-proxy",
    "node-generic-resources",
    "nri-opts",
    "oom-score-adjust",
    "pidfile",
    "proxies",
    "raw-logs",
    "registry-mirror",
    "registry-mirrors",
    "resolv-conf",
    "rootless",
    "runtimes",
    "seccomp-profile",
    "security-insecure",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-driver",
    "storage-opts",
    "swarm-default-advertise-addr",
    "swarm-raft-election-tick",
    "swarm-raft-heartbeat-tick",
    "tls",
    "tlscacert",
    "tlscert",
    "tlskey",
    "tlsverify",
    "userland-proxy",
    "userland-proxy-path",
    "userns-remap",
];

const INT_KEYS: &[&str] = &[
    "mtu",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "shutdown-timeout",
    "network-control-plane-mtu",
    "network-diagnostic-port",
    "oom-score-adjust",
    "swarm-raft-election-tick",
    "swarm-raft-heartbeat-tick",
    "cpu-rt-period",
    "cpu-rt-runtime",
];

const BOOL_KEYS: &[&str] = &[
    "debug",
    "experimental",
    "live-restore",
    "ipv6",
    "iptables",
    "ip6tables",
    "ip-forward",
    "ip-masq",
    "icc",
    "userland-proxy",
    "selinux-enabled",
    "init",
    "raw-logs",
    "no-new-privileges",
    "tls",
    "tlsverify",
    "rootless",
];

const STRING_LIST_KEYS: &[&str] = &[
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "storage-opts",
    "labels",
    "registry-mirrors",
    "insecure-registries",
    "hosts",
    "authorization-plugins",
    "allow-nondistributable-artifacts",
];

const STRING_KEYS: &[&str] = &[
    "log-driver",
    "log-level",
    "storage-driver",
    "data-root",
    "exec-root",
    "bip",
    "bridge",
    "fixed-cidr",
    "fixed-cidr-v6",
    "default-gateway",
    "default-gateway-v6",
    "default-shm-size",
    "default-runtime",
    "cgroup-parent",
    "userns-remap",
    "group",
    "pidfile",
    "metrics-addr",
    "seccomp-profile",
    "default-cgroupns-mode",
    "default-ipc-mode",
];

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

/// Check daemon.json settings offline.
pub(super) fn check_daemon(daemon: &Json) -> Vec<Invalid> {
    let mut errs = Vec::new();
    let Json::Object(map) = daemon else {
        return vec![
            Invalid::field(
                "daemon",
                format!(
                    "expected a map of dockerd settings, found {}",
                    json_type(daemon)
                ),
            )
            .help("e.g. `daemon: { log-driver: json-file, log-opts: { max-size: 10m } }`"),
        ];
    };
    for (key, value) in map {
        if !DAEMON_KEYS.contains(&key.as_str()) {
            let best = DAEMON_KEYS
                .iter()
                .map(|k| (strsim::jaro_winkler(key, k), *k))
                .filter(|(s, _)| *s > 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let help = match best {
                Some((_, k)) => format!("did you mean `{k}`?"),
                None => "see the daemon.json reference: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file".into(),
            };
            errs.push(
                Invalid::field(
                    "daemon",
                    format!("`{key}` is not a dockerd setting (dockerd would refuse to start)"),
                )
                .help(help),
            );
            continue;
        }
        let k = key.as_str();
        let wrong = |want: &str| {
            Invalid::field(
                "daemon",
                format!("`{key}` must be {want}, found {}", json_type(value)),
            )
        };
        if INT_KEYS.contains(&k) && !value.is_i64() && !value.is_u64() {
            errs.push(wrong("an integer").help(format!("write it unquoted, e.g. `{key}: 1450`")));
        } else if BOOL_KEYS.contains(&k) && !value.is_boolean() {
            errs.push(wrong("true or false"));
        } else if STRING_KEYS.contains(&k) && !value.is_string() {
            errs.push(wrong("a string"));
        } else if STRING_LIST_KEYS.contains(&k)
            && !value
                .as_array()
                .is_some_and(|a| a.iter().all(Json::is_string))
        {
            errs.push(wrong("a list of strings"));
        } else if k == "log-opts" {
            match value.as_object() {
                Some(opts) => {
                    for (o, v) in opts {
                        if !v.is_string() {
                            errs.push(
                                Invalid::field(
                                    "daemon",
                                    format!("log-opts `{o}` must be a string, found {}", json_type(v)),
                                )
                                .help(format!(
                                    "dockerd only accepts strings in log-opts: quote it, e.g. `{o}: \"{}\"`",
                                    match v {
                                        Json::Number(n) => n.to_string(),
                                        Json::Bool(b) => b.to_string(),
                                        _ => "…".into(),
                                    }
                                )),
                            );
                        }
                    }
                }
                None => errs.push(wrong("a map of strings")),
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------
