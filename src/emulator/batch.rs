//! JSON batching (docs/graph.md §5): validate the whole payload first (≤ 20 items, unique ids,
//! relative URLs, no nested batch, writes with a body and a Content-Type, known dependsOn
//! targets) so a bad batch runs nothing; then run the items one by one, independent ones in a
//! seeded random order, through the same routes as plain requests (an item whose body is not
//! `application/json` gets 415), fail dependents of failed items with 424, and answer in
//! shuffled order.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use super::faults;
use super::graph_error::{GraphError, Reply};
use super::keys::{strip_fragment, strip_query};
use super::routes::{Call, execute};
use super::server::Shared;
use super::token::TokenInfo;

/// Graph's documented item limit.
pub(crate) const MAX_ITEMS: usize = 20;

struct Item {
    id: String,
    method: String,
    url: String,
    headers: Map<String, Value>,
    body: Option<Value>,
    depends_on: Vec<usize>,
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request(message)
}

fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// A body may be JSON or a base64 (URL) encoded value; an encoded JSON document is decoded.
fn item_body(v: Value) -> Value {
    if let Value::String(s) = &v {
        for engine in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD] {
            if let Ok(bytes) = engine.decode(s)
                && let Ok(json) = serde_json::from_slice::<Value>(&bytes)
            {
                return json;
            }
        }
    }
    v
}

/// Validates the payload; any problem fails the whole batch before anything runs.
fn parse(body: &[u8]) -> Result<Vec<Item>, GraphError> {
    let mut doc: Value =
        serde_json::from_slice(body).map_err(|_| invalid("Invalid batch payload format."))?;
    // Taken by value: headers and bodies move into the items instead of being cloned.
    let requests = match doc.get_mut("requests").map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => {
            return Err(invalid(
                "Invalid batch payload format. The requests array is missing.",
            ));
        }
    };
    if requests.is_empty() {
        return Err(invalid(
            "Invalid batch payload format. At least one request is required.",
        ));
    }
    if requests.len() > MAX_ITEMS {
        return Err(invalid("Number of requests inside batch exceed the limit"));
    }
    let mut items = Vec::with_capacity(requests.len());
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let mut raw_deps: Vec<Vec<String>> = Vec::new();
    for mut r in requests {
        let obj = r.as_object_mut().ok_or_else(|| {
            invalid("Invalid batch payload format. Each request must be an object.")
        })?;
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(invalid(
                    "Invalid batch payload format. Each request needs a string id.",
                ));
            }
        };
        if index_of.insert(id.to_lowercase(), items.len()).is_some() {
            return Err(invalid(format!(
                "Invalid batch payload format. Request id '{id}' is not unique in the batch (ids are case-insensitive)."
            )));
        }
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("Request id : {id} has no method.")))?
            .to_ascii_uppercase();
        let url = obj
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("Request id : {id} has no url.")))?;
        // Everything from a raw '#' on is a fragment and never reaches Graph.
        let url = strip_fragment(url).to_string();
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http:") || lower.starts_with("https:") || lower.contains("://") {
            return Err(invalid(format!(
                "Invalid request url '{url}' in request id : {id}. Only relative urls are supported in a batch."
            )));
        }
        let path = strip_query(&lower);
        let path = path.trim_matches('/');
        if path == "$batch"
            || path.ends_with("/$batch")
            || path == "%24batch"
            || path.ends_with("/%24batch")
        {
            return Err(invalid(format!(
                "Request id : {id} is a nested batch; batches cannot be nested."
            )));
        }
        let headers = match obj.get_mut("headers").map(Value::take) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(h)) => h,
            Some(_) => {
                return Err(invalid(format!(
                    "Request id : {id} has headers that are not an object."
                )));
            }
        };
        let body = match obj.get_mut("body").map(Value::take) {
            None | Some(Value::Null) => None,
            Some(b) => Some(item_body(b)),
        };
        let writes = matches!(method.as_str(), "POST" | "PATCH" | "PUT");
        if (writes || body.is_some())
            && (body.is_none() || header(&headers, "content-type").is_none())
        {
            return Err(invalid(format!(
                "Write request id : {id} does not contain Content-Type header or body."
            )));
        }
        let deps = match obj.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| d.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    invalid(format!(
                        "Request id : {id} has a dependsOn that is not a list of ids."
                    ))
                })?,
            Some(_) => {
                return Err(invalid(format!(
                    "Request id : {id} has a dependsOn that is not a list of ids."
                )));
            }
        };
        raw_deps.push(deps);
        items.push(Item {
            id,
            method,
            url,
            headers,
            body,
            depends_on: Vec::new(),
        });
    }
    for (n, deps) in raw_deps.into_iter().enumerate() {
        for d in deps {
            let target = *index_of.get(&d.to_lowercase()).ok_or_else(|| {
                invalid(format!(
                    "Request id : {} depends on '{d}', which is not in the batch.",
                    items[n].id
                ))
            })?;
            if target == n {
                return Err(invalid(format!("Request id : {d} depends on itself.")));
            }
            items[n].depends_on.push(target);
        }
    }
    check_dependency_shape(&items)?;
    Ok(items)
}

