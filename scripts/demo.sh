#!/usr/bin/env bash
# The whole story on kube-sim: start kube-sim and the orchestrator (with the real self-heal as
# its worker); for each of the seed's four testing scenarios break sandfly-mcp-server with
# kubectl, send the seed's curl ({"query": "list sandfly hosts", "streaming": true}) and print
# the SSE stream from processing_start through the healing to processing_complete.
# DEMO_STREAMS=<dir>: also save each scenario's raw SSE stream there as <scenario>.sse.
set -euo pipefail
BIN=${BIN:-target/debug}
KUBECTL=${KUBECTL:-kubectl}
NS=cortex-system
SVC=sandfly-mcp-server

work=$(mktemp -d)
sim_pid=""
orch_pid=""
cleanup() {
  [ -n "$orch_pid" ] && kill "$orch_pid" 2>/dev/null && wait "$orch_pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '\033[2m$ %s\033[0m\n' "$*"; }
k() { say "kubectl -n $NS $*"; "$KUBECTL" --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" -n "$NS" "$@"; }
kq() { "$KUBECTL" --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" -n "$NS" "$@"; }

wait_line() { # file prefix: waits (10 s at most) for a line starting with prefix
  for _ in $(seq 1 100); do grep -q "^$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; return 1
}

# The seed's request; each SSE frame printed as it arrives (long worker lines shortened); with
# DEMO_STREAMS the whole stream is saved as $DEMO_STREAMS/<name>.sse.
ask() {
  local save=/dev/null
  if [ -n "${DEMO_STREAMS:-}" ]; then mkdir -p "$DEMO_STREAMS" && save="$DEMO_STREAMS/$1.sse"; fi
  say "curl -N -H 'Accept: text/event-stream' -X POST $ORCH/api/tasks -H 'Content-Type: application/json' -d '{\"query\": \"list sandfly hosts\", \"streaming\": true}'"
  curl -sN --max-time 150 -H "Accept: text/event-stream" -X POST "$ORCH/api/tasks" \
    -H "Content-Type: application/json" -d '{"query": "list sandfly hosts", "streaming": true}' |
    tee "$save" |
    while IFS= read -r line; do
      case "$line" in
        'data: {"type":"healing_failed"'*) printf '%s\n\n' "$line" ;;
        data:*) if [ ${#line} -gt 230 ]; then printf '%s…\n\n' "${line:0:229}"; else printf '%s\n\n' "$line"; fi ;;
      esac
    done
}

bold "Starting kube-sim with the demo service ($NS/$SVC, 2 replicas)"
"$BIN/kube-sim" --kubeconfig "$work/kubeconfig" --demo --time-scale 0.05 >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_line "$work/sim.out" "kube-sim ready"
kq rollout status deployment/$SVC --timeout=60s >/dev/null
URL=$(kq get service $SVC -o 'jsonpath={.metadata.annotations.kube-sim\.self-heal\.dev/url}')
k get deployment,pods

bold "Starting the orchestrator (worker: $BIN/self-heal)"
cat >"$work/orchestrator.yaml" <<YAML
listen: 127.0.0.1:0
healing:
  timeout: 120s
servers:
  - name: sandfly
    url: $URL/mcp
    transport: mcp
    service: $SVC
    namespace: $NS
    timeout: 60s
    idempotent_tools: [sandfly_list_hosts]
routes:
  - keywords: [host, hosts, node]
    server: sandfly
    tool: sandfly_list_hosts
    arguments: {summary: true, page: 1, size: 100}
YAML
sed 's/^/    /' "$work/orchestrator.yaml"
env -i PATH="$PATH" HOME="$work" KUBECONFIG="$work/kubeconfig" RUST_LOG=warn,heal=info \
  SELF_HEAL_WORKER_PATH="$BIN/self-heal" \
  "$BIN/orchestrator" --config "$work/orchestrator.yaml" >"$work/orch.out" 2>"$work/orch.log" &
orch_pid=$!
wait_line "$work/orch.out" "orchestrator listening"
ORCH="http://$(sed -n 's/^orchestrator listening //p' "$work/orch.out")"
echo "orchestrator at $ORCH"

bold "A healthy call first: no healing"
ask 0-healthy

bold "Scenario 1: service scaled to 0"
k scale deployment/$SVC --replicas=0
kq rollout status deployment/$SVC --timeout=60s >/dev/null
ask 1-scaled-to-zero
k get deployment $SVC

bold "Scenario 2: pod crashed (deleted), pods slow to become ready"
k set env deployment/$SVC SIM_READY_DELAY=8s
kq rollout status deployment/$SVC --timeout=60s >/dev/null
k delete pods -l app=$SVC --wait=false
ask 2-pod-deleted

bold "Scenario 3: bad image (every pod on invalid-image:latest)"
k scale deployment/$SVC --replicas=0
kq rollout status deployment/$SVC --timeout=60s >/dev/null
k set image deployment/$SVC server=invalid-image:latest
k scale deployment/$SVC --replicas=2
for _ in $(seq 1 100); do
  kq get pods -o 'jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}' | grep -q ImagePullBackOff && break
  sleep 0.1
done
k get pods
ask 3-bad-image
say "(a human follows the recommendation)"
k rollout undo deployment/$SVC
kq rollout status deployment/$SVC --timeout=60s >/dev/null

bold "Scenario 4: no endpoints (Service selector broken)"
k patch service $SVC -p '{"spec":{"selector":{"app":"sandfly-mcp-server-v2"}}}'
ask 4-no-endpoints
k patch service $SVC -p '{"spec":{"selector":{"app":"sandfly-mcp-server"}}}'

bold "The heals on record (GET /api/heals) and a few metrics"
curl -s "$ORCH/api/heals" | jq -c '.heals[] | {service, outcome, findings, action, exit_code, duration_ms, requests}'
curl -s "$ORCH/metrics" | grep -E '^orchestrator_(heals_total|retries_total|manual_interventions_total|workers_spawned_total)' || true
echo
echo "The orchestrator's log (one line per heal):"
grep ' heal' "$work/orch.log" || true

bold "Done"
