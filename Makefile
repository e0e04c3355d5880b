# Development tasks. `make ci` runs the checks CI runs; .ci/run runs the
# same commands on a fresh machine, installing redis-server first.

# buf, pinned, built by `go run` (the first run compiles it: a few minutes).
BUF := go run github.com/bufbuild/buf/cmd/buf@v1.75.0

.PHONY: gen lint test check-gen run bench load cost hostcheck ci fuzz

# gen regenerates gen/ from proto/.
gen:
	$(BUF) generate

# lint checks formatting (every .go file, gen/ included), go vet and buf lint.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -w needed on:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(BUF) lint

# test installs what the tests need when missing (.ci/deps: redis-server,
# gcc), then runs every test; the tests start their own redis-server.
test:
	bash .ci/deps
	go test -race -count=1 ./...

# check-gen fails if gen/ differs from what proto/ generates.
check-gen: gen
	git diff --exit-code -- gen/
	@out=$$(git ls-files --others --exclude-standard -- gen/); if [ -n "$$out" ]; then echo "untracked generated files:"; echo "$$out"; exit 1; fi

# run starts quotad on the embedded store (not durable).
run:
	go run ./cmd/quotad

# bench runs the store's benchmarks (and the domain's, if any);
# BackgroundWork, whose set-up is heavy, three rounds.
bench:
	go test -run '^$$' -bench . -skip BackgroundWork -benchmem ./store/ ./quota/
	go test -run '^$$' -bench BackgroundWork -benchtime 3x ./store/

# load measures quotad under load with cmd/quotabench (issue 7): it starts
# a throwaway redis-server (no persistence) on LOAD_REDIS_PORT and quotad
# on LOAD_ADDR with a random one-off admin token, runs quotabench with
# LOAD_FLAGS, then stops both. LOAD_PIN=1 pins redis-server to CPU 0 and
# quotad and quotabench to the others (as in production, where Redis has a
# core of its own); needs taskset and 2 CPUs or more. LOAD_RT=1 with it
# also runs redis-server at real-time priority (chrt -f 10, as root): no
# process of normal priority preempts it on its core, so that the slow
# log holds only what scripts themselves take (quotabench prints how often
# Redis was preempted during the run). LOAD_PIN=2 runs redis-server at
# real-time priority on CPU 0 and quotabench there too, on what Redis
# leaves it, and quotad alone on the others: quotad has a core of its
# own as well, as in production, and the load generator takes nothing
# from either (a quotabench waiting for Redis's core only makes the
# latencies it reports longer). quotad serves its metrics and Go
# profiles (-pprof) on LOAD_METRICS; LOAD_PPROF=file saves a CPU profile
# of quotad there, LOAD_PPROF_SECONDS long, started
# LOAD_PPROF_DELAY seconds after quotad (past quotabench's setup: give a
# -duration that covers both, and no -raw, whose phase would be profiled
# too); `go tool pprof -top file` reads it.
LOAD_REDIS_PORT ?= 6390
LOAD_ADDR ?= 127.0.0.1:7090
LOAD_METRICS ?= 127.0.0.1:9490
LOAD_PPROF ?=
LOAD_PPROF_SECONDS ?= 8
LOAD_PPROF_DELAY ?= 4
LOAD_FLAGS ?= -workload cycle -duration 10s -raw -profile
LOAD_PIN ?=
LOAD_RT ?=
ifneq ($(filter 1 2,$(LOAD_PIN)),)
REDIS_PIN := $(if $(filter 1,$(LOAD_RT))$(filter 2,$(LOAD_PIN)),chrt -f 10 )taskset -c 0
QUOTA_PIN := taskset -c 1-$(shell echo $$(( $$(nproc) - 1 )))
BENCH_PIN := $(if $(filter 2,$(LOAD_PIN)),taskset -c 0,$(QUOTA_PIN))
endif
load:
	@set -e; tmp=$$(mktemp -d); trap 'kill $$qpid 2>/dev/null; wait $$qpid 2>/dev/null; kill $$rpid 2>/dev/null; wait; rm -rf $$tmp' EXIT; \
	go build -o $$tmp/quotad ./cmd/quotad; go build -o $$tmp/quotabench ./cmd/quotabench; \
	$(REDIS_PIN) redis-server --port $(LOAD_REDIS_PORT) --bind 127.0.0.1 --save '' --appendonly no --dir $$tmp --loglevel warning >$$tmp/redis.log 2>&1 & rpid=$$!; \
	sleep 0.5; \
	token=$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'); \
	QUOTA_TOKENS="{tokens: [{name: load, token: \"$$token\", role: admin}]}" \
	  $(QUOTA_PIN) $$tmp/quotad -listen $(LOAD_ADDR) -metrics-listen $(LOAD_METRICS) -pprof -redis-url redis://127.0.0.1:$(LOAD_REDIS_PORT) -log-level warn & qpid=$$!; \
	if [ -n "$(LOAD_PPROF)" ]; then (sleep $(LOAD_PPROF_DELAY); curl -sSf -o $(LOAD_PPROF) 'http://$(LOAD_METRICS)/debug/pprof/profile?seconds=$(LOAD_PPROF_SECONDS)' || echo "make load: no CPU profile in $(LOAD_PPROF) (did the run end first?)" >&2) & fi; \
	QUOTA_TOKEN=$$token $(BENCH_PIN) $$tmp/quotabench -addr $(LOAD_ADDR) -redis redis://127.0.0.1:$(LOAD_REDIS_PORT) $(LOAD_FLAGS)

# cost counts the CPU instructions Redis executes per Reserve, per Commit
# and per reference.lua call (valgrind's callgrind on redis-server;
# cmd/quotabench/callgrind.sh): steady on a busy machine, unlike times.
# COST_KEEP=dir keeps the callgrind files, for callgrind_annotate.
COST_N ?= 500
cost:
	bash cmd/quotabench/callgrind.sh $(COST_N)

# hostcheck measures the machine's own latency, the floor under every
# latency figure of make load: redis-cli's intrinsic-latency mode runs a
# busy loop for HOSTCHECK_SECONDS on CPU HOSTCHECK_CPU (CPU 0: where
# LOAD_PIN=1 puts redis-server) and prints the longest time it was kept
# from running. Redis cannot answer faster than that; a machine whose
# worst is over 1 ms puts script calls in the slow log whatever they do.
# Run it with nothing else of yours running.
HOSTCHECK_SECONDS ?= 10
HOSTCHECK_CPU ?= 0
hostcheck:
	@taskset -c $(HOSTCHECK_CPU) redis-cli --intrinsic-latency $(HOSTCHECK_SECONDS) | tr '\r' '\n' | grep -v '^$$' | tail -3

# fuzz runs each fuzz target for FUZZTIME, one after the other (go test
# fuzzes one target at a time). New interesting inputs stay in the build
# cache; a failing input is written to the package's testdata/fuzz/:
# commit it with the fix. `go test` replays testdata/fuzz/ without -fuzz.
# store's tests start a redis-server first, so its target needs one
# installed (.ci/deps), as make test does.
FUZZTIME ?= 1m
fuzz:
	go test ./quota -run '^$$' -fuzz '^FuzzPrice$$' -fuzztime $(FUZZTIME)
	go test ./quota -run '^$$' -fuzz '^FuzzTokenCost$$' -fuzztime $(FUZZTIME)
	go test ./server -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME)
	go test ./server -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	go test ./store -run '^$$' -fuzz '^FuzzUnpackValues$$' -fuzztime $(FUZZTIME)

# ci runs every check.
ci: lint check-gen test
