/* The Kademlia routing table: k-buckets over the XOR distance from our own
 * key. Bucket i holds peers whose key shares exactly i leading bits with
 * ours; all 256 exist from the start (equivalent, for lookups, to the
 * lazily split table of the spec, and simpler).
 *
 * Eviction: replace-on-failure, no ping before eviction. A peer whose
 * requests fail KP_ROUTING_TABLE_MAX_FAILURES times in a row is dead and
 * removed at once. A full bucket accepts a newcomer only by evicting a
 * peer that has failed at least once (the one with most failures, then the
 * least recently seen); otherwise the newcomer is refused: long-lived peers
 * are preferred, as in the Kademlia paper, and no ping traffic is needed
 * because every lookup already reports who answers. Sans-I/O: time is
 * passed in (milliseconds, any monotonic origin). */
#pragma once

#include <glib.h>

#include "core/kp-kad-message.h"
#include "dht/kp-kad-key.h"

G_BEGIN_DECLS

/* Bucket size and replication parameter (libp2p/specs kad-dht). */
#define KP_KAD_K 20
/* Consecutive failed requests after which a peer is considered dead. */
#define KP_ROUTING_TABLE_MAX_FAILURES 2

typedef struct {
        KpKadPeer *peer; /* id and addresses */
        KpKadKey key;
        gint64 added_ms;
        gint64 last_seen_ms;
        guint failures;
} KpRoutingEntry;

typedef enum {
        KP_ROUTING_TABLE_ADDED,
        KP_ROUTING_TABLE_UPDATED,
        KP_ROUTING_TABLE_REPLACED, /* added by evicting a failing peer */
        KP_ROUTING_TABLE_FULL,     /* refused: bucket full of healthy peers */
        KP_ROUTING_TABLE_SELF,     /* refused: our own id */
} KpRoutingTableResult;

typedef struct _KpRoutingTable KpRoutingTable;

KpRoutingTable *kp_routing_table_new(const KpPeerId *self, guint k);
void kp_routing_table_free(KpRoutingTable *rt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpRoutingTable, kp_routing_table_free)

/* Adds or refreshes @id, counting as a sign of life. With @replace_addrs
 * (identify: the peer's own list) the addresses are replaced, else @addrs
 * are merged in. @addrs may be NULL. */
KpRoutingTableResult kp_routing_table_add(KpRoutingTable *rt, const KpPeerId *id, GPtrArray *addrs,
                                          gboolean replace_addrs, gint64 now_ms);
/* A request to @id failed. TRUE when that made it dead and it was removed. */
gboolean kp_routing_table_mark_failed(KpRoutingTable *rt, const KpPeerId *id);
gboolean kp_routing_table_remove(KpRoutingTable *rt, const KpPeerId *id);
const KpRoutingEntry *kp_routing_table_lookup(KpRoutingTable *rt, const KpPeerId *id);
guint kp_routing_table_size(KpRoutingTable *rt);
guint kp_routing_table_bucket_size(KpRoutingTable *rt, guint bucket);
guint kp_routing_table_bucket_index(KpRoutingTable *rt, const KpKadKey *key);
/* Up to @n entries closest to @target, closest first (borrowed: valid until
 * the table changes). @exclude may be NULL. */
GPtrArray *kp_routing_table_closest(KpRoutingTable *rt, const KpKadKey *target, guint n,
                                    const KpPeerId *exclude);

G_END_DECLS
