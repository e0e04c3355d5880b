package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// startTLSQuotad starts quotad on the embedded store with the server
// certificate serial 100 of ca in dir (server.pem, server-key.pem) and,
// when mutual, ca as the client CA (ca.pem); files are checked every
// 50ms.
func startTLSQuotad(t *testing.T, ca *testCA, mutual bool) (*quotadUnderTest, string) {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.issue(t, "quotad", 100)
	writeFiles(t, dir, map[string][]byte{"server.pem": cert, "server-key.pem": key, "ca.pem": ca.PEM})
	cfg := testConfig(t, "embedded")
	cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	if mutual {
		cfg.TLSClientCA = filepath.Join(dir, "ca.pem")
	}
	cfg.ReloadInterval = 50 * time.Millisecond
	return startConfig(t, cfg), dir
}

// checkTLS calls health over a new TLS connection with cfg and returns
// the serial of the server's certificate.
func checkTLS(t *testing.T, addr string, cfg *tls.Config) (int64, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var p peer.Peer
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
		return 0, err
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return 0, fmt.Errorf("no TLS peer certificate: %T", p.AuthInfo)
	}
	return info.State.PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestTLSAndCertificateReload(t *testing.T) {
	ca := newTestCA(t, "test CA")
	q, dir := startTLSQuotad(t, ca, false)
	clientCfg := &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}

	serial, err := checkTLS(t, q.Addrs.GRPC, clientCfg)
	if err != nil || serial != 100 {
		t.Fatalf("TLS health check: serial %d, %v; want 100, nil", serial, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(dial(t, q.Addrs.GRPC)).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("a plaintext call to the TLS listener succeeded")
	}

	// Renew the certificate: new connections get it without a restart.
	cert, key := ca.issue(t, "quotad", 200)
	writeFiles(t, dir, map[string][]byte{"server.pem": cert, "server-key.pem": key})
	deadline := time.Now().Add(5 * time.Second)
	for serial != 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		serial, err = checkTLS(t, q.Addrs.GRPC, clientCfg)
	}
	if serial != 200 {
		t.Errorf("after renewal, the server's certificate has serial %d (%v), want 200", serial, err)
	}

	// A broken file is not put in force.
	writeFiles(t, dir, map[string][]byte{"server.pem": []byte("not a certificate")})
	time.Sleep(300 * time.Millisecond)
	if serial, err := checkTLS(t, q.Addrs.GRPC, clientCfg); err != nil || serial != 200 {
		t.Errorf("after a broken renewal: serial %d, %v; want the certificate in force (200)", serial, err)
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, "test CA")
	q, _ := startTLSQuotad(t, ca, true)
	clientCert := keyPair(t, ca.issuePair(t, "orchestrator", 300))
	other := newTestCA(t, "another CA")
	strangerCert := keyPair(t, other.issuePair(t, "stranger", 400))

	cases := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"a client certificate of the CA", []tls.Certificate{clientCert}, true},
		{"no client certificate", nil, false},
		{"a certificate of another CA", []tls.Certificate{strangerCert}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkTLS(t, q.Addrs.GRPC, &tls.Config{RootCAs: ca.pool(), Certificates: tc.certs, MinVersion: tls.VersionTLS12})
			if (err == nil) != tc.ok {
				t.Errorf("health over mutual TLS: %v, want success %v", err, tc.ok)
			}
		})
	}
}

