/* The PingActor's persistent total. */
#include "counter-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "core/kp-error.h"

#define TEMP_PREFIX KPINGD_COUNTER_FILE ".tmp-"

struct _KpingdCounterStore {
        GObject parent_instance;

        char *dir;
        char *path;
        KpingdDurability durability;
        GMainContext *context;
        gboolean closed;

        /* main thread */
        guint64 total;   /* handed out */
        guint64 durable; /* confirmed by a completed write */
        gboolean writing;
        GPtrArray *pending;   /* GTask* waiting for the next write */
        GPtrArray *in_flight; /* GTask* the running write confirms */
        GSource *timer;
        gint64 last_write_start; /* monotonic, µs */

        /* serializes file writes between the worker and flush() */
        GMutex write_lock;
        guint64 on_disk;
        gint write_count;
        gint fail_stage;
};

G_DEFINE_FINAL_TYPE(KpingdCounterStore, kpingd_counter_store, G_TYPE_OBJECT)

static void schedule_flush(KpingdCounterStore *store);

gboolean
kpingd_counter_store_parse(const char *data, gsize len, guint64 *ret_total, GError **error)
{
        g_autofree char *text = NULL;
        json_tokener *tok;
        json_object *root;
        json_object *version = NULL, *total = NULL;
        gboolean ok = FALSE;
        gint64 v;
        gsize end;

        if (len == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED, "empty file");
                return FALSE;
        }
        if (len > KPINGD_COUNTER_MAX_FILE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "%" G_GSIZE_FORMAT " bytes exceeds limit %d", len,
                            KPINGD_COUNTER_MAX_FILE);
                return FALSE;
        }
        if (memchr(data, '\0', len) != NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "contains a NUL byte");
                return FALSE;
        }
        tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        /* The terminating NUL tells json-c the input ends here, so a bare
         * number at the end is complete rather than "continue". */
        text = g_strndup(data, len);
        root = json_tokener_parse_ex(tok, text, (int)len + 1);
        end = json_tokener_get_parse_end(tok);
        if (root == NULL) {
                enum json_tokener_error jerr = json_tokener_get_error(tok);

                json_tokener_free(tok);

                if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof)
                        g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                                    "truncated JSON (ends after %" G_GSIZE_FORMAT " bytes)", len);
                else
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "not JSON: %s",
                                    json_tokener_error_desc(jerr));
                return FALSE;
        }
        json_tokener_free(tok);
        /* json-c's strict mode refuses most trailing data itself */
        for (gsize i = end; i < len; i++) {
                if (!g_ascii_isspace(data[i])) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "data after the JSON object at offset %" G_GSIZE_FORMAT, i);
                        goto out;
                }
        }
        if (!json_object_is_type(root, json_type_object)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "not a JSON object");
                goto out;
        }
        if (!json_object_object_get_ex(root, "version", &version)
            || !json_object_is_type(version, json_type_int)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "no integer \"version\"");
                goto out;
        }
        v = json_object_get_int64(version);
        if (v != KPINGD_COUNTER_VERSION) {
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "version %" G_GINT64_FORMAT " is not %d", v, KPINGD_COUNTER_VERSION);
                goto out;
        }
        if (!json_object_object_get_ex(root, "total", &total)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "no \"total\"");
                goto out;
        }
        if (!json_object_is_type(total, json_type_int)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "\"total\" is not an integer");
                goto out;
        }
        if (json_object_get_int64(total) < 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "\"total\" is negative");
                goto out;
        }
        /* json-c saturates out-of-range numbers, so anything at or over the
         * signed limit may be a clamped larger one. */
        if (json_object_get_uint64(total) >= KPINGD_COUNTER_MAX_TOTAL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "\"total\" is out of range (limit %" G_GUINT64_FORMAT ")",
                            KPINGD_COUNTER_MAX_TOTAL - 1);
                goto out;
        }
        *ret_total = json_object_get_uint64(total);
        ok = TRUE;
out:
        json_object_put(root);
        return ok;
}

static gboolean
set_io_error(GError **error, int errsv, const char *path, const char *what)
{
        g_set_error(error, KP_ERROR, KP_ERROR_IO, "%s: %s: %s", path, what, g_strerror(errsv));
        return FALSE;
}

static gboolean
write_all(int fd, const char *buf, gsize len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return FALSE;
                buf += n;
                len -= (gsize)n;
        }
        return TRUE;
}

