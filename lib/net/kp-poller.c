#define G_LOG_DOMAIN "kp-net"

#include "net/kp-poller.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

typedef struct _KpPoller KpPoller;

struct _KpPollerWatch {
        KpPoller *poller; /* counts this watch; NULL once freed */
        int fd;
        guint32 events;   /* waited for; 0: in neither set */
        gpointer tag;     /* GLib's while in its poll set (a direct slot), else
                           * NULL: in the epoll set if @events */
        gint64 active_us; /* last reported ready */
        KpPollerFunc func;
        gpointer user_data;
};

struct _KpPoller {
        GSource source;
        int epfd;
        gpointer epfd_tag;
        GMainContext *context; /* the source is attached to it */
        gint priority;
        guint n_watches;
        KpPollerWatch *direct[KP_POLLER_DIRECT_SLOTS];
};

/* Pollers in use, on any thread's contexts. */
static GMutex pollers_lock;
static GSList *pollers;

/* Watches freed while a dispatch on this thread may still hold them (in its
 * array of ready events or its copy of the direct slots): released when
 * the outermost dispatch ends. */
static _Thread_local guint dispatch_depth;
static _Thread_local GSList *freed_watches;

static GIOCondition
condition_from_events(guint32 events)
{
        return ((events & EPOLLIN) != 0 ? G_IO_IN : 0) | ((events & EPOLLOUT) != 0 ? G_IO_OUT : 0);
}

static guint32
events_from_condition(GIOCondition condition)
{
        return ((condition & G_IO_IN) != 0 ? EPOLLIN : 0)
               | ((condition & G_IO_OUT) != 0 ? EPOLLOUT : 0)
               | ((condition & G_IO_ERR) != 0 ? EPOLLERR : 0)
               | ((condition & G_IO_HUP) != 0 ? EPOLLHUP : 0);
}

static gboolean
epoll_change(KpPoller *p, int op, KpPollerWatch *w, guint32 events, GError **error)
{
        struct epoll_event ev = { .events = events, .data.ptr = w };

        if (epoll_ctl(p->epfd, op, w->fd, &ev) == 0)
                return TRUE;
        int err = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                    "cannot watch socket %d: epoll_ctl: %s", w->fd, g_strerror(err));
        return FALSE;
}

static int
free_slot(KpPoller *p)
{
        for (int i = 0; i < KP_POLLER_DIRECT_SLOTS; i++) {
                if (p->direct[i] == NULL)
                        return i;
        }
        return -1;
}

static void
put_direct(KpPoller *p, int slot, KpPollerWatch *w)
{
        w->tag = g_source_add_unix_fd(&p->source, w->fd, condition_from_events(w->events));
        p->direct[slot] = w;
}

static void
take_direct(KpPoller *p, KpPollerWatch *w)
{
        for (int i = 0; i < KP_POLLER_DIRECT_SLOTS; i++) {
                if (p->direct[i] == w)
                        p->direct[i] = NULL;
        }
        g_source_remove_unix_fd(&p->source, w->tag);
        w->tag = NULL;
}

