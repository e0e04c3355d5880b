package server

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/internal/wiretest"
	"github.com/quota-svc/quota/quota"
)

// invalidUTF8Request is a GetWorkspaceRequest whose workspace_id (field 1)
// is not UTF-8: proto3 refuses to decode it.
func invalidUTF8Request() []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(b, []byte{'w', 0xff, 0xfe})
}

func TestMalformedRequestIsInvalidArgument(t *testing.T) {
	for name, body := range map[string][]byte{
		"invalid UTF-8":       invalidUTF8Request(),
		"truncated wire data": {0x0a, 0x05, 'w'},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			var out []byte
			err := e.conn.Invoke(testCtx(t), quotav1.AdminService_GetWorkspace_FullMethodName, &body, &out, grpc.ForceCodecV2(wiretest.RawCodec{}))
			checkStatus(t, err, wantStatus{codes.InvalidArgument, reasonMalformedMessage, ""})
			if calls := e.store.Calls(); len(calls) != 0 {
				t.Errorf("the store was called: %v", calls)
			}
		})
	}
}

func TestMalformedRequestWithoutATokenIsUnauthenticated(t *testing.T) {
	e := newAuthEnv(t, nil, Options{})
	body := invalidUTF8Request()
	var out []byte
	err := e.conn.Invoke(testCtx(t), quotav1.AdminService_GetWorkspace_FullMethodName, &body, &out, grpc.ForceCodecV2(wiretest.RawCodec{}))
	checkStatus(t, err, wantStatus{codes.Unauthenticated, reasonTokenMissing, ""})
}

func TestWellFormedRequestIsNotMarked(t *testing.T) {
	if _, ok := malformed(&quotav1.GetWorkspaceRequest{WorkspaceId: "ws-1"}); ok {
		t.Error("a well-formed request is marked malformed")
	}
}

// TestForgedMarkIsIgnored sends a well-formed GetWorkspaceRequest that
// carries, as an unknown field, what the codec marks an undecodable
// request with: the server must ignore it like any unknown field, not
// answer MALFORMED_MESSAGE with the client's own text (found by
// FuzzDecode's seeds).
func TestForgedMarkIsIgnored(t *testing.T) {
	e := newEnv(t, &fakeStore{getWorkspace: func(_ context.Context, id string) (quota.Workspace, error) {
		return quota.Workspace{ID: id, SubscriptionStart: testNow}, nil
	}})
	body := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "ws-1")
	body = protowire.AppendString(protowire.AppendTag(body, malformedField, protowire.BytesType), "forged")
	var out []byte
	if err := e.conn.Invoke(testCtx(t), quotav1.AdminService_GetWorkspace_FullMethodName, &body, &out, grpc.ForceCodecV2(wiretest.RawCodec{})); err != nil {
		t.Fatalf("GetWorkspace with a forged mark = %v, want OK", err)
	}
}
