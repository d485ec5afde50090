#!/usr/bin/env bash
# Cold `rampart client get` of one target against go-tuf v2's client, in the
# same run, on repositories served by a static HTTP server on loopback:
#   1. targets.json with 100,000 targets (about 15 MB)
#   2. 1,000,000 targets in 4096 succinct hashed bins
# Each client starts from an empty directory and the trusted root every run.
# Prints median wall time and peak resident memory, and the ratios.
#
#   scripts/bench-client.sh [RUNS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "building..." >&2
go build -o "$work/bin/" ./cmd/rampart ./internal/benchtools/genrepo ./internal/benchtools/serve \
	./internal/benchtools/gotufget ./internal/benchtools/measure
bin=$work/bin

bench() { # name, targets, bins
	local name=$1 n=$2 bits=$3 repo=$work/repo-$1
	echo "generating $name ($n targets, bins=$bits)..." >&2
	local target
	target=$("$bin/genrepo" -out "$repo" -targets "$n" -bins "$bits")
	local port=$((20000 + RANDOM % 20000))
	"$bin/serve" -dir "$repo" -addr "127.0.0.1:$port" &
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metadata/timestamp.json" >/dev/null && break; sleep 0.1; done
	local base=http://127.0.0.1:$port c=$work/c-$name g=$work/g-$name
	local r g_
	r=$("$bin/measure" -name "rampart/$name" -runs "$runs" \
		-setup "rm -rf $c && $bin/rampart client init --url $base --root $repo/metadata/1.root.json --dir $c >/dev/null" \
		-- "$bin/rampart" client get --dir "$c" "$target" -o "$c/out")
	g_=$("$bin/measure" -name "go-tuf-v2/$name" -runs "$runs" -setup "rm -rf $g && mkdir -p $g/md" \
		-- "$bin/gotufget" -root "$repo/metadata/1.root.json" -url "$base" -dir "$g/md" -target "$target" -o "$g/out")
	echo "$r"
	echo "$g_"
	python3 - "$r" "$g_" <<'PY'
import sys, re
def parse(s):
    return {k: float(v) for k, v in re.findall(r'(\w+)=([\d.]+)', s)}
r, g = parse(sys.argv[1]), parse(sys.argv[2])
print(f"  go-tuf v2 / rampart: time {g['median_ms']/r['median_ms']:.1f}x, peak memory {g['max_rss_mb']/r['max_rss_mb']:.1f}x")
print(f"  python-tuf (issue's figure: 1500 ms, 230 MB) / rampart: time {1500/r['median_ms']:.1f}x, peak memory {230/r['max_rss_mb']:.1f}x")
PY
	kill %1 2>/dev/null || true
	wait 2>/dev/null || true
}

bench flat-100k 100000 0
bench bins-1m 1000000 12
