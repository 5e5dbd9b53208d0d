//! Values: reading literal HCL expressions (strings, whole numbers, lists) with precise errors,
//! and parsing the jit value kinds inside strings — durations (exactly `90m`, `3h`, `1h30m`, `1d`,
//! ISO 8601 `PT3H`, `P1D`),
//! CIDRs (IPv4 and IPv6; host bits set are an error, never cleared silently), `*` as any source,
//! and RFC 3339 times (RFC 3339 only, within [`TIME_RANGE`]).

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

/// A duration in one of the documented forms, and nothing else:
///
/// - jit's own: whole days, hours and minutes, each at most once and in that order, units in
///   lower case, no spaces: `90m`, `3h`, `1h30m`, `1d`;
/// - ISO 8601: `P` then whole days (`P1D`), or `T` then hours and minutes (`PT3H`, `PT90M`,
///   `PT1H30M`), or both (`P1DT2H`); designators in upper case, as ISO 8601 and Defender
///   write them.
///
/// Seconds, weeks, months, fractions, signs, spaces and words (`45s`, `1.5h`, `-2h`, `3 hours`,
/// `3H`, `pt3h`) are errors, so a value never means something other than it looks; the hint
/// from [`duration_hint`] offers the spelling jit reads. Ranges (5 minutes to 24 hours, within
/// a port's `max_duration`) are checked by the callers.
pub fn duration(s: &str) -> Result<SignedDuration, String> {
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    let minutes = match s.strip_prefix('P') {
        Some(iso) => iso_minutes(iso),
        None => units(s, &[('d', DAY), ('h', HOUR), ('m', 1)]),
    };
    match minutes {
        Some(m) if m <= MAX_MINUTES => Ok(SignedDuration::from_mins(m)),
        Some(_) => Err(format!("duration `{s}` is too long")),
        None => Err(format!("invalid duration `{s}`")),
    }
}

const DAY: i64 = 24 * 60;
const HOUR: i64 = 60;
/// Far beyond any range jit allows, and far from overflowing a [`SignedDuration`].
const MAX_MINUTES: i64 = 1_000_000_000;

/// Whole minutes of `<n><unit>…`, with each of `units` at most once and in their order.
fn units(s: &str, units: &[(char, i64)]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut next = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let at = units[next..].iter().position(|(u, _)| *u == unit)? + next;
        total = total.checked_add(n.checked_mul(units[at].1)?)?;
        next = at + 1;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Some(total)
}

/// Whole minutes of an ISO 8601 duration after its `P`: `1D`, `T3H`, `1DT1H30M`.
fn iso_minutes(s: &str) -> Option<i64> {
    let (date, time) = match s.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (s, None),
    };
    let days = if date.is_empty() {
        0
    } else {
        units(date, &[('D', DAY)])?
    };
    let time = match time {
        None if date.is_empty() => return None,
        None => 0,
        Some(t) => units(t, &[('H', HOUR), ('M', 1)])?,
    };
    days.checked_add(time)
}

/// The hint for a duration [`duration`] refused: the documented spelling of what it seems to
/// mean when that is clear (`3H` → `3h`, `1.5h` → `1h30m`, `3 hours` → `3h`, `pt3h` → `PT3H`),
/// else the list of forms.
pub fn duration_hint(s: &str) -> String {
    let t = s.trim();
    let recased = [t.to_ascii_lowercase(), t.to_ascii_uppercase()]
        .into_iter()
        .find(|c| duration(c).is_ok());
    if let Some(written) = recased {
        return format!("write `{written}`; {DURATION_FORMS}");
    }
    let meant = t
        .parse::<SignedDuration>()
        .ok()
        .filter(|d| d.is_positive() && d.as_secs() % 60 == 0 && d.subsec_nanos() == 0)
        .map(|d| d.as_secs() / 60);
    match meant {
        Some(m) if m <= MAX_MINUTES => {
            let written = if t.starts_with(['P', 'p']) {
                iso_duration(m)
            } else {
                friendly_duration(m)
            };
            format!("write `{written}`; {DURATION_FORMS}")
        }
        _ => DURATION_HINT.to_string(),
    }
}

/// `m` minutes in jit's own form: `1d`, `3h`, `1h30m`, `45m`.
pub fn friendly_duration(m: i64) -> String {
    let (d, h, min) = (m / DAY, m % DAY / HOUR, m % HOUR);
    let mut out = String::new();
    for (n, unit) in [(d, 'd'), (h, 'h'), (min, 'm')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0m");
    }
    out
}

