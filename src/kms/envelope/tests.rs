use super::*;

const MASTER: [u8; 32] = [0x11; 32];
const KEY_ID: &str = "0123456789abcdef0123456789abcdef";

fn source(master: [u8; 32], context: &'static [u8]) -> DataKeySource {
    Box::new(move |h: &Header| {
        if h.key_id != KEY_ID {
            return Err(Error::EncryptedDataInvalid);
        }
        unwrap_data_key(&master, &h.key_id, h.key_version, context, &h.wrapped_dek)
    })
}

fn encryptor(context: &[u8], frame: u32) -> Encryptor {
    let mut dek = [0u8; DEK_LEN];
    crate::crypto::random(&mut dek).unwrap();
    let wrapped = wrap_data_key(&MASTER, KEY_ID, 3, context, &dek).unwrap();
    Encryptor::new(KEY_ID, 3, &dek, wrapped, context, frame).unwrap()
}

/// Runs one call the way a PKCS#11 client does: a size query, then the call.
fn call(mut f: impl FnMut(&mut OutBuf) -> Result<()>) -> Result<Vec<u8>> {
    let mut q = OutBuf::query();
    f(&mut q)?;
    let mut out = vec![0u8; q.len()];
    let n = {
        let mut o = OutBuf::new(Some(&mut out));
        f(&mut o)?;
        o.len()
    };
    out.truncate(n);
    Ok(out)
}

fn seal(data: &[u8], context: &[u8], frame: u32) -> Vec<u8> {
    let mut e = encryptor(context, frame);
    call(|o| e.one_shot(data, o)).unwrap()
}

fn open(msg: &[u8], context: &'static [u8]) -> Result<Vec<u8>> {
    let mut d = Decryptor::new(context, source(MASTER, context));
    call(|o| d.one_shot(msg, o))
}

fn seal_parts(data: &[u8], context: &[u8], frame: u32, chunk: usize) -> Vec<u8> {
    let mut e = encryptor(context, frame);
    let mut msg = Vec::new();
    for c in data.chunks(chunk) {
        msg.extend(call(|o| e.update(c, o)).unwrap());
    }
    msg.extend(call(|o| e.finish(o)).unwrap());
    msg
}

fn open_parts(msg: &[u8], context: &'static [u8], chunk: usize) -> Result<Vec<u8>> {
    let mut d = Decryptor::new(context, source(MASTER, context));
    let mut pt = Vec::new();
    for c in msg.chunks(chunk) {
        pt.extend(call(|o| d.update(c, o))?);
    }
    pt.extend(call(|o| d.finish(o))?);
    Ok(pt)
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| u8::try_from(i % 251).unwrap()).collect()
}

#[test]
fn round_trips_at_frame_boundaries() {
    for frame in [1u32, 7, 16, 4096] {
        let f = usize::try_from(frame).unwrap();
        for n in [0, 1, f.saturating_sub(1), f, f + 1, 3 * f, 3 * f + 5] {
            let d = data(n);
            let msg = seal(&d, b"ctx", frame);
            assert_eq!(open(&msg, b"ctx").unwrap(), d, "frame {frame}, {n} bytes");
        }
    }
}

#[test]
fn parts_and_single_calls_agree() {
    let d = data(10_000);
    for frame in [16u32, 4096, DEFAULT_FRAME_SIZE] {
        for chunk in [1usize, 15, 17, 4097, 10_000] {
            let msg = seal_parts(&d, b"ctx", frame, chunk);
            assert_eq!(open(&msg, b"ctx").unwrap(), d);
            for dchunk in [1usize, 15, 17, 4097] {
                assert_eq!(
                    open_parts(&msg, b"ctx", dchunk).unwrap(),
                    d,
                    "frame {frame} chunk {chunk}/{dchunk}"
                );
            }
        }
    }
}

#[test]
fn every_bit_flip_is_detected() {
    let msg = seal(&data(40), b"ctx", 16);
    for i in 0..msg.len() * 8 {
        let mut bad = msg.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(open(&bad, b"ctx").is_err(), "flip of bit {i} not detected");
        assert!(
            open_parts(&bad, b"ctx", 7).is_err(),
            "flip of bit {i} not detected in parts"
        );
    }
}

