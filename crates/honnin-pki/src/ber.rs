//! BER to DER for signed messages made by streaming encoders (indefinite
//! lengths, constructed OCTET STRINGs, long-form lengths that are not minimal).
//!
//! Only the envelope is re-encoded: a signature over signed attributes stays
//! over their original encoding, which RFC 5652 requires to be DER already.

/// Why a BER input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BerError {
    Truncated,
    HighTagNumber,
    BadLength,
    TooDeep,
    IndefinitePrimitive,
    BadStringSegment,
}

impl std::fmt::Display for BerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BerError::Truncated => "truncated encoding",
            BerError::HighTagNumber => "high tag numbers are not used by CMS",
            BerError::BadLength => "bad length",
            BerError::TooDeep => "nesting deeper than 32 levels",
            BerError::IndefinitePrimitive => "indefinite length on a primitive value",
            BerError::BadStringSegment => "a constructed string holds a segment of another type",
        })
    }
}

/// Nesting limit: CMS SignedData with certificates is about 12 levels deep.
pub(crate) const MAX_DEPTH: usize = 32;

/// Re-encodes one BER value (and nothing after it) as DER.
pub(crate) fn ber_to_der(input: &[u8]) -> Result<Vec<u8>, BerError> {
    let mut out = Vec::with_capacity(input.len());
    let rest = value(input, 0, &mut out)?;
    if !rest.is_empty() {
        return Err(BerError::BadLength);
    }
    Ok(out)
}

struct Header {
    tag: u8,
    /// `None`: indefinite.
    len: Option<usize>,
    header_len: usize,
}

fn header(input: &[u8]) -> Result<Header, BerError> {
    let tag = *input.first().ok_or(BerError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(BerError::HighTagNumber);
    }
    let first = *input.get(1).ok_or(BerError::Truncated)?;
    if first < 0x80 {
        return Ok(Header {
            tag,
            len: Some(usize::from(first)),
            header_len: 2,
        });
    }
    if first == 0x80 {
        return Ok(Header {
            tag,
            len: None,
            header_len: 2,
        });
    }
    let n = usize::from(first & 0x7f);
    if n > 4 {
        return Err(BerError::BadLength);
    }
    let bytes = input.get(2..2 + n).ok_or(BerError::Truncated)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Ok(Header {
        tag,
        len: Some(len),
        header_len: 2 + n,
    })
}

fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    crate::derw::write_header(out, tag, len);
}

/// Writes the DER of the value at the start of `input`, returns what follows it.
fn value<'a>(input: &'a [u8], depth: usize, out: &mut Vec<u8>) -> Result<&'a [u8], BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    let h = header(input)?;
    let body = input.get(h.header_len..).ok_or(BerError::Truncated)?;
    let constructed = h.tag & 0x20 != 0;
    if !constructed {
        let len = h.len.ok_or(BerError::IndefinitePrimitive)?;
        let content = body.get(..len).ok_or(BerError::Truncated)?;
        push_header(out, h.tag, len);
        out.extend_from_slice(content);
        return body.get(len..).ok_or(BerError::Truncated);
    }
    // A constructed universal string (OCTET STRING, BIT STRING would differ;
    // CMS only segments OCTET STRINGs) becomes one primitive string.
    let is_string = h.tag == 0x24;
    let mut inner = Vec::new();
    let rest = children(body, h.len, depth, &mut inner, is_string)?;
    if is_string {
        push_header(out, 0x04, inner.len());
    } else {
        push_header(out, h.tag, inner.len());
    }
    out.extend_from_slice(&inner);
    Ok(rest)
}

/// The children of a constructed value: re-encoded into `out` (or, for a
/// segmented string, their contents concatenated).
fn children<'a>(
    body: &'a [u8],
    len: Option<usize>,
    depth: usize,
    out: &mut Vec<u8>,
    is_string: bool,
) -> Result<&'a [u8], BerError> {
    let (mut cur, after) = match len {
        Some(l) => (
            body.get(..l).ok_or(BerError::Truncated)?,
            Some(body.get(l..).ok_or(BerError::Truncated)?),
        ),
        None => (body, None),
    };
    loop {
        if cur.is_empty() {
            return match after {
                Some(a) => Ok(a),
                None => Err(BerError::Truncated),
            };
        }
        if after.is_none() && cur.starts_with(&[0, 0]) {
            return Ok(&cur[2..]);
        }
        if is_string {
            let mut seg = Vec::new();
            let tag = *cur.first().ok_or(BerError::Truncated)?;
            if tag != 0x04 && tag != 0x24 {
                return Err(BerError::BadStringSegment);
            }
            cur = value(cur, depth + 1, &mut seg)?;
            // `seg` is a primitive OCTET STRING now: append its content.
            let h = header(&seg)?;
            out.extend_from_slice(seg.get(h.header_len..).ok_or(BerError::Truncated)?);
        } else {
            cur = value(cur, depth + 1, out)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_is_unchanged() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        assert_eq!(ber_to_der(&der), Ok(der.to_vec()));
    }

    #[test]
    fn indefinite_and_segmented_become_der() {
        // SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0, 0, 0, 0,
        ];
        assert_eq!(
            ber_to_der(&ber),
            Ok(vec![0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c'])
        );
    }

    #[test]
    fn bad_input_is_refused_not_panicked() {
        assert_eq!(
            ber_to_der(&[0x30, 0x80, 0x02, 0x01]),
            Err(BerError::Truncated)
        );
        assert_eq!(
            ber_to_der(&[0x04, 0x80, 0, 0]),
            Err(BerError::IndefinitePrimitive)
        );
        let mut deep = Vec::new();
        for _ in 0..40 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..40 {
            deep.extend_from_slice(&[0, 0]);
        }
        assert_eq!(ber_to_der(&deep), Err(BerError::TooDeep));
        assert_eq!(
            ber_to_der(&[0x24, 0x80, 0x02, 0x01, 0x00, 0, 0]),
            Err(BerError::BadStringSegment)
        );
        assert_eq!(
            ber_to_der(&[0x30, 0x85, 1, 1, 1, 1, 1]),
            Err(BerError::BadLength)
        );
    }
}
