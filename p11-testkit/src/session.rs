//! The raw path next to a `cryptoki` session: the module's function list,
//! reached directly, for the mechanisms and calls that `cryptoki` 0.12's typed
//! API does not expose (`CKM_SHA3_*`, `CKM_AES_CTR`, `CKM_*_HMAC_GENERAL`,
//! `CKM_AES_CMAC_GENERAL`, `CKM_RSA_AES_KEY_WRAP`, `CKM_SHA224_RSA_PKCS_PSS`,
//! and output buffers of a chosen size for the `CKR_BUFFER_TOO_SMALL` rule).
//!
//! [`Raw::new`] loads the same library `cryptoki` loaded, so both share one
//! initialized module and one session table: a [`Session`]'s handle is valid
//! here.

use crate::sys::*;
use crate::ulen;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use std::ffi::{c_void, OsStr};
use std::ptr;

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
        let rv = call_strict!($self.f, $name $(, $arg)*);
        if rv == CKR_OK { Ok(()) } else { Err(rv) }
    }};
}

/// `Ok` or the module's `CK_RV`.
pub type Rv<T> = Result<T, CK_RV>;

fn ptr_of(d: &[u8]) -> *mut u8 {
    d.as_ptr() as *mut u8
}

impl Raw {
    /// The function list of the module at `path` (already loaded and
    /// initialized by `cryptoki`).
    pub fn new(path: impl AsRef<OsStr>) -> Raw {
        Raw {
            f: crate::function_list(path),
        }
    }
    /// Runs a C_Xxx(data) → out call with the size-query rule: null buffer first.
    fn out2(&self, mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> Rv<()>) -> Rv<Vec<u8>> {
        crate::with_length_query(|o, n| f(o, n).err().unwrap_or(CKR_OK))
    }

