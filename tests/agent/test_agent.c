/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_agent.c: the guest agent tested without a VM.
 *
 * How it works. Each test makes a temporary directory with a listening Unix
 * socket, starts the agent in test mode (`--connect SOCKET --workdir DIR`),
 * accepts its connection and speaks the protocol of docs/protocol.md with the
 * shared codec (wire.c) in strict mode, as the host does, so any malformed
 * frame from the agent fails the test. The module runs with the host's
 * python3. At the end the socket is closed and the agent must exit 0 within
 * a few seconds (under ASan that also catches leaks and memory errors).
 *
 * The agent binary: $VMRUN_AGENT, else build/guest-agent/vmrun-agent
 * (relative to the current directory, the repository root under make).
 */
#include "../../guest-agent/wire.h"
#include "../tap.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#define DEFAULT_AGENT "build/guest-agent/vmrun-agent"
#define RECV_TIMEOUT_MS 15000

struct fx {
    char dir[64];
    char sock[128];
    char workdir[128];
    int lfd;
    int fd;
    pid_t agent;
    struct wire_decoder dec;
    json_int_t next_id;
};

struct result {
    json_t *started;
    json_t *exit;
    unsigned char *out, *err;
    size_t out_len, err_len;
    size_t max_frame;
    double t_first_out, t_exit;
    int alive; /* `alive` frames seen */
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fx_start_args(struct fx *f, const char *extra1, const char *extra2)
{
    const char *agent = getenv("VMRUN_AGENT");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct pollfd p;

    if (!agent)
        agent = DEFAULT_AGENT;
    TAP_CHECK_MSG(access(agent, X_OK) == 0, "agent binary '%s' not found (set VMRUN_AGENT)", agent);
    memset(f, 0, sizeof(*f));
    f->next_id = 1;
    strcpy(f->dir, "/tmp/vmrun-agent-test.XXXXXX");
    TAP_CHECK(mkdtemp(f->dir) != NULL);
    /* As in the VM (/tmp is 1777), nobody can reach the working directory. */
    TAP_CHECK(chmod(f->dir, 0711) == 0);
    snprintf(f->sock, sizeof(f->sock), "%s/s", f->dir);
    snprintf(f->workdir, sizeof(f->workdir), "%s/w", f->dir);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    TAP_CHECK(f->lfd >= 0);
    strcpy(sun.sun_path, f->sock);
    TAP_CHECK(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
    TAP_CHECK(listen(f->lfd, 1) == 0);
    f->agent = fork();
    TAP_CHECK(f->agent >= 0);
    if (f->agent == 0) {
        const char *argv[10] = {agent,       "--connect", f->sock,
                                "--workdir", f->workdir,  "--no-chroot"};
        int n = 6;
        if (extra1)
            argv[n++] = extra1;
        if (extra2)
            argv[n++] = extra2;
        execv(agent, (char **)argv);
        _exit(127);
    }
    p = (struct pollfd){.fd = f->lfd, .events = POLLIN};
    TAP_CHECK_MSG(poll(&p, 1, 10000) == 1, "the agent did not connect");
    f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    TAP_CHECK(f->fd >= 0);
    TAP_CHECK(wire_decoder_init(&f->dec, WIRE_STRICT) == 0);
}

static void
fx_start(struct fx *f)
{
    fx_start_args(f, NULL, NULL);
}

static int
fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Closes the channel; the agent must then exit 0 by itself. */
static void
fx_stop(struct fx *f)
{
    int status = 0, i;
    pid_t got = 0;

    close(f->fd);
    close(f->lfd);
    for (i = 0; i < 500 && got == 0; i++) {
        got = waitpid(f->agent, &status, WNOHANG);
        if (got == 0)
            usleep(10000);
    }
    if (got == 0)
        kill(f->agent, SIGKILL);
    wire_decoder_free(&f->dec);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    TAP_CHECK_MSG(got == f->agent, "the agent did not exit after EOF");
    TAP_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the agent ended with status 0x%x",
                  status);
}

static void
fx_send(struct fx *f, json_t *hdr, const void *body, size_t len)
{
    TAP_CHECK(hdr != NULL);
    TAP_CHECK(wire_send(f->fd, hdr, body, len) == 0);
    json_decref(hdr);
}

static void
fx_send_raw(struct fx *f, const void *buf, size_t len)
{
    TAP_CHECK(wire_write_all(f->fd, buf, len) == 0);
}

static void
fx_recv(struct fx *f, struct wire_frame *fr)
{
    const char *why = NULL;
    double deadline = now_s() + RECV_TIMEOUT_MS / 1000.0;
    int r;

    for (;;) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        ssize_t n;

        r = wire_decoder_next(&f->dec, fr, &why);
        TAP_CHECK_MSG(r >= 0, "malformed frame from the agent: %s", why);
        if (r == 1)
            return;
        TAP_CHECK_MSG(now_s() < deadline, "no frame from the agent in time");
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = wire_decoder_read(&f->dec, f->fd);
        TAP_CHECK_MSG(n > 0, "the agent closed the channel");
    }
}

