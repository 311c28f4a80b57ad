"""Key rotation through boto3: Enable/DisableKeyRotation with
RotationPeriodInDays, GetKeyRotationStatus, RotateKeyOnDemand,
ListKeyRotations; old ciphertexts decrypt after a rotation."""

import datetime

import pytest

from conftest import expect_error, names_key


# moto leaves RotationPeriodInDays and NextRotationDate out of GetKeyRotationStatus.
@pytest.mark.aws_behaviour
def test_rotation_status_enable_disable(kms, sym_key):
    kid = sym_key["KeyId"]
    st = kms.get_key_rotation_status(KeyId=kid)
    assert st["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=sym_key["Arn"], RotationPeriodInDays=180)
    st = kms.get_key_rotation_status(KeyId=kid)
    assert st["KeyRotationEnabled"] is True
    assert st["RotationPeriodInDays"] == 180
    assert names_key(st["KeyId"], sym_key)
    now = datetime.datetime.now(datetime.timezone.utc)
    delta = st["NextRotationDate"] - now
    assert datetime.timedelta(days=179) < delta <= datetime.timedelta(days=181), delta
    kms.disable_key_rotation(KeyId=kid)
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False


# moto leaves RotationPeriodInDays out of GetKeyRotationStatus.
@pytest.mark.aws_behaviour
def test_rotation_default_period_is_365(kms, sym_key):
    kms.enable_key_rotation(KeyId=sym_key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=sym_key["KeyId"])["RotationPeriodInDays"] == 365


# moto does not range-check RotationPeriodInDays (AWS: 90..2560).
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("days", [89, 2561])
def test_rotation_period_out_of_range(kms_raw, sym_key, days):
    expect_error("ValidationException", kms_raw.enable_key_rotation, KeyId=sym_key["KeyId"],
                 RotationPeriodInDays=days)


# moto allows rotation of asymmetric keys; AWS refuses (UnsupportedOperationException).
@pytest.mark.aws_behaviour
def test_rotation_of_asymmetric_key_refused(kms):
    md = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    expect_error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=md["KeyId"])


def test_rotate_on_demand_old_ciphertext_decrypts(kms, sym_key):
    kid = sym_key["KeyId"]
    old = kms.encrypt(KeyId=kid, Plaintext=b"before", EncryptionContext={"a": "b"})[
        "CiphertextBlob"]
    assert names_key(kms.rotate_key_on_demand(KeyId=kid)["KeyId"], sym_key)
    new = kms.encrypt(KeyId=kid, Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext={"a": "b"})["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    rot = kms.list_key_rotations(KeyId=kid)
    assert rot["Truncated"] is False
    assert len(rot["Rotations"]) == 1
    r = rot["Rotations"][0]
    assert names_key(r["KeyId"], sym_key)
    assert r["RotationType"] == "ON_DEMAND"
    assert abs(r["RotationDate"] - datetime.datetime.now(datetime.timezone.utc)) < \
        datetime.timedelta(minutes=10)
    kms.rotate_key_on_demand(KeyId=kid)
    assert len(kms.list_key_rotations(KeyId=kid)["Rotations"]) == 2
    assert kms.decrypt(CiphertextBlob=old, EncryptionContext={"a": "b"})["Plaintext"] == b"before"


def test_list_key_rotations_pagination(kms, sym_key):
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=sym_key["KeyId"])
    page = kms.list_key_rotations(KeyId=sym_key["KeyId"], Limit=2)
    assert len(page["Rotations"]) == 2 and page["Truncated"] is True
    rest = kms.list_key_rotations(KeyId=sym_key["KeyId"], Limit=2, Marker=page["NextMarker"])
    assert len(rest["Rotations"]) == 1 and rest["Truncated"] is False


# moto rotates asymmetric keys on demand too.
@pytest.mark.aws_behaviour
def test_rotate_on_demand_asymmetric_refused(kms):
    md = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    expect_error("UnsupportedOperationException", kms.rotate_key_on_demand, KeyId=md["KeyId"])


# moto enables rotation of a disabled key.
@pytest.mark.aws_behaviour
def test_rotation_of_disabled_key(kms, sym_key):
    kms.disable_key(KeyId=sym_key["KeyId"])
    expect_error("DisabledException", kms.enable_key_rotation, KeyId=sym_key["KeyId"])
