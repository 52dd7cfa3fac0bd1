#define G_LOG_DOMAIN "kp-dht"

#include "dht/kp-dht.h"

#include <sodium.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo-registration.h"
#include "core/kp-lp.h"
#include "dht/kp-addr-filter.h"
#include "dht/kp-kad-query.h"

typedef struct _Rpc Rpc;
typedef struct _Op Op;
typedef struct _Inbound Inbound;

struct _KpDht {
        KpHost *host;
        KpPeerId self;
        KpKadKey self_key;
        GStrv protocols;
        gboolean client_mode;
        guint k, alpha, request_timeout_ms, refresh_interval_ms;
        guint max_message;
        KpRoutingTable *rt;
        KpRecordStore *records;
        KpProviderStore *providers;
        GList *ops;     /* Op*, running */
        GList *inbound; /* Inbound* */
        guint n_inbound;
        guint maintenance_id;
        guint refresh_id;
        KpIdentifyService *identify;
};

static gint64
now_ms(void)
{
        return g_get_monotonic_time() / 1000;
}

static gboolean
addr_is_dialable(const KpMultiaddr *ma)
{
        return kp_multiaddr_get_tcp_endpoint(ma, NULL, NULL, NULL, NULL);
}

/* ---- one request/response on a fresh stream ------------------------- */

typedef void (*RpcFunc)(Rpc *rpc, KpKadMessage *response, const GError *error, gpointer data);

struct _Rpc {
        gint ref;
        KpDht *dht;
        KpKadPeer *peer;
        KpKadMessageType type;
        GBytes *request; /* length-prefixed */
        gboolean expect_response;
        RpcFunc func;
        gpointer data;
        KpStream *stream;
        KpLpReader reader;
        guint timeout_id;
        guint idle_id;
        GError *idle_error;
        GCancellable *dial_cancel;
        GPtrArray *dial_addrs;
        guint dial_next;
        gboolean done;
};

static Rpc *
rpc_ref(Rpc *rpc)
{
        rpc->ref++;
        return rpc;
}

static void
rpc_unref(Rpc *rpc)
{
        if (--rpc->ref > 0)
                return;
        kp_kad_peer_free(rpc->peer);
        g_bytes_unref(rpc->request);
        kp_lp_reader_clear(&rpc->reader);
        g_clear_error(&rpc->idle_error);
        g_clear_object(&rpc->dial_cancel);
        g_clear_pointer(&rpc->dial_addrs, g_ptr_array_unref);
        g_free(rpc);
}

/* Ends the request once: detaches from the stream (reset on error, else
 * half-closed), then tells the owner. Drops the owner's reference. */
static void
rpc_finish(Rpc *rpc, KpKadMessage *response, const GError *error)
{
        RpcFunc func = rpc->func;

        if (rpc->done)
                return;
        rpc->done = TRUE;
        rpc->func = NULL;
        g_clear_handle_id(&rpc->timeout_id, g_source_remove);
        g_clear_handle_id(&rpc->idle_id, g_source_remove);
        g_cancellable_cancel(rpc->dial_cancel);
        if (rpc->stream != NULL) {
                KpStream *stream = g_steal_pointer(&rpc->stream);
                kp_stream_set_callbacks(stream, NULL, NULL);
                if (error != NULL)
                        kp_stream_reset(stream);
                else
                        kp_stream_close_write(stream);
                kp_stream_unref(stream);
        }
        if (func != NULL)
                func(rpc, response, error, rpc->data);
        rpc_unref(rpc);
}

/* Abandons the request without telling the owner. */
static void
rpc_cancel(Rpc *rpc)
{
        g_autoptr(GError) error = g_error_new(KP_ERROR, KP_ERROR_CLOSED, "kad: request abandoned");

        rpc->func = NULL;
        rpc_finish(rpc, NULL, error);
}

static void
rpc_on_negotiated(KpStream *stream, gpointer user_data)
{
        Rpc *rpc = user_data;

        /* ADD_PROVIDER has no answer: the peer taking the protocol is all
         * there is to wait for. */
        if (!rpc->expect_response)
                rpc_finish(rpc, NULL, NULL);
}

static void
rpc_on_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        Rpc *rpc = user_data;
        g_autoptr(GBytes) message = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadMessage) response = NULL;
        gsize used = 0;

        if (!rpc->expect_response)
                return;
        if (!kp_lp_reader_feed(&rpc->reader, data, len, &used, &message, &error)) {
                g_prefix_error(&error, "kad: response: ");
                rpc_finish(rpc, NULL, error);
                return;
        }
        if (message == NULL)
                return;
        response = kp_kad_message_decode_response(g_bytes_get_data(message, NULL),
                                                  g_bytes_get_size(message), &error);
        if (response != NULL && response->type != rpc->type) {
                error = g_error_new(KP_ERROR, KP_ERROR_PROTOCOL, "kad: %s answered with %s",
                                    kp_kad_message_type_to_string(rpc->type),
                                    kp_kad_message_type_to_string(response->type));
                g_clear_pointer(&response, kp_kad_message_free);
        }
        if (response != NULL) {
                /* peers it names are claims: keep only addresses it may
                 * point us at (kp-addr-filter.h) */
                const KpMultiaddr *source
                    = kp_connection_get_remote_addr(kp_stream_get_connection(stream));
                for (guint i = 0; i < response->closer_peers->len; i++)
                        kp_addr_filter_peer(response->closer_peers->pdata[i], source);
                for (guint i = 0; i < response->provider_peers->len; i++)
                        kp_addr_filter_peer(response->provider_peers->pdata[i], source);
        }
        rpc_finish(rpc, response, error);
}

static void
rpc_on_eof(KpStream *stream, gpointer user_data)
{
        Rpc *rpc = user_data;
        g_autoptr(GError) error
            = g_error_new(KP_ERROR, KP_ERROR_TRUNCATED, "kad: stream ended before the response");

        rpc_finish(rpc, NULL, rpc->expect_response ? error : NULL);
}

static void
rpc_on_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        Rpc *rpc = user_data;
        g_autoptr(GError) eof = NULL;

        if (error == NULL && rpc->expect_response)
                error = eof = g_error_new(KP_ERROR, KP_ERROR_CLOSED,
                                          "kad: stream closed before the response");
        /* the stream is finished: do not touch it again */
        g_clear_pointer(&rpc->stream, kp_stream_unref);
        rpc_finish(rpc, NULL, error);
}

static const KpStreamCallbacks rpc_callbacks = {
        .negotiated = rpc_on_negotiated,
        .data = rpc_on_data,
        .eof = rpc_on_eof,
        .closed = rpc_on_closed,
};

