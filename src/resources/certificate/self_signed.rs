//! The self-signed issuer: openssl generates the key and certificate in
//! keel's own directory.

use super::*;
use crate::shell::Script;

impl Certificate {
    /// Generate the pair with openssl (`openssl.sh`).
    pub(super) fn openssl_script(&self) -> String {
        let ss = self.self_signed();
        let san: Vec<String> = self
            .domains
            .iter()
            .map(|d| format!("DNS:{}", d.0))
            .collect();
        let key = match ss.key {
            KeyType::Rsa => "rsa",
            KeyType::Ec => "ec",
        };
        Script::new(include_str!("openssl.sh"))
            .set("keel_dir", self.self_dir())
            .set("keel_key", key)
            .set("keel_days", ss.days.to_string())
            .set("keel_subj", format!("/CN={}", self.domains[0].0))
            .set("keel_san", format!("subjectAltName={}", san.join(",")))
            .render()
    }
}
