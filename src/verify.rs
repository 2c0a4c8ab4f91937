//! Proof that the service answers: first the Service has ready endpoints (by watching its
//! EndpointSlices), then a probe chosen by `--probe` (`http`, `mcp` or `tcp`), retried with a
//! short back-off until it succeeds or the deadline passes. Probes go straight to the URL only
//! when it names the Service itself and resolves, else through the API server's service proxy
//! ([`route`]); either way only the Service is probed, no redirect is followed and at most
//! 64 KiB of an answer is read.

pub mod mcp;
pub mod probe;
pub mod route;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use url::Url;

use crate::client::WATCH_TIMEOUT_SECS;
use crate::events::CheckKind;
use mcp::{BoundedProbe, KubePoster, McpProbe};
use probe::Attempt;
pub use route::{Route, Target};

/// How verification proves the service answers (`--probe`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// GET; any status below 500 is alive.
    #[default]
    Http,
    /// MCP `initialize` + `tools/list`.
    Mcp,
    /// A TCP connection is accepted.
    Tcp,
}

impl ProbeKind {
    /// The check kind reported for this probe.
    pub fn check_kind(self) -> CheckKind {
        match self {
            ProbeKind::Http => CheckKind::Http,
            ProbeKind::Mcp => CheckKind::Mcp,
            ProbeKind::Tcp => CheckKind::Tcp,
        }
    }
}

/// What to verify.
#[derive(Clone, Debug)]
pub struct VerifyRequest {
    /// Namespace of the Service.
    pub namespace: String,
    /// The Service.
    pub service: String,
    /// The Service's ClusterIPs (a URL whose host is one of them names the Service).
    pub cluster_ips: Vec<String>,
    /// The Service port to probe through the proxy (default: the URL's port, else the only one).
    pub port: Option<u16>,
    /// The URL callers use, if known.
    pub url: Option<Url>,
    /// Which probe.
    pub probe: ProbeKind,
    /// Path to probe instead of the URL's own (`--health-path`).
    pub health_path: Option<String>,
    /// When to give up.
    pub deadline: Instant,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// endpoints, http, mcp or tcp.
    pub kind: CheckKind,
    /// Whether it passed.
    pub ok: bool,
    /// A sentence.
    pub message: String,
    /// Time taken (endpoints: until ready; probes: the reported attempt).
    pub latency: Duration,
    /// How a probe reached the service; `None` for the endpoints check (read from the API).
    pub route: Option<Route>,
}

/// The verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyOutcome {
    /// Every check passed.
    pub ok: bool,
    /// The final result of each check run, in order (a failed endpoints check skips the probe).
    pub checks: Vec<CheckResult>,
}

/// A client for verification: `config` without kube's default retries of 429/503/504, so a
/// probe through the service proxy sees the service's own status at once.
///
/// # Errors
/// kube's error if the client cannot be built from `config`.
pub fn probe_client(mut config: kube::Config) -> Result<Client, kube::Error> {
    config.default_retry = false;
    Client::try_from(config)
}

/// Per-attempt timeouts.
const HTTP_ATTEMPT: Duration = Duration::from_secs(5);
const MCP_ATTEMPT: Duration = Duration::from_secs(10);
/// Back-off between probe attempts: starts here, doubles, capped.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(3);

/// Verifies with the default MCP client (rmcp). See [`verify_with`].
///
/// Give it a client from [`probe_client`]: kube's default client silently retries 503/504
/// answers, so a service's 503 through the proxy would show as "no answer within 5s" instead
/// of its status (the verdict, not alive, is the same either way).
pub async fn verify(client: &Client, req: &VerifyRequest, on_check: impl FnMut(&CheckResult)) -> VerifyOutcome {
    let mcp_probe = BoundedProbe { client: probe::direct_client().map_err(|e| probe::error_chain(&e)) };
    verify_with(client, req, &mcp_probe, on_check).await
}

