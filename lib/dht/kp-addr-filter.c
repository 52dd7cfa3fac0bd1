#define G_LOG_DOMAIN "kp-dht"

#include "dht/kp-addr-filter.h"

#include <gio/gio.h>
#include <string.h>

#include "core/kp-error.h"

static KpAddrScope
scope_ip4(const guint8 *a)
{
        if (a[0] == 0 || (a[0] & 0xf0) == 0xe0 || memcmp(a, "\xff\xff\xff\xff", 4) == 0)
                return KP_ADDR_SCOPE_INVALID;
        if (a[0] == 127)
                return KP_ADDR_SCOPE_LOOPBACK;
        if (a[0] == 169 && a[1] == 254)
                return KP_ADDR_SCOPE_LINK_LOCAL;
        if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168)
            || (a[0] == 100 && (a[1] & 0xc0) == 64))
                return KP_ADDR_SCOPE_PRIVATE;
        return KP_ADDR_SCOPE_PUBLIC;
}

static KpAddrScope
scope_ip6(const guint8 *a)
{
        static const guint8 zero[16] = { 0 };
        static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (memcmp(a, mapped, sizeof mapped) == 0)
                return scope_ip4(a + 12);
        if (memcmp(a, zero, 16) == 0 || a[0] == 0xff)
                return KP_ADDR_SCOPE_INVALID;
        if (memcmp(a, zero, 15) == 0 && a[15] == 1)
                return KP_ADDR_SCOPE_LOOPBACK;
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
                return KP_ADDR_SCOPE_LINK_LOCAL;
        if ((a[0] & 0xfe) == 0xfc)
                return KP_ADDR_SCOPE_PRIVATE;
        return KP_ADDR_SCOPE_PUBLIC;
}

KpAddrScope
kp_addr_scope(const KpMultiaddr *ma)
{
        g_autofree char *host = NULL;
        g_autoptr(GInetAddress) ip = NULL;
        KpMultiaddrHostKind kind;

        if (!kp_multiaddr_get_tcp_endpoint(ma, &host, NULL, &kind, NULL))
                return KP_ADDR_SCOPE_INVALID;
        if (kind != KP_MULTIADDR_HOST_IP4 && kind != KP_MULTIADDR_HOST_IP6)
                return KP_ADDR_SCOPE_INVALID;
        ip = g_inet_address_new_from_string(host);
        if (ip == NULL)
                return KP_ADDR_SCOPE_INVALID;
        if (g_inet_address_get_family(ip) == G_SOCKET_FAMILY_IPV4)
                return scope_ip4(g_inet_address_to_bytes(ip));
        return scope_ip6(g_inet_address_to_bytes(ip));
}

const char *
kp_addr_scope_to_string(KpAddrScope scope)
{
        switch (scope) {
        case KP_ADDR_SCOPE_LOOPBACK:
                return "loopback";
        case KP_ADDR_SCOPE_LINK_LOCAL:
                return "link-local";
        case KP_ADDR_SCOPE_PRIVATE:
                return "private";
        case KP_ADDR_SCOPE_PUBLIC:
                return "public";
        case KP_ADDR_SCOPE_INVALID:
        default:
                return "invalid";
        }
}

gboolean
kp_addr_filter_accept(const KpMultiaddr *ma, const KpMultiaddr *source, GError **error)
{
        KpMultiaddrHostKind kind;
        guint16 port = 0;
        KpAddrScope scope, from;

        if (!kp_multiaddr_get_tcp_endpoint(ma, NULL, &port, &kind, error))
                return FALSE;
        if (kind != KP_MULTIADDR_HOST_IP4 && kind != KP_MULTIADDR_HOST_IP6) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                                    "a DNS name learned from a peer is not dialed");
                return FALSE;
        }
        if (port == 0) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_PERMISSION, "port 0");
                return FALSE;
        }
        scope = kp_addr_scope(ma);
        if (scope == KP_ADDR_SCOPE_INVALID) {
                g_set_error_literal(error, KP_ERROR, KP_ERROR_PERMISSION,
                                    "unspecified, multicast or broadcast address");
                return FALSE;
        }
        if (source == NULL)
                return TRUE;
        from = kp_addr_scope(source);
        /* a source we cannot place (DNS) is treated as the most distant */
        if (from == KP_ADDR_SCOPE_INVALID)
                from = KP_ADDR_SCOPE_PUBLIC;
        if (scope < from) {
                g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                            "%s address learned from a peer at a %s address",
                            kp_addr_scope_to_string(scope), kp_addr_scope_to_string(from));
                return FALSE;
        }
        return TRUE;
}

guint
kp_addr_filter_peer(KpKadPeer *peer, const KpMultiaddr *source)
{
        guint removed = 0;

        for (guint i = peer->addrs->len; i > 0; i--) {
                g_autoptr(GError) error = NULL;
                if (kp_addr_filter_accept(peer->addrs->pdata[i - 1], source, &error))
                        continue;
                {
                        g_autofree char *id = kp_peer_id_to_string(&peer->id);
                        g_autofree char *a = kp_multiaddr_to_string(peer->addrs->pdata[i - 1]);
                        g_debug("address %s of %s dropped: %s", a, id, error->message);
                }
                g_ptr_array_remove_index(peer->addrs, i - 1);
                removed++;
        }
        return removed;
}
