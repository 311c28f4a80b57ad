//! One request of a connection run on the connection's module, and its
//! reply.

use super::MAX_SESSIONS;
use crate::error::{Error, Result};
use crate::module::Module;
use crate::outbuf::OutBuf;
use crate::remote::check;
use crate::remote::proto::{
    self, Body, Capacity, InKind, InOutKind, InitKind, OutKind, Reply, Request,
};
use cryptoki_sys::*;
use zeroize::Zeroize;

/// Wipes the output bytes of a reply once it is encoded.
pub(super) fn wipe(r: &mut Reply) {
    match &mut r.body {
        Body::Out { data, .. } | Body::Message { data, .. } | Body::Encapsulated { data, .. } => {
            data.zeroize()
        }
        _ => {}
    }
}

fn code(r: &Result<()>) -> CK_RV {
    match r {
        Ok(()) => CKR_OK,
        Err(e) => e.rv(),
    }
}

fn reply<T>(r: Result<T>, body: impl FnOnce(T) -> Body) -> Reply {
    match r {
        Ok(v) => Reply {
            rv: CKR_OK,
            body: body(v),
        },
        Err(e) => Reply {
            rv: e.rv(),
            body: Body::None,
        },
    }
}

pub(super) fn done(r: Result<()>) -> Reply {
    reply(r, |()| Body::None)
}

/// Runs `f` with an output buffer of the client's capacity (at most
/// [`proto::MAX_OUTPUT`]); returns the call's code, the length and the bytes.
fn with_out<T>(
    cap: Capacity,
    f: impl FnOnce(&mut OutBuf) -> Result<T>,
) -> (Result<T>, u64, Vec<u8>) {
    let mut out = match cap {
        None => OutBuf::query(),
        Some(c) => OutBuf::growable(
            usize::try_from(c)
                .unwrap_or(usize::MAX)
                .min(proto::MAX_OUTPUT),
        ),
    };
    let r = f(&mut out);
    let len = out.len() as u64;
    let data = match (&r, out.is_query()) {
        (Ok(_), false) => std::mem::take(&mut *out.into_bytes()),
        _ => Vec::new(),
    };
    (r, len, data)
}

fn out_reply(cap: Capacity, f: impl FnOnce(&mut OutBuf) -> Result<()>) -> Reply {
    let (r, len, data) = with_out(cap, f);
    Reply {
        rv: code(&r),
        body: Body::Out { len, data },
    }
}

