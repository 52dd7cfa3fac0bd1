/* Deterministic peer ids for the DHT tests. */
#pragma once

#include "core/kp-keys.h"
#include "core/kp-peer-id.h"

static inline void
kp_test_peer_id(guint n, KpPeerId *ret)
{
        guint8 seed[KP_ED25519_SEED_BYTES] = { (guint8)n, (guint8)(n >> 8), 0x5a };
        g_autoptr(KpKeypair) kp = kp_keypair_new_from_seed(seed);

        kp_peer_id_from_public_key(kp_keypair_get_public_key(kp), ret);
}
