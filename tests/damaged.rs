//! A damaged or foreign token file gets a clear error, never a panic, and is not
//! "repaired" into something that loses keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;

fn expect_unrecognized(ctx: &Ctx) {
    let slot = ctx.slot(0);
    let info = ctx.p11.get_token_info(slot);
    match info {
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => {
            assert!(
                matches!(rv, RvError::TokenNotRecognized | RvError::DeviceError),
                "{rv:?}"
            )
        }
        other => panic!("a damaged file must be refused: {other:?}"),
    }
    assert!(matches!(
        rv(ctx.p11.open_rw_session(slot)),
        RvError::TokenNotRecognized | RvError::DeviceError
    ));
}

#[test]
fn random_bytes_truncation_and_a_newer_schema_are_refused() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(b"keep-me".to_vec()),
        ])
        .unwrap();
    }
    ctx.restart();
    ctx.p11.clone().finalize().unwrap();
    let path = ctx.token_path(0);
    let good = std::fs::read(&path).unwrap();

    // Random bytes.
    std::fs::write(
        &path,
        (0..8192u32)
            .map(|i| u8::try_from(i * 7919 % 251).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    ctx.p11 = cryptoki::context::Pkcs11::new(module_path()).unwrap();
    ctx.p11
        .initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .unwrap();
    expect_unrecognized(&ctx);
    ctx.restart();

    // Truncated.
    std::fs::write(&path, &good[..good.len() / 3]).unwrap();
    ctx.restart();
    expect_unrecognized(&ctx);

    // A newer schema than this module knows.
    std::fs::write(&path, &good).unwrap();
    {
        let c = rusqlite_user_version(&path, 999);
        assert!(c, "could not set user_version");
    }
    ctx.restart();
    expect_unrecognized(&ctx);
    // Nothing was "repaired": the file still says 999 and the data is still there.
    assert_eq!(read_user_version(&path), 999);

    // Back to the good file: everything is there.
    std::fs::write(&path, &good).unwrap();
    ctx.restart();
    let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"keep-me".to_vec())])
            .unwrap()
            .len(),
        1
    );
}

fn rusqlite_user_version(path: &std::path::Path, v: u32) -> bool {
    std::process::Command::new("sqlite3")
        .arg(path)
        .arg(format!("PRAGMA user_version = {v};"))
        .status()
        .is_ok_and(|s| s.success())
}

fn read_user_version(path: &std::path::Path) -> u32 {
    let out = std::process::Command::new("sqlite3")
        .arg(path)
        .arg("PRAGMA user_version;")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
