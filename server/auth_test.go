package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// The test tokens, one per role, and one limited to workspace "ws-1".
const (
	orchestratorToken = "orchestrator-token-0123456789"
	adminToken        = "admin-token-0123456789abcdef"
	viewerToken       = "viewer-token-0123456789abcdef"
	limitedToken      = "limited-admin-token-0123456789"
)

// testCredentials are the credentials of the test tokens.
func testCredentials() []Credential {
	return []Credential{
		{Name: "orch", SHA256: HashToken(orchestratorToken), Role: RoleOrchestrator},
		{Name: "adm", SHA256: HashToken(adminToken), Role: RoleAdmin},
		{Name: "view", SHA256: HashToken(viewerToken), Role: RoleViewer},
		{Name: "limited", SHA256: HashToken(limitedToken), Role: RoleAdmin, Workspaces: []string{"ws-1", "ws-2"}},
	}
}

// newAuthEnv is newEnv with authentication by testCredentials.
func newAuthEnv(t *testing.T, st *fakeStore, o Options) *env {
	t.Helper()
	a, err := NewAuthenticator(testCredentials(), o.Metrics)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	o.Auth = a
	return newEnvWith(t, st, o)
}

// withToken returns ctx sending token as a bearer token.
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// allMethods returns the full names of every method of both services.
func allMethods() []string {
	var out []string
	for _, sd := range []grpc.ServiceDesc{quotav1.QuotaService_ServiceDesc, quotav1.AdminService_ServiceDesc} {
		for _, m := range sd.Methods {
			out = append(out, "/"+sd.ServiceName+"/"+m.MethodName)
		}
		for _, s := range sd.Streams {
			out = append(out, "/"+sd.ServiceName+"/"+s.StreamName)
		}
	}
	return out
}

func TestEveryMethodHasAnAccess(t *testing.T) {
	for _, m := range allMethods() {
		if _, ok := methodAccess[m]; !ok {
			t.Errorf("%s has no entry in methodAccess (server/permissions.go): give it the access it needs", m)
		}
	}
	for m := range methodAccess {
		if !slices.Contains(allMethods(), m) {
			t.Errorf("methodAccess names %s, which no service has", m)
		}
	}
}

// invoke calls method with a request of its input type, its workspace_id
// (if it has one) set to ws, and returns the error.
func invoke(ctx context.Context, t *testing.T, conn *grpc.ClientConn, method, ws string) error {
	t.Helper()
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		t.Fatalf("find %s: %v", svc, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
	in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		t.Fatalf("find %s: %v", md.Input().FullName(), err)
	}
	out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		t.Fatalf("find %s: %v", md.Output().FullName(), err)
	}
	req := in.New()
	if f := md.Input().Fields().ByName("workspace_id"); f != nil {
		req.Set(f, protoreflect.ValueOfString(ws))
	}
	return conn.Invoke(ctx, method, req.Interface(), out.New().Interface())
}

// authCode is the code of err when it is an authentication or
// authorization failure, else OK: the call got past both.
func authCode(err error) codes.Code {
	switch c := status.Code(err); c {
	case codes.Unauthenticated, codes.PermissionDenied:
		return c
	}
	return codes.OK
}

