#!/usr/bin/env bash
# in-toto over TUF (issue 12) with the rampart binary and Debian's in-toto,
# printed as a transcript: a two-step supply chain (developer writes src/,
# packager tars it) run with in-toto-run, its layout, links and keys
# published with the package in a TUF repository set up for ITE-2, and a
# client that accepts the package only when TUF and in-toto both verify it.
# Then what an attacker holding the online key could publish, each refused.
#
#   scripts/intoto-demo.sh            (needs: apt-get install in-toto)
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
py=
for p in /usr/bin/python3 python3; do "$p" -c 'import in_toto, securesystemslib' 2>/dev/null && { py=$p; break; }; done
if ! command -v in-toto-run >/dev/null || [[ -z $py ]]; then
	echo "intoto-demo: needs Debian's in-toto (apt-get install in-toto python3-securesystemslib)" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/bin/" ./cmd/rampart ./internal/benchtools/serve
export PATH=$work/bin:$PATH RAMPART_PASSPHRASE=demo
cd "$work"
x() { echo "\$ rampart $*"; rampart "$@" 2>&1 | sed 's/^/  /'; }
refused() { # a command that must fail: print its error
	echo "\$ rampart $*"
	if out=$(rampart "$@" 2>&1); then echo "UNEXPECTED: it succeeded" >&2; exit 1; fi
	echo "$out" | sed 's/^/  /'
	rm -f got.tgz
}
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
layout() { # SIGNER TYPE OUT EXPIRES
	quiet "$py" "$here/internal/intototest/layout.py" "keys/$1" "$2" keys/developer.pub keys/packager.pub "$3" "$4" no
}
build() { # DIR SOURCE: run both steps in DIR
	mkdir -p "$1/src" && echo "$2" >"$1/src/foo.py"
	(cd "$1" && quiet in-toto-run -n developer -p src -k ../keys/developer -t ed25519 -x &&
		quiet in-toto-run -n packager -m src -p foo-1.0.tar.gz src -k ../keys/packager -t rsa -- tar czf foo-1.0.tar.gz src)
}
year=$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%SZ)

