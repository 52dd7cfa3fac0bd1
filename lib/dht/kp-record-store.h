/* The local store of DHT values (PUT_VALUE / GET_VALUE), with the
 * validation rule that decides what a peer may store, TTLs, republish
 * bookkeeping for our own records, and limits. Sans-I/O: time is passed in
 * (milliseconds).
 *
 * Validation (kp_record_validate), for a record received from @sender:
 *  - "{name}:meta:{peer}" (kameo 0.19 actor registration): accepted only when
 *    {peer} is @sender, so no peer can hijack another's registration, and the
 *    value parses as a kameo registration of at most 64 KiB whose peer id is
 *    {peer} too (else a peer could point its name at someone else);
 *  - "/kping/<anything>": kping's own namespace (interop tests), any value
 *    within the size limit;
 *  - anything else is refused (KP_ERROR_UNSUPPORTED), with the reason.
 * Because of the first rule only the publisher may (re)publish a meta
 * record: kping republishes only its own records, never others'. */
#pragma once

#include <glib.h>

#include "core/kp-peer-id.h"

G_BEGIN_DECLS

#define KP_RECORD_NAMESPACE "/kping/"
/* kameo's limit on a registration value; the kad message limit (16 KiB)
 * keeps network values smaller still. */
#define KP_RECORD_MAX_VALUE (64 * 1024)
#define KP_RECORD_MAX_KEY   1024
/* Totals across all peers, and what one peer may hold of them (the
 * defaults; kp_record_store_set_limits() changes the counts within
 * KP_RECORD_STORE_LIMIT_MIN .. KP_RECORD_STORE_LIMIT_MAX, while the bytes
 * stay bounded by KP_RECORD_STORE_MAX_BYTES whatever the counts). */
#define KP_RECORD_STORE_MAX_RECORDS  4096
#define KP_RECORD_STORE_MAX_BYTES    (16 * 1024 * 1024)
#define KP_RECORD_STORE_MAX_PER_PEER 64
#define KP_RECORD_STORE_LIMIT_MIN    1
#define KP_RECORD_STORE_LIMIT_MAX    65536
/* kameo: records live one hour and are republished every 30 minutes. */
#define KP_RECORD_TTL_MS       (60 * 60 * 1000)
#define KP_RECORD_REPUBLISH_MS (30 * 60 * 1000)

typedef struct {
        GBytes *key;
        GBytes *value;
        KpPeerId sender; /* who stored it here (ourselves for local ones) */
        gint64 received_ms;
        gint64 expires_ms; /* G_MAXINT64 for our own records */
        gboolean local;
        gint64 republish_ms; /* local records: next republish */
} KpStoredRecord;

typedef struct _KpRecordStore KpRecordStore;

/* Errors: KP_ERROR_UNSUPPORTED (key outside the accepted forms),
 * KP_ERROR_PERMISSION (meta key of another peer), KP_ERROR_INVALID (value
 * does not parse), KP_ERROR_TOO_LARGE. Messages start with "record ". */
gboolean kp_record_validate(const guint8 *key, gsize key_len, const guint8 *value, gsize value_len,
                            const KpPeerId *sender, GError **error);

KpRecordStore *kp_record_store_new(const KpPeerId *self);
void kp_record_store_free(KpRecordStore *store);
/* Records in total and per sending peer from now on (records already held
 * stay); both within KP_RECORD_STORE_LIMIT_MIN .. KP_RECORD_STORE_LIMIT_MAX.
 * Our own records count toward the total but not per peer. */
void kp_record_store_set_limits(KpRecordStore *store, guint max_records, guint max_per_peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpRecordStore, kp_record_store_free)

/* Validates and stores (replacing an older value of the same key). @ttl_ms
 * of 0 means KP_RECORD_TTL_MS; a record from ourselves (@sender is our id)
 * is local: it never expires and is due for republish every
 * KP_RECORD_REPUBLISH_MS. */
gboolean kp_record_store_put(KpRecordStore *store, GBytes *key, GBytes *value,
                             const KpPeerId *sender, gint64 ttl_ms, gint64 now_ms, GError **error);
/* NULL when absent or expired. */
const KpStoredRecord *kp_record_store_get(KpRecordStore *store, const guint8 *key, gsize len,
                                          gint64 now_ms);
gboolean kp_record_store_remove(KpRecordStore *store, const guint8 *key, gsize len);
/* Drops expired records; returns how many. */
guint kp_record_store_expire(KpRecordStore *store, gint64 now_ms);
/* Our records due for republishing (borrowed KpStoredRecord*); each is
 * rescheduled KP_RECORD_REPUBLISH_MS later. */
GPtrArray *kp_record_store_take_due(KpRecordStore *store, gint64 now_ms);
guint kp_record_store_size(KpRecordStore *store);
gsize kp_record_store_bytes(KpRecordStore *store);

G_END_DECLS
