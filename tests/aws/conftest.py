"""Fixtures of the AWS KMS API suite (tests/aws/README.md).

The target is `softkms serve` on a fresh token in a temporary directory
(default), or moto's KMS server with `SOFTKMS_AWS_TARGET=moto`, to check the
suite's expectations against an AWS-like implementation.

Marks:
- `softkms_only`: SoftKMS's own behaviour (the audit, the .so, the policy
  grammar it refuses); skipped against moto.
- `aws_behaviour`: AWS KMS's behaviour that moto does not have (each such test
  says why in a comment); expected to fail (xfail, not strict) against moto,
  an ordinary test against SoftKMS.
"""

import base64
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("SOFTKMS_AWS_TARGET", "softkms")
REGION = "us-east-1"
ACCOUNT = "111122223333"
SO_PIN = "so-pin-aws-tests"
USER_PIN = "user-pin-aws-tests"
PRINCIPAL_PINS = {"alice": "alice-pin-aws-tests", "bob": "bob-pin-aws-tests"}
READY_TIMEOUT = 60
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KEY_ARN_RE = re.compile(rf"^arn:aws:kms:{REGION}:{ACCOUNT}:key/([0-9a-f-]{{36}})$")


def pytest_configure(config):
    config.addinivalue_line("markers", "softkms_only: SoftKMS-specific behaviour; skipped against moto")
    config.addinivalue_line(
        "markers", "aws_behaviour: AWS KMS behaviour that moto lacks; xfail against moto")


def _known_differences():
    """tests/aws/known-differences.txt: node id -> reason."""
    out = {}
    path = Path(__file__).with_name("known-differences.txt")
    for line in path.read_text().splitlines() if path.exists() else []:
        node, _, reason = line.partition("#")
        if node.strip():
            out[node.strip()] = reason.strip() or "a known difference from AWS KMS"
    return out


def pytest_collection_modifyitems(config, items):
    if TARGET != "moto":
        known = _known_differences()
        for item in items:
            reason = known.get(item.nodeid.removeprefix("tests/aws/"))
            if reason:
                item.add_marker(pytest.mark.xfail(reason=f"known difference: {reason}",
                                                  strict=True))
        return
    skip = pytest.mark.skip(reason="SoftKMS-specific (softkms_only)")
    xfail = pytest.mark.xfail(reason="moto differs from AWS here (aws_behaviour)", strict=False)
    for item in items:
        if "softkms_only" in item.keywords:
            item.add_marker(skip)
        elif "aws_behaviour" in item.keywords:
            item.add_marker(xfail)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _umask_077():
    os.umask(0o077)


