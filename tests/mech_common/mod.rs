//! Shared helpers for the `mech_*` black-box tests: hex, key import through
//! `C_CreateObject`, and a thin raw path to the module's function list for the
//! mechanisms and calls that `cryptoki` 0.12's typed API does not expose
//! (`CKM_SHA3_*`, `CKM_AES_CTR`, `CKM_*_HMAC_GENERAL`, `CKM_AES_CMAC_GENERAL`,
//! `CKM_RSA_AES_KEY_WRAP`, `CKM_SHA224_RSA_PKCS_PSS`, and output buffers of a
//! chosen size for the `CKR_BUFFER_TOO_SMALL` rule).
//!
//! The raw path `dlopen`s the same `libsoftkms.so` that `cryptoki` loaded, so
//! both share one initialized module and one session table.

#![allow(dead_code)]
#![allow(unsafe_code)] // dlopen/dlsym and the C function list have no safe wrapper; each block says why it is sound.

use crate::common;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use std::ffi::{c_void, CString};
use std::os::unix::ffi::OsStrExt;
use std::ptr;

/// Lower-case hex to bytes.
pub fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Bytes to lower-case hex.
pub fn hx(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A JSON vector file under `tests/vectors/`.
pub fn json(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("vector file");
    serde_json::from_str(&text).expect("vector json")
}

/// A string field of a JSON object.
pub fn js<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k} in {v}"))
}

/// A big-endian integer without leading zero bytes (Wycheproof pads some).
pub fn strip(v: Vec<u8>) -> Vec<u8> {
    let i = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v[i..].to_vec()
}

/// The template of a session RSA private key from a Wycheproof `privateKey`
/// object (all CRT parts), with the usage attributes in `usage`.
pub fn rsa_private_template(k: &serde_json::Value, usage: &[Attribute]) -> Vec<Attribute> {
    let f = |n: &str| strip(h(js(k, n)));
    let mut t = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Modulus(f("modulus")),
        Attribute::PublicExponent(f("publicExponent")),
        Attribute::PrivateExponent(f("privateExponent")),
        Attribute::Prime1(f("prime1")),
        Attribute::Prime2(f("prime2")),
        Attribute::Exponent1(f("exponent1")),
        Attribute::Exponent2(f("exponent2")),
        Attribute::Coefficient(f("coefficient")),
    ];
    t.extend_from_slice(usage);
    t
}

/// Imports a secret key with a known value; `extra` overrides or adds attributes.
pub fn secret_key(s: &Session, kt: KeyType, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(kt),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
    ];
    for a in extra {
        t.retain(|x| x.attribute_type() != a.attribute_type());
        t.push(a.clone());
    }
    for (ty, on) in [
        (AttributeTypeSel::Encrypt, true),
        (AttributeTypeSel::Decrypt, true),
        (AttributeTypeSel::Sign, true),
        (AttributeTypeSel::Verify, true),
        (AttributeTypeSel::Wrap, true),
        (AttributeTypeSel::Unwrap, true),
        (AttributeTypeSel::Derive, true),
    ] {
        let a = ty.attr(on);
        if !t.iter().any(|x| x.attribute_type() == a.attribute_type()) {
            t.push(a);
        }
    }
    s.create_object(&t).expect("create secret key")
}

/// An AES key with every usage allowed.
pub fn aes_key(s: &Session, value: &[u8]) -> ObjectHandle {
    secret_key(s, KeyType::AES, value, &[])
}

/// A generic secret (HMAC, HKDF) with every usage allowed.
pub fn generic_key(s: &Session, value: &[u8]) -> ObjectHandle {
    secret_key(s, KeyType::GENERIC_SECRET, value, &[])
}

#[derive(Clone, Copy)]
enum AttributeTypeSel {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Wrap,
    Unwrap,
    Derive,
}

impl AttributeTypeSel {
    fn attr(self, on: bool) -> Attribute {
        match self {
            Self::Encrypt => Attribute::Encrypt(on),
            Self::Decrypt => Attribute::Decrypt(on),
            Self::Sign => Attribute::Sign(on),
            Self::Verify => Attribute::Verify(on),
            Self::Wrap => Attribute::Wrap(on),
            Self::Unwrap => Attribute::Unwrap(on),
            Self::Derive => Attribute::Derive(on),
        }
    }
}

/// The value of an extractable secret key.
pub fn value_of(s: &Session, key: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(key, &[cryptoki::object::AttributeType::Value])
        .expect("get CKA_VALUE")
        .pop()
    {
        Some(Attribute::Value(v)) => v,
        other => panic!("CKA_VALUE: {other:?}"),
    }
}

