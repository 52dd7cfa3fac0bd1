#define G_LOG_DOMAIN "kp-actor"

#include "actor/kp-actor-registry.h"

#include <string.h>

#include "core/kp-error.h"

void
kp_actor_location_free(KpActorLocation *location)
{
        if (location == NULL)
                return;
        kp_kameo_registration_free(location->registration);
        g_clear_pointer(&location->addrs, g_ptr_array_unref);
        g_free(location);
}

/* ---- register ------------------------------------------------------------ */

typedef struct {
        KpDht *dht;
        guint pending;
        GError *error; /* the first real failure */
} KpRegisterData;

static void
register_data_free(KpRegisterData *d)
{
        g_clear_error(&d->error);
        g_free(d);
}

/* No peer to store at is not a failure: the records are in our own stores
 * and are republished when peers come. */
static void
register_step_done(GTask *task, GError *error)
{
        KpRegisterData *d = g_task_get_task_data(task);

        if (error != NULL && !g_error_matches(error, KP_ERROR, KP_ERROR_NOT_FOUND)
            && d->error == NULL)
                d->error = g_steal_pointer(&error);
        g_clear_error(&error);
        if (--d->pending > 0)
                return;
        if (d->error != NULL)
                g_task_return_error(task, g_steal_pointer(&d->error));
        else
                g_task_return_boolean(task, TRUE);
}

static void
on_provider_added(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GTask) task = user_data;
        KpRegisterData *d = g_task_get_task_data(task);
        GError *error = NULL;

        kp_dht_add_provider_finish(d->dht, result, NULL, &error);
        register_step_done(task, error);
}

static void
on_value_put(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GTask) task = user_data;
        KpRegisterData *d = g_task_get_task_data(task);
        GError *error = NULL;

        kp_dht_put_value_finish(d->dht, result, NULL, &error);
        register_step_done(task, error);
}

void
kp_actor_register_async(KpDht *dht, const char *name, guint64 actor_seq, const char *remote_id,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        KpRegisterData *d = g_new0(KpRegisterData, 1);
        const KpPeerId *self = kp_host_get_peer_id(kp_dht_get_host(dht));
        g_autofree char *meta = kp_kameo_meta_key(name, self);
        g_autoptr(GBytes) name_key = g_bytes_new(name, strlen(name));
        g_autoptr(GBytes) meta_key = g_bytes_new(meta, strlen(meta));
        g_autoptr(GBytes) value = kp_kameo_registration_encode(actor_seq, self, remote_id);

        g_task_set_source_tag(task, kp_actor_register_async);
        d->dht = dht;
        d->pending = 2;
        g_task_set_task_data(task, d, (GDestroyNotify)register_data_free);
        kp_dht_add_provider_async(dht, name_key, KP_ACTOR_REGISTER_TIMEOUT_MS, cancellable,
                                  on_provider_added, g_object_ref(task));
        kp_dht_put_value_async(dht, meta_key, value, KP_ACTOR_REGISTER_TIMEOUT_MS, cancellable,
                               on_value_put, task);
}

