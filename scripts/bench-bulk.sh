#!/usr/bin/env bash
# The bulk path as a user runs it: `rampart repo init R --bins BITS`,
# `repo add R FILE`, `repo add R --from-manifest LIST` (N targets) and
# `repo publish R --out PUB`, each a process of its own with a
# passphrase-protected key store, against go-tuf v2's Metadata API doing the
# same work (repo/bench's gotuf measurement) in the same run. Prints each
# command's wall time, CPU time (user + system) and peak RSS
# (/usr/bin/time -v), the totals, the ratios against go-tuf and the largest
# peak RSS of the four commands.
#
# With AGENT=1 (and a rampart that has `rampart agent`), the keys init made
# are handed to an agent once, as a maintainer does at the start of a
# session (`rampart agent add`, timed apart), and the commands after init
# sign with them without unlocking key files; otherwise every command that
# signs unlocks its keys (Argon2id) from their files. The CPU time the
# agent spends while a command runs (signing for it) is counted in that
# command's CPU time.
#
# The load of the machine (uptime) is printed before and after: other work
# on the machine shares its cores. Runs of this script back to back are not
# independent on ext4 without a journal (as on some virtual machines): for
# a minute or more after files are deleted (the previous run's clean-up),
# creating a file skips the recently freed inodes one by one (ext4's
# recently_deleted in a kernel profile), which adds up to a second of
# system time in openat to the 4096 bins, for rampart and go-tuf alike;
# other programs deleting files meanwhile do the same. Wait a couple of
# minutes between runs.
#
#   scripts/bench-bulk.sh [N] [BITS]      (default 1000000 targets, 12 bits)
#   AGENT=1 scripts/bench-bulk.sh [N] [BITS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
bits=${2:-12}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
[[ -x /usr/bin/time ]] || { echo "bench-bulk: install time (Debian package) first" >&2; exit 1; }

go build -o "$work/bin/" ./cmd/rampart ./repo/bench
bin=$work/bin
"$bin/bench" -n "$n" -write-manifest "$work/manifest.tsv"
head -c 4096 /dev/urandom >"$work/one.tar.gz"
export RAMPART_PASSPHRASE=bench

# agent_ticks: CPU time (clock ticks) the agent has used so far, or 0.
agent_pid=
agent_ticks() {
	local f
	[[ -n $agent_pid ]] || { echo 0; return; }
	read -ra f </proc/"$agent_pid"/stat
	echo $((f[13] + f[14]))
}
tck=$(getconf CLK_TCK)

# measure NAME CMD...: runs CMD under /usr/bin/time -v, records seconds and KiB.
declare -A secs cpu rss
measure() {
	local name=$1 a0
	shift
	a0=$(agent_ticks)
	/usr/bin/time -v -o "$work/time.$name" "$@" >"$work/out.$name" 2>&1 || {
		cat "$work/out.$name" >&2
		exit 1
	}
	secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time.$name")
	cpu[$name]=$(awk -F': ' -v a=$(($(agent_ticks) - a0)) -v t="$tck" '/(User|System) time \(seconds\)/ {s += $2} END {print s + a / t}' "$work/time.$name")
	rss[$name]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$name")
	printf '%-34s %7.2f s  CPU %6.2f s  peak RSS %5d MiB\n' "$name" "${secs[$name]}" "${cpu[$name]}" $((rss[$name] / 1024))
}

echo "$n targets into $((1 << bits)) bins, work directory $work"
echo "load before: $(uptime)"
measure "rampart repo init --bins $bits" "$bin/rampart" repo init "$work/R" --bins "$bits"
if [[ ${AGENT:-} == 1 ]]; then
	"$bin/rampart" agent --help >/dev/null 2>&1 || { echo "bench-bulk: this rampart has no 'rampart agent'" >&2; exit 1; }
	mkdir -m 0700 "$work/agent"
	export RAMPART_AGENT_SOCK=$work/agent/sock
	"$bin/rampart" agent --socket "$RAMPART_AGENT_SOCK" >"$work/agent.log" 2>&1 &
	pids+=($!)
	agent_pid=$!
	for _ in $(seq 100); do [[ -S $RAMPART_AGENT_SOCK ]] && break; sleep 0.1; done
	t0=$(date +%s%3N)
	"$bin/rampart" agent add "$work"/R/keys/*.key >/dev/null
	echo "rampart agent add (once, not counted): $(($(date +%s%3N) - t0)) ms"
fi
measure "rampart repo add FILE" "$bin/rampart" repo add "$work/R" "$work/one.tar.gz"
measure "rampart repo add --from-manifest" "$bin/rampart" repo add "$work/R" --from-manifest "$work/manifest.tsv"
measure "rampart repo publish --out" "$bin/rampart" repo publish "$work/R" --out "$work/PUB"
total=0 total_cpu=0 peak=0
for k in "${!secs[@]}"; do
	total=$(awk -v a="$total" -v b="${secs[$k]}" 'BEGIN {print a + b}')
	total_cpu=$(awk -v a="$total_cpu" -v b="${cpu[$k]}" 'BEGIN {print a + b}')
	((rss[$k] > peak)) && peak=${rss[$k]}
done
g="go-tuf v2 Metadata API"
measure "$g" "$bin/bench" -child gotuf -dir "$work" -bits "$bits"
awk -v r="$total" -v rc="$total_cpu" -v g="${secs[$g]}" -v gc="${cpu[$g]}" -v p="$peak" 'BEGIN {
	printf "rampart, four commands: %.2f s (CPU %.2f s), peak RSS %d MiB\n", r, rc, p / 1024
	printf "go-tuf v2 Metadata API: %.2f s (CPU %.2f s)\n", g, gc
	printf "rampart is %.1fx faster than go-tuf v2 (%.1fx in CPU time)\n", g / r, gc / rc
}'
echo "load after: $(uptime)"
