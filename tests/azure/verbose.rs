//! `-v` and `-vv` against the emulator: each provider read and write with its duration, then
//! each ARM request; never a token or a secret.

use crate::cli::{setup, BEFORE};
use crate::common::*;
use crate::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};
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

/// `-v` ends plan and apply with the requests sent to Azure by kind and the 429s among them
/// (each retried); without `-v`, and off a terminal, neither the summary nor progress shows.
#[test]
fn verbose_sums_up_requests_and_429s_after_plan_and_apply() {
    let emu = emulator_with(EmulatorConfig::fast(), &["a", "b"]);
    let s = setup(&emu);
    s.phase(BEFORE);
    s.jit(&["-v", "plan"])
        .run()
        .code(0)
        .stderr_has("azure: 2 requests (2 reads), 0 throttled (429)");
    // ARM throttles the first write once: retried, and counted apart.
    emu.set_faults(vec![Fault::new(
        "PUT",
        "/securityRules/",
        Trigger::Nth(1),
        FaultKind::Status(429),
    )]);
    emu.reset_stats();
    let apply = s.jit(&["-v", "apply", "--auto-approve"]).run().code(0);
    let stats = emu.stats();
    let line = format!(
        "azure: {} requests (2 reads, {} status polls, 4 writes), 1 throttled (429) (1 on writes)",
        stats.requests_total(),
        stats.kind("poll"),
    );
    assert!(apply.stderr.contains(&line), "{line}\n{}", apply.stderr);
    assert_eq!(stats.kind("rule_write"), 4, "3 writes, one sent twice");

    let quiet = s.jit(&["apply", "--auto-approve"]).run().code(0);
    assert!(!quiet.stderr.contains("requests ("), "{}", quiet.stderr);
    assert!(
        !quiet.stderr.contains("NSGs read"),
        "no progress off a terminal"
    );
}

/// On a terminal (here `script(1)`'s pseudo-terminal), a long read shows how far it has come
/// (NSGs read) and an apply a bar of writes done out of those to do.
#[test]
fn progress_shows_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no script(1) for a pseudo-terminal");
        return;
    }
    const NSGS: usize = 30;
    let names: Vec<String> = (0..NSGS).map(|i| format!("n-{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let config = EmulatorConfig {
        latency: std::time::Duration::from_millis(250),
        ..EmulatorConfig::fast()
    };
    let emu = emulator_with(config, &refs);
    let mut text = format!(
        "provider \"azure\" \"prod\" {{\n  subscription_id = \"{SUB}\"\n  endpoint = \"{}\"\n}}\n",
        emu.base_url()
    );
    for name in &names {
        text.push_str(&format!(
            "target \"{name}\" {{\n  provider = \"azure.prod\"\n  nsg_id = \"{}\"\n  port \"ssh\" {{ number = 22 }}\n}}\n",
            nsg_id(name)
        ));
    }
    let s = crate::cli::setup_with(&emu, &[("policy.hcl", &text)]);
    let on_terminal = |args: &str| {
        let command = format!(
            "{} -C {} {args}",
            env!("CARGO_BIN_EXE_jit"),
            s.path().display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("PATH", s.path_env())
            .env("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
            .env_remove("NO_COLOR")
            .output()
            .expect("script runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{command}\n{text}");
        text
    };
    let plan = on_terminal("plan");
    assert!(plan.contains("reading live state"), "{plan}");
    assert!(plan.contains("NSGs read"), "{plan}");
    let apply = on_terminal("apply --auto-approve");
    assert!(
        apply.contains(&format!("/{NSGS}")),
        "writes done of those to do: {apply}"
    );
    assert!(
        apply.contains(&format!("Resources: {NSGS} added")),
        "{apply}"
    );
}
