//! Hostile C callers (issue 8): every function of the PKCS#11 3.0 function
//! table (`CK_FUNCTION_LIST_3_0` from `C_GetInterface`) is called through its raw
//! C pointer with hostile input: null pointers, output buffers that are too
//! small, `ULONG_MAX` lengths and counts, unknown and stale session and object
//! handles, unknown attribute types, templates with duplicates, mechanism
//! parameters of the wrong size, and calls before `C_Initialize`. Each call must
//! return the code the standard names, must not crash, and must change nothing:
//! after every refused call the token's objects and their attributes are
//! compared with a snapshot.
//!
//! Each category is one table of (function, case) rows. A table must name every
//! function of the 3.0 list, either with cases or with the reason none apply, so
//! a function added to the list without rows fails `tables_cover_every_function`.
//! Functions SoftKMS does not implement get the hostile call anyway and must
//! answer `CKR_FUNCTION_NOT_SUPPORTED`.

// Why unsafe: these tests are a C caller. `cryptoki` refuses to pass null
// pointers and wrong lengths, so the module's raw function table is called
// directly, with pointers into buffers this file owns.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, non_snake_case)]
#![allow(
    clippy::too_many_lines,
    clippy::type_complexity,
    clippy::too_many_arguments
)]
// Lengths the module returned are small; the tests run on 64-bit targets.
#![allow(clippy::cast_possible_truncation)]

mod common;

use common::{Ctx, SO_PIN, USER_PIN};
use cryptoki_sys::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;

const U: CK_ULONG = CK_ULONG::MAX;
/// An attribute type no standard or SoftKMS vendor attribute uses.
const UNKNOWN_ATTR: CK_ATTRIBUTE_TYPE = 0x7fff_0bad;
/// Session and object handles nobody was given.
const UNKNOWN_HANDLES: [CK_ULONG; 3] = [0, 0xdead_beef, U];
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

// ---------------------------------------------------------------- the function list

/// Arguments for a call whose every argument is chosen by its type only.
struct Dummies {
    /// The first argument when it is a handle (session or slot).
    first: CK_ULONG,
    /// Every other integer.
    ulong: CK_ULONG,
    /// Every pointer.
    ptr: *mut u8,
}

trait Dummy {
    fn get(d: &Dummies) -> Self;
    fn first(d: &Dummies) -> Self
    where
        Self: Sized,
    {
        Self::get(d)
    }
}
impl Dummy for CK_ULONG {
    fn get(d: &Dummies) -> Self {
        d.ulong
    }
    fn first(d: &Dummies) -> Self {
        d.first
    }
}
impl Dummy for CK_BBOOL {
    fn get(_: &Dummies) -> Self {
        CK_FALSE
    }
}
impl<T> Dummy for *mut T {
    fn get(d: &Dummies) -> Self {
        d.ptr.cast()
    }
}
impl Dummy for CK_NOTIFY {
    fn get(_: &Dummies) -> Self {
        None
    }
}

macro_rules! dummy_call {
    // The first argument is `Dummy::first`, each further one (a `_` apiece) `Dummy::get`.
    (@ $f:expr, $d:expr, $($rest:tt)*) => {
        ($f.unwrap())(Dummy::first($d) $(, dummy_call!(@get $d, $rest))*)
    };
    (@get $d:expr, _) => {
        Dummy::get($d)
    };
    ($f:expr, $d:expr, 1) => { dummy_call!(@ $f, $d,) };
    ($f:expr, $d:expr, 2) => { dummy_call!(@ $f, $d, _) };
    ($f:expr, $d:expr, 3) => { dummy_call!(@ $f, $d, _ _) };
    ($f:expr, $d:expr, 4) => { dummy_call!(@ $f, $d, _ _ _) };
    ($f:expr, $d:expr, 5) => { dummy_call!(@ $f, $d, _ _ _ _) };
    ($f:expr, $d:expr, 6) => { dummy_call!(@ $f, $d, _ _ _ _ _) };
    ($f:expr, $d:expr, 7) => { dummy_call!(@ $f, $d, _ _ _ _ _ _) };
    ($f:expr, $d:expr, 8) => { dummy_call!(@ $f, $d, _ _ _ _ _ _ _) };
    ($f:expr, $d:expr, 9) => { dummy_call!(@ $f, $d, _ _ _ _ _ _ _ _) };
}

/// Every function of `CK_FUNCTION_LIST_3_0` with its number of arguments, in
/// table order. `all_functions_are_listed` checks the offsets cover the struct.
macro_rules! function_list {
    ($($name:ident / $n:tt),* $(,)?) => {
        const ALL: &[(&str, usize)] = &[$( (stringify!($name), offset_of!(CK_FUNCTION_LIST_3_0, $name)) ),*];

        /// Calls `name` with arguments chosen by type from `d`.
        fn dummy(f: &CK_FUNCTION_LIST_3_0, name: &str, d: &Dummies) -> CK_RV {
            // SAFETY: every pointer is `d.ptr`, null or a zeroed scratch
            // buffer larger than any argument with `d.ulong` elements needs.
            unsafe {
                match name {
                    $( stringify!($name) => dummy_call!(f.$name, d, $n), )*
                    _ => panic!("unknown function {name}"),
                }
            }
        }
    };
}

function_list! {
    C_Initialize/1, C_Finalize/1, C_GetInfo/1, C_GetFunctionList/1, C_GetSlotList/3,
    C_GetSlotInfo/2, C_GetTokenInfo/2, C_GetMechanismList/3, C_GetMechanismInfo/3,
    C_InitToken/4, C_InitPIN/3, C_SetPIN/5, C_OpenSession/5, C_CloseSession/1,
    C_CloseAllSessions/1, C_GetSessionInfo/2, C_GetOperationState/3, C_SetOperationState/5,
    C_Login/4, C_Logout/1, C_CreateObject/4, C_CopyObject/5, C_DestroyObject/2,
    C_GetObjectSize/3, C_GetAttributeValue/4, C_SetAttributeValue/4, C_FindObjectsInit/3,
    C_FindObjects/4, C_FindObjectsFinal/1, C_EncryptInit/3, C_Encrypt/5, C_EncryptUpdate/5,
    C_EncryptFinal/3, C_DecryptInit/3, C_Decrypt/5, C_DecryptUpdate/5, C_DecryptFinal/3,
    C_DigestInit/2, C_Digest/5, C_DigestUpdate/3, C_DigestKey/2, C_DigestFinal/3,
    C_SignInit/3, C_Sign/5, C_SignUpdate/3, C_SignFinal/3, C_SignRecoverInit/3,
    C_SignRecover/5, C_VerifyInit/3, C_Verify/5, C_VerifyUpdate/3, C_VerifyFinal/3,
    C_VerifyRecoverInit/3, C_VerifyRecover/5, C_DigestEncryptUpdate/5,
    C_DecryptDigestUpdate/5, C_SignEncryptUpdate/5, C_DecryptVerifyUpdate/5,
    C_GenerateKey/5, C_GenerateKeyPair/8, C_WrapKey/6, C_UnwrapKey/8, C_DeriveKey/6,
    C_SeedRandom/3, C_GenerateRandom/3, C_GetFunctionStatus/1, C_CancelFunction/1,
    C_WaitForSlotEvent/3, C_GetInterfaceList/2, C_GetInterface/4, C_LoginUser/6,
    C_SessionCancel/2, C_MessageEncryptInit/3, C_EncryptMessage/9, C_EncryptMessageBegin/5,
    C_EncryptMessageNext/8, C_MessageEncryptFinal/1, C_MessageDecryptInit/3,
    C_DecryptMessage/9, C_DecryptMessageBegin/5, C_DecryptMessageNext/8,
    C_MessageDecryptFinal/1, C_MessageSignInit/3, C_SignMessage/7, C_SignMessageBegin/3,
    C_SignMessageNext/7, C_MessageSignFinal/1, C_MessageVerifyInit/3, C_VerifyMessage/7,
    C_VerifyMessageBegin/3, C_VerifyMessageNext/7, C_MessageVerifyFinal/1,
}

/// The functions SoftKMS answers with `CKR_FUNCTION_NOT_SUPPORTED` (README,
/// "Conformance"). Every hostile call to them must get that code.
const UNSUPPORTED: &[&str] = &[
    "C_GetOperationState",
    "C_SetOperationState",
    "C_WaitForSlotEvent",
    "C_SignRecoverInit",
    "C_SignRecover",
    "C_VerifyRecoverInit",
    "C_VerifyRecover",
    "C_DigestEncryptUpdate",
    "C_DecryptDigestUpdate",
    "C_SignEncryptUpdate",
    "C_DecryptVerifyUpdate",
    "C_MessageSignInit",
    "C_SignMessage",
    "C_SignMessageBegin",
    "C_SignMessageNext",
    "C_MessageSignFinal",
    "C_MessageVerifyInit",
    "C_VerifyMessage",
    "C_VerifyMessageBegin",
    "C_VerifyMessageNext",
    "C_MessageVerifyFinal",
];

/// Calls one function of the table by name: `c!(e, C_Foo, args...)`.
macro_rules! c {
    ($e:expr, $name:ident $(, $arg:expr)* $(,)?) => {
        // SAFETY: the arguments point into buffers owned by the caller of
        // the macro, of the sizes passed alongside (or are deliberately null).
        unsafe { ($e.f.$name.expect(stringify!($name)))($($arg),*) }
    };
}

/// Loads the module as a C caller would and returns its 3.0 function table.
fn function_table() -> &'static CK_FUNCTION_LIST_3_0 {
    // SAFETY: loading our own module; its initializers are Rust statics.
    let lib = unsafe { libloading::Library::new(common::module_path()) }.expect("dlopen");
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol has the C_GetInterface signature of PKCS#11 3.0.
    let get: libloading::Symbol<'static, CK_C_GetInterface> =
        unsafe { lib.get(b"C_GetInterface\0") }.expect("C_GetInterface");
    let mut version = CK_VERSION { major: 3, minor: 0 };
    let mut iface: *mut CK_INTERFACE = null_mut();
    // SAFETY: a NUL-terminated name, a version and an output pointer.
    let rv = unsafe {
        (get.expect("C_GetInterface"))(
            c"PKCS 11".as_ptr().cast_mut().cast(),
            &mut version,
            &mut iface,
            0,
        )
    };
    assert_eq!(rv, CKR_OK);
    // SAFETY: the module returned its static 3.0 interface.
    unsafe { &*(*iface).pFunctionList.cast::<CK_FUNCTION_LIST_3_0>() }
}

// ---------------------------------------------------------------- templates

/// A template that owns its values.
#[derive(Clone, Default)]
struct Tpl(Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>);

impl Tpl {
    fn ulong(mut self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Self {
        self.0.push((ty, v.to_ne_bytes().to_vec()));
        self
    }
    fn bool(mut self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        self.0.push((ty, vec![u8::from(v)]));
        self
    }
    fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Self {
        self.0.push((ty, v.to_vec()));
        self
    }
    /// Replaces the value of `ty`.
    fn set(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Self {
        for a in &mut self.0 {
            if a.0 == ty {
                a.1 = v.to_vec();
            }
        }
        self
    }
    /// The raw attributes, pointing into `self` (keep `self` alive and unmoved).
    fn raw(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.0
            .iter_mut()
            .map(|(ty, v)| CK_ATTRIBUTE {
                type_: *ty,
                pValue: v.as_mut_ptr().cast(),
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect()
    }
}

fn data_tpl() -> Tpl {
    Tpl::default()
        .ulong(CKA_CLASS, CKO_DATA)
        .bool(CKA_TOKEN, false)
        .bytes(CKA_LABEL, b"hostile")
        .bytes(CKA_VALUE, b"v")
}
fn aes_tpl() -> Tpl {
    Tpl::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_TOKEN, false)
        .bool(CKA_ENCRYPT, true)
}
fn unwrap_tpl() -> Tpl {
    Tpl::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bool(CKA_TOKEN, false)
}
fn ec_pub_tpl() -> Tpl {
    Tpl::default()
        .bytes(CKA_EC_PARAMS, &P256_OID)
        .bool(CKA_TOKEN, false)
        .bool(CKA_VERIFY, true)
}
fn ec_priv_tpl() -> Tpl {
    Tpl::default().bool(CKA_TOKEN, false).bool(CKA_SIGN, true)
}
fn label_tpl() -> Tpl {
    Tpl::default().bytes(CKA_LABEL, b"changed")
}
/// `t` with its first attribute given again, with another value when `differ`.
fn with_duplicate(mut t: Tpl, differ: bool) -> Tpl {
    let (ty, mut v) = t.0[0].clone();
    if differ {
        v = v.iter().map(|b| b ^ 1).collect();
    }
    t.0.push((ty, v));
    t
}

// ---------------------------------------------------------------- mechanisms

/// A mechanism and the parameter bytes it points at.
struct Mech {
    m: CK_MECHANISM,
    _param: Box<[u8]>,
}
impl Mech {
    fn new(ty: CK_MECHANISM_TYPE, param: &[u8]) -> Mech {
        let mut p: Box<[u8]> = param.into();
        let ptr = if p.is_empty() {
            null_mut()
        } else {
            p.as_mut_ptr().cast()
        };
        Mech {
            m: CK_MECHANISM {
                mechanism: ty,
                pParameter: ptr,
                ulParameterLen: p.len() as CK_ULONG,
            },
            _param: p,
        }
    }
    /// The same mechanism with `ulParameterLen` replaced (the pointer stays).
    fn len(mut self, n: CK_ULONG) -> Mech {
        self.m.ulParameterLen = n;
        self
    }
    fn p(&mut self) -> *mut CK_MECHANISM {
        &mut self.m
    }
}
fn plain(ty: CK_MECHANISM_TYPE) -> Mech {
    Mech::new(ty, &[])
}
fn cbc() -> Mech {
    Mech::new(CKM_AES_CBC_PAD, &[7; 16])
}
fn struct_bytes<T>(v: &T) -> Vec<u8> {
    // SAFETY: reads the bytes of a plain C struct.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }
        .to_vec()
}
/// `CK_ECDH1_DERIVE_PARAMS` bytes; the struct points at `point`, which must
/// outlive the call.
fn ecdh_param(point: &[u8]) -> Vec<u8> {
    struct_bytes(&CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: point.len() as CK_ULONG,
        pPublicData: point.as_ptr().cast_mut(),
    })
}

/// A per-message `CK_GCM_MESSAGE_PARAMS` with its IV and tag buffers.
struct GcmMsg {
    iv: Box<[u8; 12]>,
    tag: Box<[u8; 16]>,
    p: CK_GCM_MESSAGE_PARAMS,
}
impl GcmMsg {
    fn new() -> Box<GcmMsg> {
        let mut g = Box::new(GcmMsg {
            iv: Box::new([3; 12]),
            tag: Box::new([0; 16]),
            p: CK_GCM_MESSAGE_PARAMS {
                pIv: null_mut(),
                ulIvLen: 12,
                ulIvFixedBits: 0,
                ivGenerator: CKG_NO_GENERATE,
                pTag: null_mut(),
                ulTagBits: 128,
            },
        });
        g.p.pIv = g.iv.as_mut_ptr();
        g.p.pTag = g.tag.as_mut_ptr();
        g
    }
    fn ptr(&mut self) -> *mut c_void {
        std::ptr::addr_of_mut!(self.p).cast()
    }
}
const GCM_MSG_LEN: CK_ULONG = size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;

// ---------------------------------------------------------------- the environment

/// The module, an initialized token with a user logged in (through `keeper`),
/// and fixture objects.
struct Env {
    f: &'static CK_FUNCTION_LIST_3_0,
    slot: CK_SLOT_ID,
    /// An uninitialized slot (for `C_InitToken` cases that must change nothing).
    spare_slot: CK_SLOT_ID,
    keeper: CK_SESSION_HANDLE,
    /// AES-256 token key: encrypt, decrypt, wrap, unwrap.
    aes: CK_OBJECT_HANDLE,
    /// AES-256 token key that can be wrapped.
    aes2: CK_OBJECT_HANDLE,
    ec_pub: CK_OBJECT_HANDLE,
    ec_priv: CK_OBJECT_HANDLE,
    /// The raw public point of the EC key (for ECDH).
    point: Vec<u8>,
    /// A token data object.
    data: CK_OBJECT_HANDLE,
    /// `aes2` wrapped by `aes` with `CKM_AES_KEY_WRAP`.
    wrapped: Vec<u8>,
    /// A closed session, a destroyed token object and a session object of a closed session.
    stale_session: CK_SESSION_HANDLE,
    stale_objects: Vec<CK_OBJECT_HANDLE>,
}

fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "{what}: rv 0x{rv:x}");
}

