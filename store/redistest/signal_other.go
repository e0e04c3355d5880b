//go:build !unix

package redistest

import (
	"errors"
	"os"
)

// sigName names the signals Pause and Resume send.
type sigName int

const (
	sigStop sigName = iota
	sigCont
)

// sendSignal fails: only Unix can stop and continue a process.
func sendSignal(*os.Process, sigName) error {
	return errors.New("redistest: Pause and Resume need SIGSTOP and SIGCONT (Unix)")
}
