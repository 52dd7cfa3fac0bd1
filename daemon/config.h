/* kpingd configuration: defaults, then /etc/kpingd/kpingd.conf (GKeyFile),
 * then the command line, which wins. */
#pragma once

#include <glib.h>

#include "actor/kp-actor-messaging.h"
#include "core/kp-multiaddr.h"
#include "net/kp-host.h"

#define KPINGD_DEFAULT_CONFIG    "/etc/kpingd/kpingd.conf"
#define KPINGD_DEFAULT_STATE_DIR "/var/lib/kpingd"
#define KPINGD_DEFAULT_LISTEN    "/ip4/0.0.0.0/tcp/36341;/ip6/::/tcp/36341"
#define KPINGD_DEFAULT_ACTOR     "ping"
#define KPINGD_DEFAULT_KAD       "/kameo/registry/1.0.0"

typedef enum {
        KPINGD_DURABILITY_BATCHED,
        KPINGD_DURABILITY_STRICT,
} KpingdDurability;

typedef struct {
        char *config_file;
        char *state_dir;
        GPtrArray *listen;    /* KpMultiaddr* */
        GPtrArray *bootstrap; /* KpMultiaddr*, each with /p2p */
        char *actor_name;
        GStrv kad_protocols;
        KpingdDurability durability;
        GLogLevelFlags log_level;
        char *addrs_file;
        /* [Limits] */
        KpHostLimits host_limits;
        KpActorLimits actor_limits;
        guint kad_max_message;
        guint dht_max_records;
        guint dht_max_records_per_peer;
        guint dht_max_providers;
        guint dht_max_providers_per_peer;
        gboolean print_peer_id;
        gboolean version;
} KpingdConfig;

/* One [Limits] key: a decimal integer from min to max, stored as a guint
 * at offset in KpingdConfig. */
typedef struct {
        const char *key;
        guint min;
        guint max;
        const char *unit; /* for the error message; "" for counts */
        gsize offset;
} KpingdLimitKey;

/* Every [Limits] key, in the order of kpingd.conf(5). */
const KpingdLimitKey *kpingd_config_get_limit_keys(gsize *ret_n);

/* Parses @argv and the config file into @config. Errors name the option, or
 * the file, key and value. */
gboolean kpingd_config_load(KpingdConfig *config, int *argc, char ***argv, GError **error);
/* The defaults, as if no file and no option were given (no state dir). */
void kpingd_config_init(KpingdConfig *config);
/* Applies a kpingd.conf held in memory (@name is its file name in errors)
 * over what @config holds. */
gboolean kpingd_config_load_data(KpingdConfig *config, const char *data, gsize len,
                                 const char *name, GError **error);
void kpingd_config_clear(KpingdConfig *config);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KpingdConfig, kpingd_config_clear)
