//! The environment every category runs in: the module, an initialized token
//! with a user logged in, fixture objects and stale handles, and a snapshot of
//! the token's objects to show that a refused call changed nothing.

use crate::prelude::*;

/// The module, an initialized token with a user logged in (through `keeper`),
/// and fixture objects.
pub(crate) struct Env {
    pub(crate) f: &'static CK_FUNCTION_LIST_3_0,
    pub(crate) slot: CK_SLOT_ID,
    /// An uninitialized slot (for `C_InitToken` cases that must change nothing).
    pub(crate) spare_slot: CK_SLOT_ID,
    pub(crate) keeper: CK_SESSION_HANDLE,
    /// AES-256 token key: encrypt, decrypt, wrap, unwrap.
    pub(crate) aes: CK_OBJECT_HANDLE,
    /// AES-256 token key that can be wrapped.
    pub(crate) aes2: CK_OBJECT_HANDLE,
    pub(crate) ec_pub: CK_OBJECT_HANDLE,
    pub(crate) ec_priv: CK_OBJECT_HANDLE,
    /// The raw public point of the EC key (for ECDH).
    pub(crate) point: Vec<u8>,
    /// A token data object.
    pub(crate) data: CK_OBJECT_HANDLE,
    /// `aes2` wrapped by `aes` with `CKM_AES_KEY_WRAP`.
    pub(crate) wrapped: Vec<u8>,
    /// A closed session, a destroyed token object and a session object of a closed session.
    pub(crate) stale_session: CK_SESSION_HANDLE,
    pub(crate) stale_objects: Vec<CK_OBJECT_HANDLE>,
}

pub(crate) fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "{what}: rv 0x{rv:x}");
}

impl Env {
    pub(crate) fn new(ctx: &Ctx) -> Env {
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
            let mut t = Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_AES)
                .ulong(CKA_VALUE_LEN, 32)
                .flag(CKA_TOKEN, true)
                .flag(CKA_ENCRYPT, true)
                .flag(CKA_DECRYPT, true)
                .flag(CKA_WRAP, true)
                .flag(CKA_UNWRAP, true)
                .flag(CKA_SENSITIVE, !extractable)
                .flag(CKA_EXTRACTABLE, extractable)
                .bytes(CKA_LABEL, if extractable { b"aes2" } else { b"aes1" });
            let mut raw = t.raw_mut();
            let mut h = 0;
            let mut m = Mech::new(CKM_AES_KEY_GEN);
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
        let mut pubt = Template::new()
            .bytes(CKA_EC_PARAMS, &P256_OID)
            .flag(CKA_TOKEN, true)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_LABEL, b"ec");
        let mut privt = Template::new()
            .flag(CKA_TOKEN, true)
            .flag(CKA_SIGN, true)
            .flag(CKA_DERIVE, true)
            .bytes(CKA_LABEL, b"ec");
        let (mut pr, mut sr) = (pubt.raw_mut(), privt.raw_mut());
        let mut m = Mech::new(CKM_EC_KEY_PAIR_GEN);
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
        let mut raw = dt.raw_mut();
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
        let mut m = Mech::new(CKM_AES_KEY_WRAP);
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
        let mut raw = dt.raw_mut();
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
        let mut raw = st.raw_mut();
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
    pub(crate) fn open(&self) -> CK_SESSION_HANDLE {
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
    pub(crate) fn attr(
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
    pub(crate) fn snapshot(&self) -> BTreeMap<CK_OBJECT_HANDLE, Vec<Option<Vec<u8>>>> {
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
    pub(crate) fn enc_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(self, C_EncryptInit, s, cbc().p(), self.aes),
            "encrypt init",
        );
    }
    pub(crate) fn dec_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(self, C_DecryptInit, s, cbc().p(), self.aes),
            "decrypt init",
        );
    }
    pub(crate) fn digest_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(self, C_DigestInit, s, Mech::new(CKM_SHA256).p()),
            "digest init",
        );
    }
    pub(crate) fn sign_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_SignInit,
                s,
                Mech::new(CKM_ECDSA_SHA256).p(),
                self.ec_priv
            ),
            "sign init",
        );
    }
    pub(crate) fn verify_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_VerifyInit,
                s,
                Mech::new(CKM_ECDSA_SHA256).p(),
                self.ec_pub
            ),
            "verify init",
        );
    }
    pub(crate) fn find_init(&self, s: CK_SESSION_HANDLE) {
        ok(c!(self, C_FindObjectsInit, s, null_mut(), 0), "find init");
    }
    pub(crate) fn msg_enc_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_MessageEncryptInit,
                s,
                Mech::new(CKM_AES_GCM).p(),
                self.aes
            ),
            "message encrypt init",
        );
    }
    pub(crate) fn msg_dec_init(&self, s: CK_SESSION_HANDLE) {
        ok(
            c!(
                self,
                C_MessageDecryptInit,
                s,
                Mech::new(CKM_AES_GCM).p(),
                self.aes
            ),
            "message decrypt init",
        );
    }
    /// A one-shot CBC-PAD encryption of `pt` (for decryption cases).
    pub(crate) fn ciphertext(&self, s: CK_SESSION_HANDLE, pt: &[u8]) -> Vec<u8> {
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
    pub(crate) fn signature(&self, s: CK_SESSION_HANDLE, data: &[u8]) -> Vec<u8> {
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
    pub(crate) fn gcm_message(&self, s: CK_SESSION_HANDLE, pt: &[u8]) -> (Box<GcmMsg>, Vec<u8>) {
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
