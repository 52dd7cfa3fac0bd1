#include "core/kp-kad-message.h"

#include <string.h>

#include "core/kp-error.h"
#include "kad.pb-c.h"

KpKadPeer *
kp_kad_peer_new(const KpPeerId *id)
{
        KpKadPeer *peer = g_new0(KpKadPeer, 1);

        peer->id = *id;
        peer->addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        return peer;
}

KpKadPeer *
kp_kad_peer_copy(const KpKadPeer *peer)
{
        KpKadPeer *copy = kp_kad_peer_new(&peer->id);

        copy->connection = peer->connection;
        for (guint i = 0; i < peer->addrs->len; i++)
                kp_kad_peer_add_addr(copy, peer->addrs->pdata[i]);
        return copy;
}

void
kp_kad_peer_free(KpKadPeer *peer)
{
        if (peer == NULL)
                return;
        g_ptr_array_unref(peer->addrs);
        g_free(peer);
}

void
kp_kad_peer_add_addr(KpKadPeer *peer, const KpMultiaddr *addr)
{
        if (peer->addrs->len >= KP_KAD_MAX_ADDRS_PER_PEER)
                return;
        for (guint i = 0; i < peer->addrs->len; i++) {
                if (kp_multiaddr_equal(peer->addrs->pdata[i], addr))
                        return;
        }
        g_ptr_array_add(peer->addrs, kp_multiaddr_copy(addr));
}

KpKadRecord *
kp_kad_record_new(GBytes *key, GBytes *value)
{
        KpKadRecord *record = g_new0(KpKadRecord, 1);

        record->key = g_bytes_ref(key);
        record->value = g_bytes_ref(value);
        return record;
}

KpKadRecord *
kp_kad_record_copy(const KpKadRecord *record)
{
        KpKadRecord *copy = kp_kad_record_new(record->key, record->value);

        copy->time_received = g_strdup(record->time_received);
        copy->has_publisher = record->has_publisher;
        copy->publisher = record->publisher;
        copy->has_ttl = record->has_ttl;
        copy->ttl = record->ttl;
        return copy;
}

void
kp_kad_record_free(KpKadRecord *record)
{
        if (record == NULL)
                return;
        g_bytes_unref(record->key);
        g_bytes_unref(record->value);
        g_free(record->time_received);
        g_free(record);
}

KpKadMessage *
kp_kad_message_new(KpKadMessageType type, const guint8 *key, gsize key_len)
{
        KpKadMessage *msg = g_new0(KpKadMessage, 1);

        msg->type = type;
        if (key != NULL)
                msg->key = g_bytes_new(key, key_len);
        msg->closer_peers = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);
        msg->provider_peers = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);
        return msg;
}

void
kp_kad_message_free(KpKadMessage *msg)
{
        if (msg == NULL)
                return;
        g_clear_pointer(&msg->key, g_bytes_unref);
        g_clear_pointer(&msg->record, kp_kad_record_free);
        g_ptr_array_unref(msg->closer_peers);
        g_ptr_array_unref(msg->provider_peers);
        g_free(msg);
}

const char *
kp_kad_message_type_to_string(KpKadMessageType type)
{
        switch (type) {
        case KP_KAD_PUT_VALUE:
                return "PUT_VALUE";
        case KP_KAD_GET_VALUE:
                return "GET_VALUE";
        case KP_KAD_ADD_PROVIDER:
                return "ADD_PROVIDER";
        case KP_KAD_GET_PROVIDERS:
                return "GET_PROVIDERS";
        case KP_KAD_FIND_NODE:
                return "FIND_NODE";
        case KP_KAD_PING:
                return "PING";
        }
        return "UNKNOWN";
}

/* ---- encoding --------------------------------------------------------- */

typedef struct {
        KadMessage__Peer *peers;
        KadMessage__Peer **ptrs;
        ProtobufCBinaryData *addrs;
} PeerList;

