/* One iterative Kademlia lookup, sans-I/O (libp2p/specs kad-dht "Peer
 * routing"): the caller seeds it with the closest peers it knows, asks
 * kp_kad_query_next() whom to contact (at most alpha at once), and reports
 * each answer (with the closer peers it named) or failure. The lookup is
 * finished when the k closest peers seen that did not fail have all
 * answered, or when no candidate is left. Requests time out after
 * @request_timeout_ms (counted as failures), the whole query after
 * @query_timeout_ms. The caller may stop it early at any time (a value
 * lookup satisfied by its first answers): nothing here waits for that.
 *
 * Each peer carries a hop count: 1 for the seeds, n + 1 for a peer first
 * named by a peer at hop n. Time is in milliseconds. */
#pragma once

#include <glib.h>

#include "core/kp-kad-message.h"
#include "dht/kp-kad-key.h"

G_BEGIN_DECLS

#define KP_KAD_ALPHA 3
/* Candidates kept per lookup; the furthest uncontacted ones are dropped. */
#define KP_KAD_QUERY_MAX_PEERS 256

typedef enum {
        KP_KAD_QUERY_RUNNING,
        KP_KAD_QUERY_FINISHED,  /* the k closest answered, or no one left */
        KP_KAD_QUERY_TIMED_OUT, /* query timeout reached */
} KpKadQueryStatus;

typedef enum {
        KP_KAD_PEER_CANDIDATE,
        KP_KAD_PEER_WAITING,
        KP_KAD_PEER_SUCCEEDED,
        KP_KAD_PEER_FAILED,
} KpKadPeerState;

typedef struct _KpKadQuery KpKadQuery;

KpKadQuery *kp_kad_query_new(const KpKadKey *target, const KpPeerId *self, guint k, guint alpha,
                             gint64 request_timeout_ms, gint64 query_timeout_ms, gint64 now_ms);
void kp_kad_query_free(KpKadQuery *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKadQuery, kp_kad_query_free)

/* Adds candidates (KpKadPeer*, copied); known ones get the addresses
 * merged. @from is the peer that named them (NULL for seeds). */
void kp_kad_query_add_peers(KpKadQuery *q, GPtrArray *peers, const KpPeerId *from);
/* The next peer to contact, now WAITING (borrowed; valid while the query
 * lives), or NULL when alpha requests are in flight or none is due. */
const KpKadPeer *kp_kad_query_next(KpKadQuery *q, gint64 now_ms);
/* @id answered, naming @closer (may be NULL). Ignored unless WAITING. */
void kp_kad_query_on_success(KpKadQuery *q, const KpPeerId *id, GPtrArray *closer);
void kp_kad_query_on_failure(KpKadQuery *q, const KpPeerId *id);
/* Applies timeouts, then says where the lookup stands. */
KpKadQueryStatus kp_kad_query_poll(KpKadQuery *q, gint64 now_ms);
/* The earliest time at which a timeout fires. */
gint64 kp_kad_query_next_deadline(KpKadQuery *q);
/* Up to @n peers that answered, closest first (borrowed KpKadPeer*). */
GPtrArray *kp_kad_query_get_closest(KpKadQuery *q, guint n);
KpKadPeerState kp_kad_query_get_state(KpKadQuery *q, const KpPeerId *id);
/* 0 for a peer the query does not know. */
guint kp_kad_query_get_hops(KpKadQuery *q, const KpPeerId *id);
guint kp_kad_query_get_n_in_flight(KpKadQuery *q);
guint kp_kad_query_get_n_requests(KpKadQuery *q);

G_END_DECLS