/* Receives a frame that must be of type `type` and answer id. Returns its header. */
static json_t *
fx_expect(struct fx *f, const char *type, json_int_t id)
{
    struct wire_frame fr;
    json_t *h;

    fx_recv(f, &fr);
    TAP_CHECK_MSG(strcmp(fr.type, type) == 0, "expected '%s', got '%s' (%s)", type, fr.type,
                  wire_get_str(fr.header, "message", ""));
    TAP_CHECK_INT_EQ(wire_get_int(fr.header, "id", -1), id);
    h = json_incref(fr.header);
    wire_frame_clear(&fr);
    return h;
}

/* Expects an error reply for id; returns its message (static copy). */
static const char *
fx_expect_error(struct fx *f, json_int_t id)
{
    static char msg[1024];
    json_t *h = fx_expect(f, "error", id);

    snprintf(msg, sizeof(msg), "%s", wire_get_str(h, "message", ""));
    TAP_CHECK_MSG(msg[0] != '\0', "error without a message");
    json_decref(h);
    return msg;
}

static void
fx_hello(struct fx *f)
{
    json_int_t id = f->next_id++;
    json_t *h;

    fx_send(f,
            json_pack("{s:s, s:I, s:i, s:I}", "type", "hello", "id", id, "proto",
                      WIRE_PROTO_VERSION, "time_ns", (json_int_t)time(NULL) * 1000000000),
            NULL, 0);
    h = fx_expect(f, "hello", id);
    TAP_CHECK_INT_EQ(wire_get_int(h, "proto", -1), WIRE_PROTO_VERSION);
    TAP_CHECK(strlen(wire_get_str(h, "agent", "")) > 0);
    TAP_CHECK(json_is_string(json_object_get(h, "root")));
    json_decref(h);
}

static json_int_t
fx_send_file(struct fx *f, const char *name, const void *data, size_t len, int mode, int last)
{
    json_int_t id = f->next_id++;

    fx_send(f,
            json_pack("{s:s, s:I, s:s, s:i, s:b}", "type", "file", "id", id, "name", name, "mode",
                      mode, "last", last),
            data, len);
    return id;
}

static void
fx_file(struct fx *f, const char *name, const void *data, size_t len, int mode)
{
    json_decref(fx_expect(f, "ok", fx_send_file(f, name, data, len, mode, 1)));
}

static void
fx_module(struct fx *f, const char *code)
{
    fx_file(f, "mod.py", code, strlen(code), 0644);
}

/* A run request with the defaults; tests change members before sending. */
static json_t *
run_req(void)
{
    return json_pack("{s:s, s:[s], s:{}, s:s, s:n, s:s, s:s, s:i, s:{s:i, s:i, s:i, s:i}}", "type",
                     "run", "argv", "mod.py", "env", "user", "nobody", "stdin", "mode", "run",
                     "module", "mod.py", "output_limit", 1 << 20, "limits", "cpu_s", 0, "nproc", 0,
                     "nofile", 0, "fsize_bytes", 0);
}

