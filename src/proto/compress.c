/* compress.c: streaming decompression of batch payloads with the Debian codec
 * libraries; see compress.h for the framings.
 *
 * One struct, one union member per codec. Every codec's read fills the
 * caller's buffer as far as it can; sm_unzip_read() wraps them with the
 * output limit (it never asks a codec for more than one byte past it, so a
 * decompression bomb costs at most `limit` bytes of work) and the sticky
 * error. Closed streams are reset and reused per thread (see spare[]). */
#include "proto/compress.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "base/buf.h"
#include "base/err.h"
#include "proto/batch.h"

#define XERIAL_HEADER_LEN 16
#define LZ4_FRAME_MAGIC 0x184D2204u
#define LZ4_FLG_BLOCK_INDEPENDENT 0x20
#define ZSTD_WINDOW_LOG_MAX 27

struct sm_unzip {
    int codec;
    const uint8_t *in;
    size_t len, pos; /* input consumed up to pos (snappy, lz4) */
    uint64_t limit, total;
    int err;
    char why[160];
    union {
        struct {
            z_stream s;
            bool member_done; /* the current gzip member ended */
        } gz;
        struct {
            bool xerial;
            bool raw_done;
            uint8_t *blk; /* the current block, decompressed */
            size_t blk_cap, blk_len, blk_pos;
        } sn;
        struct {
            LZ4F_dctx *d;
            bool done;
        } lz;
        struct {
            ZSTD_DCtx *d;
            bool frame_done; /* the last call ended a frame */
        } zs;
    } u;
};

const char *sm_compression_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec <= SM_COMP_ZSTD ? names[codec] : "?";
}

__attribute__((format(printf, 3, 4))) static int64_t fail(sm_unzip *z, int code, const char *fmt,
                                                            ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->why, sizeof z->why, fmt, ap);
    va_end(ap);
    z->err = code;
    return code;
}

/* ---- gzip ---------------------------------------------------------------------------- */

static int64_t gz_read(sm_unzip *z, uint8_t *out, size_t cap)
{
    z_stream *s = &z->u.gz.s;
    s->next_out = out;
    s->avail_out = (uInt)cap;
    while (s->avail_out > 0) {
        if (z->u.gz.member_done) {
            if (s->avail_in == 0)
                break; /* the end: every member complete */
            if (inflateReset(s) != Z_OK)
                return fail(z, SM_ECORRUPT, "gzip: cannot start the next member");
            z->u.gz.member_done = false;
        }
        int rc = inflate(s, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            z->u.gz.member_done = true;
        } else if (rc == Z_OK) {
            if (s->avail_in == 0 && s->avail_out > 0)
                return fail(z, SM_ECORRUPT, "gzip: the data ends inside a member");
        } else if (rc == Z_BUF_ERROR) {
            return fail(z, SM_ECORRUPT, "gzip: the data ends inside a member");
        } else if (rc == Z_MEM_ERROR) {
            return fail(z, SM_ENOMEM, "gzip: out of memory");
        } else {
            return fail(z, SM_ECORRUPT, "gzip: %s", s->msg ? s->msg : "invalid data");
        }
    }
    return (int64_t)(cap - s->avail_out);
}

/* ---- snappy -------------------------------------------------------------------------- */

/* Decompresses one raw snappy block into u.sn.blk. */
static int64_t sn_block(sm_unzip *z, const uint8_t *p, size_t n)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)p, n, &ulen) != SNAPPY_OK)
        return fail(z, SM_ECORRUPT, "snappy: bad block header");
    /* no allocation beyond the limit; a copy element makes at most 64 bytes
     * of 3 input bytes, so no honest block claims more than that either */
    if (ulen > 0 && ulen - 1 > z->limit - z->total)
        return fail(z, SM_ERANGE, "snappy: a block of %zu bytes decompresses past the limit of "
                    "%llu bytes", ulen, (unsigned long long)z->limit);
    if (ulen > (n / 3 + 1) * 64)
        return fail(z, SM_ECORRUPT, "snappy: a block of %zu bytes cannot hold %zu", n, ulen);
    if (ulen > z->u.sn.blk_cap) {
        uint8_t *b = realloc(z->u.sn.blk, ulen);
        if (!b)
            return fail(z, SM_ENOMEM, "snappy: out of memory for a %zu-byte block", ulen);
        z->u.sn.blk = b;
        z->u.sn.blk_cap = ulen;
    }
    size_t got = ulen;
    if (snappy_uncompress((const char *)p, n, (char *)z->u.sn.blk, &got) != SNAPPY_OK || got != ulen)
        return fail(z, SM_ECORRUPT, "snappy: invalid block");
    z->u.sn.blk_len = ulen;
    z->u.sn.blk_pos = 0;
    return SM_OK;
}

