//! Microsoft.Network over REST (api-version 2024-05-01): NSG reads and lists with `nextLink`,
//! security-rule GET/PUT/DELETE with etags and long-running operations, operation status polls.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::config::DeletePolling;
use super::errors::{arm_error, empty_response, error_body, json_response};
use super::state::{find_rule, rules, scope_key, Change, Inner, OpStatus, Operation, Shared};
use super::validate::check_rule;

pub const API_VERSION: &str = "2024-05-01";

/// One ARM request, already authenticated, throttled and past fault injection.
pub struct Call<'a> {
    pub shared: &'a Shared,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The operation this call starts ends `Failed` (fault injection).
    pub lro_fail: bool,
}

/// `400` when the api-version is missing or not 2024-05-01.
pub fn check_api_version(query: &HashMap<String, String>) -> Result<(), Response> {
    match query.get("api-version") {
        Some(v) if v == API_VERSION => Ok(()),
        Some(v) => Err(arm_error(
            400,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{v}' is invalid. The supported versions are '{API_VERSION}'."
            ),
        )),
        None => Err(arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
    }
}

/// `429 RetryableError` / `RetryableErrorDueToAnotherOperation` for a busy NSG.
pub fn another_operation(shared: &Shared, resource: &str) -> Response {
    let message = format!(
        "Operation PutSecurityRuleOperation is updating resource {resource}. The call can be retried in 1 seconds."
    );
    let body = error_body(
        "RetryableError",
        "A retryable error occurred. The call can be retried in 1 seconds.",
        &[("RetryableErrorDueToAnotherOperation", message.as_str())],
    );
    json_response(429, &body, &shared.clock.retry_after_headers(1.0))
}

