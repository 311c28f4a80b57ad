//! Functions a safe wrapper rarely reaches: operation state (§5.6.6, §5.6.7),
//! sign/verify with recovery (§5.13.5–§5.15.6), dual-function operations
//! (§5.17), CKA_UNIQUE_ID (3.0, §4.4), and the end of multi-part operations.
//! An optional function a module does not support is skipped, not failed.

use crate::mechs::{rsa_pair, secret};
use crate::{check, ensure, expect_rv, ok, t, Env, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, rv_name, Mech, Module, Op, Template};
use std::ptr::null_mut as nul;

fn user(m: &Module, e: &Env) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let s = m.open(e.slot, true)?;
    let rv = m.login(s, CKU_USER, &e.pin);
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(s)
}

fn data(label: &str) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .flag(CKA_TOKEN, false)
        .flag(CKA_PRIVATE, false)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, b"x")
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    r.group("more", |r, env| {
        state(r, env);
        recover(r, env);
        dual(r, env);
        unique_id(r, env);
        endings(r, env);
    });
}

fn state(r: &mut Runner, env: &Env) {
    r.case("operation-state.digest-resume", "§5.6.7", env, |m, e| {
        if !e.mechs.contains(&CKM_SHA256) {
            return Outcome::Skip("CKM_SHA256 not advertised".into());
        }
        let a = t!(m.open(e.slot, false), "C_OpenSession");
        ok!(
            m.op_init(Op::Digest, a, &Mech::new(CKM_SHA256), 0),
            "C_DigestInit"
        );
        t!(m.op_update(Op::Digest, a, b"ab"), "C_DigestUpdate");
        let mut n: CK_ULONG = 0;
        let rv = call!(m.f, C_GetOperationState, a, nul(), &mut n);
        if rv == CKR_FUNCTION_NOT_SUPPORTED || rv == CKR_STATE_UNSAVEABLE {
            return Outcome::Skip(format!("C_GetOperationState: {}", rv_name(rv)));
        }
        ensure!(
            rv == CKR_OK && n > 0,
            "length query: expected CKR_OK and a length, got {} and {n}",
            rv_name(rv)
        );
        let mut st = vec![0u8; n as usize];
        ok!(
            call!(m.f, C_GetOperationState, a, st.as_mut_ptr(), &mut n),
            "C_GetOperationState"
        );
        st.truncate(n as usize);
        let b = t!(m.open(e.slot, false), "C_OpenSession");
        ok!(
            call!(
                m.f,
                C_SetOperationState,
                b,
                st.as_mut_ptr(),
                st.len() as CK_ULONG,
                0,
                0
            ),
            "C_SetOperationState"
        );
        t!(m.op_update(Op::Digest, b, b"c"), "C_DigestUpdate (resumed)");
        let mut out = [0u8; 32];
        let mut len: CK_ULONG = 32;
        ok!(
            m.op_final_raw(Op::Digest, b, Some(&mut out), &mut len),
            "C_DigestFinal (resumed)"
        );
        check(
            out.to_vec()
                == crate::mechs::hx(
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                ),
            || "expected SHA-256(\"abc\") from the resumed state".into(),
        )
    });
    r.case("operation-state.no-operation", "§5.6.6", env, |m, e| {
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        let mut n: CK_ULONG = 0;
        let rv = call!(m.f, C_GetOperationState, s, nul(), &mut n);
        if rv == CKR_FUNCTION_NOT_SUPPORTED {
            return Outcome::Skip("C_GetOperationState not supported".into());
        }
        // With nothing active there is no state to save (or an empty one).
        expect_rv(
            &[CKR_OPERATION_NOT_INITIALIZED, CKR_STATE_UNSAVEABLE, CKR_OK],
            rv,
        )
    });
    r.case("operation-state.set-garbage", "§5.6.7", env, |m, e| {
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        let mut junk = [0x5au8; 24];
        let rv = call!(m.f, C_SetOperationState, s, junk.as_mut_ptr(), 24, 0, 0);
        if rv == CKR_FUNCTION_NOT_SUPPORTED {
            return Outcome::Skip("C_SetOperationState not supported".into());
        }
        expect_rv(&[CKR_SAVED_STATE_INVALID], rv)
    });
}