static void
append(unsigned char **buf, size_t *len, const void *data, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    TAP_CHECK(*buf != NULL);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Sends req (adds its id) and collects everything up to exit. */
static void
fx_run(struct fx *f, json_t *req, struct result *res)
{
    json_int_t id = f->next_id++;

    memset(res, 0, sizeof(*res));
    append(&res->out, &res->out_len, "", 0);
    append(&res->err, &res->err_len, "", 0);
    json_object_set_new(req, "id", json_integer(id));
    fx_send(f, req, NULL, 0);
    res->started = fx_expect(f, "started", id);
    TAP_CHECK(wire_get_int(res->started, "pid", -1) > 0);
    for (;;) {
        struct wire_frame fr;
        fx_recv(f, &fr);
        TAP_CHECK_INT_EQ(wire_get_int(fr.header, "id", -1), id);
        if (strcmp(fr.type, "exit") == 0) {
            res->t_exit = now_s();
            res->exit = json_incref(fr.header);
            wire_frame_clear(&fr);
            return;
        }
        if (strcmp(fr.type, "alive") == 0) {
            TAP_CHECK_INT_EQ(fr.body_len, 0);
            res->alive++;
            wire_frame_clear(&fr);
            continue;
        }
        TAP_CHECK_MSG(strcmp(fr.type, "output") == 0, "unexpected '%s' during the run: %s", fr.type,
                      wire_get_str(fr.header, "message", ""));
        if (res->t_first_out == 0)
            res->t_first_out = now_s();
        if (fr.body_len > res->max_frame)
            res->max_frame = fr.body_len;
        if (strcmp(wire_get_str(fr.header, "stream", ""), "stdout") == 0)
            append(&res->out, &res->out_len, fr.body, fr.body_len);
        else {
            TAP_CHECK_STR_EQ(wire_get_str(fr.header, "stream", ""), "stderr");
            append(&res->err, &res->err_len, fr.body, fr.body_len);
        }
        wire_frame_clear(&fr);
    }
}

static void
result_free(struct result *r)
{
    json_decref(r->started);
    json_decref(r->exit);
    free(r->out);
    free(r->err);
}

static json_int_t
exit_int(const struct result *r, const char *key)
{
    json_t *v = json_object_get(r->exit, key);
    TAP_CHECK_MSG(json_is_integer(v), "exit.%s is not an integer", key);
    return json_integer_value(v);
}

static void
check_exited(const struct result *r, int code)
{
    TAP_CHECK_MSG(strcmp(wire_get_str(r->exit, "status", ""), "exited") == 0,
                  "status %s, stderr: %s", wire_get_str(r->exit, "status", ""), r->err);
    TAP_CHECK_MSG(exit_int(r, "exit_code") == code, "exit code %lld, expected %d; stderr: %s",
                  (long long)exit_int(r, "exit_code"), code, r->err);
    TAP_CHECK(json_is_null(json_object_get(r->exit, "signal")));
}

/* hello, ship mod.py, run it with the defaults changed by one key. */
static void
run_simple(struct fx *f, const char *code, struct result *res)
{
    fx_start(f);
    fx_hello(f);
    fx_module(f, code);
    fx_run(f, run_req(), res);
}

/* ---- tests ---- */

static void
test_handshake(void)
{
    struct fx f;

    fx_start(&f);
    fx_hello(&f);
    /* A second hello is out of sequence. */
    fx_send(&f,
            json_pack("{s:s, s:i, s:i, s:i}", "type", "hello", "id", 7, "proto", WIRE_PROTO_VERSION,
                      "time_ns", 1),
            NULL, 0);
    fx_expect_error(&f, 7);
    fx_stop(&f);
}

static void
test_handshake_bad_proto(void)
{
    struct fx f;

    fx_start(&f);
    fx_send(&f,
            json_pack("{s:s, s:i, s:i, s:i}", "type", "hello", "id", 5, "proto", 99, "time_ns", 1),
            NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 5), "protocol version 99");
    /* The agent still waits for a good hello. */
    f.next_id = 6;
    fx_hello(&f);
    fx_stop(&f);
}

static void
test_requests_before_hello(void)
{
    struct fx f;
    json_t *r;

    fx_start(&f);
    fx_send_file(&f, "mod.py", "x", 1, 0644, 1);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 1), "hello");
    r = run_req();
    json_object_set_new(r, "id", json_integer(2));
    fx_send(&f, r, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 2), "hello");
    fx_send(&f, json_pack("{s:s, s:i}", "type", "bogus", "id", 3), NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 3), "unknown request type");
    fx_stop(&f);
}

static void
test_hello_world(void)
{
    struct fx f;
    struct result r;

    run_simple(&f, "print('hello world')\n", &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "hello world\n");
    TAP_CHECK_INT_EQ(r.err_len, 0);
    TAP_CHECK_INT_EQ(exit_int(&r, "stdout_bytes"), 12);
    TAP_CHECK_INT_EQ(exit_int(&r, "stderr_bytes"), 0);
    TAP_CHECK(json_is_false(json_object_get(r.exit, "stdout_truncated")));
    TAP_CHECK(json_is_false(json_object_get(r.exit, "stderr_truncated")));
    TAP_CHECK(exit_int(&r, "cpu_ms") >= 0);
    TAP_CHECK(exit_int(&r, "maxrss_kb") > 1000); /* python3 is more than 1 MB */
    TAP_CHECK(json_object_get(r.exit, "import") == NULL);
    result_free(&r);
    fx_stop(&f);
}

static void
test_exit_status(void)
{
    struct fx f;
    struct result r;

    run_simple(&f, "import sys\nprint('bye', file=sys.stderr)\nsys.exit(3)\n", &r);
    check_exited(&r, 3);
    TAP_CHECK_STR_EQ((char *)r.err, "bye\n");
    TAP_CHECK_INT_EQ(exit_int(&r, "stderr_bytes"), 4);
    result_free(&r);
    fx_stop(&f);
}

