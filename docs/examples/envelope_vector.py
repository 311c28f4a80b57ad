#!/usr/bin/env python3
"""An independent implementation of the SoftKMS envelope format (docs/envelope-format.md),
written from the spec with Python's `cryptography` package. It rebuilds test vector 1 from
its inputs and checks it byte for byte, then decrypts it again by the spec's rules.

Usage: python3 docs/examples/envelope_vector.py [docs/envelope-vector-1.hex]
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand


def hkdf_extract(salt, ikm):
    import hmac
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    return HKDFExpand(hashes.SHA256(), n, info).derive(prk)


def seal(master, dek, key_id, version, context, salt, wrap_nonce, frame_size, plaintext):
    ctx_hash = hashlib.sha256(context).digest()
    kid = key_id.encode()
    dek_aad = b"softkms envelope v1 data key" + bytes([len(kid)]) + kid + struct.pack(">I", version) + ctx_hash
    wrapped = wrap_nonce + AESGCM(master).encrypt(wrap_nonce, dek, dek_aad)
    prk = hkdf_extract(salt, dek)
    frame_key = hkdf_expand(prk, b"softkms envelope v1 frame key", 32)
    commitment = hkdf_expand(prk, b"softkms envelope v1 commitment", 32)
    header = (b"SKMS" + bytes([1, 1]) + struct.pack(">I", frame_size) + bytes([len(kid)]) + kid
              + struct.pack(">I", version) + struct.pack(">H", len(wrapped)) + wrapped + salt + commitment)
    aad = hashlib.sha256(header).digest() + ctx_hash
    frames = [plaintext[i:i + frame_size] for i in range(0, len(plaintext), frame_size)] or [b""]
    out = header
    for i, f in enumerate(frames):
        last = i == len(frames) - 1
        nonce = struct.pack(">IQ", 1 if last else 0, i)
        out += AESGCM(frame_key).encrypt(nonce, f, aad)
    return out


def open_message(master, context, msg):
    ctx_hash = hashlib.sha256(context).digest()
    assert msg[:6] == b"SKMS\x01\x01"
    frame_size, = struct.unpack(">I", msg[6:10])
    p = 10
    kid = msg[p + 1:p + 1 + msg[p]]
    p += 1 + len(kid)
    version, = struct.unpack(">I", msg[p:p + 4])
    wlen, = struct.unpack(">H", msg[p + 4:p + 6])
    wrapped = msg[p + 6:p + 6 + wlen]
    p += 6 + wlen
    salt, commitment = msg[p:p + 32], msg[p + 32:p + 64]
    p += 64
    dek_aad = b"softkms envelope v1 data key" + bytes([len(kid)]) + kid + struct.pack(">I", version) + ctx_hash
    dek = AESGCM(master).decrypt(wrapped[:12], wrapped[12:], dek_aad)
    prk = hkdf_extract(salt, dek)
    assert hkdf_expand(prk, b"softkms envelope v1 commitment", 32) == commitment
    frame_key = hkdf_expand(prk, b"softkms envelope v1 frame key", 32)
    aad = hashlib.sha256(msg[:p]).digest() + ctx_hash
    unit, body, out, i = frame_size + 16, msg[p:], b"", 0
    while True:
        last = len(body) <= unit
        chunk, body = body[:unit], body[unit:]
        out += AESGCM(frame_key).decrypt(struct.pack(">IQ", 1 if last else 0, i), chunk, aad)
        i += 1
        if last:
            return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docs/envelope-vector-1.hex"
    expected = bytes.fromhex(open(path).read().strip())
    master = bytes([0x0F] * 32)
    dek = bytes(range(32))
    context = b'{"app":"billing"}'
    pt = b"The quick brown fox jumps over the lazy dog"
    got = seal(master, dek, "0123456789abcdef0123456789abcdef", 1, context,
               bytes([0x5A] * 32), bytes([0xA5] * 12), 16, pt)
    assert got == expected, "vector mismatch:\n" + got.hex()
    assert open_message(master, context, expected) == pt
    print("envelope vector 1: 2 passed, 0 failed")


if __name__ == "__main__":
    main()
