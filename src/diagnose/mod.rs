//! Diagnosis: [`gather`] reads everything about a [`Target`] into a [`Snapshot`] (concurrently,
//! read-only, never a Secret or ConfigMap); [`check_all`] turns the snapshot into findings, purely.

mod checks;
mod evidence;
#[cfg(test)]
pub(crate) mod fake_api;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod logs;
mod rollout;
#[cfg(test)]
mod sim_tests;
mod workload;

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Endpoints, Event, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

pub use checks::{
    RolloutStage, RolloutState, STARTUP_GRACE, check_all, endpoint_counts, is_starting, on_newest_revision,
    rollout_state,
};
pub use evidence::{BAD_WAITING, event_time, is_pod_ready, ready_pod_count};
pub use workload::{Workload, revision as workload_revision};

use crate::events::Finding;
use crate::resolve::{Target, WorkloadKind, list_paged, selector_string};

/// How many Warning events a snapshot keeps.
pub const MAX_WARNINGS: usize = 10;
/// How many pods get their Events read.
const MAX_EVENT_PODS: usize = 10;

/// Everything diagnosis read about a target, at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// What was resolved.
    pub target: Target,
    /// The workload object; `None` when there is none (or it vanished since resolution).
    pub workload: Option<Workload>,
    /// The Deployment's ReplicaSets (empty for a StatefulSet).
    pub replica_sets: Vec<ReplicaSet>,
    /// Pods of the Service's selector and of the workload's selector, by name.
    pub pods: Vec<Pod>,
    /// The Service's Endpoints object, if any.
    pub endpoints: Option<Endpoints>,
    /// The Service's EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// All Events of the workload itself (e.g. `ScalingReplicaSet`), oldest first.
    pub workload_events: Vec<Event>,
    /// The last [`MAX_WARNINGS`] Warning events of the workload, its ReplicaSets and pods, oldest first.
    pub warnings: Vec<Event>,
    /// HorizontalPodAutoscalers in the namespace.
    pub hpas: Vec<HorizontalPodAutoscaler>,
    /// KEDA ScaledObjects in the namespace (empty when KEDA is not installed).
    pub scaled_objects: Vec<DynamicObject>,
    /// Error-looking log lines of failing containers.
    pub logs: Vec<logs::ContainerLog>,
    /// When no workload was resolved: the namespace's Deployments and StatefulSets, to spot a
    /// selector that does not match the workload it was meant for.
    pub candidates: Vec<Workload>,
}

/// ConfigMap or Secret (what a CreateContainerConfigError names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigKind {
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 Secret.
    Secret,
}

impl ConfigKind {
    /// `ConfigMap` or `Secret`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::ConfigMap => "ConfigMap",
            ConfigKind::Secret => "Secret",
        }
    }
}

/// A snapshot and what the checks found in it.
#[derive(Clone, Debug)]
pub struct Diagnosis {
    /// What was read.
    pub snapshot: Snapshot,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
}

