#include "dht/kp-kad-query.h"

typedef struct {
        KpKadPeer *peer;
        KpKadKey key;
        KpKadPeerState state;
        gint64 deadline_ms;
        guint hops;
} QueryPeer;

struct _KpKadQuery {
        KpKadKey target;
        KpPeerId self;
        guint k, alpha;
        gint64 request_timeout_ms;
        gint64 deadline_ms;
        GPtrArray *peers; /* QueryPeer*, closest first */
        guint in_flight;
        guint n_requests;
        gboolean timed_out;
};

static void
query_peer_free(QueryPeer *p)
{
        kp_kad_peer_free(p->peer);
        g_free(p);
}

KpKadQuery *
kp_kad_query_new(const KpKadKey *target, const KpPeerId *self, guint k, guint alpha,
                 gint64 request_timeout_ms, gint64 query_timeout_ms, gint64 now_ms)
{
        KpKadQuery *q = g_new0(KpKadQuery, 1);

        q->target = *target;
        q->self = *self;
        q->k = MAX(k, 1);
        q->alpha = MAX(alpha, 1);
        q->request_timeout_ms = request_timeout_ms;
        q->deadline_ms = now_ms + query_timeout_ms;
        q->peers = g_ptr_array_new_with_free_func((GDestroyNotify)query_peer_free);
        return q;
}

void
kp_kad_query_free(KpKadQuery *q)
{
        if (q == NULL)
                return;
        g_ptr_array_unref(q->peers);
        g_free(q);
}

static QueryPeer *
find(KpKadQuery *q, const KpPeerId *id)
{
        for (guint i = 0; i < q->peers->len; i++) {
                QueryPeer *p = q->peers->pdata[i];
                if (kp_peer_id_equal(&p->peer->id, id))
                        return p;
        }
        return NULL;
}

static void
insert_sorted(KpKadQuery *q, QueryPeer *np)
{
        guint i = q->peers->len;

        while (i > 0) {
                QueryPeer *p = q->peers->pdata[i - 1];
                if (kp_kad_key_cmp_distance(&q->target, &p->key, &np->key) <= 0)
                        break;
                i--;
        }
        g_ptr_array_insert(q->peers, i, np);
        /* Keep the list bounded: drop the furthest peer not in flight. */
        if (q->peers->len > KP_KAD_QUERY_MAX_PEERS) {
                for (guint j = q->peers->len; j-- > 0;) {
                        QueryPeer *p = q->peers->pdata[j];
                        if (p->state != KP_KAD_PEER_WAITING) {
                                g_ptr_array_remove_index(q->peers, j);
                                break;
                        }
                }
        }
}

void
kp_kad_query_add_peers(KpKadQuery *q, GPtrArray *peers, const KpPeerId *from)
{
        QueryPeer *parent = from != NULL ? find(q, from) : NULL;
        guint hops = parent != NULL ? parent->hops + 1 : 1;

        for (guint i = 0; peers != NULL && i < peers->len; i++) {
                const KpKadPeer *peer = peers->pdata[i];
                QueryPeer *p;

                if (kp_peer_id_equal(&peer->id, &q->self))
                        continue;
                p = find(q, &peer->id);
                if (p != NULL) {
                        for (guint j = 0; j < peer->addrs->len; j++)
                                kp_kad_peer_add_addr(p->peer, peer->addrs->pdata[j]);
                        continue;
                }
                p = g_new0(QueryPeer, 1);
                p->peer = kp_kad_peer_copy(peer);
                kp_kad_key_from_peer_id(&peer->id, &p->key);
                p->state = KP_KAD_PEER_CANDIDATE;
                p->hops = hops;
                insert_sorted(q, p);
        }
}

static void
apply_timeouts(KpKadQuery *q, gint64 now_ms)
{
        for (guint i = 0; i < q->peers->len; i++) {
                QueryPeer *p = q->peers->pdata[i];
                if (p->state == KP_KAD_PEER_WAITING && p->deadline_ms <= now_ms) {
                        p->state = KP_KAD_PEER_FAILED;
                        q->in_flight--;
                }
        }
        if (now_ms >= q->deadline_ms)
                q->timed_out = TRUE;
}

