//! What a module advertises: every mechanism it lists is named and covered,
//! with known flags.

use super::*;

/// Types this runner has functional cases for outside the catalogue.
pub(super) const COVERED_ELSEWHERE: &[CK_MECHANISM_TYPE] = &[
    CKM_AES_KEY_GEN,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDH1_DERIVE,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_HKDF_DERIVE,
    CKM_HKDF_DATA,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    CKM_ML_DSA_KEY_PAIR_GEN,
    CKM_ML_KEM_KEY_PAIR_GEN,
    CKM_SHA_1_KEY_GEN,
    CKM_SHA224_KEY_GEN,
    CKM_SHA256_KEY_GEN,
    CKM_SHA384_KEY_GEN,
    CKM_SHA512_KEY_GEN,
    CKM_SHA512_224_KEY_GEN,
    CKM_SHA512_256_KEY_GEN,
    CKM_SHA3_224_KEY_GEN,
    CKM_SHA3_256_KEY_GEN,
    CKM_SHA3_384_KEY_GEN,
    CKM_SHA3_512_KEY_GEN,
    CKM_CONCATENATE_BASE_AND_KEY,
    CKM_CONCATENATE_BASE_AND_DATA,
    CKM_CONCATENATE_DATA_AND_BASE,
    CKM_XOR_BASE_AND_DATA,
    CKM_EXTRACT_KEY_FROM_KEY,
    CKM_AES_ECB_ENCRYPT_DATA,
    CKM_AES_CBC_ENCRYPT_DATA,
    CKM_SP800_108_COUNTER_KDF,
    CKM_SP800_108_FEEDBACK_KDF,
    CKM_SP800_108_DOUBLE_PIPELINE_KDF,
];

