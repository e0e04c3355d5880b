package main

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// grantsCmd is "grants WS" (ListPoolGrants).
func grantsCmd(a *app) *cobra.Command {
	var p *pageFlags
	c := leaf(&cobra.Command{
		Use:   "grants WS",
		Short: "List a workspace's pool grants, oldest first, with what is left of each",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.ListPoolGrantsRequest{WorkspaceId: args[0]}
		return list(cmd, a, a.admin.ListPoolGrants, req, p, func(o *out, r *quotav1.ListPoolGrantsResponse) { grantsTable(o, r.GetGrants()...) })
	})
	p = addPageFlags(c)
	return c
}

// grantCmd is "grant add|void".
func grantCmd(a *app) *cobra.Command {
	return group("grant", "Add a grant to a workspace's pool, or void one", grantAddCmd(a), grantVoidCmd(a))
}

// grantAddCmd is "grant add WS --kind K --amount CREDITS ..."
// (AddPoolGrant).
func grantAddCmd(a *app) *cobra.Command {
	kinds := quotav1.GrantKind(0).Descriptor()
	var kind, amount, start, expire string
	var priority int64
	c := leaf(&cobra.Command{
		Use:   "add WS --kind top-up|commitment --amount CREDITS",
		Short: "Add a top-up or a commitment to a workspace's pool",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		k, ok := parseEnum(kinds, kind)
		if !ok {
			return usageErrorf("--kind %q: want %s", kind, strings.Join(enumNames(kinds), " or "))
		}
		req := &quotav1.AddPoolGrantRequest{WorkspaceId: args[0], Kind: quotav1.GrantKind(k), Priority: priority}
		var err error
		if req.Amount, err = parseCredits("--amount", amount); err != nil {
			return err
		}
		if start != "" {
			if req.StartTime, err = parseTime("--start", start); err != nil {
				return err
			}
		}
		if expire != "" {
			if req.ExpireTime, err = parseTime("--expire", expire); err != nil {
				return err
			}
		}
		req.RequestId = a.newRequestID()
		return call(cmd, a, a.admin.AddPoolGrant, req, func(o *out, r *quotav1.AddPoolGrantResponse) { grantsTable(o, r.GetGrant()) })
	})
	f := c.Flags()
	f.StringVar(&kind, "kind", "", "top-up or commitment")
	f.StringVar(&amount, "amount", "", "credits granted")
	f.StringVar(&start, "start", "", "when the grant starts to count, RFC 3339 (default: now)")
	f.StringVar(&expire, "expire", "", "when it ends, RFC 3339 (default for a top-up: a year after its start; required for a commitment)")
	f.Int64Var(&priority, "priority", 0, "draw order: a higher priority is drawn first, then the earliest expiry, then the oldest")
	c.MarkFlagRequired("kind")
	c.MarkFlagRequired("amount")
	c.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(enumNames(kinds), cobra.ShellCompDirectiveNoFileComp))
	return c
}

// grantVoidCmd is "grant void WS GRANT_ID" (VoidPoolGrant).
func grantVoidCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "void WS GRANT_ID",
		Short: "End a grant now: what is left is forfeited at once, what is held when released",
		Args:  exactArgs("WS", "GRANT_ID"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.VoidPoolGrantRequest{WorkspaceId: args[0], GrantId: args[1], RequestId: a.newRequestID()}
		return call(cmd, a, a.admin.VoidPoolGrant, req, func(o *out, r *quotav1.VoidPoolGrantResponse) { grantsTable(o, r.GetGrant()) })
	})
}

// grantsTable prints grants, one a line.
func grantsTable(o *out, grants ...*quotav1.PoolGrant) {
	o.row("GRANT", "KIND", "STATE", "PRIORITY", "AMOUNT", "AVAILABLE", "HELD", "SPENT", "FORFEITED", "START", "EXPIRE")
	for _, g := range grants {
		o.row(g.GetGrantId(), enumName(g.GetKind()), enumName(g.GetState()), strconv.FormatInt(g.GetPriority(), 10),
			credits(g.GetAmount()), credits(g.GetAvailable()), credits(g.GetHeld()), credits(g.GetSpent()), credits(g.GetForfeited()),
			timestamp(g.GetStartTime()), timestamp(g.GetExpireTime()))
	}
}
