//! The operation rules of PKCS#11 3.0 §5.2 and §5.8–§5.15, to the letter,
//! through the built module: an error other than `CKR_BUFFER_TOO_SMALL` (or
//! a successful length query) from `C_Encrypt`, `C_Decrypt`, `C_Digest`,
//! `C_Sign`, `C_Verify` and their `Update`/`Final` calls ends the operation,
//! `CKR_ARGUMENTS_BAD` from a null pointer included; a single-part call
//! after an `Update` is `CKR_OPERATION_ACTIVE` and leaves the operation and
//! its data as they were.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)]

mod common;
mod mech_common;

use common::Ctx;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;
use p11_testkit::call_strict;
use std::ptr;

fn f() -> &'static CK_FUNCTION_LIST {
    p11_testkit::function_list(common::module_path())
}

fn hs(s: &Session) -> CK_SESSION_HANDLE {
    s.handle()
}

fn kh(k: ObjectHandle) -> CK_OBJECT_HANDLE {
    k.handle()
}

const IV: [u8; 16] = [7; 16];

fn cbc() -> CK_MECHANISM {
    mech(CKM_AES_CBC, Some(&IV))
}

fn init(op: &str, s: &Session, m: &CK_MECHANISM, k: CK_OBJECT_HANDLE) -> CK_RV {
    let mut m = *m;
    let h = hs(s);
    match op {
        "encrypt" => call_strict!(f(), C_EncryptInit, h, &mut m, k),
        "decrypt" => call_strict!(f(), C_DecryptInit, h, &mut m, k),
        "sign" => call_strict!(f(), C_SignInit, h, &mut m, k),
        "verify" => call_strict!(f(), C_VerifyInit, h, &mut m, k),
        "digest" => call_strict!(f(), C_DigestInit, h, &mut m),
        _ => unreachable!(),
    }
}

