/* The host on loopback: the handshake timeout against raw sockets, and
 * stream negotiation between two hosts. */
#include <netinet/in.h>
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
        KpHost *host = kp_host_new(identity);

        kp_host_add_callbacks(host, &callbacks, f);
        *ret_port = kp_test_listen_loopback(host);
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

/* Single-protocol proposals are checked once and shared, up to
 * KP_HOST_MAX_DIAL_PROTOCOLS; lists and bad ids are not kept. */
static void
test_host_dial_protocols(void)
{
        static const guint8 seed[KP_ED25519_SEED_BYTES] = { 8 };
        static const char *const one[] = { "/kameo/messaging/1.0.0", NULL };
        static const char *const two[] = { "/a/1", "/b/1", NULL };
        static const char *const bad[] = { "no-slash", NULL };
        static const char *const none[] = { NULL };
        g_autoptr(KpKeypair) identity = kp_keypair_new_from_seed(seed);
        g_autoptr(KpHost) host = kp_host_new(identity);
        g_autoptr(GPtrArray) a = kp_host_get_dial_protocols(host, one, NULL);
        g_autoptr(GPtrArray) b = kp_host_get_dial_protocols(host, one, NULL);
        g_autoptr(GPtrArray) c = kp_host_get_dial_protocols(host, two, NULL);
        g_autoptr(GPtrArray) d = kp_host_get_dial_protocols(host, two, NULL);
        g_autoptr(GError) error = NULL;

        g_assert_nonnull(a);
        g_assert_true(a == b);
        g_assert_cmpuint(a->len, ==, 1);
        g_assert_cmpstr(g_ptr_array_index(a, 0), ==, "/kameo/messaging/1.0.0");
        g_assert_cmpuint(c->len, ==, 2);
        g_assert_cmpstr(g_ptr_array_index(c, 1), ==, "/b/1");
        g_assert_true(c != d);
        g_assert_null(kp_host_get_dial_protocols(host, bad, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_INVALID);
        g_clear_error(&error);
        g_assert_null(kp_host_get_dial_protocols(host, none, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_INVALID);
        /* past the limit, lists are still made, only not kept */
        for (guint i = 0; i < KP_HOST_MAX_DIAL_PROTOCOLS + 2; i++) {
                g_autofree char *id = g_strdup_printf("/p/%u", i);
                const char *const list[] = { id, NULL };
                g_autoptr(GPtrArray) got = kp_host_get_dial_protocols(host, list, NULL);
                g_autoptr(GPtrArray) again = kp_host_get_dial_protocols(host, list, NULL);

                g_assert_cmpstr(g_ptr_array_index(got, 0), ==, id);
                /* one slot went to /kameo/messaging/1.0.0 */
                if (i + 1 < KP_HOST_MAX_DIAL_PROTOCOLS)
                        g_assert_true(got == again);
                else
                        g_assert_true(got != again);
        }
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

/* More silent peers than one accept batch and than one batch of expired
 * deadlines: all are accepted, all time out, none is left behind; a
 * handshake started after the timeout was shortened times out first. */
static void
test_host_many_silent_peers_time_out(void)
{
        static const guint8 seed[KP_ED25519_SEED_BYTES] = { 7 };
        const guint n = MAX(KP_HOST_ACCEPT_BATCH, 2 * KP_HOST_HANDSHAKE_EXPIRE_BATCH) + 1;
        g_autoptr(KpKeypair) identity = kp_keypair_new_from_seed(seed);
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GSocketAddress) local = NULL;
        g_autoptr(KpMultiaddr) last_ma = NULL;
        g_autoptr(KpHost) host = NULL;
        g_autoptr(GError) error = NULL;
        Fixture f = { 0 };
        guint16 port = 0;
        gint64 start, deadline;

        host = listening_host(identity, &f, &port);
        kp_host_set_handshake_timeout(host, 1000);
        start = g_get_monotonic_time();
        deadline = start + 5 * G_USEC_PER_SEC;
        for (guint i = 0; i < n; i++) {
                GSocketConnection *sc
                    = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
                g_assert_no_error(error);
                g_ptr_array_add(peers, sc);
        }
        while (kp_host_get_n_pending_handshakes(host, NULL) < n
               && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(host, NULL), ==, n);

        kp_host_set_handshake_timeout(host, KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS);
        g_ptr_array_add(peers,
                        g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error));
        g_assert_no_error(error);
        local = g_socket_connection_get_local_address(peers->pdata[n], &error);
        g_assert_no_error(error);
        last_ma = kp_tcp_multiaddr_from_address(local, &error);
        g_assert_no_error(error);
        while (f.n_failed == 0 && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpuint(f.n_failed, ==, 1);
        g_assert_true(kp_multiaddr_equal(f.remote, last_ma));
        g_assert_cmpint(g_get_monotonic_time() - start, <, 1000 * 1000);

        while (f.n_failed < n + 1 && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpuint(f.n_failed, ==, n + 1);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 990 * 1000);
        kp_test_assert_error(f.error, KP_ERROR_TIMEOUT, "handshake not finished within 1000 ms");
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(host, NULL), ==, 0);
        g_assert_cmpuint(kp_host_get_n_connections(host), ==, 0);

        g_clear_error(&f.error);
        g_clear_pointer(&f.remote, kp_multiaddr_free);
}

/* ---- limits ------------------------------------------------------------ */

static void
on_dialled(GObject *source, GAsyncResult *result, gpointer user_data)
{
        GAsyncResult **ret = user_data;

        *ret = g_object_ref(result);
}

/* Log lines about limits (those with a KPING_LIMIT field), captured. */
/* Whether a refusal (a message with the KPING_LIMIT field) was logged
 * containing @a and, unless NULL, @b. */
static gboolean
has_line(const char *a, const char *b)
{
        return kp_test_count_log_lines(a, b) > 0;
}

static void
test_host_limits_bounds(void)
{
        KpHostLimits l;
        g_autoptr(GError) error = NULL;
        struct {
                guint *field;
                guint min, max;
                const char *name;
        } cases[] = {
                { &l.max_connections, 1, 1048576, "max_connections" },
                { &l.max_connections_per_ip, 1, 1048576, "max_connections_per_ip" },
                { &l.max_pending_handshakes, 1, 1048576, "max_pending_handshakes" },
                { &l.max_pending_handshakes_per_ip, 1, 1048576, "max_pending_handshakes_per_ip" },
                { &l.handshake_timeout_ms, 100, 600000, "handshake_timeout_ms" },
                { &l.idle_timeout_ms, 1000, 86400000, "idle_timeout_ms" },
                { &l.max_streams_per_connection, 1, 1024, "max_streams_per_connection" },
        };

        kp_host_limits_init(&l);
        g_assert_cmpuint(l.max_connections, ==, 16384);
        g_assert_cmpuint(l.max_connections_per_ip, ==, 256);
        g_assert_cmpuint(l.max_pending_handshakes, ==, 1024);
        g_assert_cmpuint(l.max_pending_handshakes_per_ip, ==, 64);
        g_assert_cmpuint(l.handshake_timeout_ms, ==, 10000);
        g_assert_cmpuint(l.idle_timeout_ms, ==, 300000);
        g_assert_cmpuint(l.max_streams_per_connection, ==, 256);
        g_assert_true(kp_host_limits_validate(&l, NULL));
        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                guint keep = *cases[i].field;
                *cases[i].field = cases[i].min;
                g_assert_true(kp_host_limits_validate(&l, NULL));
                *cases[i].field = cases[i].max;
                g_assert_true(kp_host_limits_validate(&l, NULL));
                *cases[i].field = cases[i].min - 1;
                g_assert_false(kp_host_limits_validate(&l, &error));
                kp_test_assert_error(error, KP_ERROR_INVALID, cases[i].name);
                g_clear_error(&error);
                *cases[i].field = cases[i].max + 1;
                g_assert_false(kp_host_limits_validate(&l, &error));
                kp_test_assert_error(error, KP_ERROR_INVALID, cases[i].name);
                g_clear_error(&error);
                *cases[i].field = keep;
        }
}