/// The sessions of this connection are the module's own: a handle of
/// another connection is unknown to it (`CKR_SESSION_HANDLE_INVALID`).
pub(super) fn dispatch(m: &Module, slot: CK_SLOT_ID, req: Request) -> Reply {
    match req {
        Request::SlotInfo => reply(m.slot_info(slot), Body::SlotInfo),
        Request::TokenInfo => reply(m.token_info(slot), |mut t| {
            t.max_session_count = MAX_SESSIONS as CK_ULONG;
            t.max_rw_session_count = MAX_SESSIONS as CK_ULONG;
            Body::TokenInfo(t)
        }),
        Request::MechanismList => reply(m.mechanism_list(slot), Body::Mechanisms),
        Request::MechanismInfo { mech } => reply(m.mechanism_info(slot, mech), Body::MechInfo),
        Request::InitToken { so_pin, label } => done(m.init_token(slot, &so_pin.0, &label)),
        Request::InitPin { h, pin } => done(m.init_pin(h, &pin.0)),
        Request::SetPin { h, old, new } => done(m.set_pin(h, &old.0, &new.0)),
        Request::OpenSession { flags } => {
            if m.session_count() >= MAX_SESSIONS {
                return done(Err(Error::SessionCount));
            }
            reply(m.open_session(slot, flags), Body::Handle)
        }
        Request::CloseSession { h } => done(m.close_session(h)),
        Request::CloseAllSessions => done(m.close_all_sessions(slot)),
        Request::SessionInfo { h } => reply(m.session_info(h), Body::SessionInfo),
        Request::SessionCancel { h, flags } => done(m.session_cancel(h, flags)),
        Request::Login {
            h,
            user,
            pin,
            username,
        } => done(m.login(h, user, &pin.0, username.as_deref())),
        Request::Logout { h } => done(m.logout(h)),
        Request::CreateObject { h, template } => reply(
            check::template(&template).and_then(|()| m.create_object(h, &template)),
            Body::Handle,
        ),
        Request::CopyObject { h, obj, template } => reply(
            check::template(&template).and_then(|()| m.copy_object(h, obj, &template)),
            Body::Handle,
        ),
        Request::DestroyObject { h, obj } => done(m.destroy_object(h, obj)),
        Request::ObjectSize { h, obj } => reply(m.object_size(h, obj), Body::Ulong),
        Request::GetAttributes { h, obj, types } => {
            if types.len() > crate::mechanism::limits::MAX_TEMPLATE_ATTRS {
                return done(Err(Error::ArgumentsBad));
            }
            reply(attributes(m, h, obj, &types), Body::Attrs)
        }
        Request::SetAttributes { h, obj, template } => {
            done(check::template(&template).and_then(|()| m.set_attributes(h, obj, &template)))
        }
        Request::FindInit { h, template } => {
            done(check::template(&template).and_then(|()| m.find_init(h, &template)))
        }
        Request::Find { h, max } => {
            let max = usize::try_from(max).unwrap_or(usize::MAX).min(65_536);
            reply(m.find(h, max), Body::Handles)
        }
        Request::FindFinal { h } => done(m.find_final(h)),
        Request::Init {
            h,
            which,
            mech,
            key,
        } => {
            let message = matches!(which, InitKind::MessageEncrypt | InitKind::MessageDecrypt);
            let checked = if message {
                check::message_mechanism(&mech)
            } else {
                check::mechanism(&mech)
            };
            done(checked.and_then(|()| match which {
                InitKind::Encrypt => m.encrypt_init(h, &mech, key),
                InitKind::Decrypt => m.decrypt_init(h, &mech, key),
                InitKind::Sign => m.sign_init(h, &mech, key),
                InitKind::Verify => m.verify_init(h, &mech, key),
                InitKind::MessageEncrypt => m.message_encrypt_init(h, &mech, key),
                InitKind::MessageDecrypt => m.message_decrypt_init(h, &mech, key),
            }))
        }
        Request::DigestInit { h, mech } => {
            done(check::mechanism(&mech).and_then(|()| m.digest_init(h, &mech)))
        }
        Request::DigestKey { h, key } => done(m.digest_key(h, key)),
        Request::VerifySignatureInit {
            h,
            mech,
            key,
            signature,
        } => done(
            check::mechanism(&mech)
                .and_then(|()| m.verify_signature_init(h, &mech, key, &signature)),
        ),
        Request::InOut {
            h,
            which,
            data,
            out,
        } => out_reply(out, |o| match which {
            InOutKind::Encrypt => m.encrypt(h, &data, o),
            InOutKind::EncryptUpdate => m.encrypt_update(h, &data, o),
            InOutKind::Decrypt => m.decrypt(h, &data, o),
            InOutKind::DecryptUpdate => m.decrypt_update(h, &data, o),
            InOutKind::Digest => m.digest(h, &data, o),
            InOutKind::Sign => m.sign(h, &data, o),
        }),
        Request::In { h, which, data } => done(match which {
            InKind::DigestUpdate => m.digest_update(h, &data),
            InKind::SignUpdate => m.sign_update(h, &data),
            InKind::VerifyUpdate => m.verify_update(h, &data),
            InKind::VerifySignature => m.verify_signature(h, &data),
            InKind::VerifySignatureUpdate => m.verify_signature_update(h, &data),
        }),
        Request::Out { h, which, out } => out_reply(out, |o| match which {
            OutKind::EncryptFinal => m.encrypt_final(h, o),
            OutKind::DecryptFinal => m.decrypt_final(h, o),
            OutKind::DigestFinal => m.digest_final(h, o),
            OutKind::SignFinal => m.sign_final(h, o),
        }),
        Request::Verify { h, data, signature } => done(m.verify(h, &data, &signature)),
        Request::VerifyFinal { h, signature } => done(m.verify_final(h, &signature)),
        Request::VerifySignatureFinal { h } => done(m.verify_signature_final(h)),
        Request::Message {
            h,
            encrypt,
            mut param,
            aad,
            data,
            out,
        } => {
            if let Err(e) = check::message_param(&param) {
                return done(Err(e));
            }
            let (r, len, data) = with_out(out, |o| {
                if encrypt {
                    m.encrypt_message(h, &mut param, &aad, &data, o)
                } else {
                    m.decrypt_message(h, &mut param, &aad, &data, o)
                }
            });
            message_reply(code(&r), len, data, &param)
        }
        Request::MessageBegin {
            h,
            encrypt,
            mut param,
            aad,
        } => {
            if let Err(e) = check::message_param(&param) {
                return done(Err(e));
            }
            let r = if encrypt {
                m.encrypt_message_begin(h, &mut param, &aad)
            } else {
                m.decrypt_message_begin(h, &mut param, &aad)
            };
            message_reply(code(&r), 0, Vec::new(), &param)
        }
        Request::MessageNext {
            h,
            encrypt,
            mut param,
            data,
            last,
            out,
        } => {
            if let Err(e) = check::message_param(&param) {
                return done(Err(e));
            }
            let (r, len, data) = with_out(out, |o| {
                if encrypt {
                    m.encrypt_message_next(h, &mut param, &data, last, o)
                } else {
                    m.decrypt_message_next(h, &mut param, &data, last, o)
                }
            });
            message_reply(code(&r), len, data, &param)
        }
        Request::MessageFinal { h, encrypt } => done(if encrypt {
            m.message_encrypt_final(h)
        } else {
            m.message_decrypt_final(h)
        }),
        Request::GenerateKey { h, mech, template } => reply(
            check::mechanism(&mech)
                .and_then(|()| check::template(&template))
                .and_then(|()| m.generate_key(h, &mech, &template)),
            Body::Handle,
        ),
        Request::GenerateKeyPair {
            h,
            mech,
            public,
            private,
        } => reply(
            check::mechanism(&mech)
                .and_then(|()| check::template(&public))
                .and_then(|()| check::template(&private))
                .and_then(|()| m.generate_key_pair(h, &mech, &public, &private)),
            |(a, b)| Body::Handles(vec![a, b]),
        ),
        Request::WrapKey {
            h,
            mech,
            wrapping,
            key,
            out,
        } => {
            if let Err(e) = check::mechanism(&mech) {
                return done(Err(e));
            }
            out_reply(out, |o| m.wrap_key(h, &mech, wrapping, key, o))
        }
        Request::UnwrapKey {
            h,
            mech,
            unwrapping,
            wrapped,
            template,
        } => reply(
            check::mechanism(&mech)
                .and_then(|()| check::template(&template))
                .and_then(|()| m.unwrap_key(h, &mech, unwrapping, &wrapped, &template)),
            Body::Handle,
        ),
        Request::DeriveKey {
            h,
            mut mech,
            base,
            template,
        } => {
            if let Err(e) = check::mechanism(&mech).and_then(|()| check::template(&template)) {
                return done(Err(e));
            }
            let r = m.derive_key(h, &mut mech, base, &template);
            let (additional, wrapped, needed) = match &mech.param {
                crate::mechanism::Param::Kbkdf(k) => (
                    k.additional.iter().map(|a| a.handle).collect(),
                    Vec::new(),
                    0,
                ),
                crate::mechanism::Param::GenerateDataKey {
                    wrapped, needed, ..
                } => (Vec::new(), wrapped.clone(), *needed as u64),
                _ => (Vec::new(), Vec::new(), 0),
            };
            let (rv, key) = match r {
                Ok(k) => (CKR_OK, k),
                Err(e) => (e.rv(), CK_INVALID_HANDLE),
            };
            Reply {
                rv,
                body: Body::Derived {
                    key,
                    additional,
                    wrapped,
                    needed,
                },
            }
        }
        Request::EncapsulateKey {
            h,
            mech,
            public,
            template,
            out,
        } => {
            if let Err(e) = check::mechanism(&mech).and_then(|()| check::template(&template)) {
                return done(Err(e));
            }
            let (r, len, data) =
                with_out(out, |o| m.encapsulate_key(h, &mech, public, &template, o));
            let (rv, key) = match r {
                Ok(k) => (CKR_OK, k),
                Err(e) => (e.rv(), None),
            };
            Reply {
                rv,
                body: Body::Encapsulated { len, data, key },
            }
        }
        Request::DecapsulateKey {
            h,
            mech,
            private,
            template,
            ciphertext,
        } => reply(
            check::mechanism(&mech)
                .and_then(|()| check::template(&template))
                .and_then(|()| m.decapsulate_key(h, &mech, private, &template, &ciphertext)),
            Body::Handle,
        ),
        Request::SeedRandom { h, seed } => done(m.seed_random(h, &seed)),
        Request::GenerateRandom { h, len } => {
            let Some(n) = usize::try_from(len)
                .ok()
                .filter(|n| *n <= proto::MAX_OUTPUT)
            else {
                return done(Err(Error::DeviceMemory));
            };
            let mut buf = vec![0u8; n];
            reply(m.generate_random(h, &mut buf), |()| Body::Out {
                len,
                data: buf,
            })
        }
        Request::EndOperation { h, op } => {
            m.end_operation(h, op.into());
            done(Ok(()))
        }
    }
}

