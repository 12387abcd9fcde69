/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the host modules that need no VM: report, image header,
 * domain XML, accelerator choice. */
#include <string.h>

#include "../tap.h"
#include "accel.h"
#include "command.h"
#include "domain.h"
#include "image.h"
#include "reply.h"
#include "report.h"
#include "run.h"

static void
test_utf8_and_base64(void)
{
    TAP_CHECK(report_utf8_valid((const unsigned char *)"h\xc3\xa9llo\0x", 8));
    TAP_CHECK(!report_utf8_valid((const unsigned char *)"\xff", 1));
    TAP_CHECK(!report_utf8_valid((const unsigned char *)"\xc3", 1));         /* truncated */
    TAP_CHECK(!report_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3)); /* surrogate */
    TAP_CHECK(!report_utf8_valid((const unsigned char *)"\xc0\xaf", 2));     /* overlong */
    char *b = report_base64((const unsigned char *)"foobar", 6);
    TAP_CHECK_STR_EQ(b, "Zm9vYmFy");
    free(b);
    b = report_base64((const unsigned char *)"fo", 2);
    TAP_CHECK_STR_EQ(b, "Zm8=");
    free(b);
    b = report_base64((const unsigned char *)"f", 1);
    TAP_CHECK_STR_EQ(b, "Zg==");
    free(b);
}

/* What vmrun prints on the terminal of the guest's words carries no escape
 * sequence: C0 and C1 controls and invalid bytes come out as \xNN. */
static void
test_print_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    TAP_CHECK(f != NULL);
    report_print_text(f, "ok \xc3\xa9\tline\n\x1b[2J\x07\x7f\xc2\x9b"
                         "31m\xff"
                         " end");
    fclose(f);
    TAP_CHECK_STR_EQ(buf, "ok \xc3\xa9\tline\n\\x1b[2J\\x07\\x7f\\xc2\\x9b31m\\xff end");
    free(buf);
}

static void
test_report_bytes(void)
{
    json_t *o = json_object();
    char *text;

    TAP_CHECK_INT_EQ(report_set_bytes(o, "stdout", (const unsigned char *)"a\0b", 3), 0);
    TAP_CHECK_INT_EQ(json_string_length(json_object_get(o, "stdout")), 3);
    TAP_CHECK(json_object_get(o, "stdout_base64") == NULL);
    TAP_CHECK_INT_EQ(report_set_bytes(o, "stderr", (const unsigned char *)"x\xffy", 3), 0);
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(o, "stderr")), "x\xef\xbf\xbdy");
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(o, "stderr_base64")), "eP95");
    text = json_dumps(o, JSON_ENSURE_ASCII);
    TAP_CHECK(text != NULL);
    TAP_CHECK_STR_CONTAINS(text, "\\u0000");
    free(text);
    json_decref(o);
}

static void
test_exit_status(void)
{
    struct run_result r = {.status = RUN_EXITED, .exit_code = 3};

    TAP_CHECK_INT_EQ(report_exit_status(&r), 3);
    r.status = RUN_SIGNALED;
    r.signal = 9;
    TAP_CHECK_INT_EQ(report_exit_status(&r), 137);
    r.status = RUN_TIMEOUT;
    TAP_CHECK_INT_EQ(report_exit_status(&r), 124);
    r.status = RUN_DISK_LIMIT;
    TAP_CHECK_INT_EQ(report_exit_status(&r), 153);
    TAP_CHECK_STR_EQ(report_status_name(r.status), "disk_limit");
    r.status = RUN_ERROR;
    TAP_CHECK_INT_EQ(report_exit_status(&r), 125);
    r.interrupted = 2;
    TAP_CHECK_INT_EQ(report_exit_status(&r), 130);
}

