//! PEM (RFC 7468) encoding and decoding.

use crate::PkiError;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// PEM text with 64-character lines and LF line endings. Infallible.
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, v) in idx.iter().enumerate() {
            if i <= chunk.len() {
                b64.push(char::from(B64[*v as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    let bytes = b64.as_bytes();
    for line in bytes.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes the first PEM block of `text`, which must carry `label`.
pub fn decode(text: &str, label: &'static str, what: &'static str) -> Result<Vec<u8>, PkiError> {
    let block = match blocks(text).next() {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(PkiError::malformed(what, e)),
        None => return Err(PkiError::malformed(what, "no PEM block")),
    };
    let (found, der) =
        der::pem::decode_vec(block.as_bytes()).map_err(|e| PkiError::malformed(what, e))?;
    if found != label {
        return Err(PkiError::malformed(
            what,
            format!("PEM label is {found:?}, expected {label:?}"),
        ));
    }
    Ok(der)
}

/// Every PEM block labelled `label` in `text`, decoded; blocks with other labels
/// are skipped. An error if a block is malformed or none has the label.
pub fn decode_all(text: &str, label: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut out = Vec::new();
    for block in blocks(text) {
        let block = block.map_err(|e| PkiError::malformed("PEM", e))?;
        let (found, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| PkiError::malformed("PEM", format!("malformed block: {e}")))?;
        if found == label {
            out.push(der);
        }
    }
    if out.is_empty() {
        return Err(PkiError::malformed("PEM", format!("no {label} block")));
    }
    Ok(out)
}

/// What a certificate or CRL file holds: one DER value, given back as is, or PEM
/// text with one or more `label` blocks (`CERTIFICATE`, `X509 CRL`).
pub fn der_or_pem(bytes: &[u8], label: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| PkiError::malformed("PEM", "neither DER nor PEM text"))?;
    decode_all(text, label)
}

/// The `-----BEGIN …-----` … `-----END …-----` blocks of `text`, in order.
fn blocks(text: &str) -> impl Iterator<Item = Result<&str, &'static str>> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        let start = r.find("-----BEGIN ")?;
        let from = r.get(start..)?;
        let block = from.find("-----END ").and_then(|end| {
            let close = from.get(end + 9..)?.find("-----")?;
            from.get(..end + 9 + close + 5)
        });
        match block {
            Some(b) => {
                rest = from.get(b.len()..);
                Some(Ok(b))
            }
            None => {
                rest = None;
                Some(Err("unterminated PEM block"))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trip() {
        for len in 0..200 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let pem = encode("TEST", &data);
            if len > 0 {
                assert_eq!(decode(&pem, "TEST", "test").unwrap(), data);
            }
            assert!(pem.lines().all(|l| l.len() <= 64));
        }
    }

    #[test]
    fn bundles_and_der() {
        let bundle = format!(
            "{}junk between\n{}{}",
            encode("CERTIFICATE", b"\x30\x01a"),
            encode("X509 CRL", b"\x30\x01b"),
            encode("CERTIFICATE", b"\x30\x01c")
        );
        assert_eq!(
            decode_all(&bundle, "CERTIFICATE").unwrap(),
            vec![b"\x30\x01a".to_vec(), b"\x30\x01c".to_vec()]
        );
        assert_eq!(
            der_or_pem(bundle.as_bytes(), "X509 CRL").unwrap(),
            vec![b"\x30\x01b".to_vec()]
        );
        assert_eq!(
            der_or_pem(b"\x30\x00", "X").unwrap(),
            vec![b"\x30\x00".to_vec()]
        );
        assert!(decode_all("-----BEGIN CERTIFICATE-----\nAAAA", "CERTIFICATE").is_err());
        assert!(decode_all(&bundle, "PRIVATE KEY").is_err());
        assert!(der_or_pem(&[0xff, 0xfe], "CERTIFICATE").is_err());
    }
}
