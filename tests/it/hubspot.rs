//! HubSpot CRM: exact search bodies, pagination, association reads, error mapping, the client-side rate limit,
//! and the lead tools through the real MCP protocol.

use crate::helpers::{b64, call, config, connect, error_text, fast_outbound, fixture, serve_binary, structured};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use switchboard::config::{Config, HubSpotConfig};
use switchboard::domain::Email;
use switchboard::domain::lead::LeadQuery;
use switchboard::domain::payment_link::Phone;
use switchboard::providers::ProviderError;
use switchboard::providers::http::HttpClient;
use switchboard::providers::hubspot::HubSpotClient;
use switchboard::providers::redact::Redactor;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pat-na1-CANARY0000-1111-2222-3333-444455556666";

fn hubspot_config(server: &MockServer, per_second: u32) -> HubSpotConfig {
    HubSpotConfig {
        access_token: SecretString::from(TOKEN),
        base_url: server.uri().parse().unwrap(),
        search_per_second: per_second,
    }
}

fn client(server: &MockServer) -> HubSpotClient {
    HubSpotClient::new(
        hubspot_config(server, 50),
        Arc::new(HttpClient::new(fast_outbound(), Arc::new(Redactor::default()))),
    )
}

fn with_hubspot(server: &MockServer) -> Config {
    Config { hubspot: Some(hubspot_config(server, 50)), ..config(None, None) }
}

fn json_body(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(&format!("hubspot/{name}")), "application/json")
}

const PROPERTIES: [&str; 11] = [
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "company",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "createdate",
    "notes_last_updated",
];

fn f(property: &str, operator: &str, value: &str) -> Value {
    json!({"propertyName": property, "operator": operator, "value": value})
}

fn search(groups: Vec<Vec<Value>>, limit: usize) -> Value {
    json!({
        "filterGroups": groups.into_iter().map(|filters| json!({"filters": filters})).collect::<Vec<_>>(),
        "properties": PROPERTIES,
        "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
        "limit": limit,
    })
}

#[tokio::test]
async fn each_filter_combination_sends_the_exact_search_body() {
    let email = || Some(Email::parse("email", "ananya.sharma@kavyatextiles.in").unwrap());
    let phone = || Some(Phone::parse("phone", "+91 98200 12345").unwrap());
    let q = |email, phone, name: Option<&str>, company: Option<&str>| LeadQuery {
        email,
        phone,
        name: name.map(str::to_string),
        company: company.map(str::to_string),
        limit: 10,
        after: None,
    };
    let e = f("email", "EQ", "ananya.sharma@kavyatextiles.in");
    let cases = [
        (q(email(), None, None, None), search(vec![vec![e.clone()]], 10)),
        (
            q(None, phone(), None, None),
            search(vec![vec![f("phone", "EQ", "+919820012345")], vec![f("mobilephone", "EQ", "+919820012345")]], 10),
        ),
        (
            q(None, None, Some("Ananya"), None),
            search(
                vec![vec![f("firstname", "CONTAINS_TOKEN", "Ananya")], vec![f("lastname", "CONTAINS_TOKEN", "Ananya")]],
                10,
            ),
        ),
        (
            q(None, None, Some("Ananya Sharma"), Some("Kavya Textiles")),
            search(
                vec![vec![
                    f("company", "CONTAINS_TOKEN", "Kavya"),
                    f("company", "CONTAINS_TOKEN", "Textiles"),
                    f("firstname", "CONTAINS_TOKEN", "Ananya"),
                    f("lastname", "CONTAINS_TOKEN", "Sharma"),
                ]],
                10,
            ),
        ),
        (
            q(email(), phone(), None, Some("Kavya")),
            search(
                vec![
                    vec![e.clone(), f("company", "CONTAINS_TOKEN", "Kavya"), f("phone", "EQ", "+919820012345")],
                    vec![e.clone(), f("company", "CONTAINS_TOKEN", "Kavya"), f("mobilephone", "EQ", "+919820012345")],
                ],
                10,
            ),
        ),
        (q(None, None, None, None), search(vec![], 10)),
    ];
    for (query, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/crm/v3/objects/contacts/search"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_json(&expected))
            .respond_with(json_body(200, "contacts_search_empty.json"))
            .expect(1)
            .mount(&server)
            .await;
        let page = client(&server).find_leads(&query).await.unwrap();
        assert!(page.leads.is_empty(), "no match is an empty page, not an error");
    }
}

