package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/server"
)

// auditTimeout bounds the audit of one workspace.
const auditTimeout = 5 * time.Minute

// auditLoop audits every workspace every interval (0: never) until ctx
// ends. Audits only read; a drift is a bug somewhere, logged at ERROR
// with what differs (never a token or a request) and counted.
func auditLoop(ctx context.Context, interval time.Duration, svc *quota.Service, sm *server.Metrics, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	every(ctx, interval, func(ctx context.Context) { auditAll(ctx, svc, sm, log) })
}

// auditAll audits every workspace once.
func auditAll(ctx context.Context, svc *quota.Service, sm *server.Metrics, log *slog.Logger) {
	lctx, cancel := context.WithTimeout(ctx, auditTimeout)
	ids, err := svc.Workspaces(lctx)
	cancel()
	if err != nil {
		sm.AuditFailed()
		log.Warn("scheduled audit: cannot list the workspaces", "err", err)
		return
	}
	clean, drifted := 0, 0
	start := time.Now()
	for _, ws := range ids {
		if ctx.Err() != nil {
			return
		}
		actx, cancel := context.WithTimeout(ctx, auditTimeout)
		rep, err := svc.AuditWorkspace(actx, ws)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				sm.AuditFailed()
				log.Warn("scheduled audit failed", "workspace", ws, "err", err)
			}
			continue
		}
		sm.Audited(len(rep.Drifts))
		if len(rep.Drifts) == 0 {
			clean++
			continue
		}
		drifted++
		for _, d := range rep.Drifts {
			log.Error("audit: the books disagree with the records", "workspace", ws, "subject", d.Subject,
				"field", d.Field, "recorded", d.Recorded, "recomputed", d.Recomputed, "explanation", d.Explanation)
		}
	}
	log.Info("scheduled audit done", "workspaces", len(ids), "clean", clean, "drifted", drifted,
		"took", time.Since(start).Round(time.Millisecond))
}