static void
rpc_open_stream(Rpc *rpc, KpConnection *conn)
{
        g_autoptr(GError) error = NULL;
        KpStream *stream = kp_connection_open_stream(conn, (const char *const *)rpc->dht->protocols,
                                                     &rpc_callbacks, rpc, &error);

        if (stream == NULL) {
                rpc_finish(rpc, NULL, error);
                return;
        }
        rpc->stream = kp_stream_ref(stream);
        kp_stream_write(stream, g_bytes_get_data(rpc->request, NULL),
                        g_bytes_get_size(rpc->request));
        if (!rpc->expect_response)
                kp_stream_close_write(stream);
}

static void rpc_dial_next(Rpc *rpc, GError *last_error);

static void
rpc_on_dialed(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Rpc *rpc = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpConnection) conn = NULL;

        if (rpc->done) {
                rpc_unref(rpc);
                return;
        }
        conn = kp_host_dial_finish(rpc->dht->host, result, &error);
        if (conn == NULL)
                rpc_dial_next(rpc, g_steal_pointer(&error));
        else
                rpc_open_stream(rpc, conn);
        rpc_unref(rpc);
}

static void
rpc_dial_next(Rpc *rpc, GError *last_error)
{
        g_autoptr(GError) error = last_error;

        if (rpc->dial_next >= rpc->dial_addrs->len) {
                if (error == NULL)
                        error = g_error_new(KP_ERROR, KP_ERROR_NOT_FOUND,
                                            "kad: no dialable address for the peer");
                rpc_finish(rpc, NULL, error);
                return;
        }
        kp_host_dial_async(rpc->dht->host, rpc->dial_addrs->pdata[rpc->dial_next++],
                           rpc->dial_cancel, rpc_on_dialed, rpc_ref(rpc));
}

static gboolean
rpc_on_timeout(gpointer user_data)
{
        Rpc *rpc = user_data;
        g_autoptr(GError) error
            = g_error_new(KP_ERROR, KP_ERROR_TIMEOUT, "kad: %s request timed out after %u ms",
                          kp_kad_message_type_to_string(rpc->type), rpc->dht->request_timeout_ms);

        rpc->timeout_id = 0;
        rpc_finish(rpc, NULL, error);
        return G_SOURCE_REMOVE;
}

static gboolean
rpc_on_idle_start(gpointer user_data)
{
        Rpc *rpc = user_data;
        KpConnection *conn;

        rpc->idle_id = 0;
        conn = kp_host_get_connection(rpc->dht->host, &rpc->peer->id);
        if (conn != NULL) {
                rpc_open_stream(rpc, conn);
                return G_SOURCE_REMOVE;
        }
        rpc->dial_addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        for (guint i = 0; i < rpc->peer->addrs->len; i++) {
                KpMultiaddr *ma = rpc->peer->addrs->pdata[i];
                KpMultiaddr *full;
                if (!addr_is_dialable(ma))
                        continue;
                full = kp_multiaddr_encapsulate_p2p(ma, &rpc->peer->id, NULL);
                if (full != NULL)
                        g_ptr_array_add(rpc->dial_addrs, full);
        }
        rpc_dial_next(rpc, NULL);
        return G_SOURCE_REMOVE;
}

/* Starts on the next main-loop iteration, so the owner never sees a
 * callback from inside this call. */
static Rpc *
rpc_start(KpDht *dht, const KpKadPeer *peer, const KpKadMessage *request, RpcFunc func,
          gpointer data)
{
        Rpc *rpc = g_new0(Rpc, 1);
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) body = kp_kad_message_encode(request, &error);
        GByteArray *framed = g_byte_array_new();

        rpc->ref = 1;
        rpc->dht = dht;
        rpc->peer = kp_kad_peer_copy(peer);
        rpc->type = request->type;
        rpc->expect_response = request->type != KP_KAD_ADD_PROVIDER;
        rpc->func = func;
        rpc->data = data;
        rpc->dial_cancel = g_cancellable_new();
        kp_lp_reader_init(&rpc->reader, KP_KAD_MAX_RESPONSE);
        /* our own requests always fit: keys and records were checked */
        g_assert(body != NULL);
        kp_lp_append(framed, g_bytes_get_data(body, NULL), g_bytes_get_size(body));
        rpc->request = g_byte_array_free_to_bytes(framed);
        rpc->timeout_id = g_timeout_add(dht->request_timeout_ms, rpc_on_timeout, rpc);
        rpc->idle_id = g_idle_add(rpc_on_idle_start, rpc);
        return rpc;
}

/* ---- serving --------------------------------------------------------- */

struct _Inbound {
        KpDht *dht;
        KpStream *stream;
        KpLpReader reader;
        guint n_requests;
};

static GPtrArray *
closer_peers(KpDht *dht, const KpKadKey *target, const KpPeerId *exclude)
{
        g_autoptr(GPtrArray) entries = kp_routing_table_closest(dht->rt, target, dht->k, exclude);
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);

        for (guint i = 0; i < entries->len; i++) {
                const KpRoutingEntry *e = entries->pdata[i];
                if (e->peer->addrs->len > 0)
                        g_ptr_array_add(out, kp_kad_peer_copy(e->peer));
        }
        return out;
}

static void
add_closer(KpDht *dht, KpKadMessage *response, GBytes *key, const KpPeerId *sender)
{
        g_autoptr(GPtrArray) peers = NULL;
        KpKadKey target;

        if (key == NULL)
                return;
        kp_kad_key_from_bytes(g_bytes_get_data(key, NULL), g_bytes_get_size(key), &target);
        peers = closer_peers(dht, &target, sender);
        for (guint i = 0; i < peers->len; i++)
                g_ptr_array_add(response->closer_peers, kp_kad_peer_copy(peers->pdata[i]));
}

static KpKadMessage *
response_new(const KpKadMessage *request)
{
        KpKadMessage *response = kp_kad_message_new(request->type, NULL, 0);

        if (request->key != NULL)
                response->key = g_bytes_ref(request->key);
        return response;
}

/* A stored record's timeReceived: when it reached us, as go answers it (not
 * the time of the GET), in RFC 3339 UTC always with fractional seconds:
 * js-libp2p's parseRFC3339 refuses a time without them, which GLib's
 * ISO 8601 formatter leaves out on a whole second. */
static char *
format_time_received(const KpStoredRecord *r, gint64 now)
{
        gint64 age_us = MAX(now - r->received_ms, 0) * 1000;
        g_autoptr(GDateTime) epoch = g_date_time_new_from_unix_utc(0);
        g_autoptr(GDateTime) received = g_date_time_add(epoch, g_get_real_time() - age_us);

        return g_date_time_format(received, "%Y-%m-%dT%H:%M:%S.%fZ");
}

/* The answer to @request, or NULL for none; *@ret_reset when the request
 * is refused (the stream is then reset, as go and js do). */
