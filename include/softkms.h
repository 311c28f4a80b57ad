/*
 * softkms.h - the SoftKMS vendor extensions to PKCS#11 3.0.
 *
 * Include after pkcs11.h. Every value lives in one vendor block,
 * SOFTKMS_VENDOR_BASE = CKM_VENDOR_DEFINED | 0x534B0000 (0xD34B0000), used for
 * CKA_, CKM_, CKK_, CKO_ and CKR_ values alike. docs/vendor-abi.md explains each one.
 */
#ifndef SOFTKMS_H
#define SOFTKMS_H

#ifdef __cplusplus
extern "C" {
#endif

#define SOFTKMS_VENDOR_BASE 0xD34B0000UL

/* Attributes (all CK_ULONG unless noted). */
#define CKA_SOFTKMS_KEY_STATE           (SOFTKMS_VENDOR_BASE + 0x01) /* SOFTKMS_KEY_STATE_* */
#define CKA_SOFTKMS_CURRENT_VERSION     (SOFTKMS_VENDOR_BASE + 0x02) /* read-only */
#define CKA_SOFTKMS_MIN_DECRYPT_VERSION (SOFTKMS_VENDOR_BASE + 0x03)
#define CKA_SOFTKMS_ROTATION_PERIOD     (SOFTKMS_VENDOR_BASE + 0x04) /* days: 0 or 90..2560 */
#define CKA_SOFTKMS_NEXT_ROTATION       (SOFTKMS_VENDOR_BASE + 0x05) /* read-only, Unix seconds, 0 = none */
#define CKA_SOFTKMS_ROTATE              (SOFTKMS_VENDOR_BASE + 0x06) /* CK_BBOOL: write CK_TRUE to rotate now */
#define CKA_SOFTKMS_PENDING_WINDOW      (SOFTKMS_VENDOR_BASE + 0x07) /* days: 7..30 */
#define CKA_SOFTKMS_DELETION_TIME       (SOFTKMS_VENDOR_BASE + 0x08) /* read-only, Unix seconds, 0 = none */
#define CKA_SOFTKMS_VALID_TO            (SOFTKMS_VENDOR_BASE + 0x09) /* Unix seconds, 0 = no expiry */
#define CKA_SOFTKMS_ORIGIN              (SOFTKMS_VENDOR_BASE + 0x0A) /* read-only, SOFTKMS_ORIGIN_* */
#define CKA_SOFTKMS_VERSION_TIMES       (SOFTKMS_VENDOR_BASE + 0x0B) /* read-only, CK_ULONG pairs (version, creation time) */
#define CKA_SOFTKMS_POLICY              (SOFTKMS_VENDOR_BASE + 0x0C) /* UTF-8 JSON key policy */
#define CKA_SOFTKMS_IMPORT_FROM         (SOFTKMS_VENDOR_BASE + 0x0D) /* CK_OBJECT_HANDLE: write to re-import the same material */
#define CKA_SOFTKMS_CREATOR             (SOFTKMS_VENDOR_BASE + 0x10) /* UTF-8, read-only: who created the key */
#define CKA_SOFTKMS_POLICY_FORCE        (SOFTKMS_VENDOR_BASE + 0x11) /* CK_BBOOL, write-only with CKA_SOFTKMS_POLICY */
#define CKA_SOFTKMS_PRINCIPAL_PIN       (SOFTKMS_VENDOR_BASE + 0x12) /* UTF-8, write-only: a principal's PIN */
#define CKA_SOFTKMS_ALIAS_TARGET        (SOFTKMS_VENDOR_BASE + 0x13) /* UTF-8: CKA_UNIQUE_ID of the key an alias points at */
#define CKA_SOFTKMS_DESCRIPTION         (SOFTKMS_VENDOR_BASE + 0x14) /* UTF-8, 0..8192 bytes: the key's description */
#define CKA_SOFTKMS_TAGS                (SOFTKMS_VENDOR_BASE + 0x15) /* UTF-8 JSON object of strings: the key's tags */

/* Object class of a named principal (the SO creates, lists and removes them). */
#define CKO_SOFTKMS_PRINCIPAL           (SOFTKMS_VENDOR_BASE + 0x01)

/* Object class of a key alias: CKA_LABEL "alias/NAME" (unique on the token),
 * CKA_SOFTKMS_ALIAS_TARGET the key it points at; a private token object. */
#define CKO_SOFTKMS_ALIAS               (SOFTKMS_VENDOR_BASE + 0x02)

/* Values of CKA_SOFTKMS_KEY_STATE. */
#define SOFTKMS_KEY_STATE_ENABLED          1UL
#define SOFTKMS_KEY_STATE_DISABLED         2UL
#define SOFTKMS_KEY_STATE_PENDING_DELETION 3UL
#define SOFTKMS_KEY_STATE_PENDING_IMPORT   4UL

/* Values of CKA_SOFTKMS_ORIGIN. */
#define SOFTKMS_ORIGIN_SOFTKMS  1UL
#define SOFTKMS_ORIGIN_EXTERNAL 2UL

/* Mechanisms. */
#define CKM_SOFTKMS_ENVELOPE          (SOFTKMS_VENDOR_BASE + 0x01)
#define CKM_SOFTKMS_GENERATE_DATA_KEY (SOFTKMS_VENDOR_BASE + 0x02)

/* Parameter of CKM_SOFTKMS_ENVELOPE (C_Encrypt*, C_Decrypt*, C_WrapKey, C_UnwrapKey). */
typedef struct CK_SOFTKMS_ENVELOPE_PARAMS {
    CK_BYTE_PTR pContext;   /* encryption context (authenticated, not stored); may be NULL */
    CK_ULONG    ulContextLen;
} CK_SOFTKMS_ENVELOPE_PARAMS;

/* Parameter of CKM_SOFTKMS_GENERATE_DATA_KEY (C_DeriveKey on a managed key). */
typedef struct CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS {
    CK_BYTE_PTR  pContext;        /* encryption context; may be NULL */
    CK_ULONG     ulContextLen;
    CK_BYTE_PTR  pWrappedKey;     /* out: the data key as an envelope message; NULL to ask for the length */
    CK_ULONG     ulWrappedKeyLen; /* in: size of pWrappedKey; out: length of the message */
} CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS;

#ifdef __cplusplus
}
#endif

#endif /* SOFTKMS_H */
