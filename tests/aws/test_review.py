"""What the security review of the server found, kept fixed: the operation
must be signed, grants cannot widen or drop their constraints, the ECDSA
signatures are DER that any verifier takes."""

import pytest
from botocore.exceptions import ClientError

from conftest import expect_error
from test_sigv4 import error_code, send

pytestmark = pytest.mark.softkms_only


def test_unsigned_target_is_refused(server):
    """A request whose X-Amz-Target is not signed could be replayed as another
    operation: refused."""
    import botocore.auth

    ak, sk = server.creds["user"]
    real = botocore.auth.SigV4Auth.headers_to_sign

    def without_target(self, request):
        h = real(self, request)
        del h["x-amz-target"]
        return h

    botocore.auth.SigV4Auth.headers_to_sign = without_target
    try:
        status, doc = send(server, "ListKeys", {}, ak, sk)
    finally:
        botocore.auth.SigV4Auth.headers_to_sign = real
    assert status == 400, doc
    assert error_code(doc) == "IncompleteSignatureException", doc
    assert "x-amz-target" in doc["message"]


def test_grant_operations_must_fit_the_key(kms):
    ecc = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    expect_error("ValidationException", kms.create_grant, KeyId=ecc["KeyId"],
                 GranteePrincipal="arn:aws:iam::111122223333:user/bob",
                 Operations=["GenerateMac"])
    sym = kms.create_key()["KeyMetadata"]
    expect_error("ValidationException", kms.create_grant, KeyId=sym["KeyId"],
                 GranteePrincipal="arn:aws:iam::111122223333:user/bob",
                 Operations=["Sign"])


def test_grant_constraints_are_never_dropped(kms_raw, kms, kms_bob):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for constraints in ({"EncryptionContextSubset": {}},
                        {"EncryptionContextEquals": {"a": "b"}}):
        expect_error("ValidationException", kms_raw.create_grant, KeyId=key,
                     GranteePrincipal="arn:aws:iam::111122223333:user/bob",
                     Operations=["Decrypt"], Constraints=constraints)
    blob = kms.encrypt(KeyId=key, Plaintext=b"no context")["CiphertextBlob"]
    expect_error("AccessDeniedException", kms_bob.decrypt, CiphertextBlob=blob)


def test_ecdsa_signatures_verify_outside(kms):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    sig = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")["Signature"]
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    pub.verify(sig, b"m", ec.ECDSA(hashes.SHA384()))
    # A raw r||s (not DER) is not a signature here.
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=key, Message=b"m", Signature=b"\x01" * 96,
                   SigningAlgorithm="ECDSA_SHA_384")
    assert e.value.response["Error"]["Code"] == "KMSInvalidSignatureException"
