//! WhatsApp over real HTTP: Meta's subscription handshake, signed deliveries verified on the raw bytes with the
//! App Secret, one event per message and status, every copy stored once, batches up to 3 MiB.

use crate::helpers::config;
use crate::webhooks::{Receiver, start};
use reqwest::StatusCode;
use secrecy::SecretString;
use switchboard::config::{Config, WHATSAPP_MIN_BODY_BYTES, WebhookSource};
use switchboard::domain::event::{EventFilter, EventKind};
use switchboard::webhooks::{Format, Scheme};

pub const WA_APP_SECRET: &str = "switchboard-test-app-secret";
pub const WA_VERIFY_TOKEN: &str = "vibecoding";

/// A config that receives WhatsApp on `/webhooks/whatsapp`, as `WHATSAPP_APP_SECRET` and `WHATSAPP_VERIFY_TOKEN`
/// set it up.
pub fn with_whatsapp(mut cfg: Config) -> Config {
    let source = WebhookSource {
        verify_token: Some(SecretString::from(WA_VERIFY_TOKEN)),
        ..WebhookSource::new(
            Scheme::HubSignature256,
            Format::WhatsApp,
            vec![SecretString::from(WA_APP_SECRET)],
            WHATSAPP_MIN_BODY_BYTES,
        )
    };
    cfg.webhooks.sources.insert("whatsapp".into(), source);
    cfg
}