static void
test_traceback(void)
{
    struct fx f;
    struct result r;

    run_simple(&f, "def f():\n    raise ValueError('boom')\nf()\n", &r);
    check_exited(&r, 1);
    TAP_CHECK_STR_CONTAINS((char *)r.err, "Traceback (most recent call last)");
    TAP_CHECK_STR_CONTAINS((char *)r.err, "ValueError: boom");
    TAP_CHECK_INT_EQ(exit_int(&r, "stderr_bytes"), r.err_len);
    result_free(&r);
    fx_stop(&f);
}

static void
test_arguments(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import sys\nprint(sys.argv)\n");
    req = run_req();
    json_object_set_new(req, "argv", json_pack("[s, s, s, s]", "mod.py", "a b", "--x", ""));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "['mod.py', 'a b', '--x', '']\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_stdin_file(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_file(&f, "in.txt", "line one\nline two\n", 18, 0600);
    fx_module(&f, "print(input().upper())\nprint(input())\n"
                  "try:\n    input()\nexcept EOFError:\n    print('EOF')\n");
    req = run_req();
    json_object_set_new(req, "stdin", json_string("in.txt"));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "LINE ONE\nline two\nEOF\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_stdin_closed(void)
{
    struct fx f;
    struct result r;
    double t0 = now_s();

    run_simple(&f, "try:\n    input('prompt')\nexcept EOFError:\n    print('EOF')\n", &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "promptEOF\n");
    TAP_CHECK_MSG(r.t_exit - t0 < 10, "input() on a closed stdin blocked");
    result_free(&r);
    fx_stop(&f);
}

static void
test_stdin_not_shipped(void)
{
    struct fx f;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "print(1)\n");
    req = run_req();
    json_object_set_new(req, "stdin", json_string("missing.txt"));
    json_object_set_new(req, "id", json_integer(50));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 50), "missing.txt");
    fx_stop(&f);
}

static void
test_input_file_and_owner(void)
{
    struct fx f;
    struct result r;
    char expect[512];

    fx_start(&f);
    fx_hello(&f);
    fx_file(&f, "data.txt", "some data", 9, 0640);
    fx_module(&f, "import os\n"
                  "print(open('data.txt').read())\n"
                  "st = os.stat('data.txt')\n"
                  "print(oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)\n"
                  "print(os.getuid(), os.getgid(), os.getgroups())\n"
                  "d = os.stat('.')\n"
                  "print(oct(d.st_mode & 0o7777), d.st_uid, os.getcwd() == os.environ['HOME'])\n");
    fx_run(&f, run_req(), &r);
    check_exited(&r, 0);
    snprintf(expect, sizeof(expect),
             "some data\n0o640 65534 65534\n65534 65534 []\n0o700 65534 True\n");
    TAP_CHECK_STR_EQ((char *)r.out, expect);
    result_free(&r);
    fx_stop(&f);
}

