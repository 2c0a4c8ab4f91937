//! Faults mid-heal: kube-sim's fault injection (`/_sim/faults`) under `self-heal` runs, workers
//! and orchestrators killed or signalled at chosen points, and the orchestrator under faults.
//!
//! Randomized runs take their seed from `CHAOS_SEED`: fixed in `make test`, drawn afresh (and
//! printed, so a failure can be replayed) by `make chaos`.

mod kill;
mod orchestrator;
mod worker;

/// The seed of the randomized runs: `CHAOS_SEED`, else a fixed one (so `make test` is
/// repeatable). Printed, so a failure can be replayed.
pub fn seed() -> u64 {
    let seed = std::env::var("CHAOS_SEED").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(20261204);
    eprintln!("CHAOS_SEED={seed} (replay: make chaos CHAOS_SEED={seed})");
    seed
}

/// self-heal's remediations of the demo workload, as the cluster records them: its
/// `SelfHeal*` Events on sandfly-mcp-server.
pub fn remediations(sim: &crate::util::Sim) -> Vec<serde_json::Value> {
    let events = sim.get_json("cortex-system", "events");
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"].as_str().is_some_and(|r| r.starts_with("SelfHeal")))
        .filter(|e| e["involvedObject"]["name"] == "sandfly-mcp-server")
        .cloned()
        .collect()
}

/// How many randomized runs: `CHAOS_RUNS`, else `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("CHAOS_RUNS").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}

/// A small deterministic generator (SplitMix64): the same seed draws the same faults.
pub struct Rng(u64);

impl Rng {
    /// From a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
