/* kpingctl ping: a ping session with a kpingd's PingActor, or with any libp2p
 * node's /ipfs/ping/1.0.0 (--libp2p), with ping(8)-style statistics. */
#define G_LOG_DOMAIN "kpingctl"

#include <glib-unix.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>

#include "core/kp-error.h"
#include "ctl.h"
#include "actor/kp-actor-messaging.h"
#include "actor/kp-actor-registry.h"
#include "net/kp-deadlines.h"
#include "net/kp-ping-service.h"

#define KP_PING_DEFAULT_COUNT    100
#define KP_PING_DEFAULT_INTERVAL 2.0
#define KP_PING_DEFAULT_TIMEOUT  10.0
#define KP_PING_DEFAULT_ACTOR    "ping"
/* Bounds that keep a typo from meaning "forever" or "flood". */
#define KP_PING_MAX_COUNT   (1 << 30)
#define KP_PING_MAX_PRELOAD 65536
#define KP_PING_MAX_SECONDS (24.0 * 3600.0 * 365.0)
/* An actor ping is an ask on a yamux stream of its own, and daemons refuse
 * streams past MaxStreamsPerConnection (256 by default, the daemon's own
 * identify stream included) and asks past MaxRequestsPerPeer (256): with
 * -i 0 a larger -l waits for a free stream instead of being refused. */
#define KP_PING_MAX_ASKS_IN_FLIGHT 240
/* A dropped connection is dialled again after this, doubling each failed
 * attempt up to the maximum; attempts go on while the session runs (until
 * COUNT pings are out or the deadline passes). */
#define KP_PING_RECONNECT_FIRST_MS 100
#define KP_PING_RECONNECT_MAX_MS   2000

typedef struct {
        gint count;
        gboolean count_given;
        gdouble interval;
        gdouble timeout;
        gint preload;
        gdouble deadline;
        char *actor;
        gboolean libp2p;
        gboolean json;
        gboolean quiet;
        char *target_text;
        KpMultiaddr *target;
} KpPingOptions;

typedef struct {
        guint64 seq;
        gint64 sent_us;
        KpDeadline deadline;
        gboolean resent;
        struct _KpPingSession *session;
} KpPingRecord;

typedef struct _KpPingSession {
        KpPingOptions *o;
        KpCtlNode node;
        KpConnection *conn;
        KpPingClient *libp2p;
        KpDht *dht;               /* actor mode: the DHT client */
        KpConnection *actor_conn; /* actor mode: where the actor lives */
        KpPeerId actor_peer;
        guint64 actor_seq;
        guint asks_pending;
        GHashTable *in_flight;       /* seq -> KpPingRecord* */
        KpDeadlines *ping_deadlines; /* the -W timeouts of @in_flight */
        guint64 next_seq;
        guint64 transmitted;
        guint64 received;
        guint64 lost;
        guint64 last_total;
        GArray *rtts; /* gint64 microseconds */
        gint64 connect_us;
        gint64 resolve_us;
        gint64 first_pong_us;
        gint64 started_us;
        guint interval_id;
        guint deadline_id;
        guint resend_id;
        GArray *resend;        /* guint64 seqs lost to a stream reset, sent again once */
        GCancellable *cancel;  /* cancelled when the session ends */
        gboolean running;      /* the first connection is up, pings go out */
        gboolean establishing; /* a dial/resolve chain is under way */
        GError *establish_error;
        KpActorLocation *location; /* while dialling the actor's peer */
        guint location_index;
        GError *location_error;
        gboolean reconnecting; /* the connection dropped; not up again yet */
        gint64 disconnected_us;
        guint reconnect_attempts;
        guint reconnect_delay_ms;
        guint reconnect_id;
        guint64 outage_lost; /* pings lost during the current outage */
        guint64 reconnects;
        guint64 lost_disconnected;
        gboolean done;
        GError *fatal;
        /* --json pong lines, built once (with and without "total") and
         * updated in place: a pipelined session prints one per pong. */
        json_object *pong_json[2];
} KpPingSession;

static void
kp_ping_options_clear(KpPingOptions *o)
{
        g_clear_pointer(&o->actor, g_free);
        g_clear_pointer(&o->target_text, g_free);
        g_clear_pointer(&o->target, kp_multiaddr_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KpPingOptions, kp_ping_options_clear)

static gboolean
check_seconds(const char *what, gdouble value, gboolean zero_ok, GError **error)
{
        if (!isfinite(value) || value < 0 || (!zero_ok && value == 0)
            || value > KP_PING_MAX_SECONDS) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "invalid %s %g: must be %s seconds", what, value,
                            zero_ok ? "0 or more" : "more than 0");
                return FALSE;
        }
        return TRUE;
}

