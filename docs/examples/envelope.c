/*
 * envelope.c - the SoftKMS vendor extensions from C, with nothing but
 * pkcs11.h and softkms.h: a managed key, a data key (GenerateDataKey),
 * envelope encryption in parts, rotation, and what happens to old messages.
 *
 *   cc -std=c11 -Wall -Wextra -Werror -I include -I /usr/include/p11-kit-1/p11-kit \
 *      docs/examples/envelope.c -o envelope -ldl
 *   SOFTKMS_CONF=/tmp/softkms.toml ./envelope target/debug/libsoftkms.so
 *
 * The configuration must name a slot whose token may be (re)initialized: the
 * program calls C_InitToken on the first slot. docs/examples/build-and-run.sh
 * makes such a configuration in a temporary directory.
 *
 * Every call's return value is checked; the last line is
 * "envelope.c: N passed, N failed" and the exit status is 0 only when all passed.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11.h"
#include "softkms.h"

static const char SO_PIN[] = "so-pin-1234";
static const char USER_PIN[] = "user-pin-5678";

static CK_FUNCTION_LIST_PTR p11;
static int passed, failed;

/* One line per check. */
static int check(int ok, const char *what)
{
    if (ok) {
        passed++;
        printf("ok   %s\n", what);
    } else {
        failed++;
        printf("FAIL %s\n", what);
    }
    return ok;
}

/* A call that must return `want`. */
static int expect_rv(CK_RV rv, CK_RV want, const char *what)
{
    if (rv == want) {
        return check(1, what);
    }
    failed++;
    printf("FAIL %s: rv 0x%lx, expected 0x%lx\n", what, (unsigned long)rv, (unsigned long)want);
    return 0;
}

static int expect_ok(CK_RV rv, const char *what)
{
    return expect_rv(rv, CKR_OK, what);
}

/* Reads one CK_ULONG attribute; returns (CK_ULONG)-1 on failure. */
static CK_ULONG read_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG value = (CK_ULONG)-1;
    CK_ATTRIBUTE a = { type, &value, sizeof value };
    CK_RV rv = p11->C_GetAttributeValue(s, k, &a, 1);
    if (rv != CKR_OK || a.ulValueLen != sizeof value) {
        printf("     C_GetAttributeValue(0x%lx): rv 0x%lx, length %lu\n", (unsigned long)type,
               (unsigned long)rv, (unsigned long)a.ulValueLen);
        return (CK_ULONG)-1;
    }
    return value;
}

/* The master key version named in an envelope header (docs/envelope-format.md):
 * magic(4) format(1) suite(1) frame size(4) L(1) key id(L) version(4, big-endian). */
static long header_version(const CK_BYTE *msg, CK_ULONG len)
{
    if (len < 11 || memcmp(msg, "SKMS", 4) != 0) {
        return -1;
    }
    CK_ULONG l = msg[10];
    if (len < 15 + l) {
        return -1;
    }
    const CK_BYTE *v = msg + 11 + l;
    return (long)(((unsigned long)v[0] << 24) | ((unsigned long)v[1] << 16) |
                  ((unsigned long)v[2] << 8) | (unsigned long)v[3]);
}

/* Envelope-encrypts `in` in parts of `part` bytes with C_EncryptUpdate/Final,
 * asking for each output length first. Returns a malloc'd message or NULL. */
