"""Key management through boto3: CreateKey, DescribeKey, ListKeys, key
identifiers, lifecycle (enable/disable, deletion), descriptions, tags, aliases."""

import datetime
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import (ACCOUNT, KEY_ARN_RE, REGION, UUID_RE, expect_error, key_id_of, new_alias)


# moto leaves KeyUsage, EncryptionAlgorithms and others out of the KeyMetadata
# of a key made without KeyUsage; AWS always returns them.
@pytest.mark.aws_behaviour
def test_create_key_symmetric_default_shape(kms):
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    resp = kms.create_key(Description="shape")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    md = resp["KeyMetadata"]
    assert UUID_RE.match(md["KeyId"]), md["KeyId"]
    assert md["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{md['KeyId']}"
    assert md["AWSAccountId"] == ACCOUNT
    assert md["CreationDate"] >= before
    assert md["Enabled"] is True
    assert md["KeyState"] == "Enabled"
    assert md["Description"] == "shape"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["MultiRegion"] is False
    assert "SigningAlgorithms" not in md and "MacAlgorithms" not in md


@pytest.mark.parametrize("spec,usage,field,algs", [
    ("RSA_2048", "ENCRYPT_DECRYPT", "EncryptionAlgorithms",
     {"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}),
    ("RSA_3072", "SIGN_VERIFY", "SigningAlgorithms",
     {"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
      "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"}),
    ("RSA_4096", "ENCRYPT_DECRYPT", "EncryptionAlgorithms",
     {"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}),
    ("ECC_NIST_P256", "SIGN_VERIFY", "SigningAlgorithms", {"ECDSA_SHA_256"}),
    ("ECC_NIST_P384", "SIGN_VERIFY", "SigningAlgorithms", {"ECDSA_SHA_384"}),
    ("ECC_NIST_P521", "SIGN_VERIFY", "SigningAlgorithms", {"ECDSA_SHA_512"}),
    ("ECC_SECG_P256K1", "SIGN_VERIFY", "SigningAlgorithms", {"ECDSA_SHA_256"}),
    ("HMAC_224", "GENERATE_VERIFY_MAC", "MacAlgorithms", {"HMAC_SHA_224"}),
    ("HMAC_256", "GENERATE_VERIFY_MAC", "MacAlgorithms", {"HMAC_SHA_256"}),
    ("HMAC_384", "GENERATE_VERIFY_MAC", "MacAlgorithms", {"HMAC_SHA_384"}),
    ("HMAC_512", "GENERATE_VERIFY_MAC", "MacAlgorithms", {"HMAC_SHA_512"}),
])
def test_create_key_specs(kms, spec, usage, field, algs):
    md = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert md["KeySpec"] == spec
    assert md["KeyUsage"] == usage
    assert set(md[field]) == algs
    assert md["KeyState"] == "Enabled"


# moto (5.2) does not know these newer key specs' algorithms (it creates the key
# but answers without the Ed25519 / ML-DSA signing algorithms).
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("spec,algs", [
    ("ECC_NIST_EDWARDS25519", {"ED25519_SHA_512", "ED25519_PH_SHA_512"}),
    ("ML_DSA_65", {"ML_DSA_SHAKE_256"}),
])
def test_create_key_newer_signing_specs(kms, spec, algs):
    md = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert md["KeySpec"] == spec
    # The pure algorithm at least; AWS also lists the pre-hash one for Ed25519.
    assert set(md["SigningAlgorithms"]) == algs or (
        spec == "ECC_NIST_EDWARDS25519" and set(md["SigningAlgorithms"]) == {"ED25519_SHA_512"})


# moto accepts any KeySpec/KeyUsage pair; AWS refuses a pair that does not fit.
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("spec,usage", [
    ("HMAC_256", "ENCRYPT_DECRYPT"),
    ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
    ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
    ("RSA_2048", "GENERATE_VERIFY_MAC"),
])
def test_create_key_spec_usage_mismatch(kms, spec, usage):
    expect_error("ValidationException", kms.create_key, KeySpec=spec, KeyUsage=usage)


def test_describe_key_by_every_identifier(kms):
    md = kms.create_key()["KeyMetadata"]
    alias = new_alias()
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    for ident in (md["KeyId"], md["Arn"], alias, alias_arn):
        got = kms.describe_key(KeyId=ident)["KeyMetadata"]
        assert got["KeyId"] == md["KeyId"], ident
        assert got["Arn"] == md["Arn"], ident


def test_not_found_unknown_id_alias_arn(kms):
    unknown = str(uuid.uuid4())
    for ident in (unknown, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{unknown}", "alias/does-not-exist",
                  f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/does-not-exist"):
        expect_error("NotFoundException", kms.describe_key, KeyId=ident)
        expect_error("NotFoundException", kms.encrypt, KeyId=ident, Plaintext=b"x")


# moto ignores Limit (it returns every key on one page).
@pytest.mark.aws_behaviour
def test_list_keys_pagination(kms):
    made = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen, pages, marker = [], 0, None
    while True:
        kwargs = {"Limit": 2}
        if marker:
            kwargs["Marker"] = marker
        resp = kms.list_keys(**kwargs)
        pages += 1
        assert len(resp["Keys"]) <= 2
        for k in resp["Keys"]:
            assert KEY_ARN_RE.match(k["KeyArn"]) and key_id_of(k["KeyArn"]) == k["KeyId"], k
        seen += [k["KeyId"] for k in resp["Keys"]]
        if not resp["Truncated"]:
            assert "NextMarker" not in resp
            break
        assert resp["NextMarker"]
        marker = resp["NextMarker"]
        assert pages < 1000
    assert pages >= 2
    assert made <= set(seen)
    assert len(seen) == len(set(seen)), "a key listed twice across pages"
    assert set(seen) == {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}


# moto encrypts and decrypts with a disabled key; AWS says DisabledException.
@pytest.mark.aws_behaviour
def test_disable_enable(kms, sym_key):
    kid = sym_key["KeyId"]
    assert kms.disable_key(KeyId=kid)["ResponseMetadata"]["HTTPStatusCode"] == 200
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and md["Enabled"] is False
    expect_error("DisabledException", kms.encrypt, KeyId=kid, Plaintext=b"x")
    expect_error("DisabledException", kms.generate_data_key, KeyId=kid, KeySpec="AES_256")
    kms.enable_key(KeyId=sym_key["Arn"])
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    assert kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]


# moto decrypts with a disabled key.
@pytest.mark.aws_behaviour
def test_disabled_key_refuses_decrypt(kms, sym_key):
    blob = kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=sym_key["KeyId"])
    expect_error("DisabledException", kms.decrypt, CiphertextBlob=blob)


# moto answers ScheduleKeyDeletion with the key id where AWS gives the key ARN.
@pytest.mark.aws_behaviour
def test_schedule_and_cancel_deletion(kms, sym_key):
    kid = sym_key["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    now = datetime.datetime.now(datetime.timezone.utc)
    resp = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert resp["KeyId"] == sym_key["Arn"]
    assert resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == 7
    delta = resp["DeletionDate"] - now
    assert datetime.timedelta(days=6) < delta <= datetime.timedelta(days=7, hours=1), delta
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion" and md["Enabled"] is False
    assert md["DeletionDate"] == resp["DeletionDate"]
    expect_error("KMSInvalidStateException", kms.encrypt, KeyId=kid, Plaintext=b"x")
    expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
    expect_error("KMSInvalidStateException", kms.enable_key, KeyId=kid)
    assert kms.cancel_key_deletion(KeyId=kid)["KeyId"] == sym_key["Arn"]
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and "DeletionDate" not in md
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


# moto leaves PendingWindowInDays out of the response.
@pytest.mark.aws_behaviour
def test_schedule_deletion_default_window_is_30(kms, sym_key):
    resp = kms.schedule_key_deletion(KeyId=sym_key["KeyId"])
    assert resp["PendingWindowInDays"] == 30
    kms.cancel_key_deletion(KeyId=sym_key["KeyId"])


# moto accepts any window botocore lets through (1..365); AWS allows 7..30.
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("days", [6, 31, 365])
def test_schedule_deletion_window_outside_7_to_30(kms, sym_key, days):
    expect_error("ValidationException", kms.schedule_key_deletion, KeyId=sym_key["KeyId"],
                 PendingWindowInDays=days)
    assert kms.describe_key(KeyId=sym_key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


# moto lets CancelKeyDeletion succeed on a key that is not pending deletion.
@pytest.mark.aws_behaviour
def test_cancel_deletion_of_enabled_key(kms, sym_key):
    expect_error("KMSInvalidStateException", kms.cancel_key_deletion, KeyId=sym_key["KeyId"])


def test_update_key_description(kms, sym_key):
    kms.update_key_description(KeyId=sym_key["Arn"], Description="new words")
    assert kms.describe_key(KeyId=sym_key["KeyId"])["KeyMetadata"]["Description"] == "new words"
    expect_error("NotFoundException", kms.update_key_description, KeyId=str(uuid.uuid4()),
                 Description="x")


def test_create_key_with_tags_and_tag_untag(kms):
    md = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "pay"}])["KeyMetadata"]
    kid = md["KeyId"]
    tags = kms.list_resource_tags(KeyId=kid)
    assert tags["Tags"] == [{"TagKey": "team", "TagValue": "pay"}]
    assert tags["Truncated"] is False
    kms.tag_resource(KeyId=md["Arn"], Tags=[{"TagKey": "env", "TagValue": "test"},
                                            {"TagKey": "team", "TagValue": "ops"}])
    got = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]}
    assert got == {"team": "ops", "env": "test"}
    kms.untag_resource(KeyId=kid, TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "env", "TagValue": "test"}]


