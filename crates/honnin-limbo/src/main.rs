//! `honnin-limbo`: reads the x509-limbo suite (JSON) on stdin, writes the
//! harness results on stdout. Exits non-zero only on its own errors.

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("honnin-limbo: cannot read stdin: {e}");
        return ExitCode::from(2);
    }
    let out = match honnin_limbo::run_suite(&input, jiff::Timestamp::now()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("honnin-limbo: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if serde_json::to_writer(&mut stdout, &out).is_err() || writeln!(stdout).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
