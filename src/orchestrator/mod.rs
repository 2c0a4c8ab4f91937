//! The orchestrator's parts (placeholder until the orchestrator module lands).

pub mod console;
pub mod persist;
