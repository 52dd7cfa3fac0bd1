#include "core/kp-noise.h"

#include <sodium.h>
#include <string.h>

#include "core/kp-error.h"
#include "proto/noise.pb-c.h"

/* The null cipher turns off every protection Noise gives; only fuzz targets,
 * which also define libFuzzer's conventional marker, may compile it. */
#if defined(KP_NOISE_NULL_CIPHER) && !defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
#error "KP_NOISE_NULL_CIPHER is for fuzz targets only"
#endif

#define KP_NOISE_NONCE_BYTES   crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define KP_NOISE_SIG_MSG_BYTES (sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1 + KP_NOISE_KEY_BYTES)

/* For libsodium calls that cannot fail with valid arguments: a failure is a
 * broken library, and carrying on with garbage keys would be worse. */
#define KP_SODIUM_OK(expr)                                                                         \
        G_STMT_START                                                                               \
        {                                                                                          \
                if ((expr) != 0)                                                                   \
                        g_error("libsodium: %s failed", #expr);                                    \
        }                                                                                          \
        G_STMT_END

G_STATIC_ASSERT(sizeof(KP_NOISE_PROTOCOL_NAME) - 1 == KP_NOISE_HASH_BYTES);
G_STATIC_ASSERT(crypto_hash_sha256_BYTES == KP_NOISE_HASH_BYTES);
G_STATIC_ASSERT(crypto_scalarmult_BYTES == KP_NOISE_KEY_BYTES);
G_STATIC_ASSERT(crypto_aead_chacha20poly1305_ietf_KEYBYTES == KP_NOISE_KEY_BYTES);
G_STATIC_ASSERT(crypto_aead_chacha20poly1305_ietf_ABYTES == KP_NOISE_TAG_BYTES);
G_STATIC_ASSERT(KP_NOISE_MAX_HANDSHAKE_MESSAGE < KP_NOISE_MAX_FRAME);

static void
kp_noise_sodium_init(void)
{
        if (sodium_init() < 0)
                g_error("libsodium: sodium_init failed");
}

/* ---- HASH, HMAC, HKDF ---- */

static void
kp_noise_hash2(guint8 out[KP_NOISE_HASH_BYTES], const guint8 *a, gsize a_len, const guint8 *b,
               gsize b_len)
{
        crypto_hash_sha256_state st;

        KP_SODIUM_OK(crypto_hash_sha256_init(&st));
        KP_SODIUM_OK(crypto_hash_sha256_update(&st, a, a_len));
        KP_SODIUM_OK(crypto_hash_sha256_update(&st, b, b_len));
        KP_SODIUM_OK(crypto_hash_sha256_final(&st, out));
}

static void
kp_noise_hmac2(guint8 out[KP_NOISE_HASH_BYTES], const guint8 key[KP_NOISE_HASH_BYTES],
               const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
        crypto_auth_hmacsha256_state st;

        KP_SODIUM_OK(crypto_auth_hmacsha256_init(&st, key, KP_NOISE_HASH_BYTES));
        KP_SODIUM_OK(crypto_auth_hmacsha256_update(&st, a, a_len));
        KP_SODIUM_OK(crypto_auth_hmacsha256_update(&st, b, b_len));
        KP_SODIUM_OK(crypto_auth_hmacsha256_final(&st, out));
        sodium_memzero(&st, sizeof st);
}

/* HKDF as the Noise framework defines it, with two outputs (all XX needs). */
static void
kp_noise_hkdf2(const guint8 ck[KP_NOISE_HASH_BYTES], const guint8 *ikm, gsize ikm_len,
               guint8 out1[KP_NOISE_HASH_BYTES], guint8 out2[KP_NOISE_HASH_BYTES])
{
        guint8 temp_key[KP_NOISE_HASH_BYTES];
        const guint8 one = 0x01, two = 0x02;

        kp_noise_hmac2(temp_key, ck, ikm, ikm_len, NULL, 0);
        kp_noise_hmac2(out1, temp_key, &one, 1, NULL, 0);
        kp_noise_hmac2(out2, temp_key, out1, KP_NOISE_HASH_BYTES, &two, 1);
        sodium_memzero(temp_key, sizeof temp_key);
}

/* ---- CipherState ---- */

struct _KpNoiseCipher {
        guint8 k[KP_NOISE_KEY_BYTES];
        gboolean has_key;
        guint64 n;
};

static void
kp_noise_cipher_init_key(KpNoiseCipher *cs, const guint8 key[KP_NOISE_KEY_BYTES])
{
        memcpy(cs->k, key, KP_NOISE_KEY_BYTES);
        cs->has_key = TRUE;
        cs->n = 0;
}

#ifndef KP_NOISE_NULL_CIPHER
/* ChaChaPoly's nonce: 32 zero bits, then n as 64 bits little-endian. */
static void
kp_noise_nonce(guint64 n, guint8 out[KP_NOISE_NONCE_BYTES])
{
        memset(out, 0, 4);
        for (guint i = 0; i < 8; i++)
                out[4 + i] = (guint8)(n >> (8 * i));
}
#endif

static gboolean
kp_noise_cipher_check_nonce(const KpNoiseCipher *cs, GError **error)
{
        if (cs->n == KP_NOISE_MAX_NONCE) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_CRYPTO,
                                    "noise: nonce exhausted after 2^64-1 messages, the "
                                    "connection must be closed");
                return FALSE;
        }
        return TRUE;
}

/* EncryptWithAd(); without a key the plaintext passes through unchanged. */
static gboolean
kp_noise_cipher_encrypt_ad(KpNoiseCipher *cs, const guint8 *ad, gsize ad_len,
                           const guint8 *plaintext, gsize len, GByteArray *out, GError **error)
{
        guint old = out->len;

        if (!cs->has_key) {
                g_byte_array_append(out, plaintext, (guint)len);
                return TRUE;
        }
        if (len > KP_NOISE_MAX_PLAINTEXT) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: plaintext of %" G_GSIZE_FORMAT " bytes exceeds %d", len,
                            KP_NOISE_MAX_PLAINTEXT);
                return FALSE;
        }
        if (!kp_noise_cipher_check_nonce(cs, error))
                return FALSE;
        g_byte_array_set_size(out, old + (guint)len + KP_NOISE_TAG_BYTES);
#ifdef KP_NOISE_NULL_CIPHER
        memcpy(out->data + old, plaintext, len);
        memset(out->data + old + len, 0, KP_NOISE_TAG_BYTES);
        (void)ad;
        (void)ad_len;
#else
        {
                guint8 nonce[KP_NOISE_NONCE_BYTES];
                unsigned long long clen = 0;

                kp_noise_nonce(cs->n, nonce);
                KP_SODIUM_OK(crypto_aead_chacha20poly1305_ietf_encrypt(
                    out->data + old, &clen, plaintext, len, ad, ad_len, NULL, nonce, cs->k));
                g_assert(clen == len + KP_NOISE_TAG_BYTES);
        }
