#!/usr/bin/env bash
# Revocation, end to end, against a running `honnin serve` (with its demo data):
#
#   1. registers a new resident of 千代田区 and issues both certificates onto a new
#      software card at the window;
#   2. `openssl ocsp`: signature and user-authentication certificates are good;
#   3. records an address change (転居) in the registry; after ~2 s `openssl ocsp` says
#      the signature certificate is revoked (affiliationChanged), the other still good;
#   4. downloads the CRL shard named in each certificate's CRL distribution point and
#      runs `openssl verify -crl_check`: it fails for the signature certificate and
#      passes for the user-authentication one;
#   5. records the resident's death: both certificates are revoked (the user-
#      authentication one as cessationOfOperation).
#
# Every step prints PASS or FAIL; the exit status is the number of failures (0: all
# passed).
#
# Usage: scripts/revocation-check.sh [SERVER [DATA_DIR]]
#   SERVER    default: $HONNIN_SERVER, else http://127.0.0.1:8080
#   DATA_DIR  the server's data directory (demo-operators.json): $HONNIN_DATA_DIR,
#             else ./honnin-data
# Needs openssl, curl and the honnin binary ($HONNIN_BIN, else `honnin` on PATH, else
# target/release or target/debug of this checkout). Start the server first, e.g.
#   cargo run --release -- serve        (first start: CAs, admin and demo data)
set -u

SERVER="${1:-${HONNIN_SERVER:-http://127.0.0.1:8080}}"
SERVER="${SERVER%/}"
DATA_DIR="${2:-${HONNIN_DATA_DIR:-./honnin-data}}"
AUTH_PIN=1234
SIGN_PIN=CHECK1234
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() {
    printf 'FAIL  %s\n' "$*"
    failures=$((failures + 1))
}
info() { printf '      %s\n' "$*"; }
die() {
    fail "$*"
    printf '\n%d step(s) failed\n' "$failures"
    exit "$failures"
}

# --- prerequisites -----------------------------------------------------------------

HONNIN="${HONNIN_BIN:-}"
if [ -z "$HONNIN" ]; then
    if command -v honnin >/dev/null 2>&1; then
        HONNIN="$(command -v honnin)"
    elif [ -x "$HERE/../target/release/honnin" ]; then
        HONNIN="$HERE/../target/release/honnin"
    elif [ -x "$HERE/../target/debug/honnin" ]; then
        HONNIN="$HERE/../target/debug/honnin"
    fi
fi
[ -n "$HONNIN" ] && [ -x "$HONNIN" ] || die "honnin binary not found (set HONNIN_BIN or run cargo build)"
command -v openssl >/dev/null 2>&1 || die "openssl not found"
command -v curl >/dev/null 2>&1 || die "curl not found"
OPS="$DATA_DIR/demo-operators.json"
[ -r "$OPS" ] || die "$OPS not readable: give the server's data directory (demo data on)"
curl -fsS "$SERVER/healthz" >/dev/null 2>&1 || die "no honnin server answers at $SERVER"
info "server $SERVER, data $DATA_DIR, binary $HONNIN"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/honnin-revocation.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# The token of a demo operator (demo-operators.json is pretty-printed JSON).
token_of() {
    sed -n "/\"$1\": {/,/}/s/.*\"token\": \"\([^\"]*\)\".*/\1/p" "$OPS" | head -n 1
}
CLERK="$(token_of clerk-chiyoda)"
WINDOW="$(token_of window-chiyoda)"
[ -n "$CLERK" ] && [ -n "$WINDOW" ] || die "no clerk-chiyoda / window-chiyoda tokens in $OPS"

# honnin with the server and its data directory; the token is given per call.
hn() { "$HONNIN" "$@" --server "$SERVER" --data-dir "$DATA_DIR"; }

TODAY="$(TZ=Asia/Tokyo date +%F)"
NAME="検証　花子"
BIRTH="1990-01-01"
SEX="female"
ADDRESS="東京都千代田区千代田1番1号"
NEW_ADDRESS="東京都千代田区丸の内一丁目9番9号"

# --- 1. a resident with both certificates --------------------------------------------

if out="$(hn registry register --token "$CLERK" --json --kind move-in --municipality 131016 \
    --name "$NAME" --name-kana "ケンショウ　ハナコ" --birth-date "$BIRTH" --sex "$SEX" \
    --address "$ADDRESS" --effective-date "$TODAY" --reason "転入届 (revocation-check)" 2>&1)"; then
    MY_NUMBER="$(printf '%s\n' "$out" | sed -n 's/.*"my_number": "\([0-9]\{12\}\)".*/\1/p' | head -n 1)"
