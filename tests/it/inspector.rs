//! The webhook inspector over real HTTP: every attempt listed with its outcome, refused ones too; nothing secret
//! on any page; filters; who may open it; an event's page showing what came of it.

use crate::helpers::{RZ_SECRET, call, config, connect_with, fixture, structured};
use crate::webhooks::{RZ_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, deliver_razorpay, start, with_webhooks};
use reqwest::StatusCode;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Instant;
use switchboard::domain::ProviderId;
use switchboard::domain::event::EventFilter;
use switchboard::domain::time;
use switchboard::domain::writeback::LinkForInvoice;
use switchboard::inspector::REJECTED_KEPT;
use switchboard::webhooks::Scheme;
use switchboard::webhooks::verify::sign;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LINK: &str = "plink_SCx4Lm8QwErT2y";

async fn get(addr: SocketAddr, path_and_query: &str) -> (StatusCode, String) {
    let response = reqwest::get(format!("http://{addr}{path_and_query}")).await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The `data-outcome` of each row of the list, top to bottom.
fn outcomes(page: &str) -> Vec<String> {
    page.split("data-outcome=\"").skip(1).map(|rest| rest.split('"').next().unwrap().to_string()).collect()
}

/// The attempt ids the list links to, top to bottom.
fn attempt_ids(page: &str) -> Vec<u64> {
    page.split("href=\"/inspector/attempts/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

async fn post(addr: SocketAddr, source: &str, body: &str, headers: &[(&str, String)]) -> StatusCode {
    let mut request = reqwest::Client::new().post(format!("http://{addr}/webhooks/{source}")).body(body.to_string());
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn valid_duplicate_and_refused_deliveries_are_listed_with_their_outcomes_and_nothing_secret() {
    // Razorpay configured (never called), so its key secret is one of the secrets the pages must not show.
    let rx = start(with_webhooks(config(Some("http://127.0.0.1:9"), None))).await;
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    let body = body.trim();
    let signed = sign(Scheme::Razorpay, RZ_WEBHOOK_SECRET, body.as_bytes(), 0, "evt_RZ_1");
    assert_eq!(deliver_razorpay(rx.addr, body, "evt_RZ_1").await, StatusCode::OK);
    assert_eq!(deliver_razorpay(rx.addr, body, "evt_RZ_1").await, StatusCode::OK);
    // A forged copy: the real payload, a made-up signature, and secrets it has no business knowing in its body.
    let forged_sig = "0f".repeat(32);
    let forged_body = body.replacen("{", &format!("{{\"leak\":\"{RZ_WEBHOOK_SECRET} {RZ_SECRET}\","), 1);
    let forged = [("x-razorpay-signature", forged_sig.clone()), ("authorization", format!("Bearer {RZ_SECRET}"))];
    assert_eq!(post(rx.addr, "razorpay", &forged_body, &forged).await, StatusCode::UNAUTHORIZED);
    let stale_body = r#"{"id":"evt_stale","type":"checkout.session.completed"}"#;
    let stale = sign(Scheme::Stripe, STRIPE_WEBHOOK_SECRET, stale_body.as_bytes(), time::now() - 301, "");
    assert_eq!(post(rx.addr, "stripe", stale_body, &stale).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post(rx.addr, "paypal", "{}", &[]).await, StatusCode::NOT_FOUND);
    let huge = "x".repeat((1 << 20) + 1);
    assert_eq!(post(rx.addr, "razorpay", &huge, &[]).await, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, list) = get(rx.addr, "/inspector").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcomes(&list), ["too_large", "unknown_source", "stale", "bad_signature", "duplicate", "stored"]);
    assert!(list.contains("rejected: bad signature") && list.contains("href=\"/inspector/events/ev_1\""), "{list}");
    assert!(list.contains("http-equiv=\"refresh\""), "the list updates itself");

    // A forged delivery leaves a record on the inspector and no event.
    let events = rx.state.store.events().list(&EventFilter::default(), 10).await.unwrap();
    assert_eq!(events.len(), 1, "only the valid delivery made an event");

    let mut pages = Vec::new();
    for id in attempt_ids(&list) {
        let (status, page) = get(rx.addr, &format!("/inspector/attempts/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        pages.push(page);
    }
    let forged_page = pages.iter().find(|p| p.contains(">rejected: bad signature</h1>")).unwrap();
    assert!(forged_page.contains("Not verified"), "{forged_page}");
    assert!(forged_page.contains("[redacted]") && forged_page.contains("[REDACTED]"), "{forged_page}");
    assert!(forged_page.contains("&quot;payment_link.paid&quot;"), "the payload is shown, escaped");
    let stored_page = pages.iter().find(|p| p.contains("id=\"outcome\" class=\"outcome ok\"")).unwrap();
    assert!(stored_page.contains("\n  &quot;entity&quot;: &quot;event&quot;"), "pretty-printed: {stored_page}");
    pages.push(list);
    let secrets = [RZ_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, RZ_SECRET, &forged_sig, &signed[0].1, &stale[0].1];
    for page in &pages {
        for secret in secrets {
            assert!(!page.contains(secret), "{secret} is on a page:\n{page}");
        }
    }
}

#[tokio::test]
async fn the_list_filters_by_source_outcome_and_correlation_key() {
    let rx = start(with_webhooks(config(None, None))).await;
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(rx.addr, body.trim(), "evt_RZ_1").await, StatusCode::OK);
    let other =
        r#"{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_OTHER000000001"}}}}"#;
    assert_eq!(deliver_razorpay(rx.addr, other, "evt_RZ_2").await, StatusCode::OK);
    assert_eq!(post(rx.addr, "razorpay", body.trim(), &[("x-razorpay-signature", "00".repeat(32))]).await, 401);
    assert_eq!(post(rx.addr, "stripe", "{}", &[]).await, StatusCode::UNAUTHORIZED);

    let addr = rx.addr;
    let list = |query: &'static str| async move { outcomes(&get(addr, &format!("/inspector?{query}")).await.1) };
    assert_eq!(list("outcome=rejected").await, ["bad_signature", "bad_signature"]);
    assert_eq!(list("source=stripe").await, ["bad_signature"]);
    assert_eq!(list("source=razorpay&outcome=stored").await, ["stored", "stored"]);
    // The link's id: the stored event's key, and the forged copy's payload.
    assert_eq!(list("key=plink_SCx4Lm8QwErT2y").await, ["bad_signature", "stored"]);
    assert_eq!(list("key=ANANYA.SHARMA%40kavyatextiles.in").await, ["bad_signature", "stored"], "e-mail, any case");
    assert_eq!(list("key=pay_OTHER000000001").await, ["stored"]);
    let (_, none) = get(rx.addr, "/inspector?key=nothing-like-this").await;
    assert!(none.contains("No delivery attempt matches these filters."), "{none}");
    assert!(none.contains("value=\"nothing-like-this\""), "the form keeps the filter");
}

#[tokio::test]
async fn the_inspector_answers_only_this_machine_or_the_token() {
    let rx = start(with_webhooks(config(None, None))).await;
    let client = reqwest::Client::new();
    let page = |host: &'static str| client.get(format!("http://{}/inspector", rx.addr)).header("host", host).send();
    assert_eq!(page("localhost").await.unwrap().status(), StatusCode::OK);
    assert_eq!(page("evil.example").await.unwrap().status(), StatusCode::FORBIDDEN, "DNS rebinding");

    let mut cfg = with_webhooks(config(None, None));
    cfg.http.token = Some(SecretString::from("a-long-enough-token-123"));
    let rx = start(cfg).await;
    let url = format!("http://{}/inspector", rx.addr);
    let without = client.get(&url).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED, "with a token set, loopback is not enough");
    assert!(without.text().await.unwrap().contains("Authorization: Bearer"));
    let with = client.get(&url).bearer_auth("a-long-enough-token-123").header("host", "anywhere.example");
    assert_eq!(with.send().await.unwrap().status(), StatusCode::OK);
    let wrong = client.get(format!("{url}/attempts/1")).bearer_auth("not-the-token-at-all");
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_event_page_shows_the_link_the_agent_created_and_what_the_book_was_told() {
    let razorpay_api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("razorpay/payment_link_created.json"), "application/json"),
        )
        .mount(&razorpay_api)
        .await;
    let rx = start(with_webhooks(config(Some(&razorpay_api.uri()), None))).await;
    let client = connect_with(rx.state.clone(), ()).await;
    let args = serde_json::json!({"amount": "45000", "currency": "INR", "description": "Invoice SW-2026-0142",
        "customer": {"email": "ananya.sharma@kavyatextiles.in"}});
    let created = structured(&call(&client, "create_payment_link", args).await);
    assert_eq!(created["id"], LINK);
    let book = rx.state.store.write_backs();
    let link = LinkForInvoice {
        invoice_id: "inv-page-1".into(),
        link_provider: ProviderId::Razorpay,
        link_id: LINK.into(),
        link_url: Some("https://rzp.io/i/k2Ht8Zq".into()),
    };
    book.link_created(&link, time::now()).await.unwrap();
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(rx.addr, body.trim(), "evt_RZ_PAID").await, StatusCode::OK);

    let (status, page) = get(rx.addr, "/inspector/events/ev_1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("ev_1 · payment_link_paid"), "{page}");
    assert!(page.contains("by create_payment_link"), "{page}");
    assert!(page.contains("href=\"https://rzp.io/i/k2Ht8Zq\""), "{page}");
    assert!(page.contains("payment_link on invoice inv-page-1"), "{page}");
    assert!(page.contains(&format!("href=\"/inspector?key={LINK}\"")), "{page}");
    assert!(page.contains("href=\"/inspector/attempts/1\""), "the delivery that carried it: {page}");
    let actions = page.split("id=\"actions\"").nth(1).expect("the agent's actions are listed");
    assert!(actions.contains("<td>create_payment_link</td><td>ok</td>"), "from the audit trail: {actions}");
    assert!(page.contains("&quot;method&quot;: &quot;upi&quot;"), "the stored payload, pretty-printed: {page}");
    assert_eq!(get(rx.addr, "/inspector/events/ev_99").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(rx.addr, "/inspector/attempts/99").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ten_thousand_forged_deliveries_leave_records_no_event_and_a_bounded_ring() {
    let rx = start(with_webhooks(config(None, None))).await;
    let body = fixture("razorpay/webhook_payment_link_paid.json");
    assert_eq!(deliver_razorpay(rx.addr, body.trim(), "evt_genuine").await, StatusCode::OK);
    let before = rx.state.inspector.retained_bytes();
    let started = Instant::now();
    let client = reqwest::Client::new();
    let senders = (0..8).map(|_| {
        let (client, body, addr) = (client.clone(), body.trim().to_string(), rx.addr);
        tokio::spawn(async move {
            for _ in 0..1250 {
                let sent = client
                    .post(format!("http://{addr}/webhooks/razorpay"))
                    .header("x-razorpay-signature", "ab".repeat(32))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(sent.status(), StatusCode::UNAUTHORIZED);
            }
        })
    });
    for sender in futures::future::join_all(senders).await {
        sender.unwrap();
    }
    let after = rx.state.inspector.retained_bytes();
    println!(
        "10,000 forged deliveries in {:?}: inspector ring {before} B before, {after} B after ({} KiB)",
        started.elapsed(),
        after / 1024
    );
    assert_eq!(rx.state.inspector.len(), (1, REJECTED_KEPT));
    assert!(after < 1 << 20, "the refused ring holds {after} bytes");
    let events = rx.state.store.events().list(&EventFilter::default(), 10).await.unwrap();
    assert_eq!(events.len(), 1, "forged deliveries store nothing");
    let (_, stored) = get(rx.addr, "/inspector?outcome=stored").await;
    assert_eq!(outcomes(&stored), ["stored"], "the genuine delivery is still there after the flood");
}

#[tokio::test]
async fn in_stdio_mode_the_webhook_listener_serves_the_inspector() {
    // A free port (the race with another process taking it in between is harmless: the test would fail loudly).
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let served = crate::helpers::serve_binary(&[
        ("SWITCHBOARD_WEBHOOK_LISTEN", &addr.to_string()),
        ("RAZORPAY_WEBHOOK_SECRET", RZ_WEBHOOK_SECRET),
    ])
    .await;
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while reqwest::get(format!("http://{addr}/inspector")).await.is_err() {
        assert!(Instant::now() < deadline, "the listener did not come up on {addr}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(post(addr, "razorpay", "{}", &[("x-razorpay-signature", "00".repeat(32))]).await, 401);
    let (status, list) = get(addr, "/inspector").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcomes(&list), ["bad_signature"]);
    let log = served.log().await;
    assert!(log.contains(&format!("the webhook inspector on http://{addr}/inspector")), "{log}");
}