#endif
        cs->n++;
        return TRUE;
}

/* DecryptWithAd(); a failure leaves the nonce where it was. */
static gboolean
kp_noise_cipher_decrypt_ad(KpNoiseCipher *cs, const guint8 *ad, gsize ad_len,
                           const guint8 *ciphertext, gsize len, GByteArray *out, const char *what,
                           GError **error)
{
        guint old = out->len;

        if (!cs->has_key) {
                g_byte_array_append(out, ciphertext, (guint)len);
                return TRUE;
        }
        if (len < KP_NOISE_TAG_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                            "noise: %s of %" G_GSIZE_FORMAT
                            " bytes is shorter than the %d-byte tag",
                            what, len, KP_NOISE_TAG_BYTES);
                return FALSE;
        }
        if (len > KP_NOISE_MAX_FRAME) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: %s of %" G_GSIZE_FORMAT " bytes exceeds %d", what, len,
                            KP_NOISE_MAX_FRAME);
                return FALSE;
        }
        if (!kp_noise_cipher_check_nonce(cs, error))
                return FALSE;
        g_byte_array_set_size(out, old + (guint)(len - KP_NOISE_TAG_BYTES));
#ifdef KP_NOISE_NULL_CIPHER
        /* The tag is ignored so that fuzzers need not forge it. */
        if (len > KP_NOISE_TAG_BYTES)
                memcpy(out->data + old, ciphertext, len - KP_NOISE_TAG_BYTES);
        (void)ad;
        (void)ad_len;
#else
        {
                guint8 nonce[KP_NOISE_NONCE_BYTES];
                unsigned long long plen = 0;

                kp_noise_nonce(cs->n, nonce);
                if (crypto_aead_chacha20poly1305_ietf_decrypt(
                        out->data + old, &plen, NULL, ciphertext, len, ad, ad_len, nonce, cs->k)
                    != 0) {
                        sodium_memzero(out->data + old, len - KP_NOISE_TAG_BYTES);
                        g_byte_array_set_size(out, old);
                        g_set_error(error, KP_ERROR, KP_ERROR_CRYPTO,
                                    "noise: %s of %" G_GSIZE_FORMAT
                                    " bytes failed to decrypt: bad tag, forged or corrupted",
                                    what, len);
                        return FALSE;
                }
                g_assert(plen == len - KP_NOISE_TAG_BYTES);
        }
#endif
        cs->n++;
        return TRUE;
}

KpNoiseCipher *
kp_noise_cipher_new(const guint8 key[KP_NOISE_KEY_BYTES])
{
        KpNoiseCipher *cs = g_new0(KpNoiseCipher, 1);

        kp_noise_sodium_init();
        kp_noise_cipher_init_key(cs, key);
        return cs;
}

gboolean
kp_noise_cipher_encrypt(KpNoiseCipher *cipher, const guint8 *ad, gsize ad_len,
                        const guint8 *plaintext, gsize len, GByteArray *out, GError **error)
{
        g_return_val_if_fail(cipher != NULL, FALSE);
        g_return_val_if_fail(out != NULL, FALSE);
        return kp_noise_cipher_encrypt_ad(cipher, ad, ad_len, plaintext, len, out, error);
}

gboolean
kp_noise_cipher_decrypt(KpNoiseCipher *cipher, const guint8 *ad, gsize ad_len,
                        const guint8 *ciphertext, gsize len, GByteArray *out, GError **error)
{
        g_return_val_if_fail(cipher != NULL, FALSE);
        g_return_val_if_fail(out != NULL, FALSE);
        return kp_noise_cipher_decrypt_ad(cipher, ad, ad_len, ciphertext, len, out, "message",
                                          error);
}

guint64
kp_noise_cipher_get_nonce(const KpNoiseCipher *cipher)
{
        return cipher->n;
}

void
kp_noise_cipher_set_nonce(KpNoiseCipher *cipher, guint64 nonce)
{
        cipher->n = nonce;
}

void
kp_noise_cipher_free(KpNoiseCipher *cipher)
{
        if (cipher == NULL)
                return;
        sodium_memzero(cipher, sizeof *cipher);
        g_free(cipher);
}

/* ---- SymmetricState ---- */

typedef struct {
        KpNoiseCipher cs;
        guint8 ck[KP_NOISE_HASH_BYTES];
        guint8 h[KP_NOISE_HASH_BYTES];
} KpNoiseSymmetric;

static void
kp_noise_symmetric_init(KpNoiseSymmetric *ss)
{
        /* The protocol name is exactly HASHLEN bytes, so it is h unhashed. */
        memcpy(ss->h, KP_NOISE_PROTOCOL_NAME, KP_NOISE_HASH_BYTES);
        memcpy(ss->ck, ss->h, KP_NOISE_HASH_BYTES);
        memset(&ss->cs, 0, sizeof ss->cs);
}

static void
kp_noise_mix_hash(KpNoiseSymmetric *ss, const guint8 *data, gsize len)
{
        kp_noise_hash2(ss->h, ss->h, KP_NOISE_HASH_BYTES, data, len);
}

static void
kp_noise_mix_key(KpNoiseSymmetric *ss, const guint8 *ikm, gsize len)
{
        guint8 ck[KP_NOISE_HASH_BYTES], k[KP_NOISE_HASH_BYTES];

        kp_noise_hkdf2(ss->ck, ikm, len, ck, k);
        memcpy(ss->ck, ck, sizeof ck);
        kp_noise_cipher_init_key(&ss->cs, k);
        sodium_memzero(ck, sizeof ck);
        sodium_memzero(k, sizeof k);
}

static gboolean
kp_noise_encrypt_and_hash(KpNoiseSymmetric *ss, const guint8 *plaintext, gsize len, GByteArray *out,
                          GError **error)
{
        guint old = out->len;

        if (!kp_noise_cipher_encrypt_ad(&ss->cs, ss->h, KP_NOISE_HASH_BYTES, plaintext, len, out,
                                        error))
                return FALSE;
        kp_noise_mix_hash(ss, out->data + old, out->len - old);
        return TRUE;
}

static gboolean
kp_noise_decrypt_and_hash(KpNoiseSymmetric *ss, const guint8 *ciphertext, gsize len,
                          GByteArray *out, const char *what, GError **error)
{
        if (!kp_noise_cipher_decrypt_ad(&ss->cs, ss->h, KP_NOISE_HASH_BYTES, ciphertext, len, out,
                                        what, error))
                return FALSE;
        kp_noise_mix_hash(ss, ciphertext, len);
        return TRUE;
}

/* ---- HandshakeState, pattern XX ---- */

/* XX:  -> e
 *      <- e, ee, s, es
 *      -> s, se */
#define KP_NOISE_XX_DONE   4
#define KP_NOISE_XX_SPLIT  5
#define KP_NOISE_XX_BROKEN 0

