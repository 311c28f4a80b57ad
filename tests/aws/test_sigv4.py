"""SigV4 verification: requests crafted with botocore's signer and sent with
`requests`, so that each part of the signature can be wrong on purpose."""

import datetime
import json
from unittest import mock

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION


def send(server, operation, body, access_key=None, secret=None, when=None, tamper=None,
         region=REGION):
    """POSTs one JSON 1.1 request; signs it unless access_key is None. `when`
    signs at another time; `tamper(headers, body)` changes it after signing."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": f"TrentService.{operation}"}
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=data, headers=headers)
    if access_key is not None:
        signer = SigV4Auth(Credentials(access_key, secret), "kms", region)
        if when is None:
            signer.add_auth(req)
        else:
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
                signer.add_auth(req)
    prepared = req.prepare()
    hdrs, payload = dict(prepared.headers), prepared.body
    if tamper:
        hdrs, payload = tamper(hdrs, payload)
    resp = requests.post(server.endpoint + "/", data=payload, headers=hdrs, timeout=60)
    try:
        doc = resp.json()
    except ValueError:
        doc = {}
    return resp.status_code, doc


def error_code(doc):
    """The error type as botocore reads it (`__type`, maybe with a namespace)."""
    t = doc.get("__type") or doc.get("code") or ""
    return t.rsplit("#", 1)[-1]


def error_message(doc):
    return doc.get("message") or doc.get("Message") or ""


def test_well_signed_request_works(server):
    ak, sk = server.creds["user"]
    status, doc = send(server, "GenerateRandom", {"NumberOfBytes": 8}, ak, sk)
    assert status == 200, doc
    assert "Plaintext" in doc


# moto does not verify signatures (it has no secrets to check them with).
@pytest.mark.aws_behaviour
def test_wrong_secret(server):
    ak, sk = server.creds["user"]
    status, doc = send(server, "ListKeys", {}, ak, sk + "x")
    assert status == 400, doc
    assert error_code(doc) == "InvalidSignatureException", doc
    assert "signature" in error_message(doc).lower()


# moto does not verify signatures.
@pytest.mark.aws_behaviour
def test_body_changed_after_signing(server):
    ak, sk = server.creds["user"]

    def tamper(h, body):
        return h, body.replace(b"8", b"9")

    status, doc = send(server, "GenerateRandom", {"NumberOfBytes": 8}, ak, sk, tamper=tamper)
    assert status == 400 and error_code(doc) == "InvalidSignatureException", doc


# moto does not verify signatures.
@pytest.mark.aws_behaviour
def test_target_header_changed_after_signing(server):
    ak, sk = server.creds["user"]

    def tamper(h, body):
        h = dict(h)
        h["X-Amz-Target"] = "TrentService.ListAliases"
        return h, body

    status, doc = send(server, "ListKeys", {}, ak, sk, tamper=tamper)
    assert status == 400 and error_code(doc) == "InvalidSignatureException", doc


# moto accepts any access key.
@pytest.mark.aws_behaviour
def test_unknown_access_key(server):
    status, doc = send(server, "ListKeys", {}, "AKIAUNKNOWNUNKNOWN00", "whatever")
    assert status == 400, doc
    assert error_code(doc) == "UnrecognizedClientException", doc


# moto checks no request time.
@pytest.mark.aws_behaviour
@pytest.mark.parametrize("minutes", [-6, 6])
def test_outside_skew_window(server, minutes):
    ak, sk = server.creds["user"]
    when = datetime.datetime.utcnow() + datetime.timedelta(minutes=minutes)
    status, doc = send(server, "ListKeys", {}, ak, sk, when=when)
    assert status == 400, doc
    assert error_code(doc) == "InvalidSignatureException", doc
    if minutes < 0:
        assert "Signature expired" in error_message(doc), doc
    else:
        assert "Signature not yet current" in error_message(doc), doc


def test_inside_skew_window(server):
    ak, sk = server.creds["user"]
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=3)
    status, doc = send(server, "ListKeys", {}, ak, sk, when=when)
    assert status == 200, doc


# moto serves unsigned requests.
@pytest.mark.aws_behaviour
def test_unsigned_request(server):
    status, doc = send(server, "ListKeys", {})
    # AWS's JSON services answer MissingAuthenticationTokenException (the
    # botocore name drops no suffix); 400 on coral services, 403 elsewhere.
    assert error_code(doc) in ("MissingAuthenticationToken",
                               "MissingAuthenticationTokenException"), (status, doc)
    assert status in (400, 403)


# moto does not verify signatures, so the scope's region is not checked.
@pytest.mark.aws_behaviour
def test_signed_for_another_region(server):
    ak, sk = server.creds["user"]
    status, doc = send(server, "ListKeys", {}, ak, sk, region="eu-west-1")
    assert status == 400, doc
    assert error_code(doc) in ("InvalidSignatureException", "IncompleteSignatureException"), doc


# moto answers an unknown X-Amz-Target with a 404 HTML page.
@pytest.mark.aws_behaviour
def test_unknown_operation(server):
    ak, sk = server.creds["user"]
    status, doc = send(server, "NoSuchOperation", {}, ak, sk)
    assert status == 400, doc
    assert error_code(doc) in ("UnknownOperationException", "InvalidAction"), doc


# moto answers malformed JSON with a 500 (a Python exception).
@pytest.mark.aws_behaviour
def test_malformed_json_body(server):
    ak, sk = server.creds["user"]

    # Sign a body that is not JSON: build the request by hand.
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=b"{not json",
                     headers={"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": "TrentService.ListKeys"})
    SigV4Auth(Credentials(ak, sk), "kms", REGION).add_auth(req)
    p = req.prepare()
    resp = requests.post(server.endpoint + "/", data=p.body, headers=dict(p.headers), timeout=60)
    assert resp.status_code == 400, resp.text
    assert error_code(resp.json()) in ("SerializationException", "ValidationException"), resp.text
