//! Offline revocation checking with CRLs (RFC 5280 §5, §6.3): complete
//! CRLs, partitioned CRLs (issuingDistributionPoint matched against the
//! certificate's cRLDistributionPoints), user-only / CA-only CRLs and delta
//! CRLs applied on top of their base.

use jiff::Timestamp;

use super::parse::{
    BITS, CertInfo, Der, ENUM, GeneralName, INT, KU_CRL_SIGN, Name, OCTETS, OID, PResult, SEQ,
    SigAlg, parse_bool, parse_general_names, parse_sig_alg, parse_small_uint, single,
};
use super::{PathOptions, RevocationChecker, RevocationSource, RevocationStatus, sig};
use crate::RevocationReason;
use crate::derw;

#[derive(Debug, Clone)]
struct Entry {
    serial: Vec<u8>,
    at: Timestamp,
    reason: Option<u8>,
}

#[derive(Debug, Clone, Default)]
struct Idp {
    full_name: Vec<GeneralName>,
    only_user: bool,
    only_ca: bool,
    only_reasons: bool,
    indirect: bool,
    only_attr: bool,
}

#[derive(Debug, Clone)]
struct ParsedCrl {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    sig_alg: SigAlg,
    signature: Vec<u8>,
    issuer: Name,
    this_update: Timestamp,
    next_update: Option<Timestamp>,
    /// Sorted by serial magnitude.
    entries: Vec<Entry>,
    number: Option<u64>,
    number_critical: bool,
    delta_base: Option<u64>,
    idp: Option<Idp>,
    aki: Option<Vec<u8>>,
    unusable: Option<String>,
}

fn magnitude(serial: &[u8]) -> &[u8] {
    let mut s = serial;
    while let [0, rest @ ..] = s {
        s = rest;
    }
    s
}

fn parse_time(t: &derw::Tlv<'_>, what: &str) -> PResult<Timestamp> {
    derw::parse_time(t.tag, t.content).map_err(|e| format!("{what}: {e}"))
}