struct _KpNoiseXX {
        gboolean initiator;
        guint msg; /* the next message 1..3, or one of the KP_NOISE_XX_ states */
        KpNoiseSymmetric ss;
        guint8 s[KP_NOISE_KEY_BYTES];
        guint8 s_pub[KP_NOISE_KEY_BYTES];
        gboolean has_s;
        guint8 e[KP_NOISE_KEY_BYTES];
        guint8 e_pub[KP_NOISE_KEY_BYTES];
        gboolean has_e;
        guint8 rs[KP_NOISE_KEY_BYTES];
        gboolean has_rs;
        guint8 re[KP_NOISE_KEY_BYTES];
        gboolean has_re;
};

KpNoiseXX *
kp_noise_xx_new(gboolean initiator, const guint8 *prologue, gsize prologue_len)
{
        KpNoiseXX *xx;

        kp_noise_sodium_init();
        /* Plain heap memory, wiped on free: sodium_malloc's guard pages cost
         * several mappings each, too many for a daemon with many handshakes. */
        xx = g_new0(KpNoiseXX, 1);
        xx->initiator = initiator;
        xx->msg = 1;
        kp_noise_symmetric_init(&xx->ss);
        kp_noise_mix_hash(&xx->ss, prologue, prologue_len);
        return xx;
}

static gboolean
kp_noise_keypair_from_secret(const guint8 secret[KP_NOISE_KEY_BYTES], guint8 *ret_secret,
                             guint8 *ret_public, GError **error)
{
        guint8 pub[KP_NOISE_KEY_BYTES];

        if (crypto_scalarmult_base(pub, secret) != 0) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_CRYPTO,
                                    "noise: X25519 secret gives no usable public key");
                return FALSE;
        }
        memcpy(ret_secret, secret, KP_NOISE_KEY_BYTES);
        memcpy(ret_public, pub, KP_NOISE_KEY_BYTES);
        return TRUE;
}

gboolean
kp_noise_xx_set_static(KpNoiseXX *xx, const guint8 secret[KP_NOISE_KEY_BYTES], GError **error)
{
        g_return_val_if_fail(xx != NULL, FALSE);
        if (!kp_noise_keypair_from_secret(secret, xx->s, xx->s_pub, error))
                return FALSE;
        xx->has_s = TRUE;
        return TRUE;
}

gboolean
kp_noise_xx_set_ephemeral(KpNoiseXX *xx, const guint8 secret[KP_NOISE_KEY_BYTES], GError **error)
{
        g_return_val_if_fail(xx != NULL, FALSE);
        if (!kp_noise_keypair_from_secret(secret, xx->e, xx->e_pub, error))
                return FALSE;
        xx->has_e = TRUE;
        return TRUE;
}

const guint8 *
kp_noise_xx_get_static_public(const KpNoiseXX *xx)
{
        return xx->has_s ? xx->s_pub : NULL;
}

const guint8 *
kp_noise_xx_get_remote_static(const KpNoiseXX *xx)
{
        return xx->has_rs ? xx->rs : NULL;
}

gboolean
kp_noise_xx_is_my_turn(const KpNoiseXX *xx)
{
        if (xx->msg < 1 || xx->msg > 3)
                return FALSE;
        /* The initiator writes the odd messages. */
        return (xx->msg % 2 == 1) == (xx->initiator != FALSE);
}

guint
kp_noise_xx_get_message_number(const KpNoiseXX *xx)
{
        return xx->msg;
}

/* DH() of the framework. libsodium refuses low-order public keys, whose
 * shared secret would be known to anyone: the handshake must then stop. */
static gboolean
kp_noise_xx_dh_mix(KpNoiseXX *xx, const guint8 *secret, const guint8 *pub, const char *what,
                   GError **error)
{
        guint8 shared[KP_NOISE_KEY_BYTES];

        if (crypto_scalarmult(shared, secret, pub) != 0) {
                sodium_memzero(shared, sizeof shared);
                g_set_error(error, KP_ERROR, KP_ERROR_CRYPTO,
                            "noise: X25519 with the remote %s key failed: low-order point", what);
                return FALSE;
        }
        kp_noise_mix_key(&xx->ss, shared, sizeof shared);
        sodium_memzero(shared, sizeof shared);
        return TRUE;
}

static gboolean
kp_noise_xx_check_usable(const KpNoiseXX *xx, gboolean writing, GError **error)
{
        if (xx->msg == KP_NOISE_XX_BROKEN) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_FAILED,
                                    "noise: handshake already failed");
                return FALSE;
        }
        if (xx->msg >= KP_NOISE_XX_DONE) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "noise: handshake already complete");
                return FALSE;
        }
        if (kp_noise_xx_is_my_turn(xx) != writing) {
                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                            "noise: handshake message %u is the %s's to write", xx->msg,
                            (xx->msg % 2 == 1) ? "initiator" : "responder");
                return FALSE;
        }
        return TRUE;
}

static gboolean
kp_noise_xx_ensure_ephemeral(KpNoiseXX *xx, GError **error)
{
        guint8 secret[KP_NOISE_KEY_BYTES];
        gboolean ok;

        if (xx->has_e)
                return TRUE;
        randombytes_buf(secret, sizeof secret);
        ok = kp_noise_xx_set_ephemeral(xx, secret, error);
        sodium_memzero(secret, sizeof secret);
        return ok;
}

gboolean
kp_noise_xx_write_message(KpNoiseXX *xx, const guint8 *payload, gsize payload_len, GByteArray *out,
                          GError **error)
{
        guint old;
        gsize overhead;
        gboolean ok = FALSE;

        g_return_val_if_fail(xx != NULL, FALSE);
        g_return_val_if_fail(out != NULL, FALSE);
        if (!kp_noise_xx_check_usable(xx, TRUE, error))
                return FALSE;
        overhead = xx->msg == 1   ? KP_NOISE_KEY_BYTES
                   : xx->msg == 2 ? 2 * KP_NOISE_KEY_BYTES + 2 * KP_NOISE_TAG_BYTES
                                  : KP_NOISE_KEY_BYTES + 2 * KP_NOISE_TAG_BYTES;
        if (payload_len > KP_NOISE_MAX_FRAME - overhead) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: handshake payload of %" G_GSIZE_FORMAT
                            " bytes does not fit message %u",
                            payload_len, xx->msg);
                return FALSE;
        }
        if (xx->msg >= 2 && !xx->has_s) {
                g_set_error(error, KP_ERROR, KP_ERROR_FAILED,
                            "noise: message %u needs a static key and none was set", xx->msg);
                return FALSE;
        }

        old = out->len;
        if (xx->msg == 1 || xx->msg == 2) {
                if (!kp_noise_xx_ensure_ephemeral(xx, error))
                        goto out;
                g_byte_array_append(out, xx->e_pub, KP_NOISE_KEY_BYTES);
                kp_noise_mix_hash(&xx->ss, xx->e_pub, KP_NOISE_KEY_BYTES);
        }
        if (xx->msg == 2) {
                if (!kp_noise_xx_dh_mix(xx, xx->e, xx->re, "ephemeral", error)) /* ee */
                        goto out;
                if (!kp_noise_encrypt_and_hash(&xx->ss, xx->s_pub, KP_NOISE_KEY_BYTES, out, error))
                        goto out;
                if (!kp_noise_xx_dh_mix(xx, xx->s, xx->re, "ephemeral", error)) /* es */
                        goto out;
        }
        if (xx->msg == 3) {
                if (!kp_noise_encrypt_and_hash(&xx->ss, xx->s_pub, KP_NOISE_KEY_BYTES, out, error))
                        goto out;
                if (!kp_noise_xx_dh_mix(xx, xx->s, xx->re, "ephemeral", error)) /* se */
                        goto out;
        }
        if (!kp_noise_encrypt_and_hash(&xx->ss, payload, payload_len, out, error))
                goto out;
        ok = TRUE;
