#!/bin/sh
# Writes a self-signed CA and certificates for quotad and redis into $1,
# once: existing files are kept. For the local compose run only.
set -eu
dir=${1:-certs}
mkdir -p "$dir"
cd "$dir"
[ -f ca.pem ] && [ -f quotad.pem ] && [ -f redis.pem ] && { echo "certificates exist in $dir"; exit 0; }
command -v openssl >/dev/null || apk add --no-cache openssl >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=quota local CA" -keyout ca-key.pem -out ca.pem
issue() { # name, subjectAltName
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$1-key.pem" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 365 \
    -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}
issue quotad "DNS:quotad,DNS:localhost,IP:127.0.0.1"
issue redis "DNS:redis,DNS:localhost,IP:127.0.0.1"
# The containers run as non-root users: let them read the keys (local only).
chmod 0644 ./*.pem
echo "certificates written to $dir"
