//! [`JournalSink`]: the engine's sink during a run: every record goes to the journal and to
//! the progress display. The journal lives on its own thread, fed batch by batch over a
//! channel, so a slow write or fsync never holds up the scheduler; a write error comes back
//! on the next flush and stops the run.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{Journal, ResultRecord};
use crate::engine::{self, Sink};
use crate::error::Error;
use crate::progress::Progress;

/// The journal and the progress display, fed by the engine.
pub(crate) struct JournalSink {
    tx: Option<Sender<Vec<ResultRecord>>>,
    writer: Option<JoinHandle<Journal>>,
    error: Arc<Mutex<Option<String>>>,
    progress: Progress,
    buffer: Vec<ResultRecord>,
}

impl JournalSink {
    pub(crate) fn new(mut journal: Journal, progress: Progress) -> JournalSink {
        let (tx, rx) = channel::<Vec<ResultRecord>>();
        let error = Arc::new(Mutex::new(None));
        let failed = Arc::clone(&error);
        let writer = std::thread::spawn(move || {
            for batch in rx {
                if let Err(e) = journal.append(&batch) {
                    if let Ok(mut slot) = failed.lock() {
                        *slot = Some(e.to_string());
                    }
                    break;
                }
            }
            journal
        });
        JournalSink {
            tx: Some(tx),
            writer: Some(writer),
            error,
            progress,
            buffer: Vec::new(),
        }
    }

    fn failure(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Waits for every record sent so far to be written, and returns the journal.
    pub(crate) fn close(mut self) -> Result<Journal, Error> {
        drop(self.tx.take());
        let journal = self
            .writer
            .take()
            .and_then(|w| w.join().ok())
            .ok_or_else(|| Error::Other("the results writer stopped unexpectedly".into()))?;
        match self.failure() {
            Some(e) => Err(Error::Other(e)),
            None => Ok(journal),
        }
    }
}

impl Sink for JournalSink {
    fn record(&mut self, record: ResultRecord) -> Result<(), String> {
        self.progress.record(record.status);
        self.buffer.push(record);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        let batch = std::mem::take(&mut self.buffer);
        match &self.tx {
            Some(tx) => tx
                .send(batch)
                .map_err(|_| "the results writer stopped".to_string()),
            None => Err("the results writer is closed".into()),
        }
    }

    fn throttled(&mut self, count: u64) {
        self.progress.throttled(count);
    }

    fn paced(&mut self, sent: engine::Requests) {
        self.progress.paced(sent);
    }
}
