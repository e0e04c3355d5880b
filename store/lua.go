package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Lua code (lua/*.lua) is made of modules (gen_const, core, account,
// pool, hold, usage: each builds on the ones before) and entry points (fn_*.lua),
// each a local function of (keys, args) whose header says which modules it
// uses. It runs in one of two ways, chosen when the store first talks to
// Redis:
//
//   - Redis Functions (Redis 7 and later): every module and entry point in
//     one library, "quota_<version>", loaded once with FUNCTION LOAD (on
//     every master of a Cluster) and called with FCALL
//     "quota_<version>_<entry>". The version is a hash of the library's
//     code, so two quotad versions can run side by side during a rolling
//     deploy, each calling its own functions. A library Redis lost
//     (restart without persistence, FUNCTION FLUSH, a new node) is loaded
//     again on the first "function not found", and the call retried.
//   - Scripts, where the server has no FUNCTION command (the embedded
//     server, miniredis): each entry point is one script made of the
//     modules it uses and its own code, run with EVALSHA (EVAL the first
//     time). The very same code runs; only the framing differs, and
//     lua/msgpack.lua stands in for Redis's built-in cmsgpack, which
//     miniredis lacks.

//go:generate go run ./internal/genlua lua/gen_const.lua

//go:embed lua/*.lua
var luaFS embed.FS

// moduleOrder is the order modules are loaded in; each may use the ones
// before it.
var moduleOrder = []string{"gen_const", "core", "account", "pool", "hold", "usage"}

// entry is one entry point.
type entry struct {
	name string
	// fn is its function name in the library.
	fn string
	// script is its stand-alone form, for servers without Functions.
	script *redis.Script
	// size is the stand-alone script's length, in bytes.
	size int
}

// library is the Lua code, built once.
type library struct {
	version string
	name    string
	code    string
	entries map[string]*entry
	// scripts are the stand-alone scripts' sources, by entry point.
	scripts map[string]string
}

var usesLine = regexp.MustCompile(`(?m)^-- uses: (.+)$`)

// lib is the library, built from the embedded files at start.
var lib = mustBuild()

func mustBuild() *library {
	l, err := build()
	if err != nil {
		panic(err)
	}
	return l
}

// build assembles the library and the stand-alone scripts.
func build() (*library, error) {
	read := func(name string) (string, error) {
		b, err := luaFS.ReadFile("lua/" + name + ".lua")
		return string(b), err
	}
	modules := map[string]string{}
	for _, m := range append([]string{"msgpack"}, moduleOrder...) {
		src, err := read(m)
		if err != nil {
			return nil, err
		}
		modules[m] = src
	}
	files, err := luaFS.ReadDir("lua")
	if err != nil {
		return nil, err
	}
	type fnSrc struct{ name, src string }
	var fns []fnSrc
	for _, f := range files {
		name, ok := strings.CutPrefix(strings.TrimSuffix(f.Name(), ".lua"), "fn_")
		if !ok {
			continue
		}
		src, err := read("fn_" + name)
		if err != nil {
			return nil, err
		}
		fns = append(fns, fnSrc{name, src})
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].name < fns[j].name })

	var body strings.Builder
	for _, m := range moduleOrder {
		body.WriteString(modules[m])
		body.WriteString("\n")
	}
	for _, f := range fns {
		body.WriteString(f.src)
		body.WriteString("\n")
	}
	sum := sha256.Sum256([]byte(body.String()))
	l := &library{version: hex.EncodeToString(sum[:6]), entries: map[string]*entry{}, scripts: map[string]string{}}
	l.name = "quota_" + l.version

	var code strings.Builder
	code.WriteString("#!lua name=" + l.name + "\n")
	code.WriteString(body.String())
	for _, f := range fns {
		m := usesLine.FindStringSubmatch(f.src)
		if m == nil {
			return nil, fmt.Errorf("store: lua/fn_%s.lua has no \"-- uses:\" line", f.name)
		}
		var script strings.Builder
		script.WriteString(modules["msgpack"])
		script.WriteString("\n" + modules["gen_const"])
		for _, use := range strings.Fields(m[1]) {
			src, ok := modules[use]
			if !ok || use == "gen_const" {
				return nil, fmt.Errorf("store: lua/fn_%s.lua uses unknown module %q", f.name, use)
			}
			script.WriteString("\n" + src)
		}
		script.WriteString("\n" + f.src + "\nreturn " + f.name + "(KEYS, ARGV)\n")
		e := &entry{name: f.name, fn: l.name + "_" + f.name, script: redis.NewScript(script.String()), size: script.Len()}
		l.entries[f.name] = e
		l.scripts[f.name] = script.String()
		fmt.Fprintf(&code, "redis.register_function('%s', %s)\n", e.fn, f.name)
	}
	l.code = code.String()
	return l, nil
}

// mustEntry returns the entry point name; it panics on a name no file
// defines, which any test catches.
func mustEntry(name string) *entry {
	e, ok := lib.entries[name]
	if !ok {
		panic("store: no entry point lua/fn_" + name + ".lua")
	}
	return e
}

// libraryWait bounds how long Load waits for the replicas to load the
// library, with Options.WaitReplicas (and Load's CallTimeout).
const libraryWait = 5 * time.Second

// Ways of running the code.
const (
	modeUnknown int32 = iota
	modeFunctions
	modeScripts
)

// runner runs entry points on one Redis deployment.
type runner struct {
	rdb  redis.UniversalClient
	mode atomic.Int32
	// mu serialises loading the library; loads counts its loads, so that
	// calls that all found it missing load it once (loadAfter).
	mu    sync.Mutex
	loads atomic.Int64
	// waitReplicas and waitTimeout: see Options.WaitReplicas.
	waitReplicas int
	waitTimeout  time.Duration
}

// load loads the library (on every master of a Cluster) or, where the
// server has no Functions, settles on scripts.
func (r *runner) load(ctx context.Context) error { return r.loadAfter(ctx, -1) }

// loadAfter loads the library as load does, unless it was loaded again
// since the caller read r.loads as seen (-1: load it in any case). When
// Redis loses the library (a restart, a failover, FUNCTION FLUSH), every
// call in flight finds it missing: the first reloads it, and the others,
// queued on mu behind it, only call again, rather than each blocking
// Redis for the library's compilation in turn.
func (r *runner) loadAfter(ctx context.Context, seen int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seen >= 0 && r.loads.Load() != seen {
		return nil
	}
	err := r.eachMaster(ctx, func(ctx context.Context, c redis.Cmdable) error {
		return c.FunctionLoadReplace(ctx, lib.code).Err()
	})
	switch {
	case err == nil:
		r.mode.Store(modeFunctions)
	case isUnknownCommand(err):
		r.mode.Store(modeScripts)
	default:
		return err
	}
	r.loads.Add(1)
	return nil
}

// eachMaster runs f on every master of a Cluster, or on the client.
func (r *runner) eachMaster(ctx context.Context, f func(ctx context.Context, c redis.Cmdable) error) error {
	if cc, ok := r.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return f(ctx, m) })
	}
	return f(ctx, r.rdb)
}

// awaitReplicas, with waitReplicas, loads the library again on one
// connection of each master and WAITs there (up to libraryWait) for the
// replicas to load it too, so that the first calls do not fail for a
// replica still compiling it. A server that cannot WAIT fails it;
// replicas that do not follow in time do not (the calls will say so).
func (r *runner) awaitReplicas(ctx context.Context) error {
	if r.waitReplicas == 0 || r.mode.Load() != modeFunctions {
		return nil
	}
	return r.eachMaster(ctx, func(ctx context.Context, c redis.Cmdable) error {
		cl, ok := c.(*redis.Client)
		if !ok {
			return nil
		}
		conn := cl.Conn()
		defer conn.Close()
		if err := conn.FunctionLoadReplace(ctx, lib.code).Err(); err != nil {
			return err
		}
		// WAITs of waitTimeout each (below the client's read timeout),
		// until the replicas follow, libraryWait or ctx ends.
		ms := max(r.waitTimeout.Milliseconds(), 1)
		for end := time.Now().Add(libraryWait); ; {
			n, err := conn.Do(ctx, "WAIT", r.waitReplicas, ms).Int64()
			if err != nil {
				return fmt.Errorf("WAIT (-redis-wait-replicas): %w", err)
			}
			if n >= int64(r.waitReplicas) || time.Now().After(end) || ctx.Err() != nil {
				return nil
			}
		}
	})
}

// isUnknownCommand tells whether err says the server has no such command
// (a server without Functions).
func isUnknownCommand(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.Contains(strings.ToLower(err.Error()), "unknown command")
}

// isFunctionNotFound tells whether err says the server lost the library.
func isFunctionNotFound(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.Contains(err.Error(), "Function not found")
}

// isNoScript tells whether err says the server does not have a script.
func isNoScript(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// run runs an entry point and returns its raw reply; with waitReplicas,
// only once its writes reached that many replicas (runAndWait).
func (r *runner) run(ctx context.Context, e *entry, keys []string, args []any) (any, error) {
	if r.mode.Load() == modeUnknown {
		if err := r.load(ctx); err != nil {
			return nil, err
		}
	}
	if r.waitReplicas > 0 && len(keys) > 0 {
		return r.runAndWait(ctx, e, keys, args)
	}
	if r.mode.Load() == modeScripts {
		return e.script.Run(ctx, r.rdb, keys, args...).Result()
	}
	seen := r.loads.Load()
	res, err := r.rdb.FCall(ctx, e.fn, keys, args...).Result()
	// Lost again after another call's reload (twice in one round trip):
	// the second time, load it whatever the count says.
	for range 2 {
		if !isFunctionNotFound(err) {
			break
		}
		if err := r.loadAfter(ctx, seen); err != nil {
			return nil, err
		}
		seen = -1
		res, err = r.rdb.FCall(ctx, e.fn, keys, args...).Result()
	}
	return res, err
}

// errNotReplicated says a call's writes reached fewer replicas than
// Options.WaitReplicas in time: applied on the master, not acknowledged.
var errNotReplicated = errors.New("store: the write did not reach enough replicas in time")

// runAndWait runs an entry point and waits until waitReplicas replicas
// have its writes. On ONE connection to the master of keys[0]'s slot, in
// one pipeline: the entry point, a write of a barrier key of the same
// slot (waitKey), and WAIT, which waits for the replicas to acknowledge
// the replication stream up to that connection's last write. So the
// writes waited for are those of the very server that ran the entry
// point, even if a failover moves the slot meanwhile (the barrier then
// fails with MOVED, or the connection with the old master, and the call
// is UNAVAILABLE). The barrier is written whatever the entry point did:
// a retry that only replays its first outcome is acknowledged only once
// the replicas have everything before it, that first outcome included.
func (r *runner) runAndWait(ctx context.Context, e *entry, keys []string, args []any) (any, error) {
	var c redis.Cmdable = r.rdb
	if cc, ok := r.rdb.(*redis.ClusterClient); ok {
		m, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		c = m
	}
	barrier, ok := waitKey(keys[0])
	if !ok {
		return nil, fmt.Errorf("store: no barrier key of the slot of %q", keys[0])
	}
	// WAIT 0 would block for ever: a timeout is at least 1 ms.
	ms := max(r.waitTimeout.Milliseconds(), 1)
	for attempt := 0; ; attempt++ {
		seen := r.loads.Load()
		var res, wait *redis.Cmd
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			if r.mode.Load() == modeScripts {
				res = e.script.EvalSha(ctx, p, keys, args...)
			} else {
				res = p.FCall(ctx, e.fn, keys, args...)
			}
			p.Set(ctx, barrier, "1", time.Minute)
			wait = p.Do(ctx, "WAIT", r.waitReplicas, ms)
			return nil
		})
		v, rerr := res.Result()
		if attempt == 0 && (isFunctionNotFound(rerr) || isNoScript(rerr)) {
			if r.mode.Load() == modeScripts {
				err = e.script.Load(ctx, c).Err()
			} else {
				err = r.loadAfter(ctx, seen)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if rerr != nil {
			return nil, rerr
		}
		if err != nil {
			return nil, err
		}
		if n, err := wait.Int64(); err != nil || n < int64(r.waitReplicas) {
			return nil, fmt.Errorf("%w: %d of %d replicas within %v", errNotReplicated, n, r.waitReplicas, r.waitTimeout)
		}
		return v, nil
	}
}

// waitKey is runAndWait's barrier key, of key's slot: under key's hash
// tag ("q:{ws:acme}:ws" gives "q:{ws:acme}:wait"; every key the entry
// points take first has one), or with the whole key as tag. ok is false
// for a key of neither kind (no tag, and a "}" that would cut the whole
// key short as a tag).
func waitKey(key string) (wait string, ok bool) {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[:i+j+2] + ":wait", true
		}
	}
	if strings.Contains(key, "}") {
		return "", false
	}
	return "{" + key + "}:wait", true
}

// LibraryCode returns the Lua library's code, as FUNCTION LOAD takes it.
func LibraryCode() string { return lib.code }
