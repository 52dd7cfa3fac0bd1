/* The DHT service over real loopback connections, in one process: a server
 * node, and a raw client speaking kad by hand (PING, the PUT_VALUE rule,
 * GET_VALUE, malformed input), then lookups between three nodes. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo-registration.h"
#include "core/kp-lp.h"
#include "dht/kp-dht.h"
#include "kp-test-peers.h"
#include "kp-test-util.h"

typedef struct {
        KpKeypair *identity;
        KpHost *host;
        KpDht *dht;
        KpIdentifyService *identify;
        KpMultiaddr *addr; /* with /p2p */
} Node;

static void
node_init(Node *n, gboolean server)
{
        g_autoptr(KpMultiaddr) listen = kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/0", NULL);
        g_autoptr(GPtrArray) bound = NULL;
        g_autoptr(GError) error = NULL;
        KpDhtConfig config = { .client_mode = !server };

        n->identity = kp_keypair_generate();
        n->host = kp_host_new(n->identity);
        n->dht = kp_dht_new(n->host, &config);
        /* as in kpingd: identify feeds the routing table */
        n->identify = kp_identify_service_new(n->host, "kping/test", TRUE);
        kp_dht_attach_identify(n->dht, n->identify);
        g_assert_true(kp_host_listen(n->host, listen, &error));
        g_assert_no_error(error);
        bound = kp_host_get_listen_addrs(n->host);
        n->addr = kp_multiaddr_encapsulate_p2p(bound->pdata[0], kp_host_get_peer_id(n->host), NULL);
}

static void
node_clear(Node *n)
{
        g_clear_pointer(&n->dht, kp_dht_free);
        g_clear_pointer(&n->host, kp_host_free);
        g_clear_pointer(&n->identify, kp_identify_service_free);
        g_clear_pointer(&n->identity, kp_keypair_free);
        g_clear_pointer(&n->addr, kp_multiaddr_free);
}

typedef struct {
        GAsyncResult *result;
} Wait;

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        ((Wait *)user_data)->result = g_object_ref(result);
}

static GAsyncResult *
wait_for(Wait *w)
{
        g_clear_object(&w->result);
        while (w->result == NULL)
                g_main_context_iteration(NULL, TRUE);
        return w->result;
}

static KpConnection *
dial(Node *from, Node *to)
{
        Wait w = { NULL };
        g_autoptr(GError) error = NULL;
        KpConnection *conn;

        kp_host_dial_async(from->host, to->addr, NULL, on_done, &w);
        conn = kp_host_dial_finish(from->host, wait_for(&w), &error);
        g_assert_no_error(error);
        g_clear_object(&w.result);
        return conn;
}

/* One raw request on a new stream: the decoded answer, or NULL when the
 * stream ended without one (*ret_reset tells whether it was reset). */
typedef struct {
        KpLpReader reader;
        KpKadMessage *response;
        gboolean closed;
        gboolean reset;
} Raw;

static void
raw_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        Raw *r = user_data;
        g_autoptr(GBytes) msg = NULL;
        gsize used = 0;

        if (kp_lp_reader_feed(&r->reader, data, len, &used, &msg, NULL) && msg != NULL)
                r->response = kp_kad_message_decode(g_bytes_get_data(msg, NULL),
                                                    g_bytes_get_size(msg), NULL);
}

static void
raw_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        Raw *r = user_data;

        r->closed = TRUE;
        r->reset = error != NULL;
}

static KpKadMessage *
raw_request(KpConnection *conn, const guint8 *body, gsize len, gboolean *ret_reset)
{
        static const char *const protocols[] = { KP_DHT_PROTOCOL_KAMEO, NULL };
        static const KpStreamCallbacks callbacks = {
                .data = raw_data,
                .closed = raw_closed,
        };
        g_autoptr(GByteArray) out = g_byte_array_new();
        Raw r = { 0 };
        KpStream *stream;

        kp_lp_reader_init(&r.reader, KP_KAD_MAX_MESSAGE);
        stream = kp_connection_open_stream(conn, protocols, &callbacks, &r, NULL);
        g_assert_nonnull(stream);
        kp_lp_append(out, body, len);
        kp_stream_write(stream, out->data, out->len);
        kp_stream_close_write(stream);
        while (!r.closed)
                g_main_context_iteration(NULL, TRUE);
        kp_lp_reader_clear(&r.reader);
        *ret_reset = r.reset;
        return r.response;
}

