/* TCP multiaddrs <-> GIO addresses, for listening and dialling. */
#pragma once

#include <gio/gio.h>

#include "core/kp-multiaddr.h"

G_BEGIN_DECLS

/* /ip4/<a>/tcp/<p> or /ip6/<a>/tcp/<p> (a trailing /p2p is ignored) as a
 * socket address to bind; KP_ERROR_UNSUPPORTED for any other shape. */
GSocketAddress *kp_tcp_bind_address(const KpMultiaddr *addr, GError **error);

/* What to connect to for an /ip4, /ip6, /dns, /dns4 or /dns6 TCP multiaddr,
 * and the address family a /dns4 or /dns6 name is restricted to
 * (G_SOCKET_FAMILY_INVALID for any). */
GSocketConnectable *kp_tcp_connectable(const KpMultiaddr *addr, GSocketFamily *ret_family,
                                       GError **error);

/* /ip4/<a>/tcp/<p> or /ip6/... for a socket address. */
KpMultiaddr *kp_tcp_multiaddr_from_address(GSocketAddress *address, GError **error);

G_END_DECLS
