//! What the store decodes from a token file's rows: the attribute-map codec
//! (strict and canonical: what decodes encodes back to the same bytes), the key
//! versions of `CKA_SOFTKMS_VERSIONS`, and key policies (`CKA_SOFTKMS_POLICY`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use softkms::internals::kms::{policy, versions};
use softkms::internals::store::fuzzing::{decode_attrs, encode_attrs};

fuzz_target!(|data: &[u8]| {
    if let Some(m) = decode_attrs(data) {
        assert_eq!(&encode_attrs(&m)[..], data, "one map, one encoding");
    }
    if let Ok(v) = versions::decode(data) {
        assert_eq!(&versions::encode(&v)[..], data, "versions round-trip");
    }
    if let Ok(p) = policy::parse(data) {
        // A policy that parses is accepted as a new policy or refused cleanly.
        let _ = policy::check_set(&p, false);
        let _ = policy::check_set(&p, true);
    }
});
