//! Path validation's certificate parser and validator on arbitrary bytes (the
//! input as leaf, as its own trust anchor, and as a CRL): typed errors, never a
//! panic or a hang.
#![no_main]
use honnin_pki::path::{CrlSet, PathOptions, RevocationMode, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = honnin_pki::path::parse_certificate(data);
    let mut opts = PathOptions::new(jiff::Timestamp::UNIX_EPOCH);
    opts.revocation = RevocationMode::SoftFail;
    let crls = CrlSet::new(vec![data.to_vec()]);
    let _ = validate(data, &[data.to_vec()], &[data.to_vec()], &opts, Some(&crls));
});