static KpKadMessage *
raw_message(KpConnection *conn, const KpKadMessage *msg, gboolean *ret_reset)
{
        g_autoptr(GBytes) body = kp_kad_message_encode(msg, NULL);

        return raw_request(conn, g_bytes_get_data(body, NULL), g_bytes_get_size(body), ret_reset);
}

static void
test_service_raw(void)
{
        Node server = { 0 }, client = { 0 };
        g_autoptr(KpConnection) conn = NULL;
        g_autoptr(KpKadMessage) ping = kp_kad_message_new(KP_KAD_PING, NULL, 0);
        g_autoptr(KpKadMessage) answer = NULL;
        g_autoptr(GBytes) key = g_bytes_new_static("/kping/raw", 10);
        g_autoptr(GBytes) value = g_bytes_new_static("v", 1);
        g_autoptr(GBytes) theirs = NULL;
        g_autoptr(GBytes) reg = NULL;
        g_autofree char *meta = NULL;
        gboolean reset = FALSE;

        node_init(&server, TRUE);
        node_init(&client, FALSE);
        conn = dial(&client, &server);

        /* PING is answered with PING */
        answer = raw_message(conn, ping, &reset);
        g_assert_nonnull(answer);
        g_assert_cmpint(answer->type, ==, KP_KAD_PING);
        g_clear_pointer(&answer, kp_kad_message_free);

        /* a /kping/ record is stored and echoed */
        {
                g_autoptr(KpKadMessage) put
                    = kp_kad_message_new(KP_KAD_PUT_VALUE, (const guint8 *)"/kping/raw", 10);
                put->record = kp_kad_record_new(key, value);
                answer = raw_message(conn, put, &reset);
                g_assert_nonnull(answer);
                g_assert_true(g_bytes_equal(answer->record->value, value));
                g_clear_pointer(&answer, kp_kad_message_free);
                g_assert_nonnull(kp_record_store_get(kp_dht_get_record_store(server.dht),
                                                     (const guint8 *)"/kping/raw", 10,
                                                     g_get_monotonic_time() / 1000));
        }
        /* GET_VALUE returns it with the time it was received (as go does,
         * not the time of the GET), in RFC 3339 with fractional seconds
         * (js-libp2p's parseRFC3339 insists on them) */
        {
                g_autoptr(KpKadMessage) get
                    = kp_kad_message_new(KP_KAD_GET_VALUE, (const guint8 *)"/kping/raw", 10);
                g_autoptr(GDateTime) received = NULL;
                g_autoptr(GRegex) rfc3339 = g_regex_new(
                    "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d+Z$", 0, 0, NULL);
                gint64 before_get, received_us;
                g_usleep(20 * 1000);
                before_get = g_get_real_time();
                answer = raw_message(conn, get, &reset);
                g_assert_nonnull(answer);
                g_assert_nonnull(answer->record);
                g_assert_true(g_bytes_equal(answer->record->value, value));
                g_assert_nonnull(answer->record->time_received);
                g_assert_true(g_regex_match(rfc3339, answer->record->time_received, 0, NULL));
                received = g_date_time_new_from_iso8601(answer->record->time_received, NULL);
                g_assert_nonnull(received);
                received_us = g_date_time_to_unix(received) * G_USEC_PER_SEC
                              + g_date_time_get_microsecond(received);
                g_assert_cmpint(received_us, <, before_get);
                g_assert_cmpint(received_us, >, before_get - 60 * G_USEC_PER_SEC);
                g_clear_pointer(&answer, kp_kad_message_free);
        }
        /* the server's own registration cannot be overwritten by the client */
        meta = kp_kameo_meta_key("ping", kp_host_get_peer_id(server.host));
        reg = kp_kameo_registration_encode(1, kp_host_get_peer_id(server.host), "kping::PingActor");
        theirs = g_bytes_new(meta, strlen(meta));
        {
                g_autoptr(KpKadMessage) put
                    = kp_kad_message_new(KP_KAD_PUT_VALUE, (const guint8 *)meta, strlen(meta));
                put->record = kp_kad_record_new(theirs, reg);
                answer = raw_message(conn, put, &reset);
                g_assert_null(answer);
                g_assert_true(reset);
                g_assert_null(kp_record_store_get(kp_dht_get_record_store(server.dht),
                                                  (const guint8 *)meta, strlen(meta),
                                                  g_get_monotonic_time() / 1000));
        }
        /* malformed and unknown-type requests reset the stream */
        answer = raw_request(conn, (const guint8 *)"\x08\x09", 2, &reset);
        g_assert_null(answer);
        g_assert_true(reset);
        answer = raw_request(conn, (const guint8 *)"\x1a", 1, &reset);
        g_assert_null(answer);
        g_assert_true(reset);
        /* ADD_PROVIDER naming someone else is ignored; naming the sender counts */
        {
                g_autoptr(KpKadMessage) add
                    = kp_kad_message_new(KP_KAD_ADD_PROVIDER, (const guint8 *)"thing", 5);
                g_autoptr(GPtrArray) got = NULL;
                g_ptr_array_add(add->provider_peers,
                                kp_kad_peer_new(kp_host_get_peer_id(server.host)));
                g_ptr_array_add(add->provider_peers,
                                kp_kad_peer_new(kp_host_get_peer_id(client.host)));
                answer = raw_message(conn, add, &reset);
                g_assert_null(answer);
                got = kp_provider_store_get(kp_dht_get_provider_store(server.dht),
                                            (const guint8 *)"thing", 5,
                                            g_get_monotonic_time() / 1000);
                g_assert_cmpuint(got->len, ==, 1);
                g_assert_true(kp_peer_id_equal(&((KpKadPeer *)got->pdata[0])->id,
                                               kp_host_get_peer_id(client.host)));
        }
        g_clear_pointer(&conn, kp_connection_unref);
        node_clear(&client);
        node_clear(&server);
}

