#!/usr/bin/env bash
# The healing story on kube-sim: for each of the seed's four scenarios, break
# sandfly-mcp-server with kubectl, show that the service refuses, run `self-heal heal` in human
# mode, and show the service answering again (or, for the bad image, the recommendation and
# exit code 3).
set -euo pipefail
BIN=${BIN:-target/debug}
KUBECTL=${KUBECTL:-kubectl}
NS=cortex-system
SVC=sandfly-mcp-server

work=$(mktemp -d)
sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '\033[2m$ %s\033[0m\n' "$*"; }
k() { say "kubectl -n $NS $*"; "$KUBECTL" --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" -n "$NS" "$@"; }
kq() { "$KUBECTL" --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" -n "$NS" "$@"; }

# Is the service's loopback address refusing connections, as kube-proxy does with no endpoints?
probe() {
  local hostport=${URL#http://}
  if (exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}") 2>/dev/null; then
    echo "service $URL: accepts connections"
  else
    echo "service $URL: connection refused"
  fi
}

heal() {
  say "self-heal heal $SVC \"$1\" $URL/mcp"
  set +e
  "$BIN/self-heal" --kubeconfig "$work/kubeconfig" --output human heal "$SVC" "$1" "$URL/mcp" "${@:2}"
  local code=$?
  set -e
  echo "exit code: $code"
}

bold "Starting kube-sim with the demo service ($NS/$SVC, 2 replicas)"
"$BIN/kube-sim" --kubeconfig "$work/kubeconfig" --demo --time-scale 0.05 >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do grep -q '^kube-sim ready' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
grep '^kube-sim ready' "$work/sim.out"
kq rollout status deployment/$SVC --timeout=60s >/dev/null
URL=$(kq get service $SVC -o 'jsonpath={.metadata.annotations.kube-sim\.self-heal\.dev/url}')
k get deployment,pods
probe

bold "Scenario 1: service scaled to 0"
k scale deployment/$SVC --replicas=0
sleep 1
probe
heal "connect ECONNREFUSED"
probe

bold "Scenario 2: pod deleted"
pod=$(kq get pods -l app=$SVC -o 'jsonpath={.items[0].metadata.name}')
k delete pod "$pod" --wait=false
heal "connection reset by peer"
probe

bold "Scenario 3: bad image (kubectl set image ... invalid-image:latest)"
k set image deployment/$SVC server=invalid-image:latest
sleep 2
k get pods
heal "502 Bad Gateway"
say "(a human follows the recommendation)"
k rollout undo deployment/$SVC
kq rollout status deployment/$SVC --timeout=60s >/dev/null

bold "Scenario 4: no endpoints (Service selector broken)"
k patch service $SVC -p '{"spec":{"selector":{"app":"sandfly-mcp-server-v2"}}}'
sleep 1
probe
heal "connect ECONNREFUSED"
k patch service $SVC -p '{"spec":{"selector":{"app":"sandfly-mcp-server"}}}'
sleep 1
probe

bold "Bonus: a crash loop that a rollout restart clears"
k scale deployment/$SVC --replicas=0
kq rollout status deployment/$SVC --timeout=60s >/dev/null
k set env deployment/$SVC SIM_CRASH=until-restart
k scale deployment/$SVC --replicas=2
for _ in $(seq 1 100); do
  kq get pods -o 'jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}' | grep -q CrashLoopBackOff && break
  sleep 0.1
done
k get pods
heal "connect ECONNREFUSED"
probe

bold "Done"
