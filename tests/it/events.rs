//! Listening end to end: an agent waits for a payment over MCP (Streamable HTTP), the provider's signed webhook
//! arrives at the same server, and the wait returns — with progress while waiting and no provider polling.

use crate::helpers::{config, structured};
use crate::webhooks::{deliver_razorpay, start, with_webhooks};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, NumberOrString, ProgressNotificationParam,
    ProgressToken, RequestMetaObject,
};
use rmcp::service::NotificationContext;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use wiremock::MockServer;

/// A client that forwards every progress notification to the test.
#[derive(Clone)]
struct Watching {
    progress: mpsc::UnboundedSender<ProgressNotificationParam>,
}

impl ClientHandler for Watching {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("watching", "0"))
    }

    async fn on_progress(&self, params: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        let _ = self.progress.send(params);
    }
}

fn paid_webhook() -> String {
    crate::helpers::fixture("razorpay/webhook_payment_link_paid.json").trim().to_string()
}

#[tokio::test]
async fn wait_for_payment_returns_when_the_webhook_lands_without_polling_the_provider() {
    let razorpay_api = MockServer::start().await; // any request here would be polling
    let rx = start(with_webhooks(config(Some(&razorpay_api.uri()), None))).await;
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{}/mcp", rx.addr));
    let client = Arc::new(Watching { progress: progress_tx }.serve(transport).await.unwrap());

    let waiting = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut params = CallToolRequestParams::new("wait_for_payment").with_arguments(
                json!({"payment_link_id": "plink_SCx4Lm8QwErT2y", "timeout_secs": 60}).as_object().unwrap().clone(),
            );
            params.meta =
                Some(RequestMetaObject::with_progress_token(ProgressToken(NumberOrString::String("pay-wait".into()))));
            let result = client.call_tool(params).await.unwrap();
            (result, Instant::now())
        })
    };
    // The wait is under way once it reports progress; then the provider's webhook arrives.
    let first = tokio::time::timeout(Duration::from_secs(10), progress_rx.recv()).await.unwrap().unwrap();
    assert!(first.total.is_some_and(|t| t >= 60.0), "{first:?}");
    assert_eq!(deliver_razorpay(rx.addr, &paid_webhook(), "evt_RZ_PAID_1").await, reqwest::StatusCode::OK);
    let acked = Instant::now();

    let (result, returned) = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
    let latency = returned.duration_since(acked);
    println!("webhook ack → wait_for_payment returned: {latency:?}");
    assert!(latency < Duration::from_secs(1), "the wait should end right after the delivery, took {latency:?}");
    let outcome = structured(&result);
    assert_eq!(outcome["paid"], true);
    assert_eq!(outcome["timed_out"], false);
    assert_eq!(outcome["payment_id"], "pay_SCx9RtYu3IoP4a");
    assert_eq!(outcome["amount"]["formatted"], "₹45,000.00");
    assert_eq!(outcome["event"]["type"], "payment_link.paid");
    assert!(razorpay_api.received_requests().await.unwrap().is_empty(), "no provider polling during the wait");
}

#[tokio::test]
async fn a_payment_that_already_arrived_returns_at_once_and_shows_in_get_payment_link() {
    let razorpay_api = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/v1/payment_links/plink_SCx4Lm8QwErT2y"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(crate::helpers::fixture("razorpay/payment_link_created.json"), "application/json"),
        )
        .mount(&razorpay_api)
        .await;
    let rx = start(with_webhooks(config(Some(&razorpay_api.uri()), None))).await;
    deliver_razorpay(rx.addr, &paid_webhook(), "evt_RZ_PAID_2").await;
    let client = crate::helpers::connect_with(rx.state.clone(), ()).await;

    let started = Instant::now();
    let outcome =
        structured(&crate::helpers::call(&client, "wait_for_payment", json!({"reference_id": "SW-2026-0142"})).await);
    assert_eq!(outcome["paid"], true);
    assert!(started.elapsed() < Duration::from_secs(1));

    // The provider still says "created"; the verified webhook says paid.
    let link = structured(
        &crate::helpers::call(&client, "get_payment_link", json!({"payment_link_id": "plink_SCx4Lm8QwErT2y"})).await,
    );
    assert_eq!(link["status"], "paid");
    assert_eq!(link["amount_paid"]["formatted"], "₹45,000.00");
}

