/* The host: listeners, dials, connections and the protocol handler table. */
#define G_LOG_DOMAIN "kp-net"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/kp-error.h"
#include "net/kp-connection-private.h"
#include "net/kp-log-limiter.h"
#include "net/kp-tcp.h"

#define KP_HOST_LISTEN_BACKLOG 1024

typedef struct {
        KpStreamHandlerFunc func;
        gpointer user_data;
} KpHandler;

typedef struct {
        KpHostCallbacks callbacks;
        gpointer user_data;
} KpHostListener;

static const char *const refusal_limit_names[KP_HOST_REFUSAL_N] = {
        "MaxConnections",          "MaxConnectionsPerIP",
        "MaxPendingHandshakes",    "MaxPendingHandshakesPerIP",
        "MaxStreamsPerConnection",
};

/* Connections from or to one IP address. */
typedef struct {
        guint connections; /* pending and established */
        guint pending;
} KpIpCount;

struct _KpHost {
        const KpKeypair *identity;
        KpPeerId self;
        KpNoiseStaticKey *noise_key;
        GHashTable *handlers;        /* protocol -> KpHandler */
        GPtrArray *protocols;        /* sorted keys of @handlers; replaced, never changed */
        GHashTable *dial_protocols;  /* protocol id -> GPtrArray of it alone, for dialers */
        KpDeadlines *idle_deadlines; /* of open connections */
        GPtrArray *acceptors;        /* KpAcceptor*, one per listening socket */
        GPtrArray *listen_addrs;     /* KpMultiaddr* */
        GHashTable *connections;     /* KpConnection* -> KpHostConnData* */
        GArray *listeners;           /* KpHostListener */
        KpHostLimits limits;
        GHashTable *per_ip; /* IP text -> KpIpCount */
        guint n_pending;    /* connections in their handshake */
        guint64 n_refused;
        KpLogLimiter refusals[KP_HOST_REFUSAL_N];
        /* Dials under way, by peer: a second dial of the same peer waits for
         * the first instead of opening another connection. */
        GHashTable *pending_dials; /* KpPeerId* (owned) -> GPtrArray of GTask* */
        /* Every identify answer lists these: interface addresses are read
         * at most once per KP_HOST_ADVERTISED_ADDRS_TTL_MS, not per peer. */
        GPtrArray *advertised; /* KpMultiaddr*; NULL until computed */
        gint64 advertised_at_us;
        /* Connections in their handshake, by deadline (the handshake
         * timeout is the same for all, so mostly in order of arrival):
         * one timer for all of them instead of a GSource each, which the
         * main loop would look at on every iteration. */
        GQueue handshakes;        /* KpHostConnData*, linked through deadline_link */
        GSource *deadline_source; /* ready at the first deadline; NULL until needed */
};

/* One listening socket and its accept loop. */
typedef struct {
        KpHost *host;
        GSocket *socket;
        GSource *source;   /* while accepting */
        guint backoff_id;  /* while paused after an accept error */
        gboolean reported; /* the current run of accept errors was logged */
} KpAcceptor;

/* The host's side of one connection. */
typedef struct {
        KpHost *host;
        KpConnection *conn;
        GTask *dial_task; /* until established or failed */
        gboolean established;
        char *ip;            /* key in per_ip */
        gboolean pending;    /* counted in n_pending, in host->handshakes */
        guint timeout_ms;    /* the handshake timeout when it started */
        gint64 deadline_us;  /* of the handshake, monotonic */
        GList deadline_link; /* data: this */
} KpHostConnData;

typedef struct {
        KpHost *host;
        KpMultiaddr *addr;
        gboolean has_peer;
        KpPeerId peer;
} KpDialData;

static void
kp_dial_data_free(KpDialData *d)
{
        kp_multiaddr_free(d->addr);
        g_free(d);
}

static void
kp_acceptor_free(KpAcceptor *a)
{
        if (a->source != NULL) {
                g_source_destroy(a->source);
                g_source_unref(a->source);
        }
        g_clear_handle_id(&a->backoff_id, g_source_remove);
        g_socket_close(a->socket, NULL);
        g_object_unref(a->socket);
        g_free(a);
}

KpHost *
kp_host_new(const KpKeypair *identity)
{
        KpHost *host = g_new0(KpHost, 1);

        host->identity = identity;
        kp_peer_id_from_public_key(kp_keypair_get_public_key(identity), &host->self);
        host->noise_key = kp_noise_static_key_new(identity);
        host->handlers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        host->protocols = g_ptr_array_new_null_terminated(1, g_free, TRUE);
        host->idle_deadlines = kp_deadlines_new(kp_connection_on_idle_deadline, host);
        host->dial_protocols = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                     (GDestroyNotify)g_ptr_array_unref);
        host->listen_addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        host->connections = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        host->pending_dials = g_hash_table_new_full(kp_peer_id_hash, kp_peer_id_equal_func, g_free,
                                                    (GDestroyNotify)g_ptr_array_unref);
        host->listeners = g_array_new(FALSE, FALSE, sizeof(KpHostListener));
        host->acceptors = g_ptr_array_new_with_free_func((GDestroyNotify)kp_acceptor_free);
        host->per_ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        kp_host_limits_init(&host->limits);
        for (guint i = 0; i < KP_HOST_REFUSAL_N; i++)
                kp_log_limiter_init(&host->refusals[i], G_LOG_DOMAIN,
                                    i == KP_HOST_REFUSAL_STREAMS ? "streams" : "connections",
                                    refusal_limit_names[i], KP_HOST_REFUSAL_LOG_INTERVAL_MS);
        return host;
}

