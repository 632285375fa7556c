//! The demo data a fresh sandbox starts with: three client businesses with Razorpay invoices (paid, issued,
//! overdue), the business's own invoice book in Notion (an "Invoices" database: one overdue, one open, one paid,
//! one draft), the same people in the CRM with their companies and deals, and two people on WhatsApp (one of them
//! a CRM contact). Dates are relative to the moment the sandbox is created, so "overdue" stays overdue. Names and
//! addresses use reserved example domains.

use super::notion::wire::{self, Place};
use super::world::{Credentials, Notion, WaCustomer, WhatsApp, World, random_id, uuid};
use serde_json::{Map, Value, json};

const DAY: i64 = 86_400;

/// One client business: the person, their company, and what they owe.
struct Client {
    customer_id: &'static str,
    first: &'static str,
    last: &'static str,
    email: &'static str,
    phone: &'static str,
    company: &'static str,
    domain: &'static str,
    industry: &'static str,
    contact_id: &'static str,
    company_id: &'static str,
}

const CLIENTS: [Client; 3] = [
    Client {
        customer_id: "cust_SbxKaveri00001",
        first: "Asha",
        last: "Rao",
        email: "asha.rao@kaveri-foods.example",
        phone: "+919876500001",
        company: "Kaveri Foods Pvt Ltd",
        domain: "kaveri-foods.example",
        industry: "FOOD_PRODUCTION",
        contact_id: "90000000101",
        company_id: "90000000201",
    },
    Client {
        customer_id: "cust_SbxMeridian001",
        first: "Rohan",
        last: "Mehta",
        email: "rohan.mehta@meridian-logistics.example",
        phone: "+919876500002",
        company: "Meridian Logistics LLP",
        domain: "meridian-logistics.example",
        industry: "LOGISTICS_AND_SUPPLY_CHAIN",
        contact_id: "90000000102",
        company_id: "90000000202",
    },
    Client {
        customer_id: "cust_SbxLotus000001",
        first: "Priya",
        last: "Nair",
        email: "priya.nair@lotus-design.example",
        phone: "+919876500003",
        company: "Lotus Design Studio",
        domain: "lotus-design.example",
        industry: "DESIGN",
        contact_id: "90000000103",
        company_id: "90000000203",
    },
];

/// A new world created at `now` (unix seconds) with fresh random credentials.
pub fn world(now: i64) -> World {
    let [kaveri, meridian, lotus] = &CLIENTS;
    // (client, number, status, issued days ago, due in days (negative: past), line items (name, paise))
    let invoices = vec![
        invoice(
            kaveri,
            "INV-2026-0041",
            Status::Paid,
            now - 75 * DAY,
            now - 45 * DAY,
            &[("Cloud hosting, July–August", 1_500_000), ("Support retainer, July–August", 300_000)],
        ),
        invoice(
            kaveri,
            "INV-2026-0087",
            Status::Issued,
            now - 40 * DAY,
            now - 10 * DAY,
            &[("Cloud hosting, September–October", 3_000_000), ("Support retainer, September–October", 1_500_000)],
        ),
        invoice(
            meridian,
            "INV-2026-0093",
            Status::Issued,
            now - 5 * DAY,
            now + 25 * DAY,
            &[("Route-planning workshop (2 days)", 1_250_000)],
        ),
        invoice(
            lotus,
            "INV-2026-0052",
            Status::Paid,
            now - 60 * DAY,
            now - 30 * DAY,
            &[("Brand refresh, phase 1", 2_400_000)],
        ),
        invoice(
            lotus,
            "INV-2026-0078",
            Status::Issued,
            now - 35 * DAY,
            now - 5 * DAY,
            &[("Brand refresh, phase 2 (packaging)", 825_050)],
        ),
    ];
    let mut invoices = invoices;
    invoices.sort_by_key(|i| std::cmp::Reverse(i["created_at"].as_i64().unwrap_or(0)));

    let deals = vec![
        deal(
            "90000000301",
            "Kaveri Foods - Cloud hosting renewal FY27",
            "contractsent",
            5_400_000,
            now + 20 * DAY,
            false,
            now,
        ),
        deal("90000000302", "Kaveri Foods - Support retainer 2026", "closedwon", 1_800_000, now - 70 * DAY, true, now),
        deal(
            "90000000303",
            "Meridian Logistics - Fleet dashboard pilot",
            "qualifiedtobuy",
            950_000,
            now + 45 * DAY,
            false,
            now,
        ),
        deal(
            "90000000304",
            "Lotus Design - Website rebuild",
            "presentationscheduled",
            1_600_000,
            now + 30 * DAY,
            false,
            now,
        ),
    ];
    let deal_links: [&[&str]; 3] = [&["90000000301", "90000000302"], &["90000000303"], &["90000000304"]];
    let mut contacts: Vec<Value> = CLIENTS.iter().zip(deal_links).map(|(c, deals)| contact(c, deals, now)).collect();
    contacts.push(lead_without_invoices(now));
    World {
        credentials: Credentials::generate(),
        invoices,
        payment_links: Vec::new(),
        payments: Vec::new(),
        orders: Vec::new(),
        contacts,
        companies: CLIENTS.iter().map(|c| company(c, now)).collect(),
        deals,
        pending: Vec::new(),
        whatsapp: whatsapp(),
        notion: notion(now),
    }
}