static void
peer_list_fill(PeerList *list, GPtrArray *peers, size_t *ret_n, KadMessage__Peer ***ret_peers)
{
        guint n_addrs = 0, a = 0;

        for (guint i = 0; i < peers->len; i++)
                n_addrs += ((KpKadPeer *)peers->pdata[i])->addrs->len;
        list->peers = g_new0(KadMessage__Peer, peers->len + 1);
        list->ptrs = g_new0(KadMessage__Peer *, peers->len + 1);
        list->addrs = g_new0(ProtobufCBinaryData, n_addrs + 1);
        for (guint i = 0; i < peers->len; i++) {
                KpKadPeer *p = peers->pdata[i];
                KadMessage__Peer *out = &list->peers[i];

                kad_message__peer__init(out);
                out->has_id = TRUE;
                out->id.data = p->id.bytes;
                out->id.len = p->id.len;
                out->n_addrs = p->addrs->len;
                out->addrs = &list->addrs[a];
                for (guint j = 0; j < p->addrs->len; j++, a++)
                        list->addrs[a].data = (guint8 *)kp_multiaddr_get_bytes(p->addrs->pdata[j],
                                                                               &list->addrs[a].len);
                out->has_connection = TRUE;
                out->connection = (KadMessage__ConnectionType)p->connection;
                list->ptrs[i] = out;
        }
        *ret_n = peers->len;
        *ret_peers = list->ptrs;
}

static void
peer_list_clear(PeerList *list)
{
        g_free(list->peers);
        g_free(list->ptrs);
        g_free(list->addrs);
}

GBytes *
kp_kad_message_encode(const KpKadMessage *msg, GError **error)
{
        KadMessage out = KAD_MESSAGE__INIT;
        KadRecord rec = KAD_RECORD__INIT;
        PeerList closer = { 0 }, providers = { 0 };
        gsize len;
        guint8 *buf;

        out.has_type = TRUE;
        out.type = (KadMessage__MessageType)msg->type;
        if (msg->key != NULL) {
                out.has_key = TRUE;
                out.key.data = (guint8 *)g_bytes_get_data(msg->key, &out.key.len);
        }
        if (msg->record != NULL) {
                const KpKadRecord *r = msg->record;

                rec.has_key = TRUE;
                rec.key.data = (guint8 *)g_bytes_get_data(r->key, &rec.key.len);
                rec.has_value = TRUE;
                rec.value.data = (guint8 *)g_bytes_get_data(r->value, &rec.value.len);
                rec.timereceived = r->time_received;
                if (r->has_publisher) {
                        rec.has_publisher = TRUE;
                        rec.publisher.data = (guint8 *)r->publisher.bytes;
                        rec.publisher.len = r->publisher.len;
                }
                rec.has_ttl = r->has_ttl;
                rec.ttl = r->ttl;
                out.record = &rec;
        }
        peer_list_fill(&closer, msg->closer_peers, &out.n_closerpeers, &out.closerpeers);
        peer_list_fill(&providers, msg->provider_peers, &out.n_providerpeers, &out.providerpeers);
        len = kad_message__get_packed_size(&out);
        if (len > KP_KAD_MAX_MESSAGE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kad: %s message of %" G_GSIZE_FORMAT " bytes exceeds limit %d",
                            kp_kad_message_type_to_string(msg->type), len, KP_KAD_MAX_MESSAGE);
                peer_list_clear(&closer);
                peer_list_clear(&providers);
                return NULL;
        }
        buf = g_malloc(len);
        kad_message__pack(&out, buf);
        peer_list_clear(&closer);
        peer_list_clear(&providers);
        return g_bytes_new_take(buf, len);
}

/* ---- decoding --------------------------------------------------------- */

static gboolean
decode_peers(const char *what, KadMessage__Peer **in, size_t n, GPtrArray *out, guint *n_dropped,
             GError **error)
{
        if (n > KP_KAD_MAX_PEERS) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "kad: %zu %s exceed limit %d", n,
                            what, KP_KAD_MAX_PEERS);
                return FALSE;
        }
        for (size_t i = 0; i < n; i++) {
                KpPeerId id;
                KpKadPeer *peer;

                if (!in[i]->has_id
                    || !kp_peer_id_from_bytes(in[i]->id.data, in[i]->id.len, &id, NULL)) {
                        (*n_dropped)++;
                        continue;
                }
                peer = kp_kad_peer_new(&id);
                if (in[i]->has_connection
                    && in[i]->connection <= KAD_MESSAGE__CONNECTION_TYPE__CANNOT_CONNECT)
                        peer->connection = (KpKadConnectionType)in[i]->connection;
                for (size_t j = 0; j < in[i]->n_addrs; j++) {
                        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_bytes(
                            in[i]->addrs[j].data, in[i]->addrs[j].len, NULL);
                        if (ma != NULL)
                                kp_kad_peer_add_addr(peer, ma);
                }
                g_ptr_array_add(out, peer);
        }
        return TRUE;
}

