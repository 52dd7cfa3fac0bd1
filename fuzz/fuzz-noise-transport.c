/* Transport frames from a completed Noise handshake, fed to the responder.
 * Built with the null cipher (see fuzz/meson.build), so a frame is its
 * plaintext followed by a 16-byte tag that is not checked. Whatever the
 * responder decrypts is echoed back and must reach the initiator intact. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "core/kp-noise.h"

#ifndef KP_NOISE_NULL_CIPHER
#error "this target needs the Noise null cipher"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static KpKeypair *id_i = NULL;
static KpKeypair *id_r = NULL;

static void
pump(KpNoise *from, KpNoise *to)
{
        g_autoptr(GByteArray) buf = g_byte_array_new();

        kp_noise_take_output(from, buf);
        g_assert(kp_noise_feed(to, buf->data, buf->len, NULL, NULL));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *const muxers[] = { "/yamux/1.0.0", NULL };
        g_autoptr(KpNoise) i = NULL;
        g_autoptr(KpNoise) r = NULL;
        g_autoptr(GByteArray) plain = g_byte_array_new();
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) echo = g_byte_array_new();

        if (id_i == NULL) {
                guint8 seed[KP_ED25519_SEED_BYTES] = { 0x01 };
                id_i = kp_keypair_new_from_seed(seed);
                seed[0] = 0x02;
                id_r = kp_keypair_new_from_seed(seed);
        }
        i = kp_noise_new_initiator(id_i, NULL, muxers);
        r = kp_noise_new_responder(id_r, muxers);
        g_assert(kp_noise_start(i, NULL) && kp_noise_start(r, NULL));
        pump(i, r);
        pump(r, i);
        pump(i, r);
        g_assert(kp_noise_get_state(r) == KP_NOISE_STATE_TRANSPORT);

        /* The harness is useless with a real cipher: make sure it is null. */
        g_assert(kp_noise_encrypt(i, (const guint8 *)"probe", 5, wire, NULL));
        g_assert(wire->len == 2 + 5 + KP_NOISE_TAG_BYTES
                 && memcmp(wire->data + 2, "probe", 5) == 0);
        g_assert(kp_noise_feed(r, wire->data, wire->len, NULL, NULL));
        kp_noise_take_plaintext(r, plain);
        g_byte_array_set_size(plain, 0);
        g_byte_array_set_size(wire, 0);

        if (!kp_noise_feed(r, data, size, NULL, NULL)) {
                g_assert(kp_noise_get_state(r) == KP_NOISE_STATE_FAILED);
                return 0;
        }
        kp_noise_take_plaintext(r, plain);
        g_assert(kp_noise_encrypt(r, plain->data, plain->len, wire, NULL));
        g_assert(kp_noise_feed(i, wire->data, wire->len, NULL, NULL));
        kp_noise_take_plaintext(i, echo);
        g_assert(echo->len == plain->len
                 && (plain->len == 0 || memcmp(echo->data, plain->data, plain->len) == 0));
        (void)kp_noise_feed_eof(r, NULL);
        return 0;
}