static CK_BYTE *seal_in_parts(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_MECHANISM *mech,
                              const CK_BYTE *in, CK_ULONG in_len, CK_ULONG part, CK_ULONG *out_len)
{
    CK_RV rv = p11->C_EncryptInit(s, mech, k);
    if (!expect_ok(rv, "C_EncryptInit(CKM_SOFTKMS_ENVELOPE)")) {
        return NULL;
    }
    CK_ULONG cap = in_len + 4096, used = 0;
    CK_BYTE *out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    unsigned long updates = 0;
    for (CK_ULONG off = 0; off < in_len; off += part) {
        CK_ULONG n = in_len - off < part ? in_len - off : part;
        CK_ULONG need = 0;
        rv = p11->C_EncryptUpdate(s, (CK_BYTE_PTR)(in + off), n, NULL, &need);
        if (rv == CKR_OK && used + need > cap) {
            rv = CKR_GENERAL_ERROR; /* our buffer: cannot happen with a sane module */
        }
        CK_ULONG got = cap - used;
        if (rv == CKR_OK) {
            rv = p11->C_EncryptUpdate(s, (CK_BYTE_PTR)(in + off), n, out + used, &got);
        }
        if (rv != CKR_OK) {
            expect_ok(rv, "C_EncryptUpdate");
            free(out);
            return NULL;
        }
        used += got;
        updates++;
    }
    CK_ULONG need = 0;
    rv = p11->C_EncryptFinal(s, NULL, &need);
    CK_ULONG got = cap - used;
    if (rv == CKR_OK && used + need <= cap) {
        rv = p11->C_EncryptFinal(s, out + used, &got);
    } else if (rv == CKR_OK) {
        rv = CKR_GENERAL_ERROR;
    }
    char what[96];
    snprintf(what, sizeof what, "C_EncryptUpdate x%lu + C_EncryptFinal", updates);
    if (!expect_ok(rv, what)) {
        free(out);
        return NULL;
    }
    *out_len = used + got;
    return out;
}

/* Decrypts an envelope message with C_Decrypt (length query, then the call).
 * Returns the CK_RV; on success *out is malloc'd. */
static CK_RV open_single(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_MECHANISM *mech,
                         CK_BYTE *msg, CK_ULONG msg_len, CK_BYTE **out, CK_ULONG *out_len)
{
    *out = NULL;
    CK_RV rv = p11->C_DecryptInit(s, mech, k);
    if (rv != CKR_OK) {
        return rv;
    }
    CK_ULONG need = 0;
    rv = p11->C_Decrypt(s, msg, msg_len, NULL, &need);
    if (rv != CKR_OK) {
        return rv;
    }
    CK_BYTE *buf = malloc(need ? need : 1);
    if (buf == NULL) {
        return CKR_HOST_MEMORY;
    }
    rv = p11->C_Decrypt(s, msg, msg_len, buf, &need);
    if (rv != CKR_OK) {
        free(buf);
        return rv;
    }
    *out = buf;
    *out_len = need;
    return CKR_OK;
}

/* Decrypts with C_DecryptUpdate in parts of `part` bytes and C_DecryptFinal,
 * into a buffer as large as the message (the plaintext is shorter). */
static CK_RV open_in_parts(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_MECHANISM *mech,
                           CK_BYTE *msg, CK_ULONG msg_len, CK_ULONG part, CK_BYTE **out,
                           CK_ULONG *out_len)
{
    *out = NULL;
    CK_RV rv = p11->C_DecryptInit(s, mech, k);
    if (rv != CKR_OK) {
        return rv;
    }
    CK_ULONG cap = msg_len, used = 0;
    CK_BYTE *buf = malloc(cap ? cap : 1);
    if (buf == NULL) {
        return CKR_HOST_MEMORY;
    }
    for (CK_ULONG off = 0; off < msg_len; off += part) {
        CK_ULONG n = msg_len - off < part ? msg_len - off : part;
        CK_ULONG got = cap - used;
        rv = p11->C_DecryptUpdate(s, msg + off, n, buf + used, &got);
        if (rv != CKR_OK) {
            free(buf);
            return rv;
        }
        used += got;
    }
    CK_ULONG got = cap - used;
    rv = p11->C_DecryptFinal(s, buf + used, &got);
    if (rv != CKR_OK) {
        free(buf);
        return rv;
    }
    *out = buf;
    *out_len = used + got;
    return CKR_OK;
}

/* Loads the module and returns its function list (NULL on failure). With a
 * PKCS#11 3.x header it asks for the "PKCS 11" interface (C_GetInterface);
 * with a 2.40 header, such as p11-kit's, C_GetFunctionList, which every 3.0
 * module still exports. Only 2.40 functions are called below, and the 3.0
 * table starts with the same members. */
