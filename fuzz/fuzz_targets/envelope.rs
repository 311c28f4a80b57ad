//! The envelope format (`docs/envelope-format.md`): a message sealed from the
//! input's plaintext, context and frame size, then damaged as the input says
//! and opened in one call and in parts, with output buffers of every size.
//! An intact message opens to its plaintext; a changed one never opens (a GCM
//! forgery aside, which a fuzzer does not find); nothing panics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use softkms::internals::{Error, Result};
use softkms::internals::kms::envelope::{
    unwrap_data_key, wrap_data_key, DataKeySource, Decryptor, Encryptor, Header, DEK_LEN,
};
use softkms::internals::OutBuf;

const MASTER: [u8; 32] = [0x42; 32];
const KEY_ID: &str = "fuzz-key-id";

#[derive(Arbitrary, Debug)]
enum Damage {
    Flip { at: u32, bit: u8 },
    Truncate(u32),
    Append(Vec<u8>),
    Splice { at: u32, bytes: Vec<u8> },
    Replace(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    plaintext: Vec<u8>,
    context: Vec<u8>,
    open_context: Option<Vec<u8>>,
    frame: u16,
    enc_parts: Option<u8>,
    damage: Vec<Damage>,
    /// Part sizes when decrypting in parts (cycled); empty: one call.
    dec_parts: Vec<u8>,
    /// Output buffer sizes (cycled); `None`: ask for the length first.
    out: Vec<Option<u16>>,
}

fn call(out: Option<u16>, mut f: impl FnMut(&mut OutBuf) -> Result<()>) -> Result<Vec<u8>> {
    let cap = match out {
        Some(n) => usize::from(n),
        None => {
            let mut q = OutBuf::query();
            f(&mut q)?;
            q.len()
        }
    };
    let mut buf = vec![0u8; cap];
    let mut o = OutBuf::new(Some(&mut buf));
    f(&mut o)?;
    let n = o.len();
    assert!(n <= cap, "output length {n} beyond the buffer ({cap})");
    buf.truncate(n);
    Ok(buf)
}

fn seal(inp: &Input) -> Vec<u8> {
    let mut dek = [0u8; DEK_LEN];
    dek[..8].copy_from_slice(&(inp.plaintext.len() as u64).to_le_bytes());
    let wrapped = wrap_data_key(&MASTER, KEY_ID, 7, &inp.context, &dek).expect("wrap");
    let frame = u32::from(inp.frame).max(1);
    let mut e = Encryptor::new(KEY_ID, 7, &dek, wrapped, &inp.context, frame).expect("encryptor");
    match inp.enc_parts {
        None => call(None, |o| e.one_shot(&inp.plaintext, o)).expect("seal"),
        Some(n) => {
            let mut msg = Vec::new();
            for c in inp.plaintext.chunks(usize::from(n).max(1)) {
                msg.extend(call(None, |o| e.update(c, o)).expect("update"));
            }
            msg.extend(call(None, |o| e.finish(o)).expect("finish"));
            msg
        }
    }
}

fn source(context: Vec<u8>) -> DataKeySource {
    Box::new(move |h: &Header| {
        if h.key_id != KEY_ID {
            return Err(Error::EncryptedDataInvalid);
        }
        unwrap_data_key(&MASTER, &h.key_id, h.key_version, &context, &h.wrapped_dek)
    })
}

fn open(inp: &Input, msg: &[u8], context: &[u8]) -> Result<Vec<u8>> {
    let mut d = Decryptor::new(context, source(context.to_vec()));
    let mut outs = inp.out.iter().copied().cycle();
    if inp.dec_parts.is_empty() {
        // A too-small buffer is refused and the call can be made again.
        loop {
            match call(outs.next().flatten(), |o| d.one_shot(msg, o)) {
                Err(Error::BufferTooSmall) => {
                    if inp.out.iter().all(Option::is_some) {
                        return call(None, |o| d.one_shot(msg, o));
                    }
                }
                r => return r,
            }
        }
    }
    let mut pt = Vec::new();
    let mut rest = msg;
    let mut parts = inp.dec_parts.iter().cycle();
    while !rest.is_empty() {
        let n = usize::from(*parts.next().unwrap_or(&1)).clamp(1, rest.len());
        let (c, r) = rest.split_at(n);
        let got = match call(outs.next().flatten(), |o| d.update(c, o)) {
            Err(Error::BufferTooSmall) => call(None, |o| d.update(c, o))?,
            r => r?,
        };
        pt.extend(got);
        rest = r;
    }
    let got = match call(outs.next().flatten(), |o| d.finish(o)) {
        Err(Error::BufferTooSmall) => call(None, |o| d.finish(o))?,
        r => r?,
    };
    pt.extend(got);
    Ok(pt)
}

fn damage(msg: &mut Vec<u8>, d: &Damage) {
    let at = |a: u32, len: usize| usize::try_from(a).unwrap_or(0) % (len + 1);
    match d {
        Damage::Flip { at: a, bit } => {
            if !msg.is_empty() {
                let i = at(*a, msg.len() - 1);
                msg[i] ^= 1 << (bit % 8);
            }
        }
        Damage::Truncate(n) => {
            let n = at(*n, msg.len());
            msg.truncate(n);
        }
        Damage::Append(b) => msg.extend_from_slice(b),
        Damage::Splice { at: a, bytes } => {
            let i = at(*a, msg.len());
            msg.splice(i..i, bytes.iter().copied());
        }
        Damage::Replace(b) => *msg = b.clone(),
    }
}

fuzz_target!(|inp: Input| {
    if inp.plaintext.len() > 1 << 16 {
        return;
    }
    let msg = seal(&inp);
    let _ = Header::parse(&msg);
    let ctx = inp.open_context.as_deref().unwrap_or(&inp.context);
    let mut bad = msg.clone();
    for d in inp.damage.iter().take(4) {
        damage(&mut bad, d);
    }
    let _ = Header::parse(&bad);
    let r = open(&inp, &bad, ctx);
    if bad == msg && ctx == inp.context.as_slice() {
        assert_eq!(r.expect("an intact message opens"), inp.plaintext);
    } else if bad != msg || ctx != inp.context.as_slice() {
        assert!(r.is_err(), "a changed message or context opened");
    }
});