static void
test_report_schema(void)
{
    struct vr_options o = {.image = "i", .module = "m.py", .timeout_s = 1, .output_limit = 10};
    struct vr_error err = {.kind = VR_ERR_INFRA, .message = "boom"};
    struct run_result r = {.status = RUN_ERROR, .exit_code = -1, .signal = -1, .error = &err};
    json_t *j;

    r.t = (struct run_timings){-1, -1, -1, -1, -1, -1, -1, -1};
    j = report_build(&o, &r);
    TAP_CHECK(j != NULL);
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "error");
    TAP_CHECK(json_is_null(json_object_get(j, "exit_code")));
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "boom");
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "kind")),
                     "infrastructure");
    TAP_CHECK_INT_EQ(json_integer_value(json_object_get(j, "exit_status")), 125);
    json_decref(j);
    /* a message quoting a non-UTF-8 path still gives an error member */
    err.message = "cannot open image '/x\xff.qcow2'";
    j = report_build(&o, &r);
    TAP_CHECK(json_is_object(json_object_get(j, "error")));
    TAP_CHECK(json_is_string(json_object_get(json_object_get(j, "error"), "message_base64")));
    TAP_CHECK_STR_CONTAINS(
        json_string_value(json_object_get(json_object_get(j, "error"), "message")), "\xef\xbf\xbd");
    TAP_CHECK(json_is_object(json_object_get(j, "timings")));
    TAP_CHECK(json_is_object(json_object_get(j, "image")));
    /* no VM process: confinement members are null, not made up */
    TAP_CHECK(json_is_null(json_object_get(json_object_get(j, "confinement"), "qemu")));
    TAP_CHECK(
        json_is_null(json_object_get(json_object_get(j, "confinement"), "memory_limit_bytes")));
    json_decref(j);
    r.confinement = (struct run_confinement){
        .qemu = {.valid = 1,
                 .uid = 788529153,
                 .gid = 788529153,
                 .caps_none = 1,
                 .no_new_privs = 1,
                 .seccomp_mode = 2,
                 .own_mount_ns = 1},
        .cpu_quota_us = 100000,
        .cpu_period_us = 100000,
        .memory_limit_bytes = 1ULL << 30,
        .disk_limit_bytes = 2ULL << 30,
    };
    j = report_build(&o, &r);
    json_t *cn = json_object_get(j, "confinement");
    TAP_CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(cn, "qemu"), "uid")),
                     788529153);
    TAP_CHECK(json_is_true(json_object_get(json_object_get(cn, "qemu"), "seccomp")));
    TAP_CHECK_INT_EQ(json_integer_value(json_object_get(cn, "disk_limit_bytes")), 2LL << 30);
    TAP_CHECK_INT_EQ(json_integer_value(json_object_get(cn, "cpu_quota_us")), 100000);
    json_decref(j);
}

static void
header(unsigned char *b, unsigned version, uint64_t backing, uint64_t incompat)
{
    memset(b, 0, IMAGE_HEADER_READ);
    memcpy(b, "QFI\xfb", 4);
    b[7] = (unsigned char)version;
    for (int i = 0; i < 8; i++)
        b[8 + i] = (unsigned char)(backing >> (56 - 8 * i));
    b[23] = 16;   /* cluster_bits */
    b[28] = 0x40; /* size = 1 GiB */
    for (int i = 0; i < 8; i++)
        b[72 + i] = (unsigned char)(incompat >> (56 - 8 * i));
}

static void
test_qcow2_header(void)
{
    unsigned char b[IMAGE_HEADER_READ];
    struct image_info info;
    const char *why = NULL;

    header(b, 3, 0, 0);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, sizeof(b), &info, &why), 0);
    TAP_CHECK_INT_EQ(info.has_backing, 0);
    TAP_CHECK_INT_EQ(info.virtual_size, 1ULL << 30);
    header(b, 3, 0x200, 0);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, sizeof(b), &info, &why), 0);
    TAP_CHECK_INT_EQ(info.has_backing, 1);
    header(b, 3, 0, 4);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, sizeof(b), &info, &why), 0);
    TAP_CHECK_INT_EQ(info.has_data_file, 1);
    header(b, 3, 0, 2);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, sizeof(b), &info, &why), -1);
    TAP_CHECK_STR_CONTAINS(why, "corrupt");
    header(b, 4, 0, 0);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, sizeof(b), &info, &why), -1);
    header(b, 3, 0, 0);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, 80, &info, &why), -1); /* truncated v3 */
    header(b, 2, 0, 0);
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, 72, &info, &why), 0); /* v2 is 72 bytes */
    b[0] = 'X';
    TAP_CHECK_INT_EQ(image_parse_qcow2(b, sizeof(b), &info, &why), -1);
}

