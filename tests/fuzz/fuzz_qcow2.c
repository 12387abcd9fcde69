/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_qcow2: the qcow2 header parser on hostile image files (the image is
 * the user's, but its header decides whether QEMU may open host files).
 *
 * The input is the start of an image file. The parser must read only within
 * it, leave *info alone on failure, and on success report exactly what the
 * header says; it looks at no byte past IMAGE_HEADER_READ, so the input cut
 * there (as image_inspect reads it) must give the same answer.
 */
#include <string.h>

#include "fuzz.h"
#include "image.h"

static uint64_t
fuzz_qcow2_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    while (n--)
        v = (v << 8) | *p++;
    return v;
}

static int
fuzz_qcow2_parse(const uint8_t *data, size_t size, struct image_info *info, const char **why)
{
    /* An exact-size copy, so that ASan sees a read past the header. */
    uint8_t *buf = malloc(size ? size : 1);
    int r;

    FUZZ_CHECK(buf != NULL);
    if (size)
        memcpy(buf, data, size);
    memset(info, 0xa5, sizeof(*info));
    *why = NULL;
    r = image_parse_qcow2(buf, size, info, why);
    free(buf);
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_info info, cut, untouched;
    const char *why = NULL, *why_cut = NULL;
    size_t head = size < IMAGE_HEADER_READ ? size : IMAGE_HEADER_READ;
    int r, r_cut;

    memset(&untouched, 0xa5, sizeof(untouched));
    r = fuzz_qcow2_parse(data, size, &info, &why);
    FUZZ_CHECK(r == 0 || r == -1);
    if (r < 0) {
        FUZZ_CHECK(why != NULL && why[0] != '\0');
        FUZZ_CHECK(memcmp(&info, &untouched, sizeof(info)) == 0);
    } else {
        FUZZ_CHECK(size >= 72 && memcmp(data, "QFI\xfb", 4) == 0);
        FUZZ_CHECK(info.format == IMAGE_QCOW2);
        FUZZ_CHECK(info.qcow2_version == 2 || info.qcow2_version == 3);
        FUZZ_CHECK((uint64_t)info.qcow2_version == fuzz_qcow2_be(data + 4, 4));
        FUZZ_CHECK(info.has_backing == 0 || info.has_backing == 1);
        FUZZ_CHECK(info.has_backing == (fuzz_qcow2_be(data + 8, 8) != 0));
        FUZZ_CHECK(info.has_data_file == 0 || info.has_data_file == 1);
        FUZZ_CHECK(info.virtual_size == fuzz_qcow2_be(data + 24, 8));
        FUZZ_CHECK(fuzz_qcow2_be(data + 32, 4) == 0); /* no encryption */
        if (info.qcow2_version == 2) {
            FUZZ_CHECK(info.has_data_file == 0);
        } else {
            uint64_t incompatible;

            FUZZ_CHECK(size >= 104);
            incompatible = fuzz_qcow2_be(data + 72, 8);
            FUZZ_CHECK((incompatible & 2) == 0);               /* corrupt bit */
            FUZZ_CHECK((incompatible & ~(uint64_t)0x1f) == 0); /* unknown bits */
            FUZZ_CHECK(info.has_data_file == ((incompatible & 4) != 0));
        }
        /* What the caller does not own stays as it was. */
        FUZZ_CHECK(memcmp(info.digest, untouched.digest, sizeof(info.digest)) == 0);
        FUZZ_CHECK(info.path == untouched.path && info.file_size == untouched.file_size);
    }
    r_cut = fuzz_qcow2_parse(data, head, &cut, &why_cut);
    FUZZ_CHECK(r_cut == r);
    FUZZ_CHECK(memcmp(&cut, &info, sizeof(cut)) == 0);
    if (r < 0)
        FUZZ_CHECK(strcmp(why, why_cut) == 0);
    return 0;
}
