// Package quota is the credit domain of the quota service: units, pricing of
// an agent chain, billing periods and their anniversaries, seats, the order
// in which credit sources are drawn, and the errors callers can check.
//
// It is plain Go. It imports neither gRPC nor Redis: it declares the Store it
// needs (implemented by package store) and takes the time as a Now func, so
// that tests can move time across deadlines and resets.
//
// Every amount is an int64 of µcredits (1 credit = 1,000,000 µcredits); no
// float is used on any money path.
package quota
