//! Switchboard: one MCP server that lets AI agents ask business APIs, listen to their webhooks and act.
//!
//! # Layout
//! - [`cli`]: the command line (`serve`, `demo`, `tools`, `setup`).
//! - [`config`]: typed configuration, defaults < TOML file < environment; secrets redacted.
//! - [`telemetry`]: tracing to stderr, each event cut at 4 KiB.
//! - [`app`]: wiring and graceful shutdown.
//! - [`approvals`]: a person approves every world-changing call: in the client (elicitation) or on the approval
//!   page, sealed to the call's key and arguments, stored durably, performed once.
//! - [`transport`]: stdio (bounded lines) and Streamable HTTP (Host/Origin validation, bearer token; connection,
//!   time, size and session limits; on PostgreSQL, sessions any instance serves); JSON-RPC error answers for
//!   malformed input.
//! - [`server`]: the MCP handler: identity, instructions, merged tool routers, and its `resources`
//!   (`events://recent`, `events://{id}`, with subscriptions).
//! - [`tools`]: one toolset per file (invoices, payment links, CRM), plus exactly-once creation and the actions the
//!   approval page performs.
//! - [`error`]: `ToolError`, the in-band error at the MCP edge; its variant says whose fault it is.
//! - [`domain`]: provider-neutral types that validate on construction (money, invoices, payment links, e-mail,
//!   the provider id, events and their kinds, a webhook source's scheme and format).
//! - [`providers`]: the `Invoices` and `PaymentLinks` seams, the `Registry` that picks a configured provider for
//!   a call, and the Razorpay, Stripe and HubSpot clients over one call path (`api`) and one HTTP client (`http`).
//! - [`catalog`]: the committed tool catalog under `tools/`.
//! - [`state`]: shared state behind every session.
//! - [`store`]: durable state behind its interfaces (the event log, which also wakes waiters, the idempotency
//!   ledger, the approvals, the invoice book's write-backs, the audit trail; on PostgreSQL the shared MCP
//!   sessions too); two backends, embedded SQLite (`store::sqlite`) and PostgreSQL (`store::postgres`).
//! - [`doctor`]: `switchboard doctor`, the configuration checked: one harmless read per provider, webhook
//!   secrets, the data directory, listener addresses.
//! - [`demo`]: `switchboard demo`, the whole product on one port against the sandbox.
//! - [`access`]: who may open Switchboard's own pages (the HTTP token, the `Host`, a loopback peer).
//! - [`inspector`]: what the webhook inspector keeps: every delivery attempt lately (refused ones too) in bounded
//!   rings, redacted (its pages are `webhooks::inspector`).
//! - [`setup`]: `switchboard setup <client>`, the config block that launches this binary, printed or merged into
//!   the client's file; secrets only by reference.
//! - [`html`]: the pages' shared kit: `maud` templates (escaped by construction), one stylesheet, safe headers.
//! - [`sandbox`]: local Razorpay and HubSpot wire-format providers, pay pages and signed webhook deliveries.
//! - [`webhooks`]: listening: signature schemes (`verify`: Razorpay, Stripe, Standard Webhooks,
//!   X-Hub-Signature-256), payload formats that turn a verified delivery into events (`sources`), and the
//!   receiver routes (`receiver`).

pub mod access;
pub mod app;
pub mod approvals;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod html;
pub mod inspector;
pub mod metrics;
pub mod providers;
pub mod sandbox;
pub mod server;
pub mod setup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod transport;
pub mod webhooks;
pub mod writeback;