/// Verifies: endpoints first, then the probe. `on_check` sees each final result and, while a
/// probe keeps failing, each attempt whose message differs from the last one reported (so a
/// caller can show progress); [`VerifyOutcome::checks`] holds only the final results.
pub async fn verify_with(
    client: &Client,
    req: &VerifyRequest,
    mcp_probe: &dyn McpProbe,
    mut on_check: impl FnMut(&CheckResult),
) -> VerifyOutcome {
    let endpoints = wait_endpoints(client, &req.namespace, &req.service, req.deadline).await;
    on_check(&endpoints);
    let mut checks = vec![endpoints.clone()];
    if !endpoints.ok {
        return VerifyOutcome { ok: false, checks };
    }
    let target = route::choose(
        &req.namespace,
        &req.service,
        &req.cluster_ips,
        req.port,
        req.url.as_ref(),
        req.health_path.as_deref(),
    )
    .await;
    let result = probe_until(client, req, &target, mcp_probe, &mut on_check).await;
    on_check(&result);
    let ok = result.ok;
    checks.push(result);
    VerifyOutcome { ok, checks }
}

async fn probe_until(
    client: &Client,
    req: &VerifyRequest,
    target: &Target,
    mcp_probe: &dyn McpProbe,
    on_check: &mut impl FnMut(&CheckResult),
) -> CheckResult {
    let http = probe::direct_client();
    let kind = req.probe.check_kind();
    let mut backoff = BACKOFF_START;
    let mut last_reported = String::new();
    loop {
        let left = req.deadline.saturating_duration_since(Instant::now());
        let per_attempt = if req.probe == ProbeKind::Mcp { MCP_ATTEMPT } else { HTTP_ATTEMPT };
        let timeout = per_attempt.min(left).max(Duration::from_millis(100));
        let started = Instant::now();
        let attempt = match (&http, req.probe, target) {
            (Err(e), _, Target::Direct(_)) => {
                Attempt { ok: false, message: format!("failed to build an HTTP client: {}", probe::error_chain(e)) }
            }
            (Ok(h), ProbeKind::Http, Target::Direct(url)) => probe::http_direct(h, url, timeout).await,
            (_, ProbeKind::Http, Target::ApiProxy(path)) => probe::http_proxy(client, path, timeout).await,
            (_, ProbeKind::Tcp, Target::Direct(url)) => probe::tcp_direct(url, timeout).await,
            (_, ProbeKind::Tcp, Target::ApiProxy(path)) => probe::tcp_proxy(client, path, timeout).await,
            (_, ProbeKind::Mcp, Target::Direct(url)) => mcp_attempt(mcp_probe.probe(url, timeout).await, url.as_str()),
            (_, ProbeKind::Mcp, Target::ApiProxy(path)) => {
                let poster = KubePoster { client: client.clone(), path: path.clone() };
                mcp_attempt(mcp::exchange_within(&poster, timeout).await, &format!("{path} via the API server"))
            }
        };
        let result = CheckResult {
            kind,
            ok: attempt.ok,
            message: attempt.message,
            latency: started.elapsed(),
            route: Some(target.route()),
        };
        if result.ok {
            return result;
        }
        let now = Instant::now();
        if now + backoff >= req.deadline {
            return result;
        }
        if result.message != last_reported {
            on_check(&result);
            last_reported = result.message.clone();
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

fn mcp_attempt(r: Result<mcp::McpSummary, String>, at: &str) -> Attempt {
    match r {
        Ok(s) => Attempt {
            ok: true,
            message: format!(
                "MCP server {:?} at {at} answered initialize and tools/list ({} tools)",
                s.server, s.tools
            ),
        },
        Err(e) => Attempt { ok: false, message: format!("{e} ({at})") },
    }
}

/// Ready addresses across a Service's EndpointSlices (a missing `ready` condition counts as
/// ready, as the API defines; terminating endpoints do not count).
pub fn ready_endpoints<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>) -> usize {
    slices
        .into_iter()
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| {
            let c = e.conditions.as_ref();
            c.and_then(|c| c.ready).unwrap_or(true) && !c.and_then(|c| c.terminating).unwrap_or(false)
        })
        .map(|e| e.addresses.len())
        .sum()
}

/// Waits (watching EndpointSlices labelled `kubernetes.io/service-name=<service>`) until the
/// Service has at least one ready endpoint, or the deadline.
pub async fn wait_endpoints(client: &Client, ns: &str, service: &str, deadline: Instant) -> CheckResult {
    let started = Instant::now();
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let cfg =
        watcher::Config::default().timeout(WATCH_TIMEOUT_SECS).labels(&format!("kubernetes.io/service-name={service}"));
    let stream = crate::watch::resumable(api, &cfg);
    let mut items: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut relist: Option<BTreeMap<String, EndpointSlice>> = None;
    let mut last_error: Option<String> = None;
    let work = async {
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            let key = |s: &EndpointSlice| s.metadata.name.clone().unwrap_or_default();
            match ev {
                Err(e) => {
                    last_error = Some(probe::error_chain(&e));
                    continue;
                }
                Ok(watcher::Event::Apply(s)) => {
                    items.insert(key(&s), s);
                }
                Ok(watcher::Event::Delete(s)) => {
                    items.remove(&key(&s));
                }
                Ok(watcher::Event::Init) => relist = Some(BTreeMap::new()),
                Ok(watcher::Event::InitApply(s)) => {
                    relist.get_or_insert_with(BTreeMap::new).insert(key(&s), s);
                }
                Ok(watcher::Event::InitDone) => {
                    if let Some(fresh) = relist.take() {
                        items = fresh;
                    }
                }
            }
            if relist.is_some() {
                continue;
            }
            let n = ready_endpoints(items.values());
            if n > 0 {
                return n;
            }
        }
        0
    };
    let ready = tokio::time::timeout_at(deadline, work).await.unwrap_or(0);
    let message = if ready > 0 {
        format!("service {ns}/{service} has {ready} ready endpoint{}", if ready == 1 { "" } else { "s" })
    } else {
        let why = last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default();
        format!(
            "service {ns}/{service} has no ready endpoints after {}{why}",
            humantime::format_duration(Duration::from_secs(started.elapsed().as_secs()))
        )
    };
    CheckResult { kind: CheckKind::Endpoints, ok: ready > 0, message, latency: started.elapsed(), route: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    use crate::act::fake_api;

    fn slice(ready: bool) -> serde_json::Value {
        json!({"metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": ready}}]})
    }

    fn request(probe: ProbeKind, within: Duration) -> VerifyRequest {
        VerifyRequest {
            namespace: "ns".into(),
            service: "web".into(),
            cluster_ips: vec![],
            port: None,
            url: Some("http://web.ns.svc.cluster.local:3000/mcp".parse().unwrap()),
            probe,
            health_path: None,
            deadline: Instant::now() + within,
        }
    }

    /// A fake API server: EndpointSlices (ready or not) and a service proxy answering `proxy`.
    async fn cluster(ready: bool, proxy: u16) -> Client {
        cluster_with(true, ready, proxy).await.0
    }

    /// [`cluster`], choosing kube's retries, with the fake's request log.
    async fn cluster_with(retries: bool, ready: bool, proxy: u16) -> (Client, Arc<Mutex<Vec<fake_api::Seen>>>) {
        fake_api::start_with(retries, move |req, _| {
            if req.uri.contains("/endpointslices") {
                (200, fake_api::list("EndpointSliceList", vec![slice(ready)]))
            } else if req.uri.starts_with("/api/v1/namespaces/ns/services/web:3000/proxy/mcp") {
                match (proxy, req.body["method"].as_str()) {
                    (200, Some("initialize")) => (
                        200,
                        json!({"jsonrpc": "2.0", "id": 1, "result": {
                        "protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "sandfly"}}}),
                    ),
                    (200, Some("tools/list")) => (200, json!({"jsonrpc": "2.0", "id": 2, "result": {"tools": []}})),
                    (200, _) => (202, json!({})),
                    (503, _) => {
                        (503, fake_api::status(503, "ServiceUnavailable", "no endpoints available for service \"web\""))
                    }
                    (code, _) => (code, json!({"error": "method not allowed"})),
                }
            } else {
                (404, fake_api::status(404, "NotFound", "nope"))
            }
        })
        .await
    }

    #[tokio::test]
    async fn http_through_the_proxy_counts_4xx_as_alive() {
        let client = cluster(true, 405).await;
        let mut reported = Vec::new();
        let out =
            verify(&client, &request(ProbeKind::Http, Duration::from_secs(10)), |c| reported.push(c.clone())).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(out.checks.len(), 2);
        assert_eq!(out.checks[0].kind, CheckKind::Endpoints);
        assert_eq!(out.checks[1].route, Some(Route::ApiProxy));
        assert!(out.checks[1].message.contains("405"), "{out:?}");
        assert_eq!(reported, out.checks);
    }

    #[tokio::test]
    async fn proxy_503_is_not_alive_until_the_deadline() {
        let (client, log) = cluster_with(false, true, 503).await;
        let mut attempts = 0;
        let out = verify(&client, &request(ProbeKind::Http, Duration::from_millis(1500)), |_| attempts += 1).await;
        assert!(!out.ok);
        assert!(
            out.checks[1].message.contains("503") && out.checks[1].message.contains("no endpoints available"),
            "{out:?}"
        );
        assert!(attempts >= 3, "endpoints, at least one failed attempt, and the final result: {attempts}");
        // Backing off (250 ms, then doubling): a handful of probes in 1.5 s, not a flood.
        let probes = log.lock().unwrap().iter().filter(|r| r.uri.contains("/proxy/")).count();
        assert!((2..=5).contains(&probes), "{probes} probes in 1.5 s");
        // With kube's default retries the 503 is hidden behind the attempt timeout, but the
        // verdict is the same.
        let (retrying, _) = cluster_with(true, true, 503).await;
        let out = verify(&retrying, &request(ProbeKind::Http, Duration::from_millis(800)), |_| {}).await;
        assert!(!out.ok, "{out:?}");
    }

    #[tokio::test]
    async fn a_500_through_the_proxy_is_not_alive_but_a_499_is() {
        let (client, _) = cluster_with(false, true, 500).await;
        let out = verify(&client, &request(ProbeKind::Http, Duration::from_millis(600)), |_| {}).await;
        assert!(!out.ok && out.checks[1].message.contains("500"), "{out:?}");
        let out = verify(&cluster(true, 499).await, &request(ProbeKind::Http, Duration::from_secs(5)), |_| {}).await;
        assert!(out.ok, "{out:?}");
    }

    #[tokio::test]
    async fn mcp_through_the_proxy() {
        let client = cluster(true, 200).await;
        let out = verify(&client, &request(ProbeKind::Mcp, Duration::from_secs(10)), |_| {}).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(out.checks[1].kind, CheckKind::Mcp);
        assert!(out.checks[1].message.contains("\"sandfly\""), "{out:?}");
    }

    #[tokio::test]
    async fn no_ready_endpoints_skips_the_probe() {
        let client = cluster(false, 200).await;
        let out = verify(&client, &request(ProbeKind::Http, Duration::from_millis(500)), |_| {}).await;
        assert!(!out.ok);
        assert_eq!(out.checks.len(), 1);
        assert!(out.checks[0].message.contains("no ready endpoints"), "{out:?}");
    }

    #[tokio::test]
    async fn endpoints_that_become_ready_arrive_by_watch() {
        let (client, log, watches) = fake_api::start_watched(|req, _| {
            if req.uri.contains("/endpointslices") {
                (200, fake_api::list("EndpointSliceList", vec![slice(false)]))
            } else {
                (404, fake_api::status(404, "NotFound", "nope"))
            }
        })
        .await;
        let mut ready = slice(true);
        ready["metadata"]["resourceVersion"] = json!("101");
        let (check, ()) = tokio::join!(
            wait_endpoints(&client, "ns", "web", Instant::now() + Duration::from_secs(10)),
            watches.send("endpointslices", "MODIFIED", ready)
        );
        assert!(check.ok, "{check:?}");
        let log = log.lock().unwrap();
        assert!(log[0].uri.contains("labelSelector=kubernetes.io%2Fservice-name%3Dweb"), "{:?}", log[0]);
        assert_eq!(log.iter().filter(|s| !s.uri.contains("watch=")).count(), 1, "one list, then the watch");
    }

    #[test]
    fn counts_only_ready_non_terminating_addresses() {
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "s-1"}, "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false, "serving": false, "terminating": false}},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": false, "serving": true, "terminating": true}},
                {"addresses": ["10.0.0.4"]}
            ]
        }))
        .unwrap();
        assert_eq!(ready_endpoints([&slice]), 2);
        let empty: EndpointSlice =
            serde_json::from_value(json!({"metadata": {"name": "s-2"}, "addressType": "IPv4", "endpoints": null}))
                .unwrap();
        assert_eq!(ready_endpoints([&empty]), 0);
    }
}
