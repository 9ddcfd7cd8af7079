//! A small HTTP/1.1 GET client for checks, over std sockets and rustls.
//!
//! Why not an HTTP crate: a check needs the peer certificate (for
//! `tls_min_days`), an explicit per-check trust choice (system roots, one
//! CA file, or none), and nothing else — one `GET`, `Connection: close`,
//! read to the end (at most [`MAX_RESPONSE`] bytes). rustls with the *ring*
//! provider builds without OpenSSL's development files; system roots are
//! read from the usual bundle (`$SSL_CERT_FILE`, else
//! `/etc/ssl/certs/ca-certificates.crt` and its cousins). It is blocking:
//! the runner calls it on tokio's blocking pool, with the check's timeout
//! on the connect and on every read and write.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::url::Url;

/// Responses are read up to this many bytes (a health endpoint's answer).
pub const MAX_RESPONSE: usize = 1 << 20;

/// Whom to trust for an `https://` URL.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The machine's CA bundle.
    System,
    /// Only the certificates of this PEM text.
    Ca(String),
    /// Nothing is verified (a self-signed certificate): explicit in the stack.
    Insecure,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The peer certificate's `notAfter` (Unix seconds), for `https://`.
    pub cert_not_after: Option<i64>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// GET `url`; `timeout` bounds the connect and each read and write, and
/// the whole exchange.
pub fn get(url: &Url, trust: &Trust, timeout: Duration) -> Result<Response, String> {
    let started = Instant::now();
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
        .collect();
    let mut last = format!("{} has no address", url.host);
    let mut sock = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let sock = sock.ok_or(last)?;
    let left = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(50));
    sock.set_read_timeout(Some(left))
        .map_err(|e| e.to_string())?;
    sock.set_write_timeout(Some(left))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: keel-check/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.target,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    let deadline = started + timeout;
    if !url.tls {
        let mut sock = sock;
        sock.write_all(request.as_bytes())
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let raw = read_all(&mut sock, deadline)?;
        return parse_response(&raw);
    }
    let config = client_config(trust)?;
    let name = ServerName::try_from(url.host.clone())
        .map_err(|_| format!("`{}` is not a TLS server name", url.host))?;
    let conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| format!("TLS: {e}"))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(request.as_bytes())
        .map_err(|e| tls_error(&e))?;
    let raw = read_all(&mut tls, deadline)?;
    let mut resp = parse_response(&raw)?;
    resp.cert_not_after = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| super::x509::not_after(c));
    Ok(resp)
}

fn tls_error(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => format!("TLS: {inner}"),
        None => format!("TLS: {e}"),
    }
}

/// Read until the peer closes (a TLS peer that closes without
/// `close_notify` is taken as done when something was read).
fn read_all(r: &mut impl Read, deadline: Instant) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(format!(
                "no complete answer in time ({} bytes read)",
                out.len()
            ));
        }
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() >= MAX_RESPONSE {
                    out.truncate(MAX_RESPONSE);
                    return Ok(out);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {
                return Ok(out);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "no complete answer in time ({} bytes read)",
                    out.len()
                ));
            }
            Err(e) if e.get_ref().is_some() => return Err(tls_error(&e)),
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
    }
}

/// Status line, headers and body (chunked transfer decoded).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            if raw.is_empty() {
                "the server closed the connection without an answer".to_string()
            } else {
                "not an HTTP answer (no end of headers)".to_string()
            }
        })?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP status line: {:?}", excerpt(status_line, 80)))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        cert_not_after: None,
    })
}

/// Decode a chunked body; a truncated one yields what arrived.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        data = &data[eol + 2..];
        if size == 0 {
            break;
        }
        let n = size.min(data.len());
        out.extend_from_slice(&data[..n]);
        data = &data[n..];
        data = data.strip_prefix(b"\r\n").unwrap_or(data);
    }
    out
}

/// The first `max` characters of `text`, on one line.
pub fn excerpt(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat.to_string()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(trust: &Trust) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
            .with_no_client_auth(),
        Trust::Ca(pem) => builder
            .with_root_certificates(roots(pem.as_bytes(), "ca_file")?)
            .with_no_client_auth(),
        Trust::System => {
            let (path, pem) = system_bundle()?;
            builder
                .with_root_certificates(roots(&pem, &path)?)
                .with_no_client_auth()
        }
    };
    Ok(config)
}

fn roots(pem: &[u8], what: &str) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("{what}: not a PEM certificate: {e}"))?;
        // A bundle may hold certificates webpki cannot use; skip those.
        let _ = store.add(cert);
    }
    if store.is_empty() {
        return Err(format!("{what}: no usable certificate"));
    }
    Ok(store)
}

/// The machine's CA bundle.
fn system_bundle() -> Result<(String, Vec<u8>), String> {
    let mut candidates: Vec<String> = std::env::var("SSL_CERT_FILE").into_iter().collect();
    candidates.extend(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ]
        .map(String::from),
    );
    for path in candidates {
        if let Ok(pem) = std::fs::read(&path) {
            return Ok((path, pem));
        }
    }
    Err("no CA bundle on this machine (set SSL_CERT_FILE, or give the check a `ca_file`)".into())
}

/// `insecure: true`: the certificate is not verified (its signature on
/// the handshake still is, so the expiry read belongs to the peer).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = Url::parse("https://api.example.com/health?x=1#frag").unwrap();
        assert_eq!(
            u,
            Url {
                tls: true,
                host: "api.example.com".into(),
                port: 443,
                target: "/health?x=1".into()
            }
        );
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.port, u.target.as_str(), u.host_header()),
            (8080, "/", "127.0.0.1:8080".into())
        );
        let u = Url::parse("http://[::1]:81/x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.host_header()),
            ("::1", "[::1]:81".into())
        );
        for bad in [
            "ftp://x/",
            "https://",
            "http://x:0/",
            "http://x:99999/",
            "http://u:p@x/",
            "http://x/a b",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_parse_plain_and_chunked() {
        let r = parse_response(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ndown",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "down"));
        assert_eq!(r.header("content-TYPE"), Some("text/plain"));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext\r\n{\"ok\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, "{\"ok\":1}");
        assert!(
            parse_response(b"")
                .unwrap_err()
                .contains("without an answer")
        );
        assert!(
            parse_response(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
                .unwrap_err()
                .contains("not an HTTP status line")
        );
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(excerpt("a\nb", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
