#include <sys/socket.h>
#include <unistd.h>

#include "net/kp-poller.h"

/* Every wait is bounded: a test that sees nothing in this time fails. */
#define TEST_BOUND_MS 2000
/* Enough watches that some wait in the epoll set. */
#define TEST_N_WATCHES (KP_POLLER_DIRECT_SLOTS + 4)
/* Sockets for the many-watches case: well under the usual 1024 descriptors. */
#define TEST_N_MANY 300

typedef struct _Fixture Fixture;

typedef struct {
        Fixture *f;
        int fds[2]; /* fds[0] watched, fds[1] the peer */
        KpPollerWatch *watch;
        guint calls;
        guint32 last_events;
        int free_on_call; /* index of a watch to free when called, or -1 */
} Item;

struct _Fixture {
        GMainContext *context;
        Item items[TEST_N_MANY];
        guint n_items;
};

static void
on_ready(guint32 events, gpointer user_data)
{
        Item *it = user_data;

        /* Never called once freed. */
        g_assert_nonnull(it->watch);
        it->calls++;
        it->last_events = events;
        if (it->free_on_call >= 0) {
                Item *victim = &it->f->items[it->free_on_call];
                g_clear_pointer(&victim->watch, kp_poller_watch_free);
                it->free_on_call = -1;
        }
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
        (void)data;
        f->context = g_main_context_new();
        g_main_context_push_thread_default(f->context);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
        (void)data;
        for (guint i = 0; i < f->n_items; i++) {
                g_clear_pointer(&f->items[i].watch, kp_poller_watch_free);
                close(f->items[i].fds[0]);
                close(f->items[i].fds[1]);
        }
        g_assert_cmpuint(kp_poller_get_n_pollers(), ==, 0);
        g_main_context_pop_thread_default(f->context);
        g_main_context_unref(f->context);
}

/* Adds @n watches on fresh socket pairs, waiting for @events. */
static void
add_items(Fixture *f, guint n, gint priority, guint32 events)
{
        for (guint i = 0; i < n; i++) {
                Item *it = &f->items[f->n_items++];
                g_autoptr(GError) error = NULL;

                it->f = f;
                it->free_on_call = -1;
                g_assert_cmpint(
                    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, it->fds), ==,
                    0);
                it->watch = kp_poller_watch_new(it->fds[0], priority, on_ready, it, &error);
                g_assert_no_error(error);
                g_assert_true(kp_poller_watch_set_events(it->watch, events, &error));
                g_assert_no_error(error);
        }
}

static void
make_readable(Item *it)
{
        g_assert_cmpint(write(it->fds[1], "x", 1), ==, 1);
}

static void
drain(Item *it)
{
        char buf[64];

        while (read(it->fds[0], buf, sizeof buf) > 0)
                ;
}

/* Iterates until @it has been called @calls times in all; FALSE after
 * TEST_BOUND_MS. */
static gboolean
wait_calls(Fixture *f, Item *it, guint calls)
{
        gint64 end = g_get_monotonic_time() + TEST_BOUND_MS * 1000;

        while (it->calls < calls && g_get_monotonic_time() < end)
                g_main_context_iteration(f->context, FALSE);
        return it->calls >= calls;
}

/* A few non-blocking iterations: what is ready is dispatched by then. */
static void
spin(Fixture *f)
{
        for (int i = 0; i < 10; i++)
                g_main_context_iteration(f->context, FALSE);
}

static void
test_readable(Fixture *f, gconstpointer data)
{
        Item *it;

        (void)data;
        add_items(f, 1, G_PRIORITY_DEFAULT, EPOLLIN);
        it = &f->items[0];
        g_assert_true(kp_poller_watch_is_direct(it->watch));
        spin(f);
        g_assert_cmpuint(it->calls, ==, 0);

        make_readable(it);
        g_assert_true(wait_calls(f, it, 1));
        g_assert_cmphex(it->last_events & EPOLLIN, ==, EPOLLIN);
        /* Level-triggered: reported again until read. */
        g_assert_true(wait_calls(f, it, 2));
        drain(it);
        spin(f);
        it->calls = 0;
        spin(f);
        g_assert_cmpuint(it->calls, ==, 0);

        /* Waiting for nothing: not even a hang-up is reported. */
        g_assert_true(kp_poller_watch_set_events(it->watch, 0, NULL));
        g_assert_cmphex(kp_poller_watch_get_events(it->watch), ==, 0);
        make_readable(it);
        close(it->fds[1]);
        it->fds[1] = -1;
        spin(f);
        g_assert_cmpuint(it->calls, ==, 0);
        g_assert_true(kp_poller_watch_set_events(it->watch, EPOLLIN, NULL));
        g_assert_true(wait_calls(f, it, 1));
}

