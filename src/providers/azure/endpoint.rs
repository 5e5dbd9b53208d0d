//! Where the azure provider is allowed to send requests (and bearer tokens): `https://` URLs,
//! or plain `http://` on a loopback host (127.0.0.0/8, `::1`, `localhost`) for emulators.
//! Also splits an NSG resource id into the parts the provider checks, and builds every ARM path
//! that carries data (NSG ids, rule names) segment by segment, percent-encoded, so no value can
//! change which resource a request goes to (`..`, `/`, `?`, `#`, `%` in a rule name).

use std::net::IpAddr;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;

use crate::platform::nsg::names::is_legal_rule_name;

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment built from data, percent-encoded. `.` and `..` (which a URL parser resolves
/// however they are spelled, `%2e` included) and the empty segment are refused.
pub fn segment(value: &str) -> Result<String, String> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(format!("`{value}` cannot be a segment of an ARM path"));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

/// The ARM path of an NSG (`/subscriptions/…/networkSecurityGroups/<name>`), every segment
/// checked and encoded; its subscription id beside it.
pub fn nsg_path(id: &str) -> Result<(String, &str), String> {
    let subscription = nsg_subscription(id)?;
    let mut path = String::new();
    for part in id.trim_end_matches('/').split('/').skip(1) {
        path.push('/');
        path.push_str(&segment(part)?);
    }
    Ok((path, subscription))
}

/// The ARM path of security rule `name` of NSG `nsg_id`. The name must be a legal security rule
/// name (1–80 of `[A-Za-z0-9_.-]`, starting with a word character, ending with one or `_`).
pub fn rule_path(nsg_id: &str, name: &str) -> Result<String, String> {
    if !is_legal_rule_name(name) {
        return Err(format!(
            "`{name}` is not a legal security rule name (1-80 characters of letters, digits, \
             `_`, `.` and `-`, starting with a letter, digit or `_` and ending with one or `_`)"
        ));
    }
    let (nsg, _) = nsg_path(nsg_id)?;
    Ok(format!("{nsg}/securityRules/{}", segment(name)?))
}

/// Parses `raw` as a base URL and refuses plain HTTP anywhere but loopback. `what` names the
/// setting in the error (`provider endpoint`, `AZURE_AUTHORITY_HOST`, …).
pub fn parse_base_url(raw: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{what} `{raw}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{what} `{raw}` uses plain http, which is accepted only for loopback hosts \
                 (127.0.0.0/8, ::1, localhost): use https"
            ))
        }
        other => return Err(format!("{what} `{raw}` has scheme `{other}`: use https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{what} `{raw}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{what} `{raw}` must not carry a query or fragment"));
    }
    Ok(url)
}

/// True for 127.0.0.0/8, `::1` and `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Joins a base URL and an absolute ARM path (`/subscriptions/…`), without doubling slashes.
pub fn join(base: &Url, path: &str) -> String {
    format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// True when `url` is served by the same scheme, host and port as `base`: bearer tokens are
/// sent only there, whatever a `Location` header says.
pub fn same_origin(base: &Url, url: &Url) -> bool {
    base.scheme() == url.scheme()
        && base.host_str().map(str::to_ascii_lowercase)
            == url.host_str().map(str::to_ascii_lowercase)
        && base.port_or_known_default() == url.port_or_known_default()
}

/// Checks that `id` is an NSG resource id (`/subscriptions/<sub>/resourceGroups/<rg>/providers/
/// Microsoft.Network/networkSecurityGroups/<name>`) and returns its subscription id.
pub fn nsg_subscription(id: &str) -> Result<&str, String> {
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let ok = parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case("Microsoft.Network")
        && parts[7].eq_ignore_ascii_case("networkSecurityGroups")
        && parts.iter().skip(1).all(|p| {
            !p.is_empty() && *p != "." && *p != ".." && !p.contains(['?', '#', '%', '\\'])
        });
    if ok {
        Ok(parts[2])
    } else {
        Err(format!(
            "`{id}` is not a network security group id \
             (`/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/networkSecurityGroups/<name>`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        assert!(parse_base_url("https://management.azure.com", "endpoint").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8080", "endpoint").is_ok());
        assert!(parse_base_url("http://127.3.2.1", "endpoint").is_ok());
        assert!(parse_base_url("http://[::1]:80/", "endpoint").is_ok());
        assert!(parse_base_url("http://LOCALHOST:1", "endpoint").is_ok());
        let err = parse_base_url("http://10.0.0.1", "provider endpoint").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(parse_base_url("http://169.254.169.254", "x").is_err());
        assert!(parse_base_url("ftp://127.0.0.1", "x").is_err());
        assert!(parse_base_url("not a url", "x").is_err());
    }

    #[test]
    fn joins_and_compares_origins() {
        let base = Url::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(
            join(&base, "/subscriptions/s"),
            "http://127.0.0.1:9000/subscriptions/s"
        );
        assert!(same_origin(
            &base,
            &Url::parse("http://127.0.0.1:9000/op/1").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("http://127.0.0.1:9001/op/1").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("https://evil.example/op").unwrap()
        ));
    }

    #[test]
    fn recognises_nsg_ids() {
        let id = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n";
        assert_eq!(nsg_subscription(id), Ok("s1"));
        assert!(nsg_subscription("/subscriptions/s1/resourceGroups/rg").is_err());
        assert!(nsg_subscription(&format!("{id}/securityRules/r")).is_err());
        assert!(nsg_subscription(&id.replace("/n", "/n?x=1")).is_err());
        assert!(nsg_subscription(&id.replace("/rg/", "/../")).is_err());
    }

    #[test]
    fn paths_from_data_are_encoded_and_cannot_traverse() {
        let id = "/subscriptions/s1/resourceGroups/rg (eu)/providers/Microsoft.Network/networkSecurityGroups/n";
        assert_eq!(
            rule_path(id, "jit-allow-INC_1.x-ssh").unwrap(),
            "/subscriptions/s1/resourceGroups/rg%20%28eu%29/providers/Microsoft.Network/\
             networkSecurityGroups/n/securityRules/jit-allow-INC_1.x-ssh"
        );
        for name in [
            "../../../../othersub/resourceGroups/x/providers/Microsoft.Network/networkSecurityGroups/crown-jewels/securityRules/open-all",
            "a/b",
            "a?b",
            "a#b",
            "a%2e",
            "..",
            "",
            &"a".repeat(81),
            "-lead",
            "trail.",
        ] {
            let err = rule_path(id, name).unwrap_err();
            assert!(err.contains("not a legal security rule name"), "{name}: {err}");
        }
        assert!(segment("..").is_err() && segment(".").is_err() && segment("").is_err());
        assert_eq!(segment("a/b?c#d%e").unwrap(), "a%2Fb%3Fc%23d%25e");
        let (path, sub) = nsg_path(id).unwrap();
        assert_eq!(sub, "s1");
        assert!(path.ends_with("/networkSecurityGroups/n"), "{path}");
        assert!(nsg_path("/subscriptions/s1/resourceGroups/../providers/Microsoft.Network/networkSecurityGroups/n").is_err());
    }
}
