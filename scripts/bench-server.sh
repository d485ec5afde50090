#!/usr/bin/env bash
# GET timestamp.json on loopback under `wrk -t2 -c32`: `rampart serve` (embedded
# store), through its TUF routes and through its Notary API (a repository
# published there by the notary client), against Debian's notary-server 0.7.0
# (memory store) in the same run,
# with a bare Go static file server serving the same kind of file as a
# ceiling. Needs wrk and notary (Debian packages; installed when missing and
# running as root).
#
# With LARGE=N, a second `rampart serve` (embedded store) also holds a
# repository of N targets in 4096 hashed bins, published to it with
# `rampart repo publish` (a staged update), and GET timestamp.json is
# measured there too.
#
#   scripts/bench-server.sh [SECONDS]      (default 10 per server)
#   LARGE=1000000 scripts/bench-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v notary-server >/dev/null || need+=(notary)
if [[ ${#need[@]} -gt 0 ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "bench-server: install ${need[*]} (Debian packages) first" >&2
		exit 1
	fi
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

go build -o "$work/bin/" ./cmd/rampart ./internal/benchtools/publish ./internal/benchtools/serve
bin=$work/bin
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
rate() { wrk -t2 -c32 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }

# notary-server 0.7.0, memory store, a repository published with the notary client.
cat >"$work/notary-server.json" <<JSON
{"server":{"http_addr":"127.0.0.1:4543"},"trust_service":{"type":"local"},"logging":{"level":"error"},"storage":{"backend":"memory"}}
JSON
notary-server -config "$work/notary-server.json" >"$work/notary-server.log" 2>&1 &
pids+=($!)
wait_up http://127.0.0.1:4543/_notary_server/health
export NOTARY_ROOT_PASSPHRASE=bench NOTARY_TARGETS_PASSPHRASE=bench NOTARY_SNAPSHOT_PASSPHRASE=bench
notary -s http://127.0.0.1:4543 -d "$work/trust" init example.com/bench -p >/dev/null
notary_url=http://127.0.0.1:4543/v2/example.com/bench/_trust/tuf/timestamp.json
curl -sf "$notary_url" >/dev/null

# rampart serve, embedded store.
"$bin/rampart" serve --addr 127.0.0.1:4544 --data "$work/rampart" --insecure-no-auth --log-level error >"$work/rampart.log" 2>&1 &
pids+=($!)
wait_up http://127.0.0.1:4544/healthz
"$bin/publish" -url http://127.0.0.1:4544 -gun example.com/bench >/dev/null
rampart_url=http://127.0.0.1:4544/tuf/example.com/bench/metadata/timestamp.json
curl -sf "$rampart_url" -o "$work/timestamp.json"
# The same server's Notary API, with a repository the notary client made.
notary -s http://127.0.0.1:4544 -d "$work/trust-rampart" init example.com/notary-bench -p >/dev/null
rampart_notary_url=http://127.0.0.1:4544/v2/example.com/notary-bench/_trust/tuf/timestamp.json
curl -sf "$rampart_notary_url" >/dev/null

# A bare Go file server serving the same file.
mkdir -p "$work/static" && cp "$work/timestamp.json" "$work/static/"
"$bin/serve" -dir "$work/static" -addr 127.0.0.1:4545 &
pids+=($!)
wait_up http://127.0.0.1:4545/timestamp.json

# A large repository, on a server of its own.
if [[ -n ${LARGE:-} ]]; then
	export RAMPART_PASSPHRASE=bench
	"$bin/rampart" serve --addr 127.0.0.1:4546 --data "$work/large" --log-level error >"$work/large.log" 2>&1 &
	pids+=($!)
	wait_up http://127.0.0.1:4546/healthz
	awk -v n="$LARGE" 'BEGIN { for (i = 0; i < n; i++) printf "project-%07d/releases/artifact-%07d.tar.gz\t%d\t%064x\n", i, i, 1000 + i, i }' >"$work/manifest.tsv"
	"$bin/rampart" repo init "$work/large-repo" --bins 12 --server http://127.0.0.1:4546 --gun example.com/large --token-file "$work/large/admin.token" >/dev/null
	"$bin/rampart" repo add "$work/large-repo" --from-manifest "$work/manifest.tsv" >/dev/null
	"$bin/rampart" repo publish "$work/large-repo" --token-file "$work/large/admin.token" >/dev/null
	large_url=http://127.0.0.1:4546/tuf/example.com/large/metadata/timestamp.json
	curl -sf "$large_url" >/dev/null
fi

n=$(rate "$notary_url")
r=$(rate "$rampart_url")
rn=$(rate "$rampart_notary_url")
s=$(rate http://127.0.0.1:4545/timestamp.json)
echo "notary-server 0.7.0 (memory):        $n req/s"
echo "rampart serve (embedded), /tuf/:     $r req/s"
echo "rampart serve (embedded), Notary API: $rn req/s"
echo "bare Go file server:                 $s req/s"
if [[ -n ${LARGE:-} ]]; then
	l=$(rate "$large_url")
	echo "rampart serve (embedded), /tuf/, $LARGE targets stored: $l req/s"
	python3 -c "print(f'rampart with $LARGE targets / notary-server: {float(\"$l\")/float(\"$n\"):.1f}x')"
fi
python3 -c "print(f'rampart / notary-server: {float(\"$r\")/float(\"$n\"):.1f}x; rampart Notary API / notary-server: {float(\"$rn\")/float(\"$n\"):.1f}x; rampart / bare Go: {float(\"$r\")/float(\"$s\"):.2f}')"