static gboolean
parse_ping_options(int argc, char **argv, KpPingOptions *o, GError **error)
{
        g_autoptr(GOptionContext) ctx = NULL;
        const GOptionEntry entries[] = {
                { "count", 'c', 0, G_OPTION_ARG_INT, &o->count,
                  "Stop after COUNT pings (default 100)", "COUNT" },
                { "interval", 'i', 0, G_OPTION_ARG_DOUBLE, &o->interval,
                  "Seconds between pings (default 2; 0: next ping as soon as a pong arrives)",
                  "INTERVAL" },
                { "timeout", 'W', 0, G_OPTION_ARG_DOUBLE, &o->timeout,
                  "Seconds to wait for each pong (default 10)", "TIMEOUT" },
                { "preload", 'l', 0, G_OPTION_ARG_INT, &o->preload,
                  "Keep PRELOAD pings in flight (default 1)", "PRELOAD" },
                { "deadline", 'w', 0, G_OPTION_ARG_DOUBLE, &o->deadline,
                  "Stop after DEADLINE seconds, whatever the count", "DEADLINE" },
                { "actor", 0, 0, G_OPTION_ARG_STRING, &o->actor,
                  "Name of the actor to look up (default ping)", "NAME" },
                { "libp2p", 0, 0, G_OPTION_ARG_NONE, &o->libp2p,
                  "Use /ipfs/ping/1.0.0 instead of the actor (any libp2p node)", NULL },
                { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, "One JSON object per line", NULL },
                { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet,
                  "Only the PING line and the summary (with --json: the summary)", NULL },
                { NULL },
        };

        o->count = -1; /* to tell whether -c was given */
        o->interval = KP_PING_DEFAULT_INTERVAL;
        o->timeout = KP_PING_DEFAULT_TIMEOUT;
        o->preload = 1;
        o->deadline = 0;

        ctx = g_option_context_new("MULTIADDR - ping a kping actor or a libp2p node");
        g_option_context_set_description(
            ctx, "MULTIADDR is a full address, e.g. /ip4/127.0.0.1/tcp/36341/p2p/12D3KooW...\n"
                 "Exit status: 0 if a pong arrived, 1 if none did, 2 on any other error.\n"
                 "\n"
                 "If the connection drops, the pings in flight are lost and kpingctl dials\n"
                 "again (after 100 ms, doubling up to 2 s between attempts, while pings are\n"
                 "left to send), resolves the actor again and goes on with the next PING.\n"
                 "\n"
                 "--json prints one object per line:\n"
                 "  {\"type\":\"pong\",\"seq\":N,\"total\":T,\"rtt_us\":R}\n"
                 "  {\"type\":\"timeout\",\"seq\":N[,\"reason\":\"...\"]}   a lost ping\n"
                 "  {\"type\":\"disconnected\",\"reason\":\"...\",\"in_flight\":N,"
                 "\"reconnecting\":B}\n"
                 "  {\"type\":\"reconnected\",\"after_ms\":N,\"attempts\":K,\"lost\":L}\n"
                 "      (L: pings lost during that outage)\n"
                 "  {\"type\":\"summary\",\"transmitted\":...,\"received\":...,"
                 "\"loss_pct\":...,\"rtt_us\":{...},\n"
                 "   \"connect_us\":...,\"resolve_us\":...,\"first_pong_us\":...,"
                 "\"total\":...}\n");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, error))
                return FALSE;
        if (argc < 2) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "missing MULTIADDR (see kpingctl ping --help)");
                return FALSE;
        }
        if (argc > 2) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "unexpected argument \"%s\"", argv[2]);
                return FALSE;
        }
        o->count_given = o->count != -1;
        if (!o->count_given)
                o->count = KP_PING_DEFAULT_COUNT;
        if (o->count < 1 || o->count > KP_PING_MAX_COUNT) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "invalid count %d: must be 1 to %d", o->count, KP_PING_MAX_COUNT);
                return FALSE;
        }
        if (o->preload < 1 || o->preload > KP_PING_MAX_PRELOAD) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "invalid preload %d: must be 1 to %d", o->preload, KP_PING_MAX_PRELOAD);
                return FALSE;
        }
        if (!check_seconds("interval", o->interval, TRUE, error)
            || !check_seconds("timeout", o->timeout, FALSE, error)
            || !check_seconds("deadline", o->deadline, TRUE, error))
                return FALSE;
        if (o->actor == NULL)
                o->actor = g_strdup(KP_PING_DEFAULT_ACTOR);
        o->target_text = g_strdup(argv[1]);
        o->target = kp_ctl_parse_target(argv[1], error);
        return o->target != NULL;
}

/* ---- output ----------------------------------------------------------- */

static GPollFunc default_poll;

/* Output is flushed whenever the session is about to wait, not once per
 * line: a reader following it live gets every line before kpingctl sleeps,
 * and a burst of pongs handled in one go costs one write, not one each. */
static gint
poll_after_flush(GPollFD *fds, guint nfds, gint timeout)
{
        fflush(stdout);
        return default_poll(fds, nfds, timeout);
}

static void
print_json(json_object *obj)
{
        printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        json_object_put(obj);
}

static void
report_sent(KpPingSession *s, guint64 seq)
{
        if (s->o->json || s->o->quiet)
                return;
        printf("Sending PING #%" G_GUINT64_FORMAT "\n", seq);
}