/// Why diagnosis could not read the cluster.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The API server refused or could not be reached.
    #[error("failed to {what}")]
    Api {
        /// What was being read.
        what: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

impl DiagnoseError {
    /// The underlying client error (to map unreachable/forbidden to exit 5).
    pub fn kube_error(&self) -> Option<&kube::Error> {
        match self {
            DiagnoseError::Api { source, .. } => Some(source),
        }
    }

    /// What was being done and the client error, for `crate::error::Error::api(doing, err)`.
    pub fn api_parts(&self) -> (&str, &kube::Error) {
        match self {
            DiagnoseError::Api { what, source } => (what, source),
        }
    }
}

/// Reads and checks: [`gather`] then [`check_all`].
///
/// # Errors
/// [`DiagnoseError`] when a required read fails.
pub async fn diagnose(client: &kube::Client, target: &Target) -> Result<Diagnosis, DiagnoseError> {
    let snapshot = gather(client, target).await?;
    let findings = check_all(&snapshot);
    Ok(Diagnosis { snapshot, findings })
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> DiagnoseError {
    let what = what.into();
    move |source| DiagnoseError::Api { what, source }
}

fn is_status(e: &kube::Error, codes: &[u16]) -> bool {
    matches!(e, kube::Error::Api(s) if codes.contains(&s.code))
}

/// Turns a 404 (and the given extra codes) into `fallback`.
fn tolerate<T>(r: Result<T, kube::Error>, codes: &[u16], fallback: T) -> Result<T, kube::Error> {
    match r {
        Err(e) if is_status(&e, &[&[404u16][..], codes].concat()) => Ok(fallback),
        other => other,
    }
}

/// Reads everything the checks need. Optional reads that answer 404 count as "none".
///
/// Each read starts as soon as what it depends on is known, not when a whole phase is done:
/// the Service's pods, then their Events and logs; the workload, then its ReplicaSets (then
/// their Events) and its own pods; everything that needs only the target at once.
///
/// # Errors
/// [`DiagnoseError::Api`] when a read fails for another reason than absence.
pub async fn gather(client: &kube::Client, target: &Target) -> Result<Snapshot, DiagnoseError> {
    let ns = target.namespace.as_str();
    let svc = target.service_name.as_str();
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let svc_selector = selector_string(&target.selector);

    // The Service's pods, then at once their Events and the logs of failing containers.
    let svc_branch = async {
        let lp = ListParams::default().labels(&svc_selector);
        let mut pods = list_paged(&pods_api, &lp).await.map_err(api_err(format!("list pods of service {ns}/{svc}")))?;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let names: Vec<String> = pods.iter().take(MAX_EVENT_PODS).filter_map(|p| p.metadata.name.clone()).collect();
        let events_fut = try_join_all(names.iter().map(|n| events_for(client, ns, n, None)));
        let (events, logs) = futures::join!(events_fut, logs::gather_logs(&pods_api, &pods));
        Ok::<_, DiagnoseError>((pods, events?.into_iter().flatten().collect::<Vec<Event>>(), logs))
    };

    // The workload, then its ReplicaSets (then their Events) and its own pods.
    let workload_branch = async {
        let workload = match &target.workload {
            None => None,
            Some(w) => {
                let what = format!("read {w} in {ns}");
                match w.kind {
                    WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
                        .get_opt(&w.name)
                        .await
                        .map_err(api_err(what))?
                        .map(|d| Workload::Deployment(Box::new(d))),
                    WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
                        .get_opt(&w.name)
                        .await
                        .map_err(api_err(what))?
                        .map(|s| Workload::StatefulSet(Box::new(s))),
                }
            }
        };
        // The workload's selector goes into queries: only a well-formed one.
        let wl_selector = workload
            .as_ref()
            .and_then(|w| w.selector())
            .map(label_selector_string)
            .filter(|s| !s.is_empty() && crate::cli::plan::validate_selector(s).is_ok());
        let rs_fut = async {
            let (Some(w @ Workload::Deployment(_)), Some(sel)) = (&workload, &wl_selector) else {
                return Ok((Vec::new(), Vec::new()));
            };
            let lp = ListParams::default().labels(sel);
            let items = list_paged(&Api::<ReplicaSet>::namespaced(client.clone(), ns), &lp)
                .await
                .map_err(api_err(format!("list replicasets of {}", w.reference())))?;
            let owned: Vec<ReplicaSet> =
                items.into_iter().filter(|rs| owned_by(rs.metadata.owner_references.as_deref(), w.name())).collect();
            let mut newest: Vec<&ReplicaSet> = owned.iter().collect();
            newest.sort_by_key(|rs| std::cmp::Reverse(workload::revision(&rs.metadata)));
            let names: Vec<String> = newest.iter().take(2).filter_map(|rs| rs.metadata.name.clone()).collect();
            let events = try_join_all(names.iter().map(|n| events_for(client, ns, n, None))).await?;
            Ok::<_, DiagnoseError>((owned, events.into_iter().flatten().collect::<Vec<Event>>()))
        };
        let wl_pods_fut = async {
            match &wl_selector {
                Some(sel) if *sel != svc_selector => {
                    let lp = ListParams::default().labels(sel);
                    list_paged(&pods_api, &lp).await.map_err(api_err(format!("list pods of {ns} workload")))
                }
                _ => Ok(Vec::new()),
            }
        };
        let ((replica_sets, rs_events), wl_pods) = futures::try_join!(rs_fut, wl_pods_fut)?;
        Ok::<_, DiagnoseError>((workload, replica_sets, rs_events, wl_pods))
    };

    // What needs only the target.
    let wl_events_fut = async {
        match &target.workload {
            Some(w) => events_for(client, ns, &w.name, Some(w.kind.as_kind())).await,
            None => Ok(Vec::new()),
        }
    };
    let endpoints_fut = async {
        Api::<Endpoints>::namespaced(client.clone(), ns)
            .get_opt(svc)
            .await
            .map_err(api_err(format!("read endpoints {ns}/{svc}")))
    };
    let slices_fut = async {
        let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={svc}"));
        let r = list_paged(&Api::<EndpointSlice>::namespaced(client.clone(), ns), &lp).await;
        tolerate(r, &[], Vec::new()).map_err(api_err(format!("list endpointslices of {ns}/{svc}")))
    };
    let hpas_fut = async {
        let r =
            list_paged(&Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns), &ListParams::default()).await;
        tolerate(r, &[], Vec::new()).map_err(api_err(format!("list horizontalpodautoscalers in {ns}")))
    };
    let keda_fut = async {
        let gvk = GroupVersionKind::gvk("keda.sh", "v1alpha1", "ScaledObject");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "scaledobjects");
        let r =
            list_paged(&Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar), &ListParams::default()).await;
        // No CRD answers 404; a role that may not read KEDA objects is not a reason to stop.
        tolerate(r, &[403], Vec::new()).map_err(api_err(format!("list keda scaledobjects in {ns}")))
    };
    let candidates_fut = async {
        if target.workload.is_some() {
            return Ok(Vec::new());
        }
        let deps_fut = async {
            list_paged(&Api::<Deployment>::namespaced(client.clone(), ns), &ListParams::default())
                .await
                .map_err(api_err(format!("list deployments in {ns}")))
        };
        let sets_fut = async {
            list_paged(&Api::<StatefulSet>::namespaced(client.clone(), ns), &ListParams::default())
                .await
                .map_err(api_err(format!("list statefulsets in {ns}")))
        };
        let (deps, sets) = futures::try_join!(deps_fut, sets_fut)?;
        let mut out: Vec<Workload> = deps.into_iter().map(|d| Workload::Deployment(Box::new(d))).collect();
        out.extend(sets.into_iter().map(|s| Workload::StatefulSet(Box::new(s))));
        Ok(out)
    };
    let (
        (svc_pods, pod_events, mut logs),
        (workload, replica_sets, rs_events, wl_pods),
        workload_events,
        endpoints,
        endpoint_slices,
        hpas,
        scaled_objects,
        candidates,
    ) = futures::try_join!(
        svc_branch,
        workload_branch,
        wl_events_fut,
        endpoints_fut,
        slices_fut,
        hpas_fut,
        keda_fut,
        candidates_fut
    )?;

    // The workload's pods outside the Service's selector (rare): their Events and logs last.
    let mut by_name: BTreeMap<String, Pod> = BTreeMap::new();
    for p in svc_pods.iter().cloned() {
        by_name.insert(p.metadata.name.clone().unwrap_or_default(), p);
    }
    let extra: Vec<Pod> =
        wl_pods.into_iter().filter(|p| !by_name.contains_key(p.metadata.name.as_deref().unwrap_or_default())).collect();
    let mut all: Vec<Event> = pod_events;
    if !extra.is_empty() {
        let slots = MAX_EVENT_PODS.saturating_sub(svc_pods.len().min(MAX_EVENT_PODS));
        let names: Vec<String> = extra.iter().take(slots).filter_map(|p| p.metadata.name.clone()).collect();
        let events_fut = try_join_all(names.iter().map(|n| events_for(client, ns, n, None)));
        let (events, extra_logs) = futures::join!(events_fut, logs::gather_logs(&pods_api, &extra));
        all.extend(events?.into_iter().flatten());
        logs.extend(extra_logs);
    }
    for p in extra {
        by_name.insert(p.metadata.name.clone().unwrap_or_default(), p);
    }
    let pods: Vec<Pod> = by_name.into_values().collect();
    all.extend(rs_events);
    all.extend(workload_events.iter().cloned());
    let warnings = recent_warnings(all);

    Ok(Snapshot {
        target: target.clone(),
        workload,
        replica_sets,
        pods,
        endpoints,
        endpoint_slices,
        workload_events,
        warnings,
        hpas,
        scaled_objects,
        logs,
        candidates,
    })
}