static int64_t sn_read(sm_unzip *z, uint8_t *out, size_t cap)
{
    size_t done = 0;
    while (done < cap) {
        if (z->u.sn.blk_pos == z->u.sn.blk_len) {
            int64_t rc;
            if (!z->u.sn.xerial) {
                if (z->u.sn.raw_done)
                    break;
                z->u.sn.raw_done = true;
                rc = sn_block(z, z->in, z->len);
            } else {
                size_t left = z->len - z->pos;
                if (left == 0)
                    break;
                if (left < 4)
                    return fail(z, SM_ECORRUPT, "snappy: %zu stray bytes after the last block",
                                left);
                uint32_t n = sm_be32(z->in + z->pos);
                if (n == 0 || n > left - 4)
                    return fail(z, SM_ECORRUPT, "snappy: a block of %u bytes where %zu are left", n,
                                left - 4);
                rc = sn_block(z, z->in + z->pos + 4, n);
                z->pos += 4 + (size_t)n;
            }
            if (rc != SM_OK)
                return rc;
            continue;
        }
        size_t k = z->u.sn.blk_len - z->u.sn.blk_pos;
        if (k > cap - done)
            k = cap - done;
        memcpy(out + done, z->u.sn.blk + z->u.sn.blk_pos, k);
        z->u.sn.blk_pos += k;
        done += k;
    }
    return (int64_t)done;
}

/* ---- lz4 ----------------------------------------------------------------------------- */

static int64_t lz_read(sm_unzip *z, uint8_t *out, size_t cap)
{
    size_t done = 0;
    while (done < cap && !z->u.lz.done) {
        size_t src = z->len - z->pos, dst = cap - done;
        size_t hint = LZ4F_decompress(z->u.lz.d, out + done, &dst, z->in + z->pos, &src, NULL);
        if (LZ4F_isError(hint))
            return fail(z, SM_ECORRUPT, "lz4: %s", LZ4F_getErrorName(hint));
        z->pos += src;
        done += dst;
        if (hint == 0)
            z->u.lz.done = true;
        else if (src == 0 && dst == 0)
            return fail(z, SM_ECORRUPT, "lz4: the data ends inside the frame");
    }
    if (z->u.lz.done && done < cap && z->pos < z->len)
        return fail(z, SM_ECORRUPT, "lz4: %zu bytes after the end of the frame", z->len - z->pos);
    return (int64_t)done;
}

/* ---- zstd ---------------------------------------------------------------------------- */

static int64_t zs_read(sm_unzip *z, uint8_t *out, size_t cap)
{
    ZSTD_outBuffer ob = {out, cap, 0};
    ZSTD_inBuffer ib = {z->in, z->len, z->pos};
    while (ob.pos < ob.size) {
        if (ib.pos == ib.size && z->u.zs.frame_done)
            break;
        size_t rc = ZSTD_decompressStream(z->u.zs.d, &ob, &ib);
        z->pos = ib.pos;
        if (ZSTD_isError(rc))
            return fail(z, ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation ? SM_ENOMEM
                                                                                 : SM_ECORRUPT,
                        "zstd: %s", ZSTD_getErrorName(rc));
        z->u.zs.frame_done = rc == 0;
        if (rc != 0 && ib.pos == ib.size && ob.pos < ob.size)
            return fail(z, SM_ECORRUPT, "zstd: the data ends inside a frame");
    }
    return (int64_t)ob.pos;
}

/* ---- the stream ---------------------------------------------------------------------- */

/* Creating a zstd or lz4 context, an inflate state and their buffers for
 * every batch costs more than decompressing a small batch, so each thread
 * keeps the last closed stream of each codec and reopens it with a reset.
 * One that grew big buffers (a large snappy block, a large zstd window) is
 * freed instead of kept. */
#define SPARE_MAX_BYTES (8u << 20)
static _Thread_local sm_unzip *spare[SM_COMP_ZSTD + 1];

static void destroy(sm_unzip *z)
{
    switch (z->codec) {
    case SM_COMP_GZIP: inflateEnd(&z->u.gz.s); break;
    case SM_COMP_SNAPPY: free(z->u.sn.blk); break;
    case SM_COMP_LZ4: LZ4F_freeDecompressionContext(z->u.lz.d); break;
    case SM_COMP_ZSTD: ZSTD_freeDCtx(z->u.zs.d); break;
    }
    free(z);
}