pub fn dispatch(call: &Call) -> Response {
    let segs: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let m = call.method;
    match l.as_slice() {
        ["subscriptions", _, "providers", "microsoft.network", "networksecuritygroups"] if m == "GET" => {
            list_nsgs(call, &format!("/subscriptions/{}/", l[1]))
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", "networksecuritygroups"]
            if m == "GET" =>
        {
            let prefix = format!("/subscriptions/{}/resourcegroups/{}/", l[1], l[3]);
            if !group_exists(call, &prefix) {
                return group_not_found(segs[3]);
            }
            list_nsgs(call, &prefix)
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", "networksecuritygroups", _]
            if m == "GET" =>
        {
            let prefix = format!("/subscriptions/{}/resourcegroups/{}/", l[1], l[3]);
            if !group_exists(call, &prefix) {
                return group_not_found(segs[3]);
            }
            let inner = call.shared.lock();
            match inner.nsgs.get(&scope_key(l[1], l[3], l[7])) {
                Some(nsg) => json_response(200, nsg, &[]),
                None => nsg_not_found(segs[3], segs[7]),
            }
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", "networksecuritygroups", _, "securityrules"]
            if m == "GET" =>
        {
            let inner = call.shared.lock();
            match inner.nsgs.get(&scope_key(l[1], l[3], l[7])) {
                Some(nsg) => page(call, rules(nsg).to_vec()),
                None => nsg_not_found(segs[3], segs[7]),
            }
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.network", "networksecuritygroups", _, "securityrules", _] => {
            let key = scope_key(l[1], l[3], l[7]);
            match m {
                "GET" => get_rule(call, &key, segs[3], segs[7], segs[9]),
                "PUT" => put_rule(call, &key, &segs),
                "DELETE" => delete_rule(call, &key, &segs),
                _ => method_not_allowed(m),
            }
        }
        ["subscriptions", _, "providers", "microsoft.network", "locations", _, kind @ ("operations" | "operationresults"), id]
            if m == "GET" =>
        {
            poll(call, id, *kind == "operationresults")
        }
        _ => arm_error(
            404,
            "InvalidResourceType",
            &format!("The resource type for path '{}' and method '{m}' is not supported by the emulator.", call.path),
        ),
    }
}

fn method_not_allowed(method: &str) -> Response {
    arm_error(
        405,
        "MethodNotAllowed",
        &format!("The requested method '{method}' is not allowed."),
    )
}

fn nsg_not_found(resource_group: &str, name: &str) -> Response {
    arm_error(
        404,
        "ResourceNotFound",
        &format!(
            "The Resource 'Microsoft.Network/networkSecurityGroups/{name}' under resource group '{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

/// A resource group exists while it holds an NSG (the emulator seeds nothing else).
fn group_exists(call: &Call, prefix: &str) -> bool {
    call.shared
        .lock()
        .nsgs
        .keys()
        .any(|k| k.starts_with(prefix))
}

fn group_not_found(resource_group: &str) -> Response {
    arm_error(
        404,
        "ResourceGroupNotFound",
        &format!("Resource group '{resource_group}' could not be found."),
    )
}

fn list_nsgs(call: &Call, prefix: &str) -> Response {
    let items: Vec<Value> = {
        let inner = call.shared.lock();
        inner
            .nsgs
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect()
    };
    page(call, items)
}

/// `{"value": [...], "nextLink": …}` with `page_size` items from `$skiptoken`.
fn page(call: &Call, items: Vec<Value>) -> Response {
    let size = call.shared.config.page_size.max(1);
    let skip: usize = call
        .query
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end = (skip + size).min(items.len());
    let value: Vec<Value> = items
        .get(skip.min(items.len())..end)
        .unwrap_or_default()
        .to_vec();
    let mut body = json!({"value": value});
    if end < items.len() {
        body["nextLink"] = json!(format!(
            "{}{}?api-version={API_VERSION}&$skiptoken={end}",
            call.shared.base_url, call.path
        ));
    }
    json_response(200, &body, &[])
}

fn get_rule(call: &Call, key: &str, resource_group: &str, nsg: &str, rule: &str) -> Response {
    let inner = call.shared.lock();
    let Some(nsg_value) = inner.nsgs.get(key) else {
        return nsg_not_found(resource_group, nsg);
    };
    match find_rule(nsg_value, rule) {
        Some(r) => json_response(200, r, &[]),
        None => rule_not_found(call.path),
    }
}

fn rule_not_found(path: &str) -> Response {
    arm_error(404, "NotFound", &format!("Resource {path} not found."))
}

fn precondition_failed(
    inner: &mut Inner,
    given: &str,
    current: Option<&str>,
    resource: &str,
) -> Response {
    inner.stats.precondition_failed += 1;
    let detail = match current {
        Some(etag) => format!(
            "Etag provided in if-match header {given} does not match etag {etag} of resource {resource} in NRP data store."
        ),
        None => format!("Precondition {given} failed: resource {resource} does not exist."),
    };
    json_response(
        412,
        &error_body(
            "PreconditionFailed",
            "Precondition failed.",
            &[("PreconditionFailedEtagMismatch", detail.as_str())],
        ),
        &[],
    )
}

fn header<'a>(call: &'a Call, name: &str) -> Option<&'a str> {
    call.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Checks `If-Match` and `If-None-Match` against the rule's current etag.
fn preconditions(call: &Call, inner: &mut Inner, existing: Option<&Value>) -> Result<(), Response> {
    let current = existing
        .and_then(|r| r.get("etag"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if header(call, "if-none-match") == Some("*") && existing.is_some() {
        return Err(precondition_failed(
            inner,
            "*",
            current.as_deref(),
            call.path,
        ));
    }
    if let Some(given) = header(call, "if-match") {
        let ok = match (&current, existing) {
            (_, None) => false,
            _ if given == "*" => true,
            (Some(etag), _) => etag == given,
            (None, Some(_)) => false,
        };
        if !ok {
            return Err(precondition_failed(
                inner,
                given,
                current.as_deref(),
                call.path,
            ));
        }
    }
    Ok(())
}

fn bad_request(code: &str, message: &str, details: &[(&str, &str)]) -> Response {
    json_response(400, &error_body(code, message, details), &[])
}

fn put_rule(call: &Call, key: &str, segs: &[&str]) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(call.body);
    let props = match &parsed {
        Ok(Value::Object(o)) => match o.get("properties") {
            Some(Value::Object(p)) => p.clone(),
            _ => {
                return bad_request(
                    "InvalidRequestFormat",
                    "Cannot parse the request.",
                    &[(
                        "MissingJsonReferenceId",
                        "Required property 'properties' not found in JSON.",
                    )],
                )
            }
        },
        Ok(_) => {
            return bad_request(
                "InvalidRequestFormat",
                "Cannot parse the request.",
                &[("InvalidJson", "The request body is not a JSON object.")],
            )
        }
        Err(e) => {
            return bad_request(
                "InvalidRequestFormat",
                "Cannot parse the request.",
                &[("InvalidJson", &e.to_string())],
            )
        }
    };
    let mut inner = call.shared.lock();
    let Some(nsg) = inner.nsgs.get(key) else {
        return nsg_not_found(segs[3], segs[7]);
    };
    let (nsg_id, location) = id_and_location(nsg, call.path);
    let existing = find_rule(nsg, segs[9]).cloned();
    let others = rules(nsg).to_vec();
    if inner.locks.contains_key(key) {
        inner.stats.bump_throttled("another_operation");
        return another_operation(call.shared, &nsg_id);
    }
    if let Err(response) = preconditions(call, &mut inner, existing.as_ref()) {
        return response;
    }
    let name = existing
        .as_ref()
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(segs[9])
        .to_string();
    if let Err(r) = check_rule(&nsg_id, &name, &props, &others) {
        let details: Vec<(&str, &str)> = r.details.iter().map(|(c, m)| (*c, m.as_str())).collect();
        return bad_request(r.code, &r.message, &details);
    }
    let etag = inner.rng.etag();
    let mut stored_props = Map::new();
    stored_props.insert("provisioningState".to_string(), json!("Succeeded"));
    for (k, v) in props {
        if k != "provisioningState" {
            stored_props.insert(k, v);
        }
    }
    for plural in [
        "sourcePortRanges",
        "destinationPortRanges",
        "sourceAddressPrefixes",
        "destinationAddressPrefixes",
    ] {
        stored_props.entry(plural).or_insert_with(|| json!([]));
    }
    let rule = json!({
        "name": name,
        "id": format!("{nsg_id}/securityRules/{name}"),
        "etag": etag,
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": stored_props,
    });
    let mut answer = rule.clone();
    answer["properties"]["provisioningState"] = json!("Updating");
    let op_id = start_operation(&mut inner, key, Change::Put(rule), call.lro_fail);
    drop(inner);
    let mut headers = vec![(
        "azure-asyncoperation",
        operation_url(call, segs[1], &location, &op_id, false),
    )];
    headers.extend(
        call.shared
            .clock
            .retry_after_headers(call.shared.config.lro_retry_after.as_secs_f64()),
    );
    json_response(
        if existing.is_some() { 200 } else { 201 },
        &answer,
        &headers,
    )
}

/// The NSG's id (the request path when it has none) and its location, for operation URLs.
fn id_and_location(nsg: &Value, path: &str) -> (String, String) {
    let field = |key: &str, default: &str| {
        nsg.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    (field("id", path), field("location", "westus"))
}

fn delete_rule(call: &Call, key: &str, segs: &[&str]) -> Response {
    let mut inner = call.shared.lock();
    let Some(nsg) = inner.nsgs.get(key) else {
        return empty_response(204, &[]);
    };
    let (nsg_id, location) = id_and_location(nsg, call.path);
    let existing = find_rule(nsg, segs[9]).cloned();
    if inner.locks.contains_key(key) {
        inner.stats.bump_throttled("another_operation");
        return another_operation(call.shared, &nsg_id);
    }
    if let Err(response) = preconditions(call, &mut inner, existing.as_ref()) {
        return response;
    }
    if existing.is_none() {
        return empty_response(204, &[]);
    }
    let op_id = start_operation(
        &mut inner,
        key,
        Change::Delete(segs[9].to_string()),
        call.lro_fail,
    );
    drop(inner);
    let mut headers = Vec::new();
    let polling = call.shared.config.delete_polling;
    if matches!(polling, DeletePolling::AsyncOperation | DeletePolling::Both) {
        headers.push((
            "azure-asyncoperation",
            operation_url(call, segs[1], &location, &op_id, false),
        ));
    }
    if matches!(polling, DeletePolling::Location | DeletePolling::Both) {
        headers.push((
            "location",
            operation_url(call, segs[1], &location, &op_id, true),
        ));
    }
    headers.extend(
        call.shared
            .clock
            .retry_after_headers(call.shared.config.lro_retry_after.as_secs_f64()),
    );
    empty_response(202, &headers)
}

fn start_operation(inner: &mut Inner, key: &str, change: Change, fail: bool) -> String {
    let id = inner.rng.uuid();
    let op = Operation {
        scope_key: key.to_string(),
        change,
        polls: 0,
        fail,
        started: Instant::now(),
        status: OpStatus::InProgress,
    };
    inner.ops.insert(id.clone(), op);
    inner.locks.insert(key.to_string(), id.clone());
    id
}

fn operation_url(
    call: &Call,
    subscription: &str,
    location: &str,
    id: &str,
    result: bool,
) -> String {
    let kind = if result {
        "operationResults"
    } else {
        "operations"
    };
    format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}/{kind}/{id}?api-version={API_VERSION}",
        call.shared.base_url
    )
}

fn poll(call: &Call, id: &str, location_style: bool) -> Response {
    let id = id.to_ascii_lowercase();
    let mut inner = call.shared.lock();
    let Some(op) = inner.ops.get_mut(&id) else {
        return arm_error(404, "NotFound", &format!("Operation {id} not found."));
    };
    // With `lro_duration`, time completes the operation (see `Inner::settle`), not polls.
    if op.status == OpStatus::InProgress && call.shared.config.lro_duration.is_none() {
        if op.polls >= call.shared.config.lro_polls {
            inner.complete(&id);
        } else {
            op.polls += 1;
        }
    }
    inner.stats.lro_polls += 1;
    let status = inner.ops.get(&id).map_or(OpStatus::Failed, |op| op.status);
    drop(inner);
    let retry = call
        .shared
        .clock
        .retry_after_headers(call.shared.config.lro_retry_after.as_secs_f64());
    let failure = error_body(
        "InternalServerError",
        "An error occurred while applying the operation (injected fault).",
        &[],
    );
    match (status, location_style) {
        (OpStatus::InProgress, false) => {
            json_response(200, &json!({"status": "InProgress"}), &retry)
        }
        (OpStatus::Succeeded, false) => json_response(200, &json!({"status": "Succeeded"}), &[]),
        (OpStatus::Failed, false) => json_response(
            200,
            &json!({"status": "Failed", "error": failure["error"].clone()}),
            &[],
        ),
        (OpStatus::InProgress, true) => {
            let mut headers = vec![(
                "location",
                format!(
                    "{}{}?api-version={API_VERSION}",
                    call.shared.base_url, call.path
                ),
            )];
            headers.extend(retry);
            empty_response(202, &headers)
        }
        (OpStatus::Succeeded, true) => empty_response(204, &[]),
        (OpStatus::Failed, true) => json_response(500, &failure, &[]),
    }
}
