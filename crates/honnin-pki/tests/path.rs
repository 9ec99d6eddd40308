//! RFC 5280 path validation over JPKI-shaped chains: plain chains, CA key
//! rollover with link certificates, validity, policies and CRL revocation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use honnin_pki::path::{
    self, CrlSet, KeyUsageBit, PathErrorKind, PathOptions, RevocationMode, RevocationStatus,
    ValidationProfile,
};
use honnin_pki::*;
use jiff::{SignedDuration, Timestamp};

fn at() -> Timestamp {
    issued_at() + SignedDuration::from_hours(24)
}

fn opts() -> PathOptions {
    PathOptions::new(at())
}

#[test]
fn jpki_signature_chain_validates_with_its_policy() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let ee = sign_ee(&ca, sign_ca_key(), &facts());
    let v = path::validate(&ee, std::slice::from_ref(&ca), &[], &opts(), None).unwrap();
    assert_eq!(v.chain, vec![ee.clone(), ca.clone()]);
    assert_eq!(v.valid_policies, vec![oids::POLICY_SIGNATURE]);
    assert!(v.revocation.is_empty());

    // The policy is acceptable when asked for explicitly...
    let mut o = opts();
    o.initial_policy_set = vec![oids::POLICY_SIGNATURE];
    o.require_explicit_policy = true;
    let v = path::validate(&ee, std::slice::from_ref(&ca), &[], &o, None).unwrap();
    assert_eq!(v.valid_policies, vec![oids::POLICY_SIGNATURE]);

    // ...and the authentication policy is not.
    o.initial_policy_set = vec![oids::POLICY_AUTHENTICATION];
    let e = path::validate(&ee, std::slice::from_ref(&ca), &[], &o, None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::Policy(_)), "{e}");
    assert_eq!(e.cert_index, Some(0));
    // Without requiring an explicit policy the path is valid, with no policy.
    o.require_explicit_policy = false;
    let v = path::validate(&ee, std::slice::from_ref(&ca), &[], &o, None).unwrap();
    assert!(v.valid_policies.is_empty());
}

#[test]
fn the_wrong_anchor_finds_no_path() {
    let sign_ca = ca(CaKind::Signature, sign_ca_key());
    let auth_ca = ca(CaKind::Authentication, auth_ca_key());
    let ee = auth_ee(&auth_ca, auth_ca_key());
    let e = path::validate(&ee, &[sign_ca], &[], &opts(), None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::NoPathFound(_)), "{e}");
    assert_eq!(e.cert_index, Some(0));
    assert!(e.to_string().starts_with("certificate 0 ("), "{e}");
    let v = path::validate(&ee, &[auth_ca], &[], &opts(), None).unwrap();
    assert_eq!(v.valid_policies, vec![oids::POLICY_AUTHENTICATION]);
}

#[test]
fn same_name_other_key_is_a_bad_signature() {
    // Old and new CA generations share their name: only the key tells them apart.
    let old_ca = ca(CaKind::Signature, sign_ca_key());
    let new_ca = ca(CaKind::Signature, new_sign_ca_key());
    let ee = sign_ee(&new_ca, new_sign_ca_key(), &facts());
    let e = path::validate(&ee, &[old_ca], &[], &opts(), None).unwrap_err();
    assert_eq!(e.kind, PathErrorKind::BadSignature, "{e}");
    assert_eq!(e.cert_index, Some(0));
}

#[test]
fn rollover_link_certificates_bridge_generations() {
    let old_ca = ca(CaKind::Signature, sign_ca_key());
    let new_ca = ca(CaKind::Signature, new_sign_ca_key());
    let nb = ts("2026-02-01T00:00:00Z");
    let new_with_old = build_link_certificate(
        &new_ca,
        &old_ca,
        sign_ca_key(),
        random_serial(),
        nb,
        ca_not_after(),
    )
    .unwrap();
    let old_with_new = build_link_certificate(
        &old_ca,
        &new_ca,
        new_sign_ca_key(),
        random_serial(),
        nb,
        ca_not_after(),
    )
    .unwrap();
    let links = vec![new_with_old.clone(), old_with_new.clone()];

    // A verifier that still trusts only the old CA accepts a new-generation card.
    let new_ee = sign_ee(&new_ca, new_sign_ca_key(), &facts());
    let v = path::validate(
        &new_ee,
        std::slice::from_ref(&old_ca),
        &links,
        &opts(),
        None,
    )
    .unwrap();
    assert_eq!(
        v.chain,
        vec![new_ee.clone(), new_with_old.clone(), old_ca.clone()]
    );
    // The link certificate has no certificatePolicies, so (RFC 5280 6.1.3 (e))
    // no policy survives it: a verifier requiring an explicit policy would
    // refuse this path.
    assert!(v.valid_policies.is_empty());
    let mut explicit = opts();
    explicit.require_explicit_policy = true;
    let e = path::validate(
        &new_ee,
        std::slice::from_ref(&old_ca),
        &links,
        &explicit,
        None,
    )
    .unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::Policy(_)), "{e}");

    // One that trusts only the new CA accepts an old-generation card.
    let old_ee = sign_ee(&old_ca, sign_ca_key(), &facts());
    let v = path::validate(
        &old_ee,
        std::slice::from_ref(&new_ca),
        &links,
        &opts(),
        None,
    )
    .unwrap();
    assert_eq!(
        v.chain,
        vec![old_ee.clone(), old_with_new.clone(), new_ca.clone()]
    );

    // Trusting both, the direct path is found.
    let both = vec![old_ca.clone(), new_ca.clone()];
    let v = path::validate(&new_ee, &both, &links, &opts(), None).unwrap();
    assert_eq!(v.chain, vec![new_ee.clone(), new_ca.clone()]);

    // Before the link certificate's notBefore there is no valid bridge.
    let mut early = PathOptions::new(ts("2026-01-20T00:00:00Z"));
    early.profile = ValidationProfile::Rfc5280;
    let leafless = path::validate(
        &new_with_old,
        std::slice::from_ref(&old_ca),
        &[],
        &early,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(leafless.kind, PathErrorKind::NotYetValid { .. }),
        "{leafless}"
    );
}

