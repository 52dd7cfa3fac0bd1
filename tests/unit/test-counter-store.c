/* The daemon's persistent ping total (daemon/counter-store.c). */
#include <glib/gstdio.h>
#include <string.h>

#include "core/kp-error.h"
#include "counter-store.h"
#include "kp-test-util.h"

static char *
make_dir(void)
{
        g_autoptr(GError) error = NULL;
        char *dir = g_dir_make_tmp("kping-counter-XXXXXX", &error);

        g_assert_no_error(error);
        return dir;
}

static void
remove_dir(const char *dir)
{
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
                g_autofree char *p = g_build_filename(dir, name, NULL);
                if (g_rmdir(p) != 0)
                        g_unlink(p);
        }
        g_rmdir(dir);
}

static char *
read_state(const char *dir)
{
        g_autofree char *path = g_build_filename(dir, KPINGD_COUNTER_FILE, NULL);
        char *contents = NULL;

        g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
        return contents;
}

static guint64
read_total(const char *dir)
{
        g_autofree char *contents = read_state(dir);
        g_autoptr(GError) error = NULL;
        guint64 total = 0;

        g_assert_true(kpingd_counter_store_parse(contents, strlen(contents), &total, &error));
        g_assert_no_error(error);
        return total;
}

static void
write_state(const char *dir, const char *contents, gssize len)
{
        g_autofree char *path = g_build_filename(dir, KPINGD_COUNTER_FILE, NULL);
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents(path, contents, len, &error));
}

/* Only counter.json, no temp file left behind. */
static void
assert_only_state_file(const char *dir)
{
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d)) != NULL)
                g_assert_cmpstr(name, ==, KPINGD_COUNTER_FILE);
}

static void
test_fresh(void)
{
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(KpingdCounterStore) store
            = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_autofree char *contents = NULL;

        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_get_total(store), ==, 0);
        g_assert_cmpuint(kpingd_counter_store_get_durable_total(store), ==, 0);
        /* created at once, so an unwritable state dir shows at startup */
        contents = read_state(dir);
        g_assert_cmpstr(contents, ==, "{\"version\":1,\"total\":0}\n");
        g_assert_cmpuint(kpingd_counter_store_get_write_count(store), ==, 1);
        assert_only_state_file(dir);
        /* nothing changed: flush writes nothing */
        g_assert_true(kpingd_counter_store_flush(store, &error));
        g_assert_cmpuint(kpingd_counter_store_get_write_count(store), ==, 1);
        g_assert_true(kpingd_counter_store_close(store, &error));
        remove_dir(dir);
}

static void
test_persist_reload(void)
{
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(KpingdCounterStore) store
            = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_autoptr(KpingdCounterStore) again = NULL;

        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_increment(store), ==, 1);
        g_assert_cmpuint(kpingd_counter_store_increment(store), ==, 2);
        g_assert_cmpuint(kpingd_counter_store_increment(store), ==, 3);
        /* batched: not on disk before a flush */
        g_assert_cmpuint(read_total(dir), ==, 0);
        g_assert_true(kpingd_counter_store_close(store, &error));
        g_assert_cmpuint(read_total(dir), ==, 3);
        g_assert_cmpuint(kpingd_counter_store_get_durable_total(store), ==, 3);
        g_clear_object(&store);

        again = kpingd_counter_store_open(dir, KPINGD_DURABILITY_STRICT, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_get_total(again), ==, 3);
        /* an unknown key and whitespace are fine; the total is kept */
        g_clear_object(&again);
        write_state(dir, " {\"total\": 41, \"note\": [1], \"version\": 1}\n\n", -1);
        again = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_increment(again), ==, 42);
        /* the largest total accepted */
        g_clear_object(&again);
        write_state(dir, "{\"version\":1,\"total\":9223372036854775806}", -1);
        again = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_get_total(again), ==, G_MAXINT64 - 1);
        g_assert_true(kpingd_counter_store_close(again, &error));
        remove_dir(dir);
}

