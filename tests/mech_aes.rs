//! AES (PKCS#11 3.0 §2.11, §2.14) through the built module: SP 800-38A
//! ECB/CBC/CBC-PAD/CTR, GCM (McGrew–Viega and a Wycheproof subset with invalid
//! tags), KW (RFC 3394) and KWP (RFC 5649) both through C_Encrypt and through
//! C_WrapKey/C_UnwrapKey, and message-based GCM (§5.13–5.14). Known keys are
//! imported with C_CreateObject so the vectors apply.

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::{Mechanism, MessageParam};
use cryptoki::object::{Attribute, KeyType};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

/// The existing SP 800-38A / GCM / RFC 3394 / RFC 5649 table.
fn sym_rows() -> Vec<Vec<String>> {
    table("sym-aes.txt")
}

/// Runs a block/stream mode row through the raw path (CTR) or cryptoki (the rest).
fn cipher(
    s: &Session,
    raw: &Raw,
    mode: &str,
    key: &[u8],
    param: &str,
    input: &[u8],
    enc: bool,
) -> Vec<u8> {
    let k = aes_key(s, key);
    match mode {
        "ECB" | "CBC" | "CBC_PAD" => {
            let iv: [u8; 16] = if mode == "ECB" {
                [0; 16]
            } else {
                h(param).try_into().expect("iv")
            };
            let m = match mode {
                "ECB" => Mechanism::AesEcb,
                "CBC" => Mechanism::AesCbc(iv),
                _ => Mechanism::AesCbcPad(iv),
            };
            if enc {
                s.encrypt(&m, k, input)
            } else {
                s.decrypt(&m, k, input)
            }
            .expect(mode)
        }
        "CTR" => {
            let p = CK_AES_CTR_PARAMS {
                ulCounterBits: 128,
                cb: h(param).try_into().expect("cb"),
            };
            let m = mech(CKM_AES_CTR, Some(&p));
            if enc {
                raw.encrypt(s, &m, k, input)
            } else {
                raw.decrypt(s, &m, k, input)
            }
            .expect("ctr")
        }
        "GCM" => {
            let f: Vec<&str> = param.split(';').collect();
            let mut iv = h(f[0]);
            let aad = hd(if f[1].is_empty() { "-" } else { f[1] });
            let bits: u64 = f[2].parse().expect("bits");
            let m = Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, bits.into()).expect("gcm"));
            if enc {
                s.encrypt(&m, k, input)
            } else {
                s.decrypt(&m, k, input)
            }
            .expect("gcm")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn sp800_38a_and_gcm_vectors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let mut n = 0;
    for r in sym_rows().iter().filter(|r| !r[0].starts_with("KW")) {
        let (key, input, output) = (h(&r[1]), h(&r[3]), h(&r[4]));
        assert_eq!(
            cipher(&s, &raw, &r[0], &key, &r[2], &input, true),
            output,
            "{} enc {}",
            r[0],
            r[1]
        );
        assert_eq!(
            cipher(&s, &raw, &r[0], &key, &r[2], &output, false),
            input,
            "{} dec {}",
            r[0],
            r[1]
        );
        n += 1;
    }
    assert!(n >= 15, "{n} rows");
    // CBC_PAD of the SP 800-38A plaintext adds one full block of 0x10.
    let key = h("2b7e151628aed2a6abf7158809cf4f3c");
    let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f")
        .try_into()
        .expect("iv");
    let pt = h("6bc1bee22e409f96e93d7e117393172a");
    let k = aes_key(&s, &key);
    let ct = s.encrypt(&Mechanism::AesCbcPad(iv), k, &pt).expect("enc");
    assert_eq!(hx(&ct[..16]), "7649abac8119b246cee98e9b12e9197d");
    assert_eq!(ct.len(), 32);
    assert_eq!(
        s.decrypt(&Mechanism::AesCbcPad(iv), k, &ct).expect("dec"),
        pt
    );
    // A tampered last block breaks the padding.
    let mut bad = ct.clone();
    bad[31] ^= 0x55;
    let r = s.decrypt(&Mechanism::AesCbcPad(iv), k, &bad);
    assert_eq!(rv(r), RvError::EncryptedDataInvalid);
    // ECB/CBC need whole blocks.
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesEcb, k, &[0; 15])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbc(iv), k, &[0; 17])),
        RvError::EncryptedDataLenRange
    );
}