static void
test_run_as_root(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    if (geteuid() != 0)
        TAP_SKIP("needs root");
    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import os\nprint(os.getuid(), os.getgid(), os.stat('mod.py').st_uid)\n");
    req = run_req();
    json_object_set_new(req, "user", json_string("root"));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "0 0 0\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_multi_chunk_file(void)
{
    struct fx f;
    struct result r;
    static char chunk[3][70000];
    int i;

    fx_start(&f);
    fx_hello(&f);
    for (i = 0; i < 3; i++) {
        memset(chunk[i], 'a' + i, sizeof(chunk[i]));
        json_decref(fx_expect(
            &f, "ok", fx_send_file(&f, "big.bin", chunk[i], sizeof(chunk[i]), 0600, i == 2)));
    }
    fx_module(&f, "d = open('big.bin', 'rb').read()\n"
                  "print(len(d), d.count(b'a'), d.count(b'b'), d.count(b'c'), d[69999:70001])\n");
    fx_run(&f, run_req(), &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "210000 70000 70000 70000 b'ab'\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_env(void)
{
    struct fx f;
    struct result r;
    json_t *req;
    char expect[1024];

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import os, json\n"
                  "print(json.dumps({k: v for k, v in os.environ.items() if k != 'LC_CTYPE'},"
                  " sort_keys=True))\n");
    req = run_req();
    json_object_set_new(req, "env", json_pack("{s:s, s:s}", "FOO", "bar", "PYTHONUNBUFFERED", "0"));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    snprintf(expect, sizeof(expect),
             "{\"FOO\": \"bar\", \"HOME\": \"%s\", \"LANG\": \"C.UTF-8\", \"PATH\": "
             "\"/usr/local/bin:/usr/bin:/bin\", \"PYTHONDONTWRITEBYTECODE\": \"1\", "
             "\"PYTHONUNBUFFERED\": \"0\"}\n",
             f.workdir);
    TAP_CHECK_STR_EQ((char *)r.out, expect);
    result_free(&r);
    fx_stop(&f);
}

static void
test_streaming(void)
{
    struct fx f;
    struct result r;

    run_simple(&f, "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')\n", &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "first\nsecond\n");
    TAP_CHECK(r.t_first_out > 0);
    TAP_CHECK_MSG(r.t_exit - r.t_first_out > 0.8, "first output %.3f s before exit: not streamed",
                  r.t_exit - r.t_first_out);
    result_free(&r);
    fx_stop(&f);
}

/* A module that runs quietly still shows the agent is alive, once a second. */
static void
test_alive_while_running(void)
{
    struct fx f;
    struct result r;

    run_simple(&f, "import time\ntime.sleep(2.6)\n", &r);
    check_exited(&r, 0);
    TAP_CHECK_MSG(r.alive >= 2 && r.alive <= 4, "%d alive frames in 2.6 s", r.alive);
    result_free(&r);
    fx_stop(&f);
}

static void
test_output_cap(void)
{
    struct fx f;
    struct result r;
    json_t *req;
    size_t i;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import sys\nsys.stdout.buffer.write(b'x' * (4 << 20))\nsys.stdout.flush()\n"
                  "sys.stderr.write('e' * 10)\n");
    req = run_req();
    json_object_set_new(req, "output_limit", json_integer(100000));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_INT_EQ(r.out_len, 100000);
    for (i = 0; i < r.out_len; i++)
        TAP_CHECK(r.out[i] == 'x');
    TAP_CHECK_INT_EQ(exit_int(&r, "stdout_bytes"), 4 << 20);
    TAP_CHECK(json_is_true(json_object_get(r.exit, "stdout_truncated")));
    TAP_CHECK_STR_EQ((char *)r.err, "eeeeeeeeee");
    TAP_CHECK_INT_EQ(exit_int(&r, "stderr_bytes"), 10);
    TAP_CHECK(json_is_false(json_object_get(r.exit, "stderr_truncated")));
    TAP_CHECK_MSG(r.max_frame <= 65536, "an output frame of %zu bytes", r.max_frame);
    result_free(&r);
    fx_stop(&f);
}

static void
test_output_uncapped_large(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import sys\nsys.stdout.buffer.write(b'y' * (3 << 20))\n");
    req = run_req();
    json_object_set_new(req, "output_limit", json_integer(0)); /* 0: no limit */
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_INT_EQ(r.out_len, 3 << 20);
    TAP_CHECK_INT_EQ(exit_int(&r, "stdout_bytes"), 3 << 20);
    TAP_CHECK(json_is_false(json_object_get(r.exit, "stdout_truncated")));
    TAP_CHECK_MSG(r.max_frame <= 65536, "an output frame of %zu bytes", r.max_frame);
    result_free(&r);
    fx_stop(&f);
}

static void
test_binary_output(void)
{
    static const unsigned char bytes[] = {0xff, 0xfe, 0x00, 'a', 'b', 'c', 0x00, 0xc3, 0x28, '\n'};
    struct fx f;
    struct result r;

    run_simple(&f,
               "import sys\nb = b'\\xff\\xfe\\x00abc\\x00\\xc3\\x28\\n'\n"
               "sys.stdout.buffer.write(b)\nsys.stderr.buffer.write(b[::-1])\n",
               &r);
    check_exited(&r, 0);
    TAP_CHECK_INT_EQ(r.out_len, sizeof(bytes));
    TAP_CHECK(memcmp(r.out, bytes, sizeof(bytes)) == 0);
    TAP_CHECK_INT_EQ(r.err_len, sizeof(bytes));
    for (size_t i = 0; i < sizeof(bytes); i++)
        TAP_CHECK_INT_EQ(r.err[i], bytes[sizeof(bytes) - 1 - i]);
    result_free(&r);
    fx_stop(&f);
}

static void
test_signaled(void)
{
    struct fx f;
    struct result r;

    run_simple(&f, "import os\nprint('before', flush=True)\nos.kill(os.getpid(), 9)\n", &r);
    TAP_CHECK_STR_EQ(wire_get_str(r.exit, "status", ""), "signaled");
    TAP_CHECK_INT_EQ(exit_int(&r, "signal"), 9);
    TAP_CHECK(json_is_null(json_object_get(r.exit, "exit_code")));
    TAP_CHECK_STR_EQ((char *)r.out, "before\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_background_child_killed(void)
{
    struct fx f;
    struct result r;
    char path[64], stat[256] = "";
    double t0 = now_s();
    int pid, i, fd, alive = 1;

    run_simple(&f,
               "import subprocess\np = subprocess.Popen(['sleep', '30'])\n"
               "print(p.pid, flush=True)\n",
               &r);
    check_exited(&r, 0);
    TAP_CHECK_MSG(r.t_exit - t0 < 5, "exit took %.1f s: the orphan's pipes held it", r.t_exit - t0);
    pid = atoi((char *)r.out);
    TAP_CHECK(pid > 0);
    /* Gone, or a zombie waiting for its new parent. */
    for (i = 0; i < 100 && alive; i++) {
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        fd = open(path, O_RDONLY);
        if (fd < 0) {
            alive = 0;
            break;
        }
        memset(stat, 0, sizeof(stat));
        if (read(fd, stat, sizeof(stat) - 1) > 0 && strstr(stat, ") Z "))
            alive = 0;
        close(fd);
        if (alive)
            usleep(10000);
    }
    TAP_CHECK_MSG(!alive, "the background process %d survived: %s", pid, stat);
    result_free(&r);
    fx_stop(&f);
}

static void
test_import_completed(void)
{
    struct fx f;
    struct result r;
    json_t *req, *imp;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import sys\nprint('imported', __name__, sys.argv)\n"
                  "if __name__ == '__main__':\n    print('MAIN')\n");
    req = run_req();
    json_object_set_new(req, "mode", json_string("import"));
    json_object_set_new(req, "argv", json_pack("[s, s]", "mod.py", "x"));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "imported mod ['mod.py', 'x']\n");
    imp = json_object_get(r.exit, "import");
    TAP_CHECK(json_is_object(imp));
    TAP_CHECK_STR_EQ(wire_get_str(imp, "outcome", ""), "completed");
    TAP_CHECK(json_object_get(imp, "exception") == NULL);
    result_free(&r);
    fx_stop(&f);
}

static void
test_import_raised(void)
{
    struct fx f;
    struct result r;
    json_t *req, *imp;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "def f():\n    raise KeyError('kk')\nf()\n");
    req = run_req();
    json_object_set_new(req, "mode", json_string("import"));
    fx_run(&f, req, &r);
    check_exited(&r, 1);
    imp = json_object_get(r.exit, "import");
    TAP_CHECK_STR_EQ(wire_get_str(imp, "outcome", ""), "raised");
    TAP_CHECK_STR_EQ(wire_get_str(imp, "exception", ""), "KeyError");
    TAP_CHECK_STR_CONTAINS(wire_get_str(imp, "traceback", ""), "KeyError: 'kk'");
    TAP_CHECK_STR_CONTAINS(wire_get_str(imp, "traceback", ""), "in f");
    TAP_CHECK_STR_CONTAINS((char *)r.err, "Traceback (most recent call last)");
    TAP_CHECK_STR_CONTAINS((char *)r.err, "KeyError: 'kk'");
    result_free(&r);
    fx_stop(&f);
}