fn vector(name: &str) -> (Vec<u8>, String) {
    let dir = format!("{}/tests/fixtures/whatsapp", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(format!("{dir}/{name}.json")).unwrap();
    (body, std::fs::read_to_string(format!("{dir}/{name}.sig")).unwrap().trim().to_string())
}

/// POST a WhatsApp delivery with its `X-Hub-Signature-256`.
pub async fn deliver(rx: &Receiver, body: Vec<u8>, signature: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("http://{}/webhooks/whatsapp", rx.addr))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

/// Sign `body` with the test App Secret, as Meta does.
pub fn signed(body: &[u8]) -> String {
    let headers = switchboard::webhooks::verify::sign(Scheme::HubSignature256, WA_APP_SECRET, body, 0, "");
    headers.into_iter().find(|(k, _)| *k == "x-hub-signature-256").unwrap().1
}

async fn events(rx: &Receiver) -> Vec<switchboard::domain::event::Event> {
    rx.state.store.events().list(&EventFilter::default(), 10_000).await.unwrap().into_iter().map(|(_, e)| e).collect()
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
    let rx = start(with_whatsapp(config(None, None))).await;
    let get = |query: &str| {
        let url = format!("http://{}/webhooks/whatsapp?{query}", rx.addr);
        async move {
            let response = reqwest::get(url).await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    assert_eq!(
        get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vibecoding").await,
        (StatusCode::OK, "1158201444".to_string())
    );
    for wrong in [
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vibecodinG",
        "hub.mode=subscribe&hub.challenge=1158201444",
        "hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=vibecoding",
        "hub.mode=subscribe&hub.verify_token=vibecoding",
    ] {
        assert_eq!(get(wrong).await.0, StatusCode::FORBIDDEN, "{wrong}");
    }
    // The echo is bounded: a challenge longer than 256 bytes is not reflected, even with the right token.
    let long = format!("hub.mode=subscribe&hub.challenge={}&hub.verify_token=vibecoding", "1".repeat(257));
    for wrong in [long.as_str()] {
        assert_eq!(get(wrong).await.0, StatusCode::FORBIDDEN, "{wrong}");
    }
    let unknown = reqwest::get(format!("http://{}/webhooks/nosuch?hub.mode=subscribe", rx.addr)).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signed_deliveries_are_stored_once_per_message_and_status_and_forgeries_are_refused() {
    let rx = start(with_whatsapp(config(None, None))).await;
    let (batch, signature) = vector("v4_batch");
    assert_eq!(deliver(&rx, batch.clone(), &signature).await, StatusCode::OK);
    assert_eq!(deliver(&rx, batch.clone(), &signature).await, StatusCode::OK, "a retry is acknowledged");
    let stored = events(&rx).await;
    assert_eq!(stored.len(), 3, "2 messages + 1 status, once");
    assert_eq!(stored[1].correlation.reply_to.as_deref(), Some("wamid.TEST4OUT"));
    // The same message in another delivery (Meta fans retries out to every subscribed app) is not stored again.
    let (v1, v1_signature) = vector("v1_text_message");
    assert_eq!(deliver(&rx, v1.clone(), &v1_signature).await, StatusCode::OK);
    let again = String::from_utf8(v1.clone()).unwrap().replace("\"field\":\"messages\"", "\"field\": \"messages\"");
    assert_eq!(deliver(&rx, again.clone().into_bytes(), &signed(again.as_bytes())).await, StatusCode::OK);
    assert_eq!(events(&rx).await.len(), 4);
    // Forgeries: signed with the verify token, tampered, unsigned.
    let mut tampered = v1.clone();
    tampered[300] ^= 1;
    assert_eq!(deliver(&rx, tampered, &v1_signature).await, StatusCode::UNAUTHORIZED);
    let with_token = "sha256=a0dea4122f4674f49e2a7a6c7efa97516860ae6b742b0ff497aa5fff5c0e4514";
    assert_eq!(deliver(&rx, v1.clone(), with_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(&rx, v1, "").await, StatusCode::UNAUTHORIZED);
    assert_eq!(events(&rx).await.len(), 4);
}

#[tokio::test]
async fn a_batch_of_n_messages_and_m_statuses_is_n_plus_m_events_and_may_be_near_three_mebibytes() {
    let rx = start(crate::webhooks::with_webhooks(with_whatsapp(config(None, None)))).await;
    let (n, m) = (120, 80);
    let messages: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"from":"9198200{i:05}","id":"wamid.IN{i}","timestamp":"1749416500","type":"text","text":{{"body":"{}"}}}}"#,
                "x".repeat(20_000)
            )
        })
        .collect();
    let statuses: Vec<String> = (0..m)
        .map(|i| format!(r#"{{"id":"wamid.OUT{i}","status":"delivered","timestamp":"1749416501","recipient_id":"91982001{i:04}"}}"#))
        .collect();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","messages":[{}]}}}},{{"field":"messages","value":{{"messaging_product":"whatsapp","statuses":[{}]}}}}]}}]}}"#,
        messages.join(","),
        statuses.join(",")
    );
    assert!(body.len() > 2 << 20 && body.len() < WHATSAPP_MIN_BODY_BYTES, "{}", body.len());
    assert_eq!(deliver(&rx, body.clone().into_bytes(), &signed(body.as_bytes())).await, StatusCode::OK);
    let stored = events(&rx).await;
    assert_eq!(stored.len(), n + m);
    let received = stored.iter().filter(|e| e.kind == EventKind::MessageReceived).count();
    assert_eq!((received, stored.len() - received), (n, m));
    // The batch's size is stored about once: its first event keeps the signed bytes, the others their own item.
    let log = rx.state.store.events();
    let seqs: Vec<i64> =
        log.list(&EventFilter::default(), 10_000).await.unwrap().into_iter().map(|(seq, _)| seq).collect();
    let first = log.body(seqs[0]).await.unwrap().unwrap();
    assert_eq!(first, body.as_bytes(), "the signed bytes, verbatim");
    let mut total = 0;
    for seq in &seqs[1..] {
        let own = log.body(*seq).await.unwrap().unwrap();
        assert!(own.len() < 21_000, "{}", own.len());
        total += own.len();
    }
    assert!(total < 2 * body.len(), "{total} bytes for a {}-byte batch", body.len());
    assert_eq!(stored[5].payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"], "wamid.IN5");
    // Other sources keep the general limit (1 MiB by default).
    let big = vec![b'x'; 2 << 20];
    let response =
        reqwest::Client::new().post(format!("http://{}/webhooks/razorpay", rx.addr)).body(big).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

// ---- sending ----

use crate::helpers::{call, connect, error_text, structured};
use serde_json::{Value, json};
use switchboard::config::{ConfirmMode, WhatsAppConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const MESSAGES_PATH: &str = "/v26.0/106540352242922/messages";
pub const WA_ACCESS_TOKEN: &str = "EAAGm0PX4ZCpsBAcanarywhatsapptoken";
pub const CUSTOMER: &str = "+16505551234";

/// A Graph API stub that accepts sends (a new wamid each) and mark-reads, as Meta answers them.
pub async fn graph() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            if body["status"] == "read" {
                return ResponseTemplate::new(200).set_body_json(json!({"success": true}));
            }
            let n = rand_suffix();
            ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"].as_str().unwrap().trim_start_matches('+')}],
                "messages": [{"id": format!("wamid.OUT{n}")}]
            }))
        })
        .mount(&server)
        .await;
    server
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Sends only (not mark-reads) the stub received.
async fn sends(graph: &MockServer) -> Vec<Value> {
    let bodies =
        graph.received_requests().await.unwrap().into_iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap());
    bodies.filter(|b| b["status"] != "read").collect()
}

