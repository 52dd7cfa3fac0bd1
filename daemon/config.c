#define G_LOG_DOMAIN "kpingd"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-mss.h"
#include "core/kp-yamux.h"
#include "log.h"
#include "dht/kp-dht.h"
#include "net/kp-host.h"

/* What the command line said; NULL where it said nothing. */
typedef struct {
        char *config_file;
        char *state_dir;
        GStrv listen;
        GStrv bootstrap;
        char *actor_name;
        char *log_level;
        char *addrs_file;
} KpingdArgs;

static void
kpingd_args_clear(KpingdArgs *a)
{
        g_free(a->config_file);
        g_free(a->state_dir);
        g_strfreev(a->listen);
        g_strfreev(a->bootstrap);
        g_free(a->actor_name);
        g_free(a->log_level);
        g_free(a->addrs_file);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KpingdArgs, kpingd_args_clear)

void
kpingd_config_clear(KpingdConfig *c)
{
        g_clear_pointer(&c->config_file, g_free);
        g_clear_pointer(&c->state_dir, g_free);
        g_clear_pointer(&c->listen, g_ptr_array_unref);
        g_clear_pointer(&c->bootstrap, g_ptr_array_unref);
        g_clear_pointer(&c->actor_name, g_free);
        g_clear_pointer(&c->kad_protocols, g_strfreev);
        g_clear_pointer(&c->addrs_file, g_free);
}

/* "where": "--listen" or "/etc/kpingd/kpingd.conf: key Listen". */
static GPtrArray *
parse_addrs(const char *const *texts, gboolean need_peer, const char *where, GError **error)
{
        g_autoptr(GPtrArray) out
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);

        for (gsize i = 0; texts != NULL && texts[i] != NULL; i++) {
                g_autofree char *text = g_strstrip(g_strdup(texts[i]));
                g_autoptr(KpMultiaddr) ma = NULL;
                KpPeerId id;

                if (text[0] == '\0')
                        continue;
                ma = kp_multiaddr_new_from_string(text, error);
                if (ma == NULL) {
                        g_prefix_error(error, "%s: ", where);
                        return NULL;
                }
                if (need_peer && !kp_multiaddr_get_peer_id(ma, &id, NULL)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "%s: \"%s\" has no /p2p/<peer id>", where, text);
                        return NULL;
                }
                g_ptr_array_add(out, g_steal_pointer(&ma));
        }
        return g_steal_pointer(&out);
}

static gboolean
apply_actor_name(KpingdConfig *c, const char *name, const char *where, GError **error)
{
        if (name[0] == '\0' || strlen(name) > 128 || strchr(name, ':') != NULL
            || !g_utf8_validate(name, -1, NULL)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "%s: invalid actor name \"%s\" (1 to 128 characters, no ':')", where,
                            name);
                return FALSE;
        }
        g_free(c->actor_name);
        c->actor_name = g_strdup(name);
        return TRUE;
}

static gboolean
apply_log_level(KpingdConfig *c, const char *value, const char *where, GError **error)
{
        if (!kpingd_log_parse_level(value, &c->log_level)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "%s: invalid log level \"%s\" (error, warning, info or debug)", where,
                            value);
                return FALSE;
        }
        return TRUE;
}

#define LIMIT(key, min, max, unit, field)                                                          \
        {                                                                                          \
                key, min, max, unit, G_STRUCT_OFFSET(KpingdConfig, field)                          \
        }

