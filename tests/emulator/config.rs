//! Emulator settings: credentials it accepts, paging, time scale, LRO pacing, throttle buckets,
//! Resource Graph's quota and lag.

use std::time::Duration;

/// How a DELETE of a rule announces its long-running operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletePolling {
    /// `202` + `Azure-AsyncOperation` (as the official rule-delete example shows).
    AsyncOperation,
    /// `202` + `Location`: poll the location until it answers `204`.
    Location,
    /// Both headers (clients should prefer `Azure-AsyncOperation`).
    Both,
}

/// One token bucket: `capacity` requests at once, refilled at `per_second` (emulated seconds).
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub capacity: f64,
    pub per_second: f64,
}

/// ARM's per subscription and principal throttle.
#[derive(Clone, Copy, Debug)]
pub struct ThrottleConfig {
    pub enabled: bool,
    pub reads: Bucket,
    pub writes: Bucket,
    pub deletes: Bucket,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            enabled: true,
            reads: Bucket {
                capacity: 250.0,
                per_second: 25.0,
            },
            writes: Bucket {
                capacity: 200.0,
                per_second: 10.0,
            },
            deletes: Bucket {
                capacity: 200.0,
                per_second: 10.0,
            },
        }
    }
}

/// Azure Resource Graph: the per-principal quota and how far it lags behind ARM.
#[derive(Clone, Copy, Debug)]
pub struct GraphConfig {
    /// Queries a principal may send per `quota_window` (Azure's documented example: 15 per 5 s).
    pub quota: u32,
    /// Emulated time after which the quota is whole again.
    pub quota_window: Duration,
    /// Emulated time before a change made through ARM shows in Resource Graph.
    pub lag: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            quota: 15,
            quota_window: Duration::from_secs(5),
            lag: Duration::ZERO,
        }
    }
}

/// Everything [`super::Emulator::start`] needs. `Default` gives Azure-like behaviour.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Client secret accepted for any client id (client credentials grant).
    pub client_secret: String,
    /// Federated assertion accepted (workload identity); `None` accepts any non-empty one.
    pub client_assertion: Option<String>,
    /// Bearer tokens accepted on ARM calls besides the ones the emulator issued.
    pub static_tokens: Vec<String>,
    /// `expires_in` of issued tokens, enforced in real time (not scaled).
    pub token_lifetime: Duration,
    /// Items per page of list calls before a `nextLink`.
    pub page_size: usize,
    /// `10.0` makes every bucket refill 10× faster and every Retry-After and LRO delay 10× shorter.
    pub time_scale: f64,
    /// Real delay added to every request.
    pub latency: Duration,
    /// Status polls answered `InProgress` before the operation completes.
    pub lro_polls: u32,
    /// `Retry-After` on LRO responses, in emulated time.
    pub lro_retry_after: Duration,
    /// An operation nobody polls completes by itself after this emulated time.
    pub lro_auto_complete: Option<Duration>,
    /// When set, an operation completes once this much emulated time has passed since it
    /// started (a client that waits the `Retry-After` it was given sees it done on its first
    /// poll), instead of after `lro_polls` polls.
    pub lro_duration: Option<Duration>,
    pub delete_polling: DeletePolling,
    pub throttle: ThrottleConfig,
    pub graph: GraphConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            client_secret: "emulator-secret".to_string(),
            client_assertion: None,
            static_tokens: Vec::new(),
            token_lifetime: Duration::from_secs(3599),
            page_size: 2,
            time_scale: 1.0,
            latency: Duration::ZERO,
            lro_polls: 1,
            lro_retry_after: Duration::from_secs(1),
            lro_auto_complete: Some(Duration::from_secs(10)),
            lro_duration: None,
            delete_polling: DeletePolling::AsyncOperation,
            throttle: ThrottleConfig::default(),
            graph: GraphConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// A config for fast tests: `time_scale` 1000 (1 s of Retry-After becomes 1 ms), a static
    /// token `test-token` accepted, and unpolled operations completing after 2 s of real time.
    pub fn fast() -> Self {
        EmulatorConfig {
            time_scale: 1000.0,
            static_tokens: vec!["test-token".to_string()],
            lro_auto_complete: Some(Duration::from_secs(2000)),
            ..EmulatorConfig::default()
        }
    }
}
