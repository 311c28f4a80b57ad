//! The general rules of PKCS#11 3.0 §5 for cryptographic operations, checked
//! across the mechanisms SoftKMS advertises: multi-part equals single-part,
//! the output-length rule (§5.2), one operation per kind, key usage and
//! CKA_ALLOWED_MECHANISMS, key-type and parameter errors, the mechanism list
//! against what the tests exercise, CKA_EXTRACTABLE on wrapping and its
//! defaults per origin (docs/mechanisms.md), CKA_LOCAL on unwrapped keys.
//!
//! `operations`: multi-part, the output-length rule, one operation per kind;
//! `keys`: usage, allowed mechanisms, key-type and parameter errors, wrapping;
//! `list`: the mechanism list and the extractability defaults.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

#[path = "../common/mod.rs"]
mod common;
#[path = "../mech_common/mod.rs"]
mod mech_common;

mod keys;
mod list;
mod operations;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

const CHUNKS: [usize; 4] = [1, 15, 17, 4097];

/// 12 800 bytes: a whole number of AES blocks, larger than 3 × 4097.
fn data() -> Vec<u8> {
    pattern(12_800)
}

fn rsa_pair(s: &Session) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
        ],
        &[
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
        ],
    )
    .expect("RSA pair")
}
