//! self-heal brings a broken Kubernetes service back, by itself, and proves it did.
//!
//! The pipeline, one module per stage, ordered by [`heal`]:
//! [`resolve`] (Service → pods → ReplicaSet → workload) → [`diagnose`] (findings as data) →
//! [`decide`] (a pure choice of remediation) → [`act`] (writes through the kube API) →
//! [`wait`] (kubectl's rollout rule, by watching) → [`verify`] (endpoints, then a probe).
//! [`safety`] keeps a Lease and a breaker per service; [`report`] renders [`events`] as NDJSON,
//! legacy or human output. [`orchestrator`] is the HTTP front that spawns the worker. [`cli`] turns arguments into a validated plan; [`error`] maps every
//! failure to one exit code. The simulated cluster the tests run against is the `kube-sim` crate.
#![warn(missing_docs)]

pub mod act;
pub mod cli;
pub mod client;
pub mod decide;
pub mod diagnose;
pub mod error;
pub mod events;
pub mod exit;
pub mod heal;
pub mod names;
pub mod orchestrator;
pub mod report;
pub mod resolve;
pub mod retry;
pub mod safety;
pub mod verify;
pub mod wait;
pub mod watch;
