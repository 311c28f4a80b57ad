//! Templates and mechanisms the cases pass (owned by `p11_testkit`'s
//! `Template` and `Mech`), and the per-message GCM parameter.

use crate::prelude::*;

pub(crate) fn data_tpl() -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .flag(CKA_TOKEN, false)
        .bytes(CKA_LABEL, b"hostile")
        .bytes(CKA_VALUE, b"v")
}
pub(crate) fn aes_tpl() -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .ulong(CKA_VALUE_LEN, 32)
        .flag(CKA_TOKEN, false)
        .flag(CKA_ENCRYPT, true)
}
pub(crate) fn unwrap_tpl() -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .flag(CKA_TOKEN, false)
}
pub(crate) fn ec_pub_tpl() -> Template {
    Template::new()
        .bytes(CKA_EC_PARAMS, &P256_OID)
        .flag(CKA_TOKEN, false)
        .flag(CKA_VERIFY, true)
}
pub(crate) fn ec_priv_tpl() -> Template {
    Template::new().flag(CKA_TOKEN, false).flag(CKA_SIGN, true)
}
pub(crate) fn label_tpl() -> Template {
    Template::new().bytes(CKA_LABEL, b"changed")
}
/// `t` with its first attribute given again, with another value when `differ`.
pub(crate) fn with_duplicate(mut t: Template, differ: bool) -> Template {
    let (ty, mut v) = t.0[0].clone();
    if differ {
        v = v.iter().map(|b| b ^ 1).collect();
    }
    t.0.push((ty, v));
    t
}

pub(crate) fn cbc() -> Mech {
    Mech::with_bytes(CKM_AES_CBC_PAD, &[7; 16])
}
/// `CK_ECDH1_DERIVE_PARAMS` bytes; the struct points at `point`, which must
/// outlive the call.
pub(crate) fn ecdh_param(point: &[u8]) -> Vec<u8> {
    struct_bytes(&CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: null_mut(),
        ulPublicDataLen: point.len() as CK_ULONG,
        pPublicData: point.as_ptr().cast_mut(),
    })
}

/// A per-message `CK_GCM_MESSAGE_PARAMS` with its IV and tag buffers.
pub(crate) struct GcmMsg {
    pub(crate) iv: Box<[u8; 12]>,
    pub(crate) tag: Box<[u8; 16]>,
    pub(crate) p: CK_GCM_MESSAGE_PARAMS,
}
impl GcmMsg {
    pub(crate) fn new() -> Box<GcmMsg> {
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
    pub(crate) fn ptr(&mut self) -> *mut c_void {
        std::ptr::addr_of_mut!(self.p).cast()
    }
}
pub(crate) const GCM_MSG_LEN: CK_ULONG = size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
