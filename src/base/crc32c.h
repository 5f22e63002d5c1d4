/* crc32c.h: CRC-32C (Castagnoli), the checksum of Kafka record batches v2.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, else slice-by-8. */
#ifndef SM_CRC32C_H
#define SM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start. crc32c("123456789") == 0xe3069283. */
uint32_t sm_crc32c(uint32_t crc, const void *data, size_t len);

#endif
