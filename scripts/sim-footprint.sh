#!/usr/bin/env bash
# kube-sim's start-up time and memory with N deployments of 3 pods (default 20):
# time to the ready line, time until every pod is Ready, and peak RSS (GNU time).
# Usage: scripts/sim-footprint.sh [BIN_DIR] (default target/release)
set -euo pipefail
BIN=${1:-target/release}
N=${N:-20}
KUBECTL=${KUBECTL:-kubectl}
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "apiVersion: v1"; echo "kind: Namespace"; echo "metadata: {name: load}"
  for i in $(seq 1 "$N"); do
    cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: svc-$i, namespace: load}
spec:
  replicas: 3
  selector: {matchLabels: {app: svc-$i}}
  template:
    metadata: {labels: {app: svc-$i}}
    spec:
      containers: [{name: server, image: "sim/mcp-server:1", ports: [{containerPort: 3000}]}]
---
apiVersion: v1
kind: Service
metadata: {name: svc-$i, namespace: load}
spec:
  selector: {app: svc-$i}
  ports: [{name: http, port: 3000}]
YAML
  done
} >"$work/seed.yaml"

t0=$(date +%s%N)
/usr/bin/time -v -o "$work/time.txt" "$BIN/kube-sim" --kubeconfig "$work/kubeconfig" --seed "$work/seed.yaml" \
  >"$work/out" 2>"$work/err" &
pid=$!
until grep -q '^kube-sim ready' "$work/out" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
  sleep 0.005
done
t1=$(date +%s%N)
ready_pods() {
  "$KUBECTL" --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" -n load get pods \
    -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true
}
for _ in $(seq 1 600); do [ "$(ready_pods)" -ge $((N * 3)) ] && break; sleep 0.05; done
t2=$(date +%s%N)
pods=$("$KUBECTL" --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" -n load get pods --no-headers | grep -c Running)
sim_pid=$(pgrep -P "$pid" kube-sim || echo "$pid")
kill -TERM "$sim_pid"
wait "$pid" || true
echo "deployments: $N x 3 pods ($pods Running)"
echo "ready line after:   $(( (t1 - t0) / 1000000 )) ms"
echo "all pods Ready at:  $(( (t2 - t0) / 1000000 )) ms"
grep -E "Maximum resident set size" "$work/time.txt"
