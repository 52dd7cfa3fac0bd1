/* The Kademlia DHT service on a KpHost: serves the kad protocols (server
 * mode by default), keeps the routing table fed from identify and from
 * lookups, and runs iterative lookups by dialling peers and opening kad
 * streams. Single-threaded, on the thread-default main context.
 *
 * Protocol ids: every configured id is served; outbound streams propose
 * them in order. Default KP_DHT_PROTOCOL_KAMEO; KP_DHT_PROTOCOL_IPFS is the
 * same wire format.
 *
 * Async operations take a timeout (0: KP_DHT_QUERY_TIMEOUT_MS) that bounds
 * the lookup, and a GCancellable; they complete on the main context.
 * Results of value and provider lookups are streamed to a callback as they
 * arrive; the callback returns FALSE once satisfied, which ends the lookup
 * at once (in-flight requests are abandoned). */
#pragma once

#include <gio/gio.h>

#include "core/kp-kad-message.h"
#include "dht/kp-provider-store.h"
#include "dht/kp-record-store.h"
#include "dht/kp-routing-table.h"
#include "net/kp-host.h"
#include "net/kp-identify-service.h"

G_BEGIN_DECLS

#define KP_DHT_PROTOCOL_KAMEO "/kameo/registry/1.0.0"
#define KP_DHT_PROTOCOL_IPFS  "/ipfs/kad/1.0.0"
/* One request (dial included) that takes longer counts as failed. */
#define KP_DHT_REQUEST_TIMEOUT_MS 5000
/* kameo's Kademlia query timeout. */
#define KP_DHT_QUERY_TIMEOUT_MS 10000
/* libp2p/specs kad-dht: the bootstrap process runs every 5 minutes. */
#define KP_DHT_REFRESH_INTERVAL_MS (5 * 60 * 1000)
/* How often stores are pruned and our own records checked for republish. */
#define KP_DHT_MAINTENANCE_INTERVAL_MS (60 * 1000)
/* Inbound kad streams open at once (all peers); more are reset. */
#define KP_DHT_MAX_INBOUND_STREAMS 512
/* Requests answered on one inbound stream before it is reset. */
#define KP_DHT_MAX_REQUESTS_PER_STREAM 256
/* The smallest inbound message limit: a PUT_VALUE of a kameo registration
 * needs a few hundred bytes. */
#define KP_DHT_MAX_MESSAGE_MIN 1024

typedef struct {
        const char *const *protocols; /* NULL: { KP_DHT_PROTOCOL_KAMEO } */
        gboolean client_mode;         /* do not serve: lookups only */
        guint k;                      /* 0: KP_KAD_K */
        guint alpha;                  /* 0: KP_KAD_ALPHA */
        guint request_timeout_ms;     /* 0: KP_DHT_REQUEST_TIMEOUT_MS */
        guint refresh_interval_ms;    /* 0: KP_DHT_REFRESH_INTERVAL_MS */
        /* Limits on what peers may store here and send; 0: the default
         * named in the comment. Inbound requests longer than max_message
         * reset their stream (KP_DHT_MAX_MESSAGE_MIN .. KP_KAD_MAX_MESSAGE). */
        guint max_message;            /* KP_KAD_MAX_MESSAGE */
        guint max_records;            /* KP_RECORD_STORE_MAX_RECORDS */
        guint max_records_per_peer;   /* KP_RECORD_STORE_MAX_PER_PEER */
        guint max_providers;          /* KP_PROVIDER_STORE_MAX_TOTAL */
        guint max_providers_per_peer; /* KP_PROVIDER_STORE_MAX_PER_PEER */
} KpDhtConfig;

typedef struct {
        guint n_requests; /* RPCs sent by the lookup */
        guint n_failed;
        guint hops;      /* hop at which the first result arrived (0: local) */
        guint max_hops;  /* deepest peer that answered */
        guint n_results; /* values or providers delivered, peers stored at */
        gint64 duration_us;
} KpDhtStats;

typedef struct _KpDht KpDht;

KpDht *kp_dht_new(KpHost *host, const KpDhtConfig *config);
void kp_dht_free(KpDht *dht);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpDht, kp_dht_free)

/* Takes @identify's callback slot: every identify answer from a peer that
 * lists one of our kad protocols puts it (with its listen addrs) into the
 * routing table. */
void kp_dht_attach_identify(KpDht *dht, KpIdentifyService *identify);
void kp_dht_handle_identify(KpDht *dht, KpConnection *conn, const KpIdentifyInfo *info);
/* Adds a peer known by other means (bootstrap list, command line). */
KpRoutingTableResult kp_dht_add_peer(KpDht *dht, const KpPeerId *id, GPtrArray *addrs);
/* Adds the peers of @addrs (KpMultiaddr*, each ending in /p2p), runs a self
 * lookup through them, and then refreshes the table every refresh
 * interval. Returns at once; the lookup runs in the background. */
void kp_dht_bootstrap(KpDht *dht, GPtrArray *addrs);
KpHost *kp_dht_get_host(KpDht *dht);
KpRoutingTable *kp_dht_get_routing_table(KpDht *dht);
KpRecordStore *kp_dht_get_record_store(KpDht *dht);
KpProviderStore *kp_dht_get_provider_store(KpDht *dht);
const char *const *kp_dht_get_protocols(KpDht *dht);

/* Return FALSE to end the lookup (satisfied). @from is NULL for a local
 * result. */
typedef gboolean (*KpDhtValueFunc)(KpDht *dht, const KpPeerId *from, GBytes *value,
                                   gpointer user_data);
typedef gboolean (*KpDhtProviderFunc)(KpDht *dht, const KpKadPeer *provider, gpointer user_data);

/* Stores locally (as our own record, republished) and at the k closest
 * peers. Finishes with the number of peers that accepted it (0 is not an
 * error: like kameo, a value with no peers to hold it yet still counts). */
void kp_dht_put_value_async(KpDht *dht, GBytes *key, GBytes *value, guint timeout_ms,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data);
gboolean kp_dht_put_value_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                 GError **error);

/* Values are validated (kp_record_validate against the owner named in the
 * key) before @func sees them; each peer's answer is delivered, the local
 * one first. KP_ERROR_NOT_FOUND when none arrived. */
void kp_dht_get_value_async(KpDht *dht, GBytes *key, KpDhtValueFunc func, gpointer func_data,
                            guint timeout_ms, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean kp_dht_get_value_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                 GError **error);

/* Records ourselves as provider locally and announces it (ADD_PROVIDER with
 * our advertised addresses) to the k closest peers. */
void kp_dht_add_provider_async(KpDht *dht, GBytes *key, guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
gboolean kp_dht_add_provider_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                    GError **error);

/* Each distinct provider once, local ones first. KP_ERROR_NOT_FOUND when
 * none. */
void kp_dht_get_providers_async(KpDht *dht, GBytes *key, KpDhtProviderFunc func, gpointer func_data,
                                guint timeout_ms, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean kp_dht_get_providers_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                     GError **error);

/* The peer with its addresses (a new KpKadPeer), or KP_ERROR_NOT_FOUND. */
void kp_dht_find_peer_async(KpDht *dht, const KpPeerId *peer, guint timeout_ms,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data);
KpKadPeer *kp_dht_find_peer_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                   GError **error);

/* The k closest peers to @key that answered (KpKadPeer*, closest first). */
void kp_dht_get_closest_peers_async(KpDht *dht, GBytes *key, guint timeout_ms,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data);
GPtrArray *kp_dht_get_closest_peers_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                           GError **error);

G_END_DECLS
