/* kad-tool: a test client of the kping DHT. It joins the network like a
 * client (an ephemeral identity, no listener, kad client mode), enters it
 * through the --bootstrap peers, and runs one real lookup with lib/dht.
 *
 *   kad-tool [--bootstrap MA]... [--protocol ID]... [--timeout MS] [--stats]
 *            [--hex] [--listen MA] CMD ARGS
 *   put KEY VALUE [KEY VALUE]... | get KEY... | provide KEY | providers KEY
 *   | find-peer PEER_ID | closest KEY | register NAME (kameo-style: provide NAME,
 *   put NAME:meta:<self>) | streams PROTOCOL N | forge-put NAME PEER_ID
 *   | forge-provide NAME PEER_ID
 *
 * The forge commands play a hostile peer against the first --bootstrap
 * peer, by hand (no lookup, no local validation): forge-put sends a
 * PUT_VALUE of NAME:meta:PEER_ID naming PEER_ID, forge-provide an
 * ADD_PROVIDER of NAME naming PEER_ID with our --listen address. forge-put
 * prints "stored" when the peer echoes the record, "refused" when it does
 * not; forge-provide prints "sent".
 *
 * put with several pairs stores them one after the other as one peer,
 * printing "stored at N peers" for each (a limit on records per peer shows
 * as 0).
 *
 * streams (for limits tests): dials the first --bootstrap peer, prints
 * "peer <own id>", opens N streams proposing PROTOCOL, each with one byte
 * written and its write side left open so that it stays busy, waits --hold
 * MS (default 1000), prints "open=N reset=M" (streams still open, and those
 * the peer reset or refused), then closes. N may be 0, to hold one
 * connection open.
 *
 * --hex: KEYs are hex (binary keys, such as the CID multihashes js-libp2p
 * uses for providers). --listen: listen on MA so that provider records
 * carry an address (js-libp2p ignores a provider without one); the address
 * listened on is printed first, as "listening MA/p2p/ID".
 *
 * Exit 0 on success, 1 when nothing was found, 2 on errors. --stats adds a
 * line "stats us=<lookup µs> hops=<n> max_hops=<n> requests=<n> results=<n>". */
#include <locale.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo-registration.h"
#include "core/kp-lp.h"
#include "dht/kp-dht.h"

static gboolean opt_hex = FALSE;

/* A KEY argument: its bytes, or with --hex the bytes it spells. */
static GBytes *
key_arg(const char *arg)
{
        gsize len = strlen(arg);
        g_autofree guint8 *buf = NULL;

        if (!opt_hex)
                return g_bytes_new(arg, len);
        if (len % 2 != 0)
                return NULL;
        buf = g_malloc(len / 2 + 1);
        for (gsize i = 0; i < len / 2; i++) {
                int hi = g_ascii_xdigit_value(arg[2 * i]);
                int lo = g_ascii_xdigit_value(arg[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return NULL;
                buf[i] = (guint8)(hi << 4 | lo);
        }
        return g_bytes_new_take(g_steal_pointer(&buf), len / 2);
}

typedef struct {
        GAsyncResult *result;
        gboolean first_only;
} Wait;

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Wait *w = user_data;

        w->result = g_object_ref(result);
}

static GAsyncResult *
wait_for(Wait *w)
{
        while (w->result == NULL)
                g_main_context_iteration(NULL, TRUE);
        return w->result;
}

static gboolean
on_value(KpDht *dht, const KpPeerId *from, GBytes *value, gpointer user_data)
{
        Wait *w = user_data;
        gsize len;
        const char *data = g_bytes_get_data(value, &len);

        fwrite(data, 1, len, stdout);
        printf("\n");
        return !w->first_only;
}

static gboolean
on_provider(KpDht *dht, const KpKadPeer *provider, gpointer user_data)
{
        Wait *w = user_data;
        g_autofree char *id = kp_peer_id_to_string(&provider->id);

        printf("%s", id);
        for (guint i = 0; i < provider->addrs->len; i++) {
                g_autofree char *a = kp_multiaddr_to_string(provider->addrs->pdata[i]);
                printf(" %s", a);
        }
        printf("\n");
        return !w->first_only;
}

static void
print_stats(const KpDhtStats *s)
{
        printf("stats us=%" G_GINT64_FORMAT " hops=%u max_hops=%u requests=%u results=%u "
               "failed=%u\n",
               s->duration_us, s->hops, s->max_hops, s->n_requests, s->n_results, s->n_failed);
}

static int
fail(const char *what, const GError *error)
{
        fprintf(stderr, "kad-tool: %s: %s\n", what, error->message);
        return g_error_matches(error, KP_ERROR, KP_ERROR_NOT_FOUND) ? 1 : 2;
}

/* One request on a new stream to the peer, by hand: the peer answered
 * (echoed) or not. */
typedef struct {
        gboolean answered;
        gboolean closed;
} Forged;

static void
forged_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        ((Forged *)user_data)->answered = TRUE;
}

