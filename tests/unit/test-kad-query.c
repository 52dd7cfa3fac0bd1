/* The iterative lookup against a simulated network: every node has a real
 * routing table and answers FIND_NODE with its k closest; requests are
 * answered out of order, some nodes are dead, time is simulated. */
#include "dht/kp-kad-query.h"
#include "dht/kp-routing-table.h"
#include "kp-test-peers.h"
#include <string.h>

#include "kp-test-util.h"

#define N_NODES 300

typedef struct {
        KpPeerId ids[N_NODES];
        KpRoutingTable *tables[N_NODES];
        gboolean dead[N_NODES];
} Net;

static Net *
net_new(void)
{
        Net *net = g_new0(Net, 1);

        for (guint i = 0; i < N_NODES; i++)
                kp_test_peer_id(i, &net->ids[i]);
        for (guint i = 0; i < N_NODES; i++) {
                net->tables[i] = kp_routing_table_new(&net->ids[i], KP_KAD_K);
                for (guint j = 0; j < N_NODES; j++)
                        kp_routing_table_add(net->tables[i], &net->ids[j], NULL, FALSE, 0);
        }
        return net;
}

static void
net_free(Net *net)
{
        for (guint i = 0; i < N_NODES; i++)
                kp_routing_table_free(net->tables[i]);
        g_free(net);
}

static guint
net_index(Net *net, const KpPeerId *id)
{
        for (guint i = 0; i < N_NODES; i++)
                if (kp_peer_id_equal(&net->ids[i], id))
                        return i;
        g_assert_not_reached();
}

static GPtrArray *
closest_as_peers(KpRoutingTable *rt, const KpKadKey *target, guint n)
{
        g_autoptr(GPtrArray) entries = kp_routing_table_closest(rt, target, n, NULL);
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);

        for (guint i = 0; i < entries->len; i++)
                g_ptr_array_add(out, kp_kad_peer_copy(((KpRoutingEntry *)entries->pdata[i])->peer));
        return out;
}

/* Runs a lookup from node 0; returns the status, fills the max in flight. */
static KpKadQueryStatus
run_lookup(Net *net, KpKadQuery *q, const KpKadKey *target, guint *ret_max_in_flight,
           guint *ret_rounds)
{
        g_autoptr(GPtrArray) seeds = closest_as_peers(net->tables[0], target, KP_KAD_ALPHA);
        g_autoptr(GPtrArray) pending = g_ptr_array_new(); /* KpPeerId* into net->ids */
        gint64 now = 0;
        KpKadQueryStatus status;
        guint rounds = 0;

        kp_kad_query_add_peers(q, seeds, NULL);
        *ret_max_in_flight = 0;
        while ((status = kp_kad_query_poll(q, now)) == KP_KAD_QUERY_RUNNING) {
                const KpKadPeer *next;
                guint pick;
                KpPeerId *id;
                guint idx;

                while ((next = kp_kad_query_next(q, now)) != NULL)
                        g_ptr_array_add(pending, &net->ids[net_index(net, &next->id)]);
                *ret_max_in_flight = MAX(*ret_max_in_flight, kp_kad_query_get_n_in_flight(q));
                g_assert_cmpuint(pending->len, >, 0);
                /* answer out of order */
                pick = (rounds * 7) % pending->len;
                id = g_ptr_array_steal_index(pending, pick);
                idx = net_index(net, id);
                now += 5;
                if (net->dead[idx]) {
                        /* dead nodes refuse the connection */
                        kp_kad_query_on_failure(q, id);
                        continue;
                }
                {
                        g_autoptr(GPtrArray) closer
                            = closest_as_peers(net->tables[idx], target, KP_KAD_K);
                        kp_kad_query_on_success(q, id, closer);
                }
                rounds++;
        }
        if (ret_rounds != NULL)
                *ret_rounds = rounds;
        return status;
}

static int
cmp_ids(gconstpointer a, gconstpointer b, gpointer target)
{
        KpKadKey ka, kb;

        kp_kad_key_from_peer_id(a, &ka);
        kp_kad_key_from_peer_id(b, &kb);
        return kp_kad_key_cmp_distance(target, &ka, &kb);
}

