/* Actor names in the DHT, the kameo 0.19 way: a provider record for the name
 * and a "{name}:meta:{peer}" record holding the registration. Faster than
 * kameo: both records are published at once, a lookup starts GET_VALUE for
 * each provider as soon as it is known and returns on the first valid
 * registration, and an empty answer is retried with backoff inside a bounded
 * time instead of fixed sleeps. */
#pragma once

#include "core/kp-kameo-registration.h"
#include "dht/kp-dht.h"

G_BEGIN_DECLS

/* A lookup gives up after this long overall: an absent actor is reported
 * quickly, while a registration still spreading is waited for. */
#define KP_ACTOR_LOOKUP_TIMEOUT_MS 3000
/* First retry after an empty answer; doubled after each. */
#define KP_ACTOR_LOOKUP_RETRY_MS 50
/* Publishing both records waits at most this long for the network. */
#define KP_ACTOR_REGISTER_TIMEOUT_MS 10000

typedef struct {
        KpKameoRegistration *registration;
        GPtrArray *addrs; /* KpMultiaddr*: where the provider said it is; may be empty */
} KpActorLocation;

void kp_actor_location_free(KpActorLocation *location);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpActorLocation, kp_actor_location_free)

/* Publishes both records. Succeeds once the local stores hold them and the
 * network was tried: having no peers yet still counts as registered, as in
 * kameo. */
void kp_actor_register_async(KpDht *dht, const char *name, guint64 actor_seq, const char *remote_id,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean kp_actor_register_finish(KpDht *dht, GAsyncResult *result, GError **error);

/* Finds the first registration of @name whose remote id is
 * @expected_remote_id. Errors: KP_ERROR_NOT_FOUND ("actor 'x' not found"),
 * KP_ERROR_UNSUPPORTED when only other actor types are registered under the
 * name ("... BadActorType"). @timeout_ms 0: KP_ACTOR_LOOKUP_TIMEOUT_MS.
 * @likely_provider (may be NULL): a peer that probably hosts the actor, such
 * as the one the caller dialled; its registration is asked for at once,
 * alongside GET_PROVIDERS, which saves a round trip when it does. */
void kp_actor_lookup_async(KpDht *dht, const char *name, const char *expected_remote_id,
                           const KpKadPeer *likely_provider, guint timeout_ms,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
KpActorLocation *kp_actor_lookup_finish(KpDht *dht, GAsyncResult *result, GError **error);

/* Every registration under @name (or, without @all, the first), of any actor
 * type: KpActorLocation* in the order they arrived. KP_ERROR_NOT_FOUND when
 * none. @ret_stats: the GET_PROVIDERS part of the last attempt. */
void kp_actor_find_registrations_async(KpDht *dht, const char *name, gboolean all, guint timeout_ms,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
GPtrArray *kp_actor_find_registrations_finish(KpDht *dht, GAsyncResult *result,
                                              KpDhtStats *ret_stats, GError **error);

G_END_DECLS
