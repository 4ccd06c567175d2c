//! `$batch` wire format (docs/graph.md §5): the request body built from [`BatchItem`]s and the
//! parsing of the response into [`ItemResponse`]s, correlated by id.
//!
//! The parser is defensive: the response comes from the network, so anything it cannot use is
//! reported (as a missing or unexpected item, or as an error for the whole body), never a panic.

use std::borrow::Cow;
use std::time::Duration;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::batch_answers::{WireAnswer, WireFields, WireReply};
use super::{BatchItem, ItemResponse, Method, ThrottleScope};

/// The longest `Retry-After` honoured; longer values are capped to this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A parsed `$batch` response, correlated with the items that were sent.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct BatchReply {
    /// One answer per sent item that was answered, in the order the items were sent, each
    /// carrying the id exactly as it was sent.
    pub items: Vec<ItemResponse>,
    /// Ids sent but not answered (or answered without a usable status), in sending order.
    pub missing: Vec<String>,
    /// Answers ignored: ids that were not sent, or second answers for the same id.
    pub unexpected: usize,
}

impl Method {
    /// The HTTP method name.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// POST and PATCH must carry a body and a Content-Type inside a batch, or Graph refuses the
    /// whole batch with 400.
    pub(crate) fn needs_body(self) -> bool {
        matches!(self, Method::Post | Method::Patch)
    }
}

/// The JSON body of a `$batch` request: `{"requests":[{"id","method","url","headers","body"}]}`.
///
/// Every item carries its `client-request-id`. Items with a body get
/// `Content-Type: application/json`; a POST or PATCH without a body is sent with `{}` so Graph
/// does not fail the whole batch (docs/graph.md §5). The value borrows the items and is
/// serialized straight to bytes: building a `serde_json::Value` first copied every id, url and
/// body of every batch (a tenth of an engine-bound run's CPU).
#[must_use]
pub(crate) fn batch_body(items: &[BatchItem]) -> BatchBody<'_> {
    BatchBody { items }
}

/// A `$batch` request body over borrowed items; see [`batch_body`].
pub(crate) struct BatchBody<'a> {
    items: &'a [BatchItem],
}

impl Serialize for BatchBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut outer = serializer.serialize_map(Some(1))?;
        outer.serialize_entry("requests", &WireRequests(self.items))?;
        outer.end()
    }
}

struct WireRequests<'a>(&'a [BatchItem]);

impl Serialize for WireRequests<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(WireRequest))
    }
}

/// One request of the batch, written field by field.
struct WireRequest<'a>(&'a BatchItem);

impl Serialize for WireRequest<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let item = self.0;
        let empty;
        let body: Option<&Value> = match &item.body {
            Some(b) => Some(b),
            None if item.method.needs_body() => {
                // An empty map allocates nothing.
                empty = Value::Object(Map::new());
                Some(&empty)
            }
            None => None,
        };
        let crid = (!item.client_request_id.is_empty()).then_some(item.client_request_id.as_str());
        let has_headers = crid.is_some() || body.is_some() || item.advanced_query;
        let mut req = serializer.serialize_map(None)?;
        req.serialize_entry("id", &item.id)?;
        req.serialize_entry("method", item.method.as_str())?;
        req.serialize_entry("url", &item.url)?;
        if has_headers {
            req.serialize_entry(
                "headers",
                &WireHeaders {
                    client_request_id: crid,
                    json_body: body.is_some(),
                    consistency_eventual: item.advanced_query,
                },
            )?;
        }
        if let Some(body) = body {
            req.serialize_entry("body", body)?;
        }
        req.end()
    }
}

struct WireHeaders<'a> {
    client_request_id: Option<&'a str>,
    json_body: bool,
    /// `ConsistencyLevel: eventual`, which advanced queries need (docs/graph.md).
    consistency_eventual: bool,
}

impl Serialize for WireHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut h = serializer.serialize_map(None)?;
        if let Some(crid) = self.client_request_id {
            h.serialize_entry("client-request-id", crid)?;
        }
        if self.json_body {
            h.serialize_entry("Content-Type", "application/json")?;
        }
        if self.consistency_eventual {
            h.serialize_entry("ConsistencyLevel", "eventual")?;
        }
        h.end()
    }
}