static const KpingdLimitKey limit_keys[] = {
        LIMIT("MaxConnections", KP_HOST_LIMIT_COUNT_MIN, KP_HOST_LIMIT_COUNT_MAX, "",
              host_limits.max_connections),
        LIMIT("MaxConnectionsPerIP", KP_HOST_LIMIT_COUNT_MIN, KP_HOST_LIMIT_COUNT_MAX, "",
              host_limits.max_connections_per_ip),
        LIMIT("MaxPendingHandshakes", KP_HOST_LIMIT_COUNT_MIN, KP_HOST_LIMIT_COUNT_MAX, "",
              host_limits.max_pending_handshakes),
        LIMIT("MaxPendingHandshakesPerIP", KP_HOST_LIMIT_COUNT_MIN, KP_HOST_LIMIT_COUNT_MAX, "",
              host_limits.max_pending_handshakes_per_ip),
        LIMIT("HandshakeTimeoutMs", KP_HOST_HANDSHAKE_TIMEOUT_MIN_MS,
              KP_HOST_HANDSHAKE_TIMEOUT_MAX_MS, " milliseconds", host_limits.handshake_timeout_ms),
        LIMIT("IdleTimeoutMs", KP_HOST_IDLE_TIMEOUT_MIN_MS, KP_HOST_IDLE_TIMEOUT_MAX_MS,
              " milliseconds", host_limits.idle_timeout_ms),
        LIMIT("MaxStreamsPerConnection", KP_YAMUX_MAX_STREAMS_MIN, KP_YAMUX_MAX_STREAMS_MAX, "",
              host_limits.max_streams_per_connection),
        LIMIT("MaxRequestsPerPeer", KP_ACTOR_MAX_REQUESTS_PER_PEER_MIN,
              KP_ACTOR_MAX_REQUESTS_PER_PEER_MAX, "", actor_limits.max_requests_per_peer),
        LIMIT("MaxActorRequestBytes", KP_ACTOR_MAX_MESSAGE_BYTES_MIN, KP_KAMEO_MAX_REQUEST,
              " bytes", actor_limits.max_request_bytes),
        LIMIT("MaxActorResponseBytes", KP_ACTOR_MAX_MESSAGE_BYTES_MIN, KP_KAMEO_MAX_RESPONSE,
              " bytes", actor_limits.max_response_bytes),
        LIMIT("MaxKadMessageBytes", KP_DHT_MAX_MESSAGE_MIN, KP_KAD_MAX_MESSAGE, " bytes",
              kad_max_message),
        LIMIT("MaxDhtRecords", KP_RECORD_STORE_LIMIT_MIN, KP_RECORD_STORE_LIMIT_MAX, "",
              dht_max_records),
        LIMIT("MaxDhtRecordsPerPeer", KP_RECORD_STORE_LIMIT_MIN, KP_RECORD_STORE_LIMIT_MAX, "",
              dht_max_records_per_peer),
        LIMIT("MaxDhtProviders", KP_PROVIDER_STORE_LIMIT_MIN, KP_PROVIDER_STORE_LIMIT_MAX, "",
              dht_max_providers),
        LIMIT("MaxDhtProvidersPerPeer", KP_PROVIDER_STORE_LIMIT_MIN, KP_PROVIDER_STORE_LIMIT_MAX,
              "", dht_max_providers_per_peer),
};

const KpingdLimitKey *
kpingd_config_get_limit_keys(gsize *ret_n)
{
        *ret_n = G_N_ELEMENTS(limit_keys);
        return limit_keys;
}

/* [Limits]: every key a bounded integer. */
static gboolean
load_limits(KpingdConfig *c, GKeyFile *kf, const char *path, GError **error)
{
        g_auto(GStrv) keys = g_key_file_get_keys(kf, "Limits", NULL, NULL);

        for (gsize i = 0; keys != NULL && keys[i] != NULL; i++) {
                g_autofree char *value = g_key_file_get_string(kf, "Limits", keys[i], NULL);
                const KpingdLimitKey *k = NULL;
                guint64 v = 0;

                if (value == NULL)
                        continue;
                g_strstrip(value);
                for (gsize j = 0; j < G_N_ELEMENTS(limit_keys) && k == NULL; j++) {
                        if (g_str_equal(keys[i], limit_keys[j].key))
                                k = &limit_keys[j];
                }
                if (k == NULL) {
                        g_warning("%s: unknown key %s in [Limits] ignored", path, keys[i]);
                        continue;
                }
                if (!g_ascii_string_to_unsigned(value, 10, k->min, k->max, &v, NULL)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "%s: key %s: invalid value \"%s\" (%u to %u%s)", path, k->key,
                                    value, k->min, k->max, k->unit);
                        return FALSE;
                }
                G_STRUCT_MEMBER(guint, c, k->offset) = (guint)v;
        }
        return TRUE;
}

