package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	// readyTimeout bounds the wait for the first PING answer (an AOF
	// replay included).
	readyTimeout = 10 * time.Second
	// exitTimeout bounds the wait for a killed process to exit.
	exitTimeout = 10 * time.Second
	// outputTail is how much of a process's output Output returns.
	outputTail = 64 << 10
)

// errNotFound is returned when redis-server is not on PATH.
var errNotFound = errors.New("redis-server not found: install it with `apt-get install redis-server` (or run .ci/run)")

// errPortTaken means another process bound the port first.
var errPortTaken = errors.New("redistest: port taken")

// ServerOptions configure StartServerWith. The zero value is a
// redis-server on a free port with Redis's default 16 databases, no
// persistence and no password.
type ServerOptions struct {
	// Port is the 127.0.0.1 port to listen on; 0 picks a free one. Either
	// way the port is kept across Restart.
	Port int
	// Databases is --databases; 0 keeps Redis's default, 16.
	Databases int
	// AppendOnly turns the AOF on (appendonly yes, in the server's own
	// directory), so that Kill then Restart replays it.
	AppendOnly bool
	// AppendFsync is appendfsync with AppendOnly: "always", "everysec" or
	// "no". Empty means "always".
	AppendFsync string
	// Password is requirepass, the default user's password.
	Password string
	// User, with UserPassword, adds an ACL user with every permission
	// (on >UserPassword ~* &* +@all). Client logs in as User when set.
	User, UserPassword string
	// Args are more redis-server arguments, after the harness's own so
	// that they win: "--maxmemory", "10mb".
	Args []string

	// conf, when set, is written to redis.conf in the server's directory
	// and given to redis-server first; sentinel adds --sentinel.
	conf     string
	sentinel bool
}

// Server is a redis-server process on 127.0.0.1 with a temporary working
// directory of its own. It can be paused, killed and restarted on the same
// port and directory. Close it when done.
type Server struct {
	addr string
	port int
	dir  string
	path string   // redis-server
	args []string // every start's arguments
	opts ServerOptions

	mu      sync.Mutex
	proc    *process // the running or last process
	closed  bool
	clients []io.Closer // closed by Close
	admin   *redis.Client
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// StartServer starts a redis-server on a free 127.0.0.1 port, with no
// persistence (--save "" --appendonly no) and Databases databases, and
// returns once it answers PING (within 10s). It fails, saying how to
// install it, if redis-server is not on PATH.
func StartServer() (*Server, error) {
	return StartServerWith(ServerOptions{Databases: Databases})
}

// StartTestServer is StartServer for one test: it fails t when the server
// cannot start, and stops it when t ends.
func StartTestServer(t testing.TB) *Server {
	t.Helper()
	srv, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// StartServerWith starts a redis-server as opts say and returns once it
// answers PING (within 10s; an AOF is replayed by then). With opts.Port
// 0 it retries other free ports if the one it found is taken meanwhile.
func StartServerWith(opts ServerOptions) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNotFound
	}
	for attempt := 1; ; attempt++ {
		s, err := newServer(path, opts)
		if err == nil {
			err = s.startProcess()
			if err == nil {
				return s, nil
			}
			s.Close()
		}
		if !errors.Is(err, errPortTaken) || opts.Port != 0 || attempt == startAttempts {
			return nil, err
		}
	}
}

// newServer makes the Server, its directory and its arguments, without
// starting it.
func newServer(path string, opts ServerOptions) (*Server, error) {
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "redistest-*")
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		port: port,
		dir:  dir,
		path: path,
		opts: opts,
	}
	if opts.conf != "" {
		conf := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(opts.conf), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.args = append(s.args, conf)
		if opts.sentinel {
			s.args = append(s.args, "--sentinel")
		}
	}
	s.args = append(s.args,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--loglevel", "warning",
	)
	if !opts.sentinel {
		// DEBUG DIGEST lets tests check that a refused request changed
		// nothing.
		s.args = append(s.args, "--save", "", "--enable-debug-command", "local")
		if opts.Databases > 0 {
			s.args = append(s.args, "--databases", strconv.Itoa(opts.Databases))
		}
		if opts.AppendOnly {
			fsync := opts.AppendFsync
			if fsync == "" {
				fsync = "always"
			}
			s.args = append(s.args, "--appendonly", "yes", "--appendfsync", fsync)
		} else {
			s.args = append(s.args, "--appendonly", "no")
		}
	}
	if opts.Password != "" {
		s.args = append(s.args, "--requirepass", opts.Password)
	}
	if opts.User != "" {
		s.args = append(s.args, "--user", opts.User, "on", ">"+opts.UserPassword, "~*", "&*", "+@all")
	}
	s.args = append(s.args, opts.Args...)
	return s, nil
}

