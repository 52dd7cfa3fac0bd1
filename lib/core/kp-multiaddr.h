/* multiaddr (multiformats/multiaddr): the binary form is a sequence of
 * <varint code><value>; the text form is (/<name>/<value>)+. kping knows
 * ip4, ip6, tcp, udp, dns, dns4, dns6, dnsaddr, p2p (legacy name "ipfs" on
 * input), quic and quic-v1; codes are those of protocols.csv. Any other
 * protocol is refused with KP_ERROR_UNSUPPORTED.
 *
 * A KpMultiaddr is immutable and always valid: at least one component, every
 * value well formed, within the limits below. The text form is canonical:
 * IPv6 compressed (inet_ntop), ports in plain decimal, "/p2p/<base58btc>",
 * no trailing '/'. On input a single trailing '/' is accepted, as go- and
 * js-multiaddr do, and a p2p value may also be a CIDv1 (libp2p-key). A p2p
 * value is a peer id as kp_peer_id_parse() and kp_peer_id_from_bytes() accept
 * it: an identity one must hold a public key. */
#pragma once

#include <glib.h>

#include "core/kp-peer-id.h"

G_BEGIN_DECLS

/* Upper bound on the binary form; real addresses are under 100 bytes. */
#define KP_MULTIADDR_MAX_BYTES 1024
/* Upper bound on the number of /<name>/<value> components. */
#define KP_MULTIADDR_MAX_COMPONENTS 16
/* Upper bound on the text form. Any valid binary form prints shorter than
 * this (an ip6 component grows at most 17 -> 45 characters), so everything
 * kping prints it can parse back. */
#define KP_MULTIADDR_MAX_TEXT 4096
/* A DNS name is at most 255 octets (RFC 1035 section 2.3.4). */
#define KP_MULTIADDR_MAX_DNS_NAME 255

#define KP_MULTIADDR_PROTO_IP4     4
#define KP_MULTIADDR_PROTO_TCP     6
#define KP_MULTIADDR_PROTO_IP6     41
#define KP_MULTIADDR_PROTO_DNS     53
#define KP_MULTIADDR_PROTO_DNS4    54
#define KP_MULTIADDR_PROTO_DNS6    55
#define KP_MULTIADDR_PROTO_DNSADDR 56
#define KP_MULTIADDR_PROTO_UDP     273
#define KP_MULTIADDR_PROTO_P2P     421
#define KP_MULTIADDR_PROTO_QUIC    460
#define KP_MULTIADDR_PROTO_QUIC_V1 461

/* How the host of a TCP endpoint is given. Values are the protocol codes. */
typedef enum {
        KP_MULTIADDR_HOST_IP4 = KP_MULTIADDR_PROTO_IP4,
        KP_MULTIADDR_HOST_IP6 = KP_MULTIADDR_PROTO_IP6,
        KP_MULTIADDR_HOST_DNS = KP_MULTIADDR_PROTO_DNS,
        KP_MULTIADDR_HOST_DNS4 = KP_MULTIADDR_PROTO_DNS4,
        KP_MULTIADDR_HOST_DNS6 = KP_MULTIADDR_PROTO_DNS6,
} KpMultiaddrHostKind;

typedef struct _KpMultiaddr KpMultiaddr;

/* Errors: KP_ERROR_INVALID (malformed), KP_ERROR_UNSUPPORTED (unknown
 * protocol), KP_ERROR_TOO_LARGE (over a limit above), KP_ERROR_TRUNCATED
 * (binary form ends inside a component). Text messages read
 * 'invalid multiaddr "<input>": <reason>', binary ones
 * 'invalid multiaddr bytes: <reason>'. */
KpMultiaddr *kp_multiaddr_new_from_string(const char *text, GError **error);
KpMultiaddr *kp_multiaddr_new_from_bytes(const guint8 *buf, gsize len, GError **error);
/* /ip4/<host>/tcp/<port>, /ip6/..., /dns4/... as @kind says; @host is an
 * address in text form or a DNS name. */
KpMultiaddr *kp_multiaddr_new_tcp(KpMultiaddrHostKind kind, const char *host, guint16 port,
                                  GError **error);
KpMultiaddr *kp_multiaddr_copy(const KpMultiaddr *ma);
void kp_multiaddr_free(KpMultiaddr *ma);

char *kp_multiaddr_to_string(const KpMultiaddr *ma);
const guint8 *kp_multiaddr_get_bytes(const KpMultiaddr *ma, gsize *ret_len);
gboolean kp_multiaddr_equal(const KpMultiaddr *a, const KpMultiaddr *b);
guint kp_multiaddr_hash(const KpMultiaddr *ma);

guint kp_multiaddr_get_n_components(const KpMultiaddr *ma);
/* @ret_value points into @ma: the raw value without any length prefix
 * (4 bytes for ip4, 2 big-endian for tcp, the multihash for p2p, ...). */
void kp_multiaddr_get_component(const KpMultiaddr *ma, guint i, guint64 *ret_code,
                                const guint8 **ret_value, gsize *ret_value_len);
/* The name of a known protocol code ("ip4", "p2p", ...), else NULL. */
const char *kp_multiaddr_protocol_name(guint64 code);

/* The peer id of a trailing /p2p component (@ret_id may be NULL to only
 * test for one); KP_ERROR_NOT_FOUND without one. */
gboolean kp_multiaddr_get_peer_id(const KpMultiaddr *ma, KpPeerId *ret_id, GError **error);
/* For <ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port>[/p2p/<id>]: the host (an
 * address in canonical text form or the DNS name), port and kind.
 * KP_ERROR_UNSUPPORTED for any other shape (udp, quic, dnsaddr, ...). */
gboolean kp_multiaddr_get_tcp_endpoint(const KpMultiaddr *ma, char **ret_host, guint16 *ret_port,
                                       KpMultiaddrHostKind *ret_kind, GError **error);
/* @ma with /p2p/<@id> appended. If @ma already ends in /p2p, a copy when it
 * is the same id, else KP_ERROR_PEER_ID_MISMATCH. KP_ERROR_TOO_LARGE when
 * a limit would be exceeded. */
KpMultiaddr *kp_multiaddr_encapsulate_p2p(const KpMultiaddr *ma, const KpPeerId *id,
                                          GError **error);
/* @ma without a trailing /p2p component (a copy when there is none); NULL when
 * @ma is nothing but /p2p/<id>, as an empty multiaddr does not exist. */
KpMultiaddr *kp_multiaddr_without_p2p(const KpMultiaddr *ma);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpMultiaddr, kp_multiaddr_free)

G_END_DECLS