static KpKadMessage *
handle_request(KpDht *dht, KpConnection *conn, const KpKadMessage *request, gboolean *ret_reset)
{
        const KpPeerId *sender = kp_connection_get_remote_peer_id(conn);
        g_autoptr(KpKadMessage) response = NULL;
        g_autoptr(GError) error = NULL;
        gint64 now = now_ms();

        *ret_reset = FALSE;
        switch (request->type) {
        case KP_KAD_PING:
                return response_new(request);
        case KP_KAD_FIND_NODE:
                response = response_new(request);
                add_closer(dht, response, request->key, sender);
                return g_steal_pointer(&response);
        case KP_KAD_GET_VALUE: {
                const KpStoredRecord *r = NULL;
                response = response_new(request);
                if (request->key != NULL)
                        r = kp_record_store_get(dht->records, g_bytes_get_data(request->key, NULL),
                                                g_bytes_get_size(request->key), now);
                if (r != NULL) {
                        response->record = kp_kad_record_new(r->key, r->value);
                        response->record->time_received = format_time_received(r, now);
                        if (!r->local) {
                                response->record->has_publisher = TRUE;
                                response->record->publisher = r->sender;
                        }
                }
                add_closer(dht, response, request->key, sender);
                return g_steal_pointer(&response);
        }
        case KP_KAD_PUT_VALUE: {
                const KpKadRecord *rec = request->record;
                if (rec == NULL
                    || (request->key != NULL && !g_bytes_equal(request->key, rec->key))) {
                        error = g_error_new(KP_ERROR, KP_ERROR_PROTOCOL,
                                            "PUT_VALUE without a record, or with a record of "
                                            "another key");
                } else {
                        kp_record_store_put(dht->records, rec->key, rec->value, sender,
                                            rec->has_ttl ? (gint64)rec->ttl * 1000 : 0, now,
                                            &error);
                }
                if (error != NULL) {
                        g_autofree char *peer = kp_peer_id_to_string(sender);
                        g_info("PUT_VALUE from %s rejected: %s", peer, error->message);
                        *ret_reset = TRUE;
                        return NULL;
                }
                /* the spec's answer: the request echoed */
                response = response_new(request);
                response->record = kp_kad_record_copy(rec);
                return g_steal_pointer(&response);
        }
        case KP_KAD_ADD_PROVIDER:
                for (guint i = 0; request->key != NULL && i < request->provider_peers->len; i++) {
                        const KpKadPeer *p = request->provider_peers->pdata[i];
                        g_autoptr(KpKadPeer) provider = NULL;
                        /* only the sender may announce itself (libp2p kad spec) */
                        if (!kp_peer_id_equal(&p->id, sender)) {
                                g_autofree char *peer = kp_peer_id_to_string(sender);
                                g_autofree char *named = kp_peer_id_to_string(&p->id);
                                g_info("ADD_PROVIDER from %s rejected: it names provider %s", peer,
                                       named);
                                continue;
                        }
                        provider = kp_kad_peer_copy(p);
                        kp_addr_filter_peer(provider, kp_connection_get_remote_addr(conn));
                        if (provider->addrs->len == 0) {
                                const KpRoutingEntry *e = kp_routing_table_lookup(dht->rt, sender);
                                for (guint j = 0; e != NULL && j < e->peer->addrs->len; j++)
                                        kp_kad_peer_add_addr(provider, e->peer->addrs->pdata[j]);
                        }
                        if (!kp_provider_store_add(dht->providers, request->key, provider, now,
                                                   &error)) {
                                g_autofree char *peer = kp_peer_id_to_string(sender);
                                g_info("ADD_PROVIDER from %s rejected: %s", peer, error->message);
                                g_clear_error(&error);
                        }
                }
                return NULL;
        case KP_KAD_GET_PROVIDERS:
                response = response_new(request);
                if (request->key != NULL) {
                        g_autoptr(GPtrArray) providers = kp_provider_store_get(
                            dht->providers, g_bytes_get_data(request->key, NULL),
                            g_bytes_get_size(request->key), now);
                        /* newest first, within the message limit */
                        for (guint i = providers->len;
                             i-- > 0 && response->provider_peers->len < dht->k;)
                                g_ptr_array_add(response->provider_peers,
                                                kp_kad_peer_copy(providers->pdata[i]));
                }
                add_closer(dht, response, request->key, sender);
                return g_steal_pointer(&response);
        }
        *ret_reset = TRUE;
        return NULL;
}

/* Peers with many addresses can push an answer over KP_KAD_MAX_MESSAGE:
 * drop the furthest closer peers, then providers, until it fits. */
static GBytes *
encode_response(KpKadMessage *response, GError **error)
{
        for (;;) {
                g_autoptr(GError) local = NULL;
                GBytes *body = kp_kad_message_encode(response, &local);
                if (body != NULL)
                        return body;
                if (!g_error_matches(local, KP_ERROR, KP_ERROR_TOO_LARGE)
                    || (response->closer_peers->len == 0 && response->provider_peers->len == 0)) {
                        g_propagate_error(error, g_steal_pointer(&local));
                        return NULL;
                }
                if (response->closer_peers->len > 0)
                        g_ptr_array_remove_index(response->closer_peers,
                                                 response->closer_peers->len - 1);
                else
                        g_ptr_array_remove_index(response->provider_peers,
                                                 response->provider_peers->len - 1);
        }
}

static void
inbound_free(Inbound *in)
{
        kp_lp_reader_clear(&in->reader);
        g_clear_pointer(&in->stream, kp_stream_unref);
        g_free(in);
}

static void
inbound_on_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        Inbound *in = user_data;
        KpDht *dht = in->dht;

        while (len > 0) {
                g_autoptr(GBytes) message = NULL;
                g_autoptr(GError) error = NULL;
                g_autoptr(KpKadMessage) request = NULL;
                g_autoptr(KpKadMessage) response = NULL;
                gsize used = 0;
                gboolean reset = FALSE;

                if (!kp_lp_reader_feed(&in->reader, data, len, &used, &message, &error)) {
                        if (g_error_matches(error, KP_ERROR, KP_ERROR_TOO_LARGE))
                                g_prefix_error(&error, "MaxKadMessageBytes %u: ", dht->max_message);
                        goto refuse;
                }
                data += used;
                len -= used;
                if (message == NULL)
                        continue;
                request = kp_kad_message_decode(g_bytes_get_data(message, NULL),
                                                g_bytes_get_size(message), &error);
                if (request == NULL || ++in->n_requests > KP_DHT_MAX_REQUESTS_PER_STREAM)
                        goto refuse;
                response = handle_request(dht, kp_stream_get_connection(stream), request, &reset);
                if (reset) {
                        kp_stream_reset(stream); /* frees @in */
                        return;
                }
                if (response != NULL) {
                        g_autoptr(GBytes) body = encode_response(response, &error);
                        g_autoptr(GByteArray) out = g_byte_array_new();
                        if (body == NULL)
                                goto refuse;
                        kp_lp_append(out, g_bytes_get_data(body, NULL), g_bytes_get_size(body));
                        kp_stream_write(stream, out->data, out->len);
                }
                continue;
        refuse : {
                g_autofree char *peer = kp_peer_id_to_string(
                    kp_connection_get_remote_peer_id(kp_stream_get_connection(stream)));
                g_info("kad request from %s refused: %s", peer,
                       error != NULL ? error->message : "too many requests on one stream");
                kp_stream_reset(stream); /* frees @in */
                return;
        }
        }
}

