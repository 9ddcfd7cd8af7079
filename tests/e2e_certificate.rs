//! End to end, over real SSH against a fresh Debian host: the `certificate`
//! kind against a real ACME server. Debian's `pebble` runs on the host (with
//! `PEBBLE_VA_ALWAYS_VALID=1`, so the HTTP-01 challenge needs no DNS, but the
//! whole ACME protocol is spoken by certbot), behind a TLS certificate from a
//! small CA this test makes (Debian's package ships no test certificates);
//! that CA is the certificate's `ca_bundle`.
//!
//! Shown: one apply installs certbot and obtains a certificate with both
//! SANs from Pebble's intermediate, installs copies with the right modes and
//! runs the deploy hook; a second plan exits 0; drift by hand (a copy
//! edited, the key's mode opened, the renewal timer disabled) shows in the
//! plan and converges; a directory that does not answer fails the apply and
//! leaves the working certificate alone; a threshold longer than the
//! certificate's lifetime is refused; a certificate entering its renewal
//! window is renewed (new serial) and the run converges; an added domain
//! expands it; a self-signed certificate converges and is idempotent; an
//! invalid domain is a `keel validate` diagnostic at its own line.
//!
//! Pebble is configured to issue certificates valid for 30 days plus
//! [`LAG`] seconds: with `renew_before_days: 30` a fresh certificate is not
//! due, and becomes due once it is [`LAG`] seconds old — a real renewal by
//! threshold without waiting for a month.

mod support;

use std::time::{Duration, Instant};
use support::{Host, Run, expect};

/// Seconds a fresh certificate stays outside the 30-day renewal window.
const LAG: u64 = 45;
const NAME: &str = "ai-platform";
const LIVE: &str = "/etc/letsencrypt/live/ai-platform";

/// The ACME stack: certbot and openssl, and one certificate.
fn acme_stack(domains: &str, renew_before_days: u32, directory: &str) -> String {
    format!(
        r#"name: certs
targets: [web]
resources:
  - package: {{ name: certbot }}
  - package: {{ name: openssl }}
  - certificate:
      name: {NAME}
      domains: [{domains}]
      issuer: acme
      acme:
        email: ops@example.com
        directory: {directory}
        method: standalone
        ca_bundle: /etc/pebble/minica.pem
        deploy_hook: "date +%s >> '/root/deploy hook.log'"
      renew_before_days: {renew_before_days}
      install:
        cert: /srv/app/nginx/ssl/cert.pem
        key: /srv/app/nginx/ssl/key.pem
        owner: root
"#
    )
}

const PEBBLE: &str = "https://localhost:14000/dir";
const TWO: &str = "ai.example.com, api.ai.example.com";

/// Install pebble and start it with a TLS certificate from our own CA.
/// Pebble rejects 5% of nonces by default to exercise clients' retries;
/// Debian bookworm's certbot 2.1 on Python 3.11 can crash on such an ACME
/// error ("AttributeError: can't set attribute", certbot issue 9539),
/// which failed this test at random: `PEBBLE_WFE_NONCEREJECT=0`.
fn start_pebble(h: &Host) {
    h.sh("apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pebble openssl >/dev/null");
    h.sh(&format!(
        r#"set -e
mkdir -p /etc/pebble && cd /etc/pebble
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=keel test minica' -keyout minica.key -out minica.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout key.pem -out csr.pem 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in csr.pem -CA minica.pem -CAkey minica.key -CAcreateserial -days 30 -extfile san.ext -out cert.pem 2>/dev/null
cat > config.json <<EOF
{{"pebble": {{"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "/etc/pebble/cert.pem", "privateKey": "/etc/pebble/key.pem",
  "httpPort": 5002, "tlsPort": 5001, "certificateValidityPeriod": {validity}}}}}
EOF
systemd-run --unit pebble -E PEBBLE_VA_ALWAYS_VALID=1 -E PEBBLE_VA_NOSLEEP=1 -E PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble -config /etc/pebble/config.json >/dev/null 2>&1
for i in $(seq 1 50); do
  if openssl s_client -connect localhost:14000 -CAfile minica.pem -verify_return_error </dev/null >/dev/null 2>&1; then exit 0; fi
  sleep 0.2
done
echo 'pebble did not start' >&2; journalctl -u pebble --no-pager >&2; exit 1
"#,
        validity = 30 * 86400 + LAG
    ));
}

