/* A Noise responder fed arbitrary bytes as if from an initiator. Built with
 * the null cipher (see fuzz/meson.build): no encryption and no signature
 * checks, so inputs reach the payload protobuf and the transport frames. A
 * seed is message 1, message 3 and transport frames, each length-prefixed. */
#include <glib.h>
#include <stdint.h>

#include "core/kp-noise.h"

#ifndef KP_NOISE_NULL_CIPHER
#error "this target needs the Noise null cipher"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static KpKeypair *identity = NULL;
static const guint8 static_secret[KP_NOISE_KEY_BYTES] = { 0x51, 0x52 };
static const guint8 ephemeral_secret[KP_NOISE_KEY_BYTES] = { 0x61, 0x62 };
static const char *const muxers[] = { "/yamux/1.0.0", "/mplex/6.7.0", NULL };

static void
run(const uint8_t *data, size_t size, size_t split)
{
        g_autoptr(KpNoise) noise = kp_noise_new_responder(identity, muxers);
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(GByteArray) plain = g_byte_array_new();
        gboolean ok;

        kp_noise_set_static_for_testing(noise, static_secret);
        kp_noise_set_ephemeral_for_testing(noise, ephemeral_secret);
        if (!kp_noise_start(noise, NULL))
                return;
        ok = kp_noise_feed(noise, data, split, NULL, NULL)
             && kp_noise_feed(noise, data + split, size - split, NULL, NULL);
        kp_noise_take_output(noise, out);
        if (!ok) {
                g_assert(kp_noise_get_state(noise) == KP_NOISE_STATE_FAILED);
                g_assert(kp_noise_get_remote_peer_id(noise) == NULL);
                return;
        }
        if (kp_noise_get_state(noise) == KP_NOISE_STATE_TRANSPORT) {
                const char *const *remote = kp_noise_get_remote_muxers(noise);
                g_assert(remote != NULL);
                g_assert(kp_noise_get_remote_peer_id(noise) != NULL);
                (void)kp_noise_select_muxer(noise);
                kp_noise_take_plaintext(noise, plain);
                g_assert(kp_noise_encrypt(noise, plain->data, plain->len, out, NULL));
        }
        (void)kp_noise_feed_eof(noise, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (identity == NULL) {
                guint8 seed[KP_ED25519_SEED_BYTES] = { 0x71 };
                identity = kp_keypair_new_from_seed(seed);
        }
        /* All at once, then in two pieces to exercise partial frames. */
        run(data, size, 0);
        if (size > 1)
                run(data, size, size / 2 + 1);
        return 0;
}
