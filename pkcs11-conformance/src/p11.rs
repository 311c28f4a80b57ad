//! Raw access to a PKCS#11 module: the function list of `C_GetFunctionList`
//! (and, when the module exports them, `C_GetInterfaceList`/`C_GetInterface`),
//! called through `cryptoki-sys` so that a case can pass NULL pointers, wrong
//! lengths and arguments a safe wrapper would never let through. Every helper
//! returns the module's `CK_RV` unchanged.

#![allow(unsafe_code, non_snake_case)]

use cryptoki_sys::*;
use std::ffi::c_void;
use std::ptr;

/// `C_GetInterfaceList` as exported by a PKCS#11 3.0 module.
pub type GetInterfaceListFn = unsafe extern "C" fn(*mut CK_INTERFACE, *mut CK_ULONG) -> CK_RV;
/// `C_GetInterface` as exported by a PKCS#11 3.0 module.
pub type GetInterfaceFn = unsafe extern "C" fn(
    *mut CK_UTF8CHAR,
    *mut CK_VERSION,
    *mut *mut CK_INTERFACE,
    CK_FLAGS,
) -> CK_RV;
/// `C_GetFunctionList`.
pub type GetFunctionListFn = unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV;

/// A loaded module.
pub struct Module {
    _lib: libloading::Library,
    /// The version-2 function list (a copy; the pointers stay valid while the library is loaded).
    pub f: CK_FUNCTION_LIST,
    /// The raw `C_GetFunctionList` symbol.
    pub get_function_list: GetFunctionListFn,
    /// `C_GetInterfaceList`, when exported.
    pub get_interface_list: Option<GetInterfaceListFn>,
    /// `C_GetInterface`, when exported.
    pub get_interface: Option<GetInterfaceFn>,
    /// The "PKCS 11" 3.0 function list, when the module offers one.
    pub f3: Option<CK_FUNCTION_LIST_3_0>,
}

/// Calls a function of a function list; a missing entry is `CKR_FUNCTION_NOT_SUPPORTED`
/// (§5.1: every entry must be filled, a case checks that separately).
macro_rules! call {
    ($list:expr, $name:ident $(, $arg:expr)*) => {
        match $list.$name {
            // SAFETY: the module's own function, called with the arguments its
            // PKCS#11 signature names; cases that pass NULL or bad lengths do so
            // on purpose and only where the specification defines the outcome.
            Some(func) => unsafe { func($($arg),*) },
            None => CKR_FUNCTION_NOT_SUPPORTED,
        }
    };
}
pub(crate) use call;

impl Module {
    /// Loads the module and reads its function lists.
    pub fn load(path: &str) -> Result<Module, String> {
        // SAFETY: loading a PKCS#11 module runs its initializers; that is the point.
        let lib =
            unsafe { libloading::Library::new(path) }.map_err(|e| format!("load {path}: {e}"))?;
        // SAFETY: the symbols have the PKCS#11 signatures.
        let gfl: GetFunctionListFn = unsafe {
            *lib.get::<GetFunctionListFn>(b"C_GetFunctionList\0")
                .map_err(|e| format!("C_GetFunctionList: {e}"))?
        };
        // SAFETY: as above.
        let gil = unsafe {
            lib.get::<GetInterfaceListFn>(b"C_GetInterfaceList\0")
                .ok()
                .map(|s| *s)
        };
        // SAFETY: as above.
        let gi = unsafe {
            lib.get::<GetInterfaceFn>(b"C_GetInterface\0")
                .ok()
                .map(|s| *s)
        };
        let mut fl: *mut CK_FUNCTION_LIST = ptr::null_mut();
        // SAFETY: out-pointer to a local.
        let rv = unsafe { gfl(&mut fl) };
        if rv != CKR_OK || fl.is_null() {
            return Err(format!("C_GetFunctionList returned {}", rv_name(rv)));
        }
        // SAFETY: the module returned a valid list that lives as long as the library.
        let f = unsafe { *fl };
        let mut f3 = None;
        if let Some(gi) = gi {
            let mut name = *b"PKCS 11\0";
            let mut version = CK_VERSION { major: 3, minor: 0 };
            let mut iface: *mut CK_INTERFACE = ptr::null_mut();
            // SAFETY: NUL-terminated name, version and out-pointer are locals.
            let rv = unsafe { gi(name.as_mut_ptr(), &mut version, &mut iface, 0) };
            if rv == CKR_OK && !iface.is_null() {
                // SAFETY: a "PKCS 11" 3.0 interface points at a CK_FUNCTION_LIST_3_0.
                let list = unsafe { (*iface).pFunctionList } as *const CK_FUNCTION_LIST_3_0;
                if !list.is_null() {
                    // SAFETY: as above.
                    f3 = Some(unsafe { *list });
                }
            }
        }
        Ok(Module {
            _lib: lib,
            f,
            get_function_list: gfl,
            get_interface_list: gil,
            get_interface: gi,
            f3,
        })
    }