static void
test_import_exited(void)
{
    struct fx f;
    struct result r;
    json_t *req, *imp;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import os\nprint('going', flush=True)\nos._exit(5)\n");
    req = run_req();
    json_object_set_new(req, "mode", json_string("import"));
    fx_run(&f, req, &r);
    check_exited(&r, 5);
    TAP_CHECK_STR_EQ((char *)r.out, "going\n");
    imp = json_object_get(r.exit, "import");
    TAP_CHECK_STR_EQ(wire_get_str(imp, "outcome", ""), "exited");
    result_free(&r);
    fx_stop(&f);
}

static void
test_import_bad_module_name(void)
{
    struct fx f;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_file(&f, "a.b.py", "x = 1\n", 6, 0644);
    req = run_req();
    json_object_set_new(req, "mode", json_string("import"));
    json_object_set_new(req, "module", json_string("a.b.py"));
    json_object_set_new(req, "id", json_integer(40));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 40), "import mode");
    fx_stop(&f);
}

static void
test_bad_file_names(void)
{
    static const char *const bad[] = {"../x", "a/b", ".", "", "..", "/etc/passwd"};
    char longname[300];
    struct fx f;
    size_t i;

    fx_start(&f);
    fx_hello(&f);
    for (i = 0; i < TAP_COUNT(bad); i++) {
        json_int_t id = fx_send_file(&f, bad[i], "x", 1, 0644, 1);
        TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, id), "invalid file name");
    }
    memset(longname, 'a', 256);
    longname[256] = '\0';
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, fx_send_file(&f, longname, "x", 1, 0644, 1)),
                           "invalid file name");
    /* An embedded NUL must not shorten the name to something valid: a header
     * with \u0000 is a malformed frame, dropped by the resync decoder, so the
     * next reply is for the next request. */
    fx_send(&f,
            json_pack("{s:s, s:i, s:s%, s:i, s:b}", "type", "file", "id", 90, "name", "ok\0/x",
                      (size_t)5, "mode", 0644, "last", 1),
            "x", 1);
    f.next_id = 100;
    longname[255] = '\0';
    fx_file(&f, longname, "x", 1, 0644); /* 255 bytes is fine */
    fx_file(&f, "ok.txt", "x", 1, 0644);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, fx_send_file(&f, "ok.txt", "y", 1, 0644, 1)),
                           "already shipped");
    /* "../x" did not land next to the working directory. */
    snprintf(longname, sizeof(longname), "%s/x", f.dir);
    TAP_CHECK(access(longname, F_OK) != 0);
    fx_stop(&f);
}