#[test]
fn validity_is_checked_for_every_certificate() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let ee = sign_ee(&ca, sign_ca_key(), &facts());
    let before = PathOptions::new(issued_at() - SignedDuration::from_secs(1));
    let e = path::validate(&ee, std::slice::from_ref(&ca), &[], &before, None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::NotYetValid { .. }), "{e}");
    assert_eq!(e.cert_index, Some(0));
    // notBefore is inclusive.
    let exact = PathOptions::new(issued_at());
    path::validate(&ee, std::slice::from_ref(&ca), &[], &exact, None).unwrap();
    // After the CA expires the path fails at the anchor.
    let late = PathOptions::new(ca_not_after() + SignedDuration::from_secs(1));
    let e = path::validate(&ee, std::slice::from_ref(&ca), &[], &late, None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::Expired { .. }), "{e}");
}

#[test]
fn key_usage_requirement_applies_to_the_leaf() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let ee = sign_ee(&ca, sign_ca_key(), &facts());
    let mut o = opts();
    o.required_key_usage = vec![KeyUsageBit::KeyCertSign];
    let e = path::validate(&ee, std::slice::from_ref(&ca), &[], &o, None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::KeyUsage(_)), "{e}");
    assert_eq!(e.cert_index, Some(0));

    // One of several: a signer needs digitalSignature or nonRepudiation.
    let mut o = opts();
    o.leaf_key_usage_any = vec![KeyUsageBit::DigitalSignature, KeyUsageBit::NonRepudiation];
    path::validate(&ee, std::slice::from_ref(&ca), &[], &o, None).unwrap();
    o.leaf_key_usage_any = vec![KeyUsageBit::KeyCertSign, KeyUsageBit::CrlSign];
    let e = path::validate(&ee, std::slice::from_ref(&ca), &[], &o, None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::KeyUsage(_)), "{e}");
    assert!(
        e.to_string().contains("none of keyCertSign, cRLSign"),
        "{e}"
    );
}

fn crl(ca: &[u8], entries: &[RevokedEntry], dp: Option<&str>) -> Vec<u8> {
    build_crl(
        ca,
        sign_ca_key(),
        &CrlParams {
            crl_number: 7,
            this_update: issued_at() + SignedDuration::from_hours(12),
            next_update: issued_at() + SignedDuration::from_hours(24 * 7),
            distribution_point: dp,
            only_user_certs: dp.is_some(),
            only_ca_certs: false,
        },
        entries,
    )
    .unwrap()
}

