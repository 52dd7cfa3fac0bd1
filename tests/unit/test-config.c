/* kpingd.conf parsing: every [Limits] key at its bounds and just past them,
 * and the annotated example in docs/ against the defaults. */
#include <string.h>

#include "config.h"
#include "core/kp-error.h"
#include "kp-test-util.h"

/* Written from docs/CONFIGURATION.md, not from config.c's own table. */
static const struct {
        const char *key;
        guint min;
        guint max;
        guint def;
        gsize offset;
} expected[] = {
        { "MaxConnections", 1, 1048576, 16384,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.max_connections) },
        { "MaxConnectionsPerIP", 1, 1048576, 256,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.max_connections_per_ip) },
        { "MaxPendingHandshakes", 1, 1048576, 1024,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.max_pending_handshakes) },
        { "MaxPendingHandshakesPerIP", 1, 1048576, 64,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.max_pending_handshakes_per_ip) },
        { "HandshakeTimeoutMs", 100, 600000, 10000,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.handshake_timeout_ms) },
        { "IdleTimeoutMs", 1000, 86400000, 300000,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.idle_timeout_ms) },
        { "MaxStreamsPerConnection", 1, 1024, 256,
          G_STRUCT_OFFSET(KpingdConfig, host_limits.max_streams_per_connection) },
        { "MaxRequestsPerPeer", 1, 65536, 256,
          G_STRUCT_OFFSET(KpingdConfig, actor_limits.max_requests_per_peer) },
        { "MaxActorRequestBytes", 1024, 1048576, 1048576,
          G_STRUCT_OFFSET(KpingdConfig, actor_limits.max_request_bytes) },
        { "MaxActorResponseBytes", 1024, 10485760, 10485760,
          G_STRUCT_OFFSET(KpingdConfig, actor_limits.max_response_bytes) },
        { "MaxKadMessageBytes", 1024, 16384, 16384,
          G_STRUCT_OFFSET(KpingdConfig, kad_max_message) },
        { "MaxDhtRecords", 1, 65536, 4096, G_STRUCT_OFFSET(KpingdConfig, dht_max_records) },
        { "MaxDhtRecordsPerPeer", 1, 65536, 64,
          G_STRUCT_OFFSET(KpingdConfig, dht_max_records_per_peer) },
        { "MaxDhtProviders", 1, 1048576, 16384, G_STRUCT_OFFSET(KpingdConfig, dht_max_providers) },
        { "MaxDhtProvidersPerPeer", 1, 1048576, 256,
          G_STRUCT_OFFSET(KpingdConfig, dht_max_providers_per_peer) },
};

static guint
field(KpingdConfig *c, gsize offset)
{
        return G_STRUCT_MEMBER(guint, c, offset);
}

/* Loads "[Limits]\n@key=@value\n" over the defaults. */
static gboolean
load_limit(KpingdConfig *c, const char *key, const char *value, GError **error)
{
        g_autofree char *text = g_strdup_printf("[Limits]\n%s=%s\n", key, value);

        kpingd_config_clear(c);
        memset(c, 0, sizeof *c);
        kpingd_config_init(c);
        return kpingd_config_load_data(c, text, strlen(text), "test.conf", error);
}

static void
test_config_defaults(void)
{
        g_auto(KpingdConfig) c = { 0 };
        gsize n = 0;
        const KpingdLimitKey *keys = kpingd_config_get_limit_keys(&n);

        kpingd_config_init(&c);
        for (gsize i = 0; i < G_N_ELEMENTS(expected); i++)
                g_assert_cmpuint(field(&c, expected[i].offset), ==, expected[i].def);
        /* every key the parser knows is tested here, in the documented order */
        g_assert_cmpuint(n, ==, G_N_ELEMENTS(expected));
        for (gsize i = 0; i < n; i++) {
                g_assert_cmpstr(keys[i].key, ==, expected[i].key);
                g_assert_cmpuint(keys[i].min, ==, expected[i].min);
                g_assert_cmpuint(keys[i].max, ==, expected[i].max);
        }
        g_assert_cmpuint(c.durability, ==, KPINGD_DURABILITY_BATCHED);
        g_assert_cmpstr(c.actor_name, ==, "ping");
        g_assert_cmpuint(c.listen->len, ==, 2);
}

