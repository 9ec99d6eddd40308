//! A strict, self-contained X.509 certificate reader for path validation.
//!
//! Everything the validator needs is decoded once into [`CertInfo`]; the
//! checks themselves live in the sibling modules. Structural errors (bad DER,
//! duplicate extensions, a malformed extension the validator must understand)
//! make the whole certificate unusable; unknown extensions are kept by OID so
//! that a critical one can be refused at the point it matters (an unused
//! certificate with one is harmless).

use const_oid::ObjectIdentifier as Oid;
use jiff::Timestamp;

use crate::derw::{self, Tlv, split_tlv};

/// Tags used below.
pub(crate) const SEQ: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INT: u8 = 0x02;
pub(crate) const BITS: u8 = 0x03;
pub(crate) const OCTETS: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const BOOL: u8 = 0x01;
pub(crate) const ENUM: u8 = 0x0a;

pub(crate) type PResult<T> = Result<T, String>;

/// Sequential reader over the content of a constructed value.
pub(crate) struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    pub(crate) fn new(content: &'a [u8]) -> Self {
        Der { rest: content }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }
    pub(crate) fn any(&mut self, what: &str) -> PResult<Tlv<'a>> {
        let t = split_tlv(self.rest).ok_or_else(|| format!("{what}: bad or truncated DER"))?;
        self.rest = t.rest;
        Ok(t)
    }
    pub(crate) fn expect(&mut self, tag: u8, what: &str) -> PResult<Tlv<'a>> {
        if self.peek() != Some(tag) {
            return Err(format!("{what}: missing or wrong tag"));
        }
        self.any(what)
    }
    pub(crate) fn optional(&mut self, tag: u8, what: &str) -> PResult<Option<Tlv<'a>>> {
        if self.peek() == Some(tag) {
            self.any(what).map(Some)
        } else {
            Ok(None)
        }
    }
    pub(crate) fn finish(&self, what: &str) -> PResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected data after {what}"))
        }
    }
}

/// The single TLV that `input` must consist of.
pub(crate) fn single<'a>(input: &'a [u8], tag: u8, what: &str) -> PResult<Tlv<'a>> {
    let t = split_tlv(input).ok_or_else(|| format!("{what}: bad DER"))?;
    if t.tag != tag || !t.rest.is_empty() {
        return Err(format!("{what}: wrong tag or trailing data"));
    }
    Ok(t)
}

pub(crate) fn oid_of(content: &[u8]) -> PResult<Oid> {
    Oid::from_bytes(content).map_err(|_| "invalid OBJECT IDENTIFIER".to_owned())
}

pub(crate) fn parse_bool(t: &Tlv<'_>) -> PResult<bool> {
    match t.content {
        [0xff] => Ok(true),
        [0x00] => Ok(false),
        _ => Err("bad BOOLEAN".into()),
    }
}

/// A non-negative INTEGER that fits in u64.
pub(crate) fn parse_small_uint(content: &[u8]) -> PResult<u64> {
    let m = derw::parse_uint(content).map_err(str::to_owned)?;
    if m.len() > 8 {
        return Err("INTEGER too large".into());
    }
    Ok(m.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// One AttributeTypeAndValue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Atv {
    pub oid: Vec<u8>,
    pub tag: u8,
    pub value: Vec<u8>,
}

/// A distinguished name: its DER and its RDNs, each with a comparison key
/// (RFC 5280 §7.1: case-insensitive, whitespace-folded strings).
#[derive(Clone, Debug)]
pub struct Name {
    pub(crate) der: Vec<u8>,
    pub(crate) rdns: Vec<Vec<Atv>>,
    /// Per RDN: the sorted normalized attribute keys.
    pub(crate) norm: Vec<Vec<Vec<u8>>>,
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der || self.norm == other.norm
    }
}
impl Eq for Name {}

pub(crate) const AT_CN: &[u8] = &[0x55, 0x04, 0x03];
pub(crate) const AT_EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];

