/* Peer ids: the multihash of an encoded PublicKey (identity when the encoding
 * is at most 42 bytes, else sha2-256). Text: base58btc, or a CIDv1 with the
 * libp2p-key codec (0x72) in multibase. A value type: copy it, compare it. */
#pragma once

#include <glib.h>

#include "core/kp-keys.h"

G_BEGIN_DECLS

#define KP_PEER_ID_MAX_INLINE_KEY 42
#define KP_PEER_ID_MAX_BYTES      (2 + KP_PEER_ID_MAX_INLINE_KEY)
#define KP_CID_CODEC_LIBP2P_KEY   0x72

typedef struct {
        guint8 len;
        guint8 bytes[KP_PEER_ID_MAX_BYTES]; /* binary multihash */
} KpPeerId;

void kp_peer_id_from_public_key(const KpPublicKey *key, KpPeerId *ret_id);
/* Checks the multihash (identity or sha2-256 only), and that an identity
 * one inlines at most KP_PEER_ID_MAX_INLINE_KEY bytes of a valid PublicKey. */
gboolean kp_peer_id_from_bytes(const guint8 *buf, gsize len, KpPeerId *ret_id, GError **error);
/* base58btc ("12D3KooW...", "Qm...") or CIDv1 ("bafz...", any multibase
 * kp_multibase_decode knows); a CID must have the libp2p-key codec. */
gboolean kp_peer_id_parse(const char *text, KpPeerId *ret_id, GError **error);
char *kp_peer_id_to_string(const KpPeerId *id);
/* CIDv1, libp2p-key codec, multibase base32: "bafz..." */
char *kp_peer_id_to_cid_string(const KpPeerId *id);
gboolean kp_peer_id_equal(const KpPeerId *a, const KpPeerId *b);
/* For GHashTable keys of KpPeerId*. */
guint kp_peer_id_hash(gconstpointer id);
gboolean kp_peer_id_equal_func(gconstpointer a, gconstpointer b);
/* TRUE when @id is the peer id of @key. */
gboolean kp_peer_id_matches_public_key(const KpPeerId *id, const KpPublicKey *key);
/* The public key inlined in an identity-multihash peer id; NULL with
 * KP_ERROR_NOT_FOUND for a sha2-256 one. */
KpPublicKey *kp_peer_id_extract_public_key(const KpPeerId *id, GError **error);

G_END_DECLS