/* A raw TCP client of @port from @source (127.0.0.x). */
static GSocketConnection *
raw_connect(const char *source, guint16 port)
{
        g_autoptr(GSocketClient) client = g_socket_client_new();
        g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(source);
        g_autoptr(GSocketAddress) local = g_inet_socket_address_new(inet, 0);
        g_autoptr(GError) error = NULL;
        GSocketConnection *sc;

        g_socket_client_set_local_address(client, local);
        sc = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
        g_assert_no_error(error);
        return sc;
}

/* Iterates the main context until @cond holds, for at most 5 s. */
#define WAIT_FOR(cond)                                                                             \
        G_STMT_START                                                                               \
        {                                                                                          \
                gint64 _deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;                    \
                while (!(cond) && g_get_monotonic_time() < _deadline)                              \
                        g_main_context_iteration(NULL, FALSE);                                     \
                g_assert_true(cond);                                                               \
        }                                                                                          \
        G_STMT_END

/* The refused socket sees end of stream with not a byte before it. */
static void
assert_refused(GSocketConnection *sc)
{
        g_autoptr(GError) error = NULL;
        char buf[64];
        gssize n;

        g_socket_set_timeout(g_socket_connection_get_socket(sc), 5);
        n = g_socket_receive(g_socket_connection_get_socket(sc), buf, sizeof buf, NULL, &error);
        if (n < 0)
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
        else
                g_assert_cmpint(n, ==, 0);
}

