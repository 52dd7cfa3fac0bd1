#include "dht/kp-record-store.h"

#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo-registration.h"

struct _KpRecordStore {
        KpPeerId self;
        GHashTable *records;  /* GBytes key -> KpStoredRecord* */
        GHashTable *per_peer; /* KpPeerId* (owned copy) -> count */
        gsize bytes;
        guint max_records;
        guint max_per_peer;
};

static void
stored_free(KpStoredRecord *r)
{
        g_bytes_unref(r->key);
        g_bytes_unref(r->value);
        g_free(r);
}

gboolean
kp_record_validate(const guint8 *key, gsize key_len, const guint8 *value, gsize value_len,
                   const KpPeerId *sender, GError **error)
{
        g_autoptr(GError) local = NULL;
        g_autoptr(KpKameoRegistration) reg = NULL;
        KpPeerId owner;
        gsize ns = strlen(KP_RECORD_NAMESPACE);

        if (key_len > KP_RECORD_MAX_KEY || value_len > KP_RECORD_MAX_VALUE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "record of %" G_GSIZE_FORMAT "-byte key and %" G_GSIZE_FORMAT
                            "-byte value exceeds limits %d and %d",
                            key_len, value_len, KP_RECORD_MAX_KEY, KP_RECORD_MAX_VALUE);
                return FALSE;
        }
        if (key_len > ns && memcmp(key, KP_RECORD_NAMESPACE, ns) == 0)
                return TRUE;
        if (!kp_kameo_meta_key_parse(key, key_len, NULL, &owner)) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "record key is neither \"<name>:meta:<peer id>\" nor under %s",
                            KP_RECORD_NAMESPACE);
                return FALSE;
        }
        if (!kp_peer_id_equal(&owner, sender)) {
                g_autofree char *o = kp_peer_id_to_string(&owner);
                g_autofree char *s = kp_peer_id_to_string(sender);
                g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                            "record key names peer %s but was sent by %s", o, s);
                return FALSE;
        }
        reg = kp_kameo_registration_decode(value, value_len, &local);
        if (reg == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "record value: %s", local->message);
                return FALSE;
        }
        /* else the owner could point lookups of its name at another peer */
        if (!kp_peer_id_equal(&reg->peer_id, &owner)) {
                g_autofree char *o = kp_peer_id_to_string(&owner);
                g_autofree char *r = kp_peer_id_to_string(&reg->peer_id);
                g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                            "registration under %s names peer %s", o, r);
                return FALSE;
        }
        return TRUE;
}

void
kp_record_store_set_limits(KpRecordStore *store, guint max_records, guint max_per_peer)
{
        g_return_if_fail(max_records >= KP_RECORD_STORE_LIMIT_MIN
                         && max_records <= KP_RECORD_STORE_LIMIT_MAX);
        g_return_if_fail(max_per_peer >= KP_RECORD_STORE_LIMIT_MIN
                         && max_per_peer <= KP_RECORD_STORE_LIMIT_MAX);
        store->max_records = max_records;
        store->max_per_peer = max_per_peer;
}

KpRecordStore *
kp_record_store_new(const KpPeerId *self)
{
        KpRecordStore *store = g_new0(KpRecordStore, 1);

        store->self = *self;
        store->max_records = KP_RECORD_STORE_MAX_RECORDS;
        store->max_per_peer = KP_RECORD_STORE_MAX_PER_PEER;
        store->records
            = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, NULL, (GDestroyNotify)stored_free);
        store->per_peer
            = g_hash_table_new_full(kp_peer_id_hash, kp_peer_id_equal_func, g_free, NULL);
        return store;
}

void
kp_record_store_free(KpRecordStore *store)
{
        if (store == NULL)
                return;
        g_hash_table_unref(store->records);
        g_hash_table_unref(store->per_peer);
        g_free(store);
}

static guint
peer_count(KpRecordStore *store, const KpPeerId *id)
{
        return GPOINTER_TO_UINT(g_hash_table_lookup(store->per_peer, id));
}

static void
peer_count_add(KpRecordStore *store, const KpPeerId *id, int delta)
{
        guint n = peer_count(store, id) + delta;

        if (n == 0)
                g_hash_table_remove(store->per_peer, id);
        else
                g_hash_table_replace(store->per_peer, g_memdup2(id, sizeof *id),
                                     GUINT_TO_POINTER(n));
}

static gsize
record_bytes(GBytes *key, GBytes *value)
{
        return g_bytes_get_size(key) + g_bytes_get_size(value);
}

