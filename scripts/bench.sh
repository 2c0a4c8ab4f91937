#!/usr/bin/env bash
# Benchmark, on one kube-sim (HTTPS once it speaks TLS), in one run, medians over N runs:
#   - `self-heal diagnose` as a whole process, beside one `kubectl get deploy -o json` and a
#     one-process floor: the very reads self-heal made (taken from its own request log), all at
#     once from one curl process (`--parallel`: HTTP/2 streams over one TLS session when the
#     server offers h2), with the kubeconfig's CA and credentials. The floor ignores the reads'
#     dependencies, so it is a lower bound.
#   - `self-heal heal` of a scaled-to-0 service: the time from process start to its first write
#     (the heal Lease) and to the remediation itself (the PATCH of the Deployment), read from
#     self-heal's request log (`RUST_LOG=self_heal::client=debug`); and the wall time with the
#     pods' own readiness delay subtracted.
#   - the predecessor's kubectl+jq diagnosis procedure (same checks), for scale.
# Targets (issue 6): diagnose ≤ floor + 5 ms and ≤ half of one kubectl get; first remediation
# write ≤ diagnose + 10 ms.
# Usage: scripts/bench.sh [BIN_DIR] (default target/release).
set -euo pipefail
BIN=${1:-target/release}
KUBECTL=${KUBECTL:-kubectl}
N=${N:-15}
NS=cortex-system
SVC=sandfly-mcp-server
READY_DELAY_MS=${READY_DELAY_MS:-500}
for tool in jq curl; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 1; }
done

work=$(mktemp -d)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# The demo service, with the readiness delay in its first revision (no rollout history).
cat >"$work/seed.yaml" <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $SVC, namespace: $NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: $SVC}}
  template:
    metadata: {labels: {app: $SVC}}
    spec:
      containers:
      - name: server
        image: sim/mcp-server:1
        ports: [{containerPort: 3000}]
        env: [{name: SIM_READY_DELAY, value: "${READY_DELAY_MS}ms"}]
---
apiVersion: v1
kind: Service
metadata: {name: $SVC, namespace: $NS}
spec:
  selector: {app: $SVC}
  ports: [{name: http, port: 3000, targetPort: 3000}]
YAML
"$BIN/kube-sim" --kubeconfig "$work/kubeconfig" --seed "$work/seed.yaml" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 200); do grep -q '^kube-sim ready' "$work/sim.out" 2>/dev/null && break; sleep 0.05; done
export KUBECONFIG="$work/kubeconfig"
k() { "$KUBECTL" --cache-dir "$work/cache" -n "$NS" "$@"; }
k rollout status deployment/$SVC --timeout=60s >/dev/null

# Milliseconds with a fraction, from bash's own clock (no process per reading).
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
median() { sort -g | awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m}'; }
time_cmd() { local t0 t1; t0=$(now_us); "$@" >/dev/null 2>&1 || true; t1=$(now_us); echo "$(( t1 - t0 ))" | awk '{printf "%.2f\n", $1/1000}'; }
# An RFC 3339 timestamp (from self-heal's log) as microseconds since the epoch.
ts_us() { date -d "$1" +%s%6N; }

# --- The kubeconfig's server and credentials, for curl.
kc() { "$KUBECTL" config view --raw --minify -o "jsonpath=$1"; }
server=$(kc '{.clusters[0].cluster.server}')
curl_auth=()
ca=$(kc '{.clusters[0].cluster.certificate-authority-data}')
if [ -n "$ca" ]; then echo "$ca" | base64 -d >"$work/ca.crt"; curl_auth+=(--cacert "$work/ca.crt"); fi
token=$(kc '{.users[0].user.token}')
if [ -n "$token" ]; then curl_auth+=(-H "Authorization: Bearer $token"); fi
cert=$(kc '{.users[0].user.client-certificate-data}')
if [ -n "$cert" ]; then
  echo "$cert" | base64 -d >"$work/client.crt"
  kc '{.users[0].user.client-key-data}' | base64 -d >"$work/client.key"
  curl_auth+=(--cert "$work/client.crt" --key "$work/client.key")
fi

# --- diagnose: self-heal, one kubectl get, the floor.
"$BIN/self-heal" -o ndjson diagnose "$SVC" >"$work/diag.out" || { echo "diagnose of a healthy service failed" >&2; exit 1; }
RUST_LOG=self_heal::client=debug "$BIN/self-heal" -o ndjson diagnose "$SVC" 2>"$work/diag.log" >/dev/null
mapfile -t urls < <(sed -n 's/.*request method=GET uri=\([^ ]*\).*/\1/p' "$work/diag.log")
[ "${#urls[@]}" -gt 0 ] || { echo "no request log from self-heal diagnose" >&2; exit 1; }
floor() {
  local args=()
  for u in "${urls[@]}"; do args+=(-o /dev/null "$u"); done
  curl -sS --no-progress-meter --parallel --parallel-max 64 "${curl_auth[@]}" -H 'Accept: application/json' -w '%{http_code}\n' "${args[@]}"
}
# Every read answers as it did for self-heal (a missing KEDA CRD answers 404, as it should).
bad=$(floor | grep -vE '^(200|404)$' || true)
[ -z "$bad" ] || { echo "the floor's reads failed: $bad" >&2; exit 1; }
proto=$(curl -sS -o /dev/null -w '%{http_version}' "${curl_auth[@]}" "${urls[0]}")
count_args=()
for u in "${urls[@]}"; do count_args+=(-o /dev/null "$u"); done
conns=$(curl -sS --no-progress-meter --parallel --parallel-max 64 "${curl_auth[@]}" -w '%{num_connects}\n' "${count_args[@]}" |
  awk '{s+=$1} END {print s}')

