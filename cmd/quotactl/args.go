package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quota-svc/quota/quota"
)

// exactArgs accepts exactly the arguments named; the error names them.
func exactArgs(names ...string) cobra.PositionalArgs {
	return argsBetween(len(names), names...)
}

// argsBetween accepts at least min of the arguments named, at most all of
// them; the error names them.
func argsBetween(min int, names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < min || len(args) > len(names) {
			want := strings.Join(names[:min], " ")
			if opt := names[min:]; len(opt) > 0 {
				want = strings.TrimSpace(want + " [" + strings.Join(opt, " ") + "]")
			}
			return usageErrorf("want arguments %s, got %d", want, len(args))
		}
		return nil
	}
}

// parseCredits reads decimal credits given to what (a flag or an
// argument) into µcredits.
func parseCredits(what, s string) (int64, error) {
	v, err := quota.ParseCredits(s)
	if err != nil {
		if errors.Is(err, quota.ErrCreditsRange) {
			return 0, usageErrorf("%s %q: out of range", what, s)
		}
		return 0, usageErrorf("%s %q: not an amount of credits (e.g. 8000, 12.5)", what, s)
	}
	return v, nil
}
