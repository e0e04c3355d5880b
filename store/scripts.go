package store

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// script returns the named script with lib.lua and hold.lua prepended,
// wrapped once in a redis.Script (EVALSHA with an EVAL fallback).
func script(name string) *redis.Script {
	var src []byte
	for _, f := range []string{"lib", "hold", name} {
		b, err := luaFiles.ReadFile("lua/" + f + ".lua")
		if err != nil {
			panic(err)
		}
		src = append(append(src, b...), '\n')
	}
	return redis.NewScript(string(src))
}

// The scripts, one per mutation plus the reads that release expired holds
// lazily. Each file's header lists its KEYS, ARGV and reply.
var (
	scriptReserve        = script("reserve")
	scriptExtend         = script("extend")
	scriptCommit         = script("commit")
	scriptRefund         = script("refund")
	scriptGetReservation = script("get_reservation")
	scriptGetBalance     = script("get_balance")
	scriptSetSeat        = script("set_seat")
	scriptSetWorkspace   = script("set_workspace")
	scriptSetPricing     = script("set_pricing")
	scriptSweep          = script("sweep")
	scriptSetPolicy      = script("set_policy")
	scriptSetMemberCap   = script("set_member_cap")
	scriptAddGrant       = script("add_grant")
	scriptVoidGrant      = script("void_grant")
	scriptListGrants     = script("list_grants")
	scriptWorkspaceBal   = script("get_workspace_balance")
)