static void
remove_record(KpRecordStore *store, KpStoredRecord *r)
{
        store->bytes -= record_bytes(r->key, r->value);
        peer_count_add(store, &r->sender, -1);
        g_hash_table_remove(store->records, r->key);
}

gboolean
kp_record_store_put(KpRecordStore *store, GBytes *key, GBytes *value, const KpPeerId *sender,
                    gint64 ttl_ms, gint64 now_ms, GError **error)
{
        gsize klen, vlen;
        const guint8 *k = g_bytes_get_data(key, &klen);
        const guint8 *v = g_bytes_get_data(value, &vlen);
        KpStoredRecord *old = g_hash_table_lookup(store->records, key);
        KpStoredRecord *r;
        gboolean local = kp_peer_id_equal(sender, &store->self);
        gsize old_bytes = 0;
        guint same_sender = 0;

        if (!kp_record_validate(k, klen, v, vlen, sender, error))
                return FALSE;
        if (old != NULL) {
                old_bytes = record_bytes(old->key, old->value);
                same_sender = kp_peer_id_equal(&old->sender, sender) ? 1 : 0;
                /* our own record is not overwritten by a copy coming back */
                if (old->local && !local)
                        return TRUE;
        }
        if (old == NULL && g_hash_table_size(store->records) >= store->max_records) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "record store holds %u records already (MaxDhtRecords)",
                            g_hash_table_size(store->records));
                return FALSE;
        }
        if (store->bytes - old_bytes + klen + vlen > KP_RECORD_STORE_MAX_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "record store would exceed %d bytes", KP_RECORD_STORE_MAX_BYTES);
                return FALSE;
        }
        if (!local && peer_count(store, sender) - same_sender >= store->max_per_peer) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "record store holds %u records of this peer already "
                            "(MaxDhtRecordsPerPeer)",
                            peer_count(store, sender) - same_sender);
                return FALSE;
        }
        if (old != NULL)
                remove_record(store, old);
        r = g_new0(KpStoredRecord, 1);
        r->key = g_bytes_ref(key);
        r->value = g_bytes_ref(value);
        r->sender = *sender;
        r->received_ms = now_ms;
        r->local = local;
        if (local) {
                r->expires_ms = G_MAXINT64;
                r->republish_ms = now_ms + KP_RECORD_REPUBLISH_MS;
        } else {
                r->expires_ms
                    = now_ms + (ttl_ms > 0 ? MIN(ttl_ms, KP_RECORD_TTL_MS) : KP_RECORD_TTL_MS);
        }
        g_hash_table_replace(store->records, r->key, r);
        store->bytes += klen + vlen;
        peer_count_add(store, sender, 1);
        return TRUE;
}

const KpStoredRecord *
kp_record_store_get(KpRecordStore *store, const guint8 *key, gsize len, gint64 now_ms)
{
        g_autoptr(GBytes) k = g_bytes_new_static(key, len);
        KpStoredRecord *r = g_hash_table_lookup(store->records, k);

        if (r == NULL || r->expires_ms <= now_ms)
                return NULL;
        return r;
}

gboolean
kp_record_store_remove(KpRecordStore *store, const guint8 *key, gsize len)
{
        g_autoptr(GBytes) k = g_bytes_new_static(key, len);
        KpStoredRecord *r = g_hash_table_lookup(store->records, k);

        if (r == NULL)
                return FALSE;
        remove_record(store, r);
        return TRUE;
}

guint
kp_record_store_expire(KpRecordStore *store, gint64 now_ms)
{
        g_autoptr(GPtrArray) dead = g_ptr_array_new();
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, store->records);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                KpStoredRecord *r = value;
                if (r->expires_ms <= now_ms)
                        g_ptr_array_add(dead, r);
        }
        for (guint i = 0; i < dead->len; i++)
                remove_record(store, dead->pdata[i]);
        return dead->len;
}

GPtrArray *
kp_record_store_take_due(KpRecordStore *store, gint64 now_ms)
{
        GPtrArray *due = g_ptr_array_new();
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, store->records);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                KpStoredRecord *r = value;
                if (r->local && r->republish_ms <= now_ms) {
                        r->republish_ms = now_ms + KP_RECORD_REPUBLISH_MS;
                        g_ptr_array_add(due, r);
                }
        }
        return due;
}

guint
kp_record_store_size(KpRecordStore *store)
{
        return g_hash_table_size(store->records);
}

gsize
kp_record_store_bytes(KpRecordStore *store)
{
        return store->bytes;
}