impl Env {
    fn new(ctx: &Ctx) -> Env {
        ctx.init_token(0);
        let f = function_table();
        let slots = ctx.p11.get_all_slots().expect("slots");
        let (slot, spare_slot) = (slots[0].id(), slots[1].id());
        let mut e = Env {
            f,
            slot,
            spare_slot,
            keeper: 0,
            aes: 0,
            aes2: 0,
            ec_pub: 0,
            ec_priv: 0,
            point: Vec::new(),
            data: 0,
            wrapped: Vec::new(),
            stale_session: 0,
            stale_objects: Vec::new(),
        };
        e.keeper = e.open();
        let pin = USER_PIN.as_bytes();
        ok(
            c!(
                e,
                C_Login,
                e.keeper,
                CKU_USER,
                pin.as_ptr().cast_mut(),
                pin.len() as CK_ULONG
            ),
            "login",
        );
        let s = e.keeper;
        let key = |e: &Env, extractable: bool| {
            let mut t = Tpl::default()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .ulong(CKA_VALUE_LEN, 32)
                .bool(CKA_TOKEN, true)
                .bool(CKA_ENCRYPT, true)
                .bool(CKA_DECRYPT, true)
                .bool(CKA_WRAP, true)
                .bool(CKA_UNWRAP, true)
                .bool(CKA_SENSITIVE, !extractable)
                .bool(CKA_EXTRACTABLE, extractable)
                .bytes(CKA_LABEL, if extractable { b"aes2" } else { b"aes1" });
            let mut raw = t.raw();
            let mut h = 0;
            let mut m = plain(CKM_AES_KEY_GEN);
            ok(
                c!(
                    e,
                    C_GenerateKey,
                    s,
                    m.p(),
                    raw.as_mut_ptr(),
                    raw.len() as CK_ULONG,
                    &mut h
                ),
                "aes key",
            );
            h
        };
        e.aes = key(&e, false);
        e.aes2 = key(&e, true);
        let mut pubt = Tpl::default()
            .bytes(CKA_EC_PARAMS, &P256_OID)
            .bool(CKA_TOKEN, true)
            .bool(CKA_VERIFY, true)
            .bytes(CKA_LABEL, b"ec");
        let mut privt = Tpl::default()
            .bool(CKA_TOKEN, true)
            .bool(CKA_SIGN, true)
            .bool(CKA_DERIVE, true)
            .bytes(CKA_LABEL, b"ec");
        let (mut pr, mut sr) = (pubt.raw(), privt.raw());
        let mut m = plain(CKM_EC_KEY_PAIR_GEN);
        let (mut hp, mut hs) = (0, 0);
        ok(
            c!(
                e,
                C_GenerateKeyPair,
                s,
                m.p(),
                pr.as_mut_ptr(),
                pr.len() as CK_ULONG,
                sr.as_mut_ptr(),
                sr.len() as CK_ULONG,
                &mut hp,
                &mut hs
            ),
            "ec pair",
        );
        e.ec_pub = hp;
        e.ec_priv = hs;
        let der = e.attr(s, hp, CKA_EC_POINT).expect("EC point");
        e.point = der[der.len() - 65..].to_vec();
        let mut dt = data_tpl()
            .set(CKA_TOKEN, &[1])
            .bytes(CKA_APPLICATION, b"hostile");
        let mut raw = dt.raw();
        ok(
            c!(
                e,
                C_CreateObject,
                s,
                raw.as_mut_ptr(),
                raw.len() as CK_ULONG,
                &mut e.data
            ),
            "data",
        );
        let mut wrapped = vec![0u8; 64];
        let mut n = 64;
        let mut m = plain(CKM_AES_KEY_WRAP);
        ok(
            c!(
                e,
                C_WrapKey,
                s,
                m.p(),
                e.aes,
                e.aes2,
                wrapped.as_mut_ptr(),
                &mut n
            ),
            "wrap",
        );
        wrapped.truncate(n as usize);
        e.wrapped = wrapped;
        // Stale handles: a closed session, a destroyed token object, a session
        // object that went with its session.
        let t = e.open();
        let mut dt = data_tpl().set(CKA_TOKEN, &[1]);
        let mut raw = dt.raw();
        let mut gone = 0;
        ok(
            c!(
                e,
                C_CreateObject,
                t,
                raw.as_mut_ptr(),
                raw.len() as CK_ULONG,
                &mut gone
            ),
            "stale obj",
        );
        ok(c!(e, C_DestroyObject, t, gone), "destroy");
        let mut st = data_tpl();
        let mut raw = st.raw();
        let mut session_obj = 0;
        ok(
            c!(
                e,
                C_CreateObject,
                t,
                raw.as_mut_ptr(),
                raw.len() as CK_ULONG,
                &mut session_obj
            ),
            "session obj",
        );
        ok(c!(e, C_CloseSession, t), "close");
        e.stale_session = t;
        e.stale_objects = vec![gone, session_obj];
        e
    }

    /// A new R/W session (the user is logged in through `keeper`).
    fn open(&self) -> CK_SESSION_HANDLE {
        let mut h = 0;
        ok(
            c!(
                self,
                C_OpenSession,
                self.slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                null_mut(),
                None,
                &mut h
            ),
            "open session",
        );
        h
    }

    /// One attribute's value, `None` when the call fails.
    fn attr(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Option<Vec<u8>> {
        let mut a = CK_ATTRIBUTE {
            type_: ty,
            pValue: null_mut(),
            ulValueLen: 0,
        };
        if c!(self, C_GetAttributeValue, s, o, &mut a, 1) != CKR_OK {
            return None;
        }
        let mut v = vec![0u8; a.ulValueLen as usize];
        a.pValue = v.as_mut_ptr().cast();
        if c!(self, C_GetAttributeValue, s, o, &mut a, 1) != CKR_OK {
            return None;
        }
        v.truncate(a.ulValueLen as usize);
        Some(v)
    }

    /// Every object the user can see, with its non-sensitive attributes.
    fn snapshot(&self) -> BTreeMap<CK_OBJECT_HANDLE, Vec<Option<Vec<u8>>>> {
        let s = self.open();
        ok(c!(self, C_FindObjectsInit, s, null_mut(), 0), "find init");
        let mut handles = vec![0; 4096];
        let mut n = 0;
        ok(
            c!(self, C_FindObjects, s, handles.as_mut_ptr(), 4096, &mut n),
            "find",
        );
        ok(c!(self, C_FindObjectsFinal, s), "find final");
        handles.truncate(n as usize);
        let types = [
            CKA_CLASS,
            CKA_LABEL,
            CKA_ID,
            CKA_KEY_TYPE,
            CKA_TOKEN,
            CKA_PRIVATE,
            CKA_MODIFIABLE,
            CKA_VALUE_LEN,
            CKA_ENCRYPT,
            CKA_DECRYPT,
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_DERIVE,
            CKA_EC_POINT,
            CKA_APPLICATION,
            CKA_VALUE,
        ];
        let snap = handles
            .iter()
            .map(|h| (*h, types.iter().map(|t| self.attr(s, *h, *t)).collect()))
            .collect();
        ok(c!(self, C_CloseSession, s), "close");
        snap
    }

    // Operations set up so that the hostile argument is the only thing wrong.
    fn enc_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(self, C_EncryptInit, s, cbc().p(), self.aes),
            "encrypt init",
        );
    }
    fn dec_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(self, C_DecryptInit, s, cbc().p(), self.aes),
            "decrypt init",
        );
    }
    fn digest_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(self, C_DigestInit, s, plain(CKM_SHA256).p()),
            "digest init",
        );
    }
    fn sign_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_SignInit,
                s,
                plain(CKM_ECDSA_SHA256).p(),
                self.ec_priv
            ),
            "sign init",
        );
    }
    fn verify_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_VerifyInit,
                s,
                plain(CKM_ECDSA_SHA256).p(),
                self.ec_pub
            ),
            "verify init",
        );
    }
    fn find_init(&self, s: CK_SESSION_HANDLE) {
        ok(c!(self, C_FindObjectsInit, s, null_mut(), 0), "find init");
    }
    fn msg_enc_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_MessageEncryptInit,
                s,
                plain(CKM_AES_GCM).p(),
                self.aes
            ),
            "message encrypt init",
        );
    }
    fn msg_dec_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_MessageDecryptInit,
                s,
                plain(CKM_AES_GCM).p(),
                self.aes
            ),
            "message decrypt init",
        );
    }
    /// A one-shot CBC-PAD encryption of `pt` (for decryption cases).
    fn ciphertext(&self, s: CK_SESSION_HANDLE, pt: &[u8]) -> Vec<u8> {
        self.enc_init(s);
        let mut out = vec![0u8; pt.len() + 32];
        let mut n = out.len() as CK_ULONG;
        ok(
            c!(
                self,
                C_Encrypt,
                s,
                pt.as_ptr().cast_mut(),
                pt.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            ),
            "encrypt",
        );
        out.truncate(n as usize);
        out
    }
    /// An ECDSA signature of `data`.
    fn signature(&self, s: CK_SESSION_HANDLE, data: &[u8]) -> Vec<u8> {
        self.sign_init(s);
        let mut sig = vec![0u8; 64];
        let mut n = 64;
        ok(
            c!(
                self,
                C_Sign,
                s,
                data.as_ptr().cast_mut(),
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut n
            ),
            "sign",
        );
        sig
    }
    /// AES-GCM message encryption of `pt` with a fresh parameter (IV, tag).
    fn gcm_message(&self, s: CK_SESSION_HANDLE, pt: &[u8]) -> (Box<GcmMsg>, Vec<u8>) {
        self.msg_enc_init(s);
        let mut g = GcmMsg::new();
        let mut out = vec![0u8; pt.len()];
        let mut n = out.len() as CK_ULONG;
        ok(
            c!(
                self,
                C_EncryptMessage,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0,
                pt.as_ptr().cast_mut(),
                pt.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut n
            ),
            "encrypt message",
        );
        ok(c!(self, C_MessageEncryptFinal, s), "message encrypt final");
        (g, out)
    }
}

// ---------------------------------------------------------------- tables

type Call = Box<dyn Fn(&Env, CK_SESSION_HANDLE) -> CK_RV>;

