#define G_LOG_DOMAIN "kp-net"

#include "net/kp-log-limiter.h"

void
kp_log_limiter_init(KpLogLimiter *limiter, const char *log_domain, const char *what,
                    const char *limit, guint interval_ms)
{
        *limiter = (KpLogLimiter){
                .log_domain = log_domain,
                .what = what,
                .limit = limit,
                .interval_ms = interval_ms,
        };
}

static gboolean
on_summary(gpointer user_data)
{
        KpLogLimiter *l = user_data;

        l->summary_id = 0;
        if (l->suppressed > 0)
                g_log_structured(l->log_domain, G_LOG_LEVEL_WARNING, "KPING_LIMIT", l->limit,
                                 "MESSAGE", "refused %u more %s in the last %u ms (%s)",
                                 l->suppressed, l->what, l->interval_ms, l->limit);
        l->suppressed = 0;
        l->last_us = g_get_monotonic_time();
        return G_SOURCE_REMOVE;
}

gboolean
kp_log_limiter_admit(KpLogLimiter *l, guint count)
{
        gint64 now = g_get_monotonic_time();
        gint64 interval_us = (gint64)l->interval_ms * 1000;

        if (l->summary_id == 0 && (l->last_us == 0 || now - l->last_us >= interval_us)) {
                l->last_us = now;
                return TRUE;
        }
        l->suppressed += count;
        if (l->summary_id == 0)
                l->summary_id = g_timeout_add(
                    (guint)MAX((l->last_us + interval_us - now) / 1000, 1), on_summary, l);
        return FALSE;
}

void
kp_log_limiter_clear(KpLogLimiter *l)
{
        g_clear_handle_id(&l->summary_id, g_source_remove);
}