echo "### the supply chain, with in-toto's own tools"
mkdir keys
(cd keys && for k in owner:ecdsa developer:ed25519 packager:rsa rogue:ed25519; do quiet in-toto-keygen -t "${k#*:}" "${k%:*}"; done)
layout owner ecdsa root.layout "$year"
build good "print('hello from foo 1.0')"
ls good/*.link
dev=$(ls good/developer.*.link) pkg=$(ls good/packager.*.link)

echo "### the repository: ITE-2's basic security model, then the package"
rampart repo init repo >/dev/null
quiet rampart key generate --type ed25519 -o online
x repo in-toto-setup repo --key online.key
x repo add repo good/foo-1.0.tar.gz --in-toto-layout root.layout --in-toto-link "$dev" --in-toto-link "$pkg" --in-toto-key keys/owner.pub
x repo publish repo --out www
port=$((20000 + RANDOM % 20000))
serve -dir www -addr "127.0.0.1:$port" &
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/metadata/timestamp.json" && break; sleep 0.2; done

echo "### a client: TUF, then in-toto, before the file is written"
x client init --url "http://127.0.0.1:$port" --root repo/roots/1.root.json --dir client
x client get --dir client foo-1.0.tar.gz -o got.tgz --in-toto
cmp got.tgz good/foo-1.0.tar.gz && echo "  (got.tgz is the packager's tarball)"
rm got.tgz

echo "### refused when publishing: a link missing"
refused repo add repo good/foo-1.0.tar.gz --as foo-1.1.tar.gz --in-toto-layout root.layout --in-toto-link "$pkg" --in-toto-key keys/owner.pub

echo "### what an attacker with the online key could publish, each refused by the client"
sum=$(sha256sum good/foo-1.0.tar.gz | cut -d' ' -f1)
links="\"in-toto-metadata/$sum/${dev#good/}\",\"in-toto-metadata/$sum/${pkg#good/}\""
owner=$(ls www/targets/in-toto-pubkeys/ | sed 's/^[0-9a-f]*\.//' | head -1)
custom() { echo "{\"in-toto\":[\"in-toto-metadata/$1\",$2]}"; }
build other "print('backdoor')"
# swapped: another build's package, listed with this build's links
quiet rampart repo add repo other/foo-1.0.tar.gz --as swapped.tar.gz --custom "$(custom root.layout "$links")"
(cd keys && cp "../$pkg" in.link && quiet in-toto-sign -f in.link -k rogue -t ed25519 && rm in.link)
rogue=$(ls keys/*.link)
quiet rampart repo add repo "$rogue" --as "in-toto-metadata/rogue/${rogue#keys/}"
quiet rampart repo add repo good/foo-1.0.tar.gz --as wrongkey.tar.gz --custom "$(custom root.layout "\"in-toto-metadata/$sum/${dev#good/}\",\"in-toto-metadata/rogue/${rogue#keys/}\"")"
quiet rampart repo add repo good/foo-1.0.tar.gz --as missinglink.tar.gz --custom "$(custom root.layout "\"in-toto-metadata/$sum/${pkg#good/}\"")"
layout owner ecdsa expired.layout "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
quiet rampart repo add repo expired.layout --as in-toto-metadata/expired.layout --custom "{\"in-toto\":[\"in-toto-pubkeys/$owner\"]}"
quiet rampart repo add repo good/foo-1.0.tar.gz --as expired.tar.gz --custom "$(custom expired.layout "$links")"
layout rogue ed25519 rogue.layout "$year"
quiet rampart repo add repo rogue.layout --as in-toto-metadata/rogue.layout --custom "{\"in-toto\":[\"in-toto-pubkeys/$owner\"]}"
quiet rampart repo add repo good/foo-1.0.tar.gz --as roguelayout.tar.gz --custom "$(custom rogue.layout "$links")"
quiet rampart repo publish repo --out www
for t in swapped wrongkey missinglink expired roguelayout; do
	echo "# $t.tar.gz"
	refused client get --dir client "$t.tar.gz" -o got.tgz --in-toto --in-toto-product foo-1.0.tar.gz
done
echo "# foo-1.0.tar.gz tampered on the server"
cp other/foo-1.0.tar.gz "www/targets/$sum.foo-1.0.tar.gz"
refused client get --dir client foo-1.0.tar.gz -o got.tgz --in-toto
ls got.tgz 2>/dev/null && { echo "UNEXPECTED: a refused get left got.tgz" >&2; exit 1; }
echo "### no refused get left a file behind"

echo "### the CNAB variant: packages and links signed by targets/releases"
rampart repo init bundles >/dev/null
x repo in-toto-setup bundles --key online.key --cnab example.com/org/bundle
x repo add bundles good/foo-1.0.tar.gz --as example.com/org/bundle:1.0 --in-toto-product foo-1.0.tar.gz \
	--in-toto-layout root.layout --in-toto-link "$dev" --in-toto-link "$pkg" --in-toto-key keys/owner.pub
x repo publish bundles --out www2
echo "\$ ls www2/metadata/*.targets"
ls -d www2/metadata/*.targets/* | sed 's/^/  /'
port2=$((20000 + RANDOM % 20000))
serve -dir www2 -addr "127.0.0.1:$port2" &
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port2/metadata/timestamp.json" && break; sleep 0.2; done
x client init --url "http://127.0.0.1:$port2" --root bundles/roots/1.root.json --dir client2
x client get --dir client2 example.com/org/bundle:1.0 -o got.tgz --in-toto --in-toto-product foo-1.0.tar.gz
cmp got.tgz good/foo-1.0.tar.gz && echo "  (got.tgz is the packager's tarball)"
