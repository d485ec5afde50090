#!/usr/bin/env bash
# Regenerates the fixtures in this directory with Debian's notary client and
# notary-server 0.7.0 on loopback (memory store). Run from anywhere:
#
#   tuf/notary/testdata/gen.sh
#
# Fixtures (metadata exactly as the server serves it):
#   app/       example.com/app: root (ecdsa-x509), targets, a delegation targets/releases with a path
#              prefix, snapshot signed by the client, timestamp by the server;
#              then the snapshot key rotated to the server (app/rotated/).
#   app/private-key-ids.txt: the names of the client's private key files.
#   rsa/       example.com/rsa: a root key given as an RSA key and
#              certificate (rsa-x509, rsapss signatures).
#   html/      example.com/html: the root and targets the client uploads
#              for a target with a custom value (captured by capture.py on
#              the way to the server). The client signs the custom bytes as
#              given (members unsorted) with <, > and & escaped as \u003c,
#              \u003e, \u0026; notary-server 0.7.0 re-canonicalises them
#              and refuses the upload ("valid signatures did not meet
#              threshold for targets"), as it does any custom value.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
command -v notary-server >/dev/null || { echo "gen.sh: install the Debian package notary" >&2; exit 1; }
work=$(mktemp -d)
pid= ppid_=
trap '[[ -n $pid ]] && kill "$pid"; [[ -n $ppid_ ]] && kill "$ppid_"; rm -rf "$work"' EXIT
port=4561 proxy=4562
cat >"$work/server.json" <<JSON
{"server":{"http_addr":"127.0.0.1:$port"},"trust_service":{"type":"local"},"logging":{"level":"error"},"storage":{"backend":"memory"}}
JSON
notary-server -config "$work/server.json" >"$work/server.log" 2>&1 &
pid=$!
python3 "$out/capture.py" "$proxy" "http://127.0.0.1:$port" "$work/captured" &
ppid_=$!
for p in $port $proxy; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/_notary_server/health" && break; sleep 0.1; done
done
export NOTARY_ROOT_PASSPHRASE=fixture NOTARY_TARGETS_PASSPHRASE=fixture NOTARY_SNAPSHOT_PASSPHRASE=fixture NOTARY_DELEGATION_PASSPHRASE=fixture
n=(notary -s "http://127.0.0.1:$proxy" -d "$work/trust")
url=http://127.0.0.1:$port/v2
get() { curl -sf "$url/$1/_trust/tuf/$2.json" -o "$3"; }

# example.com/app
gun=example.com/app
mkdir -p "$out/app/rotated"
printf 'hello notary\n' >"$work/hello.txt"
printf 'release one\n' >"$work/rel.txt"
"${n[@]}" init "$gun" >/dev/null
"${n[@]}" add "$gun" hello "$work/hello.txt" >/dev/null
"${n[@]}" publish "$gun" >/dev/null
# A delegation with a path prefix, with a key made by openssl.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/del.key" 2>/dev/null
openssl req -new -x509 -key "$work/del.key" -out "$work/del.crt" -days 3650 -subj /CN=releases 2>/dev/null
"${n[@]}" delegation add "$gun" targets/releases "$work/del.crt" --paths releases/ -p >/dev/null
"${n[@]}" key import "$work/del.key" -r targets/releases >/dev/null
"${n[@]}" add "$gun" releases/one "$work/rel.txt" -r targets/releases -p >/dev/null
for r in root targets snapshot timestamp targets/releases; do
	mkdir -p "$(dirname "$out/app/$r.json")"
	get "$gun" "$r" "$out/app/$r.json"
done
"${n[@]}" key rotate "$gun" snapshot -r >/dev/null
"${n[@]}" add "$gun" second "$work/rel.txt" -p >/dev/null
for r in root targets snapshot timestamp targets/releases; do
	mkdir -p "$(dirname "$out/app/rotated/$r.json")"
	get "$gun" "$r" "$out/app/rotated/$r.json"
done
get "$gun" 1.root "$out/app/rotated/1.root.json"
# The IDs notary names its private key files by (root: the canonical ID).
ls "$work/trust/private" | sed 's/\.key$//' | sort >"$out/app/private-key-ids.txt"

# example.com/rsa: root key and certificate from openssl.
gun=example.com/rsa
mkdir -p "$out/rsa"
openssl genrsa -out "$work/root-rsa.key" 2048 2>/dev/null
openssl req -new -x509 -key "$work/root-rsa.key" -out "$work/root-rsa.crt" -days 3650 -subj "/CN=${gun//\//\\/}" -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=codeSigning -addext keyUsage=critical,digitalSignature 2>/dev/null
# notary imports only encrypted root keys, and reads PBKDF2 with HMAC-SHA1 only.
openssl pkcs8 -topk8 -in "$work/root-rsa.key" -out "$work/root-rsa.enc" -v2 aes-256-cbc -v2prf hmacWithSHA1 -passout pass:fixture
"${n[@]}" init "$gun" --rootkey "$work/root-rsa.enc" --rootcert "$work/root-rsa.crt" >/dev/null
"${n[@]}" add "$gun" hello "$work/hello.txt" -p >/dev/null
for r in root targets snapshot timestamp; do get "$gun" "$r" "$out/rsa/$r.json"; done
# example.com/html: the upload notary-server refuses.
gun=example.com/html
mkdir -p "$out/html"
printf '{"note":"a <b> & c","n":1}' >"$work/html.json"
"${n[@]}" init "$gun" >/dev/null
"${n[@]}" add "$gun" hello "$work/hello.txt" --custom "$work/html.json" >/dev/null
if "${n[@]}" publish "$gun" >/dev/null 2>&1; then echo "gen.sh: notary-server accepted the <>& upload" >&2; exit 1; fi
last=$(ls -d "$work"/captured/post-* | sort -t- -k2 -n | tail -1)
cp "$last/targets.json" "$last/root.json" "$out/html/"
echo "fixtures written to $out"
