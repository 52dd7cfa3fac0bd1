#define G_LOG_DOMAIN "kp-net"

#include "net/kp-tcp.h"

#include "core/kp-error.h"

GSocketAddress *
kp_tcp_bind_address(const KpMultiaddr *addr, GError **error)
{
        g_autofree char *host = NULL;
        g_autoptr(GInetAddress) inet = NULL;
        KpMultiaddrHostKind kind;
        guint16 port;

        if (!kp_multiaddr_get_tcp_endpoint(addr, &host, &port, &kind, error))
                return NULL;
        if (kind != KP_MULTIADDR_HOST_IP4 && kind != KP_MULTIADDR_HOST_IP6) {
                g_autofree char *text = kp_multiaddr_to_string(addr);
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "cannot listen on %s: only /ip4 and /ip6 addresses", text);
                return NULL;
        }
        inet = g_inet_address_new_from_string(host);
        if (inet == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "bad address %s", host);
                return NULL;
        }
        return g_inet_socket_address_new(inet, port);
}

GSocketConnectable *
kp_tcp_connectable(const KpMultiaddr *addr, GSocketFamily *ret_family, GError **error)
{
        g_autofree char *host = NULL;
        KpMultiaddrHostKind kind;
        guint16 port;

        if (!kp_multiaddr_get_tcp_endpoint(addr, &host, &port, &kind, error))
                return NULL;
        switch (kind) {
        case KP_MULTIADDR_HOST_IP4:
        case KP_MULTIADDR_HOST_IP6: {
                g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(host);
                if (inet == NULL) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "bad address %s", host);
                        return NULL;
                }
                *ret_family = G_SOCKET_FAMILY_INVALID;
                return G_SOCKET_CONNECTABLE(g_inet_socket_address_new(inet, port));
        }
        case KP_MULTIADDR_HOST_DNS4:
                *ret_family = G_SOCKET_FAMILY_IPV4;
                break;
        case KP_MULTIADDR_HOST_DNS6:
                *ret_family = G_SOCKET_FAMILY_IPV6;
                break;
        case KP_MULTIADDR_HOST_DNS:
        default:
                *ret_family = G_SOCKET_FAMILY_INVALID;
                break;
        }
        return g_network_address_new(host, port);
}

KpMultiaddr *
kp_tcp_multiaddr_from_address(GSocketAddress *address, GError **error)
{
        GInetSocketAddress *isa;
        GInetAddress *inet;
        g_autofree char *host = NULL;

        if (!G_IS_INET_SOCKET_ADDRESS(address)) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED, "not an internet address");
                return NULL;
        }
        isa = G_INET_SOCKET_ADDRESS(address);
        inet = g_inet_socket_address_get_address(isa);
        host = g_inet_address_to_string(inet);
        return kp_multiaddr_new_tcp(g_inet_address_get_family(inet) == G_SOCKET_FAMILY_IPV6
                                        ? KP_MULTIADDR_HOST_IP6
                                        : KP_MULTIADDR_HOST_IP4,
                                    host, g_inet_socket_address_get_port(isa), error);
}
