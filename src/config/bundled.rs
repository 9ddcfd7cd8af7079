//! The modules that ship with keel (the repository's `modules/`), embedded
//! in the binary so `module: nginx-base` works in any project.
//!
//! The files are listed here by hand and embedded with `include_bytes!`
//! (no build script, no extra crate); a unit test compares the list with
//! the folder, so a module added to `modules/` without being listed here
//! fails the tests instead of silently not shipping.
//!
//! Bundled modules are loaded like any other: [`extract`] writes them into
//! a private temporary folder (owned by the process, removed with it), so
//! templates and `source:` files resolve exactly as on disk.

macro_rules! bundled {
    ($($path:literal,)*) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/modules/", $path)))),*]
    };
}

/// Every bundled file: path under `modules/`, contents.
pub const FILES: &[(&str, &[u8])] = bundled![
    "alertmanager/module.yaml",
    "alertmanager/templates/alertmanager.yml.hbs",
    "app/module.yaml",
    "app/templates/docker-compose.prod.yml.hbs",
    "app/templates/env.production.hbs",
    "backups/module.yaml",
    "docker-host/module.yaml",
    "exporters/module.yaml",
    "exporters/templates/node-exporter.env.hbs",
    "exporters/templates/postgres-exporter.env.hbs",
    "exporters/templates/redis-exporter.env.hbs",
    "firewall/module.yaml",
    "grafana-provisioning/module.yaml",
    "grafana-provisioning/templates/application-performance.json.hbs",
    "grafana-provisioning/templates/business-metrics.json.hbs",
    "grafana-provisioning/templates/dashboards.yaml.hbs",
    "grafana-provisioning/templates/datasources.yaml.hbs",
    "grafana-provisioning/templates/system-overview.json.hbs",
    "kubernetes/module.yaml",
    "kubernetes/templates/configmap.yaml.hbs",
    "kubernetes/templates/ingress.yaml.hbs",
    "kubernetes/templates/namespace.yaml.hbs",
    "logging/module.yaml",
    "logging/templates/docker-compose.yml.hbs",
    "logging/templates/filebeat.yml.hbs",
    "monitoring/module.yaml",
    "nginx-base/module.yaml",
    "nginx-base/templates/nginx.conf.hbs",
    "nginx-proxy/module.yaml",
    "nginx-site/module.yaml",
    "nginx-site/templates/site.conf.hbs",
    "postgres/module.yaml",
    "postgres/templates/docker-compose.yml.hbs",
    "preflight/module.yaml",
    "prometheus/module.yaml",
    "prometheus/templates/custom-rules.yml.hbs",
    "prometheus/templates/default-rules.yml.hbs",
    "prometheus/templates/prometheus.yml.hbs",
    "redis/module.yaml",
    "redis/templates/docker-compose.yml.hbs",
    "ssh-hardening/module.yaml",
    "tls/module.yaml",
];

/// Names of the bundled modules, sorted.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = FILES
        .iter()
        .filter_map(|(p, _)| p.strip_suffix("/module.yaml"))
        .collect();
    v.sort();
    v
}

/// Whether a module of this name ships with keel.
pub fn has(name: &str) -> bool {
    names().contains(&name)
}

/// A private folder holding the bundled modules, as `DIR/<name>/...`.
pub fn extract() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("keel-modules-").tempdir()?;
    for (path, bytes) in FILES {
        let dest = dir.path().join(path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&dest, bytes)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn on_disk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                on_disk(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    #[test]
    fn every_file_of_the_modules_folder_is_bundled() {
        let mut disk = Vec::new();
        on_disk(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("modules"),
            "",
            &mut disk,
        );
        disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(listed, disk, "update the list in src/config/bundled.rs");
    }

    #[test]
    fn names_are_the_module_folders() {
        assert!(names().contains(&"nginx-base"), "{:?}", names());
        assert!(has("prometheus"));
        assert!(!has("nginx"));
    }

    #[test]
    fn extracts_every_file() {
        let dir = extract().unwrap();
        for (p, bytes) in FILES {
            assert_eq!(&std::fs::read(dir.path().join(p)).unwrap(), bytes);
        }
    }
}
