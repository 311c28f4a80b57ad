"""The `aws` CLI (PyPI awscli) against the server with --endpoint-url:
create-key, encrypt (fileb://), decrypt, generate-data-key, create-alias,
sign/verify, schedule-key-deletion."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REGION, new_alias

AWS = str(Path(sys.executable).with_name("aws"))


@pytest.fixture
def aws(server, tmp_path):
    ak, sk = server.creds["user"]
    env = dict(server.env, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="")

    # awscli v1 exits 255 on a service error (v2: 254).
    def run(*args, expect_rc=0):
        p = subprocess.run([AWS, "--endpoint-url", server.endpoint, "--output", "json", "kms",
                            *args], env=env, capture_output=True, text=True, cwd=tmp_path,
                           timeout=120)
        assert p.returncode == expect_rc, f"aws kms {' '.join(args)}: {p.returncode}\n{p.stderr}"
        return json.loads(p.stdout) if expect_rc == 0 and p.stdout.strip() else p

    return run


def test_cli_encrypt_decrypt_alias_datakey(aws, tmp_path):
    md = aws("create-key", "--description", "from the aws cli")["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["Description"] == "from the aws cli"
    alias = new_alias("cli")
    aws("create-alias", "--alias-name", alias, "--target-key-id", md["KeyId"])
    (tmp_path / "plain.txt").write_bytes(b"cli plaintext \x00\xff")
    enc = aws("encrypt", "--key-id", alias, "--plaintext", "fileb://plain.txt",
              "--encryption-context", "app=cli,env=test")
    assert enc["KeyId"] == md["Arn"]
    (tmp_path / "blob").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = aws("decrypt", "--ciphertext-blob", "fileb://blob", "--encryption-context",
              "app=cli,env=test")
    assert base64.b64decode(dec["Plaintext"]) == b"cli plaintext \x00\xff"
    assert dec["KeyId"] == md["Arn"]
    bad = aws("decrypt", "--ciphertext-blob", "fileb://blob", "--encryption-context", "app=cli",
              expect_rc=255)
    assert "InvalidCiphertextException" in bad.stderr
    dk = aws("generate-data-key", "--key-id", md["Arn"], "--key-spec", "AES_256")
    assert len(base64.b64decode(dk["Plaintext"])) == 32
    (tmp_path / "dk").write_bytes(base64.b64decode(dk["CiphertextBlob"]))
    assert aws("decrypt", "--ciphertext-blob", "fileb://dk")["Plaintext"] == dk["Plaintext"]
    sched = aws("schedule-key-deletion", "--key-id", md["KeyId"], "--pending-window-in-days", "7")
    assert sched["KeyId"] in (md["KeyId"], md["Arn"]) and sched["DeletionDate"]
    assert aws("describe-key", "--key-id", alias)["KeyMetadata"]["KeyState"] == "PendingDeletion"


# moto encrypts under a key pending deletion (AWS: KMSInvalidStateException).
@pytest.mark.aws_behaviour
def test_cli_key_pending_deletion_refuses(aws, tmp_path):
    md = aws("create-key")["KeyMetadata"]
    aws("schedule-key-deletion", "--key-id", md["KeyId"], "--pending-window-in-days", "30")
    (tmp_path / "plain.txt").write_bytes(b"x")
    gone = aws("encrypt", "--key-id", md["KeyId"], "--plaintext", "fileb://plain.txt",
               expect_rc=255)
    assert "KMSInvalidStateException" in gone.stderr


def test_cli_sign_verify(aws, tmp_path):
    md = aws("create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY")[
        "KeyMetadata"]
    (tmp_path / "msg").write_bytes(b"signed by the cli")
    sig = aws("sign", "--key-id", md["KeyId"], "--message", "fileb://msg", "--message-type", "RAW",
              "--signing-algorithm", "ECDSA_SHA_256")
    assert sig["SigningAlgorithm"] == "ECDSA_SHA_256"
    (tmp_path / "sig").write_bytes(base64.b64decode(sig["Signature"]))
    ok = aws("verify", "--key-id", md["KeyId"], "--message", "fileb://msg", "--message-type", "RAW",
             "--signature", "fileb://sig", "--signing-algorithm", "ECDSA_SHA_256")
    assert ok["SignatureValid"] is True
    pub = aws("get-public-key", "--key-id", md["Arn"])
    assert base64.b64decode(pub["PublicKey"]).startswith(b"\x30")


# moto answers SignatureValid=false instead of KMSInvalidSignatureException.
@pytest.mark.aws_behaviour
def test_cli_verify_bad_signature(aws, tmp_path):
    md = aws("create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY")[
        "KeyMetadata"]
    (tmp_path / "msg").write_bytes(b"one")
    (tmp_path / "other").write_bytes(b"two")
    sig = aws("sign", "--key-id", md["KeyId"], "--message", "fileb://msg",
              "--signing-algorithm", "ECDSA_SHA_256")
    (tmp_path / "sig").write_bytes(base64.b64decode(sig["Signature"]))
    bad = aws("verify", "--key-id", md["KeyId"], "--message", "fileb://other", "--signature",
              "fileb://sig", "--signing-algorithm", "ECDSA_SHA_256", expect_rc=255)
    assert "KMSInvalidSignatureException" in bad.stderr