void
kp_host_free(KpHost *host)
{
        if (host == NULL)
                return;
        kp_host_close_all(host);
        g_ptr_array_unref(host->acceptors);
        g_hash_table_unref(host->connections);
        g_hash_table_unref(host->per_ip);
        for (guint i = 0; i < KP_HOST_REFUSAL_N; i++)
                kp_log_limiter_clear(&host->refusals[i]);
        g_hash_table_unref(host->pending_dials);
        g_clear_pointer(&host->advertised, g_ptr_array_unref);
        if (host->deadline_source != NULL) {
                g_source_destroy(host->deadline_source);
                g_source_unref(host->deadline_source);
        }
        g_hash_table_unref(host->handlers);
        g_ptr_array_unref(host->protocols);
        g_hash_table_unref(host->dial_protocols);
        kp_deadlines_free(host->idle_deadlines);
        g_ptr_array_unref(host->listen_addrs);
        g_array_unref(host->listeners);
        kp_noise_static_key_unref(host->noise_key);
        g_free(host);
}

void
kp_host_limits_init(KpHostLimits *limits)
{
        limits->max_connections = KP_HOST_MAX_CONNECTIONS;
        limits->max_connections_per_ip = KP_HOST_MAX_CONNECTIONS_PER_IP;
        limits->max_pending_handshakes = KP_HOST_MAX_PENDING_HANDSHAKES;
        limits->max_pending_handshakes_per_ip = KP_HOST_MAX_PENDING_HANDSHAKES_PER_IP;
        limits->handshake_timeout_ms = KP_HOST_HANDSHAKE_TIMEOUT_MS;
        limits->idle_timeout_ms = KP_HOST_IDLE_TIMEOUT_MS;
        limits->max_streams_per_connection = KP_YAMUX_MAX_STREAMS;
}

gboolean
kp_host_limits_validate(const KpHostLimits *l, GError **error)
{
        return kp_error_check_range("max_connections", l->max_connections, KP_HOST_LIMIT_COUNT_MIN,
                                    KP_HOST_LIMIT_COUNT_MAX, error)
               && kp_error_check_range("max_connections_per_ip", l->max_connections_per_ip,
                                       KP_HOST_LIMIT_COUNT_MIN, KP_HOST_LIMIT_COUNT_MAX, error)
               && kp_error_check_range("max_pending_handshakes", l->max_pending_handshakes,
                                       KP_HOST_LIMIT_COUNT_MIN, KP_HOST_LIMIT_COUNT_MAX, error)
               && kp_error_check_range("max_pending_handshakes_per_ip",
                                       l->max_pending_handshakes_per_ip, KP_HOST_LIMIT_COUNT_MIN,
                                       KP_HOST_LIMIT_COUNT_MAX, error)
               && kp_error_check_range("handshake_timeout_ms", l->handshake_timeout_ms,
                                       KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS,
                                       KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS, error)
               && kp_error_check_range("idle_timeout_ms", l->idle_timeout_ms,
                                       KP_HOST_IDLE_TIMEOUT_MIN_MS, KP_HOST_IDLE_TIMEOUT_MAX_MS,
                                       error)
               && kp_error_check_range("max_streams_per_connection", l->max_streams_per_connection,
                                       KP_YAMUX_MAX_STREAMS_MIN, KP_YAMUX_MAX_STREAMS_MAX, error);
}

void
kp_host_set_limits(KpHost *host, const KpHostLimits *limits)
{
        g_autoptr(GError) error = NULL;

        if (!kp_host_limits_validate(limits, &error)) {
                g_critical("kp_host_set_limits: %s", error->message);
                return;
        }
        host->limits = *limits;
}

const KpHostLimits *
kp_host_get_limits(KpHost *host)
{
        return &host->limits;
}

void
kp_host_set_handshake_timeout(KpHost *host, guint ms)
{
        g_return_if_fail(ms >= KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS
                         && ms <= KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS);
        host->limits.handshake_timeout_ms = ms;
}

guint
kp_host_get_handshake_timeout(KpHost *host)
{
        return host->limits.handshake_timeout_ms;
}

guint
kp_host_get_n_pending_handshakes(KpHost *host, const char *ip)
{
        KpIpCount *c;

        if (ip == NULL)
                return host->n_pending;
        c = g_hash_table_lookup(host->per_ip, ip);
        return c != NULL ? c->pending : 0;
}

