/* The counter state file parser (daemon/counter-store.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "counter-store.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        guint64 total = 0, again = 0;

        if (kpingd_counter_store_parse((const char *)data, size, &total, NULL)) {
                /* what we accept, we write back the same way and accept again */
                g_autofree char *text
                    = g_strdup_printf("{\"version\":%d,\"total\":%" G_GUINT64_FORMAT "}\n",
                                      KPINGD_COUNTER_VERSION, total);

                if (total >= KPINGD_COUNTER_MAX_TOTAL)
                        abort();
                if (!kpingd_counter_store_parse(text, strlen(text), &again, NULL) || again != total)
                        abort();
        }
        return 0;
}