static void
report_pong(KpPingSession *s, guint64 seq, gint64 rtt_us, gboolean has_total, guint64 total)
{
        /* -q is ping(8)'s: only the summary, in JSON too */
        if (s->o->quiet)
                return;
        if (s->o->json) {
                json_object **obj = &s->pong_json[has_total ? 1 : 0];
                json_object *field;

                if (*obj == NULL) {
                        *obj = json_object_new_object();
                        json_object_object_add(*obj, "type", json_object_new_string("pong"));
                        json_object_object_add(*obj, "seq", json_object_new_uint64(0));
                        if (has_total)
                                json_object_object_add(*obj, "total", json_object_new_uint64(0));
                        json_object_object_add(*obj, "rtt_us", json_object_new_int64(0));
                }
                if (json_object_object_get_ex(*obj, "seq", &field))
                        json_object_set_uint64(field, seq);
                if (has_total && json_object_object_get_ex(*obj, "total", &field))
                        json_object_set_uint64(field, total);
                if (json_object_object_get_ex(*obj, "rtt_us", &field))
                        json_object_set_int64(field, rtt_us);
                printf("%s\n", json_object_to_json_string_ext(*obj, JSON_C_TO_STRING_PLAIN));
                return;
        }
        if (has_total)
                printf("Received PONG #%" G_GUINT64_FORMAT " (total: %" G_GUINT64_FORMAT
                       ") time=%.3f ms\n",
                       seq, total, rtt_us / 1000.0);
        else
                printf("Received PONG #%" G_GUINT64_FORMAT " time=%.3f ms\n", seq, rtt_us / 1000.0);
}

static void
report_timeout(KpPingSession *s, guint64 seq, const char *reason)
{
        if (s->o->quiet)
                return;
        if (s->o->json) {
                json_object *obj = json_object_new_object();
                json_object_object_add(obj, "type", json_object_new_string("timeout"));
                json_object_object_add(obj, "seq", json_object_new_uint64(seq));
                if (reason != NULL)
                        json_object_object_add(obj, "reason", json_object_new_string(reason));
                print_json(obj);
                return;
        }
        if (reason != NULL)
                printf("Lost PING #%" G_GUINT64_FORMAT ": %s\n", seq, reason);
        else
                printf("Timeout for PING #%" G_GUINT64_FORMAT "\n", seq);
}

static void
report_disconnected(KpPingSession *s, const char *reason)
{
        /* Every ping in flight is lost with the connection; the session goes
         * on while there are pings left to send. */
        gboolean again = s->transmitted < (guint64)s->o->count;

        if (s->o->json) {
                json_object *obj = json_object_new_object();
                json_object_object_add(obj, "type", json_object_new_string("disconnected"));
                json_object_object_add(obj, "reason", json_object_new_string(reason));
                json_object_object_add(obj, "in_flight",
                                       json_object_new_uint64(g_hash_table_size(s->in_flight)));
                json_object_object_add(obj, "reconnecting", json_object_new_boolean(again));
                print_json(obj);
                return;
        }
        if (s->o->quiet)
                return;
        printf("Connection lost: %s%s\n", reason, again ? "; reconnecting" : "");
}

static void
report_reconnected(KpPingSession *s, gint64 after_ms)
{
        if (s->o->json) {
                json_object *obj = json_object_new_object();
                json_object_object_add(obj, "type", json_object_new_string("reconnected"));
                json_object_object_add(obj, "after_ms", json_object_new_int64(after_ms));
                json_object_object_add(obj, "attempts",
                                       json_object_new_uint64(s->reconnect_attempts));
                json_object_object_add(obj, "lost", json_object_new_uint64(s->outage_lost));
                print_json(obj);
                return;
        }
        if (s->o->quiet)
                return;
        printf("Reconnected after %" G_GINT64_FORMAT " ms (%u attempt%s, %" G_GUINT64_FORMAT
               " ping%s lost)\n",
               after_ms, s->reconnect_attempts, s->reconnect_attempts == 1 ? "" : "s",
               s->outage_lost, s->outage_lost == 1 ? "" : "s");
}