/// A CK_MECHANISM pointing at `param`, which must outlive every use of it.
pub fn mech<T>(ty: CK_MECHANISM_TYPE, param: Option<&T>) -> CK_MECHANISM {
    match param {
        Some(p) => CK_MECHANISM {
            mechanism: ty,
            pParameter: p as *const T as *mut c_void,
            ulParameterLen: CK_ULONG::try_from(std::mem::size_of::<T>()).expect("param size"),
        },
        None => CK_MECHANISM {
            mechanism: ty,
            pParameter: ptr::null_mut(),
            ulParameterLen: 0,
        },
    }
}

/// A mechanism without parameter.
pub fn plain(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    mech::<u8>(ty, None)
}

/// The module's function list, reached directly.
pub struct Raw {
    f: &'static CK_FUNCTION_LIST,
}

/// Calls one function of the list; `Err(rv)` when it does not return `CKR_OK`.
macro_rules! call {
    ($self:ident . $name:ident ( $($arg:expr),* )) => {{
        let f = $self.f.$name.expect(stringify!($name));
        // SAFETY: the function comes from the module's own CK_FUNCTION_LIST; every
        // pointer argument points at a live local or slice of the length passed next to it.
        let rv = unsafe { f($($arg),*) };
        if rv == CKR_OK { Ok(()) } else { Err(rv) }
    }};
}

type Rv<T> = Result<T, CK_RV>;

fn ulen(n: usize) -> CK_ULONG {
    CK_ULONG::try_from(n).expect("length")
}

fn ptr_of(d: &[u8]) -> *mut u8 {
    d.as_ptr() as *mut u8
}