out:
        if (!ok) {
                /* The transcript hash has moved on: this handshake cannot be resumed. */
                g_byte_array_set_size(out, old);
                xx->msg = KP_NOISE_XX_BROKEN;
                return FALSE;
        }
        xx->msg++;
        return TRUE;
}

gboolean
kp_noise_xx_read_message(KpNoiseXX *xx, const guint8 *msg, gsize len, GByteArray *ret_payload,
                         GError **error)
{
        g_autoptr(GByteArray) rs = g_byte_array_new();
        g_autoptr(GByteArray) payload = g_byte_array_new();
        gsize pos = 0, need;
        gboolean ok = FALSE;

        g_return_val_if_fail(xx != NULL, FALSE);
        g_return_val_if_fail(ret_payload != NULL, FALSE);
        if (!kp_noise_xx_check_usable(xx, FALSE, error))
                return FALSE;
        need = xx->msg == 1   ? KP_NOISE_KEY_BYTES
               : xx->msg == 2 ? 2 * KP_NOISE_KEY_BYTES + 2 * KP_NOISE_TAG_BYTES
                              : KP_NOISE_KEY_BYTES + 2 * KP_NOISE_TAG_BYTES;
        if (len < need) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                            "noise: handshake message %u of %" G_GSIZE_FORMAT
                            " bytes is shorter than the %" G_GSIZE_FORMAT " it needs",
                            xx->msg, len, need);
                return FALSE;
        }
        if (len > KP_NOISE_MAX_FRAME) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: handshake message of %" G_GSIZE_FORMAT " bytes exceeds %d", len,
                            KP_NOISE_MAX_FRAME);
                return FALSE;
        }

        if (xx->msg == 1 || xx->msg == 2) {
                memcpy(xx->re, msg, KP_NOISE_KEY_BYTES);
                xx->has_re = TRUE;
                kp_noise_mix_hash(&xx->ss, xx->re, KP_NOISE_KEY_BYTES);
                pos += KP_NOISE_KEY_BYTES;
        }
        if (xx->msg == 2) {
                if (!kp_noise_xx_dh_mix(xx, xx->e, xx->re, "ephemeral", error)) /* ee */
                        goto out;
        }
        if (xx->msg == 2 || xx->msg == 3) {
                g_autofree char *what = g_strdup_printf("handshake message %u static key", xx->msg);
                if (!kp_noise_decrypt_and_hash(&xx->ss, msg + pos,
                                               KP_NOISE_KEY_BYTES + KP_NOISE_TAG_BYTES, rs, what,
                                               error))
                        goto out;
                pos += KP_NOISE_KEY_BYTES + KP_NOISE_TAG_BYTES;
                memcpy(xx->rs, rs->data, KP_NOISE_KEY_BYTES);
                xx->has_rs = TRUE;
                /* es for the initiator, se for the responder: both are DH(e, rs). */
                if (!kp_noise_xx_dh_mix(xx, xx->e, xx->rs, "static", error))
                        goto out;
        }
        {
                g_autofree char *what = g_strdup_printf("handshake message %u payload", xx->msg);
                if (!kp_noise_decrypt_and_hash(&xx->ss, msg + pos, len - pos, payload, what, error))
                        goto out;
        }
        ok = TRUE;
out:
        sodium_memzero(rs->data, rs->len);
        if (!ok) {
                xx->msg = KP_NOISE_XX_BROKEN;
                return FALSE;
        }
        g_byte_array_append(ret_payload, payload->data, payload->len);
        xx->msg++;
        return TRUE;
}

void
kp_noise_xx_get_handshake_hash(const KpNoiseXX *xx, guint8 ret_hash[KP_NOISE_HASH_BYTES])
{
        memcpy(ret_hash, xx->ss.h, KP_NOISE_HASH_BYTES);
}

gboolean
kp_noise_xx_split(KpNoiseXX *xx, KpNoiseCipher **ret_send, KpNoiseCipher **ret_recv, GError **error)
{
        guint8 k1[KP_NOISE_KEY_BYTES], k2[KP_NOISE_KEY_BYTES];
        KpNoiseCipher *c1, *c2;

        g_return_val_if_fail(xx != NULL, FALSE);
        if (xx->msg != KP_NOISE_XX_DONE) {
                g_set_error(error, KP_ERROR, KP_ERROR_PROTOCOL,
                            "noise: cannot split: handshake not complete or already split "
                            "(state %u)",
                            xx->msg);
                return FALSE;
        }
        kp_noise_hkdf2(xx->ss.ck, NULL, 0, k1, k2);
        c1 = kp_noise_cipher_new(k1);
        c2 = kp_noise_cipher_new(k2);
        sodium_memzero(k1, sizeof k1);
        sodium_memzero(k2, sizeof k2);
        /* Only h outlives the handshake (channel binding); every secret goes. */
        sodium_memzero(xx->ss.ck, sizeof xx->ss.ck);
        sodium_memzero(&xx->ss.cs, sizeof xx->ss.cs);
        sodium_memzero(xx->s, sizeof xx->s);
        sodium_memzero(xx->e, sizeof xx->e);
        xx->has_s = FALSE;
        xx->has_e = FALSE;
        xx->msg = KP_NOISE_XX_SPLIT;
        if (xx->initiator) {
                *ret_send = c1;
                *ret_recv = c2;
        } else {
                *ret_send = c2;
                *ret_recv = c1;
        }
        return TRUE;
}

void
kp_noise_xx_free(KpNoiseXX *xx)
{
        if (xx == NULL)
                return;
        sodium_memzero(xx, sizeof *xx);
        g_free(xx);
}

/* ---- A signed static key for many handshakes ---- */

struct _KpNoiseStaticKey {
        const KpKeypair *identity;
        guint8 secret[KP_NOISE_KEY_BYTES];
        guint8 public[KP_NOISE_KEY_BYTES];
        guint8 sig[KP_ED25519_SIGNATURE_BYTES];
};

