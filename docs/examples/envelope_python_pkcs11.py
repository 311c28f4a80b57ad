#!/usr/bin/env python3
"""SoftKMS envelope encryption and data keys from Python, with python-pkcs11.

    python3 envelope_python_pkcs11.py MODULE TOKEN_LABEL USER_PIN KEY_LABEL [--create]

Opens the token, logs in as the token owner, finds the managed key labelled
KEY_LABEL (with --create, makes it first when it is missing), then

1. envelope-encrypts a message with an encryption context
   (CKM_SOFTKMS_ENVELOPE, docs/vendor-abi.md) and decrypts it: the message
   names its key (CKA_UNIQUE_ID in its header), so decryption finds the key
   from the message alone; another context does not open it;
2. generates a data key (CKM_SOFTKMS_GENERATE_DATA_KEY with C_DeriveKey):
   the plaintext key to use locally, and its blob, an envelope message to
   store beside the data; the blob decrypts back to the same key.

Prints one line per step and "envelope_python_pkcs11.py: N passed, N failed";
exits 1 on a failure. Needs python-pkcs11 (tested with 0.10.1) and nothing
else; docs/examples/envelope-python-pkcs11.sh runs it on a throw-away token.

python-pkcs11 has no names for vendor mechanisms, and its `mechanism` must be
a `Mechanism`; `vendor_mechanism` below makes one. A parameter given as
`bytes` is passed to the module as it is, so the C structs of
include/softkms.h are built with ctypes (their pointers point at ctypes
buffers that this program keeps alive while the call runs).
"""

import ctypes
import json
import struct
import sys

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

# include/softkms.h
SOFTKMS_VENDOR_BASE = 0xD34B0000
CKM_SOFTKMS_ENVELOPE = SOFTKMS_VENDOR_BASE + 0x01
CKM_SOFTKMS_GENERATE_DATA_KEY = SOFTKMS_VENDOR_BASE + 0x02


class CK_SOFTKMS_ENVELOPE_PARAMS(ctypes.Structure):
    """The parameter of CKM_SOFTKMS_ENVELOPE (CK_ULONG is C's unsigned long)."""
    _fields_ = [("pContext", ctypes.c_void_p), ("ulContextLen", ctypes.c_ulong)]


class CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS(ctypes.Structure):
    """The parameter of CKM_SOFTKMS_GENERATE_DATA_KEY."""
    _fields_ = [
        ("pContext", ctypes.c_void_p),
        ("ulContextLen", ctypes.c_ulong),
        ("pWrappedKey", ctypes.c_void_p),
        ("ulWrappedKeyLen", ctypes.c_ulong),
    ]


def vendor_mechanism(value, name):
    """A `Mechanism` member for a vendor value (python-pkcs11 accepts only
    members of its IntEnum). It compares and converts as the plain integer."""
    existing = Mechanism._value2member_map_.get(value)
    if existing is not None:
        return existing
    member = int.__new__(Mechanism, value)
    member._name_ = name
    member._value_ = value
    Mechanism._value2member_map_[value] = member
    return member


ENVELOPE = vendor_mechanism(CKM_SOFTKMS_ENVELOPE, "SOFTKMS_ENVELOPE")
GENERATE_DATA_KEY = vendor_mechanism(CKM_SOFTKMS_GENERATE_DATA_KEY, "SOFTKMS_GENERATE_DATA_KEY")


