//! What a module must refuse with keys.

use super::*;

/// What a module must refuse with keys (§4.8–§4.10 key usage attributes,
/// §5.6.10 private objects after logout, §4.9 CKA_ALWAYS_AUTHENTICATE).
pub(super) fn refuse(r: &mut Runner, env: &Env) {
    let rsa = env.mechs.contains(&CKM_SHA256_RSA_PKCS);
    let gate = |r: &mut Runner, id: &str, sec: &str, ok: bool, what: &str| -> bool {
        if !ok {
            r.record(
                id,
                sec,
                Outcome::Skip(format!("{what} not supported (not advertised)")),
            );
        }
        ok
    };
    let mech = || Mech::new(CKM_SHA256_RSA_PKCS);
    if gate(
        r,
        "refuse.sign-with-public-key",
        "§5.13",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.sign-with-public-key", "§5.13", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, _) = t!(rsa_pair(m, s), "importing the RSA key");
            expect_rv(
                &[CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Sign, s, &mech(), p),
            )
        });
    }
    if gate(
        r,
        "refuse.sign-without-CKA_SIGN",
        "§4.9",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.sign-without-CKA_SIGN", "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(rsa_pair(m, s), "importing the RSA key");
            ok!(
                m.set(s, q, &Template::new().flag(CKA_SIGN, false)),
                "C_SetAttributeValue(CKA_SIGN=FALSE)"
            );
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Sign, s, &mech(), q),
            )
        });
    }
    if gate(
        r,
        "refuse.verify-without-CKA_VERIFY",
        "§4.8",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.verify-without-CKA_VERIFY", "§4.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, _) = t!(rsa_pair(m, s), "importing the RSA key");
            ok!(
                m.set(s, p, &Template::new().flag(CKA_VERIFY, false)),
                "C_SetAttributeValue(CKA_VERIFY=FALSE)"
            );
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                m.op_init(Op::Verify, s, &mech(), p),
            )
        });
    }
    let ecb = env.mechs.contains(&CKM_AES_ECB);
    if gate(
        r,
        "refuse.decrypt-without-CKA_DECRYPT",
        "§4.10",
        ecb,
        "CKM_AES_ECB",
    ) {
        r.case(
            "refuse.decrypt-without-CKA_DECRYPT",
            "§4.10",
            env,
            |m, e| {
                let s = t!(user(m, e), "open+login");
                let k = t!(secret(m, s, CKK_AES, &[5u8; 16]), "C_CreateObject");
                ok!(
                    m.set(s, k, &Template::new().flag(CKA_DECRYPT, false)),
                    "C_SetAttributeValue(CKA_DECRYPT=FALSE)"
                );
                expect_rv(
                    &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                    m.op_init(Op::Decrypt, s, &Mech::new(CKM_AES_ECB), k),
                )
            },
        );
    }
    let dh = env.mechs.contains(&CKM_ECDH1_DERIVE);
    if gate(
        r,
        "refuse.derive-without-CKA_DERIVE",
        "§4.9",
        dh,
        "CKM_ECDH1_DERIVE",
    ) {
        r.case("refuse.derive-without-CKA_DERIVE", "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            ok!(
                m.set(s, q, &Template::new().flag(CKA_DERIVE, false)),
                "C_SetAttributeValue(CKA_DERIVE=FALSE)"
            );
            let tpl = Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .flag(CKA_TOKEN, false)
                .ulong(CKA_VALUE_LEN, 32);
            expect_rv(
                &[CKR_KEY_FUNCTION_NOT_PERMITTED],
                crate::rv_of(&m.derive(s, &Mech::ecdh(&hx(v::EC2_POINT)), q, &tpl)),
            )
        });
    }
    r.case(
        "refuse.rsa-private-parts-sensitive",
        "§4.9",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = match rsa_pair(m, s) {
                Ok(k) => k,
                Err(rv) => {
                    return Outcome::Skip(format!("cannot import an RSA key: {}", rv_name(rv)))
                }
            };
            for (a, n) in [
                (CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT"),
                (CKA_PRIME_1, "CKA_PRIME_1"),
                (CKA_COEFFICIENT, "CKA_COEFFICIENT"),
            ] {
                let rv = m.get(s, q, a).err().unwrap_or(CKR_OK);
                ensure!(
                    rv == CKR_ATTRIBUTE_SENSITIVE,
                    "{n}: expected CKR_ATTRIBUTE_SENSITIVE, got {}",
                    rv_name(rv)
                );
            }
            let n = t!(m.get(s, q, CKA_MODULUS), "CKA_MODULUS of the private key");
            check(n == hx(v::RSA_N), || {
                "expected the public CKA_MODULUS readable on the private key".into()
            })
        },
    );
    r.case("refuse.ec-private-value-sensitive", "§4.9", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (_, q) = match ec_pair(m, s) {
            Ok(k) => k,
            Err(rv) => return Outcome::Skip(format!("cannot import an EC key: {}", rv_name(rv))),
        };
        expect_rv(
            &[CKR_ATTRIBUTE_SENSITIVE],
            m.get(s, q, CKA_VALUE).err().unwrap_or(CKR_OK),
        )
    });
    r.case("refuse.set-private-exponent", "§4.9", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let (_, q) = match rsa_pair(m, s) {
            Ok(k) => k,
            Err(rv) => return Outcome::Skip(format!("cannot import an RSA key: {}", rv_name(rv))),
        };
        expect_rv(
            &[CKR_ATTRIBUTE_READ_ONLY],
            m.set(
                s,
                q,
                &Template::new().bytes(CKA_PRIVATE_EXPONENT, &[1, 2, 3]),
            ),
        )
    });
    r.case(
        "refuse.public-key-with-private-exponent",
        "§4.8",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let t = Template::new()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_RSA)
                .flag(CKA_TOKEN, false)
                .bytes(CKA_MODULUS, &hx(v::RSA_N))
                .bytes(CKA_PUBLIC_EXPONENT, &hx(v::RSA_E))
                .bytes(CKA_PRIVATE_EXPONENT, &hx(v::RSA_D));
            expect_rv(
                &[CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCONSISTENT],
                crate::rv_of(&m.create(s, &t)),
            )
        },
    );
    if gate(
        r,
        "refuse.private-key-after-logout",
        "§5.6.10",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case(
            "refuse.private-key-after-logout",
            "§5.6.10",
            env,
            |m, e| {
                let s = t!(user(m, e), "open+login");
                let (_, q) = t!(rsa_pair(m, s), "importing the RSA key");
                ok!(m.logout(s), "C_Logout");
                expect_rv(
                    &[
                        CKR_KEY_HANDLE_INVALID,
                        CKR_OBJECT_HANDLE_INVALID,
                        CKR_USER_NOT_LOGGED_IN,
                    ],
                    m.op_init(Op::Sign, s, &mech(), q),
                )
            },
        );
    }
    if gate(
        r,
        "refuse.always-authenticate",
        "§5.6.8",
        rsa,
        "CKM_SHA256_RSA_PKCS",
    ) {
        r.case("refuse.always-authenticate", "§5.6.8", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, aa) = t!(rsa_pair_with(m, s, true), "importing the RSA key with CKA_ALWAYS_AUTHENTICATE");
            ok!(m.op_init(Op::Sign, s, &mech(), aa), "C_SignInit");
            let rv = m.op_single(Op::Sign, s, b"abc").err().unwrap_or(CKR_OK);
            ensure!(rv == CKR_USER_NOT_LOGGED_IN, "C_Sign without the context-specific login: expected CKR_USER_NOT_LOGGED_IN, got {}", rv_name(rv));
            ok!(m.op_init(Op::Sign, s, &mech(), aa), "C_SignInit (again)");
            ok!(m.login(s, CKU_CONTEXT_SPECIFIC, &e.pin), "C_Login(CKU_CONTEXT_SPECIFIC)");
            let sig = t!(m.op_single(Op::Sign, s, b"abc"), "C_Sign after the context-specific login");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech(), p, b"abc", &sig))
        });
    }
}