enum Entry {
    /// No case of this category applies, and why.
    Na(&'static str),
    /// A hostile call (given a fresh session) and the codes the standard allows.
    Case {
        what: &'static str,
        want: Vec<CK_RV>,
        call: Call,
    },
}

#[derive(Default)]
struct Table(Vec<(&'static str, Entry)>);

impl Table {
    fn case(
        &mut self,
        name: &'static str,
        what: &'static str,
        want: &[CK_RV],
        call: impl Fn(&Env, CK_SESSION_HANDLE) -> CK_RV + 'static,
    ) -> &mut Self {
        self.0.push((
            name,
            Entry::Case {
                what,
                want: want.to_vec(),
                call: Box::new(call),
            },
        ));
        self
    }
    fn na(&mut self, names: &[&'static str], why: &'static str) -> &mut Self {
        for n in names {
            self.0.push((n, Entry::Na(why)));
        }
        self
    }
    /// The unsupported functions, each called with every pointer null and every
    /// integer `ULONG_MAX` but a real session: `CKR_FUNCTION_NOT_SUPPORTED`.
    fn unsupported(&mut self) -> &mut Self {
        for n in UNSUPPORTED {
            self.case(
                n,
                "not supported",
                &[CKR_FUNCTION_NOT_SUPPORTED],
                move |e, s| {
                    dummy(
                        e.f,
                        n,
                        &Dummies {
                            first: s,
                            ulong: U,
                            ptr: null_mut(),
                        },
                    )
                },
            );
        }
        self
    }

    /// Checks the table names every function of the list, each either with
    /// cases or as not applicable.
    fn check_coverage(&self, category: &str) {
        let all: BTreeSet<&str> = ALL.iter().map(|(n, _)| *n).collect();
        let mut na = BTreeSet::new();
        let mut cased = BTreeSet::new();
        for (n, e) in &self.0 {
            assert!(
                all.contains(n),
                "{category}: {n} is not in the function list"
            );
            match e {
                Entry::Na(why) => {
                    assert!(!why.is_empty(), "{category}: {n} is n/a without a reason");
                    assert!(na.insert(*n), "{category}: {n} marked n/a twice");
                }
                Entry::Case { .. } => {
                    cased.insert(*n);
                }
            }
        }
        let both: Vec<_> = na.intersection(&cased).collect();
        assert!(both.is_empty(), "{category}: both n/a and cased: {both:?}");
        let missing: Vec<_> = all
            .iter()
            .filter(|n| !na.contains(*n) && !cased.contains(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "{category}: functions without rows: {missing:?}"
        );
    }

    /// Runs every case on a fresh session, checks its code and that the token's
    /// objects did not change. Returns (functions with cases, cases).
    fn run(&self, e: &Env, category: &str) -> (usize, usize) {
        self.check_coverage(category);
        let mut failures = Vec::new();
        let mut before = e.snapshot();
        let mut funcs = BTreeSet::new();
        let mut cases = 0;
        for (name, entry) in &self.0 {
            let Entry::Case { what, want, call } = entry else {
                continue;
            };
            // HOSTILE_CASE=text runs only the cases whose "name (what)" contains it
            // (to see one case abort a module by itself).
            if let Ok(only) = std::env::var("HOSTILE_CASE") {
                if !format!("{name} ({what})").contains(&only) {
                    continue;
                }
            }
            funcs.insert(*name);
            cases += 1;
            if std::env::var_os("HOSTILE_TRACE").is_some() {
                eprintln!("{category}: {name} ({what})");
            }
            let s = e.open();
            let r = catch_unwind(AssertUnwindSafe(|| call(e, s)));
            // The case may have closed it; either answer is fine here.
            let _ = c!(e, C_CloseSession, s);
            match r {
                Ok(rv) if want.contains(&rv) => {}
                Ok(rv) => failures.push(format!(
                    "{name} ({what}): got 0x{rv:x}, want one of {want:x?}"
                )),
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{name} ({what}): {msg}"));
                }
            }
            let after = e.snapshot();
            if after != before {
                failures.push(format!("{name} ({what}): the token's objects changed"));
                before = after;
            }
        }
        eprintln!(
            "{category}: {} functions with cases, {cases} cases",
            funcs.len()
        );
        assert!(
            failures.is_empty(),
            "{category}: {} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        (funcs.len(), cases)
    }
}

fn two_slots() -> Ctx {
    Ctx::new(2)
}

// ---------------------------------------------------------------- the list itself

#[test]
fn all_functions_are_listed() {
    let first = offset_of!(CK_FUNCTION_LIST_3_0, C_Initialize);
    let slot = size_of::<CK_C_Initialize>();
    let n = (size_of::<CK_FUNCTION_LIST_3_0>() - first) / slot;
    assert_eq!(ALL.len(), n, "the list has {n} functions");
    let offsets: BTreeSet<usize> = ALL.iter().map(|(_, o)| *o).collect();
    let expected: BTreeSet<usize> = (0..n).map(|i| first + i * slot).collect();
    assert_eq!(offsets, expected, "ALL covers every slot exactly once");
    let _ctx = two_slots();
    let f = function_table();
    let base = std::ptr::from_ref(f).cast::<u8>();
    for (name, off) in ALL {
        // SAFETY: reads a function-pointer slot of the table.
        let p = unsafe { base.add(*off).cast::<usize>().read_unaligned() };
        assert_ne!(p, 0, "{name} is null in the 3.0 table");
    }
}

// ---------------------------------------------------------------- before C_Initialize

#[test]
fn before_initialize() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let before = e.snapshot();
    let keeper = e.keeper;
    ok(c!(e, C_Finalize, null_mut()), "finalize");
    let mut scratch = vec![0u64; 4096];
    let d = Dummies {
        first: keeper,
        ulong: 8,
        ptr: scratch.as_mut_ptr().cast(),
    };
    let works_before = ["C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface"];
    let mut failures = Vec::new();
    let mut cases = 0;
    for round in ["before C_Initialize", "after C_Finalize"] {
        for (name, _) in ALL {
            if *name == "C_Initialize" {
                continue;
            }
            scratch.iter_mut().for_each(|w| *w = 0);
            let rv = dummy(e.f, name, &d);
            cases += 1;
            // C_Finalize with a non-null pReserved: CKR_ARGUMENTS_BAD applies as
            // well (§5.4.2); SoftHSMv2 checks it first too.
            let good = if *name == "C_Finalize" {
                rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_ARGUMENTS_BAD
            } else if works_before.contains(name) {
                rv != CKR_CRYPTOKI_NOT_INITIALIZED && rv != CKR_GENERAL_ERROR
            } else {
                rv == CKR_CRYPTOKI_NOT_INITIALIZED
            };
            if !good {
                failures.push(format!("{round}: {name}: 0x{rv:x}"));
            }
        }
        let _ = round;
    }
    // Scratch mode: memory-safe arguments; hostile mode: nulls and ULONG_MAX.
    let h = Dummies {
        first: U,
        ulong: U,
        ptr: null_mut(),
    };
    for (name, _) in ALL {
        if *name == "C_Initialize" || works_before.contains(name) {
            continue;
        }
        cases += 1;
        let rv = dummy(e.f, name, &h);
        if rv != CKR_CRYPTOKI_NOT_INITIALIZED {
            failures.push(format!("hostile arguments: {name}: 0x{rv:x}"));
        }
    }
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_OS_LOCKING_OK,
        pReserved: null_mut(),
    };
    ok(
        c!(e, C_Initialize, std::ptr::addr_of_mut!(args).cast()),
        "initialize",
    );
    ok(
        c!(
            e,
            C_Login,
            e.open(),
            CKU_USER,
            USER_PIN.as_ptr().cast_mut(),
            USER_PIN.len() as CK_ULONG
        ),
        "login",
    );
    // The handles of the first run are gone (and not answered as if they were live).
    assert_eq!(
        c!(
            e,
            C_GetSessionInfo,
            keeper,
            &mut CK_SESSION_INFO {
                slotID: 0,
                state: 0,
                flags: 0,
                ulDeviceError: 0
            }
        ),
        CKR_SESSION_HANDLE_INVALID
    );
    let mut after = e.snapshot();
    // Token objects survive a restart with new handles: compare the attributes only.
    let mut a: Vec<_> = before.into_values().collect();
    let mut b: Vec<_> = std::mem::take(&mut after).into_values().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the token's objects changed");
    eprintln!(
        "before C_Initialize: {} functions, {cases} cases",
        ALL.len() - 1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------- everything hostile at once

/// Every function with every pointer null and every integer `ULONG_MAX`, on a
/// real session or slot and on an unknown one: an error (never `CKR_OK` but
/// where noted, never `CKR_GENERAL_ERROR`, which is what a panic becomes), no
/// crash, no change.
#[test]
fn all_arguments_hostile() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.na(
        &["C_Finalize"],
        "a null pReserved is the valid call (§5.4.2)",
    )
    .na(
        &["C_Logout", "C_CloseAllSessions"],
        "would log out the user the other cases need; no pointer or length arguments",
    );
    // A valid call with these arguments (§5.6.2, §5.6.5: flags may name every kind).
    let may_succeed = ["C_CloseSession", "C_SessionCancel"];
    for (name, _) in ALL {
        if matches!(*name, "C_Finalize" | "C_Logout" | "C_CloseAllSessions") {
            continue;
        }
        let name: &'static str = name;
        let bad = move |rv: CK_RV| {
            rv != CKR_GENERAL_ERROR && (rv != CKR_OK || may_succeed.contains(&name))
        };
        t.case(
            name,
            "real handle, null pointers, ULONG_MAX integers",
            &[CKR_OK],
            move |e, s| {
                let first = if ALL_SLOT_FIRST.contains(&name) {
                    e.slot
                } else {
                    s
                };
                let rv = dummy(
                    e.f,
                    name,
                    &Dummies {
                        first,
                        ulong: U,
                        ptr: null_mut(),
                    },
                );
                if bad(rv) {
                    CKR_OK
                } else {
                    rv | 0x8000_0000_0000
                }
            },
        );
        t.case(
            name,
            "unknown handle, null pointers, ULONG_MAX integers",
            &[CKR_OK],
            move |e, _| {
                let rv = dummy(
                    e.f,
                    name,
                    &Dummies {
                        first: 0xdead_beef,
                        ulong: U,
                        ptr: null_mut(),
                    },
                );
                if bad(rv) && rv != CKR_OK {
                    CKR_OK
                } else {
                    rv | 0x8000_0000_0000
                }
            },
        );
    }
    t.run(&e, "all arguments hostile");
}

/// The functions whose first argument is a slot id.
const ALL_SLOT_FIRST: &[&str] = &[
    "C_GetSlotInfo",
    "C_GetTokenInfo",
    "C_GetMechanismList",
    "C_GetMechanismInfo",
    "C_InitToken",
    "C_OpenSession",
    "C_CloseAllSessions",
];

// ---------------------------------------------------------------- shared row helpers

const AB: &[CK_RV] = &[CKR_ARGUMENTS_BAD];
const NO_PTR: &str = "no pointer arguments";
const NO_LEN: &str = "no length or count arguments";

/// `C_xxx(h, pIn, len, pOut, pulOutLen)` with the given pieces; the output
/// buffer is 256 bytes.
fn in_out(
    e: &Env,
    s: CK_SESSION_HANDLE,
    f: CK_C_Encrypt,
    input: *mut u8,
    in_len: CK_ULONG,
    out: bool,
    len_ptr: bool,
) -> CK_RV {
    let mut buf = [0u8; 256];
    let mut n: CK_ULONG = 256;
    let _ = e;
    // SAFETY: input points at in_len bytes (or is null), buf at 256.
    unsafe {
        (f.unwrap())(
            s,
            input,
            in_len,
            if out { buf.as_mut_ptr() } else { null_mut() },
            if len_ptr { &mut n } else { null_mut() },
        )
    }
}

/// The set-up of a multi-part or one-shot function, by name.
fn setup(e: &Env, s: CK_SESSION_HANDLE, name: &str) {
    match name {
        n if n.starts_with("C_Encrypt") && !n.contains("Message") => e.enc_init(s),
        n if n.starts_with("C_Decrypt") && !n.contains("Message") => e.dec_init(s),
        n if n.starts_with("C_Digest") => e.digest_init(s),
        n if n.starts_with("C_Sign") => e.sign_init(s),
        n if n.starts_with("C_Verify") => e.verify_init(s),
        _ => {}
    }
}

fn in_out_fn(e: &Env, name: &str) -> CK_C_Encrypt {
    match name {
        "C_Encrypt" => e.f.C_Encrypt,
        "C_EncryptUpdate" => e.f.C_EncryptUpdate,
        "C_Decrypt" => e.f.C_Decrypt,
        "C_DecryptUpdate" => e.f.C_DecryptUpdate,
        "C_Digest" => e.f.C_Digest,
        "C_Sign" => e.f.C_Sign,
        _ => panic!("{name}"),
    }
}
fn final_fn(e: &Env, name: &str) -> CK_C_EncryptFinal {
    match name {
        "C_EncryptFinal" => e.f.C_EncryptFinal,
        "C_DecryptFinal" => e.f.C_DecryptFinal,
        "C_DigestFinal" => e.f.C_DigestFinal,
        "C_SignFinal" => e.f.C_SignFinal,
        _ => panic!("{name}"),
    }
}
fn data_in_fn(e: &Env, name: &str) -> CK_C_DigestUpdate {
    match name {
        "C_DigestUpdate" => e.f.C_DigestUpdate,
        "C_SignUpdate" => e.f.C_SignUpdate,
        "C_VerifyUpdate" => e.f.C_VerifyUpdate,
        "C_VerifyFinal" => e.f.C_VerifyFinal,
        "C_SeedRandom" => e.f.C_SeedRandom,
        _ => panic!("{name}"),
    }
}
const IN_OUT: [&str; 6] = [
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_Digest",
    "C_Sign",
];
const FINALS: [&str; 4] = [
    "C_EncryptFinal",
    "C_DecryptFinal",
    "C_DigestFinal",
    "C_SignFinal",
];
const DATA_IN: [&str; 5] = [
    "C_DigestUpdate",
    "C_SignUpdate",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_SeedRandom",
];
/// `C_xxxInit(h, pMechanism, hKey)` with a valid mechanism for the fixture key.
const INITS: [&str; 6] = [
    "C_EncryptInit",
    "C_DecryptInit",
    "C_SignInit",
    "C_VerifyInit",
    "C_MessageEncryptInit",
    "C_MessageDecryptInit",
];
fn init_fn(e: &Env, name: &str) -> (CK_C_EncryptInit, Mech, CK_OBJECT_HANDLE) {
    match name {
        "C_EncryptInit" => (e.f.C_EncryptInit, cbc(), e.aes),
        "C_DecryptInit" => (e.f.C_DecryptInit, cbc(), e.aes),
        "C_SignInit" => (e.f.C_SignInit, plain(CKM_ECDSA_SHA256), e.ec_priv),
        "C_VerifyInit" => (e.f.C_VerifyInit, plain(CKM_ECDSA_SHA256), e.ec_pub),
        "C_MessageEncryptInit" => (e.f.C_MessageEncryptInit, plain(CKM_AES_GCM), e.aes),
        "C_MessageDecryptInit" => (e.f.C_MessageDecryptInit, plain(CKM_AES_GCM), e.aes),
        _ => panic!("{name}"),
    }
}
fn call_init(
    f: CK_C_EncryptInit,
    s: CK_SESSION_HANDLE,
    m: *mut CK_MECHANISM,
    k: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: m is null or a mechanism owned by the caller.
    unsafe { (f.unwrap())(s, m, k) }
}

/// `C_GenerateKey` with the given pieces (`None` = null pointer).
fn gen_key(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    t: Option<Tpl>,
    count: Option<CK_ULONG>,
    out: bool,
) -> CK_RV {
    let mut m = m;
    let mut t = t;
    let mut raw = t.as_mut().map(Tpl::raw);
    let n = count.unwrap_or(raw.as_ref().map_or(3, |r| r.len() as CK_ULONG));
    let mut h = 0;
    c!(
        e,
        C_GenerateKey,
        s,
        m.as_mut().map_or(null_mut(), Mech::p),
        raw.as_mut().map_or(null_mut(), |r| r.as_mut_ptr()),
        n,
        if out { &mut h } else { null_mut() }
    )
}

/// `C_GenerateKeyPair` with the given pieces.
fn gen_pair(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    pubt: Option<Tpl>,
    privt: Option<Tpl>,
    counts: (Option<CK_ULONG>, Option<CK_ULONG>),
    outs: (bool, bool),
) -> CK_RV {
    let (mut m, mut pubt, mut privt) = (m, pubt, privt);
    let mut pr = pubt.as_mut().map(Tpl::raw);
    let mut sr = privt.as_mut().map(Tpl::raw);
    let pn = counts
        .0
        .unwrap_or(pr.as_ref().map_or(3, |r| r.len() as CK_ULONG));
    let sn = counts
        .1
        .unwrap_or(sr.as_ref().map_or(2, |r| r.len() as CK_ULONG));
    let (mut hp, mut hs) = (0, 0);
    c!(
        e,
        C_GenerateKeyPair,
        s,
        m.as_mut().map_or(null_mut(), Mech::p),
        pr.as_mut().map_or(null_mut(), |r| r.as_mut_ptr()),
        pn,
        sr.as_mut().map_or(null_mut(), |r| r.as_mut_ptr()),
        sn,
        if outs.0 { &mut hp } else { null_mut() },
        if outs.1 { &mut hs } else { null_mut() }
    )
}

/// `C_UnwrapKey` of the fixture's wrapped key with the given pieces.
fn unwrap(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    key: CK_OBJECT_HANDLE,
    wrapped: Option<CK_ULONG>,
    t: Option<Tpl>,
    count: Option<CK_ULONG>,
    out: bool,
) -> CK_RV {
    let (mut m, mut t) = (m, t);
    let mut raw = t.as_mut().map(Tpl::raw);
    let n = count.unwrap_or(raw.as_ref().map_or(3, |r| r.len() as CK_ULONG));
    let mut w = e.wrapped.clone();
    let wl = wrapped.unwrap_or(w.len() as CK_ULONG);
    let mut h = 0;
    c!(
        e,
        C_UnwrapKey,
        s,
        m.as_mut().map_or(null_mut(), Mech::p),
        key,
        if wrapped == Some(0xffff_0000) {
            null_mut()
        } else {
            w.as_mut_ptr()
        },
        if wrapped == Some(0xffff_0000) {
            w.len() as CK_ULONG
        } else {
            wl
        },
        raw.as_mut().map_or(null_mut(), |r| r.as_mut_ptr()),
        n,
        if out { &mut h } else { null_mut() }
    )
}
/// Marker for [`unwrap`]: a null `pWrappedKey` with its real length.
const NULL_WRAPPED: Option<CK_ULONG> = Some(0xffff_0000);

/// `C_DeriveKey` (ECDH with the fixture's own public point) with the given pieces.
fn derive(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    base: CK_OBJECT_HANDLE,
    t: Option<Tpl>,
    count: Option<CK_ULONG>,
    out: bool,
) -> CK_RV {
    let (mut m, mut t) = (m, t);
    let mut raw = t.as_mut().map(Tpl::raw);
    let n = count.unwrap_or(raw.as_ref().map_or(3, |r| r.len() as CK_ULONG));
    let mut h = 0;
    c!(
        e,
        C_DeriveKey,
        s,
        m.as_mut().map_or(null_mut(), Mech::p),
        base,
        raw.as_mut().map_or(null_mut(), |r| r.as_mut_ptr()),
        n,
        if out { &mut h } else { null_mut() }
    )
}
fn ecdh(e: &Env) -> Mech {
    Mech::new(CKM_ECDH1_DERIVE, &ecdh_param(&e.point))
}
fn derive_tpl() -> Tpl {
    aes_tpl()
}

/// `C_WrapKey` of `aes2` by `aes` with the given pieces; the buffer is 64 bytes.
fn wrap(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    wrapping: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    cap: CK_ULONG,
    len_ptr: bool,
) -> CK_RV {
    let mut m = m;
    let mut buf = [0u8; 64];
    let mut n = cap;
    c!(
        e,
        C_WrapKey,
        s,
        m.as_mut().map_or(null_mut(), Mech::p),
        wrapping,
        key,
        buf.as_mut_ptr(),
        if len_ptr { &mut n } else { null_mut() }
    )
}

/// The message functions with the given pieces (`param`: the parameter's
/// length, `None` for a null pointer with the right length).
fn message(
    e: &Env,
    s: CK_SESSION_HANDLE,
    name: &str,
    param: Option<CK_ULONG>,
    aad: (bool, CK_ULONG),
    input: (bool, CK_ULONG),
    len_ptr: bool,
) -> CK_RV {
    let mut g = GcmMsg::new();
    let (p, pl) = match param {
        None => (null_mut(), GCM_MSG_LEN),
        Some(n) => (g.ptr(), n),
    };
    let mut a = [1u8; 16];
    let mut d = [2u8; 16];
    let mut out = [0u8; 64];
    let mut n: CK_ULONG = 64;
    let ap = if aad.0 { a.as_mut_ptr() } else { null_mut() };
    let dp = if input.0 { d.as_mut_ptr() } else { null_mut() };
    let np: *mut CK_ULONG = if len_ptr { &mut n } else { null_mut() };
    message_raw(
        e,
        s,
        name,
        (p, pl),
        (ap, aad.1),
        (dp, input.1),
        (out.as_mut_ptr(), np),
    )
}

/// One message function with raw arguments: the parameter, the associated data
/// (ignored by `Next`), the input and the output (both ignored by `Begin`).
fn message_raw(
    e: &Env,
    s: CK_SESSION_HANDLE,
    name: &str,
    (p, pl): (*mut c_void, CK_ULONG),
    (ap, al): (*mut u8, CK_ULONG),
    (dp, dl): (*mut u8, CK_ULONG),
    (op, np): (*mut u8, *mut CK_ULONG),
) -> CK_RV {
    match name {
        "C_EncryptMessage" => c!(e, C_EncryptMessage, s, p, pl, ap, al, dp, dl, op, np),
        "C_DecryptMessage" => c!(e, C_DecryptMessage, s, p, pl, ap, al, dp, dl, op, np),
        "C_EncryptMessageBegin" => c!(e, C_EncryptMessageBegin, s, p, pl, ap, al),
        "C_DecryptMessageBegin" => c!(e, C_DecryptMessageBegin, s, p, pl, ap, al),
        "C_EncryptMessageNext" => c!(
            e,
            C_EncryptMessageNext,
            s,
            p,
            pl,
            dp,
            dl,
            op,
            np,
            CKF_END_OF_MESSAGE
        ),
        "C_DecryptMessageNext" => c!(
            e,
            C_DecryptMessageNext,
            s,
            p,
            pl,
            dp,
            dl,
            op,
            np,
            CKF_END_OF_MESSAGE
        ),
        _ => panic!("{name}"),
    }
}
const MESSAGE_FNS: [&str; 6] = [
    "C_EncryptMessage",
    "C_DecryptMessage",
    "C_EncryptMessageBegin",
    "C_DecryptMessageBegin",
    "C_EncryptMessageNext",
    "C_DecryptMessageNext",
];
fn message_setup(e: &Env, s: CK_SESSION_HANDLE, name: &str) {
    if name.contains("Encrypt") {
        e.msg_enc_init(s);
    } else {
        e.msg_dec_init(s);
    }
    if name.ends_with("Next") {
        let mut g = GcmMsg::new();
        let rv = if name.contains("Encrypt") {
            c!(
                e,
                C_EncryptMessageBegin,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0
            )
        } else {
            c!(
                e,
                C_DecryptMessageBegin,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0
            )
        };
        ok(rv, "message begin");
    }
}
fn has_aad(name: &str) -> bool {
    !name.ends_with("Next")
}
fn has_input(name: &str) -> bool {
    !name.ends_with("Begin")
}
fn has_output(name: &str) -> bool {
    !name.ends_with("Begin")
}

// ---------------------------------------------------------------- NULL pointers

#[test]
fn null_pointers() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(
            &["C_Initialize"],
            "a null pInitArgs is the valid call (§5.4.1)",
        )
        .na(
            &["C_Finalize"],
            "a null pReserved is the valid call (§5.4.2)",
        )
        .na(
            &[
                "C_CloseSession",
                "C_CloseAllSessions",
                "C_Logout",
                "C_DestroyObject",
                "C_FindObjectsFinal",
                "C_DigestKey",
                "C_GetFunctionStatus",
                "C_CancelFunction",
                "C_SessionCancel",
                "C_MessageEncryptFinal",
                "C_MessageDecryptFinal",
            ],
            NO_PTR,
        );
    let mut buf = [0u8; 64];
    let _ = &mut buf;
    t.case("C_GetInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetInfo, null_mut())
    })
    .case("C_GetFunctionList", "ppFunctionList", AB, |e, _| {
        c!(e, C_GetFunctionList, null_mut())
    })
    .case("C_GetSlotList", "pulCount", AB, |e, _| {
        let mut l = [0; 8];
        c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), null_mut())
    })
    .case("C_GetSlotInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetSlotInfo, e.slot, null_mut())
    })
    .case("C_GetTokenInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetTokenInfo, e.slot, null_mut())
    })
    .case("C_GetMechanismList", "pulCount", AB, |e, _| {
        let mut l = [0; 256];
        c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), null_mut())
    })
    .case("C_GetMechanismInfo", "pInfo", AB, |e, _| {
        c!(e, C_GetMechanismInfo, e.slot, CKM_SHA256, null_mut())
    })
    .case("C_InitToken", "pPin", AB, |e, _| {
        let mut label = [b' '; 32];
        c!(
            e,
            C_InitToken,
            e.spare_slot,
            null_mut(),
            8,
            label.as_mut_ptr()
        )
    })
    .case("C_InitToken", "pLabel", AB, |e, _| {
        c!(
            e,
            C_InitToken,
            e.spare_slot,
            SO_PIN.as_ptr().cast_mut(),
            SO_PIN.len() as CK_ULONG,
            null_mut()
        )
    })
    .case("C_InitPIN", "pPin", AB, |e, s| {
        c!(e, C_InitPIN, s, null_mut(), 8)
    })
    .case("C_SetPIN", "pOldPin", AB, |e, s| {
        c!(
            e,
            C_SetPIN,
            s,
            null_mut(),
            8,
            b"newpin12".as_ptr().cast_mut(),
            8
        )
    })
    .case("C_SetPIN", "pNewPin", AB, |e, s| {
        c!(
            e,
            C_SetPIN,
            s,
            USER_PIN.as_ptr().cast_mut(),
            USER_PIN.len() as CK_ULONG,
            null_mut(),
            8
        )
    })
    .case("C_OpenSession", "phSession", AB, |e, _| {
        c!(
            e,
            C_OpenSession,
            e.slot,
            CKF_SERIAL_SESSION,
            null_mut(),
            None,
            null_mut()
        )
    })
    .case("C_GetSessionInfo", "pInfo", AB, |e, s| {
        c!(e, C_GetSessionInfo, s, null_mut())
    })
    .case("C_Login", "pPin (SO, no protected path)", AB, |e, s| {
        c!(e, C_Login, s, CKU_SO, null_mut(), 8)
    })
    .case("C_LoginUser", "pPin", AB, |e, s| {
        c!(
            e,
            C_LoginUser,
            s,
            CKU_SO,
            null_mut(),
            8,
            b"so".as_ptr().cast_mut(),
            2
        )
    })
    .case("C_LoginUser", "pUsername", AB, |e, s| {
        c!(
            e,
            C_LoginUser,
            s,
            CKU_SO,
            SO_PIN.as_ptr().cast_mut(),
            SO_PIN.len() as CK_ULONG,
            null_mut(),
            2
        )
    })
    .case("C_CreateObject", "pTemplate", AB, |e, s| {
        let mut h = 0;
        c!(e, C_CreateObject, s, null_mut(), 4, &mut h)
    })
    .case("C_CreateObject", "phObject", AB, |e, s| {
        let mut t = data_tpl();
        let mut r = t.raw();
        c!(
            e,
            C_CreateObject,
            s,
            r.as_mut_ptr(),
            r.len() as CK_ULONG,
            null_mut()
        )
    })
    .case("C_CopyObject", "pTemplate", AB, |e, s| {
        let mut h = 0;
        c!(e, C_CopyObject, s, e.data, null_mut(), 1, &mut h)
    })
    .case("C_CopyObject", "phNewObject", AB, |e, s| {
        let mut t = label_tpl();
        let mut r = t.raw();
        c!(e, C_CopyObject, s, e.data, r.as_mut_ptr(), 1, null_mut())
    })
    .case("C_GetObjectSize", "pulSize", AB, |e, s| {
        c!(e, C_GetObjectSize, s, e.data, null_mut())
    })
    .case("C_GetAttributeValue", "pTemplate", AB, |e, s| {
        c!(e, C_GetAttributeValue, s, e.data, null_mut(), 1)
    })
    .case("C_SetAttributeValue", "pTemplate", AB, |e, s| {
        c!(e, C_SetAttributeValue, s, e.data, null_mut(), 1)
    })
    .case("C_FindObjectsInit", "pTemplate", AB, |e, s| {
        c!(e, C_FindObjectsInit, s, null_mut(), 1)
    })
    .case("C_FindObjects", "phObject", AB, |e, s| {
        e.find_init(s);
        let mut n = 0;
        c!(e, C_FindObjects, s, null_mut(), 4, &mut n)
    })
    .case("C_FindObjects", "pulObjectCount", AB, |e, s| {
        e.find_init(s);
        let mut h = [0; 4];
        c!(e, C_FindObjects, s, h.as_mut_ptr(), 4, null_mut())
    })
    .case("C_DigestInit", "pMechanism", AB, |e, s| {
        c!(e, C_DigestInit, s, null_mut())
    })
    .case("C_GenerateKey", "pMechanism", AB, |e, s| {
        gen_key(e, s, None, Some(aes_tpl()), None, true)
    })
    .case("C_GenerateKey", "pTemplate", AB, |e, s| {
        gen_key(e, s, Some(plain(CKM_AES_KEY_GEN)), None, Some(3), true)
    })
    .case("C_GenerateKey", "phKey", AB, |e, s| {
        gen_key(
            e,
            s,
            Some(plain(CKM_AES_KEY_GEN)),
            Some(aes_tpl()),
            None,
            false,
        )
    })
    .case("C_GenerateKeyPair", "pMechanism", AB, |e, s| {
        gen_pair(
            e,
            s,
            None,
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (true, true),
        )
    })
    .case("C_GenerateKeyPair", "pPublicKeyTemplate", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(plain(CKM_EC_KEY_PAIR_GEN)),
            None,
            Some(ec_priv_tpl()),
            (None, None),
            (true, true),
        )
    })
    .case("C_GenerateKeyPair", "pPrivateKeyTemplate", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(plain(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            None,
            (None, None),
            (true, true),
        )
    })
    .case("C_GenerateKeyPair", "phPublicKey", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(plain(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (false, true),
        )
    })
    .case("C_GenerateKeyPair", "phPrivateKey", AB, |e, s| {
        gen_pair(
            e,
            s,
            Some(plain(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (true, false),
        )
    })
    .case("C_WrapKey", "pMechanism", AB, |e, s| {
        wrap(e, s, None, e.aes, e.aes2, 64, true)
    })
    .case("C_WrapKey", "pulWrappedKeyLen", AB, |e, s| {
        wrap(
            e,
            s,
            Some(plain(CKM_AES_KEY_WRAP)),
            e.aes,
            e.aes2,
            64,
            false,
        )
    })
    .case("C_UnwrapKey", "pMechanism", AB, |e, s| {
        unwrap(e, s, None, e.aes, None, Some(unwrap_tpl()), None, true)
    })
    .case("C_UnwrapKey", "pWrappedKey", AB, |e, s| {
        unwrap(
            e,
            s,
            Some(plain(CKM_AES_KEY_WRAP)),
            e.aes,
            NULL_WRAPPED,
            Some(unwrap_tpl()),
            None,
            true,
        )
    })
    .case("C_UnwrapKey", "pTemplate", AB, |e, s| {
        unwrap(
            e,
            s,
            Some(plain(CKM_AES_KEY_WRAP)),
            e.aes,
            None,
            None,
            Some(3),
            true,
        )
    })
    .case("C_UnwrapKey", "phKey", AB, |e, s| {
        unwrap(
            e,
            s,
            Some(plain(CKM_AES_KEY_WRAP)),
            e.aes,
            None,
            Some(unwrap_tpl()),
            None,
            false,
        )
    })
    .case("C_DeriveKey", "pMechanism", AB, |e, s| {
        derive(e, s, None, e.ec_priv, Some(derive_tpl()), None, true)
    })
    .case("C_DeriveKey", "pTemplate", AB, |e, s| {
        derive(e, s, Some(ecdh(e)), e.ec_priv, None, Some(3), true)
    })
    .case("C_DeriveKey", "phKey", AB, |e, s| {
        derive(
            e,
            s,
            Some(ecdh(e)),
            e.ec_priv,
            Some(derive_tpl()),
            None,
            false,
        )
    })
    .case("C_GenerateRandom", "pRandomData", AB, |e, s| {
        c!(e, C_GenerateRandom, s, null_mut(), 16)
    })
    .case("C_GetInterfaceList", "pulCount", AB, |e, _| {
        let mut l = [CK_INTERFACE {
            pInterfaceName: null_mut(),
            pFunctionList: null_mut(),
            flags: 0,
        }; 4];
        c!(e, C_GetInterfaceList, l.as_mut_ptr(), null_mut())
    })
    .case("C_GetInterface", "ppInterface", AB, |e, _| {
        c!(e, C_GetInterface, null_mut(), null_mut(), null_mut(), 0)
    })
    .case("C_Verify", "pData", AB, |e, s| {
        let mut sig = e.signature(s, b"data");
        e.verify_init(s);
        c!(e, C_Verify, s, null_mut(), 4, sig.as_mut_ptr(), 64)
    })
    .case("C_Verify", "pSignature", AB, |e, s| {
        e.verify_init(s);
        c!(
            e,
            C_Verify,
            s,
            b"data".as_ptr().cast_mut(),
            4,
            null_mut(),
            64
        )
    });
    for name in INITS {
        t.case(name, "pMechanism", AB, move |e, s| {
            let (f, _, k) = init_fn(e, name);
            call_init(f, s, null_mut(), k)
        });
    }
    for name in IN_OUT {
        t.case(name, "pInput", AB, move |e, s| {
            setup(e, s, name);
            in_out(e, s, in_out_fn(e, name), null_mut(), 16, true, true)
        });
        t.case(name, "pulOutputLen", AB, move |e, s| {
            setup(e, s, name);
            let mut d = [0u8; 16];
            in_out(e, s, in_out_fn(e, name), d.as_mut_ptr(), 16, true, false)
        });
    }
    for name in FINALS {
        t.case(name, "pulOutputLen", AB, move |e, s| {
            setup(e, s, name);
            let mut buf = [0u8; 256];
            // SAFETY: a 256-byte buffer and a null length pointer.
            unsafe { (final_fn(e, name).unwrap())(s, buf.as_mut_ptr(), null_mut()) }
        });
    }
    for name in DATA_IN {
        t.case(name, "pData", AB, move |e, s| {
            setup(e, s, name);
            // SAFETY: a null pointer with a non-zero length.
            unsafe { (data_in_fn(e, name).unwrap())(s, null_mut(), 16) }
        });
    }
    for name in MESSAGE_FNS {
        t.case(name, "pParameter", AB, move |e, s| {
            message_setup(e, s, name);
            message(e, s, name, None, (true, 16), (true, 16), true)
        });
        if has_aad(name) {
            t.case(name, "pAssociatedData", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (false, 16), (true, 16), true)
            });
        }
        if has_input(name) {
            t.case(name, "input", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, 16), (false, 16), true)
            });
        }
        if has_output(name) {
            t.case(name, "output length", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, 16), (true, 16), false)
            });
        }
    }
    t.run(&e, "NULL pointers");
}

