//! Integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

mod approvals;
mod audit;
mod catalog;
mod doctor;
mod events;
mod helpers;
mod http_jsonrpc;
mod http_security;
mod hubspot;
mod inspector;
mod invoice_tools;
mod layout;
mod notion;
mod notion_edges;
mod observability;
mod packaging;
mod payment_links;
mod prompts;
mod razorpay;
mod readme;
mod sandbox;
mod sandbox_notion;
mod sandbox_whatsapp;
mod scale_out;
mod scale_out_processes;
mod scale_out_sessions;
mod setup;
mod spawned_binary;
mod stripe;
mod webhooks;
mod whatsapp;
