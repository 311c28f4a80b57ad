//! Shared pieces of the fuzz targets: a module initialized once per process
//! through the real C entry points of the `softkms` rlib, on a token in a
//! temporary directory (fast KDF, data-event audit off), with a logged-in user,
//! a few keys of each family, and a fresh session per input (closing it destroys
//! the session objects an input made and ends any operation it left active).
//!
//! Unsafe code here is the *caller's* side of the PKCS#11 contract: every
//! pointer passed holds the length given with it, exactly as a correct C
//! application would; the module must check everything else.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)]

use arbitrary::Arbitrary;
use cryptoki_sys::*;
use p11_testkit::vendor::*;
use std::ptr::null_mut;
use std::sync::OnceLock;

/// The function list and the handles the targets use.
pub struct P11 {
    /// The 3.0 function list.
    pub f: &'static CK_FUNCTION_LIST_3_0,
    /// The session kept open so that the login lasts.
    pub anchor: CK_SESSION_HANDLE,
    /// Token keys: AES-256 (a managed key), generic secret (HMAC, derive),
    /// EC P-256 private/public, RSA-2048 private/public, an extractable AES-128.
    pub keys: Vec<CK_OBJECT_HANDLE>,
    _dir: tempfile::TempDir,
}

// The harness is used from the fuzzing thread only; the handles are integers and
// the function list is a static of the library.
unsafe impl Sync for P11 {}
unsafe impl Send for P11 {}

/// The raw-call harness the tests share (the call macro, the vendor values).
pub use p11_testkit;

/// Calls a function of the list: `call!(p, C_Foo, args...)` is
/// [`p11_testkit::call_strict!`] on `p.f` (an empty entry panics).
#[macro_export]
macro_rules! call {
    ($p:expr, $name:ident $(, $arg:expr)* $(,)?) => {
        $crate::p11_testkit::call_strict!($p.f, $name $(, $arg)*)
    };
}

/// `rv` must be `CKR_OK` during setup.
fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "setup: {what} returned 0x{rv:x}");
}

/// A `CK_ATTRIBUTE` over a value that outlives its use.
pub fn attr(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v.as_ptr().cast_mut().cast(),
        ulValueLen: v.len() as CK_ULONG,
    }
}

const T: [u8; 1] = [CK_TRUE];
const F: [u8; 1] = [CK_FALSE];

/// The module, set up on first use.
pub fn p11() -> &'static P11 {
    static P: OnceLock<P11> = OnceLock::new();
    P.get_or_init(setup)
}

