//! CRL decoding on arbitrary bytes: typed errors, never a panic; whatever is
//! accepted is internally consistent (sorted entries, lookups find them).
#![no_main]
use honnin_pki::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Crl::from_der(data) {
        let _ = (
            c.crl_number(),
            c.this_update(),
            c.next_update(),
            c.idp_url(),
        );
        let _ = (c.is_partitioned(), c.only_user_certs(), c.only_ca_certs());
        for e in c.entries() {
            assert!(e.serial.first().is_some_and(|b| *b != 0));
            assert!(c.find(&e.serial).is_some());
        }
        let _ = c.verify_signed_by(c.issuer_name_der());
        assert_eq!(Crl::from_pem(&c.to_pem()).ok().as_ref(), Some(&c));
    }
});
