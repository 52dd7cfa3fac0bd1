#define G_LOG_DOMAIN "kp-net"

#include "net/kp-deadlines.h"

/* Entries are cast from their links. */
G_STATIC_ASSERT(G_STRUCT_OFFSET(KpDeadline, link) == 0);

struct _KpDeadlines {
        GQueue queue; /* of KpDeadline links, earliest first */
        KpDeadlineFunc func;
        gpointer user_data;
        guint timer_id;
        gint64 timer_us; /* when the timer fires, while timer_id != 0 */
};

KpDeadlines *
kp_deadlines_new(KpDeadlineFunc func, gpointer user_data)
{
        KpDeadlines *d = g_new0(KpDeadlines, 1);

        g_queue_init(&d->queue);
        d->func = func;
        d->user_data = user_data;
        return d;
}

void
kp_deadlines_free(KpDeadlines *d)
{
        GList *l;

        if (d == NULL)
                return;
        g_clear_handle_id(&d->timer_id, g_source_remove);
        while ((l = g_queue_pop_head_link(&d->queue)) != NULL)
                ((KpDeadline *)l)->queue = NULL;
        g_free(d);
}

static gboolean on_timer(gpointer user_data);

static void
arm(KpDeadlines *d, gint64 now_us)
{
        KpDeadline *head = (KpDeadline *)d->queue.head;
        gint64 wait_us;

        g_clear_handle_id(&d->timer_id, g_source_remove);
        if (head == NULL)
                return;
        /* Rounded up: a timer that fires early only costs another round. */
        wait_us = MAX(head->deadline_us - now_us, 0);
        d->timer_us = head->deadline_us;
        d->timer_id = g_timeout_add((guint)((wait_us + 999) / 1000), on_timer, d);
}

static gboolean
on_timer(gpointer user_data)
{
        KpDeadlines *d = user_data;
        gint64 now_us = g_get_monotonic_time();
        KpDeadline *head;

        d->timer_id = 0;
        while ((head = (KpDeadline *)d->queue.head) != NULL && head->deadline_us <= now_us) {
                g_queue_unlink(&d->queue, &head->link);
                head->queue = NULL;
                d->func(head->link.data, d->user_data);
        }
        /* A callback that added an earlier entry has armed the timer. */
        if (d->timer_id == 0)
                arm(d, now_us);
        return G_SOURCE_REMOVE;
}

void
kp_deadlines_add(KpDeadlines *d, KpDeadline *entry, guint timeout_ms, gpointer data)
{
        gint64 now_us = g_get_monotonic_time();
        GList *after;

        g_return_if_fail(entry->queue == NULL);

        entry->deadline_us = now_us + (gint64)timeout_ms * 1000;
        entry->link.data = data;
        entry->queue = d;
        for (after = d->queue.tail; after != NULL; after = after->prev) {
                if (((KpDeadline *)after)->deadline_us <= entry->deadline_us)
                        break;
        }
        if (after != NULL)
                g_queue_insert_after_link(&d->queue, after, &entry->link);
        else
                g_queue_push_head_link(&d->queue, &entry->link);
        if (d->timer_id == 0 || entry->deadline_us < d->timer_us)
                arm(d, now_us);
}

void
kp_deadline_cancel(KpDeadline *entry)
{
        if (entry->queue == NULL)
                return;
        g_queue_unlink(&entry->queue->queue, &entry->link);
        entry->queue = NULL;
}
