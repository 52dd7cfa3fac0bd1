/* libp2p keys: the PublicKey/PrivateKey protobufs of libp2p/specs
 * peer-ids/peer-ids.md. kping's own identity is Ed25519; remote keys of other
 * types are parsed but only Ed25519 signatures are verified. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KP_ED25519_PUBLIC_KEY_BYTES 32
#define KP_ED25519_SEED_BYTES       32
#define KP_ED25519_SIGNATURE_BYTES  64
/* Upper bound on an encoded key protobuf we accept from anyone: an RSA-4096
 * public key is about 550 bytes. */
#define KP_KEY_PROTOBUF_MAX 2048

typedef enum {
        KP_KEY_TYPE_RSA = 0,
        KP_KEY_TYPE_ED25519 = 1,
        KP_KEY_TYPE_SECP256K1 = 2,
        KP_KEY_TYPE_ECDSA = 3,
} KpKeyType;

/* A public key as received: its type and raw Data bytes. */
typedef struct {
        KpKeyType type;
        GBytes *data;
} KpPublicKey;

/* "Ed25519", "RSA", ...; "unknown" for anything else. */
const char *kp_key_type_to_string(KpKeyType type);

KpPublicKey *kp_public_key_new_ed25519(const guint8 key[KP_ED25519_PUBLIC_KEY_BYTES]);
/* Rejects, with specific messages: more than KP_KEY_PROTOBUF_MAX bytes
 * (KP_ERROR_TOO_LARGE), unknown key types (KP_ERROR_UNSUPPORTED), an Ed25519
 * key that is not 32 bytes, unknown fields, and any encoding other than the
 * canonical one (fields 1, 2 in order, once each), so that the bytes a peer
 * sent and the bytes its peer id was computed from are the same. */
KpPublicKey *kp_public_key_from_protobuf(const guint8 *buf, gsize len, GError **error);
GBytes *kp_public_key_to_protobuf(const KpPublicKey *key);
/* FALSE with KP_ERROR_CRYPTO for a bad signature, KP_ERROR_UNSUPPORTED for a
 * key type kping cannot verify. */
gboolean kp_public_key_verify(const KpPublicKey *key, const guint8 *msg, gsize msg_len,
                              const guint8 *sig, gsize sig_len, GError **error);
gboolean kp_public_key_equal(const KpPublicKey *a, const KpPublicKey *b);
KpPublicKey *kp_public_key_copy(const KpPublicKey *key);
void kp_public_key_free(KpPublicKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpPublicKey, kp_public_key_free)

/* An Ed25519 key pair; the secret is wiped with sodium_memzero on free. */
typedef struct _KpKeypair KpKeypair;

KpKeypair *kp_keypair_generate(void);
KpKeypair *kp_keypair_new_from_seed(const guint8 seed[KP_ED25519_SEED_BYTES]);
/* Accepts the PrivateKey protobuf js-libp2p's privateKeyToProtobuf writes
 * (Ed25519 Data = 64 bytes seed||public; a 32-byte seed and the old 96-byte
 * seed||public||public are accepted too). A stored public half that does not
 * match the seed is KP_ERROR_CRYPTO; other key types KP_ERROR_UNSUPPORTED. */
KpKeypair *kp_keypair_from_private_key_protobuf(const guint8 *buf, gsize len, GError **error);
/* Always the 64-byte form. The secret bytes; the GBytes wipes them when freed. */
GBytes *kp_keypair_to_private_key_protobuf(const KpKeypair *keypair);
const KpPublicKey *kp_keypair_get_public_key(const KpKeypair *keypair);
void kp_keypair_sign(const KpKeypair *keypair, const guint8 *msg, gsize msg_len,
                     guint8 ret_sig[KP_ED25519_SIGNATURE_BYTES]);
void kp_keypair_free(KpKeypair *keypair);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKeypair, kp_keypair_free)

G_END_DECLS