static void
inbound_on_eof(KpStream *stream, gpointer user_data)
{
        kp_stream_close_write(stream);
}

static void
inbound_on_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        Inbound *in = user_data;
        KpDht *dht = in->dht;

        dht->inbound = g_list_remove(dht->inbound, in);
        dht->n_inbound--;
        inbound_free(in);
}

static void
on_kad_stream(KpStream *stream, gpointer user_data)
{
        static const KpStreamCallbacks callbacks = {
                .data = inbound_on_data,
                .eof = inbound_on_eof,
                .closed = inbound_on_closed,
        };
        KpDht *dht = user_data;
        Inbound *in;

        if (dht->n_inbound >= KP_DHT_MAX_INBOUND_STREAMS) {
                g_info("too many inbound kad streams (%d): refusing one",
                       KP_DHT_MAX_INBOUND_STREAMS);
                kp_stream_reset(stream);
                return;
        }
        in = g_new0(Inbound, 1);
        in->dht = dht;
        in->stream = kp_stream_ref(stream);
        kp_lp_reader_init(&in->reader, dht->max_message);
        dht->inbound = g_list_prepend(dht->inbound, in);
        dht->n_inbound++;
        kp_stream_set_callbacks(stream, &callbacks, in);
}

/* Installed in place of on_kad_stream once the DHT is gone (the host has no
 * way to unregister a handler). */
static void
on_kad_stream_refused(KpStream *stream, gpointer user_data)
{
        kp_stream_reset(stream);
}

/* ---- lookups and operations ------------------------------------------ */

typedef enum {
        OP_GET_VALUE,
        OP_GET_PROVIDERS,
        OP_FIND_PEER,
        OP_CLOSEST,
        OP_PUT_VALUE,
        OP_ADD_PROVIDER,
} OpKind;

struct _Op {
        KpDht *dht;
        OpKind kind;
        GTask *task;
        GBytes *key;
        KpKadKey target;
        KpKadMessageType rpc_type;
        KpKadQuery *query;
        GPtrArray *rpcs; /* Rpc*, in flight */
        guint timer_id;
        guint timeout_ms;
        GCancellable *cancellable;
        gulong cancel_handler;
        guint cancel_idle;
        KpDhtValueFunc value_func;
        KpDhtProviderFunc provider_func;
        gpointer func_data;
        GHashTable *seen; /* providers delivered, base58 */
        KpPeerId want_peer;
        KpKadPeer *found_peer;
        GBytes *value;
        KpDhtStats stats;
        gint64 start_us;
        gboolean lookup_done;
        gboolean completed;
        guint store_pending;
};

static void
op_free(Op *op)
{
        g_clear_pointer(&op->key, g_bytes_unref);
        g_clear_pointer(&op->value, g_bytes_unref);
        g_clear_pointer(&op->query, kp_kad_query_free);
        g_clear_pointer(&op->rpcs, g_ptr_array_unref);
        g_clear_pointer(&op->seen, g_hash_table_unref);
        g_clear_pointer(&op->found_peer, kp_kad_peer_free);
        g_clear_object(&op->cancellable);
        g_free(op);
}

static void
op_cancel_rpcs(Op *op)
{
        while (op->rpcs->len > 0) {
                Rpc *rpc = g_ptr_array_steal_index(op->rpcs, op->rpcs->len - 1);
                rpc_cancel(rpc);
        }
}

/* Completes the task (with @error, or the result the kind calls for) and
 * frees @op. */
static void
op_complete(Op *op, GError *error)
{
        KpDht *dht = op->dht;
        GTask *task = op->task;

        if (op->completed) {
                g_clear_error(&error);
                return;
        }
        op->completed = TRUE;
        op_cancel_rpcs(op);
        g_clear_handle_id(&op->timer_id, g_source_remove);
        g_clear_handle_id(&op->cancel_idle, g_source_remove);
        if (op->cancel_handler != 0)
                g_cancellable_disconnect(op->cancellable, op->cancel_handler);
        op->cancel_handler = 0;
        dht->ops = g_list_remove(dht->ops, op);
        op->stats.duration_us = g_get_monotonic_time() - op->start_us;
        if (op->query != NULL)
                op->stats.n_requests = kp_kad_query_get_n_requests(op->query);
        g_task_set_task_data(task, g_memdup2(&op->stats, sizeof op->stats), g_free);
        if (error != NULL) {
                g_task_return_error(task, error);
        } else if (op->kind == OP_FIND_PEER) {
                g_task_return_pointer(task, g_steal_pointer(&op->found_peer),
                                      (GDestroyNotify)kp_kad_peer_free);
        } else if (op->kind == OP_CLOSEST) {
                g_autoptr(GPtrArray) closest = kp_kad_query_get_closest(op->query, dht->k);
                GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);
                for (guint i = 0; i < closest->len; i++)
                        g_ptr_array_add(out, kp_kad_peer_copy(closest->pdata[i]));
                g_task_return_pointer(task, out, (GDestroyNotify)g_ptr_array_unref);
        } else {
                g_task_return_boolean(task, TRUE);
        }
        op_free(op);
        g_object_unref(task);
}

static gboolean
op_on_cancel_idle(gpointer user_data)
{
        Op *op = user_data;

        op->cancel_idle = 0;
        op_complete(op, g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "dht: operation cancelled"));
        return G_SOURCE_REMOVE;
}

static void
op_on_cancelled(GCancellable *cancellable, gpointer user_data)
{
        Op *op = user_data;

        /* may run inside g_cancellable_connect: finish from the loop */
        if (op->cancel_idle == 0)
                op->cancel_idle = g_idle_add(op_on_cancel_idle, op);
}

