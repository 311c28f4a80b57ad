//! Mechanisms with owned parameters: the `CK_MECHANISM` points at parameter
//! bytes (and the parameter at buffers) the value keeps alive.

use crate::sys::*;
use std::ffi::c_void;
use std::ptr;

/// A mechanism with an owned parameter (and whatever the parameter points at).
pub struct Mech {
    /// The mechanism type.
    pub ty: CK_MECHANISM_TYPE,
    param: Vec<u8>,
    _keep: Vec<Vec<u8>>,
    /// A `ulParameterLen` that differs from the parameter's size (hostile calls).
    len: Option<CK_ULONG>,
    /// The `CK_MECHANISM` that [`Mech::p`] points at.
    call: Option<CK_MECHANISM>,
}

/// The bytes of a plain C struct (a mechanism parameter). Pointers inside
/// it are copied as they are: what they point at must outlive the bytes.
pub fn struct_bytes<T>(v: &T) -> Vec<u8> {
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
            len: None,
            call: None,
        }
    }
    /// A byte-string parameter (IV, ...).
    pub fn with_bytes(ty: CK_MECHANISM_TYPE, p: &[u8]) -> Mech {
        Mech {
            ty,
            param: p.to_vec(),
            _keep: Vec::new(),
            len: None,
            call: None,
        }
    }
    /// A CK_ULONG parameter (the *_GENERAL MACs).
    pub fn with_ulong(ty: CK_MECHANISM_TYPE, v: CK_ULONG) -> Mech {
        Mech {
            ty,
            param: v.to_ne_bytes().to_vec(),
            _keep: Vec::new(),
            len: None,
            call: None,
        }
    }
    /// A parameter given as its bytes (a C struct from [`struct_bytes`]) with
    /// the buffers its pointers point at, kept alive (and unmoved) with it.
    pub fn with_parts(ty: CK_MECHANISM_TYPE, param: Vec<u8>, keep: Vec<Vec<u8>>) -> Mech {
        Mech {
            ty,
            param,
            _keep: keep,
            len: None,
            call: None,
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
            len: None,
            call: None,
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
            len: None,
            call: None,
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
            len: None,
            call: None,
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
            len: None,
            call: None,
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
            len: None,
            call: None,
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
            len: None,
            call: None,
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
            ulParameterLen: self.len.unwrap_or(self.param.len() as CK_ULONG),
        }
    }
    /// The same mechanism with `ulParameterLen` replaced (the pointer stays):
    /// a parameter of the wrong size, or a huge one, on purpose.
    pub fn with_len(mut self, n: CK_ULONG) -> Mech {
        self.len = Some(n);
        self
    }
    /// A pointer to this mechanism's `CK_MECHANISM`, valid while `self` lives
    /// and is not moved (for calls that take `CK_MECHANISM_PTR`).
    pub fn p(&mut self) -> *mut CK_MECHANISM {
        self.call.insert(self.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mechanism_points_at_its_parameter_and_with_len_keeps_the_pointer() {
        let m = Mech::with_bytes(CKM_AES_CBC, &[7; 16]);
        let raw = m.raw();
        assert!(!raw.pParameter.is_null());
        assert_eq!(raw.ulParameterLen, 16);
        let mut m = m.with_len(CK_ULONG::MAX);
        let p = m.p();
        // SAFETY: `p` points into `m`, alive here.
        let (ptr, len) = unsafe { ((*p).pParameter, (*p).ulParameterLen) };
        assert_eq!(ptr, raw.pParameter);
        assert_eq!(len, CK_ULONG::MAX);
        let none = Mech::new(CKM_SHA256).raw();
        assert!(none.pParameter.is_null());
        assert_eq!(none.ulParameterLen, 0);
    }
}
