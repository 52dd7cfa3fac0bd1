#include "dht/kp-kad-key.h"

#include <sodium.h>
#include <string.h>

void
kp_kad_key_from_bytes(const guint8 *data, gsize len, KpKadKey *ret_key)
{
        /* crypto_hash_sha256 cannot fail. */
        crypto_hash_sha256(ret_key->bytes, data, len);
}

void
kp_kad_key_from_peer_id(const KpPeerId *id, KpKadKey *ret_key)
{
        kp_kad_key_from_bytes(id->bytes, id->len, ret_key);
}

void
kp_kad_key_distance(const KpKadKey *a, const KpKadKey *b, KpKadKey *ret_distance)
{
        for (guint i = 0; i < KP_KAD_KEY_BYTES; i++)
                ret_distance->bytes[i] = a->bytes[i] ^ b->bytes[i];
}

guint
kp_kad_key_common_prefix_len(const KpKadKey *a, const KpKadKey *b)
{
        for (guint i = 0; i < KP_KAD_KEY_BYTES; i++) {
                guint8 x = a->bytes[i] ^ b->bytes[i];
                if (x != 0)
                        return i * 8 + (guint)__builtin_clz((unsigned)x) - 24;
        }
        return KP_KAD_KEY_BITS;
}

int
kp_kad_key_cmp_distance(const KpKadKey *target, const KpKadKey *a, const KpKadKey *b)
{
        for (guint i = 0; i < KP_KAD_KEY_BYTES; i++) {
                guint8 da = a->bytes[i] ^ target->bytes[i];
                guint8 db = b->bytes[i] ^ target->bytes[i];
                if (da != db)
                        return da < db ? -1 : 1;
        }
        return 0;
}

gboolean
kp_kad_key_equal(const KpKadKey *a, const KpKadKey *b)
{
        return memcmp(a->bytes, b->bytes, KP_KAD_KEY_BYTES) == 0;
}
