//! Defender for Cloud just-in-time VM access (Microsoft.Security, api-version 2020-01-01):
//! `jitNetworkAccessPolicies` GET/PUT/DELETE, lists by subscription, region, resource group and
//! both, and `POST …/initiate`, behaving as Azure does:
//!
//! - PUT replaces the whole document (no etag, no merge); the answer is the stored document:
//!   the body's `kind` and `properties` plus `provisioningState: "Succeeded"`, `id`, `name`,
//!   `type`, `location`. DELETE answers 200, or 204 when there was nothing.
//! - PUT is validated: ports `number` 1–65535, `protocol` `TCP`/`UDP`/`*`, exactly one of
//!   `allowedSourceAddressPrefix`/`…Prefixes`, `maxRequestAccessDuration` ISO 8601 from 5
//!   minutes to 1 day, no port twice, policy name plus VM name at most 56 characters. Error
//!   codes are the emulator's own (Azure does not document them): `InvalidInputJson`,
//!   `JitPolicyInvalid`.
//! - For every VM of the policy that the emulator holds (see [`super::compute`]), Defender's own
//!   deny rule per port is kept in every NSG that filters the VM (priority 4096 downwards).
//! - Initiate checks each VM and port against the policy (`JitRequestInvalid`): the port must
//!   be in the VM's entry; the source must equal one of the port's allowed prefixes unless the
//!   port allows `*` (a narrower source is refused, as Defender refuses it); `endTimeUtc` must be
//!   after now and at most the port's `maxRequestAccessDuration` away. It then records the
//!   request in `properties.requests[]` (`Initiated`, `UserRequested`, `startTimeUtc` = now,
//!   `requestor`), marks an older initiated request for the same VM and port `Revoked` /
//!   `NewerRequestInitiated`, adds `SecurityCenter-JITRule…` allow rules (priority 100 upwards)
//!   to every NSG of the VM, and answers 202 with the request (port status `Initiating`, as the
//!   official example shows) and no polling URL.
//! - The emulator's wall clock ([`WallClock`]) closes requests: at `endTimeUtc` the allow rules
//!   go and the request's port turns `Revoked` / `Expired`.

use std::collections::BTreeMap;

use axum::response::Response;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use super::arm::Call;
use super::clock::Clock;
use super::compute::nsgs_of_vm;
use super::errors::{arm_error, empty_response, error_body, json_response};
use super::state::{rules, Inner};

/// Security's api-version for JIT policies.
pub const SECURITY_API_VERSION: &str = "2020-01-01";

const POLICY_TYPE: &str = "Microsoft.Security/locations/jitNetworkAccessPolicies";
/// Defender's limit on policy name + VM name.
const NAME_LIMIT: usize = 56;

/// The clock Defender closes requests by: real time × the emulator's `time_scale` from the
/// moment it started, or frozen at a set time; both moved forward by [`WallClock::advance`].
#[derive(Clone, Copy, Debug)]
pub enum WallClock {
    /// The wall time at emulated second 0.
    Running(Timestamp),
    Frozen(Timestamp),
}

impl WallClock {
    pub fn now(&self, clock: &Clock) -> Timestamp {
        match self {
            WallClock::Running(origin) => origin
                .checked_add(SignedDuration::from_secs_f64(clock.now()))
                .unwrap_or(*origin),
            WallClock::Frozen(at) => *at,
        }
    }

    pub fn advance(&mut self, by: SignedDuration) {
        let t = match self {
            WallClock::Running(t) | WallClock::Frozen(t) => t,
        };
        *t = t.checked_add(by).unwrap_or(*t);
    }
}

/// A Defender-made allow rule that is open until `end`.
#[derive(Clone, Debug)]
pub struct Opened {
    pub nsg_key: String,
    pub rule: String,
    pub end: Timestamp,
    pub policy_key: String,
    /// `startTimeUtc` of the request that opened it: how it is found again in `requests[]`.
    pub start: String,
    pub vm_key: String,
    pub port: u64,
}

