//! Heal history (placeholder until the orchestrator's history lands).

pub mod persist;
