//! Just enough DER to check that bytes are shaped like an X.509 certificate and to
//! take out the fields a PKCS#11 certificate object carries (subject, issuer, serial).
//! Whether the certificate is *right* is the issuer's business, not the card's.

use crate::CardError;

pub(crate) struct CertFields<'a> {
    /// Full TLV of the subject Name.
    pub subject: &'a [u8],
    /// Full TLV of the issuer Name.
    pub issuer: &'a [u8],
    /// Full TLV of the serial number INTEGER.
    pub serial: &'a [u8],
}

struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

fn malformed(what: &str) -> CardError {
    CardError::Malformed(format!("not a DER X.509 certificate: {what}"))
}

/// Reads one DER TLV from the front of `input`; returns it and the rest.
fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), CardError> {
    let (&tag, rest) = input.split_first().ok_or_else(|| malformed("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(malformed("high tag number"));
    }
    let (&first, rest) = rest.split_first().ok_or_else(|| malformed("truncated"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(malformed("bad length"));
        }
        let (bytes, rest) = rest.split_at(n);
        if bytes[0] == 0 {
            return Err(malformed("non-minimal length"));
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return Err(malformed("non-minimal length"));
        }
        (len, rest)
    };
    if rest.len() < len {
        return Err(malformed("truncated"));
    }
    let (content, rest) = rest.split_at(len);
    let header = input.len() - rest.len() - len;
    Ok((
        Tlv {
            tag,
            content,
            whole: &input[..header + len],
        },
        rest,
    ))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), CardError> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(malformed(what));
    }
    Ok((tlv, rest))
}

pub(crate) fn cert_fields(der: &[u8]) -> Result<CertFields<'_>, CardError> {
    const SEQUENCE: u8 = 0x30;
    let (cert, trailing) = expect(der, SEQUENCE, "not a SEQUENCE")?;
    if !trailing.is_empty() {
        return Err(malformed("bytes after the certificate"));
    }
    let (tbs, rest) = expect(cert.content, SEQUENCE, "no TBSCertificate")?;
    let (_sig_alg, rest) = expect(rest, SEQUENCE, "no signatureAlgorithm")?;
    let (_sig, rest) = expect(rest, 0x03, "no signatureValue")?;
    if !rest.is_empty() {
        return Err(malformed("extra fields in Certificate"));
    }
    let mut rest = tbs.content;
    if rest.first() == Some(&0xa0) {
        rest = read_tlv(rest)?.1;
    }
    let (serial, rest) = expect(rest, 0x02, "no serialNumber")?;
    let (_sig, rest) = expect(rest, SEQUENCE, "no signature in TBSCertificate")?;
    let (issuer, rest) = expect(rest, SEQUENCE, "no issuer")?;
    let (_validity, rest) = expect(rest, SEQUENCE, "no validity")?;
    let (subject, rest) = expect(rest, SEQUENCE, "no subject")?;
    let (_spki, _rest) = expect(rest, SEQUENCE, "no subjectPublicKeyInfo")?;
    Ok(CertFields {
        subject: subject.whole,
        issuer: issuer.whole,
        serial: serial.whole,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678_u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed & 0xff) as u8
                })
                .collect();
            let _ = cert_fields(&bytes);
            let mut seq = vec![0x30, 0x82, (len >> 8) as u8, (len & 0xff) as u8];
            seq.extend_from_slice(&bytes);
            let _ = cert_fields(&seq);
        }
        assert!(cert_fields(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(cert_fields(&[0x30, 0x80]).is_err());
    }
}
