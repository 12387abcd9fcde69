/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz: the one entry point every harness in tests/fuzz defines. The same
 * harness links with libFuzzer (clang -fsanitize=fuzzer) to explore, and with
 * replay.c (gcc, ASan+UBSan, no libFuzzer) to re-run the kept corpus in
 * `make check`. A harness signals a broken invariant with abort().
 */
#ifndef VMRUN_FUZZ_H
#define VMRUN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant that must hold for every input; abort() keeps the crash
 * visible to both libFuzzer and the replay driver, NDEBUG or not. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Harnesses whose input has several parts (a list, a JSON document, a pool
 * of strings...) separate them with FUZZ_SEP, which the seeds use and which
 * libFuzzer's memmem hook learns. */
#define FUZZ_SEP "\n==\n"
#define FUZZ_SEP_LEN 4

struct fuzz_part {
    const uint8_t *data;
    size_t len;
};

/* Split data at FUZZ_SEP into at most n parts (the last takes the rest);
 * missing parts are empty. */
static inline void
fuzz_split(const uint8_t *data, size_t size, struct fuzz_part *parts, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const uint8_t *sep = i + 1 < n && size ? memmem(data, size, FUZZ_SEP, FUZZ_SEP_LEN) : NULL;
        size_t len = sep ? (size_t)(sep - data) : size;

        parts[i].data = data;
        parts[i].len = len;
        data += sep ? len + FUZZ_SEP_LEN : len;
        size -= sep ? len + FUZZ_SEP_LEN : len;
    }
}

/* A part as a fresh NUL-terminated string (cut at its first NUL). */
static inline char *
fuzz_part_str(const struct fuzz_part *p)
{
    char *s = malloc(p->len + 1);

    if (!s)
        abort();
    if (p->len)
        memcpy(s, p->data, p->len);
    s[p->len] = '\0';
    return s;
}

#endif