// ---------------------------------------------------------------- ULONG_MAX lengths and counts

#[test]
fn ulong_max_lengths() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let pin_bad: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_PIN_LEN_RANGE];
    let param_bad: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD];
    let mut t = Table::default();
    t.unsupported()
        .na(
            &[
                "C_Initialize",
                "C_Finalize",
                "C_GetInfo",
                "C_GetFunctionList",
                "C_GetSlotInfo",
                "C_GetTokenInfo",
                "C_CloseSession",
                "C_CloseAllSessions",
                "C_GetSessionInfo",
                "C_Logout",
                "C_DestroyObject",
                "C_GetObjectSize",
                "C_FindObjectsFinal",
                "C_DigestKey",
                "C_GetFunctionStatus",
                "C_CancelFunction",
                "C_MessageEncryptFinal",
                "C_MessageDecryptFinal",
                "C_OpenSession",
            ],
            NO_LEN,
        )
        // Capacities the caller states for lists: the module writes only what it has.
        .case(
            "C_GetSlotList",
            "*pulCount = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, _| {
                let (mut l, mut n) = ([0; 64], U);
                c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), &mut n)
            },
        )
        .case(
            "C_GetMechanismList",
            "*pulCount = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, _| {
                let (mut l, mut n) = ([0; 1024], U);
                c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), &mut n)
            },
        )
        .case(
            "C_GetInterfaceList",
            "*pulCount = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, _| {
                let mut l = [CK_INTERFACE {
                    pInterfaceName: null_mut(),
                    pFunctionList: null_mut(),
                    flags: 0,
                }; 16];
                let mut n = U;
                c!(e, C_GetInterfaceList, l.as_mut_ptr(), &mut n)
            },
        )
        .case(
            "C_GetInterface",
            "flags ULONG_MAX: no interface has them",
            AB,
            |e, _| {
                let mut i: *mut CK_INTERFACE = null_mut();
                c!(e, C_GetInterface, null_mut(), null_mut(), &mut i, U)
            },
        )
        .case(
            "C_GetMechanismInfo",
            "type ULONG_MAX",
            &[CKR_MECHANISM_INVALID],
            |e, _| {
                let mut i = CK_MECHANISM_INFO {
                    ulMinKeySize: 0,
                    ulMaxKeySize: 0,
                    flags: 0,
                };
                c!(e, C_GetMechanismInfo, e.slot, U, &mut i)
            },
        )
        .case("C_InitToken", "ulPinLen", pin_bad, |e, _| {
            let mut label = [b' '; 32];
            c!(
                e,
                C_InitToken,
                e.spare_slot,
                SO_PIN.as_ptr().cast_mut(),
                U,
                label.as_mut_ptr()
            )
        })
        .case("C_InitPIN", "ulPinLen", pin_bad, |e, s| {
            c!(e, C_InitPIN, s, USER_PIN.as_ptr().cast_mut(), U)
        })
        .case("C_SetPIN", "ulOldLen", pin_bad, |e, s| {
            c!(
                e,
                C_SetPIN,
                s,
                USER_PIN.as_ptr().cast_mut(),
                U,
                b"newpin12".as_ptr().cast_mut(),
                8
            )
        })
        .case("C_SetPIN", "ulNewLen", pin_bad, |e, s| {
            c!(
                e,
                C_SetPIN,
                s,
                USER_PIN.as_ptr().cast_mut(),
                USER_PIN.len() as CK_ULONG,
                b"newpin12".as_ptr().cast_mut(),
                U
            )
        })
        .case("C_Login", "ulPinLen (SO)", pin_bad, |e, s| {
            c!(e, C_Login, s, CKU_SO, SO_PIN.as_ptr().cast_mut(), U)
        })
        .case("C_LoginUser", "ulPinLen", pin_bad, |e, s| {
            c!(
                e,
                C_LoginUser,
                s,
                CKU_SO,
                SO_PIN.as_ptr().cast_mut(),
                U,
                b"so".as_ptr().cast_mut(),
                2
            )
        })
        .case("C_LoginUser", "ulUsernameLen", AB, |e, s| {
            c!(
                e,
                C_LoginUser,
                s,
                CKU_SO,
                SO_PIN.as_ptr().cast_mut(),
                SO_PIN.len() as CK_ULONG,
                b"so".as_ptr().cast_mut(),
                U
            )
        })
        .case("C_CreateObject", "ulCount", AB, |e, s| {
            let (mut tp, mut h) = (data_tpl(), 0);
            let mut r = tp.raw();
            c!(e, C_CreateObject, s, r.as_mut_ptr(), U, &mut h)
        })
        .case(
            "C_CreateObject",
            "ulValueLen",
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_ARGUMENTS_BAD],
            |e, s| {
                let (mut tp, mut h) = (data_tpl(), 0);
                let mut r = tp.raw();
                r[2].ulValueLen = U - 1;
                c!(
                    e,
                    C_CreateObject,
                    s,
                    r.as_mut_ptr(),
                    r.len() as CK_ULONG,
                    &mut h
                )
            },
        )
        .case("C_CopyObject", "ulCount", AB, |e, s| {
            let (mut tp, mut h) = (label_tpl(), 0);
            let mut r = tp.raw();
            c!(e, C_CopyObject, s, e.data, r.as_mut_ptr(), U, &mut h)
        })
        .case("C_GetAttributeValue", "ulCount", AB, |e, s| {
            let mut a = [CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: null_mut(),
                ulValueLen: 0,
            }];
            c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), U)
        })
        .case("C_SetAttributeValue", "ulCount", AB, |e, s| {
            let mut tp = label_tpl();
            let mut r = tp.raw();
            c!(e, C_SetAttributeValue, s, e.data, r.as_mut_ptr(), U)
        })
        .case("C_FindObjectsInit", "ulCount", AB, |e, s| {
            let mut tp = label_tpl();
            let mut r = tp.raw();
            c!(e, C_FindObjectsInit, s, r.as_mut_ptr(), U)
        })
        .case(
            "C_FindObjects",
            "ulMaxObjectCount",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, s| {
                e.find_init(s);
                let (mut h, mut n) = (vec![0; 4096], 0);
                c!(e, C_FindObjects, s, h.as_mut_ptr(), U, &mut n)
            },
        )
        .case("C_DigestInit", "ulParameterLen", param_bad, |e, s| {
            c!(
                e,
                C_DigestInit,
                s,
                Mech::new(CKM_SHA256, &[0; 16]).len(U).p()
            )
        })
        .case("C_GenerateKey", "ulCount", AB, |e, s| {
            gen_key(
                e,
                s,
                Some(plain(CKM_AES_KEY_GEN)),
                Some(aes_tpl()),
                Some(U),
                true,
            )
        })
        .case("C_GenerateKey", "ulParameterLen", param_bad, |e, s| {
            gen_key(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_GEN, &[0; 16]).len(U)),
                Some(aes_tpl()),
                None,
                true,
            )
        })
        .case(
            "C_GenerateKeyPair",
            "ulPublicKeyAttributeCount",
            AB,
            |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(plain(CKM_EC_KEY_PAIR_GEN)),
                    Some(ec_pub_tpl()),
                    Some(ec_priv_tpl()),
                    (Some(U), None),
                    (true, true),
                )
            },
        )
        .case(
            "C_GenerateKeyPair",
            "ulPrivateKeyAttributeCount",
            AB,
            |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(plain(CKM_EC_KEY_PAIR_GEN)),
                    Some(ec_pub_tpl()),
                    Some(ec_priv_tpl()),
                    (None, Some(U)),
                    (true, true),
                )
            },
        )
        .case("C_WrapKey", "ulParameterLen", param_bad, |e, s| {
            wrap(
                e,
                s,
                Some(Mech::new(CKM_AES_KEY_WRAP, &[0; 8]).len(U)),
                e.aes,
                e.aes2,
                64,
                true,
            )
        })
        .case(
            "C_WrapKey",
            "*pulWrappedKeyLen = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, s| wrap(e, s, Some(plain(CKM_AES_KEY_WRAP)), e.aes, e.aes2, U, true),
        )
        .case("C_UnwrapKey", "ulWrappedKeyLen", AB, |e, s| {
            unwrap(
                e,
                s,
                Some(plain(CKM_AES_KEY_WRAP)),
                e.aes,
                Some(U),
                Some(unwrap_tpl()),
                None,
                true,
            )
        })
        .case("C_UnwrapKey", "ulAttributeCount", AB, |e, s| {
            unwrap(
                e,
                s,
                Some(plain(CKM_AES_KEY_WRAP)),
                e.aes,
                None,
                Some(unwrap_tpl()),
                Some(U),
                true,
            )
        })
        .case("C_DeriveKey", "ulAttributeCount", AB, |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e)),
                e.ec_priv,
                Some(derive_tpl()),
                Some(U),
                true,
            )
        })
        .case("C_DeriveKey", "ulParameterLen", param_bad, |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e).len(U)),
                e.ec_priv,
                Some(derive_tpl()),
                None,
                true,
            )
        })
        .case("C_GenerateRandom", "ulRandomLen", AB, |e, s| {
            let mut b = [0u8; 16];
            c!(e, C_GenerateRandom, s, b.as_mut_ptr(), U)
        })
        .case(
            "C_SessionCancel",
            "flags ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            |e, s| c!(e, C_SessionCancel, s, U),
        )
        .case(
            "C_Verify",
            "ulSignatureLen",
            &[CKR_ARGUMENTS_BAD, CKR_SIGNATURE_LEN_RANGE],
            |e, s| {
                let mut sig = e.signature(s, b"data");
                e.verify_init(s);
                c!(
                    e,
                    C_Verify,
                    s,
                    b"data".as_ptr().cast_mut(),
                    4,
                    sig.as_mut_ptr(),
                    U
                )
            },
        )
        .case("C_Verify", "ulDataLen", AB, |e, s| {
            let mut sig = e.signature(s, b"data");
            e.verify_init(s);
            c!(
                e,
                C_Verify,
                s,
                b"data".as_ptr().cast_mut(),
                U,
                sig.as_mut_ptr(),
                64
            )
        });
    for name in INITS {
        t.case(
            name,
            "ulParameterLen",
            &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD, CKR_OK],
            move |e, s| {
                let (f, m, k) = init_fn(e, name);
                let mut m = Mech::new(m.m.mechanism, &[0; 16]).len(U);
                let rv = call_init(f, s, m.p(), k);
                // Message-based init ignores the parameter (each message brings its
                // own); a plain init must refuse it.
                if rv == CKR_OK && !name.starts_with("C_Message") {
                    0xbad
                } else {
                    rv
                }
            },
        );
    }
    for name in IN_OUT {
        t.case(name, "input length", AB, move |e, s| {
            setup(e, s, name);
            let mut d = [0u8; 16];
            in_out(e, s, in_out_fn(e, name), d.as_mut_ptr(), U, true, true)
        });
        t.case(
            name,
            "*pulOutputLen = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            move |e, s| {
                setup(e, s, name);
                let mut d = [0u8; 16];
                let mut out = [0u8; 256];
                let mut n = U;
                // SAFETY: the output really holds 256 bytes, more than any output here.
                unsafe {
                    (in_out_fn(e, name).unwrap())(s, d.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n)
                }
            },
        );
    }
    for name in FINALS {
        t.case(
            name,
            "*pulOutputLen = ULONG_MAX",
            &[CKR_OK, CKR_ARGUMENTS_BAD],
            move |e, s| {
                setup(e, s, name);
                let mut out = [0u8; 256];
                let mut n = U;
                // SAFETY: the output really holds 256 bytes.
                unsafe { (final_fn(e, name).unwrap())(s, out.as_mut_ptr(), &mut n) }
            },
        );
    }
    for name in DATA_IN {
        t.case(name, "ulDataLen", AB, move |e, s| {
            setup(e, s, name);
            let mut d = [0u8; 16];
            // SAFETY: a 16-byte buffer with a length of ULONG_MAX.
            unsafe { (data_in_fn(e, name).unwrap())(s, d.as_mut_ptr(), U) }
        });
    }
    for name in MESSAGE_FNS {
        t.case(name, "ulParameterLen", param_bad, move |e, s| {
            message_setup(e, s, name);
            message(e, s, name, Some(U), (true, 16), (true, 16), true)
        });
        if has_aad(name) {
            t.case(name, "ulAssociatedDataLen", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, U), (true, 16), true)
            });
        }
        if has_input(name) {
            t.case(name, "input length", AB, move |e, s| {
                message_setup(e, s, name);
                message(e, s, name, Some(GCM_MSG_LEN), (true, 16), (true, U), true)
            });
        }
    }
    t.run(&e, "ULONG_MAX lengths");
}

