//! A small DER writer.
//!
//! Certificates are assembled from tag-length-value pieces so that every byte of
//! the profile (string types, extension order, criticality) is chosen here, not
//! by a builder's defaults. Everything built is decoded again with `x509-cert`
//! before it leaves the crate.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::PkiError;

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const BOOLEAN: u8 = 0x01;

/// Context-specific, constructed: `[n]` EXPLICIT or IMPLICIT of a constructed type.
pub(crate) const fn ctx_cons(n: u8) -> u8 {
    0xa0 | n
}

/// Context-specific, primitive: `[n]` IMPLICIT of a primitive type.
pub(crate) const fn ctx_prim(n: u8) -> u8 {
    0x80 | n
}

/// One TLV with a definite DER length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        // Fits in the short form.
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed TLV whose content is the concatenation of `parts`.
pub(crate) fn cons(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    cons(SEQUENCE, parts)
}

pub(crate) fn oid(o: &const_oid::ObjectIdentifier) -> Vec<u8> {
    tlv(OID, o.as_bytes())
}

pub(crate) fn utf8(s: &str) -> Vec<u8> {
    tlv(UTF8_STRING, s.as_bytes())
}

pub(crate) fn octets(b: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, b)
}

pub(crate) fn null() -> Vec<u8> {
    tlv(NULL, &[])
}

pub(crate) fn boolean_true() -> Vec<u8> {
    tlv(BOOLEAN, &[0xff])
}

/// A BIT STRING with no unused bits.
pub(crate) fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(b.len() + 1);
    content.push(0);
    content.extend_from_slice(b);
    tlv(BIT_STRING, &content)
}

/// A small INTEGER (non-negative).
pub(crate) fn small_uint(v: u8) -> Vec<u8> {
    if v & 0x80 != 0 {
        tlv(INTEGER, &[0, v])
    } else {
        tlv(INTEGER, &[v])
    }
}

/// A positive INTEGER from big-endian magnitude bytes: leading zeros stripped,
/// one zero added if the top bit is set. Errors if the value is zero.
pub(crate) fn positive_integer(magnitude: &[u8]) -> Result<Vec<u8>, PkiError> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let m = &magnitude[skip..];
    if m.is_empty() {
        return Err(PkiError::profile("serial number must not be zero"));
    }
    let mut content = Vec::with_capacity(m.len() + 1);
    if m[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(m);
    Ok(tlv(INTEGER, &content))
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. Seconds
/// precision; sub-second parts are truncated.
pub(crate) fn time(ts: Timestamp) -> Result<Vec<u8>, PkiError> {
    let z = ts.to_zoned(TimeZone::UTC);
    let year = z.year();
    if !(1950..=9999).contains(&year) {
        return Err(PkiError::Validity {
            reason: format!("year {year} cannot be encoded in a certificate"),
        });
    }
    if year < 2050 {
        let s = z.strftime("%y%m%d%H%M%SZ").to_string();
        Ok(tlv(UTC_TIME, s.as_bytes()))
    } else {
        let s = z.strftime("%Y%m%d%H%M%SZ").to_string();
        Ok(tlv(GENERALIZED_TIME, s.as_bytes()))
    }
}

pub(crate) fn hex_upper(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02X}");
    }
    s
}

/// One TLV split off the start of some input.
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    /// The whole TLV, header included.
    pub whole: &'a [u8],
    /// What follows it.
    pub rest: &'a [u8],
}

/// Splits one DER TLV (low tag number, definite minimal length) off `input`.
pub(crate) fn split_tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        // High tag numbers never occur in what we parse by hand.
        return None;
    }
    let first_len = *input.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2usize)
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        if bytes.first() == Some(&0) {
            return None;
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return None;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let content = input.get(header..end)?;
    let whole = input.get(..end)?;
    let rest = input.get(end..)?;
    Some(Tlv {
        tag,
        content,
        whole,
        rest,
    })
}

/// The first element (as a whole TLV) inside the outer SEQUENCE `der`: the
/// to-be-signed part of a certificate or PKCS#10 request, exactly as encoded.
pub(crate) fn signed_part(der: &[u8], what: &'static str) -> Result<Vec<u8>, PkiError> {
    let outer = split_tlv(der).ok_or_else(|| PkiError::malformed(what, "bad outer encoding"))?;
    if outer.tag != SEQUENCE || !outer.rest.is_empty() {
        return Err(PkiError::malformed(what, "not a single SEQUENCE"));
    }
    let inner =
        split_tlv(outer.content).ok_or_else(|| PkiError::malformed(what, "bad inner encoding"))?;
    if inner.tag != SEQUENCE {
        return Err(PkiError::malformed(what, "signed part is not a SEQUENCE"));
    }
    Ok(inner.whole.to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = vec![0u8; 300];
        let t = tlv(0x04, &long);
        assert_eq!(&t[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let x = split_tlv(&t).unwrap();
        assert_eq!(
            (x.tag, x.content.len(), x.whole.len(), x.rest.len()),
            (4, 300, 304, 0)
        );
    }

    #[test]
    fn integers() {
        assert_eq!(
            positive_integer(&[0, 0, 0x80]).unwrap(),
            vec![2, 2, 0, 0x80]
        );
        assert_eq!(positive_integer(&[0, 0x7f]).unwrap(), vec![2, 1, 0x7f]);
        assert!(positive_integer(&[0, 0]).is_err());
    }

    #[test]
    fn times() {
        let t: Timestamp = "2033-07-15T14:59:59Z".parse().unwrap();
        assert_eq!(time(t).unwrap()[2..], *b"330715145959Z");
        let t: Timestamp = "2050-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(time(t).unwrap()[0], GENERALIZED_TIME);
    }
}
