//! The rollout engine: per-job state machines (pure: response in, next request out) and the
//! async scheduler that packs their requests into `$batch`es, paces them under the quota,
//! retries what is transient and records every outcome.

pub(crate) mod breaker;
pub(crate) mod change_gate;
pub(crate) mod inspect;
pub(crate) mod machine;
pub(crate) mod pacer;
pub(crate) mod protected;
pub(crate) mod reset_methods;
pub(crate) mod resolve_mail;
pub(crate) mod revoke;
pub(crate) mod scheduler;
pub(crate) mod settings;
pub(crate) mod state_change;
pub(crate) mod transport;

pub(crate) use protected::Protected;
pub(crate) use scheduler::{EngineReport, Requests, Sink, Stop, UserLookup, WorkItem, run};
pub(crate) use settings::EngineSettings;