fn parse_crl(der: &[u8]) -> PResult<ParsedCrl> {
    let outer = single(der, SEQ, "CertificateList")?;
    let mut r = Der::new(outer.content);
    let tbs = r.expect(SEQ, "tbsCertList")?;
    let alg = r.expect(SEQ, "signatureAlgorithm")?;
    let sig = r.expect(BITS, "signatureValue")?;
    r.finish("CertificateList")?;
    let signature = match sig.content {
        [0, rest @ ..] => rest.to_vec(),
        _ => return Err("signatureValue has unused bits".into()),
    };
    let start = der.len() - outer.content.len();
    let tbs_range = start..start + tbs.whole.len();
    let mut t = Der::new(tbs.content);
    let version = match t.optional(INT, "version")? {
        Some(v) if v.content == [1] => 2,
        Some(_) => return Err("unsupported CRL version".into()),
        None => 1,
    };
    let inner_alg = t.expect(SEQ, "signature")?;
    if inner_alg.whole != alg.whole {
        return Err("tbsCertList.signature differs from signatureAlgorithm".into());
    }
    let issuer = Name::parse(t.expect(SEQ, "issuer")?.whole)?;
    let this_update = parse_time(&t.any("thisUpdate")?, "thisUpdate")?;
    let next_update = match t.peek() {
        Some(0x17 | 0x18) => Some(parse_time(&t.any("nextUpdate")?, "nextUpdate")?),
        _ => None,
    };
    let mut crl = ParsedCrl {
        der: der.to_vec(),
        tbs: tbs_range,
        sig_alg: parse_sig_alg(alg.content)?,
        signature,
        issuer,
        this_update,
        next_update,
        entries: Vec::new(),
        number: None,
        number_critical: false,
        delta_base: None,
        idp: None,
        aki: None,
        unusable: None,
    };
    if let Some(list) = t.optional(SEQ, "revokedCertificates")? {
        let mut lr = Der::new(list.content);
        while !lr.is_empty() {
            let e = lr.expect(SEQ, "revokedCertificate")?;
            let mut er = Der::new(e.content);
            let serial = er.expect(INT, "userCertificate")?;
            let at = parse_time(&er.any("revocationDate")?, "revocationDate")?;
            let mut reason = None;
            if let Some(exts) = er.optional(SEQ, "crlEntryExtensions")? {
                if version == 1 {
                    return Err("a v1 CRL entry has extensions".into());
                }
                let mut xr = Der::new(exts.content);
                while !xr.is_empty() {
                    let x = xr.expect(SEQ, "Extension")?;
                    let mut xe = Der::new(x.content);
                    let oid = xe.expect(OID, "extnID")?.content;
                    let critical = match xe.optional(0x01, "critical")? {
                        Some(b) => parse_bool(&b)?,
                        None => false,
                    };
                    let v = xe.expect(OCTETS, "extnValue")?.content;
                    xe.finish("Extension")?;
                    match oid {
                        [0x55, 0x1d, 0x15] => {
                            let t = single(v, ENUM, "reasonCode")?;
                            match t.content {
                                [c] => reason = Some(*c),
                                _ => return Err("bad reasonCode".into()),
                            }
                        }
                        [0x55, 0x1d, 0x18] => {}
                        [0x55, 0x1d, 0x1d] => {
                            crl.unusable = Some(
                                "indirect CRL entries (certificateIssuer) are not supported".into(),
                            );
                        }
                        _ if critical => {
                            crl.unusable = Some("unknown critical CRL entry extension".into());
                        }
                        _ => {}
                    }
                }
            }
            er.finish("revokedCertificate")?;
            crl.entries.push(Entry {
                serial: magnitude(serial.content).to_vec(),
                at,
                reason,
            });
        }
    }
    if let Some(exts) = t.optional(0xa0, "crlExtensions")? {
        if version == 1 {
            return Err("a v1 CRL has extensions".into());
        }
        let s = single(exts.content, SEQ, "Extensions")?;
        let mut xr = Der::new(s.content);
        let mut seen: Vec<&[u8]> = Vec::new();
        while !xr.is_empty() {
            let x = xr.expect(SEQ, "Extension")?;
            let mut xe = Der::new(x.content);
            let oid = xe.expect(OID, "extnID")?.content;
            let critical = match xe.optional(0x01, "critical")? {
                Some(b) => parse_bool(&b)?,
                None => false,
            };
            let v = xe.expect(OCTETS, "extnValue")?.content;
            xe.finish("Extension")?;
            if seen.contains(&oid) {
                return Err("a CRL extension appears twice".into());
            }
            seen.push(oid);
            match oid {
                [0x55, 0x1d, 0x14] => {
                    crl.number = Some(parse_small_uint(single(v, INT, "cRLNumber")?.content)?);
                    crl.number_critical = critical;
                }
                [0x55, 0x1d, 0x1b] => {
                    crl.delta_base = Some(parse_small_uint(
                        single(v, INT, "deltaCRLIndicator")?.content,
                    )?);
                }
                [0x55, 0x1d, 0x23] => {
                    let a = single(v, SEQ, "authorityKeyIdentifier")?;
                    let mut ar = Der::new(a.content);
                    crl.aki = ar
                        .optional(0x80, "keyIdentifier")?
                        .map(|k| k.content.to_vec());
                }
                [0x55, 0x1d, 0x1c] => crl.idp = Some(parse_idp(v)?),
                // freshestCRL, authorityInfoAccess: informational.
                [0x55, 0x1d, 0x2e] | [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01] => {}
                _ if critical => {
                    crl.unusable = Some("unknown critical CRL extension".into());
                }
                _ => {}
            }
        }
    }
    t.finish("tbsCertList")?;
    crl.entries.sort_by(|a, b| {
        a.serial
            .len()
            .cmp(&b.serial.len())
            .then_with(|| a.serial.cmp(&b.serial))
    });
    Ok(crl)
}