static void
forged_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        ((Forged *)user_data)->closed = TRUE;
}

static gboolean
forge_send(KpHost *host, const char *peer_addr, const KpKadMessage *msg, gboolean *ret_answered,
           GError **error)
{
        static const char *const protocols[] = { KP_DHT_PROTOCOL_KAMEO, NULL };
        static const KpStreamCallbacks callbacks = {
                .data = forged_data,
                .closed = forged_closed,
        };
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(peer_addr, error);
        g_autoptr(KpConnection) conn = NULL;
        g_autoptr(GBytes) body = NULL;
        g_autoptr(GByteArray) out = g_byte_array_new();
        Wait w = { NULL, FALSE };
        Forged f = { FALSE, FALSE };
        KpStream *stream;
        gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

        if (ma == NULL)
                return FALSE;
        kp_host_dial_async(host, ma, NULL, on_done, &w);
        conn = kp_host_dial_finish(host, wait_for(&w), error);
        g_clear_object(&w.result);
        if (conn == NULL)
                return FALSE;
        body = kp_kad_message_encode(msg, error);
        if (body == NULL)
                return FALSE;
        kp_lp_append(out, g_bytes_get_data(body, NULL), g_bytes_get_size(body));
        stream = kp_connection_open_stream(conn, protocols, &callbacks, &f, error);
        if (stream == NULL)
                return FALSE;
        kp_stream_write(stream, out->data, out->len);
        kp_stream_close_write(stream);
        while (!f.closed && g_get_monotonic_time() < until)
                g_main_context_iteration(NULL, FALSE), g_usleep(1000);
        if (!f.closed) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_TIMEOUT, "no end of stream in 10 s");
                return FALSE;
        }
        *ret_answered = f.answered;
        return TRUE;
}

typedef struct {
        guint n_closed;
        guint n_failed;
} StreamCount;

static void
on_held_stream_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        StreamCount *c = user_data;

        c->n_closed++;
        if (error != NULL)
                c->n_failed++;
}

static gboolean
on_hold_over(gpointer user_data)
{
        *(gboolean *)user_data = TRUE;
        return G_SOURCE_REMOVE;
}