static Op *
op_new(KpDht *dht, OpKind kind, GBytes *key, guint timeout_ms, GCancellable *cancellable,
       GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
        Op *op = g_new0(Op, 1);

        op->dht = dht;
        op->kind = kind;
        op->key = g_bytes_ref(key);
        kp_kad_key_from_bytes(g_bytes_get_data(key, NULL), g_bytes_get_size(key), &op->target);
        op->timeout_ms = timeout_ms != 0 ? timeout_ms : KP_DHT_QUERY_TIMEOUT_MS;
        op->rpcs = g_ptr_array_new();
        op->start_us = g_get_monotonic_time();
        op->task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(op->task, source_tag);
        switch (kind) {
        case OP_GET_VALUE:
                op->rpc_type = KP_KAD_GET_VALUE;
                break;
        case OP_GET_PROVIDERS:
                op->rpc_type = KP_KAD_GET_PROVIDERS;
                op->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                break;
        default:
                op->rpc_type = KP_KAD_FIND_NODE;
                break;
        }
        dht->ops = g_list_prepend(dht->ops, op);
        if (cancellable != NULL) {
                op->cancellable = g_object_ref(cancellable);
                op->cancel_handler
                    = g_cancellable_connect(cancellable, G_CALLBACK(op_on_cancelled), op, NULL);
        }
        return op;
}

static void op_pump(Op *op);
static void op_lookup_done(Op *op, KpKadQueryStatus status);

static gboolean
op_on_timer(gpointer user_data)
{
        Op *op = user_data;

        op->timer_id = 0;
        op_pump(op);
        return G_SOURCE_REMOVE;
}

/* A value from the network must pass the rule it would need to be stored
 * by its owner: the owner is the peer named in a meta key. */
static gboolean
validate_fetched(GBytes *key, GBytes *value)
{
        KpPeerId owner;
        gsize klen, vlen;
        const guint8 *k = g_bytes_get_data(key, &klen);
        const guint8 *v = g_bytes_get_data(value, &vlen);

        if (!kp_kameo_meta_key_parse(k, klen, NULL, &owner)) {
                gsize ns = strlen(KP_RECORD_NAMESPACE);
                return klen > ns && memcmp(k, KP_RECORD_NAMESPACE, ns) == 0
                       && vlen <= KP_RECORD_MAX_VALUE;
        }
        return kp_record_validate(k, klen, v, vlen, &owner, NULL);
}

static void
note_result(Op *op, guint hops)
{
        if (op->stats.n_results++ == 0)
                op->stats.hops = hops;
}

static gboolean
deliver_provider(Op *op, const KpKadPeer *provider, guint hops)
{
        g_autofree char *text = kp_peer_id_to_string(&provider->id);

        if (g_hash_table_contains(op->seen, text))
                return TRUE;
        g_hash_table_add(op->seen, g_steal_pointer(&text));
        note_result(op, hops);
        return op->provider_func == NULL || op->provider_func(op->dht, provider, op->func_data);
}

static void
op_on_lookup_response(Rpc *rpc, KpKadMessage *response, const GError *error, gpointer data)
{
        Op *op = data;
        KpDht *dht = op->dht;
        const KpPeerId *id = &rpc->peer->id;
        gboolean satisfied = FALSE;
        guint hops;

        g_ptr_array_remove_fast(op->rpcs, rpc);
        if (error != NULL) {
                g_autofree char *peer = kp_peer_id_to_string(id);
                g_debug("%s to %s failed: %s", kp_kad_message_type_to_string(op->rpc_type), peer,
                        error->message);
                op->stats.n_failed++;
                kp_routing_table_mark_failed(dht->rt, id);
                kp_kad_query_on_failure(op->query, id);
                op_pump(op);
                return;
        }
        if (kp_kad_query_get_state(op->query, id) != KP_KAD_PEER_WAITING) {
                op_pump(op);
                return;
        }
        /* it answered on a kad protocol: a server worth knowing */
        kp_routing_table_add(dht->rt, id, rpc->peer->addrs, FALSE, now_ms());
        hops = kp_kad_query_get_hops(op->query, id);
        op->stats.max_hops = MAX(op->stats.max_hops, hops);
        switch (op->kind) {
        case OP_GET_VALUE:
                if (response->record != NULL && g_bytes_equal(response->record->key, op->key)
                    && validate_fetched(op->key, response->record->value)) {
                        note_result(op, hops);
                        if (op->value_func != NULL
                            && !op->value_func(dht, id, response->record->value, op->func_data))
                                satisfied = TRUE;
                }
                break;
        case OP_GET_PROVIDERS:
                for (guint i = 0; i < response->provider_peers->len && !satisfied; i++)
                        if (!deliver_provider(op, response->provider_peers->pdata[i], hops))
                                satisfied = TRUE;
                break;
        case OP_FIND_PEER:
                if (kp_peer_id_equal(id, &op->want_peer)) {
                        op->found_peer = kp_kad_peer_copy(rpc->peer);
                        satisfied = TRUE;
                }
                for (guint i = 0; i < response->closer_peers->len && !satisfied; i++) {
                        const KpKadPeer *p = response->closer_peers->pdata[i];
                        if (kp_peer_id_equal(&p->id, &op->want_peer) && p->addrs->len > 0) {
                                op->found_peer = kp_kad_peer_copy(p);
                                note_result(op, hops);
                                satisfied = TRUE;
                        }
                }
                break;
        default:
                break;
        }
        kp_kad_query_on_success(op->query, id, response->closer_peers);
        if (satisfied)
                op_lookup_done(op, KP_KAD_QUERY_FINISHED);
        else
                op_pump(op);
}

static KpKadMessage *
op_build_request(Op *op)
{
        KpKadMessage *msg = kp_kad_message_new(op->rpc_type, g_bytes_get_data(op->key, NULL),
                                               g_bytes_get_size(op->key));

        return msg;
}

static void
op_pump(Op *op)
{
        KpDht *dht = op->dht;
        const KpKadPeer *peer;
        KpKadQueryStatus status;
        gint64 now = now_ms();
        g_autoptr(KpKadMessage) request = NULL;

        if (op->completed || op->lookup_done)
                return;
        status = kp_kad_query_poll(op->query, now);
        if (status != KP_KAD_QUERY_RUNNING) {
                op_lookup_done(op, status);
                return;
        }
        while ((peer = kp_kad_query_next(op->query, now)) != NULL) {
                if (request == NULL)
                        request = op_build_request(op);
                g_ptr_array_add(op->rpcs, rpc_start(dht, peer, request, op_on_lookup_response, op));
        }
        g_clear_handle_id(&op->timer_id, g_source_remove);
        op->timer_id
            = g_timeout_add((guint)CLAMP(kp_kad_query_next_deadline(op->query) - now, 1, G_MAXUINT),
                            op_on_timer, op);
}

static void
op_start_lookup(Op *op)
{
        KpDht *dht = op->dht;
        g_autoptr(GPtrArray) entries = kp_routing_table_closest(dht->rt, &op->target, dht->k, NULL);
        g_autoptr(GPtrArray) seeds
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);

        op->query = kp_kad_query_new(&op->target, &dht->self, dht->k, dht->alpha,
                                     dht->request_timeout_ms, op->timeout_ms, now_ms());
        for (guint i = 0; i < entries->len; i++)
                g_ptr_array_add(seeds,
                                kp_kad_peer_copy(((KpRoutingEntry *)entries->pdata[i])->peer));
        kp_kad_query_add_peers(op->query, seeds, NULL);
        op_pump(op);
}

