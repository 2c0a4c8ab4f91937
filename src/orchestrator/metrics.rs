//! Prometheus metrics (prometheus-client, OpenMetrics text): the seed's list — heals by service
//! and outcome, heal duration, findings by code, manual interventions, breaker refusals,
//! retries and their outcome, MCP call latency and errors by server, open streams, workers
//! spawned.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceOutcome {
    service: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerOutcome {
    server: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabel {
    server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerKind {
    server: String,
    kind: String,
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The orchestrator's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    heals: Family<ServiceOutcome, Counter>,
    heal_duration: HistFamily<ServiceLabel>,
    findings: Family<CodeLabel, Counter>,
    manual: Family<ServiceLabel, Counter>,
    breaker: Family<ServiceLabel, Counter>,
    retries: Family<ServerOutcome, Counter>,
    call_duration: HistFamily<ServerLabel>,
    call_errors: Family<ServerKind, Counter>,
    open_streams: Gauge,
    workers: Counter,
}

fn heal_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 13))
}

fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric under the `orchestrator_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("orchestrator");
        let m = Metrics {
            heals: Family::default(),
            heal_duration: Family::new_with_constructor(heal_buckets as fn() -> Histogram),
            findings: Family::default(),
            manual: Family::default(),
            breaker: Family::default(),
            retries: Family::default(),
            call_duration: Family::new_with_constructor(call_buckets as fn() -> Histogram),
            call_errors: Family::default(),
            open_streams: Gauge::default(),
            workers: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("heals", "Heals finished, by service and outcome", m.heals.clone());
        registry.register("heal_duration_seconds", "Wall time of heals, by service", m.heal_duration.clone());
        registry.register("findings", "Diagnosis findings reported by heals, by code", m.findings.clone());
        registry.register("manual_interventions", "Heals that ended needing a human, by service", m.manual.clone());
        registry.register("breaker_refusals", "Heals refused by policy (lock, breaker), by service", m.breaker.clone());
        registry.register("retries", "Calls retried after a heal, by server and outcome", m.retries.clone());
        registry.register("mcp_call_duration_seconds", "MCP tool call latency, by server", m.call_duration.clone());
        registry.register("mcp_call_errors", "MCP tool calls that failed, by server and kind", m.call_errors.clone());
        registry.register("open_streams", "SSE streams open now", m.open_streams.clone());
        registry.register("workers_spawned", "self-heal workers started", m.workers.clone());
        Metrics { registry, ..m }
    }

    /// Starts the per-service series at 0 for the configured services, so that every family an
    /// alert names is exported from the start and `rate()`/`increase()` see the first heal.
    pub fn preset_services<'a>(&self, services: impl IntoIterator<Item = &'a str>) {
        const OUTCOMES: [&str; 10] = [
            "healthy",
            "healed",
            "not_healed",
            "manual",
            "refused",
            "error",
            "timeout",
            "planned",
            "interrupted",
            "failed",
        ];
        for service in services {
            for outcome in OUTCOMES {
                let _ = self.heals.get_or_create(&ServiceOutcome { service: service.into(), outcome: outcome.into() });
            }
            let _ = self.manual.get_or_create(&ServiceLabel { service: service.into() });
            let _ = self.breaker.get_or_create(&ServiceLabel { service: service.into() });
        }
    }

    /// A heal ended.
    pub fn heal_finished(&self, service: &str, outcome: &str, seconds: f64, findings: &[String]) {
        self.heals.get_or_create(&ServiceOutcome { service: service.into(), outcome: outcome.into() }).inc();
        self.heal_duration.get_or_create(&ServiceLabel { service: service.into() }).observe(seconds);
        for code in findings {
            self.findings.get_or_create(&CodeLabel { code: code.clone() }).inc();
        }
        if outcome == "manual" {
            self.manual.get_or_create(&ServiceLabel { service: service.into() }).inc();
        }
        if outcome == "refused" {
            self.breaker.get_or_create(&ServiceLabel { service: service.into() }).inc();
        }
    }

    /// A worker process was started.
    pub fn worker_spawned(&self) {
        self.workers.inc();
    }

    /// A retry after a heal: `succeeded`, `failed` or `skipped` (not repeated).
    pub fn retry(&self, server: &str, outcome: &str) {
        self.retries.get_or_create(&ServerOutcome { server: server.into(), outcome: outcome.into() }).inc();
    }

    /// An MCP call took `seconds`; `error` is its failure kind, if it failed.
    pub fn call(&self, server: &str, seconds: f64, error: Option<&str>) {
        self.call_duration.get_or_create(&ServerLabel { server: server.into() }).observe(seconds);
        if let Some(kind) = error {
            self.call_errors.get_or_create(&ServerKind { server: server.into(), kind: kind.into() }).inc();
        }
    }

    /// Counts an open stream until the guard drops.
    pub fn stream_opened(&self) -> StreamGuard {
        self.open_streams.inc();
        StreamGuard(self.open_streams.clone())
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Decrements the open-streams gauge when dropped.
pub struct StreamGuard(Gauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values() {
        let m = Metrics::new();
        m.heal_finished("svc", "healed", 1.5, &["ScaledToZero".into()]);
        m.retry("sandfly", "succeeded");
        let g = m.stream_opened();
        let text = m.render();
        assert!(text.contains(r#"orchestrator_heals_total{service="svc",outcome="healed"} 1"#), "{text}");
        assert!(text.contains(r#"orchestrator_findings_total{code="ScaledToZero"} 1"#), "{text}");
        assert!(text.contains("orchestrator_open_streams 1"), "{text}");
        drop(g);
        assert!(m.render().contains("orchestrator_open_streams 0"));
    }
}
