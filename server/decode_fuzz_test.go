package server

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/internal/wiretest"
	"github.com/quota-svc/quota/quota"
)

// FuzzDecode sends the fuzzer's bytes as the request message of an RPC
// through the real gRPC path: a client connection over bufconn, the
// server's codec (codec.go), its interceptors and the handler, on a
// gateStore. Whatever the bytes, the answer is OK (with a reply that
// decodes) or one of edgeReasons, never INTERNAL (a panic is answered
// INTERNAL by the recovery interceptor); bytes the proto codec cannot
// decode are INVALID_ARGUMENT / MALFORMED_MESSAGE; the store sees only
// requests within the bounds. The seeds are a valid request of every RPC
// and the hostile encodings of issue 10 (a usage tree 100,000 deep,
// invalid UTF-8, garbage); the corpus is in testdata/fuzz/FuzzDecode. To
// fuzz longer:
//
//	go test ./server -run '^$' -fuzz '^FuzzDecode$' -fuzztime 5m
func FuzzDecode(f *testing.F) {
	// The RPCs FuzzValidate knows, which gateStore answers: every one
	// (TestFuzzValidateCoversEveryRPC), so that a new RPC fails that test
	// rather than this one.
	var methods []fuzzMethod
	for _, m := range fuzzMethods(f) {
		if slices.ContainsFunc(validateRPCs, func(r validateRPC) bool { return r.name == m.name }) {
			methods = append(methods, m)
		}
	}
	for _, s := range decodeSeeds(f) {
		f.Add(s.method, s.body)
	}
	g := &gate{}
	logs := &syncBuffer{}
	e := newEnvWith(f, gateStore(g, quota.NewService(nil, quota.Config{Now: func() time.Time { return testNow }}).Config()),
		Options{Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))})
	f.Fuzz(func(t *testing.T, method string, body []byte) {
		m := byName(methods, func(m fuzzMethod) string { return m.name }, method)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out []byte
		err := e.conn.Invoke(ctx, m.full, &body, &out, grpc.ForceCodecV2(wiretest.RawCodec{}))
		req := m.in.New().Interface()
		decodeErr := proto.Unmarshal(body, req)
		checkEdgeAnswer(t, m.name, req, err)
		if lines := logs.Lines("level=ERROR"); len(lines) > 0 {
			t.Fatalf("%s logged an error: %s", m.name, strings.Join(lines, "\n"))
		}
		broken, _ := g.take()
		for _, b := range broken {
			t.Errorf("%s: %s", m.name, b)
		}
		_, d := detailsOf(t, err)
		if malformed := d.info.GetReason() == reasonMalformedMessage; malformed != (decodeErr != nil) && err != nil {
			t.Fatalf("%s = %v, while proto.Unmarshal says %v", m.name, err, decodeErr)
		}
		if err == nil {
			if decodeErr != nil {
				t.Fatalf("%s answered OK to bytes proto.Unmarshal refuses (%v)", m.name, decodeErr)
			}
			if err := proto.Unmarshal(out, m.out.New().Interface()); err != nil {
				t.Fatalf("%s answered a reply that does not decode: %v", m.name, err)
			}
		}
	})
}

// fuzzMethod is one RPC: its name, full method name and message types.
type fuzzMethod struct {
	name, full string
	in, out    protoreflect.MessageType
}

// fuzzMethods returns every RPC of both services, from their descriptors.
func fuzzMethods(t testing.TB) []fuzzMethod {
	t.Helper()
	var out []fuzzMethod
	for _, sd := range []string{quotav1.QuotaService_ServiceDesc.ServiceName, quotav1.AdminService_ServiceDesc.ServiceName} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sd))
		if err != nil {
			t.Fatal(err)
		}
		ms := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range ms.Len() {
			md := ms.Get(i)
			in, err1 := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
			out2, err2 := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			out = append(out, fuzzMethod{name: string(md.Name()), full: "/" + sd + "/" + string(md.Name()), in: in, out: out2})
		}
	}
	return out
}

// serviceMethods returns the names of a service's RPCs.
func serviceMethods(t testing.TB, service string) []string {
	var names []string
	for _, m := range fuzzMethods(t) {
		if strings.HasPrefix(m.full, "/"+service+"/") {
			names = append(names, m.name)
		}
	}
	return names
}

// byName returns the item of items whose name is key, or, for any other
// key, one chosen by its hash: a corpus names its RPCs, and mutations of
// the name still pick one.
func byName[T any](items []T, name func(T) string, key string) T {
	for _, it := range items {
		if name(it) == key {
			return it
		}
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return items[int(h.Sum32()%uint32(len(items)))]
}

// decodeSeed is a seed of FuzzDecode.
type decodeSeed struct {
	method string
	body   []byte
}

// decodeSeeds are a valid request of every RPC, an empty one, and the
// hostile encodings.
func decodeSeeds(t testing.TB) []decodeSeed {
	t.Helper()
	var seeds []decodeSeed
	for _, r := range validateRPCs {
		b, err := proto.Marshal(r.build(validArgs()))
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		seeds = append(seeds, decodeSeed{r.name, b}, decodeSeed{r.name, nil})
	}
	ids := func() []byte { // the first three fields of Commit, Refund, SetSeat...
		return wiretest.String(wiretest.String(wiretest.String(nil, 1, "ws-1"), 2, testResID), 3, "req-1")
	}
	commit := func(usage []byte) []byte { return wiretest.Message(ids(), 4, usage) }
	estimate := func(usage []byte) []byte { return wiretest.Message(wiretest.Varint(nil, 1, 1), 2, usage) }
	// A model line whose model name is not UTF-8, one level down.
	badUsage := wiretest.Message(wiretest.String(nil, 1, "main"), 4,
		wiretest.Message(wiretest.String(nil, 1, "a"), 2, wiretest.String(nil, 1, "m\xff\xfe")))
	seeds = append(seeds,
		decodeSeed{"Commit", commit(wiretest.DeepAgentRun(100_000))},
		decodeSeed{"Commit", commit(wiretest.DeepAgentRun(10_001))},
		decodeSeed{"Commit", commit(wiretest.DeepAgentRun(quota.MaxDepth + 1))},
		decodeSeed{"EstimateCost", estimate(wiretest.DeepAgentRun(100_000))},
		decodeSeed{"Commit", commit(badUsage)},
		decodeSeed{"GetWorkspace", invalidUTF8Request()},
		decodeSeed{"GetWorkspace", wiretest.String(nil, 1, strings.Repeat("w", 10<<10))},
		decodeSeed{"GetWorkspace", wiretest.String(nil, 1, "w\x00s")},
		decodeSeed{"Reserve", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		decodeSeed{"Reserve", []byte("GET / HTTP/1.1\r\nHost: quota\r\n\r\n")},
		decodeSeed{"Refund", []byte{0x0a, 0x05, 'w'}},             // truncated
		decodeSeed{"Refund", []byte{0x08, 0x01}},                  // field 1 as a varint
		decodeSeed{"SetSeat", wiretest.Varint(ids(), 4, 1<<31-1)}, // an unknown seat
		decodeSeed{"GetWorkspace", wiretest.String(wiretest.String(nil, 1, "ws-1"), malformedField, "forged mark")},
	)
	return seeds
}