guint
kp_host_get_n_connections_for_ip(KpHost *host, const char *ip)
{
        KpIpCount *c = g_hash_table_lookup(host->per_ip, ip);

        return c != NULL ? c->connections : 0;
}

guint64
kp_host_get_n_refused(KpHost *host)
{
        return host->n_refused;
}

/* Logs @text (the reason, naming the limit) unless a line for the same
 * reason went out less than KP_HOST_REFUSAL_LOG_INTERVAL_MS ago; those are
 * summed up once the interval is over (KpLogLimiter). */
void
kp_host_log_refusal(KpHost *host, KpHostRefusal reason, guint count, const char *remote,
                    const char *text)
{
        if (kp_log_limiter_admit(&host->refusals[reason], count))
                g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "KPING_REMOTE_ADDR", remote,
                                 "KPING_LIMIT", refusal_limit_names[reason], "MESSAGE", "%s", text);
}

const KpPeerId *
kp_host_get_peer_id(KpHost *host)
{
        return &host->self;
}

const KpKeypair *
kp_host_get_identity(KpHost *host)
{
        return host->identity;
}

KpNoiseStaticKey *
kp_host_get_noise_static_key(KpHost *host)
{
        return host->noise_key;
}

void
kp_host_add_callbacks(KpHost *host, const KpHostCallbacks *callbacks, gpointer user_data)
{
        KpHostListener l = { *callbacks, user_data };

        g_array_append_val(host->listeners, l);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void
kp_host_set_stream_handler(KpHost *host, const char *protocol, KpStreamHandlerFunc func,
                           gpointer user_data)
{
        KpHandler *h;
        GHashTableIter iter;
        gpointer key;

        /* Listeners share the list unchecked (kp_mss_new_listener_shared). */
        g_return_if_fail(kp_mss_protocol_id_is_valid(protocol));
        h = g_new0(KpHandler, 1);
        h->func = func;
        h->user_data = user_data;
        g_hash_table_replace(host->handlers, g_strdup(protocol), h);
        /* A new array: negotiations under way keep a reference to the old. */
        g_ptr_array_unref(host->protocols);
        host->protocols
            = g_ptr_array_new_null_terminated(g_hash_table_size(host->handlers), g_free, TRUE);
        g_hash_table_iter_init(&iter, host->handlers);
        while (g_hash_table_iter_next(&iter, &key, NULL))
                g_ptr_array_add(host->protocols, g_strdup(key));
        g_ptr_array_sort(host->protocols, compare_strings);
}

const char *const *
kp_host_get_protocols(KpHost *host)
{
        return (const char *const *)host->protocols->pdata;
}

KpDeadlines *
kp_host_get_idle_deadlines(KpHost *host)
{
        return host->idle_deadlines;
}

GPtrArray *
kp_host_get_protocol_list(KpHost *host)
{
        return host->protocols;
}

GPtrArray *
kp_host_get_dial_protocols(KpHost *host, const char *const *protocols, GError **error)
{
        g_autoptr(GPtrArray) list = NULL;
        GPtrArray *known;

        if (protocols == NULL || protocols[0] == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "no protocol to propose");
                return NULL;
        }
        if (protocols[1] == NULL) {
                known = g_hash_table_lookup(host->dial_protocols, protocols[0]);
                if (known != NULL)
                        return g_ptr_array_ref(known);
        }
        list = g_ptr_array_new_with_free_func(g_free);
        for (gsize i = 0; protocols[i] != NULL; i++) {
                if (!kp_mss_protocol_id_is_valid(protocols[i])) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "\"%s\" is not a protocol id", protocols[i]);
                        return NULL;
                }
                g_ptr_array_add(list, g_strdup(protocols[i]));
        }
        /* Only the few ids this process dials are kept: the host's own
         * services and what its callers propose. */
        if (list->len == 1 && g_hash_table_size(host->dial_protocols) < KP_HOST_MAX_DIAL_PROTOCOLS)
                g_hash_table_insert(host->dial_protocols, g_strdup(protocols[0]),
                                    g_ptr_array_ref(list));
        return g_steal_pointer(&list);
}

KpStreamHandlerFunc
kp_host_lookup_handler(KpHost *host, const char *protocol, gpointer *ret_user_data)
{
        KpHandler *h = g_hash_table_lookup(host->handlers, protocol);

        if (h == NULL)
                return NULL;
        *ret_user_data = h->user_data;
        return h->func;
}

/* "1.2.3.4" or "::1", an IPv4-mapped IPv6 address as its IPv4 address;
 * NULL for other families. @ret_remote: the address with its port, for
 * logs. */
static char *
ip_from_native(const struct sockaddr *sa, char **ret_remote)
{
        char buf[INET6_ADDRSTRLEN] = "";
        guint16 port;
        gboolean v6 = FALSE;

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
                inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
                port = ntohs(in->sin_port);
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
                port = ntohs(in6->sin6_port);
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof buf);
                } else {
                        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
                        v6 = TRUE;
                }
        } else {
                return NULL;
        }
        if (ret_remote != NULL)
                *ret_remote = g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", buf, port);
        return g_strdup(buf);
}

