//! One method per call of the module's surface: each sends its request
//! and turns the reply back into the call's result.

use super::{apply_out, capacity, rv, unexpected, Remote};
use crate::error::{Error, Result};
use crate::info::{MechInfo, SessionInfo, SlotInfo, TokenInfo};
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Template;
use crate::object::rules::AttrRead;
use crate::outbuf::OutBuf;
use crate::remote::proto::{self, Body, Reply, Request, Secret};
use cryptoki_sys::*;

impl Remote {
    // ------------------------------------------------------------ slot and token

    pub(crate) fn slot_info(&self) -> Result<SlotInfo> {
        let local = SlotInfo {
            description: self.cfg.description.clone(),
            manufacturer: "SoftKMS".into(),
            flags: CKF_REMOVABLE_DEVICE,
            hardware_version: (0, 0),
            firmware_version: (0, 0),
        };
        match self.call(&Request::SlotInfo) {
            Ok(Reply {
                rv: CKR_OK,
                body: Body::SlotInfo(s),
            }) => Ok(SlotInfo {
                description: self.cfg.description.clone(),
                flags: s.flags | CKF_REMOVABLE_DEVICE,
                ..s
            }),
            Ok(_) | Err(_) => Ok(local),
        }
    }

    pub(crate) fn token_info(&self) -> Result<TokenInfo> {
        let r = self.call(&Request::TokenInfo)?;
        rv(r.rv)?;
        match r.body {
            Body::TokenInfo(t) => Ok(t),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn mechanism_list(&self) -> Result<Vec<CK_MECHANISM_TYPE>> {
        let r = self.call(&Request::MechanismList)?;
        rv(r.rv)?;
        match r.body {
            Body::Mechanisms(m) => Ok(m),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn mechanism_info(&self, mech: CK_MECHANISM_TYPE) -> Result<MechInfo> {
        let r = self.call(&Request::MechanismInfo { mech })?;
        rv(r.rv)?;
        match r.body {
            Body::MechInfo(m) => Ok(m),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn init_token(&self, so_pin: &[u8], label: &[u8]) -> Result<()> {
        self.unit(&Request::InitToken {
            so_pin: Secret::new(so_pin),
            label: label.to_vec(),
        })
    }

    pub(crate) fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::InitPin {
            h,
            pin: Secret::new(pin),
        })
    }

    pub(crate) fn set_pin(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::SetPin {
            h,
            old: Secret::new(old),
            new: Secret::new(new),
        })
    }

    // ------------------------------------------------------------ sessions

    pub(crate) fn open_session(
        &self,
        flags: CK_FLAGS,
        local: CK_SESSION_HANDLE,
    ) -> Result<CK_SESSION_HANDLE> {
        let theirs = self.handle(&Request::OpenSession { flags })?;
        self.sessions.lock().insert(local, theirs);
        Ok(local)
    }

    pub(crate) fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let theirs = self.server(h)?;
        let r = self.unit(&Request::CloseSession { h: theirs });
        if !matches!(r, Err(Error::DeviceRemoved)) {
            self.sessions.lock().remove(&h);
        }
        r
    }

    pub(crate) fn close_all_sessions(&self) -> Result<()> {
        let r = self.unit(&Request::CloseAllSessions);
        self.sessions.lock().clear();
        r
    }

    pub(crate) fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        let theirs = self.server(h)?;
        let r = self.call(&Request::SessionInfo { h: theirs })?;
        rv(r.rv)?;
        match r.body {
            Body::SessionInfo(i) => Ok(SessionInfo {
                slot: self.cfg.id,
                ..i
            }),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::SessionCancel { h, flags })
    }

    pub(crate) fn login(
        &self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: &[u8],
        username: Option<&[u8]>,
    ) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::Login {
            h,
            user,
            pin: Secret::new(pin),
            username: username.map(<[u8]>::to_vec),
        })
    }

    pub(crate) fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::Logout { h })
    }

    // ------------------------------------------------------------ objects

    pub(crate) fn create_object(
        &self,
        h: CK_SESSION_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let h = self.server(h)?;
        self.handle(&Request::CreateObject {
            h,
            template: template.clone(),
        })
    }

    pub(crate) fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let h = self.server(h)?;
        self.handle(&Request::CopyObject {
            h,
            obj,
            template: template.clone(),
        })
    }

    pub(crate) fn destroy_object(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::DestroyObject { h, obj })
    }

    pub(crate) fn object_size(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
    ) -> Result<CK_ULONG> {
        let h = self.server(h)?;
        let r = self.call(&Request::ObjectSize { h, obj })?;
        rv(r.rv)?;
        match r.body {
            Body::Ulong(n) => Ok(n),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn get_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrRead>> {
        let h = self.server(h)?;
        let r = self.call(&Request::GetAttributes {
            h,
            obj,
            types: types.to_vec(),
        })?;
        rv(r.rv)?;
        match r.body {
            Body::Attrs(a) if a.len() == types.len() => Ok(a),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn set_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::SetAttributes {
            h,
            obj,
            template: template.clone(),
        })
    }

    pub(crate) fn find_init(&self, h: CK_SESSION_HANDLE, template: &Template) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::FindInit {
            h,
            template: template.clone(),
        })
    }

    pub(crate) fn find(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let h = self.server(h)?;
        let r = self.call(&Request::Find { h, max: max as u64 })?;
        rv(r.rv)?;
        match r.body {
            Body::Handles(v) if v.len() <= max => Ok(v),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::FindFinal { h })
    }

    // ------------------------------------------------------------ cryptography

    pub(crate) fn init(
        &self,
        h: CK_SESSION_HANDLE,
        which: proto::InitKind,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::Init {
            h,
            which,
            mech: mech.clone(),
            key,
        })
    }

    pub(crate) fn digest_init(&self, h: CK_SESSION_HANDLE, mech: &Mechanism) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::DigestInit {
            h,
            mech: mech.clone(),
        })
    }

    pub(crate) fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::DigestKey { h, key })
    }

    pub(crate) fn in_out(
        &self,
        h: CK_SESSION_HANDLE,
        which: proto::InOutKind,
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        let h = self.server(h)?;
        let req = Request::InOut {
            h,
            which,
            data: data.to_vec(),
            out: capacity(out),
        };
        self.out(&req, out)
    }

    pub(crate) fn input(
        &self,
        h: CK_SESSION_HANDLE,
        which: proto::InKind,
        data: &[u8],
    ) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::In {
            h,
            which,
            data: data.to_vec(),
        })
    }

    pub(crate) fn output(
        &self,
        h: CK_SESSION_HANDLE,
        which: proto::OutKind,
        out: &mut OutBuf,
    ) -> Result<()> {
        let h = self.server(h)?;
        self.out(
            &Request::Out {
                h,
                which,
                out: capacity(out),
            },
            out,
        )
    }

    pub(crate) fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::Verify {
            h,
            data: data.to_vec(),
            signature: signature.to_vec(),
        })
    }

    pub(crate) fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::VerifyFinal {
            h,
            signature: signature.to_vec(),
        })
    }

    pub(crate) fn verify_signature_init(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
        signature: &[u8],
    ) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::VerifySignatureInit {
            h,
            mech: mech.clone(),
            key,
            signature: signature.to_vec(),
        })
    }

    pub(crate) fn verify_signature_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::VerifySignatureFinal { h })
    }

    /// Sends a message call and copies the parameter's output fields back.
    fn message_call(
        &self,
        req: &Request,
        param: &mut Param,
        out: Option<&mut OutBuf>,
    ) -> Result<()> {
        let r = self.call(req)?;
        let Body::Message { len, data, iv, tag } = r.body else {
            return match r.rv {
                CKR_OK => Err(unexpected(&r.body)),
                other => rv(other),
            };
        };
        let data = zeroize::Zeroizing::new(data);
        if let Param::GcmMessage {
            iv: piv, tag: ptag, ..
        } = param
        {
            if iv.len() == piv.len() {
                *piv = iv;
            }
            if !tag.is_empty() {
                *ptag = tag;
            }
        }
        match out {
            Some(out) => apply_out(out, r.rv, len, &data),
            None => rv(r.rv),
        }
    }

    pub(crate) fn message(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        param: &mut Param,
        aad: &[u8],
        data: &[u8],
        out: &mut OutBuf,
    ) -> Result<()> {
        let h = self.server(h)?;
        let req = Request::Message {
            h,
            encrypt,
            param: param.clone(),
            aad: aad.to_vec(),
            data: data.to_vec(),
            out: capacity(out),
        };
        self.message_call(&req, param, Some(out))
    }

    pub(crate) fn message_begin(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        param: &mut Param,
        aad: &[u8],
    ) -> Result<()> {
        let h = self.server(h)?;
        let req = Request::MessageBegin {
            h,
            encrypt,
            param: param.clone(),
            aad: aad.to_vec(),
        };
        self.message_call(&req, param, None)
    }

    pub(crate) fn message_next(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        param: &mut Param,
        data: &[u8],
        last: bool,
        out: &mut OutBuf,
    ) -> Result<()> {
        let h = self.server(h)?;
        let req = Request::MessageNext {
            h,
            encrypt,
            param: param.clone(),
            data: data.to_vec(),
            last,
            out: capacity(out),
        };
        self.message_call(&req, param, Some(out))
    }

    pub(crate) fn message_final(&self, h: CK_SESSION_HANDLE, encrypt: bool) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::MessageFinal { h, encrypt })
    }

    // ------------------------------------------------------------ keys

    pub(crate) fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let h = self.server(h)?;
        self.handle(&Request::GenerateKey {
            h,
            mech: mech.clone(),
            template: template.clone(),
        })
    }

    pub(crate) fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        public: &Template,
        private: &Template,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let h = self.server(h)?;
        let r = self.call(&Request::GenerateKeyPair {
            h,
            mech: mech.clone(),
            public: public.clone(),
            private: private.clone(),
        })?;
        rv(r.rv)?;
        match r.body {
            Body::Handles(v) if v.len() == 2 => Ok((v[0], v[1])),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        out: &mut OutBuf,
    ) -> Result<()> {
        let h = self.server(h)?;
        let req = Request::WrapKey {
            h,
            mech: mech.clone(),
            wrapping,
            key,
            out: capacity(out),
        };
        self.out(&req, out)
    }

    pub(crate) fn unwrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let h = self.server(h)?;
        self.handle(&Request::UnwrapKey {
            h,
            mech: mech.clone(),
            unwrapping,
            wrapped: wrapped.to_vec(),
            template: template.clone(),
        })
    }

    pub(crate) fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &mut Mechanism,
        base: CK_OBJECT_HANDLE,
        template: &Template,
    ) -> Result<CK_OBJECT_HANDLE> {
        let h = self.server(h)?;
        let r = self.call(&Request::DeriveKey {
            h,
            mech: mech.clone(),
            base,
            template: template.clone(),
        })?;
        let Body::Derived {
            key,
            additional,
            wrapped,
            needed,
        } = r.body
        else {
            return match r.rv {
                CKR_OK => Err(unexpected(&r.body)),
                other => Err(Error::from_rv(other)),
            };
        };
        match &mut mech.param {
            Param::Kbkdf(k) => {
                if additional.len() != k.additional.len() {
                    return Err(Error::General(
                        "additional keys differ from the request".into(),
                    ));
                }
                for (a, handle) in k.additional.iter_mut().zip(additional) {
                    a.handle = handle;
                }
            }
            Param::GenerateDataKey {
                wrapped: w,
                needed: n,
                ..
            } => {
                *w = wrapped;
                *n = usize::try_from(needed).unwrap_or(usize::MAX);
            }
            _ => {}
        }
        rv(r.rv)?;
        Ok(key)
    }

    pub(crate) fn encapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        public: CK_OBJECT_HANDLE,
        template: &Template,
        out: &mut OutBuf,
    ) -> Result<Option<CK_OBJECT_HANDLE>> {
        let h = self.server(h)?;
        let r = self.call(&Request::EncapsulateKey {
            h,
            mech: mech.clone(),
            public,
            template: template.clone(),
            out: capacity(out),
        })?;
        match r.body {
            Body::Encapsulated { len, data, key } => {
                apply_out(out, r.rv, len, &data)?;
                Ok(key)
            }
            _ if r.rv != CKR_OK => Err(Error::from_rv(r.rv)),
            b => Err(unexpected(&b)),
        }
    }

    pub(crate) fn decapsulate_key(
        &self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        private: CK_OBJECT_HANDLE,
        template: &Template,
        ciphertext: &[u8],
    ) -> Result<CK_OBJECT_HANDLE> {
        let h = self.server(h)?;
        self.handle(&Request::DecapsulateKey {
            h,
            mech: mech.clone(),
            private,
            template: template.clone(),
            ciphertext: ciphertext.to_vec(),
        })
    }

    pub(crate) fn seed_random(&self, h: CK_SESSION_HANDLE, seed: &[u8]) -> Result<()> {
        let h = self.server(h)?;
        self.unit(&Request::SeedRandom {
            h,
            seed: seed.to_vec(),
        })
    }

    /// Random bytes, asked for in pieces the protocol carries.
    pub(crate) fn generate_random(&self, h: CK_SESSION_HANDLE, buf: &mut [u8]) -> Result<()> {
        let theirs = self.server(h)?;
        for chunk in buf.chunks_mut(proto::MAX_OUTPUT) {
            let r = self.call(&Request::GenerateRandom {
                h: theirs,
                len: chunk.len() as u64,
            })?;
            rv(r.rv)?;
            match r.body {
                Body::Out { data, .. } if data.len() == chunk.len() => {
                    // Random bytes may become a key: wiped when dropped.
                    chunk.copy_from_slice(&zeroize::Zeroizing::new(data))
                }
                b => return Err(unexpected(&b)),
            }
        }
        Ok(())
    }

    pub(crate) fn end_operation(&self, h: CK_SESSION_HANDLE, op: proto::OpKind) {
        if let Ok(h) = self.server(h) {
            let _ = self.unit(&Request::EndOperation { h, op });
        }
    }
}