static void
check_found_true_closest(Net *net, KpKadQuery *q, const KpKadKey *target)
{
        g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(KpPeerId));
        g_autoptr(GPtrArray) found = kp_kad_query_get_closest(q, KP_KAD_K);

        for (guint i = 1; i < N_NODES; i++)
                if (!net->dead[i])
                        g_array_append_val(live, net->ids[i]);
        g_array_sort_with_data(live, cmp_ids, (gpointer)target);
        g_assert_cmpuint(found->len, ==, KP_KAD_K);
        for (guint i = 0; i < KP_KAD_K; i++)
                g_assert_true(kp_peer_id_equal(&((KpKadPeer *)found->pdata[i])->id,
                                               &g_array_index(live, KpPeerId, i)));
}

static void
test_query_finds_closest(void)
{
        Net *net = net_new();

        for (guint t = 0; t < 5; t++) {
                g_autofree char *name = g_strdup_printf("target-%u", t);
                KpKadKey target;
                g_autoptr(KpKadQuery) q = NULL;
                guint max_in_flight = 0, rounds = 0;

                kp_kad_key_from_bytes((const guint8 *)name, strlen(name), &target);
                q = kp_kad_query_new(&target, &net->ids[0], KP_KAD_K, KP_KAD_ALPHA, 1000, 60000, 0);
                g_assert_cmpint(run_lookup(net, q, &target, &max_in_flight, &rounds), ==,
                                KP_KAD_QUERY_FINISHED);
                g_assert_cmpuint(max_in_flight, <=, KP_KAD_ALPHA);
                g_assert_cmpuint(max_in_flight, ==, KP_KAD_ALPHA);
                check_found_true_closest(net, q, &target);
                /* it did not have to ask the whole network */
                g_assert_cmpuint(kp_kad_query_get_n_requests(q), <, N_NODES / 2);
                g_assert_cmpuint(kp_kad_query_get_n_requests(q), >=, KP_KAD_K);
        }
        net_free(net);
}

static void
test_query_dead_nodes(void)
{
        Net *net = net_new();
        KpKadKey target;
        g_autoptr(KpKadQuery) q = NULL;
        guint max_in_flight = 0;

        /* A third of the network is gone and node 0 does not know it; the
         * others have evicted them, except node 5, which still names them. */
        for (guint i = 1; i < N_NODES; i += 3) {
                net->dead[i] = TRUE;
                for (guint j = 1; j < N_NODES; j++)
                        if (j != 5)
                                kp_routing_table_remove(net->tables[j], &net->ids[i]);
        }
        kp_kad_key_from_bytes((const guint8 *)"x", 1, &target);
        q = kp_kad_query_new(&target, &net->ids[0], KP_KAD_K, KP_KAD_ALPHA, 1000, 10 * 60 * 1000,
                             0);
        g_assert_cmpint(run_lookup(net, q, &target, &max_in_flight, NULL), ==,
                        KP_KAD_QUERY_FINISHED);
        check_found_true_closest(net, q, &target);
        for (guint i = 1; i < N_NODES; i += 3)
                g_assert_cmpint(kp_kad_query_get_state(q, &net->ids[i]), !=, KP_KAD_PEER_SUCCEEDED);
        net_free(net);
}

