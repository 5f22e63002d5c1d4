/* crc32c.h: CRC-32C (Castagnoli), the checksum of Kafka record batches v2.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, else slice-by-8. */
#ifndef SM_CRC32C_H
#define SM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start. crc32c("123456789") == 0xe3069283. */
uint32_t sm_crc32c(uint32_t crc, const void *data, size_t len);

/* The same CRC by the portable slice-by-8 path whatever the CPU has, so the
 * tests check both paths against each other and the known vectors. */
uint32_t sm_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* 1 when sm_crc32c uses the SSE4.2 instruction on this CPU, else 0. */
int sm_crc32c_hw(void);

#endif