rounds() { for _ in $(seq "$N"); do time_cmd "$@"; done | median; }
k get deploy "$SVC" -o json >/dev/null # warm kubectl's discovery cache, as an operator's would be
kg=$(rounds k get deploy "$SVC" -o json)
fl=$(rounds floor)
rd=$(rounds "$BIN/self-heal" -o ndjson diagnose "$SVC")

# --- The predecessor's diagnosis: the same checks, one kubectl process each, parsed with jq.
shell_diagnose() {
  k get deployment "$SVC" -o json | jq -e '.spec.replicas, (.status.readyReplicas // 0)' >/dev/null
  local pods
  pods=$(k get pods -l "app=$SVC" -o json)
  echo "$pods" | jq -r '.items[].status.containerStatuses[]? | (.state.waiting.reason // "running")' >/dev/null
  for pod in $(echo "$pods" | jq -r '.items[].metadata.name'); do
    k logs "$pod" --tail=50 2>/dev/null | grep -i error >/dev/null || true
  done
  k get endpoints "$SVC" -o json | jq '.subsets // [] | length' >/dev/null
  k get events --field-selector "involvedObject.name=$SVC" -o json | jq '.items | length' >/dev/null
}
sd=$(rounds shell_diagnose)

# --- heal of a scaled-to-0 service: first write, remediation write, wall time.
url=$(k get service $SVC -o 'jsonpath={.metadata.annotations.kube-sim\.self-heal\.dev/url}')
heal_ms=() lock_ms=() write_ms=()
for _ in $(seq "$N"); do
  k scale deployment/$SVC --replicas=0 >/dev/null
  k rollout status deployment/$SVC --timeout=60s >/dev/null
  code=0
  t0=$(now_us)
  # The breaker would (rightly) stop a service healed N times in a row: lift it here.
  RUST_LOG=self_heal::client=debug "$BIN/self-heal" -o ndjson --max-remediations 1000 \
    heal "$SVC" "connect ECONNREFUSED" "$url/health" >"$work/heal.out" 2>"$work/heal.log" || code=$?
  t1=$(now_us)
  [ "$code" = 0 ] || { echo "heal exited $code:" >&2; tail -n 3 "$work/heal.out" "$work/heal.log" >&2; exit 1; }
  heal_ms+=("$(( (t1 - t0) / 1000 ))")
  first=$(grep -m1 -E 'request method=(POST|PUT|PATCH|DELETE)' "$work/heal.log" | cut -d' ' -f1)
  patch=$(grep -m1 -E 'request method=PATCH uri=[^ ]*/deployments/' "$work/heal.log" | cut -d' ' -f1)
  lock_ms+=("$(( $(ts_us "$first") - t0 ))")
  write_ms+=("$(( $(ts_us "$patch") - t0 ))")
done
ms() { awk '{printf "%.2f\n", $1/1000}'; }
hm=$(printf '%s\n' "${heal_ms[@]}" | median)
lm=$(printf '%s\n' "${lock_ms[@]}" | ms | median)
wm=$(printf '%s\n' "${write_ms[@]}" | ms | median)

echo "server:                               $server (${proto:-?}; floor used $conns connection(s) for ${#urls[@]} reads)"
echo "runs per figure:                      $N (medians)"
echo "self-heal diagnose, whole process:    ${rd} ms"
echo "floor, same ${#urls[@]} reads, one curl:       ${fl} ms"
echo "kubectl get deploy -o json:           ${kg} ms"
echo "kubectl+jq diagnosis procedure:       ${sd} ms"
echo "heal scaled-to-0, first write (Lease): ${lm} ms from process start"
echo "heal scaled-to-0, scale PATCH:        ${wm} ms from process start"
echo "heal scaled-to-0, wall:               ${hm} ms (${READY_DELAY_MS} ms of it the pods' readiness)"
awk -v r="$rd" -v f="$fl" -v g="$kg" -v w="$wm" 'BEGIN {
  printf "target diagnose <= floor + 5 ms:      %s (%.1f vs %.1f)\n", (r <= f + 5) ? "met" : "MISSED", r, f + 5
  printf "target diagnose <= kubectl get / 2:   %s (%.1f vs %.1f)\n", (r <= g / 2) ? "met" : "MISSED", r, g / 2
  printf "target scale <= diagnose + 10 ms:     %s (%.1f vs %.1f)\n", (w <= r + 10) ? "met" : "MISSED", w, r + 10
}'
