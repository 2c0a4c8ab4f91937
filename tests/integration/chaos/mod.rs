//! Faults mid-heal: kube-sim's fault injection (`/_sim/faults`) under `self-heal` runs, workers
//! and orchestrators killed or signalled at chosen points, and the orchestrator under faults.
//!
//! Randomized runs take their seed from `CHAOS_SEED`: fixed in `make test`, drawn afresh (and
//! printed, so a failure can be replayed) by `make chaos`.

mod kill;
mod orchestrator;
mod worker;