static void
test_writable(Fixture *f, gconstpointer data)
{
        (void)data;
        add_items(f, TEST_N_WATCHES, G_PRIORITY_DEFAULT, EPOLLOUT);
        /* Direct and epoll watches alike report room to write at once. */
        for (guint i = 0; i < f->n_items; i++) {
                g_assert_true(wait_calls(f, &f->items[i], 1));
                g_assert_cmphex(f->items[i].last_events & EPOLLOUT, ==, EPOLLOUT);
        }
        /* In and out together, changed in place. */
        g_assert_true(kp_poller_watch_set_events(f->items[0].watch, EPOLLIN | EPOLLOUT, NULL));
        g_assert_true(kp_poller_watch_set_events(f->items[TEST_N_WATCHES - 1].watch,
                                                 EPOLLIN | EPOLLOUT, NULL));
        make_readable(&f->items[0]);
        make_readable(&f->items[TEST_N_WATCHES - 1]);
        f->items[0].last_events = 0;
        f->items[TEST_N_WATCHES - 1].last_events = 0;
        g_assert_true(wait_calls(f, &f->items[0], f->items[0].calls + 1));
        g_assert_true(
            wait_calls(f, &f->items[TEST_N_WATCHES - 1], f->items[TEST_N_WATCHES - 1].calls + 1));
        g_assert_cmphex(f->items[0].last_events, ==, EPOLLIN | EPOLLOUT);
        g_assert_cmphex(f->items[TEST_N_WATCHES - 1].last_events, ==, EPOLLIN | EPOLLOUT);
}

/* The first KP_POLLER_DIRECT_SLOTS watches sit in GLib's poll set, the rest
 * in the epoll set; a slot freed goes to the next epoll watch that is
 * active, and a direct watch idle for KP_POLLER_DIRECT_IDLE_MS gives its
 * slot up to one that is. */
static void
test_direct_slots(Fixture *f, gconstpointer data)
{
        Item *late;
        Item *other;

        (void)data;
        add_items(f, TEST_N_WATCHES, G_PRIORITY_DEFAULT, EPOLLIN);
        for (guint i = 0; i < f->n_items; i++)
                g_assert_cmpint(kp_poller_watch_is_direct(f->items[i].watch), ==,
                                i < KP_POLLER_DIRECT_SLOTS);
        late = &f->items[KP_POLLER_DIRECT_SLOTS];
        other = &f->items[KP_POLLER_DIRECT_SLOTS + 1];

        /* No slot free, none idle long enough: it stays in epoll. */
        make_readable(late);
        g_assert_true(wait_calls(f, late, 1));
        drain(late);
        g_assert_false(kp_poller_watch_is_direct(late->watch));

        g_clear_pointer(&f->items[0].watch, kp_poller_watch_free);
        make_readable(late);
        g_assert_true(wait_calls(f, late, 2));
        drain(late);
        g_assert_true(kp_poller_watch_is_direct(late->watch));

        /* The direct watches made at the start idle past the limit. */
        g_usleep((KP_POLLER_DIRECT_IDLE_MS + 100) * 1000);
        make_readable(&f->items[2]); /* active again: keeps its slot */
        g_assert_true(wait_calls(f, &f->items[2], 1));
        drain(&f->items[2]);
        make_readable(other);
        g_assert_true(wait_calls(f, other, 1));
        drain(other);
        g_assert_true(kp_poller_watch_is_direct(other->watch));
        g_assert_true(kp_poller_watch_is_direct(f->items[2].watch));
        g_assert_true(kp_poller_watch_is_direct(late->watch));
        /* The slot came from the one idle longest: item 1 (made first of
         * those left), now in epoll and still reported. */
        g_assert_false(kp_poller_watch_is_direct(f->items[1].watch));
        make_readable(&f->items[1]);
        g_assert_true(wait_calls(f, &f->items[1], 1));
}

/* A callback frees a watch that is ready in the same dispatch, or its own:
 * the freed one is not called again (on_ready checks), in GLib's set and in
 * epoll's. */
static void
test_free_in_callback(Fixture *f, gconstpointer data)
{
        guint e = KP_POLLER_DIRECT_SLOTS; /* the first watch in epoll */

        (void)data;
        add_items(f, TEST_N_WATCHES, G_PRIORITY_DEFAULT, EPOLLIN);
        for (guint i = 0; i < f->n_items; i++)
                make_readable(&f->items[i]);
        /* Direct watches are called in slot order: 0 frees 1, 2 itself. */
        f->items[0].free_on_call = 1;
        f->items[2].free_on_call = 2;
        /* epoll's order is its own: whichever of e and e + 1 comes first
         * frees the other; e + 2 frees itself. */
        f->items[e].free_on_call = (int)e + 1;
        f->items[e + 1].free_on_call = (int)e;
        f->items[e + 2].free_on_call = (int)e + 2;
        g_assert_true(wait_calls(f, &f->items[e + 3], 1));
        spin(f);
        g_assert_cmpuint(f->items[1].calls, ==, 0);
        g_assert_cmpuint(f->items[2].calls, ==, 1);
        /* The one called first survives; the other was never called. */
        g_assert_true(
            (f->items[e].calls == 0 && f->items[e].watch == NULL && f->items[e + 1].calls > 0)
            || (f->items[e + 1].calls == 0 && f->items[e + 1].watch == NULL
                && f->items[e].calls > 0));
        g_assert_cmpuint(f->items[e + 2].calls, ==, 1);
        g_assert_null(f->items[1].watch);
        g_assert_null(f->items[2].watch);
        g_assert_null(f->items[e + 2].watch);
        g_assert_cmpuint(f->items[e + 3].calls, >=, 1);
}

