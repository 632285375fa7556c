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
    // Other sources keep the general limit (1 MiB by default).
    let big = vec![b'x'; 2 << 20];
    let response =
        reqwest::Client::new().post(format!("http://{}/webhooks/razorpay", rx.addr)).body(big).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