    /// `C_EncryptInit`.
    pub fn encrypt_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_EncryptInit(s.handle(), &mut m, k.handle()))
    }

    /// `C_DecryptInit`.
    pub fn decrypt_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_DecryptInit(s.handle(), &mut m, k.handle()))
    }

    /// `C_SignInit`.
    pub fn sign_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_SignInit(s.handle(), &mut m, k.handle()))
    }

    /// `C_VerifyInit`.
    pub fn verify_init(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle) -> Rv<()> {
        let mut m = *m;
        call!(self.C_VerifyInit(s.handle(), &mut m, k.handle()))
    }

    /// `C_DigestInit`.
    pub fn digest_init(&self, s: &Session, m: &CK_MECHANISM) -> Rv<()> {
        let mut m = *m;
        call!(self.C_DigestInit(s.handle(), &mut m))
    }

    /// `C_EncryptInit` and a single-part `C_Encrypt` (length query first).
    pub fn encrypt(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle, d: &[u8]) -> Rv<Vec<u8>> {
        self.encrypt_init(s, m, k)?;
        self.out2(|o, n| call!(self.C_Encrypt(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    /// `C_DecryptInit` and a single-part `C_Decrypt` (length query first).
    pub fn decrypt(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle, d: &[u8]) -> Rv<Vec<u8>> {
        self.decrypt_init(s, m, k)?;
        self.out2(|o, n| call!(self.C_Decrypt(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    /// `C_EncryptUpdate` (length query first).
    pub fn encrypt_update(&self, s: &Session, d: &[u8]) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_EncryptUpdate(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    /// `C_EncryptFinal` (length query first).
    pub fn encrypt_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_EncryptFinal(s.handle(), o, n)))
    }

    /// `C_DecryptUpdate` (length query first).
    pub fn decrypt_update(&self, s: &Session, d: &[u8]) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_DecryptUpdate(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    /// `C_DecryptFinal` (length query first).
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

    /// `C_SignInit` and a single-part `C_Sign` (length query first).
    pub fn sign(&self, s: &Session, m: &CK_MECHANISM, k: ObjectHandle, d: &[u8]) -> Rv<Vec<u8>> {
        self.sign_init(s, m, k)?;
        self.out2(|o, n| call!(self.C_Sign(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    /// `C_SignUpdate`.
    pub fn sign_update(&self, s: &Session, d: &[u8]) -> Rv<()> {
        call!(self.C_SignUpdate(s.handle(), ptr_of(d), ulen(d.len())))
    }

    /// `C_SignFinal` (length query first).
    pub fn sign_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_SignFinal(s.handle(), o, n)))
    }

    /// `C_VerifyInit` and a single-part `C_Verify`.
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

    /// `C_VerifyUpdate`.
    pub fn verify_update(&self, s: &Session, d: &[u8]) -> Rv<()> {
        call!(self.C_VerifyUpdate(s.handle(), ptr_of(d), ulen(d.len())))
    }

    /// `C_VerifyFinal`.
    pub fn verify_final(&self, s: &Session, sig: &[u8]) -> Rv<()> {
        call!(self.C_VerifyFinal(s.handle(), ptr_of(sig), ulen(sig.len())))
    }

    /// `C_DigestInit` and a single-part `C_Digest` (length query first).
    pub fn digest(&self, s: &Session, m: &CK_MECHANISM, d: &[u8]) -> Rv<Vec<u8>> {
        self.digest_init(s, m)?;
        self.out2(|o, n| call!(self.C_Digest(s.handle(), ptr_of(d), ulen(d.len()), o, n)))
    }

    /// `C_DigestUpdate`.
    pub fn digest_update(&self, s: &Session, d: &[u8]) -> Rv<()> {
        call!(self.C_DigestUpdate(s.handle(), ptr_of(d), ulen(d.len())))
    }

    /// `C_DigestKey`.
    pub fn digest_key(&self, s: &Session, k: ObjectHandle) -> Rv<()> {
        call!(self.C_DigestKey(s.handle(), k.handle()))
    }

    /// `C_DigestFinal` (length query first).
    pub fn digest_final(&self, s: &Session) -> Rv<Vec<u8>> {
        self.out2(|o, n| call!(self.C_DigestFinal(s.handle(), o, n)))
    }

    /// `C_WrapKey` (length query first).
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

    /// `C_GenerateKey` of a session secret key that signs and verifies,
    /// `len` bytes long.
    pub fn generate_secret(
        &self,
        s: &Session,
        m: &CK_MECHANISM,
        len: CK_ULONG,
    ) -> Rv<ObjectHandle> {
        let mut m = *m;
        let t: CK_BBOOL = CK_TRUE;
        let f: CK_BBOOL = CK_FALSE;
        let mut tmpl = vec![
            attr(CKA_TOKEN, &f),
            attr(CKA_SIGN, &t),
            attr(CKA_VERIFY, &t),
            attr(CKA_VALUE_LEN, &len),
        ];
        let mut h: CK_OBJECT_HANDLE = 0;
        call!(self.C_GenerateKey(
            s.handle(),
            &mut m,
            tmpl.as_mut_ptr(),
            ulen(tmpl.len()),
            &mut h
        ))?;
        // SAFETY: h is a handle the module just returned.
        Ok(unsafe { ObjectHandle::new_from_raw(h) })
    }

    /// `C_DeriveKey` of an extractable session secret key of type `kt`, `len`
    /// bytes long (`CKA_VALUE_LEN` left out when `None`).
    pub fn derive_secret(
        &self,
        s: &Session,
        m: &CK_MECHANISM,
        base: ObjectHandle,
        kt: CK_KEY_TYPE,
        len: Option<CK_ULONG>,
    ) -> Rv<ObjectHandle> {
        let mut m = *m;
        let class: CK_OBJECT_CLASS = CKO_SECRET_KEY;
        let t: CK_BBOOL = CK_TRUE;
        let f: CK_BBOOL = CK_FALSE;
        let n = len.unwrap_or(0);
        let mut tmpl = vec![
            attr(CKA_CLASS, &class),
            attr(CKA_KEY_TYPE, &kt),
            attr(CKA_TOKEN, &f),
            attr(CKA_EXTRACTABLE, &t),
            attr(CKA_SENSITIVE, &f),
        ];
        if len.is_some() {
            tmpl.push(attr(CKA_VALUE_LEN, &n));
        }
        let mut h: CK_OBJECT_HANDLE = 0;
        call!(self.C_DeriveKey(
            s.handle(),
            &mut m,
            base.handle(),
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

    /// `C_GetMechanismList`, both calls (panics on an error).
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Vec<CK_MECHANISM_TYPE> {
        let mut n: CK_ULONG = 0;
        call!(self.C_GetMechanismList(slot, ptr::null_mut(), &mut n)).expect("list size");
        let mut v = vec![0; usize::try_from(n).expect("len")];
        call!(self.C_GetMechanismList(slot, v.as_mut_ptr(), &mut n)).expect("list");
        v.truncate(usize::try_from(n).expect("len"));
        v
    }

    /// `C_GetMechanismInfo`.
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

/// One `C_EncapsulateKey` (PKCS#11 3.2) through the module's 3.2 table into a
/// ciphertext buffer of `cap` bytes: (rv, reported length, the key handle, 0
/// when none was made).
pub fn encapsulate_into(
    table: &CK_FUNCTION_LIST_3_2,
    s: &Session,
    m: &CK_MECHANISM,
    public_key: ObjectHandle,
    template: &[CK_ATTRIBUTE],
    cap: usize,
) -> (CK_RV, usize, CK_OBJECT_HANDLE) {
    let mut out = vec![0u8; cap];
    let mut n = ulen(cap);
    let mut key: CK_OBJECT_HANDLE = 0;
    let rv = call_strict!(
        table,
        C_EncapsulateKey,
        s.handle(),
        std::ptr::from_ref(m).cast_mut(),
        public_key.handle(),
        template.as_ptr().cast_mut(),
        ulen(template.len()),
        out.as_mut_ptr(),
        &mut n,
        &mut key
    );
    (rv, usize::try_from(n).expect("len"), key)
}

/// One `C_DecapsulateKey` (PKCS#11 3.2) through the module's 3.2 table:
/// (rv, the key handle, 0 when none was made).
pub fn decapsulate_with(
    table: &CK_FUNCTION_LIST_3_2,
    s: &Session,
    m: &CK_MECHANISM,
    private_key: ObjectHandle,
    template: &[CK_ATTRIBUTE],
    ciphertext: &[u8],
) -> (CK_RV, CK_OBJECT_HANDLE) {
    let mut key: CK_OBJECT_HANDLE = 0;
    let rv = call_strict!(
        table,
        C_DecapsulateKey,
        s.handle(),
        std::ptr::from_ref(m).cast_mut(),
        private_key.handle(),
        template.as_ptr().cast_mut(),
        ulen(template.len()),
        ciphertext.as_ptr().cast_mut(),
        ulen(ciphertext.len()),
        &mut key
    );
    (rv, key)
}
