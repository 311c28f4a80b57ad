//! Requests from an input's [`Call`]s: sessions and objects picked among the
//! handles the replies gave, mechanisms among the registry's.

use crate::input::*;
use crate::{p11_oid, ulong, Seen, SO_PIN, USER_PIN};
use cryptoki_sys::*;
use softkms::internals::mechanism::{registry, Mechanism, Param};
use softkms::internals::object::attr::{encode_template, Attribute};
use softkms::internals::remote::decode;
use softkms::internals::remote::proto::{
    self, InKind, InOutKind, InitKind, OpKind, OutKind, Request, Secret,
};
use std::sync::OnceLock;

pub(crate) fn mechanisms() -> &'static [CK_MECHANISM_TYPE] {
    static M: OnceLock<Vec<CK_MECHANISM_TYPE>> = OnceLock::new();
    M.get_or_init(|| registry::all().map(|d| d.mech).collect())
}

pub(crate) const HASHES: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_SHA3_512,
];

pub(crate) fn hash(i: u8) -> CK_MECHANISM_TYPE {
    HASHES
        .get(usize::from(i))
        .copied()
        .unwrap_or(CK_MECHANISM_TYPE::from(i))
}

pub(crate) fn pick<T: Copy>(list: &[T], i: u8) -> T {
    list[usize::from(i) % list.len()]
}

impl MechSel {
    fn ty(&self) -> CK_MECHANISM_TYPE {
        match self {
            MechSel::Known(i) => pick(mechanisms(), *i),
            MechSel::Raw(v) => *v as CK_MECHANISM_TYPE,
        }
    }
}

pub(crate) fn cap(c: Cap) -> proto::Capacity {
    c.map(|n| {
        if n == u16::MAX {
            u64::MAX
        } else {
            u64::from(n)
        }
    })
}

pub(crate) fn pin(p: &PinSel) -> Secret {
    Secret::new(match p {
        PinSel::User => USER_PIN,
        PinSel::So => SO_PIN,
        PinSel::Other(b) => &b[..],
    })
}

/// Builds requests; `seen` gives the handles.
pub(crate) struct Build<'a> {
    pub(crate) seen: &'a Seen,
}

