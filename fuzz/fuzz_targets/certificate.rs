//! Certificate decoding, profile detection and fact extraction on arbitrary
//! bytes: typed errors, never a panic.
#![no_main]
use honnin_pki::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::from_der(data) {
        let _ = c.profile();
        let _ = (c.serial_hex(), c.not_before(), c.not_after());
        let _ = (
            c.subject_key_id(),
            c.authority_key_id(),
            c.subject_common_name(),
        );
        let _ = (c.crl_urls(), c.ocsp_urls());
        let spki = c.subject_public_key_der();
        let _ = rsa_modulus_bits(&spki);
        let _ = c.verify_signed_by(&spki);
        assert_eq!(Certificate::from_pem(&c.to_pem()).ok().as_ref(), Some(&c));
    }
    if let Ok(s) = SignatureCertificate::from_der(data) {
        let _ = s.basic_facts();
    }
    let _ = AuthenticationCertificate::from_der(data);
});