/* Takes @w out of whichever set it is in. */
static void
unplace(KpPollerWatch *w)
{
        if (w->tag != NULL)
                take_direct(w->poller, w);
        else if (w->events != 0)
                epoll_ctl(w->poller->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->events = 0;
}

/* Places an unplaced @w for @events: in a free direct slot, else in the
 * epoll set. */
static gboolean
place(KpPollerWatch *w, guint32 events, GError **error)
{
        KpPoller *p = w->poller;
        int slot = free_slot(p);

        w->events = events;
        if (slot >= 0) {
                put_direct(p, slot, w);
                return TRUE;
        }
        if (!epoll_change(p, EPOLL_CTL_ADD, w, events, error)) {
                w->events = 0;
                return FALSE;
        }
        return TRUE;
}

/* Frees the direct slot of the watch idle longest, if any has been idle
 * for KP_POLLER_DIRECT_IDLE_MS; -1 when none. */
static int
demote_idle(KpPoller *p, gint64 now_us)
{
        int oldest = -1;

        for (int i = 0; i < KP_POLLER_DIRECT_SLOTS; i++) {
                KpPollerWatch *w = p->direct[i];
                if (w != NULL && now_us - w->active_us >= (gint64)KP_POLLER_DIRECT_IDLE_MS * 1000
                    && (oldest < 0 || w->active_us < p->direct[oldest]->active_us))
                        oldest = i;
        }
        if (oldest < 0)
                return -1;
        KpPollerWatch *w = p->direct[oldest];
        /* Should the epoll set refuse it, it keeps its slot. */
        if (!epoll_change(p, EPOLL_CTL_ADD, w, w->events, NULL))
                return -1;
        take_direct(p, w);
        return oldest;
}

/* @w, in the epoll set and just active, moves to a direct slot if one is
 * free or can be freed. */
static void
promote(KpPoller *p, KpPollerWatch *w, gint64 now_us)
{
        int slot = free_slot(p);

        if (slot < 0)
                slot = demote_idle(p, now_us);
        if (slot < 0 || epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->fd, NULL) != 0)
                return;
        put_direct(p, slot, w);
}

static gboolean
poller_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
        KpPoller *p = (KpPoller *)source;
        KpPollerWatch *direct[KP_POLLER_DIRECT_SLOTS];
        gint64 now_us = g_source_get_time(source);

        (void)callback;
        (void)user_data;
        /* A callback may free any watch, this poller's last one included. */
        g_source_ref(source);
        dispatch_depth++;
        memcpy(direct, p->direct, sizeof direct);
        for (int i = 0; i < KP_POLLER_DIRECT_SLOTS; i++) {
                KpPollerWatch *w = direct[i];
                GIOCondition ready;

                /* Freed, moved or demoted by an earlier callback: a slot
                 * taken since has not been polled yet. */
                if (w == NULL || w->poller != p || w->tag == NULL)
                        continue;
                ready = g_source_query_unix_fd(source, w->tag);
                if (ready == 0)
                        continue;
                w->active_us = now_us;
                w->func(events_from_condition(ready), w->user_data);
        }
        if ((g_source_query_unix_fd(source, p->epfd_tag) & G_IO_IN) != 0) {
                struct epoll_event ready[KP_POLLER_MAX_EVENTS];
                int n = epoll_wait(p->epfd, ready, G_N_ELEMENTS(ready), 0);

                if (n < 0 && errno != EINTR)
                        g_warning("epoll_wait: %s", g_strerror(errno));
                for (int i = 0; i < n; i++) {
                        KpPollerWatch *w = ready[i].data.ptr;
                        if (w->poller == NULL)
                                continue;
                        w->active_us = now_us;
                        w->func(ready[i].events, w->user_data);
                        if (w->poller == p && w->tag == NULL && w->events != 0)
                                promote(p, w, now_us);
                }
        }
        if (--dispatch_depth == 0)
                g_slist_free_full(g_steal_pointer(&freed_watches), g_free);
        g_source_unref(source);
        return G_SOURCE_CONTINUE;
}

static void
poller_finalize(GSource *source)
{
        KpPoller *p = (KpPoller *)source;

        close(p->epfd);
}

static GSourceFuncs poller_funcs = {
        .dispatch = poller_dispatch,
        .finalize = poller_finalize,
};

/* The poller of the thread-default context at @priority, one more watch
 * counted on it. */