static void
test_bad_run_requests(void)
{
    struct fx f;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "print(1)\n");
    req = run_req();
    json_object_set_new(req, "module", json_string("nope.py"));
    json_object_set_new(req, "id", json_integer(20));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 20), "was not shipped");
    req = run_req();
    json_object_set_new(req, "user", json_string("daemon"));
    json_object_set_new(req, "id", json_integer(21));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 21), "user");
    req = run_req();
    json_object_set_new(req, "env", json_pack("{s:s}", "A=B", "x"));
    json_object_set_new(req, "id", json_integer(22));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 22), "env");
    /* A file left unfinished blocks the run. */
    json_decref(fx_expect(&f, "ok", fx_send_file(&f, "part.txt", "x", 1, 0644, 0)));
    req = run_req();
    json_object_set_new(req, "id", json_integer(23));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, 23), "not finished");
    fx_stop(&f);
}

static void
test_files_cap(void)
{
    static char chunk[600];
    struct fx f;

    fx_start_args(&f, "--files-cap", "1000");
    fx_hello(&f);
    fx_file(&f, "a", chunk, sizeof(chunk), 0644);
    TAP_CHECK_STR_CONTAINS(
        fx_expect_error(&f, fx_send_file(&f, "b", chunk, sizeof(chunk), 0644, 1)), "cap");
    fx_stop(&f);
}

static void
test_python_missing(void)
{
    struct fx f;
    json_t *req;

    fx_start_args(&f, "--python", "/nonexistent/python3");
    fx_hello(&f);
    fx_module(&f, "print(1)\n");
    req = run_req();
    json_object_set_new(req, "id", json_integer(30));
    fx_send(&f, req, NULL, 0);
    TAP_CHECK_STR_EQ(fx_expect_error(&f, 30), "python3 not found in the image");
    fx_stop(&f);
}

static void
test_rlimits_applied(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import resource as R\n"
                  "print([R.getrlimit(x) for x in (R.RLIMIT_CPU, R.RLIMIT_NPROC, R.RLIMIT_NOFILE,"
                  " R.RLIMIT_FSIZE)])\n");
    req = run_req();
    json_object_set_new(req, "limits",
                        json_pack("{s:i, s:i, s:i, s:i}", "cpu_s", 50, "nproc", 100, "nofile", 64,
                                  "fsize_bytes", 1 << 20));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "[(50, 51), (100, 100), (64, 64), (1048576, 1048576)]\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_rlimit_fsize(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    /* Python ignores SIGXFSZ, so writing past the limit is an OSError (EFBIG). */
    fx_module(&f, "import errno, os\n"
                  "try:\n"
                  "    with open('big', 'wb') as f:\n"
                  "        f.write(b'x' * 5000)\n"
                  "    print('no error')\n"
                  "except OSError as e:\n"
                  "    print(errno.errorcode[e.errno], os.stat('big').st_size)\n");
    req = run_req();
    json_object_set_new(req, "limits", json_pack("{s:i}", "fsize_bytes", 1000));
    fx_run(&f, req, &r);
    check_exited(&r, 0);
    TAP_CHECK_STR_EQ((char *)r.out, "EFBIG 1000\n");
    result_free(&r);
    fx_stop(&f);
}

static void
test_rlimit_cpu(void)
{
    struct fx f;
    struct result r;
    json_t *req;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "while True:\n    pass\n");
    req = run_req();
    json_object_set_new(req, "limits", json_pack("{s:i}", "cpu_s", 1));
    fx_run(&f, req, &r);
    TAP_CHECK_STR_EQ(wire_get_str(r.exit, "status", ""), "signaled");
    TAP_CHECK_INT_EQ(exit_int(&r, "signal"), SIGXCPU);
    TAP_CHECK_MSG(exit_int(&r, "cpu_ms") >= 900, "cpu_ms %lld", (long long)exit_int(&r, "cpu_ms"));
    result_free(&r);
    fx_stop(&f);
}