async fn reads(graph: &MockServer) -> Vec<Value> {
    let bodies =
        graph.received_requests().await.unwrap().into_iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap());
    bodies.filter(|b| b["status"] == "read").collect()
}

pub fn with_whatsapp_api(mut cfg: Config, graph: &MockServer) -> Config {
    cfg.whatsapp = Some(WhatsAppConfig {
        access_token: SecretString::from(WA_ACCESS_TOKEN),
        phone_number_id: "106540352242922".into(),
        api_version: "v26.0".into(),
        base_url: graph.uri().parse().unwrap(),
    });
    with_whatsapp(cfg)
}

/// The customer writes now (a signed inbound message webhook): the 24-hour window opens.
pub async fn customer_writes(rx: &Receiver, wamid: &str, text: &str) {
    let now = switchboard::domain::time::now();
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Sheena Nelson"}},"wa_id":"16505551234"}}],"messages":[{{"from":"16505551234","id":"{wamid}","timestamp":"{now}","type":"text","text":{{"body":"{text}"}}}}]}},"field":"messages"}}]}}]}}"#
    );
    assert_eq!(deliver(rx, body.clone().into_bytes(), &signed(body.as_bytes())).await, StatusCode::OK);
}

fn never(cfg: Config) -> Config {
    Config { confirm: ConfirmMode::Never, ..cfg }
}

#[tokio::test]
async fn a_reply_is_sent_as_meta_documents_it_and_the_customers_message_is_marked_read() {
    let graph = graph().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.IN1", "Does it come in green?").await;
    let client = connect(rx.state.config.clone()).await;
    let args = json!({"to": CUSTOMER, "text": "Yes, it also comes in green.", "reply_to_message_id": "wamid.IN1"});
    let sent = structured(&call(&client, "send_whatsapp_message", args).await);
    let [body] = sends(&graph).await.try_into().unwrap();
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
               "biz_opaque_callback_data": sent["idempotency_key"], "context": {"message_id": "wamid.IN1"},
               "type": "text", "text": {"preview_url": false, "body": "Yes, it also comes in green."}})
    );
    assert_eq!(
        reads(&graph).await,
        [json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"})]
    );
    assert!(sent["message_id"].as_str().unwrap().starts_with("wamid.OUT"));
    assert_eq!((sent["to"].as_str(), sent["wa_id"].as_str()), (Some(CUSTOMER), Some("16505551234")));
    let auth = graph.received_requests().await.unwrap()[0].headers["authorization"].to_str().unwrap().to_string();
    assert_eq!(auth, format!("Bearer {WA_ACCESS_TOKEN}"));
}

