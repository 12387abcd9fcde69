/* SPDX-License-Identifier: Apache-2.0 */
#include "usock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
usock_listen(const char *path, const char *what, struct vr_error **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return vr_fail(errp, 0,
                       "socket path '%s' is too long (set VMRUN_RUNTIME_DIR to a shorter "
                       "directory)",
                       path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return vr_fail(errp, errno, "cannot create the %s", what);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int saved = errno;
        close(fd);
        return vr_fail(errp, saved, "cannot bind the %s '%s'", what, path);
    }
    if (listen(fd, 1) < 0) {
        int saved = errno;
        close(fd);
        return vr_fail(errp, saved, "cannot listen on the %s '%s'", what, path);
    }
    return fd;
}

int
usock_accept(int listen_fd, pid_t *peer_pid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    *peer_pid = 0;
    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        *peer_pid = cred.pid;
    return fd;
}