@dataclass
class Server:
    """A running target: its URL, the credentials of each principal, and for
    SoftKMS the environment its CLI needs (SOFTKMS_CONF and the rest)."""

    kind: str
    endpoint: str
    creds: dict  # principal -> (access key id, secret)
    env: dict = field(default_factory=dict)
    workdir: Path = None
    bin: str = None
    module: str = None
    token_label: str = "aws-tests"
    proc: subprocess.Popen = None

    def principal_arn(self, principal):
        if principal == "user":
            return f"arn:aws:iam::{ACCOUNT}:root"
        return f"arn:aws:iam::{ACCOUNT}:user/{principal}"

    def client(self, principal="user", service="kms", **config):
        ak, sk = self.creds[principal]
        cfg = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=120,
                     **config)
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ak, aws_secret_access_key=sk, config=cfg)

    def softkms(self, *args, pin=USER_PIN, extra_env=None, check=True, timeout=120):
        """Runs the softkms CLI on the suite's token; returns the CompletedProcess."""
        env = dict(self.env)
        if pin is not None:
            env["SOFTKMS_PIN"] = pin
        env.update(extra_env or {})
        p = subprocess.run([self.bin, *args], env=env, capture_output=True, text=True,
                           timeout=timeout, preexec_fn=_umask_077)
        if check and p.returncode != 0:
            raise AssertionError(
                f"softkms {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p


def _read_ready_line(proc, pattern, stream, timeout):
    """Waits for a line matching pattern on stream, draining it to a list in a
    thread (so a chatty server never blocks on a full pipe)."""
    lines = queue.Queue()
    seen = []

    def drain():
        for line in stream:
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        m = re.search(pattern, line)
        if m:
            return m, seen
    raise AssertionError(f"no ready line within {timeout}s (exit {proc.poll()}):\n{''.join(seen)}")


def _isolated_env(work):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SOFTKMS_", "XDG_"))}
    for d in ("home", "config", "data", "state", "cache", "runtime"):
        (work / d).mkdir(mode=0o700, exist_ok=True)
    env.update({
        "HOME": str(work / "home"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_STATE_HOME": str(work / "state"),
        "XDG_CACHE_HOME": str(work / "cache"),
        "XDG_RUNTIME_DIR": str(work / "runtime"),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def _start_softkms(work):
    binary = os.environ.get("SOFTKMS_BIN", str(ROOT / "target/debug/softkms"))
    module = os.environ.get("SOFTKMS_MODULE", str(ROOT / "target/debug/libsoftkms.so"))
    if not os.access(binary, os.X_OK):
        pytest.exit(f"no softkms binary at {binary} (build it, or set SOFTKMS_BIN)", returncode=2)
    env = _isolated_env(work)
    conf = work / "softkms.toml"
    conf.write_text('[[slot]]\npath = "token.db"\nkdf = "fast"\naudit = "per-call"\n')
    conf.chmod(0o600)
    env["SOFTKMS_CONF"] = str(conf)
    srv = Server(kind="softkms", endpoint="", creds={}, env=env, workdir=work, bin=binary,
                 module=module)
    srv.softkms("token", "init", "--label", srv.token_label, pin=USER_PIN,
                extra_env={"SOFTKMS_SO_PIN": SO_PIN})
    for name, pin in PRINCIPAL_PINS.items():
        srv.softkms("user", "add", name, pin=None,
                    extra_env={"SOFTKMS_SO_PIN": SO_PIN, "SOFTKMS_NEW_PIN": pin})
    for principal in ("user", *PRINCIPAL_PINS):
        out = srv.softkms("access-key", "create", principal, "--json").stdout
        doc = json.loads(out)
        assert doc["Principal"], doc
        srv.creds[principal] = (doc["AccessKeyId"], doc["SecretAccessKey"])
    # The server refuses token files readable by others.
    for f in work.iterdir():
        if f.is_file():
            f.chmod(0o600)
    log = open(work / "serve.stderr", "w")
    serve_env = dict(env, SOFTKMS_PIN=USER_PIN)
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--region", REGION, "--account", ACCOUNT],
        env=serve_env, stdout=subprocess.PIPE, stderr=log, text=True, preexec_fn=_umask_077)
    try:
        m, _ = _read_ready_line(proc, r"softkms serve: listening on (http://127\.0\.0\.1:\d+)",
                                proc.stdout, READY_TIMEOUT)
    except AssertionError as e:
        proc.kill()
        raise AssertionError(f"{e}\nstderr:\n{(work / 'serve.stderr').read_text()}")
    srv.endpoint = m.group(1)
    srv.proc = proc
    return srv


def _start_moto(work):
    port = free_port()
    env = _isolated_env(work)
    env["MOTO_ACCOUNT_ID"] = ACCOUNT
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m, _ = _read_ready_line(proc, r"Running on (http://127\.0\.0\.1:\d+)", proc.stderr,
                            READY_TIMEOUT)
    creds = {p: (f"AKIA{p.upper():0<16}"[:20], f"dummy-secret-{p}") for p in
             ("user", *PRINCIPAL_PINS)}
    return Server(kind="moto", endpoint=m.group(1), creds=creds, env=env, workdir=work,
                  proc=proc)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("softkms-aws")
    work.chmod(0o700)
    srv = _start_moto(work) if TARGET == "moto" else _start_softkms(work)
    yield srv
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        raise AssertionError(f"{srv.kind} did not stop within 30 s of SIGTERM")
    if srv.kind == "softkms":
        assert rc == 0, f"softkms serve exited {rc} on SIGTERM:\n" + (
            work / "serve.stderr").read_text()


@pytest.fixture(scope="session")
def kms(server):
    """The token owner's client."""
    return server.client("user")


@pytest.fixture(scope="session")
def kms_alice(server):
    return server.client("alice")


@pytest.fixture(scope="session")
def kms_bob(server):
    return server.client("bob")


@pytest.fixture(scope="session")
def kms_raw(server):
    """The owner's client without botocore's parameter validation, to send
    values that AWS must refuse (NumberOfBytes 0, RotationPeriodInDays 89…)."""
    return server.client("user", parameter_validation=False)


def expect_error(code, fn, *args, status=400, **kwargs):
    """Calls fn and checks that it fails with the AWS error `code` and HTTP
    `status`; returns the error response."""
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    resp = ei.value.response
    assert resp["Error"]["Code"] == code, resp
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status, resp
    return resp


def names_key(ref, md):
    """For responses whose KeyId AWS documents loosely (RotateKeyOnDemand,
    GetKeyRotationStatus, ListKeyRotations, GenerateMac, VerifyMac): the key's
    id or its ARN."""
    return ref in (md["KeyId"], md["Arn"])


def key_id_of(arn_or_id):
    m = KEY_ARN_RE.match(arn_or_id)
    return m.group(1) if m else arn_or_id


def new_alias(prefix="t"):
    return f"alias/{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sym_key(kms):
    """A fresh SYMMETRIC_DEFAULT key: its KeyMetadata."""
    return kms.create_key(Description="aws-tests symmetric key")["KeyMetadata"]


def audit_records(server):
    """The token's audit records, oldest first (`softkms audit show --json`,
    read as the token owner)."""
    out = server.softkms("audit", "show", "--json").stdout
    return json.loads(out)


def b64(data):
    return base64.b64encode(data).decode()


__all__ = ["expect_error", "key_id_of", "new_alias", "audit_records", "UUID_RE", "KEY_ARN_RE",
           "ACCOUNT", "REGION", "TARGET", "b64", "names_key"]
