//! DESIGN §3: what the token file reveals without the PIN.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;

const KEY: &[u8; 32] = b"KEYBYTES-that-must-never-leak!!!";
const LABEL: &[u8] = b"private-label-that-must-not-leak";
const VALUE: &[u8] = b"private-value-that-must-not-leak";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut all = std::fs::read(path).unwrap();
    for ext in ["-wal", "-shm", "-journal"] {
        let p = std::path::PathBuf::from(format!("{}{ext}", path.display()));
        if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

#[test]
fn key_material_and_private_attributes_are_not_in_the_file() {
    let mut ctx = Ctx::new(2);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(b"public-aes".to_vec()),
            Attribute::Value(KEY.to_vec()),
        ])
        .unwrap();
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(LABEL.to_vec()),
            Attribute::Value(VALUE.to_vec()),
        ])
        .unwrap();
        // Checked while the process still has the file open (WAL not yet folded in) …
        let bytes = file_bytes(&ctx.token_path(0));
        for secret in [&KEY[..], LABEL, VALUE] {
            assert!(
                !contains(&bytes, secret),
                "secret found in the open token file"
            );
        }
    }
    ctx.restart();
    // … and after the module let go of it.
    let bytes = file_bytes(&ctx.token_path(0));
    for secret in [&KEY[..], LABEL, VALUE] {
        assert!(!contains(&bytes, secret), "secret found in the token file");
    }
    // The public key's label is public; it must be there (the scan can fail).
    assert!(contains(&bytes, b"public-aes"));

    // A stolen copy of the file, with the wrong PIN, yields nothing private.
    ctx.p11.clone().finalize().unwrap();
    for ext in ["", "-wal"] {
        let from = format!("{}{ext}", ctx.token_path(0).display());
        if std::path::Path::new(&from).exists() {
            std::fs::copy(&from, format!("{}{ext}", ctx.token_path(1).display())).unwrap();
        }
    }
    ctx.p11 = cryptoki::context::Pkcs11::new(module_path()).unwrap();
    ctx.p11
        .initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .unwrap();
    let s = ctx.p11.open_rw_session(ctx.slot(1)).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("guessed-pin")))),
        RvError::PinIncorrect
    );
    assert!(s
        .find_objects(&[Attribute::Label(LABEL.to_vec())])
        .unwrap()
        .is_empty());
    let found = s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .unwrap();
    assert!(found.is_empty());
    // With the right PIN the copy opens: the file is self-contained.
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(
        s.find_objects(&[Attribute::Label(LABEL.to_vec())])
            .unwrap()
            .len(),
        1
    );
}