/// The Notion invoice book: (client, number, amount in major units as typed in Notion, Status, created and
/// issued days from now, due days from now, paid days from now). Negative days are past.
type BookRow = (usize, &'static str, f64, &'static str, i64, Option<i64>, i64, Option<i64>);

const BOOK: [BookRow; 4] = [
    (2, "INV-2026-0097", 24_000.0, "Paid", -50, Some(-50), -20, Some(-24)),
    (0, "INV-2026-0112", 45_000.0, "Issued", -40, Some(-40), -10, None),
    (1, "INV-2026-0118", 12_500.0, "Issued", -5, Some(-5), 25, None),
    (2, "INV-2026-0121", 8_250.5, "Draft", -1, None, 30, None),
];

/// The Notion workspace: the "Invoices" database, its data source with Switchboard's default property names,
/// and the business's invoices to the demo clients (Asha Rao's ₹45,000 one overdue).
pub fn notion(now: i64) -> Notion {
    let (database_id, data_source_id, parent_page_id) = (uuid(), uuid(), uuid());
    let created = now - 120 * DAY;
    let place =
        Place { database_id: &database_id, data_source_id: &data_source_id, parent_page_id: &parent_page_id, created };
    let data_source = wire::data_source(&place, "Invoices", wire::schema());
    let schema = data_source["properties"].as_object().cloned().unwrap_or_default();
    let day = |days: i64| json!({"start": wire::date(now + days * DAY), "end": null, "time_zone": null});
    let pages = BOOK
        .iter()
        .map(|&(client, number, amount, status, created_days, issued_days, due_days, paid_days)| {
            let client = &CLIENTS[client];
            let mut values = Map::new();
            values.insert("Invoice".into(), json!([wire::rich_text(number, None)]));
            values.insert("Customer".into(), json!([wire::rich_text(client.company, None)]));
            values.insert("Customer Email".into(), json!(client.email));
            values.insert("Amount".into(), json!(amount));
            values.insert("Currency".into(), wire::option(&schema["Currency"], "INR").unwrap_or(Value::Null));
            values.insert("Status".into(), wire::option(&schema["Status"], status).unwrap_or(Value::Null));
            values.insert("Due".into(), day(due_days));
            if let Some(issued) = issued_days {
                values.insert("Issued".into(), day(issued));
            }
            if let Some(paid) = paid_days {
                values.insert("Paid At".into(), day(paid));
                values.insert("Payment ID".into(), json!([wire::rich_text(&format!("pay_{}", random_id(14)), None)]));
            }
            let place = Place { created: now + created_days * DAY, ..place };
            wire::page(&uuid(), &place, &schema, values)
        })
        .collect();
    Notion { seeded: true, database: wire::database(&place, "Invoices"), data_source, pages }
}

/// The people on WhatsApp: Asha Rao, whose phone is her CRM contact's, and Meera Iyer, whom the CRM does not
/// know. Nobody has written yet: the chats start when a person types on a phone page.
pub fn whatsapp() -> WhatsApp {
    let asha = &CLIENTS[0];
    WhatsApp {
        seeded: true,
        customers: vec![
            WaCustomer {
                wa_id: asha.phone.trim_start_matches('+').to_string(),
                name: format!("{} {}", asha.first, asha.last),
            },
            WaCustomer { wa_id: "919876543210".into(), name: "Meera Iyer".into() },
        ],
        messages: Vec::new(),
        pending: Vec::new(),
    }
}

enum Status {
    Paid,
    Issued,
}

