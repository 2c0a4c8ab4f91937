//! The Kubernetes API misbehaving under `self-heal`: 429 with Retry-After, 5xx, dropped and
//! expired watches, conflicts, connections lost before the answer.
//!
//! Each fault kind × {scaled to 0, crash loop}: the heal exits 0 with exactly one result line,
//! last; the cluster's Events show exactly one remediation; the fault was hit; the service
//! answers; the Lease is not left held. An API down to the deadline ends in exit 5 naming the
//! error. One randomized test draws faults from the seed.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Rng, remediations, runs, seed};
use crate::heal::{Run, heal};
use crate::util::{Sim, eventually, http_get_status, refused};

const NS: &str = "cortex-system";
const SVC: &str = "sandfly-mcp-server";
const DEPLOY: &str = "deployment/sandfly-mcp-server";

/// The two broken states every fault is tried on.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    ScaledToZero,
    CrashLoop,
}

const SCENARIOS: [Scenario; 2] = [Scenario::ScaledToZero, Scenario::CrashLoop];

fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

fn mcp_url(sim: &Sim) -> String {
    format!("{}/mcp", sim.service_url(NS, SVC))
}

fn crash_looping(sim: &Sim) -> bool {
    sim.get_json(NS, "pods")["items"].as_array().is_some_and(|pods| {
        pods.iter().any(|p| {
            p["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff"))
        })
    })
}

/// The demo cluster, broken the scenario's way, before any fault is switched on.
fn broken(scenario: Scenario) -> Sim {
    let sim = Sim::demo();
    // Pods that take a moment to be ready, so the heal's wait always watches (and meets the
    // watch faults) instead of finding them ready in its first list.
    kubectl(&sim, &["set", "env", DEPLOY, "SIM_READY_DELAY=1s"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    if let Scenario::CrashLoop = scenario {
        kubectl(&sim, &["set", "env", DEPLOY, "SIM_CRASH=until-restart"]);
        kubectl(&sim, &["scale", DEPLOY, "--replicas=2"]);
        eventually("a pod in CrashLoopBackOff", Duration::from_secs(30), || crash_looping(&sim).then_some(()));
    } else {
        let url = mcp_url(&sim);
        eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));
    }
    sim
}

/// The fault kinds of issue 8, each aimed where this heal meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    TooManyRequests,
    Internal,
    Unavailable,
    GatewayTimeout,
    Latency,
    WatchClose,
    GoneOnResume,
    Conflict,
    DropBefore,
    DropAfter,
}

const FAULTS: [Fault; 10] = [
    Fault::TooManyRequests,
    Fault::Internal,
    Fault::Unavailable,
    Fault::GatewayTimeout,
    Fault::Latency,
    Fault::WatchClose,
    Fault::GoneOnResume,
    Fault::Conflict,
    Fault::DropBefore,
    Fault::DropAfter,
];

/// The rule for a fault: reads of the heal's first steps, the watches of its wait, the write of
/// its remediation.
fn rule(fault: Fault) -> Value {
    let deployment_write = json!({"verb": "patch", "resource": "deployments", "namespace": NS});
    match fault {
        Fault::TooManyRequests => json!({"match": {"verb": "get", "resource": "services", "namespace": NS},
            "action": {"status": 429, "retryAfterSeconds": 1}, "count": 2}),
        Fault::Internal => json!({"match": {"verb": "list", "resource": "pods", "namespace": NS},
            "action": {"status": 500}, "count": 2}),
        Fault::Unavailable => json!({"match": {"verb": "get", "resource": "deployments", "namespace": NS},
            "action": {"status": 503}, "count": 2}),
        Fault::GatewayTimeout => json!({"match": {"verb": "get", "resource": "services", "namespace": NS},
            "action": {"status": 504}, "count": 2}),
        Fault::Latency => json!({"match": {"resource": "deployments", "namespace": NS},
            "action": {"latencyMs": 300}, "count": 6}),
        Fault::WatchClose => json!({"match": {"verb": "watch", "resource": "pods", "namespace": NS},
            "action": {"watchClose": {"afterEvents": 1}}, "count": 4}),
        Fault::GoneOnResume => json!({"match": {"verb": "watch", "resource": "pods", "namespace": NS},
            "action": {"gone": true}, "count": 2}),
        Fault::Conflict => json!({"match": deployment_write, "action": {"conflict": true}, "count": 1}),
        Fault::DropBefore => json!({"match": deployment_write, "action": {"drop": "before"}, "count": 1}),
        Fault::DropAfter => json!({"match": deployment_write, "action": {"drop": "after"}, "count": 1}),
    }
}

