/* The host against raw sockets on loopback: the handshake timeout. */
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

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/host/handshake-timeout/setting", test_host_handshake_timeout_setting);
        g_test_add_func("/host/handshake-timeout/silent-peer", test_host_silent_peer_times_out);
        return g_test_run();
}
