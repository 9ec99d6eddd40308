//! Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)-(c)) and peer-name
//! matching (RFC 6125 / CABF: SAN only, no CN fallback).

use std::net::IpAddr;

use super::parse::{AT_CN, AT_EMAIL, CertInfo, GeneralName, NameConstraints, decode_string};
use super::{PathErrorKind, PeerName, ValidationProfile};

/// Most name-vs-subtree comparisons one path may cost (quadratic inputs such
/// as 2048 names × 2048 constraints are refused, like rustls-webpki does).
pub(crate) const MAX_NC_COMPARISONS: usize = 1 << 18;

/// A DNS name (reference or presented) in preferred name syntax, lowercase.
/// `allow_wildcard`: a leading `*.` label is allowed.
pub(crate) fn valid_dns(name: &str, allow_wildcard: bool) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut labels = name.split('.').peekable();
    let mut first = true;
    while let Some(l) = labels.next() {
        if first && allow_wildcard && l == "*" && labels.peek().is_some() {
            first = false;
            continue;
        }
        first = false;
        if l.is_empty() || l.len() > 63 {
            return false;
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
        if l.starts_with('-') || l.ends_with('-') {
            return false;
        }
    }
    true
}

fn lower(s: &str) -> String {
    s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase()
}

/// `name` is `base` or below it (both lowercase, labels compared whole).
fn dns_within(name: &str, base: &str) -> bool {
    if base.is_empty() {
        return true;
    }
    name == base
        || (name.len() > base.len()
            && name.ends_with(base)
            && name.as_bytes()[name.len() - base.len() - 1] == b'.')
}

/// Matches a presented DNS identifier (possibly `*.x.y`) against a reference
/// name (RFC 6125 §6.4.3: the wildcard is the whole leftmost label and
/// matches exactly one label).
fn dns_matches(presented: &str, reference: &str) -> bool {
    let p = lower(presented);
    let r = lower(reference);
    if let Some(rest) = p.strip_prefix("*.") {
        // At least two labels after the wildcard (no `*.com`, no `*`).
        if !rest.contains('.') {
            return false;
        }
        match r.split_once('.') {
            Some((first, tail)) => !first.is_empty() && tail == rest,
            None => false,
        }
    } else {
        p == r
    }
}

fn ip_text_canonical(ip: &[u8]) -> Option<String> {
    match ip.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(ip).ok()?).to_string()),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(ip).ok()?).to_string()),
        _ => None,
    }
}