/* A new stream's codec state, or NULL. */
static sm_unzip *create(int codec)
{
    sm_unzip *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->codec = codec;
    bool ok = true;
    switch (codec) {
    case SM_COMP_GZIP: ok = inflateInit2(&z->u.gz.s, 16 + MAX_WBITS) == Z_OK; break;
    case SM_COMP_SNAPPY: break;
    case SM_COMP_LZ4:
        ok = !LZ4F_isError(LZ4F_createDecompressionContext(&z->u.lz.d, LZ4F_VERSION));
        break;
    case SM_COMP_ZSTD:
        z->u.zs.d = ZSTD_createDCtx();
        ok = z->u.zs.d && !ZSTD_isError(ZSTD_DCtx_setParameter(z->u.zs.d, ZSTD_d_windowLogMax,
                                                              ZSTD_WINDOW_LOG_MAX));
        if (!ok)
            ZSTD_freeDCtx(z->u.zs.d);
        break;
    }
    if (!ok) {
        free(z);
        return NULL;
    }
    return z;
}

sm_unzip *sm_unzip_open(int codec, const uint8_t *in, size_t len, uint64_t limit)
{
    if (codec < SM_COMP_GZIP || codec > SM_COMP_ZSTD || len > UINT32_MAX)
        return NULL;
    sm_unzip *z = spare[codec];
    if (z) {
        spare[codec] = NULL;
        switch (codec) { /* back to the state of a new stream; the settings stay */
        case SM_COMP_GZIP: inflateReset(&z->u.gz.s); break;
        case SM_COMP_LZ4: LZ4F_resetDecompressionContext(z->u.lz.d); break;
        case SM_COMP_ZSTD: ZSTD_DCtx_reset(z->u.zs.d, ZSTD_reset_session_only); break;
        }
    } else if (!(z = create(codec))) {
        return NULL;
    }
    z->in = in;
    z->len = len;
    z->pos = 0;
    z->limit = limit;
    z->total = 0;
    z->err = 0;
    z->why[0] = 0;
    switch (codec) {
    case SM_COMP_GZIP:
        z->u.gz.s.next_in = (Bytef *)in;
        z->u.gz.s.avail_in = (uInt)len;
        z->u.gz.member_done = false;
        break;
    case SM_COMP_SNAPPY:
        z->u.sn.xerial = z->u.sn.raw_done = false;
        z->u.sn.blk_len = z->u.sn.blk_pos = 0;
        if (len >= XERIAL_HEADER_LEN && !memcmp(in, "\x82SNAPPY\0", 8)) {
            z->u.sn.xerial = true;
            z->pos = XERIAL_HEADER_LEN;
            /* snappy-java refuses a stream older than its format version 1 */
            if ((int32_t)sm_be32(in + 8) < 1)
                fail(z, SM_ECORRUPT, "snappy: xerial framing version %d",
                     (int32_t)sm_be32(in + 8));
        }
        break;
    case SM_COMP_LZ4:
        z->u.lz.done = false;
        if (len >= 5 && (in[0] | in[1] << 8 | in[2] << 16 | (uint32_t)in[3] << 24) ==
                            LZ4_FRAME_MAGIC && !(in[4] & LZ4_FLG_BLOCK_INDEPENDENT))
            fail(z, SM_ECORRUPT, "lz4: the frame has linked blocks, which Kafka does not read");
        break;
    case SM_COMP_ZSTD:
        z->u.zs.frame_done = false;
        break;
    }
    return z;
}

int64_t sm_unzip_read(sm_unzip *z, uint8_t *out, size_t cap)
{
    if (z->err)
        return z->err;
    /* ask for at most one byte past the limit: enough to tell it was passed */
    uint64_t room = z->limit - z->total;
    if (room < cap)
        cap = (size_t)room + 1;
    int64_t n;
    switch (z->codec) {
    case SM_COMP_GZIP: n = gz_read(z, out, cap); break;
    case SM_COMP_SNAPPY: n = sn_read(z, out, cap); break;
    case SM_COMP_LZ4: n = lz_read(z, out, cap); break;
    default: n = zs_read(z, out, cap); break;
    }
    if (n < 0)
        return n;
    z->total += (uint64_t)n;
    if (z->total > z->limit)
        return fail(z, SM_ERANGE, "%s: the records decompress to more than the limit of %llu bytes",
                    sm_compression_name(z->codec), (unsigned long long)z->limit);
    return n;
}

const char *sm_unzip_error(const sm_unzip *z) { return z->err ? z->why : ""; }

void sm_unzip_free(sm_unzip *z)
{
    if (!z)
        return;
    bool small = z->codec == SM_COMP_SNAPPY ? z->u.sn.blk_cap <= SPARE_MAX_BYTES
                 : z->codec == SM_COMP_ZSTD ? ZSTD_sizeof_DCtx(z->u.zs.d) <= SPARE_MAX_BYTES
                                            : true;
    if (!spare[z->codec] && small) {
        z->in = NULL;
        spare[z->codec] = z;
        return;
    }
    destroy(z);
}