fn recover(r: &mut Runner, env: &Env) {
    let advertised = env.mechs.contains(&CKM_RSA_PKCS)
        && r.m
            .mech_info(env.slot, CKM_RSA_PKCS)
            .is_ok_and(|i| i.flags & CKF_SIGN_RECOVER != 0);
    r.case("ops.sign-recover.round-trip", "§5.13.6", env, |m, e| {
        if !advertised {
            return Outcome::Skip("CKM_RSA_PKCS not advertised with CKF_SIGN_RECOVER".into());
        }
        let s = t!(user(m, e), "open+login");
        let (p, q) = t!(rsa_pair(m, s), "importing the RSA key");
        let mm = Mech::new(CKM_RSA_PKCS);
        let mut raw = mm.raw();
        ok!(
            call!(m.f, C_SignRecoverInit, s, &mut raw, q),
            "C_SignRecoverInit"
        );
        let mut msg = *b"recoverable message";
        let mut sig = vec![0u8; 256];
        let mut n: CK_ULONG = 256;
        ok!(
            call!(
                m.f,
                C_SignRecover,
                s,
                msg.as_mut_ptr(),
                msg.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut n
            ),
            "C_SignRecover"
        );
        let mut raw = mm.raw();
        ok!(
            call!(m.f, C_VerifyRecoverInit, s, &mut raw, p),
            "C_VerifyRecoverInit"
        );
        let mut out = vec![0u8; 256];
        let mut on: CK_ULONG = 256;
        ok!(
            call!(
                m.f,
                C_VerifyRecover,
                s,
                sig.as_mut_ptr(),
                n,
                out.as_mut_ptr(),
                &mut on
            ),
            "C_VerifyRecover"
        );
        out.truncate(on as usize);
        check(out == msg, || {
            "expected the message recovered from the signature".into()
        })
    });
    r.case(
        "ops.sign-recover.not-advertised",
        "§5.13.5",
        env,
        |m, e| {
            if advertised {
                return Outcome::Skip("CKM_RSA_PKCS is advertised with CKF_SIGN_RECOVER".into());
            }
            if !e.mechs.contains(&CKM_SHA256_RSA_PKCS) {
                return Outcome::Skip("CKM_SHA256_RSA_PKCS not advertised".into());
            }
            // A mechanism without CKF_SIGN_RECOVER cannot start a sign-recover operation.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(rsa_pair(m, s), "importing the RSA key");
            let mm = Mech::new(CKM_SHA256_RSA_PKCS);
            let mut raw = mm.raw();
            expect_rv(
                &[
                    CKR_MECHANISM_INVALID,
                    CKR_FUNCTION_NOT_SUPPORTED,
                    CKR_KEY_FUNCTION_NOT_PERMITTED,
                ],
                call!(m.f, C_SignRecoverInit, s, &mut raw, q),
            )
        },
    );
}