static int
compare_i64(gconstpointer a, gconstpointer b)
{
        gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static gint64
percentile(const GArray *sorted, double p)
{
        gsize rank = (gsize)ceil(p / 100.0 * sorted->len);

        if (rank < 1)
                rank = 1;
        return g_array_index(sorted, gint64, rank - 1);
}

static void
report_summary(KpPingSession *s)
{
        g_autoptr(GArray) sorted = g_array_copy(s->rtts);
        gint64 min = 0, max = 0, p50 = 0, p90 = 0, p99 = 0;
        double avg = 0, mdev = 0, sum = 0, sum2 = 0;
        double loss = s->transmitted > 0
                          ? 100.0 * (double)(s->transmitted - s->received) / s->transmitted
                          : 0;
        gint64 elapsed_ms = (g_get_monotonic_time() - s->started_us) / 1000;

        g_array_sort(sorted, compare_i64);
        if (sorted->len > 0) {
                min = g_array_index(sorted, gint64, 0);
                max = g_array_index(sorted, gint64, sorted->len - 1);
                for (guint i = 0; i < sorted->len; i++) {
                        double v = (double)g_array_index(sorted, gint64, i);
                        sum += v;
                        sum2 += v * v;
                }
                avg = sum / sorted->len;
                mdev = sqrt(MAX(0.0, sum2 / sorted->len - avg * avg));
                p50 = percentile(sorted, 50);
                p90 = percentile(sorted, 90);
                p99 = percentile(sorted, 99);
        }
        if (s->o->json) {
                json_object *obj = json_object_new_object();
                json_object *rtt = json_object_new_object();
                json_object_object_add(obj, "type", json_object_new_string("summary"));
                json_object_object_add(obj, "transmitted", json_object_new_uint64(s->transmitted));
                json_object_object_add(obj, "received", json_object_new_uint64(s->received));
                json_object_object_add(obj, "loss_pct", json_object_new_double(loss));
                json_object_object_add(rtt, "min", json_object_new_int64(min));
                json_object_object_add(rtt, "avg", json_object_new_int64((gint64)llround(avg)));
                json_object_object_add(rtt, "max", json_object_new_int64(max));
                json_object_object_add(rtt, "mdev", json_object_new_int64((gint64)llround(mdev)));
                json_object_object_add(rtt, "p50", json_object_new_int64(p50));
                json_object_object_add(rtt, "p90", json_object_new_int64(p90));
                json_object_object_add(rtt, "p99", json_object_new_int64(p99));
                json_object_object_add(obj, "rtt_us", rtt);
                json_object_object_add(obj, "connect_us", json_object_new_int64(s->connect_us));
                json_object_object_add(obj, "resolve_us", json_object_new_int64(s->resolve_us));
                json_object_object_add(obj, "first_pong_us",
                                       json_object_new_int64(s->first_pong_us));
                json_object_object_add(
                    obj, "total",
                    json_object_new_uint64(s->o->libp2p ? s->received : s->last_total));
                print_json(obj);
                return;
        }
        printf("\n--- %s ping statistics ---\n", s->o->target_text);
        printf("%" G_GUINT64_FORMAT " pings transmitted, %" G_GUINT64_FORMAT
               " received, %.3g%% loss, time %" G_GINT64_FORMAT "ms\n",
               s->transmitted, s->received, loss, elapsed_ms);
        if (sorted->len > 0)
                printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", min / 1000.0,
                       avg / 1000.0, max / 1000.0, mdev / 1000.0);
        if (s->reconnects > 0 || s->reconnecting)
                printf("%" G_GUINT64_FORMAT " reconnect%s, %" G_GUINT64_FORMAT
                       " pings lost while disconnected\n",
                       s->reconnects, s->reconnects == 1 ? "" : "s", s->lost_disconnected);
        printf("Done! Total: %" G_GUINT64_FORMAT ", Avg: %.3f ms\n",
               s->o->libp2p ? s->received : s->last_total, avg / 1000.0);
        fflush(stdout);
}

/* ---- the session ------------------------------------------------------ */

static void send_pings(KpPingSession *s);
static void link_lost(KpPingSession *s, const char *reason);

static void
session_finish(KpPingSession *s)
{
        s->done = TRUE;
        g_cancellable_cancel(s->cancel);
        g_main_context_wakeup(NULL);
}

static void
maybe_finished(KpPingSession *s)
{
        if (s->transmitted >= (guint64)s->o->count && g_hash_table_size(s->in_flight) == 0)
                session_finish(s);
}

static void
record_free(KpPingRecord *r)
{
        kp_deadline_cancel(&r->deadline);
        g_free(r);
}

/* The connection the pings travel on. */
static KpConnection *
session_conn(KpPingSession *s)
{
        return s->o->libp2p ? s->conn : s->actor_conn;
}

static gboolean
link_up(KpPingSession *s)
{
        KpConnection *conn = session_conn(s);

        return !s->reconnecting && conn != NULL && kp_connection_is_open(conn);
}

/* Counts PING #@seq as lost (once) and says why. */
static void
lose(KpPingSession *s, guint64 seq, const char *reason)
{
        if (!g_hash_table_remove(s->in_flight, &seq))
                return;
        s->lost++;
        if (s->reconnecting) {
                s->outage_lost++;
                s->lost_disconnected++;
        }
        report_timeout(s, seq, reason);
}

static void
on_ping_timeout(gpointer data, gpointer user_data)
{
        KpPingRecord *r = data;
        KpPingSession *s = user_data;
        guint64 seq = r->seq;

        g_hash_table_remove(s->in_flight, &r->seq);
        s->lost++;
        if (s->reconnecting) {
                s->outage_lost++;
                s->lost_disconnected++;
        }
        report_timeout(s, seq, NULL);
        maybe_finished(s);
        if (s->o->interval == 0)
                send_pings(s);
}

static void
on_pong(KpPingSession *s, guint64 seq, gint64 rtt_us, gboolean has_total, guint64 total)
{
        if (!g_hash_table_remove(s->in_flight, &seq))
                return; /* late: its timeout was already reported */
        s->received++;
        if (s->first_pong_us == 0)
                s->first_pong_us = kp_ctl_elapsed_us();
        if (has_total)
                s->last_total = total;
        g_array_append_val(s->rtts, rtt_us);
        report_pong(s, seq, rtt_us, has_total, total);
        maybe_finished(s);
        if (s->o->interval == 0)
                send_pings(s);
}

static void send_on_backend(KpPingSession *s, KpPingRecord *r);

