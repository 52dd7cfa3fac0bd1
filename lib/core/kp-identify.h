/* libp2p identify (/ipfs/id/1.0.0, /ipfs/id/push/1.0.0) messages: the
 * protobuf of libp2p/specs identify/README.md, sent varint-length-prefixed. */
#pragma once

#include <glib.h>

#include "core/kp-keys.h"
#include "core/kp-multiaddr.h"

G_BEGIN_DECLS

#define KP_IDENTIFY_PROTOCOL         "/ipfs/id/1.0.0"
#define KP_IDENTIFY_PUSH_PROTOCOL    "/ipfs/id/push/1.0.0"
#define KP_IDENTIFY_PROTOCOL_VERSION "ipfs/0.1.0"
/* js-libp2p and go-libp2p cap identify messages at 8 KiB too. */
#define KP_IDENTIFY_MAX_MESSAGE   8192
#define KP_IDENTIFY_MAX_ADDRS     64
#define KP_IDENTIFY_MAX_PROTOCOLS 128
#define KP_IDENTIFY_MAX_STRING    256
/* A peer may split its identify into several messages (go-libp2p does when
 * it has many addresses); at most this many are merged. */
#define KP_IDENTIFY_MAX_MESSAGES 8

typedef struct {
        char *protocol_version; /* NULL when absent */
        char *agent_version;
        KpPublicKey *public_key;
        GPtrArray *listen_addrs; /* KpMultiaddr*; NULL when the field is absent */
        KpMultiaddr *observed_addr;
        GStrv protocols;   /* NULL when absent (a push may leave it out) */
        guint n_bad_addrs; /* listen addrs that did not parse and were dropped */
} KpIdentifyInfo;

KpIdentifyInfo *kp_identify_info_new(void);
KpIdentifyInfo *kp_identify_info_copy(const KpIdentifyInfo *info);
void kp_identify_info_free(KpIdentifyInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpIdentifyInfo, kp_identify_info_free)

/* The protobuf body, without the length prefix. */
/* Folds @from into @into as libp2p implementations do with split messages:
 * fields @from has replace scalars, and extend the address and protocol
 * lists up to KP_IDENTIFY_MAX_ADDRS / KP_IDENTIFY_MAX_PROTOCOLS. */
void kp_identify_info_merge(KpIdentifyInfo *into, KpIdentifyInfo *from);

GBytes *kp_identify_encode(const KpIdentifyInfo *info);
KpIdentifyInfo *kp_identify_decode(const guint8 *buf, gsize len, GError **error);

G_END_DECLS
