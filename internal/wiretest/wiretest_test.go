package wiretest

import (
	"testing"

	"google.golang.org/protobuf/proto"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

func TestDeepAgentRunDecodes(t *testing.T) {
	for _, depth := range []int{1, 2, 17, 1000} {
		var run quotav1.AgentRun
		if err := proto.Unmarshal(DeepAgentRun(depth), &run); err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		n, leaf := 1, &run
		for len(leaf.GetSubAgents()) == 1 {
			n, leaf = n+1, leaf.GetSubAgents()[0]
		}
		if n != depth || leaf.GetAgentId() != "a" || len(leaf.GetSubAgents()) != 0 {
			t.Errorf("depth %d decodes to %d levels, leaf %q", depth, n, leaf.GetAgentId())
		}
	}
}

func TestDeepAgentRunPastTheDecoderLimit(t *testing.T) {
	var run quotav1.AgentRun
	if err := proto.Unmarshal(DeepAgentRun(100_000), &run); err == nil {
		t.Error("proto.Unmarshal decoded an AgentRun 100,000 levels deep")
	}
}

func TestStringKeepsInvalidUTF8(t *testing.T) {
	var ws quotav1.GetWorkspaceRequest
	if err := proto.Unmarshal(String(nil, 1, "w\xff"), &ws); err == nil {
		t.Error("proto.Unmarshal decoded a string that is not UTF-8")
	}
	if err := proto.Unmarshal(String(nil, 1, "ws-1"), &ws); err != nil || ws.GetWorkspaceId() != "ws-1" {
		t.Errorf("String(ws-1) decodes to %q, %v", ws.GetWorkspaceId(), err)
	}
}
