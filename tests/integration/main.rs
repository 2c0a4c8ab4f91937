//! Integration tests: the real binaries, over real sockets, against kube-sim.
//!
//! Each test starts its own kube-sim on port 0 ([`util::Sim`]); topic modules below.

mod util;

mod cli;
mod heal;
mod hostile;
mod ship;
