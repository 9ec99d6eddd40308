#!/usr/bin/env bash
# OCSP serving side by side on loopback, loaded with wrk:
#   honnin   `honnin serve --role ocsp` over the data of `honnin bench ocsp --export`
#            (kept, pre-signed responses, held in memory for 750 ms by default);
#   cfssl    `cfssl ocspserve -responses FILE`, FILE made with `cfssl ocspsign` for the
#            same certificates (pre-signed responses held in memory);
#   openssl  `openssl ocsp -index index.txt -multi 2`, an index of the same serials with
#            the same statuses (signs every response).
# Every server gets the same DER requests (SHA-1 CertIDs, no nonce) for the same 2000
# certificates (every 10th revoked, plus one more), from the same wrk settings, after a
# short warm-up. cfssl and openssl sign with a fresh RSA-2048 responder certificate (not
# delegated by honnin's CAs: the responses are not for relying parties, only for load;
# honnin signs with its delegated RSA-2048 responder). Also reported: honnin with the
# in-memory hold off (`ocsp_cache_ms = 0`), every answer read from the database.
#
# Targets: honnin/cfssl >= 3, honnin/openssl >= 10. The last line is machine-readable.
#
# Environment: DURATION (seconds per server, 10), WARMUP (2), CONNECTIONS (64),
# THREADS (wrk threads, 2), RESIDENTS (1000: two certificates each), HONNIN (the
# binary; default target/release/honnin, built when missing), KEEP=1 keeps the work
# directory. Needs wrk, cfssl (Debian: golang-cfssl), openssl, curl and python3; as
# root, missing ones are installed with apt-get.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
RESIDENTS=${RESIDENTS:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HONNIN=${HONNIN:-$ROOT/target/release/honnin}

missing=()
for t in wrk cfssl openssl curl python3; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    pkgs=()
    for t in "${missing[@]}"; do
      case $t in
        cfssl) pkgs+=(golang-cfssl) ;;
        *) pkgs+=("$t") ;;
      esac
    done
    apt-get update -qq && apt-get install -y -qq "${pkgs[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (Debian: apt-get install wrk golang-cfssl openssl curl python3)" >&2
    exit 2
  fi
