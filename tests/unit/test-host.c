/* The host on loopback: the handshake timeout against raw sockets, and
 * stream negotiation between two hosts. */
#include <string.h>

#include "core/kp-error.h"
#include "kp-test-util.h"
#include "net/kp-host.h"
#include "net/kp-tcp.h"

typedef struct {
        guint n_failed;
        GError *error;
        KpMultiaddr *remote;
} Fixture;

static void
on_handshake_failed(KpHost *host, const KpMultiaddr *remote, const GError *error,
                    gpointer user_data)
{
        Fixture *f = user_data;

        f->n_failed++;
        g_clear_error(&f->error);
        f->error = g_error_copy(error);
        g_clear_pointer(&f->remote, kp_multiaddr_free);
        f->remote = kp_multiaddr_copy(remote);
}

static KpHost *
listening_host(const KpKeypair *identity, Fixture *f, guint16 *ret_port)
{
        static const KpHostCallbacks callbacks = { .handshake_failed = on_handshake_failed };
        g_autoptr(KpMultiaddr) any = kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/0", NULL);
        g_autoptr(GPtrArray) bound = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *host_text = NULL;
        KpHost *host = kp_host_new(identity);
        KpMultiaddrHostKind kind;

        kp_host_add_callbacks(host, &callbacks, f);
        g_assert_true(kp_host_listen(host, any, &error));
        g_assert_no_error(error);
        bound = kp_host_get_listen_addrs(host);
        g_assert_true(
            kp_multiaddr_get_tcp_endpoint(bound->pdata[0], &host_text, ret_port, &kind, NULL));
        return host;
}

static void
test_host_handshake_timeout_setting(void)
{
        static const guint8 seed[KP_ED25519_SEED_BYTES] = { 7 };
        g_autoptr(KpKeypair) identity = kp_keypair_new_from_seed(seed);
        g_autoptr(KpHost) host = kp_host_new(identity);

        g_assert_cmpuint(kp_host_get_handshake_timeout(host), ==, KP_HOST_HANDSHAKE_TIMEOUT_MS);
        kp_host_set_handshake_timeout(host, KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS);
        g_assert_cmpuint(kp_host_get_handshake_timeout(host), ==, KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS);
        kp_host_set_handshake_timeout(host, KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS);
        g_assert_cmpuint(kp_host_get_handshake_timeout(host), ==, KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS);
}

/* A peer that connects and says nothing is dropped after the configured
 * timeout, reported with its address, and leaves no connection behind. */
static void
test_host_silent_peer_times_out(void)
{
        static const guint8 seed[KP_ED25519_SEED_BYTES] = { 7 };
        g_autoptr(KpKeypair) identity = kp_keypair_new_from_seed(seed);
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GSocketConnection) sc = NULL;
        g_autoptr(GSocketAddress) local = NULL;
        g_autoptr(KpMultiaddr) local_ma = NULL;
        g_autoptr(KpHost) host = NULL;
        g_autoptr(GError) error = NULL;
        Fixture f = { 0 };
        guint16 port = 0;
        gint64 start, deadline;
        gssize n;
        char buf[256];

        host = listening_host(identity, &f, &port);
        kp_host_set_handshake_timeout(host, 200);
        sc = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
        g_assert_no_error(error);
        local = g_socket_connection_get_local_address(sc, &error);
        g_assert_no_error(error);
        local_ma = kp_tcp_multiaddr_from_address(local, &error);
        g_assert_no_error(error);

        start = g_get_monotonic_time();
        deadline = start + 5 * G_USEC_PER_SEC;
        while (f.n_failed == 0 && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpuint(f.n_failed, ==, 1);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 190 * 1000);
        kp_test_assert_error(f.error, KP_ERROR_TIMEOUT, "handshake not finished within 200 ms");
        g_assert_true(kp_multiaddr_equal(f.remote, local_ma));
        g_assert_cmpuint(kp_host_get_n_connections(host), ==, 0);

        /* The listener's multistream header may come first; then EOF. */
        g_socket_set_timeout(g_socket_connection_get_socket(sc), 5);
        do {
                n = g_socket_receive(g_socket_connection_get_socket(sc), buf, sizeof buf, NULL,
                                     &error);
        } while (n > 0);
        g_assert_no_error(error);
        g_assert_cmpint(n, ==, 0);

        g_clear_error(&f.error);
        g_clear_pointer(&f.remote, kp_multiaddr_free);
}

/* ---- a stream proposing several protocols ------------------------------ */

typedef struct {
        gboolean negotiated;
        char *protocol;
        GByteArray *echo;
} StreamFixture;

static void
on_echo_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        kp_stream_write(stream, data, len);
}

static void
on_echo_stream(KpStream *stream, gpointer user_data)
{
        static const KpStreamCallbacks callbacks = { .data = on_echo_data };

        kp_stream_set_callbacks(stream, &callbacks, NULL);
}

static void
on_client_negotiated(KpStream *stream, gpointer user_data)
{
        StreamFixture *f = user_data;

        f->negotiated = TRUE;
        f->protocol = g_strdup(kp_stream_get_protocol(stream));
}

