/* config.c: storage defaults (Kafka's). */
#include "storage/log.h"

void sm_log_config_default(sm_log_config *cfg)
{
    cfg->segment_bytes = 1073741824;        /* 1 GiB */
    cfg->segment_ms = 7LL * 24 * 3600 * 1000; /* 7 days */
    cfg->retention_ms = 7LL * 24 * 3600 * 1000;
    cfg->retention_bytes = -1;
    cfg->index_interval_bytes = 4096;
}
