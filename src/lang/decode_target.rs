//! Decoding `target` blocks and their `port` blocks: resource ids, destination, port numbers,
//! protocols, allowed sources and maximum durations, the defaults of well-known ports (`ssh`,
//! `rdp`, `winrm`, `winrm-https`) and of `max_duration` (`3h`), and uniqueness of ports within a
//! target.

use std::collections::HashMap;

use hcl_edit::structure::Block;
use jiff::SignedDuration;

use super::decl::{Defaulted, PortDecl, Spanned, TargetDecl};
use super::decode::{fields, get, header, labels, name, nonempty, require, span, Cx};
use super::report::Bad;
use super::{codes, values};
use crate::diag::suggest::did_you_mean;
use crate::model::Protocol;

pub const MIN_MAX_DURATION: SignedDuration = SignedDuration::from_mins(5);
pub const MAX_MAX_DURATION: SignedDuration = SignedDuration::from_hours(24);
/// A port's `max_duration` when none is written: Defender's default.
pub const DEFAULT_MAX_DURATION: SignedDuration = SignedDuration::from_hours(3);

/// Port names that fill in `number` and `protocol` when they are not written (an explicit
/// value always wins). Names are compared exactly: `port "SSH"` is not `ssh`.
pub const WELL_KNOWN_PORTS: [(&str, u16, Protocol); 4] = [
    ("ssh", 22, Protocol::Tcp),
    ("rdp", 3389, Protocol::Tcp),
    ("winrm", 5985, Protocol::Tcp),
    ("winrm-https", 5986, Protocol::Tcp),
];

/// The number and protocol a well-known port name stands for.
pub fn well_known(name: &str) -> Option<(u16, Protocol)> {
    WELL_KNOWN_PORTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, number, protocol)| (number, protocol))
}

pub fn target(cx: &mut Cx, block: &Block) -> Option<TargetDecl> {
    let labels = labels(cx, block, 1, "target \"web-1\" { … }")?;
    let name = name(cx, &labels[0], "target")?;
    let what = format!("target `{}`", name.value);
    let before = cx.errors();
    let (found, port_blocks) = fields(
        cx,
        block,
        &what,
        &["provider", "vm_id", "nsg_id", "destination"],
        Some("port"),
    );
    require(cx, block, &what, &found, &["provider"]);
    let provider = get(&found, "provider").and_then(|a| nonempty(cx, a));
    let nsg_id = get(&found, "nsg_id").and_then(|a| nonempty(cx, a));
    if let Some(id) = &nsg_id {
        resource_id(
            cx,
            id,
            "nsg_id",
            "microsoft.network/networksecuritygroups",
            "Microsoft.Network/networkSecurityGroups",
        );
    }
    let vm_id = get(&found, "vm_id").and_then(|a| nonempty(cx, a));
    if let Some(id) = &vm_id {
        resource_id(
            cx,
            id,
            "vm_id",
            "microsoft.compute/virtualmachines",
            "Microsoft.Compute/virtualMachines",
        );
    }
    let destination = get(&found, "destination")
        .and_then(|a| nonempty(cx, a))
        .and_then(|d| destination(cx, d))
        .unwrap_or_else(|| "*".to_string());

    let mut ports: Vec<PortDecl> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut numbers: HashMap<u16, usize> = HashMap::new();
    for block in &port_blocks {
        let Some(port) = port(cx, block, &name.value) else {
            continue;
        };
        if let Some(&first) = names.get(&port.name.value) {
            let hint = format!(
                "the first is at {}",
                cx.report.position(&ports[first].name.at)
            );
            cx.bad(
                Bad::new(
                    port.name.at.span.clone(),
                    codes::DUPLICATE_NAME,
                    format!("{what} has two ports named `{}`", port.name.value),
                )
                .hint(hint),
            );
            continue;
        }
        if let Some(number) = port.number {
            if let Some(&first) = numbers.get(&number) {
                let hint = format!(
                    "port `{}` at {} has it already; one port with `protocol = \"any\"` covers tcp and udp",
                    ports[first].name.value,
                    cx.report.position(&ports[first].name.at)
                );
                cx.bad(
                    Bad::new(
                        port.name.at.span.clone(),
                        codes::DUPLICATE_PORT_NUMBER,
                        format!("{what} protects port number `{number}` twice"),
                    )
                    .hint(hint),
                );
                continue;
            }
            numbers.insert(number, ports.len());
        }
        names.insert(port.name.value.clone(), ports.len());
        ports.push(port);
    }
    if port_blocks.is_empty() {
        cx.bad(
            Bad::new(
                header(block),
                codes::TARGET_WITHOUT_PORTS,
                format!("{what} protects no ports"),
            )
            .hint("add a `port \"ssh\" { … }` block; without one jit locks nothing down here")
            .warning(),
        );
    }
    Some(TargetDecl {
        at: cx.at(header(block)),
        name,
        provider,
        vm_id,
        nsg_id,
        destination,
        ports,
        ok: cx.errors() == before,
    })
}

/// An ARM resource id of the given type (compared case-insensitively, as ARM does).
pub fn resource_id(cx: &mut Cx, id: &Spanned<String>, attr: &str, kind_lower: &str, kind: &str) {
    let lower = id.value.to_ascii_lowercase();
    let marker = format!("/providers/{kind_lower}/");
    let valid = lower.starts_with("/subscriptions/")
        && lower.find(&marker).is_some_and(|i| {
            let rest = &id.value[i + marker.len()..];
            !rest.is_empty() && !rest.contains('/')
        })
        && !id.value.contains(char::is_whitespace);
    if !valid {
        cx.bad(
            Bad::new(
                id.at.span.clone(),
                codes::INVALID_VALUE,
                format!("`{attr}` is not a {kind} resource id"),
            )
            .hint(format!(
                "write `/subscriptions/<subscription>/resourceGroups/<group>/providers/{kind}/<name>`"
            )),
        );
    }
}