#[test]
fn wycheproof_gcm_subset() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("so-wycheproof-aes-gcm.json");
    let tests = v["tests"].as_array().expect("tests");
    assert!(tests.len() >= 40);
    let (mut valid, mut invalid) = (0, 0);
    for t in tests {
        let id = &t["tcId"];
        let k = aes_key(&s, &h(js(t, "key")));
        let (mut iv, aad, msg) = (h(js(t, "iv")), h(js(t, "aad")), h(js(t, "msg")));
        let ct_tag = [h(js(t, "ct")), h(js(t, "tag"))].concat();
        let mut iv2 = iv.clone();
        let dm = Mechanism::AesGcm(GcmParams::new(&mut iv2, &aad, 128.into()).expect("p"));
        if js(t, "result") == "valid" {
            let em = Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).expect("p"));
            assert_eq!(s.encrypt(&em, k, &msg).expect("enc"), ct_tag, "tcId {id}");
            assert_eq!(s.decrypt(&dm, k, &ct_tag).expect("dec"), msg, "tcId {id}");
            valid += 1;
        } else {
            assert_eq!(
                rv(s.decrypt(&dm, k, &ct_tag)),
                RvError::EncryptedDataInvalid,
                "tcId {id}"
            );
            invalid += 1;
        }
    }
    assert!(
        valid >= 20 && invalid >= 20,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn kw_and_kwp_encrypt_and_wrap() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let mut n = 0;
    for r in sym_rows().iter().filter(|r| r[0].starts_with("KW")) {
        let (kek, input, output) = (h(&r[1]), h(&r[3]), h(&r[4]));
        let iv = hd(&r[2]);
        let ty = if r[0] == "KW" {
            CKM_AES_KEY_WRAP
        } else {
            CKM_AES_KEY_WRAP_KWP
        };
        let m = if iv.is_empty() {
            plain(ty)
        } else {
            CK_MECHANISM {
                mechanism: ty,
                pParameter: iv.as_ptr() as *mut _,
                ulParameterLen: iv.len() as CK_ULONG,
            }
        };
        let w = aes_key(&s, &kek);
        // Through C_Encrypt/C_Decrypt (the mechanisms advertise CKF_ENCRYPT/CKF_DECRYPT).
        assert_eq!(
            raw.encrypt(&s, &m, w, &input).expect("encrypt"),
            output,
            "{} {}",
            r[0],
            r[1]
        );
        assert_eq!(
            raw.decrypt(&s, &m, w, &output).expect("decrypt"),
            input,
            "{} {}",
            r[0],
            r[1]
        );
        // Through C_WrapKey/C_UnwrapKey of a key whose value is the plaintext.
        let target = secret_key(
            &s,
            KeyType::GENERIC_SECRET,
            &input,
            &[Attribute::Extractable(true), Attribute::Sensitive(false)],
        );
        assert_eq!(
            raw.wrap_key(&s, &m, w, target).expect("wrap"),
            output,
            "{} wrap",
            r[0]
        );
        let u = raw
            .unwrap_secret(&s, &m, w, &output, CKK_GENERIC_SECRET)
            .expect("unwrap");
        assert_eq!(value_of(&s, u), input);
        // A modified wrapping fails authentication.
        let mut bad = output.clone();
        bad[0] ^= 1;
        assert_eq!(
            raw.decrypt(&s, &m, w, &bad),
            Err(CKR_ENCRYPTED_DATA_INVALID),
            "{}",
            r[0]
        );
        let e = raw.unwrap_secret(&s, &m, w, &bad, CKK_GENERIC_SECRET);
        assert!(
            matches!(
                e,
                Err(CKR_WRAPPED_KEY_INVALID) | Err(CKR_ENCRYPTED_DATA_INVALID)
            ),
            "{} tampered unwrap: {e:?}",
            r[0]
        );
        n += 1;
    }
    assert!(n >= 5);
    // The typed cryptoki mechanisms wrap an AES key (RFC 3394 §4.1).
    let w = aes_key(&s, &h("000102030405060708090a0b0c0d0e0f"));
    let target = secret_key(
        &s,
        KeyType::AES,
        &h("00112233445566778899aabbccddeeff"),
        &[Attribute::Extractable(true)],
    );
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, w, target).expect("wrap");
    assert_eq!(
        hx(&wrapped),
        "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"
    );
    let tmpl = [
        Attribute::Class(cryptoki::object::ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Extractable(true),
        Attribute::Sensitive(false),
        Attribute::Encrypt(true),
    ];
    let u = s
        .unwrap_key(&Mechanism::AesKeyWrap, w, &wrapped, &tmpl)
        .expect("unwrap");
    assert_eq!(hx(&value_of(&s, u)), "00112233445566778899aabbccddeeff");
    // cryptoki's `AesKeyWrapPad` is CKM_AES_KEY_WRAP_PAD (0x210A, PKCS#7 then KW),
    // which SoftKMS does not advertise; RFC 5649 is CKM_AES_KEY_WRAP_KWP (raw path above).
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, w, target)),
        RvError::MechanismInvalid
    );
}