/* The first k peers that have not failed: the ones that decide the end. */
static gboolean
closest_all_answered(KpKadQuery *q, QueryPeer **ret_next)
{
        guint seen = 0;
        gboolean all = TRUE;

        *ret_next = NULL;
        for (guint i = 0; i < q->peers->len && seen < q->k; i++) {
                QueryPeer *p = q->peers->pdata[i];
                if (p->state == KP_KAD_PEER_FAILED)
                        continue;
                seen++;
                if (p->state == KP_KAD_PEER_SUCCEEDED)
                        continue;
                all = FALSE;
                if (p->state == KP_KAD_PEER_CANDIDATE && *ret_next == NULL)
                        *ret_next = p;
        }
        return all;
}

const KpKadPeer *
kp_kad_query_next(KpKadQuery *q, gint64 now_ms)
{
        QueryPeer *next;

        apply_timeouts(q, now_ms);
        if (q->timed_out || q->in_flight >= q->alpha)
                return NULL;
        if (closest_all_answered(q, &next) || next == NULL)
                return NULL;
        next->state = KP_KAD_PEER_WAITING;
        next->deadline_ms = now_ms + q->request_timeout_ms;
        q->in_flight++;
        q->n_requests++;
        return next->peer;
}

void
kp_kad_query_on_success(KpKadQuery *q, const KpPeerId *id, GPtrArray *closer)
{
        QueryPeer *p = find(q, id);

        if (p == NULL || p->state != KP_KAD_PEER_WAITING)
                return;
        p->state = KP_KAD_PEER_SUCCEEDED;
        q->in_flight--;
        kp_kad_query_add_peers(q, closer, id);
}

void
kp_kad_query_on_failure(KpKadQuery *q, const KpPeerId *id)
{
        QueryPeer *p = find(q, id);

        if (p == NULL || p->state != KP_KAD_PEER_WAITING)
                return;
        p->state = KP_KAD_PEER_FAILED;
        q->in_flight--;
}

KpKadQueryStatus
kp_kad_query_poll(KpKadQuery *q, gint64 now_ms)
{
        QueryPeer *next;

        apply_timeouts(q, now_ms);
        if (q->timed_out)
                return KP_KAD_QUERY_TIMED_OUT;
        if (closest_all_answered(q, &next))
                return KP_KAD_QUERY_FINISHED;
        if (next == NULL && q->in_flight == 0)
                return KP_KAD_QUERY_FINISHED;
        return KP_KAD_QUERY_RUNNING;
}

gint64
kp_kad_query_next_deadline(KpKadQuery *q)
{
        gint64 when = q->deadline_ms;

        for (guint i = 0; i < q->peers->len; i++) {
                QueryPeer *p = q->peers->pdata[i];
                if (p->state == KP_KAD_PEER_WAITING)
                        when = MIN(when, p->deadline_ms);
        }
        return when;
}

GPtrArray *
kp_kad_query_get_closest(KpKadQuery *q, guint n)
{
        GPtrArray *out = g_ptr_array_new();

        for (guint i = 0; i < q->peers->len && out->len < n; i++) {
                QueryPeer *p = q->peers->pdata[i];
                if (p->state == KP_KAD_PEER_SUCCEEDED)
                        g_ptr_array_add(out, p->peer);
        }
        return out;
}

KpKadPeerState
kp_kad_query_get_state(KpKadQuery *q, const KpPeerId *id)
{
        QueryPeer *p = find(q, id);

        return p != NULL ? p->state : KP_KAD_PEER_CANDIDATE;
}

guint
kp_kad_query_get_hops(KpKadQuery *q, const KpPeerId *id)
{
        QueryPeer *p = find(q, id);

        return p != NULL ? p->hops : 0;
}

guint
kp_kad_query_get_n_in_flight(KpKadQuery *q)
{
        return q->in_flight;
}

guint
kp_kad_query_get_n_requests(KpKadQuery *q)
{
        return q->n_requests;
}
