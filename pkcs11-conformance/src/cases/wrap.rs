//! Wrapping and unwrapping (§5.18.3 C_WrapKey, §5.18.4 C_UnwrapKey) and the key
//! attributes that govern them (§4.10: CKA_EXTRACTABLE, CKA_WRAP/CKA_UNWRAP,
//! CKA_WRAP_WITH_TRUSTED; unwrapped keys are not CKA_LOCAL).

use crate::mechs::{hx, rsa_pair, secret};
use crate::{check, ensure, expect_rv, t, Env, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, rv_name, Mech, Module, Template};
use std::ptr::null_mut as nul;

const IV16: [u8; 16] = [3; 16];

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn user(m: &Module, e: &Env) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let s = m.open(e.slot, true)?;
    let rv = m.login(s, CKU_USER, &e.pin);
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(s)
}

/// An extractable AES key to be wrapped.
fn target(
    m: &Module,
    s: CK_SESSION_HANDLE,
    value: &[u8],
    extractable: bool,
    sensitive: bool,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .flag(CKA_TOKEN, false)
            .flag(CKA_EXTRACTABLE, extractable)
            .flag(CKA_SENSITIVE, sensitive)
            .flag(CKA_ENCRYPT, true)
            .bytes(CKA_VALUE, value),
    )
}

fn unwrap_tpl(extractable: bool, sensitive: bool) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .flag(CKA_TOKEN, false)
        .flag(CKA_EXTRACTABLE, extractable)
        .flag(CKA_SENSITIVE, sensitive)
        .flag(CKA_ENCRYPT, true)
}

#[derive(Clone, Copy, PartialEq)]
enum W {
    AesKw,
    AesKwp(CK_MECHANISM_TYPE),
    CbcPad,
    RsaOaep,
    RsaPkcs,
}

fn mech_of(w: W) -> Mech {
    match w {
        W::AesKw => Mech::new(CKM_AES_KEY_WRAP),
        W::AesKwp(t) => Mech::new(t),
        W::CbcPad => Mech::with_bytes(CKM_AES_CBC_PAD, &IV16),
        W::RsaOaep => Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1),
        W::RsaPkcs => Mech::new(CKM_RSA_PKCS),
    }
}

/// (wrapping key, unwrapping key) for a mechanism.
fn wrapping_keys(
    m: &Module,
    s: CK_SESSION_HANDLE,
    w: W,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    match w {
        W::RsaOaep | W::RsaPkcs => rsa_pair(m, s),
        _ => {
            let k = secret(m, s, CKK_AES, &[0x42; 16])?;
            Ok((k, k))
        }
    }
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    r.group("wrap", |r, env| {
        let kwp = if env.mechs.contains(&CKM_AES_KEY_WRAP_KWP) {
            CKM_AES_KEY_WRAP_KWP
        } else {
            CKM_AES_KEY_WRAP_PAD
        };
        let list: [(&str, CK_MECHANISM_TYPE, W); 5] = [
            ("AES_KEY_WRAP", CKM_AES_KEY_WRAP, W::AesKw),
            ("AES_KEY_WRAP_KWP", kwp, W::AesKwp(kwp)),
            ("AES_CBC_PAD", CKM_AES_CBC_PAD, W::CbcPad),
            ("RSA_PKCS_OAEP", CKM_RSA_PKCS_OAEP, W::RsaOaep),
            ("RSA_PKCS", CKM_RSA_PKCS, W::RsaPkcs),
        ];
        for (name, ty, w) in list {
            per_mechanism(r, env, name, ty, w);
        }
        rules(r, env);
    });
}

