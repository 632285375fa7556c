//! `switchboard demo` on WhatsApp: a person types as the customer on the sandbox's phone page, the message
//! reaches the agent as a signed webhook, the agent's reply goes through the real client to the sandbox's Graph
//! API, shows on the phone, and its sent / delivered / read statuses come back as signed webhooks.

use crate::helpers::{call, config, connect_with, error_text, structured};
use rmcp::RoleClient;
use rmcp::service::RunningService;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use switchboard::config::ConfirmMode;
use switchboard::demo::{self, Demo, DemoOptions};
use switchboard::sandbox::whatsapp::PHONE_NUMBER_ID;
use tokio_util::sync::CancellationToken;

/// Asha Rao: on WhatsApp with her CRM contact's phone.
const ASHA: &str = "+919876500001";
const ASHA_WA_ID: &str = "919876500001";
/// Meera Iyer: on WhatsApp, unknown to the CRM, has never written.
const MEERA: &str = "+919876543210";

struct RunningDemo {
    demo: Demo,
    base: String,
    shutdown: CancellationToken,
}

impl Drop for RunningDemo {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The demo wired as `switchboard demo` wires it (status webhooks `delay` after a send), on a free loopback port.
async fn start_demo(dir: &Path, delay: Duration) -> RunningDemo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(None, None);
    cfg.data_dir = dir.to_path_buf();
    cfg.confirm = ConfirmMode::Never;
    let options = DemoOptions {
        addr,
        reset: false,
        webhook_delay: delay,
        duplicate_webhooks: false,
        allow_remote: false,
        data_dir: Some(dir.to_path_buf()),
    };
    let shutdown = CancellationToken::new();
    let demo = demo::build(cfg, &options, addr, shutdown.clone()).unwrap();
    let app = demo.app.clone();
    let limits = demo.state.config.http.limits.clone();
    let serving = shutdown.clone();
    tokio::spawn(async move { switchboard::transport::http::serve_app(listener, app, &limits, serving).await });
    RunningDemo { demo, base: format!("http://{addr}"), shutdown }
}

type Client = RunningService<RoleClient, ()>;

/// Poll `probe` every 50 ms until it returns something, for at most 20 seconds.
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Type `text` on the customer's phone page and press Send (the form redirects back to the page).
async fn type_on_phone(running: &RunningDemo, wa_id: &str, text: &str) -> String {
    let url = format!("{}/sandbox/phone/{wa_id}", running.base);
    let sent = reqwest::Client::new().post(&url).header("origin", &running.base).form(&[("text", text)]).send();
    let sent = sent.await.unwrap();
    assert_eq!(sent.status(), 200, "the form redirects back to the phone");
    sent.text().await.unwrap()
}

async fn phone_page(running: &RunningDemo, wa_id: &str) -> String {
    let page = reqwest::get(format!("{}/sandbox/phone/{wa_id}", running.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// The `message_received` events from `phone`, oldest first.
async fn received(client: &Client, phone: &str) -> Vec<Value> {
    let events = structured(
        &call(client, "list_events", json!({"kind": "message_received", "customer_phone": phone, "limit": 100})).await,
    );
    events["events"].as_array().unwrap().clone()
}

/// The conversation's messages: (direction, text, status).
async fn conversation(client: &Client, phone: &str) -> (Value, Vec<(String, String, Option<String>)>) {
    let conversation = structured(&call(client, "get_conversation", json!({"phone": phone})).await);
    let messages = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap_or_default().to_string(),
                m["status"].as_str().map(str::to_string),
            )
        })
        .collect();
    (conversation, messages)
}

/// The status get_conversation shows for our message `n` (0-based among all messages).
async fn status_of(client: &Client, phone: &str, n: usize) -> Option<String> {
    conversation(client, phone).await.1.get(n).and_then(|m| m.2.clone())
}

/// The ticks (class words) the phone page shows, in order, for messages of `side` ("inbound" / "outbound").
fn ticks(page: &str, side: &str) -> Vec<String> {
    page.split(&format!("<li class=\"message {side}\""))
        .skip(1)
        .map(|item| {
            let at = item.find("class=\"ticks ").expect("every message has ticks");
            item[at + 13..].split('"').next().unwrap().to_string()
        })
        .collect()
}