fn setup() -> P11 {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("softkms.toml");
    std::fs::write(
        &conf,
        format!(
            "[[slot]]\nid = 0\npath = \"{}\"\nkdf = \"fast\"\naudit = \"off\"\n",
            dir.path().join("token.db").display()
        ),
    )
    .expect("write config");
    std::env::set_var("SOFTKMS_CONF", &conf);
    let mut iface: *mut CK_INTERFACE = null_mut();
    // SAFETY: null name and version ask for the default; `iface` is writable.
    let rv = unsafe { softkms::internals::C_GetInterface(null_mut(), null_mut(), &mut iface, 0) };
    ok(rv, "C_GetInterface");
    // SAFETY: the module returned a pointer to its static 3.0 interface.
    let f: &'static CK_FUNCTION_LIST_3_0 =
        unsafe { &*(*iface).pFunctionList.cast::<CK_FUNCTION_LIST_3_0>() };
    let mut p = P11 {
        f,
        anchor: 0,
        keys: Vec::new(),
        _dir: dir,
    };
    ok(call!(p, C_Initialize, null_mut()), "C_Initialize");
    let so = b"so-pin-1234";
    let user = b"user-pin-5678";
    let mut label = [b' '; 32];
    label[..4].copy_from_slice(b"fuzz");
    ok(
        call!(p, C_InitToken, 0, so.as_ptr().cast_mut(), so.len() as CK_ULONG, label.as_mut_ptr()),
        "C_InitToken",
    );
    let mut s = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    ok(call!(p, C_OpenSession, 0, flags, null_mut(), None, &mut s), "C_OpenSession");
    ok(call!(p, C_Login, s, CKU_SO, so.as_ptr().cast_mut(), so.len() as CK_ULONG), "SO login");
    ok(call!(p, C_InitPIN, s, user.as_ptr().cast_mut(), user.len() as CK_ULONG), "C_InitPIN");
    ok(call!(p, C_Logout, s), "C_Logout");
    ok(call!(p, C_Login, s, CKU_USER, user.as_ptr().cast_mut(), user.len() as CK_ULONG), "login");
    p.anchor = s;

    let all = [
        CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE,
    ];
    let secret = |mech: CK_MECHANISM_TYPE, len: CK_ULONG, extractable: bool| {
        let len = len.to_ne_bytes();
        let mut t: Vec<CK_ATTRIBUTE> = all.iter().map(|a| attr(*a, &T)).collect();
        t.push(attr(CKA_TOKEN, &T));
        t.push(attr(CKA_VALUE_LEN, &len));
        t.push(attr(CKA_EXTRACTABLE, if extractable { &T } else { &F }));
        t.push(attr(CKA_SENSITIVE, if extractable { &F } else { &T }));
        let mut m = CK_MECHANISM { mechanism: mech, pParameter: null_mut(), ulParameterLen: 0 };
        let mut h = 0;
        ok(
            call!(p, C_GenerateKey, s, &mut m, t.as_mut_ptr(), t.len() as CK_ULONG, &mut h),
            "C_GenerateKey",
        );
        h
    };
    let aes = secret(CKM_AES_KEY_GEN, 32, false);
    let generic = secret(CKM_GENERIC_SECRET_KEY_GEN, 32, false);
    let aes128 = secret(CKM_AES_KEY_GEN, 16, true);

    let pair = |mech: CK_MECHANISM_TYPE, public: &[CK_ATTRIBUTE]| {
        let mut pubt: Vec<CK_ATTRIBUTE> =
            [CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP].iter().map(|a| attr(*a, &T)).collect();
        pubt.push(attr(CKA_TOKEN, &T));
        pubt.extend_from_slice(public);
        let mut privt: Vec<CK_ATTRIBUTE> =
            [CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP, CKA_DERIVE, CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE]
                .iter()
                .map(|a| attr(*a, &T))
                .collect();
        privt.push(attr(CKA_EXTRACTABLE, &F));
        let mut m = CK_MECHANISM { mechanism: mech, pParameter: null_mut(), ulParameterLen: 0 };
        let (mut pubh, mut privh) = (0, 0);
        ok(
            call!(
                p,
                C_GenerateKeyPair,
                s,
                &mut m,
                pubt.as_mut_ptr(),
                pubt.len() as CK_ULONG,
                privt.as_mut_ptr(),
                privt.len() as CK_ULONG,
                &mut pubh,
                &mut privh
            ),
            "C_GenerateKeyPair",
        );
        (privh, pubh)
    };
    let p256 = p11_testkit::P256_OID;
    let (ec_priv, ec_pub) = pair(CKM_EC_KEY_PAIR_GEN, &[attr(CKA_EC_PARAMS, &p256)]);
    let bits = (2048 as CK_ULONG).to_ne_bytes();
    let e = [1, 0, 1];
    let (rsa_priv, rsa_pub) = pair(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        &[attr(CKA_MODULUS_BITS, &bits), attr(CKA_PUBLIC_EXPONENT, &e)],
    );
    p.keys = vec![aes, generic, ec_priv, ec_pub, rsa_priv, rsa_pub, aes128];
    p
}

impl P11 {
    /// A fresh read-write session (the login of the anchor session applies).
    pub fn session(&self) -> CK_SESSION_HANDLE {
        let mut s = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        ok(call!(self, C_OpenSession, 0, flags, null_mut(), None, &mut s), "C_OpenSession");
        s
    }

    /// Closes a session from [`P11::session`].
    pub fn close(&self, s: CK_SESSION_HANDLE) {
        ok(call!(self, C_CloseSession, s), "C_CloseSession");
    }

