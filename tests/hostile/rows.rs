//! Row helpers the categories share: calls by shape (data in, data out, finals,
//! inits), key generation, wrapping and derivation with chosen pieces, and the
//! message functions.

use crate::prelude::*;

pub(crate) const AB: &[CK_RV] = &[CKR_ARGUMENTS_BAD];
pub(crate) const NO_PTR: &str = "no pointer arguments";
pub(crate) const NO_LEN: &str = "no length or count arguments";

/// `C_xxx(h, pIn, len, pOut, pulOutLen)` with the given pieces; the output
/// buffer is 256 bytes.
pub(crate) fn in_out(
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
pub(crate) fn setup(e: &Env, s: CK_SESSION_HANDLE, name: &str) {
    match name {
        n if n.starts_with("C_Encrypt") && !n.contains("Message") => e.enc_init(s),
        n if n.starts_with("C_Decrypt") && !n.contains("Message") => e.dec_init(s),
        n if n.starts_with("C_Digest") => e.digest_init(s),
        n if n.starts_with("C_Sign") => e.sign_init(s),
        n if n.starts_with("C_Verify") => e.verify_init(s),
        _ => {}
    }
}

pub(crate) fn in_out_fn(e: &Env, name: &str) -> CK_C_Encrypt {
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
pub(crate) fn final_fn(e: &Env, name: &str) -> CK_C_EncryptFinal {
    match name {
        "C_EncryptFinal" => e.f.C_EncryptFinal,
        "C_DecryptFinal" => e.f.C_DecryptFinal,
        "C_DigestFinal" => e.f.C_DigestFinal,
        "C_SignFinal" => e.f.C_SignFinal,
        _ => panic!("{name}"),
    }
}
pub(crate) fn data_in_fn(e: &Env, name: &str) -> CK_C_DigestUpdate {
    match name {
        "C_DigestUpdate" => e.f.C_DigestUpdate,
        "C_SignUpdate" => e.f.C_SignUpdate,
        "C_VerifyUpdate" => e.f.C_VerifyUpdate,
        "C_VerifyFinal" => e.f.C_VerifyFinal,
        "C_SeedRandom" => e.f.C_SeedRandom,
        _ => panic!("{name}"),
    }
}
pub(crate) const IN_OUT: [&str; 6] = [
    "C_Encrypt",
    "C_EncryptUpdate",
    "C_Decrypt",
    "C_DecryptUpdate",
    "C_Digest",
    "C_Sign",
];
pub(crate) const FINALS: [&str; 4] = [
    "C_EncryptFinal",
    "C_DecryptFinal",
    "C_DigestFinal",
    "C_SignFinal",
];
pub(crate) const DATA_IN: [&str; 5] = [
    "C_DigestUpdate",
    "C_SignUpdate",
    "C_VerifyUpdate",
    "C_VerifyFinal",
    "C_SeedRandom",
];
/// `C_xxxInit(h, pMechanism, hKey)` with a valid mechanism for the fixture key.
pub(crate) const INITS: [&str; 6] = [
    "C_EncryptInit",
    "C_DecryptInit",
    "C_SignInit",
    "C_VerifyInit",
    "C_MessageEncryptInit",
    "C_MessageDecryptInit",
];
pub(crate) fn init_fn(e: &Env, name: &str) -> (CK_C_EncryptInit, Mech, CK_OBJECT_HANDLE) {
    match name {
        "C_EncryptInit" => (e.f.C_EncryptInit, cbc(), e.aes),
        "C_DecryptInit" => (e.f.C_DecryptInit, cbc(), e.aes),
        "C_SignInit" => (e.f.C_SignInit, Mech::new(CKM_ECDSA_SHA256), e.ec_priv),
        "C_VerifyInit" => (e.f.C_VerifyInit, Mech::new(CKM_ECDSA_SHA256), e.ec_pub),
        "C_MessageEncryptInit" => (e.f.C_MessageEncryptInit, Mech::new(CKM_AES_GCM), e.aes),
        "C_MessageDecryptInit" => (e.f.C_MessageDecryptInit, Mech::new(CKM_AES_GCM), e.aes),
        _ => panic!("{name}"),
    }
}
pub(crate) fn call_init(
    f: CK_C_EncryptInit,
    s: CK_SESSION_HANDLE,
    m: *mut CK_MECHANISM,
    k: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: m is null or a mechanism owned by the caller.
    unsafe { (f.unwrap())(s, m, k) }
}

/// `C_GenerateKey` with the given pieces (`None` = null pointer).
pub(crate) fn gen_key(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    t: Option<Template>,
    count: Option<CK_ULONG>,
    out: bool,
) -> CK_RV {
    let mut m = m;
    let mut t = t;
    let mut raw = t.as_mut().map(Template::raw_mut);
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
pub(crate) fn gen_pair(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    pubt: Option<Template>,
    privt: Option<Template>,
    counts: (Option<CK_ULONG>, Option<CK_ULONG>),
    outs: (bool, bool),
) -> CK_RV {
    let (mut m, mut pubt, mut privt) = (m, pubt, privt);
    let mut pr = pubt.as_mut().map(Template::raw_mut);
    let mut sr = privt.as_mut().map(Template::raw_mut);
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
pub(crate) fn unwrap(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    key: CK_OBJECT_HANDLE,
    wrapped: Option<CK_ULONG>,
    t: Option<Template>,
    count: Option<CK_ULONG>,
    out: bool,
) -> CK_RV {
    let (mut m, mut t) = (m, t);
    let mut raw = t.as_mut().map(Template::raw_mut);
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
pub(crate) const NULL_WRAPPED: Option<CK_ULONG> = Some(0xffff_0000);

/// `C_DeriveKey` (ECDH with the fixture's own public point) with the given pieces.
pub(crate) fn derive(
    e: &Env,
    s: CK_SESSION_HANDLE,
    m: Option<Mech>,
    base: CK_OBJECT_HANDLE,
    t: Option<Template>,
    count: Option<CK_ULONG>,
    out: bool,
) -> CK_RV {
    let (mut m, mut t) = (m, t);
    let mut raw = t.as_mut().map(Template::raw_mut);
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
pub(crate) fn ecdh(e: &Env) -> Mech {
    Mech::with_bytes(CKM_ECDH1_DERIVE, &ecdh_param(&e.point))
}
pub(crate) fn derive_tpl() -> Template {
    aes_tpl()
}

/// `C_WrapKey` of `aes2` by `aes` with the given pieces; the buffer is 64 bytes.
pub(crate) fn wrap(
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
pub(crate) fn message(
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
pub(crate) fn message_raw(
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
pub(crate) const MESSAGE_FNS: [&str; 6] = [
    "C_EncryptMessage",
    "C_DecryptMessage",
    "C_EncryptMessageBegin",
    "C_DecryptMessageBegin",
    "C_EncryptMessageNext",
    "C_DecryptMessageNext",
];
pub(crate) fn message_setup(e: &Env, s: CK_SESSION_HANDLE, name: &str) {
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
pub(crate) fn has_aad(name: &str) -> bool {
    !name.ends_with("Next")
}
pub(crate) fn has_input(name: &str) -> bool {
    !name.ends_with("Begin")
}
pub(crate) fn has_output(name: &str) -> bool {
    !name.ends_with("Begin")
}
