package store

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// script returns the named script with lib.lua prepended, wrapped once in a
// redis.Script (EVALSHA with an EVAL fallback).
func script(name string) *redis.Script {
	lib, err := luaFiles.ReadFile("lua/lib.lua")
	if err != nil {
		panic(err)
	}
	src, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(lib) + "\n" + string(src))
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
)
