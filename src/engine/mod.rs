//! The rollout engine: per-job state machines (pure: response in, next request out) and the
//! async scheduler that packs their requests into `$batch`es, paces them under the quota,
//! retries what is transient and records every outcome.