fn parse_idp(v: &[u8]) -> PResult<Idp> {
    let s = single(v, SEQ, "issuingDistributionPoint")?;
    let mut r = Der::new(s.content);
    let mut idp = Idp::default();
    if let Some(dp) = r.optional(0xa0, "distributionPoint")? {
        let inner = derw::split_tlv(dp.content)
            .filter(|x| x.rest.is_empty())
            .ok_or("distributionPoint: bad DER")?;
        match inner.tag {
            0xa0 => idp.full_name = parse_general_names(inner.content)?,
            _ => return Err("nameRelativeToCRLIssuer is not supported".into()),
        }
    }
    let flag = |t: Option<derw::Tlv<'_>>| -> PResult<bool> {
        match t {
            Some(b) => match b.content {
                [0xff] => Ok(true),
                [0x00] => Ok(false),
                _ => Err("bad BOOLEAN".into()),
            },
            None => Ok(false),
        }
    };
    idp.only_user = flag(r.optional(0x81, "onlyContainsUserCerts")?)?;
    idp.only_ca = flag(r.optional(0x82, "onlyContainsCACerts")?)?;
    idp.only_reasons = r.optional(0x83, "onlySomeReasons")?.is_some();
    idp.indirect = flag(r.optional(0x84, "indirectCRL")?)?;
    idp.only_attr = flag(r.optional(0x85, "onlyContainsAttributeCerts")?)?;
    r.finish("issuingDistributionPoint")?;
    Ok(idp)
}

/// A set of CRLs for offline revocation checking.
#[derive(Debug, Clone, Default)]
pub struct CrlSet {
    crls: Vec<ParsedCrl>,
    rejected: Vec<String>,
    signers: Vec<CertInfo>,
}

impl CrlSet {
    /// From DER CRLs; ones that cannot be decoded are remembered (and named
    /// when a status is unknown).
    pub fn new(crls_der: Vec<Vec<u8>>) -> Self {
        let mut set = CrlSet::default();
        for (i, d) in crls_der.into_iter().enumerate() {
            match parse_crl(&d) {
                Ok(c) => set.crls.push(c),
                Err(e) => set.rejected.push(format!("CRL #{i} is malformed: {e}")),
            }
        }
        set
    }

    /// Certificates of separate CRL signing keys (a CA that signs CRLs with
    /// another key of the same name): such a certificate must have cRLSign and
    /// be issued by the certificate's issuer.
    pub fn with_crl_signers(mut self, certs_der: &[Vec<u8>]) -> Self {
        self.signers
            .extend(certs_der.iter().filter_map(|d| CertInfo::parse(d).ok()));
        self
    }

    /// How many CRLs were decoded.
    pub fn len(&self) -> usize {
        self.crls.len()
    }

    /// No CRL was decoded.
    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    fn check_signature(
        &self,
        crl: &ParsedCrl,
        issuer: &CertInfo,
        opts: &PathOptions,
    ) -> Result<(), String> {
        let tbs = crl.der.get(crl.tbs.clone()).unwrap_or(&[]);
        let try_signer = |s: &CertInfo| -> Result<(), String> {
            if s.key_usage().is_some_and(|k| k & KU_CRL_SIGN == 0) {
                return Err(format!(
                    "the CRL signer ({}) has a keyUsage without cRLSign",
                    s.subject_text()
                ));
            }
            sig::verify_raw(&crl.sig_alg, tbs, &crl.signature, s, opts.profile)
                .map_err(|e| format!("the CRL signature does not verify: {e}"))
        };
        let aki_fits = |s: &CertInfo| match (&crl.aki, s.subject_key_id()) {
            (Some(a), Some(k)) => a.as_slice() == k,
            _ => true,
        };
        let first = if aki_fits(issuer) {
            try_signer(issuer)
        } else {
            Err("the CRL's authorityKeyIdentifier is not the issuer's key".into())
        };
        if first.is_ok() {
            return first;
        }
        for s in &self.signers {
            if s.subject == crl.issuer
                && aki_fits(s)
                && s.key_usage().is_some_and(|k| k & KU_CRL_SIGN != 0)
                && sig::verify(s, issuer, opts.profile).is_ok()
                && try_signer(s).is_ok()
            {
                return Ok(());
            }
        }
        first
    }

