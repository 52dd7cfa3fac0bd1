/* Many timeouts behind one main-loop timer.
 *
 * A GSource per request costs more than the request itself on the ping
 * paths (adding and removing one is ~2 000 instructions). A KpDeadlines
 * keeps its entries in deadline order and one g_timeout for the earliest;
 * removing an entry never touches the timer: when it fires early, for an
 * entry already gone, it is set again for the next. Entries with the same
 * timeout are added in O(1); any other order costs a walk from the tail. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KpDeadlines KpDeadlines;

/* Embedded in the caller's record; zero-initialised means "not queued". */
typedef struct {
        GList link; /* link.data: the caller's pointer */
        gint64 deadline_us;
        KpDeadlines *queue; /* NULL while not queued */
} KpDeadline;

/* Called once for each entry whose deadline passed; the entry is already
 * out of the queue. It may add and remove entries, but not free @deadlines. */
typedef void (*KpDeadlineFunc)(gpointer data, gpointer user_data);

KpDeadlines *kp_deadlines_new(KpDeadlineFunc func, gpointer user_data);
void kp_deadlines_free(KpDeadlines *deadlines);

/* Queues @entry to expire @timeout_ms from now with @data; @entry must not
 * be queued. */
void kp_deadlines_add(KpDeadlines *deadlines, KpDeadline *entry, guint timeout_ms, gpointer data);

/* Takes @entry out of its queue, if it is in one (also after that queue was
 * freed: freeing unqueues every entry). */
void kp_deadline_cancel(KpDeadline *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpDeadlines, kp_deadlines_free)

G_END_DECLS