/// A Defender-made deny rule, kept while its policy lists the VM and port.
#[derive(Clone, Debug)]
pub struct Denied {
    pub policy_key: String,
    pub nsg_key: String,
    pub rule: String,
}

/// Defender's part of the emulator's state.
pub struct JitState {
    /// Policy documents by lowercased id.
    pub policies: BTreeMap<String, Value>,
    pub clock: WallClock,
    /// `requestor` of initiated requests.
    pub requestor: String,
    pub opened: Vec<Opened>,
    pub denied: Vec<Denied>,
}

impl JitState {
    pub fn new() -> JitState {
        JitState {
            policies: BTreeMap::new(),
            clock: WallClock::Running(Timestamp::now()),
            requestor: "jit-emulator@example.com".to_string(),
            opened: Vec::new(),
            denied: Vec::new(),
        }
    }
}

impl Default for JitState {
    fn default() -> Self {
        JitState::new()
    }
}

/// The path's segments, percent-decoded and lowercased.
pub fn lower_segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .to_ascii_lowercase()
        })
        .collect()
}

/// Seeds (or replaces) a policy document as given (its `id` names it).
pub fn add_policy(inner: &mut Inner, body: Value, clock: &Clock) -> Result<String, String> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or("policy has no string `id`")?;
    let lower = lower_segments(id);
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    if !matches!(
        l.as_slice(),
        [
            "subscriptions",
            _,
            "resourcegroups",
            _,
            "providers",
            "microsoft.security",
            "locations",
            _,
            "jitnetworkaccesspolicies",
            _
        ]
    ) {
        return Err(format!("`{id}` is not a jitNetworkAccessPolicies id"));
    }
    let key = id.to_ascii_lowercase();
    inner.defender.policies.insert(key.clone(), body);
    sync_deny_rules(inner, &key);
    expire(inner, clock);
    Ok(key)
}

