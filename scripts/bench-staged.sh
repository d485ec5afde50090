#!/usr/bin/env bash
# A first publish of a large repository (default 1,000,000 targets in 4096
# hashed bins, registered with `repo add --from-manifest`) through
# `rampart repo publish` to `rampart serve` with default flags, which sends
# it as a staged update in parts, on the embedded store and on PostgreSQL.
# For each store it prints the publish's wall time against `repo publish
# --out` of the same repository in the same run, the CPU time of each
# (cpu_ms: of the command; and the server's during the publish: the machine
# may be shared, which wall times do not show), and the server's peak
# resident memory over the whole run (VmHWM, which counts the pages of the
# database file the embedded store maps, and the private part alone). Needs PostgreSQL's server
# binaries (Debian package postgresql); as root, postgres runs as the
# "postgres" user.
#
#   scripts/bench-staged.sh [TARGETS]      (STORES="bolt" or "postgres" for one)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
work=$(mktemp -d)
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/bin/" ./cmd/rampart ./internal/benchtools/measure
bin=$work/bin
wait_up() { for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
export RAMPART_PASSPHRASE=bench

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "project-%07d/releases/artifact-%07d.tar.gz\t%d\t%064x\n", i, i, 1000 + i, i }' >"$work/manifest.tsv"

# postgres, for the second run.
pgbin=${RAMPART_PG_BINDIR:-$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")}
as_pg=()
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); fi
mkdir -p "$work/pg" && chmod 777 "$work" "$work/pg"
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg/data" -U rampart --auth=trust -E UTF8 --no-sync --locale=C >/dev/null
"${as_pg[@]}" "$pgbin/postgres" -D "$work/pg/data" -p 4651 -k "$work/pg" -c listen_addresses=127.0.0.1 -c fsync=on >"$work/pg/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$pgbin/pg_isready" -h 127.0.0.1 -p 4651 >/dev/null 2>&1 && break; sleep 0.1; done

# pg_cpu prints the CPU time, in clock ticks, of the PostgreSQL cluster so
# far: the postmaster's, its exited children's, and its running children's.
pg_cpu() {
	local pm
	pm=$(head -1 "$work/pg/data/postmaster.pid")
	{
		awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
		for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
	} | awk '{s += $1} END {print s}'
}

# run STORE PORT [SERVE FLAGS...]: a server, a repository, both publishes.
run() {
	local store=$1 port=$2
	shift 2
	local data=$work/$store url=http://127.0.0.1:$port gun=example.com/large/$store
	"$bin/rampart" serve --addr "127.0.0.1:$port" --data "$data" --log-level error "$@" >"$work/$store.log" 2>&1 &
	local pid=$!
	pids+=("$pid")
	wait_up "$url/healthz"
	# The same targets in a repository for --out (a repository made for a
	# server publishes only there), and in one for the server.
	"$bin/rampart" repo init "$work/local-$store" --bins 12 >/dev/null
	"$bin/rampart" repo add "$work/local-$store" --from-manifest "$work/manifest.tsv" >/dev/null
	"$bin/rampart" repo init "$work/repo-$store" --bins 12 --server "$url" --gun "$gun" --token-file "$data/admin.token" >/dev/null
	"$bin/rampart" repo add "$work/repo-$store" --from-manifest "$work/manifest.tsv" >/dev/null
	# Peak private (anonymous) memory of the server, sampled: VmHWM also
	# counts the pages of the database file it maps.
	(while kill -0 "$pid" 2>/dev/null; do awk '/RssAnon/ {print $2}' "/proc/$pid/status"; sleep 0.5; done | sort -n | tail -1 >"$work/$store.anon") &
	local out srv
	out=$("$bin/measure" -name "publish --out" -runs 1 -- "$bin/rampart" repo publish "$work/local-$store" --out "$work/pub-$store" 2>/dev/null)
	local cpu0 cpu1
	cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	local pg0 pg1
	pg0=$(pg_cpu)
	srv=$("$bin/measure" -name "publish to server" -runs 1 -- "$bin/rampart" repo publish "$work/repo-$store" --token-file "$data/admin.token" 2>/dev/null)
	cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	pg1=$(pg_cpu)
	local hwm
	hwm=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
	local t_out t_srv
	t_out=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$out")
	t_srv=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$srv")
	echo "$store: $n targets, $(du -sb "$work/pub-$store/metadata" | cut -f1) bytes of metadata"
	echo "  $out"
	echo "  $srv"
	echo "  server CPU (user+sys) during the publish: $(((cpu1 - cpu0) * 1000 / $(getconf CLK_TCK))) ms"
	if [[ $store == postgres ]]; then echo "  PostgreSQL CPU during the publish: $(((pg1 - pg0) * 1000 / $(getconf CLK_TCK))) ms"; fi
	echo "  server peak RSS (VmHWM): ${hwm} MiB"
	python3 -c "print(f'  publish to server / publish --out: {$t_srv / $t_out:.2f}x')"
	curl -sf "$url/tuf/$gun/metadata/timestamp.json" >/dev/null
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	sleep 1
	echo "  server peak private memory (RssAnon, sampled): $(($(cat "$work/$store.anon") / 1024)) MiB"
}

for store in ${STORES:-bolt postgres}; do
	case $store in
	bolt) run bolt 4644 ;;
	postgres) run postgres 4645 --store "postgres://rampart@127.0.0.1:4651/postgres?sslmode=disable" ;;
	esac
done