/* temp file, write, fsync, rename, fsync the directory. Any thread, with
 * write_lock held. */
static gboolean
write_file_locked(KpingdCounterStore *store, guint64 total, GError **error)
{
        g_autofree char *tmp = g_build_filename(store->dir, TEMP_PREFIX "XXXXXX", NULL);
        g_autofree char *text = g_strdup_printf(
            "{\"version\":%d,\"total\":%" G_GUINT64_FORMAT "}\n", KPINGD_COUNTER_VERSION, total);
        gsize len = strlen(text);
        gint fail = g_atomic_int_get(&store->fail_stage);
        int fd, dirfd, errsv;

        fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0)
                return set_io_error(error, errno, tmp, "create");
        if (fail == KPINGD_COUNTER_FAIL_WRITE) {
                /* a torn write, as a crash or a full disk leaves it */
                (void)write_all(fd, text, len / 2);
                errsv = ENOSPC;
                goto fail_fd;
        }
        if (!write_all(fd, text, len)) {
                errsv = errno != 0 ? errno : EIO;
                goto fail_fd;
        }
        if (fail == KPINGD_COUNTER_FAIL_FSYNC || fsync(fd) != 0) {
                errsv = fail == KPINGD_COUNTER_FAIL_FSYNC ? EIO : errno;
                close(fd);
                g_unlink(tmp);
                return set_io_error(error, errsv, tmp, "fsync");
        }
        if (close(fd) != 0) {
                errsv = errno;
                g_unlink(tmp);
                return set_io_error(error, errsv, tmp, "close");
        }
        if (fail == KPINGD_COUNTER_FAIL_RENAME || g_rename(tmp, store->path) != 0) {
                errsv = fail == KPINGD_COUNTER_FAIL_RENAME ? EIO : errno;
                g_unlink(tmp);
                return set_io_error(error, errsv, store->path, "rename");
        }
        /* the rename itself is durable only once the directory is synced */
        dirfd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return set_io_error(error, errno, store->dir, "open");
        if (fsync(dirfd) != 0) {
                errsv = errno;
                close(dirfd);
                return set_io_error(error, errsv, store->dir, "fsync");
        }
        close(dirfd);
        g_atomic_int_inc(&store->write_count);
        return TRUE;

fail_fd:
        close(fd);
        g_unlink(tmp);
        return set_io_error(error, errsv, tmp, "write");
}

/* Writes @total unless the file already holds it or more: concurrent
 * writers can finish in any order without the file going backwards. */
static gboolean
write_total(KpingdCounterStore *store, guint64 total, GError **error)
{
        gboolean ok = TRUE;

        g_mutex_lock(&store->write_lock);
        if (total > store->on_disk) {
                ok = write_file_locked(store, total, error);
                if (ok)
                        store->on_disk = total;
        }
        g_mutex_unlock(&store->write_lock);
        return ok;
}

static void
write_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
        KpingdCounterStore *store = source;
        guint64 total = *(guint64 *)task_data;
        GError *error = NULL;

        if (!write_total(store, total, &error))
                g_task_return_error(task, error);
        else
                g_task_return_boolean(task, TRUE);
}

static void start_write(KpingdCounterStore *store);

static void
write_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpingdCounterStore *store = KPINGD_COUNTER_STORE(source);
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) waiters = NULL;
        guint64 total = *(guint64 *)g_task_get_task_data(G_TASK(result));

        waiters = g_steal_pointer(&store->in_flight);
        store->in_flight = g_ptr_array_new();
        if (g_task_propagate_boolean(G_TASK(result), &error)) {
                store->durable = MAX(store->durable, total);
        } else {
                g_warning("counter store: %s", error->message);
        }
        for (guint i = 0; i < waiters->len; i++) {
                GTask *w = waiters->pdata[i];

                if (error == NULL)
                        g_task_return_boolean(w, TRUE);
                else
                        g_task_return_error(w, g_error_copy(error));
                g_object_unref(w);
        }
        /* only now: callbacks that count again above just queued */
        store->writing = FALSE;
        if (store->durability == KPINGD_DURABILITY_STRICT) {
                if (store->pending->len > 0)
                        start_write(store);
        } else if (!store->closed && store->total > store->durable) {
                schedule_flush(store);
        }
}

