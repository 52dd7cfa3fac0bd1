#include "dht/kp-provider-store.h"

#include "core/kp-error.h"

typedef struct {
        KpKadPeer *peer;
        gint64 expires_ms;   /* G_MAXINT64 for ourselves */
        gint64 republish_ms; /* ourselves only */
} KpProvider;

struct _KpProviderStore {
        KpPeerId self;
        GHashTable *keys;     /* GBytes -> GPtrArray of KpProvider* */
        GHashTable *per_peer; /* base58 peer id -> count of keys */
        guint total;
        guint max_total;
        guint max_per_peer;
};

static void
provider_free(KpProvider *p)
{
        kp_kad_peer_free(p->peer);
        g_free(p);
}

void
kp_provider_store_set_limits(KpProviderStore *store, guint max_total, guint max_per_peer)
{
        g_return_if_fail(max_total >= KP_PROVIDER_STORE_LIMIT_MIN
                         && max_total <= KP_PROVIDER_STORE_LIMIT_MAX);
        g_return_if_fail(max_per_peer >= KP_PROVIDER_STORE_LIMIT_MIN
                         && max_per_peer <= KP_PROVIDER_STORE_LIMIT_MAX);
        store->max_total = max_total;
        store->max_per_peer = max_per_peer;
}

KpProviderStore *
kp_provider_store_new(const KpPeerId *self)
{
        KpProviderStore *store = g_new0(KpProviderStore, 1);

        store->self = *self;
        store->max_total = KP_PROVIDER_STORE_MAX_TOTAL;
        store->max_per_peer = KP_PROVIDER_STORE_MAX_PER_PEER;
        store->keys
            = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref,
                                    (GDestroyNotify)g_ptr_array_unref);
        store->per_peer = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        return store;
}

void
kp_provider_store_free(KpProviderStore *store)
{
        if (store == NULL)
                return;
        g_hash_table_unref(store->keys);
        g_hash_table_unref(store->per_peer);
        g_free(store);
}

static void
count_peer(KpProviderStore *store, const KpPeerId *id, int delta)
{
        g_autofree char *text = kp_peer_id_to_string(id);
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(store->per_peer, text)) + delta;

        store->total += delta;
        if (n == 0)
                g_hash_table_remove(store->per_peer, text);
        else
                g_hash_table_replace(store->per_peer, g_steal_pointer(&text), GUINT_TO_POINTER(n));
}

static guint
peer_count(KpProviderStore *store, const KpPeerId *id)
{
        g_autofree char *text = kp_peer_id_to_string(id);

        return GPOINTER_TO_UINT(g_hash_table_lookup(store->per_peer, text));
}

gboolean
kp_provider_store_add(KpProviderStore *store, GBytes *key, const KpKadPeer *provider, gint64 now_ms,
                      GError **error)
{
        GPtrArray *list = g_hash_table_lookup(store->keys, key);
        gboolean local = kp_peer_id_equal(&provider->id, &store->self);
        KpProvider *p;

        if (g_bytes_get_size(key) > KP_PROVIDER_MAX_KEY) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "provider store: key of %" G_GSIZE_FORMAT " bytes exceeds limit %d",
                            g_bytes_get_size(key), KP_PROVIDER_MAX_KEY);
                return FALSE;
        }
        for (guint i = 0; list != NULL && i < list->len; i++) {
                p = list->pdata[i];
                if (!kp_peer_id_equal(&p->peer->id, &provider->id))
                        continue;
                if (provider->addrs->len > 0) {
                        kp_kad_peer_free(p->peer);
                        p->peer = kp_kad_peer_copy(provider);
                }
                if (!local)
                        p->expires_ms = now_ms + KP_PROVIDER_TTL_MS;
                /* newest last */
                g_ptr_array_steal_index(list, i);
                g_ptr_array_add(list, p);
                return TRUE;
        }
        if (list == NULL && g_hash_table_size(store->keys) >= KP_PROVIDER_STORE_MAX_KEYS) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "provider store holds %d keys already", KP_PROVIDER_STORE_MAX_KEYS);
                return FALSE;
        }
        if (list != NULL && list->len >= KP_PROVIDER_STORE_MAX_PER_KEY) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "provider store holds %d providers of this key already",
                            KP_PROVIDER_STORE_MAX_PER_KEY);
                return FALSE;
        }
        if (store->total >= store->max_total) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "provider store holds %u providers already (MaxDhtProviders)",
                            store->total);
                return FALSE;
        }
        if (!local && peer_count(store, &provider->id) >= store->max_per_peer) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "provider store holds %u keys of this peer already "
                            "(MaxDhtProvidersPerPeer)",
                            peer_count(store, &provider->id));
                return FALSE;
        }
        if (list == NULL) {
                list = g_ptr_array_new_with_free_func((GDestroyNotify)provider_free);
                g_hash_table_insert(store->keys, g_bytes_ref(key), list);
        }
        p = g_new0(KpProvider, 1);
        p->peer = kp_kad_peer_copy(provider);
        if (local) {
                p->expires_ms = G_MAXINT64;
                p->republish_ms = now_ms + KP_PROVIDER_REPUBLISH_MS;
        } else {
                p->expires_ms = now_ms + KP_PROVIDER_TTL_MS;
        }
        g_ptr_array_add(list, p);
        count_peer(store, &provider->id, 1);
        return TRUE;
}

GPtrArray *
kp_provider_store_get(KpProviderStore *store, const guint8 *key, gsize len, gint64 now_ms)
{
        g_autoptr(GBytes) k = g_bytes_new_static(key, len);
        GPtrArray *list = g_hash_table_lookup(store->keys, k);
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);

        for (guint i = 0; list != NULL && i < list->len; i++) {
                KpProvider *p = list->pdata[i];
                if (p->expires_ms > now_ms)
                        g_ptr_array_add(out, kp_kad_peer_copy(p->peer));
        }
        return out;
}

guint
kp_provider_store_expire(KpProviderStore *store, gint64 now_ms)
{
        GHashTableIter iter;
        gpointer value;
        guint removed = 0;

        g_hash_table_iter_init(&iter, store->keys);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                GPtrArray *list = value;
                for (guint i = list->len; i-- > 0;) {
                        KpProvider *p = list->pdata[i];
                        if (p->expires_ms > now_ms)
                                continue;
                        count_peer(store, &p->peer->id, -1);
                        g_ptr_array_remove_index(list, i);
                        removed++;
                }
                if (list->len == 0)
                        g_hash_table_iter_remove(&iter);
        }
        return removed;
}

GPtrArray *
kp_provider_store_take_due(KpProviderStore *store, gint64 now_ms)
{
        GPtrArray *due = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        GHashTableIter iter;
        gpointer key, value;

        g_hash_table_iter_init(&iter, store->keys);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                GPtrArray *list = value;
                for (guint i = 0; i < list->len; i++) {
                        KpProvider *p = list->pdata[i];
                        if (kp_peer_id_equal(&p->peer->id, &store->self)
                            && p->republish_ms <= now_ms) {
                                p->republish_ms = now_ms + KP_PROVIDER_REPUBLISH_MS;
                                g_ptr_array_add(due, g_bytes_ref(key));
                        }
                }
        }
        return due;
}

guint
kp_provider_store_n_keys(KpProviderStore *store)
{
        return g_hash_table_size(store->keys);
}

guint
kp_provider_store_n_providers(KpProviderStore *store)
{
        return store->total;
}
