//! The self-signed issuer: openssl generates the key and certificate in
//! keel's own directory.

use super::*;

impl Certificate {
    pub(super) fn openssl_script(&self) -> String {
        let ss = self.self_signed();
        let dir = self.self_dir();
        let first = &self.domains[0].0;
        let san: Vec<String> = self
            .domains
            .iter()
            .map(|d| format!("DNS:{}", d.0))
            .collect();
        let newkey = match ss.key {
            KeyType::Rsa => "-newkey rsa:2048".to_string(),
            KeyType::Ec => "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1".to_string(),
        };
        format!(
            "if ! command -v openssl >/dev/null 2>&1; then\n  echo 'keel: openssl is not installed on this host; declare `- package: {{ name: openssl }}` before this certificate' >&2\n  exit 1\nfi\nmkdir -p -- {dir}\nchmod 0755 {dir}\nkeel_ss=$(mktemp -d {tmpl})\nif ! (umask 077; openssl req -x509 {newkey} -nodes -days {days} -subj {subj} -addext {san} -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth -keyout \"$keel_ss/key.pem\" -out \"$keel_ss/cert.pem\" 2>\"$keel_ss/err\"); then\n  cat -- \"$keel_ss/err\" >&2\n  rm -rf -- \"$keel_ss\"\n  exit 1\nfi\nchmod 0600 \"$keel_ss/key.pem\"\nchmod 0644 \"$keel_ss/cert.pem\"\nmv -f -- \"$keel_ss/key.pem\" {key}\nmv -f -- \"$keel_ss/cert.pem\" {cert}\nrm -rf -- \"$keel_ss\"\n",
            dir = q(&dir),
            tmpl = q(&format!("{dir}/.keel.XXXXXX")),
            days = ss.days,
            subj = q(&format!("/CN={first}")),
            san = q(&format!("subjectAltName={}", san.join(","))),
            key = q(&format!("{dir}/key.pem")),
            cert = q(&format!("{dir}/cert.pem")),
        )
    }
}
