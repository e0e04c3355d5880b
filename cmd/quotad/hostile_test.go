package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/internal/wiretest"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/redistest"
)

// TestHostileInput is the hostile-input catalogue of issue 10: every row
// is an RPC with a request a hostile or careless client could send (bad
// ids, amounts, token counts, trees, enums, TTLs, rates, missing fields,
// another workspace's ids), sent through the real gRPC API of a real
// quotad, on a real redis-server and on the embedded store (miniredis,
// reached over TCP so that the test can read its keys). A refused row
// must get its code, its ErrorInfo reason and, where it names one, the
// field in a BadRequest; the code and reason must be in README.md's
// errors table; and Redis must be exactly as it was (redistest.Digest of
// every key before and after). A row the service accepts, legitimately,
// says so and checks the effect instead. The rows are in hostile_ids_test.go
// (every id field of every RPC), hostile_rows_test.go (amounts, token
// counts, trees), hostile_fields_test.go (enums, missing fields, TTLs,
// rates, caps, grants, times, pages), hostile_workspace_test.go (another
// workspace's ids and tokens) and hostile_accepted_test.go; the embedded
// store runs all but the id rows, which the API edge refuses before any
// store.
func TestHostileInput(t *testing.T) {
	documented := readmeErrors(t)
	for _, backend := range []string{"redis", "embedded"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := startHostile(t, backend)
			h.documented = documented
			// The id rows never reach a store (the API edge refuses
			// them): on Redis only, to save time.
			for _, r := range hostileRows(backend == "redis") {
				t.Run(r.name, func(t *testing.T) { h.run(t, r) })
			}
		})
	}
}

// hostileRow is one row of the catalogue.
type hostileRow struct {
	name string
	// token is the bearer token to call with; "" is an unrestricted admin.
	token string
	call  func(ctx context.Context, h *hostile) error
	// want is the error; ignored when accepted is set.
	want hostileWant
	// recorded is set for an error that is recorded like a success (a
	// denial): Redis changes, and a retry answers the same.
	recorded bool
	// accepted is set for an input the service takes: the call must
	// succeed, and accepted checks its effect (Redis may change, unless
	// readOnly).
	accepted func(t *testing.T, h *hostile)
	readOnly bool
}

// hostileWant is a row's error: its code, ErrorInfo reason and the field
// of its BadRequest ("" when it names none).
type hostileWant struct {
	code          codes.Code
	reason, field string
}

// invalidField is INVALID_ARGUMENT / INVALID_FIELD on field.
func invalidField(field string) hostileWant {
	return hostileWant{codes.InvalidArgument, "INVALID_FIELD", field}
}

// limitExceeded is INVALID_ARGUMENT / LIMIT_EXCEEDED on field.
func limitExceeded(field string) hostileWant {
	return hostileWant{codes.InvalidArgument, "LIMIT_EXCEEDED", field}
}

// malformed is INVALID_ARGUMENT / MALFORMED_MESSAGE.
var malformed = hostileWant{codes.InvalidArgument, "MALFORMED_MESSAGE", ""}

// notFound is NOT_FOUND with reason.
func notFound(reason string) hostileWant { return hostileWant{codes.NotFound, reason, ""} }

// Tokens of the catalogue's quotad.
const (
	hostileAdmin     = "hostile-admin-token-0123456789"
	hostileAcmeOrch  = "hostile-acme-orchestrator-0123"
	hostileAcmeAdmin = "hostile-acme-admin-token-012345"
)

// hostile is a quotad for the catalogue, its Redis, and what the setup
// made: workspaces acme and beta, each with a Pro member (alice, bob),
// pool grants (acme two, beta one) and a held reservation, a child of acme's, and a workspace
// pool whose grants are 4·10^15 µcredits.
type hostile struct {
	c          *client
	conn       *grpc.ClientConn
	rdb        redis.UniversalClient
	documented map[string]bool // "CODE REASON" pairs of README.md's errors table

	resAcme, childAcme, resBeta string
	grantAcme, grantBeta        string
	pricing0                    *quotav1.PriceTable // the built-in table, version 0
}

