package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what quotactl prints")

// result is what one run of quotactl printed and returned.
type result struct {
	Stdout, Stderr string
	Code           int
}

// runCLI runs quotactl in-process with args, env as its environment
// (nothing else of the process's) and stdin, and returns what it printed.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := execute(ctx, append([]string{}, args...), strings.NewReader(stdin), &stdout, &stderr, func(k string) string { return env[k] })
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// step is one run of quotactl in a transcript.
type step struct {
	// Args are quotactl's arguments.
	Args []string
	// Stdin is its standard input.
	Stdin string
}

// cmdline returns a step of the arguments of a command line, split at
// spaces; use step{Args: ...} for an argument with a space.
func cmdline(s string) step { return step{Args: strings.Fields(s)} }

// transcript runs the steps against the quotad at addr (QUOTA_ADDR,
// with the other variables of env) and returns what a terminal would show:
// each command line, its stdout, its stderr after "--- stderr" and its
// exit code after "--- exit" when it is not 0.
func transcript(t *testing.T, addr string, env map[string]string, steps ...step) string {
	t.Helper()
	all := map[string]string{envAddr: addr}
	for k, v := range env {
		all[k] = v
	}
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("$ quotactl")
		for _, a := range s.Args {
			if strings.ContainsAny(a, " \"'") || a == "" {
				a = strconv.Quote(a)
			}
			b.WriteString(" " + a)
		}
		if s.Stdin != "" {
			b.WriteString(" < stdin")
		}
		b.WriteString("\n")
		r := runCLI(t, all, s.Stdin, s.Args...)
		b.WriteString(r.Stdout)
		if r.Stderr != "" {
			b.WriteString("--- stderr\n" + r.Stderr)
		}
		if r.Code != 0 {
			b.WriteString("--- exit " + strconv.Itoa(r.Code) + "\n")
		}
	}
	return b.String()
}

// checkGolden compares got with testdata/name.golden, or rewrites the
// file with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/quotactl -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); if the change is intended, run go test ./cmd/quotactl -update:\n%s", path, diff)
	}
}