/* The identity's signature of "noise-libp2p-static-key:" || @s_pub. */
static void
kp_noise_sign_static(const KpKeypair *identity, const guint8 s_pub[KP_NOISE_KEY_BYTES],
                     guint8 ret_sig[KP_ED25519_SIGNATURE_BYTES])
{
        guint8 to_sign[KP_NOISE_SIG_MSG_BYTES];

        memcpy(to_sign, KP_NOISE_STATIC_KEY_SIG_PREFIX, sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1);
        memcpy(to_sign + sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1, s_pub, KP_NOISE_KEY_BYTES);
        kp_keypair_sign(identity, to_sign, sizeof to_sign, ret_sig);
}

KpNoiseStaticKey *
kp_noise_static_key_new_from_secret(const KpKeypair *identity,
                                    const guint8 secret[KP_NOISE_KEY_BYTES], GError **error)
{
        KpNoiseStaticKey *key;

        g_return_val_if_fail(identity != NULL, NULL);
        kp_noise_sodium_init();
        key = g_atomic_rc_box_new0(KpNoiseStaticKey);
        key->identity = identity;
        if (!kp_noise_keypair_from_secret(secret, key->secret, key->public, error)) {
                kp_noise_static_key_unref(key);
                return NULL;
        }
        kp_noise_sign_static(identity, key->public, key->sig);
        return key;
}

KpNoiseStaticKey *
kp_noise_static_key_new(const KpKeypair *identity)
{
        guint8 secret[KP_NOISE_KEY_BYTES];
        KpNoiseStaticKey *key;

        g_return_val_if_fail(identity != NULL, NULL);
        kp_noise_sodium_init();
        randombytes_buf(secret, sizeof secret);
        key = kp_noise_static_key_new_from_secret(identity, secret, NULL);
        sodium_memzero(secret, sizeof secret);
        /* X25519 clamping keeps any secret's public key off the identity
         * point, the only result libsodium refuses. */
        g_assert(key != NULL);
        return key;
}

const guint8 *
kp_noise_static_key_get_public(const KpNoiseStaticKey *key)
{
        return key->public;
}

const KpKeypair *
kp_noise_static_key_get_identity(const KpNoiseStaticKey *key)
{
        return key->identity;
}

KpNoiseStaticKey *
kp_noise_static_key_ref(KpNoiseStaticKey *key)
{
        return g_atomic_rc_box_acquire(key);
}

static void
kp_noise_static_key_clear(gpointer data)
{
        KpNoiseStaticKey *key = data;

        sodium_memzero(key->secret, sizeof key->secret);
}

void
kp_noise_static_key_unref(KpNoiseStaticKey *key)
{
        if (key != NULL)
                g_atomic_rc_box_release_full(key, kp_noise_static_key_clear);
}

/* ---- The libp2p channel ---- */

struct _KpNoise {
        gboolean initiator;
        gboolean started;
        KpNoiseState state;
        const KpKeypair *identity;
        KpPeerId expected;
        gboolean has_expected;
        GStrv local_muxers;
        KpNoiseXX *xx;
        gboolean static_set;
        KpNoiseStaticKey *static_key; /* shared, signed once; or NULL */
        KpNoiseCipher *send;
        KpNoiseCipher *recv;
        GByteArray *inbuf;     /* one partial frame, header included */
        GByteArray *output;    /* handshake frames to write */
        GByteArray *plaintext; /* decrypted transport data */
        KpPublicKey *remote_key;
        KpPeerId remote_id;
        GStrv remote_muxers;
        guint8 hash[KP_NOISE_HASH_BYTES];
};

static gboolean
kp_noise_muxers_valid(const char *const *muxers)
{
        guint n = 0;

        if (muxers == NULL)
                return TRUE;
        for (; muxers[n] != NULL; n++) {
                gsize len = strlen(muxers[n]);
                if (len == 0 || len > KP_NOISE_MAX_MUXER_LEN)
                        return FALSE;
        }
        return n <= KP_NOISE_MAX_MUXERS;
}

static KpNoise *
kp_noise_new(gboolean initiator, const KpKeypair *identity, const KpPeerId *expected_remote,
             const char *const *muxers)
{
        KpNoise *noise = g_new0(KpNoise, 1);

        noise->initiator = initiator;
        noise->state = KP_NOISE_STATE_HANDSHAKE;
        noise->identity = identity;
        if (expected_remote != NULL) {
                noise->expected = *expected_remote;
                noise->has_expected = TRUE;
        }
        noise->local_muxers = g_strdupv((char **)muxers);
        noise->xx = kp_noise_xx_new(initiator, NULL, 0);
        noise->inbuf = g_byte_array_new();
        noise->output = g_byte_array_new();
        noise->plaintext = g_byte_array_new();
        return noise;
}

KpNoise *
kp_noise_new_initiator(const KpKeypair *identity, const KpPeerId *expected_remote,
                       const char *const *muxers)
{
        g_return_val_if_fail(identity != NULL, NULL);
        g_return_val_if_fail(kp_noise_muxers_valid(muxers), NULL);
        return kp_noise_new(TRUE, identity, expected_remote, muxers);
}

KpNoise *
kp_noise_new_responder(const KpKeypair *identity, const char *const *muxers)
{
        g_return_val_if_fail(identity != NULL, NULL);
        g_return_val_if_fail(kp_noise_muxers_valid(muxers), NULL);
        return kp_noise_new(FALSE, identity, NULL, muxers);
}

void
kp_noise_set_static_key(KpNoise *noise, KpNoiseStaticKey *key)
{
        g_return_if_fail(noise != NULL && !noise->started && !noise->static_set);
        g_return_if_fail(key != NULL && key->identity == noise->identity);
        /* Copied without recomputing the public key: that is the saving. */
        memcpy(noise->xx->s, key->secret, KP_NOISE_KEY_BYTES);
        memcpy(noise->xx->s_pub, key->public, KP_NOISE_KEY_BYTES);
        noise->xx->has_s = TRUE;
        noise->static_key = kp_noise_static_key_ref(key);
        noise->static_set = TRUE;
}

void
kp_noise_set_static_for_testing(KpNoise *noise, const guint8 secret[KP_NOISE_KEY_BYTES])
{
        gboolean ok;

        g_return_if_fail(noise != NULL && !noise->started && noise->static_key == NULL);
        ok = kp_noise_xx_set_static(noise->xx, secret, NULL);
        g_return_if_fail(ok);
        noise->static_set = TRUE;
}

void
kp_noise_set_ephemeral_for_testing(KpNoise *noise, const guint8 secret[KP_NOISE_KEY_BYTES])
{
        gboolean ok;

        g_return_if_fail(noise != NULL && !noise->started);
        ok = kp_noise_xx_set_ephemeral(noise->xx, secret, NULL);
        g_return_if_fail(ok);
}

void
kp_noise_set_static_public_for_testing(KpNoise *noise, const guint8 pub[KP_NOISE_KEY_BYTES])
{
        g_return_if_fail(noise != NULL && !noise->started && noise->static_set);
        g_return_if_fail(noise->static_key == NULL);
        memcpy(noise->xx->s_pub, pub, KP_NOISE_KEY_BYTES);
}

