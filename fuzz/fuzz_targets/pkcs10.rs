//! PKCS#10 parsing and proof-of-possession check on arbitrary bytes: typed
//! errors, never a panic; whatever is accepted is internally consistent.
#![no_main]
use honnin_pki::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse_and_verify_csr(data) {
        assert_eq!(
            rsa_modulus_bits(&info.subject_public_key_der).ok(),
            Some(info.rsa_bits)
        );
        assert!(info.rsa_bits.is_none_or(|b| b >= 2048));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = csr_from_pem(s).map(|der| parse_and_verify_csr(&der));
    }
});