// ---------------------------------------------------------------- shared helpers for the later tables

/// `CKR_OK` when `good`, else `rv` marked so that no expected code matches it.
fn verdict(good: bool, rv: CK_RV) -> CK_RV {
    if good {
        CKR_OK
    } else {
        rv | 0x8000_0000_0000
    }
}

/// The functions that take no session, slot or object handle.
const NO_HANDLE: &[&str] = &[
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetInterfaceList",
    "C_GetInterface",
];

/// The functions with a template argument.
const TEMPLATE_FNS: &[&str] = &[
    "C_CreateObject",
    "C_CopyObject",
    "C_GetAttributeValue",
    "C_SetAttributeValue",
    "C_FindObjectsInit",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_UnwrapKey",
    "C_DeriveKey",
];

/// The functions that are not in `names` and not unsupported.
fn others(names: &[&str]) -> Vec<&'static str> {
    ALL.iter()
        .map(|(n, _)| *n)
        .filter(|n| !names.contains(n) && !UNSUPPORTED.contains(n))
        .collect()
}

/// `C_CreateObject` / `C_CopyObject` / `C_SetAttributeValue` with `t`.
fn create(e: &Env, s: CK_SESSION_HANDLE, mut t: Tpl) -> CK_RV {
    let mut r = t.raw();
    let mut h = 0;
    c!(
        e,
        C_CreateObject,
        s,
        r.as_mut_ptr(),
        r.len() as CK_ULONG,
        &mut h
    )
}
fn copy(e: &Env, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, mut t: Tpl) -> CK_RV {
    let mut r = t.raw();
    let mut h = 0;
    c!(
        e,
        C_CopyObject,
        s,
        o,
        r.as_mut_ptr(),
        r.len() as CK_ULONG,
        &mut h
    )
}
fn set_attrs(e: &Env, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, mut t: Tpl) -> CK_RV {
    let mut r = t.raw();
    c!(
        e,
        C_SetAttributeValue,
        s,
        o,
        r.as_mut_ptr(),
        r.len() as CK_ULONG
    )
}
/// `C_FindObjectsInit` with `t`; on `CKR_OK`, the number of objects found.
fn find(e: &Env, s: CK_SESSION_HANDLE, mut t: Tpl) -> (CK_RV, CK_ULONG) {
    let mut r = t.raw();
    let rv = c!(e, C_FindObjectsInit, s, r.as_mut_ptr(), r.len() as CK_ULONG);
    if rv != CKR_OK {
        return (rv, 0);
    }
    let mut h = [0; 64];
    let mut n = 0;
    ok(c!(e, C_FindObjects, s, h.as_mut_ptr(), 64, &mut n), "find");
    ok(c!(e, C_FindObjectsFinal, s), "find final");
    (rv, n)
}

// ---------------------------------------------------------------- unknown, zero and stale session handles and slot ids

/// Every function that takes a session handle, called with handles nobody was
/// given (0 = `CK_INVALID_HANDLE`, 0xdeadbeef, `ULONG_MAX`) and with the handle of
/// a closed session: `CKR_SESSION_HANDLE_INVALID`. Every function that takes a
/// slot id, with ids no slot has: `CKR_SLOT_ID_INVALID`. The other arguments
/// are harmless (a zeroed scratch buffer and small counts), so the handle is the
/// only thing wrong.
#[test]
fn bad_session_handles_and_slot_ids() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(NO_HANDLE, "no session handle or slot id");
    let bad_slots: [CK_SLOT_ID; 3] = [e.slot.max(e.spare_slot) + 1, 0xdead_beef, U];
    for name in others(NO_HANDLE) {
        let slot_first = ALL_SLOT_FIRST.contains(&name);
        let handles: Vec<CK_ULONG> = if slot_first {
            bad_slots.to_vec()
        } else {
            let mut v = UNKNOWN_HANDLES.to_vec();
            v.push(e.stale_session);
            v
        };
        let want: &'static [CK_RV] = if slot_first {
            &[CKR_SLOT_ID_INVALID]
        } else if matches!(name, "C_GetFunctionStatus" | "C_CancelFunction") {
            // Legacy functions that "should simply return CKR_FUNCTION_NOT_PARALLEL"
            // (PKCS#11 3.0 §5.20.1, §5.20.2); the session check is allowed too.
            &[CKR_SESSION_HANDLE_INVALID, CKR_FUNCTION_NOT_PARALLEL]
        } else {
            &[CKR_SESSION_HANDLE_INVALID]
        };
        for h in handles {
            t.case(
                name,
                if slot_first {
                    "unknown slot id"
                } else {
                    "unknown or closed session"
                },
                want,
                move |e, _| {
                    // The per-message parameter must be a real
                    // CK_GCM_MESSAGE_PARAMS, or the call is rightly refused for it.
                    if MESSAGE_FNS.contains(&name) {
                        return message(
                            e,
                            h,
                            name,
                            Some(GCM_MSG_LEN),
                            (true, 16),
                            (true, 16),
                            true,
                        );
                    }
                    if name == "C_OpenSession" {
                        let mut s = 0;
                        return c!(
                            e,
                            C_OpenSession,
                            h,
                            CKF_SERIAL_SESSION | CKF_RW_SESSION,
                            null_mut(),
                            None,
                            &mut s
                        );
                    }
                    let mut scratch = vec![0u64; 4096];
                    dummy(
                        e.f,
                        name,
                        &Dummies {
                            first: h,
                            ulong: 8,
                            ptr: scratch.as_mut_ptr().cast(),
                        },
                    )
                },
            );
        }
    }
    t.run(&e, "bad session handles and slot ids");
}

// ---------------------------------------------------------------- unknown, zero and stale object handles

/// Object handles nobody was given, of a destroyed token object, and of a
/// session object whose session closed: `CKR_OBJECT_HANDLE_INVALID`, or the
/// key-specific code the function lists (PKCS#11 3.0 §5.8–§5.18:
/// `CKR_KEY_HANDLE_INVALID` for the key of every `*Init`, `C_DigestKey`, the
/// key to wrap and the base key of `C_DeriveKey`;
/// `CKR_WRAPPING_KEY_HANDLE_INVALID` and `CKR_UNWRAPPING_KEY_HANDLE_INVALID`).
#[test]
fn bad_object_handles() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    let cased = [
        "C_CopyObject",
        "C_DestroyObject",
        "C_GetObjectSize",
        "C_GetAttributeValue",
        "C_SetAttributeValue",
        "C_DigestKey",
        "C_WrapKey",
        "C_UnwrapKey",
        "C_DeriveKey",
    ];
    let mut covered: Vec<&str> = cased.to_vec();
    covered.extend(INITS);
    t.unsupported()
        .na(&others(&covered), "no object handle argument");
    let mut bad = UNKNOWN_HANDLES.to_vec();
    bad.extend(&e.stale_objects);
    const OBJ: &[CK_RV] = &[CKR_OBJECT_HANDLE_INVALID];
    const KEY: &[CK_RV] = &[CKR_KEY_HANDLE_INVALID];
    for h in bad {
        t.case("C_CopyObject", "hObject", OBJ, move |e, s| {
            copy(e, s, h, label_tpl())
        })
        .case("C_DestroyObject", "hObject", OBJ, move |e, s| {
            c!(e, C_DestroyObject, s, h)
        })
        .case("C_GetObjectSize", "hObject", OBJ, move |e, s| {
            let mut n = 0;
            c!(e, C_GetObjectSize, s, h, &mut n)
        })
        .case("C_GetAttributeValue", "hObject", OBJ, move |e, s| {
            let mut a = CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: null_mut(),
                ulValueLen: 0,
            };
            c!(e, C_GetAttributeValue, s, h, &mut a, 1)
        })
        .case("C_SetAttributeValue", "hObject", OBJ, move |e, s| {
            set_attrs(e, s, h, label_tpl())
        })
        .case("C_DigestKey", "hKey", KEY, move |e, s| {
            e.digest_init(s);
            c!(e, C_DigestKey, s, h)
        })
        .case(
            "C_WrapKey",
            "hWrappingKey",
            &[CKR_WRAPPING_KEY_HANDLE_INVALID],
            move |e, s| wrap(e, s, Some(plain(CKM_AES_KEY_WRAP)), h, e.aes2, 64, true),
        )
        .case("C_WrapKey", "hKey", KEY, move |e, s| {
            wrap(e, s, Some(plain(CKM_AES_KEY_WRAP)), e.aes, h, 64, true)
        })
        .case(
            "C_UnwrapKey",
            "hUnwrappingKey",
            &[CKR_UNWRAPPING_KEY_HANDLE_INVALID],
            move |e, s| {
                unwrap(
                    e,
                    s,
                    Some(plain(CKM_AES_KEY_WRAP)),
                    h,
                    None,
                    Some(unwrap_tpl()),
                    None,
                    true,
                )
            },
        )
        .case("C_DeriveKey", "hBaseKey", KEY, move |e, s| {
            derive(e, s, Some(ecdh(e)), h, Some(derive_tpl()), None, true)
        });
        for name in INITS {
            t.case(name, "hKey", KEY, move |e, s| {
                let (f, mut m, _) = init_fn(e, name);
                call_init(f, s, m.p(), h)
            });
        }
    }
    t.run(&e, "bad object handles");
}

// ---------------------------------------------------------------- handles are never reused

/// Session and object handles are never handed out twice: many session and
/// token objects created and destroyed, many sessions opened and closed, and
/// no new handle equals one seen before (a stale handle must never reach
/// another object or session, PKCS#11 3.0 §2.4: "a particular object on a
/// token does not necessarily have a handle which is fixed", but a handle that
/// came back would let a stale caller act on a stranger's object).
#[test]
fn handles_are_never_reused() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut objects = BTreeSet::new();
    let mut sessions = BTreeSet::new();
    for h in [e.aes, e.aes2, e.ec_pub, e.ec_priv, e.data] {
        assert!(objects.insert(h));
    }
    objects.extend(&e.stale_objects);
    sessions.insert(e.keeper);
    sessions.insert(e.stale_session);
    let mut made = 0;
    for round in 0..20 {
        let s = e.open();
        assert!(sessions.insert(s), "session handle {s} came back");
        for i in 0..10 {
            let token = (round + i) % 3 == 0;
            let mut t = data_tpl().set(CKA_TOKEN, &[u8::from(token)]);
            let mut r = t.raw();
            let mut h = 0;
            ok(
                c!(
                    e,
                    C_CreateObject,
                    s,
                    r.as_mut_ptr(),
                    r.len() as CK_ULONG,
                    &mut h
                ),
                "create",
            );
            assert!(objects.insert(h), "object handle {h} came back");
            made += 1;
            // Destroy most at once; leave the rest to go with the session.
            if i % 4 != 0 || token {
                ok(c!(e, C_DestroyObject, s, h), "destroy");
            }
        }
        let mut k = 0;
        ok(
            c!(
                e,
                C_CopyObject,
                s,
                e.data,
                label_tpl().raw().as_mut_ptr(),
                1,
                &mut k
            ),
            "copy",
        );
        assert!(objects.insert(k), "copied object handle {k} came back");
        ok(c!(e, C_DestroyObject, s, k), "destroy copy");
        ok(c!(e, C_CloseSession, s), "close");
    }
    // Handles of the objects found again (the cache assigns handles) are the old ones.
    let snap = e.snapshot();
    for h in snap.keys() {
        assert!(
            objects.contains(h),
            "a live object has a handle never given out"
        );
    }
    eprintln!(
        "handles are never reused: {} object handles ({made} created), {} session handles",
        objects.len(),
        sessions.len()
    );
}

// ---------------------------------------------------------------- unknown attribute types

/// Attribute types no standard or SoftKMS attribute uses: one below the vendor
/// range and one inside it (`CKA_VENDOR_DEFINED | 0xbad`, outside SoftKMS's block).
const UNKNOWN_ATTRS: [CK_ATTRIBUTE_TYPE; 2] = [UNKNOWN_ATTR, CKA_VENDOR_DEFINED | 0x0bad];

fn with_type(t: Tpl, ty: CK_ATTRIBUTE_TYPE) -> Tpl {
    t.bytes(ty, b"?")
}

