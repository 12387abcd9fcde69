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

#endif