/// The sandbox's Graph API, called directly with the sandbox token (or `token`).
async fn graph(running: &RunningDemo, token: Option<&str>, body: Value) -> (u16, Value) {
    let config = running.demo.sandbox.whatsapp_config();
    let token = token.map_or_else(|| config.access_token.expose_secret().to_string(), str::to_string);
    let url = format!("{}/sandbox/whatsapp/v26.0/{PHONE_NUMBER_ID}/messages", running.base);
    let answer = reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn typing_on_the_phone_page_reaches_the_agent_as_a_received_message() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), Duration::ZERO).await;
    let client = connect_with(running.demo.state.clone(), ()).await;

    let home = reqwest::get(format!("{}/sandbox", running.base)).await.unwrap().text().await.unwrap();
    assert!(home.contains("href=\"/sandbox/phone\"") && home.contains(&format!("/sandbox/phone/{ASHA_WA_ID}")));
    let index = reqwest::get(running.demo.sandbox.phone_url(None)).await.unwrap().text().await.unwrap();
    assert!(index.contains("Asha Rao") && index.contains("HubSpot contact Asha Rao (90000000101)"), "{index}");
    assert!(index.contains("Meera Iyer") && index.contains("not in the CRM"), "{index}");

    let empty = phone_page(&running, ASHA_WA_ID).await;
    assert!(empty.contains("id=\"messages\"") && empty.contains("id=\"text\"") && empty.contains("id=\"send\""));
    assert!(!empty.contains("class=\"message "), "no messages at start");

    // Non-ASCII goes out \u-escaped, as Meta sends it, and is signed over those exact bytes.
    let words = "Hi! Is INV-2026-0087 still due? ₹45,000 😀 <b>";
    let page = type_on_phone(&running, ASHA_WA_ID, words).await;
    assert!(page.contains("Hi! Is INV-2026-0087 still due? ₹45,000 😀 &lt;b&gt;"), "shown, escaped: {page}");
    assert_eq!(ticks(&page, "inbound").len(), 1);

    let events = eventually("the message_received event", async || {
        let events = received(&client, ASHA).await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    let [event] = events.try_into().unwrap();
    assert_eq!((event["source"].as_str(), event["kind"].as_str()), (Some("whatsapp"), Some("message_received")));
    assert_eq!(event["correlation"]["customer_phone"], ASHA);
    assert!(event["correlation"]["message_id"].as_str().unwrap().starts_with("wamid."), "{event}");
    let message = &event["payload"]["entry"][0]["changes"][0]["value"];
    assert_eq!(message["metadata"]["phone_number_id"], PHONE_NUMBER_ID);
    assert_eq!(message["contacts"][0], json!({"profile": {"name": "Asha Rao"}, "wa_id": ASHA_WA_ID}));
    assert_eq!(message["messages"][0]["type"], "text");
    assert!(message["messages"][0]["timestamp"].is_string(), "Meta's timestamps are strings");

    let (whole, messages) = conversation(&client, ASHA).await;
    assert_eq!(messages, [("inbound".to_string(), words.to_string(), None)]);
    assert_eq!((whole["name"].as_str(), whole["window_open"].as_bool()), (Some("Asha Rao"), Some(true)));

    // The business received it: the customer's tick turns double once the webhook is acknowledged.
    eventually("the delivered tick", async || {
        (ticks(&phone_page(&running, ASHA_WA_ID).await, "inbound") == ["delivered"]).then_some(())
    })
    .await;
    assert_eq!(running.demo.sandbox.pending_whatsapp_deliveries().await, 0);

    // Empty or cross-site messages are refused, and nothing is sent.
    let url = format!("{}/sandbox/phone/{ASHA_WA_ID}", running.base);
    let http = reqwest::Client::new();
    let blank = http.post(&url).form(&[("text", "   ")]).send().await.unwrap();
    assert_eq!(blank.status(), 400);
    let cross_site = http.post(&url).header("origin", "https://evil.example").form(&[("text", "hi")]).send();
    assert_eq!(cross_site.await.unwrap().status(), 403);
    let nobody = http.post(format!("{}/sandbox/phone/15550000000", running.base)).form(&[("text", "hi")]).send();
    assert_eq!(nobody.await.unwrap().status(), 404);
    assert_eq!(running.demo.sandbox.whatsapp_message_count().await, 1);
}

#[tokio::test]
async fn the_agents_reply_shows_on_the_phone_and_its_ticks_come_back_as_status_events() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), Duration::ZERO).await;
    let client = connect_with(running.demo.state.clone(), ()).await;
    type_on_phone(&running, ASHA_WA_ID, "Can you send me a payment link for INV-2026-0087?").await;
    let asked = eventually("the customer's message", async || received(&client, ASHA).await.into_iter().next()).await;
    let asked_id = asked["correlation"]["message_id"].as_str().unwrap().to_string();

    let reply = "Of course, Asha: here it is.";
    let args = json!({"to": ASHA, "text": reply, "reply_to_message_id": asked_id});
    let sent = structured(&call(&client, "send_whatsapp_message", args).await);
    let wamid = sent["message_id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid."), "{sent}");
    assert_eq!((sent["to"].as_str(), sent["wa_id"].as_str()), (Some(ASHA), Some(ASHA_WA_ID)));

    // sent, then delivered (a second later), before anyone looks at the phone.
    eventually("delivered", async || (status_of(&client, ASHA, 1).await.as_deref() == Some("delivered")).then_some(()))
        .await;
    let statuses = structured(&call(&client, "list_events", json!({"message_id": wamid})).await);
    let kinds: Vec<&str> = statuses["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message_sent", "message_delivered"]);
    let status = &statuses["events"][0]["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["recipient_id"], ASHA_WA_ID);
    assert_eq!(status["biz_opaque_callback_data"], sent["idempotency_key"], "echoed from the send");
    assert!(status["timestamp"].is_string());

    // The customer opens the chat: the reply is there, quoting their message, and is now read.
    let page = phone_page(&running, ASHA_WA_ID).await;
    assert!(page.contains(reply) && page.contains("class=\"quote\""), "{page}");
    let [tick] = ticks(&page, "outbound").try_into().unwrap();
    assert!(tick == "delivered" || tick == "read", "{tick}: its read status may already be acknowledged");
    assert_eq!(ticks(&page, "inbound"), ["read"], "the tool marked the customer's message read");
    eventually("read", async || (status_of(&client, ASHA, 1).await.as_deref() == Some("read")).then_some(())).await;
    let (_, messages) = conversation(&client, ASHA).await;
    assert_eq!(messages[1], ("outbound".to_string(), reply.to_string(), Some("read".to_string())));
    eventually("blue ticks", async || {
        (ticks(&phone_page(&running, ASHA_WA_ID).await, "outbound") == ["read"]).then_some(())
    })
    .await;
    let statuses = structured(&call(&client, "list_events", json!({"message_id": wamid})).await);
    assert_eq!(statuses["events"].as_array().unwrap().len(), 3, "sent, delivered, read, once each: {statuses}");
    // Looking again sends no second read.
    phone_page(&running, ASHA_WA_ID).await;
    assert_eq!(running.demo.sandbox.pending_whatsapp_deliveries().await, 0);
}