static void
op_on_store_response(Rpc *rpc, KpKadMessage *response, const GError *error, gpointer data)
{
        Op *op = data;

        g_ptr_array_remove_fast(op->rpcs, rpc);
        if (error == NULL) {
                op->stats.n_results++;
        } else {
                g_autofree char *peer = kp_peer_id_to_string(&rpc->peer->id);
                op->stats.n_failed++;
                g_debug("storing at %s failed: %s", peer, error->message);
        }
        if (--op->store_pending == 0)
                op_complete(op, NULL);
}

static KpKadPeer *
self_peer(KpDht *dht)
{
        KpKadPeer *me = kp_kad_peer_new(&dht->self);
        g_autoptr(GPtrArray) addrs = kp_host_get_advertised_addrs(dht->host);

        for (guint i = 0; i < addrs->len; i++)
                kp_kad_peer_add_addr(me, addrs->pdata[i]);
        return me;
}

static void
op_lookup_done(Op *op, KpKadQueryStatus status)
{
        KpDht *dht = op->dht;
        g_autoptr(GPtrArray) closest = NULL;
        g_autoptr(KpKadMessage) request = NULL;
        g_autofree char *what = NULL;

        op->lookup_done = TRUE;
        op_cancel_rpcs(op);
        g_clear_handle_id(&op->timer_id, g_source_remove);
        switch (op->kind) {
        case OP_GET_VALUE:
        case OP_GET_PROVIDERS:
        case OP_FIND_PEER:
                if (op->stats.n_results > 0 || op->found_peer != NULL) {
                        op_complete(op, NULL);
                        return;
                }
                what = op->kind == OP_GET_VALUE       ? g_strdup("value")
                       : op->kind == OP_GET_PROVIDERS ? g_strdup("provider")
                                                      : g_strdup("peer");
                if (status == KP_KAD_QUERY_TIMED_OUT)
                        op_complete(op, g_error_new(KP_ERROR, KP_ERROR_TIMEOUT,
                                                    "dht: no %s found before the %u ms timeout",
                                                    what, op->timeout_ms));
                else
                        op_complete(op, g_error_new(KP_ERROR, KP_ERROR_NOT_FOUND,
                                                    "dht: no %s found (%u peers asked)", what,
                                                    kp_kad_query_get_n_requests(op->query)));
                return;
        case OP_CLOSEST:
                op_complete(op, NULL);
                return;
        case OP_PUT_VALUE:
                request = kp_kad_message_new(KP_KAD_PUT_VALUE, g_bytes_get_data(op->key, NULL),
                                             g_bytes_get_size(op->key));
                request->record = kp_kad_record_new(op->key, op->value);
                request->record->has_publisher = TRUE;
                request->record->publisher = dht->self;
                break;
        case OP_ADD_PROVIDER: {
                request = kp_kad_message_new(KP_KAD_ADD_PROVIDER, g_bytes_get_data(op->key, NULL),
                                             g_bytes_get_size(op->key));
                g_ptr_array_add(request->provider_peers, self_peer(dht));
                break;
        }
        }
        closest = kp_kad_query_get_closest(op->query, dht->k);
        op->stats.n_requests = kp_kad_query_get_n_requests(op->query);
        op->store_pending = closest->len;
        if (closest->len == 0) {
                op_complete(op, NULL);
                return;
        }
        for (guint i = 0; i < closest->len; i++)
                g_ptr_array_add(
                    op->rpcs, rpc_start(dht, closest->pdata[i], request, op_on_store_response, op));
}

static gboolean
op_finish_common(GAsyncResult *result, gpointer source_tag, KpDhtStats *ret_stats)
{
        KpDhtStats *stats;

        g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == source_tag, FALSE);
        stats = g_task_get_task_data(G_TASK(result));
        if (ret_stats != NULL && stats != NULL)
                *ret_stats = *stats;
        return TRUE;
}

void
kp_dht_get_value_async(KpDht *dht, GBytes *key, KpDhtValueFunc func, gpointer func_data,
                       guint timeout_ms, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
        Op *op = op_new(dht, OP_GET_VALUE, key, timeout_ms, cancellable, callback, user_data,
                        kp_dht_get_value_async);
        const KpStoredRecord *local = kp_record_store_get(dht->records, g_bytes_get_data(key, NULL),
                                                          g_bytes_get_size(key), now_ms());

        op->value_func = func;
        op->func_data = func_data;
        if (local != NULL) {
                note_result(op, 0);
                if (func != NULL && !func(dht, NULL, local->value, func_data)) {
                        op_complete(op, NULL);
                        return;
                }
        }
        op_start_lookup(op);
}

gboolean
kp_dht_get_value_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats, GError **error)
{
        if (!op_finish_common(result, kp_dht_get_value_async, ret_stats))
                return FALSE;
        return g_task_propagate_boolean(G_TASK(result), error);
}

void
kp_dht_get_providers_async(KpDht *dht, GBytes *key, KpDhtProviderFunc func, gpointer func_data,
                           guint timeout_ms, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
        Op *op = op_new(dht, OP_GET_PROVIDERS, key, timeout_ms, cancellable, callback, user_data,
                        kp_dht_get_providers_async);
        g_autoptr(GPtrArray) local = kp_provider_store_get(
            dht->providers, g_bytes_get_data(key, NULL), g_bytes_get_size(key), now_ms());

        op->provider_func = func;
        op->func_data = func_data;
        for (guint i = 0; i < local->len; i++) {
                if (!deliver_provider(op, local->pdata[i], 0)) {
                        op_complete(op, NULL);
                        return;
                }
        }
        op_start_lookup(op);
}

gboolean
kp_dht_get_providers_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats, GError **error)
{
        if (!op_finish_common(result, kp_dht_get_providers_async, ret_stats))
                return FALSE;
        return g_task_propagate_boolean(G_TASK(result), error);
}

void
kp_dht_put_value_async(KpDht *dht, GBytes *key, GBytes *value, guint timeout_ms,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
        Op *op = op_new(dht, OP_PUT_VALUE, key, timeout_ms, cancellable, callback, user_data,
                        kp_dht_put_value_async);
        g_autoptr(GError) error = NULL;

        op->value = g_bytes_ref(value);
        if (!kp_record_store_put(dht->records, key, value, &dht->self, 0, now_ms(), &error)) {
                op_complete(op, g_steal_pointer(&error));
                return;
        }
        /* it must fit in one message to be sent at all */
        {
                g_autoptr(KpKadMessage) probe = kp_kad_message_new(
                    KP_KAD_PUT_VALUE, g_bytes_get_data(key, NULL), g_bytes_get_size(key));
                g_autoptr(GBytes) body = NULL;
                probe->record = kp_kad_record_new(key, value);
                probe->record->has_publisher = TRUE;
                probe->record->publisher = dht->self;
                body = kp_kad_message_encode(probe, &error);
                if (body == NULL) {
                        kp_record_store_remove(dht->records, g_bytes_get_data(key, NULL),
                                               g_bytes_get_size(key));
                        op_complete(op, g_steal_pointer(&error));
                        return;
                }
        }
        op_start_lookup(op);
}

