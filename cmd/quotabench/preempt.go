package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisProc is the redis-server process that answers at -redis, when it
// runs on this machine: quotabench reads how often the kernel preempted
// it, to tell a slow-log entry that is a script's own work from one that
// is the machine's. A script call preempted for over 1 ms lands in the
// slow log whatever it does (Redis's slow log times commands by the
// wall clock).
type redisProc struct {
	// Pid is Redis's process id, as INFO server gives it.
	Pid int
	// status is the process's status file (/proc/<pid>/status), open
	// from the start: once the process has gone its reads fail, so a pid
	// the kernel gave to another process is never read.
	status *os.File
}

// errNotLocal says that Redis is reached at an address that is not this
// machine's loopback: its process, if any, is not one quotabench can read.
var errNotLocal = errors.New("Redis is not at a loopback address")

// findRedisProc returns the redis-server that rdb reaches at addr, when
// it is a process of this machine: addr's host is a loopback address
// (errNotLocal otherwise) and its port is INFO server's tcp_port; INFO
// server's process_id names a process called redis-server whose title or
// arguments name that port (Redis's process title is "redis-server
// 127.0.0.1:6379", with " [cluster]" or " [sentinel]" after it in those
// modes; with set-proc-title no, the arguments "--port 6379"). Any other
// process, such as Redis in a container reached through a forwarded port,
// is an error rather than a wrong figure. procRoot is "/proc" outside
// tests. Close the result when done.
func findRedisProc(ctx context.Context, rdb redis.UniversalClient, addr, procRoot string) (*redisProc, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(host) {
		return nil, errNotLocal
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO server: %w", err)
	}
	if p, _ := infoField(info, "tcp_port"); p != port {
		return nil, fmt.Errorf("INFO server's tcp_port is %q, not the port dialled (%s)", p, port)
	}
	v, _ := infoField(info, "process_id")
	pid, err := strconv.Atoi(v)
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("INFO server's process_id %q is not a process id", v)
	}
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return nil, err
	}
	if c := strings.TrimSpace(string(comm)); c != "redis-server" {
		return nil, fmt.Errorf("process %d is %q, not redis-server", pid, c)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return nil, err
	}
	if !namesPort(strings.Fields(strings.ReplaceAll(string(cmdline), "\x00", " ")), port) {
		return nil, fmt.Errorf("process %d's command line does not name port %s", pid, port)
	}
	f, err := os.Open(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	return &redisProc{Pid: pid, status: f}, nil
}

// namesPort reports whether a redis-server's title or arguments name
// port: a word ending in ":port", or "--port port".
func namesPort(words []string, port string) bool {
	for i, w := range words {
		if strings.HasSuffix(w, ":"+port) || (w == "--port" && i+1 < len(words) && words[i+1] == port) {
			return true
		}
	}
	return false
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Preemptions returns how many times the kernel has taken the CPU from
// Redis's main thread, the one that runs scripts, so far: its
// nonvoluntary_ctxt_switches. It fails once the process has gone.
func (p *redisProc) Preemptions() (int64, error) {
	if _, err := p.status.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(p.status)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "nonvoluntary_ctxt_switches:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no nonvoluntary_ctxt_switches", p.status.Name())
}

// Close closes the status file.
func (p *redisProc) Close() error { return p.status.Close() }
