package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/quota-svc/quota/server"
)

// tokenFile is the format of -tokens-file and QUOTA_TOKENS (YAML, of
// which JSON is a subset):
//
//	tokens:
//	  - name: orchestrator-prod        # shown in logs; not secret
//	    sha256: 9f86d081884c7d65...    # hex SHA-256 of the token, or:
//	    # token: "the token itself"    # at least 16 characters
//	    role: orchestrator             # orchestrator, admin or viewer
//	    workspaces: [acme, beta]       # optional: only these workspaces
//
// Storing sha256 rather than token keeps the secrets out of the file:
// `printf %s "$TOKEN" | sha256sum`.
type tokenFile struct {
	Tokens []tokenEntry `yaml:"tokens"`
}

// tokenEntry is one token of a tokenFile.
type tokenEntry struct {
	Name       string   `yaml:"name"`
	Token      string   `yaml:"token"`
	SHA256     string   `yaml:"sha256"`
	Role       string   `yaml:"role"`
	Workspaces []string `yaml:"workspaces"`
}

// yamlLines finds the line numbers in a YAML error.
var yamlLines = regexp.MustCompile(`line \d+`)

// parseTokens reads a token document; what names the source in errors
// (a file name, or QUOTA_TOKENS). Errors never quote a token.
func parseTokens(what string, doc []byte) ([]server.Credential, error) {
	var f tokenFile
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		// YAML errors may quote values, tokens among them: keep the lines.
		where := yamlLines.FindAllString(err.Error(), -1)
		return nil, fmt.Errorf("%s: not a valid token document (%s); see -tokens-file in quotad -h", what, strings.Join(where, ", "))
	}
	creds := make([]server.Credential, 0, len(f.Tokens))
	for i, e := range f.Tokens {
		c := server.Credential{Name: e.Name, Role: server.Role(e.Role), Workspaces: e.Workspaces}
		name := e.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		switch {
		case (e.Token == "") == (e.SHA256 == ""):
			return nil, fmt.Errorf("%s: token %s: set exactly one of token and sha256", what, name)
		case e.Token != "" && len(e.Token) < server.MinTokenLen:
			return nil, fmt.Errorf("%s: token %s: a token must have at least %d characters", what, name, server.MinTokenLen)
		case e.Token != "":
			c.SHA256 = server.HashToken(e.Token)
		default:
			b, err := hex.DecodeString(e.SHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("%s: token %s: sha256 must be 64 hex digits", what, name)
			}
			copy(c.SHA256[:], b)
		}
		creds = append(creds, c)
	}
	return creds, nil
}

// loadCredentials returns the tokens of cfg: those of TokensFile and those
// of Tokens (QUOTA_TOKENS) together.
func loadCredentials(cfg Config) ([]server.Credential, error) {
	var creds []server.Credential
	if cfg.Tokens != "" {
		c, err := parseTokens("QUOTA_TOKENS", []byte(cfg.Tokens))
		if err != nil {
			return nil, err
		}
		creds = append(creds, c...)
	}
	if cfg.TokensFile != "" {
		b, err := os.ReadFile(cfg.TokensFile)
		if err != nil {
			return nil, fmt.Errorf("-tokens-file: %w", err)
		}
		c, err := parseTokens("-tokens-file "+cfg.TokensFile, b)
		if err != nil {
			return nil, err
		}
		creds = append(creds, c...)
	}
	return creds, nil
}
