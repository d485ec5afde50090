#!/usr/bin/env bash
# A maintainer's publish, end to end from the command line, on loopback:
# add one file and publish it, N times, with Debian's notary client against
# notary-server 0.7.0 (memory store), with the same notary client against
# `rampart serve`'s Notary API, and with `rampart repo add` + `rampart repo
# publish` against `rampart serve` (embedded store), with and without the keys
# held by `rampart agent`, and with the keys in the agent for a repository
# whose content is hosted elsewhere (`repo init --content external`: the
# file is hashed, not copied, and publish uploads metadata only, as notary
# does), in the same run.
# Both sign targets on the maintainer's side with a passphrase-protected key
# and let the server sign snapshot and timestamp. Prints the mean time of one
# add and of one publish for each, and their ratios. Needs notary (Debian package;
# installed when missing and running as root).
#
#   scripts/bench-publish.sh [N]      (default 20 publishes each)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

if ! command -v notary-server >/dev/null; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "bench-publish: install notary (Debian package) first" >&2
		exit 1
	fi
	apt-get install -y -qq notary >/dev/null
fi

go build -o "$work/bin/" ./cmd/rampart
bin=$work/bin
# Every program timed starts from the same state of the page cache: its
# file read from storage, as an installed program is after a restart. A
# binary just written by the linker (or by dpkg) sits in the cache in
# small pages and costs each of its processes ~100 more page faults (a
# few ms of CPU on some virtual machines) than the same file read back,
# and one the
# kernel has since mapped in huge pages fewer; so each is dropped from the
# cache and read again, before any of them runs.
for prog in "$bin/rampart" "$(command -v notary)" "$(command -v notary-server)"; do
	sync "$prog" # written back first: dirty pages stay in the cache
	dd if="$prog" iflag=nocache count=0 status=none
	cat "$prog" >/dev/null
done
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
# Times are read from bash itself, in microseconds (t0=${EPOCHREALTIME/[.,]/}):
# a `date` process per reading would be timed along with the commands.
# cpu_ms PID...: CPU time (user+system, ms) used so far by this shell's
# finished children and by the processes given (the servers, the agent), so
# that each side is also compared by the work it does, which a loaded
# machine does not inflate as it does wall time.
tck=$(getconf CLK_TCK)
cpu_ms() {
	local t f p
	read -ra f </proc/$$/stat
	t=$((f[15] + f[16]))
	for p in "$@"; do
		read -ra f </proc/"$p"/stat
		t=$((t + f[13] + f[14]))
	done
	echo $((t * 1000 / tck))
}
mkdir -p "$work/files"
for i in $(seq "$n"); do head -c 4096 /dev/urandom >"$work/files/f$i"; done

# Everything is set up first; then each round runs notary, rampart with
# the agent and notary against rampart serve in turn, so that a change of
# the machine's load during the run weighs on them alike.