static gboolean
on_resend(gpointer user_data)
{
        KpPingSession *s = user_data;
        g_autoptr(GArray) seqs = g_steal_pointer(&s->resend);

        s->resend_id = 0;
        for (guint i = 0; seqs != NULL && i < seqs->len && !s->done; i++) {
                KpPingRecord *r
                    = g_hash_table_lookup(s->in_flight, &g_array_index(seqs, guint64, i));
                if (r != NULL)
                        send_on_backend(s, r);
        }
        return G_SOURCE_REMOVE;
}

static void
on_libp2p_pong(KpPingClient *client, guint64 seq, gint64 rtt_us, const GError *error,
               gpointer user_data)
{
        KpPingSession *s = user_data;
        KpPingRecord *r;

        if (error == NULL) {
                on_pong(s, seq, rtt_us, FALSE, 0);
                return;
        }
        r = g_hash_table_lookup(s->in_flight, &seq);
        if (r == NULL)
                return;
        if (!link_up(s)) {
                link_lost(s, error->message);
                return;
        }
        /* A peer may reset its ping stream at any time (js-libp2p does 10 s
         * after it opened): a ping caught by that goes again, once, on a new
         * stream, from the main loop since @client is still running. */
        if (!r->resent && error->code == KP_ERROR_CLOSED) {
                r->resent = TRUE;
                if (s->resend == NULL)
                        s->resend = g_array_new(FALSE, FALSE, sizeof(guint64));
                g_array_append_val(s->resend, seq);
                if (s->resend_id == 0)
                        s->resend_id = g_idle_add(on_resend, s);
                return;
        }
        lose(s, seq, error->message);
        maybe_finished(s);
}

static gboolean
ensure_backend(KpPingSession *s, GError **error)
{
        if (s->libp2p != NULL && kp_ping_client_is_open(s->libp2p))
                return TRUE;
        /* js-libp2p resets an inbound ping stream 10 s after it opened: a
         * fresh stream carries on. */
        g_clear_pointer(&s->libp2p, kp_ping_client_free);
        s->libp2p = kp_ping_client_new(s->conn, on_libp2p_pong, s, error);
        return s->libp2p != NULL;
}

typedef struct {
        KpPingSession *session;
        guint64 seq;
} KpPingAsk;

static void
on_ask_reply(KpKameoResponse *response, const GError *ask_error, gpointer user_data)
{
        KpPingAsk *a = user_data;
        KpPingSession *s = a->session;
        guint64 seq = a->seq;
        KpPingRecord *r = g_hash_table_lookup(s->in_flight, &seq);
        g_autoptr(KpKameoResponse) resp = response;
        g_autoptr(GError) error = ask_error != NULL ? g_error_copy(ask_error) : NULL;
        guint64 pong_seq = 0, total = 0;
        gsize len = 0;
        const guint8 *reply;

        g_free(a);
        s->asks_pending--;
        if (r == NULL || s->done)
                return;
        if (resp != NULL && !resp->ok) {
                error = g_error_new(KP_ERROR, KP_ERROR_PROTOCOL, "the actor answered %s",
                                    kp_kameo_send_error_to_string(resp->error));
        } else if (resp != NULL) {
                reply = resp->reply != NULL ? g_bytes_get_data(resp->reply, &len) : NULL;
                if (!kp_kameo_pong_decode(reply, len, &pong_seq, &total, &error))
                        g_prefix_error(&error, "bad reply: ");
                else if (pong_seq != seq)
                        error = g_error_new(KP_ERROR, KP_ERROR_PROTOCOL,
                                            "reply for PING #%" G_GUINT64_FORMAT
                                            " answered PING #%" G_GUINT64_FORMAT,
                                            pong_seq, seq);
        }
        if (error == NULL) {
                on_pong(s, seq, g_get_monotonic_time() - r->sent_us, TRUE, total);
                return;
        }
        /* The ask may fail before the host reports the connection closed. */
        if (!link_up(s)) {
                link_lost(s, error->message);
                return;
        }
        lose(s, seq, error->message);
        maybe_finished(s);
        if (s->o->interval == 0)
                send_pings(s);
}

static void
send_ask(KpPingSession *s, KpPingRecord *r)
{
        g_autoptr(GBytes) payload = kp_kameo_ping_encode(r->seq);
        KpKameoRequest req = {
                .kind = KP_KAMEO_REQUEST_ASK,
                .actor_seq = s->actor_seq,
                .actor_peer = s->actor_peer,
                .actor_remote_id = (char *)KP_KAMEO_PING_ACTOR_REMOTE_ID,
                .message_remote_id = (char *)KP_KAMEO_PING_MESSAGE_REMOTE_ID,
                .payload = payload,
        };
        KpPingAsk *a = g_new0(KpPingAsk, 1);

        a->session = s;
        a->seq = r->seq;
        s->asks_pending++;
        r->sent_us = g_get_monotonic_time();
        kp_actor_ask(s->actor_conn, &req, (guint)(s->o->timeout * 1000) + 1000, on_ask_reply, a);
}

static void
send_on_backend(KpPingSession *s, KpPingRecord *r)
{
        g_autoptr(GError) error = NULL;

        if (!link_up(s) && !s->reconnecting) {
                link_lost(s, "the connection closed");
                return;
        }
        if (s->reconnecting) {
                /* As ping(8) without a route: with an interval the ping is
                 * lost at once; with -i 0 it waits for the connection, up
                 * to its timeout. */
                if (s->o->interval > 0) {
                        lose(s, r->seq, "not connected");
                        maybe_finished(s);
                }
                return;
        }
        if (!s->o->libp2p) {
                send_ask(s, r);
                return;
        }

        if (!ensure_backend(s, &error)) {
                s->fatal = g_steal_pointer(&error);
                session_finish(s);
                return;
        }
        r->sent_us = g_get_monotonic_time();
        kp_ping_client_send(s->libp2p, r->seq);
}

