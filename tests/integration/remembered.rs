//! The remembered replica count is exact (issue 8, item 3): a rollout finishes, then automation
//! scales the Deployment 3 → 0 within a second or two. Both the rollout's last "Scaled down
//! replica set <old> from 1 to 0" and the scale's "Scaled down replica set <new> from 3 to 0"
//! are then the newest scale-downs; only the one that took the workload to 0 counts.

use std::time::Duration;

use serde_json::Value;

use crate::heal::heal;
use crate::util::{Sim, eventually, refused};

const NS: &str = "cortex-system";
const SVC: &str = "sandfly-mcp-server";
const DEPLOY: &str = "deployment/sandfly-mcp-server";

fn kubectl(sim: &Sim, args: &[&str]) -> String {
    let mut full = vec!["-n", NS];
    full.extend_from_slice(args);
    sim.kubectl_ok(&full)
}

/// (time, message) of the deployment controller's scale-downs to 0.
fn scale_downs_to_zero(sim: &Sim) -> Vec<(jiff::Timestamp, String)> {
    let events = sim.get_json(NS, "events");
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "ScalingReplicaSet")
        .filter_map(|e: &Value| {
            let msg = e["message"].as_str()?;
            let t = e["lastTimestamp"].as_str().or(e["eventTime"].as_str())?.parse().ok()?;
            (msg.contains("Scaled down replica set") && msg.ends_with(" to 0")).then(|| (t, msg.to_string()))
        })
        .collect()
}

#[test]
fn a_rollout_then_a_fast_scale_to_zero_is_healed_back_to_exactly_three() {
    let sim = Sim::demo();
    kubectl(&sim, &["scale", DEPLOY, "--replicas=3"]);
    kubectl(&sim, &["rollout", "status", DEPLOY, "--timeout=60s"]);
    // A rollout (new pod template), to its end, then the scale to 0 at once, as automation does:
    // the end is watched for and the scale sent over the API directly, not by two kubectl
    // processes whose start-up under load would push the two scale-downs apart.
    kubectl(&sim, &["set", "env", DEPLOY, "RELEASE=2"]);
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments/{SVC}");
    eventually("the rollout to end", Duration::from_secs(60), || {
        let (code, body) = sim.api("GET", &path, None);
        let dep: Value = serde_json::from_str(&body).ok().filter(|_| code == 200)?;
        let st = &dep["status"];
        let done = st["observedGeneration"] == dep["metadata"]["generation"]
            && st["updatedReplicas"] == 3
            && st["replicas"] == 3
            && st["availableReplicas"] == 3;
        done.then_some(())
    });
    let (code, body) = sim.api(
        "PATCH",
        &format!("{path}/scale"),
        Some(("application/merge-patch+json", r#"{"spec":{"replicas":0}}"#)),
    );
    assert_eq!(code, 200, "{body}");
    let url = format!("{}/mcp", sim.service_url(NS, SVC));
    eventually("the service to refuse", Duration::from_secs(10), || refused(&url).then_some(()));

    // The defect's precondition: the old ReplicaSet's last scale-down to 0 and the scale to 0
    // are within 2 s of each other (summed, they made 4).
    let downs = scale_downs_to_zero(&sim);
    assert_eq!(downs.len(), 2, "the rollout's and the scale's: {downs:?}");
    let apart = downs[0].0.duration_since(downs[1].0).unsigned_abs();
    assert!(apart <= Duration::from_secs(2), "within 2 s, as in the defect: {downs:?}");

    let run = heal(&sim, &["heal", SVC, "connect ECONNREFUSED", &url]);
    assert_eq!(run.code, 0, "{}", run.dump());
    let plan = run.events("plan")[0];
    assert_eq!(plan["action"], "scale", "{}", run.dump());
    assert_eq!(plan["detail"]["replicas"], 3, "{}", run.dump());
    assert_eq!(plan["detail"]["source"], "scaling_event");
    assert_eq!(plan["detail"]["exact"], true, "{}", run.dump());
    let basis = plan["detail"]["basis"].as_str().unwrap();
    assert!(basis.contains("from 3 to 0, the step that took the workload to 0"), "{basis}");
    assert!(basis.contains("not counted"), "names the rollout's scale-down: {basis}");
    let dep = sim.get_json(NS, DEPLOY);
    assert_eq!(dep["spec"]["replicas"], 3, "exactly 3, not 4: {}", run.dump());
}