gboolean
kp_dht_put_value_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats, GError **error)
{
        if (!op_finish_common(result, kp_dht_put_value_async, ret_stats))
                return FALSE;
        return g_task_propagate_boolean(G_TASK(result), error);
}

void
kp_dht_add_provider_async(KpDht *dht, GBytes *key, guint timeout_ms, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
        Op *op = op_new(dht, OP_ADD_PROVIDER, key, timeout_ms, cancellable, callback, user_data,
                        kp_dht_add_provider_async);
        g_autoptr(KpKadPeer) me = self_peer(dht);
        g_autoptr(GError) error = NULL;

        if (g_bytes_get_size(key) > KP_KAD_MAX_KEY
            || !kp_provider_store_add(dht->providers, key, me, now_ms(), &error)) {
                if (error == NULL)
                        error
                            = g_error_new(KP_ERROR, KP_ERROR_TOO_LARGE,
                                          "dht: key of %" G_GSIZE_FORMAT " bytes exceeds limit %d",
                                          g_bytes_get_size(key), KP_KAD_MAX_KEY);
                op_complete(op, g_steal_pointer(&error));
                return;
        }
        op_start_lookup(op);
}

gboolean
kp_dht_add_provider_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats, GError **error)
{
        if (!op_finish_common(result, kp_dht_add_provider_async, ret_stats))
                return FALSE;
        return g_task_propagate_boolean(G_TASK(result), error);
}

void
kp_dht_find_peer_async(KpDht *dht, const KpPeerId *peer, guint timeout_ms,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
        g_autoptr(GBytes) key = g_bytes_new(peer->bytes, peer->len);
        Op *op = op_new(dht, OP_FIND_PEER, key, timeout_ms, cancellable, callback, user_data,
                        kp_dht_find_peer_async);

        op->want_peer = *peer;
        op_start_lookup(op);
}

KpKadPeer *
kp_dht_find_peer_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats, GError **error)
{
        if (!op_finish_common(result, kp_dht_find_peer_async, ret_stats))
                return NULL;
        return g_task_propagate_pointer(G_TASK(result), error);
}

void
kp_dht_get_closest_peers_async(KpDht *dht, GBytes *key, guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
        Op *op = op_new(dht, OP_CLOSEST, key, timeout_ms, cancellable, callback, user_data,
                        kp_dht_get_closest_peers_async);

        op_start_lookup(op);
}

GPtrArray *
kp_dht_get_closest_peers_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                GError **error)
{
        if (!op_finish_common(result, kp_dht_get_closest_peers_async, ret_stats))
                return NULL;
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- the table, bootstrap and maintenance ------------------------------ */

KpRoutingTableResult
kp_dht_add_peer(KpDht *dht, const KpPeerId *id, GPtrArray *addrs)
{
        return kp_routing_table_add(dht->rt, id, addrs, FALSE, now_ms());
}

void
kp_dht_handle_identify(KpDht *dht, KpConnection *conn, const KpIdentifyInfo *info)
{
        g_autoptr(GPtrArray) addrs = NULL;
        gboolean speaks_kad = FALSE;
        const KpPeerId *peer;

        if (info == NULL || info->protocols == NULL)
                return;
        for (guint i = 0; info->protocols[i] != NULL && !speaks_kad; i++)
                speaks_kad
                    = g_strv_contains((const char *const *)dht->protocols, info->protocols[i]);
        peer = kp_connection_get_remote_peer_id(conn);
        if (!speaks_kad) {
                /* a peer that stopped serving kad leaves the table */
                kp_routing_table_remove(dht->rt, peer);
                return;
        }
        addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        /* Its own claims: only addresses it may point us at
         * (kp-addr-filter.h), and only ever dialed as /p2p/<this peer>,
         * which Noise verifies. Identify itself never dials. */
        for (guint i = 0; info->listen_addrs != NULL && i < info->listen_addrs->len; i++) {
                KpMultiaddr *ma = info->listen_addrs->pdata[i];
                g_autoptr(GError) error = NULL;
                KpMultiaddr *bare = NULL;
                if (kp_addr_filter_accept(ma, kp_connection_get_remote_addr(conn), &error)) {
                        bare = kp_multiaddr_without_p2p(ma);
                } else if (!g_error_matches(error, KP_ERROR, KP_ERROR_UNSUPPORTED)) {
                        g_autofree char *id = kp_peer_id_to_string(peer);
                        g_autofree char *text = kp_multiaddr_to_string(ma);
                        g_debug("identify: listen address %s of %s dropped: %s", text, id,
                                error->message);
                }
                if (bare != NULL)
                        g_ptr_array_add(addrs, bare);
        }
        if (addrs->len == 0 && kp_connection_get_direction(conn) == KP_CONNECTION_OUTBOUND) {
                KpMultiaddr *bare = kp_multiaddr_without_p2p(kp_connection_get_remote_addr(conn));
                if (bare != NULL)
                        g_ptr_array_add(addrs, bare);
        }
        if (addrs->len == 0)
                return;
        kp_routing_table_add(dht->rt, peer, addrs, TRUE, now_ms());
}

static void
on_identify(KpConnection *conn, const KpIdentifyInfo *info, const GError *error, gpointer user_data)
{
        kp_dht_handle_identify(user_data, conn, info);
}

void
kp_dht_attach_identify(KpDht *dht, KpIdentifyService *identify)
{
        dht->identify = identify;
        kp_identify_service_set_callback(identify, on_identify, dht);
}

static void
on_background_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GError) error = NULL;

        if (!g_task_propagate_boolean(G_TASK(result), &error)
            && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                g_debug("background DHT operation: %s", error->message);
}

static void
on_closest_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) peers = g_task_propagate_pointer(G_TASK(result), &error);

        if (peers == NULL)
                g_debug("refresh lookup: %s", error->message);
        else
                g_debug("refresh lookup reached %u peers", peers->len);
}

static void
refresh(KpDht *dht)
{
        g_autoptr(GBytes) self = g_bytes_new(dht->self.bytes, dht->self.len);
        guint8 random[32];
        g_autoptr(GBytes) other = NULL;

        kp_dht_get_closest_peers_async(dht, self, 0, NULL, on_closest_done, NULL);
        randombytes_buf(random, sizeof random);
        other = g_bytes_new(random, sizeof random);
        kp_dht_get_closest_peers_async(dht, other, 0, NULL, on_closest_done, NULL);
}

