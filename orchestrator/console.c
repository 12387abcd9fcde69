/* SPDX-License-Identifier: Apache-2.0 */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usock.h"

void
console_init(struct console *c)
{
    memset(c, 0, sizeof(*c));
    c->listen_fd = c->fd = -1;
}

int
console_listen(struct console *c, const char *path, struct vr_error **errp)
{
    c->listen_fd = usock_listen(path, "console socket", errp);
    return c->listen_fd < 0 ? -1 : 0;
}

void
console_accept(struct console *c, pid_t qemu_pid)
{
    pid_t peer;

    if (c->listen_fd < 0 || c->fd >= 0)
        return;
    c->fd = usock_accept(c->listen_fd, &peer);
    if (c->fd < 0)
        return;
    if (qemu_pid > 0 && peer != qemu_pid) {
        close(c->fd);
        c->fd = -1;
        return;
    }
    close(c->listen_fd);
    c->listen_fd = -1;
}

static void
console_keep(struct console *c, const char *data, size_t n)
{
    c->total += n;
    for (size_t i = 0; i < n; i++) {
        size_t at = (c->start + c->len) % CONSOLE_KEEP;
        c->ring[at] = data[i];
        if (c->len < CONSOLE_KEEP)
            c->len++;
        else
            c->start = (c->start + 1) % CONSOLE_KEEP;
    }
}

int
console_pump(struct console *c)
{
    char buf[4096];
    int rounds = 16; /* at most 64 KiB a call: a flooding guest must not starve the loop */

    while (c->fd >= 0 && rounds-- > 0) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0) {
            console_keep(c, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        close(c->fd);
        c->fd = -1;
        return 1;
    }
    return c->fd < 0 ? 1 : 2;
}

void
console_drain(struct console *c)
{
    /* QEMU is gone: what is left in the socket is finite (its buffer) */
    for (int i = 0; i < 256 && console_pump(c) == 2; i++)
        ;
}

char *
console_text(const struct console *c)
{
    char *s = malloc(c->len + 1);

    if (!s)
        return NULL;
    for (size_t i = 0; i < c->len; i++) {
        char ch = c->ring[(c->start + i) % CONSOLE_KEEP];
        s[i] = ch ? ch : '?';
    }
    s[c->len] = '\0';
    return s;
}

void
console_close(struct console *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    c->fd = c->listen_fd = -1;
}
