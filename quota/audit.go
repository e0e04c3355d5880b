package quota

import (
	"context"
	"time"
)

// Audits: every account and grant of a workspace recomputed from the
// reservation and grant records (and the ledger, where it holds the
// workspace's whole history), and the differences reported.

// AuditReport is what an audit of one workspace found.
type AuditReport struct {
	WorkspaceID string
	Time        time.Time
	// Accounts, Grants and Reservations count the records checked (the
	// open reservations); LedgerEntries the ledger entries read.
	Accounts, Grants, Reservations, LedgerEntries int64
	// LedgerComplete is set when the ledger holds the workspace's whole
	// history (nothing trimmed yet), so that lifetime counters were
	// checked against it too.
	LedgerComplete bool
	// Drifts are the differences found; none when the books agree.
	Drifts []Drift
}

// Drift is a stored number that differs from what the records say it
// should be.
type Drift struct {
	// Subject is "account <member>", "grant <id>", "pool" or "workspace".
	Subject string
	// Field names the number, e.g. "held", "pool.held".
	Field string
	// Recorded is the value stored, Recomputed the value recomputed, as
	// Explanation says.
	Recorded, Recomputed int64
	Explanation          string
}

// AuditWorkspace audits one workspace now.
func (s *Service) AuditWorkspace(ctx context.Context, workspaceID string) (AuditReport, error) {
	return s.st.Audit(ctx, workspaceID, s.cfg.Now())
}

// Workspaces lists every workspace, for the scheduled audits.
func (s *Service) Workspaces(ctx context.Context) ([]string, error) {
	return s.st.Workspaces(ctx)
}