static void
test_request_during_and_after_run(void)
{
    struct fx f;
    struct wire_frame fr;
    json_t *req;
    int got_error = 0, got_exit = 0;

    fx_start(&f);
    fx_hello(&f);
    fx_module(&f, "import time\ntime.sleep(0.5)\nprint('done')\n");
    req = run_req();
    json_object_set_new(req, "id", json_integer(60));
    fx_send(&f, req, NULL, 0);
    json_decref(fx_expect(&f, "started", 60));
    fx_send(&f,
            json_pack("{s:s, s:i, s:i, s:i}", "type", "hello", "id", 61, "proto",
                      WIRE_PROTO_VERSION, "time_ns", 1),
            NULL, 0);
    while (!got_exit) {
        fx_recv(&f, &fr);
        if (strcmp(fr.type, "error") == 0) {
            TAP_CHECK_INT_EQ(wire_get_int(fr.header, "id", -1), 61);
            TAP_CHECK_MSG(!got_exit, "the error came after exit: not answered while running");
            got_error = 1;
        } else if (strcmp(fr.type, "exit") == 0) {
            TAP_CHECK_INT_EQ(wire_get_int(fr.header, "exit_code", -1), 0);
            got_exit = 1;
        } else if (strcmp(fr.type, "alive") != 0) {
            TAP_CHECK_STR_EQ(fr.type, "output");
        }
        wire_frame_clear(&fr);
    }
    TAP_CHECK(got_error);
    /* After exit: every request is an error. */
    f.next_id = 70;
    TAP_CHECK_STR_CONTAINS(fx_expect_error(&f, fx_send_file(&f, "z", "z", 1, 0644, 1)), "over");
    fx_stop(&f);
}

static void
test_resync_garbage(void)
{
    struct fx f;
    unsigned char junk[3000];
    size_t i;

    fx_start(&f);
    for (i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)((i * 131 + 7) % 251);
    for (i = 0; i < sizeof(junk); i++)
        if (junk[i] == 'V')
            junk[i] = 'v';
    memcpy(junk + 100, "VRM", 3); /* a false start */
    memcpy(junk + 500, "VRMFxx", 6);
    fx_send_raw(&f, junk, sizeof(junk));
    fx_hello(&f);
    fx_stop(&f);
}

static void
test_resync_huge_length(void)
{
    static const unsigned char bad[] = {'V',  'R',  'M',  'F',  0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    /* A frame whose lengths are fine but whose header is not JSON. */
    static const unsigned char notjson[] = {'V', 'R', 'M', 'F', 0,   0,   0,  3,
                                            0,   0,   0,   0,   '{', '{', '{'};
    struct fx f;

    fx_start(&f);
    fx_send_raw(&f, bad, sizeof(bad));
    fx_send_raw(&f, notjson, sizeof(notjson));
    fx_hello(&f);
    fx_module(&f, "print('still fine')\n");
    fx_send_raw(&f, bad, sizeof(bad));
    {
        struct result r;
        fx_run(&f, run_req(), &r);
        check_exited(&r, 0);
        TAP_CHECK_STR_EQ((char *)r.out, "still fine\n");
        result_free(&r);
    }
    fx_stop(&f);
}

static const struct tap_test tests[] = {
    TAP_TEST(test_handshake),
    TAP_TEST(test_handshake_bad_proto),
    TAP_TEST(test_requests_before_hello),
    TAP_TEST(test_hello_world),
    TAP_TEST(test_exit_status),
    TAP_TEST(test_traceback),
    TAP_TEST(test_arguments),
    TAP_TEST(test_stdin_file),
    TAP_TEST(test_stdin_closed),
    TAP_TEST(test_stdin_not_shipped),
    TAP_TEST(test_input_file_and_owner),
    TAP_TEST(test_run_as_root),
    TAP_TEST(test_multi_chunk_file),
    TAP_TEST(test_env),
    TAP_TEST(test_streaming),
    TAP_TEST(test_alive_while_running),
    TAP_TEST(test_output_cap),
    TAP_TEST(test_output_uncapped_large),
    TAP_TEST(test_binary_output),
    TAP_TEST(test_signaled),
    TAP_TEST(test_background_child_killed),
    TAP_TEST(test_import_completed),
    TAP_TEST(test_import_raised),
    TAP_TEST(test_import_exited),
    TAP_TEST(test_import_bad_module_name),
    TAP_TEST(test_bad_file_names),
    TAP_TEST(test_bad_run_requests),
    TAP_TEST(test_files_cap),
    TAP_TEST(test_python_missing),
    TAP_TEST(test_rlimits_applied),
    TAP_TEST(test_rlimit_fsize),
    TAP_TEST(test_rlimit_cpu),
    TAP_TEST(test_request_during_and_after_run),
    TAP_TEST(test_resync_garbage),
    TAP_TEST(test_resync_huge_length),
};

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