#[tokio::test]
async fn free_text_outside_the_window_is_refused_before_meta_and_a_template_goes_out() {
    let graph = graph().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    let client = connect(rx.state.config.clone()).await;
    let refused =
        error_text(&call(&client, "send_whatsapp_message", json!({"to": CUSTOMER, "text": "Hello again"})).await);
    assert!(
        refused.contains("24 hours") && refused.contains("template_name") && refused.contains("Nothing was sent"),
        "{refused}"
    );
    assert!(graph.received_requests().await.unwrap().is_empty());
    let args = json!({"to": "+1 650-555-1234", "template_name": "lead_followup", "template_parameters": ["Sheena"]});
    structured(&call(&client, "send_whatsapp_message", args).await);
    let [body] = sends(&graph).await.try_into().unwrap();
    assert_eq!(
        (body["type"].clone(), body["to"].clone(), body["template"].clone()),
        (
            json!("template"),
            json!("+16505551234"),
            json!({"name": "lead_followup", "language": {"policy": "deterministic", "code": "en_US"},
                   "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}]})
        )
    );
}

#[tokio::test]
async fn ten_sequential_and_ten_concurrent_identical_sends_are_one_post() {
    let graph = graph().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.IN2", "Is my order shipped?").await;
    let client = std::sync::Arc::new(connect(rx.state.config.clone()).await);
    let args = json!({"to": CUSTOMER, "text": "Yes, it left this morning."});
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(structured(&call(&client, "send_whatsapp_message", args.clone()).await)["message_id"].clone());
    }
    let concurrent = (0..10).map(|_| {
        let (client, args) = (client.clone(), args.clone());
        tokio::spawn(
            async move { structured(&call(&client, "send_whatsapp_message", args).await)["message_id"].clone() },
        )
    });
    for id in futures::future::join_all(concurrent).await {
        ids.push(id.unwrap());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(sends(&graph).await.len(), 1);
}

#[tokio::test]
async fn metas_error_envelopes_become_actionable_results_and_nothing_is_retried() {
    for (status, code, message, details, expect) in [
        (
            400,
            131047,
            "(#131047) Re-engagement message",
            "More than 24 hours have passed since the recipient last replied to the sender number.",
            "template_name",
        ),
        (
            400,
            131056,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
            "6 seconds",
        ),
        (
            401,
            190,
            "Error validating access token: Session has expired",
            "Your access token has expired",
            "WHATSAPP_ACCESS_TOKEN",
        ),
    ] {
        let graph = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"error": {
                "message": message, "type": "OAuthException", "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details}, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})))
            .mount(&graph)
            .await;
        let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
        customer_writes(&rx, "wamid.IN3", "hello").await;
        let client = connect(rx.state.config.clone()).await;
        let text =
            error_text(&call(&client, "send_whatsapp_message", json!({"to": CUSTOMER, "text": "Hi Sheena"})).await);
        assert!(text.contains(expect) && text.contains("Nothing was sent"), "{code}: {text}");
        assert!(!text.contains(WA_ACCESS_TOKEN), "{text}");
        assert_eq!(graph.received_requests().await.unwrap().len(), 1, "{code}: sent once, never retried");
    }
}

#[tokio::test]
async fn an_unknown_outcome_is_reported_never_resent_and_settled_by_the_status_webhook() {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream connect error"))
        .mount(&graph)
        .await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.IN4", "hello").await;
    let client = connect(rx.state.config.clone()).await;
    let args = json!({"to": CUSTOMER, "text": "Your refund is on its way."});
    let first = error_text(&call(&client, "send_whatsapp_message", args.clone()).await);
    assert!(first.contains("may or may not have sent") && first.contains("will not send it again"), "{first}");
    let again = error_text(&call(&client, "send_whatsapp_message", args.clone()).await);
    assert!(again.contains("may or may not have sent"), "{again}");
    assert_eq!(graph.received_requests().await.unwrap().len(), 1, "never re-sent");
    // Meta did take it: its status webhook carries our key as biz_opaque_callback_data.
    let key = first.split("reference_id ").nth(1).unwrap().split(')').next().unwrap().to_string();
    let status = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","statuses":[{{"id":"wamid.LATE1","status":"sent","timestamp":"1749416501","recipient_id":"16505551234","biz_opaque_callback_data":"{key}"}}]}}}}]}}]}}"#
    );
    assert_eq!(deliver(&rx, status.clone().into_bytes(), &signed(status.as_bytes())).await, StatusCode::OK);
    let settled = structured(&call(&client, "send_whatsapp_message", args.clone()).await);
    assert_eq!((settled["message_id"].as_str(), settled["replayed"].as_bool()), (Some("wamid.LATE1"), Some(true)));
    assert_eq!(structured(&call(&client, "send_whatsapp_message", args).await)["message_id"], "wamid.LATE1");
    assert_eq!(graph.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_without_elicitation_sends_only_what_a_person_approved_on_the_page() {
    use crate::approvals::{approval_url, decide, open, plain_client};
    let graph = graph().await;
    let mut cfg = with_whatsapp_api(config(None, None), &graph);
    cfg.confirm = ConfirmMode::Elicit;
    cfg.approvals.wait = std::time::Duration::ZERO;
    let rx = start(cfg).await;
    customer_writes(&rx, "wamid.IN5", "Can I pay next week?").await;
    let client = plain_client(&rx).await;
    let reply = "Of course, Sheena. I have noted the 5th.\nThe link stays open until then.";
    let args = json!({"to": CUSTOMER, "text": reply, "reply_to_message_id": "wamid.IN5"});
    let pending = error_text(&crate::approvals::call(&client, "send_whatsapp_message", args.clone()).await);
    assert!(pending.contains("Waiting for the user's approval"), "{pending}");
    assert!(graph.received_requests().await.unwrap().is_empty(), "nothing sent before approval");
    let url = approval_url(&pending);
    let (page, token) = open(&url).await;
    assert!(
        page.contains(CUSTOMER) && page.contains("Of course, Sheena. I have noted the 5th."),
        "the exact text and recipient"
    );
    assert_eq!(decide(&url, "approve", &token).await, reqwest::StatusCode::SEE_OTHER);
    let [body] = sends(&graph).await.try_into().unwrap();
    assert_eq!(
        (body["text"]["body"].as_str(), body["to"].as_str()),
        (Some(reply), Some(CUSTOMER)),
        "exactly what was shown"
    );
    let sent = structured(&crate::approvals::call(&client, "send_whatsapp_message", args).await);
    assert_eq!(sent["approved_via"], "approval_page");

    // Declined: nothing goes out.
    let other = json!({"to": CUSTOMER, "text": "Actually, let me check with accounts."});
    let url = approval_url(&error_text(&crate::approvals::call(&client, "send_whatsapp_message", other.clone()).await));
    let (_, token) = open(&url).await;
    assert_eq!(decide(&url, "decline", &token).await, reqwest::StatusCode::SEE_OTHER);
    let told = error_text(&crate::approvals::call(&client, "send_whatsapp_message", other).await);
    assert!(told.contains("declined"), "{told}");
    assert_eq!(sends(&graph).await.len(), 1);
}

async fn status_webhook(rx: &Receiver, message_id: &str, status: &str, extra: &str) {
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","statuses":[{{"id":"{message_id}","status":"{status}","timestamp":"{}","recipient_id":"16505551234"{extra}}}]}}}}]}}]}}"#,
        switchboard::domain::time::now()
    );
    assert_eq!(deliver(rx, body.clone().into_bytes(), &signed(body.as_bytes())).await, StatusCode::OK);
}

#[tokio::test]
async fn a_conversation_shows_both_sides_in_order_with_each_replys_latest_status() {
    let graph = graph().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.C1", "Does it come in green?").await;
    let client = connect(rx.state.config.clone()).await;
    let reply = json!({"to": CUSTOMER, "text": "Yes, it does.", "reply_to_message_id": "wamid.C1"});
    let first =
        structured(&call(&client, "send_whatsapp_message", reply).await)["message_id"].as_str().unwrap().to_string();
    let second = structured(
        &call(&client, "send_whatsapp_message", json!({"to": CUSTOMER, "text": "Shall I reserve one?"})).await,
    )["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Statuses in any order: read wins over a late delivered; a failure carries WhatsApp's reason.
    status_webhook(&rx, &first, "read", "").await;
    status_webhook(&rx, &first, "delivered", "").await;
    let reason = r#","errors":[{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement.","error_data":{"details":"In order to maintain a healthy ecosystem engagement, the message failed to be delivered."}}]"#;
    status_webhook(&rx, &second, "failed", reason).await;

    let conversation = structured(&call(&client, "get_conversation", json!({"phone": "+1 650 555 1234"})).await);
    assert_eq!(
        (conversation["phone"].as_str(), conversation["name"].as_str()),
        (Some(CUSTOMER), Some("Sheena Nelson"))
    );
    assert_eq!(conversation["window_open"], true);
    let messages = conversation["messages"].as_array().unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> = messages
        .iter()
        .map(|m| (m["direction"].as_str().unwrap(), m["text"].as_str().unwrap(), m["status"].as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("inbound", "Does it come in green?", None),
            ("outbound", "Yes, it does.", Some("read")),
            ("outbound", "Shall I reserve one?", Some("failed")),
        ]
    );
    assert_eq!(messages[1]["reply_to"], "wamid.C1");
    assert!(messages[2]["failure"].as_str().unwrap().contains("131049"), "{}", messages[2]);

    let listed = structured(&call(&client, "list_conversations", json!({})).await);
    let [only] = listed["conversations"].as_array().unwrap().clone().try_into().unwrap();
    assert_eq!((only["phone"].as_str(), only["window_open"].as_bool()), (Some(CUSTOMER), Some(true)));
    assert_eq!(only["last_message"]["text"], "Shall I reserve one?");
}

// ---- adding the sender as a lead ----

use switchboard::config::HubSpotConfig;
use wiremock::matchers::body_partial_json;

async fn hubspot(existing_phone: Option<&str>) -> MockServer {
    let server = MockServer::start().await;
    let contact = json!({"id": "751", "properties": {"email": "sheena@example.com", "firstname": "Sheena", "lastname": "Nelson",
        "phone": "+16505551234", "hs_object_id": "751"}, "createdAt": "2026-11-29T10:00:00Z", "updatedAt": "2026-11-29T10:00:00Z", "archived": false});
    let found = |n| json!({"total": n, "results": if n == 0 { json!([]) } else { json!([contact.clone()]) }});
    if let Some(phone) = existing_phone {
        Mock::given(method("POST"))
            .and(path("/crm/v3/objects/contacts/search"))
            .and(body_partial_json(json!({"filterGroups": [{"filters": [{"value": phone}]}]})))
            .respond_with(ResponseTemplate::new(200).set_body_json(found(1)))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(found(0)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(201).set_body_json(contact.clone()))
        .mount(&server)
        .await;
    server
}

fn with_hubspot(mut cfg: Config, server: &MockServer) -> Config {
    cfg.hubspot = Some(HubSpotConfig {
        access_token: SecretString::from("pat-na1-11111111-2222-3333-4444-555555555555"),
        base_url: server.uri().parse().unwrap(),
        search_per_second: 100,
    });
    cfg
}

async fn creates(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/crm/v3/objects/contacts")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn an_unknown_sender_becomes_a_lead_once_and_a_known_one_is_returned_without_a_write() {
    let crm = hubspot(Some("+919820012345")).await;
    let client = connect(never(with_hubspot(config(None, None), &crm))).await;
    let known =
        structured(&call(&client, "create_lead", json!({"phone": "+91 98200 12345", "first_name": "Asha"})).await);
    assert_eq!((known["created"].as_bool(), known["id"].as_str()), (Some(false), Some("751")));
    assert!(creates(&crm).await.is_empty(), "nothing written for someone already in the CRM");

    let args =
        json!({"phone": "+16505551234", "first_name": "Sheena", "last_name": "Nelson", "email": "sheena@example.com"});
    let first = structured(&call(&client, "create_lead", args.clone()).await);
    assert_eq!((first["created"].as_bool(), first["id"].as_str()), (Some(true), Some("751")));
    assert_eq!(
        creates(&crm).await,
        [
            json!({"properties": {"email": "sheena@example.com", "phone": "+16505551234", "firstname": "Sheena", "lastname": "Nelson"}})
        ]
    );
    // A retry (HubSpot's search index lags behind a create) replays the first result.
    let again = structured(&call(&client, "create_lead", args).await);
    assert_eq!(again["id"], "751");
    assert_eq!(creates(&crm).await.len(), 1);
}

#[tokio::test]
async fn hubspots_already_exists_answer_becomes_the_existing_contact() {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"status": "error",
            "message": "Contact already exists. Existing ID: 751", "correlationId": "b1c2", "category": "CONFLICT"})))
        .mount(&crm)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/751"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": "751", "properties": {"email": "sheena@example.com", "firstname": "Sheena"}}),
            ),
        )
        .mount(&crm)
        .await;
    let client = connect(never(with_hubspot(config(None, None), &crm))).await;
    let lead = structured(&call(&client, "create_lead", json!({"email": "Sheena@Example.com"})).await);
    assert_eq!((lead["created"].as_bool(), lead["id"].as_str()), (Some(false), Some("751")));
}