/* Pending handshakes and connections per address, at the boundary: the
 * limit is accepted, one more refused with the limit named, other
 * addresses still served, and the counts back to zero once all close. */
static void
test_host_limits_per_ip(void)
{
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        g_autoptr(KpKeypair) client_key = kp_keypair_generate();
        Fixture hf = { 0 };
        guint16 port = 0;
        g_autoptr(KpHost) server = listening_host(server_key, &hf, &port);
        g_autoptr(KpHost) client = kp_host_new(client_key);
        g_autoptr(KpMultiaddr) target = kp_test_server_target(server, port);
        g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GSocketConnection) refused = NULL;
        g_autoptr(GSocketConnection) refused2 = NULL;
        g_autoptr(GSocketConnection) refused3 = NULL;
        g_autoptr(GSocketConnection) again = NULL;
        g_autoptr(KpConnection) conn = NULL;
        GAsyncResult *result = NULL;
        KpHostLimits l;

        kp_host_limits_init(&l);
        l.max_connections_per_ip = 3;
        l.max_pending_handshakes_per_ip = 2;
        kp_host_set_limits(server, &l);
        g_ptr_array_set_size(kp_test_captured_log(), 0);

        /* two pending from .1: the limit */
        g_ptr_array_add(socks, raw_connect("127.0.0.1", port));
        g_ptr_array_add(socks, raw_connect("127.0.0.1", port));
        WAIT_FOR(kp_host_get_n_pending_handshakes(server, "127.0.0.1") == 2);
        g_assert_cmpuint(kp_host_get_n_refused(server), ==, 0);
        /* the third is refused at once, the reason logged */
        refused = raw_connect("127.0.0.1", port);
        WAIT_FOR(kp_host_get_n_refused(server) == 1);
        assert_refused(refused);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(server, "127.0.0.1"), ==, 2);
        g_assert_true(has_line("refused connection from 127.0.0.1:",
                               ": 2 pending handshakes from this address "
                               "(MaxPendingHandshakesPerIP)"));
        /* another within the interval is refused but not logged one by one;
         * its summary follows */
        refused2 = raw_connect("127.0.0.1", port);
        WAIT_FOR(kp_host_get_n_refused(server) == 2);
        assert_refused(refused2);
        g_assert_cmpuint(kp_test_captured_log()->len, ==, 1);
        WAIT_FOR(has_line("refused 1 more connections in the last 1000 ms "
                          "(MaxPendingHandshakesPerIP)",
                          NULL));
        /* other addresses are still served */
        g_ptr_array_add(socks, raw_connect("127.0.0.2", port));
        WAIT_FOR(kp_host_get_n_pending_handshakes(server, "127.0.0.2") == 1);
        g_assert_cmpuint(kp_host_get_n_connections_for_ip(server, "127.0.0.2"), ==, 1);

        /* one pending slot freed: a real peer completes its handshake and
         * then counts as a connection of .1, not as pending */
        g_ptr_array_remove_index(socks, 0);
        WAIT_FOR(kp_host_get_n_pending_handshakes(server, "127.0.0.1") == 1);
        kp_host_dial_async(client, target, NULL, on_dialled, &result);
        WAIT_FOR(result != NULL);
        conn = kp_host_dial_finish(client, result, NULL);
        g_object_unref(result);
        g_assert_nonnull(conn);
        WAIT_FOR(kp_host_get_n_connections_for_ip(server, "127.0.0.1") == 2
                 && kp_host_get_n_pending_handshakes(server, "127.0.0.1") == 1);
        /* the dialler counts its own connection, pending no more */
        g_assert_cmpuint(kp_host_get_n_connections_for_ip(client, "127.0.0.1"), ==, 1);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(client, NULL), ==, 0);
        /* a third connection from .1 is the limit, a fourth is refused */
        g_ptr_array_add(socks, raw_connect("127.0.0.1", port));
        WAIT_FOR(kp_host_get_n_connections_for_ip(server, "127.0.0.1") == 3);
        refused3 = raw_connect("127.0.0.1", port);
        WAIT_FOR(kp_host_get_n_refused(server) == 3);
        assert_refused(refused3);
        g_assert_true(has_line("refused connection from 127.0.0.1:",
                               ": 3 connections from this address (MaxConnectionsPerIP)"));

        /* everything closes: every count back to zero */
        g_clear_pointer(&conn, kp_connection_unref);
        g_clear_pointer(&client, kp_host_free);
        g_ptr_array_set_size(socks, 0);
        WAIT_FOR(kp_host_get_n_connections(server) == 0);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(server, NULL), ==, 0);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(server, "127.0.0.1"), ==, 0);
        g_assert_cmpuint(kp_host_get_n_connections_for_ip(server, "127.0.0.1"), ==, 0);
        g_assert_cmpuint(kp_host_get_n_connections_for_ip(server, "127.0.0.2"), ==, 0);
        /* and a new connection is accepted */
        again = raw_connect("127.0.0.1", port);
        WAIT_FOR(kp_host_get_n_pending_handshakes(server, "127.0.0.1") == 1);
        g_assert_cmpuint(kp_host_get_n_refused(server), ==, 3);
        g_clear_pointer(&server, kp_host_free);
        g_clear_error(&hf.error);
        g_clear_pointer(&hf.remote, kp_multiaddr_free);
}