/// Templates with attribute types nobody defined. `C_GetAttributeValue` sets
/// that entry's `ulValueLen` to `CK_UNAVAILABLE_INFORMATION`, fills the others
/// and returns `CKR_ATTRIBUTE_TYPE_INVALID` (PKCS#11 3.0 §5.7.5, rule 3);
/// templates that make or change objects are `CKR_ATTRIBUTE_TYPE_INVALID`
/// (§4.1, §5.7.1); `C_FindObjectsInit` may refuse with
/// `CKR_ATTRIBUTE_TYPE_INVALID` (it is in §5.7.7's list) or search, in which
/// case no object has the attribute and nothing is found.
#[test]
fn unknown_attribute_types() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(&others(TEMPLATE_FNS), "no template argument");
    const TI: &[CK_RV] = &[CKR_ATTRIBUTE_TYPE_INVALID];
    for ty in UNKNOWN_ATTRS {
        t.case(
            "C_GetAttributeValue",
            "unknown type among known ones: the others are filled",
            &[CKR_OK],
            move |e, s| {
                let mut class = [0u8; 8];
                let mut unknown = [0u8; 8];
                let mut label = [0u8; 16];
                let mut a = [
                    CK_ATTRIBUTE {
                        type_: CKA_CLASS,
                        pValue: class.as_mut_ptr().cast(),
                        ulValueLen: 8,
                    },
                    CK_ATTRIBUTE {
                        type_: ty,
                        pValue: unknown.as_mut_ptr().cast(),
                        ulValueLen: 8,
                    },
                    CK_ATTRIBUTE {
                        type_: CKA_LABEL,
                        pValue: label.as_mut_ptr().cast(),
                        ulValueLen: 16,
                    },
                ];
                let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 3);
                let good = rv == CKR_ATTRIBUTE_TYPE_INVALID
                    && a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION
                    && a[0].ulValueLen == 8
                    && class == CKO_DATA.to_ne_bytes()
                    && a[2].ulValueLen == 7
                    && &label[..7] == b"hostile";
                verdict(good, rv)
            },
        )
        .case(
            "C_GetAttributeValue",
            "unknown type, length query",
            &[CKR_OK],
            move |e, s| {
                let mut a = [
                    CK_ATTRIBUTE {
                        type_: ty,
                        pValue: null_mut(),
                        ulValueLen: 0,
                    },
                    CK_ATTRIBUTE {
                        type_: CKA_LABEL,
                        pValue: null_mut(),
                        ulValueLen: 0,
                    },
                ];
                let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 2);
                verdict(
                    rv == CKR_ATTRIBUTE_TYPE_INVALID
                        && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
                        && a[1].ulValueLen == 7,
                    rv,
                )
            },
        )
        .case("C_CreateObject", "unknown type", TI, move |e, s| {
            create(e, s, with_type(data_tpl(), ty))
        })
        .case("C_CopyObject", "unknown type", TI, move |e, s| {
            copy(e, s, e.data, with_type(label_tpl(), ty))
        })
        .case("C_SetAttributeValue", "unknown type", TI, move |e, s| {
            set_attrs(e, s, e.data, with_type(label_tpl(), ty))
        })
        .case(
            "C_FindObjectsInit",
            "unknown type: refused, or nothing found",
            &[CKR_OK],
            move |e, s| {
                let (rv, n) = find(e, s, with_type(Tpl::default(), ty));
                let (rv2, n2) = find(
                    e,
                    s,
                    with_type(Tpl::default().ulong(CKA_CLASS, CKO_DATA), ty),
                );
                verdict(
                    (rv == CKR_ATTRIBUTE_TYPE_INVALID || (rv == CKR_OK && n == 0))
                        && (rv2 == CKR_ATTRIBUTE_TYPE_INVALID || (rv2 == CKR_OK && n2 == 0)),
                    rv,
                )
            },
        )
        .case("C_GenerateKey", "unknown type", TI, move |e, s| {
            gen_key(
                e,
                s,
                Some(plain(CKM_AES_KEY_GEN)),
                Some(with_type(aes_tpl(), ty)),
                None,
                true,
            )
        })
        .case(
            "C_GenerateKeyPair",
            "unknown type in the public template",
            TI,
            move |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(plain(CKM_EC_KEY_PAIR_GEN)),
                    Some(with_type(ec_pub_tpl(), ty)),
                    Some(ec_priv_tpl()),
                    (None, None),
                    (true, true),
                )
            },
        )
        .case(
            "C_GenerateKeyPair",
            "unknown type in the private template",
            TI,
            move |e, s| {
                gen_pair(
                    e,
                    s,
                    Some(plain(CKM_EC_KEY_PAIR_GEN)),
                    Some(ec_pub_tpl()),
                    Some(with_type(ec_priv_tpl(), ty)),
                    (None, None),
                    (true, true),
                )
            },
        )
        .case("C_UnwrapKey", "unknown type", TI, move |e, s| {
            unwrap(
                e,
                s,
                Some(plain(CKM_AES_KEY_WRAP)),
                e.aes,
                None,
                Some(with_type(unwrap_tpl(), ty)),
                None,
                true,
            )
        })
        .case("C_DeriveKey", "unknown type", TI, move |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e)),
                e.ec_priv,
                Some(with_type(derive_tpl(), ty)),
                None,
                true,
            )
        });
    }
    t.run(&e, "unknown attribute types");
}

// ---------------------------------------------------------------- duplicate attributes

/// Templates that give an attribute twice, with the same or another value:
/// the standard lets a module refuse or pick one (PKCS#11 3.0 §4.1: "the
/// function can return CKR_TEMPLATE_INCONSISTENT"); SoftKMS refuses
/// everything that makes or changes an object. Reading an attribute twice fills
/// both entries; searching with a conflicting pair finds nothing.
#[test]
fn duplicate_attributes() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(&others(TEMPLATE_FNS), "no template argument");
    const TI: &[CK_RV] = &[CKR_TEMPLATE_INCONSISTENT];
    t.case(
        "C_GetAttributeValue",
        "the same type twice: both filled",
        &[CKR_OK],
        |e, s| {
            let mut l1 = [0u8; 16];
            let mut l2 = [0u8; 16];
            let mut a = [
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: l1.as_mut_ptr().cast(),
                    ulValueLen: 16,
                },
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: l2.as_mut_ptr().cast(),
                    ulValueLen: 16,
                },
            ];
            let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 2);
            verdict(
                rv == CKR_OK
                    && a[0].ulValueLen == 7
                    && a[1].ulValueLen == 7
                    && &l1[..7] == b"hostile"
                    && l1 == l2,
                rv,
            )
        },
    )
    .case(
        "C_FindObjectsInit",
        "the same type with two values: refused, or nothing found",
        &[CKR_OK],
        |e, s| {
            let (rv, n) = find(
                e,
                s,
                with_duplicate(Tpl::default().ulong(CKA_CLASS, CKO_DATA), true),
            );
            verdict(
                rv == CKR_TEMPLATE_INCONSISTENT || (rv == CKR_OK && n == 0),
                rv,
            )
        },
    );
    for differ in [false, true] {
        let what = if differ {
            "first attribute again, another value"
        } else {
            "first attribute again, same value"
        };
        t.case("C_CreateObject", what, TI, move |e, s| {
            create(e, s, with_duplicate(data_tpl(), differ))
        })
        .case("C_CopyObject", what, TI, move |e, s| {
            copy(e, s, e.data, with_duplicate(label_tpl(), differ))
        })
        .case("C_SetAttributeValue", what, TI, move |e, s| {
            set_attrs(e, s, e.data, with_duplicate(label_tpl(), differ))
        })
        .case("C_GenerateKey", what, TI, move |e, s| {
            gen_key(
                e,
                s,
                Some(plain(CKM_AES_KEY_GEN)),
                Some(with_duplicate(aes_tpl(), differ)),
                None,
                true,
            )
        })
        .case("C_GenerateKeyPair", what, TI, move |e, s| {
            gen_pair(
                e,
                s,
                Some(plain(CKM_EC_KEY_PAIR_GEN)),
                Some(with_duplicate(ec_pub_tpl(), differ)),
                Some(ec_priv_tpl()),
                (None, None),
                (true, true),
            )
        })
        .case("C_GenerateKeyPair", what, TI, move |e, s| {
            gen_pair(
                e,
                s,
                Some(plain(CKM_EC_KEY_PAIR_GEN)),
                Some(ec_pub_tpl()),
                Some(with_duplicate(ec_priv_tpl(), differ)),
                (None, None),
                (true, true),
            )
        })
        .case("C_UnwrapKey", what, TI, move |e, s| {
            unwrap(
                e,
                s,
                Some(plain(CKM_AES_KEY_WRAP)),
                e.aes,
                None,
                Some(with_duplicate(unwrap_tpl(), differ)),
                None,
                true,
            )
        })
        .case("C_DeriveKey", what, TI, move |e, s| {
            derive(
                e,
                s,
                Some(ecdh(e)),
                e.ec_priv,
                Some(with_duplicate(derive_tpl(), differ)),
                None,
                true,
            )
        });
    }
    t.run(&e, "duplicate attributes");
}

// ---------------------------------------------------------------- unknown mechanisms

/// The functions with a mechanism argument.
const MECH_FNS: &[&str] = &[
    "C_GetMechanismInfo",
    "C_EncryptInit",
    "C_DecryptInit",
    "C_SignInit",
    "C_VerifyInit",
    "C_MessageEncryptInit",
    "C_MessageDecryptInit",
    "C_DigestInit",
    "C_GenerateKey",
    "C_GenerateKeyPair",
    "C_WrapKey",
    "C_UnwrapKey",
    "C_DeriveKey",
];

/// Calls a mechanism-taking function with `m` and otherwise valid arguments
/// (`wkey` is the key of the `*Init` functions and the wrapping, unwrapping or
/// base key; `None` picks the fixture's usual one).
fn with_mech(
    e: &Env,
    s: CK_SESSION_HANDLE,
    name: &str,
    m: Mech,
    key: Option<CK_OBJECT_HANDLE>,
) -> CK_RV {
    match name {
        "C_GetMechanismInfo" => {
            let mut i = CK_MECHANISM_INFO {
                ulMinKeySize: 0,
                ulMaxKeySize: 0,
                flags: 0,
            };
            c!(e, C_GetMechanismInfo, e.slot, m.m.mechanism, &mut i)
        }
        "C_DigestInit" => {
            let mut m = m;
            c!(e, C_DigestInit, s, m.p())
        }
        "C_GenerateKey" => gen_key(e, s, Some(m), Some(aes_tpl()), None, true),
        "C_GenerateKeyPair" => gen_pair(
            e,
            s,
            Some(m),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (None, None),
            (true, true),
        ),
        "C_WrapKey" => {
            let mut m = m;
            let mut buf = vec![0u8; 4096];
            let mut n = 4096;
            c!(
                e,
                C_WrapKey,
                s,
                m.p(),
                key.unwrap_or(e.aes),
                e.aes2,
                buf.as_mut_ptr(),
                &mut n
            )
        }
        "C_UnwrapKey" => unwrap(
            e,
            s,
            Some(m),
            key.unwrap_or(e.aes),
            None,
            Some(unwrap_tpl()),
            None,
            true,
        ),
        "C_DeriveKey" => derive(
            e,
            s,
            Some(m),
            key.unwrap_or(e.ec_priv),
            Some(derive_tpl()),
            None,
            true,
        ),
        _ => {
            let (f, _, k) = init_fn(e, name);
            let mut m = m;
            call_init(f, s, m.p(), key.unwrap_or(k))
        }
    }
}

/// Mechanism types nobody defined (below and inside the vendor range), and a
/// real mechanism the function cannot do: `CKR_MECHANISM_INVALID` (PKCS#11 3.0
/// §5.1: "an invalid mechanism was specified to the cryptographic operation").
#[test]
fn unknown_mechanisms() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    t.unsupported()
        .na(&others(MECH_FNS), "no mechanism argument");
    const MI: &[CK_RV] = &[CKR_MECHANISM_INVALID];
    for name in MECH_FNS {
        for ty in [0x7fff_0badu64 as CK_ULONG, CKM_VENDOR_DEFINED | 0x0bad] {
            t.case(name, "unknown type", MI, move |e, s| {
                with_mech(e, s, name, plain(ty), None)
            });
        }
        if *name != "C_GetMechanismInfo" {
            // A digest for everything else, a key generation for C_DigestInit.
            let other = if *name == "C_DigestInit" {
                CKM_AES_KEY_GEN
            } else {
                CKM_SHA256
            };
            t.case(
                name,
                "a mechanism this function cannot do",
                MI,
                move |e, s| with_mech(e, s, name, plain(other), None),
            );
        }
    }
    t.run(&e, "unknown mechanisms");
}

// ---------------------------------------------------------------- mechanism parameters of the wrong size

/// The parameter size the standard gives a mechanism, and whether it may be
/// left out (`CKM_AES_KEY_WRAP`'s IV, the envelope's context). `None`: the
/// mechanism takes no parameter.
fn param_size(m: CK_MECHANISM_TYPE) -> Option<(usize, bool)> {
    use softkms::abi::{
        CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY, CK_SOFTKMS_ENVELOPE_PARAMS,
        CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS,
    };
    let ulong = size_of::<CK_ULONG>();
    Some(match m {
        CKM_AES_CBC | CKM_AES_CBC_PAD => (16, false),
        CKM_AES_CTR => (size_of::<CK_AES_CTR_PARAMS>(), false),
        CKM_AES_GCM => (size_of::<CK_GCM_PARAMS>(), false),
        CKM_AES_KEY_WRAP => (8, true),
        CKM_AES_KEY_WRAP_KWP => (4, true),
        CKM_AES_CMAC_GENERAL
        | CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL => (ulong, false),
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => (size_of::<CK_RSA_PKCS_PSS_PARAMS>(), false),
        CKM_RSA_PKCS_OAEP => (size_of::<CK_RSA_PKCS_OAEP_PARAMS>(), false),
        CKM_RSA_AES_KEY_WRAP => (size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>(), false),
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
            (size_of::<CK_ECDH1_DERIVE_PARAMS>(), false)
        }
        CKM_HKDF_DERIVE | CKM_HKDF_DATA => (size_of::<CK_HKDF_PARAMS>(), false),
        CKM_SOFTKMS_ENVELOPE => (size_of::<CK_SOFTKMS_ENVELOPE_PARAMS>(), true),
        CKM_SOFTKMS_GENERATE_DATA_KEY => (size_of::<CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS>(), false),
        _ => return None,
    })
}

/// Keys of every family for the parameter cases, so that the parameter is the
/// only thing wrong: RSA (public, private) and a generic secret, as session
/// objects of the keeper session.
struct MoreKeys {
    rsa_pub: CK_OBJECT_HANDLE,
    rsa_priv: CK_OBJECT_HANDLE,
    secret: CK_OBJECT_HANDLE,
}
fn more_keys(e: &Env) -> MoreKeys {
    let s = e.keeper;
    let mut pubt = Tpl::default()
        .ulong(CKA_MODULUS_BITS, 2048)
        .bytes(CKA_PUBLIC_EXPONENT, &[1, 0, 1])
        .bool(CKA_TOKEN, false)
        .bool(CKA_ENCRYPT, true)
        .bool(CKA_VERIFY, true)
        .bool(CKA_WRAP, true);
    let mut privt = Tpl::default()
        .bool(CKA_TOKEN, false)
        .bool(CKA_DECRYPT, true)
        .bool(CKA_SIGN, true)
        .bool(CKA_UNWRAP, true);
    let (mut pr, mut sr) = (pubt.raw(), privt.raw());
    let (mut hp, mut hs) = (0, 0);
    ok(
        c!(
            e,
            C_GenerateKeyPair,
            s,
            plain(CKM_RSA_PKCS_KEY_PAIR_GEN).p(),
            pr.as_mut_ptr(),
            pr.len() as CK_ULONG,
            sr.as_mut_ptr(),
            sr.len() as CK_ULONG,
            &mut hp,
            &mut hs
        ),
        "rsa pair",
    );
    let mut g = Tpl::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true)
        .bool(CKA_DERIVE, true)
        .bytes(CKA_VALUE, &[0x5a; 32]);
    let mut r = g.raw();
    let mut secret = 0;
    ok(
        c!(
            e,
            C_CreateObject,
            s,
            r.as_mut_ptr(),
            r.len() as CK_ULONG,
            &mut secret
        ),
        "generic secret",
    );
    MoreKeys {
        rsa_pub: hp,
        rsa_priv: hs,
        secret,
    }
}

/// The key a mechanism of that value uses for `func` (by family).
fn key_for(e: &Env, k: &MoreKeys, m: CK_MECHANISM_TYPE, func: &str) -> Option<CK_OBJECT_HANDLE> {
    let public = matches!(func, "C_EncryptInit" | "C_VerifyInit" | "C_WrapKey");
    let ec = (CKM_EC_KEY_PAIR_GEN..=CKM_ECDH1_COFACTOR_DERIVE).contains(&m)
        || (CKM_ECDSA_SHA224..=CKM_ECDSA_SHA512).contains(&m);
    let rsa = m < CKM_MD2 && m != CKM_RSA_PKCS_KEY_PAIR_GEN
        || m == CKM_RSA_AES_KEY_WRAP
        || (CKM_SHA3_256_RSA_PKCS..=CKM_SHA3_224_RSA_PKCS_PSS).contains(&m);
    let secret = (CKM_MD2..CKM_AES_KEY_GEN).contains(&m) && m != CKM_GENERIC_SECRET_KEY_GEN
        || (CKM_HKDF_DERIVE..=CKM_HKDF_DATA).contains(&m);
    Some(if ec {
        if public {
            e.ec_pub
        } else {
            e.ec_priv
        }
    } else if rsa {
        if public {
            k.rsa_pub
        } else {
            k.rsa_priv
        }
    } else if secret {
        k.secret
    } else {
        e.aes
    })
}

