#!/usr/bin/env bash
# Whole-process verification, side by side on the same files:
#   honnin   `honnin verify FILE --trust ca.pem --offline --crl ca.crl` (signature, path,
#            CRL, report as JSON), one process per file;
#   openssl  `openssl cms -verify -CAfile ca+crl.pem -crl_check` (the CRL in the CAfile:
#            `openssl cms` has no -CRLfile), one process per file.
# The files (N signed applications of ~1.7 KB by one RSA-2048 signer, its CA certificate
# and an empty CRL) come from `honnin bench verify --files DIR`. Both tools must accept
# every file; the script fails otherwise. Last line: `verify_process ratio=R` (honnin
# files/s over openssl files/s).
#
# Environment: N (1000), HONNIN (the binary; default target/release/honnin, built when
# missing), KEEP=1 keeps the work directory.
set -euo pipefail

N=${N:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HONNIN=${HONNIN:-$ROOT/target/release/honnin}
if [ ! -x "$HONNIN" ]; then
  (cd "$ROOT" && cargo build --release -p honnin-cli)
fi
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }
WORK=$(mktemp -d)
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi

"$HONNIN" bench verify --duration 1 --documents "$N" --files "$WORK" >/dev/null

openssl crl -inform DER -in "$WORK/ca.crl" -out "$WORK/crl.pem"
cat "$WORK/ca.pem" "$WORK/crl.pem" > "$WORK/ca-crl.pem"

now() { date +%s.%N; }

start=$(now)
for f in "$WORK"/app-*.p7s; do
  "$HONNIN" verify "$f" --trust "$WORK/ca.pem" --offline --crl "$WORK/ca.crl" \
    --format json >/dev/null || { echo "honnin refused $f" >&2; exit 1; }
done
honnin_s=$(echo "$(now) - $start" | bc -l)

start=$(now)
for f in "$WORK"/app-*.p7s; do
  openssl cms -verify -binary -inform DER -in "$f" -CAfile "$WORK/ca-crl.pem" \
    -crl_check -out /dev/null 2>/dev/null \
    || { echo "openssl refused $f" >&2; exit 1; }
done
openssl_s=$(echo "$(now) - $start" | bc -l)

honnin_rate=$(echo "$N / $honnin_s" | bc -l)
openssl_rate=$(echo "$N / $openssl_s" | bc -l)
printf 'honnin verify:      %d files in %.2f s = %.0f files/s\n' "$N" "$honnin_s" "$honnin_rate"
printf 'openssl cms -verify: %d files in %.2f s = %.0f files/s\n' "$N" "$openssl_s" "$openssl_rate"
printf 'verify_process ratio=%.2f\n' "$(echo "$honnin_rate / $openssl_rate" | bc -l)"
