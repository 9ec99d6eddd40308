//! Key rollover: link certificates between two CA generations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use honnin_pki::*;

struct Generations {
    old_ca: Vec<u8>,
    new_ca: Vec<u8>,
    /// New key certified by the old key (NewWithOld).
    new_with_old: Vec<u8>,
    /// Old key certified by the new key (OldWithNew).
    old_with_new: Vec<u8>,
}

fn generations() -> Generations {
    let old_ca = ca(CaKind::Signature, sign_ca_key());
    let new_ca = ca(CaKind::Signature, new_sign_ca_key());
    let nb = ts("2026-02-01T00:00:00Z");
    let na = ca_not_after();
    let new_with_old =
        build_link_certificate(&new_ca, &old_ca, sign_ca_key(), random_serial(), nb, na).unwrap();
    let old_with_new =
        build_link_certificate(&old_ca, &new_ca, new_sign_ca_key(), random_serial(), nb, na)
            .unwrap();
    Generations {
        old_ca,
        new_ca,
        new_with_old,
        old_with_new,
    }
}

#[test]
fn link_certificates_verify_both_ways() {
    let g = generations();
    let old = Certificate::from_der(&g.old_ca).unwrap();
    let new = Certificate::from_der(&g.new_ca).unwrap();
    let nwo = Certificate::from_der(&g.new_with_old).unwrap();
    let own = Certificate::from_der(&g.old_with_new).unwrap();

    nwo.verify_signed_by(&old.subject_public_key_der()).unwrap();
    own.verify_signed_by(&new.subject_public_key_der()).unwrap();
    assert!(nwo.verify_signed_by(&new.subject_public_key_der()).is_err());

    assert_eq!(nwo.subject_public_key_der(), new.subject_public_key_der());
    assert_eq!(nwo.subject_key_id(), new.subject_key_id());
    assert_eq!(nwo.authority_key_id(), old.subject_key_id());
    assert_eq!(own.subject_key_id(), old.subject_key_id());
    assert_eq!(own.authority_key_id(), new.subject_key_id());
    // Same names on both sides; a CA profile; not self-signed.
    assert_eq!(nwo.subject_name_der(), nwo.issuer_name_der());
    assert_eq!(nwo.profile(), Profile::Ca(CaKind::Signature));
    assert!(!nwo.is_self_signed());
    assert!(old.is_self_signed() && new.is_self_signed());
    // The link's CRL distribution point is the issuer's.
    assert_eq!(nwo.crl_urls(), old.crl_urls());
}

#[test]
fn link_certificate_inputs_are_checked() {
    let g = generations();
    let auth_ca = ca(CaKind::Authentication, auth_ca_key());
    let nb = ts("2026-02-01T00:00:00Z");
    // Signer without the issuer's key.
    assert!(matches!(
        build_link_certificate(
            &g.new_ca,
            &g.old_ca,
            new_sign_ca_key(),
            random_serial(),
            nb,
            ca_not_after()
        ),
        Err(PkiError::Profile { .. })
    ));
    // Different CA kinds.
    assert!(matches!(
        build_link_certificate(
            &auth_ca,
            &g.old_ca,
            sign_ca_key(),
            random_serial(),
            nb,
            ca_not_after()
        ),
        Err(PkiError::WrongProfile { .. })
    ));
    // The same key on both sides.
    assert!(
        build_link_certificate(
            &g.old_ca,
            &g.old_ca,
            sign_ca_key(),
            random_serial(),
            nb,
            ca_not_after()
        )
        .is_err()
    );
}

#[test]
fn pkilint_accepts_link_certificates() {
    let Some(pkilint) = pkilint() else { return };
    let g = generations();
    let dir = tempfile::tempdir().unwrap();
    for (n, der) in [("nwo", &g.new_with_old), ("own", &g.old_with_new)] {
        let p = write_pem(dir.path(), &format!("{n}.pem"), der);
        let (ok, out) = lint(&pkilint, &p);
        assert!(ok, "{n}: {out}");
    }
    let old = write_pem(dir.path(), "old.pem", &g.old_ca);
    let nwo = dir.path().join("nwo.pem");
    let (ok, out) = lint_chain(&pkilint, &old, &nwo);
    assert!(ok, "old -> NewWithOld: {out}");
}

#[test]
fn openssl_follows_the_link_from_old_trust_to_new_issuer() {
    let Some(openssl) = openssl() else { return };
    let g = generations();
    let dir = tempfile::tempdir().unwrap();
    let at = attime(issued_at() + jiff::SignedDuration::from_hours(1));
    // Issued by the new CA.
    let ee_new = sign_ee(&g.new_ca, new_sign_ca_key(), &facts());
    // Issued by the old CA.
    let ee_old = sign_ee(&g.old_ca, sign_ca_key(), &facts());
    let old = write_pem(dir.path(), "old.pem", &g.old_ca);
    let new = write_pem(dir.path(), "new.pem", &g.new_ca);
    let nwo = write_pem(dir.path(), "nwo.pem", &g.new_with_old);
    let own = write_pem(dir.path(), "own.pem", &g.old_with_new);
    let ee_new = write_pem(dir.path(), "ee_new.pem", &ee_new);
    let ee_old = write_pem(dir.path(), "ee_old.pem", &ee_old);

    let verify =
        |trust: &std::path::Path, untrusted: Option<&std::path::Path>, ee: &std::path::Path| {
            let mut cmd = Command::new(&openssl);
            cmd.args(["verify", "-attime", &at, "-CAfile"]).arg(trust);
            if let Some(u) = untrusted {
                cmd.arg("-untrusted").arg(u);
            }
            cmd.arg(ee);
            run(&mut cmd)
        };
    // Only the old CA is trusted: the new CA's certificate needs the link.
    let out = verify(&old, None, &ee_new);
    assert!(
        !out.status.success(),
        "verified without the link: {}",
        text(&out)
    );
    let out = verify(&old, Some(&nwo), &ee_new);
    assert!(
        out.status.success(),
        "old trust + NewWithOld: {}",
        text(&out)
    );
    // Only the new CA is trusted: certificates of the old CA need OldWithNew.
    let out = verify(&new, Some(&own), &ee_old);
    assert!(
        out.status.success(),
        "new trust + OldWithNew: {}",
        text(&out)
    );
    // The link alone as a partial-chain anchor.
    let mut cmd = Command::new(&openssl);
    cmd.args(["verify", "-partial_chain", "-attime", &at, "-CAfile"])
        .arg(&nwo)
        .arg(&ee_new);
    let out = run(&mut cmd);
    assert!(out.status.success(), "partial chain: {}", text(&out));
}