/// Answers Microsoft.Security JIT calls; `None` for any other request.
pub fn dispatch(call: &Call) -> Option<Response> {
    let lower = lower_segments(call.path);
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let decoded: Vec<String> = call
        .path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let m = call.method;
    let list = |prefix: String, location: Option<&str>| {
        Some(if m == "GET" {
            list_policies(call, &prefix, location)
        } else {
            method_not_allowed(m)
        })
    };
    match l.as_slice() {
        ["subscriptions", s, "providers", "microsoft.security", "jitnetworkaccesspolicies"] => {
            list(format!("/subscriptions/{s}/"), None)
        }
        ["subscriptions", s, "providers", "microsoft.security", "locations", loc, "jitnetworkaccesspolicies"] => {
            list(format!("/subscriptions/{s}/"), Some(loc))
        }
        ["subscriptions", s, "resourcegroups", rg, "providers", "microsoft.security", "jitnetworkaccesspolicies"] => {
            list(format!("/subscriptions/{s}/resourcegroups/{rg}/"), None)
        }
        ["subscriptions", s, "resourcegroups", rg, "providers", "microsoft.security", "locations", loc, "jitnetworkaccesspolicies"] => {
            list(
                format!("/subscriptions/{s}/resourcegroups/{rg}/"),
                Some(loc),
            )
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.security", "locations", _, "jitnetworkaccesspolicies", _] =>
        {
            let key = format!("/{}", lower.join("/"));
            Some(match m {
                "GET" => get_policy(call, &key, &segs),
                "PUT" => put_policy(call, &key, &segs),
                "DELETE" => delete_policy(call, &key),
                _ => method_not_allowed(m),
            })
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.security", "locations", _, "jitnetworkaccesspolicies", _, "initiate"] =>
        {
            let key = format!("/{}", lower[..10].join("/"));
            Some(if m == "POST" {
                initiate(call, &key, &segs)
            } else {
                method_not_allowed(m)
            })
        }
        _ => None,
    }
}

fn method_not_allowed(method: &str) -> Response {
    arm_error(
        405,
        "MethodNotAllowed",
        &format!("The requested method '{method}' is not allowed."),
    )
}

fn bad_request(code: &str, message: &str) -> Response {
    json_response(400, &error_body(code, message, &[]), &[])
}

fn policy_not_found(segs: &[&str]) -> Response {
    arm_error(
        404,
        "ResourceNotFound",
        &format!(
            "The Resource 'Microsoft.Security/locations/{}/jitNetworkAccessPolicies/{}' under resource group '{}' was not found.",
            segs[7], segs[9], segs[3]
        ),
    )
}

fn list_policies(call: &Call, prefix: &str, location: Option<&str>) -> Response {
    let items: Vec<Value> = {
        let inner = call.shared.lock();
        inner
            .defender
            .policies
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| location.is_none_or(|loc| k.contains(&format!("/locations/{loc}/"))))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let size = call.shared.config.page_size.max(1);
    let skip: usize = call
        .query
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        .min(items.len());
    let end = (skip + size).min(items.len());
    let mut body = json!({"value": items[skip..end].to_vec()});
    if end < items.len() {
        body["nextLink"] = json!(format!(
            "{}{}?api-version={SECURITY_API_VERSION}&$skiptoken={end}",
            call.shared.base_url, call.path
        ));
    }
    json_response(200, &body, &[])
}

fn get_policy(call: &Call, key: &str, segs: &[&str]) -> Response {
    let inner = call.shared.lock();
    match inner.defender.policies.get(key) {
        Some(policy) => json_response(200, policy, &[]),
        None => policy_not_found(segs),
    }
}

fn delete_policy(call: &Call, key: &str) -> Response {
    let mut inner = call.shared.lock();
    if inner.defender.policies.remove(key).is_none() {
        return empty_response(204, &[]);
    }
    sync_deny_rules(&mut inner, key);
    empty_response(200, &[])
}

fn vm_name(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

fn is_vm_id(id: &str) -> bool {
    let lower = lower_segments(id);
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    id.starts_with('/')
        && matches!(
            l.as_slice(),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.compute",
                "virtualmachines",
                _
            ]
        )
}

/// The port's allowed sources: the singular field or the plural one, never both.
fn allowed_sources(port: &Map<String, Value>) -> Result<Vec<String>, String> {
    let one = port
        .get("allowedSourceAddressPrefix")
        .filter(|v| !v.is_null());
    let many = port
        .get("allowedSourceAddressPrefixes")
        .filter(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    match (one, many) {
        (Some(Value::String(s)), None) if !s.is_empty() => Ok(vec![s.clone()]),
        (None, Some(Value::Array(items))) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| format!("allowedSourceAddressPrefixes holds {i}"))
            })
            .collect(),
        (Some(_), Some(_)) => Err(
            "allowedSourceAddressPrefix and allowedSourceAddressPrefixes are mutually exclusive"
                .to_string(),
        ),
        (None, None) => Err(
            "one of allowedSourceAddressPrefix and allowedSourceAddressPrefixes is required"
                .to_string(),
        ),
        (Some(v), None) | (None, Some(v)) => Err(format!("invalid source address prefix {v}")),
    }
}

