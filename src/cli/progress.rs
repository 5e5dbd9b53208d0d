//! A spinner on stderr while live state is read, for runs that take more than a moment: shown
//! only on a terminal, only without `--quiet`, and only once the work has taken half a second,
//! so quick plans print nothing extra and output off a terminal is never touched. It says how
//! far the read has come (Resource Graph pages, NSGs read, a throttling wait) from the azure
//! providers' counters ([`activity`]); with `-v`, [`summary`] logs what was sent in all.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::Global;
use crate::ops::activity;

/// How long work runs before the spinner shows.
const DELAY: Duration = Duration::from_millis(500);

/// Stops (and clears) the spinner when dropped.
pub struct Spinner {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Starts timing `what` (such as `reading live state`).
    pub fn start(global: &Global, what: &str) -> Spinner {
        if global.quiet || !std::io::stderr().is_terminal() {
            return Spinner {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let what = what.to_string();
        let thread = std::thread::spawn(move || {
            match stopped.recv_timeout(DELAY) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.set_message(what.clone());
            loop {
                let line = activity::snapshot().progress_line();
                if line.is_empty() {
                    bar.set_message(what.clone());
                } else {
                    bar.set_message(format!("{what}: {line}"));
                }
                bar.tick();
                match stopped.recv_timeout(Duration::from_millis(100)) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            bar.finish_and_clear();
        });
        Spinner {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `throttled, waiting 1.2s` while a throttle wait is in progress, else empty: beside the
/// apply's progress bar.
pub fn throttling() -> String {
    match activity::snapshot().waiting {
        Some(wait) => format!("throttled, waiting {:.1}s", wait.as_secs_f64()),
        None => String::new(),
    }
}

/// With `-v`: the requests sent to Azure in this run, by kind, and the 429s among them.
pub fn summary(global: &Global) {
    if global.verbose == 0 {
        return;
    }
    if let Some(line) = activity::snapshot().summary() {
        tracing::info!("{line}");
    }
}
