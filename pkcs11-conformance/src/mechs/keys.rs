//! Keys the cases make: secret keys with a value, RSA and EC pairs (also
//! used by `cases`).

use super::*;

/// The DER of the P-256 OID (CKA_EC_PARAMS).
pub use p11_testkit::P256_OID as P256_PARAMS;

/// Secret key with a value, usable for everything.
pub fn secret(
    m: &Module,
    s: CK_SESSION_HANDLE,
    ktype: CK_KEY_TYPE,
    value: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, ktype)
            .flag(CKA_TOKEN, false)
            .flag(CKA_SENSITIVE, false)
            .flag(CKA_EXTRACTABLE, true)
            .flag(CKA_ENCRYPT, true)
            .flag(CKA_DECRYPT, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_VERIFY, true)
            .flag(CKA_WRAP, true)
            .flag(CKA_UNWRAP, true)
            .bytes(CKA_VALUE, value),
    )
}

/// The RSA key of vectors.rs: (public, private).
pub fn rsa_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    rsa_pair_with(m, s, false)
}

/// The RSA key of vectors.rs, the private half with CKA_ALWAYS_AUTHENTICATE as given.
pub fn rsa_pair_with(
    m: &Module,
    s: CK_SESSION_HANDLE,
    always_auth: bool,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let public = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_RSA)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .flag(CKA_ENCRYPT, true)
            .flag(CKA_WRAP, true)
            .bytes(CKA_MODULUS, &hx(v::RSA_N))
            .bytes(CKA_PUBLIC_EXPONENT, &hx(v::RSA_E)),
    )?;
    let private = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_RSA)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_DECRYPT, true)
            .flag(CKA_UNWRAP, true)
            .flag(CKA_ALWAYS_AUTHENTICATE, always_auth)
            .bytes(CKA_MODULUS, &hx(v::RSA_N))
            .bytes(CKA_PUBLIC_EXPONENT, &hx(v::RSA_E))
            .bytes(CKA_PRIVATE_EXPONENT, &hx(v::RSA_D))
            .bytes(CKA_PRIME_1, &hx(v::RSA_P))
            .bytes(CKA_PRIME_2, &hx(v::RSA_Q))
            .bytes(CKA_EXPONENT_1, &hx(v::RSA_DP))
            .bytes(CKA_EXPONENT_2, &hx(v::RSA_DQ))
            .bytes(CKA_COEFFICIENT, &hx(v::RSA_QINV)),
    )?;
    Ok((public, private))
}

/// CKA_EC_POINT: the DER OCTET STRING of the uncompressed point.
pub fn ec_point_der(point_hex: &str) -> Vec<u8> {
    let p = hx(point_hex);
    [vec![0x04, p.len() as u8], p].concat()
}

/// The P-256 key of vectors.rs: (public, private).
pub fn ec_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let public = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &P256_PARAMS)
            .bytes(CKA_EC_POINT, &ec_point_der(v::EC_POINT)),
    )?;
    let private = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_DERIVE, true)
            .bytes(CKA_EC_PARAMS, &P256_PARAMS)
            .bytes(CKA_VALUE, &hx(v::EC_D)),
    )?;
    Ok((public, private))
}
