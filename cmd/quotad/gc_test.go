package main

import (
	"testing"
)

// TestGCPercentIs400UnlessGOGCIsSet runs the quotad binary and reads the
// collector's target from its own metrics (go_gc_gogc_percent): 400 by
// default, the environment's GOGC when set.
func TestGCPercentIs400UnlessGOGCIsSet(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want float64
	}{{nil, defaultGCPercent}, {[]string{"GOGC=150"}, 150}} {
		metrics := freeAddr(t)
		cmd := quotadCommand(t, "-listen", freeAddr(t), "-metrics-listen", metrics, "-shutdown-grace", "0s")
		cmd.Env = append(cmd.Env, "GOGC=")
		cmd.Env = append(cmd.Env, tc.env...)
		startProcess(t, cmd)
		if got := sum(scrape(t, metrics), "go_gc_gogc_percent"); got != tc.want {
			t.Errorf("env %v: go_gc_gogc_percent %v, want %v", tc.env, got, tc.want)
		}
	}
}
