//! Values: reading literal HCL expressions (strings, whole numbers, lists) with precise errors,
//! and parsing the jit value kinds inside strings — durations (`3h`, `90m`, ISO 8601 `PT3H`),
//! CIDRs (IPv4 and IPv6, normalised) and RFC 3339 times.

use std::ops::Range;

use hcl_edit::expr::{Array, Expression, UnaryOperator};
use hcl_edit::Span;
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};

use super::codes;
use super::report::Bad;

/// How an expression reads in a message: "a string", "a number", ….
pub fn kind(e: &Expression) -> &'static str {
    match e {
        Expression::Null(_) => "null",
        Expression::Bool(_) => "a bool",
        Expression::Number(_) => "a number",
        Expression::String(_) => "a string",
        Expression::Array(_) => "a list",
        Expression::Object(_) => "an object",
        Expression::StringTemplate(_) => "a string template",
        Expression::HeredocTemplate(_) => "a heredoc",
        Expression::UnaryOp(u) if matches!(u.expr, Expression::Number(_)) => "a number",
        _ => "an expression",
    }
}

/// The byte span of an expression, or `fallback` when the parser gave none.
pub fn span_of(e: &Expression, fallback: &Range<usize>) -> Range<usize> {
    e.span().unwrap_or_else(|| fallback.clone())
}

/// The source text of an expression written bare where a quoted string belongs (`10.0.0.0/8`,
/// `tcp`, `3h`): letters, digits and `:./+_-` only.
pub fn bare_literal<'t>(e: &Expression, text: &'t str) -> Option<&'t str> {
    let span = e.span()?;
    let raw = text.get(span)?.trim();
    let plain = !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":./+_-".contains(c));
    (plain
        && !matches!(
            e,
            Expression::Number(_) | Expression::Bool(_) | Expression::Null(_)
        ))
    .then_some(raw)
}

/// `CIDR must be a quoted string` / "`x` must be a quoted string", for a bare value.
pub fn unquoted(raw: &str, span: Range<usize>, cidr: bool) -> Bad {
    let message = if cidr || (raw.contains('/') && raw.contains(['.', ':'])) {
        "CIDR must be a quoted string".to_string()
    } else {
        format!("`{raw}` must be a quoted string")
    };
    Bad::new(span, codes::UNQUOTED_VALUE, message).hint(format!("write \"{raw}\""))
}

/// A literal string. `name` is the attribute, for messages; `cidr` words the bare-value error.
pub fn string<'e>(
    e: &'e Expression,
    text: &str,
    name: &str,
    cidr: bool,
    fallback: &Range<usize>,
) -> Result<&'e str, Bad> {
    let span = span_of(e, fallback);
    match e {
        Expression::String(s) => Ok(s.as_str()),
        Expression::StringTemplate(_) => Err(Bad::new(
            span,
            codes::UNSUPPORTED_EXPRESSION,
            format!("`{name}` cannot use template interpolation"),
        )
        .hint("jit values are literals; write `$${` for a literal `${`")),
        Expression::HeredocTemplate(_) => Err(Bad::new(
            span,
            codes::UNSUPPORTED_EXPRESSION,
            format!("`{name}` cannot be a heredoc"),
        )
        .hint("write a quoted string on one line")),
        _ => {
            if let Some(raw) = bare_literal(e, text) {
                return Err(unquoted(raw, span, cidr));
            }
            let found = kind(e);
            let bad = Bad::new(
                span.clone(),
                if found == "an expression" {
                    codes::UNSUPPORTED_EXPRESSION
                } else {
                    codes::WRONG_TYPE
                },
                format!("`{name}` must be a string, found {found}"),
            );
            Err(match e {
                Expression::Number(_) => bad.hint(format!(
                    "write \"{}\"",
                    text.get(span).unwrap_or_default().trim()
                )),
                _ => bad,
            })
        }
    }
}

