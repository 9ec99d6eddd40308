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
    let block = first_block(text).ok_or_else(|| PkiError::malformed(what, "no PEM block"))?;
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

/// The text of the first `-----BEGIN …-----` … `-----END …-----` block.
fn first_block(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")?;
    let rest = text.get(start..)?;
    let end_marker = rest.find("-----END ")?;
    let after = rest.get(end_marker + 9..)?;
    let close = after.find("-----")?;
    rest.get(..end_marker + 9 + close + 5)
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
}
