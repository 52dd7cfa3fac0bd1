#include <sodium.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-noise.h"

#include "kp-test-util.h"
#include "proto/noise.pb-c.h"

/* ---- helpers ---- */

static void
assert_bytes(const guint8 *got, gsize got_len, const GByteArray *want)
{
        g_assert_cmpmem(got, got_len, want->data, want->len);
}

static KpKeypair *
keypair_from_byte(guint8 b)
{
        guint8 seed[KP_ED25519_SEED_BYTES];

        memset(seed, b, sizeof seed);
        return kp_keypair_new_from_seed(seed);
}

static void
peer_id_of(const KpKeypair *kp, KpPeerId *ret_id)
{
        kp_peer_id_from_public_key(kp_keypair_get_public_key(kp), ret_id);
}

static void
append_frame(GByteArray *out, const guint8 *data, gsize len)
{
        guint8 hdr[2] = { (guint8)(len >> 8), (guint8)len };

        g_byte_array_append(out, hdr, 2);
        g_byte_array_append(out, data, (guint)len);
}

/* Moves everything @from wants to write into @to, @chunk bytes per feed
 * (0: all at once). */
static gboolean
transfer(KpNoise *from, KpNoise *to, gsize chunk, GError **error)
{
        g_autoptr(GByteArray) buf = g_byte_array_new();

        kp_noise_take_output(from, buf);
        if (buf->len == 0)
                return TRUE;
        if (chunk == 0)
                chunk = buf->len;
        for (gsize pos = 0; pos < buf->len; pos += chunk) {
                gsize n = MIN(chunk, buf->len - pos);
                gsize consumed = 0;
                if (!kp_noise_feed(to, buf->data + pos, n, &consumed, error))
                        return FALSE;
                g_assert_cmpuint(consumed, ==, n);
        }
        return TRUE;
}

static void
run_handshake(KpNoise *i, KpNoise *r, gsize chunk)
{
        g_autoptr(GError) error = NULL;

        g_assert_true(kp_noise_start(i, &error));
        g_assert_no_error(error);
        g_assert_true(kp_noise_start(r, &error));
        g_assert_no_error(error);
        for (guint round = 0; round < 4; round++) {
                g_assert_true(transfer(i, r, chunk, &error));
                g_assert_no_error(error);
                g_assert_true(transfer(r, i, chunk, &error));
                g_assert_no_error(error);
        }
        g_assert_cmpint(kp_noise_get_state(i), ==, KP_NOISE_STATE_TRANSPORT);
        g_assert_cmpint(kp_noise_get_state(r), ==, KP_NOISE_STATE_TRANSPORT);
}

/* ---- Noise framework test vectors (pattern XX, with a prologue) ---- */

typedef struct {
        const char *prologue;
        const char *payload[6];
        const char *ciphertext[6];
        const char *handshake_hash; /* nullable */
} NoiseVector;

#define VEC_INIT_STATIC    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define VEC_INIT_EPHEMERAL "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define VEC_RESP_STATIC    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define VEC_RESP_EPHEMERAL "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"

/* cacophony.txt and noise-c-basic.txt (as shipped with noise-c), entry
 * Noise_XX_25519_ChaChaPoly_SHA256. */
static const NoiseVector noise_vectors[] = {
        {
            "4a6f686e2047616c74",
            { "4c756477696720766f6e204d69736573", "4d757272617920526f746862617264",
              "462e20412e20486179656b", "4361726c204d656e676572",
              "4a65616e2d426170746973746520536179", "457567656e2042f6686d20766f6e2042617765726b" },
            { "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f"
              "6e204d69736573",
              "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48"
              "378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b78155"
              "28f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c9326ad",
              "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae8"
              "0a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030",
              "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
              "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
              "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f" },
            NULL,
        },
        {
            "50726f6c6f677565313233",
            { "4c756477696720766f6e204d69736573", "4d757272617920526f746862617264",
              "462e20412e20486179656b", "4361726c204d656e676572",
              "4a65616e2d426170746973746520536179", "457567656e2042f6686d20766f6e2042617765726b" },
            { "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f"
              "6e204d69736573",
              "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48"
              "378ffce2b65285e08d6b68aaa3629a5a8639392490e5b94a6d8798832d5372f220f161d9c2df0355"
              "28f8982ffe09be9b5c412f8a0db5d21351f20af1370d0bf8ef1a8c59a30e",
              "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a8589981dfbd651e6ff4"
              "724a781cc2aa6158c9fea0d4ec82a286427484c5b8c8123a7a6002b1de9f9775fc97",
              "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
              "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
              "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f" },
            "852a28d2146785c54bd8334f4e460c80d7fe4fd0cc5bc0abef2a24a3c4d44d5f",
        },
};

static void
test_noise_vectors(void)
{
        for (gsize v = 0; v < G_N_ELEMENTS(noise_vectors); v++) {
                const NoiseVector *vec = &noise_vectors[v];
                g_autoptr(GByteArray) prologue = kp_test_unhex(vec->prologue);
                g_autoptr(GByteArray) is = kp_test_unhex(VEC_INIT_STATIC);
                g_autoptr(GByteArray) ie = kp_test_unhex(VEC_INIT_EPHEMERAL);
                g_autoptr(GByteArray) rs = kp_test_unhex(VEC_RESP_STATIC);
                g_autoptr(GByteArray) re = kp_test_unhex(VEC_RESP_EPHEMERAL);
                g_autoptr(KpNoiseXX) init = kp_noise_xx_new(TRUE, prologue->data, prologue->len);
                g_autoptr(KpNoiseXX) resp = kp_noise_xx_new(FALSE, prologue->data, prologue->len);
                g_autoptr(KpNoiseCipher) i_send = NULL;
                g_autoptr(KpNoiseCipher) i_recv = NULL;
                g_autoptr(KpNoiseCipher) r_send = NULL;
                g_autoptr(KpNoiseCipher) r_recv = NULL;
                g_autoptr(GError) error = NULL;
                guint8 hi[KP_NOISE_HASH_BYTES], hr[KP_NOISE_HASH_BYTES];

                g_assert_true(kp_noise_xx_set_static(init, is->data, &error));
                g_assert_true(kp_noise_xx_set_ephemeral(init, ie->data, &error));
                g_assert_true(kp_noise_xx_set_static(resp, rs->data, &error));
                g_assert_true(kp_noise_xx_set_ephemeral(resp, re->data, &error));
                g_assert_no_error(error);

                for (guint m = 0; m < 6; m++) {
                        g_autoptr(GByteArray) payload = kp_test_unhex(vec->payload[m]);
                        g_autoptr(GByteArray) want = kp_test_unhex(vec->ciphertext[m]);
                        g_autoptr(GByteArray) msg = g_byte_array_new();
                        g_autoptr(GByteArray) got = g_byte_array_new();
                        /* The initiator writes messages 1, 3 and 5. */
                        gboolean from_init = m % 2 == 0;

                        if (m < 3) {
                                KpNoiseXX *w = from_init ? init : resp;
                                KpNoiseXX *r = from_init ? resp : init;
                                g_assert_true(kp_noise_xx_is_my_turn(w));
                                g_assert_false(kp_noise_xx_is_my_turn(r));
                                g_assert_true(kp_noise_xx_write_message(w, payload->data,
                                                                        payload->len, msg, &error));
                                g_assert_no_error(error);
                                g_assert_true(
                                    kp_noise_xx_read_message(r, msg->data, msg->len, got, &error));
                                g_assert_no_error(error);
                        } else {
                                if (m == 3) {
                                        g_assert_cmpuint(kp_noise_xx_get_message_number(init), ==,
                                                         4);
                                        kp_noise_xx_get_handshake_hash(init, hi);
                                        kp_noise_xx_get_handshake_hash(resp, hr);
                                        g_assert_cmpmem(hi, sizeof hi, hr, sizeof hr);
                                        if (vec->handshake_hash != NULL) {
                                                g_autoptr(GByteArray) hh
                                                    = kp_test_unhex(vec->handshake_hash);
                                                assert_bytes(hi, sizeof hi, hh);
                                        }
                                        g_assert_true(
                                            kp_noise_xx_split(init, &i_send, &i_recv, &error));
                                        g_assert_true(
                                            kp_noise_xx_split(resp, &r_send, &r_recv, &error));
                                        g_assert_no_error(error);
                                }
                                g_assert_true(kp_noise_cipher_encrypt(from_init ? i_send : r_send,
                                                                      NULL, 0, payload->data,
                                                                      payload->len, msg, &error));
                                g_assert_no_error(error);
                                g_assert_true(kp_noise_cipher_decrypt(from_init ? r_recv : i_recv,
                                                                      NULL, 0, msg->data, msg->len,
                                                                      got, &error));
                                g_assert_no_error(error);
                        }
                        assert_bytes(msg->data, msg->len, want);
                        assert_bytes(got->data, got->len, payload);
                }
                g_assert_cmpuint(kp_noise_cipher_get_nonce(i_send), ==, 1);
                g_assert_cmpuint(kp_noise_cipher_get_nonce(r_send), ==, 2);
        }
}

