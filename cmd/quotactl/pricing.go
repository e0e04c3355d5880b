package main

import (
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// pricingCmd is "pricing show|set|versions".
func pricingCmd(a *app) *cobra.Command {
	return group("pricing", "Show or set the price table (model rates, tool catalogue)",
		pricingShowCmd(a), pricingSetCmd(a), pricingVersionsCmd(a))
}

// pricingShowCmd is "pricing show [--version V]" (GetPricing).
func pricingShowCmd(a *app) *cobra.Command {
	var version int64
	c := leaf(&cobra.Command{
		Use:   "show",
		Short: "Show the price table in force, or a given version; rates in credits per million tokens",
		Args:  exactArgs(),
	}, func(cmd *cobra.Command, _ []string) error {
		req := &quotav1.GetPricingRequest{}
		if cmd.Flags().Changed("version") {
			req.Version = &version
		}
		return call(cmd, a, a.admin.GetPricing, req, func(o *out, r *quotav1.GetPricingResponse) {
			pricingTable(o, r.GetVersion(), r.GetPricing())
		})
	})
	c.Flags().Int64Var(&version, "version", 0, "the version to show (default: the one in force)")
	return c
}

// pricingSetCmd is "pricing set FILE" (SetPricing).
func pricingSetCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "set FILE",
		Short: "Set a new version of the price table from a proto JSON file (- for stdin)",
		Long: `Set a new version of the price table, in force for runs reserved from now
on (on every replica within its -pricing-refresh).

FILE (- for stdin) holds a quota.v1.PriceTable in proto JSON, rates in
µcredits per million tokens, or the whole output of "quotactl pricing show
--json", whose "pricing" is used: edit that and set it.`,
		Args: exactArgs("FILE"),
	}, func(cmd *cobra.Command, args []string) error {
		table, err := readPriceTable(a, args[0])
		if err != nil {
			return err
		}
		req := &quotav1.SetPricingRequest{RequestId: a.newRequestID(), Pricing: table}
		return call(cmd, a, a.admin.SetPricing, req, func(o *out, r *quotav1.SetPricingResponse) {
			pricingTable(o, r.GetVersion(), r.GetPricing())
		})
	})
}

// pricingVersionsCmd is "pricing versions" (ListPricingVersions).
func pricingVersionsCmd(a *app) *cobra.Command {
	var p *pageFlags
	c := leaf(&cobra.Command{
		Use:   "versions",
		Short: "List the price table versions, newest first",
		Args:  exactArgs(),
	}, func(cmd *cobra.Command, _ []string) error {
		return list(cmd, a, a.admin.ListPricingVersions, &quotav1.ListPricingVersionsRequest{}, p,
			func(o *out, r *quotav1.ListPricingVersionsResponse) {
				o.row("VERSION", "CREATED", "BY", "MODELS", "TOOLS", "FALLBACK")
				for _, v := range r.GetVersions() {
					o.row(strconv.FormatInt(v.GetVersion(), 10), timestamp(v.GetCreateTime()), dash(v.GetCreatedBy()),
						strconv.Itoa(len(v.GetPricing().GetModels())), strconv.Itoa(len(v.GetPricing().GetTools())),
						v.GetPricing().GetFallbackModel())
				}
			})
	})
	p = addPageFlags(c)
	return c
}

// pricingTable prints a price table version: rates in credits per
// million tokens, then the tool catalogue.
func pricingTable(o *out, v *quotav1.PricingVersion, t *quotav1.PriceTable) {
	o.kv("version", strconv.FormatInt(v.GetVersion(), 10))
	o.kv("created", timestamp(v.GetCreateTime()))
	if v.GetCreatedBy() != "" {
		o.kv("created by", v.GetCreatedBy())
	}
	o.kv("fallback model", t.GetFallbackModel())
	o.blank()
	o.row("MODEL", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE")
	for _, m := range t.GetModels() {
		o.row(m.GetModel(), credits(m.GetInputRate()), credits(m.GetOutputRate()), credits(m.GetCacheReadRate()), credits(m.GetCacheWriteRate()))
	}
	o.blank()
	o.row("TOOL", "TIER", "PLATFORM")
	for _, tool := range t.GetTools() {
		o.row(tool.GetTool(), enumName(tool.GetTier()), yesNo(tool.GetPlatform()))
	}
}

// readPriceTable reads a PriceTable, or a GetPricingResponse's pricing,
// in proto JSON from file (- for stdin).
func readPriceTable(a *app, file string) (*quotav1.PriceTable, error) {
	b, err := readInput(a, file)
	if err != nil {
		return nil, err
	}
	table := &quotav1.PriceTable{}
	if err := protojson.Unmarshal(b, table); err != nil {
		resp := &quotav1.GetPricingResponse{}
		if protojson.Unmarshal(b, resp) != nil || resp.GetPricing() == nil {
			return nil, usageErrorf("%s: not a quota.v1.PriceTable in proto JSON: %v", file, err)
		}
		table = resp.GetPricing()
	}
	return table, nil
}

// readInput reads the file an argument names, stdin for "-".
func readInput(a *app, file string) ([]byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(a.stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, usageError{err}
	}
	return b, nil
}

// readProtoJSON reads m in proto JSON from file (- for stdin).
func readProtoJSON(a *app, file string, m proto.Message) error {
	b, err := readInput(a, file)
	if err != nil {
		return err
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return usageErrorf("%s: not a %s in proto JSON: %v", file, m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}