#[test]
fn message_based_gcm() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    // McGrew–Viega test case 4 (AES-128, 96-bit IV, AAD).
    let k = aes_key(&s, &h("feffe9928665731c6d6a8f9467308308"));
    let pt = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let want_ct = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
    let want_tag = "5bc94fbc3221a5db94fae95ae7121a47";
    let mut iv0 = h("cafebabefacedbaddecaf888");
    let mut tag0 = [0u8; 16];
    let init = Mechanism::AesGcmMessage(
        GcmMessageParams::new(&mut iv0, 0.into(), GeneratorFunction::NoGenerate, &mut tag0)
            .expect("p"),
    );
    s.message_encrypt_init(&init, k)
        .expect("message encrypt init");
    let mut iv = h("cafebabefacedbaddecaf888");
    let mut tag = [0u8; 16];
    let p = GcmMessageParams::new(&mut iv, 0.into(), GeneratorFunction::NoGenerate, &mut tag)
        .expect("p");
    let ct = s
        .encrypt_message(&MessageParam::AesGcmMessage(p), &aad, &pt)
        .expect("encrypt message");
    assert_eq!(hx(&ct), want_ct);
    assert_eq!(hx(&tag), want_tag);
    // A second message under the same init, generated counter IV.
    let mut iv2 = [0u8; 12];
    let mut tag2 = [0u8; 16];
    let p2 = GcmMessageParams::new(
        &mut iv2,
        64.into(),
        GeneratorFunction::GenerateCounter,
        &mut tag2,
    )
    .expect("p");
    let ct2 = s
        .encrypt_message(&MessageParam::AesGcmMessage(p2), b"", b"second")
        .expect("second message");
    let mut iv3 = [0u8; 12];
    let mut tag3 = [0u8; 16];
    let p3 = GcmMessageParams::new(
        &mut iv3,
        64.into(),
        GeneratorFunction::GenerateCounter,
        &mut tag3,
    )
    .expect("p");
    s.encrypt_message(&MessageParam::AesGcmMessage(p3), b"", b"third")
        .expect("third message");
    s.message_encrypt_final().expect("final");
    assert_ne!(iv2, iv3, "each generated IV is new");
    assert_eq!(iv2[..8], iv3[..8], "the fixed part is kept");

    s.message_decrypt_init(&init, k)
        .expect("message decrypt init");
    let mut iv = h("cafebabefacedbaddecaf888");
    let mut tag = h(want_tag);
    let p = GcmMessageParams::new(&mut iv, 0.into(), GeneratorFunction::NoGenerate, &mut tag)
        .expect("p");
    assert_eq!(
        s.decrypt_message(&MessageParam::AesGcmMessage(p), &aad, &ct)
            .expect("decrypt"),
        pt
    );
    let mut ivb = iv2;
    let mut tagb = tag2;
    let p = GcmMessageParams::new(
        &mut ivb,
        64.into(),
        GeneratorFunction::NoGenerate,
        &mut tagb,
    )
    .expect("p");
    assert_eq!(
        s.decrypt_message(&MessageParam::AesGcmMessage(p), b"", &ct2)
            .expect("decrypt 2"),
        b"second"
    );
    // A wrong tag.
    let mut iv = h("cafebabefacedbaddecaf888");
    let mut tag = h(want_tag);
    tag[15] ^= 1;
    let p = GcmMessageParams::new(&mut iv, 0.into(), GeneratorFunction::NoGenerate, &mut tag)
        .expect("p");
    // PKCS#11 3.0 §5.14.3: a message that fails authentication is CKR_AEAD_DECRYPT_FAILED
    // (cryptoki 0.12 has no name for it).
    assert_eq!(
        rv(s.decrypt_message(&MessageParam::AesGcmMessage(p), &aad, &ct)),
        RvError::UnknownErrorCode(CKR_AEAD_DECRYPT_FAILED)
    );
    s.message_decrypt_final().expect("final");
}