# moto does not check the tag key's prefix; AWS reserves aws: (TagException).
@pytest.mark.aws_behaviour
def test_reserved_tag_prefix(kms, sym_key):
    expect_error("TagException", kms.tag_resource, KeyId=sym_key["KeyId"],
                 Tags=[{"TagKey": "aws:owner", "TagValue": "x"}])


def test_aliases_create_list_update_delete(kms):
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    alias = new_alias()
    assert kms.create_alias(AliasName=alias, TargetKeyId=k1["Arn"])[
        "ResponseMetadata"]["HTTPStatusCode"] == 200
    listed = kms.list_aliases(KeyId=k1["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [alias]
    entry = listed[0]
    assert entry["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    assert entry["TargetKeyId"] == k1["KeyId"]
    all_names = set()
    marker = None
    while True:
        page = kms.list_aliases(**({"Marker": marker} if marker else {}))
        all_names |= {a["AliasName"] for a in page["Aliases"]}
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert alias in all_names
    expect_error("AlreadyExistsException", kms.create_alias, AliasName=alias,
                 TargetKeyId=k2["KeyId"])
    kms.update_alias(AliasName=alias, TargetKeyId=k2["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == k2["KeyId"]
    assert kms.list_aliases(KeyId=k1["KeyId"])["Aliases"] == []
    kms.delete_alias(AliasName=alias)
    expect_error("NotFoundException", kms.describe_key, KeyId=alias)
    expect_error("NotFoundException", kms.delete_alias, AliasName=alias)


# moto lets a customer create an alias under alias/aws/ (reserved by AWS).
@pytest.mark.parametrize("name", [pytest.param("alias/aws/mine", marks=pytest.mark.aws_behaviour),
                                  "alias/has space", "noprefix"])
def test_alias_bad_names(kms, sym_key, name):
    with pytest.raises(ClientError) as ei:
        kms.create_alias(AliasName=name, TargetKeyId=sym_key["KeyId"])
    code = ei.value.response["Error"]["Code"]
    # AWS: InvalidAliasNameException (CreateAlias's own error for a bad name) or
    # ValidationException for the grammar, NotAuthorizedException for alias/aws/.
    assert code in ("InvalidAliasNameException", "ValidationException",
                    "NotAuthorizedException"), code


def test_create_alias_unknown_key(kms):
    expect_error("NotFoundException", kms.create_alias, AliasName=new_alias(),
                 TargetKeyId=str(uuid.uuid4()))