static char *
ip_from_socket_connection(GSocketConnection *sc)
{
        g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(sc, NULL);
        struct sockaddr_storage ss;

        if (remote == NULL || !g_socket_address_to_native(remote, &ss, sizeof ss, NULL))
                return NULL;
        return ip_from_native((const struct sockaddr *)&ss, NULL);
}

static void count_handshake_over(KpHost *host, KpHostConnData *d);

static void
arm_deadline_source(KpHost *host)
{
        GList *first = g_queue_peek_head_link(&host->handshakes);

        g_source_set_ready_time(host->deadline_source,
                                first != NULL ? ((KpHostConnData *)first->data)->deadline_us : -1);
}

/* Closes the connections whose handshake is overdue, a bounded batch per
 * dispatch; the rest wait for the next iteration of the main loop. */
static gboolean
on_handshake_deadline(gpointer user_data)
{
        KpHost *host = user_data;
        gint64 now = g_get_monotonic_time();

        for (guint i = 0; i < KP_HOST_HANDSHAKE_EXPIRE_BATCH; i++) {
                GList *first = g_queue_peek_head_link(&host->handshakes);
                g_autoptr(KpConnection) conn = NULL;
                g_autoptr(GError) error = NULL;
                KpHostConnData *d;

                if (first == NULL || ((KpHostConnData *)first->data)->deadline_us > now)
                        break;
                d = first->data;
                conn = kp_connection_ref(d->conn);
                error = g_error_new(KP_ERROR, KP_ERROR_TIMEOUT,
                                    "handshake not finished within %u ms", d->timeout_ms);
                /* Out of the queue before anything else can run. */
                count_handshake_over(host, d);
                kp_connection_abort(conn, error);
        }
        arm_deadline_source(host);
        return G_SOURCE_CONTINUE;
}

static gboolean
deadline_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
        return callback(user_data);
}

static GSourceFuncs deadline_source_funcs = {
        .dispatch = deadline_source_dispatch,
};

/* Queues @d by its deadline: from the back, where a deadline of the one
 * handshake timeout belongs; only after the timeout was shortened does an
 * entry move further forward. */
static void
queue_handshake(KpHost *host, KpHostConnData *d)
{
        GList *after = g_queue_peek_tail_link(&host->handshakes);

        d->timeout_ms = host->limits.handshake_timeout_ms;
        d->deadline_us = g_get_monotonic_time() + (gint64)d->timeout_ms * 1000;
        d->deadline_link.data = d;
        while (after != NULL && ((KpHostConnData *)after->data)->deadline_us > d->deadline_us)
                after = after->prev;
        if (after != NULL)
                g_queue_insert_after_link(&host->handshakes, after, &d->deadline_link);
        else
                g_queue_push_head_link(&host->handshakes, &d->deadline_link);
        if (host->deadline_source == NULL) {
                host->deadline_source = g_source_new(&deadline_source_funcs, sizeof(GSource));
                g_source_set_callback(host->deadline_source, on_handshake_deadline, host, NULL);
                g_source_attach(host->deadline_source, g_main_context_get_thread_default());
        }
        /* A later deadline than the first one needs no change: setting the
         * ready time wakes the main loop up. */
        if (host->handshakes.head == &d->deadline_link)
                arm_deadline_source(host);
}

/* A connection starts pending: counted in total and for its IP. */
static void
count_connection(KpHost *host, KpHostConnData *d)
{
        d->pending = TRUE;
        queue_handshake(host, d);
        host->n_pending++;
        if (d->ip != NULL) {
                KpIpCount *c = g_hash_table_lookup(host->per_ip, d->ip);
                if (c == NULL) {
                        c = g_new0(KpIpCount, 1);
                        g_hash_table_insert(host->per_ip, g_strdup(d->ip), c);
                }
                c->connections++;
                c->pending++;
        }
}

static void
count_handshake_over(KpHost *host, KpHostConnData *d)
{
        KpIpCount *c;

        if (!d->pending)
                return;
        d->pending = FALSE;
        /* The timer may wake up early once for a deadline gone: cheaper
         * than re-arming it here. */
        g_queue_unlink(&host->handshakes, &d->deadline_link);
        host->n_pending--;
        c = d->ip != NULL ? g_hash_table_lookup(host->per_ip, d->ip) : NULL;
        if (c != NULL)
                c->pending--;
}

static void
uncount_connection(KpHost *host, KpHostConnData *d)
{
        KpIpCount *c;

        count_handshake_over(host, d);
        c = d->ip != NULL ? g_hash_table_lookup(host->per_ip, d->ip) : NULL;
        if (c != NULL && --c->connections == 0)
                g_hash_table_remove(host->per_ip, d->ip);
        g_clear_pointer(&d->ip, g_free);
}

/* TRUE when an inbound connection from @ip may be accepted; else the
 * refusal is counted and logged. The most specific limit is named. */