static gboolean
first_value(KpDht *dht, const KpPeerId *from, GBytes *value, gpointer user_data)
{
        *(GBytes **)user_data = g_bytes_ref(value);
        return FALSE;
}

static void
test_service_lookups(void)
{
        Node a = { 0 }, b = { 0 }, c = { 0 }, client = { 0 };
        g_autoptr(GPtrArray) boot
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        g_autoptr(GBytes) key = g_bytes_new_static("/kping/three", 12);
        g_autoptr(GBytes) value = g_bytes_new_static("3", 1);
        g_autoptr(GBytes) got = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadPeer) found = NULL;
        g_autoptr(GCancellable) cancel = g_cancellable_new();
        KpDhtStats stats = { 0 };
        Wait w = { NULL };

        node_init(&a, TRUE);
        node_init(&b, TRUE);
        node_init(&c, TRUE);
        node_init(&client, FALSE);
        /* b knows a, c knows b: c finds a through b */
        g_ptr_array_add(boot, kp_multiaddr_copy(a.addr));
        kp_dht_bootstrap(b.dht, boot);
        g_ptr_array_set_size(boot, 0);
        g_ptr_array_add(boot, kp_multiaddr_copy(b.addr));
        kp_dht_bootstrap(c.dht, boot);

        kp_dht_put_value_async(c.dht, key, value, 2000, NULL, on_done, &w);
        g_assert_true(kp_dht_put_value_finish(c.dht, wait_for(&w), &stats, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(stats.n_results, ==, 2); /* a and b */

        /* the client enters through a only */
        g_ptr_array_set_size(boot, 0);
        g_ptr_array_add(boot, kp_multiaddr_without_p2p(a.addr));
        kp_dht_add_peer(client.dht, kp_host_get_peer_id(a.host), boot);
        kp_dht_get_value_async(client.dht, key, first_value, &got, 2000, NULL, on_done, &w);
        g_assert_true(kp_dht_get_value_finish(client.dht, wait_for(&w), &stats, &error));
        g_assert_no_error(error);
        g_assert_true(g_bytes_equal(got, value));
        g_assert_cmpuint(stats.hops, ==, 1);

        /* a learns c from identify when c connected to store at a */
        {
                gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
                while (kp_routing_table_lookup(kp_dht_get_routing_table(a.dht),
                                               kp_host_get_peer_id(c.host))
                           == NULL
                       && g_get_monotonic_time() < until)
                        g_main_context_iteration(NULL, FALSE);
        }
        kp_dht_find_peer_async(client.dht, kp_host_get_peer_id(c.host), 2000, NULL, on_done, &w);
        found = kp_dht_find_peer_finish(client.dht, wait_for(&w), &stats, &error);
        g_assert_no_error(error);
        g_assert_true(kp_peer_id_equal(&found->id, kp_host_get_peer_id(c.host)));
        g_assert_cmpuint(found->addrs->len, >, 0);

        kp_dht_get_value_async(client.dht, g_bytes_new_static("/kping/none", 11), NULL, NULL, 2000,
                               NULL, on_done, &w);
        g_assert_false(kp_dht_get_value_finish(client.dht, wait_for(&w), NULL, &error));
        kp_test_assert_error(error, KP_ERROR_NOT_FOUND, "no value found");
        g_clear_error(&error);

        g_cancellable_cancel(cancel);
        kp_dht_get_providers_async(client.dht, key, NULL, NULL, 2000, cancel, on_done, &w);
        g_assert_false(kp_dht_get_providers_finish(client.dht, wait_for(&w), NULL, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

        /* identify put b and c into a's table (they serve kad), not the
         * client (it does not) */
        g_assert_nonnull(
            kp_routing_table_lookup(kp_dht_get_routing_table(a.dht), kp_host_get_peer_id(b.host)));
        g_assert_null(kp_routing_table_lookup(kp_dht_get_routing_table(a.dht),
                                              kp_host_get_peer_id(client.host)));
        g_clear_object(&w.result);
        node_clear(&client);
        node_clear(&c);
        node_clear(&b);
        node_clear(&a);
}

/* A plain TCP listener that counts who connects: where a hostile peer
 * tries to send the node. */
static gboolean
on_trap_incoming(GSocketService *service, GSocketConnection *connection, GObject *source,
                 gpointer user_data)
{
        (*(guint *)user_data)++;
        return FALSE;
}

/* Let the main loop run for @ms, so that any dial would reach the trap. */
static void
spin_ms(guint ms)
{
        gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;

        while (g_get_monotonic_time() < until)
                g_main_context_iteration(NULL, FALSE), g_usleep(1000);
}

static GPtrArray *
addrs_from(const char *const *texts)
{
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);

        for (guint i = 0; texts[i] != NULL; i++) {
                KpMultiaddr *ma = kp_multiaddr_new_from_string(texts[i], NULL);
                g_assert_nonnull(ma);
                g_ptr_array_add(out, ma);
        }
        return out;
}

/* Identify listen addresses and kad closer peers that point at addresses the
 * node must not dial (kp-addr-filter.h) never reach the trap listener, though
 * each of them would: connecting to 0.0.0.0 or localhost reaches 127.0.0.1. */
static void
test_service_hostile_addrs(void)
{
        Node a = { 0 }, m = { 0 };
        g_autoptr(GSocketService) trap = g_socket_service_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(KpConnection) conn = NULL;
        g_autoptr(KpIdentifyInfo) info = kp_identify_info_new();
        g_autoptr(GPtrArray) bad = NULL;
        g_autoptr(GPtrArray) boot = NULL;
        g_autoptr(GPtrArray) closest = NULL;
        g_autofree char *t_any = NULL, *t_any6 = NULL, *t_dns = NULL, *t_zero = NULL;
        g_autofree char *t_mcast = NULL;
        const char *kad_protocols[] = { KP_DHT_PROTOCOL_KAMEO, NULL };
        const KpRoutingEntry *entry;
        KpPeerId ghost;
        Wait w = { NULL };
        guint trapped = 0;
        guint16 port;

        port = g_socket_listener_add_any_inet_port(G_SOCKET_LISTENER(trap), NULL, &error);
        g_assert_no_error(error);
        g_signal_connect(trap, "incoming", G_CALLBACK(on_trap_incoming), &trapped);
        g_socket_service_start(trap);
        t_any = g_strdup_printf("/ip4/0.0.0.0/tcp/%u", port);
        t_any6 = g_strdup_printf("/ip6/::/tcp/%u", port);
        t_dns = g_strdup_printf("/dns4/localhost/tcp/%u", port);
        t_zero = g_strdup("/ip4/127.0.0.1/tcp/0");
        t_mcast = g_strdup_printf("/ip4/224.0.0.1/tcp/%u", port);
        {
                const char *const texts[] = { t_any, t_any6, t_dns, t_zero, t_mcast, NULL };
                bad = addrs_from(texts);
        }
        /* the trap works: a dial to one of those addresses reaches it */
        {
                g_autoptr(GSocketClient) client = g_socket_client_new();
                g_autoptr(GSocketConnection) c
                    = g_socket_client_connect_to_host(client, "localhost", port, NULL, &error);
                g_assert_no_error(error);
                g_assert_nonnull(c);
                while (trapped == 0)
                        g_main_context_iteration(NULL, TRUE);
                trapped = 0;
        }

        node_init(&a, TRUE);
        node_init(&m, TRUE);
        conn = dial(&m, &a);

        /* identify: m claims only the trap addresses, then its real one */
        info->protocols = g_strdupv((char **)kad_protocols);
        info->listen_addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        for (guint i = 0; i < bad->len; i++)
                g_ptr_array_add(info->listen_addrs, kp_multiaddr_copy(bad->pdata[i]));
        {
                gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
                KpConnection *at_a = NULL;
                while ((at_a = kp_host_get_connection(a.host, kp_host_get_peer_id(m.host))) == NULL
                       && g_get_monotonic_time() < until)
                        g_main_context_iteration(NULL, FALSE);
                g_assert_nonnull(at_a);
                /* nothing acceptable, on a connection m made: not added */
                kp_routing_table_remove(kp_dht_get_routing_table(a.dht),
                                        kp_host_get_peer_id(m.host));
                kp_dht_handle_identify(a.dht, at_a, info);
                g_assert_null(kp_routing_table_lookup(kp_dht_get_routing_table(a.dht),
                                                      kp_host_get_peer_id(m.host)));
                g_ptr_array_add(info->listen_addrs, kp_multiaddr_without_p2p(m.addr));
                kp_dht_handle_identify(a.dht, at_a, info);
        }
        entry
            = kp_routing_table_lookup(kp_dht_get_routing_table(a.dht), kp_host_get_peer_id(m.host));
        g_assert_nonnull(entry);
        g_assert_cmpuint(entry->peer->addrs->len, ==, 1);
        {
                g_autoptr(KpMultiaddr) real = kp_multiaddr_without_p2p(m.addr);
                g_assert_true(kp_multiaddr_equal(entry->peer->addrs->pdata[0], real));
        }

        /* kad: m knows a "ghost" peer at the trap addresses (put there as
         * configuration would, unfiltered) and tells a about it */
        kp_test_peer_id(4242, &ghost);
        kp_dht_add_peer(m.dht, &ghost, bad);
        g_assert_nonnull(kp_routing_table_lookup(kp_dht_get_routing_table(m.dht), &ghost));
        boot = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        g_ptr_array_add(boot, kp_multiaddr_without_p2p(m.addr));
        kp_dht_add_peer(a.dht, kp_host_get_peer_id(m.host), boot);
        {
                g_autoptr(GBytes) key = g_bytes_new_static("/kping/trap", 11);
                kp_dht_get_closest_peers_async(a.dht, key, 2000, NULL, on_done, &w);
                closest = kp_dht_get_closest_peers_finish(a.dht, wait_for(&w), NULL, &error);
                g_assert_no_error(error);
        }
        /* the ghost came with no address a could use: never dialed, never
         * stored */
        spin_ms(300);
        g_assert_cmpuint(trapped, ==, 0);
        g_assert_null(kp_routing_table_lookup(kp_dht_get_routing_table(a.dht), &ghost));

        g_socket_service_stop(trap);
        g_clear_object(&w.result);
        g_clear_pointer(&conn, kp_connection_unref);
        node_clear(&m);
        node_clear(&a);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/dht-service/raw", test_service_raw);
        g_test_add_func("/dht-service/lookups", test_service_lookups);
        g_test_add_func("/dht-service/hostile-addrs", test_service_hostile_addrs);
        return g_test_run();
}