/// Every mechanism the slot lists (`C_GetMechanismList`), through every
/// function its `CKF_*` flags name, with a parameter of the wrong size: for a
/// mechanism with a parameter of `n` bytes, lengths 0 (unless it may be left
/// out), 1 and `n + 1`, and a null `pParameter` with length `n`; for one without,
/// 1 byte and a null pointer with length 1. All `CKR_MECHANISM_PARAM_INVALID`
/// (PKCS#11 3.0 §5.1). The message-based `*Init` functions take no parameter
/// of their own (each message brings one; those are in the tables above).
#[test]
fn mechanism_parameters_of_the_wrong_size() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let keys = std::rc::Rc::new(more_keys(&e));
    let mut n = 0;
    ok(
        c!(e, C_GetMechanismList, e.slot, null_mut(), &mut n),
        "mechanism count",
    );
    let mut mechs = vec![0; n as usize];
    ok(
        c!(e, C_GetMechanismList, e.slot, mechs.as_mut_ptr(), &mut n),
        "mechanism list",
    );
    let by_flag = [
        (CKF_ENCRYPT, "C_EncryptInit"),
        (CKF_DECRYPT, "C_DecryptInit"),
        (CKF_SIGN, "C_SignInit"),
        (CKF_VERIFY, "C_VerifyInit"),
        (CKF_DIGEST, "C_DigestInit"),
        (CKF_GENERATE, "C_GenerateKey"),
        (CKF_GENERATE_KEY_PAIR, "C_GenerateKeyPair"),
        (CKF_WRAP, "C_WrapKey"),
        (CKF_UNWRAP, "C_UnwrapKey"),
        (CKF_DERIVE, "C_DeriveKey"),
    ];
    let mut t = Table::default();
    let mut with_params = 0;
    const PI: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID];
    for m in mechs {
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        ok(
            c!(e, C_GetMechanismInfo, e.slot, m, &mut info),
            "mechanism info",
        );
        let size = param_size(m);
        with_params += usize::from(size.is_some());
        // (length, null pointer)
        let lens: Vec<(usize, bool)> = match size {
            Some((n, optional)) => {
                let mut v = vec![(1, false), (n + 1, false), (n, true)];
                if !optional {
                    v.push((0, false));
                }
                v
            }
            None => vec![(1, false), (1, true)],
        };
        let mut any = false;
        for (flag, func) in by_flag {
            if info.flags & flag == 0 {
                continue;
            }
            any = true;
            for &(len, null) in &lens {
                let keys = keys.clone();
                t.case(
                    func,
                    if null {
                        "null pParameter, non-zero length"
                    } else {
                        "parameter of the wrong size"
                    },
                    PI,
                    move |e, s| {
                        let mut p = Mech::new(m, &vec![0u8; len]);
                        if null {
                            p.m.pParameter = null_mut();
                            p.m.ulParameterLen = len as CK_ULONG;
                        }
                        let rv = with_mech(e, s, func, p, key_for(e, &keys, m, func));
                        if rv != CKR_MECHANISM_PARAM_INVALID {
                            eprintln!(
                                "mechanism 0x{m:x}, {func}, length {len}, null {null}: 0x{rv:x}"
                            );
                        }
                        rv
                    },
                );
            }
        }
        assert!(
            any || info.flags & (CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT) != 0,
            "mechanism 0x{m:x} names no function (flags 0x{:x})",
            info.flags
        );
    }
    let cased = [
        "C_EncryptInit",
        "C_DecryptInit",
        "C_SignInit",
        "C_VerifyInit",
        "C_DigestInit",
        "C_GenerateKey",
        "C_GenerateKeyPair",
        "C_WrapKey",
        "C_UnwrapKey",
        "C_DeriveKey",
    ];
    t.unsupported()
        .na(
            &["C_MessageEncryptInit", "C_MessageDecryptInit"],
            "the parameter comes with each message (see the NULL and ULONG_MAX tables)",
        )
        .na(
            &others(
                &[
                    &cased[..],
                    &["C_MessageEncryptInit", "C_MessageDecryptInit"],
                ]
                .concat(),
            ),
            "no mechanism argument",
        );
    eprintln!("mechanisms listed: {n}, with a parameter: {with_params}");
    t.run(&e, "mechanism parameters of the wrong size");
}

// ---------------------------------------------------------------- output buffers too small

/// Calls `op(buffer, &mut len)` with a 1-byte buffer, then with a buffer of the
/// length the module asked for: `CKR_OK` when the first call is
/// `CKR_BUFFER_TOO_SMALL` with the needed length (more than 1) and the second,
/// on the same operation, succeeds within it (PKCS#11 3.0 §5.2: the operation
/// is not ended by `CKR_BUFFER_TOO_SMALL`, and the call may be repeated).
fn too_small_then_enough(mut op: impl FnMut(*mut u8, &mut CK_ULONG) -> CK_RV) -> CK_RV {
    let mut one = [0u8; 1];
    let mut n: CK_ULONG = 1;
    let rv = op(one.as_mut_ptr(), &mut n);
    if rv != CKR_BUFFER_TOO_SMALL || n <= 1 || n > 1 << 20 {
        return verdict(false, rv);
    }
    let needed = n;
    let mut buf = vec![0u8; needed as usize];
    let rv2 = op(buf.as_mut_ptr(), &mut n);
    verdict(rv2 == CKR_OK && n <= needed, rv2 | 0x10_0000_0000)
}

/// `pt` sized input for the message cases.
const MSG: [u8; 16] = [9; 16];

/// Every function with an output buffer, given one byte of room:
/// `CKR_BUFFER_TOO_SMALL` with the needed length, and the operation still
/// alive (§5.2). `C_GetAttributeValue` answers a short buffer with
/// `CK_UNAVAILABLE_INFORMATION` in that entry (§5.7.5); the list functions
/// with the number of entries (§5.5.2, §5.5.5, §5.4.6).
#[test]
fn output_buffers_too_small() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    let cased = [
        "C_GetSlotList",
        "C_GetMechanismList",
        "C_GetInterfaceList",
        "C_GetAttributeValue",
        "C_Encrypt",
        "C_EncryptUpdate",
        "C_EncryptFinal",
        "C_Decrypt",
        "C_DecryptUpdate",
        "C_DecryptFinal",
        "C_Digest",
        "C_DigestFinal",
        "C_Sign",
        "C_SignFinal",
        "C_WrapKey",
        "C_EncryptMessage",
        "C_DecryptMessage",
        "C_EncryptMessageNext",
        "C_DecryptMessageNext",
    ];
    t.unsupported()
        .na(
            &["C_FindObjects"],
            "ulMaxObjectCount bounds the answer; no room is too small",
        )
        .na(
            &others(&[&cased[..], &["C_FindObjects"]].concat()),
            "no output buffer",
        );
    const OKV: &[CK_RV] = &[CKR_OK];
    t.case("C_GetSlotList", "room for 1 of 2 slots", OKV, |e, _| {
        let mut l = [0; 8];
        let mut n = 1;
        let rv = c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), &mut n);
        let rv2 = c!(e, C_GetSlotList, CK_FALSE, l.as_mut_ptr(), &mut n);
        verdict(rv == CKR_BUFFER_TOO_SMALL && rv2 == CKR_OK && n == 2, rv)
    })
    .case("C_GetMechanismList", "room for 1", OKV, |e, _| {
        let mut l = [0; 1024];
        let mut n = 1;
        let rv = c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), &mut n);
        let needed = n;
        let rv2 = c!(e, C_GetMechanismList, e.slot, l.as_mut_ptr(), &mut n);
        verdict(
            rv == CKR_BUFFER_TOO_SMALL && needed > 1 && rv2 == CKR_OK && n == needed,
            rv,
        )
    })
    .case("C_GetInterfaceList", "room for none", OKV, |e, _| {
        let mut l = [CK_INTERFACE {
            pInterfaceName: null_mut(),
            pFunctionList: null_mut(),
            flags: 0,
        }; 16];
        let mut n = 0;
        let rv = c!(e, C_GetInterfaceList, l.as_mut_ptr(), &mut n);
        let needed = n;
        let rv2 = c!(e, C_GetInterfaceList, l.as_mut_ptr(), &mut n);
        verdict(
            rv == CKR_BUFFER_TOO_SMALL && needed >= 1 && rv2 == CKR_OK && n == needed,
            rv,
        )
    })
    .case(
        "C_GetAttributeValue",
        "1 byte for the label: CK_UNAVAILABLE_INFORMATION, the class filled",
        OKV,
        |e, s| {
            let mut class = [0u8; 8];
            let mut label = [0u8; 1];
            let mut a = [
                CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: label.as_mut_ptr().cast(),
                    ulValueLen: 1,
                },
                CK_ATTRIBUTE {
                    type_: CKA_CLASS,
                    pValue: class.as_mut_ptr().cast(),
                    ulValueLen: 8,
                },
            ];
            let rv = c!(e, C_GetAttributeValue, s, e.data, a.as_mut_ptr(), 2);
            verdict(
                rv == CKR_BUFFER_TOO_SMALL
                    && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
                    && a[1].ulValueLen == 8
                    && class == CKO_DATA.to_ne_bytes(),
                rv,
            )
        },
    )
    .case("C_WrapKey", "1 byte", OKV, |e, s| {
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_WrapKey,
                s,
                plain(CKM_AES_KEY_WRAP).p(),
                e.aes,
                e.aes2,
                p,
                n
            )
        })
    });
    let data = [7u8; 20];
    for name in ["C_Encrypt", "C_EncryptUpdate", "C_Digest", "C_Sign"] {
        t.case(name, "1 byte", OKV, move |e, s| {
            setup(e, s, name);
            let f = in_out_fn(e, name).unwrap();
            let mut d = data;
            // SAFETY: d holds 20 bytes; p holds *n bytes.
            too_small_then_enough(|p, n| unsafe { f(s, d.as_mut_ptr(), 20, p, n) })
        });
    }
    for name in ["C_Decrypt", "C_DecryptUpdate"] {
        t.case(name, "1 byte", OKV, move |e, s| {
            let mut ct = e.ciphertext(s, &data);
            setup(e, s, name);
            let f = in_out_fn(e, name).unwrap();
            let len = ct.len() as CK_ULONG;
            // SAFETY: ct holds len bytes; p holds *n bytes.
            too_small_then_enough(|p, n| unsafe { f(s, ct.as_mut_ptr(), len, p, n) })
        });
    }
    for name in FINALS {
        t.case(name, "1 byte", OKV, move |e, s| {
            let mut input = if name == "C_DecryptFinal" {
                e.ciphertext(s, &data)
            } else {
                data.to_vec()
            };
            setup(e, s, name);
            let mut out = [0u8; 64];
            let mut n: CK_ULONG = 64;
            let len = input.len() as CK_ULONG;
            let rv = match name {
                "C_EncryptFinal" => {
                    c!(
                        e,
                        C_EncryptUpdate,
                        s,
                        input.as_mut_ptr(),
                        len,
                        out.as_mut_ptr(),
                        &mut n
                    )
                }
                "C_DecryptFinal" => {
                    c!(
                        e,
                        C_DecryptUpdate,
                        s,
                        input.as_mut_ptr(),
                        len,
                        out.as_mut_ptr(),
                        &mut n
                    )
                }
                "C_DigestFinal" => c!(e, C_DigestUpdate, s, input.as_mut_ptr(), len),
                _ => c!(e, C_SignUpdate, s, input.as_mut_ptr(), len),
            };
            ok(rv, "update");
            let f = final_fn(e, name).unwrap();
            // SAFETY: p holds *n bytes.
            too_small_then_enough(|p, n| unsafe { f(s, p, n) })
        });
    }
    t.case("C_EncryptMessage", "1 byte", OKV, |e, s| {
        e.msg_enc_init(s);
        let mut g = GcmMsg::new();
        let mut pt = MSG;
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_EncryptMessage,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0,
                pt.as_mut_ptr(),
                16,
                p,
                n
            )
        })
    })
    .case("C_DecryptMessage", "1 byte", OKV, |e, s| {
        let (mut g, mut ct) = e.gcm_message(s, &MSG);
        e.msg_dec_init(s);
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_DecryptMessage,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0,
                ct.as_mut_ptr(),
                16,
                p,
                n
            )
        })
    })
    .case("C_EncryptMessageNext", "1 byte", OKV, |e, s| {
        e.msg_enc_init(s);
        let mut g = GcmMsg::new();
        ok(
            c!(
                e,
                C_EncryptMessageBegin,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0
            ),
            "begin",
        );
        let mut pt = MSG;
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_EncryptMessageNext,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                pt.as_mut_ptr(),
                16,
                p,
                n,
                CKF_END_OF_MESSAGE
            )
        })
    })
    .case("C_DecryptMessageNext", "1 byte", OKV, |e, s| {
        let (mut g, mut ct) = e.gcm_message(s, &MSG);
        e.msg_dec_init(s);
        ok(
            c!(
                e,
                C_DecryptMessageBegin,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                null_mut(),
                0
            ),
            "begin",
        );
        too_small_then_enough(|p, n| {
            c!(
                e,
                C_DecryptMessageNext,
                s,
                g.ptr(),
                GCM_MSG_LEN,
                ct.as_mut_ptr(),
                16,
                p,
                n,
                CKF_END_OF_MESSAGE
            )
        })
    });
    t.run(&e, "output buffers too small");
}

// ---------------------------------------------------------------- huge sizes inside parameters and templates

/// Sizes no field can have (issue 12, item 6): 2^40 (a terabyte), 2^62 (still
/// an `isize`, so a slice of it can be formed), 2^63 (the `ulTagBits` that
/// aborted the host) and `ULONG_MAX`. Each comes with a pointer to a real, small
/// buffer. A module that allocates by such a size before it compares it with the
/// mechanism's limit aborts the whole host process: an allocation failure is not
/// a panic, and `catch_unwind` cannot stop it.
const HUGE: [(CK_ULONG, &str); 4] = [
    (1 << 40, "2^40"),
    (1 << 62, "2^62"),
    (1 << 63, "2^63"),
    (U, "ULONG_MAX"),
];

/// A case description that names the size (leaked: the tables want `&'static str`).
fn huge_what(field: &str, size: &str) -> &'static str {
    Box::leak(format!("{field} = {size}").into_boxed_str())
}

/// Builds a parameter struct's bytes from the size under test; `a` and `b` are
/// two 64-byte buffers the struct's pointers may point at (alive for the call).
type BuildParam = fn(&Env, *mut u8, *mut u8, CK_ULONG) -> Vec<u8>;

/// Which fixture key a row uses.
#[derive(Clone, Copy)]
enum KeyOf {
    Aes,
    EcPriv,
    RsaPub,
    RsaPriv,
    Secret,
}

fn key_of(e: &Env, k: &MoreKeys, which: KeyOf) -> CK_OBJECT_HANDLE {
    match which {
        KeyOf::Aes => e.aes,
        KeyOf::EcPriv => e.ec_priv,
        KeyOf::RsaPub => k.rsa_pub,
        KeyOf::RsaPriv => k.rsa_priv,
        KeyOf::Secret => k.secret,
    }
}

fn gcm_params(
    iv: *mut u8,
    iv_len: CK_ULONG,
    aad: *mut u8,
    aad_len: CK_ULONG,
    tag_bits: CK_ULONG,
) -> Vec<u8> {
    struct_bytes(&CK_GCM_PARAMS {
        pIv: iv,
        ulIvLen: iv_len,
        ulIvBits: 0,
        pAAD: aad,
        ulAADLen: aad_len,
        ulTagBits: tag_bits,
    })
}
fn oaep_params(label: *mut u8, label_len: CK_ULONG) -> CK_RSA_PKCS_OAEP_PARAMS {
    CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: label.cast(),
        ulSourceDataLen: label_len,
    }
}
/// `CK_RSA_AES_KEY_WRAP_PARAMS` whose OAEP parameters are written into `b`.
fn rsa_aes_params(b: *mut u8, aes_bits: CK_ULONG, oaep: CK_RSA_PKCS_OAEP_PARAMS) -> Vec<u8> {
    assert!(size_of::<CK_RSA_PKCS_OAEP_PARAMS>() <= 64);
    // SAFETY: `b` is a 64-byte buffer, large enough for the struct.
    unsafe { b.cast::<CK_RSA_PKCS_OAEP_PARAMS>().write_unaligned(oaep) };
    struct_bytes(&CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: aes_bits,
        pOAEPParams: b.cast(),
    })
}
fn ecdh_params(shared: (*mut u8, CK_ULONG), public: (*mut u8, CK_ULONG)) -> Vec<u8> {
    struct_bytes(&CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_SHA256_KDF,
        ulSharedDataLen: shared.1,
        pSharedData: shared.0,
        ulPublicDataLen: public.1,
        pPublicData: public.0,
    })
}
fn hkdf_params(salt: (*mut u8, CK_ULONG), info: (*mut u8, CK_ULONG)) -> Vec<u8> {
    struct_bytes(&CK_HKDF_PARAMS {
        bExtract: CK_TRUE,
        bExpand: CK_TRUE,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_DATA,
        pSalt: salt.0,
        ulSaltLen: salt.1,
        hSaltKey: 0,
        pInfo: info.0,
        ulInfoLen: info.1,
    })
}
/// The fixture's EC point, copied into `b` (for ECDH rows whose huge field is another).
fn point_in(e: &Env, b: *mut u8) -> (*mut u8, CK_ULONG) {
    // SAFETY: `b` is a 64-byte buffer; the point is 65 bytes, so only 64 are
    // copied: the row's other field is refused before the point is looked at.
    unsafe { std::ptr::copy_nonoverlapping(e.point.as_ptr(), b, 64) };
    (b, 64)
}