/// Names of mechanisms outside the catalogue, for case ids.
pub(super) const NAMES: &[(CK_MECHANISM_TYPE, &str)] = &[
    (CKM_AES_KEY_GEN, "AES_KEY_GEN"),
    (CKM_GENERIC_SECRET_KEY_GEN, "GENERIC_SECRET_KEY_GEN"),
    (CKM_RSA_PKCS_KEY_PAIR_GEN, "RSA_PKCS_KEY_PAIR_GEN"),
    (CKM_EC_KEY_PAIR_GEN, "EC_KEY_PAIR_GEN"),
    (CKM_ECDH1_DERIVE, "ECDH1_DERIVE"),
    (CKM_AES_KEY_WRAP, "AES_KEY_WRAP"),
    (CKM_AES_KEY_WRAP_KWP, "AES_KEY_WRAP_KWP"),
    (CKM_AES_KEY_WRAP_PAD, "AES_KEY_WRAP_PAD"),
    (CKM_HKDF_DERIVE, "HKDF_DERIVE"),
    (CKM_HKDF_DATA, "HKDF_DATA"),
    (CKM_HKDF_KEY_GEN, "HKDF_KEY_GEN"),
    (CKM_RSA_AES_KEY_WRAP, "RSA_AES_KEY_WRAP"),
    (CKM_RSA_X_509, "RSA_X_509"),
    (CKM_MD5_HMAC, "MD5_HMAC"),
    (CKM_MD5_RSA_PKCS, "MD5_RSA_PKCS"),
    (CKM_AES_ECB_ENCRYPT_DATA, "AES_ECB_ENCRYPT_DATA"),
    (CKM_AES_CBC_ENCRYPT_DATA, "AES_CBC_ENCRYPT_DATA"),
    (CKM_DES_KEY_GEN, "DES_KEY_GEN"),
    (CKM_DES2_KEY_GEN, "DES2_KEY_GEN"),
    (CKM_DES3_KEY_GEN, "DES3_KEY_GEN"),
    (CKM_DES_ECB, "DES_ECB"),
    (CKM_DES_CBC, "DES_CBC"),
    (CKM_DES_CBC_PAD, "DES_CBC_PAD"),
    (CKM_DES3_ECB, "DES3_ECB"),
    (CKM_DES3_CBC, "DES3_CBC"),
    (CKM_DES3_CBC_PAD, "DES3_CBC_PAD"),
    (CKM_DES3_CMAC, "DES3_CMAC"),
    (CKM_DES_ECB_ENCRYPT_DATA, "DES_ECB_ENCRYPT_DATA"),
    (CKM_DES_CBC_ENCRYPT_DATA, "DES_CBC_ENCRYPT_DATA"),
    (CKM_DES3_ECB_ENCRYPT_DATA, "DES3_ECB_ENCRYPT_DATA"),
    (CKM_DES3_CBC_ENCRYPT_DATA, "DES3_CBC_ENCRYPT_DATA"),
    (CKM_DH_PKCS_KEY_PAIR_GEN, "DH_PKCS_KEY_PAIR_GEN"),
    (CKM_DH_PKCS_PARAMETER_GEN, "DH_PKCS_PARAMETER_GEN"),
    (CKM_DH_PKCS_DERIVE, "DH_PKCS_DERIVE"),
    (CKM_DSA, "DSA"),
    (CKM_DSA_KEY_PAIR_GEN, "DSA_KEY_PAIR_GEN"),
    (CKM_DSA_PARAMETER_GEN, "DSA_PARAMETER_GEN"),
    (CKM_DSA_SHA1, "DSA_SHA1"),
    (CKM_DSA_SHA224, "DSA_SHA224"),
    (CKM_DSA_SHA256, "DSA_SHA256"),
    (CKM_DSA_SHA384, "DSA_SHA384"),
    (CKM_DSA_SHA512, "DSA_SHA512"),
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, "EC_EDWARDS_KEY_PAIR_GEN"),
    (CKM_EDDSA, "EDDSA"),
    (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, "EC_MONTGOMERY_KEY_PAIR_GEN"),
    (CKM_ML_DSA_KEY_PAIR_GEN, "ML_DSA_KEY_PAIR_GEN"),
    (CKM_ML_KEM_KEY_PAIR_GEN, "ML_KEM_KEY_PAIR_GEN"),
    (CKM_ML_KEM, "ML_KEM"),
    (CKM_SHA_1_KEY_GEN, "SHA_1_KEY_GEN"),
    (CKM_SHA224_KEY_GEN, "SHA224_KEY_GEN"),
    (CKM_SHA256_KEY_GEN, "SHA256_KEY_GEN"),
    (CKM_SHA384_KEY_GEN, "SHA384_KEY_GEN"),
    (CKM_SHA512_KEY_GEN, "SHA512_KEY_GEN"),
    (CKM_SHA512_224_KEY_GEN, "SHA512_224_KEY_GEN"),
    (CKM_SHA512_256_KEY_GEN, "SHA512_256_KEY_GEN"),
    (CKM_SHA3_224_KEY_GEN, "SHA3_224_KEY_GEN"),
    (CKM_SHA3_256_KEY_GEN, "SHA3_256_KEY_GEN"),
    (CKM_SHA3_384_KEY_GEN, "SHA3_384_KEY_GEN"),
    (CKM_SHA3_512_KEY_GEN, "SHA3_512_KEY_GEN"),
    (CKM_CONCATENATE_BASE_AND_KEY, "CONCATENATE_BASE_AND_KEY"),
    (CKM_CONCATENATE_BASE_AND_DATA, "CONCATENATE_BASE_AND_DATA"),
    (CKM_CONCATENATE_DATA_AND_BASE, "CONCATENATE_DATA_AND_BASE"),
    (CKM_XOR_BASE_AND_DATA, "XOR_BASE_AND_DATA"),
    (CKM_EXTRACT_KEY_FROM_KEY, "EXTRACT_KEY_FROM_KEY"),
    (CKM_SP800_108_COUNTER_KDF, "SP800_108_COUNTER_KDF"),
    (CKM_SP800_108_FEEDBACK_KDF, "SP800_108_FEEDBACK_KDF"),
    (
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        "SP800_108_DOUBLE_PIPELINE_KDF",
    ),
];

