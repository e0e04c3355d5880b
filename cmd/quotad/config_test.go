package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeFile writes content to a new file of the test and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfig(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := defaultConfig()
		f(&c)
		return c
	}
	const tokens = "tokens: [{name: t, token: abcdefghijklmnopq, role: admin}]"
	file := writeFile(t, "quotad.yaml", `
listen: ":7000"
metrics-listen: ""
redis-cluster: [a:1, b:2]
store-timeout: 1500ms
max-recv-msg-size: 1MiB
reflection: true
health-failures: 3
allow-unauthenticated: true
`)
	badKey := writeFile(t, "bad.yaml", "listen: ':1'\nredis-password: hunter2\n")
	badValue := writeFile(t, "badvalue.yaml", "store-timeout: soon\n")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: defaultConfig()},
		{
			name: "env fills what flags leave",
			env: map[string]string{
				"QUOTA_LISTEN":          ":9000",
				"QUOTA_REDIS_CLUSTER":   "a:1, b:2,",
				"QUOTA_DEFAULT_TTL":     "1m",
				"QUOTA_SWEEP_INTERVAL":  "250ms",
				"QUOTA_LOG_LEVEL":       "debug",
				"QUOTA_PRICING_REFRESH": "1m",
				"QUOTA_USAGE_RETENTION": "720h",
				"QUOTA_TOKENS":          tokens,
				"QUOTA_REDIS_PASSWORD":  "hunter2",
			},
			want: with(func(c *Config) {
				c.Listen = ":9000"
				c.RedisCluster = []string{"a:1", "b:2"}
				c.DefaultTTL = time.Minute
				c.SweepInterval = 250 * time.Millisecond
				c.LogLevel = slog.LevelDebug
				c.PricingRefresh = time.Minute
				c.UsageRetention = 720 * time.Hour
				c.Tokens = tokens
				c.RedisPassword = "hunter2"
			}),
		},
		{
			name: "flags override env",
			args: []string{"-listen", ":8000", "-redis-url", "redis://localhost:6379/2", "-max-ttl=1h", "-allow-unauthenticated"},
			env:  map[string]string{"QUOTA_LISTEN": ":9000", "QUOTA_REDIS_URL": "redis://elsewhere:6379", "QUOTA_MAX_TTL": "2h"},
			want: with(func(c *Config) {
				c.Listen = ":8000"
				c.RedisURL = "redis://localhost:6379/2"
				c.MaxTTL = time.Hour
				c.AllowUnauthenticated = true
			}),
		},
		{
			name: "the file fills what env and flags leave",
			args: []string{"-config", file, "-listen", ":8000"},
			env:  map[string]string{"QUOTA_STORE_TIMEOUT": "1s"},
			want: with(func(c *Config) {
				c.ConfigFile = file
				c.Listen = ":8000"           // flag
				c.StoreTimeout = time.Second // env
				c.MetricsListen = ""         // file
				c.RedisCluster = []string{"a:1", "b:2"}
				c.MaxRecvMsgSize = 1 << 20
				c.Reflection = true
				c.HealthFailures = 3
				c.AllowUnauthenticated = true
			}),
		},
		{
			name: "the config file from the environment",
			env:  map[string]string{"QUOTA_CONFIG": file},
			want: with(func(c *Config) {
				c.ConfigFile = file
				c.Listen = ":7000"
				c.MetricsListen = ""
				c.RedisCluster = []string{"a:1", "b:2"}
				c.StoreTimeout = 1500 * time.Millisecond
				c.MaxRecvMsgSize = 1 << 20
				c.Reflection = true
				c.HealthFailures = 3
				c.AllowUnauthenticated = true
			}),
		},
		{
			name: "sentinel",
			env: map[string]string{"QUOTA_REDIS_SENTINEL_MASTER": "mymaster", "QUOTA_REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379",
				"QUOTA_TOKENS_FILE": "/etc/quotad/tokens.yaml"},
			want: with(func(c *Config) {
				c.SentinelMaster = "mymaster"
				c.SentinelAddrs = []string{"s1:26379", "s2:26379"}
				c.TokensFile = "/etc/quotad/tokens.yaml"
			}),
		},
		{name: "sizes take units", args: []string{"-max-send-msg-size", "512KiB"}, want: with(func(c *Config) { c.MaxSendMsgSize = 512 << 10 })},
		{name: "bad duration flag", args: []string{"-default-ttl", "soon"}, wantErr: "-default-ttl"},
		{name: "bad duration env", env: map[string]string{"QUOTA_MIN_TTL": "soon"}, wantErr: "QUOTA_MIN_TTL"},
		{name: "bad log level", args: []string{"-log-level", "loud"}, wantErr: "-log-level"},
		{name: "bad log format", args: []string{"-log-format", "xml"}, wantErr: "-log-format"},
		{name: "bad size", args: []string{"-max-recv-msg-size", "lots"}, wantErr: "-max-recv-msg-size"},
		{name: "tiny size", args: []string{"-max-recv-msg-size", "10"}, wantErr: "-max-recv-msg-size must be at least"},
		{name: "run retention below the idempotency window", args: []string{"-run-retention", "47h"}, wantErr: "-run-retention must be at least 48h0m0s"},
		{name: "run retention at the idempotency window", args: []string{"-run-retention", "48h"}, want: with(func(c *Config) { c.RunRetention = 48 * time.Hour })},
		{name: "stream workers", args: []string{"-stream-workers", "0"}, want: with(func(c *Config) { c.StreamWorkers = 0 })},
		{name: "negative stream workers", args: []string{"-stream-workers", "-1"}, wantErr: "-stream-workers must be at least 0"},
		{name: "too many stream workers", args: []string{"-stream-workers", "65537"}, wantErr: "-stream-workers must be at most 65536"},
		{name: "streams past uint32", args: []string{"-max-concurrent-streams", "4294967296"}, wantErr: "-max-concurrent-streams must be at most 4294967295"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "-nope"},
		{name: "no password flag", args: []string{"-redis-password", "hunter2"}, wantErr: "-redis-password"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "two Redis", args: []string{"-redis-url", "redis://a:1", "-redis-cluster", "b:2"}, wantErr: "at most one"},
		{name: "sentinel without addresses", args: []string{"-redis-sentinel-master", "m"}, wantErr: "go together"},
		{name: "pprof without a metrics listener", args: []string{"-pprof", "-metrics-listen", ""}, wantErr: "-pprof serves on -metrics-listen"},
		{name: "default TTL above max", args: []string{"-default-ttl", "25h"}, wantErr: "-max-ttl"},
		{name: "zero sweep interval", env: map[string]string{"QUOTA_SWEEP_INTERVAL": "0s"}, wantErr: "-sweep-interval"},
		{name: "zero store timeout", args: []string{"-store-timeout", "0s"}, wantErr: "-store-timeout must be positive"},
		{name: "store timeout above call timeout", args: []string{"-store-timeout", "20s"}, wantErr: "-call-timeout"},
		{name: "negative grace", args: []string{"-shutdown-grace", "-1s"}, wantErr: "-shutdown-grace"},
		{name: "a certificate without its key", args: []string{"-tls-cert", "c.pem"}, wantErr: "-tls-cert and -tls-key"},
		{name: "mutual TLS without TLS", args: []string{"-tls-client-ca", "ca.pem"}, wantErr: "-tls-client-ca"},
		{name: "Redis TLS on the embedded store", args: []string{"-redis-tls"}, wantErr: "need a Redis"},
		{name: "a Redis without tokens", args: []string{"-redis-url", "redis://h:6379"}, wantErr: "no bearer tokens"},
		{name: "wait for replicas", args: []string{"-redis-url", "redis://h:6379", "-allow-unauthenticated", "-redis-wait-replicas", "1"},
			want: with(func(c *Config) { c.RedisURL, c.AllowUnauthenticated, c.RedisWaitReplicas = "redis://h:6379", true, 1 })},
		{name: "wait for replicas of the embedded store", args: []string{"-redis-wait-replicas", "1"}, wantErr: "-redis-wait-replicas needs a Redis"},
		{name: "negative wait for replicas", args: []string{"-redis-wait-replicas", "-1"}, wantErr: "-redis-wait-replicas must be at least 0"},
		{name: "wait for replicas under a millisecond", args: []string{"-redis-url", "redis://h:6379", "-allow-unauthenticated",
			"-redis-wait-replicas", "1", "-redis-wait-timeout", "500us"}, wantErr: "-redis-wait-timeout must be at least 1ms"},
		{name: "wait for replicas past the read timeout", args: []string{"-redis-url", "redis://h:6379", "-allow-unauthenticated",
			"-redis-wait-replicas", "1", "-redis-wait-timeout", "1s"}, wantErr: "-redis-wait-timeout (1s) must be below -redis-read-timeout"},
		{name: "two Redis passwords", args: []string{"-redis-url", "redis://u:secret@h", "-allow-unauthenticated"},
			env: map[string]string{"QUOTA_REDIS_PASSWORD": "other"}, wantErr: "has a password"},
		{name: "bad Redis URL", args: []string{"-redis-url", "http://u:secret@h", "-allow-unauthenticated"}, wantErr: "scheme"},
		{name: "bad Redis URL keeps its password", args: []string{"-redis-url", "redis://u:sec ret@h", "-allow-unauthenticated"}, wantErr: "invalid userinfo"},
		{name: "a missing config file", args: []string{"-config", "/nonexistent/quotad.yaml"}, wantErr: "-config"},
		{name: "an unknown key in the file", args: []string{"-config", badKey}, wantErr: `unknown setting "redis-password"`},
		{name: "a bad value in the file", args: []string{"-config", badValue}, wantErr: "invalid value for store-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig error = %v, want one containing %q", err, tt.wantErr)
				}
				for _, secret := range []string{"u:secret", "sec ret", "hunter2"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("parseConfig error %q shows a password", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseConfig mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	cfg := defaultConfig()
	fs := newFlagSet(&cfg, &out)
	fs.Usage()
	help := out.String()
	var missing []string
	for _, name := range flagNames() {
		if !strings.Contains(help, "-"+name) || !strings.Contains(help, envName(name)) {
			missing = append(missing, name)
		}
	}
	for _, s := range secretEnv {
		if !strings.Contains(help, s.name) {
			missing = append(missing, s.name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("quotad -h does not list %v", missing)
	}
}

func TestTokensFile(t *testing.T) {
	good := `tokens:
  - name: orch
    token: orchestrator-0123456789
    role: orchestrator
  - name: ops
    sha256: 6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b
    role: admin
    workspaces: [acme]
`
	creds, err := parseTokens("test", []byte(good))
	if err != nil {
		t.Fatalf("parseTokens: %v", err)
	}
	if len(creds) != 2 || creds[0].Role != "orchestrator" || creds[1].Workspaces[0] != "acme" {
		t.Errorf("parseTokens = %+v", creds)
	}
	for name, doc := range map[string]string{
		"both token and sha256": "tokens: [{name: a, token: abcdefghijklmnopq, sha256: 00, role: admin}]",
		"neither":               "tokens: [{name: a, role: admin}]",
		"a short token":         "tokens: [{name: a, token: short, role: admin}]",
		"a bad sha256":          "tokens: [{name: a, sha256: xyz, role: admin}]",
		"an unknown field":      "tokens: [{name: a, token: abcdefghijklmnopq, role: admin, scope: all}]",
		"a token in a bad type": "tokens: [{name: a, token: [abcdefghijklmnopq-secret], role: admin}]",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseTokens("test", []byte(doc))
			if err == nil {
				t.Fatal("parseTokens accepted it")
			}
			if strings.Contains(err.Error(), "abcdefghijklmnopq") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