fn dual(r: &mut Runner, env: &Env) {
    r.case("ops.digest-encrypt-update", "§5.17.1", env, |m, e| {
        if !e.mechs.contains(&CKM_SHA256) || !e.mechs.contains(&CKM_AES_ECB) {
            return Outcome::Skip("CKM_SHA256 or CKM_AES_ECB not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let k = t!(secret(m, s, CKK_AES, &[7u8; 16]), "C_CreateObject");
        ok!(
            m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0),
            "C_DigestInit"
        );
        let rv = m.op_init(Op::Encrypt, s, &Mech::new(CKM_AES_ECB), k);
        if rv == CKR_OPERATION_ACTIVE {
            return Outcome::Skip(
                "one operation per session (no concurrent digest and encrypt)".into(),
            );
        }
        ensure!(
            rv == CKR_OK,
            "C_EncryptInit: expected CKR_OK, got {}",
            rv_name(rv)
        );
        let mut d = [1u8; 32];
        let mut out = [0u8; 32];
        let mut n: CK_ULONG = 32;
        let rv = call!(
            m.f,
            C_DigestEncryptUpdate,
            s,
            d.as_mut_ptr(),
            32,
            out.as_mut_ptr(),
            &mut n
        );
        if rv == CKR_FUNCTION_NOT_SUPPORTED {
            return Outcome::Skip("C_DigestEncryptUpdate not supported".into());
        }
        ensure!(
            rv == CKR_OK,
            "C_DigestEncryptUpdate: expected CKR_OK, got {}",
            rv_name(rv)
        );
        let single = t!(
            m.run(Op::Encrypt, s, &Mech::new(CKM_AES_ECB), k, &[1u8; 32]),
            "C_Encrypt"
        );
        check(out[..n as usize] == single[..], || {
            "expected the same ciphertext as C_Encrypt".into()
        })
    });
    r.case("ops.dual-without-operations", "§5.17.1", env, |m, e| {
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        let mut d = [1u8; 16];
        let mut out = [0u8; 16];
        let mut n: CK_ULONG = 16;
        let rv = call!(
            m.f,
            C_DigestEncryptUpdate,
            s,
            d.as_mut_ptr(),
            16,
            out.as_mut_ptr(),
            &mut n
        );
        if rv == CKR_FUNCTION_NOT_SUPPORTED {
            return Outcome::Skip("C_DigestEncryptUpdate not supported".into());
        }
        expect_rv(&[CKR_OPERATION_NOT_INITIALIZED], rv)
    });
}

fn unique_id(r: &mut Runner, env: &Env) {
    let v3 = r.m.info().is_ok_and(|i| i.cryptokiVersion.major >= 3);
    let gate = move || {
        if v3 {
            None
        } else {
            Some(Outcome::Skip(
                "CKA_UNIQUE_ID is PKCS#11 3.0; the module reports 2.x".into(),
            ))
        }
    };
    r.case("create.unique-id-assigned", "§4.4", env, |m, e| {
        if let Some(o) = gate() {
            return o;
        }
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        let a = t!(m.create(s, &data("u1")), "C_CreateObject");
        let b = t!(m.create(s, &data("u2")), "C_CreateObject");
        let ua = t!(m.get(s, a, CKA_UNIQUE_ID), "CKA_UNIQUE_ID");
        let ub = t!(m.get(s, b, CKA_UNIQUE_ID), "CKA_UNIQUE_ID");
        check(!ua.is_empty() && ua != ub, || {
            "expected two non-empty, different CKA_UNIQUE_IDs".into()
        })
    });
    r.case("create.unique-id-read-only", "§4.4", env, |m, e| {
        if let Some(o) = gate() {
            return o;
        }
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        expect_rv(
            &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
            crate::rv_of(&m.create(s, &data("u").bytes(CKA_UNIQUE_ID, b"mine"))),
        )
    });
    r.case("set.unique-id-read-only", "§4.4", env, |m, e| {
        if let Some(o) = gate() {
            return o;
        }
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        let a = t!(m.create(s, &data("u")), "C_CreateObject");
        expect_rv(
            &[CKR_ATTRIBUTE_READ_ONLY],
            m.set(s, a, &Template::new().bytes(CKA_UNIQUE_ID, b"mine")),
        )
    });
    r.case("copy.unique-id-new", "§4.4", env, |m, e| {
        if let Some(o) = gate() {
            return o;
        }
        let s = t!(m.open(e.slot, false), "C_OpenSession");
        let a = t!(m.create(s, &data("u")), "C_CreateObject");
        let c = t!(m.copy(s, a, &Template::new()), "C_CopyObject");
        let ua = t!(m.get(s, a, CKA_UNIQUE_ID), "CKA_UNIQUE_ID");
        let uc = t!(m.get(s, c, CKA_UNIQUE_ID), "CKA_UNIQUE_ID");
        check(ua != uc, || {
            "expected the copy to get its own CKA_UNIQUE_ID".into()
        })
    });
}

/// `C_Encrypt` (or another single-part call of `op`) into a buffer of
/// `cap` bytes; `len_ptr` false passes a null `pul…Len` (`CKR_ARGUMENTS_BAD`).
fn single(
    m: &Module,
    op: Op,
    s: CK_SESSION_HANDLE,
    data: &[u8],
    cap: usize,
    len_ptr: bool,
) -> CK_RV {
    let mut d = data.to_vec();
    let mut out = vec![0u8; cap];
    let mut n = cap as CK_ULONG;
    let np: *mut CK_ULONG = if len_ptr { &mut n } else { nul() };
    let (dp, dl, op_) = (d.as_mut_ptr(), d.len() as CK_ULONG, out.as_mut_ptr());
    match op {
        Op::Encrypt => call!(m.f, C_Encrypt, s, dp, dl, op_, np),
        Op::Decrypt => call!(m.f, C_Decrypt, s, dp, dl, op_, np),
        Op::Digest => call!(m.f, C_Digest, s, dp, dl, op_, np),
        Op::Sign => call!(m.f, C_Sign, s, dp, dl, op_, np),
        Op::Verify => {
            let sp = if len_ptr { op_ } else { nul() };
            call!(m.f, C_Verify, s, dp, dl, sp, cap as CK_ULONG)
        }
    }
}

/// The §5 rules of one operation: a single-part call after an update is
/// `CKR_OPERATION_ACTIVE` and keeps the operation and its data; a null
/// length pointer (`CKR_ARGUMENTS_BAD`) ends it.
fn single_part_rules(r: &mut Runner, env: &Env) {
    // (case name, section, op, mechanism, key type, key length, input)
    let rows: [(&str, &str, Op, CK_MECHANISM_TYPE, CK_KEY_TYPE, usize); 5] = [
        ("encrypt", "§5.8.2", Op::Encrypt, CKM_AES_ECB, CKK_AES, 16),
        ("decrypt", "§5.10.2", Op::Decrypt, CKM_AES_ECB, CKK_AES, 16),
        ("digest", "§5.12.2", Op::Digest, CKM_SHA256, 0, 0),
        (
            "sign",
            "§5.13.2",
            Op::Sign,
            CKM_SHA256_HMAC,
            CKK_GENERIC_SECRET,
            32,
        ),
        (
            "verify",
            "§5.15.2",
            Op::Verify,
            CKM_SHA256_HMAC,
            CKK_GENERIC_SECRET,
            32,
        ),
    ];
    for (name, section, op, mech, kt, klen) in rows {
        let id = format!("ops.single-after-update.{name}");
        r.case(&id, section, env, |m, e| {
            if !e.mechs.contains(&mech) {
                return Outcome::Skip("mechanism not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = if klen > 0 {
                t!(secret(m, s, kt, &vec![5u8; klen]), "C_CreateObject")
            } else {
                0
            };
            let data = [9u8; 32];
            // What the whole operation gives in parts, without interruption.
            let whole = t!(
                m.run_multi(op, s, &Mech::new(mech), k, &data, 16, &[0u8; 32])
                    .or_else(|rv| {
                        if op == Op::Verify && rv == CKR_SIGNATURE_INVALID {
                            Ok(Vec::new())
                        } else {
                            Err(rv)
                        }
                    }),
                "reference run"
            );
            ok!(m.op_init(op, s, &Mech::new(mech), k), "Init");
            let mut got = t!(m.op_update(op, s, &data[..16]), "first Update");
            let rv = single(m, op, s, &data, 64, true);
            ensure!(
                rv == CKR_OPERATION_ACTIVE,
                "a single-part call after an Update: expected CKR_OPERATION_ACTIVE, got {}",
                rv_name(rv)
            );
            got.extend(t!(
                m.op_update(op, s, &data[16..]),
                "Update after the refused call (the operation must go on)"
            ));
            if op == Op::Verify {
                // A wrong MAC: the Final must still be about all 32 bytes.
                let mut g = [0u8; 32];
                let rv = call!(m.f, C_VerifyFinal, s, g.as_mut_ptr(), 32);
                return expect_rv(&[CKR_SIGNATURE_INVALID], rv);
            }
            let mut n: CK_ULONG = 64;
            let mut out = vec![0u8; 64];
            ok!(m.op_final_raw(op, s, Some(&mut out), &mut n), "Final");
            out.truncate(n as usize);
            got.extend(out);
            check(got == whole, || {
                "the refused single-part call changed the operation's data".into()
            })
        });
        let id = format!("ops.arguments-bad-ends.{name}");
        r.case(&id, "§5.2", env, |m, e| {
            if !e.mechs.contains(&mech) {
                return Outcome::Skip("mechanism not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = if klen > 0 {
                t!(secret(m, s, kt, &vec![5u8; klen]), "C_CreateObject")
            } else {
                0
            };
            ok!(m.op_init(op, s, &Mech::new(mech), k), "Init");
            let rv = single(m, op, s, &[9u8; 16], 32, false);
            ensure!(
                rv == CKR_ARGUMENTS_BAD,
                "a null length (or signature) pointer: expected CKR_ARGUMENTS_BAD, got {}",
                rv_name(rv)
            );
            // The operation ended: a new Init works.
            expect_rv(&[CKR_OK], m.op_init(op, s, &Mech::new(mech), k))
        });
    }
    r.case("ops.arguments-bad-ends.update", "§5.2", env, |m, e| {
        if !e.mechs.contains(&CKM_SHA256) {
            return Outcome::Skip("CKM_SHA256 not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        ok!(
            m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0),
            "C_DigestInit"
        );
        let rv = call!(m.f, C_DigestUpdate, s, nul(), 4);
        ensure!(
            rv == CKR_ARGUMENTS_BAD,
            "C_DigestUpdate(NULL, 4): expected CKR_ARGUMENTS_BAD, got {}",
            rv_name(rv)
        );
        expect_rv(
            &[CKR_OK],
            m.op_init(Op::Digest, s, &Mech::new(CKM_SHA256), 0),
        )
    });
    r.case(
        "ops.error-ends-operation.encrypt",
        "§5.8.2",
        env,
        |m, e| {
            if !e.mechs.contains(&CKM_AES_ECB) {
                return Outcome::Skip("CKM_AES_ECB not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = t!(secret(m, s, CKK_AES, &[7u8; 16]), "C_CreateObject");
            ok!(
                m.op_init(Op::Encrypt, s, &Mech::new(CKM_AES_ECB), k),
                "C_EncryptInit"
            );
            let rv = single(m, Op::Encrypt, s, &[1u8; 15], 32, true);
            ensure!(
                rv == CKR_DATA_LEN_RANGE,
                "15 bytes to CKM_AES_ECB: expected CKR_DATA_LEN_RANGE, got {}",
                rv_name(rv)
            );
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                single(m, Op::Encrypt, s, &[1u8; 16], 32, true),
            )
        },
    );
}

fn endings(r: &mut Runner, env: &Env) {
    single_part_rules(r, env);
    r.case("ops.update-after-final", "§5.8.4", env, |m, e| {
        if !e.mechs.contains(&CKM_AES_ECB) {
            return Outcome::Skip("CKM_AES_ECB not advertised".into());
        }
        let s = t!(user(m, e), "open+login");
        let k = t!(secret(m, s, CKK_AES, &[7u8; 16]), "C_CreateObject");
        let ct = t!(
            m.run_multi(
                Op::Encrypt,
                s,
                &Mech::new(CKM_AES_ECB),
                k,
                &[1u8; 32],
                16,
                &[]
            ),
            "C_EncryptUpdate/Final"
        );
        ensure!(ct.len() == 32, "expected 32 bytes, got {}", ct.len());
        expect_rv(
            &[CKR_OPERATION_NOT_INITIALIZED],
            m.op_update(Op::Encrypt, s, &[1u8; 16])
                .err()
                .unwrap_or(CKR_OK),
        )
    });
    r.case(
        "ops.verify-final-failure-ends-operation",
        "§5.15.4",
        env,
        |m, e| {
            if !e.mechs.contains(&CKM_SHA256_HMAC) {
                return Outcome::Skip("CKM_SHA256_HMAC not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let min = m
                .mech_info(e.slot, CKM_SHA256_HMAC)
                .map(|i| i.ulMinKeySize)
                .unwrap_or(32)
                .clamp(32, 64) as usize;
            let k = t!(
                secret(m, s, CKK_GENERIC_SECRET, &vec![3u8; min]),
                "C_CreateObject"
            );
            let rv = crate::rv_of(&m.run_multi(
                Op::Verify,
                s,
                &Mech::new(CKM_SHA256_HMAC),
                k,
                b"data",
                2,
                &[0u8; 32],
            ));
            ensure!(
                rv == CKR_SIGNATURE_INVALID,
                "C_VerifyFinal with a wrong MAC: expected CKR_SIGNATURE_INVALID, got {}",
                rv_name(rv)
            );
            expect_rv(
                &[CKR_OPERATION_NOT_INITIALIZED],
                m.op_update(Op::Verify, s, b"more").err().unwrap_or(CKR_OK),
            )
        },
    );
    r.case("find.two-sessions-independent", "§5.7.7", env, |m, e| {
        let a = t!(m.open(e.slot, false), "C_OpenSession");
        let b = t!(m.open(e.slot, false), "C_OpenSession");
        let o = t!(m.create(a, &data("conf-two-finds")), "C_CreateObject");
        ok!(
            m.find_init(a, &Template::new().bytes(CKA_LABEL, b"conf-two-finds")),
            "C_FindObjectsInit(a)"
        );
        ok!(
            m.find_init(b, &Template::new().bytes(CKA_LABEL, b"conf-two-finds")),
            "C_FindObjectsInit(b)"
        );
        let fa = t!(m.find_next(a, 4), "C_FindObjects(a)");
        let fb = t!(m.find_next(b, 4), "C_FindObjects(b)");
        m.find_final(a);
        m.find_final(b);
        check(fa == vec![o] && fb == vec![o], || {
            format!("expected both searches to find the object, got {fa:?} and {fb:?}")
        })
    });
}