/// Parses a `$batch` response body and correlates it with the items sent.
///
/// Ids match case-insensitively (Graph treats them so). An answer whose `status` is not an
/// integer in 100..=599 counts as not answered. Errors only when the body as a whole is
/// unusable (not JSON, or no `responses` array).
pub(crate) fn parse_batch_response(body: &[u8], sent: &[BatchItem]) -> Result<BatchReply, String> {
    let wire: WireReply = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let responses = wire
        .responses
        .ok_or_else(|| "no \"responses\" array".to_owned())?;

    let mut answers: Vec<Option<ItemResponse>> = vec![None; sent.len()];
    let mut unexpected = 0;

    for answer in responses {
        let WireAnswer::Object(fields) = answer else {
            unexpected += 1;
            continue;
        };
        let Some(id) = id_text(fields.id.as_ref()) else {
            unexpected += 1;
            continue;
        };
        // A batch holds at most 20 items: a scan for the first item sent with this id costs
        // less than a map of lowercased ids built for every batch.
        let Some(slot) = sent.iter().position(|item| same_id(&item.id, &id)) else {
            unexpected += 1;
            continue;
        };
        if answers[slot].is_some() {
            unexpected += 1;
            continue;
        }
        let Some(status) = status_of(fields.status.as_ref()) else {
            // Unusable status: the item stays unanswered (and is reported missing).
            continue;
        };
        answers[slot] = Some(item_response(&sent[slot].id, status, fields));
    }

    let mut reply = BatchReply {
        items: Vec::with_capacity(sent.len()),
        missing: Vec::new(),
        unexpected,
    };
    for (item, answer) in sent.iter().zip(answers) {
        match answer {
            Some(a) => reply.items.push(a),
            None => reply.missing.push(item.id.clone()),
        }
    }
    Ok(reply)
}

/// Builds one item's answer from its fields.
fn item_response(id: &str, status: u16, fields: WireFields) -> ItemResponse {
    let body = fields.body.unwrap_or(Value::Null);
    let header = |name: &str| fields.headers.get(name).and_then(header_text);
    let inner = super::GraphError::from_body(&body);
    let request_id =
        header("request-id").or_else(|| inner.as_ref().and_then(|e| e.request_id.clone()));
    let client_request_id = header("client-request-id")
        .or_else(|| inner.as_ref().and_then(|e| e.client_request_id.clone()));
    ItemResponse {
        id: id.to_owned(),
        status,
        retry_after: header("retry-after").as_deref().and_then(parse_retry_after),
        request_id,
        client_request_id,
        throttle_percentage: header("x-ms-throttle-limit-percentage")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|p| p.is_finite()),
        scope: header("x-ms-throttle-scope").map_or(ThrottleScope::Tenant, |v| scope_of(&v)),
        body,
    }
}

/// The limit an `x-ms-throttle-scope` value (`<Tenant_Application|Tenant|Application>/<Read|
/// Write|ReadWrite>/<appId>/<tenantId>`, docs/graph.md §6) names.
pub(crate) fn scope_of(scope: &str) -> ThrottleScope {
    let mut parts = scope.trim().split('/');
    if !parts
        .next()
        .is_some_and(|s| s.eq_ignore_ascii_case("Application"))
    {
        return ThrottleScope::Tenant;
    }
    if parts
        .next()
        .is_some_and(|k| k.eq_ignore_ascii_case("Write"))
    {
        ThrottleScope::AppWrites
    } else {
        ThrottleScope::AppUnits
    }
}