// defaultPricing returns a copy of the built-in price table, as SetPricing
// takes it.
func (h *hostile) defaultPricing() *quotav1.PriceTable {
	return proto.Clone(h.pricing0).(*quotav1.PriceTable)
}

// startHostile starts quotad on backend ("redis": a redis-server of its
// own; "embedded": miniredis over TCP) with the catalogue's tokens, and
// sets up its workspaces.
func startHostile(t *testing.T, backend string) *hostile {
	t.Helper()
	tokens := fmt.Sprintf(`tokens:
  - {name: admin, token: %s, role: admin}
  - {name: acme-orchestrator, token: %s, role: orchestrator, workspaces: [acme]}
  - {name: acme-admin, token: %s, role: admin, workspaces: [acme]}
`, hostileAdmin, hostileAcmeOrch, hostileAcmeAdmin)
	// No background sweep: it would write to Redis between a row's
	// digests.
	edit := func(c *Config) { c.Tokens, c.AllowUnauthenticated, c.SweepInterval = tokens, false, 24*time.Hour }
	var q *quotadUnderTest
	if backend == "embedded" {
		m := miniredis.RunT(t)
		q = startQuotad(t, "embedded", edit, func(c *Config) { c.RedisURL = "redis://" + m.Addr() })
	} else {
		q = startQuotad(t, "redis", edit)
	}
	opt, err := redis.ParseURL(q.Config.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	h := &hostile{c: &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)}, conn: q.Conn, rdb: rdb}
	h.setup(t)
	return h
}

// setup makes acme and beta.
func (h *hostile) setup(t *testing.T) {
	t.Helper()
	ctx := h.ctx(t, "")
	// A period that started a day ago: no reset during the test.
	start := timestamppb.New(time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond))
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("setup: %s: %v", what, err)
		}
	}
	for _, ws := range []struct{ id, member string }{{"acme", "alice"}, {"beta", "bob"}} {
		_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: ws.id, RequestId: "setup-ws", SubscriptionStart: start})
		must("SetWorkspace "+ws.id, err)
		_, err = h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: ws.id, MemberId: ws.member, RequestId: "setup-seat", Seat: quotav1.Seat_SEAT_PRO})
		must("SetSeat "+ws.id, err)
		g, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: ws.id, RequestId: "setup-grant",
			Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: 1_000 * credit})
		must("AddPoolGrant "+ws.id, err)
		r, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: ws.id, MemberId: ws.member, RequestId: "setup-reserve",
			Amount: 100 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION, Ttl: durationpb.New(24 * time.Hour)})
		must("Reserve "+ws.id, err)
		if ws.id == "acme" {
			// acme has a grant g2, beta none: acme's grant id is no
			// grant of beta.
			g, err = h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: ws.id, RequestId: "setup-grant-2",
				Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: 1_000 * credit})
			must("AddPoolGrant "+ws.id, err)
			h.resAcme, h.grantAcme = r.GetReservation().GetReservationId(), g.GetGrant().GetGrantId()
		} else {
			h.resBeta, h.grantBeta = r.GetReservation().GetReservationId(), g.GetGrant().GetGrantId()
		}
	}
	child, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", ParentReservationId: h.resAcme,
		RequestId: "setup-child", Amount: 10 * credit, Ttl: durationpb.New(24 * time.Hour)})
	must("child Reserve", err)
	h.childAcme = child.GetReservation().GetReservationId()
	p, err := h.c.admin.GetPricing(ctx, &quotav1.GetPricingRequest{Version: proto.Int64(0)})
	must("GetPricing 0", err)
	h.pricing0 = p.GetPricing()
	// pool's grants add up to 4·10^15 µcredits: one more of 10^15 passes
	// 2^52.
	_, err = h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: "pool", RequestId: "setup-ws", SubscriptionStart: start})
	must("SetWorkspace pool", err)
	for i := range 4 {
		_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "pool", RequestId: fmt.Sprintf("setup-grant-%d", i),
			Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: quota.MaxAmount})
		must("AddPoolGrant pool", err)
	}
}

