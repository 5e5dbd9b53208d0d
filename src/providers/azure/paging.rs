//! ARM list calls: `{"value": [...], "nextLink": "…"}` pages, followed until a page has no
//! `nextLink`. Bounded to [`MAX_PAGES`] pages, and a `nextLink` must stay on the configured
//! endpoint (scheme, host and port): the bearer token never leaves it.

use reqwest::Url;
use serde_json::Value;

use super::client::{ArmClient, Request};
use super::endpoint::same_origin;
use super::error::ArmError;
use crate::platform::nsg::rule::json_kind;

/// Pages one list call may span before it is given up.
pub const MAX_PAGES: usize = 100;

impl ArmClient {
    /// GETs `url` and every `nextLink` after it; returns the `value` items of all pages, in
    /// order.
    pub async fn list(&self, url: &str) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut next = url.to_string();
        for _ in 0..MAX_PAGES {
            let request = Request::get(next.as_str());
            let what = request.what();
            let body = self.send(&request).await?.json(&what)?;
            let corrupt = |message: String| ArmError::Corrupt {
                url: what.clone(),
                message,
            };
            match body.get("value") {
                Some(Value::Array(page)) => items.extend(page.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(other) => {
                    return Err(corrupt(format!(
                        "`value` should be an array, found {}",
                        json_kind(other)
                    )))
                }
            }
            match body.get("nextLink") {
                None | Some(Value::Null) => return Ok(items),
                Some(Value::String(link)) if link.is_empty() => return Ok(items),
                Some(Value::String(link)) => {
                    self.check_next_link(link, &what)?;
                    next = link.clone();
                }
                Some(other) => {
                    return Err(corrupt(format!(
                        "`nextLink` should be a string, found {}",
                        json_kind(other)
                    )))
                }
            }
        }
        Err(ArmError::Refused(format!(
            "GET {}: still a `nextLink` after {MAX_PAGES} pages; giving up",
            url.split('?').next().unwrap_or(url)
        )))
    }

    /// A `nextLink` must be an absolute URL on the ARM endpoint.
    fn check_next_link(&self, link: &str, what: &str) -> Result<(), ArmError> {
        let shown = link.split('?').next().unwrap_or(link);
        let parsed = Url::parse(link).map_err(|e| ArmError::Corrupt {
            url: what.to_string(),
            message: format!("`nextLink` `{shown}` is not a URL: {e}"),
        })?;
        if !same_origin(self.base(), &parsed) {
            return Err(ArmError::Refused(format!(
                "{what}: `nextLink` `{shown}` is not on the ARM endpoint `{}`: refusing to send \
                 a token there",
                self.base()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
