// Command quotactl is the operators' command-line client of quotad: it
// sets up workspaces, seats, the pool and prices; reads balances, grants,
// reservations, run costs, members, usage and the ledger; explains and
// audits balances; and refunds reservations and adjusts balances, through
// quotad's gRPC API (quota.v1.AdminService and the reads of
// quota.v1.QuotaService).
//
// It prints human tables by default, amounts in decimal credits (1 credit
// = 1,000,000 µcredits) and times in RFC 3339 UTC; --json prints the
// response as proto JSON instead (amounts in µcredits, int64 as strings).
// An error is one line on stderr, "quotactl: CODE REASON: message", and
// the exit code says what kind of error it was (see exitUsage and the
// others, or quotactl --help). Shell completion comes from cobra:
// quotactl completion bash|zsh|fish|powershell.
//
// Adding a command: write a constructor that returns a *cobra.Command
// whose RunE calls call (a single RPC) or list (a paged List RPC) with a
// table function of its response, and add it to the root in newRoot.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// execute runs quotactl with args, reading files named "-" from stdin,
// printing to stdout and stderr, with the environment getenv, and returns
// the exit code.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	a.close()
	return report(stderr, cmd, err)
}
