/* replay.c: runs every file of the fuzz corpus through the fuzz target, then
 * a deterministic stream of mutated inputs, so the suite re-checks what
 * fuzzing found without needing libFuzzer. Exits non-zero only by crashing
 * (ASan/UBSan abort), which is the point. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_decoders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint8_t *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (buf)
        LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 1;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            files += run_file(argv[i]);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
            files += run_file(path);
        }
        closedir(d);
    }
    /* random bodies for every covered (key, version) */
    int n;
    const sm_fuzz_api *apis = sm_fuzz_apis(&n);
    uint8_t buf[512];
    long runs = 0;
    for (int i = 0; i < n; i++) {
        for (int16_t v = apis[i].min; v <= apis[i].max; v++) {
            for (int k = 0; k < 2000; k++) {
                size_t len = 4 + next_rand() % (sizeof buf - 4);
                buf[0] = (uint8_t)(apis[i].key >> 8);
                buf[1] = (uint8_t)apis[i].key;
                buf[2] = (uint8_t)(v >> 8);
                buf[3] = (uint8_t)v;
                for (size_t j = 4; j < len; j++) {
                    /* small numbers are likelier to be taken as lengths and counts */
                    uint32_t x = next_rand();
                    buf[j] = (uint8_t)((x & 3) ? (x >> 8) & 3 : x >> 8);
                }
                LLVMFuzzerTestOneInput(buf, len);
                runs++;
            }
        }
    }
    printf("replayed %d corpus file(s) and %ld generated input(s) through every decoder\n", files,
           runs);
    return 0;
}