static void
test_corrupt(void)
{
        const struct {
                const char *contents;
                gssize len;
                int code;
                const char *message;
        } cases[] = {
                { "", 0, KP_ERROR_TRUNCATED, "empty file" },
                { "garbage", -1, KP_ERROR_INVALID, "not JSON" },
                { "{\"version\":1,\"tot", -1, KP_ERROR_TRUNCATED, "truncated JSON" },
                { "{\"version\":1,\"total\":12", -1, KP_ERROR_TRUNCATED, "truncated JSON" },
                { "{\"version\":1,\"total\":-1}", -1, KP_ERROR_INVALID, "\"total\" is negative" },
                { "{\"version\":1,\"total\":18446744073709551616}", -1, KP_ERROR_INVALID,
                  "\"total\" is out of range" },
                { "{\"version\":1,\"total\":18446744073709551615}", -1, KP_ERROR_INVALID,
                  "\"total\" is out of range" },
                { "{\"version\":1,\"total\":9223372036854775807}", -1, KP_ERROR_INVALID,
                  "\"total\" is out of range (limit 9223372036854775806)" },
                { "{\"version\":1,\"total\":1.5}", -1, KP_ERROR_INVALID,
                  "\"total\" is not an integer" },
                { "{\"version\":1,\"total\":1e3}", -1, KP_ERROR_INVALID,
                  "\"total\" is not an integer" },
                { "{\"version\":1,\"total\":\"5\"}", -1, KP_ERROR_INVALID,
                  "\"total\" is not an integer" },
                { "{\"version\":1,\"total\":null}", -1, KP_ERROR_INVALID,
                  "\"total\" is not an integer" },
                { "{\"version\":1}", -1, KP_ERROR_INVALID, "no \"total\"" },
                { "{\"total\":1}", -1, KP_ERROR_INVALID, "no integer \"version\"" },
                { "{\"version\":\"1\",\"total\":1}", -1, KP_ERROR_INVALID,
                  "no integer \"version\"" },
                { "{\"version\":2,\"total\":1}", -1, KP_ERROR_UNSUPPORTED, "version 2 is not 1" },
                { "[1]", -1, KP_ERROR_INVALID, "not a JSON object" },
                { "7", -1, KP_ERROR_INVALID, "not a JSON object" },
                { "{\"version\":1,\"total\":1} x", -1, KP_ERROR_INVALID,
                  "not JSON: unexpected character" },
                { "{\"version\":1,\"total\":1}{}", -1, KP_ERROR_INVALID, "not JSON" },
                { "{\"version\":1,\"total\":1}\0", 24, KP_ERROR_INVALID, "NUL byte" },
                { "{\"version\":1,\"total\":01}", -1, KP_ERROR_INVALID, "not JSON" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *dir = make_dir();
                g_autofree char *path = g_build_filename(dir, KPINGD_COUNTER_FILE, NULL);
                g_autoptr(GError) error = NULL;
                g_autoptr(KpingdCounterStore) store = NULL;
                g_autofree char *after = NULL;
                gsize after_len = 0;
                gsize len = cases[i].len < 0 ? strlen(cases[i].contents) : (gsize)cases[i].len;

                g_test_message("case %u: %s", i, cases[i].message);
                write_state(dir, cases[i].contents, (gssize)len);
                store = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
                g_assert_null(store);
                kp_test_assert_error(error, cases[i].code, cases[i].message);
                /* the message names the file and says why it stops */
                kp_test_assert_error(error, cases[i].code, path);
                kp_test_assert_error(error, cases[i].code, "refusing to start from 0");
                /* and the file is left as it was, for a human to look at */
                g_assert_true(g_file_get_contents(path, &after, &after_len, NULL));
                g_assert_cmpmem(after, after_len, cases[i].contents, len);
                remove_dir(dir);
        }
}

static void
test_unreadable(void)
{
        g_autofree char *dir = make_dir();
        g_autofree char *path = g_build_filename(dir, KPINGD_COUNTER_FILE, NULL);
        g_autofree char *big = g_strnfill(KPINGD_COUNTER_MAX_FILE + 1, ' ');
        g_autoptr(GError) error = NULL;
        g_autoptr(KpingdCounterStore) store = NULL;

        /* a directory where the file should be */
        g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
        store = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_assert_null(store);
        kp_test_assert_error(error, KP_ERROR_IO, path);
        g_clear_error(&error);
        g_rmdir(path);

        write_state(dir, big, -1);
        store = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_assert_null(store);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "4097 bytes exceeds limit 4096");
        g_clear_error(&error);

        /* a state dir that does not exist */
        store = kpingd_counter_store_open("/nonexistent/kping-state", KPINGD_DURABILITY_BATCHED,
                                          &error);
        g_assert_null(store);
        kp_test_assert_error(error, KP_ERROR_IO, "/nonexistent/kping-state");
        remove_dir(dir);
}