static CK_FUNCTION_LIST_PTR load(const char *path, void **handle)
{
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!check(*handle != NULL, "dlopen the module")) {
        printf("     %s\n", dlerror());
        return NULL;
    }
    CK_FUNCTION_LIST_PTR list = NULL;
#if defined(CRYPTOKI_VERSION_MAJOR) && CRYPTOKI_VERSION_MAJOR >= 3
    void *sym = dlsym(*handle, "C_GetInterface");
    CK_C_GetInterface get_interface;
    if (!check(sym != NULL, "dlsym C_GetInterface")) {
        return NULL;
    }
    memcpy(&get_interface, &sym, sizeof get_interface);
    CK_INTERFACE *iface = NULL;
    CK_VERSION v30 = { 3, 0 };
    CK_RV rv = get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0);
    if (!expect_ok(rv, "C_GetInterface(\"PKCS 11\", 3.0)") || iface == NULL) {
        return NULL;
    }
    list = (CK_FUNCTION_LIST_PTR)iface->pFunctionList;
#else
    void *sym = dlsym(*handle, "C_GetFunctionList");
    CK_C_GetFunctionList get_function_list;
    if (!check(sym != NULL, "dlsym C_GetFunctionList")) {
        return NULL;
    }
    memcpy(&get_function_list, &sym, sizeof get_function_list);
    CK_RV rv = get_function_list(&list);
    if (!expect_ok(rv, "C_GetFunctionList") || list == NULL) {
        return NULL;
    }
#endif
    printf("     function list version %u.%u\n", list->version.major, list->version.minor);
    return list;
}

/* Initializes the first slot's token and the user PIN, and opens a logged-in
 * read/write session. Returns CK_INVALID_HANDLE on failure. */
static CK_SESSION_HANDLE open_user_session(void)
{
    CK_SLOT_ID slots[8];
    CK_ULONG count = 8;
    CK_RV rv = p11->C_GetSlotList(CK_FALSE, slots, &count);
    if (!expect_ok(rv, "C_GetSlotList") || !check(count >= 1, "at least one slot")) {
        return CK_INVALID_HANDLE;
    }
    CK_SLOT_ID slot = slots[0];
    CK_UTF8CHAR label[32];
    memset(label, ' ', sizeof label);
    memcpy(label, "envelope.c", 10);
    rv = p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label);
    if (!expect_ok(rv, "C_InitToken")) {
        return CK_INVALID_HANDLE;
    }
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (!expect_ok(rv, "C_OpenSession (read/write)")) {
        return CK_INVALID_HANDLE;
    }
    int ok = expect_ok(p11->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)),
                       "C_Login (SO)") &&
             expect_ok(p11->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
                       "C_InitPIN") &&
             expect_ok(p11->C_Logout(s), "C_Logout (SO)") &&
             expect_ok(p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
                       "C_Login (user)");
    return ok ? s : CK_INVALID_HANDLE;
}

