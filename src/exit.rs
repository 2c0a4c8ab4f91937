//! Process exit codes (DESIGN §2.1): one table, used by the orchestrator, `--help`, man and README.

/// Healthy, or healed and verified (`diagnose`: no problem found).
pub const OK: i32 = 0;
/// Not healed: remediation tried and verification failed (`diagnose`: problems found).
pub const NOT_HEALED: i32 = 1;
/// Usage error.
pub const USAGE: i32 = 2;
/// Manual intervention needed: no safe automatic fix.
pub const MANUAL: i32 = 3;
/// Refused by policy: lock held, breaker open, autoscaler owns replicas, paused rollout.
pub const REFUSED: i32 = 4;
/// Cannot reach, or not authorized by, the Kubernetes API.
pub const API: i32 = 5;
/// Deadline exceeded.
pub const TIMEOUT: i32 = 124;
/// Interrupted by SIGINT (128 + 2, as a shell reports it); a result line all the same.
pub const INTERRUPTED_INT: i32 = 130;
/// Interrupted by SIGTERM (128 + 15, as a shell reports it); a result line all the same.
pub const INTERRUPTED_TERM: i32 = 143;