    /// `C_Initialize(NULL)`.
    pub fn init(&self) -> CK_RV {
        call!(self.f, C_Initialize, ptr::null_mut())
    }
    /// `C_Initialize(args)`.
    pub fn init_args(&self, args: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
        call!(
            self.f,
            C_Initialize,
            args as *mut CK_C_INITIALIZE_ARGS as *mut c_void
        )
    }
    /// `C_Finalize(NULL)`.
    pub fn finalize(&self) -> CK_RV {
        call!(self.f, C_Finalize, ptr::null_mut())
    }
    /// `C_GetInfo`.
    pub fn info(&self) -> Result<CK_INFO, CK_RV> {
        let mut i = CK_INFO::default();
        ok(call!(self.f, C_GetInfo, &mut i), i)
    }
    /// `C_GetSlotList`, both calls.
    pub fn slots(&self, present: bool) -> Result<Vec<CK_SLOT_ID>, CK_RV> {
        let mut n: CK_ULONG = 0;
        let rv = call!(
            self.f,
            C_GetSlotList,
            present as CK_BBOOL,
            ptr::null_mut(),
            &mut n
        );
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![0; n as usize];
        let rv = call!(
            self.f,
            C_GetSlotList,
            present as CK_BBOOL,
            v.as_mut_ptr(),
            &mut n
        );
        v.truncate(n as usize);
        ok(rv, v)
    }
    /// `C_GetSlotInfo`.
    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<CK_SLOT_INFO, CK_RV> {
        let mut i = CK_SLOT_INFO::default();
        ok(call!(self.f, C_GetSlotInfo, slot, &mut i), i)
    }
    /// `C_GetTokenInfo`.
    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO, CK_RV> {
        let mut i = CK_TOKEN_INFO::default();
        ok(call!(self.f, C_GetTokenInfo, slot, &mut i), i)
    }
    /// `C_GetMechanismList`, both calls.
    pub fn mechanisms(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>, CK_RV> {
        let mut n: CK_ULONG = 0;
        let rv = call!(self.f, C_GetMechanismList, slot, ptr::null_mut(), &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![0; n as usize];
        let rv = call!(self.f, C_GetMechanismList, slot, v.as_mut_ptr(), &mut n);
        v.truncate(n as usize);
        ok(rv, v)
    }
    /// `C_GetMechanismInfo`.
    pub fn mech_info(
        &self,
        slot: CK_SLOT_ID,
        m: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO, CK_RV> {
        let mut i = CK_MECHANISM_INFO::default();
        ok(call!(self.f, C_GetMechanismInfo, slot, m, &mut i), i)
    }
    /// `C_InitToken` with a 32-byte blank-padded label.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &str) -> CK_RV {
        let mut l = [b' '; 32];
        let n = label.len().min(32);
        l[..n].copy_from_slice(&label.as_bytes()[..n]);
        let mut pin = so_pin.to_vec();
        call!(
            self.f,
            C_InitToken,
            slot,
            pin.as_mut_ptr(),
            pin.len() as CK_ULONG,
            l.as_mut_ptr()
        )
    }
    /// `C_InitPIN`.
    pub fn init_pin(&self, s: CK_SESSION_HANDLE, pin: &[u8]) -> CK_RV {
        let mut p = pin.to_vec();
        call!(self.f, C_InitPIN, s, p.as_mut_ptr(), p.len() as CK_ULONG)
    }
    /// `C_SetPIN`.
    pub fn set_pin(&self, s: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> CK_RV {
        let mut o = old.to_vec();
        let mut n = new.to_vec();
        call!(
            self.f,
            C_SetPIN,
            s,
            o.as_mut_ptr(),
            o.len() as CK_ULONG,
            n.as_mut_ptr(),
            n.len() as CK_ULONG
        )
    }
    /// `C_OpenSession` with the given flags.
    pub fn open_flags(
        &self,
        slot: CK_SLOT_ID,
        flags: CK_FLAGS,
    ) -> Result<CK_SESSION_HANDLE, CK_RV> {
        let mut h: CK_SESSION_HANDLE = 0;
        ok(
            call!(
                self.f,
                C_OpenSession,
                slot,
                flags,
                ptr::null_mut(),
                None,
                &mut h
            ),
            h,
        )
    }
    /// A serial session, read-write or read-only.
    pub fn open(&self, slot: CK_SLOT_ID, rw: bool) -> Result<CK_SESSION_HANDLE, CK_RV> {
        self.open_flags(
            slot,
            CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 },
        )
    }
    /// `C_CloseSession`.
    pub fn close(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self.f, C_CloseSession, s)
    }
    /// `C_CloseAllSessions`.
    pub fn close_all(&self, slot: CK_SLOT_ID) -> CK_RV {
        call!(self.f, C_CloseAllSessions, slot)
    }
    /// `C_GetSessionInfo`.
    pub fn session_info(&self, s: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO, CK_RV> {
        let mut i = CK_SESSION_INFO::default();
        ok(call!(self.f, C_GetSessionInfo, s, &mut i), i)
    }
    /// `C_Login`.
    pub fn login(&self, s: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> CK_RV {
        let mut p = pin.to_vec();
        call!(
            self.f,
            C_Login,
            s,
            user,
            p.as_mut_ptr(),
            p.len() as CK_ULONG
        )
    }
    /// `C_Logout`.
    pub fn logout(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self.f, C_Logout, s)
    }
    /// `C_CreateObject`.
    pub fn create(&self, s: CK_SESSION_HANDLE, t: &Template) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut a = t.raw();
        let mut h: CK_OBJECT_HANDLE = 0;
        ok(
            call!(
                self.f,
                C_CreateObject,
                s,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                &mut h
            ),
            h,
        )
    }
    /// `C_CopyObject`.
    pub fn copy(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut a = t.raw();
        let mut h: CK_OBJECT_HANDLE = 0;
        ok(
            call!(
                self.f,
                C_CopyObject,
                s,
                o,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                &mut h
            ),
            h,
        )
    }
    /// `C_DestroyObject`.
    pub fn destroy(&self, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> CK_RV {
        call!(self.f, C_DestroyObject, s, o)
    }
    /// `C_GetObjectSize`.
    pub fn object_size(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
    ) -> Result<CK_ULONG, CK_RV> {
        let mut n: CK_ULONG = 0;
        ok(call!(self.f, C_GetObjectSize, s, o, &mut n), n)
    }
    /// `C_GetAttributeValue` on a raw template (the case owns the buffers).
    pub fn get_raw(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        a: &mut [CK_ATTRIBUTE],
    ) -> CK_RV {
        call!(
            self.f,
            C_GetAttributeValue,
            s,
            o,
            a.as_mut_ptr(),
            a.len() as CK_ULONG
        )
    }
    /// One attribute's value by the length-query convention.
    pub fn get(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut a = [CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        }];
        let rv = self.get_raw(s, o, &mut a);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![0u8; a[0].ulValueLen as usize];
        a[0].pValue = v.as_mut_ptr() as *mut c_void;
        let rv = self.get_raw(s, o, &mut a);
        v.truncate(a[0].ulValueLen as usize);
        ok(rv, v)
    }
    /// A CK_ULONG attribute.
    pub fn get_ulong(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Result<CK_ULONG, CK_RV> {
        let v = self.get(s, o, ty)?;
        let b: [u8; 8] = v.as_slice().try_into().map_err(|_| CKR_GENERAL_ERROR)?;
        Ok(CK_ULONG::from_ne_bytes(b))
    }
    /// A CK_BBOOL attribute.
    pub fn get_bool(
        &self,
        s: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> Result<bool, CK_RV> {
        let v = self.get(s, o, ty)?;
        if v.len() != 1 {
            return Err(CKR_GENERAL_ERROR);
        }
        Ok(v[0] != 0)
    }
    /// `C_SetAttributeValue`.
    pub fn set(&self, s: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE, t: &Template) -> CK_RV {
        let mut a = t.raw();
        call!(
            self.f,
            C_SetAttributeValue,
            s,
            o,
            a.as_mut_ptr(),
            a.len() as CK_ULONG
        )
    }
    /// `C_FindObjectsInit`.
    pub fn find_init(&self, s: CK_SESSION_HANDLE, t: &Template) -> CK_RV {
        let mut a = t.raw();
        let p = if a.is_empty() {
            ptr::null_mut()
        } else {
            a.as_mut_ptr()
        };
        call!(self.f, C_FindObjectsInit, s, p, a.len() as CK_ULONG)
    }
    /// `C_FindObjects` with at most `max` handles.
    pub fn find_next(
        &self,
        s: CK_SESSION_HANDLE,
        max: usize,
    ) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
        let mut v = vec![0; max.max(1)];
        let mut n: CK_ULONG = 0;
        let rv = call!(
            self.f,
            C_FindObjects,
            s,
            v.as_mut_ptr(),
            max as CK_ULONG,
            &mut n
        );
        v.truncate(n as usize);
        ok(rv, v)
    }
    /// `C_FindObjectsFinal`.
    pub fn find_final(&self, s: CK_SESSION_HANDLE) -> CK_RV {
        call!(self.f, C_FindObjectsFinal, s)
    }
    /// All objects matching a template.
    pub fn find(&self, s: CK_SESSION_HANDLE, t: &Template) -> Result<Vec<CK_OBJECT_HANDLE>, CK_RV> {
        let rv = self.find_init(s, t);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut all = Vec::new();
        loop {
            match self.find_next(s, 64) {
                Ok(v) if v.is_empty() => break,
                Ok(v) => all.extend(v),
                Err(rv) => {
                    self.find_final(s);
                    return Err(rv);
                }
            }
        }
        ok(self.find_final(s), all)
    }
    /// `C_GenerateKey`.
    pub fn generate_key(
        &self,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut mm = m.raw();
        let mut a = t.raw();
        let mut h: CK_OBJECT_HANDLE = 0;
        ok(
            call!(
                self.f,
                C_GenerateKey,
                s,
                &mut mm,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                &mut h
            ),
            h,
        )
    }
    /// `C_GenerateKeyPair`: (public, private).
    pub fn generate_pair(
        &self,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        public: &Template,
        private: &Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
        let mut mm = m.raw();
        let mut a = public.raw();
        let mut b = private.raw();
        let (mut hp, mut hs) = (0, 0);
        let rv = call!(
            self.f,
            C_GenerateKeyPair,
            s,
            &mut mm,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            b.as_mut_ptr(),
            b.len() as CK_ULONG,
            &mut hp,
            &mut hs
        );
        ok(rv, (hp, hs))
    }
    /// `C_WrapKey`, both calls.
    pub fn wrap(
        &self,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut mm = m.raw();
        let mut n: CK_ULONG = 0;
        let rv = call!(
            self.f,
            C_WrapKey,
            s,
            &mut mm,
            wrapping,
            key,
            ptr::null_mut(),
            &mut n
        );
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![0u8; n as usize];
        let rv = call!(
            self.f,
            C_WrapKey,
            s,
            &mut mm,
            wrapping,
            key,
            v.as_mut_ptr(),
            &mut n
        );
        v.truncate(n as usize);
        ok(rv, v)
    }
    /// `C_UnwrapKey`.
    pub fn unwrap(
        &self,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut mm = m.raw();
        let mut w = wrapped.to_vec();
        let mut a = t.raw();
        let mut h: CK_OBJECT_HANDLE = 0;
        let rv = call!(
            self.f,
            C_UnwrapKey,
            s,
            &mut mm,
            unwrapping,
            w.as_mut_ptr(),
            w.len() as CK_ULONG,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            &mut h
        );
        ok(rv, h)
    }
    /// `C_DeriveKey`.
    pub fn derive(
        &self,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        base: CK_OBJECT_HANDLE,
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut mm = m.raw();
        let mut a = t.raw();
        let mut h: CK_OBJECT_HANDLE = 0;
        ok(
            call!(
                self.f,
                C_DeriveKey,
                s,
                &mut mm,
                base,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                &mut h
            ),
            h,
        )
    }
    /// `C_GenerateRandom`.
    pub fn random(&self, s: CK_SESSION_HANDLE, n: usize) -> Result<Vec<u8>, CK_RV> {
        let mut v = vec![0u8; n];
        ok(
            call!(self.f, C_GenerateRandom, s, v.as_mut_ptr(), n as CK_ULONG),
            v,
        )
    }

    /// `C_<Op>Init`.
    pub fn op_init(&self, op: Op, s: CK_SESSION_HANDLE, m: &Mech, key: CK_OBJECT_HANDLE) -> CK_RV {
        let mut mm = m.raw();
        match op {
            Op::Encrypt => call!(self.f, C_EncryptInit, s, &mut mm, key),
            Op::Decrypt => call!(self.f, C_DecryptInit, s, &mut mm, key),
            Op::Sign => call!(self.f, C_SignInit, s, &mut mm, key),
            Op::Verify => call!(self.f, C_VerifyInit, s, &mut mm, key),
            Op::Digest => call!(self.f, C_DigestInit, s, &mut mm),
        }
    }
    /// The single-part call with an explicit output buffer (`None` = NULL pointer).
    /// Returns the rv and the length the module wrote back. Not for Verify.
    pub fn op_single_raw(
        &self,
        op: Op,
        s: CK_SESSION_HANDLE,
        input: &[u8],
        out: Option<&mut [u8]>,
        len: &mut CK_ULONG,
    ) -> CK_RV {
        let mut i = input.to_vec();
        let (il, ip) = (i.len() as CK_ULONG, i.as_mut_ptr());
        let op_ptr = out.map_or(ptr::null_mut(), |o| o.as_mut_ptr());
        match op {
            Op::Encrypt => call!(self.f, C_Encrypt, s, ip, il, op_ptr, len),
            Op::Decrypt => call!(self.f, C_Decrypt, s, ip, il, op_ptr, len),
            Op::Sign => call!(self.f, C_Sign, s, ip, il, op_ptr, len),
            Op::Digest => call!(self.f, C_Digest, s, ip, il, op_ptr, len),
            Op::Verify => CKR_GENERAL_ERROR,
        }
    }
    /// The single-part call by the length-query convention.
    pub fn op_single(&self, op: Op, s: CK_SESSION_HANDLE, input: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut n: CK_ULONG = 0;
        let rv = self.op_single_raw(op, s, input, None, &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![0u8; n as usize];
        let rv = self.op_single_raw(op, s, input, Some(&mut v), &mut n);
        v.truncate(n as usize);
        ok(rv, v)
    }
    /// Init + single part.
    pub fn run(
        &self,
        op: Op,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        input: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let rv = self.op_init(op, s, m, key);
        if rv != CKR_OK {
            return Err(rv);
        }
        self.op_single(op, s, input)
    }
    /// `C_Verify`.
    pub fn verify(&self, s: CK_SESSION_HANDLE, data: &[u8], sig: &[u8]) -> CK_RV {
        let mut d = data.to_vec();
        let mut g = sig.to_vec();
        call!(
            self.f,
            C_Verify,
            s,
            d.as_mut_ptr(),
            d.len() as CK_ULONG,
            g.as_mut_ptr(),
            g.len() as CK_ULONG
        )
    }
    /// Init + `C_Verify`.
    pub fn run_verify(
        &self,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> CK_RV {
        let rv = self.op_init(Op::Verify, s, m, key);
        if rv != CKR_OK {
            return rv;
        }
        self.verify(s, data, sig)
    }
    /// Init, then the data in `chunk`-sized updates, then the final call
    /// (Verify: `sig` is checked in the final call and the result is empty).
    #[allow(clippy::too_many_arguments)]
    pub fn run_multi(
        &self,
        op: Op,
        s: CK_SESSION_HANDLE,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        input: &[u8],
        chunk: usize,
        sig: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let rv = self.op_init(op, s, m, key);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            let mut i = c.to_vec();
            let (ip, il) = (i.as_mut_ptr(), i.len() as CK_ULONG);
            let rv = match op {
                Op::Encrypt | Op::Decrypt => {
                    let mut n: CK_ULONG = 0;
                    let rv = if op == Op::Encrypt {
                        call!(self.f, C_EncryptUpdate, s, ip, il, ptr::null_mut(), &mut n)
                    } else {
                        call!(self.f, C_DecryptUpdate, s, ip, il, ptr::null_mut(), &mut n)
                    };
                    if rv != CKR_OK {
                        return Err(rv);
                    }
                    let mut v = vec![0u8; n as usize];
                    let rv = if op == Op::Encrypt {
                        call!(self.f, C_EncryptUpdate, s, ip, il, v.as_mut_ptr(), &mut n)
                    } else {
                        call!(self.f, C_DecryptUpdate, s, ip, il, v.as_mut_ptr(), &mut n)
                    };
                    v.truncate(n as usize);
                    out.extend(v);
                    rv
                }
                Op::Sign => call!(self.f, C_SignUpdate, s, ip, il),
                Op::Verify => call!(self.f, C_VerifyUpdate, s, ip, il),
                Op::Digest => call!(self.f, C_DigestUpdate, s, ip, il),
            };
            if rv != CKR_OK {
                return Err(rv);
            }
        }
        if op == Op::Verify {
            let mut g = sig.to_vec();
            let rv = call!(
                self.f,
                C_VerifyFinal,
                s,
                g.as_mut_ptr(),
                g.len() as CK_ULONG
            );
            return ok(rv, out);
        }
        let mut n: CK_ULONG = 0;
        let rv = self.op_final_raw(op, s, None, &mut n);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut v = vec![0u8; n as usize];
        let rv = self.op_final_raw(op, s, Some(&mut v), &mut n);
        v.truncate(n as usize);
        out.extend(v);
        ok(rv, out)
    }
    /// One update call of a multi-part operation (Encrypt/Decrypt return their output).
    pub fn op_update(&self, op: Op, s: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut i = data.to_vec();
        let (ip, il) = (i.as_mut_ptr(), i.len() as CK_ULONG);
        let rv = match op {
            Op::Encrypt | Op::Decrypt => {
                let mut n: CK_ULONG = (data.len() + 64) as CK_ULONG;
                let mut v = vec![0u8; n as usize];
                let rv = if op == Op::Encrypt {
                    call!(self.f, C_EncryptUpdate, s, ip, il, v.as_mut_ptr(), &mut n)
                } else {
                    call!(self.f, C_DecryptUpdate, s, ip, il, v.as_mut_ptr(), &mut n)
                };
                v.truncate(n as usize);
                return ok(rv, v);
            }
            Op::Sign => call!(self.f, C_SignUpdate, s, ip, il),
            Op::Verify => call!(self.f, C_VerifyUpdate, s, ip, il),
            Op::Digest => call!(self.f, C_DigestUpdate, s, ip, il),
        };
        ok(rv, Vec::new())
    }
    /// The final call of a multi-part operation with an explicit buffer.
    pub fn op_final_raw(
        &self,
        op: Op,
        s: CK_SESSION_HANDLE,
        out: Option<&mut [u8]>,
        len: &mut CK_ULONG,
    ) -> CK_RV {
        let p = out.map_or(ptr::null_mut(), |o| o.as_mut_ptr());
        match op {
            Op::Encrypt => call!(self.f, C_EncryptFinal, s, p, len),
            Op::Decrypt => call!(self.f, C_DecryptFinal, s, p, len),
            Op::Sign => call!(self.f, C_SignFinal, s, p, len),
            Op::Digest => call!(self.f, C_DigestFinal, s, p, len),
            Op::Verify => CKR_GENERAL_ERROR,
        }
    }
}

/// The five cryptographic operations.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// C_Encrypt*.
    Encrypt,
    /// C_Decrypt*.
    Decrypt,
    /// C_Sign*.
    Sign,
    /// C_Verify*.
    Verify,
    /// C_Digest*.
    Digest,
}

fn ok<T>(rv: CK_RV, v: T) -> Result<T, CK_RV> {
    if rv == CKR_OK {
        Ok(v)
    } else {
        Err(rv)
    }
}

/// An attribute template that owns its values.
#[derive(Clone, Default)]
pub struct Template(pub Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>);

impl Template {
    /// An empty template.
    pub fn new() -> Template {
        Template(Vec::new())
    }
    /// Adds a CK_ULONG attribute (replacing one of the same type).
    pub fn ulong(self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Template {
        self.bytes(ty, &v.to_ne_bytes())
    }
    /// Adds a CK_BBOOL attribute (replacing one of the same type).
    pub fn flag(self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Template {
        self.bytes(ty, &[v as u8])
    }
    /// Adds a byte-string attribute (replacing one of the same type).
    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Template {
        self.0.retain(|(t, _)| *t != ty);
        self.0.push((ty, v.to_vec()));
        self
    }
    /// The CK_ATTRIBUTE array pointing at this template's values.
    pub fn raw(&self) -> Vec<CK_ATTRIBUTE> {
        self.0
            .iter()
            .map(|(t, v)| CK_ATTRIBUTE {
                type_: *t,
                pValue: if v.is_empty() {
                    ptr::null_mut()
                } else {
                    v.as_ptr() as *mut c_void
                },
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect()
    }
}

/// A mechanism with an owned parameter (and whatever the parameter points at).
pub struct Mech {
    /// The mechanism type.
    pub ty: CK_MECHANISM_TYPE,
    param: Vec<u8>,
    _keep: Vec<Vec<u8>>,
}

/// The bytes of a plain C struct.
fn struct_bytes<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: T is a repr(C) plain-old-data parameter struct; reading its bytes is defined.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
        .to_vec()
}

impl Mech {
    /// No parameter.
    pub fn new(ty: CK_MECHANISM_TYPE) -> Mech {
        Mech {
            ty,
            param: Vec::new(),
            _keep: Vec::new(),
        }
    }
    /// A byte-string parameter (IV, ...).
    pub fn with_bytes(ty: CK_MECHANISM_TYPE, p: &[u8]) -> Mech {
        Mech {
            ty,
            param: p.to_vec(),
            _keep: Vec::new(),
        }
    }
    /// A CK_ULONG parameter (the *_GENERAL MACs).
    pub fn with_ulong(ty: CK_MECHANISM_TYPE, v: CK_ULONG) -> Mech {
        Mech {
            ty,
            param: v.to_ne_bytes().to_vec(),
            _keep: Vec::new(),
        }
    }
    /// CKM_AES_GCM with IV, AAD and tag bits.
    pub fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mech {
        let mut iv = iv.to_vec();
        let mut aad = aad.to_vec();
        let p = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: iv.len() as CK_ULONG,
            ulIvBits: (iv.len() * 8) as CK_ULONG,
            pAAD: if aad.is_empty() {
                ptr::null_mut()
            } else {
                aad.as_mut_ptr()
            },
            ulAADLen: aad.len() as CK_ULONG,
            ulTagBits: tag_bits,
        };
        Mech {
            ty: CKM_AES_GCM,
            param: struct_bytes(&p),
            _keep: vec![iv, aad],
        }
    }
    /// CKM_AES_CTR.
    pub fn ctr(counter_bits: CK_ULONG, cb: [u8; 16]) -> Mech {
        let p = CK_AES_CTR_PARAMS {
            ulCounterBits: counter_bits,
            cb,
        };
        Mech {
            ty: CKM_AES_CTR,
            param: struct_bytes(&p),
            _keep: Vec::new(),
        }
    }
    /// A PSS mechanism.
    pub fn pss(
        ty: CK_MECHANISM_TYPE,
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        slen: CK_ULONG,
    ) -> Mech {
        let p = CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: hash,
            mgf,
            sLen: slen,
        };
        Mech {
            ty,
            param: struct_bytes(&p),
            _keep: Vec::new(),
        }
    }
    /// CKM_RSA_PKCS_OAEP without a label.
    pub fn oaep(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG) -> Mech {
        let p = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: hash,
            mgf,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: ptr::null_mut(),
            ulSourceDataLen: 0,
        };
        Mech {
            ty: CKM_RSA_PKCS_OAEP,
            param: struct_bytes(&p),
            _keep: Vec::new(),
        }
    }
    /// CKM_ECDH1_DERIVE with CKD_NULL.
    pub fn ecdh(public: &[u8]) -> Mech {
        let mut pubk = public.to_vec();
        let p = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: ptr::null_mut(),
            ulPublicDataLen: pubk.len() as CK_ULONG,
            pPublicData: pubk.as_mut_ptr(),
        };
        Mech {
            ty: CKM_ECDH1_DERIVE,
            param: struct_bytes(&p),
            _keep: vec![pubk],
        }
    }
    /// CKM_HKDF_DERIVE / CKM_HKDF_DATA with extract+expand and a salt given as data.
    pub fn hkdf(ty: CK_MECHANISM_TYPE, hash: CK_MECHANISM_TYPE, salt: &[u8], info: &[u8]) -> Mech {
        let mut salt = salt.to_vec();
        let mut info = info.to_vec();
        let p = CK_HKDF_PARAMS {
            bExtract: CK_TRUE,
            bExpand: CK_TRUE,
            prfHashMechanism: hash,
            ulSaltType: CKF_HKDF_SALT_DATA,
            pSalt: salt.as_mut_ptr(),
            ulSaltLen: salt.len() as CK_ULONG,
            hSaltKey: CK_INVALID_HANDLE,
            pInfo: info.as_mut_ptr(),
            ulInfoLen: info.len() as CK_ULONG,
        };
        Mech {
            ty,
            param: struct_bytes(&p),
            _keep: vec![salt, info],
        }
    }
    /// The CK_MECHANISM for a call (valid while `self` lives).
    pub fn raw(&self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: if self.param.is_empty() {
                ptr::null_mut()
            } else {
                self.param.as_ptr() as *mut c_void
            },
            ulParameterLen: self.param.len() as CK_ULONG,
        }
    }
}