/// Every parameter struct with a length or a size, one row per field: the
/// function, the field, the mechanism, the key and how to build the struct.
const PARAM_ROWS: &[(&str, &str, CK_MECHANISM_TYPE, KeyOf, BuildParam)] = &[
    (
        "C_EncryptInit",
        "CK_GCM_PARAMS.ulIvLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, n, b, 0, 128),
    ),
    (
        "C_DecryptInit",
        "CK_GCM_PARAMS.ulIvLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, n, b, 0, 128),
    ),
    (
        "C_EncryptInit",
        "CK_GCM_PARAMS.ulAADLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, n, 128),
    ),
    (
        "C_DecryptInit",
        "CK_GCM_PARAMS.ulAADLen",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, n, 128),
    ),
    (
        "C_EncryptInit",
        "CK_GCM_PARAMS.ulTagBits",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, 0, n),
    ),
    (
        "C_DecryptInit",
        "CK_GCM_PARAMS.ulTagBits",
        CKM_AES_GCM,
        KeyOf::Aes,
        |_, a, b, n| gcm_params(a, 12, b, 0, n),
    ),
    (
        "C_EncryptInit",
        "CK_AES_CTR_PARAMS.ulCounterBits",
        CKM_AES_CTR,
        KeyOf::Aes,
        |_, _, _, n| {
            struct_bytes(&CK_AES_CTR_PARAMS {
                ulCounterBits: n,
                cb: [0; 16],
            })
        },
    ),
    (
        "C_SignInit",
        "CK_RSA_PKCS_PSS_PARAMS.sLen",
        CKM_SHA256_RSA_PKCS_PSS,
        KeyOf::RsaPriv,
        |_, _, _, n| {
            struct_bytes(&CK_RSA_PKCS_PSS_PARAMS {
                hashAlg: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                sLen: n,
            })
        },
    ),
    (
        "C_EncryptInit",
        "CK_RSA_PKCS_OAEP_PARAMS.ulSourceDataLen",
        CKM_RSA_PKCS_OAEP,
        KeyOf::RsaPub,
        |_, a, _, n| struct_bytes(&oaep_params(a, n)),
    ),
    (
        "C_DecryptInit",
        "CK_RSA_PKCS_OAEP_PARAMS.ulSourceDataLen",
        CKM_RSA_PKCS_OAEP,
        KeyOf::RsaPriv,
        |_, a, _, n| struct_bytes(&oaep_params(a, n)),
    ),
    (
        "C_WrapKey",
        "CK_RSA_AES_KEY_WRAP_PARAMS.ulAESKeyBits",
        CKM_RSA_AES_KEY_WRAP,
        KeyOf::RsaPub,
        |_, a, b, n| rsa_aes_params(b, n, oaep_params(a, 0)),
    ),
    (
        "C_WrapKey",
        "CK_RSA_AES_KEY_WRAP_PARAMS OAEP ulSourceDataLen",
        CKM_RSA_AES_KEY_WRAP,
        KeyOf::RsaPub,
        |_, a, b, n| rsa_aes_params(b, 256, oaep_params(a, n)),
    ),
    (
        "C_UnwrapKey",
        "CK_RSA_AES_KEY_WRAP_PARAMS OAEP ulSourceDataLen",
        CKM_RSA_AES_KEY_WRAP,
        KeyOf::RsaPriv,
        |_, a, b, n| rsa_aes_params(b, 256, oaep_params(a, n)),
    ),
    (
        "C_DeriveKey",
        "CK_ECDH1_DERIVE_PARAMS.ulSharedDataLen",
        CKM_ECDH1_DERIVE,
        KeyOf::EcPriv,
        |e, a, b, n| ecdh_params((a, n), point_in(e, b)),
    ),
    (
        "C_DeriveKey",
        "CK_ECDH1_DERIVE_PARAMS.ulPublicDataLen",
        CKM_ECDH1_DERIVE,
        KeyOf::EcPriv,
        |_, a, b, n| ecdh_params((a, 8), (b, n)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DERIVE CK_HKDF_PARAMS.ulSaltLen",
        CKM_HKDF_DERIVE,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, n), (b, 8)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DERIVE CK_HKDF_PARAMS.ulInfoLen",
        CKM_HKDF_DERIVE,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, 8), (b, n)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DATA CK_HKDF_PARAMS.ulSaltLen",
        CKM_HKDF_DATA,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, n), (b, 8)),
    ),
    (
        "C_DeriveKey",
        "CKM_HKDF_DATA CK_HKDF_PARAMS.ulInfoLen",
        CKM_HKDF_DATA,
        KeyOf::Secret,
        |_, a, b, n| hkdf_params((a, 8), (b, n)),
    ),
    (
        "C_SignInit",
        "CK_MAC_GENERAL_PARAMS (HMAC)",
        CKM_SHA256_HMAC_GENERAL,
        KeyOf::Secret,
        |_, _, _, n| struct_bytes(&n),
    ),
    (
        "C_SignInit",
        "CK_MAC_GENERAL_PARAMS (CMAC)",
        CKM_AES_CMAC_GENERAL,
        KeyOf::Aes,
        |_, _, _, n| struct_bytes(&n),
    ),
    (
        "C_EncryptInit",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_DecryptInit",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_WrapKey",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_UnwrapKey",
        "CK_SOFTKMS_ENVELOPE_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_ENVELOPE,
        KeyOf::Aes,
        |_, a, _, n| {
            struct_bytes(&common::EnvelopeParams {
                p_context: a,
                ul_context_len: n,
            })
        },
    ),
    (
        "C_DeriveKey",
        "CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS.ulContextLen",
        softkms::abi::CKM_SOFTKMS_GENERATE_DATA_KEY,
        KeyOf::Aes,
        |_, a, b, n| {
            struct_bytes(&common::GdkParams {
                p_context: a,
                ul_context_len: n,
                p_wrapped: b,
                ul_wrapped_len: 64,
            })
        },
    ),
];

/// Byte-string parameters (an IV): `pParameter` points at 16 real bytes and
/// `ulParameterLen` is huge.
const BYTES_ROWS: &[(&str, &str, CK_MECHANISM_TYPE, KeyOf)] = &[
    (
        "C_EncryptInit",
        "CKM_AES_CBC IV ulParameterLen",
        CKM_AES_CBC,
        KeyOf::Aes,
    ),
    (
        "C_DecryptInit",
        "CKM_AES_CBC_PAD IV ulParameterLen",
        CKM_AES_CBC_PAD,
        KeyOf::Aes,
    ),
    (
        "C_WrapKey",
        "CKM_AES_KEY_WRAP IV ulParameterLen",
        CKM_AES_KEY_WRAP,
        KeyOf::Aes,
    ),
    (
        "C_UnwrapKey",
        "CKM_AES_KEY_WRAP_KWP IV ulParameterLen",
        CKM_AES_KEY_WRAP_KWP,
        KeyOf::Aes,
    ),
];

/// The fields of `CK_GCM_MESSAGE_PARAMS` that carry a size.
const MESSAGE_FIELDS: &[(&str, fn(&mut CK_GCM_MESSAGE_PARAMS, CK_ULONG))] = &[
    ("CK_GCM_MESSAGE_PARAMS.ulTagBits", |p, n| p.ulTagBits = n),
    ("CK_GCM_MESSAGE_PARAMS.ulIvLen", |p, n| p.ulIvLen = n),
    ("CK_GCM_MESSAGE_PARAMS.ulIvFixedBits", |p, n| {
        p.ulIvFixedBits = n
    }),
];

/// The template-taking functions with a template of 3 real attributes and a
/// huge `ulCount`.
fn huge_count(e: &Env, s: CK_SESSION_HANDLE, name: &str, n: CK_ULONG) -> CK_RV {
    let mut t = data_tpl();
    let mut r = t.raw();
    let p = r.as_mut_ptr();
    let mut h = 0;
    match name {
        "C_CreateObject" => c!(e, C_CreateObject, s, p, n, &mut h),
        "C_CopyObject" => c!(e, C_CopyObject, s, e.data, p, n, &mut h),
        "C_SetAttributeValue" => c!(e, C_SetAttributeValue, s, e.data, p, n),
        "C_GetAttributeValue" => c!(e, C_GetAttributeValue, s, e.data, p, n),
        "C_FindObjectsInit" => c!(e, C_FindObjectsInit, s, p, n),
        "C_GenerateKey" => gen_key(
            e,
            s,
            Some(plain(CKM_AES_KEY_GEN)),
            Some(aes_tpl()),
            Some(n),
            true,
        ),
        "C_GenerateKeyPair" => gen_pair(
            e,
            s,
            Some(plain(CKM_EC_KEY_PAIR_GEN)),
            Some(ec_pub_tpl()),
            Some(ec_priv_tpl()),
            (Some(n), None),
            (true, true),
        ),
        "C_UnwrapKey" => unwrap(
            e,
            s,
            Some(plain(CKM_AES_KEY_WRAP)),
            e.aes,
            None,
            Some(unwrap_tpl()),
            Some(n),
            true,
        ),
        "C_DeriveKey" => derive(
            e,
            s,
            Some(ecdh(e)),
            e.ec_priv,
            Some(derive_tpl()),
            Some(n),
            true,
        ),
        _ => panic!("{name}"),
    }
}

/// Every size a caller gives inside a mechanism parameter, a per-message
/// parameter or a template, set to a huge value with a pointer to a small real
/// buffer, through the real C entry points: each must be refused with the code
/// the standard names (`CKR_MECHANISM_PARAM_INVALID` for a parameter,
/// `CKR_ARGUMENTS_BAD` for a count, `CKR_ATTRIBUTE_VALUE_INVALID` for template
/// values, `CKR_HOST_MEMORY` for an in-place input the module would have to
/// copy) before anything is allocated or read by it. Before issue 12 several of
/// these aborted the host process (`ulTagBits = 2^63`, an IV or AAD of 2^40
/// bytes, an in-place input of 2^62 bytes, a template count of 2^40).
#[test]
fn huge_sizes() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let keys = std::rc::Rc::new(more_keys(&e));
    const PI: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID];
    let mut t = Table::default();
    for &(size, label) in &HUGE {
        for &(func, field, mech, key, build) in PARAM_ROWS {
            let keys = keys.clone();
            t.case(func, huge_what(field, label), PI, move |e, s| {
                let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
                let p = build(e, a.as_mut_ptr(), b.as_mut_ptr(), size);
                let k = key_of(e, &keys, key);
                // `a` and `b` live until the end of the closure, past the call.
                with_mech(e, s, func, Mech::new(mech, &p), Some(k))
            });
        }
        for &(func, field, mech, key) in BYTES_ROWS {
            let keys = keys.clone();
            t.case(func, huge_what(field, label), PI, move |e, s| {
                let m = Mech::new(mech, &[0; 16]).len(size);
                with_mech(e, s, func, m, Some(key_of(e, &keys, key)))
            });
        }
        for name in MESSAGE_FNS {
            for &(field, set) in MESSAGE_FIELDS {
                // `*Next` takes the IV from `*Begin`: its `ulIvFixedBits` is not
                // a size anything is made of, and not looked at.
                if name.ends_with("Next") && field.ends_with("ulIvFixedBits") {
                    continue;
                }
                t.case(
                    name,
                    huge_what(field, label),
                    &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD],
                    move |e, s| {
                        message_setup(e, s, name);
                        let mut g = GcmMsg::new();
                        set(&mut g.p, size);
                        let (mut a, mut d, mut out) = ([1u8; 16], [2u8; 16], [0u8; 64]);
                        let mut n: CK_ULONG = 64;
                        message_raw(
                            e,
                            s,
                            name,
                            (g.ptr(), GCM_MSG_LEN),
                            (a.as_mut_ptr(), 16),
                            (d.as_mut_ptr(), 16),
                            (out.as_mut_ptr(), &mut n),
                        )
                    },
                );
            }
        }
        for name in TEMPLATE_FNS {
            t.case(name, huge_what("ulCount", label), AB, move |e, s| {
                huge_count(e, s, name, size)
            });
        }
    }
    // In-place input (PKCS#11 lets input and output share memory): the module
    // copies such input before it writes, so a huge input length is an
    // allocation. 2^62 bytes can never be had: CKR_HOST_MEMORY, not an abort.
    let in_place = 1u64 << 62;
    for name in IN_OUT {
        t.case(
            name,
            "in place, input length 2^62",
            &[CKR_HOST_MEMORY],
            move |e, s| {
                setup(e, s, name);
                let mut buf = [0u8; 256];
                let mut n: CK_ULONG = 256;
                let p = buf.as_mut_ptr();
                // SAFETY: a 256-byte buffer given as input (huge length) and output.
                unsafe { (in_out_fn(e, name).unwrap())(s, p, in_place, p, &mut n) }
            },
        );
    }
    for name in MESSAGE_FNS.into_iter().filter(|n| has_output(n)) {
        let pieces: &[&str] = if has_aad(name) {
            &["associated data", "input"]
        } else {
            &["input"]
        };
        for &piece in pieces {
            t.case(
                name,
                huge_what(&format!("in place, {piece} length"), "2^62"),
                &[CKR_HOST_MEMORY],
                move |e, s| {
                    message_setup(e, s, name);
                    let mut g = GcmMsg::new();
                    let mut buf = [0u8; 256];
                    let mut n: CK_ULONG = 256;
                    let p = buf.as_mut_ptr();
                    let (aad, input) = if piece == "input" {
                        ((null_mut(), 0), (p, in_place))
                    } else {
                        ((p, in_place), (null_mut(), 0))
                    };
                    message_raw(e, s, name, (g.ptr(), GCM_MSG_LEN), aad, input, (p, &mut n))
                },
            );
        }
    }
    // Many attributes whose values are each within the per-value limit but
    // together far beyond any host: 2048 labels of 64 MiB each, all pointing at
    // one buffer, would be 128 GiB of copies.
    for name in ["C_CreateObject", "C_FindObjectsInit"] {
        t.case(
            name,
            "2048 attributes of 64 MiB each (one buffer)",
            &[CKR_ATTRIBUTE_VALUE_INVALID],
            move |e, s| {
                let mut big = vec![b'x'; 64 << 20];
                let mut raw: Vec<CK_ATTRIBUTE> = (0..2048)
                    .map(|_| CK_ATTRIBUTE {
                        type_: CKA_LABEL,
                        pValue: big.as_mut_ptr().cast(),
                        ulValueLen: 64 << 20,
                    })
                    .collect();
                let (p, n) = (raw.as_mut_ptr(), raw.len() as CK_ULONG);
                let mut h = 0;
                if name == "C_CreateObject" {
                    c!(e, C_CreateObject, s, p, n, &mut h)
                } else {
                    c!(e, C_FindObjectsInit, s, p, n)
                }
            },
        );
    }
    // A user name is at most a principal name long; it is not read past that.
    for &(size, label) in &HUGE {
        t.case(
            "C_LoginUser",
            huge_what("ulUsernameLen", label),
            &[CKR_PIN_INCORRECT, CKR_ARGUMENTS_BAD],
            move |e, s| {
                let pin = USER_PIN.as_bytes();
                let mut name = *b"alice\0\0\0";
                c!(
                    e,
                    C_LoginUser,
                    s,
                    CKU_USER,
                    pin.as_ptr().cast_mut(),
                    pin.len() as CK_ULONG,
                    name.as_mut_ptr(),
                    size
                )
            },
        );
    }
    // ECDH with a KDF and a derived length no key can have (2^40 bytes: the
    // X9.63 block count does not fit 32 bits).
    t.case(
        "C_DeriveKey",
        "ECDH1 with CKD_SHA256_KDF, CKA_VALUE_LEN = 2^40",
        &[
            CKR_KEY_SIZE_RANGE,
            CKR_ATTRIBUTE_VALUE_INVALID,
            CKR_TEMPLATE_INCONSISTENT,
        ],
        |e, s| ecdh_kdf_derive(e, s, CKD_SHA256_KDF, 1 << 40),
    );
    let cased: Vec<&str> = [
        &PARAM_ROWS.iter().map(|r| r.0).collect::<Vec<_>>()[..],
        &BYTES_ROWS.iter().map(|r| r.0).collect::<Vec<_>>()[..],
        &MESSAGE_FNS[..],
        TEMPLATE_FNS,
        &IN_OUT[..],
        &["C_LoginUser"],
    ]
    .concat();
    t.unsupported().na(
        &others(&cased),
        "no size inside a parameter or template, no in-place input",
    );
    t.run(&e, "huge sizes");
}

/// `C_DeriveKey` with `CKM_ECDH1_DERIVE` (the fixture's own point, `kdf`) into a
/// generic secret of `value_len` bytes.
fn ecdh_kdf_derive(e: &Env, s: CK_SESSION_HANDLE, kdf: CK_ULONG, value_len: CK_ULONG) -> CK_RV {
    let mut point = e.point.clone();
    let m = Mech::new(
        CKM_ECDH1_DERIVE,
        &struct_bytes(&CK_ECDH1_DERIVE_PARAMS {
            kdf,
            ulSharedDataLen: 0,
            pSharedData: null_mut(),
            ulPublicDataLen: point.len() as CK_ULONG,
            pPublicData: point.as_mut_ptr(),
        }),
    );
    let t = Tpl::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .ulong(CKA_VALUE_LEN, value_len)
        .bool(CKA_TOKEN, false);
    let rv = derive(e, s, Some(m), e.ec_priv, Some(t), None, true);
    drop(point);
    rv
}

/// ECDH with every X9.63 KDF and `CKA_VALUE_LEN` = 2^36 (64 GiB, a block count
/// that fits 32 bits): an error, not an allocation of the whole length. Before
/// the limit (`mechanism::MAX_DERIVED_LEN`, checked in `C_DeriveKey` before any
/// derive mechanism runs) the host aborted ("memory allocation of 68719476736
/// bytes failed").
#[test]
fn ecdh_kdf_value_len_is_checked_before_allocation() {
    let ctx = two_slots();
    let e = Env::new(&ctx);
    let mut t = Table::default();
    for (kdf, name) in [
        (CKD_SHA1_KDF, "CKD_SHA1_KDF"),
        (CKD_SHA224_KDF, "CKD_SHA224_KDF"),
        (CKD_SHA256_KDF, "CKD_SHA256_KDF"),
        (CKD_SHA384_KDF, "CKD_SHA384_KDF"),
        (CKD_SHA512_KDF, "CKD_SHA512_KDF"),
    ] {
        t.case(
            "C_DeriveKey",
            huge_what(&format!("ECDH1 with {name}, CKA_VALUE_LEN"), "2^36"),
            &[
                CKR_KEY_SIZE_RANGE,
                CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_TEMPLATE_INCONSISTENT,
            ],
            move |e, s| ecdh_kdf_derive(e, s, kdf, 1 << 36),
        );
    }
    t.unsupported()
        .na(&others(&["C_DeriveKey"]), "not a derivation");
    t.run(&e, "ECDH KDF lengths");
}