fi
if [ ! -x "$HONNIN" ]; then
  (cd "$ROOT" && cargo build --release -p honnin-cli)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-ocsp.XXXXXX")
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    # openssl ocsp -multi: the parent restarts dead children unless told to stop first,
    # and notices that only when a child ends.
    local kids
    kids=$(pgrep -P "$SERVER_PID" || true)
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
cleanup() {
  stop_server
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT [LOG]: with LOG, waits for openssl's "ACCEPT" line there instead of
  # connecting (an openssl ocsp child spins forever on a connection closed without a request).
  for _ in $(seq 1 100); do
    if [ -n "${2:-}" ]; then
      grep -q '^ACCEPT' "$2" 2>/dev/null && return 0
    else
      (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

echo "== bench-ocsp: $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (after ${WARMUP}s warm-up) per server, $((RESIDENTS * 2)) certificates"
echo "== $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); cfssl $(cfssl version | sed -n 's/^Version: //p'); $(openssl version | cut -d' ' -f1-2)"

# 1. honnin: certificates issued and revoked through the API, requests, kept responses.
X=$WORK/x
"$HONNIN" bench ocsp --duration 2 --residents "$RESIDENTS" --crl-entries 0 \
  --notice-residents 0 --export "$X" >"$WORK/export.log" 2>&1 || {
  cat "$WORK/export.log" >&2
  exit 1
}
N=$(wc -l <"$X/certs.tsv")
REVOKED=$(awk -F'\t' '$4 == "revoked"' "$X/certs.tsv" | wc -l)
echo "prepared $N certificates ($REVOKED revoked) with honnin; requests in $X/requests"

# 2. A responder certificate for cfssl and openssl (RSA-2048 like honnin's).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/resp.key" -out "$WORK/resp.pem" \
  -subj "/CN=bench OCSP responder" -days 2 2>/dev/null

# 3. openssl's index: the same serials, statuses, revocation times and expiry.
awk -F'\t' '{
  if ($4 == "revoked") printf "R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=%s\n", $6, $5, $1, $1;
  else printf "V\t%s\t\t%s\tunknown\t/CN=%s\n", $6, $1, $1 }' "$X/certs.tsv" >"$WORK/index.txt"
echo "unique_subject = no" >"$WORK/index.txt.attr"

# 4. cfssl's response file: one `cfssl ocspsign` per certificate, two lanes.
sign_lane() { # LANE
  awk -F'\t' -v lane="$1" 'NR % 2 == lane' "$X/certs.tsv" |
    while IFS=$'\t' read -r serial _kind ca status _rest; do
      if [ "$status" = revoked ]; then st=(-status revoked -reason 1); else st=(-status good); fi
      cfssl ocspsign -ca "$X/ca/$ca.pem" -responder "$WORK/resp.pem" \
        -responder-key "$WORK/resp.key" -cert "$X/certs/$serial.pem" "${st[@]}" 2>/dev/null |
        sed -n 's/.*"ocspResponse":"\([^"]*\)".*/\1/p'
    done >"$WORK/cfssl.$1"
}
t0=$(date +%s.%N)
sign_lane 0 &
lane0=$!
sign_lane 1
wait "$lane0"
cat "$WORK/cfssl.0" "$WORK/cfssl.1" >"$WORK/cfssl.responses"
if [ "$(wc -l <"$WORK/cfssl.responses")" != "$N" ]; then
  echo "cfssl ocspsign made $(wc -l <"$WORK/cfssl.responses") responses, not $N" >&2
  exit 1
fi
echo "cfssl ocspsign: $N responses in $(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")s"

# 5. wrk: POST each request in turn (lines "PATH FILE"); a result line at the end.
cat >"$WORK/post.lua" <<'EOF'
local bodies, paths, n, i = {}, {}, 0, 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("first", counter * 7919)
end
function init(args)
  for line in io.lines(args[1]) do
    local path, file = line:match("^(%S+)%s+(%S+)$")
    if path then
      local f = assert(io.open(file, "rb"))
      n = n + 1
      paths[n], bodies[n] = path, f:read("*a")
      f:close()
    end
  end
  i = (first or 0) % n