static KpPoller *
poller_acquire(gint priority, GError **error)
{
        GMainContext *context = g_main_context_get_thread_default();
        KpPoller *p = NULL;

        if (context == NULL)
                context = g_main_context_default();
        g_mutex_lock(&pollers_lock);
        for (GSList *l = pollers; l != NULL; l = l->next) {
                KpPoller *c = l->data;
                if (c->context == context && c->priority == priority) {
                        p = c;
                        break;
                }
        }
        if (p == NULL) {
                int epfd = epoll_create1(EPOLL_CLOEXEC);
                if (epfd < 0) {
                        int err = errno;
                        g_mutex_unlock(&pollers_lock);
                        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                                    "cannot watch sockets: epoll_create1: %s", g_strerror(err));
                        return NULL;
                }
                p = (KpPoller *)g_source_new(&poller_funcs, sizeof(KpPoller));
                p->epfd = epfd;
                p->context = context;
                p->priority = priority;
                g_source_set_name(&p->source, "kp-poller");
                g_source_set_priority(&p->source, priority);
                /* GLib before 2.76 takes a non-recursive source's
                 * descriptors out of the poll set around each dispatch and
                 * puts them back, each time waking the context up (extra
                 * syscalls per message); no callback here runs a nested
                 * main loop, so the recursion allowed never happens. */
                g_source_set_can_recurse(&p->source, TRUE);
                p->epfd_tag = g_source_add_unix_fd(&p->source, epfd, G_IO_IN);
                g_source_attach(&p->source, context);
                pollers = g_slist_prepend(pollers, p);
        }
        p->n_watches++;
        g_mutex_unlock(&pollers_lock);
        return p;
}

static void
poller_release(KpPoller *p)
{
        gboolean last;

        g_mutex_lock(&pollers_lock);
        last = --p->n_watches == 0;
        if (last)
                pollers = g_slist_remove(pollers, p);
        g_mutex_unlock(&pollers_lock);
        if (last) {
                g_source_destroy(&p->source);
                g_source_unref(&p->source);
        }
}

KpPollerWatch *
kp_poller_watch_new(int fd, gint priority, KpPollerFunc func, gpointer user_data, GError **error)
{
        KpPoller *p = poller_acquire(priority, error);
        KpPollerWatch *w;

        if (p == NULL)
                return NULL;
        w = g_new0(KpPollerWatch, 1);
        w->poller = p;
        w->fd = fd;
        w->func = func;
        w->user_data = user_data;
        w->active_us = g_get_monotonic_time();
        return w;
}

gboolean
kp_poller_watch_set_events(KpPollerWatch *watch, guint32 events, GError **error)
{
        events &= EPOLLIN | EPOLLOUT;
        if (events == watch->events)
                return TRUE;
        if (events == 0 || watch->events == 0) {
                unplace(watch);
                return events == 0 || place(watch, events, error);
        }
        if (watch->tag != NULL) {
                g_source_modify_unix_fd(&watch->poller->source, watch->tag,
                                        condition_from_events(events));
        } else if (!epoll_change(watch->poller, EPOLL_CTL_MOD, watch, events, error)) {
                unplace(watch);
                return FALSE;
        }
        watch->events = events;
        return TRUE;
}

guint32
kp_poller_watch_get_events(const KpPollerWatch *watch)
{
        return watch->events;
}

gboolean
kp_poller_watch_set_priority(KpPollerWatch *watch, gint priority, GError **error)
{
        guint32 events = watch->events;
        KpPoller *p;

        if (watch->poller->priority == priority)
                return TRUE;
        p = poller_acquire(priority, error);
        if (p == NULL) {
                unplace(watch);
                return FALSE;
        }
        unplace(watch);
        poller_release(watch->poller);
        watch->poller = p;
        return events == 0 || place(watch, events, error);
}

void
kp_poller_watch_free(KpPollerWatch *watch)
{
        if (watch == NULL)
                return;
        unplace(watch);
        poller_release(watch->poller);
        watch->poller = NULL;
        if (dispatch_depth > 0)
                freed_watches = g_slist_prepend(freed_watches, watch);
        else
                g_free(watch);
}

gboolean
kp_poller_watch_is_direct(const KpPollerWatch *watch)
{
        return watch->tag != NULL;
}

guint
kp_poller_get_n_pollers(void)
{
        guint n;

        g_mutex_lock(&pollers_lock);
        n = g_slist_length(pollers);
        g_mutex_unlock(&pollers_lock);
        return n;
}
