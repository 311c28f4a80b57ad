//! Key policies and named principals through the built module (DESIGN §4
//! "Principals and policy", `docs/policy.md`). `C_LoginUser` is a PKCS#11 3.0
//! function `cryptoki` does not offer, so the principals' sessions use the 3.0
//! function list from `C_GetInterface` directly.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;
use p11_testkit::keys::{vendor_attr as vendor, ManagedKey};
use p11_testkit::vendor::{
    CKA_SOFTKMS_POLICY as CKA_POLICY, CKA_SOFTKMS_PRINCIPAL_PIN as CKA_PRINCIPAL_PIN,
    CKM_SOFTKMS_ENVELOPE as CKM_ENVELOPE, CKO_SOFTKMS_PRINCIPAL as CKO_PRINCIPAL,
};
use p11_testkit::{call_strict, rv_ok, struct_bytes, ulen, Mech, Template};

const ALICE_PIN: &str = "alice-pin-1";
const BOB_PIN: &str = "bob-pin-22";

/// alice may encrypt but not decrypt; bob may decrypt only with app=billing;
/// the token owner keeps every action.
const POLICY: &str = r#"{"statements": [
    {"principals": ["alice"], "allow": ["Encrypt"]},
    {"principals": ["bob"], "allow": ["Decrypt"],
     "condition": {"encryption_context": {"app": "billing"}}},
    {"principals": ["user"], "allow": ["*"]}
]}"#;

fn read_policy(s: &Session, k: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(k, &[AttributeType::VendorDefined(CKA_POLICY)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => v.clone(),
        other => panic!("{other:?}"),
    }
}

/// The module's PKCS#11 3.0 function list, from a second handle on the same
/// library (the same module instance `cryptoki` initialized).
struct Raw {
    f: &'static CK_FUNCTION_LIST_3_0,
}

impl Raw {
    fn new() -> Raw {
        Raw {
            f: p11_testkit::function_table_3_0(module_path()),
        }
    }

    fn open(&self, slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
        let mut h = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let rv = call_strict!(
            self.f,
            C_OpenSession,
            slot,
            flags,
            std::ptr::null_mut(),
            None,
            &mut h
        );
        assert_eq!(rv, CKR_OK);
        h
    }

    fn login_user(&self, h: CK_SESSION_HANDLE, name: &str, pin: &str) -> CK_RV {
        let (mut pin, mut name) = (pin.as_bytes().to_vec(), name.as_bytes().to_vec());
        call_strict!(
            self.f,
            C_LoginUser,
            h,
            CKU_USER,
            pin.as_mut_ptr(),
            ulen(pin.len()),
            name.as_mut_ptr(),
            ulen(name.len())
        )
    }

    fn logout(&self, h: CK_SESSION_HANDLE) {
        assert_eq!(call_strict!(self.f, C_Logout, h), CKR_OK);
    }

    fn find(&self, h: CK_SESSION_HANDLE, label: &str) -> Option<CK_OBJECT_HANDLE> {
        let t = Template::new().bytes(CKA_LABEL, label.as_bytes());
        let mut a = t.raw();
        let (mut out, mut n) = (0, 0);
        assert_eq!(
            call_strict!(self.f, C_FindObjectsInit, h, a.as_mut_ptr(), 1),
            CKR_OK
        );
        assert_eq!(
            call_strict!(self.f, C_FindObjects, h, &mut out, 1, &mut n),
            CKR_OK
        );
        assert_eq!(call_strict!(self.f, C_FindObjectsFinal, h), CKR_OK);
        (n == 1).then_some(out)
    }

    /// Single-part envelope encryption or decryption with `context`.
    fn envelope(
        &self,
        h: CK_SESSION_HANDLE,
        k: CK_OBJECT_HANDLE,
        decrypt: bool,
        context: &[u8],
        input: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let params = EnvelopeParams::new(context);
        let mut mech = Mech::with_bytes(CKM_ENVELOPE, &struct_bytes(&params));
        let mut input = input.to_vec();
        let mut out = vec![0u8; input.len() + 4096];
        let mut n = ulen(out.len());
        let (inp, inl) = (input.as_mut_ptr(), ulen(input.len()));
        let rv = if decrypt {
            call_strict!(self.f, C_DecryptInit, h, mech.p(), k)
        } else {
            call_strict!(self.f, C_EncryptInit, h, mech.p(), k)
        };
        rv_ok(rv, ())?;
        let rv = if decrypt {
            call_strict!(self.f, C_Decrypt, h, inp, inl, out.as_mut_ptr(), &mut n)
        } else {
            call_strict!(self.f, C_Encrypt, h, inp, inl, out.as_mut_ptr(), &mut n)
        };
        rv_ok(rv, ())?;
        out.truncate(usize::try_from(n).unwrap());
        Ok(out)
    }

    fn set_policy(&self, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE, json: &str) -> CK_RV {
        let t = Template::new().bytes(CKA_POLICY, json.as_bytes());
        let mut a = t.raw();
        call_strict!(self.f, C_SetAttributeValue, h, k, a.as_mut_ptr(), 1)
    }
}

#[test]
fn the_policy_attribute_round_trips() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let k = ManagedKey::new("K").policy(POLICY).generate(&s);
    assert_eq!(read_policy(&s, k), POLICY.as_bytes());
    let next = r#"{"statements":[{"principals":["user"],"allow":["*"]}]}"#;
    s.update_attributes(k, &[vendor(CKA_POLICY, next.as_bytes())])
        .unwrap();
    assert_eq!(read_policy(&s, k), next.as_bytes());
    // A key without a policy has none to read (the default policy applies).
    let plain = ManagedKey::new("plain").generate(&s);
    assert!(s
        .get_attributes(plain, &[AttributeType::VendorDefined(CKA_POLICY)])
        .unwrap()
        .is_empty());
}

