"""Key policies (PutKeyPolicy, GetKeyPolicy, ListKeyPolicies) and grants
(CreateGrant, ListGrants, RetireGrant, RevokeGrant) through boto3, with the
principals alice and bob refused or allowed as the policy and grants say."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, expect_error

ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB_ARN = f"arn:aws:iam::{ACCOUNT}:user/bob"


def policy(*statements):
    owner = {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": ROOT_ARN},
             "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Id": "aws-tests",
                       "Statement": [owner, *statements]})


ALICE_ENCRYPT = {"Sid": "AliceEncrypt", "Effect": "Allow", "Principal": {"AWS": ALICE_ARN},
                 "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}
ALICE_DECRYPT_TENANT7 = {
    "Sid": "AliceDecryptTenant7", "Effect": "Allow", "Principal": {"AWS": ALICE_ARN},
    "Action": "kms:Decrypt", "Resource": "*",
    "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "7"}}}


def test_put_get_list_key_policy(kms, sym_key):
    kid = sym_key["KeyId"]
    assert kms.list_key_policies(KeyId=kid)["PolicyNames"] == ["default"]
    default = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
    assert default["Statement"], default
    kms.put_key_policy(KeyId=sym_key["Arn"], PolicyName="default",
                       Policy=policy(ALICE_ENCRYPT, ALICE_DECRYPT_TENANT7))
    got = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
    by_sid = {s["Sid"]: s for s in got["Statement"]}
    assert set(by_sid) == {"Owner", "AliceEncrypt", "AliceDecryptTenant7"}
    st = by_sid["AliceDecryptTenant7"]
    assert st["Effect"] == "Allow"
    principal = st["Principal"]["AWS"]
    assert principal == ALICE_ARN or principal == [ALICE_ARN]
    action = st["Action"]
    assert action == "kms:Decrypt" or action == ["kms:Decrypt"]
    assert st["Condition"] == {"StringEquals": {"kms:EncryptionContext:tenant": "7"}}
    enc = by_sid["AliceEncrypt"]["Action"]
    assert sorted([enc] if isinstance(enc, str) else enc) == ["kms:DescribeKey", "kms:Encrypt"]


# moto stores any text as the policy; AWS refuses what is not a policy document.
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("text", ["not json", "{}", json.dumps({"Statement": "x"})])
def test_put_key_policy_malformed(kms, sym_key, text):
    expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=sym_key["KeyId"],
                 PolicyName="default", Policy=text)


@pytest.mark.softkms_only
@pytest.mark.parametrize("statement", [
    # AWS accepts these; SoftKMS refuses the constructs its model cannot hold.
    {"Effect": "Deny", "Principal": {"AWS": ALICE_ARN}, "Action": "kms:Decrypt", "Resource": "*"},
    {"Effect": "Allow", "Principal": {"AWS": ALICE_ARN}, "NotAction": "kms:Decrypt",
     "Resource": "*"},
    {"Effect": "Allow", "Principal": {"AWS": ALICE_ARN}, "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringLike": {"kms:EncryptionContext:tenant": "7*"}}},
    {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:Decrypt",
     "Resource": "*"},
])
def test_put_key_policy_unsupported_grammar(kms, sym_key, statement):
    before = kms.get_key_policy(KeyId=sym_key["KeyId"], PolicyName="default")["Policy"]
    with pytest.raises(ClientError) as ei:
        kms.put_key_policy(KeyId=sym_key["KeyId"], PolicyName="default", Policy=policy(statement))
    err = ei.value.response["Error"]
    assert err["Code"] in ("MalformedPolicyDocumentException", "ValidationException"), err
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert kms.get_key_policy(KeyId=sym_key["KeyId"], PolicyName="default")["Policy"] == before


# moto does not enforce key policies for principals (it has no principals).
@pytest.mark.aws_behaviour
def test_policy_denies_alice(kms, kms_alice, kms_bob, sym_key):
    kid = sym_key["KeyId"]
    kms.put_key_policy(KeyId=kid, PolicyName="default",
                       Policy=policy(ALICE_ENCRYPT, ALICE_DECRYPT_TENANT7))
    ok = kms_alice.encrypt(KeyId=sym_key["Arn"], Plaintext=b"a", EncryptionContext={"tenant": "7"})
    assert ok["KeyId"] == sym_key["Arn"]
    assert kms_alice.decrypt(CiphertextBlob=ok["CiphertextBlob"],
                             EncryptionContext={"tenant": "7"})["Plaintext"] == b"a"
    other = kms.encrypt(KeyId=kid, Plaintext=b"b", EncryptionContext={"tenant": "8"})[
        "CiphertextBlob"]
    err = expect_error("AccessDeniedException", kms_alice.decrypt, CiphertextBlob=other,
                       EncryptionContext={"tenant": "8"})
    assert "alice" in err["Error"]["Message"], err["Error"]["Message"]
    expect_error("AccessDeniedException", kms_alice.generate_data_key, KeyId=kid,
                 KeySpec="AES_256")
    expect_error("AccessDeniedException", kms_alice.put_key_policy, KeyId=kid,
                 PolicyName="default", Policy=policy())
    expect_error("AccessDeniedException", kms_alice.schedule_key_deletion, KeyId=kid,
                 PendingWindowInDays=7)
    expect_error("AccessDeniedException", kms_bob.encrypt, KeyId=kid, Plaintext=b"x")
    # The owner still does all.
    assert kms.decrypt(CiphertextBlob=other, EncryptionContext={"tenant": "8"})["Plaintext"] == b"b"
    # DescribeKey is an action of the policy too (kms:DescribeKey).
    expect_error("AccessDeniedException", kms_bob.describe_key, KeyId=kid)


def _root_only(kms, kid):
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=policy())


def test_grants_create_list_retire_revoke(kms, kms_bob, sym_key):
    kid = sym_key["KeyId"]
    g = kms.create_grant(KeyId=sym_key["Arn"], GranteePrincipal=BOB_ARN, Operations=["Decrypt"],
                         Constraints={"EncryptionContextSubset": {"dept": "x"}},
                         RetiringPrincipal=BOB_ARN, Name="bob-decrypt")
    assert g["GrantId"] and g["GrantToken"]
    grants = kms.list_grants(KeyId=kid)
    assert grants["Truncated"] is False
    mine = [x for x in grants["Grants"] if x["GrantId"] == g["GrantId"]]
    assert len(mine) == 1
    x = mine[0]
    assert x["KeyId"] in (sym_key["KeyId"], sym_key["Arn"])
    assert x["GranteePrincipal"] == BOB_ARN and x["RetiringPrincipal"] == BOB_ARN
    assert x["Operations"] == ["Decrypt"]
    assert x["Constraints"] == {"EncryptionContextSubset": {"dept": "x"}}
    assert x["Name"] == "bob-decrypt"
    assert kms.list_grants(KeyId=kid, GrantId=g["GrantId"])["Grants"][0]["GrantId"] == g["GrantId"]
    kms_bob.retire_grant(KeyId=sym_key["Arn"], GrantId=g["GrantId"])
    assert all(x["GrantId"] != g["GrantId"] for x in kms.list_grants(KeyId=kid)["Grants"])
    g2 = kms.create_grant(KeyId=kid, GranteePrincipal=BOB_ARN, Operations=["Decrypt", "Encrypt"])
    kms.revoke_grant(KeyId=kid, GrantId=g2["GrantId"])
    assert all(x["GrantId"] != g2["GrantId"] for x in kms.list_grants(KeyId=kid)["Grants"])


# moto lists a grant's KeyId as the key id (AWS: the key ARN) and leaves
# IssuingAccount and CreationDate out.
@pytest.mark.aws_behaviour
def test_list_grants_fields(kms, sym_key):
    kms.create_grant(KeyId=sym_key["KeyId"], GranteePrincipal=BOB_ARN, Operations=["Encrypt"])
    grants = kms.list_grants(KeyId=sym_key["KeyId"])["Grants"]
    assert grants and all(g["KeyId"] == sym_key["Arn"] for g in grants), grants
    assert all(g["IssuingAccount"] == ROOT_ARN for g in grants), grants
    assert all("CreationDate" in g for g in grants), grants


# moto keeps grants but enforces neither policies nor grants.
@pytest.mark.aws_behaviour
def test_grant_lets_bob_decrypt_within_its_constraint(kms, kms_bob, sym_key):
    kid = sym_key["KeyId"]
    _root_only(kms, kid)
    inside = kms.encrypt(KeyId=kid, Plaintext=b"in", EncryptionContext={"dept": "x", "n": "1"})[
        "CiphertextBlob"]
    outside = kms.encrypt(KeyId=kid, Plaintext=b"out", EncryptionContext={"dept": "y"})[
        "CiphertextBlob"]
    bare = kms.encrypt(KeyId=kid, Plaintext=b"bare")["CiphertextBlob"]
    expect_error("AccessDeniedException", kms_bob.decrypt, CiphertextBlob=inside,
                 EncryptionContext={"dept": "x", "n": "1"})
    g = kms.create_grant(KeyId=kid, GranteePrincipal=BOB_ARN, Operations=["Decrypt"],
                         Constraints={"EncryptionContextSubset": {"dept": "x"}},
                         RetiringPrincipal=BOB_ARN)
    dec = kms_bob.decrypt(CiphertextBlob=inside, EncryptionContext={"dept": "x", "n": "1"},
                          GrantTokens=[g["GrantToken"]])
    assert dec["Plaintext"] == b"in" and dec["KeyId"] == sym_key["Arn"]
    assert kms_bob.decrypt(CiphertextBlob=inside,
                           EncryptionContext={"dept": "x", "n": "1"})["Plaintext"] == b"in"
    expect_error("AccessDeniedException", kms_bob.decrypt, CiphertextBlob=outside,
                 EncryptionContext={"dept": "y"})
    expect_error("AccessDeniedException", kms_bob.decrypt, CiphertextBlob=bare)
    expect_error("AccessDeniedException", kms_bob.encrypt, KeyId=kid, Plaintext=b"x",
                 EncryptionContext={"dept": "x"})
    # bob may not grant himself more.
    expect_error("AccessDeniedException", kms_bob.create_grant, KeyId=kid, GranteePrincipal=BOB_ARN,
                 Operations=["Encrypt"])
    kms_bob.retire_grant(KeyId=sym_key["Arn"], GrantId=g["GrantId"])
    expect_error("AccessDeniedException", kms_bob.decrypt, CiphertextBlob=inside,
                 EncryptionContext={"dept": "x", "n": "1"})
    g2 = kms.create_grant(KeyId=kid, GranteePrincipal=BOB_ARN, Operations=["Decrypt"])
    assert kms_bob.decrypt(CiphertextBlob=bare)["Plaintext"] == b"bare"
    kms.revoke_grant(KeyId=kid, GrantId=g2["GrantId"])
    expect_error("AccessDeniedException", kms_bob.decrypt, CiphertextBlob=bare)
    # The retiring principal may retire, not revoke (RevokeGrant needs
    # kms:RevokeGrant in the key policy).
    g3 = kms.create_grant(KeyId=kid, GranteePrincipal=BOB_ARN, Operations=["Decrypt"],
                          RetiringPrincipal=BOB_ARN)
    expect_error("AccessDeniedException", kms_bob.revoke_grant, KeyId=kid, GrantId=g3["GrantId"])


def test_revoke_unknown_grant(kms, sym_key):
    with pytest.raises(ClientError) as ei:
        kms.revoke_grant(KeyId=sym_key["KeyId"], GrantId="0" * 64)
    assert ei.value.response["Error"]["Code"] in ("NotFoundException", "InvalidGrantIdException")


# moto accepts operations that a grant cannot carry.
@pytest.mark.aws_behaviour
def test_create_grant_bad_operation(kms_raw, sym_key):
    expect_error("ValidationException", kms_raw.create_grant, KeyId=sym_key["KeyId"],
                 GranteePrincipal=BOB_ARN, Operations=["DeleteEverything"])