/* The totals: MaxPendingHandshakes and MaxConnections across addresses. */
static void
test_host_limits_total(void)
{
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        Fixture hf = { 0 };
        guint16 port = 0;
        g_autoptr(KpHost) server = listening_host(server_key, &hf, &port);
        g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GSocketConnection) refused = NULL;
        KpHostLimits l;

        kp_host_limits_init(&l);
        l.max_pending_handshakes = 2;
        kp_host_set_limits(server, &l);
        g_ptr_array_set_size(kp_test_captured_log(), 0);
        g_ptr_array_add(socks, raw_connect("127.0.0.1", port));
        g_ptr_array_add(socks, raw_connect("127.0.0.2", port));
        WAIT_FOR(kp_host_get_n_pending_handshakes(server, NULL) == 2);
        refused = raw_connect("127.0.0.3", port);
        WAIT_FOR(kp_host_get_n_refused(server) == 1);
        assert_refused(refused);
        g_assert_true(has_line("refused connection from 127.0.0.3:",
                               ": 2 pending handshakes in total (MaxPendingHandshakes)"));
        g_clear_object(&refused);

        l.max_pending_handshakes = 1024;
        l.max_connections = 2;
        kp_host_set_limits(server, &l);
        refused = raw_connect("127.0.0.3", port);
        WAIT_FOR(kp_host_get_n_refused(server) == 2);
        assert_refused(refused);
        g_assert_true(has_line("refused connection from 127.0.0.3:",
                               ": 2 connections in total (MaxConnections)"));
        g_ptr_array_set_size(socks, 0);
        WAIT_FOR(kp_host_get_n_connections(server) == 0);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(server, NULL), ==, 0);
        g_clear_pointer(&server, kp_host_free);
        g_clear_error(&hf.error);
        g_clear_pointer(&hf.remote, kp_multiaddr_free);
}