gboolean
kp_actor_register_finish(KpDht *dht, GAsyncResult *result, GError **error)
{
        g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
        return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- lookup -------------------------------------------------------------- */

typedef struct {
        gint ref_count;
        KpDht *dht;
        char *name;
        char *expected;
        GTask *task;               /* NULL once answered */
        GCancellable *cancellable; /* cancels this attempt's queries */
        gint64 deadline_us;
        guint retry_ms;
        guint retry_id;
        guint pending;              /* queries of this attempt still running */
        GHashTable *asked;          /* provider peer ids asked for their registration */
        char *other_type;           /* a registration of another type that was seen */
        gboolean collect;           /* answer a GPtrArray of locations, not one */
        gboolean all;               /* collect every provider's, not the first */
        GPtrArray *found;           /* KpActorLocation*, when collecting */
        KpDhtStats stats;           /* of the last GET_PROVIDERS */
        KpKadPeer *likely_provider; /* asked at the start of each attempt */
} KpLookup;

typedef struct {
        KpLookup *lookup;
        KpKadPeer *provider;
} KpValueQuery;

static KpLookup *
lookup_ref(KpLookup *l)
{
        l->ref_count++;
        return l;
}

static void
lookup_unref(KpLookup *l)
{
        if (--l->ref_count > 0)
                return;
        g_clear_handle_id(&l->retry_id, g_source_remove);
        g_clear_object(&l->cancellable);
        g_clear_pointer(&l->asked, g_hash_table_unref);
        g_free(l->name);
        g_free(l->expected);
        g_free(l->other_type);
        g_clear_pointer(&l->found, g_ptr_array_unref);
        g_clear_pointer(&l->likely_provider, kp_kad_peer_free);
        g_free(l);
}

static void start_attempt(KpLookup *l);

/* Answers once: @result is a KpActorLocation, or the GPtrArray of them when
 * collecting; NULL with @error. */
static void
lookup_return(KpLookup *l, gpointer result, GError *error)
{
        GTask *task = g_steal_pointer(&l->task);
        GDestroyNotify free_func = l->collect ? (GDestroyNotify)g_ptr_array_unref
                                              : (GDestroyNotify)kp_actor_location_free;

        if (task == NULL) {
                if (result != NULL)
                        free_func(result);
                g_clear_error(&error);
                return;
        }
        g_cancellable_cancel(l->cancellable);
        g_clear_handle_id(&l->retry_id, g_source_remove);
        g_task_set_task_data(task, g_memdup2(&l->stats, sizeof l->stats), g_free);
        if (error != NULL)
                g_task_return_error(task, error);
        else
                g_task_return_pointer(task, result, free_func);
        g_object_unref(task);
}

static gboolean
on_retry(gpointer user_data)
{
        KpLookup *l = user_data;

        l->retry_id = 0;
        start_attempt(l);
        return G_SOURCE_REMOVE;
}

/* An attempt's queries have all ended without a result: retry or give up. */
static void
attempt_finished(KpLookup *l)
{
        gint64 left_ms = (l->deadline_us - g_get_monotonic_time()) / 1000;

        if (l->task == NULL || l->pending > 0)
                return;
        if (l->collect && l->found->len > 0) {
                lookup_return(l, g_steal_pointer(&l->found), NULL);
                return;
        }
        if (left_ms > (gint64)l->retry_ms) {
                l->retry_id = g_timeout_add_full(G_PRIORITY_DEFAULT, l->retry_ms, on_retry,
                                                 lookup_ref(l), (GDestroyNotify)lookup_unref);
                l->retry_ms *= 2;
                return;
        }
        if (l->other_type != NULL)
                lookup_return(l, NULL,
                              g_error_new(KP_ERROR, KP_ERROR_UNSUPPORTED,
                                          "actor '%s' is a %s, not a %s (BadActorType)", l->name,
                                          l->other_type, l->expected));
        else
                lookup_return(
                    l, NULL,
                    g_error_new(KP_ERROR, KP_ERROR_NOT_FOUND, "actor '%s' not found", l->name));
}

static gboolean
on_value(KpDht *dht, const KpPeerId *from, GBytes *value, gpointer user_data)
{
        KpValueQuery *q = user_data;
        KpLookup *l = q->lookup;
        g_autoptr(KpKameoRegistration) reg = NULL;
        KpActorLocation *location;

        if (l->task == NULL)
                return FALSE;
        reg = kp_kameo_registration_decode(g_bytes_get_data(value, NULL), g_bytes_get_size(value),
                                           NULL);
        /* Only the provider's own registration counts (the DHT's PUT rule
         * already keeps others from writing it). */
        if (reg == NULL || !kp_peer_id_equal(&reg->peer_id, &q->provider->id))
                return TRUE;
        if (l->expected != NULL && !g_str_equal(reg->remote_id, l->expected)) {
                if (l->other_type == NULL)
                        l->other_type = g_strdup(reg->remote_id);
                return FALSE;
        }
        location = g_new0(KpActorLocation, 1);
        location->registration = g_steal_pointer(&reg);
        location->addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        for (guint i = 0; i < q->provider->addrs->len; i++)
                g_ptr_array_add(location->addrs, kp_multiaddr_copy(q->provider->addrs->pdata[i]));
        if (!l->collect) {
                lookup_return(l, location, NULL);
        } else {
                g_ptr_array_add(l->found, location);
                if (!l->all)
                        lookup_return(l, g_steal_pointer(&l->found), NULL);
        }
        return FALSE;
}

static void
on_value_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpValueQuery *q = user_data;
        KpLookup *l = q->lookup;

        kp_dht_get_value_finish(l->dht, result, NULL, NULL);
        kp_kad_peer_free(q->provider);
        g_free(q);
        l->pending--;
        attempt_finished(l);
        lookup_unref(l);
}