static void
send_one(KpPingSession *s)
{
        KpPingRecord *r = g_new0(KpPingRecord, 1);
        gboolean alone = g_hash_table_size(s->in_flight) == 0;

        r->session = s;
        r->seq = ++s->next_seq;
        s->transmitted++;
        g_hash_table_insert(s->in_flight, &r->seq, r);
        kp_deadlines_add(s->ping_deadlines, &r->deadline, (guint)(s->o->timeout * 1000), r);
        report_sent(s, r->seq);
        /* A ping with no other in flight leaves after the output is
         * written: on one CPU the peer runs only once kpingctl waits, so a
         * write after the send would sit inside its round trip. */
        if (alone)
                fflush(stdout);
        send_on_backend(s, r);
}

/* With -i 0, keeps PRELOAD pings in flight (actor asks: at most
 * KP_PING_MAX_ASKS_IN_FLIGHT); with an interval, sends the preload at once
 * and then one per tick. */
static void
send_pings(KpPingSession *s)
{
        guint window = (guint)s->o->preload;

        if (!s->o->libp2p)
                window = MIN(window, KP_PING_MAX_ASKS_IN_FLIGHT);
        while (!s->done && s->transmitted < (guint64)s->o->count
               && g_hash_table_size(s->in_flight) < window)
                send_one(s);
}

static gboolean
on_interval(gpointer user_data)
{
        KpPingSession *s = user_data;

        if (s->done || s->transmitted >= (guint64)s->o->count) {
                s->interval_id = 0;
                return G_SOURCE_REMOVE;
        }
        send_one(s);
        return G_SOURCE_CONTINUE;
}

static gboolean
on_deadline(gpointer user_data)
{
        KpPingSession *s = user_data;

        s->deadline_id = 0;
        session_finish(s);
        return G_SOURCE_REMOVE;
}

static gboolean
on_interrupt(gpointer user_data)
{
        session_finish(user_data);
        return G_SOURCE_CONTINUE;
}

/* ---- connecting and reconnecting ---------------------------------------
 * One asynchronous chain serves the first connection and every reconnect:
 * dial the target, resolve the actor through the DHT entered there (a fresh
 * DHT client each time: the actor may have moved or restarted), and dial
 * the peer that hosts it if that is another one. */

static void establish_start(KpPingSession *s);
static void dial_next_actor_addr(KpPingSession *s);

static gboolean
on_reconnect_timer(gpointer user_data)
{
        KpPingSession *s = user_data;

        s->reconnect_id = 0;
        if (!s->done) {
                s->reconnect_attempts++;
                establish_start(s);
        }
        return G_SOURCE_REMOVE;
}

static int
compare_u64(gconstpointer a, gconstpointer b)
{
        guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

        return x < y ? -1 : x > y;
}

static GArray *
in_flight_seqs(KpPingSession *s)
{
        GArray *seqs = g_array_new(FALSE, FALSE, sizeof(guint64));
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init(&iter, s->in_flight);
        while (g_hash_table_iter_next(&iter, &key, NULL))
                g_array_append_val(seqs, *(guint64 *)key);
        g_array_sort(seqs, compare_u64);
        return seqs;
}

/* Sends the pings that waited for the connection (-i 0), in order. */
static void
send_waiting(KpPingSession *s)
{
        g_autoptr(GArray) seqs = in_flight_seqs(s);

        for (guint i = 0; i < seqs->len && link_up(s) && !s->done; i++) {
                KpPingRecord *r
                    = g_hash_table_lookup(s->in_flight, &g_array_index(seqs, guint64, i));
                if (r != NULL && r->sent_us == 0)
                        send_on_backend(s, r);
        }
}

/* Takes @error. */
static void
establish_done(KpPingSession *s, GError *error)
{
        s->establishing = FALSE;
        g_clear_pointer(&s->location, kp_actor_location_free);
        g_clear_error(&s->location_error);
        if (!s->running) {
                s->establish_error = error;
                return;
        }
        if (s->done) {
                g_clear_error(&error);
                return;
        }
        if (error != NULL) {
                g_debug("reconnect attempt %u failed: %s", s->reconnect_attempts, error->message);
                g_error_free(error);
                g_clear_pointer(&s->conn, kp_connection_unref);
                g_clear_pointer(&s->actor_conn, kp_connection_unref);
                s->reconnect_delay_ms = MIN(s->reconnect_delay_ms * 2, KP_PING_RECONNECT_MAX_MS);
                s->reconnect_id = g_timeout_add(s->reconnect_delay_ms, on_reconnect_timer, s);
                return;
        }
        s->reconnecting = FALSE;
        s->reconnects++;
        report_reconnected(s, (g_get_monotonic_time() - s->disconnected_us) / 1000);
        send_waiting(s);
        if (s->o->interval == 0)
                send_pings(s);
}

