package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisHook is a go-redis hook that times every command and counts its
// errors by command and, for scripts, by script, and that tells when a
// Redis node could not be reached (so that a Cluster client reloads its
// slot map at once instead of at its next periodic reload).
type redisHook struct {
	m *metrics
	// scriptName names a script by its SHA-1 ("unknown" when nil or it
	// does not know).
	scriptName func(sha string) string
	// unreachable is called when a command failed to reach its node; nil
	// does nothing.
	unreachable func()
}

var _ redis.Hook = redisHook{}

// DialHook counts failed dials.
func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErrors.WithLabelValues("dial", "", errorKind(err)).Inc()
			if h.unreachable != nil {
				h.unreachable()
			}
		}
		return conn, err
	}
}

// ProcessHook times one command.
func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(cmd, time.Since(start), err)
		return err
	}
}

// ProcessPipelineHook times a pipeline, recording its time for each of
// its commands.
func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		took := time.Since(start)
		for _, c := range cmds {
			h.observe(c, took, c.Err())
		}
		return err
	}
}

// observe records one command.
func (h redisHook) observe(cmd redis.Cmder, took time.Duration, err error) {
	name, script := h.labels(cmd)
	h.m.redisDuration.WithLabelValues(name, script).Observe(took.Seconds())
	kind := errorKind(err)
	if kind == "" {
		return
	}
	h.m.redisErrors.WithLabelValues(name, script, kind).Inc()
	if (kind == "connection" || kind == "timeout") && h.unreachable != nil {
		h.unreachable()
	}
}

// labels returns the command and script labels of cmd: for EVALSHA the
// script's name from its SHA-1, for EVAL from the SHA-1 of its body, for
// FCALL the function's name.
func (h redisHook) labels(cmd redis.Cmder) (command, script string) {
	command = strings.ToLower(cmd.Name())
	args := cmd.Args()
	switch command {
	case "evalsha", "evalsha_ro":
		if len(args) > 1 {
			return command, h.name(argString(args[1]))
		}
	case "eval", "eval_ro":
		if len(args) > 1 {
			sum := sha1.Sum([]byte(argString(args[1])))
			return command, h.name(hex.EncodeToString(sum[:]))
		}
	case "fcall", "fcall_ro":
		if len(args) > 1 {
			return command, h.name(argString(args[1]))
		}
	}
	return command, ""
}

// name names a script by its SHA-1 or its function name.
func (h redisHook) name(sha string) string {
	if h.scriptName != nil {
		if n := h.scriptName(sha); n != "" {
			return n
		}
	}
	return "unknown"
}

// argString returns a command argument as a string.
func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// errorKind classifies a Redis command's error: "" (none, or redis.Nil:
// no value), "timeout", "canceled" (the caller left), "noscript" (the
// script was not loaded yet), "connection" (refused, reset, closed, pool
// timeout), or "reply" (another error reply from Redis).
func errorKind(err error) string {
	var netErr net.Error
	switch {
	case err == nil, errors.Is(err, redis.Nil):
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case redis.HasErrorPrefix(err, "NOSCRIPT"):
		return "noscript" // go-redis loads the script and runs it again"
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout):
		return "connection"
	}
	return "reply"
}
