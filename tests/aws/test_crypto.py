"""Cryptographic operations through boto3: Encrypt, Decrypt, ReEncrypt, data
keys and key pairs, GenerateRandom, Sign/Verify, GetPublicKey, GenerateMac /
VerifyMac, with their success shapes and their errors."""

import hashlib
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from conftest import ACCOUNT, REGION, expect_error, names_key, new_alias

CTX = {"tenant": "7", "purpose": "aws-tests"}


def test_encrypt_decrypt_shape(kms, sym_key):
    enc = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"hello", EncryptionContext=CTX)
    assert enc["KeyId"] == sym_key["Arn"]
    blob = enc["CiphertextBlob"]
    assert isinstance(blob, bytes) and len(blob) > len(b"hello") and b"hello" not in blob
    dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CTX)
    assert dec["Plaintext"] == b"hello"
    assert dec["KeyId"] == sym_key["Arn"]
    # Two encryptions of one plaintext differ (fresh nonce).
    assert kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"hello",
                       EncryptionContext=CTX)["CiphertextBlob"] != blob


# moto leaves EncryptionAlgorithm (and ReEncrypt's Source/Destination
# EncryptionAlgorithm) out of its answers.
@pytest.mark.aws_behaviour
def test_encryption_algorithm_fields(kms, sym_key):
    enc = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"a")
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])
    assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    re = kms.re_encrypt(CiphertextBlob=enc["CiphertextBlob"], DestinationKeyId=sym_key["Arn"])
    assert re["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert re["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_encrypt_by_every_identifier(kms, sym_key):
    alias = new_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=sym_key["KeyId"])
    for ident in (sym_key["KeyId"], sym_key["Arn"], alias,
                  f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"):
        enc = kms.encrypt(KeyId=ident, Plaintext=b"p")
        assert enc["KeyId"] == sym_key["Arn"], ident
        assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=ident)["Plaintext"] == b"p"


def test_encrypt_plaintext_limits(kms, kms_raw, sym_key):
    big = b"\x01" * 4096
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=big)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == big


def test_encrypt_plaintext_over_4096(kms_raw, sym_key):
    expect_error("ValidationException", kms_raw.encrypt, KeyId=sym_key["KeyId"],
                 Plaintext=b"\x01" * 4097)


def test_decrypt_wrong_context(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"s", EncryptionContext=CTX)[
        "CiphertextBlob"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob,
                 EncryptionContext={"tenant": "8", "purpose": "aws-tests"})
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob,
                 EncryptionContext=dict(CTX, extra="1"))


# moto answers a blob whose tag fails with AccessDeniedException.
@pytest.mark.aws_behaviour
def test_decrypt_tampered_blob(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    for i in (len(blob) - 1, len(blob) // 2):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(bad))
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob[:-1])
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"\x00" * 64)


# moto answers a Decrypt naming another key with the plaintext anyway (its
# blob names the key, and it ignores KeyId); AWS says IncorrectKeyException.
@pytest.mark.aws_behaviour
def test_decrypt_incorrect_key(kms, sym_key):
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, KeyId=other["KeyId"])


def test_reencrypt(kms, sym_key):
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"move me", EncryptionContext=CTX)[
        "CiphertextBlob"]
    resp = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=CTX,
                          DestinationKeyId=dest["KeyId"],
                          DestinationEncryptionContext={"new": "ctx"})
    assert resp["SourceKeyId"] == sym_key["Arn"]
    assert resp["KeyId"] == dest["Arn"]
    new = resp["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=new, EncryptionContext={"new": "ctx"})
    assert dec["Plaintext"] == b"move me" and dec["KeyId"] == dest["Arn"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=new,
                 EncryptionContext=CTX)


def test_reencrypt_wrong_source_context(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"x", EncryptionContext=CTX)[
        "CiphertextBlob"]
    expect_error("InvalidCiphertextException", kms.re_encrypt, CiphertextBlob=blob,
                 SourceEncryptionContext={"tenant": "9"}, DestinationKeyId=sym_key["KeyId"])


@pytest.mark.parametrize("kwargs,length", [({"KeySpec": "AES_256"}, 32),
                                           ({"KeySpec": "AES_128"}, 16),
                                           ({"NumberOfBytes": 1}, 1),
                                           ({"NumberOfBytes": 1024}, 1024)])
def test_generate_data_key(kms, sym_key, kwargs, length):
    resp = kms.generate_data_key(KeyId=sym_key["KeyId"], EncryptionContext=CTX, **kwargs)
    assert resp["KeyId"] == sym_key["Arn"]
    assert len(resp["Plaintext"]) == length
    dec = kms.decrypt(CiphertextBlob=resp["CiphertextBlob"], EncryptionContext=CTX)
    assert dec["Plaintext"] == resp["Plaintext"]


def test_generate_data_key_without_plaintext(kms, sym_key):
    resp = kms.generate_data_key_without_plaintext(KeyId=sym_key["Arn"], KeySpec="AES_256",
                                                   EncryptionContext=CTX)
    assert "Plaintext" not in resp
    assert resp["KeyId"] == sym_key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=resp["CiphertextBlob"],
                           EncryptionContext=CTX)["Plaintext"]) == 32