/* The example proper, on a logged-in session. */
static void run(CK_SESSION_HANDLE s)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_RV rv;

    /* 1. A managed key: an AES-256 token key, sensitive and unextractable.
     *    Nothing vendor-specific is needed; CKA_DERIVE allows GenerateDataKey. */
    CK_ULONG key_len = 32;
    CK_MECHANISM keygen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE master_tmpl[] = {
        { CKA_TOKEN, &yes, sizeof yes },         { CKA_LABEL, "envelope-master", 15 },
        { CKA_VALUE_LEN, &key_len, sizeof key_len }, { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_EXTRACTABLE, &no, sizeof no },     { CKA_ENCRYPT, &yes, sizeof yes },
        { CKA_DECRYPT, &yes, sizeof yes },       { CKA_DERIVE, &yes, sizeof yes },
    };
    CK_OBJECT_HANDLE master = CK_INVALID_HANDLE;
    rv = p11->C_GenerateKey(s, &keygen, master_tmpl, sizeof master_tmpl / sizeof master_tmpl[0],
                            &master);
    if (!expect_ok(rv, "C_GenerateKey: managed key (AES-256, token, sensitive, unextractable)")) {
        return;
    }
    check(read_ulong(s, master, CKA_SOFTKMS_KEY_STATE) == SOFTKMS_KEY_STATE_ENABLED,
          "CKA_SOFTKMS_KEY_STATE = SOFTKMS_KEY_STATE_ENABLED");
    check(read_ulong(s, master, CKA_SOFTKMS_CURRENT_VERSION) == 1,
          "CKA_SOFTKMS_CURRENT_VERSION = 1");
    check(read_ulong(s, master, CKA_SOFTKMS_ORIGIN) == SOFTKMS_ORIGIN_SOFTKMS,
          "CKA_SOFTKMS_ORIGIN = SOFTKMS_ORIGIN_SOFTKMS");

    /* 2. GenerateDataKey: C_DeriveKey returns a data key object, and its
     *    envelope-encrypted form in the parameter. Ask for the length first. */
    static const char ctx_text[] = "{\"tenant\":\"7\"}";
    CK_BYTE_PTR ctx = (CK_BYTE_PTR)ctx_text;
    CK_ULONG ctx_len = sizeof ctx_text - 1;
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE dk_tmpl[] = {
        { CKA_CLASS, &secret, sizeof secret },   { CKA_KEY_TYPE, &aes, sizeof aes },
        { CKA_TOKEN, &no, sizeof no },           { CKA_LABEL, "data-key", 8 },
        { CKA_VALUE_LEN, &key_len, sizeof key_len }, { CKA_SENSITIVE, &no, sizeof no },
        { CKA_EXTRACTABLE, &yes, sizeof yes },   { CKA_ENCRYPT, &yes, sizeof yes },
    };
    CK_ULONG dk_count = sizeof dk_tmpl / sizeof dk_tmpl[0];
    CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS gdk = { ctx, ctx_len, NULL, 0 };
    CK_MECHANISM gdk_mech = { CKM_SOFTKMS_GENERATE_DATA_KEY, &gdk, sizeof gdk };
    CK_OBJECT_HANDLE dk = CK_INVALID_HANDLE;
    rv = p11->C_DeriveKey(s, &gdk_mech, master, dk_tmpl, dk_count, &dk);
    expect_rv(rv, CKR_BUFFER_TOO_SMALL, "GenerateDataKey, pWrappedKey NULL: CKR_BUFFER_TOO_SMALL");
    CK_ULONG needed = gdk.ulWrappedKeyLen;
    check(needed > key_len, "... and ulWrappedKeyLen holds the length needed");
    gdk.pWrappedKey = malloc(needed);
    if (gdk.pWrappedKey == NULL) {
        check(0, "malloc");
        return;
    }
    gdk.ulWrappedKeyLen = needed - 1;
    rv = p11->C_DeriveKey(s, &gdk_mech, master, dk_tmpl, dk_count, &dk);
    expect_rv(rv, CKR_BUFFER_TOO_SMALL, "GenerateDataKey, buffer one byte short: CKR_BUFFER_TOO_SMALL");
    CK_ATTRIBUTE find_dk = { CKA_LABEL, "data-key", 8 };
    CK_OBJECT_HANDLE found[4];
    CK_ULONG nfound = 99;
    rv = p11->C_FindObjectsInit(s, &find_dk, 1);
    if (expect_ok(rv, "C_FindObjectsInit (label data-key)")) {
        expect_ok(p11->C_FindObjects(s, found, 4, &nfound), "C_FindObjects");
        expect_ok(p11->C_FindObjectsFinal(s), "C_FindObjectsFinal");
        check(nfound == 0, "... the failed calls made no object");
    }
    gdk.ulWrappedKeyLen = needed;
    rv = p11->C_DeriveKey(s, &gdk_mech, master, dk_tmpl, dk_count, &dk);
    if (!expect_ok(rv, "GenerateDataKey (C_DeriveKey, CKM_SOFTKMS_GENERATE_DATA_KEY)")) {
        free(gdk.pWrappedKey);
        return;
    }
    check(gdk.ulWrappedKeyLen == needed, "... wrapped data key has the announced length");
    check(header_version(gdk.pWrappedKey, gdk.ulWrappedKeyLen) == 1,
          "... and is an envelope message under version 1");

    /* 3. The plaintext data key (the template made it readable). */
    CK_BYTE dk_value[64];
    CK_ATTRIBUTE value_attr = { CKA_VALUE, dk_value, sizeof dk_value };
    rv = p11->C_GetAttributeValue(s, dk, &value_attr, 1);
    expect_ok(rv, "C_GetAttributeValue(CKA_VALUE) of the data key");
    check(value_attr.ulValueLen == key_len, "... 32 bytes");

    /* 4. Decrypt the wrapped data key: it is an envelope message of the key bytes. */
    CK_SOFTKMS_ENVELOPE_PARAMS env = { ctx, ctx_len };
    CK_MECHANISM env_mech = { CKM_SOFTKMS_ENVELOPE, &env, sizeof env };
    CK_BYTE *plain = NULL;
    CK_ULONG plain_len = 0;
    rv = open_single(s, master, &env_mech, gdk.pWrappedKey, gdk.ulWrappedKeyLen, &plain,
                     &plain_len);
    if (expect_ok(rv, "C_Decrypt(CKM_SOFTKMS_ENVELOPE) of the wrapped data key")) {
        check(plain_len == value_attr.ulValueLen && memcmp(plain, dk_value, plain_len) == 0,
              "... equals the data key's CKA_VALUE");
    }
    free(plain);

    /* 5. Envelope-encrypt a message in parts (it spans two 64 KiB frames). */
    CK_ULONG msg_len = 100000;
    CK_BYTE *msg = malloc(msg_len);
    if (msg == NULL) {
        check(0, "malloc");
        free(gdk.pWrappedKey);
        return;
    }
    for (CK_ULONG i = 0; i < msg_len; i++) {
        msg[i] = (CK_BYTE)(i % 251);
    }
    CK_ULONG old_len = 0;
    CK_BYTE *old = seal_in_parts(s, master, &env_mech, msg, msg_len, 7000, &old_len);
    if (old != NULL) {
        check(header_version(old, old_len) == 1, "... the message names master key version 1");
        rv = open_single(s, master, &env_mech, old, old_len, &plain, &plain_len);
        if (expect_ok(rv, "C_Decrypt of the message")) {
            check(plain_len == msg_len && memcmp(plain, msg, msg_len) == 0, "... round trip");
        }
        free(plain);
    }

    /* 6. Rotate on demand: write CK_TRUE to CKA_SOFTKMS_ROTATE. */
    CK_ATTRIBUTE rotate = { CKA_SOFTKMS_ROTATE, &yes, sizeof yes };
    expect_ok(p11->C_SetAttributeValue(s, master, &rotate, 1),
              "C_SetAttributeValue(CKA_SOFTKMS_ROTATE = CK_TRUE)");
    check(read_ulong(s, master, CKA_SOFTKMS_CURRENT_VERSION) == 2,
          "CKA_SOFTKMS_CURRENT_VERSION = 2 after rotation");
    CK_ATTRIBUTE times = { CKA_SOFTKMS_VERSION_TIMES, NULL, 0 };
    expect_ok(p11->C_GetAttributeValue(s, master, &times, 1),
              "C_GetAttributeValue(CKA_SOFTKMS_VERSION_TIMES) length");
    check(times.ulValueLen == 4 * sizeof(CK_ULONG), "... two (version, time) pairs");

    /* 7. Old messages still decrypt (their header names version 1); new ones use version 2. */
    if (old != NULL) {
        rv = open_in_parts(s, master, &env_mech, old, old_len, 4097, &plain, &plain_len);
        if (expect_ok(rv, "C_DecryptUpdate/Final of the version-1 message after rotation")) {
            check(plain_len == msg_len && memcmp(plain, msg, msg_len) == 0, "... round trip");
        }
        free(plain);
    }
    rv = open_single(s, master, &env_mech, gdk.pWrappedKey, gdk.ulWrappedKeyLen, &plain,
                     &plain_len);
    if (expect_ok(rv, "C_Decrypt of the version-1 data key after rotation")) {
        check(plain_len == key_len && memcmp(plain, dk_value, key_len) == 0, "... same key");
    }
    free(plain);
    CK_ULONG new_len = 0;
    CK_BYTE *fresh = seal_in_parts(s, master, &env_mech, msg, 1000, 300, &new_len);
    if (fresh != NULL) {
        check(header_version(fresh, new_len) == 2, "... a new message names version 2");
    }

    /* 8. A wrong encryption context, and a flipped bit, fail as CKR_ENCRYPTED_DATA_INVALID. */
    if (old != NULL) {
        static const char wrong_text[] = "{\"tenant\":\"8\"}";
        CK_SOFTKMS_ENVELOPE_PARAMS wrong = { (CK_BYTE_PTR)wrong_text, sizeof wrong_text - 1 };
        CK_MECHANISM wrong_mech = { CKM_SOFTKMS_ENVELOPE, &wrong, sizeof wrong };
        rv = open_single(s, master, &wrong_mech, old, old_len, &plain, &plain_len);
        free(plain);
        expect_rv(rv, CKR_ENCRYPTED_DATA_INVALID, "wrong context: CKR_ENCRYPTED_DATA_INVALID");
        old[old_len / 2] ^= 0x01;
        rv = open_single(s, master, &env_mech, old, old_len, &plain, &plain_len);
        free(plain);
        expect_rv(rv, CKR_ENCRYPTED_DATA_INVALID, "one flipped bit: CKR_ENCRYPTED_DATA_INVALID");
    }

    /* 9. A disabled key refuses every use until it is enabled again. */
    CK_ULONG disabled = SOFTKMS_KEY_STATE_DISABLED, enabled = SOFTKMS_KEY_STATE_ENABLED;
    CK_ATTRIBUTE state = { CKA_SOFTKMS_KEY_STATE, &disabled, sizeof disabled };
    expect_ok(p11->C_SetAttributeValue(s, master, &state, 1),
              "C_SetAttributeValue(CKA_SOFTKMS_KEY_STATE = DISABLED)");
    rv = p11->C_EncryptInit(s, &env_mech, master);
    if (rv == CKR_OK) {
        CK_ULONG need = 0;
        rv = p11->C_Encrypt(s, msg, 10, NULL, &need);
    }
    expect_rv(rv, CKR_KEY_FUNCTION_NOT_PERMITTED, "disabled key: CKR_KEY_FUNCTION_NOT_PERMITTED");
    state.pValue = &enabled;
    expect_ok(p11->C_SetAttributeValue(s, master, &state, 1),
              "C_SetAttributeValue(CKA_SOFTKMS_KEY_STATE = ENABLED)");
    if (fresh != NULL) {
        rv = open_single(s, master, &env_mech, fresh, new_len, &plain, &plain_len);
        if (expect_ok(rv, "enabled again: C_Decrypt works")) {
            check(plain_len == 1000 && memcmp(plain, msg, 1000) == 0, "... round trip");
        }
        free(plain);
    }

    expect_ok(p11->C_DestroyObject(s, dk), "C_DestroyObject (data key)");
    free(fresh);
    free(old);
    free(msg);
    free(gdk.pWrappedKey);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODULE_PATH   (set SOFTKMS_CONF to a test configuration)\n",
                argv[0]);
        return 2;
    }
    void *handle = NULL;
    p11 = load(argv[1], &handle);
    if (p11 != NULL && expect_ok(p11->C_Initialize(NULL), "C_Initialize")) {
        CK_SESSION_HANDLE s = open_user_session();
        if (s != CK_INVALID_HANDLE) {
            run(s);
            expect_ok(p11->C_Logout(s), "C_Logout");
            expect_ok(p11->C_CloseSession(s), "C_CloseSession");
        }
        expect_ok(p11->C_Finalize(NULL), "C_Finalize");
    }
    if (handle != NULL) {
        dlclose(handle);
    }
    if (p11 == NULL && failed == 0) {
        failed++;
    }
    printf("envelope.c: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