#[test]
fn crl_revocation_full_and_partitioned() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let good = sign_ee(&ca, sign_ca_key(), &facts());
    let revoked = sign_ee(&ca, sign_ca_key(), &facts());
    let revoked_at = issued_at() + SignedDuration::from_hours(6);
    let entries = vec![RevokedEntry {
        serial: serial_of(&revoked),
        revoked_at,
        reason: Some(RevocationReason::KeyCompromise),
        invalidity_date: None,
    }];
    let anchors = std::slice::from_ref(&ca);
    for dp in [None, Some(CRL_URL_EE)] {
        let set = CrlSet::new(vec![crl(&ca, &entries, dp)]);
        let mut o = opts();
        o.revocation = RevocationMode::HardFail;

        let v = path::validate(&good, anchors, &[], &o, Some(&set)).unwrap();
        assert_eq!(v.revocation.len(), 1);
        assert!(matches!(v.revocation[0], RevocationStatus::Good { .. }));

        let e = path::validate(&revoked, anchors, &[], &o, Some(&set)).unwrap_err();
        assert_eq!(
            e.kind,
            PathErrorKind::Revoked {
                at: revoked_at,
                reason: Some(RevocationReason::KeyCompromise)
            }
        );
        assert_eq!(e.cert_index, Some(0));

        // Before the revocation the certificate was still valid.
        let mut earlier = o.clone();
        earlier.time = issued_at() + SignedDuration::from_hours(1);
        let v = path::validate(&revoked, anchors, &[], &earlier, Some(&set)).unwrap();
        assert!(
            matches!(v.revocation[0], RevocationStatus::Revoked { at, .. } if at == revoked_at)
        );
    }

    // A shard for another distribution point does not cover the certificate.
    let other = CrlSet::new(vec![crl(
        &ca,
        &entries,
        Some("http://honnin.test/crl/other.crl"),
    )]);
    let mut o = opts();
    o.revocation = RevocationMode::HardFail;
    let e = path::validate(&revoked, anchors, &[], &o, Some(&other)).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::RevocationUnknown(_)), "{e}");
    // Soft-fail passes and records the unknown status.
    o.revocation = RevocationMode::SoftFail;
    let v = path::validate(&revoked, anchors, &[], &o, Some(&other)).unwrap();
    assert!(matches!(v.revocation[0], RevocationStatus::Unknown { .. }));

    // A stale CRL is no evidence.
    let set = CrlSet::new(vec![crl(&ca, &entries, None)]);
    let mut late = opts();
    late.time = issued_at() + SignedDuration::from_hours(24 * 8);
    late.revocation = RevocationMode::HardFail;
    let e = path::validate(&good, anchors, &[], &late, Some(&set)).unwrap_err();
    assert!(
        matches!(e.kind, PathErrorKind::RevocationUnknown(ref w) if w.contains("stale")),
        "{e}"
    );

    // A CRL signed by another CA of the same name is refused.
    let other_ca = ca_with(new_sign_ca_key());
    let forged = build_crl(
        &other_ca,
        new_sign_ca_key(),
        &CrlParams {
            crl_number: 9,
            this_update: issued_at(),
            next_update: issued_at() + SignedDuration::from_hours(24 * 7),
            distribution_point: None,
            only_user_certs: false,
            only_ca_certs: false,
        },
        &[],
    )
    .unwrap();
    let mut o = opts();
    o.revocation = RevocationMode::HardFail;
    let e =
        path::validate(&revoked, anchors, &[], &o, Some(&CrlSet::new(vec![forged]))).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::RevocationUnknown(_)), "{e}");
}

fn ca_with(key: &SoftwareKey) -> Vec<u8> {
    ca(CaKind::Signature, key)
}

#[test]
fn malformed_input_is_reported_at_its_position() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let e = path::validate(b"\x30\x03\x02\x01\x01", &[ca], &[], &opts(), None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::Malformed(_)), "{e}");
    assert_eq!(e.cert_index, Some(0));
}

#[test]
fn pem_bundles_load() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let ee = sign_ee(&ca, sign_ca_key(), &facts());
    let bundle = format!(
        "{}{}",
        pem::encode("CERTIFICATE", &ee),
        pem::encode("CERTIFICATE", &ca)
    );
    let certs = pem::der_or_pem(bundle.as_bytes(), "CERTIFICATE").unwrap();
    assert_eq!(certs, vec![ee.clone(), ca.clone()]);
    assert_eq!(pem::der_or_pem(&ca, "CERTIFICATE").unwrap(), vec![ca]);
    assert!(pem::der_or_pem(b"not a certificate", "CERTIFICATE").is_err());
}

#[test]
fn a_trust_anchor_is_valid_on_its_own_within_its_validity() {
    let ca = ca(CaKind::Signature, sign_ca_key());
    let v = path::validate(&ca, std::slice::from_ref(&ca), &[], &opts(), None).unwrap();
    assert_eq!(v.chain, vec![ca.clone()]);
    // Not before it exists, and not under the CA/Browser Forum profile (a CA
    // cannot be the leaf there).
    let mut o = PathOptions::new(ca_not_before() - SignedDuration::from_hours(1));
    let e = path::validate(&ca, std::slice::from_ref(&ca), &[], &o, None).unwrap_err();
    assert!(matches!(e.kind, PathErrorKind::NotYetValid { .. }), "{e}");
    o = opts();
    o.profile = ValidationProfile::WebPki;
    assert!(path::validate(&ca, std::slice::from_ref(&ca), &[], &o, None).is_err());
    // Another CA is not trusted just for being self-signed.
    let other = ca_with(new_sign_ca_key());
    assert!(path::validate(&other, std::slice::from_ref(&ca), &[], &opts(), None).is_err());
}