def context_bytes(pairs):
    """The encryption context as the module, the CLI and the Rust crates bind
    it: a JSON object with sorted keys and no spaces, or nothing when empty."""
    if not pairs:
        return b""
    return json.dumps(pairs, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class EnvelopeParam:
    """CK_SOFTKMS_ENVELOPE_PARAMS for a context, as the bytes python-pkcs11 passes."""

    def __init__(self, context):
        self._buf = ctypes.create_string_buffer(context, len(context)) if context else None
        s = CK_SOFTKMS_ENVELOPE_PARAMS(
            ctypes.cast(self._buf, ctypes.c_void_p) if self._buf else None, len(context))
        self.bytes = bytes(s)


def header(message):
    """The key id and version an envelope message names
    (docs/envelope-format.md: magic, version, suite, frame size, key id, version)."""
    if len(message) < 11 or message[:6] != b"SKMS\x01\x01":
        raise ValueError("not a SoftKMS envelope message")
    n = message[10]
    key_id = message[11:11 + n].decode()
    (version,) = struct.unpack(">I", message[11 + n:15 + n])
    return key_id, version


def message_length(message, plaintext_len):
    """The length of an envelope message from its header and the plaintext
    length: header (81 + key id + wrapped key), then the frames, each with a
    16-byte tag (a final frame always, even when empty)."""
    (frame,) = struct.unpack(">I", message[6:10])
    n = message[10]
    (wrapped,) = struct.unpack(">H", message[15 + n:17 + n])
    frames = max(1, -(-plaintext_len // frame))
    return 81 + n + wrapped + plaintext_len + 16 * frames


def key_of(session, message):
    """The key an envelope message names, found by CKA_UNIQUE_ID."""
    key_id, _ = header(message)
    for key in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                    Attribute.UNIQUE_ID: key_id}):
        return key
    raise LookupError(f"the key {key_id} that the message names is not on this token")


def envelope_encrypt(key, plaintext, context):
    param = EnvelopeParam(context_bytes(context))
    return key.encrypt(plaintext, mechanism=ENVELOPE, mechanism_param=param.bytes)


def envelope_decrypt(session, message, context):
    param = EnvelopeParam(context_bytes(context))
    return key_of(session, message).decrypt(message, mechanism=ENVELOPE,
                                            mechanism_param=param.bytes)


def generate_data_key(key, nbytes, context):
    """(plaintext, blob): AWS KMS's GenerateDataKey. The module writes the blob
    into our buffer; python-pkcs11 passes a copy of the parameter struct, so
    the length the module writes back into it is not seen here, and the
    blob's length is computed from its header instead (docs/vendor-abi.md:
    it depends on the data key length and the key id only)."""
    ctx = context_bytes(context)
    ctx_buf = ctypes.create_string_buffer(ctx, len(ctx)) if ctx else None
    out = ctypes.create_string_buffer(81 + 128 + 60 + nbytes + 16)  # enough for any key id
    s = CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS(
        ctypes.cast(ctx_buf, ctypes.c_void_p) if ctx_buf else None, len(ctx),
        ctypes.cast(out, ctypes.c_void_p), len(out))
    data_key = key.derive_key(
        KeyType.GENERIC_SECRET, nbytes * 8,
        mechanism=GENERATE_DATA_KEY, mechanism_param=bytes(s),
        template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        capabilities=0)
    plaintext = data_key[Attribute.VALUE]
    data_key.destroy()
    raw = out.raw
    return plaintext, raw[:message_length(raw, nbytes)]


def find_or_create(session, label, create):
    try:
        return session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
    except pkcs11.NoSuchKey:
        if not create:
            raise
    # A managed key: AES-256, token, sensitive, not extractable (docs/vendor-abi.md).
    return session.generate_key(
        KeyType.AES, 256, label=label, store=True,
        template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                  Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
                  Attribute.DERIVE: True})


def main(argv):
    args = [a for a in argv if a != "--create"]
    if len(args) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    module, token_label, pin, key_label = args
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")

    lib = pkcs11.lib(module)
    token = lib.get_token(token_label=token_label)
    with token.open(rw=True, user_pin=pin) as session:
        key = find_or_create(session, key_label, "--create" in argv)
        key_id = key[Attribute.UNIQUE_ID]
        check("managed key found by label", True, f"{key_label!r} is {key_id}")

        # 1. Envelope encryption with an encryption context.
        context = {"tenant": "7", "app": "billing"}
        message = envelope_encrypt(key, b"card 4111 1111 1111 1111", context)
        named, version = header(message)
        check("the message names its key and version", named == key_id and version >= 1,
              f"{len(message)} bytes, key {named}, version {version}")
        check("envelope decrypt with the same context",
              envelope_decrypt(session, message, context) == b"card 4111 1111 1111 1111")
        try:
            envelope_decrypt(session, message, {"tenant": "8", "app": "billing"})
            check("another context is refused", False, "it decrypted")
        except pkcs11.PKCS11Error as e:
            check("another context is refused", type(e).__name__ == "EncryptedDataInvalid",
                  type(e).__name__)
        big = bytes(range(256)) * 1000  # more than one 64 KiB frame
        check("a 256,000-byte message round-trips",
              envelope_decrypt(session, envelope_encrypt(key, big, {}), {}) == big)

        # 2. A data key and its blob.
        plaintext, blob = generate_data_key(key, 32, {"file": "report.pdf"})
        check("generate data key", len(plaintext) == 32 and header(blob)[0] == key_id,
              f"32-byte key, {len(blob)}-byte blob")
        check("the blob decrypts to the data key",
              envelope_decrypt(session, blob, {"file": "report.pdf"}) == plaintext)

    failed = results.count(False)
    print(f"envelope_python_pkcs11.py: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
