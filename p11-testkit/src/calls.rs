//! The conformance runner's calls: one method per PKCS#11 function (or pair of
//! calls, for the length-query rule), each returning the module's `CK_RV`
//! unchanged so that a case can compare it with the code the standard names.

use crate::sys::*;
use crate::{Mech, Module, Template};
use std::ffi::c_void;
use std::ptr;

impl Module {
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

use crate::rv_ok as ok;
