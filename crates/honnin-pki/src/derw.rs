//! A small DER writer.
//!
//! Certificates are assembled from tag-length-value pieces so that every byte of
//! the profile (string types, extension order, criticality) is chosen here, not
//! by a builder's defaults. Everything built is decoded again with `x509-cert`
//! before it leaves the crate.

use jiff::Timestamp;

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
    let mut out = Vec::with_capacity(17);
    write_time(&mut out, ts)?;
    Ok(out)
}

/// Civil UTC fields of a timestamp, seconds precision (sub-seconds dropped,
/// rounding towards the past).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Seconds since the epoch, floored (jiff's `as_second` truncates towards zero).
pub(crate) fn floor_seconds(ts: Timestamp) -> i64 {
    let s = ts.as_second();
    if ts.subsec_nanosecond() < 0 { s - 1 } else { s }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm; no allocation, no time-zone database).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // m is 1..=12 and d is 1..=31 by construction.
    (y, m as u8, d as u8)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil(ts: Timestamp) -> Civil {
    let secs = floor_seconds(ts);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u8,
        minute: (sod / 60 % 60) as u8,
        second: (sod % 60) as u8,
    }
}

fn push2(out: &mut Vec<u8>, v: u8) {
    out.push(b'0' + v / 10);
    out.push(b'0' + v % 10);
}

fn check_year(year: i64, lo: i64) -> Result<(), PkiError> {
    if !(lo..=9999).contains(&year) {
        return Err(PkiError::Validity {
            reason: format!("year {year} cannot be encoded"),
        });
    }
    Ok(())
}

fn push_fields(out: &mut Vec<u8>, c: &Civil) {
    push2(out, c.month);
    push2(out, c.day);
    push2(out, c.hour);
    push2(out, c.minute);
    push2(out, c.second);
    out.push(b'Z');
}

/// 2050-01-01T00:00:00Z: from here on RFC 5280 times are GeneralizedTime.
const Y2050: i64 = 2_524_608_000;

/// The encoded length of [`write_time`]'s output (15 or 17), for pre-computing.
pub(crate) fn time_len(ts: Timestamp) -> usize {
    if floor_seconds(ts) < Y2050 { 15 } else { 17 }
}

/// Appends an RFC 5280 Time: UTCTime for 1950–2049, GeneralizedTime from 2050.
pub(crate) fn write_time(out: &mut Vec<u8>, ts: Timestamp) -> Result<(), PkiError> {
    let c = civil(ts);
    check_year(c.year, 1950)?;
    if c.year < 2050 {
        out.extend_from_slice(&[UTC_TIME, 13]);
        push2(out, (c.year % 100) as u8);
    } else {
        out.extend_from_slice(&[GENERALIZED_TIME, 15]);
        push2(out, (c.year / 100) as u8);
        push2(out, (c.year % 100) as u8);
    }
    push_fields(out, &c);
    Ok(())
}

/// Appends a GeneralizedTime `YYYYMMDDHHMMSSZ` (17 octets with the header), as
/// RFC 5280 §4.1.2.5.2 and RFC 6960 require (no fractional seconds).
pub(crate) fn write_generalized_time(out: &mut Vec<u8>, ts: Timestamp) -> Result<(), PkiError> {
    let c = civil(ts);
    check_year(c.year, 1)?;
    out.extend_from_slice(&[GENERALIZED_TIME, 15]);
    push2(out, (c.year / 100) as u8);
    push2(out, (c.year % 100) as u8);
    push_fields(out, &c);
    Ok(())
}

pub(crate) fn generalized_time(ts: Timestamp) -> Result<Vec<u8>, PkiError> {
    let mut out = Vec::with_capacity(17);
    write_generalized_time(&mut out, ts)?;
    Ok(out)
}

