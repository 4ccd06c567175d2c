//! A local Microsoft Graph + Microsoft identity platform fake (axum) modelling one tenant, its
//! throttling and its faults, faithful to graph-api.md. Used by tests, benchmarks and
//! `--sandbox`. It parses and emits raw JSON itself and shares no wire code with `graph`, so a
//! wire-format bug in the client cannot hide behind the same bug here.
