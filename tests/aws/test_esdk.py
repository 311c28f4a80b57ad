"""The AWS Encryption SDK for Python with a SoftKMS key: through its AWS KMS
keyring (with the Material Providers Library) and through its KMS master key
provider (a botocore session pointed at the server)."""

import io

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.identifiers import CommitmentPolicy
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header

from conftest import REGION, expect_error

CTX = {"purpose": "esdk-test", "tenant": "42"}


@pytest.fixture
def esdk():
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def _edk_and_context(message):
    header, _ = deserialize_header(io.BytesIO(message))
    edks = list(header.encrypted_data_keys)
    return edks, dict(header.encryption_context)


def _check_kms_binds_context(kms, key_arn, message):
    """The data key ESDK stored is a KMS ciphertext of our key, bound to the
    message's encryption context: KMS opens it with that context only."""
    edks, ctx = _edk_and_context(message)
    assert len(edks) == 1
    edk = edks[0]
    assert edk.key_provider.provider_id == "aws-kms"
    assert edk.key_provider.key_info.decode() == key_arn
    for k, v in CTX.items():
        assert ctx[k] == v
    assert kms.decrypt(CiphertextBlob=edk.encrypted_data_key, EncryptionContext=ctx,
                       KeyId=key_arn)["KeyId"] == key_arn
    wrong = dict(ctx, tenant="43")
    expect_error("InvalidCiphertextException", kms.decrypt,
                 CiphertextBlob=edk.encrypted_data_key, EncryptionContext=wrong)


def test_esdk_kms_keyring_file(server, kms, esdk, tmp_path):
    from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput

    key_arn = kms.create_key(Description="esdk keyring")["KeyMetadata"]["Arn"]
    mpl = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
    keyring = mpl.create_aws_kms_keyring(
        input=CreateAwsKmsKeyringInput(kms_key_id=key_arn, kms_client=server.client("user")))
    data = bytes(range(256)) * 400  # 100 KiB, several frames
    src = tmp_path / "plain.bin"
    src.write_bytes(data)
    with open(src, "rb") as fin, open(tmp_path / "enc.bin", "wb") as fout:
        with esdk.stream(mode="e", source=fin, keyring=keyring, encryption_context=CTX) as enc:
            for chunk in enc:
                fout.write(chunk)
    message = (tmp_path / "enc.bin").read_bytes()
    assert data not in message
    with open(tmp_path / "enc.bin", "rb") as fin:
        with esdk.stream(mode="d", source=fin, keyring=keyring, encryption_context=CTX) as dec:
            out = b"".join(dec)
            assert dec.header.encryption_context["tenant"] == "42"
    assert out == data
    # The SDK refuses a required context the message does not carry.
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=message, keyring=keyring,
                     encryption_context=dict(CTX, tenant="43"))
    _check_kms_binds_context(kms, key_arn, message)


def test_esdk_master_key_provider(server, kms, esdk, monkeypatch):
    key_arn = kms.create_key(Description="esdk mkp")["KeyMetadata"]["Arn"]
    ak, sk = server.creds["user"]
    # botocore takes a service's endpoint from AWS_ENDPOINT_URL_<SERVICE>.
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    session = botocore.session.Session()
    session.set_credentials(ak, sk)
    session.set_config_variable("region", REGION)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key_arn],
                                                                botocore_session=session)
    message, header = esdk.encrypt(source=b"mkp plaintext", key_provider=provider,
                                   encryption_context=CTX)
    assert header.encryption_context["tenant"] == "42"
    plain, dheader = esdk.decrypt(source=message, key_provider=provider)
    assert plain == b"mkp plaintext"
    assert dheader.encryption_context["purpose"] == "esdk-test"
    _check_kms_binds_context(kms, key_arn, message)
    # A provider for another key does not open it.
    other = kms.create_key()["KeyMetadata"]["Arn"]
    provider2 = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[other],
                                                                 botocore_session=session)
    with pytest.raises(AWSEncryptionSDKClientError):
        esdk.decrypt(source=message, key_provider=provider2)
