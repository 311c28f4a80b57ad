//! The mechanism registry: every mechanism family adds its definitions here.

use crate::error::{Error, Result};
use crate::mechanism::{MechanismDef, MechanismSettings};
use cryptoki_sys::*;
use once_cell::sync::Lazy;
use std::collections::BTreeMap;

/// Every mechanism SoftKMS implements, by `CKM_*` value.
static REGISTRY: Lazy<BTreeMap<CK_MECHANISM_TYPE, MechanismDef>> = Lazy::new(|| {
    let families: &[&[MechanismDef]] = &[
        super::digest::MECHANISMS,
        super::mac::MECHANISMS,
        super::aes::MECHANISMS,
        super::des3::MECHANISMS,
        super::rsa::MECHANISMS,
        super::ec::MECHANISMS,
        super::kdf::MECHANISMS,
        super::envelope::MECHANISMS,
        super::pq::MECHANISMS,
    ];
    let mut map = BTreeMap::new();
    for family in families {
        for def in family.iter() {
            map.insert(def.mech, *def);
        }
    }
    map
});

/// The definitions, in `CKM_*` order (every row, the legacy ones included,
/// with the sizes of the defaults; [`offered`] gives what a configuration offers).
pub fn all() -> impl Iterator<Item = &'static MechanismDef> {
    REGISTRY.values()
}

/// A row as `settings` have it: the configured minimum key size put in.
fn in_force(def: &MechanismDef, settings: &MechanismSettings) -> MechanismDef {
    let mut d = *def;
    if let Some(f) = d.configured_min {
        d.min_key = f(settings);
    }
    d
}

/// The mechanisms offered under `settings`, in `CKM_*` order, each row as it
/// is in force (`C_GetMechanismList`, `C_GetMechanismInfo`): the legacy rows
/// only with `legacy_mechanisms`, configured minimum sizes put in.
pub fn offered(settings: &MechanismSettings) -> impl Iterator<Item = MechanismDef> + '_ {
    REGISTRY
        .values()
        .filter(|d| !d.legacy || settings.legacy)
        .map(|d| in_force(d, settings))
}

/// The row of one mechanism as it is in force under `settings`, or
/// `CKR_MECHANISM_INVALID` for a mechanism this module does not have or that
/// the configuration does not offer: what the module answers and enforces.
pub fn lookup(mech: CK_MECHANISM_TYPE, settings: &MechanismSettings) -> Result<MechanismDef> {
    let d = get(mech)?;
    if d.legacy && !settings.legacy {
        return Err(Error::MechanismInvalid);
    }
    Ok(in_force(d, settings))
}

/// The name of a mechanism this module lists (`CKM_AES_GCM`), or its value in
/// hex for any other.
pub fn display_name(mech: CK_MECHANISM_TYPE) -> String {
    get(mech)
        .map(|d| d.name.to_string())
        .unwrap_or_else(|_| format!("0x{mech:08x}"))
}

/// The definition of one mechanism, or `CKR_MECHANISM_INVALID`.
pub fn get(mech: CK_MECHANISM_TYPE) -> Result<&'static MechanismDef> {
    REGISTRY.get(&mech).ok_or(Error::MechanismInvalid)
}

/// True when decryption with `mech` can tell a wrong key version from the
/// right one, so that a managed key's older versions can be tried after a
/// rotation (`mechanism::versioned`): the row's `MechanismDef::is_authenticated`.
pub fn tries_versions(mech: CK_MECHANISM_TYPE) -> bool {
    get(mech).is_ok_and(MechanismDef::is_authenticated)
}