static KpKadRecord *
decode_record(const KadRecord *in, GError **error)
{
        g_autoptr(GBytes) key = NULL;
        g_autoptr(GBytes) value = NULL;
        g_autoptr(KpKadRecord) record = NULL;

        if (in->has_key && in->key.len > KP_KAD_MAX_KEY) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kad: record key of %zu bytes exceeds limit %d", in->key.len,
                            KP_KAD_MAX_KEY);
                return NULL;
        }
        key = in->has_key ? g_bytes_new(in->key.data, in->key.len) : g_bytes_new(NULL, 0);
        value = in->has_value ? g_bytes_new(in->value.data, in->value.len) : g_bytes_new(NULL, 0);
        record = kp_kad_record_new(key, value);
        if (in->timereceived != NULL) {
                if (strlen(in->timereceived) > KP_KAD_MAX_TIME_RECEIVED
                    || !g_utf8_validate(in->timereceived, -1, NULL)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "kad: record timeReceived is not UTF-8 of at most %d bytes",
                                    KP_KAD_MAX_TIME_RECEIVED);
                        return NULL;
                }
                record->time_received = g_strdup(in->timereceived);
        }
        /* An unusable publisher is informational only: drop it. */
        if (in->has_publisher && in->publisher.len > 0
            && kp_peer_id_from_bytes(in->publisher.data, in->publisher.len, &record->publisher,
                                     NULL))
                record->has_publisher = TRUE;
        record->has_ttl = in->has_ttl;
        record->ttl = in->ttl;
        return g_steal_pointer(&record);
}

static KpKadMessage *
decode_message(const guint8 *buf, gsize len, const char *what, gsize limit, GError **error)
{
        g_autoptr(KpKadMessage) msg = NULL;
        KadMessage *in;

        if (len > limit) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kad: %s of %" G_GSIZE_FORMAT " bytes exceeds limit %" G_GSIZE_FORMAT,
                            what, len, limit);
                return NULL;
        }
        in = kad_message__unpack(NULL, len, buf);
        if (in == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kad: malformed protobuf");
                return NULL;
        }
        /* proto3 senders omit a zero type: absent means PUT_VALUE. */
        if (in->has_type && (in->type < 0 || in->type > KAD_MESSAGE__MESSAGE_TYPE__PING)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "kad: unknown message type %d",
                            (int)in->type);
                goto fail;
        }
        if (in->has_key && in->key.len > KP_KAD_MAX_KEY) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kad: key of %zu bytes exceeds limit %d", in->key.len, KP_KAD_MAX_KEY);
                goto fail;
        }
        msg = kp_kad_message_new(in->has_type ? (KpKadMessageType)in->type : KP_KAD_PUT_VALUE,
                                 in->has_key ? in->key.data : NULL, in->key.len);
        if (in->record != NULL) {
                msg->record = decode_record(in->record, error);
                if (msg->record == NULL)
                        goto fail;
        }
        if (!decode_peers("closerPeers", in->closerpeers, in->n_closerpeers, msg->closer_peers,
                          &msg->n_dropped_peers, error)
            || !decode_peers("providerPeers", in->providerpeers, in->n_providerpeers,
                             msg->provider_peers, &msg->n_dropped_peers, error))
                goto fail;
        kad_message__free_unpacked(in, NULL);
        return g_steal_pointer(&msg);
fail:
        kad_message__free_unpacked(in, NULL);
        return NULL;
}

KpKadMessage *
kp_kad_message_decode(const guint8 *buf, gsize len, GError **error)
{
        return decode_message(buf, len, "message", KP_KAD_MAX_MESSAGE, error);
}

KpKadMessage *
kp_kad_message_decode_response(const guint8 *buf, gsize len, GError **error)
{
        return decode_message(buf, len, "response", KP_KAD_MAX_RESPONSE, error);
}
