#!/usr/bin/env python3
"""Interoperability of a PKCS#11 module with the python-pkcs11 package.

Usage:
  python_pkcs11_check.py --init MODULE LABEL SO_PIN USER_PIN
      C_InitToken + C_InitPIN on the first slot with a token, through ctypes
      (python-pkcs11 has no C_InitToken); run in its own process, before the
      checks, so that the checks' process does its own C_Initialize.
  python_pkcs11_check.py MODULE LABEL USER_PIN
      pkcs11.lib(MODULE).get_token(token_label=LABEL).open(user_pin=…, rw=True)
      and the checks, one line each ("ok   NAME" or "FAIL NAME: why"), then
      exactly "python-pkcs11: N passed, N failed"; exit status 1 on a failure.
"""
import ctypes
import hashlib
import sys
import traceback


def init_token(module, label, so_pin, user_pin):
    ul = ctypes.c_ulong
    lib = ctypes.CDLL(module)
    # Through C_GetFunctionList: a module need not export the other symbols.
    # CK_FUNCTION_LIST = CK_VERSION (padded to a pointer) + function pointers.
    names = ["C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList",
             "C_GetSlotList", "C_GetSlotInfo", "C_GetTokenInfo", "C_GetMechanismList",
             "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN", "C_OpenSession",
             "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo",
             "C_GetOperationState", "C_SetOperationState", "C_Login", "C_Logout"]
    fl = ctypes.c_void_p()
    if lib.C_GetFunctionList(ctypes.byref(fl)) != 0 or not fl.value:
        raise SystemExit("C_GetFunctionList failed")
    ptrs = ctypes.cast(fl.value + ctypes.sizeof(ctypes.c_void_p),
                       ctypes.POINTER(ctypes.c_void_p))
    fns = {n: ctypes.CFUNCTYPE(ul)(ptrs[i]) for i, n in enumerate(names)}

    def call(name, *args):
        rv = fns[name](*args)
        if rv != 0:
            raise SystemExit(f"{name} = 0x{rv:08X}")

    call("C_Initialize", None)
    try:
        n = ul(0)
        call("C_GetSlotList", ctypes.c_ubyte(1), None, ctypes.byref(n))
        if n.value == 0:
            raise SystemExit("no slot with a token")
        slots = (ul * n.value)()
        call("C_GetSlotList", ctypes.c_ubyte(1), slots, ctypes.byref(n))
        slot = ul(slots[0])
        so, pin = so_pin.encode(), user_pin.encode()
        label32 = label.encode().ljust(32, b" ")[:32]
        call("C_InitToken", slot, ctypes.c_char_p(so), ul(len(so)), ctypes.c_char_p(label32))
        h = ul(0)
        CKF_RW_SESSION, CKF_SERIAL_SESSION, CKU_SO = 2, 4, 0
        call("C_OpenSession", slot, ul(CKF_RW_SESSION | CKF_SERIAL_SESSION), None, None,
             ctypes.byref(h))
        call("C_Login", h, ul(CKU_SO), ctypes.c_char_p(so), ul(len(so)))
        call("C_InitPIN", h, ctypes.c_char_p(pin), ul(len(pin)))
        call("C_Logout", h)
        call("C_CloseSession", h)
    finally:
        fns["C_Finalize"](None)