fi
[ -n "${MY_NUMBER:-}" ] || die "register a resident of Chiyoda: $out"
pass "registered a resident of Chiyoda ($MY_NUMBER)"

CARD="$WORK/card.json"
"$HONNIN" card new --out "$CARD" --auth-pin "$AUTH_PIN" --sign-pin "$SIGN_PIN" >/dev/null 2>&1 ||
    die "create a software card"
if out="$(hn window issue --token "$WINDOW" --card "$CARD" --my-number "$MY_NUMBER" \
    --name "$NAME" --birth-date "$BIRTH" --sex "$SEX" --address "$ADDRESS" \
    --auth-pin "$AUTH_PIN" --sign-pin "$SIGN_PIN" 2>&1)"; then
    pass "issued both certificates onto a new software card"
    printf '%s\n' "$out" | sed 's/^/      /'
else
    die "window issue: $out"
fi
SIGN="$WORK/sign.pem"
AUTH="$WORK/auth.pem"
"$HONNIN" card export-cert --card "$CARD" --which sign --sign-pin "$SIGN_PIN" --out "$SIGN" >/dev/null 2>&1 &&
    "$HONNIN" card export-cert --card "$CARD" --which auth --out "$AUTH" >/dev/null 2>&1 ||
    die "export the certificates from the card"
hn ca export-roots --out "$WORK/roots" >/dev/null 2>&1 || die "export the CA certificates"

# The CA generation that issued a certificate (a CA certificate, not a link).
issuer_of() {
    local cert="$1" kind="$2" ca
    for ca in "$WORK"/roots/"$kind"-g*.pem; do
        case "$ca" in *-by-*) continue ;; esac
        if openssl verify -CAfile "$ca" "$cert" >/dev/null 2>&1; then
            printf '%s\n' "$ca"
            return 0
        fi
    done
    return 1
}
SIGN_CA="$(issuer_of "$SIGN" sign)" || die "no exported CA verifies the signature certificate"
AUTH_CA="$(issuer_of "$AUTH" auth)" || die "no exported CA verifies the authentication certificate"

# URLs in the certificates, sent to $SERVER (the certificates name the public URL).
on_server() { printf '%s/%s\n' "$SERVER" "${1#*://*/}"; }
OCSP_SIGN="$(on_server "$(openssl x509 -noout -ocsp_uri -in "$SIGN")")"
OCSP_AUTH="$(on_server "$(openssl x509 -noout -ocsp_uri -in "$AUTH")")"
crl_url() { openssl x509 -noout -ext crlDistributionPoints -in "$1" | sed -n 's/.*URI:\(.*\)$/\1/p' | head -n 1; }
serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }
info "signature certificate $(serial_of "$SIGN"), OCSP $OCSP_SIGN"
info "authentication certificate $(serial_of "$AUTH"), OCSP $OCSP_AUTH"

# --- OCSP ------------------------------------------------------------------------------

# `openssl ocsp` about CERT (issued by CA) at URL: prints "good", "revoked <reason>",
# "unknown", or "error: …". The response must verify against the CA.
ocsp_status() {
    local cert="$1" ca="$2" url="$3" out
    out="$(openssl ocsp -issuer "$ca" -cert "$cert" -url "$url" -CAfile "$ca" 2>&1)"
    if ! printf '%s\n' "$out" | grep -q 'Response verify OK'; then
        printf 'error: %s\n' "$(printf '%s' "$out" | tr '\n' ' ')"
    elif printf '%s\n' "$out" | grep -qF "$cert: good"; then
        printf 'good\n'
    elif printf '%s\n' "$out" | grep -qF "$cert: revoked"; then
        printf 'revoked %s\n' "$(printf '%s\n' "$out" | sed -n 's/.*Reason: *//p' | head -n 1)"
    elif printf '%s\n' "$out" | grep -qF "$cert: unknown"; then
        printf 'unknown\n'
    else
        printf 'error: %s\n' "$(printf '%s' "$out" | tr '\n' ' ')"
    fi
}

# expect_ocsp LABEL CERT CA URL PATTERN: PASS if the status matches PATTERN (a glob).
expect_ocsp() {
    local label="$1" st
    st="$(ocsp_status "$2" "$3" "$4")"
    # shellcheck disable=SC2254
    case "$st" in
        $5) pass "$label: OCSP $st" ;;
        *) fail "$label: OCSP $st (expected $5)" ;;
    esac
}