/// Whether a controller ownerReference names `name`.
fn owned_by(owners: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]>, name: &str) -> bool {
    crate::resolve::controller_of(owners).is_some_and(|o| o.name == name)
}

/// Events whose involvedObject is `name` (and `kind`, if given), oldest first.
async fn events_for(
    client: &kube::Client,
    ns: &str,
    name: &str,
    kind: Option<&str>,
) -> Result<Vec<Event>, DiagnoseError> {
    // A name read from the cluster never reaches a field selector unchecked (a ',' would add
    // a requirement of its own choosing).
    if !crate::names::is_subdomain(name) {
        return Ok(Vec::new());
    }
    let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let items = list_paged(&Api::<Event>::namespaced(client.clone(), ns), &lp)
        .await
        .map_err(api_err(format!("list events of {ns}/{name}")))?;
    // Filter again: a server that ignores the field selector must not mix objects up.
    let mut out: Vec<Event> = items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter(|e| kind.is_none_or(|k| e.involved_object.kind.as_deref() == Some(k)))
        .collect();
    out.sort_by_key(event_time);
    Ok(out)
}

/// The last [`MAX_WARNINGS`] distinct Warning events, oldest first.
pub fn recent_warnings(events: Vec<Event>) -> Vec<Event> {
    let mut seen = BTreeSet::new();
    let mut warnings: Vec<Event> = events
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| seen.insert(e.metadata.name.clone().unwrap_or_default()))
        .collect();
    warnings.sort_by_key(event_time);
    let skip = warnings.len().saturating_sub(MAX_WARNINGS);
    warnings.drain(..skip);
    warnings
}