static void
start_write(KpingdCounterStore *store)
{
        g_autoptr(GTask) task = g_task_new(store, NULL, write_done, NULL);
        guint64 *total = g_new(guint64, 1);
        GPtrArray *tmp;

        g_assert(!store->writing);
        *total = store->total;
        g_task_set_task_data(task, total, g_free);
        g_task_set_source_tag(task, start_write);
        /* everything queued so far rides on this one write */
        tmp = store->in_flight;
        store->in_flight = store->pending;
        store->pending = tmp;
        store->writing = TRUE;
        store->last_write_start = g_get_monotonic_time();
        g_task_run_in_thread(task, write_thread);
}

static gboolean
flush_timer_cb(gpointer user_data)
{
        KpingdCounterStore *store = user_data;

        g_clear_pointer(&store->timer, g_source_unref);
        if (!store->writing && store->total > store->durable)
                start_write(store);
        return G_SOURCE_REMOVE;
}

static void
schedule_flush(KpingdCounterStore *store)
{
        gint64 next, now;

        /* a running write reschedules when it ends */
        if (store->timer != NULL || store->writing || store->closed)
                return;
        now = g_get_monotonic_time();
        next = store->last_write_start + (gint64)KPINGD_COUNTER_FLUSH_INTERVAL_MS * 1000;
        store->timer = g_timeout_source_new(next > now ? (guint)((next - now + 999) / 1000) : 0);
        g_source_set_callback(store->timer, flush_timer_cb, store, NULL);
        g_source_set_name(store->timer, "kpingd counter flush");
        /* the callback holds no ref on the store: dispose destroys the source */
        g_source_attach(store->timer, store->context);
}

static void
remove_stale_temp_files(const char *dir)
{
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        if (d == NULL)
                return;
        while ((name = g_dir_read_name(d)) != NULL) {
                if (g_str_has_prefix(name, TEMP_PREFIX)) {
                        g_autofree char *p = g_build_filename(dir, name, NULL);
                        g_unlink(p);
                }
        }
}

KpingdCounterStore *
kpingd_counter_store_open(const char *state_dir, KpingdDurability durability, GError **error)
{
        g_autoptr(KpingdCounterStore) store = g_object_new(KPINGD_TYPE_COUNTER_STORE, NULL);
        g_autofree char *contents = NULL;
        g_autoptr(GError) local = NULL;
        gsize len = 0;
        guint64 total = 0;

        g_return_val_if_fail(state_dir != NULL, NULL);

        store->dir = g_strdup(state_dir);
        store->path = g_build_filename(state_dir, KPINGD_COUNTER_FILE, NULL);
        store->durability = durability;
        store->context = g_main_context_ref_thread_default();
        remove_stale_temp_files(state_dir);

        if (!g_file_get_contents(store->path, &contents, &len, &local)) {
                if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_IO, "%s", local->message);
                        return NULL;
                }
                gboolean ok;

                g_mutex_lock(&store->write_lock);
                ok = write_file_locked(store, 0, error);
                g_mutex_unlock(&store->write_lock);
                if (!ok)
                        return NULL;
        } else if (!kpingd_counter_store_parse(contents, len, &total, &local)) {
                g_set_error(error, KP_ERROR, local->code,
                            "%s: corrupt counter state file: %s (refusing to start from 0)",
                            store->path, local->message);
                return NULL;
        }
        store->total = store->durable = store->on_disk = total;
        store->last_write_start = g_get_monotonic_time();
        return g_steal_pointer(&store);
}

guint64
kpingd_counter_store_get_total(KpingdCounterStore *store)
{
        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), 0);
        return store->total;
}

guint64
kpingd_counter_store_get_durable_total(KpingdCounterStore *store)
{
        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), 0);
        return store->durable;
}

guint
kpingd_counter_store_get_write_count(KpingdCounterStore *store)
{
        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), 0);
        return (guint)g_atomic_int_get(&store->write_count);
}

gint64
kpingd_counter_store_get_last_write_start(KpingdCounterStore *store)
{
        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), 0);
        return store->last_write_start;
}

void
kpingd_counter_store_set_fail_stage(KpingdCounterStore *store, KpingdCounterFailStage stage)
{
        g_return_if_fail(KPINGD_IS_COUNTER_STORE(store));
        g_atomic_int_set(&store->fail_stage, stage);
}