/// The name of a return value.
pub fn rv_name(rv: CK_RV) -> String {
    let n = match rv {
        CKR_OK => "CKR_OK",
        CKR_CANCEL => "CKR_CANCEL",
        CKR_HOST_MEMORY => "CKR_HOST_MEMORY",
        CKR_SLOT_ID_INVALID => "CKR_SLOT_ID_INVALID",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_NO_EVENT => "CKR_NO_EVENT",
        CKR_NEED_TO_CREATE_THREADS => "CKR_NEED_TO_CREATE_THREADS",
        CKR_CANT_LOCK => "CKR_CANT_LOCK",
        CKR_ATTRIBUTE_READ_ONLY => "CKR_ATTRIBUTE_READ_ONLY",
        CKR_ATTRIBUTE_SENSITIVE => "CKR_ATTRIBUTE_SENSITIVE",
        CKR_ATTRIBUTE_TYPE_INVALID => "CKR_ATTRIBUTE_TYPE_INVALID",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_ACTION_PROHIBITED => "CKR_ACTION_PROHIBITED",
        CKR_DATA_INVALID => "CKR_DATA_INVALID",
        CKR_DATA_LEN_RANGE => "CKR_DATA_LEN_RANGE",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_DEVICE_MEMORY => "CKR_DEVICE_MEMORY",
        CKR_ENCRYPTED_DATA_INVALID => "CKR_ENCRYPTED_DATA_INVALID",
        CKR_ENCRYPTED_DATA_LEN_RANGE => "CKR_ENCRYPTED_DATA_LEN_RANGE",
        CKR_FUNCTION_CANCELED => "CKR_FUNCTION_CANCELED",
        CKR_FUNCTION_NOT_PARALLEL => "CKR_FUNCTION_NOT_PARALLEL",
        CKR_FUNCTION_NOT_SUPPORTED => "CKR_FUNCTION_NOT_SUPPORTED",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_KEY_SIZE_RANGE => "CKR_KEY_SIZE_RANGE",
        CKR_KEY_TYPE_INCONSISTENT => "CKR_KEY_TYPE_INCONSISTENT",
        CKR_KEY_FUNCTION_NOT_PERMITTED => "CKR_KEY_FUNCTION_NOT_PERMITTED",
        CKR_KEY_NOT_WRAPPABLE => "CKR_KEY_NOT_WRAPPABLE",
        CKR_KEY_UNEXTRACTABLE => "CKR_KEY_UNEXTRACTABLE",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_OBJECT_HANDLE_INVALID => "CKR_OBJECT_HANDLE_INVALID",
        CKR_OPERATION_ACTIVE => "CKR_OPERATION_ACTIVE",
        CKR_OPERATION_NOT_INITIALIZED => "CKR_OPERATION_NOT_INITIALIZED",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_PIN_INVALID => "CKR_PIN_INVALID",
        CKR_PIN_LEN_RANGE => "CKR_PIN_LEN_RANGE",
        CKR_PIN_LOCKED => "CKR_PIN_LOCKED",
        CKR_SESSION_CLOSED => "CKR_SESSION_CLOSED",
        CKR_SESSION_COUNT => "CKR_SESSION_COUNT",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_SESSION_PARALLEL_NOT_SUPPORTED => "CKR_SESSION_PARALLEL_NOT_SUPPORTED",
        CKR_SESSION_READ_ONLY => "CKR_SESSION_READ_ONLY",
        CKR_SESSION_EXISTS => "CKR_SESSION_EXISTS",
        CKR_SESSION_READ_ONLY_EXISTS => "CKR_SESSION_READ_ONLY_EXISTS",
        CKR_SESSION_READ_WRITE_SO_EXISTS => "CKR_SESSION_READ_WRITE_SO_EXISTS",
        CKR_SIGNATURE_INVALID => "CKR_SIGNATURE_INVALID",
        CKR_SIGNATURE_LEN_RANGE => "CKR_SIGNATURE_LEN_RANGE",
        CKR_TEMPLATE_INCOMPLETE => "CKR_TEMPLATE_INCOMPLETE",
        CKR_TEMPLATE_INCONSISTENT => "CKR_TEMPLATE_INCONSISTENT",
        CKR_TOKEN_NOT_PRESENT => "CKR_TOKEN_NOT_PRESENT",
        CKR_TOKEN_NOT_RECOGNIZED => "CKR_TOKEN_NOT_RECOGNIZED",
        CKR_TOKEN_WRITE_PROTECTED => "CKR_TOKEN_WRITE_PROTECTED",
        CKR_UNWRAPPING_KEY_HANDLE_INVALID => "CKR_UNWRAPPING_KEY_HANDLE_INVALID",
        CKR_UNWRAPPING_KEY_SIZE_RANGE => "CKR_UNWRAPPING_KEY_SIZE_RANGE",
        CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT => "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_USER_PIN_NOT_INITIALIZED => "CKR_USER_PIN_NOT_INITIALIZED",
        CKR_USER_TYPE_INVALID => "CKR_USER_TYPE_INVALID",
        CKR_USER_ANOTHER_ALREADY_LOGGED_IN => "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
        CKR_USER_TOO_MANY_TYPES => "CKR_USER_TOO_MANY_TYPES",
        CKR_WRAPPED_KEY_INVALID => "CKR_WRAPPED_KEY_INVALID",
        CKR_WRAPPED_KEY_LEN_RANGE => "CKR_WRAPPED_KEY_LEN_RANGE",
        CKR_WRAPPING_KEY_HANDLE_INVALID => "CKR_WRAPPING_KEY_HANDLE_INVALID",
        CKR_WRAPPING_KEY_SIZE_RANGE => "CKR_WRAPPING_KEY_SIZE_RANGE",
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT => "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
        CKR_RANDOM_SEED_NOT_SUPPORTED => "CKR_RANDOM_SEED_NOT_SUPPORTED",
        CKR_RANDOM_NO_RNG => "CKR_RANDOM_NO_RNG",
        CKR_DOMAIN_PARAMS_INVALID => "CKR_DOMAIN_PARAMS_INVALID",
        CKR_CURVE_NOT_SUPPORTED => "CKR_CURVE_NOT_SUPPORTED",
        CKR_BUFFER_TOO_SMALL => "CKR_BUFFER_TOO_SMALL",
        CKR_SAVED_STATE_INVALID => "CKR_SAVED_STATE_INVALID",
        CKR_INFORMATION_SENSITIVE => "CKR_INFORMATION_SENSITIVE",
        CKR_STATE_UNSAVEABLE => "CKR_STATE_UNSAVEABLE",
        CKR_CRYPTOKI_NOT_INITIALIZED => "CKR_CRYPTOKI_NOT_INITIALIZED",
        CKR_CRYPTOKI_ALREADY_INITIALIZED => "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        CKR_MUTEX_BAD => "CKR_MUTEX_BAD",
        CKR_MUTEX_NOT_LOCKED => "CKR_MUTEX_NOT_LOCKED",
        CKR_NEW_PIN_MODE => "CKR_NEW_PIN_MODE",
        CKR_NEXT_OTP => "CKR_NEXT_OTP",
        CKR_EXCEEDED_MAX_ITERATIONS => "CKR_EXCEEDED_MAX_ITERATIONS",
        CKR_FIPS_SELF_TEST_FAILED => "CKR_FIPS_SELF_TEST_FAILED",
        CKR_LIBRARY_LOAD_FAILED => "CKR_LIBRARY_LOAD_FAILED",
        CKR_PIN_TOO_WEAK => "CKR_PIN_TOO_WEAK",
        CKR_PUBLIC_KEY_INVALID => "CKR_PUBLIC_KEY_INVALID",
        CKR_FUNCTION_REJECTED => "CKR_FUNCTION_REJECTED",
        CKR_TOKEN_RESOURCE_EXCEEDED => "CKR_TOKEN_RESOURCE_EXCEEDED",
        CKR_OPERATION_CANCEL_FAILED => "CKR_OPERATION_CANCEL_FAILED",
        _ => return format!("0x{rv:08X}"),
    };
    n.to_string()
}
