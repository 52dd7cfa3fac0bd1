/* Rate-limited logging of refusals: a flood of refused connections, streams
 * or requests costs at most two log lines per interval (the first refusal,
 * then "refused N more WHAT in the last MS ms (LIMIT)"), whatever its size.
 * Runs on the thread-default main context of whoever calls it. */
#pragma once

#include <glib.h>

typedef struct {
        const char *log_domain;
        const char *what;  /* "connections", "kameo requests": static */
        const char *limit; /* the [Limits] key: static */
        guint interval_ms;
        gint64 last_us;   /* last line logged, monotonic */
        guint suppressed; /* refusals since, not logged one by one */
        guint summary_id; /* logs their sum at the end of the interval */
} KpLogLimiter;

void kp_log_limiter_init(KpLogLimiter *limiter, const char *log_domain, const char *what,
                         const char *limit, guint interval_ms);
/* TRUE when the caller should log its own line for this refusal now;
 * otherwise @count refusals are added to the summary logged at the end of
 * the interval. */
gboolean kp_log_limiter_admit(KpLogLimiter *limiter, guint count);
/* Drops a pending summary. */
void kp_log_limiter_clear(KpLogLimiter *limiter);
