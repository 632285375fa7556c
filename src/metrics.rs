//! `/metrics`: Prometheus metrics (OpenMetrics text, encoded by `prometheus-client`).
//!
//! Names follow Prometheus conventions (`_total` counters, `_seconds` histograms); where the OpenTelemetry MCP
//! semantic conventions name a thing, their names are used as labels (`mcp_method_name`, `gen_ai_tool_name`,
//! `error_type`) and `mcp_server_operation_duration_seconds` is their `mcp.server.operation.duration`. Labels
//! are low-cardinality: a configured source, a tool name, a provider, an outcome word — never an id.
//!
//! Served next to the webhooks (`transport::metrics`), so the stdio server's listener has it too.

use crate::domain::ProviderId;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    gen_ai_tool_name: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    mcp_method_name: String,
    gen_ai_tool_name: String,
    error_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    provider: String,
    status_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

type Seconds = Family<SourceLabels, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 1 ms to ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric Switchboard keeps, in one registry, built at the first measurement (a stdio server answering
/// `tools/list` never pages in the metrics code: resident memory at start-up is a target).
#[derive(Debug, Default)]
pub struct Metrics(OnceLock<Families>);

#[derive(Debug)]
struct Families {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    ack: Seconds,
    tool_calls: Family<ToolLabels, Counter>,
    operations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    upstream: Family<UpstreamLabels, Counter>,
    upstream_retries: Family<ProviderLabels, Counter>,
    upstream_duration: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    active_waits: Gauge,
    pending_approvals: Gauge,
    pending_write_backs: Gauge,
    audit_failures: Counter,
}

/// How a tool call ended, for `switchboard_tool_calls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolOutcome {
    Ok,
    /// An `isError: true` result.
    Error,
    /// Waiting for input (an approval asked of the client).
    InputRequired,
    /// A JSON-RPC error (a protocol fault: unknown tool, bad arguments).
    ProtocolError,
}

impl ToolOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ToolOutcome::Ok => "ok",
            ToolOutcome::Error => "error",
            ToolOutcome::InputRequired => "input_required",
            ToolOutcome::ProtocolError => "protocol_error",
        }
    }
}

impl Default for Families {
    fn default() -> Self {
        let mut registry = Registry::default();
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "switchboard_webhook_deliveries",
            "Webhook delivery attempts by source and outcome (stored, duplicate, bad_signature, stale, unknown_source, too_large, unreadable, storage_failure, unchecked)",
            deliveries.clone(),
        );
        let ack: Seconds = Family::new_with_constructor(seconds);
        registry.register(
            "switchboard_webhook_ack_duration_seconds",
            "From a delivery's arrival to its acknowledgement (verified and durably stored, or refused)",
            ack.clone(),
        );
        let tool_calls = Family::<ToolLabels, Counter>::default();
        registry.register(
            "switchboard_tool_calls",
            "Tool calls by tool and outcome (ok, error, input_required, protocol_error)",
            tool_calls.clone(),
        );
        let operations: Family<OperationLabels, Histogram, fn() -> Histogram> = Family::new_with_constructor(seconds);
        registry.register(
            "mcp_server_operation_duration_seconds",
            "MCP server operation duration (OpenTelemetry mcp.server.operation.duration), by method and tool",
            operations.clone(),
        );
        let upstream = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "switchboard_upstream_requests",
            "Provider API calls by provider and final status class (2xx, 4xx, 5xx, or network: no HTTP answer)",
            upstream.clone(),
        );
        let upstream_retries = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "switchboard_upstream_retries",
            "Provider API attempts that were retries",
            upstream_retries.clone(),
        );
        let upstream_duration: Family<ProviderLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(seconds);
        registry.register(
            "switchboard_upstream_request_duration_seconds",
            "Provider API call duration, retries included",
            upstream_duration.clone(),
        );
        let active_waits = Gauge::default();
        registry.register("switchboard_active_waits", "Open waits and event subscriptions", active_waits.clone());
        let pending_approvals = Gauge::default();
        registry.register("switchboard_pending_approvals", "Approvals waiting for a person", pending_approvals.clone());
        let pending_write_backs = Gauge::default();
        registry.register(
            "switchboard_pending_write_backs",
            "Updates owed to the invoice book (Notion) not yet made",
            pending_write_backs.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "switchboard_audit_write_failures",
            "Audit records that could not be written (the action happened; see the error log)",
            audit_failures.clone(),
        );
        Families {
            registry,
            audit_failures,
            deliveries,
            ack,
            tool_calls,
            operations,
            upstream,
            upstream_retries,
            upstream_duration,
            active_waits,
            pending_approvals,
            pending_write_backs,
        }
    }
}

