package main

import (
	"bufio"
	"context"
	"fmt"
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
	// status is the process's status file (/proc/<pid>/status).
	status string
}

// findRedisProc returns the redis-server that rdb reaches, when it is a
// process of this machine: addr's host is a loopback address, INFO
// server's process_id names a process called redis-server whose command
// line ends with its tcp_port (Redis's default process title,
// "redis-server 127.0.0.1:6379"). ok is false otherwise, and for a Redis
// in another pid namespace (a container), so that quotabench never
// reports another process's figures. procRoot is "/proc" outside tests.
func findRedisProc(ctx context.Context, rdb redis.UniversalClient, addr, procRoot string) (p redisProc, ok bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(host) {
		return redisProc{}, false
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return redisProc{}, false
	}
	pidText, ok1 := infoField(info, "process_id")
	port, ok2 := infoField(info, "tcp_port")
	pid, err := strconv.Atoi(pidText)
	if !ok1 || !ok2 || err != nil || pid <= 0 {
		return redisProc{}, false
	}
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "redis-server" {
		return redisProc{}, false
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil || !strings.HasSuffix(strings.TrimRight(strings.ReplaceAll(string(cmdline), "\x00", " "), " "), ":"+port) {
		return redisProc{}, false
	}
	return redisProc{Pid: pid, status: filepath.Join(dir, "status")}, true
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
// nonvoluntary_ctxt_switches.
func (p redisProc) Preemptions() (int64, error) {
	f, err := os.Open(p.status)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "nonvoluntary_ctxt_switches:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no nonvoluntary_ctxt_switches", p.status)
}

// infoField returns the value of key in an INFO reply ("key:value" lines).
func infoField(info, key string) (string, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v, true
		}
	}
	return "", false
}
