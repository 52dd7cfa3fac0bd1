#include "core/kp-keys.h"

#include <sodium.h>
#include <string.h>

#include "core/kp-error.h"
#include "keys.pb-c.h"

struct _KpKeypair {
        /* libsodium's secret key layout: seed || public key */
        guint8 secret[crypto_sign_SECRETKEYBYTES];
        KpPublicKey *public_key;
};

G_STATIC_ASSERT(crypto_sign_PUBLICKEYBYTES == KP_ED25519_PUBLIC_KEY_BYTES);
G_STATIC_ASSERT(crypto_sign_SEEDBYTES == KP_ED25519_SEED_BYTES);
G_STATIC_ASSERT(crypto_sign_BYTES == KP_ED25519_SIGNATURE_BYTES);
G_STATIC_ASSERT(crypto_sign_SECRETKEYBYTES == KP_ED25519_SEED_BYTES + KP_ED25519_PUBLIC_KEY_BYTES);

static void
kp_sodium_init(void)
{
        /* Only fails when the system has no usable randomness source, and
         * then no key can be generated safely. */
        if (sodium_init() < 0)
                g_error("libsodium initialisation failed");
}

const char *
kp_key_type_to_string(KpKeyType type)
{
        switch (type) {
        case KP_KEY_TYPE_RSA:
                return "RSA";
        case KP_KEY_TYPE_ED25519:
                return "Ed25519";
        case KP_KEY_TYPE_SECP256K1:
                return "Secp256k1";
        case KP_KEY_TYPE_ECDSA:
                return "ECDSA";
        default:
                return "unknown";
        }
}

/* The bounded unpacking that public and private keys share; @what names the
 * key in messages. */
static ProtobufCMessage *
unpack_key_protobuf(const char *what, const ProtobufCMessageDescriptor *descriptor,
                    const guint8 *buf, gsize len, GError **error)
{
        ProtobufCMessage *msg;

        if (len > KP_KEY_PROTOBUF_MAX) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "%s protobuf of %" G_GSIZE_FORMAT " bytes exceeds %d", what, len,
                            KP_KEY_PROTOBUF_MAX);
                return NULL;
        }
        if (len == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED, "%s protobuf is empty", what);
                return NULL;
        }
        msg = protobuf_c_message_unpack(descriptor, NULL, len, buf);
        if (msg == NULL)
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "%s: malformed protobuf (%" G_GSIZE_FORMAT " bytes)", what, len);
        return msg;
}

/* Fields we drop would make our re-encoding differ from what was signed or
 * stored. */
static gboolean
check_no_unknown_fields(const char *what, const ProtobufCMessage *msg, GError **error)
{
        if (msg->n_unknown_fields > 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "%s: %u unknown protobuf field(s)",
                            what, msg->n_unknown_fields);
                return FALSE;
        }
        return TRUE;
}

/* protobuf-c stores unknown enum values as they are. */
static gboolean
check_key_type(const char *what, int type, GError **error)
{
        if (type < KP_KEY_TYPE_RSA || type > KP_KEY_TYPE_ECDSA) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED, "%s: unknown key type %d", what,
                            type);
                return FALSE;
        }
        return TRUE;
}

static gboolean
check_public_key_data(KpKeyType type, gsize len, GError **error)
{
        switch (type) {
        case KP_KEY_TYPE_ED25519:
                if (len != KP_ED25519_PUBLIC_KEY_BYTES) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "public key: Ed25519 key of %" G_GSIZE_FORMAT
                                    " bytes, expected %d",
                                    len, KP_ED25519_PUBLIC_KEY_BYTES);
                        return FALSE;
                }
                return TRUE;
        case KP_KEY_TYPE_SECP256K1:
                /* SEC 1 compressed (33) or uncompressed (65) point */
                if (len != 33 && len != 65) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "public key: Secp256k1 key of %" G_GSIZE_FORMAT
                                    " bytes, expected 33 or 65",
                                    len);
                        return FALSE;
                }
                return TRUE;
        default:
                /* DER for RSA and ECDSA; kping never interprets it. */
                if (len == 0) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "public key: empty %s key data", kp_key_type_to_string(type));
                        return FALSE;
                }
                return TRUE;
        }
}

static KpPublicKey *
public_key_new(KpKeyType type, const guint8 *data, gsize len)
{
        KpPublicKey *key = g_new0(KpPublicKey, 1);

        key->type = type;
        key->data = g_bytes_new(data, len);
        return key;
}

