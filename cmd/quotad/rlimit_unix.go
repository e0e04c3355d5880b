//go:build unix

package main

import "syscall"

// raiseFDLimit raises the soft limit of open files to the hard limit and
// returns it (Go does the same at start since 1.19; this makes it explicit
// and tells the limit to size the connection cap).
func raiseFDLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		raised := l
		raised.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			l = raised
		}
	}
	return uint64(l.Cur), nil
}