/// No Lease of self-heal is left held.
fn held_leases(sim: &Sim) -> Vec<String> {
    let leases = sim.get_json(NS, "leases");
    leases["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("self-heal")))
        .filter(|l| l["spec"]["holderIdentity"].as_str().is_some_and(|h| !h.is_empty()))
        .map(|l| l.to_string())
        .collect()
}

/// The invariants of one incident healed under faults (`what` names it in messages).
fn assert_healed_once(sim: &Sim, run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}: {}", run.dump());
    assert_eq!(run.result()["outcome"], "healed", "{what}: {}", run.dump());
    // parse_ndjson already checked: exactly one result line, and it is last.
    let done = remediations(sim);
    assert_eq!(done.len(), 1, "{what}: exactly one remediation in the Events: {done:#?}\n{}", run.dump());
    let health = format!("{}/health", sim.service_url(NS, SVC));
    eventually(&format!("{what}: the service to answer"), Duration::from_secs(10), || {
        (http_get_status(&health) == Some(200)).then_some(())
    });
    assert!(held_leases(sim).is_empty(), "{what}: a Lease left held: {:?}", held_leases(sim));
}

fn heal_under(scenario: Scenario, fault: Fault) {
    let sim = broken(scenario);
    // The URL first: the test's own kubectl must not meet (or use up) the fault.
    let url = mcp_url(&sim);
    let id = sim.add_fault(rule(fault));
    let run = heal(&sim, &["--timeout", "60s", "heal", SVC, "connect ECONNREFUSED", &url]);
    let what = format!("{scenario:?} under {fault:?}");
    assert!(sim.fault_hits(&id) > 0, "{what}: the fault was never hit: {}", run.dump());
    assert_healed_once(&sim, &run, &what);
}

macro_rules! fault_tests {
    ($($name:ident: $fault:expr,)*) => {
        $(
            #[test]
            fn $name() {
                for scenario in SCENARIOS {
                    heal_under(scenario, $fault);
                }
            }
        )*
    };
}

fault_tests! {
    heals_through_429_with_retry_after: Fault::TooManyRequests,
    heals_through_500: Fault::Internal,
    heals_through_503: Fault::Unavailable,
    heals_through_504: Fault::GatewayTimeout,
    heals_through_latency: Fault::Latency,
    heals_through_closed_watches: Fault::WatchClose,
    heals_through_410_on_watch_resume: Fault::GoneOnResume,
    heals_through_a_conflict_on_the_write: Fault::Conflict,
    heals_when_the_write_is_dropped_before_it_lands: Fault::DropBefore,
    heals_when_the_answer_to_the_write_is_lost: Fault::DropAfter,
}

#[test]
fn an_api_unavailable_to_the_deadline_exits_5_naming_the_error() {
    let sim = broken(Scenario::ScaledToZero);
    let url = mcp_url(&sim);
    let id = sim.add_fault(json!({"match": {"resource": "services"}, "action": {"status": 503}}));
    let started = std::time::Instant::now();
    let run = heal(&sim, &["--timeout", "5s", "heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 5, "{}", run.dump());
    assert!(started.elapsed() < Duration::from_secs(9), "ends by the deadline: {:?}", started.elapsed());
    let diagnosis = run.result()["diagnosis"].as_str().unwrap();
    assert!(
        diagnosis
            .starts_with(&format!("The Kubernetes API answered 503 Service Unavailable to GET services/{SVC} for ")),
        "{}",
        run.dump()
    );
    assert!(sim.fault_hits(&id) >= 3, "retried with backoff, not given up at once");
    assert_eq!(sim.get_json(NS, "deployment/sandfly-mcp-server")["spec"]["replicas"], 0, "nothing changed");
    assert!(remediations(&sim).is_empty());
}

#[test]
fn randomized_faults_keep_the_invariants() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let n = runs(2);
    let mut table: Vec<String> = Vec::new();
    for i in 0..n {
        let scenario = SCENARIOS[rng.below(SCENARIOS.len())];
        // Two faults at once, drawn from the seed.
        let first = FAULTS[rng.below(FAULTS.len())];
        let second = FAULTS[rng.below(FAULTS.len())];
        let sim = broken(scenario);
        let url = mcp_url(&sim);
        let ids = sim.add_faults(json!([rule(first), rule(second)]));
        let run = heal(&sim, &["--timeout", "60s", "heal", SVC, "connect ECONNREFUSED", &url]);
        let what = format!("seed {seed} run {i}: {scenario:?} under {first:?} + {second:?}");
        let hits: Vec<u64> = ids.iter().map(|id| sim.fault_hits(id)).collect();
        assert_healed_once(&sim, &run, &what);
        table.push(format!("{what}: exit {} hits {hits:?}", run.code));
    }
    eprintln!("{}", table.join("\n"));
}