typedef struct {
        KpingdCounterStore *store;
        GMainLoop *loop;
        gint64 start;
        guint ticks;
        guint last_writes;
        GArray *write_times; /* gint64 µs since start, when a new write showed */
} BatchedCtx;

/* Ends after BATCHED_WRITES timer writes have been seen, or after
 * BATCHED_MAX_US: a loaded machine delays timers, never brings them early,
 * so only the spacing the store itself recorded is asserted. */
#define BATCHED_WRITES 2
#define BATCHED_MAX_US (15 * G_USEC_PER_SEC)

static gboolean
batched_tick(gpointer user_data)
{
        BatchedCtx *ctx = user_data;
        guint writes = kpingd_counter_store_get_write_count(ctx->store);
        gint64 now = g_get_monotonic_time() - ctx->start;

        if (writes != ctx->last_writes) {
                gint64 started = kpingd_counter_store_get_last_write_start(ctx->store);

                g_array_append_val(ctx->write_times, started);
                ctx->last_writes = writes;
        }
        if (ctx->write_times->len > BATCHED_WRITES || now > BATCHED_MAX_US) {
                g_main_loop_quit(ctx->loop);
                return G_SOURCE_REMOVE;
        }
        kpingd_counter_store_increment(ctx->store);
        ctx->ticks++;
        return G_SOURCE_CONTINUE;
}

static gboolean
quit_when_flushed(gpointer user_data)
{
        BatchedCtx *ctx = user_data;

        if (kpingd_counter_store_get_durable_total(ctx->store)
            == kpingd_counter_store_get_total(ctx->store)) {
                g_main_loop_quit(ctx->loop);
                return G_SOURCE_REMOVE;
        }
        if (g_get_monotonic_time() - ctx->start > 15 * G_USEC_PER_SEC)
                g_error("batched store did not flush within 15 s");
        return G_SOURCE_CONTINUE;
}