    /// Destroys an object an input made (token objects would pile up otherwise).
    pub fn destroy(&self, s: CK_SESSION_HANDLE, h: CK_OBJECT_HANDLE) {
        if h != 0 && !self.keys.contains(&h) {
            let _ = call!(self, C_DestroyObject, s, h);
        }
    }

    /// A key by an input's choice.
    pub fn key(&self, i: u8) -> CK_OBJECT_HANDLE {
        match self.keys.get(usize::from(i)) {
            Some(k) => *k,
            // Now and then an invalid handle.
            None => CK_OBJECT_HANDLE::from(i),
        }
    }
}

/// Return values that mean the module failed rather than refused: a panic is
/// caught and turned into `CKR_GENERAL_ERROR` by the entry points (the fuzzer's
/// panic hook aborts first anyway), and internal inconsistencies report it too.
pub fn check(rv: CK_RV, what: &str) {
    assert_ne!(rv, CKR_GENERAL_ERROR, "{what}: CKR_GENERAL_ERROR");
    assert_ne!(rv, CKR_DEVICE_ERROR, "{what}: CKR_DEVICE_ERROR");
}

// ---------------------------------------------------------------- templates

/// An attribute type an input picks: mostly ones the module knows.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum TypeSel {
    /// One of [`KNOWN_TYPES`].
    Known(u8),
    /// Any value.
    Raw(u64),
}

/// Attribute types the module looks at, standard and vendor.
pub const KNOWN_TYPES: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_APPLICATION, CKA_VALUE, CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE, CKA_TRUSTED, CKA_KEY_TYPE, CKA_ID, CKA_SENSITIVE, CKA_ENCRYPT,
    CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER, CKA_VERIFY, CKA_DERIVE,
    CKA_START_DATE, CKA_END_DATE, CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_VALUE_LEN, CKA_EXTRACTABLE, CKA_LOCAL,
    CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_KEY_GEN_MECHANISM, CKA_MODIFIABLE,
    CKA_COPYABLE, CKA_DESTROYABLE, CKA_EC_PARAMS, CKA_EC_POINT, CKA_WRAP_WITH_TRUSTED,
    CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE, CKA_ALLOWED_MECHANISMS,
    CKA_UNIQUE_ID, CKA_ALWAYS_AUTHENTICATE, CKA_CHECK_VALUE, CKA_PUBLIC_KEY_INFO,
    // The vendor ones, in the order of their values (an input's index picks one).
    CKA_SOFTKMS_KEY_STATE, CKA_SOFTKMS_CURRENT_VERSION, CKA_SOFTKMS_MIN_DECRYPT_VERSION,
    CKA_SOFTKMS_ROTATION_PERIOD, CKA_SOFTKMS_NEXT_ROTATION, CKA_SOFTKMS_ROTATE,
    CKA_SOFTKMS_PENDING_WINDOW, CKA_SOFTKMS_DELETION_TIME, CKA_SOFTKMS_VALID_TO,
    CKA_SOFTKMS_ORIGIN, CKA_SOFTKMS_VERSION_TIMES, CKA_SOFTKMS_POLICY, CKA_SOFTKMS_IMPORT_FROM,
    CKA_SOFTKMS_CREATOR, CKA_SOFTKMS_POLICY_FORCE, CKA_SOFTKMS_PRINCIPAL_PIN,
    CKA_SOFTKMS_VERSIONS, CKA_SOFTKMS_MATERIAL_DIGEST,
];

impl TypeSel {
    /// The type.
    pub fn ty(self) -> CK_ATTRIBUTE_TYPE {
        match self {
            TypeSel::Known(i) => KNOWN_TYPES[usize::from(i) % KNOWN_TYPES.len()],
            TypeSel::Raw(v) => v as CK_ATTRIBUTE_TYPE,
        }
    }
}

