//! Fuzzes the loader: any bytes, split into up to three files at `\0`, through `lang::load`
//! and every diagnostic renderer. It must never panic; every diagnostic must point inside its
//! file.
//!
//! Run: `cargo fuzz run -s none load -- -runs=1000000` (from the repository root).

#![no_main]

use jit::diag::{render_github, render_json, render_text};
use jit::lang::{load, SourceFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let files = text
        .splitn(3, '\0')
        .enumerate()
        .map(|(i, part)| SourceFile {
            path: format!("f{i}.hcl"),
            text: part.to_string(),
        })
        .collect::<Vec<_>>();
    if let Err(diagnostics) = load(&files) {
        assert!(!diagnostics.is_empty());
        for d in &diagnostics {
            let file = files.iter().find(|f| f.path == d.file).expect("known file");
            assert!(d.offset + d.len <= file.text.len(), "{d:?}");
            assert!(d.line >= 1 && d.column >= 1, "{d:?}");
        }
        let mut out = Vec::new();
        render_text(&mut out, &diagnostics, &files, true).expect("writes to a Vec");
        render_json(&mut out, &diagnostics).expect("writes to a Vec");
        render_github(&mut out, &diagnostics).expect("writes to a Vec");
    }
});