void
kp_noise_set_nonces_for_testing(KpNoise *noise, guint64 send_nonce, guint64 recv_nonce)
{
        g_return_if_fail(noise != NULL && noise->state == KP_NOISE_STATE_TRANSPORT);
        noise->send->n = send_nonce;
        noise->recv->n = recv_nonce;
}

/* Early data must not survive a failed handshake, nor keys a failed channel. */
static void
kp_noise_fail(KpNoise *noise)
{
        noise->state = KP_NOISE_STATE_FAILED;
        g_clear_pointer(&noise->xx, kp_noise_xx_free);
        g_clear_pointer(&noise->send, kp_noise_cipher_free);
        g_clear_pointer(&noise->recv, kp_noise_cipher_free);
        g_clear_pointer(&noise->remote_key, kp_public_key_free);
        g_clear_pointer(&noise->remote_muxers, g_strfreev);
        sodium_memzero(noise->inbuf->data, noise->inbuf->len);
        g_byte_array_set_size(noise->inbuf, 0);
        g_byte_array_set_size(noise->output, 0);
        sodium_memzero(noise->plaintext->data, noise->plaintext->len);
        g_byte_array_set_size(noise->plaintext, 0);
}

static gboolean
kp_noise_check_open(const KpNoise *noise, GError **error)
{
        if (noise->state == KP_NOISE_STATE_FAILED) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_CLOSED,
                                    "noise: channel closed after an earlier failure");
                return FALSE;
        }
        return TRUE;
}

static void
kp_noise_append_frame_header(GByteArray *out, gsize len)
{
        guint8 hdr[KP_NOISE_FRAME_HEADER_BYTES] = { (guint8)(len >> 8), (guint8)len };

        g_assert(len <= KP_NOISE_MAX_FRAME);
        g_byte_array_append(out, hdr, sizeof hdr);
}

static gboolean
kp_noise_write_handshake(KpNoise *noise, const guint8 *payload, gsize len, GError **error)
{
        g_autoptr(GByteArray) msg = g_byte_array_new();

        if (!kp_noise_xx_write_message(noise->xx, payload, len, msg, error))
                return FALSE;
        kp_noise_append_frame_header(noise->output, msg->len);
        g_byte_array_append(noise->output, msg->data, msg->len);
        return TRUE;
}

static GBytes *
kp_noise_build_payload(KpNoise *noise, GError **error)
{
        NoiseHandshakePayload msg = NOISE_HANDSHAKE_PAYLOAD__INIT;
        NoiseExtensions ext = NOISE_EXTENSIONS__INIT;
        g_autofree ProtobufCBinaryData *muxers = NULL;
        g_autoptr(GBytes) key = NULL;
        guint8 sig[KP_ED25519_SIGNATURE_BYTES];
        const guint8 *s_pub = kp_noise_xx_get_static_public(noise->xx);
        gsize size;
        guint8 *buf;

        g_assert(s_pub != NULL);
        if (noise->static_key != NULL)
                memcpy(sig, noise->static_key->sig, sizeof sig);
        else
                kp_noise_sign_static(noise->identity, s_pub, sig);

        key = kp_public_key_to_protobuf(kp_keypair_get_public_key(noise->identity));
        msg.has_identity_key = TRUE;
        msg.identity_key.data = (guint8 *)g_bytes_get_data(key, &msg.identity_key.len);
        msg.has_identity_sig = TRUE;
        msg.identity_sig.data = sig;
        msg.identity_sig.len = sizeof sig;
        if (noise->local_muxers != NULL && noise->local_muxers[0] != NULL) {
                guint n = g_strv_length(noise->local_muxers);
                muxers = g_new0(ProtobufCBinaryData, n);
                for (guint i = 0; i < n; i++) {
                        muxers[i].data = (guint8 *)noise->local_muxers[i];
                        muxers[i].len = strlen(noise->local_muxers[i]);
                }
                ext.n_stream_muxers = n;
                ext.stream_muxers = muxers;
                msg.extensions = &ext;
        }
        size = noise_handshake_payload__get_packed_size(&msg);
        if (size > KP_NOISE_MAX_PAYLOAD) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: our handshake payload of %" G_GSIZE_FORMAT " bytes exceeds %d",
                            size, KP_NOISE_MAX_PAYLOAD);
                return NULL;
        }
        buf = g_malloc(size);
        g_assert(noise_handshake_payload__pack(&msg, buf) == size);
        return g_bytes_new_take(buf, size);
}

gboolean
kp_noise_start(KpNoise *noise, GError **error)
{
        g_return_val_if_fail(noise != NULL, FALSE);
        g_return_val_if_fail(!noise->started, FALSE);

        if (!kp_noise_check_open(noise, error))
                return FALSE;
        noise->started = TRUE;
        if (!noise->static_set) {
                guint8 secret[KP_NOISE_KEY_BYTES];
                gboolean ok;

                randombytes_buf(secret, sizeof secret);
                ok = kp_noise_xx_set_static(noise->xx, secret, error);
                sodium_memzero(secret, sizeof secret);
                if (!ok) {
                        kp_noise_fail(noise);
                        return FALSE;
                }
                noise->static_set = TRUE;
        }
        /* The initiator's first message has no payload: nothing in it would be
         * encrypted yet. */
        if (noise->initiator && !kp_noise_write_handshake(noise, NULL, 0, error)) {
                kp_noise_fail(noise);
                return FALSE;
        }
        return TRUE;
}

static gboolean
kp_noise_muxer_valid(const ProtobufCBinaryData *m, GError **error)
{
        if (m->len == 0 || m->len > KP_NOISE_MAX_MUXER_LEN) {
                g_set_error(error, KP_ERROR, m->len == 0 ? KP_ERROR_INVALID : KP_ERROR_TOO_LARGE,
                            "noise: stream_muxers entry of %" G_GSIZE_FORMAT
                            " bytes (allowed 1 to %d)",
                            m->len, KP_NOISE_MAX_MUXER_LEN);
                return FALSE;
        }
        if (memchr(m->data, '\0', m->len) != NULL
            || !g_utf8_validate((const char *)m->data, (gssize)m->len, NULL)) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_INVALID,
                                    "noise: stream_muxers entry is not a UTF-8 string");
                return FALSE;
        }
        return TRUE;
}

/* Checks the remote's NoiseHandshakePayload against the static key it sent,
 * and only then keeps its identity and early data. */