static gboolean
admit_inbound(KpHost *host, const char *ip, const char *remote)
{
        const KpHostLimits *l = &host->limits;
        KpIpCount *c = g_hash_table_lookup(host->per_ip, ip);
        guint total = g_hash_table_size(host->connections);
        g_autofree char *why = NULL;
        g_autofree char *text = NULL;
        KpHostRefusal reason;

        if (c != NULL && c->connections >= l->max_connections_per_ip) {
                reason = KP_HOST_REFUSAL_CONNECTIONS_PER_IP;
                why = g_strdup_printf("%u connections from this address", c->connections);
        } else if (c != NULL && c->pending >= l->max_pending_handshakes_per_ip) {
                reason = KP_HOST_REFUSAL_PENDING_PER_IP;
                why = g_strdup_printf("%u pending handshakes from this address", c->pending);
        } else if (total >= l->max_connections) {
                reason = KP_HOST_REFUSAL_CONNECTIONS;
                why = g_strdup_printf("%u connections in total", total);
        } else if (host->n_pending >= l->max_pending_handshakes) {
                reason = KP_HOST_REFUSAL_PENDING;
                why = g_strdup_printf("%u pending handshakes in total", host->n_pending);
        } else {
                return TRUE;
        }
        host->n_refused++;
        text = g_strdup_printf("refused connection from %s: %s (%s)", remote, why,
                               refusal_limit_names[reason]);
        kp_host_log_refusal(host, reason, 1, remote, text);
        return FALSE;
}

static void
on_conn_established(KpConnection *conn, gpointer user_data)
{
        KpHostConnData *d = user_data;
        KpHost *host = d->host;

        d->established = TRUE;
        count_handshake_over(host, d);
        kp_socket_pump_set_priority(conn->pump, G_PRIORITY_DEFAULT);
        for (guint i = 0; i < host->listeners->len; i++) {
                KpHostListener *l = &g_array_index(host->listeners, KpHostListener, i);
                if (l->callbacks.connection_established != NULL)
                        l->callbacks.connection_established(host, conn, l->user_data);
        }
        if (d->dial_task != NULL) {
                GTask *task = g_steal_pointer(&d->dial_task);
                g_task_return_pointer(task, kp_connection_ref(conn),
                                      (GDestroyNotify)kp_connection_unref);
                g_object_unref(task);
        }
}

static void
on_conn_closed(KpConnection *conn, const GError *error, gpointer user_data)
{
        KpHostConnData *d = user_data;
        KpHost *host = d->host;
        g_autoptr(KpConnection) self G_GNUC_UNUSED = kp_connection_ref(conn);
        g_autoptr(GError) closed = NULL;

        /* A handshake cut short by our own close is still a failure with a
         * reason, for the log and for the dialler. */
        if (!d->established && error == NULL)
                error = closed = g_error_new(KP_ERROR, KP_ERROR_CLOSED,
                                             "connection closed during the handshake");
        for (guint i = 0; i < host->listeners->len; i++) {
                KpHostListener *l = &g_array_index(host->listeners, KpHostListener, i);
                if (d->established && l->callbacks.connection_closed != NULL)
                        l->callbacks.connection_closed(host, conn, error, l->user_data);
                else if (!d->established && d->dial_task == NULL
                         && l->callbacks.handshake_failed != NULL)
                        l->callbacks.handshake_failed(host, conn->remote_addr, error, l->user_data);
        }
        if (d->dial_task != NULL) {
                GTask *task = g_steal_pointer(&d->dial_task);
                if (error != NULL)
                        g_task_return_error(task, g_error_copy(error));
                else
                        g_task_return_new_error(task, KP_ERROR, KP_ERROR_CLOSED,
                                                "connection closed during the handshake");
                g_object_unref(task);
        }
        /* Frees @d and drops the host's reference. */
        if (g_hash_table_steal(host->connections, conn)) {
                uncount_connection(host, d);
                g_free(d);
                kp_connection_unref(conn);
        }
}

static const KpConnectionHostCallbacks conn_callbacks = {
        .established = on_conn_established,
        .closed = on_conn_closed,
};

/* Takes @ip (may be NULL: not counted per address). */
static KpConnection *
adopt_connection(KpHost *host, GSocketConnection *sc, KpConnectionDirection direction,
                 const KpPeerId *expected, GTask *dial_task, char *ip, GError **error)
{
        KpHostConnData *d = g_new0(KpHostConnData, 1);
        KpConnection *conn;

        d->host = host;
        d->ip = ip;
        conn = kp_connection_new(host, sc, direction, expected, &conn_callbacks, d, error);
        if (conn == NULL) {
                g_free(d->ip);
                g_free(d);
                return NULL;
        }
        d->conn = conn;
        d->dial_task = dial_task != NULL ? g_object_ref(dial_task) : NULL;
        kp_socket_pump_set_priority(conn->pump, KP_HOST_PRIORITY_HANDSHAKE);
        g_hash_table_insert(host->connections, conn, d);
        count_connection(host, d);
        kp_connection_start(conn);
        return conn;
}

