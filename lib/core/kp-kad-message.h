/* libp2p Kademlia DHT RPC messages (libp2p/specs kad-dht/README.md): the
 * protobuf Message with its Record, sent varint-length-prefixed on a stream
 * of /ipfs/kad/1.0.0 or /kameo/registry/1.0.0 (same wire format).
 *
 * Decoding takes hostile bytes: a request over KP_KAD_MAX_MESSAGE (a response
 * over KP_KAD_MAX_RESPONSE), an unknown
 * type, or over-long lists are refused; peers whose id does not parse and
 * addresses kping cannot read are dropped (and counted), as peers advertise
 * transports kping does not speak. Unknown fields (such as the old Record
 * author/signature, fields 3 and 4) are ignored. */
#pragma once

#include <glib.h>

#include "core/kp-multiaddr.h"
#include "core/kp-peer-id.h"

G_BEGIN_DECLS

/* rust-libp2p (kameo) refuses kad messages over 16 KiB, so kping never sends
 * more; js-libp2p and go-libp2p accept far larger ones (4 MiB), so this is
 * the limit that interoperates in both directions. Applied to inbound
 * requests too. */
#define KP_KAD_MAX_MESSAGE (16 * 1024)
/* Responses to our own requests: go and js answer FIND_NODE with k = 20
 * peers and every address each one has (with certhash-laden webtransport
 * and quic addresses, 25-45 KiB is common on public networks), and
 * GET_VALUE with a record plus the closer peers. 16 KiB would lose those
 * lookups; 4 MiB (go, js) is more than a lookup needs to buffer. */
#define KP_KAD_MAX_RESPONSE (256 * 1024)
/* A response carries k = 20 closer peers; allow slack for implementations
 * that send more, refuse lists that only a flood would need. */
#define KP_KAD_MAX_PEERS 64
/* Addresses kept per peer; further ones are dropped, not an error. */
#define KP_KAD_MAX_ADDRS_PER_PEER 16
/* Keys are names, CIDs, peer ids or /namespace/... paths. */
#define KP_KAD_MAX_KEY           1024
#define KP_KAD_MAX_TIME_RECEIVED 64

typedef enum {
        KP_KAD_PUT_VALUE = 0,
        KP_KAD_GET_VALUE = 1,
        KP_KAD_ADD_PROVIDER = 2,
        KP_KAD_GET_PROVIDERS = 3,
        KP_KAD_FIND_NODE = 4,
        KP_KAD_PING = 5,
} KpKadMessageType;

typedef enum {
        KP_KAD_NOT_CONNECTED = 0,
        KP_KAD_CONNECTED = 1,
        KP_KAD_CAN_CONNECT = 2,
        KP_KAD_CANNOT_CONNECT = 3,
} KpKadConnectionType;

typedef struct {
        KpPeerId id;
        GPtrArray *addrs; /* KpMultiaddr*, never NULL */
        KpKadConnectionType connection;
} KpKadPeer;

typedef struct {
        GBytes *key;
        GBytes *value;
        char *time_received; /* NULL when absent */
        gboolean has_publisher;
        KpPeerId publisher; /* rust-libp2p field 666 */
        gboolean has_ttl;
        guint32 ttl; /* seconds, rust-libp2p field 777 */
} KpKadRecord;

typedef struct {
        KpKadMessageType type;
        GBytes *key;             /* NULL when absent */
        KpKadRecord *record;     /* NULL when absent */
        GPtrArray *closer_peers; /* KpKadPeer*, never NULL */
        GPtrArray *provider_peers;
        guint n_dropped_peers; /* peers whose id did not parse */
} KpKadMessage;

KpKadPeer *kp_kad_peer_new(const KpPeerId *id);
KpKadPeer *kp_kad_peer_copy(const KpKadPeer *peer);
void kp_kad_peer_free(KpKadPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKadPeer, kp_kad_peer_free)
/* Adds a copy of @addr unless it is already there or the peer is full. */
void kp_kad_peer_add_addr(KpKadPeer *peer, const KpMultiaddr *addr);

KpKadRecord *kp_kad_record_new(GBytes *key, GBytes *value);
KpKadRecord *kp_kad_record_copy(const KpKadRecord *record);
void kp_kad_record_free(KpKadRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKadRecord, kp_kad_record_free)

KpKadMessage *kp_kad_message_new(KpKadMessageType type, const guint8 *key, gsize key_len);
void kp_kad_message_free(KpKadMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpKadMessage, kp_kad_message_free)

const char *kp_kad_message_type_to_string(KpKadMessageType type);

/* The protobuf body, without the length prefix. KP_ERROR_TOO_LARGE when it
 * would exceed KP_KAD_MAX_MESSAGE. */
GBytes *kp_kad_message_encode(const KpKadMessage *msg, GError **error);
/* A request, of at most KP_KAD_MAX_MESSAGE bytes. Errors:
 * KP_ERROR_TOO_LARGE (message, key or list over a limit), KP_ERROR_INVALID
 * (malformed protobuf, missing or unknown type, bad record). Messages start
 * with "kad: ". */
KpKadMessage *kp_kad_message_decode(const guint8 *buf, gsize len, GError **error);
/* The same for a response to one of our requests: at most
 * KP_KAD_MAX_RESPONSE bytes. */
KpKadMessage *kp_kad_message_decode_response(const guint8 *buf, gsize len, GError **error);

G_END_DECLS
