//! Group commit for the event log: deliveries that arrive while a commit is in flight are written together in
//! the next transaction, so one fsync (WAL, `synchronous=FULL`) makes all of them durable. Each caller hears
//! back only after the commit that holds its event: nothing is acknowledged before it is on disk.
//!
//! Why: an fsync costs about 0.5 ms on this class of disk, so a commit per delivery caps ingest near 1,000–2,000
//! per second, and concurrent writers then queue in SQLite's busy handler, which sleeps in millisecond steps.

use super::events::insert_all;
use crate::domain::event::NewEvent;
use crate::store::{Recorded, StoreError};
use sqlx::SqlitePool;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// The most events one transaction carries (bounds how long the write lock is held).
const MAX_BATCH: usize = 256;

type Queued = (NewEvent, oneshot::Sender<Result<Recorded, StoreError>>);

/// The queue in front of the single writer task, started on first use (and again if its runtime went away), and
/// the signal it raises after each commit: the newest stored sequence number.
pub(super) struct Writer {
    queue: Mutex<Option<mpsc::UnboundedSender<Queued>>>,
    stored: Arc<watch::Sender<i64>>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer { queue: Mutex::default(), stored: Arc::new(watch::Sender::new(0)) }
    }
}

impl Writer {
    /// Queue `events` together (they share a commit) and wait for the commits that make them durable.
    pub(super) async fn record(
        &self,
        pool: &SqlitePool,
        events: impl IntoIterator<Item = NewEvent>,
    ) -> Vec<Result<Recorded, StoreError>> {
        let sender = self.sender(pool);
        let queued: Vec<_> = events
            .into_iter()
            .map(|event| {
                let (answer, answered) = oneshot::channel();
                sender.send((event, answer)).map(|()| answered).map_err(|_| StoreError::WriterGone)
            })
            .collect();
        let mut outcomes = Vec::with_capacity(queued.len());
        for q in queued {
            outcomes.push(match q {
                Ok(answered) => answered.await.unwrap_or(Err(StoreError::WriterGone)),
                Err(e) => Err(e),
            });
        }
        outcomes
    }

    /// Hears of every commit after this call.
    pub(super) fn subscribe(&self) -> watch::Receiver<i64> {
        self.stored.subscribe()
    }

    pub(super) fn listeners(&self) -> usize {
        self.stored.receiver_count()
    }

    fn sender(&self, pool: &SqlitePool) -> mpsc::UnboundedSender<Queued> {
        // A poisoned lock only means another thread panicked while swapping the sender; the Option is intact.
        let mut slot = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run(pool.clone(), rx, self.stored.clone()));
                *slot = Some(tx.clone());
                tx
            }
        }
    }
}

/// Take everything queued (at least one event), commit it in one transaction, tell subscribers, answer each
/// caller; repeat. The signal is raised here, right after the commit, so a caller that went away meanwhile
/// cannot leave waiters unaware of an event that is stored.
async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Queued>, stored: Arc<watch::Sender<i64>>) {
    let mut batch: Vec<Queued> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcome = commit(&pool, batch.iter().map(|(event, _)| event)).await;
        match outcome {
            Ok(recorded) => {
                publish(&stored, &recorded);
                for ((_, answer), r) in batch.drain(..).zip(recorded) {
                    let _ = answer.send(Ok(r));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some((_, answer)) = batch.pop() {
                    let _ = answer.send(Err(e));
                }
            }
            // One bad event must not fail the others: commit each alone, so every caller gets its own outcome.
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "group commit failed; committing one by one");
                for (event, answer) in batch.drain(..) {
                    let one = commit(&pool, std::iter::once(&event)).await.and_then(|mut r| {
                        r.pop().ok_or_else(|| StoreError::Corrupt("an insert reported no outcome".into()))
                    });
                    if let Ok(recorded) = &one {
                        publish(&stored, std::slice::from_ref(recorded));
                    }
                    let _ = answer.send(one);
                }
            }
        }
    }
}

/// Raise the newest sequence number among `recorded` (if any is new and newer than what was announced).
fn publish(stored: &watch::Sender<i64>, recorded: &[Recorded]) {
    let newest = recorded.iter().filter_map(|r| if let Recorded::New(seq) = r { Some(*seq) } else { None }).max();
    if let Some(seq) = newest {
        stored.send_if_modified(|latest| {
            let newer = seq > *latest;
            *latest = (*latest).max(seq);
            newer
        });
    }
}

async fn commit<'a>(
    pool: &SqlitePool,
    events: impl ExactSizeIterator<Item = &'a NewEvent>,
) -> Result<Vec<Recorded>, StoreError> {
    let events: Vec<&NewEvent> = events.collect();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let recorded = insert_all(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{EventKind, Extracted};
    use crate::store::{Recorded, Store};

    fn new_event(id: &str, body_key: Option<&str>) -> NewEvent {
        let extracted = Extracted {
            kind: EventKind::PaymentSucceeded,
            event_type: "payment.captured".into(),
            provider_event_id: None,
            occurred_at: None,
            amount: None,
            correlation: Default::default(),
            own_payload: None,
        };
        let body = format!("{{\"id\":\"{id}\"}}").into();
        NewEvent::new("razorpay", extracted, id.into(), body, body_key.map(str::to_string))
    }

    fn event(id: &str) -> NewEvent {
        new_event(id, None)
    }

    #[tokio::test]
    async fn one_batch_stores_new_events_once_and_reports_repeats_as_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
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

    #[tokio::test]
    async fn a_replayed_body_under_a_fresh_id_in_the_same_batch_is_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let signed = |id: &str| new_event(id, Some("same-bytes"));
        let (first, replay) = (signed("evt_first"), signed("evt_replay"));
        let events = store.events();
        let (a, b) = tokio::join!(events.record(&first), events.record(&replay));
        assert!(matches!(a.unwrap(), Recorded::New(_)));
        assert_eq!(b.unwrap(), Recorded::Duplicate);
        assert_eq!(store.events().latest_seq().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_batch_larger_than_one_statement_stores_every_event_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let batch: Vec<NewEvent> = (0..150).map(|i| event(&format!("evt_{i}"))).collect();
        let events = store.events();
        let outcomes = futures::future::join_all(batch.iter().map(|e| events.record(e))).await;
        let mut seqs: Vec<i64> = outcomes
            .into_iter()
            .map(|o| match o.unwrap() {
                Recorded::New(seq) => seq,
                Recorded::Duplicate => panic!("a new event was reported as a duplicate"),
            })
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 150);
        assert_eq!(store.events().latest_seq().await.unwrap(), 150);
    }
}