static void acceptor_start(KpAcceptor *a);

static gboolean
on_backoff_over(gpointer user_data)
{
        KpAcceptor *a = user_data;

        a->backoff_id = 0;
        acceptor_start(a);
        return G_SOURCE_REMOVE;
}

/* Pauses accepting for KP_HOST_ACCEPT_BACKOFF_MS after @err; logs once per
 * run of failures. */
static void
acceptor_pause(KpAcceptor *a, int err)
{
        if (!a->reported)
                g_warning("cannot accept connections: %s (retrying every %d ms)", g_strerror(err),
                          KP_HOST_ACCEPT_BACKOFF_MS);
        a->reported = TRUE;
        g_clear_pointer(&a->source, g_source_unref);
        a->backoff_id = g_timeout_add(KP_HOST_ACCEPT_BACKOFF_MS, on_backoff_over, a);
}

/* Accepts what is waiting, a bounded batch per wakeup. An accept that fails
 * for want of resources (descriptors, memory) leaves the connection in the
 * kernel's backlog and the socket readable: retrying at once would spin, so
 * the acceptor pauses instead. accept4() rather than g_socket_accept() so
 * that errno tells a resource shortage from one connection's failure. */
static gboolean
on_acceptable(GSocket *socket, GIOCondition condition, gpointer user_data)
{
        KpAcceptor *a = user_data;

        for (guint i = 0; i < KP_HOST_ACCEPT_BATCH; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GSocket) accepted = NULL;
                g_autoptr(GSocketConnection) sc = NULL;
                g_autofree char *ip = NULL;
                g_autofree char *remote = NULL;
                struct sockaddr_storage ss = { 0 };
                socklen_t ss_len = sizeof ss;
                int fd = accept4(g_socket_get_fd(a->socket), (struct sockaddr *)&ss, &ss_len,
                                 SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0) {
                        int err = errno;
                        if (err == EAGAIN || err == EWOULDBLOCK)
                                return G_SOURCE_CONTINUE;
                        /* That one connection failed (reset before accept,
                         * refused by a firewall rule): take the next. */
                        if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM)
                                continue;
                        acceptor_pause(a, err);
                        return G_SOURCE_REMOVE;
                }
                a->reported = FALSE;
                ip = ip_from_native((const struct sockaddr *)&ss, &remote);
                /* Refused before a byte is read or written: no handshake
                 * work, no buffers. */
                if (ip != NULL && !admit_inbound(a->host, ip, remote)) {
                        close(fd);
                        continue;
                }
                accepted = g_socket_new_from_fd(fd, &error);
                if (accepted == NULL) {
                        close(fd);
                        g_debug("dropping an inbound connection: %s", error->message);
                        continue;
                }
                sc = g_socket_connection_factory_create_connection(accepted);
                if (adopt_connection(a->host, sc, KP_CONNECTION_INBOUND, NULL, NULL,
                                     g_steal_pointer(&ip), &error)
                    == NULL)
                        g_debug("dropping an inbound connection: %s", error->message);
        }
        return G_SOURCE_CONTINUE;
}

static void
acceptor_start(KpAcceptor *a)
{
        a->source = g_socket_create_source(a->socket, G_IO_IN, NULL);
        g_source_set_priority(a->source, KP_HOST_PRIORITY_HANDSHAKE);
        g_source_set_callback(a->source, G_SOURCE_FUNC(on_acceptable), a, NULL);
        g_source_attach(a->source, g_main_context_get_thread_default());
}

static gboolean
add_listening_socket(KpHost *host, GSocket *socket, GError **error)
{
        g_autoptr(GSocketAddress) bound = NULL;
        KpAcceptor *a;
        KpMultiaddr *ma;

        bound = g_socket_get_local_address(socket, error);
        if (bound == NULL)
                return FALSE;
        ma = kp_tcp_multiaddr_from_address(bound, error);
        if (ma == NULL)
                return FALSE;
        g_socket_set_blocking(socket, FALSE);
        a = g_new0(KpAcceptor, 1);
        a->host = host;
        a->socket = g_object_ref(socket);
        g_ptr_array_add(host->acceptors, a);
        g_ptr_array_add(host->listen_addrs, ma);
        g_clear_pointer(&host->advertised, g_ptr_array_unref);
        acceptor_start(a);
        return TRUE;
}

gboolean
kp_host_listen(KpHost *host, const KpMultiaddr *addr, GError **error)
{
        g_autoptr(GSocketAddress) sa = kp_tcp_bind_address(addr, error);
        g_autoptr(GSocket) socket = NULL;
        g_autofree char *text = NULL;

        if (sa == NULL)
                return FALSE;
        socket = g_socket_new(g_socket_address_get_family(sa), G_SOCKET_TYPE_STREAM,
                              G_SOCKET_PROTOCOL_TCP, error);
        if (socket == NULL)
                return FALSE;
        /* /ip6/:: and /ip4/0.0.0.0 on the same port are two sockets. */
        if (g_socket_address_get_family(sa) == G_SOCKET_FAMILY_IPV6)
                g_socket_set_option(socket, IPPROTO_IPV6, IPV6_V6ONLY, 1, NULL);
        g_socket_set_listen_backlog(socket, KP_HOST_LISTEN_BACKLOG);
        if (!g_socket_bind(socket, sa, TRUE, error) || !g_socket_listen(socket, error)) {
                text = kp_multiaddr_to_string(addr);
                g_prefix_error(error, "cannot listen on %s: ", text);
                return FALSE;
        }
        return add_listening_socket(host, socket, error);
}