#[tokio::test]
async fn find_leads_pages_through_results_with_the_cursor() {
    let server = MockServer::start().await;
    let mut second = search(vec![vec![f("company", "CONTAINS_TOKEN", "Textiles")]], 2);
    second["after"] = json!("2");
    Mock::given(path("/crm/v3/objects/contacts/search"))
        .and(body_json(search(vec![vec![f("company", "CONTAINS_TOKEN", "Textiles")]], 2)))
        .respond_with(json_body(200, "contacts_search_page1.json"))
        .mount(&server)
        .await;
    Mock::given(path("/crm/v3/objects/contacts/search"))
        .and(body_json(second))
        .respond_with(json_body(200, "contacts_search_page2.json"))
        .mount(&server)
        .await;
    let client = connect(with_hubspot(&server)).await;

    let page1 = structured(&call(&client, "find_leads", json!({"company": "Textiles", "limit": 2})).await);
    assert_eq!(page1["total"], 3);
    assert_eq!(page1["has_more"], true);
    assert_eq!(page1["leads"][0]["name"], "Ananya Sharma");
    assert_eq!(page1["leads"][0]["email"], "ananya.sharma@kavyatextiles.in");
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 =
        structured(&call(&client, "find_leads", json!({"company": "Textiles", "limit": 2, "cursor": cursor})).await);
    assert_eq!(page2["leads"].as_array().unwrap().len(), 1);
    assert_eq!(page2["has_more"], false);
}