impl Build<'_> {
    fn s(&self, i: S) -> u64 {
        let n = self.seen.sessions.len();
        match usize::from(i) {
            k if k < n => self.seen.sessions[n - 1 - k],
            _ => u64::from(i),
        }
    }

    fn o(&self, i: O) -> u64 {
        self.seen
            .objects
            .get(usize::from(i))
            .copied()
            .unwrap_or(u64::from(i))
    }

    fn param(&self, p: &ParamIn) -> Param {
        match p {
            ParamIn::None => Param::None,
            ParamIn::Bytes(b) => Param::Bytes(b.clone()),
            ParamIn::Ulong(v) => Param::Ulong(*v as CK_ULONG),
            ParamIn::Gcm { iv, aad, tag_bits } => Param::Gcm {
                iv: iv.clone(),
                aad: aad.clone(),
                tag_bits: CK_ULONG::from(*tag_bits),
            },
            ParamIn::Ctr { bits, cb } => Param::Ctr {
                counter_bits: CK_ULONG::from(*bits),
                cb: *cb,
            },
            ParamIn::Pss { hash: h, mgf, salt } => Param::Pss {
                hash: hash(*h),
                mgf: CK_ULONG::from(*mgf),
                salt_len: CK_ULONG::from(*salt),
            },
            ParamIn::Oaep {
                hash: h,
                mgf,
                label,
            } => Param::Oaep {
                hash: hash(*h),
                mgf: CK_ULONG::from(*mgf),
                label: label.clone(),
            },
            ParamIn::RsaAesKw {
                bits,
                hash: h,
                mgf,
                label,
            } => Param::RsaAesKeyWrap {
                aes_key_bits: CK_ULONG::from(*bits),
                hash: hash(*h),
                mgf: CK_ULONG::from(*mgf),
                label: label.clone(),
            },
            ParamIn::Ecdh {
                kdf,
                shared,
                public,
            } => Param::Ecdh1 {
                kdf: CK_ULONG::from(*kdf),
                shared_data: shared.clone(),
                public_data: public.clone(),
            },
            ParamIn::Eddsa { ph, context } => Param::Eddsa {
                ph: *ph,
                context: context.clone(),
            },
            ParamIn::Envelope(c) => Param::Envelope { context: c.clone() },
            ParamIn::DataKey { context, capacity } => Param::GenerateDataKey {
                context: context.clone(),
                capacity: capacity.map(usize::from),
                wrapped: Vec::new(),
                needed: 0,
            },
            ParamIn::Key(k) => Param::Key(self.o(*k)),
            ParamIn::CbcData { iv, data } => Param::AesCbcEncryptData {
                iv: *iv,
                data: data.clone(),
            },
            ParamIn::Hkdf {
                extract,
                expand,
                prf,
                salt_type,
                salt,
                salt_key,
                info,
            } => Param::Hkdf {
                extract: *extract,
                expand: *expand,
                prf_hash: hash(*prf),
                salt_type: CK_ULONG::from(*salt_type),
                salt: salt.clone(),
                salt_key: self.o(*salt_key),
                info: info.clone(),
            },
            ParamIn::SignContext { hedge, context } => Param::SignContext {
                hedge: CK_ULONG::from(*hedge),
                context: context.clone(),
            },
            ParamIn::HashSignContext {
                hedge,
                context,
                hash: h,
            } => Param::HashSignContext {
                hedge: CK_ULONG::from(*hedge),
                context: context.clone(),
                hash: hash(*h),
            },
            ParamIn::Postcard(b) => decode::<Param>(b).unwrap_or(Param::None),
        }
    }

    fn mech(&self, m: &MechIn) -> Mechanism {
        Mechanism {
            mech: m.sel.ty(),
            param: self.param(&m.param),
        }
    }

    fn template(&self, t: &[AttrIn]) -> Vec<Attribute> {
        t.iter()
            .map(|a| {
                let ty = a.ty.ty();
                match &a.value {
                    Val::Bool(b) => Attribute::bool(ty, *b),
                    Val::Small(v) => ulong(ty, u64::from(*v)),
                    Val::Ulong(v) => ulong(ty, *v),
                    Val::Bytes(b) => Attribute::new(ty, b.clone()),
                    Val::Ulongs(v) => Attribute::new(
                        ty,
                        v.iter()
                            .flat_map(|x| CK_ULONG::from(*x).to_ne_bytes())
                            .collect(),
                    ),
                    Val::Mech(m) => ulong(ty, m.ty()),
                    Val::P256 => Attribute::new(ty, p11_oid()),
                    Val::Nested(inner) => {
                        let inner: Vec<Attribute> = inner
                            .iter()
                            .map(|(t, b)| Attribute::bool(t.ty(), *b))
                            .collect();
                        Attribute::new(ty, encode_template(&inner).to_vec())
                    }
                }
            })
            .collect()
    }

    pub(crate) fn request(&self, c: &Call) -> Request {
        use Call as C;
        use Request as R;
        match c {
            C::SlotInfo => R::SlotInfo,
            C::TokenInfo => R::TokenInfo,
            C::MechanismList => R::MechanismList,
            C::MechanismInfo(m) => R::MechanismInfo { mech: m.ty() },
            C::InitToken { so, label } => R::InitToken {
                so_pin: pin(so),
                label: label.clone(),
            },
            C::InitPin { s, pin: p } => R::InitPin {
                h: self.s(*s),
                pin: pin(p),
            },
            C::SetPin { s, old, new } => R::SetPin {
                h: self.s(*s),
                old: pin(old),
                new: pin(new),
            },
            C::OpenSession { rw, serial, extra } => R::OpenSession {
                flags: (if *rw { CKF_RW_SESSION } else { 0 })
                    | (if *serial { CKF_SERIAL_SESSION } else { 0 })
                    | (CK_FLAGS::from(*extra) << 8),
            },
            C::CloseSession(s) => R::CloseSession { h: self.s(*s) },
            C::CloseAllSessions => R::CloseAllSessions,
            C::SessionInfo(s) => R::SessionInfo { h: self.s(*s) },
            C::SessionCancel { s, flags } => R::SessionCancel {
                h: self.s(*s),
                flags: *flags as CK_FLAGS,
            },
            C::Login {
                s,
                user,
                pin: p,
                username,
            } => R::Login {
                h: self.s(*s),
                user: match user % 4 {
                    0 => CKU_USER,
                    1 => CKU_SO,
                    2 => CKU_CONTEXT_SPECIFIC,
                    _ => CK_USER_TYPE::from(*user),
                },
                pin: pin(p),
                username: username.clone(),
            },
            C::Logout(s) => R::Logout { h: self.s(*s) },
            C::Create { s, t } => R::CreateObject {
                h: self.s(*s),
                template: self.template(t),
            },
            C::Copy { s, obj, t } => R::CopyObject {
                h: self.s(*s),
                obj: self.o(*obj),
                template: self.template(t),
            },
            C::Destroy { s, obj } => R::DestroyObject {
                h: self.s(*s),
                obj: self.o(*obj),
            },
            C::Size { s, obj } => R::ObjectSize {
                h: self.s(*s),
                obj: self.o(*obj),
            },
            C::GetAttributes { s, obj, types } => R::GetAttributes {
                h: self.s(*s),
                obj: self.o(*obj),
                types: types.iter().map(|t| t.ty()).collect(),
            },
            C::SetAttributes { s, obj, t } => R::SetAttributes {
                h: self.s(*s),
                obj: self.o(*obj),
                template: self.template(t),
            },
            C::FindInit { s, t } => R::FindInit {
                h: self.s(*s),
                template: self.template(t),
            },
            C::Find { s, max } => R::Find {
                h: self.s(*s),
                max: u64::from(*max),
            },
            C::FindFinal(s) => R::FindFinal { h: self.s(*s) },
            C::Init {
                s,
                which,
                mech,
                key,
            } => R::Init {
                h: self.s(*s),
                which: pick(
                    &[
                        InitKind::Encrypt,
                        InitKind::Decrypt,
                        InitKind::Sign,
                        InitKind::Verify,
                        InitKind::MessageEncrypt,
                        InitKind::MessageDecrypt,
                    ],
                    *which,
                ),
                mech: self.mech(mech),
                key: self.o(*key),
            },
            C::DigestInit { s, mech } => R::DigestInit {
                h: self.s(*s),
                mech: self.mech(mech),
            },
            C::DigestKey { s, key } => R::DigestKey {
                h: self.s(*s),
                key: self.o(*key),
            },
            C::VerifySignatureInit { s, mech, key, sig } => R::VerifySignatureInit {
                h: self.s(*s),
                mech: self.mech(mech),
                key: self.o(*key),
                signature: sig.clone(),
            },
            C::InOut {
                s,
                which,
                data,
                out,
            } => R::InOut {
                h: self.s(*s),
                which: pick(
                    &[
                        InOutKind::Encrypt,
                        InOutKind::EncryptUpdate,
                        InOutKind::Decrypt,
                        InOutKind::DecryptUpdate,
                        InOutKind::Digest,
                        InOutKind::Sign,
                    ],
                    *which,
                ),
                data: data.clone(),
                out: cap(*out),
            },
            C::In { s, which, data } => R::In {
                h: self.s(*s),
                which: pick(
                    &[
                        InKind::DigestUpdate,
                        InKind::SignUpdate,
                        InKind::VerifyUpdate,
                        InKind::VerifySignature,
                        InKind::VerifySignatureUpdate,
                    ],
                    *which,
                ),
                data: data.clone(),
            },
            C::Out { s, which, out } => R::Out {
                h: self.s(*s),
                which: pick(
                    &[
                        OutKind::EncryptFinal,
                        OutKind::DecryptFinal,
                        OutKind::DigestFinal,
                        OutKind::SignFinal,
                    ],
                    *which,
                ),
                out: cap(*out),
            },
            C::Verify { s, data, sig } => R::Verify {
                h: self.s(*s),
                data: data.clone(),
                signature: sig.clone(),
            },
            C::VerifyFinal { s, sig } => R::VerifyFinal {
                h: self.s(*s),
                signature: sig.clone(),
            },
            C::VerifySignatureFinal(s) => R::VerifySignatureFinal { h: self.s(*s) },
            C::Message {
                s,
                encrypt,
                param,
                aad,
                data,
                out,
            } => R::Message {
                h: self.s(*s),
                encrypt: *encrypt,
                param: self.message_param(param),
                aad: aad.clone(),
                data: data.clone(),
                out: cap(*out),
            },
            C::MessageBegin {
                s,
                encrypt,
                param,
                aad,
            } => R::MessageBegin {
                h: self.s(*s),
                encrypt: *encrypt,
                param: self.message_param(param),
                aad: aad.clone(),
            },
            C::MessageNext {
                s,
                encrypt,
                param,
                data,
                last,
                out,
            } => R::MessageNext {
                h: self.s(*s),
                encrypt: *encrypt,
                param: self.message_param(param),
                data: data.clone(),
                last: *last,
                out: cap(*out),
            },
            C::MessageFinal { s, encrypt } => R::MessageFinal {
                h: self.s(*s),
                encrypt: *encrypt,
            },
            C::GenerateKey { s, mech, t } => R::GenerateKey {
                h: self.s(*s),
                mech: self.mech(mech),
                template: self.template(t),
            },
            C::GenerateKeyPair {
                s,
                mech,
                public,
                private,
            } => R::GenerateKeyPair {
                h: self.s(*s),
                mech: self.mech(mech),
                public: self.template(public),
                private: self.template(private),
            },
            C::Wrap {
                s,
                mech,
                wrapping,
                key,
                out,
            } => R::WrapKey {
                h: self.s(*s),
                mech: self.mech(mech),
                wrapping: self.o(*wrapping),
                key: self.o(*key),
                out: cap(*out),
            },
            C::Unwrap {
                s,
                mech,
                unwrapping,
                wrapped,
                t,
            } => R::UnwrapKey {
                h: self.s(*s),
                mech: self.mech(mech),
                unwrapping: self.o(*unwrapping),
                wrapped: wrapped.clone(),
                template: self.template(t),
            },
            C::Derive { s, mech, base, t } => R::DeriveKey {
                h: self.s(*s),
                mech: self.mech(mech),
                base: self.o(*base),
                template: self.template(t),
            },
            C::Encapsulate {
                s,
                mech,
                public,
                t,
                out,
            } => R::EncapsulateKey {
                h: self.s(*s),
                mech: self.mech(mech),
                public: self.o(*public),
                template: self.template(t),
                out: cap(*out),
            },
            C::Decapsulate {
                s,
                mech,
                private,
                t,
                ct,
            } => R::DecapsulateKey {
                h: self.s(*s),
                mech: self.mech(mech),
                private: self.o(*private),
                template: self.template(t),
                ciphertext: ct.clone(),
            },
            C::SeedRandom { s, seed } => R::SeedRandom {
                h: self.s(*s),
                seed: seed.clone(),
            },
            C::GenerateRandom { s, len } => R::GenerateRandom {
                h: self.s(*s),
                len: u64::from(*len),
            },
            C::EndOperation { s, op } => R::EndOperation {
                h: self.s(*s),
                op: pick(
                    &[
                        OpKind::Encrypt,
                        OpKind::Decrypt,
                        OpKind::Digest,
                        OpKind::Sign,
                        OpKind::Verify,
                        OpKind::VerifySignature,
                    ],
                    *op,
                ),
            },
        }
    }

    /// The message functions' parameter: mostly a GCM message parameter
    /// (its IV and tag from a GCM input), else as built.
    fn message_param(&self, p: &ParamIn) -> Param {
        match p {
            ParamIn::Gcm { iv, aad, tag_bits } => Param::GcmMessage {
                iv: iv.clone(),
                iv_fixed_bits: 0,
                iv_generator: CK_ULONG::from(aad.first().copied().unwrap_or(0) % 5),
                tag_bits: CK_ULONG::from(*tag_bits),
                tag: aad.get(1..).map(<[u8]>::to_vec).unwrap_or_default(),
            },
            p => self.param(p),
        }
    }
}
