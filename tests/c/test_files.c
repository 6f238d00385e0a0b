/* The *_file setters (certs.c, ns_read_file): regular files only, checked
 * before reading, so a FIFO, a directory or a device never blocks or
 * loops; a refusal changes nothing. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgen.h"
#include "testlib.h"

typedef int (*file_setter)(ns_options *, const char *);

static const struct {
    const char *field;
    file_setter set;
} setters[] = {
    {"private-key", ns_options_set_private_key_file},
    {"certificates", ns_options_add_certificate_file},
    {"trusted-certificates", ns_options_add_trusted_certificate_file},
};

/* Opens the FIFO for writing after a while and closes it: a reader that
 * blocked in open() then returns (with nothing read), so the test ends
 * even where the setter blocks, and fails on the time it took. */
static void *unblock_fifo(void *arg)
{
    usleep(2000000);
    int fd = open(arg, O_WRONLY | O_NONBLOCK);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_a_fifo_is_refused_at_once(void)
{
    char dir[] = "/tmp/ns-files-XXXXXX", fifo[64], expect[160];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(fifo, sizeof fifo, "%s/key.pem", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    for (size_t i = 0; i < sizeof setters / sizeof setters[0]; i++) {
        pthread_t t = spawn(unblock_fifo, fifo);
        int64_t start = now_us();
        int rc = setters[i].set(o, fifo);
        int64_t took = now_us() - start;
        pthread_join(t, NULL);
        CHECK_EQ(rc, NS_ERR_INVALID);
        CHECK(took < SLACK(500000));
        snprintf(expect, sizeof expect, "%s: %s is not a regular file", setters[i].field, fifo);
        CHECK_STR(ns_last_error(), expect);
    }
    CHECK_EQ(ns_options_certificate_count(o), 0);
    ns_options_free(o);
    unlink(fifo);
    rmdir(dir);
}

static void test_directories_and_devices_are_refused(void)
{
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    const char *const paths[] = {"/tmp", "/dev/zero", "/dev/null"};
    char expect[160];
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        CHECK_EQ(ns_options_set_private_key_file(o, paths[i]), NS_ERR_INVALID);
        snprintf(expect, sizeof expect, "private-key: %s is not a regular file", paths[i]);
        CHECK_STR(ns_last_error(), expect);
    }
    ns_options_free(o);
}

static void test_a_regular_key_file_still_loads(void)
{
    test_cert *ca = certgen_ca("files CA");
    test_cert *leaf = certgen_leaf(ca, "localhost", "DNS:localhost", -1, 30);
    char dir[] = "/tmp/ns-files-XXXXXX", crt[64], key[64];
    CHECK(mkdtemp(dir) != NULL && certgen_write(leaf, dir, "leaf") == 0);
    snprintf(crt, sizeof crt, "%s/leaf.crt", dir);
    snprintf(key, sizeof key, "%s/leaf.key", dir);
    ns_options *o = ns_options_new(NS_SERVER_TLS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_add_certificate_file(o, crt), NS_OK);
    CHECK_EQ(ns_options_set_private_key_file(o, key), NS_OK);
    CHECK_EQ(ns_options_certificate_count(o), 1);
    ns_options_free(o);
    unlink(crt);
    unlink(key);
    rmdir(dir);
    certgen_free(leaf);
    certgen_free(ca);
}

static const ns_test tests[] = {
    TEST(test_a_fifo_is_refused_at_once),
    TEST(test_directories_and_devices_are_refused),
    TEST(test_a_regular_key_file_still_loads),
};
NS_TEST_MAIN(tests)