/// A non-empty literal string.
pub fn nonempty_string<'e>(
    e: &'e Expression,
    text: &str,
    name: &str,
    fallback: &Range<usize>,
) -> Result<&'e str, Bad> {
    let s = string(e, text, name, false, fallback)?;
    if s.trim().is_empty() {
        return Err(Bad::new(
            span_of(e, fallback),
            codes::INVALID_VALUE,
            format!("`{name}` must not be empty"),
        ));
    }
    Ok(s)
}

/// A whole number (negative numbers included, so range errors can name them).
pub fn integer(e: &Expression, name: &str, fallback: &Range<usize>) -> Result<i64, Bad> {
    let span = span_of(e, fallback);
    let number = match e {
        Expression::Number(n) => Some(**n),
        Expression::UnaryOp(u) if u.operator.value() == &UnaryOperator::Neg => match &u.expr {
            Expression::Number(n) => n
                .as_i64()
                .and_then(|v| v.checked_neg())
                .map(hcl_edit::Number::from)
                .or_else(|| n.as_f64().and_then(|f| hcl_edit::Number::from_f64(-f))),
            _ => None,
        },
        _ => None,
    };
    match number {
        Some(n) => match n.as_i64() {
            Some(v) if !n.is_f64() => Ok(v),
            _ if n.is_u64() => Err(Bad::new(
                span,
                codes::WRONG_TYPE,
                format!("`{name}` is too large"),
            )),
            _ => Err(Bad::new(
                span,
                codes::WRONG_TYPE,
                format!("`{name}` must be a whole number, found `{n}`"),
            )),
        },
        None => {
            let bad = Bad::new(
                span,
                codes::WRONG_TYPE,
                format!("`{name}` must be a number, found {}", kind(e)),
            );
            Err(match e {
                Expression::String(s) if s.trim().parse::<i64>().is_ok() => {
                    bad.hint(format!("write {} without quotes", s.trim()))
                }
                _ => bad,
            })
        }
    }
}

/// A list literal.
pub fn list<'e>(e: &'e Expression, name: &str, fallback: &Range<usize>) -> Result<&'e Array, Bad> {
    match e {
        Expression::Array(a) => Ok(a),
        _ => Err(Bad::new(
            span_of(e, fallback),
            codes::WRONG_TYPE,
            format!("`{name}` must be a list, found {}", kind(e)),
        )
        .hint(format!("write `{name} = [ … ]`"))),
    }
}

/// A duration: `3h`, `90m`, `1h30m` or ISO 8601 `PT3H`.
pub fn duration(s: &str) -> Result<SignedDuration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".to_string());
    }
    t.parse::<SignedDuration>()
        .map_err(|_| format!("invalid duration `{s}`"))
}

pub const DURATION_HINT: &str = "write a duration such as `3h`, `90m`, `1h30m` or `PT3H`";

/// A CIDR such as `198.51.100.0/24` or `2001:db8::/48`, or a single address (a /32 or /128),
/// with host bits cleared.
pub fn cidr(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(addr) = t.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err(format!("invalid CIDR `{s}`"))
}

pub const CIDR_HINT: &str =
    "write an IPv4 or IPv6 network such as `198.51.100.0/24` or `2001:db8::/48`";

/// An RFC 3339 time with a UTC offset, such as `2026-11-25T14:00:00Z`.
pub fn time(s: &str) -> Result<Timestamp, Bad> {
    let t = s.trim();
    match t.parse::<Timestamp>() {
        Ok(ts) => Ok(ts),
        Err(_) => {
            let message = if t.parse::<jiff::civil::DateTime>().is_ok() {
                format!("time `{s}` has no UTC offset")
            } else {
                format!("invalid RFC 3339 time `{s}`")
            };
            Err(Bad::new(0..0, codes::INVALID_TIME, message)
                .hint("write a time with an offset, such as `2026-11-25T14:00:00Z` or `2026-11-25T15:00:00+01:00`"))
        }
    }
}