@pytest.mark.parametrize("kwargs", [{"NumberOfBytes": 0}, {"NumberOfBytes": 1025},
                                    {"KeySpec": "AES_256", "NumberOfBytes": 32}, {}])
def test_generate_data_key_bad_parameters(kms_raw, sym_key, kwargs):
    expect_error("ValidationException", kms_raw.generate_data_key, KeyId=sym_key["KeyId"],
                 **kwargs)


# moto has no GenerateDataKeyPair (HTTP 500).
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "RSA_2048"])
def test_generate_data_key_pair(kms, sym_key, spec):
    resp = kms.generate_data_key_pair(KeyId=sym_key["KeyId"], KeyPairSpec=spec,
                                      EncryptionContext=CTX)
    assert resp["KeyId"] == sym_key["Arn"]
    assert resp["KeyPairSpec"] == spec
    priv = serialization.load_der_private_key(resp["PrivateKeyPlaintext"], password=None)
    pub = serialization.load_der_public_key(resp["PublicKey"])
    fmt = dict(encoding=serialization.Encoding.DER,
               format=serialization.PublicFormat.SubjectPublicKeyInfo)
    assert priv.public_key().public_bytes(**fmt) == pub.public_bytes(**fmt)
    if spec.startswith("ECC"):
        assert isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1"
    else:
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 2048
    dec = kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext=CTX)
    assert dec["Plaintext"] == resp["PrivateKeyPlaintext"]


# moto has no GenerateDataKeyPairWithoutPlaintext (HTTP 500).
@pytest.mark.aws_behaviour
def test_generate_data_key_pair_without_plaintext(kms, sym_key):
    resp = kms.generate_data_key_pair_without_plaintext(KeyId=sym_key["KeyId"],
                                                        KeyPairSpec="ECC_NIST_P384")
    assert "PrivateKeyPlaintext" not in resp
    assert resp["KeyPairSpec"] == "ECC_NIST_P384"
    assert resp["KeyId"] == sym_key["Arn"]
    pub = serialization.load_der_public_key(resp["PublicKey"])
    priv = serialization.load_der_private_key(
        kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"])["Plaintext"], password=None)
    assert priv.public_key().public_numbers() == pub.public_numbers()


def test_generate_random(kms):
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(a) == 32 and a != b
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024


# moto answers NumberOfBytes=0 with an empty Plaintext.
@pytest.mark.parametrize("n", [pytest.param(0, marks=pytest.mark.aws_behaviour), 1025])
def test_generate_random_bad_sizes(kms_raw, n):
    expect_error("ValidationException", kms_raw.generate_random, NumberOfBytes=n)


def _verify_locally(public_der, alg, message, signature):
    pub = serialization.load_der_public_key(public_der)
    h = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[-3:]]
    if alg.startswith("ECDSA"):
        pub.verify(signature, message, ec.ECDSA(h))
    elif alg.startswith("RSASSA_PSS"):
        pub.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size),
                   h)
    else:
        pub.verify(signature, message, padding.PKCS1v15(), h)


@pytest.mark.parametrize("spec,alg", [
    ("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"), ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    # moto's PSS salt is not the digest's length (AWS: salt length = hash length).
    pytest.param("RSA_2048", "RSASSA_PSS_SHA_256", marks=pytest.mark.aws_behaviour),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
])
def test_sign_verify_get_public_key(kms, spec, alg):
    md = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    msg = b"sign me " + spec.encode()
    sig = kms.sign(KeyId=md["KeyId"], Message=msg, MessageType="RAW", SigningAlgorithm=alg)
    assert names_key(sig["KeyId"], md) and sig["SigningAlgorithm"] == alg
    ver = kms.verify(KeyId=md["Arn"], Message=msg, MessageType="RAW", Signature=sig["Signature"],
                     SigningAlgorithm=alg)
    assert ver["SignatureValid"] is True and names_key(ver["KeyId"], md)
    assert ver["SigningAlgorithm"] == alg
    pk = kms.get_public_key(KeyId=md["KeyId"])
    assert names_key(pk["KeyId"], md)
    _verify_locally(pk["PublicKey"], alg, msg, sig["Signature"])