# wait_ocsp LABEL CERT CA URL PATTERN: waits ~2 s, then (allowing a slow machine up to
# 10 s more) expects the status.
wait_ocsp() {
    local st waited=2
    sleep 2
    st="$(ocsp_status "$2" "$3" "$4")"
    while [ "$waited" -lt 12 ]; do
        # shellcheck disable=SC2254
        case "$st" in $5) break ;; esac
        sleep 1
        waited=$((waited + 1))
        st="$(ocsp_status "$2" "$3" "$4")"
    done
    # shellcheck disable=SC2254
    case "$st" in
        $5) pass "$1: OCSP $st (checked after ${waited} s)" ;;
        *) fail "$1: OCSP $st after ${waited} s (expected $5)" ;;
    esac
}

expect_ocsp "signature certificate after issuance" "$SIGN" "$SIGN_CA" "$OCSP_SIGN" "good"
expect_ocsp "authentication certificate after issuance" "$AUTH" "$AUTH_CA" "$OCSP_AUTH" "good"

# --- 3. address change -----------------------------------------------------------------

if out="$(hn registry change --token "$CLERK" --my-number "$MY_NUMBER" --kind address-change \
    --address "$NEW_ADDRESS" --effective-date "$TODAY" --reason "転居届 (revocation-check)" 2>&1)"; then
    pass "recorded an address change (転居)"
else
    fail "address change: $out"
fi
wait_ocsp "signature certificate after the address change" "$SIGN" "$SIGN_CA" "$OCSP_SIGN" "revoked affiliationChanged"
expect_ocsp "authentication certificate after the address change" "$AUTH" "$AUTH_CA" "$OCSP_AUTH" "good"

# --- 4. CRLs -----------------------------------------------------------------------------

# fetch_crl CERT NAME: downloads the CRL named in CERT's distribution point as
# $WORK/NAME.pem; when LISTED is given, waits (up to 15 s) until it lists CERT.
fetch_crl() {
    local cert="$1" name="$2" must_list="${3:-}" url serial i
    url="$(crl_url "$cert")"
    [ -n "$url" ] || return 1
    url="$(on_server "$url")"
    serial="$(serial_of "$cert")"
    for i in $(seq 1 15); do
        curl -fsS -o "$WORK/$name.crl" "$url" &&
            openssl crl -inform DER -in "$WORK/$name.crl" -out "$WORK/$name.pem" 2>/dev/null || return 1
        if [ -z "$must_list" ] ||
            openssl crl -noout -text -in "$WORK/$name.pem" | grep -qi "Serial Number: $serial\$"; then
            info "$name CRL: $url"
            return 0
        fi
        sleep 1
    done
    return 1
}

if fetch_crl "$SIGN" sign-shard listed; then
    out="$(openssl verify -crl_check -CRLfile "$WORK/sign-shard.pem" -CAfile "$SIGN_CA" "$SIGN" 2>&1)"
    if [ $? -ne 0 ] && printf '%s\n' "$out" | grep -q 'certificate revoked'; then
        pass "openssl verify -crl_check rejects the signature certificate (certificate revoked)"
    else
        fail "openssl verify -crl_check on the signature certificate: $out"
    fi
else
    fail "the signature certificate's CRL shard does not list it"
fi
if fetch_crl "$AUTH" auth-shard; then
    if out="$(openssl verify -crl_check -CRLfile "$WORK/auth-shard.pem" -CAfile "$AUTH_CA" "$AUTH" 2>&1)"; then
        pass "openssl verify -crl_check accepts the authentication certificate"
    else
        fail "openssl verify -crl_check on the authentication certificate: $out"
    fi
else
    fail "download the authentication certificate's CRL shard"
fi

# --- 5. death ----------------------------------------------------------------------------

if out="$(hn registry change --token "$CLERK" --my-number "$MY_NUMBER" --kind death \
    --effective-date "$TODAY" --reason "死亡届 (revocation-check)" 2>&1)"; then
    pass "recorded the resident's death"
else
    fail "death: $out"
fi
wait_ocsp "authentication certificate after death" "$AUTH" "$AUTH_CA" "$OCSP_AUTH" "revoked cessationOfOperation"
expect_ocsp "signature certificate after death" "$SIGN" "$SIGN_CA" "$OCSP_SIGN" "revoked *"

echo
if [ "$failures" -eq 0 ]; then
    echo "all revocation checks passed"
else
    printf '%d step(s) failed\n' "$failures"
fi
exit "$failures"