static void
test_domain_xml(void)
{
    struct image_info base = {.path = "/img/a'b&<c>.qcow2", .format = IMAGE_QCOW2};
    struct domain_config c = {
        .name = "vmrun-1-abcd",
        .kernel = "/k",
        .initrd = "/i",
        .cmdline = "console=ttyS0",
        .overlay = "/run/o.qcow2",
        .base = &base,
        .channel_socket = "/run/s",
        .console_socket = "/run/c",
        .memory_mib = 256,
        .cpus = 2,
        .kvm = 0,
        .microvm = 1,
    };
    char *xml = domain_xml(&c);

    TAP_CHECK(xml != NULL);
    TAP_CHECK_STR_CONTAINS(xml, "<domain type='qemu'>");
    TAP_CHECK_STR_CONTAINS(xml, "machine='microvm'");
    TAP_CHECK_STR_CONTAINS(xml, "/img/a&apos;b&amp;&lt;c&gt;.qcow2");
    TAP_CHECK_STR_CONTAINS(xml, "<source mode='connect' path='/run/s'/>");
    TAP_CHECK_STR_CONTAINS(xml, "name='org.vmrun.agent.0'");
    TAP_CHECK_STR_CONTAINS(xml, "<format type='qcow2'/>");
    TAP_CHECK_STR_CONTAINS(xml, "<memory unit='MiB'>256</memory>");
    /* no network device of any kind */
    TAP_CHECK(strstr(xml, "<interface") == NULL);
    TAP_CHECK(strstr(xml, "a'b") == NULL);
    /* host-side disk errors stop the VM instead of reaching the guest */
    TAP_CHECK_STR_CONTAINS(xml, "error_policy='stop' rerror_policy='stop'");
    TAP_CHECK(strstr(xml, "<cputune>") == NULL);
    TAP_CHECK(strstr(xml, "<memballoon model='none'/>") != NULL);
    TAP_CHECK(strstr(xml, "<seclabel") == NULL);
    free(xml);
    c.cpu_quota_us = 2 * DOMAIN_CPU_PERIOD_US;
    c.qemu_uid = 788529159;
    c.qemu_gid = 788529159;
    xml = domain_xml(&c);
    TAP_CHECK_STR_CONTAINS(xml, "<global_period>100000</global_period>");
    TAP_CHECK_STR_CONTAINS(xml, "<global_quota>200000</global_quota>");
    TAP_CHECK_STR_CONTAINS(xml, "<seclabel type='static' model='dac' relabel='no'>");
    TAP_CHECK_STR_CONTAINS(xml, "<label>+788529159:+788529159</label>");
    free(xml);
    c.kvm = 1;
    xml = domain_xml(&c);
    TAP_CHECK_STR_CONTAINS(xml, "<domain type='kvm'>");
    free(xml);
}

static void
test_accel_decision(void)
{
    const char *why = NULL;

    TAP_CHECK_INT_EQ(accel_kvm_usable("flags\t: fpu vme svm sse\n", 1, 0, &why), 1);
    TAP_CHECK_INT_EQ(accel_kvm_usable("flags\t: fpu vmx\n", 1, 0, &why), 1);
    TAP_CHECK_INT_EQ(accel_kvm_usable("flags\t: fpu vmxx sse\n", 1, 0, &why), 0);
    TAP_CHECK_INT_EQ(accel_kvm_usable("flags\t: fpu vmx\n", 0, 0, &why), 0);
    TAP_CHECK_INT_EQ(accel_kvm_usable("flags\t: fpu vmx\n", 1, 1, &why), 0);
    TAP_CHECK_STR_CONTAINS(why, "kvm_pvm");
    TAP_CHECK_INT_EQ(accel_parse_cpu_mhz("model\t: x\ncpu MHz\t\t: 2096.024\n"), 2096024);
    TAP_CHECK_INT_EQ(accel_parse_cpu_mhz("model\t: x\n"), 0);
    TAP_CHECK_INT_EQ(accel_parse_cpu_mhz("cpu MHz : 1e9\n"), 0);
}

