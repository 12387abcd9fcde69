/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of console.c: the guest console keeps only its last bytes. */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tap.h"
#include "console.h"

static void
test_keeps_the_tail(void)
{
    struct console c;
    char big[20000];
    int sv[2];
    char *text;

    TAP_CHECK_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    console_init(&c);
    c.fd = sv[0];
    TAP_CHECK_INT_EQ(write(sv[1], "hello\n", 6), 6);
    TAP_CHECK_INT_EQ(console_pump(&c), 0);
    text = console_text(&c);
    TAP_CHECK_STR_EQ(text, "hello\n");
    free(text);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = '\0'; /* shown as '?' */
    TAP_CHECK_INT_EQ(write(sv[1], big, sizeof(big)), (long)sizeof(big));
    close(sv[1]);
    console_drain(&c);
    TAP_CHECK_INT_EQ(c.fd, -1); /* end of file seen */
    TAP_CHECK_INT_EQ(c.total, 6 + (long)sizeof(big));
    text = console_text(&c);
    TAP_CHECK_INT_EQ(strlen(text), CONSOLE_KEEP);
    TAP_CHECK(memcmp(text, big + sizeof(big) - CONSOLE_KEEP, CONSOLE_KEEP - 1) == 0);
    TAP_CHECK_INT_EQ(text[CONSOLE_KEEP - 1], '?');
    free(text);
    console_close(&c);
}

/* At most 64 KiB per call: a flood cannot keep the caller in console_pump. */
static void
test_pump_is_bounded(void)
{
    struct console c;
    static char chunk[4096];
    int sv[2], sz = 1 << 20;
    size_t written = 0;

    TAP_CHECK_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    console_init(&c);
    c.fd = sv[0];
    memset(chunk, 'x', sizeof(chunk));
    while (written < (200U << 10)) {
        ssize_t n = write(sv[1], chunk, sizeof(chunk));
        if (n <= 0)
            break;
        written += (size_t)n;
    }
    TAP_CHECK_MSG(written > (64U << 10), "only %zu bytes fit in the socket", written);
    TAP_CHECK_INT_EQ(console_pump(&c), 2);
    TAP_CHECK_INT_EQ(c.total, 64 << 10);
    console_close(&c);
    close(sv[1]);
}

int
main(int argc, char **argv)
{
    static const struct tap_test tests[] = {
        TAP_TEST(test_keeps_the_tail),
        TAP_TEST(test_pump_is_bounded),
    };
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