static void
test_batched_timing(void)
{
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(GMainContext) context = g_main_context_new();
        g_autoptr(GMainLoop) loop = NULL;
        g_autoptr(KpingdCounterStore) store = NULL;
        g_autoptr(GSource) tick = NULL;
        g_autoptr(GSource) poll = NULL;
        BatchedCtx ctx = { 0 };
        gint64 flushed_at;

        g_main_context_push_thread_default(context);
        store = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_assert_no_error(error);
        loop = g_main_loop_new(context, FALSE);
        ctx.store = store;
        ctx.loop = loop;
        ctx.start = g_get_monotonic_time();
        ctx.last_writes = kpingd_counter_store_get_write_count(store);
        ctx.write_times = g_array_new(FALSE, FALSE, sizeof(gint64));
        /* the open counts as the first write */
        {
                gint64 opened = kpingd_counter_store_get_last_write_start(store);

                g_array_append_val(ctx.write_times, opened);
        }

        /* a ping every 10 ms until the timer has written twice */
        tick = g_timeout_source_new(10);
        g_source_set_callback(tick, batched_tick, &ctx, NULL);
        g_source_attach(tick, context);
        g_main_loop_run(loop);

        g_test_message("%u increments, %u writes", ctx.ticks, ctx.write_times->len - 1);
        g_assert_cmpuint(ctx.ticks, >, 20);
        g_assert_cmpuint(ctx.write_times->len, >, BATCHED_WRITES);
        /* at most once a second: every write started at least
         * KPINGD_COUNTER_FLUSH_INTERVAL_MS after the one before */
        for (guint i = 1; i < ctx.write_times->len; i++) {
                gint64 gap = g_array_index(ctx.write_times, gint64, i)
                             - g_array_index(ctx.write_times, gint64, i - 1);

                g_assert_cmpint(gap, >=, KPINGD_COUNTER_FLUSH_INTERVAL_MS * 1000);
        }

        /* the last increments reach the disk by themselves within a second */
        ctx.start = g_get_monotonic_time();
        poll = g_timeout_source_new(10);
        g_source_set_callback(poll, quit_when_flushed, &ctx, NULL);
        g_source_attach(poll, context);
        g_main_loop_run(loop);
        flushed_at = g_get_monotonic_time() - ctx.start;
        g_test_message("last increments on disk after %" G_GINT64_FORMAT " µs", flushed_at);
        g_assert_cmpuint(read_total(dir), ==, ctx.ticks);

        /* SIGTERM path: close writes what the timer has not yet */
        g_assert_cmpuint(kpingd_counter_store_increment(store), ==, ctx.ticks + 1);
        g_assert_true(kpingd_counter_store_close(store, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(read_total(dir), ==, ctx.ticks + 1);
        assert_only_state_file(dir);

        g_array_unref(ctx.write_times);
        g_main_context_pop_thread_default(context);
        remove_dir(dir);
}

typedef struct {
        GMainLoop *loop;
        const char *dir;
        guint done;
        guint expected;
        GArray *totals;
        GError *error;
} StrictCtx;

static void
strict_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
        StrictCtx *ctx = user_data;
        g_autoptr(GError) error = NULL;
        guint64 total = 0;

        if (kpingd_counter_store_increment_finish(KPINGD_COUNTER_STORE(source), res, &total,
                                                  &error)) {
                /* strict: what the caller is told is already on disk */
                g_assert_cmpuint(read_total(ctx->dir), >=, total);
                g_array_append_val(ctx->totals, total);
        } else if (ctx->error == NULL) {
                ctx->error = g_steal_pointer(&error);
        }
        if (++ctx->done == ctx->expected)
                g_main_loop_quit(ctx->loop);
}

typedef struct {
        GMainLoop *loop;
        guint issued;
        guint done;
        guint64 seen; /* bit i: total i+1 came back */
} ChainCtx;

#define CHAIN_N 40

/* Counts again from inside the callback, as a ping loop does, two at a
 * time so that one write starts and one waits while callbacks still run. */
static void
chain_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
        ChainCtx *ctx = user_data;
        g_autoptr(GError) error = NULL;
        guint64 total = 0;

        g_assert_true(kpingd_counter_store_increment_finish(KPINGD_COUNTER_STORE(source), res,
                                                            &total, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(total, >=, 1);
        g_assert_cmpuint(total, <=, CHAIN_N);
        g_assert_false(ctx->seen & (G_GUINT64_CONSTANT(1) << (total - 1)));
        ctx->seen |= G_GUINT64_CONSTANT(1) << (total - 1);
        for (guint i = 0; i < 2 && ctx->issued < CHAIN_N; i++, ctx->issued++)
                kpingd_counter_store_increment_async(KPINGD_COUNTER_STORE(source), chain_done, ctx);
        if (++ctx->done == CHAIN_N)
                g_main_loop_quit(ctx->loop);
}

static void
test_strict_reentrant(void)
{
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        g_autoptr(KpingdCounterStore) store
            = kpingd_counter_store_open(dir, KPINGD_DURABILITY_STRICT, &error);
        ChainCtx ctx = { loop, 1, 0, 0 };

        g_assert_no_error(error);
        kpingd_counter_store_increment_async(store, chain_done, &ctx);
        g_main_loop_run(loop);
        g_assert_cmpuint(ctx.seen, ==, (G_GUINT64_CONSTANT(1) << CHAIN_N) - 1);
        g_assert_cmpuint(read_total(dir), ==, CHAIN_N);
        g_assert_true(kpingd_counter_store_close(store, &error));
        remove_dir(dir);
}

static gint
cmp_u64(gconstpointer a, gconstpointer b)
{
        guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;

        return x < y ? -1 : x > y;
}

static void
run_increments(KpingdCounterStore *store, StrictCtx *ctx, guint n)
{
        ctx->done = 0;
        ctx->expected = n;
        g_array_set_size(ctx->totals, 0);
        g_clear_error(&ctx->error);
        for (guint i = 0; i < n; i++)
                kpingd_counter_store_increment_async(store, strict_done, ctx);
        g_main_loop_run(ctx->loop);
}

static void
test_strict_group_commit(void)
{
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        g_autoptr(KpingdCounterStore) store
            = kpingd_counter_store_open(dir, KPINGD_DURABILITY_STRICT, &error);
        StrictCtx ctx = { loop, dir, 0, 0, g_array_new(FALSE, FALSE, sizeof(guint64)), NULL };
        guint writes;

        g_assert_no_error(error);
        writes = kpingd_counter_store_get_write_count(store);
        run_increments(store, &ctx, 64);
        g_assert_no_error(ctx.error);
        g_assert_cmpuint(ctx.totals->len, ==, 64);
        g_array_sort(ctx.totals, cmp_u64);
        for (guint i = 0; i < 64; i++)
                g_assert_cmpuint(g_array_index(ctx.totals, guint64, i), ==, i + 1);
        writes = kpingd_counter_store_get_write_count(store) - writes;
        g_test_message("64 concurrent increments took %u writes", writes);
        /* the first write carries one, the next all the others */
        g_assert_cmpuint(writes, <=, 4);
        g_assert_cmpuint(read_total(dir), ==, 64);
        g_assert_cmpuint(kpingd_counter_store_get_durable_total(store), ==, 64);

        /* one at a time, each gets its own write */
        writes = kpingd_counter_store_get_write_count(store);
        for (guint i = 0; i < 3; i++) {
                run_increments(store, &ctx, 1);
                g_assert_no_error(ctx.error);
                g_assert_cmpuint(g_array_index(ctx.totals, guint64, 0), ==, 65 + i);
        }
        g_assert_cmpuint(kpingd_counter_store_get_write_count(store) - writes, ==, 3);
        g_assert_true(kpingd_counter_store_close(store, &error));
        g_clear_object(&store);

        store = kpingd_counter_store_open(dir, KPINGD_DURABILITY_STRICT, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_get_total(store), ==, 67);
        assert_only_state_file(dir);
        g_array_unref(ctx.totals);
        remove_dir(dir);
}

static void
test_strict_errors(void)
{
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        g_autoptr(KpingdCounterStore) store
            = kpingd_counter_store_open(dir, KPINGD_DURABILITY_STRICT, &error);
        StrictCtx ctx = { loop, dir, 0, 0, g_array_new(FALSE, FALSE, sizeof(guint64)), NULL };

        g_assert_no_error(error);
        run_increments(store, &ctx, 5);
        g_assert_no_error(ctx.error);
        g_assert_cmpuint(read_total(dir), ==, 5);

        /* the disk fails: every waiter hears it, the file keeps 5 */
        kpingd_counter_store_set_fail_stage(store, KPINGD_COUNTER_FAIL_FSYNC);
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*fsync*");
        run_increments(store, &ctx, 1);
        g_test_assert_expected_messages();
        kp_test_assert_error(ctx.error, KP_ERROR_IO, "fsync");
        g_assert_cmpuint(ctx.totals->len, ==, 0);
        g_assert_cmpuint(read_total(dir), ==, 5);
        g_assert_cmpuint(kpingd_counter_store_get_durable_total(store), ==, 5);
        assert_only_state_file(dir);

        /* recovered: the failed total 6 is not handed out again */
        kpingd_counter_store_set_fail_stage(store, KPINGD_COUNTER_FAIL_NONE);
        run_increments(store, &ctx, 1);
        g_assert_no_error(ctx.error);
        g_assert_cmpuint(g_array_index(ctx.totals, guint64, 0), ==, 7);
        g_assert_cmpuint(read_total(dir), ==, 7);

        /* closed: refused */
        g_assert_true(kpingd_counter_store_close(store, &error));
        run_increments(store, &ctx, 1);
        kp_test_assert_error(ctx.error, KP_ERROR_CLOSED, "closed");
        g_clear_error(&ctx.error);
        g_array_unref(ctx.totals);
        remove_dir(dir);
}

static void
test_crash_safety(void)
{
        const KpingdCounterFailStage stages[]
            = { KPINGD_COUNTER_FAIL_WRITE, KPINGD_COUNTER_FAIL_FSYNC, KPINGD_COUNTER_FAIL_RENAME };
        const char *const messages[] = { "write", "fsync", "rename" };
        g_autofree char *dir = make_dir();
        g_autoptr(GError) error = NULL;
        g_autoptr(KpingdCounterStore) store
            = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_autofree char *stale = g_build_filename(dir, KPINGD_COUNTER_FILE ".tmp-abc123", NULL);
        g_autofree char *good = NULL;
        g_autofree char *after = NULL;

        g_assert_no_error(error);
        kpingd_counter_store_increment(store);
        kpingd_counter_store_increment(store);
        g_assert_true(kpingd_counter_store_flush(store, &error));
        good = read_state(dir);
        g_assert_cmpstr(good, ==, "{\"version\":1,\"total\":2}\n");

        for (guint i = 0; i < G_N_ELEMENTS(stages); i++) {
                kpingd_counter_store_increment(store);
                kpingd_counter_store_set_fail_stage(store, stages[i]);
                g_assert_false(kpingd_counter_store_flush(store, &error));
                kp_test_assert_error(error, KP_ERROR_IO, messages[i]);
                g_clear_error(&error);
                /* the good file is untouched, the temp file gone */
                g_free(after);
                after = read_state(dir);
                g_assert_cmpstr(after, ==, good);
                assert_only_state_file(dir);
                g_assert_cmpuint(kpingd_counter_store_get_durable_total(store), ==, 2);
        }
        kpingd_counter_store_set_fail_stage(store, KPINGD_COUNTER_FAIL_NONE);
        g_assert_true(kpingd_counter_store_close(store, &error));
        g_assert_cmpuint(read_total(dir), ==, 5);
        g_clear_object(&store);

        /* a crash mid-write leaves a torn temp file: ignored and removed */
        g_assert_true(g_file_set_contents(stale, "{\"version\":1,\"to", -1, NULL));
        store = kpingd_counter_store_open(dir, KPINGD_DURABILITY_BATCHED, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(kpingd_counter_store_get_total(store), ==, 5);
        assert_only_state_file(dir);
        g_assert_true(kpingd_counter_store_close(store, &error));
        remove_dir(dir);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/counter-store/fresh", test_fresh);
        g_test_add_func("/counter-store/persist-reload", test_persist_reload);
        g_test_add_func("/counter-store/corrupt", test_corrupt);
        g_test_add_func("/counter-store/unreadable", test_unreadable);
        g_test_add_func("/counter-store/batched-timing", test_batched_timing);
        g_test_add_func("/counter-store/strict-group-commit", test_strict_group_commit);
        g_test_add_func("/counter-store/strict-reentrant", test_strict_reentrant);
        g_test_add_func("/counter-store/strict-errors", test_strict_errors);
        g_test_add_func("/counter-store/crash-safety", test_crash_safety);
        return g_test_run();
}