// startTLSRedis starts a redis-server that speaks only TLS (certificate
// of ca) and knows one ACL user, quotad with password s3cret-pass; the
// default user is off. It returns its address.
func startTLSRedis(t *testing.T, ca *testCA) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	startTLSRedisOn(t, port, ca, nil)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// startTLSRedisOn is startTLSRedis on port; with clientCAs (PEM), Redis
// requires a client certificate of one of them (tls-auth-clients). It
// returns a function that stops the server (also called when t ends).
func startTLSRedisOn(t *testing.T, port int, ca *testCA, clientCAs []byte) (stop func()) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: install it with `apt-get install redis-server`")
	}
	dir := t.TempDir()
	cert, key := ca.issue(t, "redis", 500)
	auth := "no"
	if clientCAs != nil {
		auth = "yes"
	} else {
		clientCAs = ca.PEM
	}
	writeFiles(t, dir, map[string][]byte{"redis.pem": cert, "redis-key.pem": key, "ca.pem": clientCAs})
	cmd := exec.Command(path,
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(dir, "redis.pem"), "--tls-key-file", filepath.Join(dir, "redis-key.pem"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", auth,
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--user", "default", "off",
		"--user", "quotad", "on", ">s3cret-pass", "~*", "&*", "+@all",
	)
	out, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = sync.OnceFunc(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	t.Cleanup(stop)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Ready once its port answers a TLS handshake (with TLS 1.3, which
	// Redis and Go agree on, Redis checks a client certificate after the
	// handshake: no certificate needed here).
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12})
		if err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server with TLS did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisOverTLSWithAnACLUser(t *testing.T) {
	ca := newTestCA(t, "redis CA")
	addr := startTLSRedis(t, ca)
	caFile := writeFile(t, "redis-ca.pem", string(ca.PEM))
	base := func() Config {
		cfg := testConfig(t, "embedded")
		cfg.RedisURL = "rediss://" + addr + "/0"
		cfg.RedisTLSCA = caFile
		cfg.RedisUsername = "quotad"
		cfg.AllowUnauthenticated = true
		cfg.StoreTimeout, cfg.CallTimeout = defaultConfig().StoreTimeout, defaultConfig().CallTimeout
		return cfg
	}

	cfg := base()
	cfg.RedisPassword = "s3cret-pass"
	q := startConfig(t, cfg)
	c, _ := connect(t, q.Addrs.GRPC)
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{
		WorkspaceId: "acme", RequestId: "ws-1", SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
	}); err != nil {
		t.Errorf("SetWorkspace through Redis over TLS: %v", err)
	}

	// The password from a file works alike; a wrong one stops quotad at
	// start, and the error does not show it.
	cfg = base()
	cfg.RedisPasswordFile = writeFile(t, "redis-password", "s3cret-pass\n")
	startConfig(t, cfg)

	cfg = base()
	cfg.RedisPassword = "wrong-pass"
	err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "PING") {
		t.Errorf("run with a wrong Redis password = %v, want an error about PING", err)
	} else if strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("the error shows the password: %v", err)
	}

	// Without the CA, Redis's certificate is not trusted.
	cfg = base()
	cfg.RedisPassword = "s3cret-pass"
	cfg.RedisTLSCA = ""
	if err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("run trusted Redis's certificate without -redis-tls-ca")
	}
}