fn check_policy(name: &str, props: &Map<String, Value>) -> Result<(), String> {
    let vms = props
        .get("virtualMachines")
        .and_then(Value::as_array)
        .ok_or("properties.virtualMachines is required and must be an array")?;
    let mut seen_vms: Vec<String> = Vec::new();
    for (i, vm) in vms.iter().enumerate() {
        let at = format!("properties.virtualMachines[{i}]");
        let id = vm
            .get("id")
            .and_then(Value::as_str)
            .ok_or(format!("{at}.id is required"))?;
        if !is_vm_id(id) {
            return Err(format!(
                "{at}.id '{id}' is not a virtual machine resource id"
            ));
        }
        if seen_vms.contains(&id.to_ascii_lowercase()) {
            return Err(format!("{at}: virtual machine '{id}' is listed twice"));
        }
        seen_vms.push(id.to_ascii_lowercase());
        if name.len() + vm_name(id).len() > NAME_LIMIT {
            return Err(format!(
                "{at}: the policy name '{name}' and the virtual machine name '{}' are longer than {NAME_LIMIT} characters together",
                vm_name(id)
            ));
        }
        let ports = vm
            .get("ports")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or(format!("{at}.ports is required and must not be empty"))?;
        let mut numbers = Vec::new();
        for (j, port) in ports.iter().enumerate() {
            let at = format!("{at}.ports[{j}]");
            let port = port.as_object().ok_or(format!("{at} is not an object"))?;
            let number = port
                .get("number")
                .and_then(Value::as_u64)
                .filter(|n| (1..=65535).contains(n))
                .ok_or(format!("{at}.number must be a port number from 1 to 65535"))?;
            if numbers.contains(&number) {
                return Err(format!("{at}: port {number} is listed twice"));
            }
            numbers.push(number);
            match port.get("protocol").and_then(Value::as_str) {
                Some("TCP" | "UDP" | "*") => {}
                other => {
                    return Err(format!(
                        "{at}.protocol must be 'TCP', 'UDP' or '*', not {}",
                        other.map_or("nothing".to_string(), |o| format!("'{o}'"))
                    ))
                }
            }
            allowed_sources(port).map_err(|e| format!("{at}: {e}"))?;
            let max = port
                .get("maxRequestAccessDuration")
                .and_then(Value::as_str)
                .ok_or(format!("{at}.maxRequestAccessDuration is required"))?;
            let parsed = parse_duration(max).ok_or(format!(
                "{at}.maxRequestAccessDuration '{max}' is not an ISO 8601 duration"
            ))?;
            if parsed < SignedDuration::from_mins(5) || parsed > SignedDuration::from_hours(24) {
                return Err(format!(
                    "{at}.maxRequestAccessDuration '{max}' must be between 5 minutes and 1 day"
                ));
            }
        }
    }
    Ok(())
}

fn parse_duration(text: &str) -> Option<SignedDuration> {
    if !text.starts_with('P') {
        return None;
    }
    text.parse::<SignedDuration>().ok().or_else(|| {
        // `P1D`: a day is 24 hours here.
        let days = text
            .strip_prefix('P')?
            .strip_suffix('D')?
            .parse::<i64>()
            .ok()?;
        Some(SignedDuration::from_hours(days.checked_mul(24)?))
    })
}

fn put_policy(call: &Call, key: &str, segs: &[&str]) -> Response {
    let body: Value = match serde_json::from_slice(call.body) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(_) => return bad_request("InvalidInputJson", "The request body is not a JSON object."),
        Err(e) => {
            return bad_request(
                "InvalidInputJson",
                &format!("Cannot parse the request: {e}"),
            )
        }
    };
    let Some(props) = body.get("properties").and_then(Value::as_object) else {
        return bad_request(
            "InvalidInputJson",
            "Required property 'properties' not found.",
        );
    };
    if let Err(why) = check_policy(segs[9], props) {
        return bad_request("JitPolicyInvalid", &why);
    }
    let mut stored_props = props.clone();
    stored_props.insert("provisioningState".to_string(), json!("Succeeded"));
    let document = json!({
        "kind": body.get("kind").cloned().unwrap_or(json!("Basic")),
        "properties": stored_props,
        "id": format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Security/locations/{}/jitNetworkAccessPolicies/{}",
            segs[1], segs[3], segs[7], segs[9]
        ),
        "name": segs[9],
        "type": POLICY_TYPE,
        "location": segs[7],
    });
    let mut inner = call.shared.lock();
    inner
        .defender
        .policies
        .insert(key.to_string(), document.clone());
    sync_deny_rules(&mut inner, key);
    json_response(200, &document, &[])
}

/// The policy's VM entry for `vm_id` (case-insensitive).
fn policy_vm<'a>(policy: &'a Value, vm_id: &str) -> Option<&'a Value> {
    policy
        .pointer("/properties/virtualMachines")
        .and_then(Value::as_array)?
        .iter()
        .find(|vm| {
            vm.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(vm_id))
        })
}

