"""One set of keys, two fronts: a key made through the API is found and used
through libsoftkms.so (python-pkcs11, in this process, on the server's token
file), and a key made through PKCS#11 is listed and used through the API.
SoftKMS's vendor ABI: docs/vendor-abi.md, docs/examples/envelope_python_pkcs11.py."""

import ctypes
import json
import os

import pytest

from conftest import USER_PIN, key_id_of

pkcs11 = pytest.importorskip("pkcs11")
import pkcs11._pkcs11 as _p11  # noqa: E402
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass  # noqa: E402
from pkcs11.attributes import ATTRIBUTE_TYPES, AttributeMapper  # noqa: E402

pytestmark = pytest.mark.softkms_only

VENDOR = 0xD34B0000  # SOFTKMS_VENDOR_BASE, include/softkms.h


def _vendor_member(enum, value, name):
    """A member of python-pkcs11's IntEnum for a vendor value."""
    existing = enum._value2member_map_.get(value)
    if existing is not None:
        return existing
    member = int.__new__(enum, value)
    member._name_ = name
    member._value_ = value
    enum._value2member_map_[value] = member
    return member


ENVELOPE = _vendor_member(Mechanism, VENDOR + 0x01, "SOFTKMS_ENVELOPE")
CKO_ALIAS = _vendor_member(ObjectClass, VENDOR + 0x02, "SOFTKMS_ALIAS")
CKA_ALIAS_TARGET = _vendor_member(Attribute, VENDOR + 0x13, "SOFTKMS_ALIAS_TARGET")


class _AliasObject(_p11.Object):
    """python-pkcs11 makes a Python class per object class; an alias is a plain object."""


_p11._CLASS_MAP.setdefault(CKO_ALIAS, _AliasObject)


class _EnvelopeParams(ctypes.Structure):
    _fields_ = [("pContext", ctypes.c_void_p), ("ulContextLen", ctypes.c_ulong)]


def _context_bytes(pairs):
    # The encryption context as SoftKMS binds it: JSON, sorted keys, no spaces.
    if not pairs:
        return b""
    return json.dumps(pairs, sort_keys=True, separators=(",", ":")).encode()


def _envelope(key, op, data, context):
    ctx = _context_bytes(context)
    buf = ctypes.create_string_buffer(ctx, len(ctx)) if ctx else None
    param = bytes(_EnvelopeParams(ctypes.cast(buf, ctypes.c_void_p) if buf else None, len(ctx)))
    return getattr(key, op)(data, mechanism=ENVELOPE, mechanism_param=param)


def same_key(unique_id, api_key_id):
    """The API shows a token key's CKA_UNIQUE_ID (32 hex digits) as a UUID."""
    return unique_id.replace("-", "").lower() == key_id_of(api_key_id).replace("-", "").lower()


@pytest.fixture(scope="module")
def session(server):
    # The module reads SOFTKMS_CONF at C_Initialize: point it at the server's token.
    saved = dict(os.environ)
    old_umask = os.umask(0o077)  # the module's files stay the owner's, as the server wants
    os.environ.update({k: v for k, v in server.env.items() if k.startswith(("SOFTKMS_", "XDG_"))
                       or k == "HOME"})
    try:
        lib = pkcs11.lib(server.module)
        mapper = AttributeMapper()
        mapper.register_handler(CKA_ALIAS_TARGET, *ATTRIBUTE_TYPES[Attribute.LABEL])
        token = lib.get_token(token_label=server.token_label)
        with token.open(rw=True, user_pin=USER_PIN, attribute_mapper=mapper) as s:
            yield s
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.umask(old_umask)


def _find_key(session, api_key_id):
    found = [k for k in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
             if same_key(k[Attribute.UNIQUE_ID], api_key_id)]
    assert len(found) == 1, f"{api_key_id}: {len(found)} PKCS#11 keys"
    return found[0]


def test_api_key_and_alias_found_through_so(kms, session):
    md = kms.create_key(Description="made through the API")["KeyMetadata"]
    kms.create_alias(AliasName="alias/pkcs11-from-api", TargetKeyId=md["KeyId"])
    key = _find_key(session, md["KeyId"])
    assert key.key_type == KeyType.AES and key.key_length == 256
    assert key[Attribute.TOKEN] is True
    assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
    aliases = list(session.get_objects({Attribute.CLASS: CKO_ALIAS,
                                        Attribute.LABEL: "alias/pkcs11-from-api"}))
    assert len(aliases) == 1
    assert same_key(aliases[0][CKA_ALIAS_TARGET], md["KeyId"])


def test_api_key_used_through_so(kms, session):
    md = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/pkcs11-envelope", TargetKeyId=md["KeyId"])
    key = _find_key(session, md["KeyId"])
    ctx = {"tenant": "7"}
    message = _envelope(key, "encrypt", b"through the .so", ctx)
    assert _envelope(key, "decrypt", message, ctx) == b"through the .so"
    with pytest.raises(pkcs11.PKCS11Error):
        _envelope(key, "decrypt", message, {"tenant": "8"})
    # The API's key policy and state bind the .so too: disabled through the API,
    # the key refuses to encrypt through PKCS#11.
    kms.disable_key(KeyId="alias/pkcs11-envelope")
    with pytest.raises(pkcs11.PKCS11Error):
        _envelope(key, "encrypt", b"x", ctx)
    kms.enable_key(KeyId=md["KeyId"])


def test_api_ciphertext_opens_through_so_and_back(kms, session):
    """The API's ciphertext blob is SoftKMS's envelope message: the .so opens
    what the API sealed, and the API opens what the .so sealed."""
    md = kms.create_key()["KeyMetadata"]
    key = _find_key(session, md["KeyId"])
    ctx = {"app": "both", "n": "1"}
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"api to so", EncryptionContext=ctx)[
        "CiphertextBlob"]
    assert _envelope(key, "decrypt", blob, ctx) == b"api to so"
    dk = kms.generate_data_key(KeyId=md["Arn"], NumberOfBytes=32, EncryptionContext=ctx)
    assert _envelope(key, "decrypt", dk["CiphertextBlob"], ctx) == dk["Plaintext"]
    message = _envelope(key, "encrypt", b"so to api", ctx)
    dec = kms.decrypt(CiphertextBlob=message, EncryptionContext=ctx)
    assert dec["Plaintext"] == b"so to api" and dec["KeyId"] == md["Arn"]


def test_pkcs11_key_listed_and_used_by_api(kms, session):
    key = session.generate_key(
        KeyType.AES, 256, label="made-through-pkcs11", store=True,
        template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                  Attribute.ENCRYPT: True, Attribute.DECRYPT: True, Attribute.DERIVE: True})
    uid = key[Attribute.UNIQUE_ID]
    listed = []
    marker = None
    while True:
        page = kms.list_keys(Limit=100, **({"Marker": marker} if marker else {}))
        listed += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    ours = [k for k in listed if same_key(uid, k)]
    assert len(ours) == 1, f"{uid} not in ListKeys"
    kid = ours[0]
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT" and md["KeyState"] == "Enabled"
    enc = kms.encrypt(KeyId=kid, Plaintext=b"api on a pkcs11 key", EncryptionContext={"a": "1"})
    assert enc["KeyId"] == md["Arn"]
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"],
                       EncryptionContext={"a": "1"})["Plaintext"] == b"api on a pkcs11 key"