#[test]
fn truncation_reordering_and_splicing_are_detected() {
    let d = data(64);
    let msg = seal(&d, b"ctx", 16);
    let (h, hlen) = Header::parse(&msg).unwrap().unwrap();
    assert_eq!(h.key_id, KEY_ID);
    assert_eq!(h.key_version, 3);
    let unit = 16 + TAG_LEN;
    // Dropping whole frames from the end, or any tail bytes.
    for cut in 1..msg.len() {
        assert!(open(&msg[..msg.len() - cut], b"ctx").is_err(), "cut {cut}");
        assert!(
            open_parts(&msg[..msg.len() - cut], b"ctx", 5).is_err(),
            "cut {cut} in parts"
        );
    }
    // Swapping two frames.
    let mut swapped = msg.clone();
    let (a, b) = (hlen, hlen + unit);
    let fa = msg[a..a + unit].to_vec();
    swapped[a..a + unit].copy_from_slice(&msg[b..b + unit]);
    swapped[b..b + unit].copy_from_slice(&fa);
    assert!(open(&swapped, b"ctx").is_err());
    // A frame from another message of the same key and context.
    let other = seal(&d, b"ctx", 16);
    let (_, olen) = Header::parse(&other).unwrap().unwrap();
    let mut spliced = msg.clone();
    spliced[hlen..hlen + unit].copy_from_slice(&other[olen..olen + unit]);
    assert!(open(&spliced, b"ctx").is_err());
    // Trailing garbage after the final frame.
    let mut longer = msg.clone();
    longer.push(0);
    assert!(open(&longer, b"ctx").is_err());
}

#[test]
fn the_context_and_the_master_key_must_match() {
    let msg = seal(b"secret", b"app=billing", 16);
    assert_eq!(open(&msg, b"app=billing").unwrap(), b"secret");
    assert_eq!(open(&msg, b"app=other"), Err(Error::EncryptedDataInvalid));
    let mut d = Decryptor::new(b"app=billing", source([0x22; 32], b"app=billing"));
    assert_eq!(
        call(|o| d.one_shot(&msg, o)),
        Err(Error::EncryptedDataInvalid)
    );
}

#[test]
fn the_commitment_binds_the_data_key() {
    // A header whose commitment does not match its data key is refused even
    // when everything else is authentic.
    let msg = seal(b"secret", b"", 16);
    let (mut h, hlen) = Header::parse(&msg).unwrap().unwrap();
    h.commitment[0] ^= 1;
    let mut bad = h.encode();
    bad.extend_from_slice(&msg[hlen..]);
    assert_eq!(open(&bad, b""), Err(Error::EncryptedDataInvalid));
}

#[test]
fn size_queries_and_small_buffers_keep_the_state() {
    let d = data(100);
    let mut e = encryptor(b"", 16);
    let mut small = [0u8; 10];
    assert_eq!(
        e.update(&d, &mut OutBuf::new(Some(&mut small))),
        Err(Error::BufferTooSmall)
    );
    let mut msg = call(|o| e.update(&d, o)).unwrap();
    msg.extend(call(|o| e.finish(o)).unwrap());
    // The decryptor: a too-small buffer leaves the input unconsumed.
    let mut dec = Decryptor::new(b"", source(MASTER, b""));
    let mut small = [0u8; 1];
    assert_eq!(
        dec.update(&msg, &mut OutBuf::new(Some(&mut small))),
        Err(Error::BufferTooSmall)
    );
    let mut pt = call(|o| dec.update(&msg, o)).unwrap();
    pt.extend(call(|o| dec.finish(o)).unwrap());
    assert_eq!(pt, d);
}

#[test]
fn malformed_headers_are_refused_without_panicking() {
    let msg = seal(b"x", b"", 16);
    for n in 0..msg.len() {
        let _ = Header::parse(&msg[..n]);
        assert!(open(&msg[..n], b"").is_err());
    }
    let mut bad = msg.clone();
    bad[4] = 9; // unknown format version
    assert_eq!(Header::parse(&bad), Err(Error::EncryptedDataInvalid));
    let mut bad = msg.clone();
    bad[6..10].copy_from_slice(&0u32.to_be_bytes()); // frame size 0
    assert_eq!(Header::parse(&bad), Err(Error::EncryptedDataInvalid));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The published test vector of `docs/envelope-format.md`: fixed master key,
/// data key, nonce and salt. A second implementation must produce these bytes.
#[test]
fn published_vector() {
    let master = [0x0fu8; 32];
    let dek: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let nonce = [0xa5u8; 12];
    let salt = [0x5au8; 32];
    let context = br#"{"app":"billing"}"#;
    let wrapped = wrap_data_key_with_nonce(&master, KEY_ID, 1, context, &dek, &nonce).unwrap();
    let mut e = Encryptor::with_salt(KEY_ID, 1, &dek, wrapped, context, 16, salt).unwrap();
    let pt = b"The quick brown fox jumps over the lazy dog";
    let out = call(|o| e.one_shot(pt, o)).unwrap();
    let expected = include_str!("../../../docs/envelope-vector-1.hex").trim();
    assert_eq!(hex(&out), expected, "vector changed: {}", hex(&out));
}