/// `*`, an IP address or a CIDR; CIDRs normalised.
fn destination(cx: &mut Cx, d: Spanned<String>) -> Option<String> {
    let v = d.value.as_str();
    if v == "*" {
        return Some("*".to_string());
    }
    if let Ok(addr) = v.parse::<std::net::IpAddr>() {
        return Some(addr.to_string());
    }
    if let Ok(net) = v.parse::<ipnet::IpNet>() {
        return match values::cidr(v) {
            Ok(net) => Some(net.to_string()),
            Err(bad) => {
                cx.bad(bad.span_to(d.at.span));
                Some(net.trunc().to_string())
            }
        };
    }
    cx.bad(
        Bad::new(
            d.at.span,
            codes::INVALID_VALUE,
            format!("invalid `destination` `{}`", d.value),
        )
        .hint("write `*`, the machine's IP address such as `10.0.1.4`, or a CIDR"),
    );
    None
}

fn port(cx: &mut Cx, block: &Block, target: &str) -> Option<PortDecl> {
    let labels = labels(cx, block, 1, "port \"ssh\" { … }")?;
    let name = name(cx, &labels[0], "port")?;
    let what = format!("port `{}` of target `{target}`", name.value);
    let (found, _) = fields(
        cx,
        block,
        &what,
        &["number", "protocol", "allowed_sources", "max_duration"],
        None,
    );
    let known = well_known(&name.value);
    if known.is_none() && get(&found, "number").is_none() {
        let names = WELL_KNOWN_PORTS
            .iter()
            .map(|(n, number, _)| format!("`{n}` ({number})"))
            .collect::<Vec<_>>()
            .join(", ");
        cx.bad(
            Bad::new(
                header(block),
                codes::MISSING_ATTRIBUTE,
                format!("{what} is missing `number`"),
            )
            .hint(format!(
                "write `number = …`; only the well-known names {names} have a default number"
            )),
        );
    }
    let number = match get(&found, "number") {
        None => known.map(|(n, _)| n),
        Some(attr) => {
            let n = cx.ok(values::integer(&attr.value, "number", &span(attr)));
            n.and_then(|n| {
                port_number(n)
                    .map_err(|bad| cx.bad(bad.span_to(span(attr))))
                    .ok()
            })
        }
    };
    let default_protocol = known.map_or(Protocol::Tcp, |(_, p)| p);
    let protocol = match get(&found, "protocol").and_then(|a| super::decode::string(cx, a)) {
        None => default_protocol,
        Some(p) => match p.value.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "any" => Protocol::Any,
            other => {
                let lower = other.to_ascii_lowercase();
                let hint = match lower.as_str() {
                    "tcp" | "udp" | "any" => {
                        format!("protocols are written in lower case: write `{lower}`")
                    }
                    "*" => "write `any` for every protocol".to_string(),
                    _ => did_you_mean(&lower, ["tcp", "udp", "any"])
                        .unwrap_or_else(|| "`protocol` is `tcp`, `udp` or `any`".to_string()),
                };
                cx.bad(
                    Bad::new(
                        p.at.span,
                        codes::INVALID_PROTOCOL,
                        format!("unknown protocol `{}`", p.value),
                    )
                    .hint(hint),
                );
                default_protocol
            }
        },
    };
    let mut allowed_sources = Vec::new();
    if let Some(attr) = get(&found, "allowed_sources") {
        for item in super::decode::list(cx, attr).unwrap_or_default() {
            let fallback = span(attr);
            let Some(s) = cx.ok(values::string(
                item,
                cx.text,
                "allowed_sources",
                true,
                &fallback,
            )) else {
                continue;
            };
            if s == "*" {
                // Any source, written out: both whole families (see `Port::allowed_sources`).
                allowed_sources.extend(values::any_source());
                continue;
            }
            match values::cidr(s) {
                Ok(net) => allowed_sources.push(net),
                Err(bad) => cx.bad(bad.span_to(values::span_of(item, &fallback))),
            }
        }
    }
    let max_duration = get(&found, "max_duration").and_then(|attr| {
        let s = super::decode::string(cx, attr)?;
        match values::duration(&s.value) {
            Err(message) => {
                cx.bad(
                    Bad::new(s.at.span, codes::INVALID_DURATION, message)
                        .hint(values::duration_hint(&s.value)),
                );
                None
            }
            Ok(d) if !(MIN_MAX_DURATION..=MAX_MAX_DURATION).contains(&d) => {
                cx.bad(
                    Bad::new(
                        s.at.span,
                        codes::MAX_DURATION_RANGE,
                        format!("`max_duration` `{}` is outside 5m–24h", s.value),
                    )
                    .hint("grants last between 5 minutes and 24 hours"),
                );
                None
            }
            Ok(d) => Some(d),
        }
    });
    let defaulted = Defaulted {
        number: get(&found, "number").is_none() && known.is_some(),
        protocol: get(&found, "protocol").is_none(),
        max_duration: get(&found, "max_duration").is_none(),
    };
    let max_duration = if defaulted.max_duration {
        Some(DEFAULT_MAX_DURATION)
    } else {
        max_duration
    };
    Some(PortDecl {
        name,
        number,
        protocol,
        allowed_sources,
        max_duration,
        defaulted,
    })
}

/// A port number, 1–65535.
pub fn port_number(n: i64) -> Result<u16, Bad> {
    match u16::try_from(n) {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err(Bad::new(
            0..0,
            codes::PORT_RANGE,
            format!("port number `{n}` is outside 1–65535"),
        )),
    }
}
