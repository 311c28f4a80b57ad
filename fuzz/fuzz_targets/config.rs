//! `Config::parse` on arbitrary text: never panics; what it accepts is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softkms::internals::Config;
use std::path::Path;

fuzz_target!(|text: &str| {
    let Ok(c) = Config::parse(text, Some(Path::new("/base"))) else {
        return;
    };
    assert!(!c.slots.is_empty());
    for s in &c.slots {
        assert!(s.min_pin_len >= 1 && s.min_pin_len <= s.max_pin_len);
        assert!(s.max_pin_failures >= 1);
        assert!(s.path.is_absolute(), "relative paths are taken from the base");
    }
    let mut ids: Vec<u64> = c.slots.iter().map(|s| s.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), c.slots.len());
});