static int
exit_ok(const char *json, int import_mode, struct reply_exit *e)
{
    json_t *h = json_loads(json, 0, NULL);
    const char *why = NULL;
    int r;

    TAP_CHECK_MSG(h != NULL, "bad test JSON %s", json);
    r = reply_parse_exit(h, import_mode, e, &why);
    json_decref(h);
    return r;
}

static void
test_reply_exit(void)
{
    struct reply_exit e;

    TAP_CHECK_INT_EQ(
        exit_ok("{\"status\":\"exited\",\"exit_code\":3,\"cpu_ms\":5,\"maxrss_kb\":9}", 0, &e), 0);
    TAP_CHECK_INT_EQ(e.status, RUN_EXITED);
    TAP_CHECK_INT_EQ(e.exit_code, 3);
    TAP_CHECK_INT_EQ(e.have_usage, 1);
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"signaled\",\"signal\":9}", 0, &e), 0);
    TAP_CHECK_INT_EQ(e.signal, 9);
    TAP_CHECK_INT_EQ(e.have_usage, 0);
    /* out of range or wrong types: the whole message is rejected */
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"exited\",\"exit_code\":256}", 0, &e), -1);
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"exited\",\"exit_code\":\"0\"}", 0, &e), -1);
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"signaled\",\"signal\":0}", 0, &e), -1);
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"won\"}", 0, &e), -1);
    /* import mode needs a known outcome */
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"exited\",\"exit_code\":0}", 1, &e), -1);
    TAP_CHECK_INT_EQ(exit_ok("{\"status\":\"exited\",\"exit_code\":1,\"import\":{\"outcome\":"
                             "\"raised\",\"exception\":\"KeyError\",\"traceback\":\"tb\"}}",
                             1, &e),
                     0);
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(e.import_info, "exception")), "KeyError");
    reply_exit_clear(&e);
    TAP_CHECK_INT_EQ(
        exit_ok("{\"status\":\"exited\",\"exit_code\":1,\"import\":{\"outcome\":\"pwned\"}}", 1,
                &e),
        -1);
}

static void
test_command_capture(void)
{
    const char *echo[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    const char *flood[] = {"sh", "-c", "yes | head -c 200000", NULL};
    struct vr_error *e = NULL;
    char *out = NULL, *err = NULL;
    size_t len = 0;
    int status = -1, cut = -1;

    TAP_CHECK_INT_EQ(command_capture(echo, 100, &out, &len, &err, &status, NULL, &e), 0);
    TAP_CHECK_STR_EQ(out, "out\n");
    TAP_CHECK_STR_EQ(err, "err\n");
    TAP_CHECK_INT_EQ(status, 3);
    free(out);
    free(err);
    /* too much output: an error without truncation... */
    TAP_CHECK_INT_EQ(command_capture(flood, 1000, &out, &len, &err, &status, NULL, &e), -1);
    TAP_CHECK(e != NULL && e->errnum == EFBIG);
    vr_error_free(e);
    e = NULL;
    /* ...and the first bytes, the child killed, with it */
    TAP_CHECK_INT_EQ(command_capture(flood, 1000, &out, &len, &err, &status, &cut, &e), 0);
    TAP_CHECK_INT_EQ(cut, 1);
    TAP_CHECK_INT_EQ(len, 1000);
    TAP_CHECK(strncmp(out, "y\ny\n", 4) == 0);
    free(out);
    free(err);
}

static const struct tap_test tests[] = {
    TAP_TEST(test_command_capture), TAP_TEST(test_reply_exit),   TAP_TEST(test_utf8_and_base64),
    TAP_TEST(test_report_bytes),    TAP_TEST(test_print_text),   TAP_TEST(test_exit_status),
    TAP_TEST(test_report_schema),   TAP_TEST(test_qcow2_header), TAP_TEST(test_domain_xml),
    TAP_TEST(test_accel_decision),
};

int
main(int argc, char **argv)
{
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