end
function request()
  i = i % n + 1
  return wrk.format("POST", paths[i], { ["Content-Type"] = "application/ocsp-request" }, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT responses_per_s=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d socket_errors=%d\n",
    (summary.requests - e.status) / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
EOF
awk -F'\t' -v d="$X/requests" '{ print "/ocsp/" $2 " " d "/" $1 ".der" }' "$X/certs.tsv" >"$WORK/list.honnin"
awk -F'\t' -v d="$X/requests" '{ print "/ " d "/" $1 ".der" }' "$X/certs.tsv" >"$WORK/list.root"

# One good and one revoked certificate, asked with openssl's client: the server must agree.
GOOD=$(awk -F'\t' '$4 == "good" { print $1 "\t" $2 "\t" $3; exit }' "$X/certs.tsv")
BAD=$(awk -F'\t' '$4 == "revoked" { print $1 "\t" $2 "\t" $3; exit }' "$X/certs.tsv")
check() { # PORT PATH-PREFIX
  for pair in "good:$GOOD" "revoked:$BAD"; do
    want=${pair%%:*}
    IFS=$'\t' read -r serial kind ca <<<"${pair#*:}"
    path=$2
    [ "$path" = honnin ] && path=/ocsp/$kind
    got=$(openssl ocsp -issuer "$X/ca/$ca.pem" -serial "0x$serial" -no_nonce -noverify \
      -url "http://127.0.0.1:$1$path" 2>&1 | sed -n "s/^0x$serial: //p")
    if [ "$got" != "$want" ]; then
      echo "the server on port $1 said '$got' for a $want certificate" >&2
      return 1
    fi
  done
}

declare -A RATE P50 P99 ERRS
run() { # NAME PORT LIST [WARMUP]
  if [ "${4:-$WARMUP}" != 0 ]; then
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${4:-$WARMUP}s" -s "$WORK/post.lua" "http://127.0.0.1:$2/" -- "$3" >/dev/null 2>&1 || true
  fi
  local line
  line=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/post.lua" "http://127.0.0.1:$2/" -- "$3" 2>&1 | grep '^RESULT')
  RATE[$1]=$(sed -n 's/.*responses_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
  P50[$1]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  P99[$1]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  ERRS[$1]=$(sed -n 's/.*non2xx=\([0-9]*\) socket_errors=\([0-9]*\).*/\1 non-2xx, \2 socket errors/p' <<<"$line")
  printf '%-18s %10s responses/s   p50 %7s ms   p99 %7s ms   (%s)\n' "$1" "${RATE[$1]}" "${P50[$1]}" "${P99[$1]}" "${ERRS[$1]}"
}

start_honnin() { # [CACHE_MS] (none: the server's default)
  local port vars=(HONNIN_LOG=warn)
  port=$(free_port)
  if [ -n "${1:-}" ]; then vars+=("HONNIN_OCSP_CACHE_MS=$1"); fi
  env "${vars[@]}" "$HONNIN" serve --role ocsp --no-demo \
    --data-dir "$X/data" --listen "127.0.0.1:$port" >"$WORK/honnin.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$port"
  PORT=$port
}

start_honnin
check "$PORT" honnin
run honnin "$PORT" "$WORK/list.honnin"
stop_server

start_honnin 0
check "$PORT" honnin
run honnin-no-memory "$PORT" "$WORK/list.honnin"
stop_server

PORT=$(free_port)
cfssl ocspserve -address 127.0.0.1 -port "$PORT" -responses "$WORK/cfssl.responses" \
  -loglevel 3 >"$WORK/cfssl.log" 2>&1 &
SERVER_PID=$!
wait_port "$PORT"
check "$PORT" /
run cfssl "$PORT" "$WORK/list.root"
stop_server

# openssl ocsp takes a port only (it listens on every address); the load is on 127.0.0.1.
# No warm-up: it holds nothing to warm, and its children spin on connections that a client
# drops mid-request (as wrk does when a run ends), so a warm-up would spoil the run.
PORT=$(free_port)
(cd "$WORK" && exec openssl ocsp -index index.txt -port "$PORT" -rsigner resp.pem -rkey resp.key \
  -CA "$X/ca.pem" -nmin 240 -multi "$(nproc)" -ignore_err) >"$WORK/openssl.log" 2>&1 &
SERVER_PID=$!
wait_port "$PORT" "$WORK/openssl.log"
check "$PORT" /
run openssl "$PORT" "$WORK/list.root" 0
stop_server

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r != "n/a" && r >= t) ? "meets target" : "BELOW target" }'; }
RC=$(ratio "${RATE[honnin]}" "${RATE[cfssl]}")
RO=$(ratio "${RATE[honnin]}" "${RATE[openssl]}")
echo "ratio   honnin / cfssl   = ${RC}x   target >= 3x    $(verdict "$RC" 3)"
echo "ratio   honnin / openssl = ${RO}x   target >= 10x   $(verdict "$RO" 10)"
echo "bench-ocsp honnin_per_s=${RATE[honnin]} honnin_p99_ms=${P99[honnin]} honnin_no_memory_per_s=${RATE[honnin-no-memory]} cfssl_per_s=${RATE[cfssl]} cfssl_p99_ms=${P99[cfssl]} openssl_per_s=${RATE[openssl]} openssl_p99_ms=${P99[openssl]} honnin_over_cfssl=$RC honnin_over_openssl=$RO"