impl Raw {
    /// Opens the module under test (already loaded and initialized by `cryptoki`).
    pub fn new() -> Raw {
        let path = common::module_path();
        let c = CString::new(path.as_os_str().as_bytes()).expect("path");
        // SAFETY: c is a NUL-terminated path; the library stays loaded for the process.
        let lib = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW) };
        assert!(!lib.is_null(), "dlopen");
        let sym = CString::new("C_GetFunctionList").expect("name");
        // SAFETY: lib is a live handle and sym a NUL-terminated name.
        let f = unsafe { libc::dlsym(lib, sym.as_ptr()) };
        assert!(!f.is_null(), "dlsym");
        // SAFETY: C_GetFunctionList has this signature (PKCS#11 §5.4).
        let get: unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV =
            unsafe { std::mem::transmute::<*mut c_void, _>(f) };
        let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
        // SAFETY: list is a valid out-pointer.
        let rv = unsafe { get(&mut list) };
        assert_eq!(rv, CKR_OK);
        assert!(!list.is_null());
        // SAFETY: the module's function list is static for the life of the library.
        let f = unsafe { &*list };
        Raw { f }
    }

    /// Runs a C_Xxx(data) → out call with the size-query rule: null buffer first.
    fn out2(&self, mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> Rv<()>) -> Rv<Vec<u8>> {
        let mut n: CK_ULONG = 0;
        f(ptr::null_mut(), &mut n)?;
        let mut out = vec![0u8; usize::try_from(n).expect("len")];
        f(out.as_mut_ptr(), &mut n)?;
        out.truncate(usize::try_from(n).expect("len"));
        Ok(out)
    }

    pub fn encrypt_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_EncryptInit(s.handle(), &mut m, k.handle()))
    }

    pub fn decrypt_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_DecryptInit(s.handle(), &mut m, k.handle()))
    }

    pub fn sign_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_SignInit(s.handle(), &mut m, k.handle()))
    }

    pub fn verify_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_VerifyInit(s.handle(), &mut m, k.handle()))
    }

    pub fn digest_init(&self, s: &Session, m: &CK_MECHANISM) -> Rv<()> {
        let mut m = *m;
        call!(self.C_DigestInit(s.handle(), &mut m))
    }

    pub fn encrypt(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle, d: &[u8]) -> Rv<Vec<u8>> {
        self.encrypt_init(s, m, k)?;
        self.out2(|o, n| call!(self.C_Encrypt(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    pub fn decrypt(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle, d: &[u8]) -> Rv<Vec<u8>> {
        self.decrypt_init(s, m, k)?;
        self.out2(|o, n| call!(self.C_Decrypt(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    pub fn encrypt_update(&self, s: &Session, d: &[u8]) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_EncryptUpdate(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    pub fn encrypt_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_EncryptFinal(s.handle(), o, n)))
    }

    pub fn decrypt_update(&self, s: &Session, d: &[u8]) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_DecryptUpdate(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    pub fn decrypt_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_DecryptFinal(s.handle(), o, n)))
    }

    /// One C_Encrypt call into a buffer of `cap` bytes: (rv, reported length, output).
    pub fn encrypt_into(&self, s: &Session, d: &[u8], cap: usize) -> (CK_RV, usize, Vec<u8>) {
        let mut out = vec![0u8; cap];
        let mut n = ulen(cap);
        let r = call!(self.C_Encrypt(
            s.handle(),
            ptr_of(d),
            ulen(d.len()),
            out.as_mut_ptr(),
            &mut n
        ));
        let n = usize::try_from(n).expect("len");
        out.truncate(n.min(cap));
        (r.err().unwrap_or(CKR_OK), n, out)
    }

    /// One C_Sign call into a buffer of `cap` bytes: (rv, reported length, output).
    pub fn sign_into(&self, s: &Session, d: &[u8], cap: usize) -> (CK_RV, usize, Vec<u8>) {
        let mut out = vec![0u8; cap];
        let mut n = ulen(cap);
        let r = call!(self.C_Sign(
            s.handle(),
            ptr_of(d),
            ulen(d.len()),
            out.as_mut_ptr(),
            &mut n
        ));
        let n = usize::try_from(n).expect("len");
        out.truncate(n.min(cap));
        (r.err().unwrap_or(CKR_OK), n, out)
    }

    pub fn sign(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle, d: &[u8]) -> Rv<Vec<u8>> {
        self.sign_init(s, m, k)?;
        self.out2(|o, n| call!(self.C_Sign(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    pub fn sign_update(&self, s: &Session, d: &[u8]) -> Rv<()> {
        call!(self.C_SignUpdate(s.handle(), ptr_of(d), ulen(d.len())))
    }

    pub fn sign_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_SignFinal(s.handle(), o, n)))
    }

    pub fn verify(
        &self,
        s: &Session,
        m: &CK_MECHANISM,
        k: ObjectHandle,
        d: &[u8],
        sig: &[u8],
    ) -> Rv<()> {
        self.verify_init(s, m, k)?;
        call!(self.C_Verify(
            s.handle(),
            ptr_of(d),
            ulen(d.len()),
            ptr_of(sig),
            ulen(sig.len())
        ))
    }

    pub fn verify_update(&self, s: &Session, d: &[u8]) -> Rv<()> {
        call!(self.C_VerifyUpdate(s.handle(), ptr_of(d), ulen(d.len())))
    }

    pub fn verify_final(&self, s: &Session, sig: &[u8]) -> Rv<()> {
        call!(self.C_VerifyFinal(s.handle(), ptr_of(sig), ulen(sig.len())))
    }

    pub fn digest(&self, s: &Session, m: &CK_MECHANISM, d: &[u8]) -> Rv<Vec<u8>> {
        self.digest_init(s, m)?;
        self.out2(|o, n| call!(self.C_Digest(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    pub fn digest_update(&self, s: &Session, d: &[u8]) -> Rv<()> {
        call!(self.C_DigestUpdate(s.handle(), ptr_of(d), ulen(d.len())))
    }

    pub fn digest_key(&self, s: &Session, k: ObjectHandle) -> Rv<()> {
        call!(self.C_DigestKey(s.handle(), k.handle()))
    }

    pub fn digest_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_DigestFinal(s.handle(), o, n)))
    }

    pub fn wrap_key(
        &self,
        s: &Session,
        m: &CK_MECHANISM,
        wk: ObjectHandle,
        k: ObjectHandle,
    ) -> Rv<Vec<u8>> {
        let mut m = *m;
        self.out2(|o, n| call!(self.C_WrapKey(s.handle(), &mut m, wk.handle(), k.handle(), o, n)))
    }

    /// C_UnwrapKey into a secret key of type `kt` (token=false, extractable, every usage).
    pub fn unwrap_secret(
        &self,
        s: &Session,
        m: &CK_MECHANISM,
        uk: ObjectHandle,
        wrapped: &[u8],
        kt: CK_KEY_TYPE,
    ) -> Rv<ObjectHandle> {
        let mut m = *m;
        let class: CK_OBJECT_CLASS = CKO_SECRET_KEY;
        let t: CK_BBOOL = CK_TRUE;
        let f: CK_BBOOL = CK_FALSE;
        let mut tmpl = [
            attr(CKA_CLASS, &class),
            attr(CKA_KEY_TYPE, &kt),
            attr(CKA_TOKEN, &f),
            attr(CKA_EXTRACTABLE, &t),
            attr(CKA_SENSITIVE, &f),
            attr(CKA_ENCRYPT, &t),
            attr(CKA_DECRYPT, &t),
        ];
        let mut h: CK_OBJECT_HANDLE = 0;
        call!(self.C_UnwrapKey(
            s.handle(),
            &mut m,
            uk.handle(),
            ptr_of(wrapped),
            ulen(wrapped.len()),
            tmpl.as_mut_ptr(),
            ulen(tmpl.len()),
            &mut h
        ))?;
        // SAFETY: h is a handle the module just returned.
        Ok(unsafe { ObjectHandle::new_from_raw(h) })
    }

    /// C_UnwrapKey into a private key of type `kt` (token=false, sign, decrypt).
    pub fn unwrap_private(
        &self,
        s: &Session,
        m: &CK_MECHANISM,
        uk: ObjectHandle,
        wrapped: &[u8],
        kt: CK_KEY_TYPE,
    ) -> Rv<ObjectHandle> {
        let mut m = *m;
        let class: CK_OBJECT_CLASS = CKO_PRIVATE_KEY;
        let t: CK_BBOOL = CK_TRUE;
        let f: CK_BBOOL = CK_FALSE;
        let mut tmpl = [
            attr(CKA_CLASS, &class),
            attr(CKA_KEY_TYPE, &kt),
            attr(CKA_TOKEN, &f),
            attr(CKA_SIGN, &t),
            attr(CKA_SENSITIVE, &t),
        ];
        let mut h: CK_OBJECT_HANDLE = 0;
        call!(self.C_UnwrapKey(
            s.handle(),
            &mut m,
            uk.handle(),
            ptr_of(wrapped),
            ulen(wrapped.len()),
            tmpl.as_mut_ptr(),
            ulen(tmpl.len()),
            &mut h
        ))?;
        // SAFETY: h is a handle the module just returned.
        Ok(unsafe { ObjectHandle::new_from_raw(h) })
    }

    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Vec<CK_MECHANISM_TYPE> {
        let mut n: CK_ULONG = 0;
        call!(self.C_GetMechanismList(slot, ptr::null_mut(), &mut n)).expect("list size");
        let mut v = vec![0; usize::try_from(n).expect("len")];
        call!(self.C_GetMechanismList(slot, v.as_mut_ptr(), &mut n)).expect("list");
        v.truncate(usize::try_from(n).expect("len"));
        v
    }

    pub fn mechanism_info(&self, slot: CK_SLOT_ID, m: CK_MECHANISM_TYPE) -> Rv<CK_MECHANISM_INFO> {
        let mut info = CK_MECHANISM_INFO::default();
        call!(self.C_GetMechanismInfo(slot, m, &mut info))?;
        Ok(info)
    }
}

/// A CK_ATTRIBUTE pointing at `v`.
pub fn attr<T>(ty: CK_ATTRIBUTE_TYPE, v: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v as *const T as *mut c_void,
        ulValueLen: ulen(std::mem::size_of::<T>()),
    }
}

/// Feeds `data` in chunks of `n` through `f`, concatenating the outputs.
pub fn chunked(data: &[u8], n: usize, mut f: impl FnMut(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(n.max(1)) {
        out.extend(f(c));
    }
    out
}

/// `n` bytes of a fixed pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| u8::try_from((i * 7 + 3) % 251).expect("byte"))
        .collect()
}

/// A `CKM_*` value from the short name the vector files use.
pub fn ckm(name: &str) -> CK_MECHANISM_TYPE {
    match name {
        "SHA_1" => CKM_SHA_1,
        "SHA224" => CKM_SHA224,
        "SHA256" => CKM_SHA256,
        "SHA384" => CKM_SHA384,
        "SHA512" => CKM_SHA512,
        "SHA3_256" => CKM_SHA3_256,
        "SHA3_384" => CKM_SHA3_384,
        "SHA3_512" => CKM_SHA3_512,
        "SHA_1_HMAC" => CKM_SHA_1_HMAC,
        "SHA_1_HMAC_GENERAL" => CKM_SHA_1_HMAC_GENERAL,
        "SHA224_HMAC" => CKM_SHA224_HMAC,
        "SHA224_HMAC_GENERAL" => CKM_SHA224_HMAC_GENERAL,
        "SHA256_HMAC" => CKM_SHA256_HMAC,
        "SHA256_HMAC_GENERAL" => CKM_SHA256_HMAC_GENERAL,
        "SHA384_HMAC" => CKM_SHA384_HMAC,
        "SHA384_HMAC_GENERAL" => CKM_SHA384_HMAC_GENERAL,
        "SHA512_HMAC" => CKM_SHA512_HMAC,
        "SHA512_HMAC_GENERAL" => CKM_SHA512_HMAC_GENERAL,
        "AES_CMAC" => CKM_AES_CMAC,
        "AES_CMAC_GENERAL" => CKM_AES_CMAC_GENERAL,
        other => panic!("unknown mechanism name {other}"),
    }
}

/// The lines of a `|`-separated vector file, comments skipped.
pub fn table(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .expect("vector file")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// Hex, with `-` for empty.
pub fn hd(s: &str) -> Vec<u8> {
    if s == "-" {
        Vec::new()
    } else {
        h(s)
    }
}