/// Whether the caller of `mech` chooses its IV, counter or nonce (the key
/// gate's IV rule, `crate::gate`): the row's `MechanismDef::caller_chooses_iv`.
pub fn caller_chooses_iv(mech: CK_MECHANISM_TYPE) -> bool {
    get(mech).is_ok_and(MechanismDef::caller_chooses_iv)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line per mechanism: everything `C_GetMechanismList`/`C_GetMechanismInfo`
    /// report and what the module asks the registry (parameter form, the
    /// authenticated and caller-chosen-IV properties).
    fn table() -> String {
        all()
            .map(|d| {
                format!(
                    "{:#010x} {} keys={:?} min={} max={} info_flags={:#x} param={:?} authenticated={} caller_iv={}\n",
                    d.mech,
                    d.name,
                    d.key_types,
                    d.min_key,
                    d.max_key,
                    d.info_flags(),
                    d.param,
                    tries_versions(d.mech),
                    caller_chooses_iv(d.mech),
                )
            })
            .collect()
    }

    /// The registry as it stood before its rows were rewritten with one
    /// constructor: a change here changes what the module advertises.
    const PINNED: &str = "\
0x00000000 CKM_RSA_PKCS_KEY_PAIR_GEN keys=[] min=2048 max=8192 info_flags=0x10001 param=None authenticated=false caller_iv=false
0x00000001 CKM_RSA_PKCS keys=[0] min=1024 max=8192 info_flags=0x62b01 param=None authenticated=false caller_iv=false
0x00000006 CKM_SHA1_RSA_PKCS keys=[0] min=1024 max=8192 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000009 CKM_RSA_PKCS_OAEP keys=[0] min=1024 max=8192 info_flags=0x60301 param=Oaep authenticated=false caller_iv=false
0x0000000d CKM_RSA_PKCS_PSS keys=[0] min=1024 max=8192 info_flags=0x2801 param=Pss authenticated=false caller_iv=false
0x0000000e CKM_SHA1_RSA_PKCS_PSS keys=[0] min=1024 max=8192 info_flags=0x2801 param=Pss authenticated=false caller_iv=false
0x0000000f CKM_ML_KEM_KEY_PAIR_GEN keys=[] min=1 max=3 info_flags=0x10001 param=None authenticated=false caller_iv=false
0x00000017 CKM_ML_KEM keys=[73] min=1 max=3 info_flags=0x30000001 param=None authenticated=false caller_iv=false
0x0000001c CKM_ML_DSA_KEY_PAIR_GEN keys=[] min=1 max=3 info_flags=0x10001 param=None authenticated=false caller_iv=false
0x0000001d CKM_ML_DSA keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x0000001f CKM_HASH_ML_DSA keys=[74] min=1 max=3 info_flags=0x2801 param=HashSignContext authenticated=false caller_iv=false
0x00000023 CKM_HASH_ML_DSA_SHA224 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000024 CKM_HASH_ML_DSA_SHA256 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000025 CKM_HASH_ML_DSA_SHA384 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000026 CKM_HASH_ML_DSA_SHA512 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000027 CKM_HASH_ML_DSA_SHA3_224 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000028 CKM_HASH_ML_DSA_SHA3_256 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000029 CKM_HASH_ML_DSA_SHA3_384 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x0000002a CKM_HASH_ML_DSA_SHA3_512 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x0000002b CKM_HASH_ML_DSA_SHAKE128 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x0000002c CKM_HASH_ML_DSA_SHAKE256 keys=[74] min=1 max=3 info_flags=0x2801 param=SignContext authenticated=false caller_iv=false
0x00000040 CKM_SHA256_RSA_PKCS keys=[0] min=1024 max=8192 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000041 CKM_SHA384_RSA_PKCS keys=[0] min=1024 max=8192 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000042 CKM_SHA512_RSA_PKCS keys=[0] min=1024 max=8192 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000043 CKM_SHA256_RSA_PKCS_PSS keys=[0] min=1024 max=8192 info_flags=0x2801 param=Pss authenticated=false caller_iv=false
0x00000044 CKM_SHA384_RSA_PKCS_PSS keys=[0] min=1024 max=8192 info_flags=0x2801 param=Pss authenticated=false caller_iv=false
0x00000045 CKM_SHA512_RSA_PKCS_PSS keys=[0] min=1024 max=8192 info_flags=0x2801 param=Pss authenticated=false caller_iv=false
0x00000046 CKM_SHA224_RSA_PKCS keys=[0] min=1024 max=8192 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000047 CKM_SHA224_RSA_PKCS_PSS keys=[0] min=1024 max=8192 info_flags=0x2801 param=Pss authenticated=false caller_iv=false
0x00000048 CKM_SHA512_224 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x00000049 CKM_SHA512_224_HMAC keys=[16, 67] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x0000004a CKM_SHA512_224_HMAC_GENERAL keys=[16, 67] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x0000004c CKM_SHA512_256 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x0000004d CKM_SHA512_256_HMAC keys=[16, 68] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x0000004e CKM_SHA512_256_HMAC_GENERAL keys=[16, 68] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x00000131 CKM_DES3_KEY_GEN keys=[] min=24 max=24 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00000132 CKM_DES3_ECB keys=[21] min=24 max=24 info_flags=0x60301 param=None authenticated=false caller_iv=true
0x00000133 CKM_DES3_CBC keys=[21] min=24 max=24 info_flags=0x60301 param=Bytes authenticated=false caller_iv=true
0x00000136 CKM_DES3_CBC_PAD keys=[21] min=24 max=24 info_flags=0x60301 param=Bytes authenticated=false caller_iv=true
0x00000220 CKM_SHA_1 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x00000221 CKM_SHA_1_HMAC keys=[16, 40] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000222 CKM_SHA_1_HMAC_GENERAL keys=[16, 40] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x00000250 CKM_SHA256 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x00000251 CKM_SHA256_HMAC keys=[16, 43] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000252 CKM_SHA256_HMAC_GENERAL keys=[16, 43] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x00000255 CKM_SHA224 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x00000256 CKM_SHA224_HMAC keys=[16, 46] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000257 CKM_SHA224_HMAC_GENERAL keys=[16, 46] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x00000260 CKM_SHA384 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x00000261 CKM_SHA384_HMAC keys=[16, 44] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000262 CKM_SHA384_HMAC_GENERAL keys=[16, 44] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x00000270 CKM_SHA512 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x00000271 CKM_SHA512_HMAC keys=[16, 45] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x00000272 CKM_SHA512_HMAC_GENERAL keys=[16, 45] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x000002b0 CKM_SHA3_256 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x000002b1 CKM_SHA3_256_HMAC keys=[16, 55] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x000002b2 CKM_SHA3_256_HMAC_GENERAL keys=[16, 55] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x000002b3 CKM_SHA3_256_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x000002b5 CKM_SHA3_224 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x000002b6 CKM_SHA3_224_HMAC keys=[16, 54] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x000002b7 CKM_SHA3_224_HMAC_GENERAL keys=[16, 54] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x000002b8 CKM_SHA3_224_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x000002c0 CKM_SHA3_384 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x000002c1 CKM_SHA3_384_HMAC keys=[16, 56] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x000002c2 CKM_SHA3_384_HMAC_GENERAL keys=[16, 56] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x000002c3 CKM_SHA3_384_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x000002d0 CKM_SHA3_512 keys=[] min=0 max=0 info_flags=0x401 param=None authenticated=false caller_iv=false
0x000002d1 CKM_SHA3_512_HMAC keys=[16, 57] min=1 max=4096 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x000002d2 CKM_SHA3_512_HMAC_GENERAL keys=[16, 57] min=1 max=4096 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x000002d3 CKM_SHA3_512_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00000350 CKM_GENERIC_SECRET_KEY_GEN keys=[] min=8 max=32768 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00000360 CKM_CONCATENATE_BASE_AND_KEY keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=1 max=4096 info_flags=0x80001 param=ObjectHandle authenticated=false caller_iv=false
0x00000362 CKM_CONCATENATE_BASE_AND_DATA keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=1 max=4096 info_flags=0x80001 param=StringData authenticated=false caller_iv=false
0x00000363 CKM_CONCATENATE_DATA_AND_BASE keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=1 max=4096 info_flags=0x80001 param=StringData authenticated=false caller_iv=false
0x00000364 CKM_XOR_BASE_AND_DATA keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=1 max=4096 info_flags=0x80001 param=StringData authenticated=false caller_iv=false
0x00000365 CKM_EXTRACT_KEY_FROM_KEY keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=1 max=4096 info_flags=0x80001 param=Ulong authenticated=false caller_iv=false
0x000003ac CKM_SP800_108_COUNTER_KDF keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=8 max=32768 info_flags=0x80001 param=Sp800108 authenticated=false caller_iv=false
0x000003ad CKM_SP800_108_FEEDBACK_KDF keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=8 max=32768 info_flags=0x80001 param=Sp800108Feedback authenticated=false caller_iv=false
0x000003ae CKM_SP800_108_DOUBLE_PIPELINE_KDF keys=[16, 31, 40, 46, 43, 44, 45, 67, 68, 54, 55, 56, 57, 66] min=8 max=32768 info_flags=0x80001 param=Sp800108 authenticated=false caller_iv=false
0x00001040 CKM_EC_KEY_PAIR_GEN keys=[] min=256 max=521 info_flags=0x1910001 param=None authenticated=false caller_iv=false
0x00001041 CKM_ECDSA keys=[3] min=256 max=521 info_flags=0x1902801 param=None authenticated=false caller_iv=false
0x00001042 CKM_ECDSA_SHA1 keys=[3] min=256 max=521 info_flags=0x1902801 param=None authenticated=false caller_iv=false
0x00001043 CKM_ECDSA_SHA224 keys=[3] min=256 max=521 info_flags=0x1902801 param=None authenticated=false caller_iv=false
0x00001044 CKM_ECDSA_SHA256 keys=[3] min=256 max=521 info_flags=0x1902801 param=None authenticated=false caller_iv=false
0x00001045 CKM_ECDSA_SHA384 keys=[3] min=256 max=521 info_flags=0x1902801 param=None authenticated=false caller_iv=false
0x00001046 CKM_ECDSA_SHA512 keys=[3] min=256 max=521 info_flags=0x1902801 param=None authenticated=false caller_iv=false
0x00001050 CKM_ECDH1_DERIVE keys=[3, 65] min=255 max=521 info_flags=0x5980001 param=Ecdh1 authenticated=false caller_iv=false
0x00001054 CKM_RSA_AES_KEY_WRAP keys=[0] min=1024 max=8192 info_flags=0x60001 param=RsaAesKeyWrap authenticated=false caller_iv=false
0x00001055 CKM_EC_EDWARDS_KEY_PAIR_GEN keys=[] min=255 max=255 info_flags=0x4810001 param=None authenticated=false caller_iv=false
0x00001056 CKM_EC_MONTGOMERY_KEY_PAIR_GEN keys=[] min=255 max=255 info_flags=0x4810001 param=None authenticated=false caller_iv=false
0x00001057 CKM_EDDSA keys=[64] min=255 max=255 info_flags=0x4802801 param=Eddsa authenticated=false caller_iv=false
0x00001080 CKM_AES_KEY_GEN keys=[] min=16 max=32 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00001081 CKM_AES_ECB keys=[31] min=16 max=32 info_flags=0x60301 param=None authenticated=false caller_iv=true
0x00001082 CKM_AES_CBC keys=[31] min=16 max=32 info_flags=0x60301 param=Bytes authenticated=false caller_iv=true
0x00001085 CKM_AES_CBC_PAD keys=[31] min=16 max=32 info_flags=0x60301 param=Bytes authenticated=false caller_iv=true
0x00001086 CKM_AES_CTR keys=[31] min=16 max=32 info_flags=0x301 param=Ctr authenticated=false caller_iv=true
0x00001087 CKM_AES_GCM keys=[31] min=16 max=32 info_flags=0x60307 param=Gcm authenticated=true caller_iv=true
0x0000108a CKM_AES_CMAC keys=[31] min=16 max=32 info_flags=0x2801 param=None authenticated=false caller_iv=false
0x0000108b CKM_AES_CMAC_GENERAL keys=[31] min=16 max=32 info_flags=0x2801 param=Ulong authenticated=false caller_iv=false
0x00001104 CKM_AES_ECB_ENCRYPT_DATA keys=[31] min=16 max=32 info_flags=0x80001 param=StringData authenticated=false caller_iv=true
0x00001105 CKM_AES_CBC_ENCRYPT_DATA keys=[31] min=16 max=32 info_flags=0x80001 param=AesCbcEncryptData authenticated=false caller_iv=true
0x00002109 CKM_AES_KEY_WRAP keys=[31] min=16 max=32 info_flags=0x60301 param=OptionalBytes authenticated=true caller_iv=false
0x0000210b CKM_AES_KEY_WRAP_KWP keys=[31] min=16 max=32 info_flags=0x60301 param=OptionalBytes authenticated=true caller_iv=false
0x00004003 CKM_SHA_1_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00004004 CKM_SHA224_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00004005 CKM_SHA256_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00004006 CKM_SHA384_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00004007 CKM_SHA512_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00004008 CKM_SHA512_224_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x00004009 CKM_SHA512_256_KEY_GEN keys=[] min=1 max=4096 info_flags=0x8001 param=None authenticated=false caller_iv=false
0x0000402a CKM_HKDF_DERIVE keys=[16, 66] min=1 max=16320 info_flags=0x80001 param=Hkdf authenticated=false caller_iv=false
0x0000402b CKM_HKDF_DATA keys=[16, 66] min=1 max=16320 info_flags=0x80001 param=Hkdf authenticated=false caller_iv=false
0x0000402c CKM_HKDF_KEY_GEN keys=[] min=1 max=16320 info_flags=0x8001 param=None authenticated=false caller_iv=false
0xd34b0001 CKM_SOFTKMS_ENVELOPE keys=[31] min=32 max=32 info_flags=0x60301 param=Envelope authenticated=false caller_iv=false
0xd34b0002 CKM_SOFTKMS_GENERATE_DATA_KEY keys=[31] min=32 max=32 info_flags=0x80001 param=GenerateDataKey authenticated=false caller_iv=false
";

    #[test]
    fn settings_decide_what_is_offered() {
        let off = MechanismSettings::default();
        let on = MechanismSettings {
            min_rsa_bits: 1024,
            legacy: true,
        };
        let legacy: Vec<_> = all().filter(|d| d.legacy).map(|d| d.mech).collect();
        assert_eq!(
            legacy,
            [
                CKM_DES3_KEY_GEN,
                CKM_DES3_ECB,
                CKM_DES3_CBC,
                CKM_DES3_CBC_PAD
            ]
        );
        for m in &legacy {
            assert!(offered(&off).all(|d| d.mech != *m));
            assert!(matches!(lookup(*m, &off), Err(Error::MechanismInvalid)));
            assert!(offered(&on).any(|d| d.mech == *m));
            assert!(lookup(*m, &on).is_ok());
        }
        assert_eq!(offered(&off).count() + legacy.len(), all().count());
        assert_eq!(offered(&on).count(), all().count());
        let min = |s: &MechanismSettings| lookup(CKM_RSA_PKCS_KEY_PAIR_GEN, s).unwrap().min_key;
        assert_eq!(min(&off), 2048);
        assert_eq!(min(&on), 1024);
        let listed = offered(&on)
            .find(|d| d.mech == CKM_RSA_PKCS_KEY_PAIR_GEN)
            .unwrap();
        assert_eq!(listed.min_key, 1024);
        // Other rows are as the registry has them.
        assert_eq!(lookup(CKM_RSA_PKCS, &on).unwrap().min_key, 1024);
        assert_eq!(lookup(CKM_AES_GCM, &on).unwrap().min_key, 16);
    }

    #[test]
    fn advertised_mechanisms_are_pinned() {
        let got = table();
        for (g, w) in got.lines().zip(PINNED.lines()) {
            assert_eq!(g, w);
        }
        assert_eq!(got, PINNED);
    }
}
