//! kube-sim: a simulated Kubernetes cluster for tests, benchmarks and the demo.
//!
//! [`store`] keeps objects; `api` serves them over HTTP as a kube-apiserver does; `controllers`
//! play the deployment, replicaset, endpoints controllers, the scheduler and the kubelet, whose
//! pods are real loopback servers; `kubeconfig` and `seed` set it up.

pub mod controllers;
pub mod resources;
pub mod store;

/// Knobs shared by the API server and the controllers.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Multiplies every simulated delay (back-offs, grace periods, progress deadlines): 1.0 is
    /// Kubernetes' own timing, the default 0.02 turns a 10 s back-off into 200 ms.
    pub time_scale: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { time_scale: 0.02 }
    }
}
