//! The engine's validated settings (built by `config` from flags and defaults).

use std::time::Duration;

/// Documented identity quota for one app in one large tenant (graph-api.md §6): 3,000 writes
/// per 150 s and 8,000 resource units per 10 s, where reads and writes each cost one unit.
pub const QUOTA_WRITES_PER_SEC: f64 = 3000.0 / 150.0;
pub const QUOTA_RU_PER_SEC: f64 = 8000.0 / 10.0;

/// Default pacing: just under the quota, so the steady state draws no 429s.
pub const DEFAULT_WRITE_RATE: f64 = QUOTA_WRITES_PER_SEC * 0.97;
pub const DEFAULT_READ_RATE: f64 = (QUOTA_RU_PER_SEC - QUOTA_WRITES_PER_SEC) * 0.95;

#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Items per `$batch`, 1..=20.
    pub batch_size: usize,
    /// Batches in flight at once.
    pub concurrency: usize,
    /// Writes per second; `None` = unpaced.
    pub write_rate: Option<f64>,
    /// Reads per second; `None` = unpaced.
    pub read_rate: Option<f64>,
    /// How far adaptive pacing may grow the write rate while Graph has room (a told rate is
    /// its own ceiling); `None` = the rate itself.
    pub write_ceiling: Option<f64>,
    /// The same for reads.
    pub read_ceiling: Option<f64>,
    /// Attempts per call for transient failures (5xx, timeouts, dropped connections).
    pub max_attempts: u32,
    /// Attempts per call when throttled (429s are always waited out, but not forever).
    pub max_throttled_attempts: u32,
    /// Read and report; change nothing.
    pub dry_run: bool,
    /// `--reset-scope all`.
    pub reset_all: bool,
    /// Signed in to the global cloud (hardware OATH unassigning is documented only there).
    pub global_cloud: bool,
    /// Never make more than this many changes.
    pub max_changes: Option<u64>,
    /// Consecutive sign-in/permission failures that stop the run.
    pub breaker_threshold: usize,
    /// First backoff step for transient failures (doubles each attempt, with jitter).
    pub backoff_base: Duration,
    /// Upper bound of one wait (Retry-After or backoff).
    pub max_wait: Duration,
    /// How long Ctrl-C waits for in-flight batches.
    pub shutdown_grace: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            batch_size: 20,
            concurrency: 8,
            write_rate: Some(DEFAULT_WRITE_RATE),
            read_rate: Some(DEFAULT_READ_RATE),
            write_ceiling: None,
            read_ceiling: None,
            max_attempts: 6,
            max_throttled_attempts: 50,
            dry_run: false,
            reset_all: false,
            global_cloud: true,
            max_changes: None,
            breaker_threshold: 25,
            backoff_base: Duration::from_millis(500),
            max_wait: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}
