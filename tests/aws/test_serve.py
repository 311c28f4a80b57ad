"""The server as a process: 64 concurrent clients served without errors, and
the start-up refusals (a token file readable by others, a non-loopback
address without TLS)."""

import concurrent.futures
import subprocess

import pytest

from conftest import ACCOUNT, REGION, SO_PIN, USER_PIN, _isolated_env


def test_64_concurrent_clients(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    clients = [server.client("user") for _ in range(64)]

    def work(i):
        c = clients[i]
        for j in range(3):
            msg = f"client {i} call {j}".encode()
            blob = c.encrypt(KeyId=key, Plaintext=msg, EncryptionContext={"i": str(i)})[
                "CiphertextBlob"]
            assert c.decrypt(CiphertextBlob=blob, EncryptionContext={"i": str(i)})[
                "Plaintext"] == msg
            assert len(c.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]) == 32
        return i

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        done = sorted(pool.map(work, range(64)))
    assert done == list(range(64))


def _fresh_token(tmp_path, server):
    env = _isolated_env(tmp_path)
    conf = tmp_path / "softkms.toml"
    conf.write_text('[[slot]]\npath = "token.db"\nkdf = "fast"\n')
    env["SOFTKMS_CONF"] = str(conf)
    subprocess.run([server.bin, "token", "init", "--label", "other"], check=True,
                   env=dict(env, SOFTKMS_SO_PIN=SO_PIN, SOFTKMS_PIN=USER_PIN),
                   capture_output=True, timeout=120)
    for f in tmp_path.iterdir():
        if f.is_file():
            f.chmod(0o600)
    return env


def _serve(server, env, listen):
    return subprocess.run(
        [server.bin, "serve", "--listen", listen, "--region", REGION, "--account", ACCOUNT],
        env=dict(env, SOFTKMS_PIN=USER_PIN), capture_output=True, text=True, timeout=60)


@pytest.mark.softkms_only
def test_refuses_token_readable_by_others(server, tmp_path):
    env = _fresh_token(tmp_path, server)
    (tmp_path / "token.db").chmod(0o644)
    p = _serve(server, env, "127.0.0.1:0")
    assert p.returncode != 0, p.stdout
    assert "listening" not in p.stdout
    assert "token.db" in p.stderr, p.stderr


@pytest.mark.softkms_only
def test_refuses_plain_http_off_loopback(server, tmp_path):
    env = _fresh_token(tmp_path, server)
    p = _serve(server, env, "0.0.0.0:0")
    assert p.returncode != 0, p.stdout
    assert "TLS" in p.stderr, p.stderr
