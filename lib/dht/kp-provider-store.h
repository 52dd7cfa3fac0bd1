/* Provider records (ADD_PROVIDER / GET_PROVIDERS): who says they provide
 * which key, with addresses, TTLs, republish bookkeeping for the keys we
 * provide ourselves, and limits. Sans-I/O: time is passed in (ms).
 * Only a provider's own announcement is accepted (the caller passes the
 * authenticated sender; the spec's rule). Any key is accepted: kameo
 * announces plain actor names, js announces CIDs. */
#pragma once

#include <glib.h>

#include "core/kp-kad-message.h"

G_BEGIN_DECLS

/* libp2p/specs kad-dht: provider advertisements expire after 24 hours. */
#define KP_PROVIDER_TTL_MS             (24 * 60 * 60 * 1000LL)
#define KP_PROVIDER_REPUBLISH_MS       (12 * 60 * 60 * 1000LL)
#define KP_PROVIDER_MAX_KEY            1024
#define KP_PROVIDER_STORE_MAX_KEYS     4096
#define KP_PROVIDER_STORE_MAX_PER_KEY  64
#define KP_PROVIDER_STORE_MAX_PER_PEER 256
#define KP_PROVIDER_STORE_MAX_TOTAL    16384
/* Bounds of kp_provider_store_set_limits(). */
#define KP_PROVIDER_STORE_LIMIT_MIN 1
#define KP_PROVIDER_STORE_LIMIT_MAX (1024 * 1024)

typedef struct _KpProviderStore KpProviderStore;

KpProviderStore *kp_provider_store_new(const KpPeerId *self);
void kp_provider_store_free(KpProviderStore *store);
/* Providers in total (default KP_PROVIDER_STORE_MAX_TOTAL) and keys one
 * peer may provide (default KP_PROVIDER_STORE_MAX_PER_PEER) from now on,
 * within KP_PROVIDER_STORE_LIMIT_MIN .. KP_PROVIDER_STORE_LIMIT_MAX. */
void kp_provider_store_set_limits(KpProviderStore *store, guint max_total, guint max_per_peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpProviderStore, kp_provider_store_free)

/* Records @provider (id and addresses) for @key, or refreshes it. A
 * provider that is ourselves is local: it never expires and is due for
 * republishing every KP_PROVIDER_REPUBLISH_MS. Errors: KP_ERROR_TOO_LARGE
 * over a limit; messages start with "provider store". */
gboolean kp_provider_store_add(KpProviderStore *store, GBytes *key, const KpKadPeer *provider,
                               gint64 now_ms, GError **error);
/* Live providers of @key (KpKadPeer* copies), newest announcement last. */
GPtrArray *kp_provider_store_get(KpProviderStore *store, const guint8 *key, gsize len,
                                 gint64 now_ms);
guint kp_provider_store_expire(KpProviderStore *store, gint64 now_ms);
/* Keys we provide that are due for re-announcing (GBytes*, new refs). */
GPtrArray *kp_provider_store_take_due(KpProviderStore *store, gint64 now_ms);
guint kp_provider_store_n_keys(KpProviderStore *store);
guint kp_provider_store_n_providers(KpProviderStore *store);

G_END_DECLS
