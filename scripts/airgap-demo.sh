#!/usr/bin/env bash
# The air gap of issue 17 with the rampart binary, every server on
# loopback, printed as a transcript: an outside repository with a delegated
# role is mirrored, a client of the mirror exports a bundle, and with the
# outside servers stopped a fresh client imports it and gets a target
# offline, and a repository on an inside `rampart serve` re-roots the
# delegation with its original signatures and serves it.
#
#   scripts/airgap-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/bin/" ./cmd/rampart ./internal/benchtools/serve
export PATH=$work/bin:$PATH RAMPART_PASSPHRASE=demo
cd "$work"
x() { echo "\$ rampart $*"; rampart "$@" 2>&1; }
port() { echo $((20000 + RANDOM % 20000)); }
wait_for() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

echo "### outside: a repository whose targets delegate partner/* to 'partner'"
rampart repo init outside >/dev/null
rampart repo delegate outside partner --key outside/keys/targets.pub --paths 'partner/*' >/dev/null
echo "partner tool 1.0" >tool-1.0.tgz
x repo add outside tool-1.0.tgz --as partner/tool-1.0.tgz
x repo publish outside --out www
o=$(port); serve -dir www -addr "127.0.0.1:$o" & origin=$!
wait_for "http://127.0.0.1:$o/metadata/timestamp.json"

echo "### outside: a mirror, and a client of the mirror that exports a bundle"
x mirror "http://127.0.0.1:$o" mirror --root outside/roots/1.root.json
x mirror "http://127.0.0.1:$o" mirror --root outside/roots/1.root.json
m=$(port); serve -dir mirror -addr "127.0.0.1:$m" & mirrorsrv=$!
wait_for "http://127.0.0.1:$m/metadata/timestamp.json"
x client init --url "http://127.0.0.1:$m" --root outside/roots/1.root.json --dir exporter
x client export --dir exporter -o partner.bundle partner/tool-1.0.tgz
kill "$origin" "$mirrorsrv"

echo "### inside (the outside servers are stopped): a fresh client with no network"
x client init --root outside/roots/1.root.json --dir fresh
x client import --dir fresh partner.bundle
x client get --dir fresh --offline partner/tool-1.0.tgz -o got-offline.tgz
x client list --dir fresh --offline

echo "### inside: a repository on its own metadata server re-roots the delegation"
i=$(port); rampart serve --addr "127.0.0.1:$i" --data serve-data >serve.log 2>&1 &
wait_for "http://127.0.0.1:$i/healthz"
RAMPART_TOKEN=$(rampart token create --server "http://127.0.0.1:$i" --token-file serve-data/admin.token --scope push --gun-prefix example.com/inside)
export RAMPART_TOKEN
x repo init inside --server "http://127.0.0.1:$i" --gun example.com/inside/apps
x repo import-delegation inside partner --from-bundle partner.bundle
x repo publish inside
x client init --url "http://127.0.0.1:$i/tuf/example.com/inside/apps" --root inside/roots/1.root.json --dir inside-client
x client get --dir inside-client partner/tool-1.0.tgz -o got-inside.tgz
x client list --dir inside-client
p=$(cd www/metadata && ls ./*.partner.json | sort -t. -k2 -n | tail -1 | sed 's#^\./##')
echo "\$ curl -s http://127.0.0.1:$i/tuf/example.com/inside/apps/metadata/$p | cmp - www/metadata/$p"
curl -s "http://127.0.0.1:$i/tuf/example.com/inside/apps/metadata/$p" | cmp - "www/metadata/$p"
echo "identical: $p inside is the outside role, byte for byte, with its original signatures"