static gboolean
on_provider(KpDht *dht, const KpKadPeer *provider, gpointer user_data)
{
        KpLookup *l = user_data;
        KpValueQuery *q;
        g_autofree char *meta = NULL;
        g_autoptr(GBytes) key = NULL;
        gint64 left_ms;

        if (l->task == NULL)
                return FALSE;
        if (g_hash_table_contains(l->asked, &provider->id))
                return TRUE;
        g_hash_table_add(l->asked, g_memdup2(&provider->id, sizeof provider->id));
        q = g_new0(KpValueQuery, 1);
        q->lookup = lookup_ref(l);
        q->provider = kp_kad_peer_copy(provider);
        meta = kp_kameo_meta_key(l->name, &provider->id);
        key = g_bytes_new(meta, strlen(meta));
        left_ms = MAX(1, (l->deadline_us - g_get_monotonic_time()) / 1000);
        l->pending++;
        kp_dht_get_value_async(dht, key, on_value, q, (guint)left_ms, l->cancellable, on_value_done,
                               q);
        return TRUE;
}

static void
on_providers_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpLookup *l = user_data;

        kp_dht_get_providers_finish(l->dht, result, &l->stats, NULL);
        l->pending--;
        attempt_finished(l);
        lookup_unref(l);
}

static void
start_attempt(KpLookup *l)
{
        g_autoptr(GBytes) key = g_bytes_new(l->name, strlen(l->name));
        gint64 left_ms = MAX(1, (l->deadline_us - g_get_monotonic_time()) / 1000);

        g_hash_table_remove_all(l->asked);
        l->pending++;
        kp_dht_get_providers_async(l->dht, key, on_provider, l, (guint)left_ms, l->cancellable,
                                   on_providers_done, lookup_ref(l));
        /* Its answer to GET_PROVIDERS is then not asked again (@asked). */
        if (l->likely_provider != NULL)
                on_provider(l->dht, l->likely_provider, l);
}

static void
lookup_start(KpDht *dht, const char *name, const char *expected_remote_id,
             const KpKadPeer *likely_provider, gboolean collect, gboolean all, guint timeout_ms,
             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data,
             gpointer source_tag)
{
        KpLookup *l = g_new0(KpLookup, 1);

        l->ref_count = 1;
        l->dht = dht;
        l->name = g_strdup(name);
        l->expected = g_strdup(expected_remote_id);
        l->collect = collect;
        l->all = all;
        if (collect)
                l->found = g_ptr_array_new_with_free_func((GDestroyNotify)kp_actor_location_free);
        l->task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(l->task, source_tag);
        l->cancellable = g_cancellable_new();
        l->deadline_us
            = g_get_monotonic_time()
              + (gint64)(timeout_ms > 0 ? timeout_ms : KP_ACTOR_LOOKUP_TIMEOUT_MS) * 1000;
        l->retry_ms = KP_ACTOR_LOOKUP_RETRY_MS;
        l->asked = g_hash_table_new_full(kp_peer_id_hash, kp_peer_id_equal_func, g_free, NULL);
        if (likely_provider != NULL)
                l->likely_provider = kp_kad_peer_copy(likely_provider);
        start_attempt(l);
        lookup_unref(l);
}

void
kp_actor_lookup_async(KpDht *dht, const char *name, const char *expected_remote_id,
                      const KpKadPeer *likely_provider, guint timeout_ms, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
        lookup_start(dht, name, expected_remote_id, likely_provider, FALSE, FALSE, timeout_ms,
                     cancellable, callback, user_data, kp_actor_lookup_async);
}

void
kp_actor_find_registrations_async(KpDht *dht, const char *name, gboolean all, guint timeout_ms,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
        lookup_start(dht, name, NULL, NULL, TRUE, all, timeout_ms, cancellable, callback, user_data,
                     kp_actor_find_registrations_async);
}

GPtrArray *
kp_actor_find_registrations_finish(KpDht *dht, GAsyncResult *result, KpDhtStats *ret_stats,
                                   GError **error)
{
        KpDhtStats *stats;

        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        stats = g_task_get_task_data(G_TASK(result));
        if (ret_stats != NULL && stats != NULL)
                *ret_stats = *stats;
        return g_task_propagate_pointer(G_TASK(result), error);
}

KpActorLocation *
kp_actor_lookup_finish(KpDht *dht, GAsyncResult *result, GError **error)
{
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        return g_task_propagate_pointer(G_TASK(result), error);
}
