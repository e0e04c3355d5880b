package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// readmeSection returns the README's section headed heading, up to the
// next "## " heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README has no section %q", heading)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// TestReadmeTypeScriptProtoPaths checks that every .proto file the
// README's TypeScript section names is under proto/, the one include
// path it tells clients to use, and that the google/rpc copies declare
// the messages a client decodes.
func TestReadmeTypeScriptProtoPaths(t *testing.T) {
	section := readmeSection(t, "Integrators: calling quota from TypeScript")
	paths := map[string]bool{}
	for _, m := range regexp.MustCompile(`'([a-z0-9_/]+\.proto)'`).FindAllStringSubmatch(section, -1) {
		paths[m[1]] = true
	}
	for _, want := range []string{"quota/v1/quota_service.proto", "quota/v1/admin_service.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"} {
		if !paths[want] {
			t.Errorf("the TypeScript section loads no '%s'", want)
		}
	}
	if !strings.Contains(section, "includeDirs: [PROTO]") {
		t.Errorf("the TypeScript section does not set includeDirs to the proto directory")
	}
	for p := range paths {
		if _, err := os.Stat(filepath.Join("../../proto", p)); err != nil {
			t.Errorf("the TypeScript section loads %s: %v", p, err)
		}
	}
	for file, messages := range map[string][]string{
		"google/rpc/status.proto":        {"Status"},
		"google/rpc/error_details.proto": {"ErrorInfo", "BadRequest", "QuotaFailure", "PreconditionFailure"},
	} {
		b, err := os.ReadFile(filepath.Join("../../proto", file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "package google.rpc;") || !strings.Contains(string(b), "Licensed under the Apache License") {
			t.Errorf("%s: not Google's google.rpc file with its license header", file)
		}
		for _, m := range messages {
			if !strings.Contains(string(b), "\nmessage "+m+" {") {
				t.Errorf("%s declares no message %s", file, m)
			}
		}
	}
}

// TestReadmeListsEveryCommand checks that the README's operators'
// section names every quotactl command, so that a new command is
// documented.
func TestReadmeListsEveryCommand(t *testing.T) {
	section := readmeSection(t, "Operators: quotactl")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.HasSubCommands() {
			if !strings.Contains(section, "`"+c.CommandPath()+" ") && !strings.Contains(section, "`"+c.CommandPath()+"`") {
				t.Errorf("README's operators' section does not show `%s`", c.CommandPath())
			}
		}
		for _, s := range c.Commands() {
			if s.Name() != "help" && s.Name() != "completion" {
				walk(s)
			}
		}
	}
	walk(newRoot(&app{getenv: func(string) string { return "" }}))
}

// TestCompletion checks cobra's shell completion of commands and of the
// values quotactl knows.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "seat", "set", "acme", "alice", ""}, "free\npro\nmax\nnone\n:4\n"},
		{[]string{"__complete", "cap", "set", "acme", "alice", ""}, "unlimited\ndefault\n:4\n"},
		{[]string{"__complete", "grant", "add", "acme", "--kind", ""}, "top-up\ncommitment\n:4\n"},
		{[]string{"__complete", "estimate", "--origin", ""}, "conversation\nsidekick\nautomation\n:4\n"},
		{[]string{"__complete", "usage", "acme", "--by", ""}, "member\nagent\nmodel\ntier\norigin\nday\n:4\n"},
	} {
		r := runCLI(t, nil, "", tc.args...)
		if r.Code != 0 || r.Stdout != tc.want {
			t.Errorf("quotactl %s = %+v, want stdout %q", strings.Join(tc.args, " "), r, tc.want)
		}
	}
	if r := runCLI(t, nil, "", "completion", "bash"); r.Code != 0 || !strings.Contains(r.Stdout, "__start_quotactl") {
		t.Errorf("quotactl completion bash = exit %d, %d bytes, want a bash completion script", r.Code, len(r.Stdout))
	}
}
