//! Key and key-pair generation and ECDH derivation.

use super::*;

/// Key and key-pair generation (§5.18.1, §5.18.2) and ECDH derivation (§5.18.5).
pub(super) fn keygen(r: &mut Runner, env: &Env) {
    let has = |t| env.mechs.contains(&t);
    let gate = |r: &mut Runner, ids: &[&str], sec: &str, ty, name: &str| -> bool {
        if has(ty) {
            return true;
        }
        for id in ids {
            r.record(
                id,
                sec,
                Outcome::Skip(format!("{name} not supported (not advertised)")),
            );
        }
        false
    };
    let aes_ids = [
        "mech.AES_KEY_GEN.generate",
        "mech.AES_KEY_GEN.attributes",
        "mech.AES_KEY_GEN.template-incomplete",
        "mech.AES_KEY_GEN.key-size-range",
        "mech.AES_KEY_GEN.value-in-template",
        "mech.AES_KEY_GEN.class-inconsistent",
        "mech.AES_KEY_GEN.usable",
    ];
    if gate(r, &aes_ids, "§5.18.1", CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN") {
        let base = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_ENCRYPT, true)
                .flag(CKA_DECRYPT, true)
        };
        let mech = || Mech::new(CKM_AES_KEY_GEN);
        r.case(aes_ids[0], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 32))),
            )
        });
        r.case(aes_ids[1], "§4.10", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 32).flag(CKA_SENSITIVE, true)), "C_GenerateKey");
            let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
            let kgm = t!(m.get_ulong(s, k, CKA_KEY_GEN_MECHANISM), "CKA_KEY_GEN_MECHANISM");
            let asens = t!(m.get_bool(s, k, CKA_ALWAYS_SENSITIVE), "CKA_ALWAYS_SENSITIVE");
            let class = t!(m.get_ulong(s, k, CKA_CLASS), "CKA_CLASS");
            let kt = t!(m.get_ulong(s, k, CKA_KEY_TYPE), "CKA_KEY_TYPE");
            let len = t!(m.get_ulong(s, k, CKA_VALUE_LEN), "CKA_VALUE_LEN");
            check(local && kgm == CKM_AES_KEY_GEN && asens && class == CKO_SECRET_KEY && kt == CKK_AES && len == 32, || {
                format!("expected LOCAL, KEY_GEN_MECHANISM=AES_KEY_GEN, ALWAYS_SENSITIVE, SECRET_KEY, AES, 32; got {local} 0x{kgm:x} {asens} {class} {kt} {len}")
            })
        });
        r.case(aes_ids[2], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_key(s, &mech(), &base())),
            )
        });
        r.case(aes_ids[3], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
                crate::rv_of(&m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 17))),
            )
        });
        r.case(aes_ids[4], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
                crate::rv_of(&m.generate_key(
                    s,
                    &mech(),
                    &base().ulong(CKA_VALUE_LEN, 16).bytes(CKA_VALUE, &[0u8; 16]),
                )),
            )
        });
        r.case(aes_ids[5], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_VALUE_INVALID],
                crate::rv_of(
                    &m.generate_key(
                        s,
                        &mech(),
                        &base()
                            .ulong(CKA_VALUE_LEN, 16)
                            .ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                    ),
                ),
            )
        });
        r.case(aes_ids[6], "§5.18.1", env, |m, e| {
            if !e.mechs.contains(&CKM_AES_ECB) {
                return Outcome::Skip("CKM_AES_ECB not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let k = t!(
                m.generate_key(s, &mech(), &base().ulong(CKA_VALUE_LEN, 16)),
                "C_GenerateKey"
            );
            let ct = t!(
                m.run(Op::Encrypt, s, &Mech::new(CKM_AES_ECB), k, &[9u8; 32]),
                "C_Encrypt"
            );
            let pt = t!(
                m.run(Op::Decrypt, s, &Mech::new(CKM_AES_ECB), k, &ct),
                "C_Decrypt"
            );
            check(pt == [9u8; 32], || {
                "expected a round trip with the generated key".into()
            })
        });
    }
    let gen_ids = [
        "mech.GENERIC_SECRET_KEY_GEN.generate",
        "mech.GENERIC_SECRET_KEY_GEN.template-incomplete",
    ];
    if gate(
        r,
        &gen_ids,
        "§5.18.1",
        CKM_GENERIC_SECRET_KEY_GEN,
        "CKM_GENERIC_SECRET_KEY_GEN",
    ) {
        let mech = || Mech::new(CKM_GENERIC_SECRET_KEY_GEN);
        r.case(gen_ids[0], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(
                m.generate_key(
                    s,
                    &mech(),
                    &Template::new()
                        .flag(CKA_TOKEN, false)
                        .flag(CKA_SIGN, true)
                        .ulong(CKA_VALUE_LEN, 32)
                ),
                "C_GenerateKey"
            );
            let kt = t!(m.get_ulong(s, k, CKA_KEY_TYPE), "CKA_KEY_TYPE");
            check(kt == CKK_GENERIC_SECRET, || {
                format!("expected CKK_GENERIC_SECRET, got {kt}")
            })
        });
        r.case(gen_ids[1], "§5.18.1", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_key(s, &mech(), &Template::new().flag(CKA_TOKEN, false))),
            )
        });
    }
    let rsa_ids = [
        "mech.RSA_PKCS_KEY_PAIR_GEN.generate",
        "mech.RSA_PKCS_KEY_PAIR_GEN.attributes",
        "mech.RSA_PKCS_KEY_PAIR_GEN.template-incomplete",
        "mech.RSA_PKCS_KEY_PAIR_GEN.key-size-range",
        "mech.RSA_PKCS_KEY_PAIR_GEN.usable",
    ];
    if gate(
        r,
        &rsa_ids,
        "§5.18.2",
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
    ) {
        let mech = || Mech::new(CKM_RSA_PKCS_KEY_PAIR_GEN);
        let public = |bits: Option<CK_ULONG>| {
            let t = Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_VERIFY, true)
                .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1]);
            match bits {
                Some(b) => t.ulong(CKA_MODULUS_BITS, b),
                None => t,
            }
        };
        let private = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_PRIVATE, true)
                .flag(CKA_SIGN, true)
                .flag(CKA_SENSITIVE, true)
        };
        r.case(rsa_ids[0], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(2048)), &private())),
            )
        });
        r.case(rsa_ids[1], "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(m.generate_pair(s, &mech(), &public(Some(2048)), &private()), "C_GenerateKeyPair");
            let n = t!(m.get(s, p, CKA_MODULUS), "CKA_MODULUS");
            let lp = t!(m.get_bool(s, p, CKA_LOCAL), "CKA_LOCAL(public)");
            let lq = t!(m.get_bool(s, q, CKA_LOCAL), "CKA_LOCAL(private)");
            let kgm = t!(m.get_ulong(s, q, CKA_KEY_GEN_MECHANISM), "CKA_KEY_GEN_MECHANISM");
            let cp = t!(m.get_ulong(s, p, CKA_CLASS), "CKA_CLASS");
            let cq = t!(m.get_ulong(s, q, CKA_CLASS), "CKA_CLASS");
            check(n.len() == 256 && lp && lq && kgm == CKM_RSA_PKCS_KEY_PAIR_GEN && cp == CKO_PUBLIC_KEY && cq == CKO_PRIVATE_KEY, || {
                format!("expected a 256-byte modulus, LOCAL on both, KEY_GEN_MECHANISM, classes; got {} {lp} {lq} 0x{kgm:x} {cp} {cq}", n.len())
            })
        });
        r.case(rsa_ids[2], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(None), &private())),
            )
        });
        r.case(rsa_ids[3], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_KEY_SIZE_RANGE, CKR_ATTRIBUTE_VALUE_INVALID],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(128)), &private())),
            )
        });
        r.case(rsa_ids[4], "§5.18.2", env, |m, e| {
            if !e.mechs.contains(&CKM_SHA256_RSA_PKCS) {
                return Outcome::Skip("CKM_SHA256_RSA_PKCS not advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(
                m.generate_pair(s, &mech(), &public(Some(2048)), &private()),
                "C_GenerateKeyPair"
            );
            let mech = Mech::new(CKM_SHA256_RSA_PKCS);
            let sig = t!(m.run(Op::Sign, s, &mech, q, b"abc"), "C_Sign");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech, p, b"abc", &sig))
        });
    }
    let ec_ids = [
        "mech.EC_KEY_PAIR_GEN.generate",
        "mech.EC_KEY_PAIR_GEN.attributes",
        "mech.EC_KEY_PAIR_GEN.template-incomplete",
        "mech.EC_KEY_PAIR_GEN.curve-not-supported",
        "mech.EC_KEY_PAIR_GEN.usable",
    ];
    if gate(
        r,
        &ec_ids,
        "§5.18.2",
        CKM_EC_KEY_PAIR_GEN,
        "CKM_EC_KEY_PAIR_GEN",
    ) {
        let mech = || Mech::new(CKM_EC_KEY_PAIR_GEN);
        let public = |params: Option<&[u8]>| {
            let t = Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_VERIFY, true);
            match params {
                Some(p) => t.bytes(CKA_EC_PARAMS, p),
                None => t,
            }
        };
        let private = || {
            Template::new()
                .flag(CKA_TOKEN, false)
                .flag(CKA_PRIVATE, true)
                .flag(CKA_SIGN, true)
                .flag(CKA_DERIVE, true)
        };
        r.case(ec_ids[0], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_OK],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(&P256_PARAMS)), &private())),
            )
        });
        r.case(ec_ids[1], "§4.9", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(m.generate_pair(s, &mech(), &public(Some(&P256_PARAMS)), &private()), "C_GenerateKeyPair");
            let pt = t!(m.get(s, p, CKA_EC_POINT), "CKA_EC_POINT");
            let lq = t!(m.get_bool(s, q, CKA_LOCAL), "CKA_LOCAL");
            let params = t!(m.get(s, q, CKA_EC_PARAMS), "CKA_EC_PARAMS(private)");
            check((pt.len() == 67 && pt[0] == 4 && pt[2] == 4) && lq && params == P256_PARAMS, || {
                format!("expected a DER OCTET STRING point of 67 bytes, LOCAL, EC_PARAMS copied; got {} bytes, {lq}", pt.len())
            })
        });
        r.case(ec_ids[2], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_TEMPLATE_INCOMPLETE],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(None), &private())),
            )
        });
        r.case(ec_ids[3], "§5.18.2", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            // secp112r1: a curve no one should support.
            let oid = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x06];
            expect_rv(
                &[
                    CKR_CURVE_NOT_SUPPORTED,
                    CKR_DOMAIN_PARAMS_INVALID,
                    CKR_ATTRIBUTE_VALUE_INVALID,
                    CKR_TEMPLATE_INCONSISTENT,
                ],
                crate::rv_of(&m.generate_pair(s, &mech(), &public(Some(&oid)), &private())),
            )
        });
        r.case(ec_ids[4], "§5.18.2", env, |m, e| {
            if !e.mechs.contains(&CKM_ECDSA_SHA256) && !e.mechs.contains(&CKM_ECDSA) {
                return Outcome::Skip("no ECDSA mechanism advertised".into());
            }
            let s = t!(user(m, e), "open+login");
            let (p, q) = t!(
                m.generate_pair(s, &mech(), &public(Some(&P256_PARAMS)), &private()),
                "C_GenerateKeyPair"
            );
            let mech = Mech::new(CKM_ECDSA);
            let h = hx(ABC_SHA256);
            let sig = t!(m.run(Op::Sign, s, &mech, q, &h), "C_Sign");
            expect_rv(&[CKR_OK], m.run_verify(s, &mech, p, &h, &sig))
        });
    }
    let dh_ids = [
        "mech.ECDH1_DERIVE.known-answer",
        "mech.ECDH1_DERIVE.param-invalid",
        "mech.ECDH1_DERIVE.derived-attributes",
    ];
    if gate(r, &dh_ids, "§5.18.5", CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE") {
        let tpl = || {
            Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .flag(CKA_TOKEN, false)
                .flag(CKA_SENSITIVE, false)
                .flag(CKA_EXTRACTABLE, true)
                .ulong(CKA_VALUE_LEN, 32)
        };
        r.case(dh_ids[0], "§5.18.5", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            let k = t!(
                m.derive(s, &Mech::ecdh(&hx(v::EC2_POINT)), q, &tpl()),
                "C_DeriveKey"
            );
            let z = t!(m.get(s, k, CKA_VALUE), "CKA_VALUE");
            check(z == hx(v::ECDH_SHARED), || {
                format!("expected {}, got {}", v::ECDH_SHARED, hex(&z))
            })
        });
        r.case(dh_ids[1], "§5.18.5", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                crate::rv_of(&m.derive(s, &Mech::new(CKM_ECDH1_DERIVE), q, &tpl())),
            )
        });
        r.case(dh_ids[2], "§5.18.5", env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ec_pair(m, s), "importing the EC key");
            let k = t!(m.derive(s, &Mech::ecdh(&hx(v::EC2_POINT)), q, &tpl().flag(CKA_SENSITIVE, true)), "C_DeriveKey");
            let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
            // The base key is sensitive: ALWAYS_SENSITIVE follows the base key's (FALSE: imported).
            let asens = t!(m.get_bool(s, k, CKA_ALWAYS_SENSITIVE), "CKA_ALWAYS_SENSITIVE");
            check(!local && !asens, || format!("expected a derived key with LOCAL=FALSE and ALWAYS_SENSITIVE=FALSE (imported base), got {local} {asens}"))
        });
    }
}
