//! In-cluster configuration, as in the orchestrator's pod: no kubeconfig, the API server from
//! `KUBERNETES_SERVICE_HOST`/`PORT`, the ServiceAccount's token and CA mounted where a pod has
//! them. The mount is made in a private mount namespace (`unshare -rm`) over `/var/run`, so the
//! machine's own `/var/run` is never touched.

use std::path::Path;
use std::process::{Command, Stdio};

use super::*;

/// In the private mount namespace: a tmpfs over /var/run, the ServiceAccount files copied to
/// where a pod has them, then exec self-heal. Paths and arguments arrive as positional
/// parameters, never inside the script text.
const MOUNT_THEN_EXEC: &str = r#"set -e
src=$1; shift
run=$(readlink -f /var/run)
mount -t tmpfs tmpfs "$run"
dir="$run/secrets/kubernetes.io/serviceaccount"
mkdir -p "$dir"
cp "$src/token" "$src/ca.crt" "$src/namespace" "$dir/"
exec "$@""#;

fn in_cluster(sim: &Sim, secrets: &Path, args: &[&str]) -> Run {
    let probe = Command::new("unshare").args(["-rm", "true"]).status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "this test needs user and mount namespaces (unshare -rm); they are unavailable here"
    );
    let port = sim.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let out = Command::new("unshare")
        .args(["-rm", "--", "sh", "-c", MOUNT_THEN_EXEC, "sh"])
        .arg(secrets)
        .arg(env!("CARGO_BIN_EXE_self-heal"))
        .args(["--output", "ndjson"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sim.dir())
        .env("NO_COLOR", "1")
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", port)
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    finish(out)
}

#[test]
fn in_cluster_config_heals_as_the_pods_service_account() {
    let sim = demo_at(2);
    let rbac = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml");
    sim.service_account_kubeconfig("cortex", "self-heal", &[&rbac]);
    let token = sim.kubectl_ok(&["-n", "cortex", "create", "token", "self-heal"]).trim().to_string();
    let secrets = sim.dir().join("serviceaccount");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("token"), &token).unwrap();
    std::fs::write(secrets.join("ca.crt"), sim.ca_pem()).unwrap();
    std::fs::write(secrets.join("namespace"), "cortex").unwrap();
    kubectl(&sim, &["scale", DEPLOY, "--replicas=0"]);
    let url = mcp_url(&sim);

    sim.clear_requests();
    let run = in_cluster(&sim, &secrets, &["-n", NS, "heal", SVC, "connect ECONNREFUSED", &url]);
    let reqs = Requests(sim.requests());
    assert_eq!(run.code, 0, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "healed");
    assert!(!reqs.0.is_empty());
    let users: std::collections::BTreeSet<&str> = reqs.0.iter().map(|r| r.user.as_str()).collect();
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        ["system:serviceaccount:cortex:self-heal"],
        "every request with the mounted token:\n{}",
        reqs.dump()
    );
    assert!(reqs.0.iter().all(|r| r.code != 401 && r.code != 403), "never denied:\n{}", reqs.dump());
    reqs.assert_one_workload_patch(&run);
    assert_eq!(deployment(&sim)["spec"]["replicas"], 2);
    assert_one_event(&sim, &run, "SelfHealScaled", "from 0 to 2 replicas");
}

#[test]
fn in_cluster_without_a_mounted_token_is_exit_5_before_any_request() {
    let sim = demo_at(2);
    let empty = sim.dir().join("no-serviceaccount");
    std::fs::create_dir_all(&empty).unwrap();
    // ca.crt and namespace but no token: the copy fails, so mount an empty token instead.
    std::fs::write(empty.join("token"), "").unwrap();
    std::fs::write(empty.join("ca.crt"), "not a certificate").unwrap();
    std::fs::write(empty.join("namespace"), "cortex").unwrap();
    sim.clear_requests();
    let run = in_cluster(&sim, &empty, &["-n", NS, "diagnose", SVC]);
    assert_eq!(run.code, 5, "{}", run.dump());
    assert_eq!(run.result()["outcome"], "error");
    assert!(run.stderr.contains("in-cluster"), "says which configuration failed: {}", run.stderr);
    assert_eq!(sim.requests(), Vec::new(), "nothing sent with a broken configuration");
}
