//! `SOFTKMS_LOG=debug` on the Rust API path: a failed call logs what was
//! asked and why, in words. Its own process, so that its logger (a host
//! program's, which SoftKMS keeps) sees every line.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use softkms::api::{EncryptionContext, ErrorKind, KeyOptions, KeyRef, KeySpec};
use std::sync::Mutex;
mod api_common;

use api_common::*;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LINES
            .lock()
            .unwrap()
            .push(format!("{} {}", r.level(), r.args()));
    }
    fn flush(&self) {}
}

#[test]
fn failed_calls_are_logged_at_debug() {
    log::set_boxed_logger(Box::new(Capture)).unwrap();
    std::env::set_var("SOFTKMS_LOG", "debug");
    let f = Fixture::new("api", "");
    let t = f.user();
    let ec = t
        .create_key(
            KeySpec::EccNistP256,
            &KeyOptions {
                label: Some("x".into()),
                ..KeyOptions::default()
            },
        )
        .unwrap();
    let e = t
        .encrypt(
            &KeyRef::from(&ec.id),
            b"secret words",
            &EncryptionContext::new(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKeyUsage);
    let lines = LINES.lock().unwrap().clone();
    let line = lines
        .iter()
        .find(|l| l.starts_with("DEBUG api: encrypt under"))
        .unwrap_or_else(|| panic!("no debug line in {lines:?}"));
    assert!(line.contains("InvalidKeyUsage"), "{line}");
    assert!(line.contains("CKR_KEY_TYPE_INCONSISTENT"), "{line}");
    assert!(line.contains("encryption needs a symmetric key"), "{line}");
    // Never the data.
    assert!(!lines.iter().any(|l| l.contains("secret words")));
}