gboolean
kpingd_config_load_data(KpingdConfig *c, const char *data, gsize len, const char *path,
                        GError **error)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) local = NULL;
        g_auto(GStrv) groups = NULL;
        g_auto(GStrv) keys = NULL;

        if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "%s: %s", path, local->message);
                return FALSE;
        }
        groups = g_key_file_get_groups(kf, NULL);
        for (gsize i = 0; groups[i] != NULL; i++) {
                if (!g_str_equal(groups[i], "Daemon") && !g_str_equal(groups[i], "Limits"))
                        g_warning("%s: unknown group [%s] ignored", path, groups[i]);
        }
        keys = g_key_file_get_keys(kf, "Daemon", NULL, NULL);
        for (gsize i = 0; keys != NULL && keys[i] != NULL; i++) {
                g_autofree char *value = g_key_file_get_string(kf, "Daemon", keys[i], NULL);
                g_autofree char *where = g_strdup_printf("%s: key %s", path, keys[i]);

                if (value == NULL)
                        continue;
                g_strstrip(value);
                if (g_str_equal(keys[i], "Listen") || g_str_equal(keys[i], "Bootstrap")) {
                        g_auto(GStrv) parts = g_strsplit(value, ";", -1);
                        gboolean is_listen = g_str_equal(keys[i], "Listen");
                        GPtrArray *addrs
                            = parse_addrs((const char *const *)parts, !is_listen, where, error);
                        if (addrs == NULL)
                                return FALSE;
                        if (is_listen && addrs->len == 0) {
                                g_ptr_array_unref(addrs);
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "%s: no address in \"%s\"", where, value);
                                return FALSE;
                        }
                        if (is_listen) {
                                g_ptr_array_unref(c->listen);
                                c->listen = addrs;
                        } else {
                                g_ptr_array_unref(c->bootstrap);
                                c->bootstrap = addrs;
                        }
                } else if (g_str_equal(keys[i], "ActorName")) {
                        if (!apply_actor_name(c, value, where, error))
                                return FALSE;
                } else if (g_str_equal(keys[i], "KadProtocols")) {
                        g_auto(GStrv) parts = g_strsplit(value, ";", -1);
                        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
                        guint n = 0;
                        for (gsize j = 0; parts[j] != NULL; j++) {
                                g_strstrip(parts[j]);
                                if (parts[j][0] == '\0')
                                        continue;
                                if (!kp_mss_protocol_id_is_valid(parts[j])) {
                                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                                    "%s: invalid protocol id \"%s\"", where,
                                                    parts[j]);
                                        return FALSE;
                                }
                                g_strv_builder_add(b, parts[j]);
                                n++;
                        }
                        if (n == 0) {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "%s: no protocol id in \"%s\"", where, value);
                                return FALSE;
                        }
                        g_strfreev(c->kad_protocols);
                        c->kad_protocols = g_strv_builder_end(b);
                } else if (g_str_equal(keys[i], "Durability")) {
                        if (g_str_equal(value, "batched")) {
                                c->durability = KPINGD_DURABILITY_BATCHED;
                        } else if (g_str_equal(value, "strict")) {
                                c->durability = KPINGD_DURABILITY_STRICT;
                        } else {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "%s: invalid value \"%s\" (batched or strict)", where,
                                            value);
                                return FALSE;
                        }
                } else if (g_str_equal(keys[i], "LogLevel")) {
                        if (!apply_log_level(c, value, where, error))
                                return FALSE;
                } else {
                        g_warning("%s: unknown key %s ignored", path, keys[i]);
                }
        }
        return load_limits(c, kf, path, error);
}

static gboolean
load_file(KpingdConfig *c, const char *path, gboolean must_exist, GError **error)
{
        g_autoptr(GError) local = NULL;
        g_autofree char *data = NULL;
        gsize len = 0;

        if (!g_file_get_contents(path, &data, &len, &local)) {
                if (!must_exist && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return TRUE;
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "%s: %s", path, local->message);
                return FALSE;
        }
        return kpingd_config_load_data(c, data, len, path, error);
}

void
kpingd_config_init(KpingdConfig *c)
{
        g_auto(GStrv) default_listen = g_strsplit(KPINGD_DEFAULT_LISTEN, ";", -1);

        c->log_level = G_LOG_LEVEL_INFO;
        c->durability = KPINGD_DURABILITY_BATCHED;
        kp_host_limits_init(&c->host_limits);
        kp_actor_limits_init(&c->actor_limits);
        c->kad_max_message = KP_KAD_MAX_MESSAGE;
        c->dht_max_records = KP_RECORD_STORE_MAX_RECORDS;
        c->dht_max_records_per_peer = KP_RECORD_STORE_MAX_PER_PEER;
        c->dht_max_providers = KP_PROVIDER_STORE_MAX_TOTAL;
        c->dht_max_providers_per_peer = KP_PROVIDER_STORE_MAX_PER_PEER;
        g_free(c->actor_name);
        c->actor_name = g_strdup(KPINGD_DEFAULT_ACTOR);
        g_strfreev(c->kad_protocols);
        c->kad_protocols = g_strsplit(KPINGD_DEFAULT_KAD, ";", -1);
        g_clear_pointer(&c->listen, g_ptr_array_unref);
        c->listen = parse_addrs((const char *const *)default_listen, FALSE, "default", NULL);
        g_assert(c->listen != NULL);
        g_clear_pointer(&c->bootstrap, g_ptr_array_unref);
        c->bootstrap = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
}

