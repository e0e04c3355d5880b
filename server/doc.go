// Package server is the gRPC face of the quota service: thin handlers for
// quota.v1.QuotaService and quota.v1.AdminService.
//
// Each handler validates its request (ids, enums, durations; the domain
// validates amounts, the agent chain and the price table), converts it to
// the domain's types, calls quota.Service, and converts the result back.
// Every error, the handlers' own validation errors included, goes through
// one function, toStatus, which maps it to a gRPC status carrying an
// errdetails.ErrorInfo with an UPPER_SNAKE reason (AIP-193), a BadRequest
// for bad input and a QuotaFailure for a denied hold. An error the server
// does not know is logged once and returned as a bare INTERNAL.
//
// New builds the grpc.Server with panic recovery, debug-level call logging,
// the standard health service and server reflection; see Server for how a
// main program starts it and drains it on shutdown.
package server