/// Graph's known limits on dependsOn (docs/graph.md §5): one dependency per request, and the
/// batch fully parallel (no dependsOn), fully serial (each request depends on the one before),
/// or "same" (every other request depends on one root). Anything else fails the batch.
fn check_dependency_shape(items: &[Item]) -> Result<(), GraphError> {
    if items.iter().all(|i| i.depends_on.is_empty()) {
        return Ok(());
    }
    let refuse = || invalid("Batch should be either fully sequential or fully parallel.");
    if items.iter().any(|i| i.depends_on.len() > 1) {
        return Err(refuse());
    }
    let serial = items.iter().enumerate().all(|(n, item)| match n {
        0 => item.depends_on.is_empty(),
        _ => item.depends_on == [n - 1],
    });
    let roots: Vec<usize> = (0..items.len())
        .filter(|n| items[*n].depends_on.is_empty())
        .collect();
    let same = roots.len() == 1
        && items
            .iter()
            .enumerate()
            .all(|(n, item)| n == roots[0] || item.depends_on == [roots[0]]);
    if serial || same {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// `Some(415)` unless `content_type` is `application/json` (parameters such as `charset`
/// allowed): the routes read JSON only (docs/graph.md §5).
pub(crate) fn unsupported_media_type(content_type: Option<&str>) -> Option<GraphError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if media.eq_ignore_ascii_case("application/json") {
        return None;
    }
    Some(GraphError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "The request body's Content-Type '{}' is not supported; send application/json.",
            content_type.unwrap_or("")
        ),
    ))
}

/// An execution order: Kahn's order over dependsOn, choosing among the items that are ready
/// at random, since Graph runs independent items in no guaranteed order (docs/graph.md §5).
/// A cycle fails the batch.
fn order(items: &[Item], rng: &mut rand_chacha::ChaCha8Rng) -> Result<Vec<usize>, GraphError> {
    let mut done = vec![false; items.len()];
    let mut out = Vec::with_capacity(items.len());
    while out.len() < items.len() {
        let before = out.len();
        let mut ready: Vec<usize> = (0..items.len())
            .filter(|&i| !done[i] && items[i].depends_on.iter().all(|d| done[*d]))
            .collect();
        ready.shuffle(rng);
        for i in ready {
            done[i] = true;
            out.push(i);
        }
        if out.len() == before {
            return Err(invalid(
                "Invalid batch payload format. dependsOn forms a cycle.",
            ));
        }
    }
    Ok(out)
}

