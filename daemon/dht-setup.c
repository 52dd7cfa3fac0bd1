#define G_LOG_DOMAIN "kpingd"

#include "dht-setup.h"

KpDht *
kpingd_dht_start(KpHost *host, KpIdentifyService *identify, const KpingdConfig *config)
{
        KpDhtConfig dht_config = {
                .protocols = (const char *const *)config->kad_protocols,
                .max_message = config->kad_max_message,
                .max_records = config->dht_max_records,
                .max_records_per_peer = config->dht_max_records_per_peer,
                .max_providers = config->dht_max_providers,
                .max_providers_per_peer = config->dht_max_providers_per_peer,
        };
        KpDht *dht = kp_dht_new(host, &dht_config);
        g_autofree char *protocols = g_strjoinv(", ", config->kad_protocols);

        kp_dht_attach_identify(dht, identify);
        g_info("DHT serving %s; bootstrapping from %u peers", protocols, config->bootstrap->len);
        kp_dht_bootstrap(dht, config->bootstrap);
        return dht;
}
