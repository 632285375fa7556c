//! The audit trail: world-changing calls and approvals are recorded with how they were approved, readable by the
//! agent, and `switchboard audit verify` names a record edited by hand.

use crate::helpers::{RZ_SECRET, call, config, connect_with, fixture, structured};
use crate::payment_links::Confirming;
use crate::webhooks::start;
use crate::whatsapp::{CUSTOMER, customer_writes, graph, with_whatsapp_api};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use switchboard::config::{Config, ConfirmMode};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn razorpay() -> MockServer {
    let server = MockServer::start().await;
    let link: Value = serde_json::from_str(&fixture("razorpay/payment_link_created.json")).unwrap();
    let mut cancelled = link.clone();
    cancelled["status"] = json!("cancelled");
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(ResponseTemplate::new(200).set_body_json(link.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_links/plink_SCx4Lm8QwErT2y"))
        .respond_with(ResponseTemplate::new(200).set_body_json(link))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links/plink_SCx4Lm8QwErT2y/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(cancelled))
        .mount(&server)
        .await;
    server
}

fn verify(data_dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["audit", "verify"])
        .env_clear()
        .env("SWITCHBOARD_DATA_DIR", data_dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn links_and_messages_are_recorded_with_their_approval_and_a_hand_edit_breaks_the_chain() {
    let rz = razorpay().await;
    let graph = graph().await;
    let cfg = with_whatsapp_api(config(Some(&rz.uri()), None), &graph);
    let cfg = Config { confirm: ConfirmMode::Elicit, ..cfg };
    let data_dir = cfg.data_dir.clone();
    let rx = start(cfg).await;
    customer_writes(&rx, "wamid.IN_audit", "Can I pay by link?").await;
    let user = Confirming { accept: true, asked: Arc::new(Mutex::new(Vec::new())) };
    let client = connect_with(rx.state.clone(), user).await;
    let link = json!({"amount": "45000", "currency": "INR", "reference_id": "SW-2026-0142"});
    structured(&call(&client, "create_payment_link", link).await);
    structured(&call(&client, "cancel_payment_link", json!({"payment_link_id": "plink_SCx4Lm8QwErT2y"})).await);
    let message = json!({"to": CUSTOMER, "text": "Here is your link: https://rzp.io/i/k2Ht8Zq"});
    structured(&call(&client, "send_whatsapp_message", message).await);
    // Reads are not world-changing: no record. Nor is a retry that gets the first link back.
    structured(&call(&client, "list_conversations", json!({})).await);
    let again = json!({"amount": "45000", "currency": "INR", "reference_id": "SW-2026-0142"});
    assert_eq!(structured(&call(&client, "create_payment_link", again).await)["replayed"], true);

    let read = client.read_resource(ReadResourceRequestParams::new("audit://recent")).await.unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else { panic!("text") };
    assert!(!text.contains(RZ_SECRET), "no secret in the audit trail");
    let mut records: Vec<Value> = serde_json::from_str::<Vec<Value>>(text).unwrap();
    records.reverse();
    let summary: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            let r = &r["record"];
            (
                r["kind"].as_str().unwrap().into(),
                r["tool"].as_str().unwrap().into(),
                r["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("approval", "create_payment_link", "approved"),
        ("tool_call", "create_payment_link", "ok"),
        ("approval", "cancel_payment_link", "approved"),
        ("tool_call", "cancel_payment_link", "ok"),
        ("approval", "send_whatsapp_message", "approved"),
        ("tool_call", "send_whatsapp_message", "ok"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(summary, expected);
    for record in &records {
        assert_eq!(record["record"]["approval"]["via"], "elicitation", "{record}");
    }
    let created = &records[1]["record"];
    assert_eq!(created["arguments"]["amount"], "45000");
    assert_eq!(created["result"]["id"], "plink_SCx4Lm8QwErT2y", "the provider's answer is kept");
    assert_eq!(records[5]["record"]["arguments"]["to"], CUSTOMER);

    let out = verify(&data_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("intact: 6 records"), "{stdout}");
    let page_url = format!("http://{}/inspector/audit", rx.addr);
    let page = reqwest::get(&page_url).await.unwrap().text().await.unwrap();
    assert!(page.contains("Intact: 6 records"), "the inspector shows the chain: {page}");
    assert!(page.contains("send_whatsapp_message") && !page.contains(RZ_SECRET));

    // Someone lowers the amount in the record of the link that was created.
    let db = data_dir.join("switchboard.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let edited = sqlx::query("UPDATE audit SET record = replace(record, '\"45000\"', '\"4500\"') WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(edited.rows_affected(), 1);
    pool.close().await;
    let out = verify(&data_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("audit record 2 was changed after it was written"), "{stderr}");
    let page = reqwest::get(&page_url).await.unwrap().text().await.unwrap();
    assert!(page.contains("Broken: audit record 2 was changed"), "{page}");
}

#[tokio::test]
async fn a_declined_call_is_on_record_as_declined_and_so_is_an_operator_who_turned_approvals_off() {
    let rz = razorpay().await;
    let user = Confirming { accept: false, asked: Arc::default() };
    let cfg = Config { confirm: ConfirmMode::Elicit, ..config(Some(&rz.uri()), None) };
    let state = Arc::new(switchboard::state::AppState::new(cfg));
    let client = connect_with(state.clone(), user).await;
    let declined = call(&client, "create_payment_link", json!({"amount": "10", "currency": "INR"})).await;
    assert_eq!(declined.is_error, Some(true));
    // A bad argument changes nothing and asks nobody: no record.
    let bad = call(&client, "create_payment_link", json!({"amount": "-1", "currency": "INR"})).await;
    assert_eq!(bad.is_error, Some(true));
    let entries = state.store.audit().newest(10).await.unwrap();
    let outcomes: Vec<Value> =
        entries.iter().rev().map(|e| serde_json::from_str::<Value>(&e.record).unwrap()).collect();
    // The person's "no" is the record: nothing was done, so there is no tool-call record beside it.
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!((outcomes[0]["kind"].as_str(), outcomes[0]["outcome"].as_str()), (Some("approval"), Some("declined")));
    assert_eq!(outcomes[0]["arguments"]["amount"], "10");

    // confirm = never: the record says nobody was asked.
    let cfg = config(Some(&rz.uri()), None);
    let state = Arc::new(switchboard::state::AppState::new(cfg));
    let client = connect_with(state.clone(), ()).await;
    structured(&call(&client, "create_payment_link", json!({"amount": "10", "currency": "INR"})).await);
    let [entry] = state.store.audit().newest(10).await.unwrap().try_into().unwrap();
    let record: Value = serde_json::from_str(&entry.record).unwrap();
    assert_eq!(record["approval"]["via"], "not_required");
}

#[tokio::test]
async fn removing_the_newest_records_is_found_too() {
    let rz = razorpay().await;
    let cfg = config(Some(&rz.uri()), None);
    let data_dir = cfg.data_dir.clone();
    let state = Arc::new(switchboard::state::AppState::new(cfg));
    let client = connect_with(state.clone(), ()).await;
    for reference in ["SW-1", "SW-2", "SW-3"] {
        let args = json!({"amount": "10", "currency": "INR", "reference_id": reference});
        structured(&call(&client, "create_payment_link", args).await);
    }
    assert!(String::from_utf8_lossy(&verify(&data_dir).stdout).contains("intact: 3 records"));
    let db = data_dir.join("switchboard.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("DELETE FROM audit WHERE seq = 3").execute(&pool).await.unwrap();
    pool.close().await;
    let out = verify(&data_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("ends at record 2, but records up to 3 were written"), "{stderr}");
}