#[test]
fn an_unknown_principal_is_a_wrong_pin() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    let raw = Raw::new();
    let h = raw.open(slot.id());
    assert_eq!(raw.login_user(h, "nobody", "whatever"), CKR_PIN_INCORRECT);
    assert_eq!(raw.login_user(h, "so", SO_PIN), CKR_PIN_INCORRECT);
    // The default user by name is the token owner.
    assert_eq!(raw.login_user(h, "user", USER_PIN), CKR_OK);
    raw.logout(h);
}

#[test]

fn principals_are_held_to_the_key_policy() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        ManagedKey::new("K").policy(POLICY).generate(&s);
        s.logout().unwrap();
    }
    {
        let so = ctx.p11.open_rw_session(slot).unwrap();
        so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
        for (name, p) in [("alice", ALICE_PIN), ("bob", BOB_PIN)] {
            so.create_object(&[
                vendor(CKA_CLASS, &CKO_PRINCIPAL.to_ne_bytes()),
                Attribute::Label(name.as_bytes().to_vec()),
                vendor(CKA_PRINCIPAL_PIN, p.as_bytes()),
            ])
            .unwrap();
        }
        // A principal's name is unique.
        assert_eq!(
            rv(so.create_object(&[
                vendor(CKA_CLASS, &CKO_PRINCIPAL.to_ne_bytes()),
                Attribute::Label(b"alice".to_vec()),
                vendor(CKA_PRINCIPAL_PIN, b"another-pin"),
            ])),
            cryptoki::error::RvError::AttributeValueInvalid
        );
        so.logout().unwrap();
    }
    let raw = Raw::new();
    let h = raw.open(slot.id());
    let billing = br#"{"app":"billing"}"#;

    // alice: encrypt yes, decrypt no, policy change no.
    assert_eq!(raw.login_user(h, "alice", BOB_PIN), CKR_PIN_INCORRECT);
    assert_eq!(raw.login_user(h, "alice", ALICE_PIN), CKR_OK);
    let k = raw.find(h, "K").expect("alice can find K");
    let msg = raw.envelope(h, k, false, billing, b"invoice 42").unwrap();
    let other = raw
        .envelope(h, k, false, br#"{"app":"hr"}"#, b"payroll")
        .unwrap();
    assert_eq!(
        raw.envelope(h, k, true, billing, &msg),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    let open = r#"{"statements":[{"principals":["*"],"allow":["*"]}]}"#;
    assert_eq!(raw.set_policy(h, k, open), CKR_KEY_FUNCTION_NOT_PERMITTED);
    raw.logout(h);

    // bob: decrypt only with app=billing, never encrypt. alice's handle died
    // with her logout (§5.6).
    assert_eq!(raw.login_user(h, "bob", BOB_PIN), CKR_OK);
    let k = raw.find(h, "K").expect("bob can find K");
    assert_eq!(
        raw.envelope(h, k, true, billing, &msg).unwrap(),
        b"invoice 42"
    );
    assert_eq!(
        raw.envelope(h, k, true, br#"{"app":"hr"}"#, &other),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    assert_eq!(
        raw.envelope(h, k, false, billing, b"x"),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    assert_eq!(raw.set_policy(h, k, open), CKR_KEY_FUNCTION_NOT_PERMITTED);
    raw.logout(h);

    // Nothing changed: the owner reads the policy it set.
    let s = ctx.user_session(0);
    let k = s.find_objects(&[Attribute::Label(b"K".to_vec())]).unwrap()[0];
    assert_eq!(read_policy(&s, k), POLICY.as_bytes());
    // A policy that locks everybody out is refused without the force flag.
    let lockout = r#"{"statements":[{"principals":["alice"],"allow":["Encrypt"]}]}"#;
    assert_eq!(
        rv(s.update_attributes(k, &[vendor(CKA_POLICY, lockout.as_bytes())])),
        cryptoki::error::RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(s.update_attributes(k, &[vendor(CKA_POLICY, b"{not json")])),
        cryptoki::error::RvError::AttributeValueInvalid
    );
    assert_eq!(read_policy(&s, k), POLICY.as_bytes());
}