/// An attribute's value as an input gives it.
#[derive(Arbitrary, Debug, Clone)]
pub enum ValueIn {
    /// A `CK_BBOOL`.
    Bool(bool),
    /// A small `CK_ULONG` (classes, key types, lengths).
    Small(u8),
    /// Any `CK_ULONG`.
    Ulong(u64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A `CKA_ALLOWED_MECHANISMS`-style list.
    Ulongs(Vec<u16>),
    /// A nested template (`ulValueLen` = count × sizeof), plus `extra` bytes
    /// that make the length not a multiple.
    Nested(Vec<AttrIn>, u8),
    /// A null `pValue` with this length.
    Null(u32),
    /// `CK_UNAVAILABLE_INFORMATION` as the length (null pointer).
    Unavailable,
}

/// One attribute of an input's template.
#[derive(Arbitrary, Debug, Clone)]
pub struct AttrIn {
    /// Its type.
    pub ty: TypeSel,
    /// Its value.
    pub value: ValueIn,
}

/// A template built from [`AttrIn`]s: owns every buffer its pointers point into.
#[derive(Default)]
pub struct Built {
    /// The `CK_ATTRIBUTE`s.
    pub attrs: Vec<CK_ATTRIBUTE>,
    bufs: Vec<Vec<u8>>,
    nested: Vec<Built>,
}

/// Builds a template (nested ones recursively; the module refuses depth 2).
pub fn build(t: &[AttrIn]) -> Built {
    let mut b = Built::default();
    for a in t {
        let ty = a.ty.ty();
        let bytes: Option<Vec<u8>> = match &a.value {
            ValueIn::Bool(v) => Some(vec![u8::from(*v)]),
            ValueIn::Small(v) => Some((CK_ULONG::from(*v)).to_ne_bytes().to_vec()),
            ValueIn::Ulong(v) => Some((*v as CK_ULONG).to_ne_bytes().to_vec()),
            ValueIn::Bytes(v) => Some(v.clone()),
            ValueIn::Ulongs(v) => {
                Some(v.iter().flat_map(|x| CK_ULONG::from(*x).to_ne_bytes()).collect())
            }
            ValueIn::Null(n) => {
                b.attrs.push(CK_ATTRIBUTE {
                    type_: ty,
                    pValue: null_mut(),
                    ulValueLen: CK_ULONG::from(*n),
                });
                None
            }
            ValueIn::Unavailable => {
                b.attrs.push(CK_ATTRIBUTE {
                    type_: ty,
                    pValue: null_mut(),
                    ulValueLen: CK_UNAVAILABLE_INFORMATION,
                });
                None
            }
            ValueIn::Nested(inner, extra) => {
                let nb = build(inner);
                let extra = usize::from(*extra % 8);
                let size = nb.attrs.len() * std::mem::size_of::<CK_ATTRIBUTE>();
                // A byte copy of the array with room for the extra bytes; the
                // pointers inside still point into `nb`'s buffers.
                let mut raw = vec![0u8; size + extra];
                // SAFETY: `raw` has `size` bytes for the array's copy.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        nb.attrs.as_ptr().cast::<u8>(),
                        raw.as_mut_ptr(),
                        size,
                    )
                };
                b.nested.push(nb);
                Some(raw)
            }
        };
        if let Some(mut v) = bytes {
            // An array attribute's pValue is an array of CK_ATTRIBUTE by the
            // caller's contract: plain bytes there must be of a length the module
            // refuses before it reads them (not a multiple of the struct size).
            let nested = matches!(a.value, ValueIn::Nested(..));
            let size = std::mem::size_of::<CK_ATTRIBUTE>();
            if !nested && softkms::internals::object::attr::is_template_attribute(ty) && !v.is_empty() && v.len() % size == 0 {
                v.push(0);
            }
            b.attrs.push(CK_ATTRIBUTE {
                type_: ty,
                pValue: if v.is_empty() { null_mut() } else { v.as_ptr().cast_mut().cast() },
                ulValueLen: v.len() as CK_ULONG,
            });
            b.bufs.push(v);
        }
    }
    b
}

impl Built {
    /// Pointer and count for a C call.
    pub fn raw(&mut self) -> (*mut CK_ATTRIBUTE, CK_ULONG) {
        if self.attrs.is_empty() {
            (null_mut(), 0)
        } else {
            (self.attrs.as_mut_ptr(), self.attrs.len() as CK_ULONG)
        }
    }
}