#[tokio::test]
async fn a_client_without_elicitation_cannot_create_a_lead_until_a_person_approves() {
    use crate::approvals::{approval_url, decide, open, plain_client};
    let crm = hubspot(None).await;
    let mut cfg = with_hubspot(config(None, None), &crm);
    cfg.confirm = ConfirmMode::Elicit;
    cfg.approvals.wait = std::time::Duration::ZERO;
    let rx = start(cfg).await;
    let client = plain_client(&rx).await;
    let args = json!({"phone": "+16505551234", "first_name": "Sheena", "company": "Nelson Farms"});
    let pending = error_text(&crate::approvals::call(&client, "create_lead", args.clone()).await);
    assert!(creates(&crm).await.is_empty(), "{pending}");
    let url = approval_url(&pending);
    let (page, token) = open(&url).await;
    assert!(page.contains("Add Sheena to HubSpot as a new lead") && page.contains("Nelson Farms"), "{page}");
    assert_eq!(decide(&url, "approve", &token).await, reqwest::StatusCode::SEE_OTHER);
    assert_eq!(creates(&crm).await.len(), 1);
    let lead = structured(&crate::approvals::call(&client, "create_lead", args).await);
    assert_eq!(lead["approved_via"], "approval_page");
}

/// A Graph stub whose sends all fail with 503 (the outcome is unknown to Switchboard).
async fn graph_503() -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream connect error"))
        .mount(&graph)
        .await;
    graph
}

