package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quota-svc/quota/quota"
)

// rpc is a method of a generated client, e.g. a.admin.GetWorkspace.
type rpc[Req, Resp proto.Message] func(context.Context, Req, ...grpc.CallOption) (Resp, error)

// call sends req with method, within --timeout, and prints the response:
// as proto JSON with --json, else with table.
func call[Req, Resp proto.Message](cmd *cobra.Command, a *app, method rpc[Req, Resp], req Req, table func(*out, Resp)) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	defer cancel()
	resp, err := method(ctx, req)
	if err != nil {
		return asRunError(err)
	}
	return a.print(resp, func(o *out) { table(o, resp) })
}

// print prints resp as proto JSON with --json, else with table.
func (a *app) print(resp proto.Message, table func(*out)) error {
	if a.json {
		return printJSON(a.stdout, resp)
	}
	o := newOut(a.stdout)
	table(o)
	return o.flush()
}

// pageFlags are the flags of a List command (AIP-158 paging).
type pageFlags struct {
	size  int32
	limit int
	token string
}

// addPageFlags adds the paging flags to c.
func addPageFlags(c *cobra.Command) *pageFlags {
	p := &pageFlags{}
	c.Flags().Int32Var(&p.size, "page-size", 0, fmt.Sprintf("items per page (0: quotad's default, %d; at most %d)", quota.DefaultPageSize, quota.MaxPageSize))
	c.Flags().IntVar(&p.limit, "limit", 0, "stop after this many items (0: fetch every page)")
	c.Flags().StringVar(&p.token, "page-token", "", "start from this page token (printed when --limit stops before the end)")
	return p
}

// maxPages bounds the pages one list fetches (5 million items at the
// largest page size): a server that never ends its pages is an error.
const maxPages = 10_000

// list pages through a List RPC (AIP-158: page_size and page_token in
// the request, next_page_token and one repeated field in the response)
// from --page-token until the last page, or until --limit items, each
// page within --timeout, and prints the pages as one response: as proto
// JSON with --json (next_page_token set when --limit stopped before the
// end), else with table. When --limit stops before the end, a line on
// stderr gives the token to go on with.
func list[Req, Resp proto.Message](cmd *cobra.Command, a *app, method rpc[Req, Resp], req Req, p *pageFlags, table func(*out, Resp)) error {
	all, more, err := fetch(cmd, a, method, req, p, false)
	if err != nil {
		return err
	}
	return printList(a, all, more, table)
}

// printList prints the pages fetch returned as one response, and when
// more (--limit stopped before the end) the token to go on with on stderr.
func printList[Resp proto.Message](a *app, all Resp, more bool, table func(*out, Resp)) error {
	if err := a.print(all, func(o *out) { table(o, all) }); err != nil {
		return err
	}
	if more && !a.json {
		fmt.Fprintf(a.stderr, "more: --page-token %s\n", all.ProtoReflect().Get(field(all, "next_page_token")).String())
	}
	return nil
}

// fetch gets the pages of a List RPC from p.token until the last page, or
// until p.limit items, and returns them merged into one response whose
// next_page_token is the last page's, and whether p.limit stopped it
// before the end. With tail, the list is a tail that never ends (the
// ledger's): a page that returns the token it was sent read nothing new,
// and is the end for now; its token is where to go on from later.
func fetch[Req, Resp proto.Message](cmd *cobra.Command, a *app, method rpc[Req, Resp], req Req, p *pageFlags, tail bool) (Resp, bool, error) {
	var all Resp
	if p.size < 0 || p.limit < 0 {
		return all, false, usageErrorf("--page-size and --limit cannot be negative")
	}
	token, count := p.token, 0
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return all, false, failure{fmt.Errorf("more than %d pages: stopped", maxPages)}
		}
		size := p.size
		if left := p.limit - count; p.limit > 0 && (size == 0 || int(size) > left) {
			size = int32(min(left, quota.MaxPageSize))
		}
		setField(req, "page_size", protoreflect.ValueOfInt32(size))
		setField(req, "page_token", protoreflect.ValueOfString(token))
		ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
		page, err := method(ctx, req)
		cancel()
		if err != nil {
			return all, false, asRunError(err)
		}
		next := page.ProtoReflect().Get(field(page, "next_page_token")).String()
		if pages == 0 {
			all = page
		} else {
			proto.Merge(all, page)
		}
		setField(all, "next_page_token", protoreflect.ValueOfString(next))
		count += items(page)
		if next == "" {
			return all, false, nil
		}
		if p.limit > 0 && count >= p.limit {
			return all, true, nil
		}
		if next == token {
			if tail && items(page) == 0 {
				return all, false, nil
			}
			return all, false, failure{fmt.Errorf("quotad returned the same page token twice: stopped")}
		}
		token = next
	}
}

// field is the descriptor of m's field name; it panics if m has none (a
// List message that breaks AIP-158, a bug).
func field(m proto.Message, name protoreflect.Name) protoreflect.FieldDescriptor {
	fd := m.ProtoReflect().Descriptor().Fields().ByName(name)
	if fd == nil {
		panic(fmt.Sprintf("%s has no field %s", m.ProtoReflect().Descriptor().FullName(), name))
	}
	return fd
}

// setField sets m's field name to v; a zero v clears it.
func setField(m proto.Message, name protoreflect.Name, v protoreflect.Value) {
	fd := field(m, name)
	if v.Equal(fd.Default()) {
		m.ProtoReflect().Clear(fd)
		return
	}
	m.ProtoReflect().Set(fd, v)
}

// items counts the elements of m's repeated fields: the items of a page.
func items(m proto.Message) int {
	n := 0
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsList() {
			n += v.List().Len()
		}
		return true
	})
	return n
}
