/* Which addresses learned from a peer the DHT keeps and may dial later.
 *
 * A peer's identify listen addresses, and the addresses in the closer and
 * provider peers of its kad messages, are claims: nothing checks them until
 * a dial reaches a Noise handshake, and by then the TCP connection to that
 * address is made. Without a filter any peer could make kpingd (and every
 * node it gossips the address to) connect to a host and port of its choice.
 * Only an address that passes kp_addr_filter_accept() is stored or dialed:
 *
 *  - only <ip4|ip6>/<addr>/tcp/<port>[/p2p/<id>]: DNS names are refused,
 *    because they could resolve to anything after this check;
 *  - never the unspecified address (0.0.0.0/8, ::), multicast, the IPv4
 *    limited broadcast 255.255.255.255, or port 0;
 *  - never an address more local than the one the peer reached us from
 *    ("source"): scopes rank loopback < link-local < private < public, and
 *    the address's scope must be at least the source's. A peer connecting
 *    from a public address can only point at public addresses; a LAN peer
 *    at LAN and public ones; a peer on our own host at anything.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4
 * address. Addresses per peer are capped separately (KP_KAD_MAX_ADDRS_PER_PEER).
 * Sans-I/O: no resolution, no sockets. */
#pragma once

#include <glib.h>

#include "core/kp-kad-message.h"
#include "core/kp-multiaddr.h"

G_BEGIN_DECLS

typedef enum {
        KP_ADDR_SCOPE_INVALID, /* unspecified, multicast, broadcast, not an IP */
        KP_ADDR_SCOPE_LOOPBACK,
        KP_ADDR_SCOPE_LINK_LOCAL,
        KP_ADDR_SCOPE_PRIVATE, /* RFC 1918, 100.64.0.0/10, fc00::/7 */
        KP_ADDR_SCOPE_PUBLIC,
} KpAddrScope;

/* The scope of @ma's IP address, KP_ADDR_SCOPE_INVALID when it has none. */
KpAddrScope kp_addr_scope(const KpMultiaddr *ma);
const char *kp_addr_scope_to_string(KpAddrScope scope);
/* TRUE when the DHT may keep and dial @ma, learned over a connection from
 * @source (the peer's remote address; NULL means a trusted origin such as
 * the configuration, and only the shape and the always-refused addresses
 * are checked). KP_ERROR_UNSUPPORTED for a shape other than IP and TCP,
 * KP_ERROR_PERMISSION for the rest, with the reason. */
gboolean kp_addr_filter_accept(const KpMultiaddr *ma, const KpMultiaddr *source, GError **error);
/* Removes from @peer->addrs every address kp_addr_filter_accept() refuses;
 * returns how many it removed. */
guint kp_addr_filter_peer(KpKadPeer *peer, const KpMultiaddr *source);

G_END_DECLS
