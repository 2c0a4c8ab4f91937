//! kube-sim's fidelity: the real kubectl against the kube-sim binary over real sockets.
//!
//! Each test starts its own kube-sim on port 0 ([`kube_sim::harness::Sim`]).

mod api;
mod auth;
mod controllers;
mod faults;

/// The harness, under the name the topic modules use.
mod util {
    pub use kube_sim::harness::*;
}