static void
on_actor_dialled(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpPingSession *s = user_data;
        GError *error = NULL;
        KpConnection *conn = kp_host_dial_finish(s->node.host, result, &error);

        if (conn != NULL) {
                g_clear_pointer(&s->actor_conn, kp_connection_unref);
                s->actor_conn = conn;
                establish_done(s, NULL);
                return;
        }
        g_clear_error(&s->location_error);
        s->location_error = error;
        dial_next_actor_addr(s);
}

/* Dials the actor's peer at the addresses its provider record gave, one
 * after the other. */
static void
dial_next_actor_addr(KpPingSession *s)
{
        const KpPeerId *peer = &s->location->registration->peer_id;
        GError *error = NULL;

        while (s->location_index < s->location->addrs->len && !s->done) {
                g_autoptr(KpMultiaddr) full = kp_multiaddr_encapsulate_p2p(
                    s->location->addrs->pdata[s->location_index++], peer, NULL);
                if (full == NULL)
                        continue;
                kp_host_dial_async(s->node.host, full, s->cancel, on_actor_dialled, s);
                return;
        }
        if (s->location_error != NULL) {
                error = g_steal_pointer(&s->location_error);
                g_prefix_error(
                    &error, "actor '%s' is on another peer that cannot be reached: ", s->o->actor);
        } else {
                g_autofree char *text = kp_peer_id_to_string(peer);
                error = g_error_new(KP_ERROR, KP_ERROR_NOT_FOUND,
                                    "actor '%s' is on peer %s, which published no address",
                                    s->o->actor, text);
        }
        establish_done(s, error);
}

static void
on_establish_resolved(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpPingSession *s = user_data;
        GError *error = NULL;
        KpActorLocation *location = kp_actor_lookup_finish(s->dht, result, &error);
        KpPeerId target;

        if (location == NULL) {
                establish_done(s, error);
                return;
        }
        if (!s->running)
                s->resolve_us = kp_ctl_elapsed_us() - s->connect_us;
        s->actor_seq = location->registration->actor_seq;
        s->actor_peer = location->registration->peer_id;
        kp_multiaddr_get_peer_id(s->o->target, &target, NULL);
        g_clear_pointer(&s->actor_conn, kp_connection_unref);
        if (kp_peer_id_equal(&s->actor_peer, &target)) {
                s->actor_conn = kp_connection_ref(s->conn);
                kp_actor_location_free(location);
                establish_done(s, NULL);
                return;
        }
        s->location = location;
        s->location_index = 0;
        dial_next_actor_addr(s);
}

static void
on_establish_dialled(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpPingSession *s = user_data;
        KpDhtConfig config = { .client_mode = TRUE };
        g_autoptr(KpKadPeer) dialled = NULL;
        GError *error = NULL;
        KpConnection *conn = kp_host_dial_finish(s->node.host, result, &error);
        KpPeerId target;

        if (conn == NULL) {
                establish_done(s, error);
                return;
        }
        g_clear_pointer(&s->conn, kp_connection_unref);
        s->conn = conn;
        if (!s->running)
                s->connect_us = kp_ctl_elapsed_us();
        if (s->o->libp2p || s->done) {
                /* The old client's stream died with its connection. */
                g_clear_pointer(&s->libp2p, kp_ping_client_free);
                establish_done(s, NULL);
                return;
        }
        kp_multiaddr_get_peer_id(s->o->target, &target, NULL);
        g_clear_pointer(&s->dht, kp_dht_free);
        s->dht = kp_dht_new(s->node.host, &config);
        dialled = kp_kad_peer_new(&target);
        g_ptr_array_add(dialled->addrs, kp_multiaddr_without_p2p(s->o->target));
        kp_dht_add_peer(s->dht, &target, dialled->addrs);
        /* Most sessions ping the actor of the peer they dial. */
        kp_actor_lookup_async(s->dht, s->o->actor, KP_KAMEO_PING_ACTOR_REMOTE_ID, dialled,
                              MIN((guint)(s->o->timeout * 1000), KP_ACTOR_LOOKUP_TIMEOUT_MS),
                              s->cancel, on_establish_resolved, s);
}

static void
establish_start(KpPingSession *s)
{
        s->establishing = TRUE;
        kp_host_dial_async(s->node.host, s->o->target, s->cancel, on_establish_dialled, s);
}

/* The connection dropped: every ping in flight is lost, and the session
 * dials again with backoff while it has pings to send. */
static void
link_lost(KpPingSession *s, const char *reason)
{
        g_autoptr(GArray) seqs = NULL;

        if (s->done || s->reconnecting || !s->running)
                return;
        s->reconnecting = TRUE;
        s->disconnected_us = g_get_monotonic_time();
        s->outage_lost = 0;
        s->reconnect_attempts = 0;
        s->reconnect_delay_ms = KP_PING_RECONNECT_FIRST_MS;
        report_disconnected(s, reason);
        /* Not freed here: this may run inside the client's own callback; the
         * next connection replaces it. */
        g_clear_handle_id(&s->resend_id, g_source_remove);
        g_clear_pointer(&s->resend, g_array_unref);
        g_clear_pointer(&s->conn, kp_connection_unref);
        g_clear_pointer(&s->actor_conn, kp_connection_unref);
        seqs = in_flight_seqs(s);
        for (guint i = 0; i < seqs->len; i++)
                lose(s, g_array_index(seqs, guint64, i), "connection lost");
        maybe_finished(s);
        if (s->done)
                return;
        s->reconnect_id = g_timeout_add(s->reconnect_delay_ms, on_reconnect_timer, s);
        /* With -i 0 the next pings wait for the connection: their timeouts
         * bound an outage that never ends. */
        if (s->o->interval == 0)
                send_pings(s);
}

