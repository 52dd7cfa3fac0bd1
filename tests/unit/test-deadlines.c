#include "net/kp-deadlines.h"

/* Every wait is bounded: a test that sees nothing in this time fails. */
#define TEST_BOUND_MS 2000

typedef struct {
        KpDeadlines *deadlines;
        GArray *fired; /* of int: the data of each expired entry, in order */
        KpDeadline extra;
        gboolean add_in_callback;
} Fixture;

static void
on_expired(gpointer data, gpointer user_data)
{
        Fixture *f = user_data;
        int v = GPOINTER_TO_INT(data);

        g_array_append_val(f->fired, v);
        if (f->add_in_callback && v == 1) {
                f->add_in_callback = FALSE;
                kp_deadlines_add(f->deadlines, &f->extra, 5, GINT_TO_POINTER(9));
        }
}

static gboolean
on_bound(gpointer user_data)
{
        gboolean *timed_out = user_data;

        *timed_out = TRUE;
        return G_SOURCE_REMOVE;
}

/* Runs the default context until @want entries have fired or the bound. */
static void
run_until(Fixture *f, guint want)
{
        gboolean timed_out = FALSE;
        guint bound = g_timeout_add(TEST_BOUND_MS, on_bound, &timed_out);

        while (f->fired->len < want && !timed_out)
                g_main_context_iteration(NULL, TRUE);
        g_assert_false(timed_out);
        g_source_remove(bound);
}

static void
fixture_init(Fixture *f)
{
        f->deadlines = kp_deadlines_new(on_expired, f);
        f->fired = g_array_new(FALSE, FALSE, sizeof(int));
}

static void
fixture_clear(Fixture *f)
{
        kp_deadlines_free(f->deadlines);
        g_array_unref(f->fired);
}

/* Entries expire in deadline order, whatever the order they were added. */
static void
test_deadlines_order(void)
{
        Fixture f = { 0 };
        KpDeadline e[4] = { 0 };

        fixture_init(&f);
        kp_deadlines_add(f.deadlines, &e[0], 60, GINT_TO_POINTER(3));
        kp_deadlines_add(f.deadlines, &e[1], 20, GINT_TO_POINTER(1));
        kp_deadlines_add(f.deadlines, &e[2], 40, GINT_TO_POINTER(2));
        kp_deadlines_add(f.deadlines, &e[3], 60, GINT_TO_POINTER(4));
        run_until(&f, 4);
        g_assert_cmpuint(f.fired->len, ==, 4);
        for (int i = 0; i < 4; i++)
                g_assert_cmpint(g_array_index(f.fired, int, i), ==, i + 1);
        for (int i = 0; i < 4; i++)
                g_assert_null(e[i].queue);
        fixture_clear(&f);
}

/* A removed entry never fires, the timer set for it moves on to the next,
 * and removing twice (or an entry never added) is harmless. */
static void
test_deadlines_remove(void)
{
        Fixture f = { 0 };
        KpDeadline first = { 0 }, second = { 0 }, never = { 0 };

        fixture_init(&f);
        kp_deadlines_add(f.deadlines, &first, 10, GINT_TO_POINTER(1));
        kp_deadlines_add(f.deadlines, &second, 40, GINT_TO_POINTER(2));
        kp_deadline_cancel(&first);
        kp_deadline_cancel(&first);
        kp_deadline_cancel(&never);
        g_assert_null(first.queue);
        run_until(&f, 1);
        g_assert_cmpuint(f.fired->len, ==, 1);
        g_assert_cmpint(g_array_index(f.fired, int, 0), ==, 2);
        /* re-added after expiry */
        kp_deadlines_add(f.deadlines, &first, 5, GINT_TO_POINTER(1));
        run_until(&f, 2);
        g_assert_cmpint(g_array_index(f.fired, int, 1), ==, 1);
        fixture_clear(&f);
}

/* No entry fires before its deadline. */
static void
test_deadlines_not_early(void)
{
        Fixture f = { 0 };
        KpDeadline e = { 0 };
        gint64 start = g_get_monotonic_time();

        fixture_init(&f);
        kp_deadlines_add(f.deadlines, &e, 30, GINT_TO_POINTER(1));
        run_until(&f, 1);
        g_assert_cmpint(g_get_monotonic_time() - start, >=, 30 * 1000);
        fixture_clear(&f);
}

/* A callback may add an entry; it fires too. */
static void
test_deadlines_add_in_callback(void)
{
        Fixture f = { 0 };
        KpDeadline e = { 0 };

        fixture_init(&f);
        f.add_in_callback = TRUE;
        kp_deadlines_add(f.deadlines, &e, 5, GINT_TO_POINTER(1));
        run_until(&f, 2);
        g_assert_cmpint(g_array_index(f.fired, int, 0), ==, 1);
        g_assert_cmpint(g_array_index(f.fired, int, 1), ==, 9);
        fixture_clear(&f);
}

/* Freeing the queue leaves its entries unqueued and its timer gone. */
static void
test_deadlines_free(void)
{
        Fixture f = { 0 };
        KpDeadline e = { 0 };

        fixture_init(&f);
        kp_deadlines_add(f.deadlines, &e, 5, GINT_TO_POINTER(1));
        kp_deadlines_free(f.deadlines);
        f.deadlines = NULL;
        g_assert_null(e.queue);
        kp_deadline_cancel(&e);
        g_assert_false(g_main_context_pending(NULL));
        g_array_unref(f.fired);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/deadlines/order", test_deadlines_order);
        g_test_add_func("/deadlines/remove", test_deadlines_remove);
        g_test_add_func("/deadlines/not-early", test_deadlines_not_early);
        g_test_add_func("/deadlines/add-in-callback", test_deadlines_add_in_callback);
        g_test_add_func("/deadlines/free", test_deadlines_free);
        return g_test_run();
}
