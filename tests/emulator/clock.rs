//! Emulated time (real time × `time_scale`), Retry-After headers, and uuids from a seeded PRNG.

use std::time::{Duration, Instant};

/// A clock running `scale` times faster than real time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    scale: f64,
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Clock {
            start: Instant::now(),
            scale,
        }
    }

    /// Emulated seconds since the emulator started.
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * self.scale
    }

    /// Real duration of `emulated` seconds.
    pub fn real(&self, emulated: f64) -> Duration {
        Duration::from_secs_f64((emulated / self.scale).max(0.0))
    }

    /// `Retry-After` (whole seconds, rounded up; `0` for sub-second waits under a scaled clock)
    /// and `retry-after-ms` (rounded up) for a wait of `emulated` seconds.
    pub fn retry_after_headers(&self, emulated: f64) -> [(&'static str, String); 2] {
        let real = (emulated / self.scale).max(0.0);
        let ms = (real * 1000.0).ceil() as u64;
        let secs = if self.scale != 1.0 && real < 1.0 {
            0
        } else {
            real.ceil() as u64
        };
        [
            ("retry-after", secs.to_string()),
            ("retry-after-ms", ms.to_string()),
        ]
    }
}

/// SplitMix64: small, seedable, good enough for ids and fault probabilities.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random (version 4 shaped) uuid.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// A weak etag as Network sends it: `W/"<uuid>"`.
    pub fn etag(&mut self) -> String {
        format!("W/\"{}\"", self.uuid())
    }
}
