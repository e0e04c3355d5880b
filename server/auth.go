package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Role is what a bearer token may do; see methodAccess for what each RPC
// needs.
type Role string

// The roles. A role is checked against the access of the method called
// (Role.permits); a token may further be limited to some workspaces.
const (
	// RoleOrchestrator may call every QuotaService RPC (Reserve, Commit,
	// ... and its reads), and nothing of the AdminService.
	RoleOrchestrator Role = "orchestrator"
	// RoleAdmin may call everything.
	RoleAdmin Role = "admin"
	// RoleViewer may call every read of both services and no mutation.
	RoleViewer Role = "viewer"
)

// Roles lists the roles, for help texts and validation.
var Roles = []Role{RoleOrchestrator, RoleAdmin, RoleViewer}

// permits tells whether r may call a method of access a.
func (r Role) permits(a access) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleOrchestrator:
		return a.api == apiQuota
	case RoleViewer:
		return !a.mutates
	}
	return false
}

// ErrorInfo reasons of authentication and authorization failures.
const (
	reasonTokenMissing          = "TOKEN_MISSING"
	reasonTokenInvalid          = "TOKEN_INVALID"
	reasonRoleNotPermitted      = "ROLE_NOT_PERMITTED"
	reasonWorkspaceNotPermitted = "WORKSPACE_NOT_PERMITTED"
)

// MinTokenLen is the shortest bearer token accepted in a token set: a
// shorter one is an error when the set is loaded.
const MinTokenLen = 16

// Credential is one valid bearer token: what it may do, never the token
// itself, of which only the SHA-256 is kept.
type Credential struct {
	// Name names the token in logs and errors; it is not secret.
	Name string
	// SHA256 is the SHA-256 of the token (see HashToken).
	SHA256 [sha256.Size]byte
	// Role is what the token may do.
	Role Role
	// Workspaces, when not empty, are the only workspaces the token may
	// act on; such a token may also not call global mutations (those
	// whose request names no workspace, such as SetPricing).
	Workspaces []string
}

// HashToken returns the SHA-256 of a bearer token, as Credential.SHA256
// holds it.
func HashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// Authenticator checks the bearer token of every call (metadata
// "authorization: Bearer <token>") against a set of credentials that may
// be replaced at any time (token rotation without restart), then checks
// the token's role against the method and its workspaces against the
// request. Health is always open. It is safe for concurrent use.
type Authenticator struct {
	creds   atomic.Pointer[[]Credential]
	metrics *Metrics
}

// NewAuthenticator returns an Authenticator that accepts creds (see
// SetCredentials) and counts its refusals on m (which may be nil).
func NewAuthenticator(creds []Credential, m *Metrics) (*Authenticator, error) {
	a := &Authenticator{metrics: m}
	if err := a.SetCredentials(creds); err != nil {
		return nil, err
	}
	return a, nil
}

// SetCredentials replaces the valid tokens with creds, at once for every
// later call. It checks them first and, on error, keeps those in force:
// names are required and unique, roles known, workspace ids non-empty and
// no two tokens alike.
func (a *Authenticator) SetCredentials(creds []Credential) error {
	if err := checkCredentials(creds); err != nil {
		return err
	}
	c := slices.Clone(creds)
	a.creds.Store(&c)
	a.metrics.tokens(len(c))
	return nil
}

// Len returns how many tokens are valid.
func (a *Authenticator) Len() int {
	if p := a.creds.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// checkCredentials checks a token set; errors name the token by its name.
func checkCredentials(creds []Credential) error {
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]string{}
	for i, c := range creds {
		switch {
		case c.Name == "":
			return fmt.Errorf("token #%d has no name", i+1)
		case names[c.Name]:
			return fmt.Errorf("token %q: the name is used twice", c.Name)
		case !slices.Contains(Roles, c.Role):
			return fmt.Errorf("token %q: unknown role %q (want one of %s)", c.Name, c.Role, rolesList())
		case hashes[c.SHA256] != "":
			return fmt.Errorf("tokens %q and %q are the same token", hashes[c.SHA256], c.Name)
		case slices.Contains(c.Workspaces, ""):
			return fmt.Errorf("token %q: empty workspace id", c.Name)
		}
		names[c.Name] = true
		hashes[c.SHA256] = c.Name
	}
	return nil
}

