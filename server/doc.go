// Package server is the gRPC face of the quota service: thin handlers for
// quota.v1.QuotaService and quota.v1.AdminService.
//
// Each handler validates its request (ids, enums, durations; the domain
// validates amounts, the agent chain and the price table), converts it to
// the domain's types, calls quota.Service, and converts the result back.
// Every error, the handlers' own validation errors included, goes through
// one function, toStatus, which maps it to a gRPC status carrying an
// errdetails.ErrorInfo with an UPPER_SNAKE reason (AIP-193), a BadRequest
// for bad input and a QuotaFailure for a denied hold. A store that could
// not be reached or did not answer in time is UNAVAILABLE /
// STORE_UNAVAILABLE (storeFailure; the store tells Redis's failures
// apart). An error the server does not know is logged once and returned
// as a bare INTERNAL.
//
// New builds the grpc.Server with, around the handlers: the gRPC
// Prometheus metrics (Metrics), one log line per call (logging.go), panic
// recovery, bearer-token authentication and authorization by role and
// workspace (Authenticator, permissions.go), the INVALID_ARGUMENT answer
// to undecodable requests (codec.go), and the default and store deadlines
// (deadline.go); the standard health service, whose Watch streams end at
// shutdown (health.go); and, when asked, server reflection. See Server for
// how a main program starts it, reports the store's health and drains it
// on shutdown.
package server
