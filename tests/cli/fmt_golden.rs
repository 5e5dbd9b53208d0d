//! `jit fmt` is `terraform fmt`: each input of `tests/fixtures/fmt-golden/` (copied from
//! Terraform's own output, see its README) formats byte for byte to what Terraform wrote, through
//! the real binary, and formatting that output again changes nothing.

use std::path::Path;

use crate::support::TestCommand;

fn pairs() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt-golden");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".in.hcl").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 11, "golden pairs missing: {names:?}");
    names
        .into_iter()
        .map(|name| {
            let input = std::fs::read_to_string(dir.join(format!("{name}.in.hcl"))).unwrap();
            let want =
                std::fs::read_to_string(dir.join(format!("{name}.terraform-fmt.hcl"))).unwrap();
            (name, input, want)
        })
        .collect()
}

#[test]
fn every_golden_input_formats_to_what_terraform_wrote() {
    let mut wrong = Vec::new();
    for (name, input, want) in pairs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.hcl");
        std::fs::write(&file, &input).unwrap();
        let run = TestCommand::new(dir.path(), &["fmt", "f.hcl"]).run();
        let got = std::fs::read_to_string(&file).unwrap();
        if got != want {
            wrong.push(format!(
                "{name} (exit {:?}, stderr {:?}):\n--- terraform\n{want:?}\n--- jit\n{got:?}",
                run.code, run.stderr
            ));
            continue;
        }
        let again = TestCommand::new(dir.path(), &["fmt", "--check", "f.hcl"]).run();
        assert_eq!(again.code, 0, "{name}: not idempotent: {}", again.stdout);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