/// `C_Encrypt` into a buffer of `cap` bytes (`None`: a null output pointer).
fn encrypt(s: &Session, data: &[u8], cap: Option<usize>) -> (CK_RV, Vec<u8>) {
    let mut d = data.to_vec();
    let mut out = vec![0u8; cap.unwrap_or(0)];
    let mut n = ulen(cap.unwrap_or(0));
    let p = if cap.is_some() {
        out.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    let rv = call_strict!(
        f(),
        C_Encrypt,
        hs(s),
        d.as_mut_ptr(),
        ulen(d.len()),
        p,
        &mut n
    );
    out.truncate(usize::try_from(n).unwrap().min(out.len()));
    (rv, out)
}

fn ulen(n: usize) -> CK_ULONG {
    CK_ULONG::try_from(n).unwrap()
}

fn encrypt_update(s: &Session, data: &[u8]) -> (CK_RV, Vec<u8>) {
    let mut d = data.to_vec();
    let mut out = vec![0u8; data.len() + 32];
    let mut n = ulen(out.len());
    let rv = call_strict!(
        f(),
        C_EncryptUpdate,
        hs(s),
        d.as_mut_ptr(),
        ulen(d.len()),
        out.as_mut_ptr(),
        &mut n
    );
    out.truncate(usize::try_from(n).unwrap());
    (rv, out)
}

fn setup() -> (Ctx, Session, ObjectHandle, ObjectHandle) {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let aes = aes_key(&s, &[0x11; 16]);
    let mac = generic_key(&s, &[0x22; 32]);
    (ctx, s, aes, mac)
}

#[test]
fn a_single_part_call_after_an_update_is_refused_and_keeps_the_operation() {
    let (_ctx, s, aes, mac) = setup();
    let data = pattern(48);
    let raw = raw();
    let whole = raw.encrypt(&s, &cbc(), aes, &data).unwrap();

    // Encrypt: Update, C_Encrypt refused, the chain goes on.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    let (rv, mut got) = encrypt_update(&s, &data[..16]);
    assert_eq!(rv, CKR_OK);
    assert_eq!(encrypt(&s, &data, Some(64)).0, CKR_OPERATION_ACTIVE);
    assert_eq!(encrypt(&s, &data, None).0, CKR_OPERATION_ACTIVE);
    let (rv, more) = encrypt_update(&s, &data[16..]);
    assert_eq!(rv, CKR_OK);
    got.extend(more);
    got.extend(raw.encrypt_final(&s).unwrap());
    assert_eq!(got, whole);

    // Decrypt.
    assert_eq!(init("decrypt", &s, &cbc(), kh(aes)), CKR_OK);
    let mut plain = raw.decrypt_update(&s, &whole[..20]).unwrap();
    let mut w = whole.clone();
    let mut n: CK_ULONG = 64;
    let mut out = vec![0u8; 64];
    let rv = call_strict!(
        f(),
        C_Decrypt,
        hs(&s),
        w.as_mut_ptr(),
        ulen(w.len()),
        out.as_mut_ptr(),
        &mut n
    );
    assert_eq!(rv, CKR_OPERATION_ACTIVE);
    plain.extend(raw.decrypt_update(&s, &whole[20..]).unwrap());
    plain.extend(raw.decrypt_final(&s).unwrap());
    assert_eq!(plain, data);

    // Digest.
    let sha = plain_mech(CKM_SHA256);
    let expect = raw.digest(&s, &sha, &data).unwrap();
    assert_eq!(init("digest", &s, &sha, 0), CKR_OK);
    raw.digest_update(&s, &data[..10]).unwrap();
    let mut d = data.clone();
    let mut out = vec![0u8; 32];
    let mut n: CK_ULONG = 32;
    let rv = call_strict!(
        f(),
        C_Digest,
        hs(&s),
        d.as_mut_ptr(),
        ulen(d.len()),
        out.as_mut_ptr(),
        &mut n
    );
    assert_eq!(rv, CKR_OPERATION_ACTIVE);
    raw.digest_update(&s, &data[10..]).unwrap();
    assert_eq!(raw.digest_final(&s).unwrap(), expect);

    // Sign.
    let hmac = plain_mech(CKM_SHA256_HMAC);
    let tag = raw.sign(&s, &hmac, mac, &data).unwrap();
    assert_eq!(init("sign", &s, &hmac, kh(mac)), CKR_OK);
    raw.sign_update(&s, &data[..5]).unwrap();
    let mut d = data.clone();
    let mut out = vec![0u8; 32];
    let mut n: CK_ULONG = 32;
    let rv = call_strict!(
        f(),
        C_Sign,
        hs(&s),
        d.as_mut_ptr(),
        ulen(d.len()),
        out.as_mut_ptr(),
        &mut n
    );
    assert_eq!(rv, CKR_OPERATION_ACTIVE);
    raw.sign_update(&s, &data[5..]).unwrap();
    assert_eq!(raw.sign_final(&s).unwrap(), tag);

    // Verify.
    assert_eq!(init("verify", &s, &hmac, kh(mac)), CKR_OK);
    raw.verify_update(&s, &data[..5]).unwrap();
    let mut d = data.clone();
    let mut t = tag.clone();
    let rv = call_strict!(
        f(),
        C_Verify,
        hs(&s),
        d.as_mut_ptr(),
        ulen(d.len()),
        t.as_mut_ptr(),
        ulen(t.len())
    );
    assert_eq!(rv, CKR_OPERATION_ACTIVE);
    raw.verify_update(&s, &data[5..]).unwrap();
    assert_eq!(raw.verify_final(&s, &tag), Ok(()));
}

fn plain_mech(m: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    plain(m)
}

/// The operation `op` is gone: a new `Init` works. The new one is ended
/// again with a null output-length pointer (which must end it too: the next
/// `ended` or `Init` of the test would find it otherwise).
fn ended(op: &str, s: &Session, m: &CK_MECHANISM, k: CK_OBJECT_HANDLE) {
    assert_eq!(
        init(op, s, m, k),
        CKR_OK,
        "{op}: the operation was not ended"
    );
    let h = hs(s);
    let mut d = [1u8; 16];
    let (dp, dl) = (d.as_mut_ptr(), 16);
    let null = ptr::null_mut::<u8>();
    let rv = match op {
        "encrypt" => call_strict!(f(), C_Encrypt, h, dp, dl, null, ptr::null_mut()),
        "decrypt" => call_strict!(f(), C_Decrypt, h, dp, dl, null, ptr::null_mut()),
        "digest" => call_strict!(f(), C_Digest, h, dp, dl, null, ptr::null_mut()),
        "sign" => call_strict!(f(), C_Sign, h, dp, dl, null, ptr::null_mut()),
        "verify" => call_strict!(f(), C_Verify, h, dp, dl, null, 32),
        _ => unreachable!(),
    };
    assert_eq!(rv, CKR_ARGUMENTS_BAD, "{op}");
}

#[test]
fn a_null_pointer_ends_the_operation() {
    let (_ctx, s, aes, mac) = setup();
    let data = pattern(32);
    let h = hs(&s);
    let null = ptr::null_mut::<u8>();
    let mut d = data.clone();
    let dp = d.as_mut_ptr();
    let dl = ulen(d.len());
    let hmac = plain(CKM_SHA256_HMAC);
    let sha = plain(CKM_SHA256);

    // C_Encrypt without pulEncryptedDataLen.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    assert_eq!(
        call_strict!(f(), C_Encrypt, h, dp, dl, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        encrypt(&s, &data, Some(64)).0,
        CKR_OPERATION_NOT_INITIALIZED
    );
    // C_EncryptUpdate with a null pPart of non-zero length.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    let mut n: CK_ULONG = 64;
    let mut out = vec![0u8; 64];
    assert_eq!(
        call_strict!(f(), C_EncryptUpdate, h, null, 16, out.as_mut_ptr(), &mut n),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        encrypt(&s, &data, Some(64)).0,
        CKR_OPERATION_NOT_INITIALIZED
    );
    // C_EncryptFinal without its length pointer, after an update.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    assert_eq!(encrypt_update(&s, &data[..16]).0, CKR_OK);
    assert_eq!(
        call_strict!(f(), C_EncryptFinal, h, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    assert_eq!(
        encrypt_update(&s, &data[..16]).0,
        CKR_OPERATION_NOT_INITIALIZED
    );

    // C_DecryptUpdate and C_DecryptFinal.
    assert_eq!(init("decrypt", &s, &cbc(), kh(aes)), CKR_OK);
    let mut n: CK_ULONG = 64;
    assert_eq!(
        call_strict!(f(), C_DecryptUpdate, h, null, 16, out.as_mut_ptr(), &mut n),
        CKR_ARGUMENTS_BAD
    );
    ended("decrypt", &s, &cbc(), kh(aes));
    assert_eq!(
        call_strict!(f(), C_DecryptFinal, h, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    ended("decrypt", &s, &cbc(), kh(aes));
    assert_eq!(
        call_strict!(f(), C_Decrypt, h, dp, dl, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    ended("decrypt", &s, &cbc(), kh(aes));

    // Digest: C_DigestUpdate with a null pPart, C_Digest without its length.
    assert_eq!(init("digest", &s, &sha, 0), CKR_OK);
    assert_eq!(
        call_strict!(f(), C_DigestUpdate, h, null, 4),
        CKR_ARGUMENTS_BAD
    );
    ended("digest", &s, &sha, 0);
    assert_eq!(init("digest", &s, &sha, 0), CKR_OK);
    assert_eq!(
        call_strict!(f(), C_Digest, h, dp, dl, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    ended("digest", &s, &sha, 0);

    // Sign: C_SignUpdate with a null pPart, C_SignFinal and C_Sign without lengths.
    assert_eq!(init("sign", &s, &hmac, kh(mac)), CKR_OK);
    assert_eq!(
        call_strict!(f(), C_SignUpdate, h, null, 4),
        CKR_ARGUMENTS_BAD
    );
    ended("sign", &s, &hmac, kh(mac));
    assert_eq!(
        call_strict!(f(), C_SignFinal, h, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    ended("sign", &s, &hmac, kh(mac));
    assert_eq!(
        call_strict!(f(), C_Sign, h, dp, dl, null, ptr::null_mut()),
        CKR_ARGUMENTS_BAD
    );
    ended("sign", &s, &hmac, kh(mac));

    // Verify: a null signature of non-zero length, a null pPart.
    assert_eq!(init("verify", &s, &hmac, kh(mac)), CKR_OK);
    assert_eq!(
        call_strict!(f(), C_Verify, h, dp, dl, null, 32),
        CKR_ARGUMENTS_BAD
    );
    ended("verify", &s, &hmac, kh(mac));
    assert_eq!(
        call_strict!(f(), C_VerifyUpdate, h, null, 4),
        CKR_ARGUMENTS_BAD
    );
    ended("verify", &s, &hmac, kh(mac));
    assert_eq!(
        call_strict!(f(), C_VerifyFinal, h, null, 32),
        CKR_ARGUMENTS_BAD
    );
    ended("verify", &s, &hmac, kh(mac));
    // The last `ended` left no verification behind.
    assert_eq!(init("verify", &s, &hmac, kh(mac)), CKR_OK);
}

#[test]
fn other_errors_end_the_operation_and_buffer_too_small_does_not() {
    let (_ctx, s, aes, mac) = setup();
    let data = pattern(32);
    let raw = raw();
    let whole = raw.encrypt(&s, &cbc(), aes, &data).unwrap();

    // CKR_BUFFER_TOO_SMALL and a length query keep it.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    assert_eq!(encrypt(&s, &data, None).0, CKR_OK);
    assert_eq!(encrypt(&s, &data, Some(8)).0, CKR_BUFFER_TOO_SMALL);
    assert_eq!(encrypt(&s, &data, Some(64)), (CKR_OK, whole.clone()));
    // Done: a successful call ended it.
    assert_eq!(
        encrypt(&s, &data, Some(64)).0,
        CKR_OPERATION_NOT_INITIALIZED
    );

    // A length not a multiple of the block: CKR_DATA_LEN_RANGE ends it.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    assert_eq!(encrypt(&s, &data[..15], Some(64)).0, CKR_DATA_LEN_RANGE);
    assert_eq!(
        encrypt(&s, &data, Some(64)).0,
        CKR_OPERATION_NOT_INITIALIZED
    );
    // The same from C_EncryptFinal.
    assert_eq!(init("encrypt", &s, &cbc(), kh(aes)), CKR_OK);
    assert_eq!(encrypt_update(&s, &data[..15]).0, CKR_OK);
    assert_eq!(raw.encrypt_final(&s), Err(CKR_DATA_LEN_RANGE));
    assert_eq!(encrypt_update(&s, &data).0, CKR_OPERATION_NOT_INITIALIZED);

    // A bad signature ends the verification.
    let hmac = plain(CKM_SHA256_HMAC);
    assert_eq!(init("verify", &s, &hmac, kh(mac)), CKR_OK);
    raw.verify_update(&s, &data).unwrap();
    assert_eq!(raw.verify_final(&s, &[0u8; 32]), Err(CKR_SIGNATURE_INVALID));
    assert_eq!(
        raw.verify_update(&s, &data),
        Err(CKR_OPERATION_NOT_INITIALIZED)
    );
}