static gboolean
kp_noise_read_payload(KpNoise *noise, const guint8 *buf, gsize len, GError **error)
{
        NoiseHandshakePayload *msg = NULL;
        g_autoptr(KpPublicKey) key = NULL;
        g_autoptr(GPtrArray) muxers = g_ptr_array_new_with_free_func(g_free);
        guint8 to_sign[KP_NOISE_SIG_MSG_BYTES];
        const guint8 *rs = kp_noise_xx_get_remote_static(noise->xx);
        KpPeerId id;
        gboolean ok = FALSE;

        g_assert(rs != NULL);
        if (len > KP_NOISE_MAX_PAYLOAD) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: handshake payload of %" G_GSIZE_FORMAT " bytes exceeds %d", len,
                            KP_NOISE_MAX_PAYLOAD);
                return FALSE;
        }
        msg = noise_handshake_payload__unpack(NULL, len, buf);
        if (msg == NULL) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_INVALID,
                                    "noise: handshake payload is not a NoiseHandshakePayload "
                                    "protobuf");
                return FALSE;
        }
        if (!msg->has_identity_key || msg->identity_key.len == 0) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_INVALID,
                                    "noise: handshake payload has no identity_key");
                goto out;
        }
        if (!msg->has_identity_sig || msg->identity_sig.len == 0) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_INVALID,
                                    "noise: handshake payload has no identity_sig");
                goto out;
        }
        key = kp_public_key_from_protobuf(msg->identity_key.data, msg->identity_key.len, error);
        if (key == NULL) {
                g_prefix_error(error, "noise: identity_key: ");
                goto out;
        }
        memcpy(to_sign, KP_NOISE_STATIC_KEY_SIG_PREFIX, sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1);
        memcpy(to_sign + sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1, rs, KP_NOISE_KEY_BYTES);
#ifndef KP_NOISE_NULL_CIPHER
        if (!kp_public_key_verify(key, to_sign, sizeof to_sign, msg->identity_sig.data,
                                  msg->identity_sig.len, error)) {
                g_prefix_error(error, "noise: identity_sig: ");
                goto out;
        }
#endif
        kp_peer_id_from_public_key(key, &id);
        if (noise->has_expected && !kp_peer_id_equal(&id, &noise->expected)) {
                g_autofree char *want = kp_peer_id_to_string(&noise->expected);
                g_autofree char *got = kp_peer_id_to_string(&id);
                g_set_error(error, KP_ERROR, KP_ERROR_PEER_ID_MISMATCH,
                            "peer id mismatch: expected %s, got %s", want, got);
                goto out;
        }
        if (msg->extensions != NULL) {
                if (msg->extensions->n_stream_muxers > KP_NOISE_MAX_MUXERS) {
                        g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                                    "noise: %" G_GSIZE_FORMAT " stream_muxers exceed %d",
                                    msg->extensions->n_stream_muxers, KP_NOISE_MAX_MUXERS);
                        goto out;
                }
                for (gsize i = 0; i < msg->extensions->n_stream_muxers; i++) {
                        const ProtobufCBinaryData *m = &msg->extensions->stream_muxers[i];
                        if (!kp_noise_muxer_valid(m, error))
                                goto out;
                        g_ptr_array_add(muxers, g_strndup((const char *)m->data, m->len));
                }
        }
        g_ptr_array_add(muxers, NULL);
        noise->remote_key = g_steal_pointer(&key);
        noise->remote_id = id;
        noise->remote_muxers = (GStrv)g_ptr_array_free(g_steal_pointer(&muxers), FALSE);
        ok = TRUE;
out:
        noise_handshake_payload__free_unpacked(msg, NULL);
        return ok;
}

static gboolean
kp_noise_finish_handshake(KpNoise *noise, GError **error)
{
        kp_noise_xx_get_handshake_hash(noise->xx, noise->hash);
        if (!kp_noise_xx_split(noise->xx, &noise->send, &noise->recv, error))
                return FALSE;
        g_clear_pointer(&noise->xx, kp_noise_xx_free);
        noise->state = KP_NOISE_STATE_TRANSPORT;
        return TRUE;
}

static gboolean
kp_noise_process_handshake(KpNoise *noise, const guint8 *frame, gsize len, GError **error)
{
        g_autoptr(GByteArray) payload = g_byte_array_new();
        g_autoptr(GBytes) ours = NULL;
        guint n = kp_noise_xx_get_message_number(noise->xx);

        if (!kp_noise_xx_read_message(noise->xx, frame, len, payload, error))
                return FALSE;
        /* Message 1 carries no identity; whatever payload it has is ignored. */
        if (n >= 2 && !kp_noise_read_payload(noise, payload->data, payload->len, error))
                return FALSE;
        if (n == 3)
                return kp_noise_finish_handshake(noise, error);
        ours = kp_noise_build_payload(noise, error);
        if (ours == NULL)
                return FALSE;
        if (!kp_noise_write_handshake(noise, g_bytes_get_data(ours, NULL), g_bytes_get_size(ours),
                                      error))
                return FALSE;
        if (n == 2)
                return kp_noise_finish_handshake(noise, error);
        return TRUE;
}

static gboolean
kp_noise_process_frame(KpNoise *noise, const guint8 *frame, gsize len, GError **error)
{
        if (noise->state == KP_NOISE_STATE_HANDSHAKE)
                return kp_noise_process_handshake(noise, frame, len, error);
        return kp_noise_cipher_decrypt_ad(noise->recv, NULL, 0, frame, len, noise->plaintext,
                                          "transport frame", error);
}

/* Refuses a handshake frame header announcing more than any handshake
 * message may hold, before its body is buffered. */
static gboolean
kp_noise_check_frame_len(const KpNoise *noise, gsize len, GError **error)
{
        if (noise->state == KP_NOISE_STATE_HANDSHAKE && len > KP_NOISE_MAX_HANDSHAKE_MESSAGE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "noise: handshake frame of %" G_GSIZE_FORMAT " bytes exceeds %d", len,
                            KP_NOISE_MAX_HANDSHAKE_MESSAGE);
                return FALSE;
        }
        return TRUE;
}

static gsize
kp_noise_read_be16(const guint8 *p)
{
        return ((gsize)p[0] << 8) | p[1];
}

static gboolean
kp_noise_feed_frames(KpNoise *noise, const guint8 *data, gsize len, GError **error)
{
        gsize pos = 0;

        while (pos < len) {
                gsize flen, take;

                /* A whole frame in @data is processed in place. */
                if (noise->inbuf->len == 0 && len - pos >= KP_NOISE_FRAME_HEADER_BYTES) {
                        flen = kp_noise_read_be16(data + pos);
                        if (!kp_noise_check_frame_len(noise, flen, error))
                                return FALSE;
                        if (len - pos - KP_NOISE_FRAME_HEADER_BYTES >= flen) {
                                if (!kp_noise_process_frame(
                                        noise, data + pos + KP_NOISE_FRAME_HEADER_BYTES, flen,
                                        error))
                                        return FALSE;
                                pos += KP_NOISE_FRAME_HEADER_BYTES + flen;
                                continue;
                        }
                }
                if (noise->inbuf->len < KP_NOISE_FRAME_HEADER_BYTES) {
                        take = MIN(KP_NOISE_FRAME_HEADER_BYTES - noise->inbuf->len, len - pos);
                        g_byte_array_append(noise->inbuf, data + pos, (guint)take);
                        pos += take;
                        if (noise->inbuf->len < KP_NOISE_FRAME_HEADER_BYTES)
                                break;
                        flen = kp_noise_read_be16(noise->inbuf->data);
                        if (!kp_noise_check_frame_len(noise, flen, error))
                                return FALSE;
                } else {
                        flen = kp_noise_read_be16(noise->inbuf->data);
                }
                take = MIN(KP_NOISE_FRAME_HEADER_BYTES + flen - noise->inbuf->len, len - pos);
                g_byte_array_append(noise->inbuf, data + pos, (guint)take);
                pos += take;
                if (noise->inbuf->len == KP_NOISE_FRAME_HEADER_BYTES + flen) {
                        gboolean ok = kp_noise_process_frame(
                            noise, noise->inbuf->data + KP_NOISE_FRAME_HEADER_BYTES, flen, error);
                        sodium_memzero(noise->inbuf->data, noise->inbuf->len);
                        g_byte_array_set_size(noise->inbuf, 0);
                        if (!ok)
                                return FALSE;
                }
        }
        return TRUE;
}

