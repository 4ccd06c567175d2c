//! Seeded fault injection: whole-batch 429/503, item 503/504, latency with jitter, and a
//! response cut off mid-body. A faulted request or item is not executed (a 503 item did
//! nothing), except a dropped one when `drop_after_execute` asks for the harder case, and an
//! item answered 503/504 by `item_5xx_after_execute`, which ran first.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::config::Faults;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BatchFault {
    Throttle,
    Unavailable,
}

fn roll(rng: &mut ChaCha8Rng, p: f64) -> bool {
    // No draw when the fault is off, so settings that are off never shift the sequence.
    p > 0.0 && rng.random_bool(p.min(1.0))
}

pub(crate) fn batch_fault(f: &Faults, rng: &mut ChaCha8Rng) -> Option<BatchFault> {
    if roll(rng, f.batch_429) {
        Some(BatchFault::Throttle)
    } else if roll(rng, f.batch_503) {
        Some(BatchFault::Unavailable)
    } else {
        None
    }
}

/// 503 or 504 for one item, or None.
pub(crate) fn item_fault(f: &Faults, rng: &mut ChaCha8Rng) -> Option<u16> {
    roll(rng, f.item_5xx).then(|| if rng.random_bool(0.5) { 503 } else { 504 })
}

/// 503 or 504 for an item that has run (`item_5xx_after_execute`), or None.
pub(crate) fn after_execute_fault(f: &Faults, rng: &mut ChaCha8Rng) -> Option<u16> {
    roll(rng, f.item_5xx_after_execute).then(|| if rng.random_bool(0.5) { 503 } else { 504 })
}

pub(crate) fn drop_fault(f: &Faults, rng: &mut ChaCha8Rng) -> bool {
    roll(rng, f.drop)
}

pub(crate) fn latency(f: &Faults, rng: &mut ChaCha8Rng) -> Option<Duration> {
    if f.latency_ms == 0 && f.latency_jitter_ms == 0 {
        return None;
    }
    let base = f.latency_ms as i64;
    let j = f.latency_jitter_ms as i64;
    let ms = if j > 0 {
        base + rng.random_range(-j..=j)
    } else {
        base
    };
    Some(Duration::from_millis(ms.max(0) as u64))
}

pub(crate) fn retry_after(f: &Faults) -> f64 {
    f.retry_after_secs.unwrap_or(1.0)
}

/// A body that sends its first part and then fails, so the server closes the connection
/// mid-response and the client sees a transport error, never a valid answer.
pub(crate) struct TruncatedBody {
    part: Option<Bytes>,
}

impl TruncatedBody {
    pub(crate) fn new(full: &[u8]) -> Self {
        let cut = (full.len() / 2).max(1).min(full.len());
        TruncatedBody {
            part: Some(Bytes::copy_from_slice(&full[..cut])),
        }
    }
}

impl Body for TruncatedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.part.take() {
            Some(part) => Poll::Ready(Some(Ok(Frame::data(part)))),
            None => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "emulator fault: connection dropped mid-response",
            )))),
        }
    }
}