gboolean
kp_host_listen_socket(KpHost *host, GSocket *socket, GError **error)
{
        return add_listening_socket(host, socket, error);
}

GPtrArray *
kp_host_get_listen_addrs(KpHost *host)
{
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);

        for (guint i = 0; i < host->listen_addrs->len; i++)
                g_ptr_array_add(out, kp_multiaddr_copy(host->listen_addrs->pdata[i]));
        return out;
}

/* Adds /ip4|ip6/<each interface address of @family>/tcp/@port. */
static void
add_interface_addrs(GPtrArray *out, int family, guint16 port)
{
        struct ifaddrs *ifa_list = NULL;

        if (getifaddrs(&ifa_list) != 0)
                return;
        for (struct ifaddrs *ifa = ifa_list; ifa != NULL; ifa = ifa->ifa_next) {
                g_autoptr(GSocketAddress) sa = NULL;
                g_autoptr(GInetAddress) inet = NULL;
                g_autofree char *host = NULL;
                KpMultiaddr *ma;

                if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != family
                    || !(ifa->ifa_flags & IFF_UP))
                        continue;
                sa = g_socket_address_new_from_native(
                    ifa->ifa_addr,
                    family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
                if (sa == NULL)
                        continue;
                inet = g_object_ref(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(sa)));
                if (g_inet_address_get_is_link_local(inet))
                        continue;
                host = g_inet_address_to_string(inet);
                ma = kp_multiaddr_new_tcp(family == AF_INET6 ? KP_MULTIADDR_HOST_IP6
                                                             : KP_MULTIADDR_HOST_IP4,
                                          host, port, NULL);
                if (ma != NULL)
                        g_ptr_array_add(out, ma);
        }
        freeifaddrs(ifa_list);
}

static GPtrArray *
compute_advertised_addrs(KpHost *host)
{
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);

        for (guint i = 0; i < host->listen_addrs->len; i++) {
                const KpMultiaddr *ma = host->listen_addrs->pdata[i];
                g_autofree char *h = NULL;
                guint16 port;
                KpMultiaddrHostKind kind;

                if (!kp_multiaddr_get_tcp_endpoint(ma, &h, &port, &kind, NULL))
                        continue;
                if (g_str_equal(h, "0.0.0.0"))
                        add_interface_addrs(out, AF_INET, port);
                else if (g_str_equal(h, "::"))
                        add_interface_addrs(out, AF_INET6, port);
                else
                        g_ptr_array_add(out, kp_multiaddr_copy(ma));
        }
        return out;
}

GPtrArray *
kp_host_get_advertised_addrs(KpHost *host)
{
        gint64 now = g_get_monotonic_time();
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);

        if (host->advertised == NULL
            || now - host->advertised_at_us > (gint64)KP_HOST_ADVERTISED_ADDRS_TTL_MS * 1000) {
                g_clear_pointer(&host->advertised, g_ptr_array_unref);
                host->advertised = compute_advertised_addrs(host);
                host->advertised_at_us = now;
        }
        for (guint i = 0; i < host->advertised->len; i++)
                g_ptr_array_add(out, kp_multiaddr_copy(host->advertised->pdata[i]));
        return out;
}

KpConnection *
kp_host_get_connection(KpHost *host, const KpPeerId *peer)
{
        GHashTableIter iter;
        gpointer key, value;

        g_hash_table_iter_init(&iter, host->connections);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                KpConnection *conn = key;
                if (kp_connection_is_open(conn)
                    && kp_peer_id_equal(kp_connection_get_remote_peer_id(conn), peer))
                        return conn;
        }
        return NULL;
}

guint
kp_host_get_n_connections(KpHost *host)
{
        return g_hash_table_size(host->connections);
}

void
kp_host_close_all(KpHost *host)
{
        g_autoptr(GPtrArray) conns
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_connection_unref);
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init(&iter, host->connections);
        while (g_hash_table_iter_next(&iter, &key, NULL))
                g_ptr_array_add(conns, kp_connection_ref(key));
        for (guint i = 0; i < conns->len; i++)
                kp_connection_close(conns->pdata[i]);
}