async fn lead_stub() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .and(body_json(search(vec![vec![f("email", "EQ", "ananya.sharma@kavyatextiles.in")]], 10)))
        .respond_with(json_body(200, "contacts_search_page1.json"))
        .mount(&server)
        .await;
    for contact_path in
        ["/crm/v3/objects/contacts/98213450011", "/crm/v3/objects/contacts/ananya.sharma%40kavyatextiles.in"]
    {
        Mock::given(method("GET"))
            .and(path(contact_path))
            .and(query_param("associations", "companies,deals"))
            .respond_with(json_body(200, "contact_with_associations.json"))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/companies/27654318902"))
        .respond_with(json_body(200, "company.json"))
        .expect(1..)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals/batch/read"))
        .and(body_json(json!({
            "properties": ["dealname", "dealstage", "amount", "deal_currency_code", "closedate", "hs_is_closed"],
            "propertiesWithHistory": [],
            "inputs": [{"id": "31987654012"}, {"id": "31987654013"}]
        })))
        .respond_with(json_body(200, "deals_batch_read.json"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_agent_finds_a_lead_by_email_then_reads_company_and_open_deals() {
    let server = lead_stub().await;
    let client = connect(with_hubspot(&server)).await;

    let found = structured(&call(&client, "find_leads", json!({"email": "ananya.sharma@kavyatextiles.in"})).await);
    let id = found["leads"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(id, "98213450011");

    let lead = structured(&call(&client, "get_lead", json!({"lead_id": id})).await);
    assert_eq!(lead["name"], "Ananya Sharma");
    assert_eq!(lead["company"]["name"], "Kavya Textiles Pvt Ltd");
    assert_eq!(lead["company"]["domain"], "kavyatextiles.in");
    let deals = lead["open_deals"].as_array().unwrap();
    assert_eq!(deals.len(), 1, "the closed-won deal is not open: {deals:?}");
    assert_eq!(deals[0]["name"], "Kavya Textiles - ERP rollout FY26");
    assert_eq!(deals[0]["amount"], "1850000");

    let by_email = structured(&call(&client, "get_lead", json!({"email": "ananya.sharma@kavyatextiles.in"})).await);
    assert_eq!(by_email["id"], "98213450011");
    let requests = server.received_requests().await.unwrap();
    let by_email_request = requests.iter().find(|r| r.url.path().contains("%40")).unwrap();
    assert!(by_email_request.url.query().unwrap().contains("idProperty=email"));
}

#[tokio::test]
async fn hubspot_errors_map_to_actionable_tool_errors() {
    let cases = [
        (401, "error_401.json", "rejected Switchboard's API credentials"),
        (403, "error_403.json", "crm.objects.deals.read"),
        (404, "error_404.json", "no contact with id '98213450999'"),
        (500, "error_500.json", "server error (HTTP 500)"),
    ];
    for (status, body, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(json_body(status, body)).mount(&server).await;
        let client = connect(with_hubspot(&server)).await;
        let text = error_text(&call(&client, "get_lead", json!({"lead_id": "98213450999"})).await);
        assert!(text.contains(expected), "HTTP {status}: {text}");
        assert!(!text.contains("pat-na1"), "the token leaked: {text}");
    }
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_body(429, "error_429.json").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_body(200, "contacts_search_page2.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let page = client(&server).find_leads(&LeadQuery { limit: 5, ..Default::default() }).await.unwrap();
    assert_eq!(page.leads.len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let exhausted = MockServer::start().await;
    Mock::given(method("POST")).respond_with(json_body(429, "error_429_category_form.json")).mount(&exhausted).await;
    let err = client(&exhausted).find_leads(&LeadQuery { limit: 5, ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
}

#[tokio::test]
async fn a_burst_of_twenty_searches_never_exceeds_the_configured_rate() {
    let server = MockServer::start().await;
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    Mock::given(method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            seen.lock().unwrap().push(std::time::Instant::now());
            json_body(200, "contacts_search_empty.json")
        })
        .mount(&server)
        .await;
    let per_second = 10;
    let crm = Arc::new(HubSpotClient::new(
        hubspot_config(&server, per_second),
        Arc::new(HttpClient::new(fast_outbound(), Arc::new(Redactor::default()))),
    ));
    // The first call builds the HTTP client (loading the system's TLS roots) and connects: tens of milliseconds
    // between passing the limiter and arriving, which would make the first window look short. Warm it up.
    crm.find_leads(&LeadQuery { limit: 1, ..Default::default() }).await.unwrap();
    arrivals.lock().unwrap().clear();
    let searches = (0..20).map(|_| {
        let crm = crm.clone();
        tokio::spawn(async move { crm.find_leads(&LeadQuery { limit: 1, ..Default::default() }).await.unwrap() })
    });
    futures::future::join_all(searches).await;
    let mut times = arrivals.lock().unwrap().clone();
    times.sort();
    assert_eq!(times.len(), 20);
    // At most `per_second` arrivals in any one-second window: the (n + per_second)-th arrival comes at least a
    // second after the n-th (less 50 ms for scheduling jitter between the limiter and the stub).
    let n = per_second as usize;
    for (i, window) in times.windows(n + 1).enumerate() {
        let span = window[n] - window[0];
        assert!(span >= Duration::from_millis(950), "arrivals {i}..={} came within {span:?}", i + n);
    }
}

#[tokio::test]
async fn bad_lead_arguments_name_the_field_and_call_nothing() {
    let server = MockServer::start().await;
    let client = connect(with_hubspot(&server)).await;
    let cases = [
        ("find_leads", json!({"email": "ananya@"}), "email"),
        ("find_leads", json!({"phone": "call me"}), "phone"),
        ("find_leads", json!({"limit": 500}), "limit"),
        ("find_leads", json!({"cursor": "../etc"}), "cursor"),
        ("get_lead", json!({}), "lead_id or email"),
        ("get_lead", json!({"lead_id": "abc"}), "lead_id"),
        ("get_lead", json!({"lead_id": "1", "email": "a@b.co"}), "exactly one"),
    ];
    for (tool, args, field) in cases {
        let text = error_text(&call(&client, tool, args.clone()).await);
        assert!(text.contains(field), "{tool} {args}: {text}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    let unconfigured = connect(config(None, None)).await;
    let text = error_text(&call(&unconfigured, "find_leads", json!({})).await);
    assert!(text.contains("HUBSPOT_ACCESS_TOKEN") && text.contains("crm.objects.contacts.read"), "{text}");
}

/// HubSpot's error body (a 400, so the message reaches the tool result) with `message`.
fn hubspot_400(message: &str) -> ResponseTemplate {
    let body = json!({"status": "error", "message": message,
        "correlationId": "019c7a40-1d2e-7b3f-8c4d-5e6f7a8b9c0d", "category": "VALIDATION_ERROR"});
    ResponseTemplate::new(400).set_body_json(body)
}

#[tokio::test]
async fn the_access_token_echoed_by_hubspot_reaches_neither_tool_results_nor_the_log() {
    let server = MockServer::start().await;
    let cases = [
        ("bare", "9000000001", hubspot_400(&format!("The access token {TOKEN} is not valid for this portal"))),
        ("basic base64", "9000000002", hubspot_400(&format!("Unsupported authorization basic {}", b64(TOKEN)))),
        ("bearer", "9000000003", hubspot_400(&format!("Unsupported authorization bearer {TOKEN}"))),
    ];
    for (_, id, answer) in &cases {
        Mock::given(path(format!("/crm/v3/objects/contacts/{id}"))).respond_with(answer.clone()).mount(&server).await;
    }
    // A search page whose `total` (a number) carries the token: serde quotes the offending string.
    let mut wrongly_typed: Value = serde_json::from_str(&fixture("hubspot/contacts_search_page1.json")).unwrap();
    wrongly_typed["total"] = TOKEN.into();
    Mock::given(path("/crm/v3/objects/contacts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(wrongly_typed))
        .mount(&server)
        .await;
    let served = serve_binary(&[("HUBSPOT_ACCESS_TOKEN", TOKEN), ("HUBSPOT_BASE_URL", &server.uri())]).await;
    let mut seen = Vec::new();
    for (case, id, _) in &cases {
        served.masked_failure(&mut seen, case, "get_lead", json!({"lead_id": id})).await;
    }
    let typed = "wrongly typed 2xx field";
    served.masked_failure(&mut seen, typed, "find_leads", json!({"company": "Textiles"})).await;
    served.assert_nothing_leaked(seen, &[TOKEN.to_string(), b64(TOKEN)]).await;
}
