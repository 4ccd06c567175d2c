//! Progress on stderr: an indicatif bar on a terminal, a log line every ~10 s otherwise,
//! nothing with --quiet. Never blocks the engine.