static gboolean
on_refresh(gpointer user_data)
{
        refresh(user_data);
        return G_SOURCE_CONTINUE;
}

void
kp_dht_bootstrap(KpDht *dht, GPtrArray *addrs)
{
        for (guint i = 0; addrs != NULL && i < addrs->len; i++) {
                KpPeerId id;
                g_autoptr(GPtrArray) one
                    = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
                KpMultiaddr *bare;

                if (!kp_multiaddr_get_peer_id(addrs->pdata[i], &id, NULL))
                        continue;
                bare = kp_multiaddr_without_p2p(addrs->pdata[i]);
                if (bare != NULL)
                        g_ptr_array_add(one, bare);
                kp_dht_add_peer(dht, &id, one);
        }
        refresh(dht);
        if (dht->refresh_id == 0)
                dht->refresh_id = g_timeout_add(dht->refresh_interval_ms, on_refresh, dht);
}

static gboolean
on_maintenance(gpointer user_data)
{
        KpDht *dht = user_data;
        gint64 now = now_ms();
        g_autoptr(GPtrArray) records = NULL;
        g_autoptr(GPtrArray) keys = NULL;

        kp_record_store_expire(dht->records, now);
        kp_provider_store_expire(dht->providers, now);
        records = kp_record_store_take_due(dht->records, now);
        for (guint i = 0; i < records->len; i++) {
                const KpStoredRecord *r = records->pdata[i];
                g_autoptr(GBytes) key = g_bytes_ref(r->key);
                g_autoptr(GBytes) value = g_bytes_ref(r->value);
                kp_dht_put_value_async(dht, key, value, 0, NULL, on_background_done, NULL);
        }
        keys = kp_provider_store_take_due(dht->providers, now);
        for (guint i = 0; i < keys->len; i++)
                kp_dht_add_provider_async(dht, keys->pdata[i], 0, NULL, on_background_done, NULL);
        return G_SOURCE_CONTINUE;
}

KpDht *
kp_dht_new(KpHost *host, const KpDhtConfig *config)
{
        static const char *const default_protocols[] = { KP_DHT_PROTOCOL_KAMEO, NULL };
        KpDhtConfig defaults = { 0 };
        KpDht *dht = g_new0(KpDht, 1);

        if (config == NULL)
                config = &defaults;
        dht->host = host;
        dht->self = *kp_host_get_peer_id(host);
        kp_kad_key_from_peer_id(&dht->self, &dht->self_key);
        dht->protocols
            = g_strdupv((char **)(config->protocols != NULL && config->protocols[0] != NULL
                                      ? config->protocols
                                      : default_protocols));
        dht->client_mode = config->client_mode;
        dht->k = config->k != 0 ? config->k : KP_KAD_K;
        dht->alpha = config->alpha != 0 ? config->alpha : KP_KAD_ALPHA;
        dht->request_timeout_ms = config->request_timeout_ms != 0 ? config->request_timeout_ms
                                                                  : KP_DHT_REQUEST_TIMEOUT_MS;
        dht->refresh_interval_ms = config->refresh_interval_ms != 0 ? config->refresh_interval_ms
                                                                    : KP_DHT_REFRESH_INTERVAL_MS;
        dht->rt = kp_routing_table_new(&dht->self, dht->k);
        dht->records = kp_record_store_new(&dht->self);
        dht->providers = kp_provider_store_new(&dht->self);
        dht->max_message = config->max_message != 0 ? config->max_message : KP_KAD_MAX_MESSAGE;
        if (dht->max_message < KP_DHT_MAX_MESSAGE_MIN || dht->max_message > KP_KAD_MAX_MESSAGE) {
                g_critical("kp_dht_new: max_message %u not within %d .. %d", dht->max_message,
                           KP_DHT_MAX_MESSAGE_MIN, KP_KAD_MAX_MESSAGE);
                dht->max_message = KP_KAD_MAX_MESSAGE;
        }
        kp_record_store_set_limits(
            dht->records,
            config->max_records != 0 ? config->max_records : KP_RECORD_STORE_MAX_RECORDS,
            config->max_records_per_peer != 0 ? config->max_records_per_peer
                                              : KP_RECORD_STORE_MAX_PER_PEER);
        kp_provider_store_set_limits(
            dht->providers,
            config->max_providers != 0 ? config->max_providers : KP_PROVIDER_STORE_MAX_TOTAL,
            config->max_providers_per_peer != 0 ? config->max_providers_per_peer
                                                : KP_PROVIDER_STORE_MAX_PER_PEER);
        if (!dht->client_mode) {
                for (guint i = 0; dht->protocols[i] != NULL; i++)
                        kp_host_set_stream_handler(host, dht->protocols[i], on_kad_stream, dht);
        }
        dht->maintenance_id = g_timeout_add(KP_DHT_MAINTENANCE_INTERVAL_MS, on_maintenance, dht);
        return dht;
}

void
kp_dht_free(KpDht *dht)
{
        if (dht == NULL)
                return;
        if (!dht->client_mode) {
                for (guint i = 0; dht->protocols[i] != NULL; i++)
                        kp_host_set_stream_handler(dht->host, dht->protocols[i],
                                                   on_kad_stream_refused, NULL);
        }
        if (dht->identify != NULL)
                kp_identify_service_set_callback(dht->identify, NULL, NULL);
        while (dht->ops != NULL)
                op_complete(dht->ops->data,
                            g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED, "dht: shutting down"));
        while (dht->inbound != NULL) {
                Inbound *in = dht->inbound->data;
                dht->inbound = g_list_delete_link(dht->inbound, dht->inbound);
                kp_stream_set_callbacks(in->stream, NULL, NULL);
                kp_stream_reset(in->stream);
                inbound_free(in);
        }
        g_clear_handle_id(&dht->maintenance_id, g_source_remove);
        g_clear_handle_id(&dht->refresh_id, g_source_remove);
        kp_routing_table_free(dht->rt);
        kp_record_store_free(dht->records);
        kp_provider_store_free(dht->providers);
        g_strfreev(dht->protocols);
        g_free(dht);
}

KpHost *
kp_dht_get_host(KpDht *dht)
{
        return dht->host;
}

KpRoutingTable *
kp_dht_get_routing_table(KpDht *dht)
{
        return dht->rt;
}

KpRecordStore *
kp_dht_get_record_store(KpDht *dht)
{
        return dht->records;
}

KpProviderStore *
kp_dht_get_provider_store(KpDht *dht)
{
        return dht->providers;
}

const char *const *
kp_dht_get_protocols(KpDht *dht)
{
        return (const char *const *)dht->protocols;
}
