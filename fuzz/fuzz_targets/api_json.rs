//! Request bodies of the API: any bytes deserialise to a validated value or an error.
#![no_main]
use honnin_registry::{ChangeRequest, ImportRow, NewResident, ProvisionRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<ChangeRequest>(data);
    let _ = serde_json::from_slice::<ProvisionRequest>(data);
    let _ = serde_json::from_slice::<NewResident>(data);
    if let Ok(row) = serde_json::from_slice::<ImportRow>(data) {
        let _ = row.check(jiff::civil::date(2026, 11, 22));
    }
});