/// A duration for messages: `3h`, `1h 30m`.
pub fn show_duration(d: SignedDuration) -> String {
    format!("{d:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_friendly_and_iso() {
        assert_eq!(duration("3h"), Ok(SignedDuration::from_hours(3)));
        assert_eq!(duration("90m"), Ok(SignedDuration::from_mins(90)));
        assert_eq!(duration("1h30m"), Ok(SignedDuration::from_mins(90)));
        assert_eq!(duration("PT3H"), Ok(SignedDuration::from_hours(3)));
        assert_eq!(duration("PT1H30M"), Ok(SignedDuration::from_mins(90)));
        assert_eq!(duration("45s"), Ok(SignedDuration::from_secs(45)));
        assert!(duration("").is_err());
        assert!(duration("3 parsecs").is_err());
        assert!(duration("h3").is_err());
    }

    #[test]
    fn negative_durations_parse_so_rules_can_reject_them() {
        assert_eq!(duration("-2h"), Ok(SignedDuration::from_hours(-2)));
    }

    #[test]
    fn show_duration_is_friendly() {
        assert_eq!(show_duration(SignedDuration::from_mins(90)), "1h 30m");
    }

    #[test]
    fn cidrs_are_normalised() {
        assert_eq!(cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(cidr("2001:db8::1/48").unwrap().to_string(), "2001:db8::/48");
        assert_eq!(cidr("198.51.100.7").unwrap().to_string(), "198.51.100.7/32");
        assert_eq!(cidr("2001:db8::7").unwrap().to_string(), "2001:db8::7/128");
    }

    #[test]
    fn bad_cidrs_are_errors() {
        for s in [
            "10.0.0.0/33",
            "300.0.0.0/8",
            "10.0.0/8",
            "",
            "any",
            "2001:db8::/129",
        ] {
            assert!(cidr(s).is_err(), "{s}");
        }
    }

    #[test]
    fn containment_is_by_network() {
        let office = cidr("198.51.100.0/24").unwrap();
        assert!(office.contains(&cidr("198.51.100.0/28").unwrap()));
        assert!(!office.contains(&cidr("198.51.0.0/16").unwrap()));
        assert!(!office.contains(&cidr("2001:db8::/64").unwrap()));
    }

    #[test]
    fn times_need_an_offset() {
        assert!(time("2026-11-25T14:00:00Z").is_ok());
        assert!(time("2026-11-25T15:00:00+01:00").is_ok());
        let err = time("2026-11-25T14:00:00").unwrap_err();
        assert!(err.message.contains("no UTC offset"), "{}", err.message);
        let err = time("tomorrow").unwrap_err();
        assert!(
            err.message.contains("invalid RFC 3339 time"),
            "{}",
            err.message
        );
    }

    fn expr(src: &str) -> (Expression, String) {
        let text = format!("x = {src}\n");
        let body = hcl_edit::parser::parse_body(&text).unwrap();
        let attr = body.get_attribute("x").unwrap().clone();
        (attr.value, text)
    }

    #[test]
    fn unquoted_cidr_is_named() {
        let (e, text) = expr("10.0.0.0/8");
        let err = string(&e, &text, "source", true, &(0..0)).unwrap_err();
        assert_eq!(err.message, "CIDR must be a quoted string");
        assert_eq!(err.code, codes::UNQUOTED_VALUE);
        assert_eq!(&text[err.span], "10.0.0.0/8");
    }

    #[test]
    fn integers_from_numbers_only() {
        let (e, _) = expr("22");
        assert_eq!(integer(&e, "number", &(0..0)), Ok(22));
        let (e, _) = expr("-5");
        assert_eq!(integer(&e, "number", &(0..0)), Ok(-5));
        let (e, _) = expr("2.5");
        assert!(integer(&e, "number", &(0..0)).is_err());
        let (e, _) = expr("\"22\"");
        let err = integer(&e, "number", &(0..0)).unwrap_err();
        assert_eq!(err.message, "`number` must be a number, found a string");
        assert_eq!(err.hint.as_deref(), Some("write 22 without quotes"));
    }
}