/// A Razorpay invoice entity (fields as in Razorpay's "fetch an invoice" sample).
fn invoice(c: &Client, number: &str, status: Status, issued_at: i64, due_at: i64, items: &[(&str, i64)]) -> Value {
    let amount: i64 = items.iter().map(|(_, paise)| paise).sum();
    let paid = matches!(status, Status::Paid);
    let paid_at = paid.then_some(due_at - 3 * DAY);
    let id = format!("inv_{}", random_id(14));
    let line_items: Vec<Value> = items
        .iter()
        .map(|(name, paise)| {
            json!({
                "id": format!("li_{}", random_id(14)), "item_id": null, "ref_id": null, "ref_type": null,
                "name": name, "description": null, "amount": paise, "unit_amount": paise, "gross_amount": paise,
                "tax_amount": 0, "taxable_amount": paise, "net_amount": paise, "currency": "INR", "type": "invoice",
                "tax_inclusive": false, "hsn_code": null, "sac_code": null, "tax_rate": null, "unit": null,
                "quantity": 1, "taxes": []
            })
        })
        .collect();
    json!({
        "id": id,
        "entity": "invoice",
        "receipt": number,
        "invoice_number": number,
        "customer_id": c.customer_id,
        "customer_details": {
            "id": c.customer_id, "name": format!("{} {}", c.first, c.last), "email": c.email, "contact": c.phone,
            "gstin": null, "billing_address": null, "shipping_address": null,
            "customer_name": format!("{} {}", c.first, c.last), "customer_email": c.email, "customer_contact": c.phone
        },
        "order_id": format!("order_{}", random_id(14)),
        "line_items": line_items,
        "payment_id": paid.then(|| format!("pay_{}", random_id(14))),
        "status": if paid { "paid" } else { "issued" },
        "expire_by": due_at,
        "issued_at": issued_at,
        "paid_at": paid_at,
        "cancelled_at": null,
        "expired_at": null,
        "sms_status": "sent",
        "email_status": "sent",
        "date": issued_at,
        "terms": "Payable within 30 days of issue.",
        "partial_payment": false,
        "gross_amount": amount,
        "tax_amount": 0,
        "taxable_amount": amount,
        "amount": amount,
        "amount_paid": if paid { amount } else { 0 },
        "amount_due": if paid { 0 } else { amount },
        "currency": "INR",
        "currency_symbol": "₹",
        "description": format!("{} for {}", number, c.company),
        "notes": [],
        "comment": null,
        "short_url": null,
        "view_less": true,
        "billing_start": null,
        "billing_end": null,
        "type": "invoice",
        "group_taxes_discounts": false,
        "created_at": issued_at,
        "idempotency_key": null
    })
}

fn iso(t: i64) -> String {
    crate::domain::time::rfc3339(t).unwrap_or_default()
}

/// A HubSpot contact with its company and deal associations (as `GET …/contacts/{id}?associations=…` returns).
fn contact(c: &Client, deals: &[&str], now: i64) -> Value {
    let created = iso(now - 200 * DAY);
    json!({
        "id": c.contact_id,
        "properties": {
            "firstname": c.first, "lastname": c.last, "email": c.email, "phone": c.phone, "mobilephone": null,
            "company": c.company, "lifecyclestage": "customer", "hs_lead_status": "OPEN_DEAL",
            "hubspot_owner_id": "70000001", "createdate": created, "notes_last_updated": iso(now - 3 * DAY),
            "hs_object_id": c.contact_id, "lastmodifieddate": iso(now - 3 * DAY)
        },
        "createdAt": created,
        "updatedAt": iso(now - 3 * DAY),
        "archived": false,
        "associations": {
            "companies": {"results": [{"id": c.company_id, "type": "contact_to_company"}]},
            "deals": {"results": deals.iter().map(|d| json!({"id": d, "type": "contact_to_deal"})).collect::<Vec<_>>()}
        }
    })
}

/// A prospect who is in the CRM but has never been invoiced.
fn lead_without_invoices(now: i64) -> Value {
    let created = iso(now - 9 * DAY);
    json!({
        "id": "90000000104",
        "properties": {
            "firstname": "Vikram", "lastname": "Shah", "email": "vikram.shah@northwind-traders.example",
            "phone": null, "mobilephone": "+919876500004", "company": "Northwind Traders",
            "lifecyclestage": "lead", "hs_lead_status": "NEW", "hubspot_owner_id": "70000001",
            "createdate": created, "notes_last_updated": null, "hs_object_id": "90000000104",
            "lastmodifieddate": created
        },
        "createdAt": created,
        "updatedAt": created,
        "archived": false,
        "associations": {}
    })
}

fn company(c: &Client, now: i64) -> Value {
    let created = iso(now - 210 * DAY);
    json!({
        "id": c.company_id,
        "properties": {
            "name": c.company, "domain": c.domain, "industry": c.industry, "country": "India",
            "createdate": created, "hs_object_id": c.company_id, "hs_lastmodifieddate": iso(now - 20 * DAY)
        },
        "createdAt": created,
        "updatedAt": iso(now - 20 * DAY),
        "archived": false
    })
}

fn deal(id: &str, name: &str, stage: &str, paise: i64, close: i64, closed: bool, now: i64) -> Value {
    let created = iso(now - 100 * DAY);
    json!({
        "id": id,
        "properties": {
            "dealname": name, "dealstage": stage, "amount": format!("{}", paise / 100),
            "deal_currency_code": "INR", "closedate": iso(close), "hs_is_closed": closed.to_string(),
            "hs_is_closed_won": (closed && stage == "closedwon").to_string(), "createdate": created,
            "hs_object_id": id, "pipeline": "default"
        },
        "createdAt": created,
        "updatedAt": iso(now - 4 * DAY),
        "archived": false
    })
}