static void
test_priority(Fixture *f, gconstpointer data)
{
        Item *moved;

        (void)data;
        add_items(f, TEST_N_WATCHES, G_PRIORITY_DEFAULT, EPOLLIN);
        g_assert_cmpuint(kp_poller_get_n_pollers(), ==, 1);
        /* One from each set moves to a lower priority and goes on being
         * reported there. */
        moved = &f->items[TEST_N_WATCHES - 1];
        g_assert_true(kp_poller_watch_set_priority(moved->watch, G_PRIORITY_LOW, NULL));
        g_assert_true(kp_poller_watch_set_priority(f->items[0].watch, G_PRIORITY_LOW, NULL));
        g_assert_cmpuint(kp_poller_get_n_pollers(), ==, 2);
        g_assert_cmphex(kp_poller_watch_get_events(moved->watch), ==, EPOLLIN);

        /* With both ready, only the higher priority is dispatched while it
         * stays ready (GLib's rule for sources). */
        make_readable(moved);
        make_readable(&f->items[1]);
        g_assert_true(wait_calls(f, &f->items[1], 3));
        g_assert_cmpuint(moved->calls, ==, 0);
        drain(&f->items[1]);
        g_assert_true(wait_calls(f, moved, 1));

        make_readable(&f->items[0]);
        g_assert_true(wait_calls(f, &f->items[0], 1));

        /* The last watch leaving a poller takes it away. */
        g_assert_true(kp_poller_watch_set_priority(moved->watch, G_PRIORITY_DEFAULT, NULL));
        g_assert_cmpuint(kp_poller_get_n_pollers(), ==, 2);
        g_clear_pointer(&f->items[0].watch, kp_poller_watch_free);
        g_assert_cmpuint(kp_poller_get_n_pollers(), ==, 1);
}

/* Of many idle watches, only the one ready is called. */
static void
test_many(Fixture *f, gconstpointer data)
{
        Item *it;

        (void)data;
        add_items(f, TEST_N_MANY, G_PRIORITY_DEFAULT, EPOLLIN);
        it = &f->items[TEST_N_MANY / 2];
        make_readable(it);
        g_assert_true(wait_calls(f, it, 1));
        drain(it);
        spin(f);
        for (guint i = 0; i < f->n_items; i++) {
                if (&f->items[i] != it)
                        g_assert_cmpuint(f->items[i].calls, ==, 0);
        }
}

/* At most KP_POLLER_MAX_EVENTS epoll watches are called per dispatch (plus
 * the direct ones); the rest on the next iterations, none lost. */
static void
test_max_events(Fixture *f, gconstpointer data)
{
        guint n = KP_POLLER_DIRECT_SLOTS + 2 * KP_POLLER_MAX_EVENTS + 1;
        guint called = 0;
        gint64 end = g_get_monotonic_time() + TEST_BOUND_MS * 1000;

        (void)data;
        add_items(f, n, G_PRIORITY_DEFAULT, EPOLLIN);
        for (guint i = 0; i < n; i++)
                make_readable(&f->items[i]);
        g_assert_true(g_main_context_iteration(f->context, FALSE));
        for (guint i = 0; i < n; i++)
                called += f->items[i].calls;
        g_assert_cmpuint(called, ==, KP_POLLER_DIRECT_SLOTS + KP_POLLER_MAX_EVENTS);
        for (guint i = 0; i < n; i++) {
                while (f->items[i].calls == 0 && g_get_monotonic_time() < end)
                        g_main_context_iteration(f->context, FALSE);
                g_assert_cmpuint(f->items[i].calls, >=, 1);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
        ADD("/poller/readable", test_readable);
        ADD("/poller/writable", test_writable);
        ADD("/poller/direct-slots", test_direct_slots);
        ADD("/poller/free-in-callback", test_free_in_callback);
        ADD("/poller/priority", test_priority);
        ADD("/poller/many", test_many);
        ADD("/poller/max-events", test_max_events);
#undef ADD
        return g_test_run();
}
