//! Just enough DER to read a certificate's `notAfter` (RFC 5280 §4.1.2.5):
//! the `tls_min_days` of an HTTPS check needs the expiry of the peer
//! certificate, and the rustls verifier checks validity but does not
//! expose the dates. A full X.509 parser would be a dependency for one
//! field; this walks the fixed prefix of `TBSCertificate` and nothing else.

/// One DER element: its tag, and the bytes of its content.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
}

/// Read the element at the start of `der`; returns it and what follows.
fn tlv(der: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((
        Tlv {
            tag,
            content: &rest[..len],
        },
        &rest[len..],
    ))
}

/// The `notAfter` of a DER certificate, in seconds since the Unix epoch.
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let (certificate, _) = tlv(cert)?;
    let (tbs, _) = tlv(certificate.content)?;
    let mut rest = tbs.content;
    // version [0] EXPLICIT (optional), serialNumber, signature, issuer, validity
    let (first, after) = tlv(rest)?;
    if first.tag == 0xa0 {
        rest = after;
    }
    for _ in 0..3 {
        rest = tlv(rest)?.1;
    }
    let (validity, _) = tlv(rest)?;
    let (_not_before, rest) = tlv(validity.content)?;
    let (not_after, _) = tlv(rest)?;
    let text = std::str::from_utf8(not_after.content).ok()?;
    match not_after.tag {
        0x17 => parse_time(text, false),
        0x18 => parse_time(text, true),
        _ => None,
    }
}

/// `YYMMDDHHMMSSZ` (UTCTime: years 50–99 are 19xx) or `YYYYMMDDHHMMSSZ`.
fn parse_time(text: &str, four_digit_year: bool) -> Option<i64> {
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = if four_digit_year {
        (digits.get(..4)?.parse::<i64>().ok()?, digits.get(4..)?)
    } else {
        let yy = digits.get(..2)?.parse::<i64>().ok()?;
        (
            if yy >= 50 { 1900 + yy } else { 2000 + yy },
            digits.get(2..)?,
        )
    };
    if rest.len() != 10 {
        return None;
    }
    let n = |i: usize| rest[i..i + 2].parse::<i64>().ok();
    let (month, day, h, m, s) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_convert_to_unix_seconds() {
        assert_eq!(parse_time("700101000000Z", false), Some(0));
        assert_eq!(parse_time("000229120000Z", false), Some(951_825_600));
        assert_eq!(parse_time("20380119031408Z", true), Some(2_147_483_648));
        assert_eq!(parse_time("991231235959Z", false), Some(946_684_799));
        assert_eq!(parse_time("9912312359Z", false), None);
        assert_eq!(parse_time("20381319031408Z", true), None);
    }

    #[test]
    fn reads_not_after_of_a_real_certificate() {
        // `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
        //  -days 3650 -subj /CN=keel-test` made on 2026-11-30.
        let pem = include_str!("testdata/cert.pem");
        let der = pem_body(pem);
        let expected = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/check/testdata/cert.enddate"
        ))
        .unwrap();
        assert_eq!(
            not_after(&der),
            Some(expected.trim().parse::<i64>().unwrap())
        );
        assert_eq!(not_after(&der[..der.len() / 3]), None, "truncated");
        assert_eq!(
            not_after(b"\x30\x03\x02\x01\x01"),
            None,
            "not a certificate"
        );
    }

    fn pem_body(pem: &str) -> Vec<u8> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }
}