impl Name {
    pub(crate) fn parse(whole: &[u8]) -> PResult<Name> {
        let t = single(whole, SEQ, "Name")?;
        let mut r = Der::new(t.content);
        let mut rdns = Vec::new();
        let mut norm = Vec::new();
        while !r.is_empty() {
            let set = r.expect(SET, "RelativeDistinguishedName")?;
            let mut sr = Der::new(set.content);
            let mut atvs = Vec::new();
            let mut keys = Vec::new();
            while !sr.is_empty() {
                let a = sr.expect(SEQ, "AttributeTypeAndValue")?;
                let mut ar = Der::new(a.content);
                let oid = ar.expect(OID, "attribute type")?;
                let v = ar.any("attribute value")?;
                ar.finish("AttributeTypeAndValue")?;
                keys.push(norm_key(oid.content, v.tag, v.content));
                atvs.push(Atv {
                    oid: oid.content.to_vec(),
                    tag: v.tag,
                    value: v.content.to_vec(),
                });
            }
            if atvs.is_empty() {
                return Err("empty RelativeDistinguishedName".into());
            }
            keys.sort();
            rdns.push(atvs);
            norm.push(keys);
        }
        Ok(Name {
            der: whole.to_vec(),
            rdns,
            norm,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// A flat key for hashing (equal names have equal keys).
    pub(crate) fn key(&self) -> Vec<u8> {
        let mut k = Vec::new();
        for rdn in &self.norm {
            k.push(0xfe);
            for a in rdn {
                k.push(0xfd);
                k.extend_from_slice(a);
            }
        }
        k
    }

    /// All values of one attribute type, as text where possible.
    pub(crate) fn attr_strings(&self, oid: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.rdns
            .iter()
            .flatten()
            .filter(|a| a.oid == oid)
            .map(|a| (a.tag, a.value.clone()))
            .collect()
    }

    /// `a` is a prefix of (or equal to) `self` (directoryName constraints).
    pub(crate) fn starts_with(&self, a: &Name) -> bool {
        a.norm.len() <= self.norm.len() && self.norm.iter().zip(&a.norm).all(|(x, y)| x == y)
    }

    /// RFC 4514-ish text, in encoded order: `CN=Leaf, O=Example`.
    pub fn display(&self) -> String {
        let mut parts = Vec::new();
        for rdn in &self.rdns {
            let s: Vec<String> = rdn
                .iter()
                .map(|a| format!("{}={}", attr_name(&a.oid), string_value(a.tag, &a.value)))
                .collect();
            parts.push(s.join("+"));
        }
        parts.join(", ")
    }
}

fn attr_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        [0x55, 0x04, 0x05] => "serialNumber".into(),
        [0x55, 0x04, 0x41] => "pseudonym".into(),
        x if x == AT_EMAIL => "emailAddress".into(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC".into(),
        x => Oid::from_bytes(x)
            .map(|o| o.to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}

/// Decodes a directory string for display / comparison; `None` for
/// non-string types.
pub(crate) fn decode_string(tag: u8, v: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, VisibleString, NumericString
        0x0c | 0x13 | 0x16 | 0x1a | 0x12 => std::str::from_utf8(v).ok().map(str::to_owned),
        // TeletexString: treat as Latin-1.
        0x14 => Some(v.iter().map(|b| char::from(*b)).collect()),
        // BMPString
        0x1e if v.len().is_multiple_of(2) => {
            let u: Vec<u16> = v
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&u).ok()
        }
        // UniversalString
        0x1c if v.len().is_multiple_of(4) => v
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

fn string_value(tag: u8, v: &[u8]) -> String {
    match decode_string(tag, v) {
        Some(s) => s
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
        None => format!("#{}", derw::hex_upper(v)),
    }
}

fn norm_key(oid: &[u8], tag: u8, v: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(oid.len() + v.len() + 4);
    k.extend_from_slice(oid);
    k.push(0xff);
    match decode_string(tag, v) {
        Some(s) => {
            k.push(b's');
            let folded: Vec<&str> = s.split_whitespace().collect();
            k.extend_from_slice(folded.join(" ").to_lowercase().as_bytes());
        }
        None => {
            k.push(b'r');
            k.push(tag);
            k.extend_from_slice(v);
        }
    }
    k
}

// ---------------------------------------------------------------------------
// GeneralName
// ---------------------------------------------------------------------------

/// A GeneralName (RFC 5280 §4.2.1.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneralName {
    /// otherName: its type-id.
    OtherName(Oid),
    /// rfc822Name.
    Rfc822(String),
    /// dNSName.
    Dns(String),
    /// x400Address (not interpreted).
    X400,
    /// directoryName.
    Directory(Name),
    /// ediPartyName (not interpreted).
    EdiParty,
    /// uniformResourceIdentifier.
    Uri(String),
    /// iPAddress: 4 or 16 octets in a SAN, 8 or 32 (address + mask) in a
    /// name constraint.
    Ip(Vec<u8>),
    /// registeredID.
    Rid(Oid),
}

impl GeneralName {
    pub(crate) fn form(&self) -> u8 {
        match self {
            GeneralName::OtherName(_) => 0,
            GeneralName::Rfc822(_) => 1,
            GeneralName::Dns(_) => 2,
            GeneralName::X400 => 3,
            GeneralName::Directory(_) => 4,
            GeneralName::EdiParty => 5,
            GeneralName::Uri(_) => 6,
            GeneralName::Ip(_) => 7,
            GeneralName::Rid(_) => 8,
        }
    }
}

fn ia5(v: &[u8], what: &str) -> PResult<String> {
    if v.iter().any(|b| *b >= 0x80) {
        return Err(format!("{what} is not an IA5String"));
    }
    String::from_utf8(v.to_vec()).map_err(|_| format!("{what} is not an IA5String"))
}

pub(crate) fn parse_general_name(t: &Tlv<'_>) -> PResult<GeneralName> {
    Ok(match t.tag {
        0xa0 => {
            let mut r = Der::new(t.content);
            let oid = r.expect(OID, "otherName type-id")?;
            r.expect(0xa0, "otherName value")?;
            r.finish("otherName")?;
            GeneralName::OtherName(oid_of(oid.content)?)
        }
        0x81 => GeneralName::Rfc822(ia5(t.content, "rfc822Name")?),
        0x82 => GeneralName::Dns(ia5(t.content, "dNSName")?),
        0xa3 => GeneralName::X400,
        0xa4 => {
            let inner = split_tlv(t.content)
                .filter(|x| x.rest.is_empty())
                .ok_or("directoryName: bad DER")?;
            GeneralName::Directory(Name::parse(inner.whole)?)
        }
        0xa5 => GeneralName::EdiParty,
        0x86 => GeneralName::Uri(ia5(t.content, "uniformResourceIdentifier")?),
        0x87 => GeneralName::Ip(t.content.to_vec()),
        0x88 => GeneralName::Rid(oid_of(t.content)?),
        _ => return Err("unknown GeneralName choice".into()),
    })
}

pub(crate) fn parse_general_names(content: &[u8]) -> PResult<Vec<GeneralName>> {
    let mut r = Der::new(content);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(parse_general_name(&r.any("GeneralName")?)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Algorithms and keys
// ---------------------------------------------------------------------------

/// Hash functions of signature algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn len(self) -> u64 {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// A signature algorithm as far as it is understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SigAlg {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
    Ed25519,
    Unsupported(String),
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
const OID_RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const OID_RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
const OID_ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const OID_ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_EC_PUBKEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_P192: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01];
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

fn hash_alg(t: &Tlv<'_>) -> PResult<Hash> {
    let mut r = Der::new(t.content);
    let oid = r.expect(OID, "hash algorithm")?;
    if !r.is_empty() {
        let p = r.any("hash parameters")?;
        if p.tag != NULL || !p.content.is_empty() {
            return Err("hash algorithm parameters must be NULL".into());
        }
    }
    r.finish("hash AlgorithmIdentifier")?;
    match oid.content {
        OID_SHA1 => Ok(Hash::Sha1),
        OID_SHA256 => Ok(Hash::Sha256),
        OID_SHA384 => Ok(Hash::Sha384),
        OID_SHA512 => Ok(Hash::Sha512),
        _ => Err("unsupported hash in RSASSA-PSS parameters".into()),
    }
}

fn pss_params(params: Option<&Tlv<'_>>) -> SigAlg {
    let inner = || -> PResult<Hash> {
        let p = params.ok_or("RSASSA-PSS without parameters")?;
        if p.tag != SEQ {
            return Err("RSASSA-PSS parameters are not a SEQUENCE".into());
        }
        let mut r = Der::new(p.content);
        let hash = match r.optional(0xa0, "hashAlgorithm")? {
            Some(h) => hash_alg(&single(h.content, SEQ, "hashAlgorithm")?)?,
            None => Hash::Sha1,
        };
        let mgf_hash = match r.optional(0xa1, "maskGenAlgorithm")? {
            Some(m) => {
                let m = single(m.content, SEQ, "maskGenAlgorithm")?;
                let mut mr = Der::new(m.content);
                if mr.expect(OID, "MGF")?.content != OID_MGF1 {
                    return Err("MGF is not MGF1".into());
                }
                let h = hash_alg(&mr.expect(SEQ, "MGF1 hash")?)?;
                mr.finish("maskGenAlgorithm")?;
                h
            }
            None => Hash::Sha1,
        };
        let salt = match r.optional(0xa2, "saltLength")? {
            Some(s) => parse_small_uint(single(s.content, INT, "saltLength")?.content)?,
            None => 20,
        };
        if let Some(tf) = r.optional(0xa3, "trailerField")?
            && parse_small_uint(single(tf.content, INT, "trailerField")?.content)? != 1
        {
            return Err("trailerField must be 1".into());
        }
        r.finish("RSASSA-PSS parameters")?;
        if mgf_hash != hash || salt != hash.len() {
            return Err(
                "RSASSA-PSS parameters: MGF1 hash and salt length must match the hash".into(),
            );
        }
        Ok(hash)
    };
    match inner() {
        Ok(Hash::Sha1) => SigAlg::Unsupported("RSASSA-PSS with SHA-1".into()),
        Ok(h) => SigAlg::RsaPss(h),
        Err(e) => SigAlg::Unsupported(e),
    }
}

pub(crate) fn parse_sig_alg(content: &[u8]) -> PResult<SigAlg> {
    let mut r = Der::new(content);
    let oid = r.expect(OID, "algorithm")?;
    let params = if r.is_empty() {
        None
    } else {
        Some(r.any("parameters")?)
    };
    r.finish("AlgorithmIdentifier")?;
    let null_or_absent = params
        .as_ref()
        .is_none_or(|p| p.tag == NULL && p.content.is_empty());
    let absent = params.is_none();
    let rsa = |h| {
        if null_or_absent {
            SigAlg::RsaPkcs1(h)
        } else {
            SigAlg::Unsupported("RSA PKCS#1 with non-NULL parameters".into())
        }
    };
    let ec = |h| {
        if absent {
            SigAlg::Ecdsa(h)
        } else {
            SigAlg::Unsupported("ECDSA with parameters".into())
        }
    };
    Ok(match oid.content {
        OID_RSA_SHA1 => rsa(Hash::Sha1),
        OID_RSA_SHA256 => rsa(Hash::Sha256),
        OID_RSA_SHA384 => rsa(Hash::Sha384),
        OID_RSA_SHA512 => rsa(Hash::Sha512),
        OID_RSA_PSS => pss_params(params.as_ref()),
        OID_ECDSA_SHA1 => ec(Hash::Sha1),
        OID_ECDSA_SHA256 => ec(Hash::Sha256),
        OID_ECDSA_SHA384 => ec(Hash::Sha384),
        OID_ECDSA_SHA512 => ec(Hash::Sha512),
        OID_ED25519 if absent => SigAlg::Ed25519,
        other => SigAlg::Unsupported(
            oid_of(other)
                .map(|o| format!("signature algorithm {o}"))
                .unwrap_or_else(|_| "invalid signature algorithm".into()),
        ),
    })
}

/// Elliptic curves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

/// A subject public key as far as it is understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa {
        bits: usize,
    },
    Ec(Curve),
    Ed25519,
    /// Understood but not acceptable / not verifiable (DSA, P-192, explicit
    /// curves, unknown algorithms, a malformed key).
    Other(String),
}

/// The content of a SubjectPublicKeyInfo: what kind of key, and the key bits.
pub(crate) fn parse_spki(content: &[u8]) -> PResult<(KeyKind, &[u8])> {
    let mut sr = Der::new(content);
    let kalg = sr.expect(SEQ, "SPKI algorithm")?;
    let kbits = sr.expect(BITS, "subjectPublicKey")?;
    sr.finish("subjectPublicKeyInfo")?;
    let public_key = match kbits.content {
        [0, rest @ ..] => rest,
        _ => return Err("subjectPublicKey has unused bits".into()),
    };
    Ok((parse_key(kalg.content, public_key), public_key))
}

fn parse_key(alg: &[u8], key: &[u8]) -> KeyKind {
    let mut r = Der::new(alg);
    let Ok(oid) = r.expect(OID, "key algorithm") else {
        return KeyKind::Other("malformed key algorithm".into());
    };
    let params = if r.is_empty() { None } else { r.any("p").ok() };
    match oid.content {
        OID_RSA => {
            if params
                .as_ref()
                .is_some_and(|p| p.tag != NULL || !p.content.is_empty())
            {
                return KeyKind::Other("rsaEncryption with non-NULL parameters".into());
            }
            let parsed = (|| -> PResult<usize> {
                let s = single(key, SEQ, "RSAPublicKey")?;
                let mut kr = Der::new(s.content);
                let n = kr.expect(INT, "modulus")?;
                let e = kr.expect(INT, "exponent")?;
                kr.finish("RSAPublicKey")?;
                let n = derw::parse_uint(n.content).map_err(str::to_owned)?;
                derw::parse_uint(e.content).map_err(str::to_owned)?;
                let first = n.first().copied().ok_or("zero modulus")?;
                Ok(n.len() * 8 - first.leading_zeros() as usize)
            })();
            match parsed {
                Ok(bits) => KeyKind::Rsa { bits },
                Err(e) => KeyKind::Other(format!("malformed RSA public key: {e}")),
            }
        }
        OID_EC_PUBKEY => match params {
            Some(p) if p.tag == OID => {
                let curve = match p.content {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    OID_P521 => Curve::P521,
                    OID_P192 => return KeyKind::Other("EC key on P-192".into()),
                    _ => return KeyKind::Other("EC key on an unsupported curve".into()),
                };
                let want = match curve {
                    Curve::P256 => 65,
                    Curve::P384 => 97,
                    Curve::P521 => 133,
                };
                if key.len() != want || key.first() != Some(&4) {
                    return KeyKind::Other("malformed or compressed EC point".into());
                }
                KeyKind::Ec(curve)
            }
            Some(_) => KeyKind::Other("EC key with explicit curve parameters".into()),
            None => KeyKind::Other("EC key without curve".into()),
        },
        OID_ED25519 if params.is_none() && key.len() == 32 => KeyKind::Ed25519,
        OID_DSA => KeyKind::Other("DSA key".into()),
        other => KeyKind::Other(
            oid_of(other)
                .map(|o| format!("key algorithm {o}"))
                .unwrap_or_else(|_| "invalid key algorithm".into()),
        ),
    }
}

// ---------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------

pub(crate) const KU_KEY_CERT_SIGN: u16 = 1 << 5;
pub(crate) const KU_CRL_SIGN: u16 = 1 << 6;

/// One GeneralSubtree (minimum/maximum are checked to be absent/0).
#[derive(Clone, Debug)]
pub(crate) struct Subtree {
    pub base: GeneralName,
}

/// The nameConstraints extension.
#[derive(Clone, Debug)]
pub(crate) struct NameConstraints {
    pub critical: bool,
    pub permitted: Vec<Subtree>,
    pub excluded: Vec<Subtree>,
}

/// One PolicyInformation (qualifiers are not interpreted).
#[derive(Clone, Debug)]
pub(crate) struct PolicyInfo {
    pub oid: Oid,
}

/// A DistributionPoint of cRLDistributionPoints.
#[derive(Clone, Debug, Default)]
pub(crate) struct DistPoint {
    pub full_name: Vec<GeneralName>,
    pub relative: bool,
    pub reasons: Option<u16>,
    pub crl_issuer: Vec<GeneralName>,
}

/// Decoded v3 extensions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exts {
    /// (critical, cA, pathLenConstraint)
    pub basic_constraints: Option<(bool, bool, Option<u64>)>,
    /// (critical, bits; bit 0 = digitalSignature)
    pub key_usage: Option<(bool, u16)>,
    pub eku: Option<(bool, Vec<Oid>)>,
    pub san: Option<(bool, Vec<GeneralName>)>,
    pub name_constraints: Option<NameConstraints>,
    pub policies: Option<(bool, Vec<PolicyInfo>)>,
    pub policy_mappings: Option<Vec<(Oid, Oid)>>,
    /// (critical, requireExplicitPolicy, inhibitPolicyMapping)
    pub policy_constraints: Option<(bool, Option<u64>, Option<u64>)>,
    pub inhibit_any_policy: Option<u64>,
    pub ski: Option<(bool, Vec<u8>)>,
    /// (critical, keyIdentifier, has authorityCertIssuer, has serial)
    pub aki: Option<(bool, Option<Vec<u8>>, bool, bool)>,
    pub crl_dps: Vec<DistPoint>,
    pub aia_critical: Option<bool>,
    pub unknown_critical: Vec<Oid>,
}

fn name(s: &'static str) -> impl Fn(String) -> String {
    move |e: String| format!("{s}: {e}")
}

fn ext_ku(v: &[u8]) -> PResult<u16> {
    let t = single(v, BITS, "keyUsage")?;
    let (unused, bytes) = t
        .content
        .split_first()
        .ok_or("keyUsage: empty BIT STRING")?;
    if *unused > 7 || bytes.len() > 2 || (bytes.is_empty() && *unused != 0) {
        return Err("keyUsage: bad BIT STRING".into());
    }
    let mut bits = 0u16;
    for (i, b) in bytes.iter().enumerate() {
        for j in 0..8 {
            if b & (0x80 >> j) != 0 {
                bits |= 1 << (i * 8 + j);
            }
        }
    }
    Ok(bits)
}

fn ext_subtrees(content: &[u8]) -> PResult<Vec<Subtree>> {
    let mut r = Der::new(content);
    let mut out = Vec::new();
    while !r.is_empty() {
        let s = r.expect(SEQ, "GeneralSubtree")?;
        let mut sr = Der::new(s.content);
        let base = parse_general_name(&sr.any("base")?)?;
        if let Some(min) = sr.optional(0x80, "minimum")?
            && parse_small_uint(min.content)? != 0
        {
            return Err("GeneralSubtree minimum must be 0".into());
        }
        if sr.optional(0x81, "maximum")?.is_some() {
            return Err("GeneralSubtree maximum must be absent".into());
        }
        sr.finish("GeneralSubtree")?;
        out.push(Subtree { base });
    }
    if out.is_empty() {
        return Err("empty GeneralSubtrees".into());
    }
    Ok(out)
}

fn ext_dps(v: &[u8]) -> PResult<Vec<DistPoint>> {
    let t = single(v, SEQ, "cRLDistributionPoints")?;
    let mut r = Der::new(t.content);
    let mut out = Vec::new();
    while !r.is_empty() {
        let dp = r.expect(SEQ, "DistributionPoint")?;
        let mut dr = Der::new(dp.content);
        let mut d = DistPoint::default();
        if let Some(n) = dr.optional(0xa0, "distributionPoint")? {
            let inner = split_tlv(n.content)
                .filter(|x| x.rest.is_empty())
                .ok_or("distributionPoint: bad DER")?;
            match inner.tag {
                0xa0 => d.full_name = parse_general_names(inner.content)?,
                0xa1 => d.relative = true,
                _ => return Err("bad DistributionPointName".into()),
            }
        }
        if let Some(rs) = dr.optional(0x81, "reasons")? {
            d.reasons = Some(reason_flags(rs.content)?);
        }
        if let Some(ci) = dr.optional(0xa2, "cRLIssuer")? {
            d.crl_issuer = parse_general_names(ci.content)?;
        }
        dr.finish("DistributionPoint")?;
        out.push(d);
    }
    Ok(out)
}

/// ReasonFlags BIT STRING content → bits (bit 0 = unused).
pub(crate) fn reason_flags(content: &[u8]) -> PResult<u16> {
    let (unused, bytes) = content.split_first().ok_or("ReasonFlags: empty")?;
    if *unused > 7 || bytes.len() > 2 {
        return Err("ReasonFlags: bad BIT STRING".into());
    }
    let mut bits = 0u16;
    for (i, b) in bytes.iter().enumerate() {
        for j in 0..8 {
            if b & (0x80 >> j) != 0 {
                bits |= 1 << (i * 8 + j);
            }
        }
    }
    Ok(bits)
}

fn parse_exts(content: &[u8]) -> PResult<Exts> {
    let mut x = Exts::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut r = Der::new(content);
    if r.is_empty() {
        return Err("empty Extensions".into());
    }
    while !r.is_empty() {
        let e = r.expect(SEQ, "Extension")?;
        let mut er = Der::new(e.content);
        let oid = er.expect(OID, "extnID")?.content;
        let critical = match er.optional(BOOL, "critical")? {
            Some(b) => parse_bool(&b)?,
            None => false,
        };
        let v = er.expect(OCTETS, "extnValue")?.content;
        er.finish("Extension")?;
        if seen.contains(&oid) {
            return Err(format!(
                "extension {} appears more than once",
                oid_of(oid).map(|o| o.to_string()).unwrap_or_default()
            ));
        }
        seen.push(oid);
        match oid {
            // basicConstraints
            [0x55, 0x1d, 0x13] => {
                let t = single(v, SEQ, "basicConstraints")?;
                let mut br = Der::new(t.content);
                let ca = match br.optional(BOOL, "cA")? {
                    Some(b) => parse_bool(&b)?,
                    None => false,
                };
                let pl = match br.optional(INT, "pathLenConstraint")? {
                    Some(p) => Some(parse_small_uint(p.content).map_err(name("pathLen"))?),
                    None => None,
                };
                br.finish("basicConstraints")?;
                x.basic_constraints = Some((critical, ca, pl));
            }
            // keyUsage
            [0x55, 0x1d, 0x0f] => x.key_usage = Some((critical, ext_ku(v)?)),
            // extKeyUsage
            [0x55, 0x1d, 0x25] => {
                let t = single(v, SEQ, "extKeyUsage")?;
                let mut er = Der::new(t.content);
                let mut list = Vec::new();
                while !er.is_empty() {
                    list.push(oid_of(er.expect(OID, "KeyPurposeId")?.content)?);
                }
                if list.is_empty() {
                    return Err("extKeyUsage is empty".into());
                }
                x.eku = Some((critical, list));
            }
            // subjectAltName
            [0x55, 0x1d, 0x11] => {
                let t = single(v, SEQ, "subjectAltName").map_err(name("subjectAltName"))?;
                let names = parse_general_names(t.content).map_err(name("subjectAltName"))?;
                if names.is_empty() {
                    return Err("subjectAltName is empty".into());
                }
                x.san = Some((critical, names));
            }
            // nameConstraints
            [0x55, 0x1d, 0x1e] => {
                let t = single(v, SEQ, "nameConstraints")?;
                let mut nr = Der::new(t.content);
                let permitted = match nr.optional(0xa0, "permittedSubtrees")? {
                    Some(p) => ext_subtrees(p.content).map_err(name("permittedSubtrees"))?,
                    None => Vec::new(),
                };
                let excluded = match nr.optional(0xa1, "excludedSubtrees")? {
                    Some(p) => ext_subtrees(p.content).map_err(name("excludedSubtrees"))?,
                    None => Vec::new(),
                };
                nr.finish("nameConstraints")?;
                if permitted.is_empty() && excluded.is_empty() {
                    return Err(
                        "nameConstraints has neither permitted nor excluded subtrees".into(),
                    );
                }
                x.name_constraints = Some(NameConstraints {
                    critical,
                    permitted,
                    excluded,
                });
            }
            // certificatePolicies
            [0x55, 0x1d, 0x20] => {
                let t = single(v, SEQ, "certificatePolicies")?;
                let mut pr = Der::new(t.content);
                let mut list: Vec<PolicyInfo> = Vec::new();
                while !pr.is_empty() {
                    let pi = pr.expect(SEQ, "PolicyInformation")?;
                    let mut ir = Der::new(pi.content);
                    let oid = oid_of(ir.expect(OID, "policyIdentifier")?.content)?;
                    ir.optional(SEQ, "policyQualifiers")?;
                    ir.finish("PolicyInformation")?;
                    if list.iter().any(|p| p.oid == oid) {
                        return Err("certificatePolicies repeats a policy".into());
                    }
                    list.push(PolicyInfo { oid });
                }
                if list.is_empty() {
                    return Err("certificatePolicies is empty".into());
                }
                x.policies = Some((critical, list));
            }
            // policyMappings
            [0x55, 0x1d, 0x21] => {
                let t = single(v, SEQ, "policyMappings")?;
                let mut pr = Der::new(t.content);
                let mut list = Vec::new();
                while !pr.is_empty() {
                    let m = pr.expect(SEQ, "PolicyMapping")?;
                    let mut mr = Der::new(m.content);
                    let a = oid_of(mr.expect(OID, "issuerDomainPolicy")?.content)?;
                    let b = oid_of(mr.expect(OID, "subjectDomainPolicy")?.content)?;
                    mr.finish("PolicyMapping")?;
                    list.push((a, b));
                }
                if list.is_empty() {
                    return Err("policyMappings is empty".into());
                }
                x.policy_mappings = Some(list);
            }
            // policyConstraints
            [0x55, 0x1d, 0x24] => {
                let t = single(v, SEQ, "policyConstraints")?;
                let mut pr = Der::new(t.content);
                let req = match pr.optional(0x80, "requireExplicitPolicy")? {
                    Some(p) => Some(parse_small_uint(p.content)?),
                    None => None,
                };
                let inh = match pr.optional(0x81, "inhibitPolicyMapping")? {
                    Some(p) => Some(parse_small_uint(p.content)?),
                    None => None,
                };
                pr.finish("policyConstraints")?;
                if req.is_none() && inh.is_none() {
                    return Err("policyConstraints is empty".into());
                }
                x.policy_constraints = Some((critical, req, inh));
            }
            // inhibitAnyPolicy
            [0x55, 0x1d, 0x36] => {
                x.inhibit_any_policy = Some(parse_small_uint(
                    single(v, INT, "inhibitAnyPolicy")?.content,
                )?);
            }
            // subjectKeyIdentifier
            [0x55, 0x1d, 0x0e] => {
                x.ski = Some((
                    critical,
                    single(v, OCTETS, "subjectKeyIdentifier")?.content.to_vec(),
                ));
            }
            // authorityKeyIdentifier
            [0x55, 0x1d, 0x23] => {
                let t = single(v, SEQ, "authorityKeyIdentifier")?;
                let mut ar = Der::new(t.content);
                let kid = ar
                    .optional(0x80, "keyIdentifier")?
                    .map(|k| k.content.to_vec());
                let iss = ar.optional(0xa1, "authorityCertIssuer")?.is_some();
                let ser = ar.optional(0x82, "authorityCertSerialNumber")?.is_some();
                ar.finish("authorityKeyIdentifier")?;
                x.aki = Some((critical, kid, iss, ser));
            }
            // cRLDistributionPoints
            [0x55, 0x1d, 0x1f] => x.crl_dps = ext_dps(v)?,
            // authorityInfoAccess
            [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01] => {
                let t = single(v, SEQ, "authorityInfoAccess")?;
                let mut ar = Der::new(t.content);
                if ar.is_empty() {
                    return Err("authorityInfoAccess is empty".into());
                }
                while !ar.is_empty() {
                    let ad = ar.expect(SEQ, "AccessDescription")?;
                    let mut dr = Der::new(ad.content);
                    dr.expect(OID, "accessMethod")?;
                    parse_general_name(&dr.any("accessLocation")?)?;
                    dr.finish("AccessDescription")?;
                }
                x.aia_critical = Some(critical);
            }
            _ => {
                if critical {
                    x.unknown_critical.push(oid_of(oid)?);
                }
            }
        }
    }
    Ok(x)
}

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/// A decoded certificate, as the path validator sees it.
#[derive(Clone, Debug)]
pub struct CertInfo {
    pub(crate) der: Vec<u8>,
    pub(crate) tbs: std::ops::Range<usize>,
    pub(crate) sig_alg: SigAlg,
    pub(crate) signature: Vec<u8>,
    /// 0 = v1, 1 = v2, 2 = v3.
    pub(crate) version: u8,
    /// Serial number content octets as encoded (two's complement).
    pub(crate) serial: Vec<u8>,
    pub(crate) issuer: Name,
    pub(crate) subject: Name,
    pub(crate) not_before: Timestamp,
    pub(crate) not_after: Timestamp,
    pub(crate) spki: Vec<u8>,
    /// The subjectPublicKey BIT STRING content (without the unused-bits octet).
    pub(crate) public_key: Vec<u8>,
    pub(crate) key: KeyKind,
    pub(crate) exts: Exts,
    pub(crate) self_issued: bool,
}

impl CertInfo {
    /// Decodes a DER certificate.
    pub fn parse(der: &[u8]) -> Result<CertInfo, String> {
        let outer = single(der, SEQ, "Certificate")?;
        let mut r = Der::new(outer.content);
        let tbs = r.expect(SEQ, "tbsCertificate")?;
        let alg = r.expect(SEQ, "signatureAlgorithm")?;
        let sig = r.expect(BITS, "signatureValue")?;
        r.finish("signatureValue")?;
        let signature = match sig.content {
            [0, rest @ ..] => rest.to_vec(),
            _ => return Err("signatureValue has unused bits".into()),
        };
        let tbs_start = der.len() - outer.content.len();
        let tbs_range = tbs_start..tbs_start + tbs.whole.len();

        let mut t = Der::new(tbs.content);
        let version = match t.optional(0xa0, "version")? {
            Some(v) => {
                let i = single(v.content, INT, "version")?;
                match i.content {
                    [1] => 1,
                    [2] => 2,
                    [0] => 0,
                    _ => return Err("unknown certificate version".into()),
                }
            }
            None => 0,
        };
        let serial = t.expect(INT, "serialNumber")?;
        if serial.content.is_empty()
            || (serial.content.len() > 1
                && ((serial.content[0] == 0 && serial.content[1] & 0x80 == 0)
                    || (serial.content[0] == 0xff && serial.content[1] & 0x80 != 0)))
        {
            return Err("serialNumber is not minimally encoded".into());
        }
        let inner_alg = t.expect(SEQ, "signature")?;
        if inner_alg.whole != alg.whole {
            return Err("tbsCertificate.signature differs from signatureAlgorithm".into());
        }
        let issuer = t.expect(SEQ, "issuer")?;
        let issuer = Name::parse(issuer.whole).map_err(|e| format!("issuer: {e}"))?;
        let validity = t.expect(SEQ, "validity")?;
        let mut vr = Der::new(validity.content);
        let nb = vr.any("notBefore")?;
        let na = vr.any("notAfter")?;
        vr.finish("validity")?;
        let not_before =
            derw::parse_time(nb.tag, nb.content).map_err(|e| format!("notBefore: {e}"))?;
        let not_after =
            derw::parse_time(na.tag, na.content).map_err(|e| format!("notAfter: {e}"))?;
        let subject = t.expect(SEQ, "subject")?;
        let subject = Name::parse(subject.whole).map_err(|e| format!("subject: {e}"))?;
        let spki = t.expect(SEQ, "subjectPublicKeyInfo")?;
        let (key, public_key) = parse_spki(spki.content)?;
        let public_key = public_key.to_vec();
        if t.optional(0x81, "issuerUniqueID")?.is_some()
            | t.optional(0x82, "subjectUniqueID")?.is_some()
            && version == 0
        {
            return Err("unique identifiers in a v1 certificate".into());
        }
        let exts = match t.optional(0xa3, "extensions")? {
            Some(e) => {
                if version != 2 {
                    return Err("extensions in a certificate that is not v3".into());
                }
                let s = single(e.content, SEQ, "Extensions")?;
                parse_exts(s.content)?
            }
            None => Exts::default(),
        };
        t.finish("tbsCertificate")?;
        let sig_alg = parse_sig_alg(alg.content)?;
        let self_issued = issuer == subject;
        Ok(CertInfo {
            der: der.to_vec(),
            tbs: tbs_range,
            sig_alg,
            signature,
            version,
            serial: serial.content.to_vec(),
            issuer,
            subject,
            not_before,
            not_after,
            spki: spki.whole.to_vec(),
            public_key,
            key,
            exts,
            self_issued,
        })
    }

