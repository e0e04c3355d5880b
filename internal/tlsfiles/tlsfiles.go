// Package tlsfiles reads the PEM files that TLS settings name, for quotad
// (its listeners and its Redis connection) and its clients (quotactl),
// with errors that name the setting.
package tlsfiles

import (
	"crypto/x509"
	"fmt"
	"os"
)

// LoadCAs reads a PEM file of CA certificates; setting names the setting
// ("-redis-tls-ca", "--ca-file") in errors.
func LoadCAs(setting, file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %s: no PEM certificate found", setting, file)
	}
	return pool, nil
}