/// Runs a batch; `Err` is the outer 400.
pub(crate) fn run(
    shared: &Shared,
    beta: bool,
    body: &[u8],
    token: &TokenInfo,
) -> Result<Value, GraphError> {
    let items = parse(body)?;
    let order = order(&items, &mut shared.rng())?;
    shared.stats.batch(items.len());
    let mut replies: Vec<Option<Reply>> = vec![None; items.len()];
    for i in order {
        let item = &items[i];
        let client_request_id = header(&item.headers, "client-request-id");
        let failed_dep = item.depends_on.iter().any(|d| {
            replies[*d]
                .as_ref()
                .is_none_or(|r| !(200..300).contains(&r.status))
        });
        let reply = if failed_dep {
            let rid = shared.next_request_id();
            let mut r = Reply::error(
                &GraphError::new(
                    424,
                    "FailedDependency",
                    "Failed dependency: a request this one depends on did not succeed.",
                ),
                &rid,
                client_request_id,
            );
            r.headers.push(("request-id", rid));
            r
        } else if let Some(err) = item
            .body
            .as_ref()
            .and_then(|_| unsupported_media_type(header(&item.headers, "content-type")))
        {
            let rid = shared.next_request_id();
            let mut r = Reply::error(&err, &rid, client_request_id);
            r.headers.push(("request-id", rid));
            r
        } else if let Some(status) = faults::item_fault(&shared.config.faults, &mut shared.rng()) {
            shared
                .stats
                .faults_item_5xx
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            fault_item(shared, status, client_request_id)
        } else {
            let ran = execute(
                shared,
                &Call {
                    beta,
                    method: &item.method,
                    url: &item.url,
                    body: item.body.as_ref(),
                    client_request_id,
                    token,
                    eventual: super::server::is_eventual(header(&item.headers, "consistencylevel")),
                },
            );
            let after = faults::after_execute_fault(&shared.config.faults, &mut shared.rng());
            match after {
                Some(status) => {
                    shared
                        .stats
                        .faults_item_5xx_after_execute
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    fault_item(shared, status, client_request_id)
                }
                None => ran,
            }
        };
        shared.stats.item(reply.status);
        replies[i] = Some(reply);
    }
    shared
        .stats
        .items
        .fetch_add(items.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let mut responses: Vec<Value> = items
        .iter()
        .zip(replies)
        .filter_map(|(item, reply)| reply.map(|r| item_json(&item.id, r)))
        .collect();
    responses.shuffle(&mut *shared.rng());
    Ok(json!({ "responses": responses }))
}

/// A 503/504 item that did not run.
pub(crate) fn fault_item(shared: &Shared, status: u16, client_request_id: Option<&str>) -> Reply {
    let rid = shared.next_request_id();
    let (code, message) = if status == 503 {
        (
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
        )
    } else {
        (
            "gatewayTimeout",
            "The gateway did not receive a timely response.",
        )
    };
    let mut r = Reply::error(
        &GraphError::new(status, code, message),
        &rid,
        client_request_id,
    );
    r.headers.push(("request-id", rid));
    if let Some(c) = client_request_id {
        r.headers.push(("client-request-id", c.to_string()));
    }
    if status == 503 {
        r.headers.push((
            "Retry-After",
            super::throttle::format_retry_after(faults::retry_after(&shared.config.faults)),
        ));
    }
    r
}

fn item_json(id: &str, reply: Reply) -> Value {
    let mut headers = Map::new();
    for (k, v) in reply.headers {
        headers.insert(k.to_string(), Value::String(v));
    }
    if reply.body.is_some() {
        headers.insert("Content-Type".into(), json!("application/json"));
    }
    let mut v = json!({"id": id, "status": reply.status, "headers": headers});
    if let Some(b) = reply.body {
        v["body"] = b;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: Value) -> Result<usize, String> {
        parse(body.to_string().as_bytes())
            .map(|v| v.len())
            .map_err(|e| e.message)
    }

    #[test]
    fn payload_rules_fail_the_whole_batch() {
        let get = |id: &str| json!({"id": id, "method": "GET", "url": "/users/a"});
        assert!(status(json!({"requests": []})).is_err());
        let many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
        assert_eq!(
            status(json!({"requests": many})).unwrap_err(),
            "Number of requests inside batch exceed the limit"
        );
        let dup = json!({"requests": [get("a"), get("A")]});
        assert!(status(dup).is_err());
        let write =
            json!({"requests": [{"id": "1", "method": "PATCH", "url": "/users/a", "body": {}}]});
        assert_eq!(
            status(write).unwrap_err(),
            "Write request id : 1 does not contain Content-Type header or body."
        );
        let abs = json!({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users/a"}]});
        assert!(status(abs).is_err());
        let nested = json!({"requests": [{"id": "1", "method": "GET", "url": "/$batch"}]});
        assert!(status(nested).is_err());
        assert_eq!(status(json!({"requests": [get("1"), get("2")]})), Ok(2));
    }

    #[test]
    fn dependency_shapes_are_parallel_serial_or_same() {
        let item = |id: &str, deps: &[&str]| json!({"id": id, "method": "GET", "url": "/users/a", "dependsOn": deps});
        let ok = |v: Vec<Value>| status(json!({ "requests": v })).is_ok();
        assert!(ok(vec![
            item("1", &[]),
            item("2", &["1"]),
            item("3", &["2"])
        ]));
        assert!(ok(vec![
            item("1", &[]),
            item("2", &["1"]),
            item("3", &["1"])
        ]));
        assert!(!ok(vec![item("1", &[]), item("2", &["1"]), item("3", &[])]));
        assert!(!ok(vec![
            item("1", &[]),
            item("2", &[]),
            item("3", &["1", "2"])
        ]));
    }

    #[test]
    fn dependency_cycles_are_refused() {
        let body = json!({"requests": [
            {"id": "1", "method": "GET", "url": "/users/a", "dependsOn": ["2"]},
            {"id": "2", "method": "GET", "url": "/users/a", "dependsOn": ["1"]}
        ]});
        assert!(parse(body.to_string().as_bytes()).is_err());
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use crate::emulator::config::EmulatorConfig;

    /// Server-side cost of a 20-item batch without HTTP:
    /// `cargo test -q --lib batch_cpu_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn batch_cpu_cost() {
        let config = EmulatorConfig::generated(1000, 1).no_throttle();
        let tokens = std::sync::Arc::new(crate::emulator::token::TokenStore::new([1; 32]));
        let wide = crate::emulator::throttle::AppWide::new(&config.app_quotas, config.quota_scale);
        let shared = Shared::new(config, "http://127.0.0.1:1".into(), tokens, wide).unwrap();
        let token = TokenInfo {
            tenant_id: shared.config.tenant_id.clone(),
            app_id: "app".into(),
            permissions: vec!["Policy.Read.All".into()],
            expires_at: u64::MAX,
        };
        let items: Vec<Value> = (0..20)
            .map(|i| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/user{:04}@contoso.onmicrosoft.com/authentication/requirements", i + 1)}))
            .collect();
        let body = serde_json::to_vec(&json!({ "requests": items })).unwrap();
        let t0 = std::time::Instant::now();
        for _ in 0..500 {
            let v = run(&shared, true, &body, &token).unwrap();
            let mut out = Vec::with_capacity(8192);
            crate::emulator::json_out::write_value(&mut out, &v);
            assert!(out.len() > 100);
        }
        let secs = t0.elapsed().as_secs_f64();
        println!("batch cpu: {:.0} items/s on one core", 10_000.0 / secs);
    }
}
