/* The value kameo 0.19 stores in the DHT under "{name}:meta:{peer id}" when
 * an actor registers (see shared/specs/kameo-remote-0.19.md):
 *   u8 peer_id_len | u64 LE actor sequence id | peer id bytes | remote_id
 * where remote_id is UTF-8 running to the end of the value. */
#pragma once

#include <glib.h>

#include "core/kp-peer-id.h"

G_BEGIN_DECLS

/* kameo refuses registration records over 64 KiB. */
#define KP_KAMEO_REGISTRATION_MAX 65536
/* The separator in "{name}:meta:{peer id}". */
#define KP_KAMEO_META_INFIX ":meta:"

typedef struct {
        guint64 actor_seq;
        KpPeerId peer_id;
        char *remote_id;
} KpKameoRegistration;

void kp_kameo_registration_free(KpKameoRegistration *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKameoRegistration, kp_kameo_registration_free)

GBytes *kp_kameo_registration_encode(guint64 actor_seq, const KpPeerId *peer_id,
                                     const char *remote_id);
/* Errors: KP_ERROR_TRUNCATED, KP_ERROR_TOO_LARGE, KP_ERROR_INVALID; messages
 * start with "kameo registration: ". */
KpKameoRegistration *kp_kameo_registration_decode(const guint8 *buf, gsize len, GError **error);

/* "{name}:meta:{peer id in base58btc}" */
char *kp_kameo_meta_key(const char *name, const KpPeerId *peer_id);
/* Splits a meta key at its last ":meta:"; FALSE when @key is not one (no
 * infix, empty name, or a peer id that does not parse). */
gboolean kp_kameo_meta_key_parse(const guint8 *key, gsize len, char **ret_name,
                                 KpPeerId *ret_peer_id);

G_END_DECLS
