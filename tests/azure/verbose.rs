//! `-v` and `-vv` against the emulator: each provider read and write with its duration, then
//! each ARM request; never a token or a secret.

use crate::cli::{setup, BEFORE};
use crate::common::*;
use crate::emulator::EmulatorConfig;
use crate::support::TestCommand;

#[test]
fn verbose_shows_reads_and_writes_and_very_verbose_the_requests_never_a_token() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    s.phase(BEFORE);
    let quiet = s.jit(&["plan"]).run().code(0);
    assert!(
        !quiet.stderr.contains("provider `azure.prod`"),
        "{}",
        quiet.stderr
    );

    let v = s.jit(&["-v", "plan"]).run().code(0);
    assert!(
        v.stderr
            .contains("provider `azure.prod`: read 2 scopes in "),
        "{}",
        v.stderr
    );
    assert!(
        !v.stderr.contains("GET "),
        "requests only with -vv: {}",
        v.stderr
    );

    let vv = s.jit(&["-vv", "plan"]).run().code(0);
    assert!(vv.stderr.contains("GET "), "{}", vv.stderr);
    assert!(vv.stderr.contains("-> 200"), "{}", vv.stderr);
    assert!(
        !vv.stderr.contains("test-token"),
        "a token on stderr: {}",
        vv.stderr
    );

    let apply = s.jit(&["-vv", "apply", "--auto-approve"]).run().code(0);
    assert!(
        apply
            .stderr
            .contains("provider `azure.prod`: wrote 3 changes in "),
        "{}",
        apply.stderr
    );
    assert!(apply.stderr.contains("PUT "), "{}", apply.stderr);
    assert!(!apply.stderr.contains("test-token"), "{}", apply.stderr);

    // With a client secret: neither the secret nor the token it buys is printed.
    let secret = TestCommand::new(s.path(), &["-vv", "plan"])
        .env("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
        .env("AZURE_TENANT_ID", "tenant-1")
        .env("AZURE_CLIENT_ID", "client-1")
        .env("AZURE_CLIENT_SECRET", "emulator-secret")
        .env("AZURE_AUTHORITY_HOST", emu.base_url())
        .run()
        .code(0);
    assert!(
        !secret.stderr.contains("emulator-secret"),
        "{}",
        secret.stderr
    );
    assert!(
        !secret.stderr.to_lowercase().contains("bearer"),
        "{}",
        secret.stderr
    );
    assert!(!secret.stderr.contains("access_token"), "{}", secret.stderr);
}