#[tokio::test]
async fn free_text_to_someone_who_never_wrote_is_refused_by_the_tool_and_by_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), Duration::ZERO).await;
    let client = connect_with(running.demo.state.clone(), ()).await;

    let refused =
        error_text(&call(&client, "send_whatsapp_message", json!({"to": MEERA, "text": "Hello Meera"})).await);
    assert!(refused.contains("24 hours") && refused.contains("template_name"), "{refused}");

    // The sandbox itself answers as Meta does.
    let text = |to: &str| {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
        "type": "text", "text": {"preview_url": false, "body": "Hello"}})
    };
    let (status, body) = graph(&running, None, text(MEERA)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 131047);
    assert_eq!(body["error"]["message"], "(#131047) Re-engagement message");
    assert_eq!(body["error"]["type"], "OAuthException");
    assert_eq!(
        body["error"]["error_data"],
        json!({"messaging_product": "whatsapp",
               "details": "More than 24 hours have passed since the recipient last replied to the sender number."})
    );
    assert!(body["error"]["fbtrace_id"].is_string());
    let (status, body) = graph(&running, None, text("+15550001111")).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(131026)), "not on WhatsApp: {body}");
    let (status, body) = graph(&running, Some("EAAwrong"), text(MEERA)).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (401, Some(190)), "{body}");
    let read = json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.NOPE"});
    let (status, body) = graph(&running, None, read).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(131009)), "{body}");
    let (status, body) = graph(&running, None, json!({"messaging_product": "whatsapp", "type": "text"})).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(131008)), "no recipient: {body}");
    assert_eq!(running.demo.sandbox.whatsapp_message_count().await, 0, "nothing refused was recorded");

    // A template may open the conversation; it shows on her phone.
    let args = json!({"to": MEERA, "template_name": "lead_followup", "template_parameters": ["Meera"]});
    let sent = structured(&call(&client, "send_whatsapp_message", args).await);
    let page = phone_page(&running, "919876543210").await;
    assert!(page.contains("Template “lead_followup” (en_US): Meera"), "{page}");
    assert_eq!(ticks(&page, "outbound").len(), 1);
    eventually("the template read", async || {
        (status_of(&client, MEERA, 0).await.as_deref() == Some("read")).then_some(())
    })
    .await;
    assert!(sent["message_id"].as_str().unwrap().starts_with("wamid."));
}