/// A label selector as a query string (`k=v,k in (a,b),!k`).
pub fn label_selector_string(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_renders_expressions() {
        let sel: LabelSelector = serde_json::from_value(json!({"matchLabels":{"app":"a"},"matchExpressions":[
            {"key":"tier","operator":"In","values":["x","y"]},{"key":"canary","operator":"DoesNotExist"}]}))
        .unwrap();
        assert_eq!(label_selector_string(&sel), "app=a,tier in (x,y),!canary");
    }

    #[tokio::test]
    async fn gathers_concurrently_and_tolerates_absent_optional_objects() {
        use super::fake_api::{self, list};
        use super::fixtures::{self as fx, NAME, NS, RS};
        use crate::events::FindingCode;

        let mut dep = fx::deployment(1, 0);
        dep["spec"]["template"]["spec"]["containers"][0]["env"] = json!([
            {"name":"A","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"a"}}},
            {"name":"B","valueFrom":{"secretKeyRef":{"name":"creds","key":"b"}}}]);
        let pod = fx::pod(
            "aaaaa",
            "Running",
            false,
            fx::waiting(
                "CrashLoopBackOff",
                "back-off 10s restarting failed container=server",
                2,
                Some(json!({"exitCode":1,"reason":"Error"})),
            ),
        );
        let pod_name = pod.metadata.name.clone().unwrap();
        let config_pod = fx::pod(
            "bbbbb",
            "Pending",
            false,
            fx::waiting("CreateContainerConfigError", "secret \"creds\" not found", 0, None),
        );
        let ev = |kind: &str, name: &str, type_: &str, reason: &str, msg: &str| {
            serde_json::to_value(fx::event(kind, name, type_, reason, msg, "2026-11-28T10:00:00Z")).unwrap()
        };
        let events = list(
            "EventList",
            vec![
                ev(
                    "Deployment",
                    NAME,
                    "Normal",
                    "ScalingReplicaSet",
                    &format!("Scaled down replica set {RS} from 3 to 0"),
                ),
                ev("Pod", &pod_name, "Warning", "BackOff", "Back-off restarting failed container server"),
                ev("Pod", "someone-else", "Warning", "BackOff", "not ours"),
            ],
        );
        let rs = json!({"metadata":{"name":RS,"namespace":NS,"annotations":{"deployment.kubernetes.io/revision":"1"},
            "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":NAME,"uid":"u","controller":true}]},
            "spec":{"selector":{"matchLabels":{"app":NAME}}}});
        let (client, log) = fake_api::start(vec![
            ("/deployments/sandfly-mcp-server", 200, dep),
            (
                "/pods",
                200,
                list("PodList", vec![serde_json::to_value(&pod).unwrap(), serde_json::to_value(&config_pod).unwrap()]),
            ),
            ("/endpoints/sandfly-mcp-server", 200, serde_json::to_value(fx::endpoints(&[], &["10.0.0.1"])).unwrap()),
            ("/endpointslices", 200, list("EndpointSliceList", vec![])),
            ("/horizontalpodautoscalers", 200, list("HorizontalPodAutoscalerList", vec![])),
            ("/replicasets", 200, list("ReplicaSetList", vec![rs])),
            ("/events", 200, events),
            ("/log", 200, json!("starting\nError: cannot connect to db\n")),
        ])
        .await;
        let target = fx::healthy().target;
        let d = diagnose(&client, &target).await.unwrap();
        let s = &d.snapshot;
        assert_eq!(s.pods.len(), 2);
        assert_eq!(s.warnings.len(), 1, "{:?}", log.lock().unwrap());
        assert!(s.scaled_objects.is_empty(), "no KEDA CRD (404) means none");
        assert!(s.warnings.iter().all(|e| e.message.as_deref() != Some("not ours")));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.logs[0].lines, vec!["Error: cannot connect to db".to_string()]);
        assert_eq!(crate::decide::remembered_replicas(s).count, 3);
        let codes: Vec<FindingCode> = d.findings.iter().map(|f| f.code).collect();
        assert!(codes.contains(&FindingCode::CrashLoopBackOff) && codes.contains(&FindingCode::LogErrors), "{codes:?}");
        let seen = log.lock().unwrap().clone();
        assert!(
            seen.iter().all(|r| !r.contains("/secrets") && !r.contains("/configmaps")),
            "no Secret or ConfigMap is read: {seen:?}"
        );
        let config = d.findings.iter().find(|f| f.code == FindingCode::CreateContainerConfigError).unwrap();
        assert_eq!(config.evidence["missing"], json!([{"kind":"Secret","name":"creds","key":null}]));
        assert!(
            seen.iter().any(|r| r.contains("/events?") && r.contains("fieldSelector=involvedObject.name%3D")),
            "{seen:?}"
        );
        assert!(
            seen.iter().any(|r| r.contains("/log?") && r.contains("previous=true") && r.contains("tailLines=50")),
            "{seen:?}"
        );
    }

    #[test]
    fn warnings_keep_the_last_ten() {
        let evs: Vec<Event> = (0..15)
            .map(|i| {
                serde_json::from_value(json!({"metadata":{"name":format!("p.{i}")},"involvedObject":{"name":"p"},
                "type": if i == 14 {"Normal"} else {"Warning"}, "reason":"BackOff",
                "lastTimestamp": format!("2026-11-28T10:00:{i:02}Z")}))
                .unwrap()
            })
            .collect();
        let w = recent_warnings(evs);
        assert_eq!(w.len(), MAX_WARNINGS);
        assert_eq!(w.first().unwrap().metadata.name.as_deref(), Some("p.4"));
        assert_eq!(w.last().unwrap().metadata.name.as_deref(), Some("p.13"));
    }
}