static void
on_client_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        StreamFixture *f = user_data;

        g_byte_array_append(f->echo, data, (guint)len);
}

static void
on_dialled(GObject *source, GAsyncResult *result, gpointer user_data)
{
        GAsyncResult **ret = user_data;

        *ret = g_object_ref(result);
}

/* Regression: with more than one protocol the dialer waits for the
 * listener's answer before sending data, so its proposal must leave at once
 * rather than with the next write (which never came: the stream stalled
 * until unrelated traffic flushed the connection). No identify or other
 * service runs here, so nothing else flushes. */
static void
test_host_stream_several_protocols(void)
{
        static const char *const protocols[] = { "/test/absent/1.0.0", "/test/echo/1.0.0", NULL };
        static const KpStreamCallbacks callbacks = {
                .negotiated = on_client_negotiated,
                .data = on_client_data,
        };
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        g_autoptr(KpKeypair) client_key = kp_keypair_generate();
        Fixture hf = { 0 };
        StreamFixture sf = { FALSE, NULL, g_byte_array_new() };
        guint16 port = 0;
        g_autoptr(KpHost) server = listening_host(server_key, &hf, &port);
        g_autoptr(KpHost) client = kp_host_new(client_key);
        g_autoptr(KpMultiaddr) addr = NULL;
        g_autoptr(KpMultiaddr) target = NULL;
        g_autoptr(KpConnection) conn = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = g_strdup_printf("/ip4/127.0.0.1/tcp/%u", port);
        GAsyncResult *result = NULL;
        KpStream *stream;
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        kp_host_set_stream_handler(server, "/test/echo/1.0.0", on_echo_stream, NULL);
        addr = kp_multiaddr_new_from_string(text, NULL);
        target = kp_multiaddr_encapsulate_p2p(addr, kp_host_get_peer_id(server), NULL);
        kp_host_dial_async(client, target, NULL, on_dialled, &result);
        while (result == NULL && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_nonnull(result);
        conn = kp_host_dial_finish(client, result, &error);
        g_object_unref(result);
        g_assert_no_error(error);

        stream = kp_connection_open_stream(conn, protocols, &callbacks, &sf, &error);
        g_assert_no_error(error);
        kp_stream_write(stream, (const guint8 *)"hello", 5);
        while (sf.echo->len < 5 && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, FALSE);
        g_assert_true(sf.negotiated);
        g_assert_cmpstr(sf.protocol, ==, "/test/echo/1.0.0");
        g_assert_cmpmem(sf.echo->data, sf.echo->len, "hello", 5);
        kp_stream_reset(stream);
        g_free(sf.protocol);
        g_byte_array_unref(sf.echo);
        g_clear_pointer(&client, kp_host_free);
        g_clear_pointer(&server, kp_host_free);
        g_clear_error(&hf.error);
        g_clear_pointer(&hf.remote, kp_multiaddr_free);
}

/* Two dials of one peer at once share one connection. */
static void
test_host_dial_joins_pending(void)
{
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        g_autoptr(KpKeypair) client_key = kp_keypair_generate();
        Fixture hf = { 0 };
        guint16 port = 0;
        g_autoptr(KpHost) server = listening_host(server_key, &hf, &port);
        g_autoptr(KpHost) client = kp_host_new(client_key);
        g_autofree char *text = g_strdup_printf("/ip4/127.0.0.1/tcp/%u", port);
        g_autoptr(KpMultiaddr) addr = kp_multiaddr_new_from_string(text, NULL);
        g_autoptr(KpMultiaddr) target
            = kp_multiaddr_encapsulate_p2p(addr, kp_host_get_peer_id(server), NULL);
        g_autoptr(KpConnection) c1 = NULL;
        g_autoptr(KpConnection) c2 = NULL;
        GAsyncResult *r1 = NULL, *r2 = NULL;
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        kp_host_dial_async(client, target, NULL, on_dialled, &r1);
        kp_host_dial_async(client, target, NULL, on_dialled, &r2);
        while ((r1 == NULL || r2 == NULL) && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_nonnull(r1);
        g_assert_nonnull(r2);
        c1 = kp_host_dial_finish(client, r1, NULL);
        c2 = kp_host_dial_finish(client, r2, NULL);
        g_object_unref(r1);
        g_object_unref(r2);
        g_assert_nonnull(c1);
        g_assert_true(c1 == c2);
        g_assert_cmpuint(kp_host_get_n_connections(client), ==, 1);
        /* The hosts go first: closing them still reports to @hf. */
        g_clear_pointer(&client, kp_host_free);
        g_clear_pointer(&server, kp_host_free);
        g_clear_error(&hf.error);
        g_clear_pointer(&hf.remote, kp_multiaddr_free);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/host/handshake-timeout/setting", test_host_handshake_timeout_setting);
        g_test_add_func("/host/handshake-timeout/silent-peer", test_host_silent_peer_times_out);
        g_test_add_func("/host/stream/several-protocols", test_host_stream_several_protocols);
        g_test_add_func("/host/dial/joins-pending", test_host_dial_joins_pending);
        return g_test_run();
}