#[tokio::test]
async fn the_whatsapp_sandbox_survives_a_restart_and_sends_what_it_still_owed() {
    let dir = tempfile::tempdir().unwrap();
    // Statuses 1.5 s after a send: the first run stops before they are sent.
    let first = start_demo(dir.path(), Duration::from_millis(1500)).await;
    let client = connect_with(first.demo.state.clone(), ()).await;
    type_on_phone(&first, ASHA_WA_ID, "Are you open on Saturday?").await;
    eventually("the customer's message", async || received(&client, ASHA).await.into_iter().next()).await;
    let sandbox = first.demo.sandbox.clone();
    eventually("its webhook acknowledged", async || (sandbox.pending_whatsapp_deliveries().await == 0).then_some(()))
        .await;
    let sent = structured(&call(&client, "send_whatsapp_message", json!({"to": ASHA, "text": "Yes, 10 to 4."})).await);
    assert_eq!(first.demo.sandbox.pending_whatsapp_deliveries().await, 2, "sent and delivered, saved with the send");
    let token = first.demo.sandbox.whatsapp_config().access_token.expose_secret().to_string();
    drop(client);
    drop(sandbox);
    drop(first);

    let second = start_demo(dir.path(), Duration::ZERO).await;
    assert_eq!(second.demo.sandbox.whatsapp_message_count().await, 2, "both messages survive");
    assert_eq!(second.demo.sandbox.whatsapp_config().access_token.expose_secret(), token, "so does the token");
    let client = connect_with(second.demo.state.clone(), ()).await;
    eventually("the owed statuses", async || {
        (status_of(&client, ASHA, 1).await.as_deref() == Some("delivered")).then_some(())
    })
    .await;
    let sandbox = second.demo.sandbox.clone();
    eventually("nothing owed", async || (sandbox.pending_whatsapp_deliveries().await == 0).then_some(())).await;
    let statuses = structured(&call(&client, "list_events", json!({"message_id": sent["message_id"]})).await);
    let kinds: Vec<&str> = statuses["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message_sent", "message_delivered"]);

    let page = phone_page(&second, ASHA_WA_ID).await;
    assert!(page.contains("Are you open on Saturday?") && page.contains("Yes, 10 to 4."), "{page}");
    // The 24-hour window is the saved one: Asha wrote, Meera did not.
    let text = |to: &str| json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "Hi"}});
    let (status, body) = graph(&second, None, text(ASHA)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contacts"][0], json!({"input": ASHA, "wa_id": ASHA_WA_ID}));
    assert_eq!(body["messaging_product"], "whatsapp");
    assert!(body["messages"][0]["id"].as_str().unwrap().starts_with("wamid."));
    let (status, body) = graph(&second, None, text(MEERA)).await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(131047)));
}

#[test]
fn a_sandbox_saved_before_whatsapp_gains_its_customers_and_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let options = switchboard::sandbox::DeliveryOptions { delay: Duration::ZERO, duplicate: false };
    let open = || switchboard::sandbox::Sandbox::open(dir.path(), false, "http://127.0.0.1:1".into(), options).unwrap();
    let razorpay_key = open().razorpay_config().key_id;
    // Make the saved world look like one from before WhatsApp: no customers, no WhatsApp keys.
    let file = dir.path().join("sandbox.json");
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    saved.as_object_mut().unwrap().remove("whatsapp");
    let credentials = saved["credentials"].as_object_mut().unwrap();
    credentials.retain(|key, _| !key.starts_with("whatsapp"));
    std::fs::write(&file, serde_json::to_vec(&saved).unwrap()).unwrap();

    let upgraded = open();
    assert_eq!(upgraded.razorpay_config().key_id, razorpay_key, "the rest is kept");
    let token = upgraded.whatsapp_config().access_token.expose_secret().to_string();
    assert!(token.starts_with("EAA"), "{token}");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let customers = runtime.block_on(upgraded.whatsapp_customers());
    let names: Vec<&str> = customers.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(names, ["Asha Rao", "Meera Iyer"]);
    assert_eq!(open().whatsapp_config().access_token.expose_secret(), token, "saved: the same keys next time");
}

#[tokio::test]
async fn the_unknown_sender_becomes_a_crm_lead_once_and_the_known_one_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_demo(dir.path(), Duration::ZERO).await;
    let client = &connect_with(running.demo.state.clone(), ()).await;
    let meera = json!({"phone": "+919876543210", "first_name": "Meera", "last_name": "Iyer"});
    let created = structured(&call(client, "create_lead", meera.clone()).await);
    assert_eq!(created["created"], true, "{created}");
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()));
    // Now she is in the CRM: asking again finds her (nothing written), and find_leads sees her by phone.
    let again = structured(&call(client, "create_lead", meera).await);
    assert_eq!((again["created"].as_bool(), again["id"].clone()), (Some(false), created["id"].clone()));
    let found = structured(&call(client, "find_leads", json!({"phone": "+919876543210"})).await);
    assert_eq!(found["leads"].as_array().unwrap().len(), 1);
    let asha = structured(&call(client, "create_lead", json!({"phone": "+919876500001"})).await);
    assert_eq!(asha["created"], false, "Asha Rao is a seeded contact");
}