fn per_mechanism(r: &mut Runner, env: &Env, name: &str, ty: CK_MECHANISM_TYPE, w: W) {
    let id = |c: &str| format!("wrap.{name}.{c}");
    let cases = [
        "round-trip",
        "unwrapped-attributes",
        "buffer-too-small",
        "bad-wrapped-data",
        "known-answer",
    ];
    let info = r.m.mech_info(env.slot, ty).ok();
    let usable = env.mechs.contains(&ty)
        && info.is_some_and(|i| i.flags & (CKF_WRAP | CKF_UNWRAP) == CKF_WRAP | CKF_UNWRAP);
    if !usable {
        for c in cases {
            r.record(&id(c), "§5.18.3", Outcome::Skip(format!("CKM_{name} not supported for wrapping (not advertised with CKF_WRAP|CKF_UNWRAP)")));
        }
        return;
    }
    let value: Vec<u8> = (0u8..32).collect();
    r.case(&id("round-trip"), "§5.18.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, uk) = t!(wrapping_keys(m, s, w), "creating the wrapping key");
        let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
        let wrapped = t!(m.wrap(s, &mech_of(w), wk, k), "C_WrapKey");
        let u = t!(
            m.unwrap(s, &mech_of(w), uk, &wrapped, &unwrap_tpl(true, false)),
            "C_UnwrapKey"
        );
        let got = t!(m.get(s, u, CKA_VALUE), "CKA_VALUE of the unwrapped key");
        check(got == value, || {
            "expected the unwrapped key to have the original value".into()
        })
    });
    r.case(&id("unwrapped-attributes"), "§5.18.4", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, uk) = t!(wrapping_keys(m, s, w), "creating the wrapping key");
        let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
        let wrapped = t!(m.wrap(s, &mech_of(w), wk, k), "C_WrapKey");
        let u = t!(m.unwrap(s, &mech_of(w), uk, &wrapped, &unwrap_tpl(true, true)), "C_UnwrapKey");
        let local = t!(m.get_bool(s, u, CKA_LOCAL), "CKA_LOCAL");
        let asens = t!(m.get_bool(s, u, CKA_ALWAYS_SENSITIVE), "CKA_ALWAYS_SENSITIVE");
        let nex = t!(m.get_bool(s, u, CKA_NEVER_EXTRACTABLE), "CKA_NEVER_EXTRACTABLE");
        let sens = m.get(s, u, CKA_VALUE).err().unwrap_or(CKR_OK);
        ensure!(sens == CKR_ATTRIBUTE_SENSITIVE, "expected the sensitive unwrapped key's value to be CKR_ATTRIBUTE_SENSITIVE, got {}", rv_name(sens));
        check(!local && !asens && !nex, || {
            format!("expected LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE FALSE on an unwrapped key, got {local} {asens} {nex}")
        })
    });
    r.case(&id("buffer-too-small"), "§5.2", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, _) = t!(wrapping_keys(m, s, w), "creating the wrapping key");
        let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
        let mech = mech_of(w);
        let mut mm = mech.raw();
        let mut n: CK_ULONG = 0;
        let rv = call!(m.f, C_WrapKey, s, &mut mm, wk, k, nul(), &mut n);
        ensure!(
            rv == CKR_OK && n > 0,
            "length query: expected CKR_OK and a length, got {} and {n}",
            rv_name(rv)
        );
        let need = n;
        let mut small = vec![0u8; 4];
        let mut n2: CK_ULONG = 4;
        let rv = call!(
            m.f,
            C_WrapKey,
            s,
            &mut mm,
            wk,
            k,
            small.as_mut_ptr(),
            &mut n2
        );
        check(rv == CKR_BUFFER_TOO_SMALL && n2 >= need.min(40), || {
            format!(
                "expected CKR_BUFFER_TOO_SMALL and the needed length, got {} and {n2}",
                rv_name(rv)
            )
        })
    });
    r.case(&id("bad-wrapped-data"), "§5.18.4", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (_, uk) = t!(wrapping_keys(m, s, w), "creating the wrapping key");
        let garbage = match w {
            W::RsaOaep | W::RsaPkcs => vec![0x11u8; 256],
            _ => vec![0x11u8; 40],
        };
        let mut allowed = vec![
            CKR_WRAPPED_KEY_INVALID,
            CKR_WRAPPED_KEY_LEN_RANGE,
            CKR_ENCRYPTED_DATA_INVALID,
            CKR_ENCRYPTED_DATA_LEN_RANGE,
        ];
        if w == W::RsaPkcs {
            // PKCS#1 v1.5 with implicit rejection (the Marvin-attack defence) yields a
            // synthetic plaintext instead of a padding error: the key template then
            // rejects its length.
            allowed.extend([CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT]);
        }
        expect_rv(
            &allowed,
            m.unwrap(s, &mech_of(w), uk, &garbage, &unwrap_tpl(true, false))
                .err()
                .unwrap_or(CKR_OK),
        )
    });
    r.case(&id("known-answer"), "§5.18.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        match w {
            W::AesKw => {
                // RFC 3394 §4.1.
                let kek = t!(
                    secret(m, s, CKK_AES, &hx("000102030405060708090a0b0c0d0e0f")),
                    "KEK"
                );
                let k = t!(
                    target(m, s, &hx("00112233445566778899aabbccddeeff"), true, false),
                    "key"
                );
                let wrapped = t!(m.wrap(s, &mech_of(w), kek, k), "C_WrapKey");
                let want = hx("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
                check(wrapped == want, || {
                    format!(
                        "expected the RFC 3394 §4.1 ciphertext {}, got {}",
                        hexs(&want),
                        hexs(&wrapped)
                    )
                })
            }
            W::AesKwp(_) => {
                // RFC 5649 §6, 20-byte key.
                let kek = t!(
                    secret(
                        m,
                        s,
                        CKK_AES,
                        &hx("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
                    ),
                    "KEK"
                );
                let k = t!(
                    m.create(
                        s,
                        &Template::new()
                            .ulong(CKA_CLASS, CKO_SECRET_KEY)
                            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                            .flag(CKA_TOKEN, false)
                            .flag(CKA_EXTRACTABLE, true)
                            .flag(CKA_SENSITIVE, false)
                            .bytes(CKA_VALUE, &hx("c37b7e6492584340bed12207808941155068f738"))
                    ),
                    "key"
                );
                let wrapped = t!(m.wrap(s, &mech_of(w), kek, k), "C_WrapKey");
                let want = hx("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
                check(wrapped == want, || {
                    format!(
                        "expected the RFC 5649 §6 ciphertext {}, got {}",
                        hexs(&want),
                        hexs(&wrapped)
                    )
                })
            }
            W::CbcPad => {
                // Wrapping with CBC-PAD is C_Encrypt of the key value.
                let kek = t!(secret(m, s, CKK_AES, &[0x42; 16]), "KEK");
                let k = t!(target(m, s, &value, true, false), "key");
                let wrapped = t!(m.wrap(s, &mech_of(w), kek, k), "C_WrapKey");
                let enc = t!(
                    m.run(p11_testkit::Op::Encrypt, s, &mech_of(w), kek, &value),
                    "C_Encrypt"
                );
                check(wrapped == enc, || {
                    format!(
                        "expected C_WrapKey == C_Encrypt of the value ({}), got {}",
                        hexs(&enc),
                        hexs(&wrapped)
                    )
                })
            }
            W::RsaOaep | W::RsaPkcs => {
                Outcome::Skip("randomized padding: covered by round-trip".into())
            }
        }
    });
}