/// `a` and `b` name the same network (`10.0.0.1` is `10.0.0.1/32`).
fn same_prefix(a: &str, b: &str) -> bool {
    let net = |s: &str| {
        s.parse::<ipnet::IpNet>()
            .ok()
            .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
    };
    match (net(a), net(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// One port of an initiate request, checked.
struct Wanted {
    vm_id: String,
    number: u64,
    protocol: String,
    sources: Vec<String>,
    end: Timestamp,
    /// The port as the request wrote it, for the answer and `requests[]`.
    echo: Map<String, Value>,
}

fn check_initiate(policy: &Value, body: &Value, now: Timestamp) -> Result<Vec<Wanted>, String> {
    let vms = body
        .get("virtualMachines")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or("virtualMachines is required and must not be empty")?;
    let mut wanted = Vec::new();
    for (i, vm) in vms.iter().enumerate() {
        let at = format!("virtualMachines[{i}]");
        let id = vm
            .get("id")
            .and_then(Value::as_str)
            .ok_or(format!("{at}.id is required"))?;
        let entry = policy_vm(policy, id).ok_or(format!(
            "virtual machine '{id}' is not in the just-in-time policy"
        ))?;
        let ports = vm
            .get("ports")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or(format!("{at}.ports is required and must not be empty"))?;
        for (j, port) in ports.iter().enumerate() {
            let at = format!("{at}.ports[{j}]");
            let port = port.as_object().ok_or(format!("{at} is not an object"))?;
            let number = port
                .get("number")
                .and_then(Value::as_u64)
                .ok_or(format!("{at}.number is required"))?;
            let rule = entry
                .get("ports")
                .and_then(Value::as_array)
                .and_then(|ps| {
                    ps.iter()
                        .find(|p| p.get("number").and_then(Value::as_u64) == Some(number))
                })
                .and_then(Value::as_object)
                .ok_or(format!(
                    "port {number} of virtual machine '{id}' is not in the just-in-time policy"
                ))?;
            let end_text = port
                .get("endTimeUtc")
                .and_then(Value::as_str)
                .ok_or(format!("{at}.endTimeUtc is required"))?;
            let end: Timestamp = end_text
                .parse()
                .map_err(|e| format!("{at}.endTimeUtc '{end_text}' is not a UTC time: {e}"))?;
            if end <= now {
                return Err(format!("{at}.endTimeUtc '{end_text}' is not in the future"));
            }
            let max = rule
                .get("maxRequestAccessDuration")
                .and_then(Value::as_str)
                .and_then(parse_duration)
                .unwrap_or(SignedDuration::from_hours(3));
            if end.duration_since(now) > max {
                return Err(format!(
                    "{at}.endTimeUtc '{end_text}' is more than the port's maxRequestAccessDuration away"
                ));
            }
            let sources = allowed_sources(port).map_err(|e| format!("{at}: {e}"))?;
            let allowed = allowed_sources(rule).unwrap_or_default();
            if !allowed.iter().any(|a| a == "*") {
                for source in &sources {
                    if !allowed.iter().any(|a| same_prefix(a, source)) {
                        return Err(format!(
                            "{at}: source '{source}' is not one of the port's allowed source address prefixes ({})",
                            allowed.join(", ")
                        ));
                    }
                }
            }
            wanted.push(Wanted {
                vm_id: id.to_string(),
                number,
                protocol: rule
                    .get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_string(),
                sources,
                end,
                echo: port.clone(),
            });
        }
    }
    Ok(wanted)
}

fn initiate(call: &Call, key: &str, segs: &[&str]) -> Response {
    let body: Value = match serde_json::from_slice(call.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad_request("InvalidInputJson", "The request body is not a JSON object."),
        Err(e) => {
            return bad_request(
                "InvalidInputJson",
                &format!("Cannot parse the request: {e}"),
            )
        }
    };
    let mut inner = call.shared.lock();
    expire(&mut inner, &call.shared.clock);
    let now = inner.defender.clock.now(&call.shared.clock);
    let Some(policy) = inner.defender.policies.get(key).cloned() else {
        return policy_not_found(segs);
    };
    let wanted = match check_initiate(&policy, &body, now) {
        Ok(w) => w,
        Err(why) => return bad_request("JitRequestInvalid", &why),
    };
    // Newer requests replace older ones on the same VM and port.
    let superseded: Vec<(String, u64)> = wanted
        .iter()
        .map(|w| (w.vm_id.to_ascii_lowercase(), w.number))
        .collect();
    close(&mut inner, key, &superseded, "NewerRequestInitiated");
    let start = now.to_string();
    let mut vms: Vec<(String, Vec<Value>)> = Vec::new();
    for w in &wanted {
        let mut port = w.echo.clone();
        port.insert("status".to_string(), json!("Initiated"));
        port.insert("statusReason".to_string(), json!("UserRequested"));
        match vms.iter_mut().find(|(id, _)| *id == w.vm_id) {
            Some((_, ports)) => ports.push(Value::Object(port)),
            None => vms.push((w.vm_id.clone(), vec![Value::Object(port)])),
        }
        open_rules(&mut inner, key, &start, w);
    }
    let mut request = json!({
        "virtualMachines": vms
            .into_iter()
            .map(|(id, ports)| json!({"id": id, "ports": ports}))
            .collect::<Vec<_>>(),
        "startTimeUtc": start,
        "requestor": inner.defender.requestor.clone(),
    });
    if let Some(j) = body.get("justification").filter(|j| !j.is_null()) {
        request["justification"] = j.clone();
    }
    if let Some(policy) = inner.defender.policies.get_mut(key) {
        if !policy["properties"]["requests"].is_array() {
            policy["properties"]["requests"] = json!([]);
        }
        if let Some(list) = policy["properties"]["requests"].as_array_mut() {
            list.push(request.clone());
        }
    }
    for vm in request["virtualMachines"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for port in vm["ports"].as_array_mut().into_iter().flatten() {
            port["status"] = json!("Initiating");
        }
    }
    json_response(202, &request, &[])
}

/// A rule name Defender's style: `SecurityCenter-JITRule_<hash>_<suffix>`.
fn rule_name(parts: &[&str], suffix: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in parts.iter().flat_map(|p| p.bytes().chain([0u8])) {
        h = (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193);
    }
    format!("SecurityCenter-JITRule_{h:08X}_{suffix}")
}

fn arm_protocol(p: &str) -> &'static str {
    match p {
        "TCP" => "Tcp",
        "UDP" => "Udp",
        _ => "*",
    }
}

/// A free inbound priority of `nsg`, from `from` stepping by `step`.
fn free_priority(nsg: &Value, from: i64, step: i64) -> i64 {
    let taken: Vec<i64> = rules(nsg)
        .iter()
        .filter(|r| {
            r.pointer("/properties/direction")
                .and_then(Value::as_str)
                .is_none_or(|d| d.eq_ignore_ascii_case("Inbound"))
        })
        .filter_map(|r| r.pointer("/properties/priority").and_then(Value::as_i64))
        .collect();
    let mut p = from;
    while taken.contains(&p) && (100..=4096).contains(&(p + step)) {
        p += step;
    }
    p
}

#[allow(clippy::too_many_arguments)]
fn rule_body(
    nsg_id: &str,
    name: &str,
    access: &str,
    protocol: &str,
    port: u64,
    sources: &[String],
    priority: i64,
    description: &str,
) -> Value {
    let (one, many) = match sources {
        [one] => (json!(one), json!([])),
        many => (Value::Null, json!(many)),
    };
    let mut props = json!({
        "provisioningState": "Succeeded",
        "description": description,
        "protocol": arm_protocol(protocol),
        "sourcePortRange": "*",
        "destinationPortRange": port.to_string(),
        "destinationAddressPrefix": "*",
        "access": access,
        "priority": priority,
        "direction": "Inbound",
        "sourcePortRanges": [],
        "destinationPortRanges": [],
        "sourceAddressPrefixes": many,
        "destinationAddressPrefixes": [],
    });
    if !one.is_null() {
        props["sourceAddressPrefix"] = one;
    }
    json!({
        "name": name,
        "id": format!("{nsg_id}/securityRules/{name}"),
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": props,
    })
}

/// Writes `rule` into NSG `nsg_key` (replacing a rule of its name) or, with `None`, removes
/// the rule `name`; fresh etags as any other write.
fn put_or_remove(inner: &mut Inner, nsg_key: &str, name: &str, rule: Option<Value>) {
    super::edit_nsg_in(inner, nsg_key, |nsg| {
        if !nsg["properties"]["securityRules"].is_array() {
            nsg["properties"]["securityRules"] = json!([]);
        }
        if let Some(list) = nsg["properties"]["securityRules"].as_array_mut() {
            list.retain(|r| {
                !r.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            if let Some(rule) = rule {
                list.push(rule);
            }
        }
    });
}

/// Defender's description of its rules.
fn description(policy_key: &str, vm_id: &str) -> String {
    format!(
        "MDC JIT Network Access rule for policy '{}' of VM '{}'.",
        vm_name(policy_key),
        vm_name(vm_id)
    )
}

fn nsg_id_of(inner: &Inner, nsg_key: &str) -> String {
    inner
        .nsgs
        .get(nsg_key)
        .and_then(|n| n.get("id"))
        .and_then(Value::as_str)
        .unwrap_or(nsg_key)
        .to_string()
}

fn open_rules(inner: &mut Inner, policy_key: &str, start: &str, w: &Wanted) {
    let vm_key = w.vm_id.to_ascii_lowercase();
    for nsg_key in nsgs_of_vm(inner, &w.vm_id) {
        let name = rule_name(
            &[policy_key, &vm_key, &w.number.to_string(), start],
            "Allow",
        );
        let Some(nsg) = inner.nsgs.get(&nsg_key) else {
            continue;
        };
        let priority = free_priority(nsg, 100, 1);
        let nsg_id = nsg_id_of(inner, &nsg_key);
        let rule = rule_body(
            &nsg_id,
            &name,
            "Allow",
            &w.protocol,
            w.number,
            &w.sources,
            priority,
            &description(policy_key, &w.vm_id),
        );
        put_or_remove(inner, &nsg_key, &name, Some(rule));
        inner.defender.opened.push(Opened {
            nsg_key,
            rule: name,
            end: w.end,
            policy_key: policy_key.to_string(),
            start: start.to_string(),
            vm_key: vm_key.clone(),
            port: w.number,
        });
    }
}

/// Closes the open rules of `policy_key` for these (VM, port) pairs, marking their requests
/// `Revoked` with `reason`.
fn close(inner: &mut Inner, policy_key: &str, which: &[(String, u64)], reason: &str) {
    let (gone, kept): (Vec<Opened>, Vec<Opened>) = std::mem::take(&mut inner.defender.opened)
        .into_iter()
        .partition(|o| o.policy_key == policy_key && which.contains(&(o.vm_key.clone(), o.port)));
    inner.defender.opened = kept;
    for o in &gone {
        put_or_remove(inner, &o.nsg_key, &o.rule, None);
    }
    // Every still-initiated request port for these pairs, whether or not it opened a rule.
    if let Some(policy) = inner.defender.policies.get_mut(policy_key) {
        revoke_in_document(policy, |vm, port, _| which.contains(&(vm, port)), reason);
    }
}

/// Sets `status: Revoked`, `statusReason: reason` on each `Initiated` request port for which
/// `pick(vm key, port number, request start)` holds.
fn revoke_in_document(policy: &mut Value, pick: impl Fn(String, u64, &str) -> bool, reason: &str) {
    let Some(requests) = policy
        .pointer_mut("/properties/requests")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for request in requests {
        let start = request
            .get("startTimeUtc")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for vm in request
            .get_mut("virtualMachines")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let vm_key = vm
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            for port in vm
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let initiated = port.get("status").and_then(Value::as_str) == Some("Initiated");
                let number = port.get("number").and_then(Value::as_u64).unwrap_or(0);
                if initiated && pick(vm_key.clone(), number, &start) {
                    port["status"] = json!("Revoked");
                    port["statusReason"] = json!(reason);
                }
            }
        }
    }
}

/// Closes every request whose `endTimeUtc` has come by the wall clock: its rules go, its port
/// turns `Revoked` / `Expired`.
pub fn expire(inner: &mut Inner, clock: &Clock) {
    let now = inner.defender.clock.now(clock);
    let (gone, kept): (Vec<Opened>, Vec<Opened>) = std::mem::take(&mut inner.defender.opened)
        .into_iter()
        .partition(|o| o.end <= now);
    inner.defender.opened = kept;
    for o in &gone {
        put_or_remove(inner, &o.nsg_key, &o.rule, None);
    }
    for policy in inner.defender.policies.values_mut() {
        let has_requests = policy
            .pointer("/properties/requests")
            .is_some_and(Value::is_array);
        if !has_requests {
            continue;
        }
        let Some(requests) = policy
            .pointer_mut("/properties/requests")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for request in requests {
            for vm in request
                .get_mut("virtualMachines")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                for port in vm
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    let initiated = port.get("status").and_then(Value::as_str) == Some("Initiated");
                    let ended = port
                        .get("endTimeUtc")
                        .and_then(Value::as_str)
                        .and_then(|e| e.parse::<Timestamp>().ok())
                        .is_some_and(|end| end <= now);
                    if initiated && ended {
                        port["status"] = json!("Revoked");
                        port["statusReason"] = json!("Expired");
                    }
                }
            }
        }
    }
}