/// Checks the leaf's SAN against the requested peer names (each must match).
pub(crate) fn check_peer_names(leaf: &CertInfo, peers: &[PeerName]) -> Result<(), PathErrorKind> {
    if peers.is_empty() {
        return Ok(());
    }
    let sans = leaf.subject_alt_names();
    if sans.is_empty() {
        return Err(PathErrorKind::NameMismatch(
            "the certificate has no subjectAltName (the subject CN is not used)".into(),
        ));
    }
    for peer in peers {
        let ok = match peer {
            PeerName::Dns(d) => {
                if !valid_dns(d, false) {
                    return Err(PathErrorKind::NameMismatch(format!(
                        "{d:?} is not a valid DNS name"
                    )));
                }
                sans.iter().any(|n| match n {
                    GeneralName::Dns(p) => valid_dns(p, true) && dns_matches(p, d),
                    _ => false,
                })
            }
            PeerName::Ip(ip) => {
                let want: Vec<u8> = match ip {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                sans.iter()
                    .any(|n| matches!(n, GeneralName::Ip(b) if *b == want))
            }
            PeerName::Email(e) => sans.iter().any(|n| match n {
                GeneralName::Rfc822(m) => email_eq(m, e),
                _ => false,
            }),
        };
        if !ok {
            return Err(PathErrorKind::NameMismatch(format!(
                "{peer} is not among the subjectAltName entries"
            )));
        }
    }
    Ok(())
}

fn split_email(m: &str) -> Option<(&str, &str)> {
    let (local, domain) = m.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || local.contains('@') {
        return None;
    }
    Some((local, domain))
}

fn email_eq(a: &str, b: &str) -> bool {
    match (split_email(a), split_email(b)) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

/// CABF BR 7.1.4.3: a subscriber's CN, if present, is a character-for-character
/// copy of a SAN dNSName or the canonical text of a SAN iPAddress.
pub(crate) fn check_cn_in_san(leaf: &CertInfo) -> Result<(), PathErrorKind> {
    let sans = leaf.subject_alt_names();
    for (tag, v) in leaf.subject.attr_strings(AT_CN) {
        let Some(cn) = decode_string(tag, &v) else {
            return Err(PathErrorKind::Profile("commonName is not a string".into()));
        };
        let found = sans.iter().any(|n| match n {
            GeneralName::Dns(d) => *d == cn,
            GeneralName::Ip(ip) => ip_text_canonical(ip).is_some_and(|t| t == cn),
            _ => false,
        });
        if !found {
            return Err(PathErrorKind::Profile(format!(
                "subject commonName {cn:?} is not a copy of a subjectAltName entry (CABF 7.1.4.3)"
            )));
        }
    }
    Ok(())
}

/// Validates the syntax of a name constraints extension (in the CA that
/// carries it): DNS bases are host names without wildcards or a leading dot,
/// IP bases are address + contiguous mask, rfc822 bases are a mailbox, a host
/// or `.domain`.
pub(crate) fn check_constraint_syntax(nc: &NameConstraints) -> Result<(), PathErrorKind> {
    for s in nc.permitted.iter().chain(&nc.excluded) {
        let bad = |why: String| Err(PathErrorKind::NameConstraints(why));
        match &s.base {
            GeneralName::Dns(d) if !d.is_empty() && !valid_dns(d, false) => {
                return bad(format!("malformed dNSName constraint {d:?}"));
            }
            GeneralName::Ip(b) => {
                if b.len() != 8 && b.len() != 32 {
                    return bad("iPAddress constraint is not address + mask".into());
                }
                let mask = &b[b.len() / 2..];
                let mut seen_zero = false;
                for byte in mask {
                    for j in 0..8 {
                        let one = byte & (0x80 >> j) != 0;
                        if one && seen_zero {
                            return bad("iPAddress constraint mask is not a CIDR prefix".into());
                        }
                        seen_zero |= !one;
                    }
                }
            }
            GeneralName::Rfc822(m) => {
                let ok = if m.contains('@') {
                    split_email(m).is_some_and(|(_, d)| valid_dns(d, false))
                } else {
                    let d = m.strip_prefix('.').unwrap_or(m);
                    valid_dns(d, false)
                };
                if !ok {
                    return bad(format!("malformed rfc822Name constraint {m:?}"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// One name of a certificate subject to name constraints.
enum Subj<'a> {
    Gn(&'a GeneralName),
    /// Subject emailAddress attribute: checked as an rfc822Name.
    Email(String),
    /// A subject emailAddress that is not a string: cannot be in any subtree.
    BadEmail,
}

fn subtree_matches(name: &GeneralName, base: &GeneralName, excluded: bool) -> Option<bool> {
    Some(match (name, base) {
        (GeneralName::Dns(n), GeneralName::Dns(b)) => {
            let n = lower(n);
            let b = lower(b);
            let wildcard_ok = valid_dns(&n, true);
            if !wildcard_ok {
                // A malformed name is never within a permitted subtree, and
                // is treated as inside any excluded one.
                return Some(excluded);
            }
            if dns_within(&n, &b) {
                true
            } else if excluded {
                // `*.x` may stand for `y.x`: an excluded `y.x` catches it.
                match n.strip_prefix("*.") {
                    Some(rest) => b
                        .split_once('.')
                        .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
                    None => false,
                }
            } else {
                false
            }
        }
        (GeneralName::Rfc822(n), GeneralName::Rfc822(b)) => email_within(n, b, excluded),
        (GeneralName::Ip(n), GeneralName::Ip(b)) => {
            if n.len() != 4 && n.len() != 16 {
                return Some(excluded);
            }
            if b.len() != n.len() * 2 {
                false
            } else {
                let (addr, mask) = b.split_at(n.len());
                n.iter()
                    .zip(addr)
                    .zip(mask)
                    .all(|((x, a), m)| x & m == a & m)
            }
        }
        (GeneralName::Directory(n), GeneralName::Directory(b)) => n.starts_with(b),
        (GeneralName::Uri(n), GeneralName::Uri(b)) => {
            let Some(host) = uri_host(n) else {
                return Some(excluded);
            };
            let b = b.to_ascii_lowercase();
            match b.strip_prefix('.') {
                Some(_) => host.ends_with(&b),
                None => host == b,
            }
        }
        _ => return None,
    })
}

fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let auth = rest.split(['/', '?', '#']).next()?;
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let host = if auth.starts_with('[') {
        return None;
    } else {
        auth.split(':').next()?
    };
    if host.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

fn email_within(n: &str, b: &str, excluded: bool) -> bool {
    let Some((local, domain)) = split_email(n) else {
        return excluded;
    };
    if !valid_dns(domain, false) {
        return excluded;
    }
    if b.contains('@') {
        match split_email(b) {
            Some((bl, bd)) => local == bl && domain.eq_ignore_ascii_case(bd),
            None => false,
        }
    } else if let Some(sub) = b.strip_prefix('.') {
        let d = domain.to_ascii_lowercase();
        let s = sub.to_ascii_lowercase();
        d.len() > s.len() && d.ends_with(&s) && d.as_bytes()[d.len() - s.len() - 1] == b'.'
    } else {
        domain.eq_ignore_ascii_case(b)
    }
}

/// Checks the names of `cert` against one CA's name constraints.
/// `budget` counts comparisons across the whole path.
pub(crate) fn check_names(
    cert: &CertInfo,
    nc: &NameConstraints,
    budget: &mut usize,
    _profile: ValidationProfile,
) -> Result<(), PathErrorKind> {
    let mut names: Vec<Subj<'_>> = Vec::new();
    let subject_dn;
    if !cert.subject.is_empty() {
        subject_dn = GeneralName::Directory(cert.subject.clone());
        names.push(Subj::Gn(&subject_dn));
        for (tag, v) in cert.subject.attr_strings(AT_EMAIL) {
            match decode_string(tag, &v) {
                Some(s) if tag == 0x16 || tag == 0x0c => names.push(Subj::Email(s)),
                _ => names.push(Subj::BadEmail),
            }
        }
    }
    for n in cert.subject_alt_names() {
        names.push(Subj::Gn(n));
    }
    let cost = names
        .len()
        .saturating_mul(nc.permitted.len() + nc.excluded.len());
    *budget = budget.saturating_sub(cost);
    if *budget == 0 {
        return Err(PathErrorKind::NameConstraints(
            "too many names × name constraints to check (limit on work)".into(),
        ));
    }
    for s in &names {
        let owned;
        let name: &GeneralName = match s {
            Subj::Gn(n) => n,
            Subj::Email(e) => {
                owned = GeneralName::Rfc822(e.clone());
                &owned
            }
            Subj::BadEmail => {
                if nc
                    .permitted
                    .iter()
                    .chain(&nc.excluded)
                    .any(|t| t.base.form() == 1)
                {
                    return Err(PathErrorKind::NameConstraints(
                        "subject emailAddress is not an IA5String".into(),
                    ));
                }
                continue;
            }
        };
        let form = name.form();
        for ex in nc.excluded.iter().filter(|t| t.base.form() == form) {
            match subtree_matches(name, &ex.base, true) {
                Some(true) => {
                    return Err(PathErrorKind::NameConstraints(format!(
                        "{} is in an excluded subtree ({})",
                        show(name),
                        show(&ex.base)
                    )));
                }
                Some(false) => {}
                None => {
                    return Err(PathErrorKind::NameConstraints(format!(
                        "cannot process an excluded {} constraint for a name of that form",
                        form_name(form)
                    )));
                }
            }
        }
        let mut any_of_form = false;
        let mut ok = false;
        for p in nc.permitted.iter().filter(|t| t.base.form() == form) {
            any_of_form = true;
            match subtree_matches(name, &p.base, false) {
                Some(true) => {
                    ok = true;
                    break;
                }
                Some(false) => {}
                None => {
                    return Err(PathErrorKind::NameConstraints(format!(
                        "cannot process a permitted {} constraint for a name of that form",
                        form_name(form)
                    )));
                }
            }
        }
        if any_of_form && !ok {
            return Err(PathErrorKind::NameConstraints(format!(
                "{} is not in any permitted subtree",
                show(name)
            )));
        }
    }
    Ok(())
}

fn form_name(f: u8) -> &'static str {
    match f {
        0 => "otherName",
        1 => "rfc822Name",
        2 => "dNSName",
        3 => "x400Address",
        4 => "directoryName",
        5 => "ediPartyName",
        6 => "URI",
        7 => "iPAddress",
        _ => "registeredID",
    }
}

fn show(n: &GeneralName) -> String {
    match n {
        GeneralName::Dns(d) => format!("DNS:{d}"),
        GeneralName::Rfc822(m) => format!("email:{m}"),
        GeneralName::Uri(u) => format!("URI:{u}"),
        GeneralName::Ip(b) => match b.len() {
            4 | 16 => format!("IP:{}", ip_text_canonical(b).unwrap_or_default()),
            8 | 32 => {
                let (a, m) = b.split_at(b.len() / 2);
                let bits: u32 = m.iter().map(|x| x.count_ones()).sum();
                format!("IP:{}/{bits}", ip_text_canonical(a).unwrap_or_default())
            }
            _ => "IP:(malformed)".into(),
        },
        GeneralName::Directory(d) => format!("DirName:{}", d.display()),
        GeneralName::OtherName(o) => format!("otherName:{o}"),
        other => form_name(other.form()).to_string(),
    }
}