fn rules(r: &mut Runner, env: &Env) {
    let w = if env.mechs.contains(&CKM_AES_KEY_WRAP) {
        W::AesKw
    } else if env.mechs.contains(&CKM_AES_CBC_PAD) {
        W::CbcPad
    } else {
        for id in [
            "wrap.rule.unextractable",
            "wrap.rule.wrapping-key-without-CKA_WRAP",
            "wrap.rule.unwrapping-key-without-CKA_UNWRAP",
            "wrap.rule.invalid-wrapping-key",
            "wrap.rule.invalid-key",
            "wrap.rule.wrap-with-trusted",
            "wrap.rule.sensitive-extractable",
            "wrap.rule.unwrap-template-incomplete",
            "wrap.rule.invalid-unwrapping-key",
            "wrap.rule.wrapping-key-type-inconsistent",
            "wrap.rule.unwrap-token-in-ro-session",
            "wrap.rule.null-mechanism",
        ] {
            r.record(
                id,
                "§5.18.3",
                Outcome::Skip("no AES wrapping mechanism advertised".into()),
            );
        }
        return;
    };
    let value: Vec<u8> = (0u8..16).collect();
    let mech = move || mech_of(w);
    r.case("wrap.rule.unextractable", "§5.18.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, _) = t!(wrapping_keys(m, s, w), "wrapping key");
        let k = t!(target(m, s, &value, false, false), "C_CreateObject(target)");
        expect_rv(
            &[CKR_KEY_UNEXTRACTABLE],
            m.wrap(s, &mech(), wk, k).err().unwrap_or(CKR_OK),
        )
    });
    r.case(
        "wrap.rule.wrapping-key-without-CKA_WRAP",
        "§5.18.3",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let (wk, _) = t!(wrapping_keys(m, s, w), "wrapping key");
            t!(
                if m.set(s, wk, &Template::new().flag(CKA_WRAP, false)) == CKR_OK {
                    Ok(())
                } else {
                    Err(CKR_GENERAL_ERROR)
                },
                "C_SetAttributeValue(CKA_WRAP=FALSE)"
            );
            let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
            expect_rv(
                &[
                    CKR_KEY_FUNCTION_NOT_PERMITTED,
                    CKR_WRAPPING_KEY_HANDLE_INVALID,
                ],
                m.wrap(s, &mech(), wk, k).err().unwrap_or(CKR_OK),
            )
        },
    );
    r.case(
        "wrap.rule.unwrapping-key-without-CKA_UNWRAP",
        "§5.18.4",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let (wk, uk) = t!(wrapping_keys(m, s, w), "wrapping key");
            let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
            let wrapped = t!(m.wrap(s, &mech(), wk, k), "C_WrapKey");
            t!(
                if m.set(s, uk, &Template::new().flag(CKA_UNWRAP, false)) == CKR_OK {
                    Ok(())
                } else {
                    Err(CKR_GENERAL_ERROR)
                },
                "C_SetAttributeValue(CKA_UNWRAP=FALSE)"
            );
            expect_rv(
                &[
                    CKR_KEY_FUNCTION_NOT_PERMITTED,
                    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
                ],
                m.unwrap(s, &mech(), uk, &wrapped, &unwrap_tpl(true, false))
                    .err()
                    .unwrap_or(CKR_OK),
            )
        },
    );
    r.case("wrap.rule.invalid-wrapping-key", "§5.18.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
        expect_rv(
            &[CKR_WRAPPING_KEY_HANDLE_INVALID],
            m.wrap(s, &mech(), 0x7FFF_FFF0, k).err().unwrap_or(CKR_OK),
        )
    });
    r.case("wrap.rule.invalid-key", "§5.18.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, _) = t!(wrapping_keys(m, s, w), "wrapping key");
        expect_rv(
            &[CKR_KEY_HANDLE_INVALID],
            m.wrap(s, &mech(), wk, 0x7FFF_FFF0).err().unwrap_or(CKR_OK),
        )
    });
    r.case("wrap.rule.wrap-with-trusted", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, _) = t!(wrapping_keys(m, s, w), "wrapping key");
        let k = t!(
            m.create(
                s,
                &Template::new()
                    .ulong(CKA_CLASS, CKO_SECRET_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_AES)
                    .flag(CKA_TOKEN, false)
                    .flag(CKA_EXTRACTABLE, true)
                    .flag(CKA_WRAP_WITH_TRUSTED, true)
                    .bytes(CKA_VALUE, &value)
            ),
            "C_CreateObject(CKA_WRAP_WITH_TRUSTED)"
        );
        expect_rv(
            &[CKR_KEY_NOT_WRAPPABLE],
            m.wrap(s, &mech(), wk, k).err().unwrap_or(CKR_OK),
        )
    });
    r.case("wrap.rule.sensitive-extractable", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, _) = t!(wrapping_keys(m, s, w), "wrapping key");
        let k = t!(target(m, s, &value, true, true), "C_CreateObject(target)");
        expect_rv(&[CKR_OK], m.wrap(s, &mech(), wk, k).err().unwrap_or(CKR_OK))
    });
    r.case(
        "wrap.rule.unwrap-template-incomplete",
        "§5.18.4",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let (wk, uk) = t!(wrapping_keys(m, s, w), "wrapping key");
            let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
            let wrapped = t!(m.wrap(s, &mech(), wk, k), "C_WrapKey");
            let tpl = Template::new().flag(CKA_TOKEN, false);
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                m.unwrap(s, &mech(), uk, &wrapped, &tpl)
                    .err()
                    .unwrap_or(CKR_OK),
            )
        },
    );
    r.case(
        "wrap.rule.invalid-unwrapping-key",
        "§5.18.4",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_UNWRAPPING_KEY_HANDLE_INVALID],
                m.unwrap(
                    s,
                    &mech(),
                    0x7FFF_FFF0,
                    &[0u8; 24],
                    &unwrap_tpl(true, false),
                )
                .err()
                .unwrap_or(CKR_OK),
            )
        },
    );
    r.case(
        "wrap.rule.wrapping-key-type-inconsistent",
        "§5.18.3",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let wk = t!(
                secret(m, s, CKK_GENERIC_SECRET, &[0x42; 16]),
                "generic secret wrapping key"
            );
            let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
            expect_rv(
                &[
                    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
                    CKR_KEY_TYPE_INCONSISTENT,
                ],
                m.wrap(s, &mech(), wk, k).err().unwrap_or(CKR_OK),
            )
        },
    );
    r.case(
        "wrap.rule.unwrap-token-in-ro-session",
        "§5.18.4",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let (wk, uk) = t!(wrapping_keys(m, s, w), "wrapping key");
            let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
            let wrapped = t!(m.wrap(s, &mech(), wk, k), "C_WrapKey");
            let ro = t!(m.open(e.slot, false), "C_OpenSession(RO)");
            let tpl = unwrap_tpl(true, false).flag(CKA_TOKEN, true);
            let r = m.unwrap(ro, &mech(), uk, &wrapped, &tpl);
            if let Ok(h) = r {
                m.destroy(s, h);
            }
            expect_rv(&[CKR_SESSION_READ_ONLY], r.err().unwrap_or(CKR_OK))
        },
    );
    r.case("wrap.rule.null-mechanism", "§5.18.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (wk, _) = t!(wrapping_keys(m, s, w), "wrapping key");
        let k = t!(target(m, s, &value, true, false), "C_CreateObject(target)");
        let mut n: CK_ULONG = 0;
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            call!(m.f, C_WrapKey, s, nul(), wk, k, nul(), &mut n),
        )
    });
}