/// Keeps Defender's deny rule for each port of each VM of policy `policy_key` in every NSG of
/// the VM, and removes the deny rules of VMs and ports the policy no longer lists.
fn sync_deny_rules(inner: &mut Inner, policy_key: &str) {
    let mut wanted: Vec<(String, String, Value)> = Vec::new();
    if let Some(policy) = inner.defender.policies.get(policy_key) {
        for vm in policy
            .pointer("/properties/virtualMachines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(vm_id) = vm.get("id").and_then(Value::as_str) else {
                continue;
            };
            for port in vm
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(number) = port.get("number").and_then(Value::as_u64) else {
                    continue;
                };
                let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("*");
                let name = rule_name(
                    &[policy_key, &vm_id.to_ascii_lowercase(), &number.to_string()],
                    "Deny",
                );
                for nsg_key in nsgs_of_vm(inner, vm_id) {
                    let body = json!({"protocol": protocol, "number": number, "vm": vm_id});
                    wanted.push((nsg_key, name.clone(), body));
                }
            }
        }
    }
    // Remove this policy's deny rules that are no longer wanted.
    let (stale, kept): (Vec<Denied>, Vec<Denied>) = std::mem::take(&mut inner.defender.denied)
        .into_iter()
        .partition(|d| {
            d.policy_key == policy_key
                && !wanted
                    .iter()
                    .any(|(k, n, _)| *k == d.nsg_key && n.eq_ignore_ascii_case(&d.rule))
        });
    inner.defender.denied = kept;
    for d in stale {
        put_or_remove(inner, &d.nsg_key, &d.rule, None);
    }
    for (nsg_key, name, port) in wanted {
        let Some(nsg) = inner.nsgs.get(&nsg_key) else {
            continue;
        };
        if super::state::find_rule(nsg, &name).is_some() {
            continue;
        }
        inner.defender.denied.push(Denied {
            policy_key: policy_key.to_string(),
            nsg_key: nsg_key.clone(),
            rule: name.clone(),
        });
        let Some(nsg) = inner.nsgs.get(&nsg_key) else {
            continue;
        };
        let priority = free_priority(nsg, 4096, -1);
        let nsg_id = nsg_id_of(inner, &nsg_key);
        let rule = rule_body(
            &nsg_id,
            &name,
            "Deny",
            port["protocol"].as_str().unwrap_or("*"),
            port["number"].as_u64().unwrap_or(0),
            &["*".to_string()],
            priority,
            &description(policy_key, port["vm"].as_str().unwrap_or_default()),
        );
        put_or_remove(inner, &nsg_key, &name, Some(rule));
    }
}