fn digits2(b: &[u8], i: usize) -> Option<u8> {
    let hi = *b.get(i)?;
    let lo = *b.get(i + 1)?;
    if hi.is_ascii_digit() && lo.is_ascii_digit() {
        Some((hi - b'0') * 10 + (lo - b'0'))
    } else {
        None
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Decodes a DER UTCTime (`YYMMDDHHMMSSZ`, 1950–2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`, no fraction), as RFC 5280 allows them. Strict: any other
/// form is refused.
pub(crate) fn parse_time(tag: u8, content: &[u8]) -> Result<Timestamp, &'static str> {
    let (year, rest) = match (tag, content.len()) {
        (UTC_TIME, 13) => {
            let yy = i64::from(digits2(content, 0).ok_or("bad UTCTime")?);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &content[2..])
        }
        (GENERALIZED_TIME, 15) => {
            let cc = i64::from(digits2(content, 0).ok_or("bad GeneralizedTime")?);
            let yy = i64::from(digits2(content, 2).ok_or("bad GeneralizedTime")?);
            (cc * 100 + yy, &content[4..])
        }
        (UTC_TIME | GENERALIZED_TIME, _) => return Err("time has the wrong length or form"),
        _ => return Err("not a UTCTime or GeneralizedTime"),
    };
    let f = |i| digits2(rest, i).ok_or("time has non-digits");
    let (month, day, hour, minute, second) = (f(0)?, f(2)?, f(4)?, f(6)?, f(8)?);
    if rest.get(10) != Some(&b'Z') {
        return Err("time does not end in Z");
    }
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return Err("time has a bad month"),
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return Err("time is out of range");
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Timestamp::from_second(secs).map_err(|_| "time is out of range")
}

/// The length of a DER header (tag + length octets) for `len` content octets.
pub(crate) fn header_len(len: usize) -> usize {
    if len < 0x80 {
        2
    } else {
        2 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

/// Appends a tag and a definite DER length.
pub(crate) fn write_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// A big-endian magnitude without its leading zero octets (empty for zero).
pub(crate) fn strip_zeros(magnitude: &[u8]) -> &[u8] {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    &magnitude[skip..]
}

/// Content length of the INTEGER for a stripped magnitude.
pub(crate) fn uint_content_len(stripped: &[u8]) -> usize {
    match stripped.first() {
        None => 1,
        Some(b) if b & 0x80 != 0 => stripped.len() + 1,
        Some(_) => stripped.len(),
    }
}

/// Appends a non-negative INTEGER for a stripped magnitude (zero → `02 01 00`).
pub(crate) fn write_uint(out: &mut Vec<u8>, stripped: &[u8]) {
    write_header(out, INTEGER, uint_content_len(stripped));
    if stripped.first().is_none_or(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(stripped);
}

/// A non-negative INTEGER from a big-endian magnitude (infallible; zero allowed).
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let m = strip_zeros(magnitude);
    let mut out = Vec::with_capacity(m.len() + 3);
    write_uint(&mut out, m);
    out
}

/// Checks a DER INTEGER's content (non-empty, minimal) and returns the magnitude
/// of a non-negative value without leading zeros (empty for zero).
pub(crate) fn parse_uint(content: &[u8]) -> Result<&[u8], &'static str> {
    match content {
        [] => Err("empty INTEGER"),
        [0, next, ..] if next & 0x80 == 0 => Err("INTEGER is not minimally encoded"),
        [0xff, next, ..] if next & 0x80 != 0 => Err("INTEGER is not minimally encoded"),
        [first, ..] if first & 0x80 != 0 => Err("negative INTEGER"),
        [0, rest @ ..] => Ok(rest),
        all => Ok(all),
    }
}

/// Reads the TLVs of a constructed value's content one after another.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(content: &'a [u8], what: &'static str) -> Self {
        Reader {
            rest: content,
            what,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next TLV, whatever its tag.
    pub(crate) fn any(&mut self, field: &str) -> Result<Tlv<'a>, PkiError> {
        let t = split_tlv(self.rest).ok_or_else(|| {
            PkiError::malformed(self.what, format!("{field}: bad or truncated encoding"))
        })?;
        self.rest = t.rest;
        Ok(t)
    }

    /// The next TLV, which must have `tag`.
    pub(crate) fn expect(&mut self, tag: u8, field: &str) -> Result<Tlv<'a>, PkiError> {
        if self.peek_tag() != Some(tag) {
            return Err(PkiError::malformed(
                self.what,
                format!("{field}: missing or wrong tag"),
            ));
        }
        self.any(field)
    }

    /// The next TLV if it has `tag`.
    pub(crate) fn optional(&mut self, tag: u8, field: &str) -> Result<Option<Tlv<'a>>, PkiError> {
        if self.peek_tag() == Some(tag) {
            self.any(field).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails if anything is left.
    pub(crate) fn finish(self, field: &str) -> Result<(), PkiError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(PkiError::malformed(
                self.what,
                format!("unexpected data after {field}"),
            ))
        }
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
        assert_eq!(time_len(t), 17);
        let t: Timestamp = "2049-12-31T23:59:59.999Z".parse().unwrap();
        assert_eq!(time(t).unwrap()[2..], *b"491231235959Z");
        assert_eq!(time_len(t), 15);
        assert!(time("1949-12-31T23:59:59Z".parse().unwrap()).is_err());
        let t: Timestamp = "1950-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(time(t).unwrap()[2..], *b"500101000000Z");
    }

    #[test]
    fn civil_matches_jiff_and_parses_back() {
        use jiff::tz::TimeZone;
        let mut s: i64 = -631_152_000; // 1950-01-01
        while s < 253_402_300_799 {
            let ts = Timestamp::from_second(s).unwrap();
            let z = ts.to_zoned(TimeZone::UTC);
            let want = z.strftime("%Y%m%d%H%M%SZ").to_string();
            let g = generalized_time(ts).unwrap();
            assert_eq!(&g[2..], want.as_bytes(), "{ts}");
            assert_eq!(parse_time(g[0], &g[2..]).unwrap(), ts);
            let u = time(ts).unwrap();
            assert_eq!(parse_time(u[0], &u[2..]).unwrap(), ts);
            s += 7_654_321;
        }
        let neg: Timestamp = "1960-06-01T00:00:00.5Z".parse().unwrap();
        assert_eq!(time(neg).unwrap()[2..], *b"600601000000Z");
    }

    #[test]
    fn bad_times() {
        for (tag, s) in [
            (UTC_TIME, "260230000000Z"),
            (UTC_TIME, "250229000000Z"),
            (UTC_TIME, "261301000000Z"),
            (UTC_TIME, "260101240000Z"),
            (UTC_TIME, "2601010000Z"),
            (UTC_TIME, "260101000000+0900"),
            (UTC_TIME, "26010100000aZ"),
            (GENERALIZED_TIME, "20260101000000.5Z"),
            (GENERALIZED_TIME, "20260101000000"),
            (OCTET_STRING, "20260101000000Z"),
        ] {
            assert!(parse_time(tag, s.as_bytes()).is_err(), "{s}");
        }
        assert!(parse_time(UTC_TIME, b"240229000000Z").is_ok());
        assert!(parse_time(GENERALIZED_TIME, b"21000229000000Z").is_err());
        assert!(parse_time(GENERALIZED_TIME, b"20000229000000Z").is_ok());
    }

    #[test]
    fn uints() {
        assert_eq!(uint(&[]), vec![2, 1, 0]);
        assert_eq!(uint(&[0, 0]), vec![2, 1, 0]);
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(parse_uint(&[0, 0x80]).unwrap(), &[0x80]);
        assert_eq!(parse_uint(&[0]).unwrap(), &[] as &[u8]);
        assert!(parse_uint(&[0, 0x7f]).is_err());
        assert!(parse_uint(&[0x80]).is_err());
        assert!(parse_uint(&[]).is_err());
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24] {
            let mut v = Vec::new();
            write_header(&mut v, 0x30, len);
            assert_eq!(v.len(), header_len(len), "{len}");
        }
    }
}
