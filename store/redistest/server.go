package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Databases is how many databases the redis-server of StartServer has.
// Database 0 is left alone; tests get 1..Databases-1.
const Databases = 1024

const (
	// startAttempts bounds the retries when the free port found is taken
	// before redis-server binds it.
	startAttempts = 5
	// readyTimeout bounds the wait for the first PING answer.
	readyTimeout = 10 * time.Second
)

// errNotFound is returned when redis-server is not on PATH.
var errNotFound = errors.New("redis-server not found: install it with `apt-get install redis-server` (or run .ci/run)")

// Server is a redis-server process on 127.0.0.1, with no persistence
// (--save "" --appendonly no), Databases databases and a temporary working
// directory. Close it when done.
type Server struct {
	addr string
	cmd  *exec.Cmd
	dir  string
	out  *bytes.Buffer // the process's output; read only after done
	done chan struct{} // closed when the process has exited
	once sync.Once
}

// StartServer starts a redis-server on a free 127.0.0.1 port and returns
// once it answers PING (within 10s). It fails, saying how to install it, if
// redis-server is not on PATH.
func StartServer() (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNotFound
	}
	for attempt := 1; ; attempt++ {
		s, err := start(path)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			return nil, err
		}
	}
}

// errPortTaken means another process bound the port first.
var errPortTaken = errors.New("redistest: port taken")

// start starts one redis-server on a port that was free a moment ago.
func start(path string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-*")
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		dir:  dir,
		out:  new(bytes.Buffer),
		done: make(chan struct{}),
	}
	s.cmd = exec.Command(path,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--databases", strconv.Itoa(Databases),
		"--dir", dir,
		"--loglevel", "warning",
	)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	killWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("redistest: start redis-server: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the server answers PING, it exits, or readyTimeout
// passes.
func (s *Server) waitReady() error {
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			out := s.out.String()
			if strings.Contains(out, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redistest: redis-server exited at start (%v):\n%s", s.cmd.ProcessState, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on %s did not answer PING within %s: %v", s.addr, readyTimeout, err)
		}
	}
}

// freePort returns a 127.0.0.1 port that was free when it was asked for.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns the server's host:port, for redis.Options.Addr.
func (s *Server) Addr() string { return s.addr }

// Close kills the server, waits for it to exit and removes its directory.
// It is safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		s.cmd.Process.Kill()
		<-s.done
		os.RemoveAll(s.dir)
	})
}