# moto signs a MessageType=DIGEST message as if it were the raw message.
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("spec,alg", [("ECC_NIST_P384", "ECDSA_SHA_384"),
                                      ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")])
def test_sign_digest(kms, spec, alg):
    md = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    msg = b"a message signed by its digest"
    h = {"256": hashlib.sha256, "384": hashlib.sha384}[alg[-3:]]
    dsig = kms.sign(KeyId=md["KeyId"], Message=h(msg).digest(), MessageType="DIGEST",
                    SigningAlgorithm=alg)["Signature"]
    assert kms.verify(KeyId=md["KeyId"], Message=msg, Signature=dsig,
                      SigningAlgorithm=alg)["SignatureValid"] is True
    pub = kms.get_public_key(KeyId=md["KeyId"])["PublicKey"]
    _verify_locally(pub, alg, msg, dsig)


# moto answers Sign, Verify and GetPublicKey with the key id where AWS gives the
# key ARN, and leaves KeySpec, KeyUsage and SigningAlgorithms out of GetPublicKey.
@pytest.mark.aws_behaviour
def test_sign_verify_public_key_fields(kms):
    md = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    sig = kms.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert sig["KeyId"] == md["Arn"]
    ver = kms.verify(KeyId=md["KeyId"], Message=b"m", Signature=sig["Signature"],
                     SigningAlgorithm="ECDSA_SHA_256")
    assert ver["KeyId"] == md["Arn"]
    pk = kms.get_public_key(KeyId=md["KeyId"])
    assert pk["KeyId"] == md["Arn"]
    assert pk["KeySpec"] == "ECC_NIST_P256" and pk["CustomerMasterKeySpec"] == "ECC_NIST_P256"
    assert pk["KeyUsage"] == "SIGN_VERIFY" and pk["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    assert "EncryptionAlgorithms" not in pk


# moto answers SignatureValid=false with HTTP 200; AWS raises KMSInvalidSignatureException.
@pytest.mark.aws_behaviour
def test_verify_bad_signature(kms):
    md = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    sig = kms.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    expect_error("KMSInvalidSignatureException", kms.verify, KeyId=md["KeyId"], Message=b"other",
                 Signature=sig, SigningAlgorithm="ECDSA_SHA_256")


# moto leaves EncryptionAlgorithm out of Encrypt's answer.
@pytest.mark.aws_behaviour
def test_rsa_encrypt_decrypt(kms):
    md = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert enc["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256" and enc["KeyId"] == md["Arn"]
    assert len(enc["CiphertextBlob"]) == 256
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=md["KeyId"],
                      EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert dec["Plaintext"] == b"rsa"
    # The public key encrypts outside, and KMS decrypts.
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=md["KeyId"])["PublicKey"])
    ct = pub.encrypt(b"outside", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                              algorithm=hashes.SHA256(), label=None))
    assert kms.decrypt(CiphertextBlob=ct, KeyId=md["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"outside"


@pytest.mark.parametrize("spec,alg,fn", [("HMAC_256", "HMAC_SHA_256", hashlib.sha256),
                                         ("HMAC_512", "HMAC_SHA_512", hashlib.sha512)])
def test_generate_verify_mac(kms, spec, alg, fn):
    md = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=b"mac me", MacAlgorithm=alg)
    assert names_key(mac["KeyId"], md) and mac["MacAlgorithm"] == alg
    assert len(mac["Mac"]) == fn().digest_size
    assert kms.generate_mac(KeyId=md["KeyId"], Message=b"mac me", MacAlgorithm=alg)["Mac"] == \
        mac["Mac"]
    ok = kms.verify_mac(KeyId=md["Arn"], Message=b"mac me", MacAlgorithm=alg, Mac=mac["Mac"])
    assert ok["MacValid"] is True and names_key(ok["KeyId"], md) and ok["MacAlgorithm"] == alg


def test_verify_mac_bad_mac(kms):
    md = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    bad = bytes([mac[0] ^ 1]) + mac[1:]
    expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=md["KeyId"], Message=b"m",
                 MacAlgorithm="HMAC_SHA_256", Mac=bad)
    expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=md["KeyId"], Message=b"n",
                 MacAlgorithm="HMAC_SHA_256", Mac=mac)


# moto checks no key usage on these operations.
@pytest.mark.aws_behaviour
def test_invalid_key_usage(kms, sym_key):
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=signer["KeyId"], Plaintext=b"x")
    expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=mac["KeyId"], Plaintext=b"x")
    expect_error("InvalidKeyUsageException", kms.sign, KeyId=sym_key["KeyId"], Message=b"x",
                 SigningAlgorithm="ECDSA_SHA_256")
    expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=sym_key["KeyId"],
                 Message=b"x", MacAlgorithm="HMAC_SHA_256")
    expect_error("InvalidKeyUsageException", kms.sign, KeyId=signer["KeyId"], Message=b"x",
                 SigningAlgorithm="RSASSA_PSS_SHA_256")


def test_crypto_on_unknown_key(kms):
    unknown = str(uuid.uuid4())
    expect_error("NotFoundException", kms.generate_data_key, KeyId=unknown, KeySpec="AES_256")
    expect_error("NotFoundException", kms.sign, KeyId=f"alias/{unknown}", Message=b"x",
                 SigningAlgorithm="ECDSA_SHA_256")
    expect_error("NotFoundException", kms.generate_mac, KeyId=unknown, Message=b"x",
                 MacAlgorithm="HMAC_SHA_256")