// rolesList returns the roles, comma-separated.
func rolesList() string {
	s := make([]string, len(Roles))
	for i, r := range Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// lookup returns the credential of token. It compares the token's hash
// with every credential's in constant time, so the time taken tells
// nothing about which, if any, matched.
func (a *Authenticator) lookup(token string) (Credential, bool) {
	p := a.creds.Load()
	if p == nil {
		return Credential{}, false
	}
	h := HashToken(token)
	found := -1
	for i := range *p {
		if subtle.ConstantTimeCompare(h[:], (*p)[i].SHA256[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Credential{}, false
	}
	return (*p)[found], true
}

// identityKey keys the caller's Credential in a call's context.
type identityKey struct{}

// CallerName returns the name of the token that authenticated the call of
// ctx, or "" when none did (health, or authentication off).
func CallerName(ctx context.Context) string {
	if c, ok := ctx.Value(identityKey{}).(*Credential); ok {
		return c.Name
	}
	return ""
}

// openMethod tells whether method needs no token: the health service.
func openMethod(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

// reflectionMethod tells whether method is server reflection, which any
// valid token may call when it is on.
func reflectionMethod(method string) bool {
	return strings.HasPrefix(method, "/grpc.reflection.")
}

// authenticate is the auth.AuthFunc: it finds the token's credential and
// checks its role against the method called. Workspaces are checked on
// the request, by authorizeWorkspace.
func (a *Authenticator) authenticate(ctx context.Context) (context.Context, error) {
	method, _ := grpc.Method(ctx)
	if openMethod(method) {
		return ctx, nil
	}
	token, reason, err := bearerToken(ctx)
	if err != nil {
		a.metrics.authFailure(reason)
		return nil, err
	}
	cred, ok := a.lookup(token)
	if !ok {
		a.metrics.authFailure(reasonTokenInvalid)
		return nil, newStatus(codes.Unauthenticated, "the bearer token is not valid", reasonTokenInvalid, nil)
	}
	acc, known := methodAccess[method]
	switch {
	case known && cred.Role.permits(acc):
	case !known && reflectionMethod(method):
	default:
		a.metrics.authFailure(reasonRoleNotPermitted)
		return nil, newStatus(codes.PermissionDenied,
			fmt.Sprintf("the %s role may not call %s", cred.Role, method), reasonRoleNotPermitted,
			map[string]string{"role": string(cred.Role)})
	}
	setCaller(ctx, cred.Name)
	return context.WithValue(ctx, identityKey{}, &cred), nil
}

// bearerToken returns the call's bearer token (auth.AuthFromMD), or
// UNAUTHENTICATED and its reason when there is none.
func bearerToken(ctx context.Context) (token, reason string, err error) {
	token, err = auth.AuthFromMD(ctx, "bearer")
	if err == nil && token != "" {
		return token, "", nil
	}
	reason, msg := reasonTokenMissing, "a bearer token is required: send metadata \"authorization: Bearer <token>\""
	if len(metadata.ValueFromIncomingContext(ctx, "authorization")) > 0 {
		reason, msg = reasonTokenInvalid, "the authorization metadata is not \"Bearer <token>\""
	}
	return "", reason, newStatus(codes.Unauthenticated, msg, reason, nil)
}

// workspaceRequest is a request that names a workspace. Every request of
// ours does, except global ones (pricing, EstimateCost).
type workspaceRequest interface {
	GetWorkspaceId() string
}

// errGlobalMutation is why a workspace-limited token may not change global
// settings.
var errGlobalMutation = errors.New("a token limited to some workspaces may not change global settings")

// authorizeWorkspace checks a workspace-limited token against the
// request: its workspace must be one of the token's, and a request of no
// workspace (a global one) may only read. The answer does not depend on
// whether the workspace exists.
func (a *Authenticator) authorizeWorkspace(ctx context.Context, req any) error {
	cred, ok := ctx.Value(identityKey{}).(*Credential)
	if !ok || len(cred.Workspaces) == 0 {
		return nil
	}
	method, _ := grpc.Method(ctx)
	if wr, ok := req.(workspaceRequest); ok {
		if slices.Contains(cred.Workspaces, wr.GetWorkspaceId()) {
			return nil
		}
		a.metrics.authFailure(reasonWorkspaceNotPermitted)
		return newStatus(codes.PermissionDenied, "this token may not act on this workspace", reasonWorkspaceNotPermitted, nil)
	}
	if acc := methodAccess[method]; acc.mutates {
		a.metrics.authFailure(reasonWorkspaceNotPermitted)
		return newStatus(codes.PermissionDenied, errGlobalMutation.Error(), reasonWorkspaceNotPermitted, nil)
	}
	return nil
}

// unaryInterceptors authenticates (the go-grpc-middleware auth
// interceptor with authenticate) and then authorizes the request's
// workspace.
func (a *Authenticator) unaryInterceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{
		auth.UnaryServerInterceptor(a.authenticate),
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if err := a.authorizeWorkspace(ctx, req); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		},
	}
}

// streamInterceptor authenticates streams (health, reflection): none of
// ours names a workspace.
func (a *Authenticator) streamInterceptor() grpc.StreamServerInterceptor {
	return auth.StreamServerInterceptor(a.authenticate)
}