/* The streams command; see the top of the file. */
static int
hold_streams(KpHost *host, const char *bootstrap, const char *protocol, guint n, guint hold_ms)
{
        static const KpStreamCallbacks callbacks = { .closed = on_held_stream_closed };
        const char *const protocols[] = { protocol, NULL };
        g_autoptr(KpMultiaddr) ma = NULL;
        g_autoptr(KpConnection) conn = NULL;
        g_autoptr(GPtrArray) streams
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_stream_unref);
        g_autoptr(GError) error = NULL;
        StreamCount count = { 0 };
        Wait w = { NULL, FALSE };
        gboolean over = FALSE;
        guint n_open_failed = 0;

        if (bootstrap == NULL) {
                fprintf(stderr, "kad-tool: streams needs --bootstrap\n");
                return 2;
        }
        ma = kp_multiaddr_new_from_string(bootstrap, &error);
        if (ma == NULL)
                return fail("--bootstrap", error);
        kp_host_dial_async(host, ma, NULL, on_done, &w);
        conn = kp_host_dial_finish(host, wait_for(&w), &error);
        g_clear_object(&w.result);
        if (conn == NULL)
                return fail("dial", error);
        {
                g_autofree char *id = kp_peer_id_to_string(kp_host_get_peer_id(host));
                printf("peer %s\n", id);
                fflush(stdout);
        }
        for (guint i = 0; i < n; i++) {
                KpStream *stream
                    = kp_connection_open_stream(conn, protocols, &callbacks, &count, &error);
                if (stream == NULL) {
                        n_open_failed++;
                        g_clear_error(&error);
                        continue;
                }
                g_ptr_array_add(streams, kp_stream_ref(stream));
                kp_stream_write(stream, (const guint8 *)"\x01", 1);
        }
        g_timeout_add(hold_ms, on_hold_over, &over);
        while (!over)
                g_main_context_iteration(NULL, TRUE);
        printf("open=%u reset=%u\n", n - n_open_failed - count.n_failed,
               count.n_failed + n_open_failed);
        fflush(stdout);
        for (guint i = 0; i < streams->len; i++)
                kp_stream_reset(streams->pdata[i]);
        kp_connection_close(conn);
        return 0;
}

static int
bad_key(const char *arg)
{
        fprintf(stderr, "kad-tool: --hex: \"%s\" is not hex\n", arg);
        return 2;
}