#[tokio::test]
async fn the_event_log_is_listed_read_and_waited_on_by_id() {
    let rx = start(with_webhooks(config(None, None))).await;
    for i in 0..3 {
        let body = format!(
            r#"{{"entity":"event","event":"payment.captured","payload":{{"payment":{{"entity":{{"id":"pay_{i:014}","email":"a{i}@example.com"}}}}}},"created_at":1795426810}}"#
        );
        deliver_razorpay(rx.addr, &body, &format!("evt_L{i}")).await;
    }
    let client = crate::helpers::connect_with(rx.state.clone(), ()).await;
    let call = |tool: &'static str, args: Value| {
        let client = &client;
        async move { crate::helpers::call(client, tool, args).await }
    };
    let page = structured(&call("list_events", json!({"source": "razorpay", "limit": 2})).await);
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    let rest = structured(&call("list_events", json!({"cursor": page["next_cursor"]})).await);
    assert_eq!(rest["events"][0]["correlation"]["payment_id"], "pay_00000000000002");
    let by_email = structured(&call("list_events", json!({"customer_email": "a1@example.com"})).await);
    assert_eq!(by_email["events"].as_array().unwrap().len(), 1);
    let id = by_email["events"][0]["id"].as_str().unwrap().to_string();
    let one = structured(&call("get_event", json!({"event_id": id})).await);
    assert_eq!(one["payload"]["payload"]["payment"]["entity"]["id"], "pay_00000000000001");

    // Already there: at once. Newer than the newest: times out cleanly.
    let now = structured(&call("wait_for_event", json!({"event_type": "payment.captured", "timeout_secs": 5})).await);
    assert_eq!(now["timed_out"], false);
    let newest = now["event"]["id"].as_str().unwrap().to_string();
    let later = structured(&call("wait_for_event", json!({"after_event_id": newest, "timeout_secs": 1})).await);
    assert_eq!(later["timed_out"], true);
    assert!(later["event"].is_null());

    let err = crate::helpers::error_text(&call("wait_for_event", json!({"timeout_secs": 100000})).await);
    assert!(err.contains("timeout_secs"), "{err}");
    let err = crate::helpers::error_text(&call("list_events", json!({"sourse": "razorpay"})).await);
    assert!(err.contains("sourse"), "{err}");
}

/// A client that forwards `notifications/resources/updated` URIs to the test.
#[derive(Clone)]
struct Subscriber {
    updated: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Subscriber {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("subscriber", "0"))
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        let _ = self.updated.send(params.uri);
    }
}

#[tokio::test]
async fn event_resources_read_and_notify_subscribers_when_an_event_lands() {
    let rx = start(with_webhooks(config(None, None))).await;
    let (tx, mut updates) = mpsc::unbounded_channel();
    let client = crate::helpers::connect_with(rx.state.clone(), Subscriber { updated: tx }).await;

    let listed = client.list_all_resources().await.unwrap();
    assert_eq!(listed[0].uri, "events://recent");
    #[allow(deprecated)]
    client.subscribe(rmcp::model::SubscribeRequestParams::new("events://recent")).await.unwrap();

    assert_eq!(deliver_razorpay(rx.addr, &paid_webhook(), "evt_RZ_RES").await, reqwest::StatusCode::OK);
    let uri = tokio::time::timeout(Duration::from_secs(5), updates.recv()).await.unwrap().unwrap();
    assert_eq!(uri, "events://recent");

    let read = client.read_resource(rmcp::model::ReadResourceRequestParams::new("events://recent")).await.unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("text expected")
    };
    let recent: Value = serde_json::from_str(text).unwrap();
    assert_eq!(recent[0]["type"], "payment_link.paid");
    let id = recent[0]["id"].as_str().unwrap();
    let one =
        client.read_resource(rmcp::model::ReadResourceRequestParams::new(format!("events://{id}"))).await.unwrap();
    assert!(
        matches!(&one.contents[0], rmcp::model::ResourceContents::TextResourceContents { text, .. } if text.contains("pay_SCx9RtYu3IoP4a"))
    );
    assert!(client.read_resource(rmcp::model::ReadResourceRequestParams::new("events://ev_999")).await.is_err());
}