/// `C_GetAttributeValue` within the reply's limit: each type is read once
/// (a list that names one type many times would otherwise copy its value as
/// often), and values beyond [`proto::MAX_OUTPUT`] in all are
/// `CKR_DEVICE_MEMORY` before they are copied into the reply.
fn attributes(
    m: &Module,
    h: CK_SESSION_HANDLE,
    obj: CK_OBJECT_HANDLE,
    types: &[CK_ATTRIBUTE_TYPE],
) -> Result<Vec<crate::object::rules::AttrRead>> {
    use crate::object::rules::AttrRead;
    let mut unique: Vec<CK_ATTRIBUTE_TYPE> = types.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let read = m.get_attributes(h, obj, &unique)?;
    let size = |ty: &CK_ATTRIBUTE_TYPE| match unique.binary_search(ty).map(|i| &read[i]) {
        Ok(AttrRead::Value(v)) => v.len(),
        _ => 0,
    };
    let total = types.iter().map(size).fold(0usize, usize::saturating_add);
    if total > proto::MAX_OUTPUT {
        return Err(Error::DeviceMemory);
    }
    types
        .iter()
        .map(|ty| {
            unique
                .binary_search(ty)
                .map(|i| read[i].clone())
                .map_err(|_| Error::General("attribute lost".into()))
        })
        .collect()
}

fn message_reply(rv: CK_RV, len: u64, data: Vec<u8>, param: &crate::mechanism::Param) -> Reply {
    let (iv, tag) = match param {
        crate::mechanism::Param::GcmMessage { iv, tag, .. } => (iv.clone(), tag.clone()),
        _ => (Vec::new(), Vec::new()),
    };
    Reply {
        rv,
        body: Body::Message { len, data, iv, tag },
    }
}
