/* Which addresses learned from a peer the DHT keeps (kp-addr-filter.h):
 * the shapes and addresses always refused, the scope ranking, and the rule
 * that a peer may not point us at an address more local than its own. */
#include "core/kp-error.h"
#include "dht/kp-addr-filter.h"
#include "kp-test-peers.h"
#include "kp-test-util.h"

static KpAddrScope
scope_of(const char *text)
{
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(text, NULL);

        g_assert_nonnull(ma);
        return kp_addr_scope(ma);
}

static void
test_addr_scope(void)
{
        static const struct {
                const char *addr;
                KpAddrScope scope;
        } cases[] = {
                { "/ip4/127.0.0.1/tcp/1", KP_ADDR_SCOPE_LOOPBACK },
                { "/ip4/127.255.255.254/tcp/1", KP_ADDR_SCOPE_LOOPBACK },
                { "/ip6/::1/tcp/1", KP_ADDR_SCOPE_LOOPBACK },
                { "/ip6/::ffff:127.0.0.1/tcp/1", KP_ADDR_SCOPE_LOOPBACK },
                { "/ip4/169.254.1.1/tcp/1", KP_ADDR_SCOPE_LINK_LOCAL },
                { "/ip6/fe80::1/tcp/1", KP_ADDR_SCOPE_LINK_LOCAL },
                { "/ip6/febf::1/tcp/1", KP_ADDR_SCOPE_LINK_LOCAL },
                { "/ip4/10.0.0.1/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/172.16.0.1/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/172.31.255.255/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/172.32.0.1/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip4/172.15.255.255/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip4/192.168.1.1/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/100.64.0.1/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/100.127.255.255/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/100.128.0.1/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip6/fc00::1/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip6/fdff::1/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip6/::ffff:10.1.2.3/tcp/1", KP_ADDR_SCOPE_PRIVATE },
                { "/ip4/1.2.3.4/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip4/223.255.255.255/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip6/2001:db8::1/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip4/0.0.0.0/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip4/0.1.2.3/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip6/::/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip6/::ffff:0.0.0.0/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip4/224.0.0.1/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip4/239.255.255.255/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip4/240.0.0.1/tcp/1", KP_ADDR_SCOPE_PUBLIC },
                { "/ip4/255.255.255.255/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip6/ff02::1/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/dns4/localhost/tcp/1", KP_ADDR_SCOPE_INVALID },
                { "/ip4/1.2.3.4/udp/1", KP_ADDR_SCOPE_INVALID },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_test_message("%s", cases[i].addr);
                g_assert_cmpstr(kp_addr_scope_to_string(scope_of(cases[i].addr)), ==,
                                kp_addr_scope_to_string(cases[i].scope));
        }
}

static void
check(const char *addr, const char *source, int code, const char *message)
{
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(addr, NULL);
        g_autoptr(KpMultiaddr) src
            = source != NULL ? kp_multiaddr_new_from_string(source, NULL) : NULL;
        g_autoptr(GError) error = NULL;
        gboolean ok;

        g_test_message("%s from %s", addr, source != NULL ? source : "(trusted)");
        g_assert_nonnull(ma);
        ok = kp_addr_filter_accept(ma, src, &error);
        if (message == NULL) {
                g_assert_no_error(error);
                g_assert_true(ok);
        } else {
                g_assert_false(ok);
                kp_test_assert_error(error, code, message);
        }
}

