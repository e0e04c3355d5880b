package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/redistest"
)

// startReplicated starts a master and one replica in sync with it.
func startReplicated(t *testing.T) (master, replica *redistest.Server) {
	t.Helper()
	// No wait for more replicas before the first sync (5s by default).
	master, err := redistest.StartServerWith(redistest.ServerOptions{Args: []string{"--repl-diskless-sync-delay", "0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(master.Close)
	replica, err = redistest.StartServerWith(redistest.ServerOptions{Args: []string{"--replicaof", "127.0.0.1", fmt.Sprint(master.Port())}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		info, err := replica.Client().Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return master, replica
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the replica did not sync: %v\n%s", err, info)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// loadAndReplicate loads the library and waits (10 s at most) for the
// replica to load it too: on a loaded machine a replica may take longer
// than a test's WaitTimeout to compile it, which would fail the first
// call.
func loadAndReplicate(t *testing.T, st *store.Store, rdb *redis.Client) {
	t.Helper()
	ctx := context.Background()
	if err := st.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// WAIT counts what this connection wrote: write, then wait.
	conn := rdb.Conn()
	defer conn.Close()
	if err := conn.Set(ctx, "replicated", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Do(ctx, "WAIT", 1, 10_000).Int64(); err != nil || n < 1 {
		t.Fatalf("WAIT = %d, %v: the replica did not follow", n, err)
	}
}

// With WaitReplicas, a call answers once its writes are on the replicas:
// what it acknowledged is on the replica at once; a replica that does not
// acknowledge in time makes the call UNAVAILABLE (applied on the master,
// not acknowledged), and the retry with the same request id answers the
// first outcome once the replica has it.
func TestWaitReplicasAcknowledgesOnlyReplicatedWrites(t *testing.T) {
	master, replica := startReplicated(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	rdb := master.Client()
	st := store.New(rdb, store.Options{WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})
	loadAndReplicate(t, st, rdb)
	svc := quota.NewService(st, quota.Config{Now: func() time.Time { return now }})
	if _, err := svc.SetWorkspace(ctx, quota.Idem{RequestID: "ws", Fingerprint: "ws"}, quota.Workspace{ID: "rep", SubscriptionStart: anchor}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetSeat(ctx, quota.Idem{RequestID: "seat", Fingerprint: "s"}, "rep", "ann", quota.SeatMax); err != nil {
		t.Fatal(err)
	}
	reserve := func(req string) (quota.Outcome, error) {
		return svc.Reserve(ctx, quota.ReserveRequest{Idem: quota.Idem{RequestID: req, Fingerprint: "f-" + req}, WorkspaceID: "rep",
			MemberID: "ann", Amount: 5 * C, Origin: quota.OriginConversation, TTL: time.Hour})
	}
	digest := func(s *redistest.Server) string {
		d, err := redistest.Digest(ctx, s.Client())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// onReplica tells whether the replica holds what the master holds.
	onReplica := func() bool { return digest(replica) == digest(master) }
	if _, err := reserve("r1"); err != nil {
		t.Fatal(err)
	}
	if !onReplica() {
		t.Error("an acknowledged Reserve is not on the replica")
	}

	// The replica stops acknowledging.
	if err := replica.Pause(); err != nil {
		t.Fatal(err)
	}
	before := digest(master)
	_, err := reserve("r2")
	if !errors.Is(err, quota.ErrUnavailable) {
		t.Fatalf("Reserve with the replica paused = %v, want unavailable", err)
	}
	if digest(master) == before {
		t.Error("the unacknowledged Reserve was not applied on the master")
	}
	if err := replica.Resume(); err != nil {
		t.Fatal(err)
	}
	first, err := reserve("r2")
	if err != nil {
		t.Fatalf("the retry once the replica is back: %v", err)
	}
	if !first.Replayed {
		t.Error("the retry applied the Reserve again instead of answering its first outcome")
	}
	if !onReplica() {
		t.Error("the acknowledged retry's first outcome is not on the replica")
	}
	b, err := svc.GetBalance(ctx, "rep", "ann")
	if err != nil {
		t.Fatal(err)
	}
	if b.Held != 10*C {
		t.Errorf("held = %d, want the two Reserves' %d", b.Held, 10*C)
	}
}

// More replicas asked for than there are: every call is UNAVAILABLE, and
// says why.
func TestWaitReplicasMoreThanThereAre(t *testing.T) {
	master, _ := startReplicated(t)
	st := store.New(master.Client(), store.Options{WaitReplicas: 2, WaitTimeout: 50 * time.Millisecond})
	loadAndReplicate(t, st, master.Client())
	svc := quota.NewService(st, quota.Config{})
	_, err := svc.SetWorkspace(context.Background(), quota.Idem{RequestID: "ws", Fingerprint: "ws"}, quota.Workspace{ID: "rep", SubscriptionStart: anchor})
	if !errors.Is(err, quota.ErrUnavailable) || !strings.Contains(err.Error(), "of 2 replicas") {
		t.Errorf("SetWorkspace = %v, want unavailable: n of 2 replicas", err)
	}
}

// On a Cluster, replicate waits on the master of each workspace's slot:
// workspaces spread over the three masters (one replica each) all answer
// with one replica asked for, and none with two.
func TestWaitReplicasOnACluster(t *testing.T) {
	rdb := redistest.ClusterBackend().New(t)
	ctx := context.Background()
	st := store.New(rdb, store.Options{WaitReplicas: 1})
	svc := quota.NewService(st, quota.Config{})
	for i := range 12 {
		ws := fmt.Sprintf("wr-%d", i)
		if _, err := svc.SetWorkspace(ctx, quota.Idem{RequestID: "ws", Fingerprint: "ws"}, quota.Workspace{ID: ws, SubscriptionStart: anchor}); err != nil {
			t.Fatalf("%s: %v", ws, err)
		}
		if _, err := svc.SetSeat(ctx, quota.Idem{RequestID: "seat", Fingerprint: "s"}, ws, "ann", quota.SeatMax); err != nil {
			t.Fatalf("%s: %v", ws, err)
		}
		if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: quota.Idem{RequestID: "r", Fingerprint: "f"}, WorkspaceID: ws,
			MemberID: "ann", Amount: C, Origin: quota.OriginConversation, TTL: time.Hour}); err != nil {
			t.Fatalf("%s: %v", ws, err)
		}
	}
	two := quota.NewService(store.New(rdb, store.Options{WaitReplicas: 2, WaitTimeout: 20 * time.Millisecond}), quota.Config{})
	for i := range 12 {
		_, err := two.SetSeat(ctx, quota.Idem{RequestID: "seat2", Fingerprint: "s"}, fmt.Sprintf("wr-%d", i), "bob", quota.SeatPro)
		if !errors.Is(err, quota.ErrUnavailable) || !strings.Contains(err.Error(), "of 2 replicas") {
			t.Errorf("wr-%d with two replicas asked for: %v, want unavailable", i, err)
		}
	}
}

// The entry point, the barrier and WAIT go on one connection: WAIT counts
// that connection's writes, so any other would not wait for the entry
// point's (MONITOR names each command's client).
func TestWaitReplicasWaitsOnTheConnectionThatWrote(t *testing.T) {
	master, _ := startReplicated(t)
	ctx := context.Background()
	rdb := master.Client()
	st := store.New(rdb, store.Options{WaitReplicas: 1})
	loadAndReplicate(t, st, rdb)
	svc := quota.NewService(st, quota.Config{})

	mon, err := net.Dial("tcp", master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(mon)
	if l, err := lines.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
		t.Fatalf("MONITOR = %q, %v", l, err)
	}
	if _, err := svc.SetWorkspace(ctx, quota.Idem{RequestID: "ws", Fingerprint: "ws"}, quota.Workspace{ID: "mon", SubscriptionStart: anchor}); err != nil {
		t.Fatal(err)
	}
	// "+<time> [0 <client addr>] "<command>" ...": the client of each
	// command, until the WAIT.
	mon.SetReadDeadline(time.Now().Add(10 * time.Second))
	clients := map[string]string{}
	for clients["wait"] == "" {
		l, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading MONITOR: %v (seen %v)", err, clients)
		}
		_, rest, _ := strings.Cut(l, "[")
		client, cmd, _ := strings.Cut(rest, "] ")
		cmd = strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(cmd, `"FCALL"`):
			clients["fcall"] = client
		case strings.HasPrefix(cmd, `"SET" "Q:{WS:MON}:WAIT"`):
			clients["barrier"] = client
		case strings.HasPrefix(cmd, `"WAIT"`):
			clients["wait"] = client
		}
	}
	if clients["fcall"] == "" || clients["fcall"] != clients["barrier"] || clients["fcall"] != clients["wait"] {
		t.Errorf("the clients of FCALL, the barrier and WAIT = %v, want one", clients)
	}
}