/// A session that subscribed leaves nothing behind when it goes, even when no event arrives to show it is gone:
/// its forwarder ends with it instead of waiting on the event log for the life of the process.
#[tokio::test]
async fn a_subscription_ends_with_its_session() {
    let rx = start(with_webhooks(config(None, None))).await;
    let (tx, _updates) = mpsc::unbounded_channel();
    let client = crate::helpers::connect_with(rx.state.clone(), Subscriber { updated: tx }).await;
    let listeners = || rx.state.store.events().listeners();
    let before = listeners();
    #[allow(deprecated)]
    client.subscribe(rmcp::model::SubscribeRequestParams::new("events://recent")).await.unwrap();
    assert_eq!(listeners(), before + 1);
    client.cancel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listeners() > before {
        assert!(Instant::now() < deadline, "the subscription outlived its session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A session can subscribe only to our resources: an event (which never changes, so nothing is kept) or
/// `events://recent`. Anything else is refused with a short answer, so a client cannot make a session hold an
/// unbounded set of URIs of its choosing.
#[tokio::test]
async fn only_our_resources_can_be_subscribed_to() {
    let rx = start(with_webhooks(config(None, None))).await;
    let (tx, _updates) = mpsc::unbounded_channel();
    let client = crate::helpers::connect_with(rx.state.clone(), Subscriber { updated: tx }).await;
    #[allow(deprecated)]
    let subscribe = |uri: String| client.subscribe(rmcp::model::SubscribeRequestParams::new(uri));
    subscribe("events://ev_1".into()).await.unwrap();
    subscribe("events://recent".into()).await.unwrap();
    let refused = subscribe(format!("file:///{}", "x".repeat(100_000))).await.unwrap_err().to_string();
    assert!(refused.contains("no resource"), "{refused}");
    assert!(refused.len() < 1_000, "the URI is echoed in full: {} bytes", refused.len());
    assert_eq!(rx.state.store.events().listeners(), 1, "one forwarder for the session, none for events://ev_1");
}

fn checkout_completed(id: &str, payment_status: &str) -> String {
    json!({
        "id": id, "object": "event", "type": "checkout.session.completed", "created": 1795430000, "livemode": false,
        "data": {"object": {"id": format!("cs_test_{id}"), "object": "checkout.session", "payment_link": "plink_1SzQ3Rq8LwT2kP5dXb4Ne7Yc",
                 "payment_intent": "pi_3SzQ9Uq8LwT2kP5d0Ab1Cd2E", "payment_status": payment_status, "amount_total": 129900,
                 "currency": "usd", "customer_details": {"email": "Priya.Nair@NorthwindTraders.com"}}}
    })
    .to_string()
}

#[tokio::test]
async fn an_unpaid_checkout_does_not_count_as_paid_but_a_paid_one_does() {
    let rx = start(with_webhooks(config(None, None))).await;
    let client = crate::helpers::connect_with(rx.state.clone(), ()).await;
    let wait = json!({"payment_link_id": "plink_1SzQ3Rq8LwT2kP5dXb4Ne7Yc", "timeout_secs": 1});
    assert_eq!(
        crate::webhooks::deliver_stripe(rx.addr, &checkout_completed("evt_unpaid", "unpaid")).await,
        reqwest::StatusCode::OK
    );
    let pending = structured(&crate::helpers::call(&client, "wait_for_payment", wait.clone()).await);
    assert_eq!(pending["paid"], false, "{pending}");
    assert_eq!(
        crate::webhooks::deliver_stripe(rx.addr, &checkout_completed("evt_paid", "paid")).await,
        reqwest::StatusCode::OK
    );
    let paid = structured(&crate::helpers::call(&client, "wait_for_payment", wait).await);
    assert_eq!(paid["paid"], true);
    assert_eq!(paid["amount"]["formatted"], "$1,299.00");
    // E-mail filters ignore case.
    let found = structured(
        &crate::helpers::call(&client, "list_events", json!({"customer_email": "priya.nair@northwindtraders.com"}))
            .await,
    );
    assert_eq!(found["events"].as_array().unwrap().len(), 2);
}
