//! Operation rules common to every mechanism.

use super::*;

/// Operation rules common to every mechanism (§5.8–§5.15), run with the first
/// advertised mechanism that fits.
pub(super) fn common(r: &mut Runner, env: &Env) {
    let has = |t| env.mechs.contains(&t);
    let skip = |r: &mut Runner, id: &str, sec: &str, why: &str| {
        r.record(id, sec, Outcome::Skip(why.into()))
    };
    for (op, name, sec) in [
        (Op::Encrypt, "C_Encrypt", "§5.8"),
        (Op::Decrypt, "C_Decrypt", "§5.10"),
        (Op::Sign, "C_Sign", "§5.13"),
        (Op::Digest, "C_Digest", "§5.12"),
    ] {
        r.case(&format!("ops.{name}.not-initialized"), sec, env, |m, e| {
            let s = t!(m.open(e.slot, false), "C_OpenSession");
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_single(op, s, b"data").err().unwrap_or(CKR_OK),
            )
        });
        r.case(
            &format!("ops.{name}Final.not-initialized"),
            sec,
            env,
            |m, e| {
                let s = t!(m.open(e.slot, false), "C_OpenSession");
                let mut n: CK_ULONG = 0;
                expect_rv(
                    &[CKR_OPERATION_NOT_INITIALIZED],
                    m.op_final_raw(op, s, None, &mut n),
                )
            },
        );
    }
    r.case("ops.C_Verify.not-initialized", "§5.15", env, |m, e| {
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        expect_rv(
            &[CKR_OPERATION_NOT_INITIALIZED],
            m.verify(s, b"data", b"sig"),
        )
    });
    r.case("ops.invalid-mechanism", "§5.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
        expect_rv(
            &[CKR_MECHANISM_INVALID],
            m.op_init(Op::Encrypt, s, &Mech::new(0x7FFF_0000), k),
        )
    });
    r.case("ops.invalid-key-handle", "§5.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let mech = if has(CKM_AES_CBC_PAD) {
            Mech::with_bytes(CKM_AES_CBC_PAD, &IV16)
        } else {
            Mech::new(CKM_AES_ECB)
        };
        expect_rv(
            &[CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID],
            m.op_init(Op::Encrypt, s, &mech, 0x7FFF_FFF0),
        )
    });
    if has(CKM_AES_CBC_PAD) {
        let mech = || Mech::with_bytes(CKM_AES_CBC_PAD, &IV16);
        r.case("ops.key-function-not-permitted", "§5.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(
                m.set(s, k, &Template::new().flag(CKA_ENCRYPT, false)),
                "C_SetAttributeValue(CKA_ENCRYPT=FALSE)"
            );
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Encrypt, s, &mech(), k),
            )
        });
        r.case("ops.error-ends-operation", "§5.8", env, |m, e| {
            // A call that fails for a reason other than CKR_BUFFER_TOO_SMALL ends the operation.
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(m.op_init(Op::Decrypt, s, &mech(), k), "C_DecryptInit");
            let rv = crate::rv_of(&m.op_single(Op::Decrypt, s, &[0u8; 15]));
            ensure!(
                rv != CKR_OK,
                "expected decrypting 15 bytes with CBC-PAD to fail"
            );
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_single(Op::Decrypt, s, &[0u8; 16])
                    .err()
                    .unwrap_or(CKR_OK),
            )
        });
        r.case("ops.single-part-ends-operation", "§5.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            t!(m.run(Op::Encrypt, s, &mech(), k, b"data"), "C_Encrypt");
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_single(Op::Encrypt, s, b"data").err().unwrap_or(CKR_OK),
            )
        });
        r.case("ops.length-query-keeps-operation", "§5.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(m.op_init(Op::Encrypt, s, &mech(), k), "C_EncryptInit");
            let mut n: CK_ULONG = 0;
            ok!(
                m.op_single_raw(Op::Encrypt, s, b"data", None, &mut n),
                "C_Encrypt(NULL)"
            );
            ensure!(n >= 16, "expected a length of at least 16, got {n}");
            let mut out = vec![0u8; n as usize];
            ok!(
                m.op_single_raw(Op::Encrypt, s, b"data", Some(&mut out), &mut n),
                "C_Encrypt after the length query"
            );
            check(n == 16, || format!("expected 16 bytes, got {n}"))
        });
        r.case("ops.different-operations-coexist", "§5.12", env, |m, e| {
            // A session may hold one operation of each kind (digest and encrypt here).
            if !e.mechs.contains(&CKM_SHA256) {
                return Outcome::Skip("CKM_SHA256 not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[1u8; 16]), "C_CreateObject");
            ok!(m.op_init(Op::Encrypt, s, &mech(), k), "C_EncryptInit");
            let rv = m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0);
            expect_rv(&[CKR_OK, CKR_OPERATION_ACTIVE], rv)
        });
    } else {
        for id in [
            "ops.key-function-not-permitted",
            "ops.error-ends-operation",
            "ops.single-part-ends-operation",
            "ops.length-query-keeps-operation",
            "ops.different-operations-coexist",
        ] {
            skip(r, id, "§5.8", "CKM_AES_CBC_PAD not advertised");
        }
    }
    r.case("ops.digest-key", "§5.12", env, |m, e| {
        if !e.mechs.contains(&CKM_SHA256) {
            return Outcome::Skip("CKM_SHA256 not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let k = t!(secret(m, s, CKK_GENERIC_SECRET, b"abc"), "C_CreateObject");
        ok!(
            m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0),
            "C_DigestInit"
        );
        let rv = p11_testkit::call!(m.f, C_DigestKey, s, k);
        if rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_KEY_INDIGESTIBLE {
            return Outcome::Skip(format!("C_DigestKey: {}", rv_name(rv)));
        }
        ensure!(
            rv == CKR_OK,
            "C_DigestKey: expected CKR_OK, got {}",
            rv_name(rv)
        );
        let mut n: CK_ULONG = 32;
        let mut out = [0u8; 32];
        ok!(
            m.op_final_raw(Op::Digest, s, Some(&mut out), &mut n),
            "C_DigestFinal"
        );
        check(out.to_vec() == hx(ABC_SHA256), || {
            "expected SHA-256 of the key value".into()
        })
    });
}