/// `Retry-After` as seconds, fractional allowed (`"2.128"`), or as an HTTP-date (the time
/// left until then; a date in the past means no wait), capped at [`MAX_RETRY_AFTER`].
/// Anything unreadable is treated as absent.
#[must_use]
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    let secs: f64 = match v.parse::<f64>() {
        Ok(secs) => secs,
        Err(_) => {
            let at = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822)
                .ok()?;
            (at - time::OffsetDateTime::now_utc())
                .as_seconds_f64()
                .max(0.0)
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// An item id: a string, or (leniently) an integer written as text.
fn id_text(v: Option<&Value>) -> Option<Cow<'_, str>> {
    match v? {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Whether two item ids are the same, case-insensitively as Graph treats them: equal once
/// lowercased (without lowercasing copies for ASCII ids, which the tool's are).
fn same_id(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// A status that is an integer 100..=599 (a JSON number, or leniently a string of digits).
fn status_of(v: Option<&Value>) -> Option<u16> {
    let n = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    if (100..=599).contains(&n) {
        u16::try_from(n).ok()
    } else {
        None
    }
}

/// A header's value as text: strings as they are, numbers written out, and for an array (some
/// proxies repeat headers) its first usable element.
fn header_text(v: &Value) -> Option<String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(a) => a.iter().find_map(scalar),
        other => scalar(other),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ThrottleScope, scope_of};

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use std::collections::HashMap;

    use super::super::{BatchItem, ItemResponse, Method};
    use super::{BatchReply, batch_body, parse_batch_response};

    fn item(id: &str, method: Method, body: Option<Value>) -> BatchItem {
        BatchItem {
            id: id.into(),
            method,
            url: format!("/users/u{id}/authentication/requirements"),
            body,
            client_request_id: format!("crid-{id}"),
            advanced_query: false,
        }
    }

    fn sent3() -> Vec<BatchItem> {
        vec![
            item("1", Method::Get, None),
            item(
                "2",
                Method::Patch,
                Some(json!({"perUserMfaState":"enforced"})),
            ),
            item("3", Method::Delete, None),
        ]
    }

    #[test]
    fn batch_body_carries_ids_methods_relative_urls_and_request_ids() {
        let body = serde_json::to_value(batch_body(&sent3())).unwrap();
        let reqs = body["requests"].as_array().unwrap();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0]["id"], "1");
        assert_eq!(reqs[0]["method"], "GET");
        assert_eq!(reqs[0]["url"], "/users/u1/authentication/requirements");
        assert_eq!(reqs[0]["headers"]["client-request-id"], "crid-1");
        assert!(reqs[0].get("body").is_none());
        assert!(reqs[0]["headers"].get("Content-Type").is_none());
        assert_eq!(reqs[1]["method"], "PATCH");
        assert_eq!(reqs[1]["body"], json!({"perUserMfaState":"enforced"}));
        assert_eq!(reqs[1]["headers"]["Content-Type"], "application/json");
        assert_eq!(reqs[2]["method"], "DELETE");
        assert!(reqs[2].get("body").is_none());
    }

    #[test]
    fn an_advanced_query_item_carries_consistency_level_eventual_and_others_do_not() {
        let mut advanced = item("4", Method::Get, None);
        advanced.advanced_query = true;
        let body =
            serde_json::to_value(batch_body(&[advanced, item("5", Method::Get, None)])).unwrap();
        assert_eq!(
            body["requests"][0]["headers"]["ConsistencyLevel"],
            "eventual"
        );
        assert!(
            body["requests"][1]["headers"]
                .get("ConsistencyLevel")
                .is_none()
        );
    }

    #[test]
    fn bodiless_post_gets_empty_object_and_content_type() {
        let body = serde_json::to_value(batch_body(&[item("9", Method::Post, None)])).unwrap();
        let req = &body["requests"][0];
        assert_eq!(req["method"], "POST");
        assert_eq!(req["body"], json!({}));
        assert_eq!(req["headers"]["Content-Type"], "application/json");
    }

    #[test]
    fn shuffled_answers_come_back_in_sending_order_with_sent_ids() {
        let resp = json!({"responses":[
            {"id":"3","status":204},
            {"id":"1","status":200,"headers":{"Content-Type":"application/json"},"body":{"perUserMfaState":"disabled"}},
            {"id":"2","status":204,"body":null}
        ]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        let ids: Vec<_> = reply.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(reply.items[0].body, json!({"perUserMfaState":"disabled"}));
        assert_eq!(reply.items[2].body, Value::Null);
        assert!(reply.missing.is_empty());
        assert_eq!(reply.unexpected, 0);
    }

    #[test]
    fn ids_match_case_insensitively() {
        let sent = vec![item("Job-A", Method::Get, None)];
        let resp = json!({"responses":[{"id":"job-a","status":200}]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent).unwrap();
        assert_eq!(reply.items[0].id, "Job-A");
    }

    #[test]
    fn non_ascii_ids_match_once_lowercased() {
        let sent = vec![
            item("Ärende-1", Method::Get, None),
            item("2", Method::Get, None),
        ];
        let resp = json!({"responses":[{"id":"2","status":200},{"id":"ärende-1","status":204}]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent).unwrap();
        let ids: Vec<_> = reply.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["Ärende-1", "2"]);
        assert_eq!(reply.unexpected, 0);
    }

    #[test]
    fn missing_items_are_listed() {
        let resp = json!({"responses":[{"id":"2","status":204}]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert_eq!(reply.items.len(), 1);
        assert_eq!(reply.missing, ["1", "3"]);
    }

    #[test]
    fn unexpected_ids_and_duplicates_are_counted_and_ignored() {
        let resp = json!({"responses":[
            {"id":"1","status":200},
            {"id":"1","status":500},
            {"id":"42","status":200},
            {"status":200},
            "junk",
            {"id":"2","status":204},
            {"id":"3","status":204}
        ]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert_eq!(reply.items.len(), 3);
        assert_eq!(reply.items[0].status, 200);
        assert_eq!(reply.unexpected, 4);
        assert!(reply.missing.is_empty());
    }

    #[test]
    fn unusable_status_counts_as_not_answered() {
        let resp = json!({"responses":[
            {"id":"1","status":99},
            {"id":"2","status":"abc"},
            {"id":"3","status":204.5}
        ]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert!(reply.items.is_empty());
        assert_eq!(reply.missing, ["1", "2", "3"]);
    }

    #[test]
    fn fractional_retry_after_and_throttle_percentage_are_read_case_insensitively() {
        let resp = json!({"responses":[
            {"id":"1","status":429,"headers":{"retry-after":"2.128","X-MS-Throttle-Limit-Percentage":"1.2"}},
            {"id":"2","status":429,"headers":{"Retry-After":7}},
            {"id":"3","status":429,"headers":{"Retry-After":"Wed, 21 Oct 2015 07:28:00 GMT"}}
        ]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert_eq!(
            reply.items[0].retry_after,
            Some(Duration::from_millis(2128))
        );
        assert_eq!(reply.items[0].throttle_percentage, Some(1.2));
        assert_eq!(reply.items[0].scope, ThrottleScope::Tenant);
        assert_eq!(reply.items[1].retry_after, Some(Duration::from_secs(7)));
        // An HTTP-date in the past: no wait.
        assert_eq!(reply.items[2].retry_after, Some(Duration::ZERO));
    }

    #[test]
    fn a_429_in_the_application_scope_is_told_apart_from_the_tenants() {
        let resp = json!({"responses":[
            {"id":"1","status":429,"headers":{"Retry-After":"1","x-ms-throttle-scope":"Application/Write/app/tid"}},
            {"id":"2","status":429,"headers":{"Retry-After":"1","X-MS-Throttle-Scope":"Tenant_Application/Write/app/tid"}},
            {"id":"3","status":429,"headers":{"Retry-After":"1","x-ms-throttle-scope":"application/ReadWrite/app/tid"}}
        ]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        let scopes: Vec<ThrottleScope> = reply.items.iter().map(|i| i.scope).collect();
        use ThrottleScope::{AppUnits, AppWrites, Tenant};
        assert_eq!(scopes, [AppWrites, Tenant, AppUnits]);
        assert_eq!(scope_of("Tenant/Write/app/tid"), Tenant);
    }

    #[test]
    fn retry_after_as_a_future_http_date_is_the_time_left() {
        let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(120);
        let text = at
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");
        let wait = super::parse_retry_after(&text).unwrap();
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(120),
            "{text}: {wait:?}"
        );
        assert_eq!(super::parse_retry_after("soon"), None);
        assert_eq!(super::parse_retry_after("-1"), None);
        assert_eq!(super::parse_retry_after("NaN"), None);
    }

    #[test]
    fn huge_bodies_and_many_answers_are_parsed() {
        let big = "x".repeat(2_000_000);
        let mut responses: Vec<Value> = (0..5000)
            .map(|i| json!({"id": format!("n{i}"), "status": 200}))
            .collect();
        responses.push(json!({"id":"1","status":200,"body":{"blob": big}}));
        let body = json!({"responses": responses}).to_string();
        let reply = parse_batch_response(body.as_bytes(), &sent3()).unwrap();
        assert_eq!(reply.items.len(), 1);
        assert_eq!(
            reply.items[0].body["blob"].as_str().map(str::len),
            Some(2_000_000)
        );
        assert_eq!(reply.unexpected, 5000);
        assert_eq!(reply.missing, ["2", "3"]);
    }

    #[test]
    fn huge_retry_after_is_capped() {
        let resp =
            json!({"responses":[{"id":"1","status":429,"headers":{"Retry-After":"99999999"}}]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert_eq!(reply.items[0].retry_after, Some(super::MAX_RETRY_AFTER));
    }

    #[test]
    fn request_ids_come_from_headers_or_the_nested_error_body() {
        let resp = json!({"responses":[
            {"id":"1","status":403,"headers":{"Request-Id":"hdr-r","client-request-id":"hdr-c"},
             "body":{"error":{"code":"Authorization_RequestDenied","message":"m","innerError":{"request-id":"body-r"}}}},
            {"id":"2","status":429,"body":{"error":{"code":"TooManyRequests","message":"m",
             "innerError":{"code":"429","innerError":{"request-id":"deep-r","client-request-id":"deep-c"}}}}}
        ]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert_eq!(reply.items[0].request_id.as_deref(), Some("hdr-r"));
        assert_eq!(reply.items[0].client_request_id.as_deref(), Some("hdr-c"));
        assert_eq!(reply.items[1].request_id.as_deref(), Some("deep-r"));
        assert_eq!(reply.items[1].client_request_id.as_deref(), Some("deep-c"));
        assert_eq!(reply.items[1].error().unwrap().code, "TooManyRequests");
    }

    #[test]
    fn base64_body_is_kept_as_a_string() {
        let resp = json!({"responses":[{"id":"1","status":200,"headers":{"Content-Type":"image/jpeg"},"body":"iVBORw0KGgo="}]});
        let reply = parse_batch_response(resp.to_string().as_bytes(), &sent3()).unwrap();
        assert_eq!(reply.items[0].body, json!("iVBORw0KGgo="));
    }

    #[test]
    fn unusable_bodies_are_errors() {
        for body in [
            &b"garbage"[..],
            b"",
            b"[]",
            b"{\"value\":[]}",
            b"{\"responses\":{}}",
        ] {
            assert!(parse_batch_response(body, &sent3()).is_err());
        }
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_batch_response(deep.as_bytes(), &sent3()).is_err());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            prop_oneof![
                Just("1".to_owned()),
                Just("2".to_owned()),
                Just("retry-after".to_owned()),
                ".{0,12}"
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("id".to_owned()),
                            Just("status".to_owned()),
                            Just("headers".to_owned()),
                            Just("body".to_owned()),
                            Just("Retry-After".to_owned()),
                            Just("x-ms-throttle-limit-percentage".to_owned()),
                            Just("error".to_owned()),
                            Just("innerError".to_owned()),
                            Just("request-id".to_owned()),
                            "[a-z-]{0,8}"
                        ],
                        inner
                    ),
                    0..8
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn arb_answer() -> impl Strategy<Value = Value> {
        (
            prop_oneof![Just(json!("1")), Just(json!("2")), Just(json!("3")), Just(json!(1)), arb_json()],
            prop_oneof![any::<i64>().prop_map(|n| json!(n)), (100u16..600).prop_map(|n| json!(n)), arb_json()],
            arb_json(),
            arb_json(),
        )
            .prop_map(|(id, status, headers, body)| json!({"id":id,"status":status,"headers":headers,"body":body}))
    }

    /// The parse this file did before reading answers field by field: the whole body into a
    /// `Value`, each answer's fields from its map. Kept as the oracle the field-by-field
    /// reader must agree with.
    fn parse_via_value(body: &[u8], sent: &[BatchItem]) -> Result<BatchReply, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let responses = value
            .as_object()
            .and_then(|o| o.get("responses"))
            .and_then(Value::as_array)
            .ok_or_else(|| "no \"responses\" array".to_owned())?;
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, item) in sent.iter().enumerate() {
            index.entry(item.id.to_lowercase()).or_insert(i);
        }
        let mut answers: Vec<Option<ItemResponse>> = vec![None; sent.len()];
        let mut unexpected = 0;
        for answer in responses {
            let Some(obj) = answer.as_object() else {
                unexpected += 1;
                continue;
            };
            let Some(id) = super::id_text(obj.get("id")) else {
                unexpected += 1;
                continue;
            };
            let Some(&slot) = index.get(&id.to_lowercase()) else {
                unexpected += 1;
                continue;
            };
            if answers[slot].is_some() {
                unexpected += 1;
                continue;
            }
            let Some(status) = super::status_of(obj.get("status")) else {
                continue;
            };
            let headers = obj.get("headers").and_then(Value::as_object);
            let header = |name: &str| {
                headers.and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .and_then(|(_, v)| super::header_text(v))
                })
            };
            let body = obj.get("body").cloned().unwrap_or(Value::Null);
            let inner = super::super::GraphError::from_body(&body);
            answers[slot] = Some(ItemResponse {
                id: sent[slot].id.clone(),
                status,
                retry_after: header("retry-after")
                    .as_deref()
                    .and_then(super::parse_retry_after),
                request_id: header("request-id")
                    .or_else(|| inner.as_ref().and_then(|e| e.request_id.clone())),
                client_request_id: header("client-request-id")
                    .or_else(|| inner.as_ref().and_then(|e| e.client_request_id.clone())),
                throttle_percentage: header("x-ms-throttle-limit-percentage")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|p| p.is_finite()),
                scope: header("x-ms-throttle-scope")
                    .map_or(super::ThrottleScope::Tenant, |v| super::scope_of(&v)),
                body,
            });
        }
        let mut reply = BatchReply {
            unexpected,
            ..BatchReply::default()
        };
        for (item, answer) in sent.iter().zip(answers) {
            match answer {
                Some(a) => reply.items.push(a),
                None => reply.missing.push(item.id.clone()),
            }
        }
        Ok(reply)
    }

    /// Headers as Graph and proxies send them: the kept names in any case, repeated, as
    /// strings, numbers or arrays, among others.
    fn arb_headers() -> impl Strategy<Value = Value> {
        let name = prop_oneof![
            Just("Retry-After".to_owned()),
            Just("retry-after".to_owned()),
            Just("RETRY-AFTER".to_owned()),
            Just("request-id".to_owned()),
            Just("Request-Id".to_owned()),
            Just("client-request-id".to_owned()),
            Just("x-ms-throttle-limit-percentage".to_owned()),
            Just("X-MS-Throttle-Limit-Percentage".to_owned()),
            Just("Content-Type".to_owned()),
            Just("x-ms-resource-unit".to_owned()),
        ];
        let value = prop_oneof![
            (0u32..400).prop_map(|n| json!(n.to_string())),
            (0.0f64..3.0).prop_map(|f| json!(f)),
            Just(json!("1.2")),
            Just(json!(["3", "4"])),
            Just(json!([null, 7])),
            Just(json!("not a number")),
            Just(Value::Null),
            Just(json!({"a": 1})),
        ];
        prop_oneof![
            prop::collection::vec((name, value), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            arb_json(),
        ]
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_batch_response(&bytes, &sent3());
        }

        #[test]
        fn parser_never_panics_on_arbitrary_json(v in arb_json()) {
            let _ = parse_batch_response(v.to_string().as_bytes(), &sent3());
            let wrapped = json!({"responses":[v]});
            let _ = parse_batch_response(wrapped.to_string().as_bytes(), &sent3());
        }

        #[test]
        fn answers_read_field_by_field_equal_the_whole_value_parse(
            answers in prop::collection::vec(
                (arb_answer(), arb_headers()).prop_map(|(mut a, h)| {
                    a["headers"] = h;
                    a
                }),
                0..12,
            ),
            others in arb_json(),
        ) {
            let sent = sent3();
            let body = json!({"responses": answers}).to_string();
            prop_assert_eq!(parse_batch_response(body.as_bytes(), &sent), parse_via_value(body.as_bytes(), &sent));
            // Bodies of any other shape, too (errors and all).
            let other = others.to_string();
            prop_assert_eq!(
                parse_batch_response(other.as_bytes(), &sent).is_ok(),
                parse_via_value(other.as_bytes(), &sent).is_ok()
            );
            let wrapped = json!({"responses": [others.clone()], "@odata.context": others}).to_string();
            prop_assert_eq!(parse_batch_response(wrapped.as_bytes(), &sent), parse_via_value(wrapped.as_bytes(), &sent));
        }

        #[test]
        fn every_sent_id_is_answered_or_missing(answers in prop::collection::vec(arb_answer(), 0..12)) {
            let sent = sent3();
            let body = json!({"responses": answers}).to_string();
            let reply = parse_batch_response(body.as_bytes(), &sent).unwrap();
            prop_assert_eq!(reply.items.len() + reply.missing.len(), sent.len());
            prop_assert!(reply.items.len() + reply.unexpected <= answers.len());
            for it in &reply.items {
                prop_assert!((100..=599).contains(&it.status));
                if let Some(ra) = it.retry_after {
                    prop_assert!(ra <= super::MAX_RETRY_AFTER);
                }
                let _ = it.error();
            }
        }
    }
}
