//! Diagnostics: `SOFTKMS_LOG=error|warn|info|debug|trace` turns on log lines on
//! stderr (or the config file's `log_file`), so that a user can see why a call
//! failed. Nothing secret is ever logged: no PIN, no key material, no data, no
//! attribute value.

use log::{LevelFilter, Log, Metadata, Record};
use parking_lot::Mutex;
use std::io::Write;

struct Logger {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Log for Logger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut out = self.out.lock();
            let _ = writeln!(
                out,
                "softkms[{}] {} {}: {}",
                std::process::id(),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }
    fn flush(&self) {
        let _ = self.out.lock().flush();
    }
}

/// Parses a level name; unknown names turn logging off.
pub(crate) fn parse_level(s: &str) -> LevelFilter {
    match s.trim().to_ascii_lowercase().as_str() {
        "error" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Off,
    }
}

/// Installs the logger once per process (later calls only change the level).
/// A host program that installed its own `log` logger keeps it.
pub(crate) fn init(level: Option<&str>, file: Option<&std::path::Path>) {
    let filter = level.map(parse_level).unwrap_or(LevelFilter::Off);
    if filter == LevelFilter::Off {
        log::set_max_level(LevelFilter::Off);
        return;
    }
    let out: Box<dyn Write + Send> = match file.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    }) {
        Some(f) => Box::new(f),
        None => Box::new(std::io::stderr()),
    };
    let logger = Box::new(Logger {
        out: Mutex::new(out),
    });
    // Fails only when a logger is installed already: then only the level changes.
    let _ = log::set_boxed_logger(logger);
    log::set_max_level(filter);
}
