package main

import (
	"flag"
	"io"
)

// flagNames returns the name of every flag.
func flagNames() []string {
	cfg := defaultConfig()
	var names []string
	newFlagSet(&cfg, io.Discard).VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}
