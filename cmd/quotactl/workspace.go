package main

import (
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// workspaceCmd is "workspace set|get".
func workspaceCmd(a *app) *cobra.Command {
	return group("workspace", "Set up or show a workspace", workspaceSetCmd(a), workspaceGetCmd(a))
}

// workspaceSetCmd is "workspace set WS --subscription-start T"
// (SetWorkspace).
func workspaceSetCmd(a *app) *cobra.Command {
	var start string
	c := leaf(&cobra.Command{
		Use:   "set WS --subscription-start RFC3339",
		Short: "Create or update a workspace: its subscription start anchors the monthly resets",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		t, err := parseTime("--subscription-start", start)
		if err != nil {
			return err
		}
		req := &quotav1.SetWorkspaceRequest{WorkspaceId: args[0], RequestId: a.newRequestID(), SubscriptionStart: t}
		return call(cmd, a, a.admin.SetWorkspace, req, func(o *out, r *quotav1.SetWorkspaceResponse) { workspaceTable(o, r.GetWorkspace()) })
	})
	c.Flags().StringVar(&start, "subscription-start", "", "subscription start, RFC 3339 (e.g. 2026-01-31T09:00:00Z)")
	c.MarkFlagRequired("subscription-start")
	return c
}

// workspaceGetCmd is "workspace get WS" (GetWorkspace).
func workspaceGetCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "get WS",
		Short: "Show a workspace: subscription start and policy",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.GetWorkspaceRequest{WorkspaceId: args[0]}
		return call(cmd, a, a.admin.GetWorkspace, req, func(o *out, r *quotav1.GetWorkspaceResponse) { workspaceTable(o, r.GetWorkspace()) })
	})
}

// workspaceTable prints a workspace.
func workspaceTable(o *out, w *quotav1.Workspace) {
	o.kv("workspace", w.GetWorkspaceId())
	o.kv("subscription start", timestamp(w.GetSubscriptionStart()))
	policyLines(o, w.GetPolicy())
}

// policyLines prints a workspace policy as key-value lines.
func policyLines(o *out, p *quotav1.WorkspacePolicy) {
	o.kv("member pool cap", capValue(p.DefaultMemberPoolCap))
	overage := "off"
	if p.GetOverageEnabled() {
		overage = "on, cap " + credits(p.GetOverageCap())
	}
	o.kv("overage", overage)
	o.kv("programmatic cap", capValue(p.ProgrammaticCap))
	o.kv("pooled", yesNo(p.GetPooled()))
}

// policyCmd is "policy set".
func policyCmd(a *app) *cobra.Command {
	return group("policy", "Set a workspace's pool, cap and overage policy", policySetCmd(a))
}

// policySetCmd is "policy set WS [flags]" (SetWorkspacePolicy).
func policySetCmd(a *app) *cobra.Command {
	var memberCap, overageCap, programmaticCap string
	var overage, pooled bool
	c := leaf(&cobra.Command{
		Use:   "set WS",
		Short: "Replace a workspace's policy: a flag left out takes its default (no cap, overage off, not pooled)",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		p := &quotav1.WorkspacePolicy{OverageEnabled: overage, Pooled: pooled}
		var err error
		if p.DefaultMemberPoolCap, err = optionalCredits(cmd, "member-pool-cap", memberCap); err != nil {
			return err
		}
		if p.ProgrammaticCap, err = optionalCredits(cmd, "programmatic-cap", programmaticCap); err != nil {
			return err
		}
		if cmd.Flags().Changed("overage-cap") {
			if p.OverageCap, err = parseCredits("--overage-cap", overageCap); err != nil {
				return err
			}
		}
		req := &quotav1.SetWorkspacePolicyRequest{WorkspaceId: args[0], RequestId: a.newRequestID(), Policy: p}
		return call(cmd, a, a.admin.SetWorkspacePolicy, req, func(o *out, r *quotav1.SetWorkspacePolicyResponse) { workspaceTable(o, r.GetWorkspace()) })
	})
	f := c.Flags()
	f.StringVar(&memberCap, "member-pool-cap", "", "credits each member may draw from the pool per period, unless overridden (0: no pool access; left out: unlimited)")
	f.BoolVar(&overage, "overage", false, "turn overage (pay as you go) on")
	f.StringVar(&overageCap, "overage-cap", "", "credits of overage the workspace may use per period")
	f.StringVar(&programmaticCap, "programmatic-cap", "", "credits programmatic usage (API keys, triggers) may draw per period (left out: unlimited)")
	f.BoolVar(&pooled, "pooled", false, "pooled mode: no seat credits, everyone draws from the pool (from each member's next reset)")
	return c
}

// capCmd is "cap set".
func capCmd(a *app) *cobra.Command {
	return group("cap", "Set a member's personal pool cap", capSetCmd(a))
}

// capSetCmd is "cap set WS MEMBER CREDITS|unlimited|default"
// (SetMemberPoolCap).
func capSetCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "set WS MEMBER CREDITS|unlimited|default",
		Short: "Override a member's pool cap per period (0: no pool access), lift it (unlimited), or clear the override (default)",
		Args:  exactArgs("WS", "MEMBER", "CREDITS|unlimited|default"),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 2 {
				return []cobra.Completion{"unlimited", "default"}, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.SetMemberPoolCapRequest{WorkspaceId: args[0], MemberId: args[1]}
		switch args[2] {
		case "unlimited":
			req.Unlimited = true
		case "default":
		default:
			v, err := parseCredits("CREDITS", args[2])
			if err != nil {
				return err
			}
			req.PoolCap = &v
		}
		req.RequestId = a.newRequestID()
		return call(cmd, a, a.admin.SetMemberPoolCap, req, func(o *out, r *quotav1.SetMemberPoolCapResponse) { balanceTable(o, r.GetBalance()) })
	})
}

// parseTime reads an RFC 3339 time given to what (a flag or an argument).
func parseTime(what, s string) (*timestamppb.Timestamp, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, usageErrorf("%s %q: not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z)", what, s)
	}
	return timestamppb.New(t), nil
}

// optionalCredits reads the credits of flag name, nil when it was not
// given.
func optionalCredits(cmd *cobra.Command, name, value string) (*int64, error) {
	if !cmd.Flags().Changed(name) {
		return nil, nil
	}
	v, err := parseCredits("--"+name, value)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