static void
test_addr_filter_accept(void)
{
        const char *lo = "/ip4/127.0.0.1/tcp/5000";
        const char *lan = "/ip4/192.168.1.7/tcp/5000";
        const char *pub = "/ip4/1.2.3.4/tcp/5000";

        /* always refused, whoever says it */
        check("/ip4/0.0.0.0/tcp/4001", lo, KP_ERROR_PERMISSION, "unspecified");
        check("/ip6/::/tcp/4001", NULL, KP_ERROR_PERMISSION, "unspecified");
        check("/ip4/224.0.0.251/tcp/4001", lo, KP_ERROR_PERMISSION, "multicast");
        check("/ip4/255.255.255.255/tcp/4001", lo, KP_ERROR_PERMISSION, "broadcast");
        check("/ip4/127.0.0.1/tcp/0", lo, KP_ERROR_PERMISSION, "port 0");
        check("/ip4/1.2.3.4/tcp/0", NULL, KP_ERROR_PERMISSION, "port 0");
        check("/dns4/localhost/tcp/4001", lo, KP_ERROR_UNSUPPORTED, "DNS name");
        check("/dns/example.com/tcp/4001", pub, KP_ERROR_UNSUPPORTED, "DNS name");
        check("/ip4/1.2.3.4/udp/4001/quic-v1", pub, KP_ERROR_UNSUPPORTED, "");

        /* a peer on our host may name anything valid */
        check("/ip4/127.0.0.1/tcp/4001", lo, 0, NULL);
        check("/ip6/::1/tcp/4001", lo, 0, NULL);
        check("/ip4/192.168.1.7/tcp/4001", lo, 0, NULL);
        check("/ip4/1.2.3.4/tcp/4001", lo, 0, NULL);
        check("/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", lo,
              0, NULL);

        /* a LAN peer: LAN and public, not our loopback or link-local */
        check("/ip4/10.1.1.1/tcp/4001", lan, 0, NULL);
        check("/ip4/8.8.8.8/tcp/4001", lan, 0, NULL);
        check("/ip4/127.0.0.1/tcp/4001", lan, KP_ERROR_PERMISSION,
              "loopback address learned from a peer at a private address");
        check("/ip6/fe80::1/tcp/4001", lan, KP_ERROR_PERMISSION, "link-local address");

        /* an internet peer: public only */
        check("/ip4/5.6.7.8/tcp/4001", pub, 0, NULL);
        check("/ip6/2001:db8::1/tcp/4001", pub, 0, NULL);
        check("/ip4/10.0.0.1/tcp/22", pub, KP_ERROR_PERMISSION,
              "private address learned from a peer at a public address");
        check("/ip4/127.0.0.1/tcp/22", pub, KP_ERROR_PERMISSION,
              "loopback address learned from a peer at a public address");
        check("/ip6/::ffff:127.0.0.1/tcp/22", pub, KP_ERROR_PERMISSION, "loopback address");
        check("/ip4/169.254.169.254/tcp/80", pub, KP_ERROR_PERMISSION, "link-local address");

        /* configuration (no source): anything of a dialable shape */
        check("/ip4/127.0.0.1/tcp/4001", NULL, 0, NULL);
        check("/ip4/10.0.0.1/tcp/4001", NULL, 0, NULL);
}

static void
test_addr_filter_peer(void)
{
        static const char *const addrs[] = {
                "/ip4/1.2.3.4/tcp/4001",   "/ip4/10.0.0.1/tcp/4001", "/ip4/0.0.0.0/tcp/4001",
                "/ip4/5.6.7.8/tcp/0",      "/dns4/a.example/tcp/1",  "/ip6/2001:db8::2/tcp/4001",
                "/ip4/127.0.0.1/tcp/4001",
        };
        g_autoptr(KpMultiaddr) pub = kp_multiaddr_new_from_string("/ip4/9.9.9.9/tcp/1", NULL);
        g_autoptr(KpKadPeer) peer = NULL;
        KpPeerId id;

        kp_test_peer_id(1, &id);
        peer = kp_kad_peer_new(&id);
        for (gsize i = 0; i < G_N_ELEMENTS(addrs); i++) {
                g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(addrs[i], NULL);
                kp_kad_peer_add_addr(peer, ma);
        }
        g_assert_cmpuint(kp_addr_filter_peer(peer, pub), ==, 5);
        g_assert_cmpuint(peer->addrs->len, ==, 2);
        {
                g_autofree char *a = kp_multiaddr_to_string(peer->addrs->pdata[0]);
                g_autofree char *b = kp_multiaddr_to_string(peer->addrs->pdata[1]);
                g_assert_cmpstr(a, ==, "/ip4/1.2.3.4/tcp/4001");
                g_assert_cmpstr(b, ==, "/ip6/2001:db8::2/tcp/4001");
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/addr-filter/scope", test_addr_scope);
        g_test_add_func("/addr-filter/accept", test_addr_filter_accept);
        g_test_add_func("/addr-filter/peer", test_addr_filter_peer);
        return g_test_run();
}