func TestEveryRoleAgainstEveryMethod(t *testing.T) {
	// allowed lists, for every RPC, the roles that may call it. Every
	// method of both services must be here (and in methodAccess).
	allowed := map[string][]Role{
		quotav1.QuotaService_Reserve_FullMethodName:        {RoleOrchestrator, RoleAdmin},
		quotav1.QuotaService_Extend_FullMethodName:         {RoleOrchestrator, RoleAdmin},
		quotav1.QuotaService_Commit_FullMethodName:         {RoleOrchestrator, RoleAdmin},
		quotav1.QuotaService_Refund_FullMethodName:         {RoleOrchestrator, RoleAdmin},
		quotav1.QuotaService_GetReservation_FullMethodName: {RoleOrchestrator, RoleAdmin, RoleViewer},
		quotav1.QuotaService_GetBalance_FullMethodName:     {RoleOrchestrator, RoleAdmin, RoleViewer},
		quotav1.QuotaService_EstimateCost_FullMethodName:   {RoleOrchestrator, RoleAdmin, RoleViewer},
		quotav1.QuotaService_ListRunCosts_FullMethodName:   {RoleOrchestrator, RoleAdmin, RoleViewer},

		quotav1.AdminService_SetWorkspace_FullMethodName:        {RoleAdmin},
		quotav1.AdminService_GetWorkspace_FullMethodName:        {RoleAdmin, RoleViewer},
		quotav1.AdminService_SetSeat_FullMethodName:             {RoleAdmin},
		quotav1.AdminService_GetPricing_FullMethodName:          {RoleAdmin, RoleViewer},
		quotav1.AdminService_SetPricing_FullMethodName:          {RoleAdmin},
		quotav1.AdminService_ListPricingVersions_FullMethodName: {RoleAdmin, RoleViewer},
		quotav1.AdminService_SetWorkspacePolicy_FullMethodName:  {RoleAdmin},
		quotav1.AdminService_SetMemberPoolCap_FullMethodName:    {RoleAdmin},
		quotav1.AdminService_AddPoolGrant_FullMethodName:        {RoleAdmin},
		quotav1.AdminService_VoidPoolGrant_FullMethodName:       {RoleAdmin},
		quotav1.AdminService_ListPoolGrants_FullMethodName:      {RoleAdmin, RoleViewer},
		quotav1.AdminService_GetWorkspaceBalance_FullMethodName: {RoleAdmin, RoleViewer},
		quotav1.AdminService_GetUsage_FullMethodName:            {RoleAdmin, RoleViewer},
		quotav1.AdminService_ListMembers_FullMethodName:         {RoleAdmin, RoleViewer},
		quotav1.AdminService_ListLedgerEntries_FullMethodName:   {RoleAdmin, RoleViewer},
		quotav1.AdminService_ListReservations_FullMethodName:    {RoleAdmin, RoleViewer},
		quotav1.AdminService_ExplainBalance_FullMethodName:      {RoleAdmin, RoleViewer},
		quotav1.AdminService_AuditWorkspace_FullMethodName:      {RoleAdmin, RoleViewer},
		quotav1.AdminService_RefundReservation_FullMethodName:   {RoleAdmin},
		quotav1.AdminService_AdjustBalance_FullMethodName:       {RoleAdmin},
	}
	tokens := map[Role]string{RoleOrchestrator: orchestratorToken, RoleAdmin: adminToken, RoleViewer: viewerToken}
	e := newAuthEnv(t, nil, Options{})
	for _, method := range allMethods() {
		roles, ok := allowed[method]
		if !ok {
			t.Errorf("%s: no row in this test's table; add one", method)
			continue
		}
		for _, role := range Roles {
			t.Run(fmt.Sprintf("%s by %s", strings.TrimPrefix(method, "/quota.v1."), role), func(t *testing.T) {
				err := invoke(withToken(testCtx(t), tokens[role]), t, e.conn, method, "ws-1")
				want := codes.PermissionDenied
				if slices.Contains(roles, role) {
					want = codes.OK
				}
				if got := authCode(err); got != want {
					t.Errorf("auth outcome = %v, want %v (error: %v)", got, want, err)
				}
				if want == codes.PermissionDenied {
					checkStatus(t, err, wantStatus{codes.PermissionDenied, reasonRoleNotPermitted, ""})
				}
			})
		}
		t.Run(strings.TrimPrefix(method, "/quota.v1.")+" without a token", func(t *testing.T) {
			err := invoke(testCtx(t), t, e.conn, method, "ws-1")
			checkStatus(t, err, wantStatus{codes.Unauthenticated, reasonTokenMissing, ""})
		})
	}
	if calls := e.store.Calls(); len(calls) == 0 {
		t.Error("no allowed call reached the store")
	}
}