static void
on_connection_closed(KpHost *host, KpConnection *conn, const GError *error, gpointer user_data)
{
        KpPingSession *s = user_data;

        if (s->done || !s->running || s->reconnecting || conn != session_conn(s))
                return;
        link_lost(s, error != NULL ? error->message : "the peer closed the connection");
}

static int
run_session(KpPingSession *s)
{
        static const KpHostCallbacks host_callbacks = {
                .connection_closed = on_connection_closed,
        };
        guint sigint_id, sigterm_id;
        int status;

        kp_ctl_node_init(&s->node);
        kp_host_add_callbacks(s->node.host, &host_callbacks, s);
        s->cancel = g_cancellable_new();
        sigint_id = g_unix_signal_add(SIGINT, on_interrupt, s);
        sigterm_id = g_unix_signal_add(SIGTERM, on_interrupt, s);
        s->started_us = g_get_monotonic_time();
        default_poll = g_main_context_get_poll_func(NULL);
        g_main_context_set_poll_func(NULL, poll_after_flush);
        if (s->o->deadline > 0)
                s->deadline_id = g_timeout_add((guint)(s->o->deadline * 1000), on_deadline, s);

        establish_start(s);
        while (s->establishing)
                g_main_context_iteration(NULL, TRUE);
        /* Interrupted or out of time while connecting: no pong, exit 1. */
        if (s->establish_error != NULL && !s->done) {
                status = kp_ctl_fail(s->establish_error);
                goto out;
        }
        s->running = TRUE;
        if (!s->done) {
                /* ping(8) prints this line with -q too */
                if (!s->o->json)
                        printf("PING %s\n", s->o->target_text);
                send_pings(s);
                if (s->o->interval > 0 && !s->done)
                        s->interval_id
                            = g_timeout_add((guint)(s->o->interval * 1000), on_interval, s);
        }
        while (!s->done)
                g_main_context_iteration(NULL, TRUE);
        if (s->fatal != NULL && s->received == 0) {
                status = kp_ctl_fail(s->fatal);
                goto out;
        }
        if (s->fatal != NULL)
                fprintf(stderr, "kpingctl: %s\n", s->fatal->message);
        report_summary(s);
        if (s->received == 0
            || (s->o->deadline > 0 && s->o->count_given && s->received < (guint64)s->o->count))
                status = KP_CTL_EXIT_NO_REPLY;
        else
                status = KP_CTL_EXIT_OK;
out:
        g_cancellable_cancel(s->cancel);
        g_source_remove(sigint_id);
        g_source_remove(sigterm_id);
        g_clear_handle_id(&s->interval_id, g_source_remove);
        g_clear_handle_id(&s->deadline_id, g_source_remove);
        g_clear_handle_id(&s->resend_id, g_source_remove);
        g_clear_handle_id(&s->reconnect_id, g_source_remove);
        g_clear_pointer(&s->resend, g_array_unref);
        g_clear_pointer(&s->libp2p, kp_ping_client_free);
        g_clear_pointer(&s->pong_json[0], json_object_put);
        g_clear_pointer(&s->pong_json[1], json_object_put);
        g_hash_table_remove_all(s->in_flight);
        /* Asks still out complete (with errors) once their connections
         * close, and a cancelled dial or lookup ends; let them, so nothing
         * is left behind. */
        kp_host_close_all(s->node.host);
        for (guint i = 0; (s->asks_pending > 0 || s->establishing) && i < 1000; i++)
                g_main_context_iteration(NULL, TRUE);
        g_clear_pointer(&s->conn, kp_connection_unref);
        g_clear_pointer(&s->actor_conn, kp_connection_unref);
        g_clear_pointer(&s->dht, kp_dht_free);
        kp_ctl_node_clear(&s->node);
        g_clear_error(&s->fatal);
        g_clear_error(&s->establish_error);
        g_clear_object(&s->cancel);
        g_main_context_set_poll_func(NULL, default_poll);
        return status;
}

int
kp_ctl_ping(int argc, char **argv)
{
        g_auto(KpPingOptions) o = { 0 };
        g_autoptr(GError) error = NULL;
        KpPingSession s = { 0 };
        int status;

        if (!parse_ping_options(argc, argv, &o, &error))
                return kp_ctl_fail(error);
        s.o = &o;
        s.in_flight
            = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, (GDestroyNotify)record_free);
        s.ping_deadlines = kp_deadlines_new(on_ping_timeout, &s);
        s.rtts = g_array_new(FALSE, FALSE, sizeof(gint64));
        status = run_session(&s);
        g_hash_table_unref(s.in_flight);
        kp_deadlines_free(s.ping_deadlines);
        g_array_unref(s.rtts);
        return status;
}