// ctx returns a call's context with token ("" for the admin).
func (h *hostile) ctx(t *testing.T, token string) context.Context {
	if token == "" {
		token = hostileAdmin
	}
	return metadata.AppendToOutgoingContext(rpcCtx(t), "authorization", "Bearer "+token)
}

// digest fingerprints every key of quotad's Redis.
func (h *hostile) digest(t *testing.T) string {
	t.Helper()
	d, err := redistest.Digest(context.Background(), h.rdb)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// raw sends body as the request message of method (a full method name).
func (h *hostile) raw(ctx context.Context, method string, body []byte) error {
	var out []byte
	return h.conn.Invoke(ctx, method, &body, &out, grpc.ForceCodecV2(wiretest.RawCodec{}))
}

// run runs one row.
func (h *hostile) run(t *testing.T, r hostileRow) {
	before := h.digest(t)
	err := r.call(h.ctx(t, r.token), h)
	if r.accepted != nil {
		if err != nil {
			t.Fatalf("the service refused an input it accepts: %v", err)
		}
		if r.readOnly && h.digest(t) != before {
			t.Error("a read changed Redis")
		}
		r.accepted(t, h)
		return
	}
	st := checkStatus(t, err, r.want.code, r.want.reason)
	if st == nil {
		return
	}
	if !h.documented[r.want.code.String()+" "+r.want.reason] {
		t.Errorf("%v %s is not in README.md's errors table", r.want.code, r.want.reason)
	}
	if st.Message() == "" {
		t.Error("the error has no message")
	}
	vs := detail[*errdetails.BadRequest](st).GetFieldViolations()
	switch {
	case r.want.field == "":
	case len(vs) != 1 || vs[0].GetField() != r.want.field:
		t.Errorf("BadRequest violations %v, want one on %s (message %q)", vs, r.want.field, st.Message())
	case !strings.Contains(st.Message(), r.want.field):
		t.Errorf("message %q does not name the field %s", st.Message(), r.want.field)
	}
	if r.recorded {
		again := r.call(h.ctx(t, r.token), h)
		if again == nil || again.Error() != err.Error() {
			t.Errorf("a retry of a recorded error = %v, want %v", again, err)
		}
		return
	}
	if h.digest(t) != before {
		t.Errorf("the refused request changed Redis (%s)", st.Message())
	}
}

// readmeErrors reads the "CODE REASON" pairs of README.md's errors table:
// its rows' first cell (codes) and second cell (reasons; "same name", or
// a cell with none, the code's own name or no reason).
func readmeErrors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Errors\n")
	if !ok {
		t.Fatal("README.md has no Errors section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	ticked := regexp.MustCompile("`([A-Z_]+)`")
	pairs := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		reasons := ticked.FindAllStringSubmatch(cells[2], -1)
		for _, c := range ticked.FindAllStringSubmatch(cells[1], -1) {
			code := codeNames[c[1]]
			if len(reasons) == 0 {
				pairs[code+" "] = true
			}
			for _, r := range reasons {
				pairs[code+" "+r[1]] = true
			}
		}
	}
	if len(pairs) < 20 {
		t.Fatalf("read %d errors from README.md's table, want more", len(pairs))
	}
	return pairs
}

// codeNames maps a code's name in the README (INVALID_ARGUMENT) to its
// name in grpc-go (InvalidArgument).
var codeNames = func() map[string]string {
	m := map[string]string{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		m[strings.ToUpper(regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(c.String(), "${1}_$2"))] = c.String()
	}
	return m
}()
