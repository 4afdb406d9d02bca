#!/bin/sh
# Writes a throwaway PKI for the Kubernetes double into DIR:
#   DIR/ca.pem          self-signed CA certificate (give it to the client as its trust root)
#   DIR/server.pem      server certificate signed by the CA, SAN IP:127.0.0.1 and DNS:localhost
#   DIR/server-key.pem  its private key
#   DIR/token           a random bearer token (hex, no newline)
# Usage: test/doubles/kube/make-pki.sh DIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
command -v openssl >/dev/null || { echo "make-pki.sh: openssl is required" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=ferry-kube-double-ca" -keyout "$work/ca-key.pem" -out "$dir/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=kube-apiserver" -keyout "$dir/server-key.pem" -out "$work/server.csr" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > "$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$dir/ca.pem" -CAkey "$work/ca-key.pem" -CAserial "$work/ca.srl" -CAcreateserial \
  -days 2 -extfile "$work/ext.cnf" -out "$dir/server.pem" 2>/dev/null
chmod 600 "$dir/server-key.pem"
openssl rand -hex 32 | tr -d '\n' > "$dir/token"
chmod 600 "$dir/token"