/* An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d: it
 * counts as a.b.c.d, so the per-address limits cannot be dodged by the
 * address family. */
static void
test_host_limits_v4_mapped(void)
{
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        g_autoptr(KpHost) server = kp_host_new(server_key);
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GInetAddress) mapped = g_inet_address_new_from_string("::ffff:127.0.0.1");
        g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(mapped, 0);
        g_autoptr(GSocketAddress) bound = NULL;
        g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func(g_object_unref);
        g_autoptr(GSocketConnection) refused = NULL;
        g_autoptr(GError) error = NULL;
        KpHostLimits l;
        guint16 port;

        socket = g_socket_new(G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                              &error);
        g_assert_no_error(error);
        g_assert_true(g_socket_set_option(socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, &error));
        g_assert_true(g_socket_bind(socket, sa, TRUE, &error));
        g_assert_no_error(error);
        g_assert_true(g_socket_listen(socket, &error));
        bound = g_socket_get_local_address(socket, &error);
        g_assert_no_error(error);
        port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
        kp_host_limits_init(&l);
        l.max_pending_handshakes_per_ip = 1;
        kp_host_set_limits(server, &l);
        g_assert_true(kp_host_listen_socket(server, socket, &error));
        g_assert_no_error(error);
        g_ptr_array_set_size(kp_test_captured_log(), 0);

        g_ptr_array_add(socks, raw_connect("127.0.0.1", port));
        WAIT_FOR(kp_host_get_n_pending_handshakes(server, "127.0.0.1") == 1);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(server, "::ffff:127.0.0.1"), ==, 0);
        refused = raw_connect("127.0.0.1", port);
        WAIT_FOR(kp_host_get_n_refused(server) == 1);
        assert_refused(refused);
        g_assert_true(has_line("refused connection from 127.0.0.1:",
                               ": 1 pending handshakes from this address "
                               "(MaxPendingHandshakesPerIP)"));
        g_ptr_array_set_size(socks, 0);
        WAIT_FOR(kp_host_get_n_connections(server) == 0);
        g_assert_cmpuint(kp_host_get_n_pending_handshakes(server, NULL), ==, 0);
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
        g_autoptr(KpMultiaddr) target = kp_test_server_target(server, port);
        g_autoptr(KpConnection) conn = NULL;
        g_autoptr(GError) error = NULL;
        KpStream *stream;
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        kp_host_set_stream_handler(server, "/test/echo/1.0.0", on_echo_stream, NULL);
        conn = kp_test_dial(client, target);

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
        g_autoptr(KpMultiaddr) target = kp_test_server_target(server, port);
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

typedef struct {
        guint n_closed;
        GError *error;
        gint64 closed_us;
} IdleFixture;

static void
on_idle_closed(KpHost *host, KpConnection *conn, const GError *error, gpointer user_data)
{
        IdleFixture *f = user_data;

        f->n_closed++;
        f->closed_us = g_get_monotonic_time();
        g_clear_error(&f->error);
        if (error != NULL)
                f->error = g_error_copy(error);
}

