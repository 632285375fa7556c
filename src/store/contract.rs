//! The store contract: what every backend must do, as tests that run against each. Every test runs on SQLite
//! (a fresh data directory) and on PostgreSQL (a fresh database on the server named by
//! `SWITCHBOARD_TEST_DATABASE_URL`, e.g. `postgres://postgres@127.0.0.1:5432/postgres`, dropped afterwards;
//! without the variable the PostgreSQL runs pass without testing anything, and `.ci/run` always sets it).
//! PostgreSQL-only behaviour (instances sharing one database, commit order) is tested at the end.

#[cfg(test)]
use super::*;
use crate::domain::approval::{ApprovalStatus, Summary, random_token};
use crate::domain::event::{Correlation, EventKind, Extracted, event_id};
use crate::domain::provider::ProviderId;
use crate::domain::time;
use crate::domain::writeback::WriteBackState;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::time::Duration;

/// The server the PostgreSQL runs create their databases on.
pub(crate) const TEST_DATABASE_URL: &str = "SWITCHBOARD_TEST_DATABASE_URL";

/// A fresh PostgreSQL database for one test, dropped when the test ends (also when it fails).
pub(crate) struct TestDb {
    server: String,
    name: String,
    url: String,
}

impl TestDb {
    /// `None` when no test server is configured.
    pub(crate) async fn create() -> Option<TestDb> {
        let server = std::env::var(TEST_DATABASE_URL).ok().filter(|v| !v.trim().is_empty())?;
        let name = format!("sb_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut admin = PgConnection::connect(&server).await.expect("connect to SWITCHBOARD_TEST_DATABASE_URL");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&name);
        Some(TestDb { server, name, url: url.to_string() })
    }

    /// A store on this database, as one more instance would open it.
    pub(crate) fn store(&self) -> Store {
        Store::postgres(SecretString::from(self.url.clone()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Its own thread and runtime: the test's runtime may be shutting down, and Drop cannot await.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// One contract test, run as `<name>::sqlite` and `<name>::postgres`.
macro_rules! contract {
    ($(#[$meta:meta])* async fn $name:ident($store:ident: Store) $body:block) => {
        $(#[$meta])*
        mod $name {
            use super::*;

            async fn run($store: Store) $body

            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                run(Store::new(dir.path().to_path_buf())).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = TestDb::create().await else { return };
                run(db.store()).await;
            }
        }
    };
}

fn extracted(kind: EventKind, event_type: &str, correlation: Correlation) -> Extracted {
    Extracted {
        kind,
        event_type: event_type.into(),
        provider_event_id: None,
        occurred_at: None,
        amount: None,
        correlation,
        own_payload: None,
    }
}

fn new_event(id: &str, body_key: Option<&str>) -> NewEvent {
    let body = format!("{{\"id\":\"{id}\"}}").into();
    let e = extracted(EventKind::PaymentSucceeded, "payment.captured", Correlation::default());
    NewEvent::new("razorpay", e, id.into(), body, body_key.map(str::to_string))
}

fn event(id: &str) -> NewEvent {
    new_event(id, None)
}

fn paid_link(id: &str, link: &str) -> NewEvent {
    let correlation = Correlation { payment_link_id: Some(link.into()), ..Default::default() };
    let e = extracted(EventKind::PaymentLinkPaid, "payment_link.paid", correlation);
    NewEvent::new("razorpay", e, id.into(), format!("{{\"link\":\"{link}\"}}").into(), None)
}

fn new_seq(recorded: Recorded) -> i64 {
    match recorded {
        Recorded::New(seq) => seq,
        Recorded::Duplicate => panic!("a new event was reported as a duplicate"),
    }
}

fn entry(key: &str, hash: &str) -> Entry {
    Entry {
        key: key.into(),
        tool: "create_payment_link".into(),
        provider: "razorpay".into(),
        request_hash: hash.into(),
    }
}

fn proposed(key: &str, binding: &str, now: i64, ttl: i64) -> Approval {
    Approval {
        id: random_token("apv_"),
        tool: "create_payment_link".into(),
        key: key.into(),
        binding: binding.into(),
        summary: Summary { headline: "Create a link".into(), details: vec![("Amount".into(), "₹1.00".into())] },
        arguments: serde_json::json!({"amount": "1"}),
        form_token: random_token(""),
        status: ApprovalStatus::Pending,
        created_at: now,
        expires_at: now + ttl,
        decided_at: None,
        reported: false,
        outcome: None,
    }
}

/// Wait until `changes` moves past what it has seen, at most `within`.
async fn heard<T>(changes: &mut tokio::sync::watch::Receiver<T>, within: Duration) -> bool {
    matches!(tokio::time::timeout(within, changes.changed()).await, Ok(Ok(())))
}

// ---- the event log ----

contract! {
    async fn one_batch_stores_new_events_once_and_reports_repeats_as_duplicates(store: Store) {
        assert!(matches!(store.events().record(&event("evt_0")).await.unwrap(), Recorded::New(_)));
        // Queued together, these share one commit: two new, a repeat inside the batch, and an earlier event.
        let events = store.events();
        let (a, b, old) = (event("evt_a"), event("evt_b"), event("evt_0"));
        let (a, b, a_again, old) =
            tokio::join!(events.record(&a), events.record(&b), events.record(&a), events.record(&old));
        let outcomes = [a.unwrap(), b.unwrap(), a_again.unwrap(), old.unwrap()];
        assert!(matches!(outcomes[0], Recorded::New(_)) && matches!(outcomes[1], Recorded::New(_)), "{outcomes:?}");
        assert_eq!(outcomes[2..], [Recorded::Duplicate, Recorded::Duplicate]);
        assert_eq!(store.events().latest_seq().await.unwrap(), 3);
    }
}

contract! {
    async fn a_replayed_body_under_a_fresh_id_in_the_same_batch_is_a_duplicate(store: Store) {
        let signed = |id: &str| new_event(id, Some("same-bytes"));
        let (first, replay) = (signed("evt_first"), signed("evt_replay"));
        let events = store.events();
        let (a, b) = tokio::join!(events.record(&first), events.record(&replay));
        assert!(matches!(a.unwrap(), Recorded::New(_)));
        assert_eq!(b.unwrap(), Recorded::Duplicate);
        // And later, in a batch of its own.
        assert_eq!(events.record(&signed("evt_later")).await.unwrap(), Recorded::Duplicate);
        assert_eq!(store.events().latest_seq().await.unwrap(), 1);
    }
}

contract! {
    async fn a_batch_larger_than_one_statement_stores_every_event_once(store: Store) {
        let batch: Vec<NewEvent> = (0..150).map(|i| event(&format!("evt_{i}"))).collect();
        let outcomes = store.events().record_all(&batch).await;
        let seqs: Vec<i64> = outcomes.into_iter().map(|o| new_seq(o.unwrap())).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "outcomes in order: {seqs:?}");
        assert_eq!(store.events().latest_seq().await.unwrap(), *seqs.last().unwrap());
        assert_eq!(store.events().list(&EventFilter::default(), 500).await.unwrap().len(), 150);
    }
}

contract! {
    async fn events_are_read_back_by_filter_cursor_and_sequence_number(store: Store) {
        let events = store.events();
        assert_eq!(events.latest_seq().await.unwrap(), 0);
        assert!(events.newest(&EventFilter::default()).await.unwrap().is_none());
        let first = new_seq(events.record(&event("evt_1")).await.unwrap());
        let paid = new_seq(events.record(&paid_link("evt_2", "plink_A")).await.unwrap());
        let other = new_seq(events.record(&paid_link("evt_3", "plink_B")).await.unwrap());

        let all = events.list(&EventFilter::default(), 10).await.unwrap();
        assert_eq!(all.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [first, paid, other]);
        let recent = events.recent(&EventFilter::default(), 2).await.unwrap();
        assert_eq!(recent.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [other, paid]);

        let link_a = EventFilter {
            correlation: Correlation { payment_link_id: Some("plink_A".into()), ..Default::default() },
            ..Default::default()
        };
        let found = events.list(&link_a, 10).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, found[0].1.kind, found[0].1.id.clone()), (paid, EventKind::PaymentLinkPaid, event_id(paid)));
        let kinds = EventFilter { kinds: vec![EventKind::PaymentLinkPaid], after_seq: Some(paid), ..Default::default() };
        assert_eq!(events.list(&kinds, 10).await.unwrap().iter().map(|(s, _)| *s).collect::<Vec<_>>(), [other]);
        let types = EventFilter { types: vec!["payment.captured".into()], source: Some("razorpay".into()), ..Default::default() };
        assert_eq!(events.newest(&types).await.unwrap().map(|(s, _)| s), Some(first));
        let nobody = EventFilter { source: Some("stripe".into()), ..Default::default() };
        assert!(events.list(&nobody, 10).await.unwrap().is_empty());

        let got = events.get(paid).await.unwrap().unwrap();
        assert_eq!(got.payload, serde_json::json!({"link": "plink_A"}));
        assert_eq!(events.body(paid).await.unwrap().unwrap(), br#"{"link":"plink_A"}"#);
        assert!(events.get(9_999).await.unwrap().is_none() && events.body(9_999).await.unwrap().is_none());
        assert_eq!(events.latest_seq().await.unwrap(), other);

        assert_eq!(events.prune(time::now() - 3_600).await.unwrap(), 0, "nothing is that old");
        assert_eq!(events.prune(time::now() + 1).await.unwrap(), 3);
        assert!(events.list(&EventFilter::default(), 10).await.unwrap().is_empty());
    }
}

contract! {
    async fn a_subscriber_hears_of_each_new_event_and_not_of_duplicates(store: Store) {
        let events = store.events();
        let mut changes = events.subscribe();
        assert_eq!(events.listeners(), 1);
        let seq = new_seq(events.record(&event("evt_1")).await.unwrap());
        assert!(heard(&mut changes, Duration::from_secs(5)).await);
        assert_eq!(*changes.borrow_and_update(), seq);
        assert_eq!(events.record(&event("evt_1")).await.unwrap(), Recorded::Duplicate);
        assert!(!changes.has_changed().unwrap(), "a duplicate wakes nobody");
        drop(changes);
        assert_eq!(events.listeners(), 0);
    }
}

// ---- the idempotency ledger ----

contract! {
    async fn a_key_is_claimed_once_then_replayed_and_guards_its_parameters(store: Store) {
        let ledger = store.ledger();
        assert_eq!(ledger.claim(&entry("k1", "h1")).await.unwrap(), Claim::Acquired);
        assert!(ledger.pending("k1").await.unwrap());
        assert!(matches!(ledger.claim(&entry("k1", "h1")).await.unwrap(), Claim::Busy { .. }));
        assert_eq!(ledger.claim(&entry("k1", "h2")).await.unwrap(), Claim::Conflict);
        ledger.touch("k1").await.unwrap();
        ledger.finish(&entry("k1", "h1"), &serde_json::json!({"id": "plink_1"})).await.unwrap();
        assert!(!ledger.pending("k1").await.unwrap());
        assert_eq!(
            ledger.claim(&entry("k1", "h1")).await.unwrap(),
            Claim::Replay(serde_json::json!({"id": "plink_1"}))
        );
        assert_eq!(ledger.finished("k1", "h1").await.unwrap(), Some(serde_json::json!({"id": "plink_1"})));
        assert_eq!(ledger.finished("k1", "h2").await.unwrap(), None);
        let at = ledger.finished_at("k1").await.unwrap().unwrap();
        assert!((time::now() - at).abs() < 60);
        assert_eq!(ledger.results("create_payment_link", 0, 10).await.unwrap(), [(at, serde_json::json!({"id": "plink_1"}))]);
        assert!(ledger.results("send_message", 0, 10).await.unwrap().is_empty());
    }
}

contract! {
    async fn unknown_outcomes_are_reclaimed_as_abandoned_and_refusals_are_forgotten(store: Store) {
        let ledger = store.ledger();
        ledger.claim(&entry("k2", "h")).await.unwrap();
        assert!(ledger.abandoned(time::now()).await.unwrap().is_empty(), "still locked");
        ledger.mark_unknown("k2").await.unwrap();
        assert_eq!(ledger.abandoned(time::now()).await.unwrap().len(), 1);
        assert_eq!(ledger.claim(&entry("k2", "h")).await.unwrap(), Claim::Abandoned { age_secs: 0 });
        ledger.release("k2").await.unwrap();
        assert!(!ledger.pending("k2").await.unwrap());
        assert_eq!(ledger.claim(&entry("k2", "h")).await.unwrap(), Claim::Acquired);
    }
}

contract! {
    async fn concurrent_claims_of_one_key_let_exactly_one_in(store: Store) {
        let ledger = store.ledger();
        let e = entry("k3", "h");
        let claims = futures::future::join_all((0..8).map(|_| ledger.claim(&e))).await;
        let acquired = claims.iter().filter(|c| matches!(c, Ok(Claim::Acquired))).count();
        let busy = claims.iter().filter(|c| matches!(c, Ok(Claim::Busy { .. }))).count();
        assert_eq!((acquired, busy), (1, 7), "{claims:?}");
    }
}

// ---- approvals ----

contract! {
    async fn one_approval_stands_per_key_and_is_decided_and_settled_once(store: Store) {
        let approvals = store.approvals();
        let first = proposed("k1", "h1", 1_000, 600);
        assert_eq!(approvals.propose(&first, 1_000).await.unwrap(), first);
        // A second proposal for the key gets the one that stands, whatever its arguments.
        let again = approvals.propose(&proposed("k1", "h2", 1_001, 600), 1_001).await.unwrap();
        assert_eq!((again.id.as_str(), again.binding.as_str()), (first.id.as_str(), "h1"));
        assert_eq!(approvals.find("create_payment_link", "k1").await.unwrap().map(|a| a.id), Some(first.id.clone()));

        let approved = approvals.decide(&first.id, Decision::Approve, 1_002).await.unwrap().unwrap();
        assert_eq!((approved.status, approved.decided_at), (ApprovalStatus::Approved, Some(1_002)));
        assert_eq!(approvals.decide(&first.id, Decision::Decline, 1_003).await.unwrap(), None, "decided once");
        assert_eq!(approvals.unsettled(1_002).await.unwrap().len(), 1);

        let result = Outcome::Ok(serde_json::json!({"id": "plink_1"}));
        approvals.settle(&first.id, &result).await.unwrap();
        approvals.settle(&first.id, &Outcome::Error("late".into())).await.unwrap();
        let done = approvals.get(&first.id).await.unwrap().unwrap();
        assert_eq!((done.status, done.outcome), (ApprovalStatus::Done, Some(result)), "settled once");
        assert!(approvals.unsettled(i64::MAX).await.unwrap().is_empty());
        assert_eq!(approvals.open_count(1_003).await.unwrap(), 0);
        // A performed approval stands for good: the key cannot be approved into a second action.
        let later = approvals.propose(&proposed("k1", "h1", 5_000, 600), 5_000).await.unwrap();
        assert_eq!(later.id, first.id);
    }
}

contract! {
    async fn expired_approvals_cannot_be_decided_and_give_way_to_a_new_one(store: Store) {
        let approvals = store.approvals();
        let first = proposed("k1", "h1", 1_000, 60);
        approvals.propose(&first, 1_000).await.unwrap();
        assert_eq!((approvals.open_count(1_059).await.unwrap(), approvals.open_count(1_060).await.unwrap()), (1, 0));
        assert_eq!(approvals.decide(&first.id, Decision::Approve, 1_060).await.unwrap(), None);
        assert_eq!(approvals.get(&first.id).await.unwrap().unwrap().status_at(1_060), ApprovalStatus::Expired);
        let fresh = proposed("k1", "h1", 1_061, 60);
        assert_eq!(approvals.propose(&fresh, 1_061).await.unwrap().id, fresh.id);
        assert_eq!(approvals.get(&first.id).await.unwrap(), None, "the expired one is gone");
        // An approval nobody decided does not hide newer ones on the list: open ones come first at `now`.
        let newer = proposed("k3", "h3", 1_900, 600);
        approvals.propose(&newer, 1_900).await.unwrap();
        let stale = proposed("k4", "h4", 1_000, 60);
        approvals.propose(&stale, 1_000).await.unwrap();
        assert_eq!(approvals.recent(1_950, 1).await.unwrap()[0].id, newer.id);
        // Pruning keeps what someone still waits on, however old.
        approvals.propose(&proposed("k2", "h2", 900, 1_000_000), 900).await.unwrap();
        assert_eq!(approvals.prune(2_000).await.unwrap(), 2, "the expired k1 and k4");
        let kept: Vec<String> = approvals.recent(2_000, 10).await.unwrap().into_iter().map(|a| a.key).collect();
        assert_eq!(kept, ["k2", "k3"], "both still open, oldest first");
    }
}

contract! {
    async fn a_declined_approval_stands_until_the_agent_is_told_then_a_new_call_asks_again(store: Store) {
        let approvals = store.approvals();
        let first = proposed("k1", "h1", 1_000, 600);
        approvals.propose(&first, 1_000).await.unwrap();
        let changes = approvals.changes();
        approvals.decide(&first.id, Decision::Decline, 1_001).await.unwrap().unwrap();
        assert!(changes.has_changed().unwrap(), "a decision wakes waiters");
        assert_eq!(approvals.propose(&proposed("k1", "h1", 1_002, 600), 1_002).await.unwrap().id, first.id);
        approvals.mark_reported(&first.id).await.unwrap();
        assert!(approvals.get(&first.id).await.unwrap().unwrap().reported);
        let fresh = proposed("k1", "h1", 1_003, 600);
        assert_eq!(approvals.propose(&fresh, 1_003).await.unwrap().id, fresh.id);
    }
}

// ---- write-backs and the audit trail ----

contract! {
    async fn a_write_back_is_owed_once_per_link_and_retried_until_done(store: Store) {
        let books = store.write_backs();
        let link = LinkForInvoice {
            invoice_id: "page_1".into(),
            link_provider: ProviderId::Razorpay,
            link_id: "plink_1".into(),
            link_url: Some("https://rzp.io/l/1".into()),
        };
        books.link_created(&link, 100).await.unwrap();
        books.link_created(&link, 101).await.unwrap();
        assert!(books.link_paid("plink_1", Some("pay_1"), "2026-01-02", 102).await.unwrap());
        assert!(!books.link_paid("plink_1", Some("pay_1"), "2026-01-02", 103).await.unwrap(), "owed once");
        assert!(!books.link_paid("plink_unknown", None, "2026-01-02", 103).await.unwrap(), "not a book invoice");
        assert_eq!(books.pending_count().await.unwrap(), 2);
        assert_eq!(books.next_due().await.unwrap(), Some(100));

        let due = books.take_due(200, 60, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        assert!(books.take_due(200, 60, 10).await.unwrap().is_empty(), "taken: leased to the first worker");
        books.retry_later(due[0].id, "busy", 500, 200).await.unwrap();
        books.failed(due[1].id, "refused", 200).await.unwrap();
        assert!(books.take_due(499, 60, 10).await.unwrap().is_empty());
        assert_eq!(books.requeue_failed(600).await.unwrap(), 1);
        let again = books.take_due(600, 60, 10).await.unwrap();
        assert_eq!(again.len(), 2);
        // A worker that died holding them: the next takes them once the lease is over.
        assert!(books.take_due(659, 60, 10).await.unwrap().is_empty());
        let again = books.take_due(660, 60, 10).await.unwrap();
        assert_eq!(again.len(), 2);
        for w in &again {
            books.done(w.id, 661).await.unwrap();
        }
        let page = books.for_invoice("page_1").await.unwrap();
        assert!(page.iter().all(|w| w.state == WriteBackState::Done), "{page:?}");
        assert_eq!((page[0].attempts, page[1].attempts), (2, 2));
        assert_eq!((books.pending_count().await.unwrap(), books.next_due().await.unwrap()), (0, None));

        assert_eq!(books.cursor().await.unwrap(), 0);
        books.set_cursor(7).await.unwrap();
        books.set_cursor(5).await.unwrap();
        assert_eq!(books.cursor().await.unwrap(), 7, "the cursor never moves back");
    }
}

contract! {
    async fn audit_records_are_chained_in_order(store: Store) {
        let audit = store.audit();
        let mut seqs = Vec::new();
        for i in 0..5 {
            seqs.push(audit.append(&format!("{{\"n\":{i}}}")).await.unwrap());
        }
        let all = audit.after(0, 100).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
        assert_eq!(all[0].prev_hash, crate::domain::audit::GENESIS);
        for pair in all.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
            assert_eq!(pair[1].hash, crate::domain::audit::link_hash(&pair[0].hash, &pair[1].record));
        }
        assert_eq!(audit.newest(2).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [seqs[4], seqs[3]]);
        assert_eq!(audit.after(seqs[3], 10).await.unwrap().len(), 1);
    }
}

// ---- PostgreSQL: several instances on one database ----

/// Two stores on one fresh database (two instances), or `None` without a test server.
async fn two_instances() -> Option<(TestDb, Store, Store)> {
    let db = TestDb::create().await?;
    let (a, b) = (db.store(), db.store());
    let (opened_a, opened_b) = tokio::join!(a.open(), b.open());
    opened_a.unwrap();
    opened_b.unwrap();
    Some((db, a, b))
}

/// Instances starting together on an empty database: the migrator's advisory lock lets one migrate, the
/// others wait and find the schema in place.
#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let Some(db) = TestDb::create().await else { return };
    let stores: Vec<Store> = (0..4).map(|_| db.store()).collect();
    for opened in futures::future::join_all(stores.iter().map(Store::open)).await {
        opened.unwrap();
    }
    assert!(stores[3].events().list(&EventFilter::default(), 1).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_subscriber_on_one_instance_hears_an_event_stored_by_another() {
    let Some((_db, a, b)) = two_instances().await else { return };
    let mut changes = b.events().subscribe();
    let started = std::time::Instant::now();
    let seq = new_seq(a.events().record(&paid_link("evt_1", "plink_A")).await.unwrap());
    assert!(heard(&mut changes, Duration::from_secs(5)).await, "B never heard of A's event");
    assert_eq!(*changes.borrow_and_update(), seq);
    eprintln!("instance B heard of instance A's event after {:?}", started.elapsed());
    let filter = EventFilter { after_seq: Some(0), ..Default::default() };
    assert_eq!(b.events().list(&filter, 10).await.unwrap()[0].0, seq);

    // Approvals too.
    let mut approvals = b.approvals().changes();
    a.approvals().propose(&proposed("k1", "h1", 1_000, 600), 1_000).await.unwrap();
    assert!(heard(&mut approvals, Duration::from_secs(5)).await, "B never heard of A's approval");
}

#[tokio::test]
async fn a_stale_claim_owner_cannot_release_or_expire_the_new_owners_claim() {
    let Some((_db, a, b)) = two_instances().await else { return };
    let e = entry("k1", "h");
    assert_eq!(a.ledger().claim(&e).await.unwrap(), Claim::Acquired);
    // A's lease lapses (A stalled past the lock), and B takes the key over.
    let Store::Postgres(pg) = &a else { unreachable!() };
    sqlx::query("UPDATE idempotency SET locked_until = 0").execute(pg.pool().await.unwrap()).await.unwrap();
    assert!(matches!(b.ledger().claim(&e).await.unwrap(), Claim::Abandoned { .. }));
    // A wakes up and tries to give the key back, or to mark it unknown: neither touches B's claim.
    a.ledger().release("k1").await.unwrap();
    a.ledger().mark_unknown("k1").await.unwrap();
    assert!(b.ledger().pending("k1").await.unwrap(), "B's claim survived");
    assert!(matches!(a.ledger().claim(&e).await.unwrap(), Claim::Busy { .. }), "and is still locked");
    assert!(a.ledger().abandoned(i64::MAX).await.unwrap().is_empty(), "a live lease is nobody's leftover");
    b.ledger().finish(&e, &serde_json::json!({"id": "plink_B"})).await.unwrap();
    // A late finish from the stale owner does not overwrite the stored result.
    a.ledger().finish(&e, &serde_json::json!({"id": "plink_A"})).await.unwrap();
    assert_eq!(a.ledger().claim(&e).await.unwrap(), Claim::Replay(serde_json::json!({"id": "plink_B"})));
}

/// An instance that stops renewing its liveness (killed, frozen) leaves its claims abandoned at once: another
/// instance takes the key over to reconcile it, without waiting out the lease, and the dead owner is fenced.
#[tokio::test]
async fn a_claim_whose_instance_is_gone_is_abandoned_before_its_lease_ends() {
    let Some((_db, a, b)) = two_instances().await else { return };
    let e = entry("k1", "h");
    assert_eq!(a.ledger().claim(&e).await.unwrap(), Claim::Acquired);
    assert!(matches!(b.ledger().claim(&e).await.unwrap(), Claim::Busy { .. }), "A is alive: its claim holds");
    assert!(b.ledger().abandoned(i64::MAX).await.unwrap().is_empty());
    // The claim's instance stops renewing: here its row lapsed long ago (A's own renewals keep running, so the
    // claim is handed to an instance that is gone rather than racing them).
    let Store::Postgres(pg) = &a else { unreachable!() };
    let pool = pg.pool().await.unwrap();
    sqlx::query("INSERT INTO instances (id, started_at, gone_after) VALUES ('gone', 0, 0)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE idempotency SET owner = 'gone'").execute(pool).await.unwrap();
    assert_eq!(b.ledger().abandoned(i64::MAX).await.unwrap().len(), 1, "listed for the start-up reconcile");
    assert!(matches!(b.ledger().claim(&e).await.unwrap(), Claim::Abandoned { .. }), "taken over within the lease");
    // B now owns it; were A to come back, it could not release it.
    a.ledger().release("k1").await.unwrap();
    assert!(b.ledger().pending("k1").await.unwrap());
}

#[tokio::test]
async fn concurrent_audit_appends_from_two_instances_form_one_chain() {
    let Some((_db, a, b)) = two_instances().await else { return };
    let appends = (0..20).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { store.audit().append(&format!("{{\"n\":{i}}}")).await.unwrap() }
    });
    futures::future::join_all(appends).await;
    let all = a.audit().after(0, 100).await.unwrap();
    assert_eq!(all.len(), 20);
    assert_eq!(all[0].prev_hash, crate::domain::audit::GENESIS);
    assert!(all.windows(2).all(|p| p[1].prev_hash == p[0].hash), "one chain, no fork");
}

/// A session saved by one instance is loaded by another until it is ended (by either) or its time runs out; an
/// instance extending it never shortens what another set.
#[tokio::test]
async fn a_shared_session_is_restorable_until_ended_or_expired() {
    let Some((_db, a, b)) = two_instances().await else { return };
    assert!(Store::new(std::env::temp_dir()).sessions().is_none(), "SQLite shares no sessions");
    let (on_a, on_b) = (a.sessions().unwrap(), b.sessions().unwrap());
    let params = serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"}});
    let minute = Duration::from_secs(60);
    for id in ["s1", "s2", "s3"] {
        on_a.save(id, &params, minute).await.unwrap();
    }
    assert_eq!(on_b.load("s1").await.unwrap(), Some(params.clone()));
    assert_eq!(on_b.load("unknown").await.unwrap(), None);

    // Two minutes later (as far as the store knows), unused everywhere.
    let Store::Postgres(pg) = &a else { unreachable!() };
    let pool = pg.pool().await.unwrap();
    sqlx::query("UPDATE mcp_sessions SET expires_ms = expires_ms - 120000").execute(pool).await.unwrap();
    assert_eq!(on_b.load("s1").await.unwrap(), None, "not restored once expired");
    assert!(on_b.kept("s1").await.unwrap(), "though not deleted yet");
    // B has s1 in use; A extends s2 by nothing (no longer than it had: no change).
    assert_eq!(on_b.extend(&[("s1".into(), minute)]).await.unwrap(), ["s1"]);
    on_a.extend(&[("s2".into(), Duration::ZERO)]).await.unwrap();
    assert!(on_a.load("s1").await.unwrap().is_some(), "in use on B, so restorable on A");
    // A shorter extension does not cut B's.
    on_a.extend(&[("s1".into(), Duration::from_secs(1))]).await.unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT expires_ms - (extract(epoch FROM now()) * 1000)::bigint FROM mcp_sessions WHERE id = 's1'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(left > 50_000, "{left} ms left");
    assert_eq!(on_a.prune().await.unwrap(), 2, "s2 and s3 are gone");
    assert!(!on_b.kept("s2").await.unwrap());

    // Ended on A: gone for B, and B's extension does not bring it back.
    on_a.end("s1").await.unwrap();
    assert!(!on_b.kept("s1").await.unwrap());
    assert!(on_b.extend(&[("s1".into(), minute)]).await.unwrap().is_empty());
    assert_eq!(on_b.load("s1").await.unwrap(), None);
}

/// The cursor trap: with several writers, a sequence number drawn earlier can commit later. Here instance A's
/// event transaction is held open while instance B records another. A reader following `after_seq` cursors on
/// B must still get both, in order: B's write waits for A's commit instead of overtaking it.
#[tokio::test]
async fn an_event_committed_late_is_not_skipped_by_a_cursor() {
    let Some((_db, a, b)) = two_instances().await else { return };
    let Store::Postgres(pg_a) = &a else { unreachable!() };
    let pool = pg_a.pool().await.unwrap().clone();

    // A reader on B: subscribe, read after its cursor, wait, repeat; it moves its cursor to what it read.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let reader = {
        let (b, seen) = (b.clone(), seen.clone());
        tokio::spawn(async move {
            let mut changes = b.events().subscribe();
            let mut cursor = 0;
            while seen.lock().unwrap().len() < 2 {
                let filter = EventFilter { after_seq: Some(cursor), ..Default::default() };
                for (seq, _) in b.events().list(&filter, 10).await.unwrap() {
                    seen.lock().unwrap().push(seq);
                    cursor = seq;
                }
                if seen.lock().unwrap().len() < 2 && !heard(&mut changes, Duration::from_secs(5)).await {
                    break;
                }
            }
        })
    };

    // A's transaction: the same lock and insert as A's writer, held open.
    let late = event("evt_late");
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(postgres_events_lock()).execute(&mut *tx).await.unwrap();
    let late_seq = new_seq(postgres_insert(&mut tx, &late).await);

    // B records while A's transaction is open.
    let recording = {
        let b = b.clone();
        tokio::spawn(async move { b.events().record(&event("evt_early")).await.unwrap() })
    };
    // Commit A once B's insert is seen waiting for it, or (were the lock missing) once the reader has read B's
    // event and moved its cursor past A's number.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                .fetch_one(&pool)
                .await
                .unwrap();
        let overtaken = !seen.lock().unwrap().is_empty();
        if waiting > 0 || overtaken || std::time::Instant::now() > deadline {
            break;
        }
        tokio::task::yield_now().await;
    }
    tx.commit().await.unwrap();
    let other_seq = new_seq(recording.await.unwrap());
    assert!(late_seq < other_seq, "numbers follow commit order: {late_seq} then {other_seq}");

    reader.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [late_seq, other_seq], "the reader got the late event, then the other");
    let filter = EventFilter { after_seq: Some(0), ..Default::default() };
    let listed: Vec<i64> = a.events().list(&filter, 10).await.unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(listed, [late_seq, other_seq]);
}

fn postgres_events_lock() -> i64 {
    super::postgres::test_support::EVENTS_LOCK
}

async fn postgres_insert(tx: &mut sqlx::PgConnection, event: &NewEvent) -> Recorded {
    super::postgres::test_support::insert(tx, event).await.unwrap()
}
