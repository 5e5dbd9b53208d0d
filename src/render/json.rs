//! Pure: the plan as pretty JSON, a Terraform JSON plan (`plan::terraform`). The same bytes are the
//! saved plan file and the output of `jit plan --json` / `jit show --json`; they depend only on
//! the plan, so the same plan always renders byte-identically.

use std::io;

use crate::plan::Plan;

/// Writes `plan` as pretty JSON followed by a newline.
pub fn render(plan: &Plan, out: &mut dyn io::Write) -> io::Result<()> {
    crate::plan::terraform::write_pretty(plan, &mut *out).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn ends_with_a_newline_and_reads_back() {
        let plan = Plan {
            format_version: crate::plan::FORMAT_VERSION.into(),
            created_at: "2026-11-25T14:37:00Z".parse().unwrap(),
            valid_until: None,
            resource_changes: vec![],
            prior: vec![],
            findings: vec![],
            accepted: vec![],
            errors: vec![],
            warnings: vec![],
            config_digest: None,
            targets: vec![],
            fingerprints: BTreeMap::from([("/x/nsg".to_string(), "etag".to_string())]),
        };
        let mut out = Vec::new();
        render(&plan, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.starts_with("{\n  \"format_version\": \"1.2\",\n  \"terraform_version\": \""));
        let back =
            crate::plan::terraform::from_document(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, plan);
    }
}
