#define G_LOG_DOMAIN "kpingd"

#include "log.h"

#include <stdio.h>
#include <unistd.h>

static GLogLevelFlags log_max_level = G_LOG_LEVEL_INFO;
static gboolean log_to_journal;

static int
level_rank(GLogLevelFlags level)
{
        if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
                return 0;
        if (level & G_LOG_LEVEL_WARNING)
                return 1;
        if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
                return 2;
        return 3;
}

static GLogWriterOutput
kpingd_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
        const char *message = NULL;

        if (level_rank(level) > level_rank(log_max_level))
                return G_LOG_WRITER_HANDLED;
        if (log_to_journal)
                return g_log_writer_journald(level, fields, n_fields, user_data);
        for (gsize i = 0; i < n_fields; i++) {
                if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
                        message = fields[i].value;
        }
        if (message == NULL)
                return G_LOG_WRITER_UNHANDLED;
        if (level_rank(level) == 0)
                fprintf(stderr, "error: %s\n", message);
        else if (level_rank(level) == 1)
                fprintf(stderr, "warning: %s\n", message);
        else
                fprintf(stderr, "%s\n", message);
        return G_LOG_WRITER_HANDLED;
}

gboolean
kpingd_log_enabled(GLogLevelFlags level)
{
        return level_rank(level) <= level_rank(log_max_level);
}

void
kpingd_log_init(GLogLevelFlags max_level)
{
        log_max_level = max_level;
        log_to_journal = g_log_writer_is_journald(fileno(stderr));
        g_log_set_writer_func(kpingd_log_writer, NULL, NULL);
}

gboolean
kpingd_log_parse_level(const char *text, GLogLevelFlags *ret_level)
{
        static const struct {
                const char *name;
                GLogLevelFlags level;
        } levels[] = {
                { "error", G_LOG_LEVEL_CRITICAL },
                { "warning", G_LOG_LEVEL_WARNING },
                { "info", G_LOG_LEVEL_INFO },
                { "debug", G_LOG_LEVEL_DEBUG },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
                if (g_strcmp0(text, levels[i].name) == 0) {
                        *ret_level = levels[i].level;
                        return TRUE;
                }
        }
        return FALSE;
}