// A Redis whose certificate is renewed by a new CA, and that accepts
// client certificates of the new CA only, is reached again once the
// files of -redis-tls-ca, -redis-tls-cert and -redis-tls-key are
// replaced, without restarting quotad; a broken file is not put in force.
func TestRedisTLSFilesAreReloaded(t *testing.T) {
	oldCA, newCA := newTestCA(t, "old Redis CA"), newTestCA(t, "new Redis CA")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	stopRedis := startTLSRedisOn(t, port, oldCA, oldCA.PEM)

	dir := t.TempDir()
	cert, key := oldCA.issue(t, "quotad", 600)
	writeFiles(t, dir, map[string][]byte{"ca.pem": oldCA.PEM, "client.pem": cert, "client-key.pem": key})
	cfg := testConfig(t, "embedded")
	cfg.RedisURL = "rediss://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/0"
	cfg.RedisTLSCA = filepath.Join(dir, "ca.pem")
	cfg.RedisTLSCert, cfg.RedisTLSKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	cfg.RedisUsername, cfg.RedisPassword = "quotad", "s3cret-pass"
	cfg.AllowUnauthenticated = true
	cfg.ReloadInterval = 50 * time.Millisecond
	cfg.StoreTimeout, cfg.CallTimeout = 2*time.Second, 3*time.Second
	q := startConfig(t, cfg)
	c, _ := connect(t, q.Addrs.GRPC)
	setWorkspace := func(id string) error {
		_, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{
			WorkspaceId: id, RequestId: "ws-" + id, SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
		})
		return err
	}
	// eventually retries f for up to 10 s: the pool's connections to the
	// stopped Redis fail first, and go-redis backs off between dials.
	eventually := func(f func() error) error {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err = f(); err == nil {
				return nil
			}
		}
		return err
	}
	if err := setWorkspace("acme"); err != nil {
		t.Fatalf("SetWorkspace through Redis over mutual TLS: %v", err)
	}

	// Redis comes back with a certificate of the new CA, and takes client
	// certificates of the new CA only: with the old files in force, no
	// connection can be made.
	stopRedis()
	stopRedis = startTLSRedisOn(t, port, newCA, newCA.PEM)
	time.Sleep(300 * time.Millisecond)
	if err := setWorkspace("before-renewal"); status.Code(err) != codes.Unavailable {
		t.Fatalf("SetWorkspace with the old CA and client certificate in force: %v, want UNAVAILABLE", err)
	}
	reloads := func(result string) float64 {
		return sum(scrape(t, q.Addrs.Metrics), "quota_config_reloads_total", "file", "redis-tls", "result", result)
	}
	if n := reloads("ok"); n != 0 {
		t.Fatalf("%v Redis TLS reloads before the files changed, want 0", n)
	}

	// The files are replaced: new connections use them.
	cert, key = newCA.issue(t, "quotad", 700)
	writeFiles(t, dir, map[string][]byte{"ca.pem": newCA.PEM, "client.pem": cert, "client-key.pem": key})
	if err := eventually(func() error { return setWorkspace("renewed") }); err != nil {
		t.Fatalf("SetWorkspace after the Redis TLS files were replaced: %v", err)
	}
	if n := reloads("ok"); n < 1 {
		t.Errorf("quota_config_reloads_total{file=redis-tls,result=ok} = %v, want >= 1", n)
	}

	// A broken CA file is refused and counted; the files in force stay:
	// connections made after it (Redis restarted) still work. (A reload
	// between the renewal's renames may have failed already: count from
	// here.)
	failed := reloads("error")
	writeFiles(t, dir, map[string][]byte{"ca.pem": []byte("not a certificate")})
	if err := eventually(func() error {
		if reloads("error") <= failed {
			return errors.New("no failed reload counted yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("after a broken CA file: %v", err)
	}
	stopRedis()
	startTLSRedisOn(t, port, newCA, newCA.PEM)
	if err := eventually(func() error { return setWorkspace("after-broken-file") }); err != nil {
		t.Errorf("SetWorkspace after a broken CA file was refused: %v", err)
	}
}

// Every kind of Redis dials through the reloading dialer: a connection
// made after load uses the files as they are then (here a CA that does
// not sign Redis's certificate, and back).
func TestRedisTLSDialerOfEveryKindOfRedis(t *testing.T) {
	ca, other := newTestCA(t, "Redis CA"), newTestCA(t, "another CA")
	addr := startTLSRedis(t, ca)
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"ca.pem": ca.PEM})
	cfg := defaultConfig()
	cfg.RedisTLSCA = filepath.Join(dir, "ca.pem")
	rtls, err := newRedisTLS(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(d func(context.Context, string, string) (net.Conn, error)) error {
		if d == nil {
			return errors.New("no dialer")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := d(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	cluster := clusterOptions(cfg, "", 1, 0, rtls, redisHook{})
	failover := failoverOptions(cfg, "", "", 1, 0, rtls)
	for name, o := range map[string]struct {
		tls  *tls.Config
		dial func(context.Context, string, string) (net.Conn, error)
	}{"Cluster": {cluster.TLSConfig, cluster.Dialer}, "Sentinel": {failover.TLSConfig, failover.Dialer}} {
		if o.tls == nil {
			t.Errorf("%s: no TLSConfig: go-redis would not know the connections are TLS", name)
		}
		if err := dial(o.dial); err != nil {
			t.Errorf("%s: dial with the Redis CA: %v", name, err)
		}
		writeFiles(t, dir, map[string][]byte{"ca.pem": other.PEM})
		if err := rtls.load(); err != nil {
			t.Fatal(err)
		}
		var cerr *tls.CertificateVerificationError
		if err := dial(o.dial); !errors.As(err, &cerr) {
			t.Errorf("%s: dial after the CA file changed to another CA: %v, want a certificate verification error", name, err)
		}
		writeFiles(t, dir, map[string][]byte{"ca.pem": ca.PEM})
		if err := rtls.load(); err != nil {
			t.Fatal(err)
		}
	}
	// Without TLS, go-redis dials itself.
	if d := (*redisTLSFiles)(nil).dialer(time.Second); d != nil {
		t.Error("a dialer without TLS")
	}
}
