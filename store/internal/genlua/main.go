// Command genlua writes store/lua/gen_const.lua from Go (package schema).
// Run it with `go generate ./store`.
package main

import (
	"log"
	"os"

	"github.com/quota-svc/quota/store/internal/schema"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: genlua OUTPUT")
	}
	if err := os.WriteFile(os.Args[1], schema.Lua(), 0o644); err != nil {
		log.Fatal(err)
	}
}
