//go:build unix

package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
)

// Outage control, for tests of how clients live through a Redis that
// hangs or dies: Pause and Resume freeze and thaw the process (SIGSTOP,
// SIGCONT: it keeps its port and connections but answers nothing), Kill
// kills it, and Restart starts a new, empty one on the same port.

// Pause stops the server's process with SIGSTOP: connections stay open
// and the port accepts, but nothing is answered until Resume.
func (s *Server) Pause() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Kill kills the server's process and waits for it to exit: its port
// refuses connections until Restart. Its data is lost (no persistence).
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// Restart starts a new redis-server on the port of a killed one, with
// the same settings and no data, and returns once it answers PING. It is
// an error to restart a server that runs.
func (s *Server) Restart() error {
	select {
	case <-s.done:
	default:
		return errors.New("redistest: Restart of a server that runs: Kill it first")
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return errNotFound
	}
	_, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		return err
	}
	s.out = new(bytes.Buffer)
	s.done = make(chan struct{})
	s.cmd = exec.Command(path,
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--databases", fmt.Sprint(Databases),
		"--dir", s.dir,
		"--loglevel", "warning",
	)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	killWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		close(s.done)
		return fmt.Errorf("redistest: restart redis-server: %w", err)
	}
	cmd, done := s.cmd, s.done
	go func() {
		cmd.Wait()
		close(done)
	}()
	return s.waitReady()
}
