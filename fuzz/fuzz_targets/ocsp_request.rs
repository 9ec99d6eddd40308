//! OCSP request parsing on arbitrary bytes (what an OCSP responder reads from
//! the network): typed errors, never a panic; whatever is accepted is within
//! the limits and re-encodes to a request that parses to the same thing.
#![no_main]
use honnin_pki::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_ocsp_request(data) {
        assert!(data.len() <= OCSP_MAX_REQUEST_LEN);
        assert!((1..=OCSP_MAX_CERT_IDS).contains(&req.cert_ids.len()));
        assert!(
            req.nonce
                .as_ref()
                .is_none_or(|n| (1..=32).contains(&n.len()))
        );
        for id in &req.cert_ids {
            assert_eq!(id.issuer_name_hash.len(), id.hash_algorithm.output_len());
            assert_eq!(id.issuer_key_hash.len(), id.hash_algorithm.output_len());
            assert!(id.serial.first().is_some_and(|b| *b != 0));
        }
        let again = build_ocsp_request(&req.cert_ids, req.nonce.as_deref());
        assert_eq!(parse_ocsp_request(&again).ok().as_ref(), Some(&req));
    }
    // The response side reads the same kind of input in clients.
    if let Ok(resp) = OcspResponse::from_der(data) {
        let _ = (resp.error_status(), resp.produced_at(), resp.nonce());
        let _ = resp.responder_certificate();
        if let Some(c) = resp.certs().first()
            && let Ok(c) = Certificate::from_der(c)
        {
            let _ = resp.verify_signed_by(&c.subject_public_key_der());
        }
    }
});