def run_checks(module, label, user_pin):
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, MGF, ObjectClass
    from pkcs11.mechanisms import GCMParams
    from pkcs11.util.ec import encode_named_curve_parameters

    passed = failed = 0
    state = {}

    def check(name, fn):
        nonlocal passed, failed
        try:
            why = fn()
        except Exception as e:  # a PKCS#11 error surfaces as a pkcs11.exceptions.* class
            why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            if not isinstance(e, pkcs11.exceptions.PKCS11Error):
                why += "\n" + traceback.format_exc()
        if why:
            failed += 1
            print(f"FAIL {name}: {why}")
        else:
            passed += 1
            print(f"ok   {name}")
        sys.stdout.flush()

    lib = pkcs11.lib(module)
    token = lib.get_token(token_label=label)
    session = token.open(user_pin=user_pin, rw=True)
    data = b"python-pkcs11 interop: the quick brown fox jumps over the lazy dog" * 3

    # --- AES ---------------------------------------------------------------
    def aes_gen():
        state["aes"] = k = session.generate_key(KeyType.AES, 256, label="aes")
        if k[Attribute.VALUE_LEN] != 32:
            return f"CKA_VALUE_LEN = {k[Attribute.VALUE_LEN]}, expected 32"

    def aes_cbc_pad():
        k = state["aes"]
        iv = session.generate_random(128)
        ct = k.encrypt(data, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv)
        if len(ct) != (len(data) // 16 + 1) * 16:
            return f"ciphertext of {len(ct)} bytes for {len(data)} bytes of plaintext"
        pt = k.decrypt(ct, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv)
        if pt != data:
            return "decrypt(encrypt(m)) != m"

    def aes_gcm():
        k = state["aes"]
        nonce = session.generate_random(96)
        p = GCMParams(nonce, aad=b"header-aad", tag_bits=128)
        ct = k.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=p)
        if len(ct) != len(data) + 16:
            return f"ciphertext||tag of {len(ct)} bytes, expected {len(data) + 16}"
        state["gcm"] = (nonce, ct)
        pt = k.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=p)
        if pt != data:
            return "decrypt(encrypt(m)) != m"

    def aes_gcm_bad_aad():
        k = state["aes"]
        nonce, ct = state["gcm"]
        try:
            k.decrypt(ct, mechanism=Mechanism.AES_GCM,
                      mechanism_param=GCMParams(nonce, aad=b"other-aad", tag_bits=128))
        except pkcs11.exceptions.PKCS11Error:
            return None
        return "decrypt with a different AAD succeeded"

    check("generate AES-256 key", aes_gen)
    check("AES-CBC-PAD encrypt/decrypt", aes_cbc_pad)
    check("AES-GCM encrypt/decrypt with AAD", aes_gcm)
    check("AES-GCM decrypt with a wrong AAD is rejected", aes_gcm_bad_aad)

    # --- RSA ---------------------------------------------------------------
    def rsa_gen():
        pub, priv = session.generate_keypair(KeyType.RSA, 2048, label="rsa")
        state["rsa"] = (pub, priv)
        bits = pub[Attribute.MODULUS_BITS]
        if bits != 2048 or len(pub[Attribute.MODULUS]) != 256:
            return f"CKA_MODULUS_BITS = {bits}"

    def rsa_pkcs1():
        pub, priv = state["rsa"]
        sig = priv.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
        if not pub.verify(data, sig, mechanism=Mechanism.SHA256_RSA_PKCS):
            return "C_Verify rejected the signature"
        if pub.verify(data + b"x", sig, mechanism=Mechanism.SHA256_RSA_PKCS):
            return "C_Verify accepted the signature of another message"
        # Independent check: s^e mod n must be the EMSA-PKCS1-v1_5 encoding.
        n = int.from_bytes(pub[Attribute.MODULUS], "big")
        e = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
        em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(256, "big")
        t = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(data).digest()
        if em != b"\x00\x01" + b"\xff" * (256 - 3 - len(t)) + b"\x00" + t:
            return "s^e mod n is not EMSA-PKCS1-v1_5(SHA-256(m)) (checked in Python)"

    def rsa_pss():
        pub, priv = state["rsa"]
        p = (Mechanism.SHA256, MGF.SHA256, 32)
        sig = priv.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=p)
        sig2 = priv.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=p)
        if sig == sig2:
            return "two PSS signatures with a 32-byte salt are equal"
        if not pub.verify(data, sig, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=p):
            return "C_Verify rejected the signature"
        if pub.verify(data + b"x", sig, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                      mechanism_param=p):
            return "C_Verify accepted the signature of another message"

    def rsa_oaep(params, what):
        def f():
            pub, priv = state["rsa"]
            msg = b"a secret of 32 bytes for OAEP.."
            ct = pub.encrypt(msg, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
            if len(ct) != 256:
                return f"ciphertext of {len(ct)} bytes"
            ct2 = pub.encrypt(msg, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
            if ct == ct2:
                return "OAEP is not randomized"
            pt = priv.decrypt(ct, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
            if pt != msg:
                return "decrypt(encrypt(m)) != m"
        return f

    check("generate RSA-2048 key pair", rsa_gen)
    check("SHA256-RSA-PKCS sign/verify (+ s^e mod n checked in Python)", rsa_pkcs1)
    check("SHA256-RSA-PKCS-PSS sign/verify", rsa_pss)
    check("RSA-PKCS-OAEP SHA-1 encrypt/decrypt",
          rsa_oaep((Mechanism.SHA_1, MGF.SHA1, None), "sha1"))
    check("RSA-PKCS-OAEP SHA-256 with a label encrypt/decrypt",
          rsa_oaep((Mechanism.SHA256, MGF.SHA256, b"label"), "sha256"))

    # --- EC ----------------------------------------------------------------
    def ec_gen():
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True)
        pub, priv = params.generate_keypair(label="ec")
        state["ec"] = (pub, priv)
        point = pub[Attribute.EC_POINT]
        # DER OCTET STRING (04 41) around the uncompressed point (04 || X || Y)
        if point[:3] != b"\x04\x41\x04" or len(point) != 67:
            return f"CKA_EC_POINT = {point[:4].hex()}… ({len(point)} bytes)"

    def ecdsa():
        pub, priv = state["ec"]
        sig = priv.sign(data, mechanism=Mechanism.ECDSA_SHA256)
        if len(sig) != 64:
            return f"signature of {len(sig)} bytes, expected r||s of 64"
        if not pub.verify(data, sig, mechanism=Mechanism.ECDSA_SHA256):
            return "C_Verify rejected the signature"
        if pub.verify(data + b"x", sig, mechanism=Mechanism.ECDSA_SHA256):
            return "C_Verify accepted the signature of another message"
        h = hashlib.sha256(data).digest()
        sig2 = priv.sign(h, mechanism=Mechanism.ECDSA)
        if not pub.verify(data, sig2, mechanism=Mechanism.ECDSA_SHA256):
            return "raw ECDSA over SHA-256(m) is not verified by ECDSA-SHA256 over m"

    check("generate EC P-256 key pair", ec_gen)
    check("ECDSA-SHA256 sign/verify (+ raw ECDSA over the hash)", ecdsa)

    # --- key wrapping ------------------------------------------------------
    def same_key(a, b):
        iv = bytes(16)
        ea = a.encrypt(data, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv)
        eb = b.encrypt(data, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv)
        return ea == eb

    def aes_wrap():
        kek = session.generate_key(KeyType.AES, 256, label="kek")
        target = session.generate_key(KeyType.AES, 256, label="target",
                                      template={Attribute.EXTRACTABLE: True,
                                                Attribute.SENSITIVE: True})
        state["target"] = target
        wrapped = kek.wrap_key(target, mechanism=Mechanism.AES_KEY_WRAP)
        if len(wrapped) != 40:
            return f"wrapped key of {len(wrapped)} bytes, expected 40"
        k2 = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped,
                            mechanism=Mechanism.AES_KEY_WRAP, label="unwrapped")
        if k2[Attribute.VALUE_LEN] != 32:
            return f"unwrapped CKA_VALUE_LEN = {k2[Attribute.VALUE_LEN]}"
        if not same_key(target, k2):
            return "the unwrapped key encrypts differently from the original"
        bad = bytearray(wrapped)
        bad[5] ^= 1
        try:
            kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, bytes(bad),
                           mechanism=Mechanism.AES_KEY_WRAP)
        except pkcs11.exceptions.PKCS11Error:
            return None
        return "unwrapping a corrupted blob succeeded"

    def rsa_wrap():
        pub, priv = state["rsa"]
        target = state["target"]
        p = (Mechanism.SHA256, MGF.SHA256, None)
        wrapped = pub.wrap_key(target, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=p)
        if len(wrapped) != 256:
            return f"wrapped key of {len(wrapped)} bytes"
        k2 = priv.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped,
                             mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=p,
                             label="unwrapped-rsa")
        if not same_key(target, k2):
            return "the unwrapped key encrypts differently from the original"

    check("AES-KEY-WRAP wrap/unwrap an AES-256 key", aes_wrap)
    check("RSA-PKCS-OAEP (SHA-256) wrap/unwrap an AES-256 key", rsa_wrap)

    # --- digest and random -------------------------------------------------
    def digest():
        d = session.digest(data, mechanism=Mechanism.SHA256)
        if d != hashlib.sha256(data).digest():
            return f"C_Digest = {d.hex()}, hashlib = {hashlib.sha256(data).hexdigest()}"
        parts = [data[:10], data[10:100], data[100:]]
        d2 = session.digest(iter(parts), mechanism=Mechanism.SHA256)
        if d2 != hashlib.sha256(data).digest():
            return "C_DigestUpdate/C_DigestFinal differ from hashlib"

    def random():
        a, b = session.generate_random(256), session.generate_random(256)
        if len(a) != 32 or len(b) != 32:
            return f"{len(a)} and {len(b)} bytes for 256 bits"
        if a == b:
            return "two C_GenerateRandom results are equal"

    check("SHA-256 digest (single and multi-part) against hashlib", digest)
    check("C_GenerateRandom", random)

    session.close()
    print(f"python-pkcs11: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "--init":
        init_token(*a[1:])
    elif len(a) == 3:
        sys.exit(run_checks(*a))
    else:
        sys.exit(__doc__)