int
main(int argc, char **argv)
{
        g_auto(GStrv) bootstrap = NULL;
        g_auto(GStrv) protocols = NULL;
        g_autofree char *listen = NULL;
        gint timeout_ms = 0;
        gint hold_ms = 1000;
        gboolean stats = FALSE, all = FALSE;
        GOptionEntry entries[] = {
                { "bootstrap", 'b', 0, G_OPTION_ARG_STRING_ARRAY, &bootstrap,
                  "peer to enter through", "MA" },
                { "protocol", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &protocols, "kad protocol id",
                  "ID" },
                { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_ms, "lookup timeout", "MS" },
                { "stats", 's', 0, G_OPTION_ARG_NONE, &stats, "print lookup statistics", NULL },
                { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "do not stop at the first result", NULL },
                { "hex", 'x', 0, G_OPTION_ARG_NONE, &opt_hex, "keys are hex", NULL },
                { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "listen on MA", "MA" },
                { "hold", 0, 0, G_OPTION_ARG_INT, &hold_ms, "streams: how long to hold them",
                  "MS" },
                { NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND ARGS");
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKeypair) identity = NULL;
        g_autoptr(KpHost) host = NULL;
        g_autoptr(KpDht) dht = NULL;
        KpDhtConfig config = { 0 };
        KpDhtStats st = { 0 };
        Wait w = { NULL, FALSE };
        const char *cmd;
        int status = 0;

        setlocale(LC_ALL, "");
        if (sodium_init() < 0)
                return 2;
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                fprintf(stderr, "kad-tool: %s\n", error->message);
                return 2;
        }
        if (argc < 3) {
                fprintf(stderr, "kad-tool: usage: kad-tool [OPTIONS] COMMAND ARG [VALUE]\n");
                return 2;
        }
        cmd = argv[1];
        w.first_only = !all;
        identity = kp_keypair_generate();
        host = kp_host_new(identity);
        if (listen != NULL) {
                g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(listen, &error);
                g_autoptr(GPtrArray) addrs = NULL;
                if (ma == NULL || !kp_host_listen(host, ma, &error))
                        return fail("--listen", error);
                addrs = kp_host_get_listen_addrs(host);
                for (guint i = 0; i < addrs->len; i++) {
                        g_autofree char *a = kp_multiaddr_to_string(addrs->pdata[i]);
                        g_autofree char *id = kp_peer_id_to_string(kp_host_get_peer_id(host));
                        printf("listening %s/p2p/%s\n", a, id);
                }
        }
        config.protocols = (const char *const *)protocols;
        config.client_mode = TRUE;
        dht = kp_dht_new(host, &config);
        for (guint i = 0; bootstrap != NULL && bootstrap[i] != NULL; i++) {
                g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(bootstrap[i], &error);
                g_autoptr(GPtrArray) addrs
                    = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
                KpPeerId id;
                if (ma == NULL || !kp_multiaddr_get_peer_id(ma, &id, &error))
                        return fail("--bootstrap", error);
                g_ptr_array_add(addrs, kp_multiaddr_without_p2p(ma));
                kp_dht_add_peer(dht, &id, addrs);
        }

        if (strcmp(cmd, "put") == 0 && argc >= 4) {
                for (int i = 2; i + 1 < argc && status == 0; i += 2) {
                        g_autoptr(GBytes) key = key_arg(argv[i]);
                        g_autoptr(GBytes) value = g_bytes_new(argv[i + 1], strlen(argv[i + 1]));
                        if (key == NULL)
                                return bad_key(argv[i]);
                        g_clear_object(&w.result);
                        kp_dht_put_value_async(dht, key, value, timeout_ms, NULL, on_done, &w);
                        if (!kp_dht_put_value_finish(dht, wait_for(&w), &st, &error))
                                status = fail("put", error);
                        else
                                printf("stored at %u peers\n", st.n_results);
                        fflush(stdout);
                }
        } else if (strcmp(cmd, "streams") == 0 && argc >= 4) {
                status = hold_streams(host, bootstrap != NULL ? bootstrap[0] : NULL, argv[2],
                                      (guint)g_ascii_strtoull(argv[3], NULL, 10),
                                      (guint)MAX(hold_ms, 0));
        } else if (strcmp(cmd, "get") == 0) {
                /* several keys: one after the other in this process, so the
                 * later lookups run with warm connections and table */
                for (int i = 2; i < argc && status == 0; i++) {
                        g_autoptr(GBytes) key = key_arg(argv[i]);
                        if (key == NULL)
                                return bad_key(argv[i]);
                        g_clear_object(&w.result);
                        kp_dht_get_value_async(dht, key, on_value, &w, timeout_ms, NULL, on_done,
                                               &w);
                        if (!kp_dht_get_value_finish(dht, wait_for(&w), &st, &error))
                                status = fail("get", error);
                        else if (stats && i + 1 < argc)
                                print_stats(&st);
                }
        } else if (strcmp(cmd, "provide") == 0) {
                g_autoptr(GBytes) key = key_arg(argv[2]);
                if (key == NULL)
                        return bad_key(argv[2]);
                kp_dht_add_provider_async(dht, key, timeout_ms, NULL, on_done, &w);
                if (!kp_dht_add_provider_finish(dht, wait_for(&w), &st, &error))
                        status = fail("provide", error);
                else
                        printf("announced to %u peers\n", st.n_results);
        } else if (strcmp(cmd, "providers") == 0) {
                g_autoptr(GBytes) key = key_arg(argv[2]);
                if (key == NULL)
                        return bad_key(argv[2]);
                kp_dht_get_providers_async(dht, key, on_provider, &w, timeout_ms, NULL, on_done,
                                           &w);
                if (!kp_dht_get_providers_finish(dht, wait_for(&w), &st, &error))
                        status = fail("providers", error);
        } else if (strcmp(cmd, "find-peer") == 0) {
                KpPeerId id;
                g_autoptr(KpKadPeer) found = NULL;
                if (!kp_peer_id_parse(argv[2], &id, &error))
                        return fail("find-peer", error);
                kp_dht_find_peer_async(dht, &id, timeout_ms, NULL, on_done, &w);
                found = kp_dht_find_peer_finish(dht, wait_for(&w), &st, &error);
                if (found == NULL) {
                        status = fail("find-peer", error);
                } else {
                        w.first_only = FALSE;
                        on_provider(dht, found, &w);
                }
        } else if (strcmp(cmd, "closest") == 0) {
                g_autoptr(GBytes) key = key_arg(argv[2]);
                if (key == NULL)
                        return bad_key(argv[2]);
                g_autoptr(GPtrArray) peers = NULL;
                kp_dht_get_closest_peers_async(dht, key, timeout_ms, NULL, on_done, &w);
                peers = kp_dht_get_closest_peers_finish(dht, wait_for(&w), &st, &error);
                if (peers == NULL)
                        status = fail("closest", error);
                for (guint i = 0; peers != NULL && i < peers->len; i++) {
                        g_autofree char *id
                            = kp_peer_id_to_string(&((KpKadPeer *)peers->pdata[i])->id);
                        printf("%s\n", id);
                }
        } else if (strcmp(cmd, "register") == 0) {
                const KpPeerId *self = kp_host_get_peer_id(host);
                g_autofree char *meta = kp_kameo_meta_key(argv[2], self);
                g_autoptr(GBytes) name = g_bytes_new(argv[2], strlen(argv[2]));
                g_autoptr(GBytes) key = g_bytes_new(meta, strlen(meta));
                g_autoptr(GBytes) value = kp_kameo_registration_encode(1, self, "kping::PingActor");
                Wait w2 = { NULL, FALSE };
                g_autofree char *peer = kp_peer_id_to_string(self);
                kp_dht_add_provider_async(dht, name, timeout_ms, NULL, on_done, &w);
                kp_dht_put_value_async(dht, key, value, timeout_ms, NULL, on_done, &w2);
                if (!kp_dht_add_provider_finish(dht, wait_for(&w), NULL, &error))
                        status = fail("register: provide", error);
                else if (!kp_dht_put_value_finish(dht, wait_for(&w2), &st, &error))
                        status = fail("register: put", error);
                else
                        printf("%s\n", peer);
                g_clear_object(&w2.result);
        } else if ((strcmp(cmd, "forge-put") == 0 || strcmp(cmd, "forge-provide") == 0)
                   && argc >= 4) {
                gboolean put = strcmp(cmd, "forge-put") == 0;
                g_autoptr(KpKadMessage) msg = NULL;
                gboolean answered = FALSE;
                KpPeerId victim;
                if (bootstrap == NULL || bootstrap[0] == NULL)
                        return fail(cmd, error = g_error_new_literal(KP_ERROR, KP_ERROR_INVALID,
                                                                     "needs --bootstrap"));
                if (!kp_peer_id_parse(argv[3], &victim, &error))
                        return fail(cmd, error);
                if (put) {
                        g_autofree char *meta = kp_kameo_meta_key(argv[2], &victim);
                        g_autoptr(GBytes) key = g_bytes_new(meta, strlen(meta));
                        g_autoptr(GBytes) value
                            = kp_kameo_registration_encode(99, &victim, "kping::PingActor");
                        msg = kp_kad_message_new(KP_KAD_PUT_VALUE, (const guint8 *)meta,
                                                 strlen(meta));
                        msg->record = kp_kad_record_new(key, value);
                } else {
                        KpKadPeer *provider = kp_kad_peer_new(&victim);
                        g_autoptr(GPtrArray) addrs = kp_host_get_listen_addrs(host);
                        for (guint i = 0; i < addrs->len; i++)
                                kp_kad_peer_add_addr(provider, addrs->pdata[i]);
                        msg = kp_kad_message_new(KP_KAD_ADD_PROVIDER, (const guint8 *)argv[2],
                                                 strlen(argv[2]));
                        g_ptr_array_add(msg->provider_peers, provider);
                }
                if (!forge_send(host, bootstrap[0], msg, &answered, &error))
                        status = fail(cmd, error);
                else
                        printf("%s\n", !put ? "sent" : answered ? "stored" : "refused");
        } else {
                fprintf(stderr, "kad-tool: unknown command \"%s\"\n", cmd);
                return 2;
        }
        if (stats && status == 0)
                print_stats(&st);
        g_clear_object(&w.result);
        g_clear_pointer(&dht, kp_dht_free);
        return status;
}
