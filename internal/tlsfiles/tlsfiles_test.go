package tlsfiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file that cannot be read, or holds no PEM certificate, is an error
// naming the setting.
func TestLoadCAsNamesTheSetting(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		filepath.Join(dir, "missing.pem"): "--ca-file: open ",
		empty:                             "--ca-file " + empty + ": no PEM certificate found",
	} {
		if _, err := LoadCAs("--ca-file", file); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("LoadCAs(%s) = %v, want %q...", file, err, want)
		}
	}
}
