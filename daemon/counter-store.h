/* The PingActor's persistent total: counter.json in the state dir,
 * {"version":1,"total":N}, replaced atomically and durably (temp file in the
 * same directory, write, fsync, rename, fsync of the directory), so that a
 * crash leaves either the old file or the new one, never a torn one.
 *
 * BATCHED: increments are counted in memory and written at most once a
 * second (a timeout on the thread-default main context of the opener),
 * and by kpingd_counter_store_flush() / _close() (the SIGTERM path).
 * STRICT: kpingd_counter_store_increment_async() completes only once the new
 * total is on disk. Writes run in a worker thread; the increments that
 * arrive while one is in flight share the next write (group commit).
 *
 * Either way the total on disk never goes backwards, and a state file that
 * does not parse is an error naming it: the daemon never silently restarts
 * from 0. Use from one thread (the one whose main context was the
 * thread-default at open). */
#pragma once

#include <gio/gio.h>

#include "config.h"

G_BEGIN_DECLS

#define KPINGD_COUNTER_FILE    "counter.json"
#define KPINGD_COUNTER_VERSION 1
/* A larger state file is not one we wrote. */
#define KPINGD_COUNTER_MAX_FILE 4096
/* json-c saturates integers at 2^64-1 without telling, so totals are kept
 * to what a signed 64-bit integer holds and anything above is refused. */
#define KPINGD_COUNTER_MAX_TOTAL ((guint64)G_MAXINT64)
/* Minimum spacing of BATCHED writes. */
#define KPINGD_COUNTER_FLUSH_INTERVAL_MS 1000

#define KPINGD_TYPE_COUNTER_STORE (kpingd_counter_store_get_type())
G_DECLARE_FINAL_TYPE(KpingdCounterStore, kpingd_counter_store, KPINGD, COUNTER_STORE, GObject)

/* Reads @state_dir/counter.json, or creates it with total 0 when missing
 * (which also proves the directory writable). Stale temp files of an
 * interrupted write are removed. */
KpingdCounterStore *kpingd_counter_store_open(const char *state_dir, KpingdDurability durability,
                                              GError **error);

/* The latest total handed out (in STRICT mode possibly not yet on disk). */
guint64 kpingd_counter_store_get_total(KpingdCounterStore *store);
/* The latest total known to be on disk. */
guint64 kpingd_counter_store_get_durable_total(KpingdCounterStore *store);

/* BATCHED only: counts one ping and returns the new total. */
guint64 kpingd_counter_store_increment(KpingdCounterStore *store);

/* Counts one ping; the callback gets the new total with _finish(). In STRICT
 * mode that is once the total is on disk (or an error: the ping is then not
 * confirmed, and its total number is not reused); in BATCHED mode at once. */
void kpingd_counter_store_increment_async(KpingdCounterStore *store, GAsyncReadyCallback callback,
                                          gpointer user_data);
gboolean kpingd_counter_store_increment_finish(KpingdCounterStore *store, GAsyncResult *result,
                                               guint64 *ret_total, GError **error);

/* Writes the current total now if it is not on disk yet (blocking). */
gboolean kpingd_counter_store_flush(KpingdCounterStore *store, GError **error);
/* Flushes and stops the timer; later increments are refused. */
gboolean kpingd_counter_store_close(KpingdCounterStore *store, GError **error);

/* Parses a state file's contents (no file name in the messages). */
gboolean kpingd_counter_store_parse(const char *data, gsize len, guint64 *ret_total,
                                    GError **error);

/* For tests: completed file writes (each one fsync of the file). */
guint kpingd_counter_store_get_write_count(KpingdCounterStore *store);
/* For tests: when the latest write (or the open) started, monotonic µs. */
gint64 kpingd_counter_store_get_last_write_start(KpingdCounterStore *store);

/* For tests: make the next writes fail at a stage, after the temp file
 * was created, as a full disk or a crash would. */
typedef enum {
        KPINGD_COUNTER_FAIL_NONE,
        KPINGD_COUNTER_FAIL_WRITE, /* after writing half the bytes */
        KPINGD_COUNTER_FAIL_FSYNC,
        KPINGD_COUNTER_FAIL_RENAME,
} KpingdCounterFailStage;
void kpingd_counter_store_set_fail_stage(KpingdCounterStore *store, KpingdCounterFailStage stage);

G_END_DECLS
