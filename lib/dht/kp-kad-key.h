/* Kademlia keys: positions in the 256-bit XOR metric space. Every key and
 * peer id is placed by SHA-256 of its bytes (libp2p/specs kad-dht "Distance");
 * for a peer that is its binary (multihash) peer id. */
#pragma once

#include <glib.h>

#include "core/kp-peer-id.h"

G_BEGIN_DECLS

#define KP_KAD_KEY_BYTES 32
#define KP_KAD_KEY_BITS  (KP_KAD_KEY_BYTES * 8)

typedef struct {
        guint8 bytes[KP_KAD_KEY_BYTES];
} KpKadKey;

void kp_kad_key_from_bytes(const guint8 *data, gsize len, KpKadKey *ret_key);
void kp_kad_key_from_peer_id(const KpPeerId *id, KpKadKey *ret_key);
void kp_kad_key_distance(const KpKadKey *a, const KpKadKey *b, KpKadKey *ret_distance);
/* Number of leading bits @a and @b share: 256 when equal. */
guint kp_kad_key_common_prefix_len(const KpKadKey *a, const KpKadKey *b);
/* <0, 0, >0 as @a is closer to, as far from, or further from @target than @b. */
int kp_kad_key_cmp_distance(const KpKadKey *target, const KpKadKey *a, const KpKadKey *b);
gboolean kp_kad_key_equal(const KpKadKey *a, const KpKadKey *b);

G_END_DECLS
