//go:build linux

package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quotadProcess is quotad run as a process of its own, to be limited
// (ulimit) or killed (SIGKILL) as a real one would be.
type quotadProcess struct {
	cmd    *exec.Cmd
	logs   *lines
	exited chan struct{} // closed when the process has exited
}

// quotadCommand returns a command that runs this test binary as quotad
// with args (see TestMain): no build needed.
func quotadCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), quotadMainEnv+"=1")
	return cmd
}

// startProcess starts cmd, a quotad, killed with the test binary if it
// dies first, and returns once its log says it serves (within 30 s). When
// t ends it is stopped (SIGTERM, then SIGKILL after 15 s), and its log is
// printed if t failed.
func startProcess(t *testing.T, cmd *exec.Cmd) *quotadProcess {
	t.Helper()
	p := &quotadProcess{cmd: cmd, logs: &lines{}, exited: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("quotad's log:\n%s", p.logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.logs.String(), "quotad serving"); {
		select {
		case <-p.exited:
			t.Fatalf("quotad exited at start:\n%s", p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("quotad did not start:\n%s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// kill kills the process with SIGKILL and waits (at most 10 s) for it to
// exit.
func (p *quotadProcess) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("quotad did not exit within 10 s of SIGKILL")
	}
}