/// `m` minutes in ISO 8601: `P1D`, `PT3H`, `PT1H30M`, `P1DT2H`.
pub fn iso_duration(m: i64) -> String {
    let (d, h, min) = (m / DAY, m % DAY / HOUR, m % HOUR);
    let mut out = String::from("P");
    if d > 0 {
        out.push_str(&format!("{d}D"));
    }
    if h > 0 || min > 0 || d == 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if min > 0 || h == 0 {
            out.push_str(&format!("{min}M"));
        }
    }
    out
}

const DURATION_FORMS: &str =
    "durations are `90m`, `3h`, `1h30m`, `1d` or ISO 8601 `PT3H`, `PT1H30M`, `P1D`";

/// The forms, for a duration that looks like none of them.
pub const DURATION_HINT: &str = "write a duration as `90m`, `3h`, `1h30m`, `1d` or ISO 8601 `PT3H`, `PT1H30M`, `P1D`: whole minutes, units in lower case, ISO 8601 in upper case";

/// A CIDR such as `198.51.100.0/24` or `2001:db8::/48`, or a single address (a /32 or /128).
/// A CIDR with host bits set (`10.0.0.5/24`) is an error, never silently truncated: the hint
/// gives both corrections, the network and the host. The error's span is empty; callers place
/// it.
///
/// Written exactly: no spaces around it, and an IPv4 address and prefix length without leading
/// zeros (`010.0.0.0/8` is octal to some tools and decimal to others; `10.0.0.0/08`).
pub fn cidr(s: &str) -> Result<IpNet, Bad> {
    let t = s;
    let parsed = t
        .parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<std::net::IpAddr>().ok().map(IpNet::from));
    if let Some(net) = parsed {
        let ipv4 = !t.contains(':');
        let written = if t.contains('/') {
            net.to_string()
        } else {
            net.addr().to_string()
        };
        if ipv4 && written != t {
            return Err(Bad::new(
                0..0,
                codes::INVALID_CIDR,
                format!("invalid CIDR `{s}`: numbers have leading zeros"),
            )
            .hint(format!("write `{written}`")));
        }
    }
    if let Ok(net) = t.parse::<IpNet>() {
        if net.trunc() != net {
            let host = IpNet::from(net.addr());
            return Err(Bad::new(
                0..0,
                codes::CIDR_HOST_BITS,
                format!("CIDR `{t}` has host bits set"),
            )
            .hint(format!(
                "write the network `{}`, or the single host `{host}`",
                net.trunc()
            )));
        }
        return Ok(net);
    }
    if let Ok(addr) = t.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    Err(Bad::new(0..0, codes::INVALID_CIDR, format!("invalid CIDR `{s}`")).hint(CIDR_HINT))
}

/// `*`, any source (as Defender writes it): every IPv4 and every IPv6 address. Port policy
/// keeps it as these two networks, so containment needs no special case.
pub fn any_source() -> [IpNet; 2] {
    [
        IpNet::V4(ipnet::Ipv4Net::default()),
        IpNet::V6(ipnet::Ipv6Net::default()),
    ]
}

/// Whether a source is open to every address of its family (`0.0.0.0/0`, `::/0`).
pub fn is_any(net: &IpNet) -> bool {
    net.prefix_len() == 0
}

pub const CIDR_HINT: &str =
    "write an IPv4 or IPv6 network such as `198.51.100.0/24` or `2001:db8::/48`";

/// The times jit accepts (a request's `start` and end, `--at`): from the Unix epoch to the
/// start of the year 9999, so that arithmetic on them (a grant's end, clock skew) never leaves
/// the range a timestamp can hold.
pub const TIME_RANGE: &str = "1970-01-01T00:00:00Z to 9999-01-01T00:00:00Z";

/// The last instant of [`TIME_RANGE`] (exclusive).
pub fn latest_time() -> Timestamp {
    Timestamp::from_second(253_370_764_800).unwrap_or(Timestamp::MAX)
}

/// Whether `t` lies in [`TIME_RANGE`].
pub fn in_time_range(t: Timestamp) -> bool {
    t >= Timestamp::UNIX_EPOCH && t < latest_time()
}

