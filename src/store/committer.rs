//! Group commit for new reports. Every submission must be durable before its code is shown
//! (I7), and on this hardware the fsync of each commit is what limits submissions. A writer task
//! (one on SQLite, four on PostgreSQL) takes every report already waiting, writes them in one
//! transaction and answers each caller only after that commit: the same guarantee, one fsync for many reports, and no writers
//! sleeping in SQLite's busy handler. It adds no delay: a lone submission commits at once.

use super::{Backend, NewReport, Store, StoreError};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

type Job = (NewReport, oneshot::Sender<Result<(), StoreError>>);

/// Handle to the writer task.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Job>,
}

/// Reports in one transaction at most.
const MAX_BATCH: usize = 64;

impl Committer {
    /// Starts the writer tasks on `store`: one on SQLite, which has a single writer anyway, and a
    /// few on PostgreSQL, which commits concurrent transactions in parallel.
    pub fn spawn(store: Store) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 0..writers {
            tokio::spawn(writer(store.clone(), rx.clone()));
        }
        Committer { tx }
    }

    /// Stores `report` and returns once its transaction has committed durably.
    pub async fn insert(&self, report: NewReport) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((report, done))
            .await
            .map_err(|_| StoreError::Corrupt("the report writer has stopped".into()))?;
        wait.await.map_err(|_| {
            StoreError::Corrupt("the report writer stopped before committing".into())
        })?
    }
}

/// One writer: takes the first waiting report and every other one already queued (up to
/// [`MAX_BATCH`]), commits them together, then answers each.
async fn writer(store: Store, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let reports: Vec<&NewReport> = batch.iter().map(|(r, _)| r).collect();
        match store.insert_reports(&reports).await {
            Ok(()) => {
                for (_, done) in batch {
                    let _ = done.send(Ok(()));
                }
            }
            // One bad report must not fail the others: retry each on its own.
            Err(_) if batch.len() > 1 => {
                for (r, done) in batch {
                    let _ = done.send(store.insert_report(&r).await);
                }
            }
            Err(e) => {
                if let Some((_, done)) = batch.into_iter().next() {
                    let _ = done.send(Err(e));
                }
            }
        }
    }
}
