"""The audit of API requests, read with `softkms audit show --json`: a refused
request is a record naming the principal, the access key id, the operation
and the error, in the same hash chain as the .so's records."""

import json
import time

import pytest

from conftest import audit_records, expect_error

pytestmark = pytest.mark.softkms_only


def _seq(record):
    # `audit show --json` names it "sequence" (CloudTrail-like); docs/audit.md "seq".
    return record.get("sequence", record.get("seq", 0))


def _find(records, *needles, after=0):
    """The records after sequence `after` whose text holds every needle."""
    out = []
    for r in records:
        if _seq(r) <= after:
            continue
        text = json.dumps(r)
        if all(n in text for n in needles):
            out.append(r)
    return out


def _last_seq(server):
    recs = audit_records(server)
    return max((_seq(r) for r in recs), default=0)


def _wait_for(server, *needles, after):
    # Records of a refused request are durable before the answer (docs/audit.md);
    # a short retry covers a server that flushes just after answering.
    for _ in range(20):
        found = _find(audit_records(server), *needles, after=after)
        if found:
            return found
        time.sleep(0.25)
    return []


def test_refused_request_is_audited(server, kms, kms_alice, sym_key):
    kid = sym_key["KeyId"]
    owner = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": server.principal_arn("user")},
         "Action": "kms:*", "Resource": "*"}]})
    kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=owner)
    blob = kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"]
    after = _last_seq(server)
    expect_error("AccessDeniedException", kms_alice.decrypt, CiphertextBlob=blob)
    alice_ak = server.creds["alice"][0]
    found = _wait_for(server, alice_ak, "alice", "Decrypt", "AccessDeniedException", after=after)
    assert found, "no audit record of alice's refused Decrypt:\n" + json.dumps(
        _find(audit_records(server), after=after), indent=1)
    assert any(kid.replace("-", "") in json.dumps(r).replace("-", "") for r in found), found


def test_successful_request_is_audited_with_source(server, kms, sym_key):
    after = _last_seq(server)
    kms.encrypt(KeyId=sym_key["KeyId"], Plaintext=b"x")
    user_ak = server.creds["user"][0]
    found = _wait_for(server, user_ak, "Encrypt", "127.0.0.1", after=after)
    assert found, json.dumps(_find(audit_records(server), after=after), indent=1)


def test_bad_signature_is_audited(server):
    from test_sigv4 import send
    ak, sk = server.creds["bob"]
    after = _last_seq(server)
    status, doc = send(server, "ListKeys", {}, ak, sk + "x")
    assert status == 400, doc
    found = _wait_for(server, ak, "InvalidSignatureException", after=after)
    assert found, json.dumps(_find(audit_records(server), after=after), indent=1)


def test_audit_chain_verifies(server, kms):
    kms.generate_random(NumberOfBytes=8)
    p = server.softkms("audit", "verify", "--json")
    doc = json.loads(p.stdout)
    assert doc["ok"] is True, doc