static void
on_tcp_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GTask) task = user_data;
        KpDialData *d = g_task_get_task_data(task);
        g_autoptr(GSocketConnection) sc = NULL;
        g_autoptr(GError) error = NULL;

        sc = g_socket_client_connect_finish(G_SOCKET_CLIENT(source), result, &error);
        if (sc == NULL) {
                g_autofree char *text = kp_multiaddr_to_string(d->addr);
                g_prefix_error(&error, "cannot connect to %s: ", text);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        /* Our own dials are not refused for their address, only when the
         * host is full. */
        if (g_hash_table_size(d->host->connections) >= d->host->limits.max_connections) {
                g_autofree char *text = kp_multiaddr_to_string(d->addr);
                g_task_return_new_error(
                    task, KP_ERROR, KP_ERROR_TOO_LARGE,
                    "cannot connect to %s: %u connections open (MaxConnections)", text,
                    g_hash_table_size(d->host->connections));
                return;
        }
        if (adopt_connection(d->host, sc, KP_CONNECTION_OUTBOUND, d->has_peer ? &d->peer : NULL,
                             task, ip_from_socket_connection(sc), &error)
            == NULL)
                g_task_return_error(task, g_steal_pointer(&error));
}

typedef struct {
        KpHost *host;
        KpPeerId peer;
} KpDialJoin;

static void
on_shared_dial_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpDialJoin *join = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpConnection) conn = g_task_propagate_pointer(G_TASK(result), &error);
        g_autoptr(GPtrArray) waiters = NULL;
        gpointer key = NULL;

        if (g_hash_table_steal_extended(join->host->pending_dials, &join->peer, &key,
                                        (gpointer *)&waiters))
                g_free(key);
        for (guint i = 0; waiters != NULL && i < waiters->len; i++) {
                GTask *task = waiters->pdata[i];
                if (conn != NULL)
                        g_task_return_pointer(task, kp_connection_ref(conn),
                                              (GDestroyNotify)kp_connection_unref);
                else
                        g_task_return_error(task, g_error_copy(error));
        }
        g_free(join);
}

void
kp_host_dial_async(KpHost *host, const KpMultiaddr *addr, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
        g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
        g_autoptr(GSocketClient) client = NULL;
        g_autoptr(GSocketConnectable) connectable = NULL;
        g_autoptr(GError) error = NULL;
        KpDialData *d = g_new0(KpDialData, 1);
        KpDialData *shared = NULL;
        GSocketFamily family = G_SOCKET_FAMILY_INVALID;
        KpConnection *existing;

        g_task_set_source_tag(task, kp_host_dial_async);
        d->host = host;
        d->addr = kp_multiaddr_copy(addr);
        d->has_peer = kp_multiaddr_get_peer_id(addr, &d->peer, NULL);
        g_task_set_task_data(task, d, (GDestroyNotify)kp_dial_data_free);
        if (d->has_peer && kp_peer_id_equal(&d->peer, &host->self)) {
                g_task_return_new_error(task, KP_ERROR, KP_ERROR_INVALID,
                                        "refusing to dial our own peer id");
                return;
        }
        existing = d->has_peer ? kp_host_get_connection(host, &d->peer) : NULL;
        if (existing != NULL) {
                g_task_return_pointer(task, kp_connection_ref(existing),
                                      (GDestroyNotify)kp_connection_unref);
                return;
        }
        if (d->has_peer) {
                GPtrArray *waiters = g_hash_table_lookup(host->pending_dials, &d->peer);
                KpDialJoin *join;

                if (waiters != NULL) {
                        g_ptr_array_add(waiters, g_steal_pointer(&task));
                        return;
                }
                waiters = g_ptr_array_new_with_free_func(g_object_unref);
                g_ptr_array_add(waiters, g_steal_pointer(&task));
                g_hash_table_insert(host->pending_dials, g_memdup2(&d->peer, sizeof d->peer),
                                    waiters);
                join = g_new0(KpDialJoin, 1);
                join->host = host;
                join->peer = d->peer;
                /* The dial itself runs on a task of its own that answers
                 * every waiter; the DialData moves to it. */
                shared = g_new0(KpDialData, 1);
                shared->host = host;
                shared->addr = kp_multiaddr_copy(addr);
                shared->has_peer = TRUE;
                shared->peer = d->peer;
                task = g_task_new(NULL, NULL, on_shared_dial_done, join);
                g_task_set_task_data(task, shared, (GDestroyNotify)kp_dial_data_free);
                /* One waiter giving up does not stop the others' dial. */
                cancellable = NULL;
        }
        connectable = kp_tcp_connectable(addr, &family, &error);
        if (connectable == NULL) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        client = g_socket_client_new();
        g_socket_client_set_enable_proxy(client, FALSE);
        g_socket_client_set_timeout(client, KP_HOST_DIAL_TIMEOUT_MS / 1000);
        if (family != G_SOCKET_FAMILY_INVALID)
                g_socket_client_set_family(client, family);
        g_socket_client_connect_async(client, connectable, cancellable, on_tcp_connected,
                                      g_steal_pointer(&task));
}

KpConnection *
kp_host_dial_finish(KpHost *host, GAsyncResult *result, GError **error)
{
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        return g_task_propagate_pointer(G_TASK(result), error);
}