guint64
kpingd_counter_store_increment(KpingdCounterStore *store)
{
        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), 0);
        g_return_val_if_fail(store->durability == KPINGD_DURABILITY_BATCHED, 0);
        g_return_val_if_fail(!store->closed, 0);
        /* 2^63 pings is some 290,000 years at a million a second */
        g_return_val_if_fail(store->total < KPINGD_COUNTER_MAX_TOTAL - 1, store->total);

        store->total++;
        schedule_flush(store);
        return store->total;
}

void
kpingd_counter_store_increment_async(KpingdCounterStore *store, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
        g_autoptr(GTask) task = NULL;
        guint64 *total;

        g_return_if_fail(KPINGD_IS_COUNTER_STORE(store));

        task = g_task_new(store, NULL, callback, user_data);
        g_task_set_source_tag(task, kpingd_counter_store_increment_async);
        if (store->closed) {
                g_task_return_new_error(task, KP_ERROR, KP_ERROR_CLOSED,
                                        "%s: counter store is closed", store->path);
                return;
        }
        if (store->total >= KPINGD_COUNTER_MAX_TOTAL - 1) {
                g_task_return_new_error(task, KP_ERROR, KP_ERROR_TOO_LARGE,
                                        "%s: total would exceed %" G_GUINT64_FORMAT, store->path,
                                        KPINGD_COUNTER_MAX_TOTAL - 1);
                return;
        }
        total = g_new(guint64, 1);
        *total = ++store->total;
        g_task_set_task_data(task, total, g_free);
        if (store->durability == KPINGD_DURABILITY_BATCHED) {
                schedule_flush(store);
                g_task_return_boolean(task, TRUE);
                return;
        }
        g_ptr_array_add(store->pending, g_steal_pointer(&task));
        if (!store->writing)
                start_write(store);
}

gboolean
kpingd_counter_store_increment_finish(KpingdCounterStore *store, GAsyncResult *result,
                                      guint64 *ret_total, GError **error)
{
        g_return_val_if_fail(g_task_is_valid(result, store), FALSE);

        if (!g_task_propagate_boolean(G_TASK(result), error))
                return FALSE;
        if (ret_total != NULL)
                *ret_total = *(guint64 *)g_task_get_task_data(G_TASK(result));
        return TRUE;
}

gboolean
kpingd_counter_store_flush(KpingdCounterStore *store, GError **error)
{
        guint64 total;

        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), FALSE);

        total = store->total;
        if (!write_total(store, total, error))
                return FALSE;
        store->durable = MAX(store->durable, total);
        return TRUE;
}

gboolean
kpingd_counter_store_close(KpingdCounterStore *store, GError **error)
{
        g_return_val_if_fail(KPINGD_IS_COUNTER_STORE(store), FALSE);

        if (store->timer != NULL) {
                g_source_destroy(store->timer);
                g_clear_pointer(&store->timer, g_source_unref);
        }
        store->closed = TRUE;
        return kpingd_counter_store_flush(store, error);
}

static void
kpingd_counter_store_dispose(GObject *object)
{
        KpingdCounterStore *store = KPINGD_COUNTER_STORE(object);

        if (store->timer != NULL) {
                g_source_destroy(store->timer);
                g_clear_pointer(&store->timer, g_source_unref);
        }
        G_OBJECT_CLASS(kpingd_counter_store_parent_class)->dispose(object);
}

static void
kpingd_counter_store_finalize(GObject *object)
{
        KpingdCounterStore *store = KPINGD_COUNTER_STORE(object);

        /* GTasks hold the store, so nothing is pending or in flight here */
        if (!store->closed && store->path != NULL && store->total > store->durable) {
                g_autoptr(GError) error = NULL;
                if (!write_total(store, store->total, &error))
                        g_warning("counter store: %s", error->message);
        }
        g_ptr_array_unref(store->pending);
        g_ptr_array_unref(store->in_flight);
        g_clear_pointer(&store->context, g_main_context_unref);
        g_mutex_clear(&store->write_lock);
        g_free(store->dir);
        g_free(store->path);
        G_OBJECT_CLASS(kpingd_counter_store_parent_class)->finalize(object);
}

static void
kpingd_counter_store_class_init(KpingdCounterStoreClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = kpingd_counter_store_dispose;
        object_class->finalize = kpingd_counter_store_finalize;
}

static void
kpingd_counter_store_init(KpingdCounterStore *store)
{
        g_mutex_init(&store->write_lock);
        store->pending = g_ptr_array_new();
        store->in_flight = g_ptr_array_new();
}
