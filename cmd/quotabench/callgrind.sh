#!/bin/bash
# callgrind.sh [N]: how many CPU instructions Redis executes per Reserve and
# per Commit sent through quotad, and per call of the reference script
# (reference.lua), counted by valgrind's callgrind on redis-server.
#
# Unlike times, instruction counts do not depend on what else the machine
# runs: two runs of the same code agree within about 1%, so a change to the
# scripts can be measured on a busy machine. It starts redis-server under
# callgrind (no persistence) and quotad on free ports, creates 2
# workspaces of 20 members, then, with one worker and a fixed seed,
#   - N Reserves (quotabench -workload reserve),
#   - N Reserve→Commit cycles of a run with a sub-agent (-workload cycle),
#   - N reference.lua calls (redis-benchmark, EVALSHA),
# zeroing the counters before each phase and reading them after. Commit is
# the cycle less the Reserve; the cycle phase ends by folding the usage
# its Commits left queued. Needs valgrind, redis-server, redis-cli,
# redis-benchmark and bc; run from the module's root (make cost).
# COST_KEEP=dir keeps each phase's callgrind output there (reserve.cg,
# cycle.cg, reference.cg) for callgrind_annotate: where the instructions
# go, by C function of Redis and its Lua.
set -euo pipefail
N=${1:-500}
T=$(mktemp -d)
go build -o "$T/quotad" ./cmd/quotad
go build -o "$T/quotabench" ./cmd/quotabench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$(free_port)
QP=$(free_port)
valgrind --tool=callgrind --callgrind-out-file="$T/cg.%p" redis-server --port "$P" --bind 127.0.0.1 \
  --save '' --appendonly no --dir "$T" >"$T/valgrind.log" 2>&1 &
VPID=$!
trap 'kill $QPID $VPID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
QPID=$VPID
for _ in $(seq 100); do redis-cli -p "$P" ping >/dev/null 2>&1 && break; sleep 0.3; done
token=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
QUOTA_TOKENS="{tokens: [{name: cost, token: \"$token\", role: admin}]}" \
  "$T/quotad" -listen "127.0.0.1:$QP" -metrics-listen "" -redis-url "redis://127.0.0.1:$P" -log-level warn >"$T/quotad.log" 2>&1 &
QPID=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$QP") 2>/dev/null && break; sleep 0.3; done
bench() {
  QUOTA_TOKEN=$token "$T/quotabench" -addr "127.0.0.1:$QP" -workers 1 -workspaces 2 -members 20 \
    -seed 42 -keys roundrobin -timeout 60s "$@" >"$T/bench.log" 2>&1
}
# instructions prints the instructions counted since the last zeroing
# (phase $1: its output is kept as $COST_KEEP/$1.cg when COST_KEEP is set).
instructions() {
  callgrind_control -d "$VPID" >/dev/null 2>&1
  local f
  f=$(ls -t "$T"/cg."$VPID".* | head -1)
  if [ -n "${COST_KEEP:-}" ]; then mkdir -p "$COST_KEEP" && cp "$f" "$COST_KEEP/$1.cg"; fi
  grep -m1 '^totals:\|^summary:' "$f" | awk '{print $2}'
}
# fold_usage folds what Commits left in the usage queues (store/lua/usage.lua)
# into the buckets, as a usage report would.
fold_usage() {
  local fn
  fn=$(redis-cli -p "$P" FUNCTION LIST | grep -m1 -o 'quota_[0-9a-f]*_fold_usage')
  for ws in bench-0 bench-1; do
    for _ in $(seq 100); do
      [ "$(redis-cli -p "$P" FCALL "$fn" 1 "q:{ws:$ws}:ws" 0 "q:{ws:$ws}:" | tail -1)" = 0 ] && break
    done
  done
}
bench -setup -workload cycle -count 30
fold_usage
callgrind_control -z "$VPID" >/dev/null 2>&1
bench -setup=false -workload reserve -count "$N"
R=$(instructions reserve)
callgrind_control -z "$VPID" >/dev/null 2>&1
bench -setup=false -workload cycle -count "$N"
# The Commits queue their usage and fold it a batch at a time; fold what
# they left queued, so that the Commit's count has all of its work.
fold_usage
C=$(instructions cycle)
callgrind_control -z "$VPID" >/dev/null 2>&1
sha=$(redis-cli -p "$P" SCRIPT LOAD "$(cat cmd/quotabench/reference.lua)")
pre='qbref:{ws:cost}:'
redis-benchmark -p "$P" -c 1 -n "$N" -r 1000000 EVALSHA "$sha" 5 "${pre}acct:m__rand_int__" \
  "${pre}res:__rand_int__" "${pre}deadlines" "${pre}ledger" "${pre}idem:__rand_int__" \
  1700000000000 1000 1700000600000 r__rand_int__ r__rand_int__ m1 40000000000 >/dev/null 2>&1
F=$(instructions reference)
printf 'Redis instructions per call (callgrind, %d calls each):\n' "$N"
printf '  Reserve        %9d  (%s x reference.lua)\n' $((R / N)) "$(echo "scale=2; $R / $F" | bc)"
printf '  Commit         %9d  (%s x reference.lua)\n' $(((C - R) / N)) "$(echo "scale=2; ($C - $R) / $F" | bc)"
printf '  reference.lua  %9d\n' $((F / N))
