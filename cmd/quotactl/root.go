package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// Defaults of the global flags.
const (
	defaultAddr    = "127.0.0.1:7070"
	defaultTimeout = 10 * time.Second
)

// Environment variables read when the matching flag is not given.
const (
	envAddr  = "QUOTA_ADDR"
	envToken = "QUOTA_TOKEN"
)

// app is one run of quotactl: its streams, environment, global flags and
// the (lazily dialed) connection its commands share.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	addr, token, requestID string
	json                   bool
	timeout                time.Duration
	tls                    tlsFlags
	globals                *pflag.FlagSet

	conn  *lazyConn
	admin quotav1.AdminServiceClient
	quota quotav1.QuotaServiceClient
}

// rootHelp is the long help of quotactl, with the exit codes.
const rootHelp = `quotactl is the operators' client of quotad: it sets up workspaces, seats,
the workspace pool and prices; reads balances, grants, reservations, run
costs, members, usage and the ledger; explains and audits balances; and
refunds reservations and adjusts balances, with a reason.

Output: human tables, amounts in decimal credits (1 credit = 1,000,000
µcredits), times in RFC 3339 UTC. --json prints the response as proto JSON
instead: amounts in µcredits, 64-bit integers as strings, field names in
lowerCamelCase; a list fetched in several pages prints as one response.

Mutations send a request id (AIP-155): --request-id, or a generated one.
Either way it is printed on stderr ("request id: ..."): after a failure
that may or may not have been applied (UNAVAILABLE, DEADLINE_EXCEEDED),
run the same command again with --request-id set to it; quotad applies a
request id once.

Lists fetch every page by default; --limit stops after that many items,
--page-size sets the size of each page, --page-token starts from a token
printed by an earlier run.

Errors are one line on stderr: "quotactl: CODE REASON: message", CODE the
gRPC status code and REASON the ErrorInfo reason (see the README's table
of errors). Exit codes:

  0  success
  1  failure: quotad unreachable or unavailable (UNAVAILABLE,
     DEADLINE_EXCEEDED), authentication or permission (UNAUTHENTICATED,
     PERMISSION_DENIED), INTERNAL, or any other error
  2  usage: unknown command or flag, wrong arguments, a value that does
     not parse, an unreadable file; nothing was sent
  3  denied: quotad refused the request in the state things are in
     (RESOURCE_EXHAUSTED, FAILED_PRECONDITION: e.g. GRANT_ENDED,
     ILLEGAL_TRANSITION); the same request gets the same answer
  4  rejected: quotad found the request invalid or what it names missing
     (INVALID_ARGUMENT, NOT_FOUND)

Environment: QUOTA_ADDR (for --addr), QUOTA_TOKEN (for --token; prefer it
to the flag, which other users can see in ps).

Shell completion: quotactl completion bash|zsh|fish|powershell --help.`

// newRoot returns quotactl's root command, with every command, for a.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "quotactl",
		Short:         "Operate quotad: workspaces, seats, pool, prices, balances",
		Long:          rootHelp,
		SilenceErrors: true, // report prints errors, on one line
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	a.globals = f
	f.StringVar(&a.addr, "addr", defaultAddr, "quotad's gRPC address, host:port (env "+envAddr+")")
	f.StringVar(&a.token, "token", "", "bearer token sent as \"authorization: Bearer <token>\" (env "+envToken+", preferred)")
	f.BoolVar(&a.json, "json", false, "print the response as proto JSON (µcredits) instead of a table")
	f.StringVar(&a.requestID, "request-id", "", "request id of a mutation (default: generated, printed on stderr)")
	f.DurationVar(&a.timeout, "timeout", defaultTimeout, "deadline of each call")
	a.tls.register(f)

	a.conn = &lazyConn{dial: a.dial}
	a.admin = quotav1.NewAdminServiceClient(a.conn)
	a.quota = quotav1.NewQuotaServiceClient(a.conn)

	root.AddCommand(
		workspaceCmd(a),
		seatCmd(a),
		balanceCmd(a),
		policyCmd(a),
		capCmd(a),
		grantsCmd(a),
		grantCmd(a),
		pricingCmd(a),
		reservationCmd(a),
		runCmd(a),
		estimateCmd(a),
		membersCmd(a),
		usageCmd(a),
		ledgerCmd(a),
		reservationsCmd(a),
		refundCmd(a),
		adjustCmd(a),
		explainCmd(a),
		auditCmd(a),
	)
	return root
}

// group returns a command that only holds subcommands: alone it prints
// its help, with an argument it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:                   use,
		Short:                 short,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	c.AddCommand(subs...)
	return c
}

// leaf sets c's RunE to run, marking what run returns as a failure of the
// command (exit code 1) unless it is a usage error or an RPC's error, and
// returns c.
func leaf(c *cobra.Command, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	c.RunE = func(cmd *cobra.Command, args []string) error {
		return asRunError(run(cmd, args))
	}
	return c
}

// close closes the connection, if one was dialed.
func (a *app) close() { a.conn.close() }
