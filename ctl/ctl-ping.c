/* kpingctl ping: a ping session with a kpingd's PingActor, or with any libp2p
 * node's /ipfs/ping/1.0.0 (--libp2p). */
#define G_LOG_DOMAIN "kpingctl"

#include <math.h>
#include <stdio.h>

#include "core/kp-multiaddr.h"
#include "core/kp-peer-id.h"
#include "ctl.h"

#define KP_PING_DEFAULT_COUNT    100
#define KP_PING_DEFAULT_INTERVAL 2.0
#define KP_PING_DEFAULT_TIMEOUT  10.0
#define KP_PING_DEFAULT_ACTOR    "ping"
/* Bounds that keep a typo from meaning "forever" or "flood". */
#define KP_PING_MAX_COUNT   (1 << 30)
#define KP_PING_MAX_PRELOAD 65536
#define KP_PING_MAX_SECONDS (24.0 * 3600.0 * 365.0)

typedef struct {
        gint count;
        gdouble interval;
        gdouble timeout;
        gint preload;
        gdouble deadline;
        char *actor;
        gboolean libp2p;
        gboolean json;
        gboolean quiet;
        KpMultiaddr *addr;
        KpPeerId peer_id;
} KpPingOptions;

static void
kp_ping_options_clear (KpPingOptions *o)
{
        g_clear_pointer (&o->actor, g_free);
        g_clear_pointer (&o->addr, kp_multiaddr_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KpPingOptions, kp_ping_options_clear)

static gboolean
check_seconds (const char *what, gdouble value, gboolean zero_ok, GError **error)
{
        if (!isfinite (value) || value < 0 || (!zero_ok && value == 0) ||
            value > KP_PING_MAX_SECONDS) {
                g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                             "invalid %s %g: must be %s seconds", what, value,
                             zero_ok ? "0 or more" : "more than 0");
                return FALSE;
        }
        return TRUE;
}

static gboolean
parse_ping_options (int argc, char **argv, KpPingOptions *o, GError **error)
{
        g_autoptr (GOptionContext) ctx = NULL;
        const GOptionEntry entries[] = {
                { "count", 'c', 0, G_OPTION_ARG_INT, &o->count,
                  "Stop after COUNT pongs (default 100)", "COUNT" },
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
                { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "Only the summary", NULL },
                { NULL },
        };

        o->count = KP_PING_DEFAULT_COUNT;
        o->interval = KP_PING_DEFAULT_INTERVAL;
        o->timeout = KP_PING_DEFAULT_TIMEOUT;
        o->preload = 1;
        o->deadline = 0;

        ctx = g_option_context_new ("MULTIADDR - ping a kping actor or a libp2p node");
        g_option_context_set_description (
                ctx, "MULTIADDR is a full address, e.g. /ip4/127.0.0.1/tcp/36341/p2p/12D3KooW...\n"
                     "Exit status: 0 if a pong arrived, 1 if none did, 2 on any other error.\n");
        g_option_context_add_main_entries (ctx, entries, NULL);
        if (!g_option_context_parse (ctx, &argc, &argv, error))
                return FALSE;
        if (argc != 2) {
                g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                             argc < 2 ? "missing MULTIADDR (see kpingctl ping --help)"
                                      : "unexpected argument \"%s\"",
                             argc < 2 ? "" : argv[2]);
                return FALSE;
        }
        if (o->count < 1 || o->count > KP_PING_MAX_COUNT) {
                g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                             "invalid count %d: must be 1 to %d", o->count, KP_PING_MAX_COUNT);
                return FALSE;
        }
        if (o->preload < 1 || o->preload > KP_PING_MAX_PRELOAD) {
                g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                             "invalid preload %d: must be 1 to %d", o->preload,
                             KP_PING_MAX_PRELOAD);
                return FALSE;
        }
        if (!check_seconds ("interval", o->interval, TRUE, error) ||
            !check_seconds ("timeout", o->timeout, FALSE, error) ||
            !check_seconds ("deadline", o->deadline, TRUE, error))
                return FALSE;
        if (o->actor == NULL)
                o->actor = g_strdup (KP_PING_DEFAULT_ACTOR);
        o->addr = kp_multiaddr_new_from_string (argv[1], error);
        if (o->addr == NULL)
                return FALSE;
        if (!kp_multiaddr_get_peer_id (o->addr, &o->peer_id, error))
                return FALSE;
        return TRUE;
}

int
kp_ctl_ping (int argc, char **argv)
{
        g_auto (KpPingOptions) o = { 0 };
        g_autoptr (GError) error = NULL;

        if (!parse_ping_options (argc, argv, &o, &error))
                return kp_ctl_fail (error);
        fprintf (stderr, "kpingctl: dialling is not built in this version yet\n");
        return KP_CTL_EXIT_ERROR;
}
