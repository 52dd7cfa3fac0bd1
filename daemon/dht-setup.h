/* kpingd's DHT: created on the host after identify and listening, serving
 * the configured KadProtocols, bootstrapped from --bootstrap/Bootstrap=. */
#pragma once

#include "config.h"
#include "dht/kp-dht.h"

KpDht *kpingd_dht_start(KpHost *host, KpIdentifyService *identify, const KpingdConfig *config);
