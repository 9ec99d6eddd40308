//! The CSV import path: any bytes give rows or errors, never a panic.
#![no_main]
use honnin_registry::ImportRow;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let today = jiff::civil::date(2026, 11, 22);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(data);
    for row in rdr.deserialize::<ImportRow>().take(1000) {
        if let Ok(row) = row {
            let _ = row.check(today);
        }
    }
});