static const char *
default_state_dir(void)
{
        /* systemd's StateDirectory= sets this. */
        const char *env = g_getenv("STATE_DIRECTORY");

        return env != NULL && env[0] != '\0' ? env : KPINGD_DEFAULT_STATE_DIR;
}

gboolean
kpingd_config_load(KpingdConfig *c, int *argc, char ***argv, GError **error)
{
        g_auto(KpingdArgs) a = { 0 };
        g_autoptr(GOptionContext) ctx = NULL;
        const GOptionEntry entries[] = {
                { "config", 0, 0, G_OPTION_ARG_FILENAME, &a.config_file,
                  "Configuration file (default " KPINGD_DEFAULT_CONFIG ", optional)", "FILE" },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &a.state_dir,
                  "State directory (default $STATE_DIRECTORY, else " KPINGD_DEFAULT_STATE_DIR ")",
                  "DIR" },
                { "listen", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a.listen,
                  "Listen on MULTIADDR (repeatable; default /ip4/0.0.0.0/tcp/36341 and "
                  "/ip6/::/tcp/36341)",
                  "MULTIADDR" },
                { "bootstrap", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a.bootstrap,
                  "Join the DHT through this peer (full multiaddr, repeatable)", "MULTIADDR" },
                { "actor-name", 0, 0, G_OPTION_ARG_STRING, &a.actor_name,
                  "Name the PingActor registers under (default ping)", "NAME" },
                { "addrs-file", 0, 0, G_OPTION_ARG_FILENAME, &a.addrs_file,
                  "Once ready, write the connection addresses to FILE", "FILE" },
                { "log-level", 0, 0, G_OPTION_ARG_STRING, &a.log_level,
                  "error, warning, info (default) or debug", "LEVEL" },
                { "print-peer-id", 0, 0, G_OPTION_ARG_NONE, &c->print_peer_id,
                  "Print the node's peer id (creating the identity if needed) and exit", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &c->version, "Print the version and exit",
                  NULL },
                { NULL },
        };

        ctx = g_option_context_new("- the kping daemon");
        g_option_context_set_summary(
            ctx, "Hosts a PingActor with a persistent ping counter, reachable over libp2p.");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, argc, argv, error))
                return FALSE;
        if (*argc > 1) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "unexpected argument \"%s\"", (*argv)[1]);
                return FALSE;
        }

        kpingd_config_init(c);
        if (c->version)
                return TRUE;

        c->config_file = g_strdup(a.config_file != NULL ? a.config_file : KPINGD_DEFAULT_CONFIG);
        if (!load_file(c, c->config_file, a.config_file != NULL, error))
                return FALSE;

        if (a.listen != NULL) {
                GPtrArray *addrs
                    = parse_addrs((const char *const *)a.listen, FALSE, "--listen", error);
                if (addrs == NULL)
                        return FALSE;
                g_ptr_array_unref(c->listen);
                c->listen = addrs;
        }
        if (a.bootstrap != NULL) {
                GPtrArray *addrs
                    = parse_addrs((const char *const *)a.bootstrap, TRUE, "--bootstrap", error);
                if (addrs == NULL)
                        return FALSE;
                g_ptr_array_unref(c->bootstrap);
                c->bootstrap = addrs;
        }
        if (a.actor_name != NULL && !apply_actor_name(c, a.actor_name, "--actor-name", error))
                return FALSE;
        if (a.log_level != NULL && !apply_log_level(c, a.log_level, "--log-level", error))
                return FALSE;
        if (a.state_dir != NULL) {
                c->state_dir = g_steal_pointer(&a.state_dir);
        } else {
                g_auto(GStrv) dirs = g_strsplit(default_state_dir(), ":", 2);
                c->state_dir = g_strdup(dirs[0]);
        }
        c->addrs_file = g_steal_pointer(&a.addrs_file);
        return TRUE;
}
