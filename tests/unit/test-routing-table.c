/* k-buckets: insertion, refusal when full, replace-on-failure, dead peers,
 * closest-peer selection. */
#include "dht/kp-routing-table.h"
#include "kp-test-peers.h"
#include "kp-test-util.h"

static void
test_rt_insert(void)
{
        KpPeerId self, a;
        g_autoptr(KpRoutingTable) rt = NULL;
        g_autoptr(GPtrArray) addrs
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        g_autoptr(GPtrArray) other
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        const KpRoutingEntry *e;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(1, &a);
        rt = kp_routing_table_new(&self, KP_KAD_K);
        g_assert_cmpint(kp_routing_table_add(rt, &self, NULL, FALSE, 0), ==, KP_ROUTING_TABLE_SELF);
        g_assert_cmpuint(kp_routing_table_size(rt), ==, 0);
        g_ptr_array_add(addrs, kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/1", NULL));
        g_assert_cmpint(kp_routing_table_add(rt, &a, addrs, FALSE, 10), ==, KP_ROUTING_TABLE_ADDED);
        g_assert_cmpint(kp_routing_table_add(rt, &a, addrs, FALSE, 20), ==,
                        KP_ROUTING_TABLE_UPDATED);
        g_assert_cmpuint(kp_routing_table_size(rt), ==, 1);
        e = kp_routing_table_lookup(rt, &a);
        g_assert_nonnull(e);
        g_assert_cmpint(e->added_ms, ==, 10);
        g_assert_cmpint(e->last_seen_ms, ==, 20);
        g_assert_cmpuint(e->peer->addrs->len, ==, 1);
        g_ptr_array_add(other, kp_multiaddr_new_from_string("/ip4/127.0.0.2/tcp/2", NULL));
        kp_routing_table_add(rt, &a, other, FALSE, 30);
        g_assert_cmpuint(e->peer->addrs->len, ==, 2); /* merged */
        kp_routing_table_add(rt, &a, other, TRUE, 40);
        g_assert_cmpuint(e->peer->addrs->len, ==, 1); /* replaced */
        g_assert_true(kp_multiaddr_equal(e->peer->addrs->pdata[0], other->pdata[0]));
        g_assert_true(kp_routing_table_remove(rt, &a));
        g_assert_false(kp_routing_table_remove(rt, &a));
        g_assert_null(kp_routing_table_lookup(rt, &a));
}

/* Peers that land in bucket 0 (differ from us in the first bit). */
static GArray *
bucket0_peers(KpRoutingTable *rt, guint want)
{
        GArray *out = g_array_new(FALSE, FALSE, sizeof(KpPeerId));

        for (guint n = 1; out->len < want; n++) {
                KpPeerId id;
                KpKadKey key;
                kp_test_peer_id(n, &id);
                kp_kad_key_from_peer_id(&id, &key);
                if (kp_routing_table_bucket_index(rt, &key) == 0)
                        g_array_append_val(out, id);
        }
        return out;
}

static void
test_rt_full_bucket(void)
{
        KpPeerId self;
        g_autoptr(KpRoutingTable) rt = NULL;
        g_autoptr(GArray) peers = NULL;
        KpPeerId *p;

        kp_test_peer_id(0, &self);
        rt = kp_routing_table_new(&self, KP_KAD_K);
        peers = bucket0_peers(rt, KP_KAD_K + 3);
        p = (KpPeerId *)peers->data;
        for (guint i = 0; i < KP_KAD_K; i++)
                g_assert_cmpint(kp_routing_table_add(rt, &p[i], NULL, FALSE, i), ==,
                                KP_ROUTING_TABLE_ADDED);
        g_assert_cmpuint(kp_routing_table_bucket_size(rt, 0), ==, KP_KAD_K);
        /* full of healthy peers: the newcomer is refused, the old kept */
        g_assert_cmpint(kp_routing_table_add(rt, &p[KP_KAD_K], NULL, FALSE, 100), ==,
                        KP_ROUTING_TABLE_FULL);
        g_assert_null(kp_routing_table_lookup(rt, &p[KP_KAD_K]));
        /* one failure makes a peer replaceable */
        g_assert_false(kp_routing_table_mark_failed(rt, &p[5]));
        g_assert_nonnull(kp_routing_table_lookup(rt, &p[5]));
        g_assert_cmpint(kp_routing_table_add(rt, &p[KP_KAD_K], NULL, FALSE, 101), ==,
                        KP_ROUTING_TABLE_REPLACED);
        g_assert_null(kp_routing_table_lookup(rt, &p[5]));
        g_assert_nonnull(kp_routing_table_lookup(rt, &p[KP_KAD_K]));
        g_assert_cmpuint(kp_routing_table_bucket_size(rt, 0), ==, KP_KAD_K);
        /* a sign of life clears the failure count */
        kp_routing_table_mark_failed(rt, &p[6]);
        kp_routing_table_add(rt, &p[6], NULL, FALSE, 102);
        g_assert_cmpint(kp_routing_table_add(rt, &p[KP_KAD_K + 1], NULL, FALSE, 103), ==,
                        KP_ROUTING_TABLE_FULL);
        /* KP_ROUTING_TABLE_MAX_FAILURES in a row: dead and evicted */
        for (guint i = 1; i < KP_ROUTING_TABLE_MAX_FAILURES; i++)
                g_assert_false(kp_routing_table_mark_failed(rt, &p[7]));
        g_assert_true(kp_routing_table_mark_failed(rt, &p[7]));
        g_assert_null(kp_routing_table_lookup(rt, &p[7]));
        g_assert_cmpuint(kp_routing_table_size(rt), ==, KP_KAD_K - 1);
        g_assert_cmpint(kp_routing_table_add(rt, &p[KP_KAD_K + 1], NULL, FALSE, 104), ==,
                        KP_ROUTING_TABLE_ADDED);
        g_assert_false(kp_routing_table_mark_failed(rt, &p[KP_KAD_K + 2])); /* unknown */
}

static int
cmp_by_distance(gconstpointer a, gconstpointer b, gpointer target)
{
        KpKadKey ka, kb;

        kp_kad_key_from_peer_id(a, &ka);
        kp_kad_key_from_peer_id(b, &kb);
        return kp_kad_key_cmp_distance(target, &ka, &kb);
}

static void
test_rt_closest(void)
{
        KpPeerId self, excluded;
        g_autoptr(KpRoutingTable) rt = NULL;
        g_autoptr(GArray) present = g_array_new(FALSE, FALSE, sizeof(KpPeerId));
        g_autoptr(GPtrArray) closest = NULL;
        KpKadKey target;

        kp_test_peer_id(0, &self);
        rt = kp_routing_table_new(&self, KP_KAD_K);
        for (guint n = 1; n <= 300; n++) {
                KpPeerId id;
                kp_test_peer_id(n, &id);
                if (kp_routing_table_add(rt, &id, NULL, FALSE, n) == KP_ROUTING_TABLE_ADDED)
                        g_array_append_val(present, id);
        }
        /* bucket 0 and 1 overflowed, so some were refused */
        g_assert_cmpuint(present->len, <, 300);
        g_assert_cmpuint(kp_routing_table_size(rt), ==, present->len);
        kp_kad_key_from_bytes((const guint8 *)"some key", 8, &target);
        g_array_sort_with_data(present, cmp_by_distance, &target);
        closest = kp_routing_table_closest(rt, &target, KP_KAD_K, NULL);
        g_assert_cmpuint(closest->len, ==, KP_KAD_K);
        for (guint i = 0; i < KP_KAD_K; i++) {
                const KpRoutingEntry *e = closest->pdata[i];
                g_assert_true(kp_peer_id_equal(&e->peer->id, &g_array_index(present, KpPeerId, i)));
        }
        /* the closest can be excluded (the requester itself) */
        excluded = g_array_index(present, KpPeerId, 0);
        g_clear_pointer(&closest, g_ptr_array_unref);
        closest = kp_routing_table_closest(rt, &target, 3, &excluded);
        g_assert_cmpuint(closest->len, ==, 3);
        g_assert_true(kp_peer_id_equal(&((KpRoutingEntry *)closest->pdata[0])->peer->id,
                                       &g_array_index(present, KpPeerId, 1)));
        /* fewer peers than asked for */
        g_clear_pointer(&closest, g_ptr_array_unref);
        closest = kp_routing_table_closest(rt, &target, 1000, NULL);
        g_assert_cmpuint(closest->len, ==, present->len);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/routing-table/insert", test_rt_insert);
        g_test_add_func("/routing-table/full-bucket", test_rt_full_bucket);
        g_test_add_func("/routing-table/closest", test_rt_closest);
        return g_test_run();
}