/// Whether `s` has RFC 3339's `date-time` form: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and
/// `Z` in either case. The timestamp parser also takes ISO 8601 and Temporal forms (a space or
/// no separator, `+0100`, `+01`, hours without seconds, `[Europe/Paris]` annotations, six-digit
/// years, a comma before the fraction): those are rejected here.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let frac = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac == 0 {
            return false;
        }
        i += 1 + frac;
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

const TIME_HINT: &str =
    "write an RFC 3339 time with an offset, such as `2026-11-25T14:00:00Z` or `2026-11-25T15:00:00+01:00`";

/// An RFC 3339 time with a UTC offset, such as `2026-11-25T14:00:00Z`, within [`TIME_RANGE`].
pub fn time(s: &str) -> Result<Timestamp, Bad> {
    let t = s.trim();
    let parsed = t.parse::<Timestamp>();
    if !is_rfc3339(t) {
        let (code, message) = if parsed.is_ok() {
            (codes::NOT_RFC3339, format!("time `{s}` is not RFC 3339"))
        } else if t.parse::<jiff::civil::DateTime>().is_ok() {
            (codes::INVALID_TIME, format!("time `{s}` has no UTC offset"))
        } else {
            (codes::INVALID_TIME, format!("invalid RFC 3339 time `{s}`"))
        };
        return Err(Bad::new(0..0, code, message).hint(TIME_HINT));
    }
    match parsed {
        Ok(ts) if in_time_range(ts) => Ok(ts),
        Ok(_) => Err(Bad::new(
            0..0,
            codes::TIME_OUT_OF_RANGE,
            format!("time `{s}` is out of range"),
        )
        .hint(format!("jit takes times from {TIME_RANGE}"))),
        Err(_) => Err(Bad::new(
            0..0,
            codes::INVALID_TIME,
            format!("invalid RFC 3339 time `{s}`"),
        )
        .hint(TIME_HINT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_documented_form() {
        let mins = SignedDuration::from_mins;
        for (s, m) in [
            ("90m", 90),
            ("3h", 180),
            ("1h30m", 90),
            ("1d", 1440),
            ("1d2h", 1560),
            ("1d30m", 1470),
            ("5m", 5),
            ("24h", 1440),
            ("PT3H", 180),
            ("PT90M", 90),
            ("PT1H30M", 90),
            ("P1D", 1440),
            ("P1DT2H", 1560),
            ("0m", 0),
        ] {
            assert_eq!(duration(s), Ok(mins(m)), "{s}");
        }
    }

    #[test]
    fn durations_in_any_other_form_are_refused() {
        for s in [
            "",
            " 3h",
            "3h ",
            "3 hours",
            "1.5h",
            "3H",
            "1H30M",
            "3Hours",
            "pt3h",
            "Pt3H",
            "PT3h",
            "p1d",
            "45s",
            "PT45S",
            "P1W",
            "P1M",
            "P1Y",
            "-2h",
            "+2h",
            "h3",
            "3",
            "P",
            "PT",
            "P1DT",
            "PT1H30",
            "30m1h",
            "1h1h",
            "1h 30m",
            "1,5h",
            "PT1.5H",
            "3hh",
            "1m1d",
            "P1H",
            "PTD",
            "\u{663}h",
            "9999999999999h",
        ] {
            assert!(duration(s).is_err(), "accepted {s:?}");
        }
    }

    #[test]
    fn duration_hints_offer_the_documented_spelling() {
        for (s, written) in [
            ("3H", "`3h`"),
            ("1.5h", "`1h30m`"),
            ("3 hours", "`3h`"),
            ("pt3h", "`PT3H`"),
            ("PT1.5H", "`PT1H30M`"),
        ] {
            let hint = duration_hint(s);
            assert!(hint.starts_with(&format!("write {written}")), "{s}: {hint}");
        }
        assert_eq!(duration_hint("45s"), DURATION_HINT);
        assert_eq!(duration_hint("three hours"), DURATION_HINT);
    }

    #[test]
    fn canonical_spellings_read_back() {
        for m in [5, 45, 60, 90, 180, 1439, 1440, 1530, 2880] {
            assert_eq!(
                duration(&friendly_duration(m)),
                Ok(SignedDuration::from_mins(m))
            );
            assert_eq!(duration(&iso_duration(m)), Ok(SignedDuration::from_mins(m)));
        }
        assert_eq!(friendly_duration(90), "1h30m");
        assert_eq!(iso_duration(1440), "P1D");
        assert_eq!(iso_duration(90), "PT1H30M");
    }

    #[test]
    fn cidrs_read_as_written() {
        assert_eq!(cidr("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(cidr("2001:db8::/48").unwrap().to_string(), "2001:db8::/48");
        assert_eq!(cidr("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(cidr("198.51.100.7").unwrap().to_string(), "198.51.100.7/32");
        assert_eq!(cidr("2001:db8::7").unwrap().to_string(), "2001:db8::7/128");
    }

    #[test]
    fn host_bits_are_an_error_naming_both_corrections() {
        let err = cidr("10.0.0.5/24").unwrap_err();
        assert_eq!(err.code, codes::CIDR_HOST_BITS);
        assert_eq!(err.message, "CIDR `10.0.0.5/24` has host bits set");
        assert_eq!(
            err.hint.as_deref(),
            Some("write the network `10.0.0.0/24`, or the single host `10.0.0.5/32`")
        );
        let err = cidr("2001:db8::1/48").unwrap_err();
        assert_eq!(
            err.hint.as_deref(),
            Some("write the network `2001:db8::/48`, or the single host `2001:db8::1/128`")
        );
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
            "010.0.0.0/8",
            "10.0.0.0/08",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
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
        assert_eq!(err.code, codes::INVALID_TIME);
        let err = time("tomorrow").unwrap_err();
        assert!(
            err.message.contains("invalid RFC 3339 time"),
            "{}",
            err.message
        );
    }

    #[test]
    fn only_rfc3339_times() {
        assert!(time("2026-11-25T14:00:00.5Z").is_ok());
        assert!(time("2026-11-25t14:00:00z").is_ok());
        assert!(time("2026-11-25T14:00:00-00:00").is_ok());
        // What the timestamp parser accepts beyond RFC 3339.
        for s in [
            "2026-11-25 14:00:00Z",
            "2026-11-25T14:00Z",
            "2026-11-25T14Z",
            "2026-11-25T14:00:00+0100",
            "2026-11-25T14:00:00+01",
            "2026-11-25T14:00:00,5Z",
            "20261125T140000Z",
            "2026-11-25T14:00:00Z[Europe/Paris]",
            "2026-11-25T14:00:00+01:00[Europe/Paris]",
            "+002026-11-25T14:00:00Z",
        ] {
            let err = time(s).unwrap_err();
            assert_eq!(err.code, codes::NOT_RFC3339, "{s}: {}", err.message);
            assert!(err.message.contains("is not RFC 3339"), "{s}");
        }
        assert!(is_rfc3339("2026-11-25T14:00:00Z"));
        assert!(!is_rfc3339("2026-11-25T14:00:00."));
    }

    #[test]
    fn times_out_of_range_are_errors() {
        for s in [
            "9999-12-30T22:00:00Z",
            "9999-06-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            let err = time(s).unwrap_err();
            assert_eq!(err.code, codes::TIME_OUT_OF_RANGE, "{s}");
        }
        assert!(time("9998-12-31T23:59:59Z").is_ok());
        assert!(time("1970-01-01T00:00:00Z").is_ok());
    }

    proptest::proptest! {
        /// Any text: `time` never panics, and what it accepts is RFC 3339 and in range.
        #[test]
        fn time_accepts_only_rfc3339_in_range(s in "[0-9T:Zz+ .,\\[\\]-]{0,30}") {
            if let Ok(t) = time(&s) {
                proptest::prop_assert!(is_rfc3339(s.trim()));
                proptest::prop_assert!(in_time_range(t));
            }
        }

        /// Any address and prefix: accepted exactly when no host bit is set, never truncated.
        #[test]
        fn cidrs_are_never_truncated(a: [u8; 4], len in 0u8..=32) {
            let text = format!("{}.{}.{}.{}/{len}", a[0], a[1], a[2], a[3]);
            let net: IpNet = text.parse().unwrap();
            match cidr(&text) {
                Ok(read) => {
                    proptest::prop_assert_eq!(read, net);
                    proptest::prop_assert_eq!(net.trunc(), net);
                }
                Err(bad) => {
                    proptest::prop_assert_eq!(bad.code, codes::CIDR_HOST_BITS);
                    proptest::prop_assert_ne!(net.trunc(), net);
                }
            }
        }
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
