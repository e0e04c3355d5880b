//go:build race

package main

// raceEnabled tells that the race detector is on: the model-based tests
// then run shorter sequences (every call is several times slower).
const raceEnabled = true