static void
test_query_timeouts(void)
{
        KpPeerId self, a, b;
        KpKadKey target;
        g_autoptr(KpKadQuery) q = NULL;
        g_autoptr(GPtrArray) seeds
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);
        const KpKadPeer *p;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(1, &a);
        kp_test_peer_id(2, &b);
        kp_kad_key_from_bytes((const guint8 *)"t", 1, &target);
        q = kp_kad_query_new(&target, &self, KP_KAD_K, 1, 100, 250, 0);
        g_ptr_array_add(seeds, kp_kad_peer_new(&a));
        g_ptr_array_add(seeds, kp_kad_peer_new(&b));
        g_ptr_array_add(seeds, kp_kad_peer_new(&self)); /* never queries itself */
        kp_kad_query_add_peers(q, seeds, NULL);
        p = kp_kad_query_next(q, 0);
        g_assert_nonnull(p);
        g_assert_null(kp_kad_query_next(q, 0)); /* alpha = 1 */
        g_assert_cmpint(kp_kad_query_next_deadline(q), ==, 100);
        g_assert_cmpint(kp_kad_query_poll(q, 99), ==, KP_KAD_QUERY_RUNNING);
        /* the request times out: the other seed is asked */
        g_assert_cmpint(kp_kad_query_poll(q, 100), ==, KP_KAD_QUERY_RUNNING);
        g_assert_cmpint(kp_kad_query_get_state(q, &p->id), ==, KP_KAD_PEER_FAILED);
        /* a late answer from a timed-out peer is ignored */
        kp_kad_query_on_success(q, &p->id, NULL);
        g_assert_cmpint(kp_kad_query_get_state(q, &p->id), ==, KP_KAD_PEER_FAILED);
        p = kp_kad_query_next(q, 100);
        g_assert_nonnull(p);
        g_assert_cmpint(kp_kad_query_next_deadline(q), ==, 200);
        /* and then the whole query times out */
        g_assert_cmpint(kp_kad_query_poll(q, 250), ==, KP_KAD_QUERY_TIMED_OUT);
        g_assert_null(kp_kad_query_next(q, 250));
        g_assert_cmpint(kp_kad_query_get_state(q, &self), ==, KP_KAD_PEER_CANDIDATE);
}

static void
test_query_exhausted_and_hops(void)
{
        KpPeerId self, a, b, c;
        KpKadKey target;
        g_autoptr(KpKadQuery) q = NULL;
        g_autoptr(GPtrArray) seeds
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);
        g_autoptr(GPtrArray) named
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_kad_peer_free);
        g_autoptr(GPtrArray) closest = NULL;
        const KpKadPeer *p;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(1, &a);
        kp_test_peer_id(2, &b);
        kp_test_peer_id(3, &c);
        kp_kad_key_from_bytes((const guint8 *)"t", 1, &target);
        q = kp_kad_query_new(&target, &self, KP_KAD_K, KP_KAD_ALPHA, 100, 1000, 0);
        /* no one known: finished at once, empty */
        g_assert_cmpint(kp_kad_query_poll(q, 0), ==, KP_KAD_QUERY_FINISHED);
        g_ptr_array_add(seeds, kp_kad_peer_new(&a));
        kp_kad_query_add_peers(q, seeds, NULL);
        p = kp_kad_query_next(q, 0);
        g_assert_true(kp_peer_id_equal(&p->id, &a));
        g_ptr_array_add(named, kp_kad_peer_new(&b));
        kp_kad_query_on_success(q, &a, named);
        g_assert_cmpuint(kp_kad_query_get_hops(q, &a), ==, 1);
        g_assert_cmpuint(kp_kad_query_get_hops(q, &b), ==, 2);
        p = kp_kad_query_next(q, 1);
        g_assert_true(kp_peer_id_equal(&p->id, &b));
        g_ptr_array_set_size(named, 0);
        g_ptr_array_add(named, kp_kad_peer_new(&c));
        g_ptr_array_add(named, kp_kad_peer_new(&a)); /* already known: no new hop */
        kp_kad_query_on_success(q, &b, named);
        g_assert_cmpuint(kp_kad_query_get_hops(q, &c), ==, 3);
        g_assert_cmpuint(kp_kad_query_get_hops(q, &a), ==, 1);
        p = kp_kad_query_next(q, 2);
        kp_kad_query_on_failure(q, &p->id);
        /* everyone asked, fewer than k answered: finished */
        g_assert_cmpint(kp_kad_query_poll(q, 3), ==, KP_KAD_QUERY_FINISHED);
        closest = kp_kad_query_get_closest(q, KP_KAD_K);
        g_assert_cmpuint(closest->len, ==, 2);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kad-query/finds-closest", test_query_finds_closest);
        g_test_add_func("/kad-query/dead-nodes", test_query_dead_nodes);
        g_test_add_func("/kad-query/timeouts", test_query_timeouts);
        g_test_add_func("/kad-query/exhausted-and-hops", test_query_exhausted_and_hops);
        return g_test_run();
}