/// Every flag C_GetMechanismInfo may set (§3.5 CK_MECHANISM_INFO, 3.0; and
/// CKF_ENCAPSULATE/CKF_DECAPSULATE of 3.2 §3.5, for ML-KEM).
pub(super) const KNOWN_FLAGS: CK_FLAGS = CKF_HW
    | CKF_MESSAGE_ENCRYPT
    | CKF_MESSAGE_DECRYPT
    | CKF_MESSAGE_SIGN
    | CKF_MESSAGE_VERIFY
    | CKF_MULTI_MESSAGE
    | CKF_FIND_OBJECTS
    | CKF_ENCRYPT
    | CKF_DECRYPT
    | CKF_DIGEST
    | CKF_SIGN
    | CKF_SIGN_RECOVER
    | CKF_VERIFY
    | CKF_VERIFY_RECOVER
    | CKF_GENERATE
    | CKF_GENERATE_KEY_PAIR
    | CKF_WRAP
    | CKF_UNWRAP
    | CKF_DERIVE
    | CKF_EC_F_P
    | CKF_EC_F_2M
    | CKF_EC_ECPARAMETERS
    | CKF_EC_OID
    | CKF_EC_UNCOMPRESS
    | CKF_EC_COMPRESS
    | CKF_EC_CURVENAME
    | CKF_ENCAPSULATE
    | CKF_DECAPSULATE
    | CKF_EXTENSION;

/// Every advertised mechanism (§5.5.5/§5.5.6): its information is consistent,
/// and it is either covered by cases of this runner or reported as uncovered.
pub(super) fn advertised(r: &mut Runner, env: &Env, specs: &[Spec]) {
    for &ty in &env.mechs {
        let name = specs
            .iter()
            .find(|s| s.ty == ty)
            .map(|s| s.name.trim_end_matches("(encrypt)").to_string())
            .or_else(|| {
                NAMES
                    .iter()
                    .find(|(t, _)| *t == ty)
                    .map(|(_, n)| n.to_string())
            })
            .unwrap_or_else(|| format!("0x{ty:08X}"));
        r.case(
            &format!("advertised.{name}.flags"),
            "§5.5.6",
            env,
            |m, e| {
                let i = t!(m.mech_info(e.slot, ty), "C_GetMechanismInfo");
                let funcs = CKF_ENCRYPT
                    | CKF_DECRYPT
                    | CKF_DIGEST
                    | CKF_SIGN
                    | CKF_SIGN_RECOVER
                    | CKF_VERIFY
                    | CKF_VERIFY_RECOVER
                    | CKF_GENERATE
                    | CKF_GENERATE_KEY_PAIR
                    | CKF_WRAP
                    | CKF_UNWRAP
                    | CKF_DERIVE
                    | CKF_MESSAGE_ENCRYPT
                    | CKF_MESSAGE_DECRYPT
                    | CKF_MESSAGE_SIGN
                    | CKF_MESSAGE_VERIFY
                    | CKF_ENCAPSULATE
                    | CKF_DECAPSULATE;
                ensure!(
                    i.flags & funcs != 0,
                    "expected at least one function flag, got 0x{:x}",
                    i.flags
                );
                check(i.flags & !KNOWN_FLAGS == 0, || {
                    format!("expected only defined flags, got 0x{:x}", i.flags)
                })
            },
        );
        let covered = specs.iter().any(|s| s.ty == ty) || COVERED_ELSEWHERE.contains(&ty);
        r.record(
            &format!("advertised.{name}.covered"),
            "§5.5.5",
            if covered {
                Outcome::Pass
            } else if ty == CKM_ML_KEM {
                Outcome::Skip(
                    "C_EncapsulateKey/C_DecapsulateKey are PKCS#11 3.2 functions; this runner drives the 3.0 list (key generation and mechanism information only)"
                        .into(),
                )
            } else {
                Outcome::Skip("advertised, but this runner has no functional cases for it".into())
            },
        );
    }
}
