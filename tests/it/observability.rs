//! What an operator sees: `/metrics` counts what happened, and MCP clients that asked for log messages hear
//! Switchboard's events.
// MCP logging is deprecated in 2026-07-28 but is what 2025-11-25 clients use.
#![allow(deprecated)]

use crate::helpers::{RZ_KEY_ID, RZ_SECRET, call, config, connect_with, fixture, structured};
use crate::webhooks::{RZ_WEBHOOK_SECRET, deliver_razorpay, start};
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, SetLevelRequestParams};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The value of one sample line, e.g. `switchboard_tool_calls_total{gen_ai_tool_name="get_invoice",outcome="ok"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_tool_calls_and_upstream_retries_and_need_the_token_when_one_is_set() {
    let rz = MockServer::start().await;
    // The first read of this invoice meets a 503, the retry succeeds.
    Mock::given(method("GET"))
        .and(path("/v1/invoices/inv_SBk3vL9qTm2XaP"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&rz)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices/inv_SBk3vL9qTm2XaP"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("razorpay/invoice_issued.json")))
        .with_priority(2)
        .mount(&rz)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices/inv_Missing0000000"))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("razorpay/error_not_found.json")))
        .mount(&rz)
        .await;
    let rx = start(config(Some(&rz.uri()), None)).await;
    let client = connect_with(rx.state.clone(), ()).await;
    for _ in 0..2 {
        structured(&call(&client, "get_invoice", json!({"invoice_id": "inv_SBk3vL9qTm2XaP"})).await);
    }
    let missing = call(&client, "get_invoice", json!({"invoice_id": "inv_Missing0000000"})).await;
    assert_eq!(missing.is_error, Some(true));
    let unknown = client.call_tool(rmcp::model::CallToolRequestParams::new("no_such_tool_".repeat(3))).await;
    assert!(unknown.is_err(), "an unknown tool is a protocol error");

    let text = reqwest::get(format!("http://{}/metrics", rx.addr)).await.unwrap().text().await.unwrap();
    let ok = r#"switchboard_tool_calls_total{gen_ai_tool_name="get_invoice",outcome="ok"}"#;
    let error = r#"switchboard_tool_calls_total{gen_ai_tool_name="get_invoice",outcome="error"}"#;
    let unknown = r#"switchboard_tool_calls_total{gen_ai_tool_name="unknown",outcome="protocol_error"}"#;
    assert_eq!(sample(&text, ok), Some(2.0), "{text}");
    assert_eq!(sample(&text, error), Some(1.0), "{text}");
    assert_eq!(sample(&text, unknown), Some(1.0), "a made-up tool name is not a label: {text}");
    assert!(!text.contains("no_such_tool"), "{text}");
    let requests =
        |class: &str| format!(r#"switchboard_upstream_requests_total{{provider="razorpay",status_class="{class}"}}"#);
    assert_eq!(sample(&text, &requests("2xx")), Some(2.0), "{text}");
    assert_eq!(sample(&text, &requests("4xx")), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"switchboard_upstream_retries_total{provider="razorpay"}"#), Some(1.0), "{text}");
    let count = r#"mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="get_invoice",error_type=""}"#;
    assert_eq!(sample(&text, count), Some(2.0), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
    // A tunnel or a rebinding page reaches loopback too, under a foreign Host: refused.
    let foreign = reqwest::Client::new()
        .get(format!("http://{}/metrics", rx.addr))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), reqwest::StatusCode::UNAUTHORIZED);
    drop(client);

    // With the HTTP token set, /metrics needs it like /mcp does.
    let mut cfg = config(None, None);
    cfg.http.token = Some(SecretString::from("metrics-token-0123456789"));
    let guarded = start(cfg).await;
    let url = format!("http://{}/metrics", guarded.addr);
    let refused = reqwest::get(&url).await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let allowed = reqwest::Client::new().get(&url).bearer_auth("metrics-token-0123456789").send().await.unwrap();
    assert_eq!(allowed.status(), reqwest::StatusCode::OK);
}

/// A client that collects the log messages it is sent.
struct Listening(mpsc::UnboundedSender<LoggingMessageNotificationParam>);

impl ClientHandler for Listening {
    async fn on_logging_message(&self, params: LoggingMessageNotificationParam, _: NotificationContext<RoleClient>) {
        let _ = self.0.send(params);
    }
}

#[tokio::test]
async fn a_client_that_sets_a_log_level_hears_a_webhook_being_stored() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["serve", "--webhooks", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("SWITCHBOARD_DATA_DIR", tempfile::tempdir().unwrap().keep())
        .env("RAZORPAY_KEY_ID", RZ_KEY_ID)
        .env("RAZORPAY_KEY_SECRET", RZ_SECRET)
        .env("RAZORPAY_WEBHOOK_SECRET", RZ_WEBHOOK_SECRET)
        .env("RUST_LOG", "warn");
    let transport = rmcp::transport::TokioChildProcess::new(command).unwrap();
    let (tx, mut notes) = mpsc::unbounded_channel();
    let client = Listening(tx).serve(transport).await.unwrap();
    client.set_level(SetLevelRequestParams::new(LoggingLevel::Info)).await.unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    // The stdio server binds its listener before it answers MCP, so it is up by now.
    let status = deliver_razorpay(addr, body.trim(), "evt_log_0001").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(note) = notes.recv().await {
            if note.data["message"] == "stored a webhook event" {
                return note;
            }
        }
        panic!("the log stream ended");
    })
    .await
    .expect("a log message about the stored webhook");
    assert_eq!(heard.level, LoggingLevel::Info);
    assert_eq!(heard.data["source"], "razorpay");
    assert!(!heard.data.to_string().contains(RZ_WEBHOOK_SECRET));
    client.cancel().await.unwrap();
}