func TestTokens(t *testing.T) {
	e := newAuthEnv(t, &fakeStore{getWorkspace: func(_ context.Context, id string) (quota.Workspace, error) {
		return quota.Workspace{ID: id, SubscriptionStart: testNow}, nil
	}}, Options{})
	get := func(ctx context.Context, ws string) error {
		_, err := e.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: ws})
		return err
	}
	cases := []struct {
		name string
		ctx  func(context.Context) context.Context
		want wantStatus
	}{
		{"no token", func(ctx context.Context) context.Context { return ctx }, wantStatus{codes.Unauthenticated, reasonTokenMissing, ""}},
		{"a wrong token", func(ctx context.Context) context.Context { return withToken(ctx, "not-a-token-0123456789") }, wantStatus{codes.Unauthenticated, reasonTokenInvalid, ""}},
		{"an empty bearer", func(ctx context.Context) context.Context {
			return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer ")
		}, wantStatus{codes.Unauthenticated, reasonTokenInvalid, ""}},
		{"another scheme", func(ctx context.Context) context.Context {
			return metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+adminToken)
		}, wantStatus{codes.Unauthenticated, reasonTokenInvalid, ""}},
		{"a token prefix", func(ctx context.Context) context.Context { return withToken(ctx, adminToken[:len(adminToken)-1]) }, wantStatus{codes.Unauthenticated, reasonTokenInvalid, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkStatus(t, get(tc.ctx(testCtx(t)), "ws-1"), tc.want)
		})
	}
	t.Run("the scheme is case-insensitive", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(testCtx(t), "authorization", "bearer "+adminToken)
		if err := get(ctx, "ws-1"); err != nil {
			t.Errorf("GetWorkspace: %v", err)
		}
	})
	t.Run("the token never appears in the log", func(t *testing.T) {
		if got := e.logs.Lines(adminToken[:12]); len(got) != 0 {
			t.Errorf("the log shows a token:\n%s", strings.Join(got, "\n"))
		}
		if got := e.logs.Lines(`caller=adm`); len(got) == 0 {
			t.Error("no call line names the caller's token")
		}
	})
}

func TestTokenRotation(t *testing.T) {
	e := newAuthEnv(t, &fakeStore{getWorkspace: func(_ context.Context, id string) (quota.Workspace, error) {
		return quota.Workspace{ID: id, SubscriptionStart: testNow}, nil
	}}, Options{})
	get := func(token string) error {
		_, err := e.admin.GetWorkspace(withToken(testCtx(t), token), &quotav1.GetWorkspaceRequest{WorkspaceId: "ws-1"})
		return err
	}
	const next = "admin-token-next-0123456789"
	creds := testCredentials()
	// Both the old and the new admin tokens are valid for a while...
	both := append(slices.Clone(creds), Credential{Name: "adm-next", SHA256: HashToken(next), Role: RoleAdmin})
	if err := e.srvAuth(t).SetCredentials(both); err != nil {
		t.Fatalf("SetCredentials: %v", err)
	}
	for _, tok := range []string{adminToken, next} {
		if err := get(tok); err != nil {
			t.Errorf("with both valid, GetWorkspace with %.10s…: %v", tok, err)
		}
	}
	// ...then the old one is dropped.
	var onlyNext []Credential
	for _, c := range both {
		if c.Name != "adm" {
			onlyNext = append(onlyNext, c)
		}
	}
	if err := e.srvAuth(t).SetCredentials(onlyNext); err != nil {
		t.Fatalf("SetCredentials: %v", err)
	}
	checkStatus(t, get(adminToken), wantStatus{codes.Unauthenticated, reasonTokenInvalid, ""})
	if err := get(next); err != nil {
		t.Errorf("GetWorkspace with the new token: %v", err)
	}
	// A bad set is refused and the set in force stays.
	bad := append(slices.Clone(onlyNext), Credential{Name: "dup", SHA256: HashToken(next), Role: RoleViewer})
	if err := e.srvAuth(t).SetCredentials(bad); err == nil || !strings.Contains(err.Error(), "same token") {
		t.Errorf("SetCredentials with a duplicate token = %v, want an error about it", err)
	}
	if err := get(next); err != nil {
		t.Errorf("after a refused set, GetWorkspace with the token in force: %v", err)
	}
}

// srvAuth returns the env's Authenticator.
func (e *env) srvAuth(t *testing.T) *Authenticator {
	t.Helper()
	if e.auth == nil {
		t.Fatal("the env has no Authenticator")
	}
	return e.auth
}