static void
iterate_until(gint64 until_us)
{
        while (g_get_monotonic_time() < until_us) {
                if (!g_main_context_iteration(NULL, FALSE))
                        g_usleep(1000);
        }
}

/* The server closes a connection that sends nothing for IdleTimeoutMs;
 * input within the timeout moves the deadline on. */
static void
test_host_idle_timeout(void)
{
        static const KpHostCallbacks server_callbacks = { .connection_closed = on_idle_closed };
        static const char *const protocols[] = { "/nobody/1.0.0", NULL };
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        g_autoptr(KpKeypair) client_key = kp_keypair_generate();
        Fixture hf = { 0 };
        IdleFixture idle = { 0 };
        guint16 port = 0;
        g_autoptr(KpHost) server = listening_host(server_key, &hf, &port);
        g_autoptr(KpHost) client = kp_host_new(client_key);
        g_autoptr(KpMultiaddr) target = kp_test_server_target(server, port);
        g_autoptr(KpConnection) conn = NULL;
        KpHostLimits limits;
        gint64 start, last_input = 0;

        kp_host_limits_init(&limits);
        limits.idle_timeout_ms = KP_HOST_IDLE_TIMEOUT_MIN_MS;
        kp_host_set_limits(server, &limits);
        kp_host_add_callbacks(server, &server_callbacks, &idle);
        conn = kp_test_dial(client, target);
        /* busy for twice the timeout: a stream every quarter of it */
        start = g_get_monotonic_time();
        for (guint i = 0; i < 8; i++) {
                KpStream *stream = kp_connection_open_stream(conn, protocols, NULL, NULL, NULL);

                g_assert_nonnull(stream);
                kp_stream_reset(stream);
                last_input = g_get_monotonic_time();
                iterate_until(start + (gint64)(i + 1) * KP_HOST_IDLE_TIMEOUT_MIN_MS * 250);
        }
        g_assert_cmpuint(idle.n_closed, ==, 0);
        /* then silent: closed one timeout after the last input, not before */
        iterate_until(last_input + 3 * KP_HOST_IDLE_TIMEOUT_MIN_MS * 1000);
        g_assert_cmpuint(idle.n_closed, ==, 1);
        g_assert_error(idle.error, KP_ERROR, KP_ERROR_TIMEOUT);
        g_assert_nonnull(strstr(idle.error->message, "idle for 1000 ms"));
        g_assert_cmpint(idle.closed_us - last_input, >=, KP_HOST_IDLE_TIMEOUT_MIN_MS * 1000);
        g_assert_cmpint(idle.closed_us - last_input, <, 2 * KP_HOST_IDLE_TIMEOUT_MIN_MS * 1000);
        g_clear_pointer(&client, kp_host_free);
        g_clear_pointer(&server, kp_host_free);
        g_clear_error(&idle.error);
        g_clear_error(&hf.error);
        g_clear_pointer(&hf.remote, kp_multiaddr_free);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        kp_test_capture_log("KPING_LIMIT", NULL);
        g_test_add_func("/host/limits/bounds", test_host_limits_bounds);
        g_test_add_func("/host/limits/per-ip", test_host_limits_per_ip);
        g_test_add_func("/host/limits/total", test_host_limits_total);
        g_test_add_func("/host/limits/v4-mapped", test_host_limits_v4_mapped);
        g_test_add_func("/host/handshake-timeout/setting", test_host_handshake_timeout_setting);
        g_test_add_func("/host/handshake-timeout/silent-peer", test_host_silent_peer_times_out);
        g_test_add_func("/host/handshake-timeout/many-silent-peers",
                        test_host_many_silent_peers_time_out);
        g_test_add_func("/host/stream/several-protocols", test_host_stream_several_protocols);
        g_test_add_func("/host/dial/joins-pending", test_host_dial_joins_pending);
        g_test_add_func("/host/dial/protocols", test_host_dial_protocols);
        g_test_add_func("/host/idle-timeout", test_host_idle_timeout);
        return g_test_run();
}