KpPublicKey *
kp_public_key_new_ed25519(const guint8 key[KP_ED25519_PUBLIC_KEY_BYTES])
{
        return public_key_new(KP_KEY_TYPE_ED25519, key, KP_ED25519_PUBLIC_KEY_BYTES);
}

KpPublicKey *
kp_public_key_from_protobuf(const guint8 *buf, gsize len, GError **error)
{
        PublicKey *msg;
        KpPublicKey *key = NULL;
        g_autoptr(GBytes) canonical = NULL;

        msg = (PublicKey *)unpack_key_protobuf("public key", &public_key__descriptor, buf, len,
                                               error);
        if (msg == NULL)
                return NULL;
        if (!check_key_type("public key", msg->type, error)
            || !check_no_unknown_fields("public key", &msg->base, error))
                goto out;
        if (!check_public_key_data((KpKeyType)msg->type, msg->data.len, error))
                goto out;
        key = public_key_new((KpKeyType)msg->type, msg->data.data, msg->data.len);

        /* The peer id is computed from our own encoding of the key: accepting
         * a different encoding of the same key would let one key have two
         * peer ids depending on who hashes which bytes. */
        canonical = kp_public_key_to_protobuf(key);
        if (g_bytes_get_size(canonical) != len
            || memcmp(g_bytes_get_data(canonical, NULL), buf, len) != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "public key: protobuf is not canonically encoded (fields out of "
                            "order, repeated or padded)");
                g_clear_pointer(&key, kp_public_key_free);
                goto out;
        }
out:
        public_key__free_unpacked(msg, NULL);
        return key;
}

GBytes *
kp_public_key_to_protobuf(const KpPublicKey *key)
{
        PublicKey msg = PUBLIC_KEY__INIT;
        gsize size;
        guint8 *buf;

        g_return_val_if_fail(key != NULL, NULL);

        msg.type = (KeyType)key->type;
        msg.data.data = (guint8 *)g_bytes_get_data(key->data, &msg.data.len);
        size = public_key__get_packed_size(&msg);
        buf = g_malloc(size);
        public_key__pack(&msg, buf);
        return g_bytes_new_take(buf, size);
}

gboolean
kp_public_key_verify(const KpPublicKey *key, const guint8 *msg, gsize msg_len, const guint8 *sig,
                     gsize sig_len, GError **error)
{
        gsize key_len;
        const guint8 *key_data;

        g_return_val_if_fail(key != NULL, FALSE);

        if (key->type != KP_KEY_TYPE_ED25519) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "cannot verify %s signatures, only Ed25519",
                            kp_key_type_to_string(key->type));
                return FALSE;
        }
        key_data = g_bytes_get_data(key->data, &key_len);
        if (key_len != KP_ED25519_PUBLIC_KEY_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "Ed25519 public key of %" G_GSIZE_FORMAT " bytes", key_len);
                return FALSE;
        }
        if (sig_len != KP_ED25519_SIGNATURE_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_CRYPTO,
                            "Ed25519 signature of %" G_GSIZE_FORMAT " bytes, expected %d", sig_len,
                            KP_ED25519_SIGNATURE_BYTES);
                return FALSE;
        }
        kp_sodium_init();
        if (crypto_sign_verify_detached(sig, msg, msg_len, key_data) != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_CRYPTO, "Ed25519 signature does not verify");
                return FALSE;
        }
        return TRUE;
}

gboolean
kp_public_key_equal(const KpPublicKey *a, const KpPublicKey *b)
{
        g_return_val_if_fail(a != NULL && b != NULL, FALSE);
        return a->type == b->type && g_bytes_equal(a->data, b->data);
}

void
kp_public_key_free(KpPublicKey *key)
{
        if (key == NULL)
                return;
        g_bytes_unref(key->data);
        g_free(key);
}

KpPublicKey *
kp_public_key_copy(const KpPublicKey *key)
{
        g_return_val_if_fail(key != NULL, NULL);
        return public_key_new(key->type, g_bytes_get_data(key->data, NULL),
                              g_bytes_get_size(key->data));
}

KpKeypair *
kp_keypair_new_from_seed(const guint8 seed[KP_ED25519_SEED_BYTES])
{
        KpKeypair *keypair = g_new0(KpKeypair, 1);
        guint8 pk[crypto_sign_PUBLICKEYBYTES];

        kp_sodium_init();
        if (crypto_sign_seed_keypair(pk, keypair->secret, seed) != 0)
                g_error("crypto_sign_seed_keypair failed");
        keypair->public_key = kp_public_key_new_ed25519(pk);
        return keypair;
}