fn key_in(text: &str) -> String {
    text.split("reference_id ").nth(1).unwrap().split(')').next().unwrap().to_string()
}

async fn status_for_key(rx: &Receiver, key: &str, status: &str, extra: &str) {
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","statuses":[{{"id":"wamid.LATE9","status":"{status}","timestamp":"1749416501","recipient_id":"16505551234","biz_opaque_callback_data":"{key}"{extra}}}]}}}}]}}]}}"#
    );
    assert_eq!(deliver(rx, body.clone().into_bytes(), &signed(body.as_bytes())).await, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_status_is_not_taken_for_a_sent_message_and_a_new_send_is_then_allowed() {
    let graph = graph_503().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.IN6", "hello").await;
    let client = connect(rx.state.config.clone()).await;
    let args = json!({"to": CUSTOMER, "text": "We will call you today."});
    let key = key_in(&error_text(&call(&client, "send_whatsapp_message", args.clone()).await));
    let reason = r#","errors":[{"code":131049,"title":"This message was not delivered to maintain healthy ecosystem engagement."}]"#;
    status_for_key(&rx, &key, "failed", reason).await;
    let told = error_text(&call(&client, "send_whatsapp_message", args.clone()).await);
    assert!(
        told.contains("could not deliver") && told.contains("131049") && told.contains("Nothing reached"),
        "{told}"
    );
    assert_eq!(graph.received_requests().await.unwrap().len(), 1);
    // The failure is known, so the next call is a new send (here: approval off, so it goes out at once).
    let again = error_text(&call(&client, "send_whatsapp_message", args).await);
    assert!(again.contains("may or may not"), "{again}");
    assert_eq!(graph.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unknown_send_is_settled_even_after_the_window_closed() {
    let graph = graph_503().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    // The customer wrote 24 hours less 2 seconds ago: the window closes during this test.
    let written = switchboard::domain::time::now() - 24 * 3600 + 2;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","messages":[{{"from":"16505551234","id":"wamid.OLD1","timestamp":"{written}","type":"text","text":{{"body":"hi"}}}}]}}}}]}}]}}"#
    );
    assert_eq!(deliver(&rx, body.clone().into_bytes(), &signed(body.as_bytes())).await, StatusCode::OK);
    let client = connect(rx.state.config.clone()).await;
    let args = json!({"to": CUSTOMER, "text": "Sorry for the wait."});
    let key = key_in(&error_text(&call(&client, "send_whatsapp_message", args.clone()).await));
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let closed =
        error_text(&call(&client, "send_whatsapp_message", json!({"to": CUSTOMER, "text": "Another thing"})).await);
    assert!(closed.contains("24 hours"), "the window is closed now: {closed}");
    status_for_key(&rx, &key, "sent", "").await;
    let settled = structured(&call(&client, "send_whatsapp_message", args).await);
    assert_eq!((settled["message_id"].as_str(), settled["replayed"].as_bool()), (Some("wamid.LATE9"), Some(true)));
    assert_eq!(graph.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_words_a_day_later_are_a_new_message_and_a_number_needs_its_plus() {
    let graph = graph().await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.IN7", "thanks!").await;
    let client = connect(rx.state.config.clone()).await;
    let args = json!({"to": CUSTOMER, "text": "Thank you, Sheena!"});
    let first = structured(&call(&client, "send_whatsapp_message", args.clone()).await);
    assert_eq!(
        structured(&call(&client, "send_whatsapp_message", args.clone()).await)["message_id"],
        first["message_id"]
    );
    // A day passes (the ledger's record of the first send is made a day older).
    let db = rx.state.config.data_dir.join("switchboard.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("UPDATE idempotency SET created_at = created_at - 86400 WHERE tool = 'send_whatsapp_message'")
        .execute(&pool)
        .await
        .unwrap();
    let later = structured(&call(&client, "send_whatsapp_message", args).await);
    assert_ne!(later["message_id"], first["message_id"]);
    assert_eq!(later["replayed"], false);
    assert_eq!(sends(&graph).await.len(), 2);
    let no_plus = error_text(&call(&client, "send_whatsapp_message", json!({"to": "16505551234", "text": "hi"})).await);
    assert!(no_plus.contains("must start with +"), "{no_plus}");
}

#[tokio::test]
async fn metas_unknown_and_temporary_errors_leave_the_outcome_unknown_and_nothing_is_resent() {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131000) Something went wrong", "type": "OAuthException", "code": 131000,
            "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send due to an unknown error."},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}})))
        .mount(&graph)
        .await;
    let rx = start(never(with_whatsapp_api(config(None, None), &graph))).await;
    customer_writes(&rx, "wamid.IN8", "hello").await;
    let client = connect(rx.state.config.clone()).await;
    let args = json!({"to": CUSTOMER, "text": "Your order is confirmed."});
    for _ in 0..2 {
        let text = error_text(&call(&client, "send_whatsapp_message", args.clone()).await);
        assert!(text.contains("may or may not have sent"), "{text}");
    }
    assert_eq!(graph.received_requests().await.unwrap().len(), 1, "never sent twice");
}
