/* kpingd configuration: defaults, then /etc/kpingd/kpingd.conf (GKeyFile),
 * then the command line, which wins. */
#pragma once

#include <glib.h>

#include "core/kp-multiaddr.h"

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
        guint handshake_timeout_ms; /* [Limits] HandshakeTimeoutMs */
        gboolean print_peer_id;
        gboolean version;
} KpingdConfig;

/* Parses @argv and the config file into @config. Errors name the option, or
 * the file, key and value. */
gboolean kpingd_config_load(KpingdConfig *config, int *argc, char ***argv, GError **error);
void kpingd_config_clear(KpingdConfig *config);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KpingdConfig, kpingd_config_clear)