static void
assert_refused(const char *key, const char *value)
{
        g_auto(KpingdConfig) c = { 0 };
        g_autoptr(GError) error = NULL;
        g_autofree char *want
            = g_strdup_printf("test.conf: key %s: invalid value \"%s\" (", key, value);

        g_assert_false(load_limit(&c, key, value, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, want);
        g_test_message("%s", error->message);
}

static void
test_config_limits_bounds(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
                const char *key = expected[i].key;
                g_autofree char *min = g_strdup_printf("%u", expected[i].min);
                g_autofree char *max = g_strdup_printf("%u", expected[i].max);
                g_autofree char *below = g_strdup_printf("%u", expected[i].min - 1);
                g_autofree char *above = g_strdup_printf("%u", expected[i].max + 1);
                g_autofree char *spaced = g_strdup_printf("  %u  ", expected[i].max);
                g_autofree char *range
                    = g_strdup_printf("(%u to %u", expected[i].min, expected[i].max);
                g_auto(KpingdConfig) c = { 0 };
                g_autoptr(GError) error = NULL;

                g_assert_true(load_limit(&c, key, min, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(field(&c, expected[i].offset), ==, expected[i].min);
                g_assert_true(load_limit(&c, key, max, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(field(&c, expected[i].offset), ==, expected[i].max);
                g_assert_true(load_limit(&c, key, spaced, &error));
                g_assert_cmpuint(field(&c, expected[i].offset), ==, expected[i].max);

                assert_refused(key, below);
                assert_refused(key, above);
                assert_refused(key, "many");
                assert_refused(key, "");
                assert_refused(key, "-1");
                assert_refused(key, "0x10");
                assert_refused(key, "12abc");
                assert_refused(key, "99999999999999999999999");
                /* the message gives the range */
                g_assert_false(load_limit(&c, key, above, &error));
                kp_test_assert_error(error, KP_ERROR_INVALID, range);
        }
}

static void
test_config_limits_unknown_key(void)
{
        g_auto(KpingdConfig) c = { 0 };
        g_autoptr(GError) error = NULL;

        g_test_expect_message("kpingd", G_LOG_LEVEL_WARNING,
                              "test.conf: unknown key MaxBogus in [Limits] ignored");
        g_assert_true(load_limit(&c, "MaxBogus", "3", &error));
        g_test_assert_expected_messages();
        g_assert_no_error(error);
}

/* Several keys at once, and a later file over an earlier one. */
static void
test_config_limits_together(void)
{
        static const char text[] = "[Daemon]\nDurability=strict\n\n"
                                   "[Limits]\nMaxConnectionsPerIP=3\nMaxPendingHandshakesPerIP=2\n"
                                   "MaxConnections=6\nMaxDhtRecordsPerPeer=2\n";
        g_auto(KpingdConfig) c = { 0 };
        g_autoptr(GError) error = NULL;

        kpingd_config_init(&c);
        g_assert_true(kpingd_config_load_data(&c, text, strlen(text), "a.conf", &error));
        g_assert_no_error(error);
        g_assert_cmpuint(c.durability, ==, KPINGD_DURABILITY_STRICT);
        g_assert_cmpuint(c.host_limits.max_connections_per_ip, ==, 3);
        g_assert_cmpuint(c.host_limits.max_pending_handshakes_per_ip, ==, 2);
        g_assert_cmpuint(c.host_limits.max_connections, ==, 6);
        g_assert_cmpuint(c.dht_max_records_per_peer, ==, 2);
        g_assert_cmpuint(c.host_limits.max_pending_handshakes, ==, 1024);
        /* what the library takes */
        g_assert_true(kp_host_limits_validate(&c.host_limits, NULL));
        g_assert_true(kp_actor_limits_validate(&c.actor_limits, NULL));
        /* a file that does not parse names itself */
        g_assert_false(kpingd_config_load_data(&c, "[Limits", 7, "b.conf", &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "b.conf: ");
}

/* docs/kpingd.conf comments out every key with its default: uncommented,
 * it must give exactly the defaults. */
static void
test_config_example_file(void)
{
        g_autofree char *path
            = g_build_filename(g_getenv("KP_SOURCE_ROOT"), "docs", "kpingd.conf", NULL);
        g_autofree char *data = NULL;
        g_autoptr(GString) uncommented = g_string_new(NULL);
        g_auto(GStrv) lines = NULL;
        g_auto(KpingdConfig) c = { 0 };
        g_autoptr(GError) error = NULL;
        guint n_limits = 0;
        gboolean in_limits = FALSE;
        gsize len = 0;

        g_assert_true(g_file_get_contents(path, &data, &len, &error));
        g_assert_no_error(error);
        kpingd_config_init(&c);
        g_assert_true(kpingd_config_load_data(&c, data, len, path, &error));
        g_assert_no_error(error);
        for (gsize i = 0; i < G_N_ELEMENTS(expected); i++)
                g_assert_cmpuint(field(&c, expected[i].offset), ==, expected[i].def);

        lines = g_strsplit(data, "\n", -1);
        for (gsize i = 0; lines[i] != NULL; i++) {
                const char *line = lines[i];
                if (g_str_has_prefix(line, "["))
                        in_limits = g_str_equal(line, "[Limits]");
                if (line[0] == '#' && g_ascii_isupper(line[1]) && strchr(line, '=') != NULL) {
                        line++;
                        if (in_limits)
                                n_limits++;
                }
                g_string_append_printf(uncommented, "%s\n", line);
        }
        g_assert_cmpuint(n_limits, ==, G_N_ELEMENTS(expected));
        kpingd_config_clear(&c);
        memset(&c, 0, sizeof c);
        kpingd_config_init(&c);
        g_assert_true(
            kpingd_config_load_data(&c, uncommented->str, uncommented->len, path, &error));
        g_assert_no_error(error);
        for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
                g_test_message("%s", expected[i].key);
                g_assert_cmpuint(field(&c, expected[i].offset), ==, expected[i].def);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/config/defaults", test_config_defaults);
        g_test_add_func("/config/limits/bounds", test_config_limits_bounds);
        g_test_add_func("/config/limits/unknown-key", test_config_limits_unknown_key);
        g_test_add_func("/config/limits/together", test_config_limits_together);
        g_test_add_func("/config/example-file", test_config_example_file);
        return g_test_run();
}
