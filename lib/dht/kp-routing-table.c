#include "dht/kp-routing-table.h"

struct _KpRoutingTable {
        KpPeerId self;
        KpKadKey self_key;
        guint k;
        GPtrArray *buckets[KP_KAD_KEY_BITS]; /* KpRoutingEntry*, oldest first */
        guint size;
};

static void
entry_free(KpRoutingEntry *e)
{
        kp_kad_peer_free(e->peer);
        g_free(e);
}

KpRoutingTable *
kp_routing_table_new(const KpPeerId *self, guint k)
{
        KpRoutingTable *rt = g_new0(KpRoutingTable, 1);

        rt->self = *self;
        kp_kad_key_from_peer_id(self, &rt->self_key);
        rt->k = k;
        for (guint i = 0; i < KP_KAD_KEY_BITS; i++)
                rt->buckets[i] = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
        return rt;
}

void
kp_routing_table_free(KpRoutingTable *rt)
{
        if (rt == NULL)
                return;
        for (guint i = 0; i < KP_KAD_KEY_BITS; i++)
                g_ptr_array_unref(rt->buckets[i]);
        g_free(rt);
}

guint
kp_routing_table_bucket_index(KpRoutingTable *rt, const KpKadKey *key)
{
        guint cpl = kp_kad_key_common_prefix_len(&rt->self_key, key);

        return MIN(cpl, KP_KAD_KEY_BITS - 1);
}

static KpRoutingEntry *
find(KpRoutingTable *rt, const KpPeerId *id, GPtrArray **ret_bucket, guint *ret_index)
{
        KpKadKey key;
        GPtrArray *bucket;

        kp_kad_key_from_peer_id(id, &key);
        bucket = rt->buckets[kp_routing_table_bucket_index(rt, &key)];
        if (ret_bucket != NULL)
                *ret_bucket = bucket;
        for (guint i = 0; i < bucket->len; i++) {
                KpRoutingEntry *e = bucket->pdata[i];
                if (kp_peer_id_equal(&e->peer->id, id)) {
                        if (ret_index != NULL)
                                *ret_index = i;
                        return e;
                }
        }
        return NULL;
}

static void
set_addrs(KpRoutingEntry *e, GPtrArray *addrs, gboolean replace)
{
        if (addrs == NULL || (replace && addrs->len == 0))
                return;
        if (replace)
                g_ptr_array_set_size(e->peer->addrs, 0);
        for (guint i = 0; i < addrs->len; i++)
                kp_kad_peer_add_addr(e->peer, addrs->pdata[i]);
}

KpRoutingTableResult
kp_routing_table_add(KpRoutingTable *rt, const KpPeerId *id, GPtrArray *addrs,
                     gboolean replace_addrs, gint64 now_ms)
{
        GPtrArray *bucket = NULL;
        guint index = 0;
        KpRoutingEntry *e;
        KpRoutingTableResult result = KP_ROUTING_TABLE_ADDED;

        if (kp_peer_id_equal(id, &rt->self))
                return KP_ROUTING_TABLE_SELF;
        e = find(rt, id, &bucket, &index);
        if (e != NULL) {
                e->last_seen_ms = now_ms;
                e->failures = 0;
                set_addrs(e, addrs, replace_addrs);
                /* most recently seen last */
                g_ptr_array_steal_index(bucket, index);
                g_ptr_array_add(bucket, e);
                return KP_ROUTING_TABLE_UPDATED;
        }
        if (bucket->len >= rt->k) {
                KpRoutingEntry *worst = NULL;
                guint worst_index = 0;
                for (guint i = 0; i < bucket->len; i++) {
                        KpRoutingEntry *c = bucket->pdata[i];
                        if (c->failures == 0)
                                continue;
                        if (worst == NULL || c->failures > worst->failures
                            || (c->failures == worst->failures
                                && c->last_seen_ms < worst->last_seen_ms)) {
                                worst = c;
                                worst_index = i;
                        }
                }
                if (worst == NULL)
                        return KP_ROUTING_TABLE_FULL;
                g_ptr_array_remove_index(bucket, worst_index);
                rt->size--;
                result = KP_ROUTING_TABLE_REPLACED;
        }
        e = g_new0(KpRoutingEntry, 1);
        e->peer = kp_kad_peer_new(id);
        kp_kad_key_from_peer_id(id, &e->key);
        e->added_ms = now_ms;
        e->last_seen_ms = now_ms;
        set_addrs(e, addrs, FALSE);
        g_ptr_array_add(bucket, e);
        rt->size++;
        return result;
}

gboolean
kp_routing_table_mark_failed(KpRoutingTable *rt, const KpPeerId *id)
{
        KpRoutingEntry *e = find(rt, id, NULL, NULL);

        if (e == NULL)
                return FALSE;
        if (++e->failures < KP_ROUTING_TABLE_MAX_FAILURES)
                return FALSE;
        return kp_routing_table_remove(rt, id);
}

gboolean
kp_routing_table_remove(KpRoutingTable *rt, const KpPeerId *id)
{
        GPtrArray *bucket = NULL;
        guint index = 0;

        if (find(rt, id, &bucket, &index) == NULL)
                return FALSE;
        g_ptr_array_remove_index(bucket, index);
        rt->size--;
        return TRUE;
}

const KpRoutingEntry *
kp_routing_table_lookup(KpRoutingTable *rt, const KpPeerId *id)
{
        return find(rt, id, NULL, NULL);
}

guint
kp_routing_table_size(KpRoutingTable *rt)
{
        return rt->size;
}

guint
kp_routing_table_bucket_size(KpRoutingTable *rt, guint bucket)
{
        return bucket < KP_KAD_KEY_BITS ? rt->buckets[bucket]->len : 0;
}

static int
cmp_entries(gconstpointer a, gconstpointer b, gpointer target)
{
        const KpRoutingEntry *ea = *(KpRoutingEntry *const *)a;
        const KpRoutingEntry *eb = *(KpRoutingEntry *const *)b;

        return kp_kad_key_cmp_distance(target, &ea->key, &eb->key);
}

GPtrArray *
kp_routing_table_closest(KpRoutingTable *rt, const KpKadKey *target, guint n,
                         const KpPeerId *exclude)
{
        GPtrArray *all = g_ptr_array_new();

        for (guint i = 0; i < KP_KAD_KEY_BITS; i++) {
                GPtrArray *bucket = rt->buckets[i];
                for (guint j = 0; j < bucket->len; j++) {
                        KpRoutingEntry *e = bucket->pdata[j];
                        if (exclude != NULL && kp_peer_id_equal(&e->peer->id, exclude))
                                continue;
                        g_ptr_array_add(all, e);
                }
        }
        g_ptr_array_sort_with_data(all, cmp_entries, (gpointer)target);
        if (all->len > n)
                g_ptr_array_set_size(all, n);
        return all;
}
