/* kpingd.conf parsing (daemon/config.c) from hostile bytes: never crash,
 * and whatever is accepted is within every documented bound. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"

#include "config.h"

/* Unknown keys and groups are warnings; thousands of them per second would
 * only slow the fuzzer down. */
static void
drop_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user_data)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static gboolean initialised;
        g_auto(KpingdConfig) c = { 0 };
        gsize n = 0;
        const KpingdLimitKey *keys = kpingd_config_get_limit_keys(&n);

        if (!initialised) {
                g_log_set_default_handler(drop_log, NULL);
                initialised = TRUE;
        }
        kpingd_config_init(&c);
        if (!kpingd_config_load_data(&c, (const char *)data, size, "fuzz.conf", NULL))
                return 0;
        for (gsize i = 0; i < n; i++) {
                guint v = G_STRUCT_MEMBER(guint, &c, keys[i].offset);
                if (v < keys[i].min || v > keys[i].max)
                        abort();
        }
        if (!kp_host_limits_validate(&c.host_limits, NULL)
            || !kp_actor_limits_validate(&c.actor_limits, NULL))
                abort();
        if (c.listen == NULL || c.listen->len == 0 || c.actor_name == NULL
            || c.kad_protocols == NULL || c.kad_protocols[0] == NULL)
                abort();
        return 0;
}
