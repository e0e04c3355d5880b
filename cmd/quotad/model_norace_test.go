//go:build !race

package main

// raceEnabled tells that the race detector is on (see model_race_test.go).
const raceEnabled = false
