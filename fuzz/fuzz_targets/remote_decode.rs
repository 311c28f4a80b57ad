//! The remote protocol's decoding, without a token: any bytes as a message
//! body (`Request`, `Reply`, `Hello`, `Welcome`, a mechanism parameter, a
//! template) and as a stream of frames (`read_frame`). Nothing may panic;
//! what decodes must encode and decode back to the same value; and the
//! server's checks (`check::mechanism`, `check::template`, the message
//! checks) must take whatever decoded without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softkms::internals::mechanism::{registry, Mechanism, Param};
use softkms::internals::object::attr::Template;
use softkms::internals::remote::proto::{Hello, Reply, Request, Welcome};
use softkms::internals::remote::{check, decode, encode, read_frame};

/// What decodes encodes to a frame that decodes to the same value.
macro_rules! round_trip {
    ($v:expr, $t:ty) => {{
        let v: &$t = $v;
        let f = encode(v)
            .expect("encode")
            .expect("a decoded message fits a frame");
        let back: $t = decode(&f[4..]).expect("an encoded message decodes");
        assert!(back == *v, "round trip changed {v:?}");
    }};
}

/// The server's checks on every mechanism and template of a request.
fn checks(r: &Request) {
    let (mechs, templates): (Vec<&Mechanism>, Vec<&Template>) = match r {
        Request::CreateObject { template, .. }
        | Request::CopyObject { template, .. }
        | Request::SetAttributes { template, .. }
        | Request::FindInit { template, .. } => (vec![], vec![template]),
        Request::Init { mech, .. } => {
            let _ = check::message_mechanism(mech);
            (vec![mech], vec![])
        }
        Request::DigestInit { mech, .. }
        | Request::VerifySignatureInit { mech, .. }
        | Request::WrapKey { mech, .. } => (vec![mech], vec![]),
        Request::GenerateKey { mech, template, .. }
        | Request::UnwrapKey { mech, template, .. }
        | Request::DeriveKey { mech, template, .. }
        | Request::EncapsulateKey { mech, template, .. }
        | Request::DecapsulateKey { mech, template, .. } => (vec![mech], vec![template]),
        Request::GenerateKeyPair {
            mech,
            public,
            private,
            ..
        } => (vec![mech], vec![public, private]),
        Request::Message { param, .. }
        | Request::MessageBegin { param, .. }
        | Request::MessageNext { param, .. } => {
            let _ = check::message_param(param);
            (vec![], vec![])
        }
        _ => (vec![], vec![]),
    };
    for m in mechs {
        if check::mechanism(m).is_ok() {
            assert!(registry::get(m.mech).is_ok(), "an unknown mechanism passed");
        }
    }
    for t in templates {
        let _ = check::template(t);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = decode::<Request>(data) {
        checks(&r);
        round_trip!(&r, Request);
    }
    if let Ok(r) = decode::<Reply>(data) {
        round_trip!(&r, Reply);
    }
    if let Ok(h) = decode::<Hello>(data) {
        round_trip!(&h, Hello);
    }
    if let Ok(w) = decode::<Welcome>(data) {
        round_trip!(&w, Welcome);
    }
    if let Ok(t) = decode::<Template>(data) {
        let _ = check::template(&t);
    }
    if let Ok(p) = decode::<Param>(data) {
        let _ = check::message_param(&p);
        // The parameter under every registered mechanism.
        for def in registry::all() {
            let m = Mechanism {
                mech: def.mech,
                param: p.clone(),
            };
            let _ = check::mechanism(&m);
        }
    }
    // The bytes as a stream of request frames.
    let mut r = data;
    while let Ok(Some(req)) = read_frame::<Request>(&mut r) {
        checks(&req);
    }
});
