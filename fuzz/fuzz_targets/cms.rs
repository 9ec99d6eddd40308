//! CMS SignedData reading (BER re-encoding included) and signer verification on
//! arbitrary bytes: typed errors, never a panic or a hang.
#![no_main]
use honnin_pki::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_signed_message(data) {
        let _ = m.find_signer_certificate(&[]);
        let _ = m.verify(None, &[]);
        let _ = m.verify(Some(b"content"), &[]);
    }
});
