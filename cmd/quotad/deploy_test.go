package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The deployment files (deploy/, the Dockerfile) and the README must use
// only settings quotad has: these tests read them and check every flag,
// QUOTA_* variable and config key they name.

// deployDir is the repository's deploy/ from this package.
const deployDir = "../../deploy"

// knownEnv tells whether name is a variable quotad reads.
func knownEnv(name string) bool {
	for _, f := range flagNames() {
		if envName(f) == name {
			return true
		}
	}
	for _, s := range secretEnv {
		if s.name == name {
			return true
		}
	}
	return false
}

// flagArg returns the flag name of a command-line argument ("-config=x",
// "--listen"), or "" if it is not a flag.
func flagArg(arg string) string {
	if !strings.HasPrefix(arg, "-") || arg == "-" {
		return ""
	}
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

// checkArgs checks that every flag of args is one of quotad's.
func checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	known := append(flagNames(), "h", "help") // the flag package's own
	for _, a := range args {
		if name := flagArg(a); name != "" && !slices.Contains(known, name) {
			t.Errorf("%s: quotad has no flag -%s", where, name)
		}
	}
}

// clientEnv are the variables of quotad's clients that the README
// documents: quotactl's and quotabench's QUOTA_ADDR and QUOTA_TOKEN, and
// QUOTA_PROTO of the README's TypeScript client.
var clientEnv = []string{"QUOTA_ADDR", "QUOTA_TOKEN", "QUOTA_PROTO"}

// envRef finds QUOTA_* variables in a text.
var envRef = regexp.MustCompile(`\bQUOTA_[A-Z0-9_]+\b`)

// checkEnvNames checks every QUOTA_* name of text.
func checkEnvNames(t *testing.T, where string, text []byte) {
	t.Helper()
	for _, name := range envRef.FindAllString(string(text), -1) {
		if !knownEnv(name) {
			t.Errorf("%s: quotad reads no variable %s", where, name)
		}
	}
}

// checkConfigFile parses a config file as quotad would at start, with
// the settings that secrets provide in production set, and fails t on an
// error.
func checkConfigFile(t *testing.T, where string, content []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quotad.yaml")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"QUOTA_REDIS_PASSWORD": "x"}
	if _, err := parseConfig([]string{"-config", path}, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

// yamlDocs returns the documents of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// strs returns v as a list of strings (a YAML list, or one string).
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// get walks a YAML document along keys.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestSystemdUnitUsesExistingSettings(t *testing.T) {
	dir := filepath.Join(deployDir, "systemd")
	unit, err := os.ReadFile(filepath.Join(dir, "quotad.service"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "ExecStart="); ok {
			found = true
			checkArgs(t, "quotad.service ExecStart", strings.Fields(cmd)[1:])
		}
	}
	if !found {
		t.Error("quotad.service has no ExecStart")
	}
	checkEnvNames(t, "quotad.service", unit)
	env, err := os.ReadFile(filepath.Join(dir, "quotad.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	checkEnvNames(t, "quotad.env.example", env)
	cfg, err := os.ReadFile(filepath.Join(dir, "quotad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkConfigFile(t, "systemd/quotad.yaml", cfg)
	tokens, err := os.ReadFile(filepath.Join(dir, "tokens.yaml.example"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseTokens("tokens.yaml.example", tokens); err != nil {
		t.Error(err)
	}
}

func TestKubernetesManifestsUseExistingSettings(t *testing.T) {
	dir := filepath.Join(deployDir, "kubernetes")
	kinds := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkEnvNames(t, f, b)
		for _, d := range yamlDocs(t, f) {
			kind, _ := d["kind"].(string)
			kinds[kind] = true
			switch kind {
			case "Deployment":
				containers, _ := get(d, "spec", "template", "spec", "containers").([]any)
				for _, c := range containers {
					checkArgs(t, f+" args", strs(get(c, "args")))
					checkArgs(t, f+" command", strs(get(c, "command")))
					env, _ := get(c, "env").([]any)
					for _, e := range env {
						if n, _ := get(e, "name").(string); strings.HasPrefix(n, "QUOTA_") && !knownEnv(n) {
							t.Errorf("%s: quotad reads no variable %s", f, n)
						}
					}
					for _, probe := range []string{"startupProbe", "readinessProbe"} {
						if get(c, probe, "grpc") == nil {
							t.Errorf("%s: the %s is not a gRPC health probe", f, probe)
						}
					}
				}
			case "ConfigMap":
				if cfg, ok := get(d, "data", "quotad.yaml").(string); ok {
					checkConfigFile(t, f+" quotad.yaml", []byte(cfg))
				}
			case "Secret":
				if tokens, ok := get(d, "stringData", "tokens.yaml").(string); ok {
					if _, err := parseTokens(f, []byte(tokens)); err != nil {
						t.Error(err)
					}
				}
			}
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "Secret", "ConfigMap"} {
		if !kinds[k] {
			t.Errorf("deploy/kubernetes has no %s", k)
		}
	}
}

func TestComposeUsesExistingSettings(t *testing.T) {
	dir := filepath.Join(deployDir, "compose")
	path := filepath.Join(dir, "compose.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkEnvNames(t, path, b)
	docs := yamlDocs(t, path)
	q := get(docs[0], "services", "quotad")
	if q == nil {
		t.Fatal("compose.yaml has no quotad service")
	}
	checkArgs(t, "compose.yaml quotad command", strs(get(q, "command")))
	for _, svc := range []string{"redis", "certs"} {
		if get(docs[0], "services", svc) == nil {
			t.Errorf("compose.yaml has no %s service", svc)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "quotad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkConfigFile(t, "compose/quotad.yaml", cfg)
	if !bytes.Contains(cfg, []byte("tls-cert")) || !bytes.Contains(cfg, []byte("tokens-file")) {
		t.Error("compose/quotad.yaml runs without TLS or tokens")
	}
	tokens, err := os.ReadFile(filepath.Join(dir, "tokens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseTokens("compose/tokens.yaml", tokens); err != nil {
		t.Error(err)
	}
}

func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, name := range flagNames() {
		if !strings.Contains(readme, "`-"+name+"`") {
			t.Errorf("the README's configuration table lacks `-%s`", name)
		}
	}
	for _, s := range secretEnv {
		if !strings.Contains(readme, "`"+s.name+"`") {
			t.Errorf("the README lacks `%s`", s.name)
		}
	}
	// The README documents quotad's clients too: their variables are no
	// quotad setting, and must never become one.
	for _, name := range clientEnv {
		if knownEnv(name) {
			t.Errorf("quotad reads %s, a variable of its clients (quotactl, quotabench)", name)
		}
	}
	checkEnvNames(t, "README.md", []byte(envRef.ReplaceAllStringFunc(readme, func(name string) string {
		if slices.Contains(clientEnv, name) {
			return ""
		}
		return name
	})))
	// Every quotad flag the README shows in a command exists.
	cmd := regexp.MustCompile("quotad((?: +-[a-z][a-z0-9-]*(?:[ =][^ `\n-][^ `\n]*)?)+)")
	for _, m := range cmd.FindAllStringSubmatch(readme, -1) {
		checkArgs(t, "README.md command", strings.Fields(strings.ReplaceAll(m[1], "=", " =")))
	}
}