static void
test_noise_xx_misuse(void)
{
        g_autoptr(KpNoiseXX) init = kp_noise_xx_new(TRUE, NULL, 0);
        g_autoptr(KpNoiseXX) resp = kp_noise_xx_new(FALSE, NULL, 0);
        g_autoptr(GByteArray) msg = g_byte_array_new();
        g_autoptr(GByteArray) payload = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        KpNoiseCipher *a = NULL, *b = NULL;
        guint8 secret[KP_NOISE_KEY_BYTES] = { 7 };

        /* The responder does not write first. */
        g_assert_false(kp_noise_xx_write_message(resp, NULL, 0, msg, &error));
        kp_test_assert_error(error, KP_ERROR_PROTOCOL, "initiator's to write");
        g_clear_error(&error);
        g_assert_false(kp_noise_xx_split(init, &a, &b, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_PROTOCOL);
        g_clear_error(&error);

        /* Message 2 needs the responder's static key. */
        g_assert_true(kp_noise_xx_write_message(init, NULL, 0, msg, &error));
        g_assert_cmpuint(msg->len, ==, KP_NOISE_KEY_BYTES);
        g_assert_true(kp_noise_xx_read_message(resp, msg->data, msg->len, payload, &error));
        g_assert_no_error(error);
        g_byte_array_set_size(msg, 0);
        g_assert_false(kp_noise_xx_write_message(resp, NULL, 0, msg, &error));
        kp_test_assert_error(error, KP_ERROR_FAILED, "static key");
        g_clear_error(&error);
        g_assert_true(kp_noise_xx_set_static(resp, secret, &error));
        g_assert_true(kp_noise_xx_write_message(resp, NULL, 0, msg, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(msg->len, ==, 2 * KP_NOISE_KEY_BYTES + 2 * KP_NOISE_TAG_BYTES);
}

/* ---- CipherState ---- */

static void
test_noise_cipher_nonce(void)
{
        guint8 key[KP_NOISE_KEY_BYTES] = { 1, 2, 3 };
        g_autoptr(KpNoiseCipher) tx = kp_noise_cipher_new(key);
        g_autoptr(KpNoiseCipher) rx = kp_noise_cipher_new(key);
        g_autoptr(GByteArray) ct = g_byte_array_new();
        g_autoptr(GByteArray) pt = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        const guint8 msg[] = "hello";

        /* The nonce is 4 zero bytes then the counter, little-endian. */
        {
                guint8 nonce[12] = { 0 };
                guint8 want[sizeof msg + KP_NOISE_TAG_BYTES];
                unsigned long long wlen = 0;

                nonce[4] = 0x05;
                nonce[5] = 0x04;
                nonce[11] = 0x01;
                g_assert_cmpint(crypto_aead_chacha20poly1305_ietf_encrypt(
                                    want, &wlen, msg, sizeof msg, NULL, 0, NULL, nonce, key),
                                ==, 0);
                kp_noise_cipher_set_nonce(tx, G_GUINT64_CONSTANT(0x0100000000000405));
                g_assert_true(kp_noise_cipher_encrypt(tx, NULL, 0, msg, sizeof msg, ct, &error));
                g_assert_no_error(error);
                g_assert_cmpmem(ct->data, ct->len, want, wlen);
                g_byte_array_set_size(ct, 0);
        }

        /* 2^64-2 is the last usable nonce. */
        kp_noise_cipher_set_nonce(tx, G_MAXUINT64 - 1);
        kp_noise_cipher_set_nonce(rx, G_MAXUINT64 - 1);
        g_assert_true(kp_noise_cipher_encrypt(tx, NULL, 0, msg, sizeof msg, ct, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(ct->len, ==, sizeof msg + KP_NOISE_TAG_BYTES);

        /* A forged message is refused and does not consume the nonce. */
        ct->data[0] ^= 1;
        g_assert_false(kp_noise_cipher_decrypt(rx, NULL, 0, ct->data, ct->len, pt, &error));
        kp_test_assert_error(error, KP_ERROR_CRYPTO, "bad tag");
        g_assert_cmpuint(pt->len, ==, 0);
        g_clear_error(&error);
        ct->data[0] ^= 1;
        g_assert_true(kp_noise_cipher_decrypt(rx, NULL, 0, ct->data, ct->len, pt, &error));
        g_assert_no_error(error);
        g_assert_cmpmem(pt->data, pt->len, msg, sizeof msg);

        g_byte_array_set_size(ct, 0);
        g_assert_false(kp_noise_cipher_encrypt(tx, NULL, 0, msg, sizeof msg, ct, &error));
        kp_test_assert_error(error, KP_ERROR_CRYPTO, "nonce exhausted");
        g_assert_cmpuint(ct->len, ==, 0);
        g_clear_error(&error);
        g_assert_false(kp_noise_cipher_decrypt(rx, NULL, 0, pt->data, 20, pt, &error));
        kp_test_assert_error(error, KP_ERROR_CRYPTO, "nonce exhausted");
        g_clear_error(&error);

        /* Shorter than a tag; larger than a frame. */
        g_assert_false(kp_noise_cipher_decrypt(rx, NULL, 0, msg, 15, pt, &error));
        kp_test_assert_error(error, KP_ERROR_TRUNCATED, "16-byte tag");
        g_clear_error(&error);
        {
                g_autofree guint8 *big = g_malloc0(KP_NOISE_MAX_PLAINTEXT + 1);
                g_autoptr(KpNoiseCipher) c = kp_noise_cipher_new(key);

                g_assert_false(kp_noise_cipher_encrypt(c, NULL, 0, big, KP_NOISE_MAX_PLAINTEXT + 1,
                                                       ct, &error));
                g_assert_error(error, KP_ERROR, KP_ERROR_TOO_LARGE);
                g_clear_error(&error);
                g_assert_true(
                    kp_noise_cipher_encrypt(c, NULL, 0, big, KP_NOISE_MAX_PLAINTEXT, ct, &error));
                g_assert_cmpuint(ct->len, ==, KP_NOISE_MAX_FRAME);
        }
}

/* ---- The libp2p channel ---- */

typedef struct {
        KpKeypair *id_i;
        KpKeypair *id_r;
        KpNoise *i;
        KpNoise *r;
} Pair;

static const guint8 i_static[32] = { 0x11, 0x12, 0x13 };
static const guint8 i_eph[32] = { 0x21, 0x22, 0x23 };
static const guint8 r_static[32] = { 0x31, 0x32, 0x33 };
static const guint8 r_eph[32] = { 0x41, 0x42, 0x43 };

static void
pair_init(Pair *p, const KpPeerId *expected, const char *const *mi, const char *const *mr)
{
        p->id_i = keypair_from_byte(1);
        p->id_r = keypair_from_byte(2);
        p->i = kp_noise_new_initiator(p->id_i, expected, mi);
        p->r = kp_noise_new_responder(p->id_r, mr);
        kp_noise_set_static_for_testing(p->i, i_static);
        kp_noise_set_ephemeral_for_testing(p->i, i_eph);
        kp_noise_set_static_for_testing(p->r, r_static);
        kp_noise_set_ephemeral_for_testing(p->r, r_eph);
}

static void
pair_clear(Pair *p)
{
        g_clear_pointer(&p->i, kp_noise_free);
        g_clear_pointer(&p->r, kp_noise_free);
        g_clear_pointer(&p->id_i, kp_keypair_free);
        g_clear_pointer(&p->id_r, kp_keypair_free);
}

static void
test_noise_fixed_keys(void)
{
        Pair p;
        g_autoptr(GByteArray) msg1 = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        guint8 e_pub[KP_NOISE_KEY_BYTES];
        guint8 hi[KP_NOISE_HASH_BYTES], hr[KP_NOISE_HASH_BYTES];
        g_autofree char *hash = NULL;

        pair_init(&p, NULL, NULL, NULL);
        g_assert_false(kp_noise_get_handshake_hash(p.i, hi));
        g_assert_true(kp_noise_start(p.i, &error));
        g_assert_no_error(error);
        kp_noise_take_output(p.i, msg1);
        /* Message 1: the framed ephemeral key and nothing else. */
        g_assert_cmpint(crypto_scalarmult_base(e_pub, i_eph), ==, 0);
        g_assert_cmpuint(msg1->len, ==, 2 + KP_NOISE_KEY_BYTES);
        g_assert_cmpuint(msg1->data[0], ==, 0);
        g_assert_cmpuint(msg1->data[1], ==, KP_NOISE_KEY_BYTES);
        g_assert_cmpmem(msg1->data + 2, KP_NOISE_KEY_BYTES, e_pub, sizeof e_pub);
        g_assert_true(kp_noise_start(p.r, &error));
        g_assert_true(kp_noise_feed(p.r, msg1->data, msg1->len, NULL, &error));
        g_assert_no_error(error);
        g_assert_true(transfer(p.r, p.i, 0, &error));
        g_assert_true(transfer(p.i, p.r, 0, &error));
        g_assert_no_error(error);
        g_assert_true(kp_noise_get_handshake_hash(p.i, hi));
        g_assert_true(kp_noise_get_handshake_hash(p.r, hr));
        g_assert_cmpmem(hi, sizeof hi, hr, sizeof hr);
        /* Fixed keys and deterministic Ed25519 signatures give a fixed
         * transcript: a change here is a change on the wire. */
        hash = kp_test_hex(hi, sizeof hi);
        g_assert_cmpstr(hash, ==,
                        "15eae7318da05a7d7dfc7e0bee1215dd698e3467e0da9ec7fc820604a6bbe5bf");
        pair_clear(&p);
}

static void
check_peers(Pair *p)
{
        KpPeerId want_i, want_r;

        peer_id_of(p->id_i, &want_i);
        peer_id_of(p->id_r, &want_r);
        g_assert_true(kp_peer_id_equal(kp_noise_get_remote_peer_id(p->i), &want_r));
        g_assert_true(kp_peer_id_equal(kp_noise_get_remote_peer_id(p->r), &want_i));
        g_assert_true(kp_public_key_equal(kp_noise_get_remote_public_key(p->i),
                                          kp_keypair_get_public_key(p->id_r)));
}

static void
roundtrip(KpNoise *from, KpNoise *to, gsize size, gsize chunk)
{
        g_autofree guint8 *data = g_malloc(size + 1);
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) got = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        gsize frames = size == 0 ? 0 : (size + KP_NOISE_MAX_PLAINTEXT - 1) / KP_NOISE_MAX_PLAINTEXT;

        for (gsize k = 0; k < size; k++)
                data[k] = (guint8)(k * 31 + 7);
        g_assert_true(kp_noise_encrypt(from, data, size, wire, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(wire->len, ==, size + frames * (2 + KP_NOISE_TAG_BYTES));
        if (chunk == 0)
                chunk = MAX(wire->len, 1);
        for (gsize pos = 0; pos < wire->len; pos += chunk) {
                g_assert_true(
                    kp_noise_feed(to, wire->data + pos, MIN(chunk, wire->len - pos), NULL, &error));
                g_assert_no_error(error);
                kp_noise_take_plaintext(to, got);
        }
        g_assert_cmpmem(got->data, got->len, data, size);
}

/* Both sides with a KpNoiseStaticKey made from the fixed secrets: the same
 * transcript as signing per handshake, so the key and its cached signature
 * are what goes on the wire. Then one key serves several handshakes. */
static void
test_noise_static_key(void)
{
        Pair p;
        g_autoptr(KpNoiseStaticKey) ki = NULL;
        g_autoptr(KpNoiseStaticKey) kr = NULL;
        g_autoptr(KpNoiseStaticKey) shared = NULL;
        g_autoptr(KpKeypair) other = keypair_from_byte(3);
        g_autoptr(GError) error = NULL;
        guint8 hi[KP_NOISE_HASH_BYTES], hr[KP_NOISE_HASH_BYTES];
        guint8 pub[KP_NOISE_KEY_BYTES];
        g_autofree char *hash = NULL;

        p.id_i = keypair_from_byte(1);
        p.id_r = keypair_from_byte(2);
        ki = kp_noise_static_key_new_from_secret(p.id_i, i_static, &error);
        g_assert_no_error(error);
        kr = kp_noise_static_key_new_from_secret(p.id_r, r_static, &error);
        g_assert_no_error(error);
        g_assert_cmpint(crypto_scalarmult_base(pub, r_static), ==, 0);
        g_assert_cmpmem(kp_noise_static_key_get_public(kr), KP_NOISE_KEY_BYTES, pub, sizeof pub);
        g_assert_true(kp_noise_static_key_get_identity(kr) == p.id_r);
        p.i = kp_noise_new_initiator(p.id_i, NULL, NULL);
        p.r = kp_noise_new_responder(p.id_r, NULL);
        kp_noise_set_static_key(p.i, ki);
        kp_noise_set_ephemeral_for_testing(p.i, i_eph);
        kp_noise_set_static_key(p.r, kr);
        kp_noise_set_ephemeral_for_testing(p.r, r_eph);
        run_handshake(p.i, p.r, 0);
        check_peers(&p);
        g_assert_true(kp_noise_get_handshake_hash(p.i, hi));
        g_assert_true(kp_noise_get_handshake_hash(p.r, hr));
        g_assert_cmpmem(hi, sizeof hi, hr, sizeof hr);
        hash = kp_test_hex(hi, sizeof hi);
        g_assert_cmpstr(hash, ==,
                        "15eae7318da05a7d7dfc7e0bee1215dd698e3467e0da9ec7fc820604a6bbe5bf");
        g_clear_pointer(&p.i, kp_noise_free);
        g_clear_pointer(&p.r, kp_noise_free);

        /* One random key, several responders with fresh ephemeral keys. */
        shared = kp_noise_static_key_new(p.id_r);
        for (guint n = 0; n < 3; n++) {
                p.i = kp_noise_new_initiator(p.id_i, NULL, NULL);
                p.r = kp_noise_new_responder(p.id_r, NULL);
                kp_noise_set_static_key(p.r, shared);
                run_handshake(p.i, p.r, 0);
                check_peers(&p);
                roundtrip(p.r, p.i, 100, 0);
                g_clear_pointer(&p.i, kp_noise_free);
                g_clear_pointer(&p.r, kp_noise_free);
        }

        /* A key signed by another identity would prove the wrong peer id. */
        p.r = kp_noise_new_responder(other, NULL);
        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*identity*");
        kp_noise_set_static_key(p.r, shared);
        g_test_assert_expected_messages();
        pair_clear(&p);
}

static void
test_noise_handshake_chunks(void)
{
        const gsize chunks[] = { 0, 1, 2, 3, 7, 33, 100 };

        for (gsize c = 0; c < G_N_ELEMENTS(chunks); c++) {
                Pair p;

                pair_init(&p, NULL, NULL, NULL);
                run_handshake(p.i, p.r, chunks[c]);
                check_peers(&p);
                roundtrip(p.i, p.r, 5, chunks[c]);
                roundtrip(p.r, p.i, 1000, chunks[c]);
                roundtrip(p.i, p.r, 0, chunks[c]);
                pair_clear(&p);
        }
}

static void
test_noise_transport_large(void)
{
        Pair p;
        KpPeerId want_r;

        /* Random X25519 keys this time, and the initiator names its peer. */
        p.id_i = keypair_from_byte(1);
        p.id_r = keypair_from_byte(2);
        peer_id_of(p.id_r, &want_r);
        p.i = kp_noise_new_initiator(p.id_i, &want_r, NULL);
        p.r = kp_noise_new_responder(p.id_r, NULL);
        run_handshake(p.i, p.r, 0);
        check_peers(&p);
        /* Frame boundaries: exactly one full frame, one byte more, many. */
        roundtrip(p.i, p.r, KP_NOISE_MAX_PLAINTEXT, 0);
        roundtrip(p.i, p.r, KP_NOISE_MAX_PLAINTEXT + 1, 0);
        roundtrip(p.r, p.i, 300000, 0);
        roundtrip(p.i, p.r, 200000, 4096);
        roundtrip(p.r, p.i, 3 * KP_NOISE_MAX_PLAINTEXT, 65536);
        pair_clear(&p);
}

/* Message 3 and the first transport frame leave in one write, and arrive in
 * one read. */
static void
test_noise_coalesced(void)
{
        Pair p;
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) got = g_byte_array_new();
        g_autoptr(GError) error = NULL;

        pair_init(&p, NULL, NULL, NULL);
        g_assert_true(kp_noise_start(p.i, &error));
        g_assert_true(kp_noise_start(p.r, &error));
        g_assert_true(transfer(p.i, p.r, 0, &error));
        g_assert_true(transfer(p.r, p.i, 0, &error));
        g_assert_no_error(error);
        g_assert_cmpint(kp_noise_get_state(p.i), ==, KP_NOISE_STATE_TRANSPORT);
        g_assert_cmpint(kp_noise_get_state(p.r), ==, KP_NOISE_STATE_HANDSHAKE);
        g_assert_null(kp_noise_get_remote_peer_id(p.r));
        g_assert_true(kp_noise_encrypt(p.i, (const guint8 *)"ping", 4, wire, &error));
        g_assert_no_error(error);
        /* Message 3 went out first, through kp_noise_encrypt. */
        g_assert_cmpuint(kp_noise_take_output(p.i, got), ==, 0);
        g_assert_true(kp_noise_feed(p.r, wire->data, wire->len, NULL, &error));
        g_assert_no_error(error);
        g_assert_cmpint(kp_noise_get_state(p.r), ==, KP_NOISE_STATE_TRANSPORT);
        kp_noise_take_plaintext(p.r, got);
        g_assert_cmpmem(got->data, got->len, "ping", 4);
        g_assert_true(kp_noise_feed_eof(p.r, &error));
        g_assert_no_error(error);
        pair_clear(&p);
}

static void
test_noise_muxers(void)
{
        const char *const yamux_mplex[] = { "/yamux/1.0.0", "/mplex/6.7.0", NULL };
        const char *const mplex_yamux[] = { "/mplex/6.7.0", "/yamux/1.0.0", NULL };
        const char *const other[] = { "/other/1", NULL };
        const char *const empty[] = { NULL };
        const char *const *remote;
        Pair p;

        pair_init(&p, NULL, yamux_mplex, mplex_yamux);
        run_handshake(p.i, p.r, 0);
        remote = kp_noise_get_remote_muxers(p.i);
        g_assert_cmpuint(g_strv_length((char **)remote), ==, 2);
        g_assert_cmpstr(remote[0], ==, "/mplex/6.7.0");
        g_assert_cmpstr(remote[1], ==, "/yamux/1.0.0");
        /* The initiator's preference wins, on both sides. */
        g_assert_cmpstr(kp_noise_select_muxer(p.i), ==, "/yamux/1.0.0");
        g_assert_cmpstr(kp_noise_select_muxer(p.r), ==, "/yamux/1.0.0");
        pair_clear(&p);

        pair_init(&p, NULL, mplex_yamux, yamux_mplex);
        run_handshake(p.i, p.r, 0);
        g_assert_cmpstr(kp_noise_select_muxer(p.i), ==, "/mplex/6.7.0");
        g_assert_cmpstr(kp_noise_select_muxer(p.r), ==, "/mplex/6.7.0");
        pair_clear(&p);

        pair_init(&p, NULL, yamux_mplex, other);
        run_handshake(p.i, p.r, 0);
        g_assert_null(kp_noise_select_muxer(p.i));
        g_assert_null(kp_noise_select_muxer(p.r));
        pair_clear(&p);

        pair_init(&p, NULL, yamux_mplex, empty);
        run_handshake(p.i, p.r, 0);
        g_assert_cmpuint(g_strv_length((char **)kp_noise_get_remote_muxers(p.i)), ==, 0);
        g_assert_cmpuint(g_strv_length((char **)kp_noise_get_remote_muxers(p.r)), ==, 2);
        g_assert_null(kp_noise_select_muxer(p.i));
        g_assert_null(kp_noise_select_muxer(p.r));
        pair_clear(&p);
}

static void
test_noise_peer_id_mismatch(void)
{
        g_autoptr(KpKeypair) stranger = keypair_from_byte(9);
        g_autoptr(GError) error = NULL;
        g_autofree char *want_text = NULL;
        g_autofree char *got_text = NULL;
        g_autofree char *msg = NULL;
        KpPeerId want, got;
        Pair p;

        peer_id_of(stranger, &want);
        pair_init(&p, &want, NULL, NULL);
        peer_id_of(p.id_r, &got);
        want_text = kp_peer_id_to_string(&want);
        got_text = kp_peer_id_to_string(&got);
        g_assert_true(g_str_has_prefix(want_text, "12D3KooW"));
        msg = g_strdup_printf("peer id mismatch: expected %s, got %s", want_text, got_text);

        g_assert_true(kp_noise_start(p.i, &error));
        g_assert_true(kp_noise_start(p.r, &error));
        g_assert_true(transfer(p.i, p.r, 0, &error));
        g_assert_no_error(error);
        g_assert_false(transfer(p.r, p.i, 0, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_PEER_ID_MISMATCH);
        g_assert_cmpstr(error->message, ==, msg);
        g_clear_error(&error);
        g_assert_cmpint(kp_noise_get_state(p.i), ==, KP_NOISE_STATE_FAILED);
        g_assert_null(kp_noise_get_remote_peer_id(p.i));
        g_assert_null(kp_noise_get_remote_muxers(p.i));
        /* Message 3 (our identity) was never written. */
        {
                g_autoptr(GByteArray) out = g_byte_array_new();
                g_assert_cmpuint(kp_noise_take_output(p.i, out), ==, 0);
        }
        g_assert_false(kp_noise_feed(p.i, (const guint8 *)"x", 1, NULL, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_CLOSED);
        pair_clear(&p);
}

/* ---- hostile input ---- */

/* Every small-order X25519 point libsodium knows, and two with the ignored
 * top bit set. */
static const char *const low_order_points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0100000000000000000000000000000000000000000000000000000000000080",
};

static void
assert_failed_with(KpNoise *noise, GError *error, gint code, const char *substring)
{
        kp_test_assert_error(error, code, substring);
        g_assert_cmpint(kp_noise_get_state(noise), ==, KP_NOISE_STATE_FAILED);
}

static void
test_noise_low_order(void)
{
        for (gsize k = 0; k < G_N_ELEMENTS(low_order_points); k++) {
                g_autoptr(GByteArray) point = kp_test_unhex(low_order_points[k]);
                g_autoptr(GByteArray) frame = g_byte_array_new();
                g_autoptr(GByteArray) out = g_byte_array_new();
                g_autoptr(GError) error = NULL;
                Pair p;

                /* As the initiator's ephemeral key in message 1. */
                pair_init(&p, NULL, NULL, NULL);
                g_assert_true(kp_noise_start(p.r, &error));
                append_frame(frame, point->data, point->len);
                g_assert_false(kp_noise_feed(p.r, frame->data, frame->len, NULL, &error));
                assert_failed_with(p.r, error, KP_ERROR_CRYPTO, "low-order");
                g_assert_cmpuint(kp_noise_take_output(p.r, out), ==, 0);
                g_clear_error(&error);

                /* As the responder's ephemeral key in message 2. */
                g_byte_array_set_size(frame, 0);
                g_byte_array_append(point, (const guint8 *)"0123456789abcdef0123456789abcdef", 32);
                g_byte_array_append(point, (const guint8 *)"0123456789abcdef0123456789abcdef", 32);
                g_assert_true(kp_noise_start(p.i, &error));
                kp_noise_take_output(p.i, out);
                append_frame(frame, point->data, point->len);
                g_assert_false(kp_noise_feed(p.i, frame->data, frame->len, NULL, &error));
                assert_failed_with(p.i, error, KP_ERROR_CRYPTO, "low-order");
                pair_clear(&p);
        }
}

/* A low-order static key, sent (and properly signed) by either side in its
 * handshake message, aborts the handshake at the side that receives it:
 * the es or se DH with it must fail. */
static void
test_noise_low_order_static(void)
{
        for (gsize k = 0; k < G_N_ELEMENTS(low_order_points); k++) {
                g_autoptr(GByteArray) point = kp_test_unhex(low_order_points[k]);
                g_autoptr(GError) error = NULL;
                Pair p;

                /* The initiator's, in message 3: the responder stops. */
                pair_init(&p, NULL, NULL, NULL);
                kp_noise_set_static_public_for_testing(p.i, point->data);
                g_assert_true(kp_noise_start(p.i, &error));
                g_assert_true(kp_noise_start(p.r, &error));
                g_assert_true(transfer(p.i, p.r, 0, &error)); /* message 1 */
                g_assert_true(transfer(p.r, p.i, 0, &error)); /* message 2 */
                g_assert_no_error(error);
                g_assert_false(transfer(p.i, p.r, 0, &error)); /* message 3 */
                assert_failed_with(p.r, error, KP_ERROR_CRYPTO, "low-order");
                g_clear_error(&error);
                pair_clear(&p);

                /* The responder's, in message 2: the initiator stops. */
                pair_init(&p, NULL, NULL, NULL);
                kp_noise_set_static_public_for_testing(p.r, point->data);
                g_assert_true(kp_noise_start(p.i, &error));
                g_assert_true(kp_noise_start(p.r, &error));
                g_assert_true(transfer(p.i, p.r, 0, &error));
                g_assert_false(transfer(p.r, p.i, 0, &error));
                assert_failed_with(p.i, error, KP_ERROR_CRYPTO, "low-order");
                pair_clear(&p);
        }
}

static GByteArray *
build_payload(const KpKeypair *id, const KpPublicKey *key_override, const guint8 *signed_key,
              const char *const *muxers, gsize certhash_len)
{
        NoiseHandshakePayload msg = NOISE_HANDSHAKE_PAYLOAD__INIT;
        NoiseExtensions ext = NOISE_EXTENSIONS__INIT;
        ProtobufCBinaryData mux[32];
        ProtobufCBinaryData certhash;
        g_autofree guint8 *certhash_buf = g_malloc0(certhash_len + 1);
        g_autoptr(GBytes) key = kp_public_key_to_protobuf(
            key_override != NULL ? key_override : kp_keypair_get_public_key(id));
        guint8 to_sign[sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1 + KP_NOISE_KEY_BYTES];
        guint8 sig[KP_ED25519_SIGNATURE_BYTES];
        GByteArray *out = g_byte_array_new();

        memcpy(to_sign, KP_NOISE_STATIC_KEY_SIG_PREFIX, sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1);
        memcpy(to_sign + sizeof(KP_NOISE_STATIC_KEY_SIG_PREFIX) - 1, signed_key,
               KP_NOISE_KEY_BYTES);
        kp_keypair_sign(id, to_sign, sizeof to_sign, sig);
        msg.has_identity_key = TRUE;
        msg.identity_key.data = (guint8 *)g_bytes_get_data(key, &msg.identity_key.len);
        msg.has_identity_sig = TRUE;
        msg.identity_sig.data = sig;
        msg.identity_sig.len = sizeof sig;
        if (muxers != NULL) {
                for (; muxers[ext.n_stream_muxers] != NULL; ext.n_stream_muxers++) {
                        g_assert_cmpuint(ext.n_stream_muxers, <, G_N_ELEMENTS(mux));
                        mux[ext.n_stream_muxers].data = (guint8 *)muxers[ext.n_stream_muxers];
                        mux[ext.n_stream_muxers].len = strlen(muxers[ext.n_stream_muxers]);
                }
                ext.stream_muxers = mux;
                msg.extensions = &ext;
        }
        if (certhash_len > 0) {
                certhash.data = certhash_buf;
                certhash.len = certhash_len;
                ext.n_webtransport_certhashes = 1;
                ext.webtransport_certhashes = &certhash;
                msg.extensions = &ext;
        }
        g_byte_array_set_size(out, (guint)noise_handshake_payload__get_packed_size(&msg));
        noise_handshake_payload__pack(&msg, out->data);
        return out;
}

/* Runs message 1 from @p.i into a raw responder, then feeds @p.i a message 2
 * carrying @payload (or a correct payload when NULL); returns the result of
 * that feed. */
static gboolean
hostile_message2(Pair *p, const GByteArray *payload, gboolean tamper, GError **error)
{
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(GByteArray) ignored = g_byte_array_new();
        g_autoptr(GByteArray) msg = g_byte_array_new();
        g_autoptr(GByteArray) frame = g_byte_array_new();
        g_autoptr(KpNoiseXX) xx = kp_noise_xx_new(FALSE, NULL, 0);
        g_autoptr(GByteArray) fallback = NULL;

        g_assert_true(kp_noise_xx_set_static(xx, r_static, NULL));
        g_assert_true(kp_noise_start(p->i, NULL));
        kp_noise_take_output(p->i, out);
        g_assert_true(kp_noise_xx_read_message(xx, out->data + 2, out->len - 2, ignored, NULL));
        if (payload == NULL) {
                fallback = build_payload(p->id_r, NULL, kp_noise_xx_get_static_public(xx), NULL, 0);
                payload = fallback;
        }
        g_assert_true(kp_noise_xx_write_message(xx, payload->data, payload->len, msg, NULL));
        if (tamper)
                msg->data[msg->len - 1] ^= 0x80;
        append_frame(frame, msg->data, msg->len);
        return kp_noise_feed(p->i, frame->data, frame->len, NULL, error);
}

static void
test_noise_hostile_payloads(void)
{
        guint8 r_pub[KP_NOISE_KEY_BYTES], other[KP_NOISE_KEY_BYTES] = { 9 };
        const char *const too_many[] = { "/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i",
                                         "/j", "/k", "/l", "/m", "/n", "/o", "/p", "/q", NULL };
        const char *const with_nul[] = { "/yamux/1.0.0", NULL };
        const char *const empty_name[] = { "/yamux/1.0.0", "", NULL };
        g_autofree char *long_name = g_strnfill(KP_NOISE_MAX_MUXER_LEN + 1, 'y');
        const char *const too_long[] = { long_name, NULL };
        const char *const bad_utf8[] = { "/yamux/\xff", NULL };
        guint8 secp[33] = { 0x02, 1, 2, 3 };
        KpPublicKey secp_key = { KP_KEY_TYPE_SECP256K1, NULL };
        g_autoptr(GByteArray) garbage = kp_test_unhex("ffffffff0102");
        g_autoptr(GByteArray) no_key = kp_test_unhex("12020102");
        g_autoptr(KpKeypair) id = keypair_from_byte(2);
        struct {
                const char *name;
                GByteArray *payload;
                gboolean tamper;
                gint code;
                const char *substring;
        } cases[] = {
                { "tampered", NULL, TRUE, KP_ERROR_CRYPTO, "message 2 payload of" },
                { "bad signature", NULL, FALSE, KP_ERROR_CRYPTO, "noise: identity_sig: " },
                { "unsupported key type", NULL, FALSE, KP_ERROR_UNSUPPORTED, "identity_sig" },
                { "garbage protobuf", garbage, FALSE, KP_ERROR_INVALID,
                  "not a NoiseHandshakePayload" },
                { "no identity_key", no_key, FALSE, KP_ERROR_INVALID, "no identity_key" },
                { "too many muxers", NULL, FALSE, KP_ERROR_TOO_LARGE,
                  "17 stream_muxers exceed 16" },
                { "muxer with NUL", NULL, FALSE, KP_ERROR_INVALID, "not a UTF-8 string" },
                { "empty muxer", NULL, FALSE, KP_ERROR_INVALID,
                  "stream_muxers entry of 0 bytes (allowed 1 to 256)" },
                { "muxer too long", NULL, FALSE, KP_ERROR_TOO_LARGE,
                  "stream_muxers entry of 257 bytes" },
                { "muxer not UTF-8", NULL, FALSE, KP_ERROR_INVALID, "not a UTF-8 string" },
                /* Message 2 is capped by its frame before its payload. */
                { "payload too large", NULL, FALSE, KP_ERROR_TOO_LARGE,
                  "handshake frame of 8289 bytes exceeds 8288" },
        };

        g_assert_cmpint(crypto_scalarmult_base(r_pub, r_static), ==, 0);
        secp_key.data = g_bytes_new(secp, sizeof secp);
        cases[1].payload = build_payload(id, NULL, other, NULL, 0);
        cases[2].payload = build_payload(id, &secp_key, r_pub, NULL, 0);
        cases[5].payload = build_payload(id, NULL, r_pub, too_many, 0);
        cases[6].payload = build_payload(id, NULL, r_pub, with_nul, 0);
        /* An embedded NUL: patch the last byte of the muxer name. */
        cases[6].payload->data[cases[6].payload->len - 1] = 0;
        cases[7].payload = build_payload(id, NULL, r_pub, empty_name, 0);
        cases[8].payload = build_payload(id, NULL, r_pub, too_long, 0);
        cases[9].payload = build_payload(id, NULL, r_pub, bad_utf8, 0);
        {
                g_autoptr(GByteArray) base = build_payload(id, NULL, r_pub, NULL, 200);
                gsize certhash = 200 + (KP_NOISE_MAX_PAYLOAD + 1 - base->len);
                cases[10].payload = build_payload(id, NULL, r_pub, NULL, certhash);
                g_assert_cmpuint(cases[10].payload->len, ==, KP_NOISE_MAX_PAYLOAD + 1);
        }

        for (gsize c = 0; c < G_N_ELEMENTS(cases); c++) {
                g_autoptr(GError) error = NULL;
                Pair p;

                g_test_message("case %s", cases[c].name);
                pair_init(&p, NULL, NULL, NULL);
                g_assert_false(hostile_message2(&p, cases[c].payload, cases[c].tamper, &error));
                assert_failed_with(p.i, error, cases[c].code, cases[c].substring);
                pair_clear(&p);
        }
        for (gsize c = 0; c < G_N_ELEMENTS(cases); c++) {
                if (cases[c].payload != garbage && cases[c].payload != no_key)
                        g_clear_pointer(&cases[c].payload, g_byte_array_unref);
        }
        g_bytes_unref(secp_key.data);
}

/* The same from the other side: a raw initiator sends @payload in message 3
 * to @p.r. */
static gboolean
hostile_message3(Pair *p, const GByteArray *payload, GError **error)
{
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(GByteArray) ignored = g_byte_array_new();
        g_autoptr(GByteArray) msg = g_byte_array_new();
        g_autoptr(GByteArray) frame = g_byte_array_new();
        g_autoptr(KpNoiseXX) xx = kp_noise_xx_new(TRUE, NULL, 0);

        g_assert_true(kp_noise_xx_set_static(xx, i_static, NULL));
        g_assert_true(kp_noise_start(p->r, NULL));
        g_assert_true(kp_noise_xx_write_message(xx, NULL, 0, msg, NULL));
        append_frame(frame, msg->data, msg->len);
        g_assert_true(kp_noise_feed(p->r, frame->data, frame->len, NULL, NULL));
        kp_noise_take_output(p->r, out);
        g_assert_true(kp_noise_xx_read_message(xx, out->data + 2, out->len - 2, ignored, NULL));
        g_byte_array_set_size(msg, 0);
        g_byte_array_set_size(frame, 0);
        g_assert_true(kp_noise_xx_write_message(xx, payload->data, payload->len, msg, NULL));
        append_frame(frame, msg->data, msg->len);
        return kp_noise_feed(p->r, frame->data, frame->len, NULL, error);
}

static void
test_noise_hostile_message3(void)
{
        guint8 i_pub[KP_NOISE_KEY_BYTES], other[KP_NOISE_KEY_BYTES] = { 5 };
        g_autoptr(KpKeypair) id = keypair_from_byte(1);
        g_autoptr(GByteArray) base = NULL;
        g_autoptr(GByteArray) big = NULL;
        g_autoptr(GByteArray) bad_sig = NULL;
        g_autoptr(GByteArray) good = NULL;
        g_autoptr(GError) error = NULL;
        KpPeerId want;
        Pair p;

        g_assert_cmpint(crypto_scalarmult_base(i_pub, i_static), ==, 0);
        base = build_payload(id, NULL, i_pub, NULL, 200);
        big = build_payload(id, NULL, i_pub, NULL, 200 + (KP_NOISE_MAX_PAYLOAD + 1 - base->len));
        g_assert_cmpuint(big->len, ==, KP_NOISE_MAX_PAYLOAD + 1);
        bad_sig = build_payload(id, NULL, other, NULL, 0);
        good = build_payload(id, NULL, i_pub, NULL, 0);

        /* Message 3 has room in its frame for a payload over the limit. */
        pair_init(&p, NULL, NULL, NULL);
        g_assert_false(hostile_message3(&p, big, &error));
        assert_failed_with(p.r, error, KP_ERROR_TOO_LARGE,
                           "handshake payload of 8193 bytes exceeds 8192");
        g_clear_error(&error);
        pair_clear(&p);

        pair_init(&p, NULL, NULL, NULL);
        g_assert_false(hostile_message3(&p, bad_sig, &error));
        assert_failed_with(p.r, error, KP_ERROR_CRYPTO, "noise: identity_sig: ");
        g_clear_error(&error);
        pair_clear(&p);

        pair_init(&p, NULL, NULL, NULL);
        g_assert_true(hostile_message3(&p, good, &error));
        g_assert_no_error(error);
        peer_id_of(id, &want);
        g_assert_true(kp_peer_id_equal(kp_noise_get_remote_peer_id(p.r), &want));
        pair_clear(&p);
}

/* Message 1 may carry a payload in Noise; libp2p sends none, and one that
 * arrives is ignored. */
static void
test_noise_message1_payload(void)
{
        g_autoptr(KpNoiseXX) xx = kp_noise_xx_new(TRUE, NULL, 0);
        g_autoptr(GByteArray) msg = g_byte_array_new();
        g_autoptr(GByteArray) frame = g_byte_array_new();
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        Pair p;

        g_assert_true(kp_noise_xx_write_message(xx, (const guint8 *)"early", 5, msg, &error));
        g_assert_cmpuint(msg->len, ==, KP_NOISE_KEY_BYTES + 5);
        append_frame(frame, msg->data, msg->len);
        pair_init(&p, NULL, NULL, NULL);
        g_assert_true(kp_noise_start(p.r, &error));
        g_assert_true(kp_noise_feed(p.r, frame->data, frame->len, NULL, &error));
        g_assert_no_error(error);
        /* Message 2: e, encrypted s, and an encrypted payload. */
        g_assert_cmpuint(kp_noise_take_output(p.r, out), >, 2 + 2 * KP_NOISE_KEY_BYTES + 32);
        g_assert_cmpint(kp_noise_get_state(p.r), ==, KP_NOISE_STATE_HANDSHAKE);
        pair_clear(&p);
}

/* The limits themselves are accepted. */
static void
test_noise_payload_limits(void)
{
        guint8 r_pub[KP_NOISE_KEY_BYTES];
        const char *muxers[KP_NOISE_MAX_MUXERS + 1];
        g_autofree char *long_name = g_strnfill(KP_NOISE_MAX_MUXER_LEN, 'y');
        g_autoptr(KpKeypair) id = keypair_from_byte(2);
        g_autoptr(GByteArray) base = NULL;
        g_autoptr(GByteArray) exact = NULL;
        g_autoptr(GByteArray) many = NULL;
        g_autoptr(GError) error = NULL;
        Pair p;

        g_assert_cmpint(crypto_scalarmult_base(r_pub, r_static), ==, 0);
        base = build_payload(id, NULL, r_pub, NULL, 200);
        exact = build_payload(id, NULL, r_pub, NULL, 200 + (KP_NOISE_MAX_PAYLOAD - base->len));
        g_assert_cmpuint(exact->len, ==, KP_NOISE_MAX_PAYLOAD);
        pair_init(&p, NULL, NULL, NULL);
        g_assert_true(hostile_message2(&p, exact, FALSE, &error));
        g_assert_no_error(error);
        g_assert_cmpint(kp_noise_get_state(p.i), ==, KP_NOISE_STATE_TRANSPORT);
        pair_clear(&p);

        for (guint k = 0; k < KP_NOISE_MAX_MUXERS; k++)
                muxers[k] = long_name;
        muxers[KP_NOISE_MAX_MUXERS] = NULL;
        many = build_payload(id, NULL, r_pub, muxers, 0);
        pair_init(&p, NULL, NULL, NULL);
        g_assert_true(hostile_message2(&p, many, FALSE, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(g_strv_length((char **)kp_noise_get_remote_muxers(p.i)), ==,
                         KP_NOISE_MAX_MUXERS);
        pair_clear(&p);
}

/* A started side of a fresh pair accepts the first @ok_len bytes of @data,
 * then fails on the rest, or on the end of input when there is no rest. */
static void
assert_handshake_fails(gboolean initiator, const guint8 *data, gsize ok_len, gsize len, gint code,
                       const char *substring)
{
        g_autoptr(GError) error = NULL;
        KpNoise *noise;
        Pair p;

        pair_init(&p, NULL, NULL, NULL);
        noise = initiator ? p.i : p.r;
        g_assert_true(kp_noise_start(noise, &error));
        if (ok_len > 0) {
                g_assert_true(kp_noise_feed(noise, data, ok_len, NULL, &error));
                g_assert_no_error(error);
        }
        if (ok_len < len)
                g_assert_false(kp_noise_feed(noise, data + ok_len, len - ok_len, NULL, &error));
        else
                g_assert_false(kp_noise_feed_eof(noise, &error));
        assert_failed_with(noise, error, code, substring);
        pair_clear(&p);
}

static void
test_noise_framing_errors(void)
{
        const guint8 hdr[] = { 0xff, 0xff };
        const guint8 at[]
            = { KP_NOISE_MAX_HANDSHAKE_MESSAGE >> 8, KP_NOISE_MAX_HANDSHAKE_MESSAGE & 0xff };
        const guint8 over[] = { (KP_NOISE_MAX_HANDSHAKE_MESSAGE + 1) >> 8,
                                (KP_NOISE_MAX_HANDSHAKE_MESSAGE + 1) & 0xff };
        const guint8 short1[2 + 31] = { 0, 31 };
        const guint8 short2[2 + 95] = { 0, 95, 9 };
        const guint8 partial[] = { 0, 32, 1, 2, 3 };

        /* A handshake frame header over the limit fails before its body. */
        assert_handshake_fails(FALSE, hdr, 1, 2, KP_ERROR_TOO_LARGE,
                               "handshake frame of 65535 bytes exceeds");
        /* The limit itself is only the start of a frame. */
        assert_handshake_fails(FALSE, at, 2, 2, KP_ERROR_TRUNCATED, "inside a frame (2 of 8290");
        assert_handshake_fails(FALSE, over, 0, 2, KP_ERROR_TOO_LARGE, "8289 bytes exceeds 8288");
        /* Message 1 shorter than its key. */
        assert_handshake_fails(FALSE, short1, 0, sizeof short1, KP_ERROR_TRUNCATED,
                               "handshake message 1 of 31 bytes is shorter than the 32");
        /* Message 2 cut short. */
        assert_handshake_fails(TRUE, short2, 0, sizeof short2, KP_ERROR_TRUNCATED,
                               "handshake message 2 of 95 bytes is shorter than the 96");
        /* The connection ends during the handshake or inside a frame. */
        assert_handshake_fails(FALSE, partial, 0, 0, KP_ERROR_CLOSED, "during the handshake");
        assert_handshake_fails(FALSE, partial, 1, 1, KP_ERROR_TRUNCATED, "inside a frame (1 of 2");
        assert_handshake_fails(FALSE, partial, sizeof partial, sizeof partial, KP_ERROR_TRUNCATED,
                               "inside a frame (5 of 34");
}

static void
test_noise_transport_errors(void)
{
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) got = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        Pair p;

        /* Encrypting before the handshake. */
        pair_init(&p, NULL, NULL, NULL);
        g_assert_true(kp_noise_start(p.i, &error));
        g_assert_false(kp_noise_encrypt(p.i, (const guint8 *)"x", 1, wire, &error));
        kp_test_assert_error(error, KP_ERROR_PROTOCOL, "before the handshake");
        g_clear_error(&error);
        pair_clear(&p);

        /* A tampered transport frame. */
        pair_init(&p, NULL, NULL, NULL);
        run_handshake(p.i, p.r, 0);
        g_assert_true(kp_noise_encrypt(p.i, (const guint8 *)"hello", 5, wire, &error));
        wire->data[4] ^= 1;
        g_assert_false(kp_noise_feed(p.r, wire->data, wire->len, NULL, &error));
        assert_failed_with(p.r, error, KP_ERROR_CRYPTO, "bad tag");
        g_clear_error(&error);
        g_assert_cmpuint(kp_noise_take_plaintext(p.r, got), ==, 0);
        g_assert_false(kp_noise_encrypt(p.r, (const guint8 *)"x", 1, wire, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_CLOSED);
        g_clear_error(&error);
        pair_clear(&p);

        /* A transport frame shorter than a tag. */
        {
                const guint8 frame[] = { 0, 3, 1, 2, 3 };
                pair_init(&p, NULL, NULL, NULL);
                run_handshake(p.i, p.r, 0);
                g_assert_false(kp_noise_feed(p.r, frame, sizeof frame, NULL, &error));
                assert_failed_with(p.r, error, KP_ERROR_TRUNCATED, "16-byte tag");
                g_clear_error(&error);
                pair_clear(&p);
        }

        /* Replayed frame: the nonce has moved on. */
        pair_init(&p, NULL, NULL, NULL);
        run_handshake(p.i, p.r, 0);
        g_byte_array_set_size(wire, 0);
        g_assert_true(kp_noise_encrypt(p.i, (const guint8 *)"hello", 5, wire, &error));
        g_assert_true(kp_noise_feed(p.r, wire->data, wire->len, NULL, &error));
        g_assert_false(kp_noise_feed(p.r, wire->data, wire->len, NULL, &error));
        assert_failed_with(p.r, error, KP_ERROR_CRYPTO, "bad tag");
        g_clear_error(&error);
        pair_clear(&p);

        /* Nonce exhaustion ends the channel. */
        pair_init(&p, NULL, NULL, NULL);
        run_handshake(p.i, p.r, 0);
        kp_noise_set_nonces_for_testing(p.i, G_MAXUINT64 - 1, 0);
        kp_noise_set_nonces_for_testing(p.r, 0, G_MAXUINT64 - 1);
        g_byte_array_set_size(wire, 0);
        g_assert_true(kp_noise_encrypt(p.i, (const guint8 *)"last", 4, wire, &error));
        g_assert_true(kp_noise_feed(p.r, wire->data, wire->len, NULL, &error));
        g_assert_no_error(error);
        kp_noise_take_plaintext(p.r, got);
        g_assert_cmpmem(got->data, got->len, "last", 4);
        g_assert_false(kp_noise_feed(p.r, wire->data, wire->len, NULL, &error));
        assert_failed_with(p.r, error, KP_ERROR_CRYPTO, "nonce exhausted");
        g_clear_error(&error);
        g_byte_array_set_size(wire, 0);
        g_assert_false(kp_noise_encrypt(p.i, (const guint8 *)"more", 4, wire, &error));
        assert_failed_with(p.i, error, KP_ERROR_CRYPTO, "nonce exhausted");
        g_assert_cmpuint(wire->len, ==, 0);
        pair_clear(&p);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(sodium_init(), >=, 0);
        g_test_add_func("/noise/vectors", test_noise_vectors);
        g_test_add_func("/noise/xx-misuse", test_noise_xx_misuse);
        g_test_add_func("/noise/cipher-nonce", test_noise_cipher_nonce);
        g_test_add_func("/noise/fixed-keys", test_noise_fixed_keys);
        g_test_add_func("/noise/static-key", test_noise_static_key);
        g_test_add_func("/noise/handshake-chunks", test_noise_handshake_chunks);
        g_test_add_func("/noise/transport-large", test_noise_transport_large);
        g_test_add_func("/noise/coalesced", test_noise_coalesced);
        g_test_add_func("/noise/muxers", test_noise_muxers);
        g_test_add_func("/noise/peer-id-mismatch", test_noise_peer_id_mismatch);
        g_test_add_func("/noise/low-order", test_noise_low_order);
        g_test_add_func("/noise/low-order-static", test_noise_low_order_static);
        g_test_add_func("/noise/hostile-payloads", test_noise_hostile_payloads);
        g_test_add_func("/noise/hostile-message3", test_noise_hostile_message3);
        g_test_add_func("/noise/message1-payload", test_noise_message1_payload);
        g_test_add_func("/noise/payload-limits", test_noise_payload_limits);
        g_test_add_func("/noise/framing-errors", test_noise_framing_errors);
        g_test_add_func("/noise/transport-errors", test_noise_transport_errors);
        return g_test_run();
}