// startProcess starts redis-server and waits until it answers PING. The
// caller holds s.mu or owns s alone.
func (s *Server) startProcess() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		log.Close()
		close(p.done)
	}()
	s.proc = p
	return s.waitReady(p)
}

// waitReady waits until the server answers PING, it exits, or readyTimeout
// passes.
func (s *Server) waitReady(p *process) error {
	opt := s.ClientOptions()
	opt.MaxRetries, opt.DialTimeout = -1, time.Second
	rdb := redis.NewClient(opt)
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
		case <-p.done:
			out := s.Output()
			if strings.Contains(out, "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, s.addr)
			}
			return fmt.Errorf("redistest: redis-server exited at start (%v):\n%s", p.cmd.ProcessState, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("redistest: redis-server on %s did not answer PING within %s: %v\n%s", s.addr, readyTimeout, err, s.Output())
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

// Port returns the server's port, the same across Restart.
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory (its AOF, RDB, nodes.conf
// and redis.log), kept across Kill and Restart, removed by Close.
func (s *Server) Dir() string { return s.dir }

// Output returns the end of the server's log (its stdout and stderr, at
// loglevel warning), across restarts: for a failing test's message.
func (s *Server) Output() string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > outputTail {
		f.Seek(fi.Size()-outputTail, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, outputTail))
	return string(b)
}

// ClientOptions returns new options for a client of the server, logged in
// as ServerOptions say: as User if set, else with Password if set.
func (s *Server) ClientOptions() *redis.Options {
	opt := &redis.Options{Addr: s.addr}
	if s.opts.User != "" {
		opt.Username, opt.Password = s.opts.User, s.opts.UserPassword
	} else {
		opt.Password = s.opts.Password
	}
	return opt
}

// Client returns a new client of the server (see ClientOptions), closed by
// Close if not before.
func (s *Server) Client() *redis.Client {
	rdb := redis.NewClient(s.ClientOptions())
	s.mu.Lock()
	s.clients = append(s.clients, rdb)
	s.mu.Unlock()
	return rdb
}

// adminClient returns the harness's own client of the server: no retries
// and short timeouts, for polling a server that may be paused or dead.
func (s *Server) adminClient() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		opt := s.ClientOptions()
		opt.MaxRetries = -1
		opt.DialTimeout = 500 * time.Millisecond
		opt.ReadTimeout = time.Second
		opt.WriteTimeout = time.Second
		opt.PoolSize = 2
		s.admin = redis.NewClient(opt)
	}
	return s.admin
}

// Running reports whether the server's process is alive (paused or not).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked()
}

func (s *Server) runningLocked() bool {
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.done:
		return false
	default:
		return true
	}
}

// Pause stops the server's process (SIGSTOP): connections stay open and
// commands wait, unanswered, until Resume.
func (s *Server) Pause() error { return s.signal(sigStop) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(sigCont) }

func (s *Server) signal(sig sigName) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return fmt.Errorf("redistest: %s is not running", s.addr)
	}
	return sendSignal(s.proc.cmd.Process, sig)
}

// Kill kills the server's process (SIGKILL, paused or not) and waits for
// it to exit. Its directory is kept, so that Restart finds its AOF and
// nodes.conf. Killing a server that is not running does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	if !s.runningLocked() {
		return nil
	}
	s.proc.cmd.Process.Kill()
	select {
	case <-s.proc.done:
		return nil
	case <-time.After(exitTimeout):
		return fmt.Errorf("redistest: %s did not exit within %s of SIGKILL", s.addr, exitTimeout)
	}
}

// Restart kills the server if it is running and starts it again on the
// same port, in the same directory and with the same arguments, so that
// it replays its AOF (with AppendOnly) or rejoins its cluster; it returns
// once the server answers PING. A port taken meanwhile is retried for a
// few seconds.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("redistest: %s is closed", s.addr)
	}
	if err := s.killLocked(); err != nil {
		return err
	}
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		if err = s.startProcess(); !errors.Is(err, errPortTaken) {
			return err
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	return err
}

// Close kills the server, waits for it to exit, closes the clients that
// Client returned and removes its directory. It is safe to call more than
// once.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.killLocked()
	for _, c := range s.clients {
		c.Close()
	}
	s.clients = nil
	if s.admin != nil {
		s.admin.Close()
	}
	os.RemoveAll(s.dir)
}