fn serial(h: &Host) -> String {
    h.sh(&format!(
        "openssl x509 -in {LIVE}/fullchain.pem -noout -serial"
    ))
}

fn hook_runs(h: &Host) -> usize {
    h.sh("cat '/root/deploy hook.log' 2>/dev/null || true")
        .lines()
        .count()
}

fn plan(h: &Host, inv: &str, stack: &str) -> Run {
    h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &[])
}

fn apply(h: &Host, inv: &str, stack: &str) -> Run {
    h.keel(&["apply", "--yes", "-i", inv, stack], &[])
}

/// Copies equal the live files, with modes 0644/0600 and owner root.
fn assert_copies(h: &Host) {
    assert_eq!(
        h.sh("stat -c '%U %a' /srv/app/nginx/ssl/cert.pem /srv/app/nginx/ssl/key.pem"),
        "root 644\nroot 600"
    );
    assert!(h.sh_ok(&format!(
        "cmp {LIVE}/fullchain.pem /srv/app/nginx/ssl/cert.pem && cmp {LIVE}/privkey.pem /srv/app/nginx/ssl/key.pem"
    )));
}

#[test]
fn certificates_from_a_real_acme_server_and_self_signed() {
    let h = Host::start("certs");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    start_pebble(&h);

    // Validate offline, then one apply: certbot installed, certificate obtained.
    let stack = h.write("acme.yaml", &acme_stack(TWO, 30, PEBBLE));
    expect(
        &h.keel(&["validate", "-i", inv, &stack], &[]),
        0,
        "validate",
    );
    let first = plan(&h, inv, &stack);
    expect(&first, 2, "first plan");
    assert!(
        first.stdout.contains(&format!("+ certificate[{NAME}]")),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("domains: (none) → [ai.example.com, api.ai.example.com]"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("renewal: (none) → certbot.timer, 30 days before expiry"),
        "{}",
        first.stdout
    );
    let run = apply(&h, inv, &stack);
    expect(&run, 0, "apply");
    let issued = Instant::now();

    // Plan again at once (the certificate is fresh): nothing to do.
    let again = plan(&h, inv, &stack);
    expect(&again, 0, "plan after apply");
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // The host, checked directly.
    let x509 = h.sh(&format!(
        "openssl x509 -in {LIVE}/fullchain.pem -noout -issuer -ext subjectAltName"
    ));
    assert!(
        x509.contains("issuer=CN = Pebble Intermediate CA"),
        "{x509}"
    );
    assert!(
        x509.contains("DNS:ai.example.com, DNS:api.ai.example.com"),
        "{x509}"
    );
    // The chain in fullchain.pem is Pebble's intermediate.
    assert!(h.sh_ok(&format!(
        "awk '/BEGIN/{{n++}} n==2' {LIVE}/fullchain.pem | openssl x509 -noout -subject | grep -q 'Pebble Intermediate CA'"
    )));
    let lifetime = h.sh(&format!(
        "echo $(( $(date -d \"$(openssl x509 -in {LIVE}/cert.pem -noout -enddate | cut -d= -f2)\" +%s) - $(date -d \"$(openssl x509 -in {LIVE}/cert.pem -noout -startdate | cut -d= -f2)\" +%s) ))"
    ));
    let lifetime: u64 = lifetime.parse().unwrap();
    assert!(
        (30 * 86400..=30 * 86400 + LAG).contains(&lifetime),
        "pebble's certificates live 30 days + {LAG}s: {lifetime}"
    );
    assert_copies(&h);
    assert_eq!(hook_runs(&h), 1, "the deploy hook ran once");
    assert_eq!(h.sh("systemctl is-enabled certbot.timer"), "enabled");
    let conf = h.sh(&format!("cat /etc/letsencrypt/renewal/{NAME}.conf"));
    assert!(conf.contains("renew_before_expiry = 30 days"), "{conf}");
    assert!(
        conf.contains(&format!(
            "renew_hook = /etc/keel/certificate/{NAME}/deploy-hook"
        )),
        "{conf}"
    );
    assert!(conf.contains(&format!("server = {PEBBLE}")), "{conf}");
    let serial1 = serial(&h);

    // Drift by hand: a copy edited, the key's mode opened, the timer off.
    h.sh("echo junk > /srv/app/nginx/ssl/cert.pem; chmod 644 /srv/app/nginx/ssl/key.pem; systemctl disable --now certbot.timer 2>/dev/null");
    let drift = plan(&h, inv, &stack);
    expect(&drift, 2, "plan after drift");
    for line in [
        &format!("~ certificate[{NAME}]"),
        "install.cert (/srv/app/nginx/ssl/cert.pem): out of date → copy of the live certificate",
        "/srv/app/nginx/ssl/key.pem mode: 0644 → 0600",
        "renewal timer (certbot.timer): disabled → enabled",
    ] {
        assert!(drift.stdout.contains(line), "{line}: {}", drift.stdout);
    }
    assert!(!drift.stdout.contains("→ renew"), "{}", drift.stdout);
    expect(&apply(&h, inv, &stack), 0, "apply after drift");
    assert_copies(&h);
    assert_eq!(h.sh("systemctl is-enabled certbot.timer"), "enabled");
    assert_eq!(hook_runs(&h), 2, "copies refreshed through the deploy hook");
    assert_eq!(serial(&h), serial1, "no new certificate for drifted copies");
    expect(&plan(&h, inv, &stack), 0, "plan after fixing drift");

    // A directory that does not answer: the apply fails, the working
    // certificate and its copies stay.
    let dead = h.write(
        "dead.yaml",
        &acme_stack(TWO, 30, "https://localhost:14001/dir"),
    );
    let p = plan(&h, inv, &dead);
    expect(&p, 2, "plan with another directory");
    assert!(
        p.stdout
            .contains("directory: https://localhost:14000/dir → https://localhost:14001/dir"),
        "{}",
        p.stdout
    );
    let failed = apply(&h, inv, &dead);
    assert_ne!(failed.code, 0, "{}", failed.stdout);
    let out = format!("{}{}", failed.stdout, failed.stderr);
    assert!(
        out.contains("certbot could not obtain the certificate"),
        "{out}"
    );
    assert_eq!(serial(&h), serial1);
    assert_copies(&h);
    assert!(
        h.sh(&format!("cat /etc/letsencrypt/renewal/{NAME}.conf"))
            .contains(&format!("server = {PEBBLE}"))
    );
    expect(
        &plan(&h, inv, &stack),
        0,
        "the working stack still converged",
    );

    // Self-signed, a second resource (own stack: it does not wait for the
    // ACME certificate's renewal window).
    let ss_yaml = |extra: &str| {
        format!(
            r#"name: self-signed
targets: [web]
resources:
  - package: {{ name: openssl }}
  - certificate:
      name: internal
      domains: [internal.example.test, "*.internal.example.test"{extra}]
      issuer: self-signed
      self_signed: {{ days: 90, key: ec, deploy_hook: "touch /root/self-signed-hook" }}
      install: {{ cert: /srv/internal/cert.pem, key: /srv/internal/key.pem }}
"#
        )
    };
    let ss = h.write("self.yaml", &ss_yaml(""));
    expect(&apply(&h, inv, &ss), 0, "apply self-signed");
    let x = h.sh("openssl x509 -in /etc/ssl/keel/internal/cert.pem -noout -issuer -subject -ext subjectAltName");
    assert!(x.contains("issuer=CN = internal.example.test"), "{x}");
    assert!(
        x.contains("DNS:internal.example.test, DNS:*.internal.example.test"),
        "{x}"
    );
    assert_eq!(
        h.sh("stat -c '%a' /etc/ssl/keel/internal/key.pem /srv/internal/cert.pem /srv/internal/key.pem"),
        "600\n644\n600"
    );
    assert!(h.sh_ok("test -e /root/self-signed-hook"));
    expect(&plan(&h, inv, &ss), 0, "self-signed plan after apply");
    let ss2 = h.write("self2.yaml", &ss_yaml(", api.internal.example.test"));
    let p = plan(&h, inv, &ss2);
    expect(&p, 2, "self-signed with a domain more");
    assert!(
        p.stdout.contains("domains: [internal.example.test, *.internal.example.test] → [internal.example.test, *.internal.example.test, api.internal.example.test]"),
        "{}",
        p.stdout
    );
    expect(&apply(&h, inv, &ss2), 0, "regenerate self-signed");
    assert!(
        h.sh("openssl x509 -in /srv/internal/cert.pem -noout -ext subjectAltName")
            .contains("DNS:api.internal.example.test")
    );
    expect(&plan(&h, inv, &ss2), 0, "self-signed idempotent");

    // An invalid domain: a load-time diagnostic at its own line.
    let bad = h.write("bad.yaml",
        "name: bad\ntargets: [web]\nresources:\n  - certificate:\n      name: site\n      domains:\n        - ok.example.com\n        - bad_domain!.com\n",
    );
    let v = h.keel(&["validate", "-i", inv, &bad], &[]);
    expect(&v, 1, "validate an invalid domain");
    assert!(
        v.stderr.contains("`bad_domain!.com` is not a valid domain"),
        "{}",
        v.stderr
    );
    assert!(v.stderr.contains("bad.yaml:8:11"), "{}", v.stderr);

    // A threshold longer than the lifetime: the plan shows the renewal and
    // an error saying why it cannot be done (exit 1); the apply fails
    // without asking the CA.
    let long = h.write("long.yaml", &acme_stack(TWO, 31, PEBBLE));
    let p = plan(&h, inv, &long);
    expect(&p, 1, "plan with renew_before_days 31");
    assert!(
        p.stdout.contains("→ renew (threshold 31 days)"),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout
            .contains("error: renew_before_days (31) is not shorter than the lifetime of this CA's certificates (30 days)"),
        "{}",
        p.stdout
    );
    let refused = apply(&h, inv, &long);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert_eq!(serial(&h), serial1);
    assert!(
        h.sh(&format!("cat /etc/letsencrypt/renewal/{NAME}.conf"))
            .contains("renew_before_expiry = 30 days"),
        "the refused change is not half-applied"
    );

    // Renewal by threshold: once the certificate is LAG seconds old, it
    // expires within 30 days.
    let due = Duration::from_secs(LAG + 3);
    if issued.elapsed() < due {
        std::thread::sleep(due - issued.elapsed());
    }
    let p = plan(&h, inv, &stack);
    expect(&p, 2, "plan in the renewal window");
    assert!(
        p.stdout
            .contains("(in 29 days) → renew (threshold 30 days)"),
        "{}",
        p.stdout
    );
    let run = apply(&h, inv, &stack);
    expect(&run, 0, "renewal");
    assert_ne!(serial(&h), serial1, "a new certificate");
    assert_copies(&h);
    assert_eq!(hook_runs(&h), 3, "the deploy hook ran after the renewal");
    expect(&plan(&h, inv, &stack), 0, "plan after renewal");

    // A domain more: the plan shows the expansion; apply converges.
    let three = h.write(
        "three.yaml",
        &acme_stack(&format!("{TWO}, www.ai.example.com"), 30, PEBBLE),
    );
    let p = plan(&h, inv, &three);
    expect(&p, 2, "plan with a domain more");
    assert!(
        p.stdout.contains("domains: [ai.example.com, api.ai.example.com] → [ai.example.com, api.ai.example.com, www.ai.example.com]"),
        "{}",
        p.stdout
    );
    expect(&apply(&h, inv, &three), 0, "expand");
    assert!(
        h.sh(&format!(
            "openssl x509 -in {LIVE}/cert.pem -noout -ext subjectAltName"
        ))
        .contains("DNS:www.ai.example.com")
    );
    assert_copies(&h);
    expect(&plan(&h, inv, &three), 0, "plan after expansion");
}
