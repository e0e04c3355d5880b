# Development tasks. `make ci` runs the checks CI runs; .ci/run runs the
# same commands on a fresh machine, installing redis-server first.

# buf, pinned, built by `go run` (the first run compiles it: a few minutes).
BUF := go run github.com/bufbuild/buf/cmd/buf@v1.75.0

.PHONY: gen lint test check-gen run bench ci

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

# bench runs the store and domain benchmarks.
bench:
	go test -run '^$$' -bench . -benchmem ./store/ ./quota/

# ci runs every check.
ci: lint check-gen test