    /// The DER as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number as encoded (two's complement content octets).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The issuer name, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer.der
    }

    /// The subject name, DER.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject.der
    }

    /// The subject, as text.
    pub fn subject_text(&self) -> String {
        self.subject.display()
    }

    /// The issuer, as text.
    pub fn issuer_text(&self) -> String {
        self.issuer.display()
    }

    /// SubjectPublicKeyInfo, DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The subjectPublicKey bits (what an OCSP CertID's issuerKeyHash hashes).
    pub fn public_key_bits(&self) -> &[u8] {
        &self.public_key
    }

    /// basicConstraints cA.
    pub fn is_ca(&self) -> bool {
        self.exts.basic_constraints.is_some_and(|b| b.1)
    }

    /// Validity start.
    pub fn not_before(&self) -> Timestamp {
        self.not_before
    }

    /// Validity end.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// subjectKeyIdentifier.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.exts.ski.as_ref().map(|s| s.1.as_slice())
    }

    /// authorityKeyIdentifier keyIdentifier.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.exts.aki.as_ref().and_then(|a| a.1.as_deref())
    }

    /// The subjectAltName entries.
    pub fn subject_alt_names(&self) -> &[GeneralName] {
        self.exts.san.as_ref().map_or(&[], |s| s.1.as_slice())
    }

    pub(crate) fn tbs_bytes(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or(&[])
    }

    pub(crate) fn key_usage(&self) -> Option<u16> {
        self.exts.key_usage.map(|k| k.1)
    }
}
