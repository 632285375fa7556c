//! Group commit for the event log, for every backend: deliveries that arrive while a commit is in flight are
//! written together in the next transaction, so one flush makes all of them durable. Each caller hears back only
//! after the commit that holds its event: nothing is acknowledged before it is on disk.
//!
//! Why: a durable commit costs a flush (about 0.5 ms for SQLite's fsync on this class of disk, a round trip plus
//! a WAL flush for PostgreSQL), so a commit per delivery caps ingest; one writer per process batching what queued
//! up meanwhile does not.

use crate::domain::event::NewEvent;
use crate::store::{Recorded, StoreError};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// The most events one transaction carries (bounds how long the write lock is held).
const MAX_BATCH: usize = 256;

type Queued = (NewEvent, oneshot::Sender<Result<Recorded, StoreError>>);

/// Where the writer commits: one backend's transaction for a batch, and what it does once a batch is stored.
#[async_trait::async_trait]
pub(crate) trait Batches: Clone + Send + Sync + 'static {
    /// Insert `events` in one transaction and commit it; one outcome per event, in order.
    async fn commit(&self, events: &[&NewEvent]) -> Result<Vec<Recorded>, StoreError>;

    /// Called after a commit that stored new events, `newest` the highest new sequence number (after the local
    /// subscribers heard of it). PostgreSQL tells the other instances here.
    fn committed(&self, _newest: i64) {}
}

/// The queue in front of the single writer task, started on first use (and again if its runtime went away), and
/// the signal it raises after each commit: the newest stored sequence number.
pub(crate) struct Writer {
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
    pub(crate) async fn record<B: Batches>(
        &self,
        batches: &B,
        events: impl IntoIterator<Item = NewEvent>,
    ) -> Vec<Result<Recorded, StoreError>> {
        let sender = self.sender(batches);
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
    pub(crate) fn subscribe(&self) -> watch::Receiver<i64> {
        self.stored.subscribe()
    }

    pub(crate) fn listeners(&self) -> usize {
        self.stored.receiver_count()
    }

    /// Raise the announced newest sequence number to `seq` if it is higher (another instance's commit, heard
    /// through the database).
    pub(crate) fn announce(&self, seq: i64) {
        raise(&self.stored, seq);
    }

    fn sender<B: Batches>(&self, batches: &B) -> mpsc::UnboundedSender<Queued> {
        // A poisoned lock only means another thread panicked while swapping the sender; the Option is intact.
        let mut slot = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(run(batches.clone(), rx, self.stored.clone()));
                *slot = Some(tx.clone());
                tx
            }
        }
    }
}

/// Take everything queued (at least one event), commit it in one transaction, tell subscribers, answer each
/// caller; repeat. The signal is raised here, right after the commit, so a caller that went away meanwhile
/// cannot leave waiters unaware of an event that is stored.
async fn run<B: Batches>(batches: B, mut queue: mpsc::UnboundedReceiver<Queued>, stored: Arc<watch::Sender<i64>>) {
    let mut batch: Vec<Queued> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<&NewEvent> = batch.iter().map(|(event, _)| event).collect();
        let outcome = batches.commit(&events).await;
        match outcome {
            Ok(recorded) => {
                publish(&batches, &stored, &recorded);
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
                    let one = batches.commit(&[&event]).await.and_then(|mut r| {
                        r.pop().ok_or_else(|| StoreError::Corrupt("an insert reported no outcome".into()))
                    });
                    if let Ok(recorded) = &one {
                        publish(&batches, &stored, std::slice::from_ref(recorded));
                    }
                    let _ = answer.send(one);
                }
            }
        }
    }
}

/// Raise the newest sequence number among `recorded` (if any is new), then let the backend pass it on.
fn publish<B: Batches>(batches: &B, stored: &watch::Sender<i64>, recorded: &[Recorded]) {
    let newest = recorded.iter().filter_map(|r| if let Recorded::New(seq) = r { Some(*seq) } else { None }).max();
    if let Some(seq) = newest {
        raise(stored, seq);
        batches.committed(seq);
    }
}

/// The most rows one `INSERT` carries. Batches are cut into power-of-two chunks up to this size, so at most seven
/// distinct statements exist and each stays in the connection's prepared-statement cache.
const MAX_ROWS_PER_INSERT: usize = 64;

/// The largest power of two no greater than `remaining` or [`MAX_ROWS_PER_INSERT`].
pub(crate) fn chunk_len(remaining: usize) -> usize {
    let capped = remaining.min(MAX_ROWS_PER_INSERT);
    1 << (usize::BITS - 1 - capped.leading_zeros())
}

/// Move the signal to `seq` if that is newer than what was announced.
fn raise(stored: &watch::Sender<i64>, seq: i64) {
    stored.send_if_modified(|latest| {
        let newer = seq > *latest;
        *latest = (*latest).max(seq);
        newer
    });
}

#[cfg(test)]
mod tests {
    use super::chunk_len;

    #[test]
    fn batches_are_cut_into_few_distinct_statement_sizes() {
        assert_eq!([1, 2, 3, 5, 64, 65, 256].map(chunk_len), [1, 2, 2, 4, 64, 64, 64]);
    }
}