impl Families {
    /// A webhook delivery attempt ended with `outcome` after `elapsed`.
    pub fn delivery(&self, source: &str, outcome: &str, elapsed: Duration) {
        let labels = DeliveryLabels { source: source.to_string(), outcome: outcome.to_string() };
        self.deliveries.get_or_create(&labels).inc();
        self.ack.get_or_create(&SourceLabels { source: source.to_string() }).observe(elapsed.as_secs_f64());
    }

    /// An audit record could not be written.
    pub fn audit_write_failed(&self) {
        self.audit_failures.inc();
    }

    /// A tool call ended.
    pub fn tool_call(&self, tool: &str, outcome: ToolOutcome, elapsed: Duration) {
        let tool = tool.to_string();
        self.tool_calls
            .get_or_create(&ToolLabels { gen_ai_tool_name: tool.clone(), outcome: outcome.as_str().into() })
            .inc();
        let error_type = match outcome {
            ToolOutcome::Error => "tool_error",
            ToolOutcome::ProtocolError => "protocol_error",
            _ => "",
        };
        let labels = OperationLabels {
            mcp_method_name: "tools/call".into(),
            gen_ai_tool_name: tool,
            error_type: error_type.into(),
        };
        self.operations.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// A provider API call ended with `status` (`None`: no HTTP answer) after `attempts` attempts.
    pub fn upstream(&self, provider: ProviderId, status: Option<u16>, attempts: u32, elapsed: Duration) {
        let provider = provider.as_str().to_string();
        let status_class = match status {
            Some(s) => format!("{}xx", s / 100),
            None => "network".to_string(),
        };
        self.upstream.get_or_create(&UpstreamLabels { provider: provider.clone(), status_class }).inc();
        let labels = ProviderLabels { provider };
        if attempts > 1 {
            self.upstream_retries.get_or_create(&labels).inc_by(u64::from(attempts - 1));
        }
        self.upstream_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// The exposition, with the gauges set to `now`.
    pub fn render(&self, now: Gauges) -> String {
        self.active_waits.set(now.active_waits);
        if let Some(open) = now.pending_approvals {
            self.pending_approvals.set(open);
        }
        if let Some(pending) = now.pending_write_backs {
            self.pending_write_backs.set(pending);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The gauges' values at a scrape (`None`: unknown now, the last value stands).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub active_waits: i64,
    pub pending_approvals: Option<i64>,
    pub pending_write_backs: Option<i64>,
}

impl Metrics {
    fn families(&self) -> &Families {
        self.0.get_or_init(Families::default)
    }

    /// A webhook delivery attempt ended with `outcome` after `elapsed`.
    pub fn delivery(&self, source: &str, outcome: &str, elapsed: Duration) {
        self.families().delivery(source, outcome, elapsed);
    }

    /// An audit record could not be written.
    pub fn audit_write_failed(&self) {
        self.families().audit_write_failed();
    }

    /// A tool call ended.
    pub fn tool_call(&self, tool: &str, outcome: ToolOutcome, elapsed: Duration) {
        self.families().tool_call(tool, outcome, elapsed);
    }

    /// A provider API call ended with `status` (`None`: no HTTP answer) after `attempts` attempts.
    pub fn upstream(&self, provider: ProviderId, status: Option<u16>, attempts: u32, elapsed: Duration) {
        self.families().upstream(provider, status, attempts, elapsed);
    }

    /// The exposition, with the gauges set to `now`.
    pub fn render(&self, now: Gauges) -> String {
        self.families().render(now)
    }
}