# notary-server 0.7.0, memory store; the notary client signs targets.
cat >"$work/notary-server.json" <<JSON
{"server":{"http_addr":"127.0.0.1:4553"},"trust_service":{"type":"local"},"logging":{"level":"error"},"storage":{"backend":"memory"}}
JSON
notary-server -config "$work/notary-server.json" >"$work/notary-server.log" 2>&1 &
pids+=($!)
notary_srv=$!
wait_up http://127.0.0.1:4553/_notary_server/health
export NOTARY_ROOT_PASSPHRASE=bench NOTARY_TARGETS_PASSPHRASE=bench NOTARY_SNAPSHOT_PASSPHRASE=bench
notary=(notary -s http://127.0.0.1:4553 -d "$work/trust")
"${notary[@]}" init example.com/bench -p >/dev/null

# rampart serve, embedded store; rampart repo signs targets, with keys
# unlocked by passphrase (RAMPART_PASSPHRASE, given to these commands
# only).
"$bin/rampart" serve --addr 127.0.0.1:4554 --data "$work/rampart" --log-level error >"$work/rampart.log" 2>&1 &
pids+=($!)
rampart_srv=$!
wait_up http://127.0.0.1:4554/healthz
export RAMPART_TOKEN=$("$bin/rampart" token create --server http://127.0.0.1:4554 --token-file "$work/rampart/admin.token" --scope push)
RAMPART_PASSPHRASE=bench "$bin/rampart" repo init "$work/repo" --server http://127.0.0.1:4554 --gun example.com/bench >/dev/null
RAMPART_PASSPHRASE=bench "$bin/rampart" repo publish "$work/repo" >/dev/null

# The same with the maintainer's keys in `rampart agent`: unlocked once, so
# that no command derives a key from a passphrase (RAMPART_PASSPHRASE is
# not set for them: only the agent can sign).
sock=$work/agent/sock
"$bin/rampart" agent --socket "$sock" --ttl 1h >/dev/null 2>"$work/agent.log" &
pids+=($!)
agent_proc=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
RAMPART_PASSPHRASE=bench "$bin/rampart" repo init "$work/repo-agent" --server http://127.0.0.1:4554 --gun example.com/bench-agent >/dev/null
RAMPART_PASSPHRASE=bench "$bin/rampart" repo publish "$work/repo-agent" >/dev/null
RAMPART_PASSPHRASE=bench RAMPART_AGENT_SOCK=$sock "$bin/rampart" agent add "$work/repo-agent"/keys/*.key >/dev/null
# A repository whose content is hosted elsewhere, its keys in the agent too.
RAMPART_PASSPHRASE=bench "$bin/rampart" repo init "$work/repo-ext" --server http://127.0.0.1:4554 --gun example.com/bench-ext --content external >/dev/null
RAMPART_PASSPHRASE=bench "$bin/rampart" repo publish "$work/repo-ext" >/dev/null
RAMPART_PASSPHRASE=bench RAMPART_AGENT_SOCK=$sock "$bin/rampart" agent add "$work/repo-ext"/keys/*.key >/dev/null

# The notary client against rampart serve's Notary API, with a push token
# as the Basic password (NOTARY_AUTH, given to these commands only).
notary_auth=$(printf 'bench:%s' "$RAMPART_TOKEN" | base64 -w0)
notary_r=(notary -s http://127.0.0.1:4554 -d "$work/trust-rampart")
NOTARY_AUTH=$notary_auth "${notary_r[@]}" init example.com/notary-bench -p >/dev/null

# Environment variables given as VAR=value before a command cost no
# process; times and CPU readings are taken outside the timed commands.
notary_add=0 notary_pub=0 rampart_add=0 rampart_pub=0 agent_add=0 agent_pub=0 nr_add=0 nr_pub=0
notary_cpu=0 notary_clients=0 agent_cpu=0 agent_clients=0 ext_add=0 ext_pub=0 ext_cpu=0 ext_clients=0
for i in $(seq "$n"); do
	c0=$(cpu_ms "$notary_srv") k0=$(cpu_ms)
	t0=${EPOCHREALTIME/[.,]/}
	"${notary[@]}" add example.com/bench "f$i" "$work/files/f$i" >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	"${notary[@]}" publish example.com/bench >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	notary_add=$((notary_add + t1 - t0)) notary_pub=$((notary_pub + t2 - t1))
	notary_cpu=$((notary_cpu + $(cpu_ms "$notary_srv") - c0)) notary_clients=$((notary_clients + $(cpu_ms) - k0))

	c0=$(cpu_ms "$rampart_srv" "$agent_proc") k0=$(cpu_ms)
	t0=${EPOCHREALTIME/[.,]/}
	RAMPART_AGENT_SOCK=$sock "$bin/rampart" repo add "$work/repo-agent" "$work/files/f$i" --as "f$i" >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	RAMPART_AGENT_SOCK=$sock "$bin/rampart" repo publish "$work/repo-agent" >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	agent_add=$((agent_add + t1 - t0)) agent_pub=$((agent_pub + t2 - t1))
	agent_cpu=$((agent_cpu + $(cpu_ms "$rampart_srv" "$agent_proc") - c0)) agent_clients=$((agent_clients + $(cpu_ms) - k0))

	c0=$(cpu_ms "$rampart_srv" "$agent_proc") k0=$(cpu_ms)
	t0=${EPOCHREALTIME/[.,]/}
	RAMPART_AGENT_SOCK=$sock "$bin/rampart" repo add "$work/repo-ext" "$work/files/f$i" --as "f$i" >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	RAMPART_AGENT_SOCK=$sock "$bin/rampart" repo publish "$work/repo-ext" >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	ext_add=$((ext_add + t1 - t0)) ext_pub=$((ext_pub + t2 - t1))
	ext_cpu=$((ext_cpu + $(cpu_ms "$rampart_srv" "$agent_proc") - c0)) ext_clients=$((ext_clients + $(cpu_ms) - k0))

	t0=${EPOCHREALTIME/[.,]/}
	NOTARY_AUTH=$notary_auth "${notary_r[@]}" add example.com/notary-bench "f$i" "$work/files/f$i" >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	NOTARY_AUTH=$notary_auth "${notary_r[@]}" publish example.com/notary-bench >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	nr_add=$((nr_add + t1 - t0)) nr_pub=$((nr_pub + t2 - t1))
done
# Unlocking keys with argon2id takes 64 MiB and much CPU, which would
# weigh on whatever runs next: these run on their own, after the others.
for i in $(seq "$n"); do
	t0=${EPOCHREALTIME/[.,]/}
	RAMPART_PASSPHRASE=bench "$bin/rampart" repo add "$work/repo" "$work/files/f$i" --as "f$i" >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	RAMPART_PASSPHRASE=bench "$bin/rampart" repo publish "$work/repo" >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	rampart_add=$((rampart_add + t1 - t0)) rampart_pub=$((rampart_pub + t2 - t1))
done
curl -sf http://127.0.0.1:4554/tuf/example.com/bench-agent/metadata/timestamp.json >/dev/null
# The external repository's publishes sent no content: the server does
# not have the last file.
f_sha=$(sha256sum "$work/files/f$n" | cut -d' ' -f1)
if curl -sf -o /dev/null "http://127.0.0.1:4554/tuf/example.com/bench-ext/targets/$f_sha.f$n"; then
	echo "bench-publish: the server has content of the external repository" >&2
	exit 1
fi
NOTARY_AUTH=$notary_auth "${notary_r[@]}" list example.com/notary-bench | grep "f$n" >/dev/null # not -q: an early exit would be a SIGPIPE under pipefail

# Both servers now serve every file: check one of each.
curl -sf http://127.0.0.1:4553/v2/example.com/bench/_trust/tuf/timestamp.json >/dev/null
curl -sf http://127.0.0.1:4554/tuf/example.com/bench/metadata/timestamp.json >/dev/null

python3 - "$n" "$notary_add" "$notary_pub" "$rampart_add" "$rampart_pub" "$nr_add" "$nr_pub" "$agent_add" "$agent_pub" "$notary_cpu" "$agent_cpu" "$notary_clients" "$agent_clients" "$ext_add" "$ext_pub" "$ext_cpu" "$ext_clients" <<'PY'
import sys
n, na, np_, ra, rp, nra, nrp, aa, ap, ncpu, acpu, ncl, acl, ea, ep, ecpu, ecl = (int(x) for x in sys.argv[1:])
na, np_, ra, rp, nra, nrp, aa, ap, ea, ep = (x / 1000 for x in (na, np_, ra, rp, nra, nrp, aa, ap, ea, ep))  # microseconds to ms
print(f"mean of {n}, ms           add   publish   add+publish")
print(f"notary 0.7.0 -> notary-server: {na/n:7.1f} {np_/n:8.1f} {(na+np_)/n:10.1f}")
print(f"notary 0.7.0 -> rampart serve: {nra/n:7.1f} {nrp/n:8.1f} {(nra+nrp)/n:10.1f}")
print(f"rampart -> rampart serve:      {ra/n:7.1f} {rp/n:8.1f} {(ra+rp)/n:10.1f}")
print(f"rampart + agent -> rampart:    {aa/n:7.1f} {ap/n:8.1f} {(aa+ap)/n:10.1f}")
print(f"rampart + agent, external:     {ea/n:7.1f} {ep/n:8.1f} {(ea+ep)/n:10.1f}")
print(f"publish step: rampart {np_/max(rp,1):.1f}x faster than notary; add+publish: {(na+np_)/max(ra+rp,1):.2f}x")
print(f"notary client, publish step: rampart serve {np_/max(nrp,1):.2f}x the speed of notary-server; add+publish: {(na+np_)/max(nra+nrp,1):.2f}x")
print(f"with the keys in rampart agent, add+publish: {(na+np_)/max(aa+ap,1):.2f}x faster than notary -> notary-server")
print(f"with the keys in rampart agent and content hosted elsewhere (no upload, as notary), add+publish: {(na+np_)/max(ea+ep,1):.2f}x faster than notary -> notary-server")
print(f"CPU time of one add+publish (clients, server and agent), ms: notary {ncpu/n:.1f}, rampart + agent {acpu/n:.1f}: {ncpu/max(acpu,1):.2f}x")
print(f"  of which the client commands (and this script's own work), ms: notary {ncl/n:.1f}, rampart {acl/n:.1f}")
print(f"CPU time of one add+publish, content hosted elsewhere, ms: rampart + agent {ecpu/n:.1f}: {ncpu/max(ecpu,1):.2f}x; of which the client commands {ecl/n:.1f}")
print("(notary signs targets at publish, with a PBKDF2-encrypted key; rampart signs at add,")
print(" unlocking its key with argon2id at 64 MiB, t=3, which dominates its add)")
PY