gboolean
kp_noise_feed(KpNoise *noise, const guint8 *data, gsize len, gsize *ret_consumed, GError **error)
{
        g_return_val_if_fail(noise != NULL, FALSE);
        g_return_val_if_fail(data != NULL || len == 0, FALSE);
        g_return_val_if_fail(noise->started, FALSE);

        if (!kp_noise_check_open(noise, error))
                return FALSE;
        if (!kp_noise_feed_frames(noise, data, len, error)) {
                kp_noise_fail(noise);
                return FALSE;
        }
        if (ret_consumed != NULL)
                *ret_consumed = len;
        return TRUE;
}

gboolean
kp_noise_feed_eof(KpNoise *noise, GError **error)
{
        g_return_val_if_fail(noise != NULL, FALSE);

        if (!kp_noise_check_open(noise, error))
                return FALSE;
        if (noise->inbuf->len > 0) {
                gsize want
                    = noise->inbuf->len >= KP_NOISE_FRAME_HEADER_BYTES
                          ? KP_NOISE_FRAME_HEADER_BYTES + kp_noise_read_be16(noise->inbuf->data)
                          : KP_NOISE_FRAME_HEADER_BYTES;
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                            "noise: connection closed inside a frame (%u of %" G_GSIZE_FORMAT
                            " bytes)",
                            noise->inbuf->len, want);
                kp_noise_fail(noise);
                return FALSE;
        }
        if (noise->state == KP_NOISE_STATE_HANDSHAKE) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_CLOSED,
                                    "noise: connection closed during the handshake");
                kp_noise_fail(noise);
                return FALSE;
        }
        return TRUE;
}

static gsize
kp_noise_move(GByteArray *from, GByteArray *to)
{
        gsize n = from->len;

        g_byte_array_append(to, from->data, from->len);
        sodium_memzero(from->data, from->len);
        g_byte_array_set_size(from, 0);
        return n;
}

gsize
kp_noise_take_output(KpNoise *noise, GByteArray *out)
{
        g_return_val_if_fail(noise != NULL, 0);
        g_return_val_if_fail(out != NULL, 0);
        return kp_noise_move(noise->output, out);
}

gsize
kp_noise_take_plaintext(KpNoise *noise, GByteArray *out)
{
        g_return_val_if_fail(noise != NULL, 0);
        g_return_val_if_fail(out != NULL, 0);
        return kp_noise_move(noise->plaintext, out);
}

gboolean
kp_noise_encrypt(KpNoise *noise, const guint8 *plaintext, gsize len, GByteArray *out,
                 GError **error)
{
        guint start;

        g_return_val_if_fail(noise != NULL, FALSE);
        g_return_val_if_fail(plaintext != NULL || len == 0, FALSE);
        g_return_val_if_fail(out != NULL, FALSE);

        if (!kp_noise_check_open(noise, error))
                return FALSE;
        if (noise->state != KP_NOISE_STATE_TRANSPORT) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_PROTOCOL,
                                    "noise: cannot encrypt before the handshake is complete");
                return FALSE;
        }
        start = out->len;
        if (noise->output->len > 0)
                kp_noise_move(noise->output, out);
        for (gsize pos = 0; pos < len;) {
                gsize chunk = MIN(len - pos, (gsize)KP_NOISE_MAX_PLAINTEXT);

                kp_noise_append_frame_header(out, chunk + KP_NOISE_TAG_BYTES);
                if (!kp_noise_cipher_encrypt_ad(noise->send, NULL, 0, plaintext + pos, chunk, out,
                                                error)) {
                        g_byte_array_set_size(out, start);
                        kp_noise_fail(noise);
                        return FALSE;
                }
                pos += chunk;
        }
        return TRUE;
}

KpNoiseState
kp_noise_get_state(const KpNoise *noise)
{
        return noise->state;
}

gboolean
kp_noise_is_initiator(const KpNoise *noise)
{
        return noise->initiator;
}

const KpPeerId *
kp_noise_get_remote_peer_id(const KpNoise *noise)
{
        return noise->state == KP_NOISE_STATE_TRANSPORT ? &noise->remote_id : NULL;
}

const KpPublicKey *
kp_noise_get_remote_public_key(const KpNoise *noise)
{
        return noise->state == KP_NOISE_STATE_TRANSPORT ? noise->remote_key : NULL;
}

const char *const *
kp_noise_get_remote_muxers(const KpNoise *noise)
{
        if (noise->state != KP_NOISE_STATE_TRANSPORT)
                return NULL;
        return (const char *const *)noise->remote_muxers;
}

const char *
kp_noise_select_muxer(const KpNoise *noise)
{
        const char *const *ours, *const *theirs, *const *init, *const *resp;

        if (noise->state != KP_NOISE_STATE_TRANSPORT || noise->local_muxers == NULL)
                return NULL;
        ours = (const char *const *)noise->local_muxers;
        theirs = (const char *const *)noise->remote_muxers;
        init = noise->initiator ? ours : theirs;
        resp = noise->initiator ? theirs : ours;
        for (guint i = 0; init[i] != NULL; i++) {
                if (g_strv_contains(resp, init[i]))
                        return init[i];
        }
        return NULL;
}

gboolean
kp_noise_get_handshake_hash(const KpNoise *noise, guint8 ret_hash[KP_NOISE_HASH_BYTES])
{
        if (noise->state != KP_NOISE_STATE_TRANSPORT)
                return FALSE;
        memcpy(ret_hash, noise->hash, KP_NOISE_HASH_BYTES);
        return TRUE;
}

void
kp_noise_free(KpNoise *noise)
{
        if (noise == NULL)
                return;
        kp_noise_fail(noise);
        kp_noise_static_key_unref(noise->static_key);
        g_strfreev(noise->local_muxers);
        g_byte_array_unref(noise->inbuf);
        g_byte_array_unref(noise->output);
        g_byte_array_unref(noise->plaintext);
        sodium_memzero(noise, sizeof *noise);
        g_free(noise);
}
