//! Credentials against the emulator's token and IMDS endpoints. (The Azure CLI credential is
//! exercised end to end through the binary, with a stand-in `az` on PATH.)

use std::collections::HashMap;
use std::sync::Arc;

use jit::providers::azure::auth::from_env;
use jit::providers::azure::{AzureOptions, AzureProvider, TokenProvider};
use jit::providers::Provider;

use crate::common::*;
use crate::emulator::EmulatorConfig;

const SCOPE: &str = "https://management.azure.com/.default";

fn lookup(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<&str, String> = pairs.into_iter().collect();
    move |k| map.get(k).cloned()
}

fn tokens(pairs: Vec<(&'static str, String)>) -> Arc<dyn TokenProvider> {
    Arc::new(from_env(&reqwest::Client::new(), &lookup(pairs)).unwrap())
}

fn provider_with(emu: &crate::emulator::Emulator, tokens: Arc<dyn TokenProvider>) -> AzureProvider {
    AzureProvider::new(
        "azure.test".into(),
        SUB,
        Some(&emu.base_url()),
        AzureOptions {
            parallelism: 2,
            retry: fast_retry(),
            tokens: Some(tokens),
        },
    )
    .unwrap()
}

#[test]
fn client_secret_gets_a_token_the_emulator_accepts() {
    let emu = emulator_with(EmulatorConfig::default(), &["a"]);
    let t = tokens(vec![
        ("AZURE_TOKEN_CREDENTIALS", "prod".into()),
        ("AZURE_TENANT_ID", "tenant-1".into()),
        ("AZURE_CLIENT_ID", "client-1".into()),
        ("AZURE_CLIENT_SECRET", "emulator-secret".into()),
        ("AZURE_AUTHORITY_HOST", emu.base_url()),
    ]);
    let p = provider_with(&emu, t);
    p.read(&[nsg_id("a")]).unwrap();
    p.read(&[nsg_id("a")]).unwrap();
    assert_eq!(emu.stats().tokens_issued, 1, "the token is cached");
}

#[tokio::test]
async fn a_wrong_secret_names_the_credential_and_entra_code() {
    let emu = emulator_with(EmulatorConfig::default(), &[]);
    let t = tokens(vec![
        ("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential".into()),
        ("AZURE_TENANT_ID", "tenant-1".into()),
        ("AZURE_CLIENT_ID", "client-1".into()),
        ("AZURE_CLIENT_SECRET", "wrong-secret-value".into()),
        ("AZURE_AUTHORITY_HOST", emu.base_url()),
    ]);
    let err = t.token(SCOPE).await.unwrap_err().to_string();
    assert!(
        err.contains("EnvironmentCredential") && err.contains("401") && err.contains("AADSTS"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-secret-value"),
        "the secret is never shown: {err}"
    );
}

#[tokio::test]
async fn workload_identity_reads_the_token_file_for_every_token() {
    let config = EmulatorConfig {
        client_assertion: Some("assertion-2".into()),
        ..EmulatorConfig::default()
    };
    let emu = emulator_with(config, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "assertion-1\n").unwrap();
    let t = tokens(vec![
        (
            "AZURE_TOKEN_CREDENTIALS",
            "WorkloadIdentityCredential".into(),
        ),
        ("AZURE_TENANT_ID", "tenant-1".into()),
        ("AZURE_CLIENT_ID", "client-1".into()),
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ("AZURE_AUTHORITY_HOST", emu.base_url()),
    ]);
    let err = t.token(SCOPE).await.unwrap_err().to_string();
    assert!(err.contains("WorkloadIdentityCredential"), "{err}");
    std::fs::write(&file, "assertion-2\n").unwrap();
    t.token(SCOPE).await.unwrap();
    assert_eq!(emu.stats().tokens_issued, 1);
}

#[test]
fn managed_identity_through_an_overridden_imds() {
    let emu = emulator_with(EmulatorConfig::default(), &["a"]);
    let t = tokens(vec![
        (
            "AZURE_TOKEN_CREDENTIALS",
            "ManagedIdentityCredential".into(),
        ),
        ("JIT_IMDS_ENDPOINT", emu.base_url()),
    ]);
    provider_with(&emu, t).read(&[nsg_id("a")]).unwrap();
    assert_eq!(emu.stats().tokens_issued, 1);
}

#[tokio::test]
async fn the_chain_moves_on_to_the_first_credential_that_works() {
    let emu = emulator_with(EmulatorConfig::default(), &[]);
    let t = tokens(vec![
        ("AZURE_TOKEN_CREDENTIALS", "prod".into()),
        ("AZURE_TENANT_ID", "tenant-1".into()),
        ("AZURE_CLIENT_ID", "client-1".into()),
        ("AZURE_CLIENT_SECRET", "wrong".into()),
        ("AZURE_AUTHORITY_HOST", emu.base_url()),
        ("JIT_IMDS_ENDPOINT", emu.base_url()),
    ]);
    t.token(SCOPE).await.unwrap();
    assert_eq!(emu.stats().tokens_issued, 1);
}
