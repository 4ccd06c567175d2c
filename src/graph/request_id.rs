//! Fresh `client-request-id` values: a unique GUID for each request, sent and logged
//! (docs/graph.md §8), as random (version 4) UUIDs.
//!
//! Every batch item carries its own id, so an engine-bound run makes hundreds of thousands of
//! them: they come from the thread's generator (ChaCha, seeded and reseeded from the OS),
//! not from one `getrandom` system call per id as `Uuid::new_v4` makes.

use rand::RngExt;

/// A new random client request id, as 36 characters of lowercase hex and hyphens.
#[must_use]
pub(crate) fn client_request_id() -> String {
    uuid::Builder::from_random_bytes(rand::rng().random())
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_request_ids_are_distinct_version_4_uuids() {
        let a = client_request_id();
        let b = client_request_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert_eq!(id.len(), 36);
            assert_eq!(id.to_lowercase(), *id);
        }
    }
}