KpKeypair *
kp_keypair_generate(void)
{
        guint8 seed[KP_ED25519_SEED_BYTES];
        KpKeypair *keypair;

        kp_sodium_init();
        randombytes_buf(seed, sizeof seed);
        keypair = kp_keypair_new_from_seed(seed);
        sodium_memzero(seed, sizeof seed);
        return keypair;
}

KpKeypair *
kp_keypair_from_private_key_protobuf(const guint8 *buf, gsize len, GError **error)
{
        PrivateKey *msg;
        KpKeypair *keypair = NULL;
        gsize data_len;
        const guint8 *data;

        msg = (PrivateKey *)unpack_key_protobuf("private key", &private_key__descriptor, buf, len,
                                                error);
        if (msg == NULL)
                return NULL;
        data = msg->data.data;
        data_len = msg->data.len;
        if (!check_key_type("private key", msg->type, error))
                goto out;
        if (msg->type != KEY_TYPE__Ed25519) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "private key: %s keys are not supported, only Ed25519",
                            kp_key_type_to_string((KpKeyType)msg->type));
                goto out;
        }
        if (!check_no_unknown_fields("private key", &msg->base, error))
                goto out;
        /* 32: bare seed; 64: seed || public (js-libp2p, go-libp2p);
         * 96: seed || public || public (old go-libp2p). */
        if (data_len != KP_ED25519_SEED_BYTES && data_len != crypto_sign_SECRETKEYBYTES
            && data_len != crypto_sign_SECRETKEYBYTES + KP_ED25519_PUBLIC_KEY_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "private key: Ed25519 key of %" G_GSIZE_FORMAT
                            " bytes, expected 32, 64 or 96",
                            data_len);
                goto out;
        }
        keypair = kp_keypair_new_from_seed(data);
        for (gsize off = KP_ED25519_SEED_BYTES; off < data_len;
             off += KP_ED25519_PUBLIC_KEY_BYTES) {
                if (sodium_memcmp(data + off, keypair->secret + KP_ED25519_SEED_BYTES,
                                  KP_ED25519_PUBLIC_KEY_BYTES)
                    != 0) {
                        g_set_error(error, KP_ERROR, KP_ERROR_CRYPTO,
                                    "private key: stored Ed25519 public key does not match the "
                                    "seed");
                        g_clear_pointer(&keypair, kp_keypair_free);
                        goto out;
                }
        }
out:
        if (msg->data.data != NULL)
                sodium_memzero(msg->data.data, msg->data.len);
        private_key__free_unpacked(msg, NULL);
        return keypair;
}

typedef struct {
        gsize len;
        guint8 data[];
} KpSecretBuf;

static void
secret_buf_free(gpointer user_data)
{
        KpSecretBuf *sb = user_data;

        sodium_memzero(sb->data, sb->len);
        g_free(sb);
}

GBytes *
kp_keypair_to_private_key_protobuf(const KpKeypair *keypair)
{
        PrivateKey msg = PRIVATE_KEY__INIT;
        KpSecretBuf *sb;
        gsize size;

        g_return_val_if_fail(keypair != NULL, NULL);

        msg.type = KEY_TYPE__Ed25519;
        msg.data.data = (guint8 *)keypair->secret;
        msg.data.len = sizeof keypair->secret;
        size = private_key__get_packed_size(&msg);
        sb = g_malloc(sizeof *sb + size);
        sb->len = size;
        private_key__pack(&msg, sb->data);
        return g_bytes_new_with_free_func(sb->data, size, secret_buf_free, sb);
}

const KpPublicKey *
kp_keypair_get_public_key(const KpKeypair *keypair)
{
        g_return_val_if_fail(keypair != NULL, NULL);
        return keypair->public_key;
}

void
kp_keypair_sign(const KpKeypair *keypair, const guint8 *msg, gsize msg_len,
                guint8 ret_sig[KP_ED25519_SIGNATURE_BYTES])
{
        g_return_if_fail(keypair != NULL);

        if (crypto_sign_detached(ret_sig, NULL, msg, msg_len, keypair->secret) != 0)
                g_error("crypto_sign_detached failed");
}

void
kp_keypair_free(KpKeypair *keypair)
{
        if (keypair == NULL)
                return;
        sodium_memzero(keypair->secret, sizeof keypair->secret);
        kp_public_key_free(keypair->public_key);
        g_free(keypair);
}
