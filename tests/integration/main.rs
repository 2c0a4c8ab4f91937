//! Integration tests: the real binaries, over real sockets, against kube-sim.
//!
//! Each test starts its own kube-sim on port 0 ([`util::Sim`]); topic modules below.

mod browser;
mod util;

mod chaos;
mod cli;
mod console;
mod everything;
mod heal;
mod hostile;
mod orchestrator;
mod orchestrator_api;
mod orchestrator_util;
mod orchestrator_workers;
mod rbac;
mod remembered;
mod ship;
