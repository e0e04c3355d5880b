//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// sigName names the signals Pause and Resume send.
type sigName int

const (
	sigStop sigName = iota
	sigCont
)

// sendSignal sends SIGSTOP or SIGCONT to p.
func sendSignal(p *os.Process, sig sigName) error {
	if sig == sigStop {
		return p.Signal(syscall.SIGSTOP)
	}
	return p.Signal(syscall.SIGCONT)
}