func TestCheckCredentials(t *testing.T) {
	ok := Credential{Name: "a", SHA256: HashToken("a-token-0123456789"), Role: RoleAdmin}
	cases := []struct {
		name  string
		creds []Credential
		want  string
	}{
		{"no name", []Credential{{SHA256: ok.SHA256, Role: RoleAdmin}}, "no name"},
		{"twice the name", []Credential{ok, {Name: "a", SHA256: HashToken("other-0123456789"), Role: RoleAdmin}}, "used twice"},
		{"an unknown role", []Credential{{Name: "a", SHA256: ok.SHA256, Role: "root"}}, `unknown role "root"`},
		{"an empty workspace", []Credential{{Name: "a", SHA256: ok.SHA256, Role: RoleAdmin, Workspaces: []string{""}}}, "empty workspace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewAuthenticator(tc.creds, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewAuthenticator = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestWorkspaceLimitedToken(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	st := &fakeStore{
		getWorkspace: func(_ context.Context, id string) (quota.Workspace, error) {
			mu.Lock()
			asked = append(asked, id)
			mu.Unlock()
			if id == "ws-1" || id == "ws-3" {
				return quota.Workspace{ID: id, SubscriptionStart: testNow}, nil
			}
			return quota.Workspace{}, quota.ErrWorkspaceNotFound
		},
		savePricing: func(_ context.Context, op quota.PricingOp) (quota.PriceVersion, error) {
			return quota.PriceVersion{Version: 1, Table: op.Table}, nil
		},
	}
	e := newAuthEnv(t, st, Options{})
	ctx := func() context.Context { return withToken(testCtx(t), limitedToken) }
	get := func(ws string) error {
		_, err := e.admin.GetWorkspace(ctx(), &quotav1.GetWorkspaceRequest{WorkspaceId: ws})
		return err
	}

	if err := get("ws-1"); err != nil {
		t.Errorf("GetWorkspace of its own workspace: %v", err)
	}
	checkStatus(t, get("ws-2"), wantStatus{codes.NotFound, "WORKSPACE_NOT_FOUND", ""})

	// Another workspace is refused alike whether it exists (ws-3) or not
	// (ws-4): the answer does not tell.
	errExists, errMissing := get("ws-3"), get("ws-4")
	checkStatus(t, errExists, wantStatus{codes.PermissionDenied, reasonWorkspaceNotPermitted, ""})
	if diff := cmp.Diff(status.Convert(errExists).Proto(), status.Convert(errMissing).Proto(), protocmp.Transform()); diff != "" {
		t.Errorf("an existing and a missing workspace are refused differently (-exists +missing):\n%s", diff)
	}
	mu.Lock()
	if slices.Contains(asked, "ws-3") || slices.Contains(asked, "ws-4") {
		t.Errorf("the store was asked about a workspace the token may not see: %v", asked)
	}
	mu.Unlock()

	// Global reads are open, global mutations are not.
	if _, err := e.admin.GetPricing(ctx(), &quotav1.GetPricingRequest{}); err != nil {
		t.Errorf("GetPricing: %v", err)
	}
	if _, err := e.quota.EstimateCost(ctx(), &quotav1.EstimateCostRequest{Origin: quotav1.Origin_ORIGIN_CONVERSATION, Usage: okUsage()}); err != nil {
		t.Errorf("EstimateCost: %v", err)
	}
	_, err := e.admin.SetPricing(ctx(), okSetPricing())
	checkStatus(t, err, wantStatus{codes.PermissionDenied, reasonWorkspaceNotPermitted, ""})
	// The same call by an unlimited admin goes through.
	if _, err := e.admin.SetPricing(withToken(testCtx(t), adminToken), okSetPricing()); err != nil {
		t.Errorf("SetPricing by an unlimited admin: %v", err)
	}
}

func TestHealthIsOpenAndReflectionNeedsAToken(t *testing.T) {
	e := newAuthEnv(t, nil, Options{Reflection: true})
	if _, err := healthpb.NewHealthClient(e.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health Check without a token: %v", err)
	}
	list := func(ctx context.Context) error {
		stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		// Send is io.EOF when the server already ended the stream (it
		// may refuse the call first): Recv then returns its status.
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
		}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	checkStatus(t, list(testCtx(t)), wantStatus{codes.Unauthenticated, reasonTokenMissing, ""})
	if err := list(withToken(testCtx(t), viewerToken)); err != nil {
		t.Errorf("reflection with a token: %v", err)
	}
}

func TestReflectionIsOffByDefault(t *testing.T) {
	e := newEnv(t, nil)
	stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(testCtx(t))
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection without Options.Reflection: %v, want Unimplemented", err)
	}
}