/// AES-192 in every mode AES-128 and AES-256 work in: a generated 24-byte key
/// round-trips through ECB, CBC, CBC-PAD, CTR and GCM, signs with CMAC, wraps
/// with KW and KWP, and message-based GCM gives McGrew–Viega test case 11.
/// (The known answers of each mode with AES-192 are rows of `sym-aes.txt` and
/// `so-mac.txt`.)
#[test]
fn aes192_everywhere() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let raw = raw();
    let k = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(24.into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Sign(true),
                Attribute::Verify(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
        .expect("AES-192 key generation");
    let got = s
        .get_attributes(k, &[cryptoki::object::AttributeType::ValueLen])
        .expect("len");
    assert_eq!(got, vec![Attribute::ValueLen(24.into())]);
    let pt = pattern(64);
    let iv = [7u8; 16];
    for m in [
        Mechanism::AesEcb,
        Mechanism::AesCbc(iv),
        Mechanism::AesCbcPad(iv),
    ] {
        let ct = s.encrypt(&m, k, &pt).expect("encrypt");
        assert_ne!(ct[..16], pt[..16]);
        assert_eq!(s.decrypt(&m, k, &ct).expect("decrypt"), pt);
    }
    let ctr = mech(
        CKM_AES_CTR,
        Some(&CK_AES_CTR_PARAMS {
            ulCounterBits: 32,
            cb: [1; 16],
        }),
    );
    let ct = raw.encrypt(&s, &ctr, k, &pt).expect("ctr");
    assert_eq!(raw.decrypt(&s, &ctr, k, &ct).expect("ctr"), pt);
    for iv_len in [12, 16] {
        let mut giv = vec![9u8; iv_len];
        let m = Mechanism::AesGcm(GcmParams::new(&mut giv, b"aad", 128.into()).expect("gcm"));
        let ct = s.encrypt(&m, k, &pt).expect("gcm encrypt");
        assert_eq!(s.decrypt(&m, k, &ct).expect("gcm decrypt"), pt);
    }
    let mac = s.sign(&Mechanism::AesCMac, k, &pt).expect("cmac");
    s.verify(&Mechanism::AesCMac, k, &pt, &mac)
        .expect("cmac verify");
    let target = secret_key(
        &s,
        KeyType::GENERIC_SECRET,
        &pattern(32),
        &[Attribute::Extractable(true)],
    );
    for m in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP] {
        let wrapped = raw.wrap_key(&s, &plain(m), k, target).expect("wrap");
        let back = raw
            .unwrap_secret(&s, &plain(m), k, &wrapped, CKK_GENERIC_SECRET)
            .expect("unwrap");
        assert_eq!(value_of(&s, back), pattern(32), "{m:#x}");
    }
    // Message-based GCM, McGrew–Viega test case 11 (AES-192).
    let k = aes_key(&s, &h("feffe9928665731c6d6a8f9467308308feffe9928665731c"));
    let pt = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let mut iv0 = h("cafebabefacedbaddecaf888");
    let mut tag0 = [0u8; 16];
    let init = Mechanism::AesGcmMessage(
        GcmMessageParams::new(&mut iv0, 0.into(), GeneratorFunction::NoGenerate, &mut tag0)
            .expect("p"),
    );
    s.message_encrypt_init(&init, k).expect("init");
    let mut iv = h("cafebabefacedbaddecaf888");
    let mut tag = [0u8; 16];
    let p = GcmMessageParams::new(&mut iv, 0.into(), GeneratorFunction::NoGenerate, &mut tag)
        .expect("p");
    let ct = s
        .encrypt_message(&MessageParam::AesGcmMessage(p), &aad, &pt)
        .expect("encrypt message");
    s.message_encrypt_final().expect("final");
    assert_eq!(hx(&ct), "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710");
    assert_eq!(hx(&tag), "2519498e80f1478f37ba55bd6d27618c");
}