    fn usable(
        &self,
        crl: &ParsedCrl,
        cert: &CertInfo,
        issuer: &CertInfo,
        opts: &PathOptions,
    ) -> Result<(), String> {
        if let Some(u) = &crl.unusable {
            return Err(u.clone());
        }
        if crl.number.is_none() {
            return Err("the CRL has no cRLNumber (RFC 5280 5.2.3)".into());
        }
        if crl.number_critical {
            return Err("the CRL's cRLNumber is marked critical".into());
        }
        let now = Timestamp::from_second(opts.time.as_second()).unwrap_or(opts.time);
        if let Some(nu) = crl.next_update
            && nu < now
        {
            return Err(format!("the CRL is stale (nextUpdate {nu})"));
        }
        if let Some(idp) = &crl.idp {
            if idp.indirect || idp.only_attr || idp.only_reasons {
                return Err(
                    "indirect, attribute-only or reason-partitioned CRLs are not supported".into(),
                );
            }
            if idp.only_user && cert.is_ca() {
                return Err("the CRL only covers end-entity certificates".into());
            }
            if idp.only_ca && !cert.is_ca() {
                return Err("the CRL only covers CA certificates".into());
            }
            if !idp.full_name.is_empty() {
                let covered = cert
                    .exts
                    .crl_dps
                    .iter()
                    .any(|dp| dp.full_name.iter().any(|n| idp.full_name.contains(n)));
                if !covered {
                    return Err(
                        "the CRL's issuingDistributionPoint is not one of the certificate's \
                         cRLDistributionPoints"
                            .into(),
                    );
                }
            }
        }
        self.check_signature(crl, issuer, opts)
    }

    fn source(crl: &ParsedCrl) -> RevocationSource {
        RevocationSource::Crl {
            issuer: crl.issuer.display(),
            number: crl.number,
            this_update: crl.this_update,
            next_update: crl.next_update,
            delta: crl.delta_base.is_some(),
        }
    }

    fn find<'a>(crl: &'a ParsedCrl, serial: &[u8]) -> Option<&'a Entry> {
        let s = magnitude(serial);
        crl.entries
            .binary_search_by(|e| {
                e.serial
                    .len()
                    .cmp(&s.len())
                    .then_with(|| e.serial.as_slice().cmp(s))
            })
            .ok()
            .and_then(|i| crl.entries.get(i))
    }
}

fn revoked(e: &Entry, crl: &ParsedCrl) -> RevocationStatus {
    RevocationStatus::Revoked {
        at: e.at,
        reason: e.reason.and_then(|c| RevocationReason::from_code(c).ok()),
        source: CrlSet::source(crl),
    }
}

impl RevocationChecker for CrlSet {
    fn status(
        &self,
        cert: &CertInfo,
        _cert_der: &[u8],
        issuer_der: &[u8],
        opts: &PathOptions,
    ) -> RevocationStatus {
        let issuer = match CertInfo::parse(issuer_der) {
            Ok(i) => i,
            Err(e) => {
                return RevocationStatus::Unknown {
                    why: format!("the issuer certificate is malformed: {e}"),
                };
            }
        };
        let mut why: Vec<String> = Vec::new();
        let mut full: Option<&ParsedCrl> = None;
        for crl in self
            .crls
            .iter()
            .filter(|c| c.delta_base.is_none() && c.issuer == cert.issuer)
        {
            match self.usable(crl, cert, &issuer, opts) {
                Ok(()) => {
                    if full.is_none_or(|f| crl.number > f.number) {
                        full = Some(crl);
                    }
                }
                Err(w) => why.push(w),
            }
        }
        let Some(full) = full else {
            if why.is_empty() {
                why.push(format!("no CRL from {}", cert.issuer_text()));
            }
            why.extend(self.rejected.iter().cloned());
            return RevocationStatus::Unknown {
                why: why.join("; "),
            };
        };
        let mut status = match CrlSet::find(full, &cert.serial) {
            Some(e) if e.reason != Some(8) => revoked(e, full),
            _ => RevocationStatus::Good {
                source: CrlSet::source(full),
            },
        };
        // The newest usable delta CRL based on (at most) this full CRL.
        let mut delta: Option<&ParsedCrl> = None;
        for d in self.crls.iter().filter(|c| {
            c.issuer == cert.issuer
                && c.delta_base.is_some_and(|b| Some(b) <= full.number)
                && c.number > full.number
        }) {
            if self.usable(d, cert, &issuer, opts).is_ok()
                && delta.is_none_or(|x| d.number > x.number)
            {
                delta = Some(d);
            }
        }
        if let Some(d) = delta {
            status = match CrlSet::find(d, &cert.serial) {
                Some(e) if e.reason == Some(8) => RevocationStatus::Good {
                    source: CrlSet::source(d),
                },
                Some(e) => revoked(e, d),
                None => match status {
                    RevocationStatus::Good { .. } => RevocationStatus::Good {
                        source: CrlSet::source(d),
                    },
                    other => other,
                },
            };
        }
        status
    }
}
