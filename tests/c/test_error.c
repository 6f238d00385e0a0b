/* Status names, the per-thread error state and the version. */
#include <limits.h>

#include "testlib.h"

static void test_status_names(void)
{
    CHECK(strcmp(ns_status_name(NS_OK), "NS_OK") == 0);
    CHECK(strcmp(ns_status_name(NS_ERR_INVALID), "NS_ERR_INVALID") == 0);
    CHECK(strcmp(ns_status_name(NS_ERR_READ_TIMEOUT), "NS_ERR_READ_TIMEOUT") == 0);
    CHECK(strcmp(ns_status_name(NS_ERR_CERTIFICATE), "NS_ERR_CERTIFICATE") == 0);
    CHECK(strcmp(ns_status_name(NS_ERR_IO), "NS_ERR_IO") == 0);
    CHECK(strcmp(ns_status_name(NS_ERR_WRITE_TIMEOUT), "NS_ERR_WRITE_TIMEOUT") == 0);
    CHECK(strcmp(ns_status_name(-13), "NS_ERR_UNKNOWN") == 0);
    CHECK(strcmp(ns_status_name(5), "NS_ERR_UNKNOWN") == 0);
}

/* -INT_MIN overflows: the name must come from a comparison (UBSan sees it). */
static void test_status_name_of_extreme_values(void)
{
    CHECK_STR(ns_status_name(INT_MIN), "NS_ERR_UNKNOWN");
    CHECK_STR(ns_status_name(INT_MIN + 1), "NS_ERR_UNKNOWN");
    CHECK_STR(ns_status_name(INT_MAX), "NS_ERR_UNKNOWN");
    CHECK_EQ(NS_ERR_CONNECT_TIMEOUT, -5);
    CHECK_EQ(NS_ERR_CLOSED, -8);
}

/* Every row of NS_STATUS_MAP is an enumerator with its value and its name,
 * the rows run from 0 down without a gap, and a class's parent row comes
 * before it (the bindings make the classes in row order). */
static void test_status_map(void)
{
    int expect = 0;
#define ROW(name, value, cls, parent, doc)                                      \
    CHECK_EQ(name, value);                                                      \
    CHECK_EQ(value, expect);                                                    \
    CHECK(strcmp(ns_status_name(value), #name) == 0);                           \
    CHECK(strlen(#cls) > 0 && strlen(doc) > 0); /* a parent comes earlier: */ \
    CHECK((parent) <= 0 && (parent) >= (value));                                \
    expect--;
    NS_STATUS_MAP(ROW)
#undef ROW
    CHECK(strcmp(ns_status_name(expect), "NS_ERR_UNKNOWN") == 0);
}

static void test_version_matches_macros(void)
{
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", NS_VERSION_MAJOR, NS_VERSION_MINOR,
             NS_VERSION_PATCH);
    CHECK(strcmp(ns_version(), expect) == 0);
    CHECK_EQ(ns_version_number(),
             (NS_VERSION_MAJOR << 16) | (NS_VERSION_MINOR << 8) | NS_VERSION_PATCH);
}

static void *fail_in_thread(void *arg)
{
    ns_options_set_handshake(NULL, 1);
    return NULL;
}

static void test_error_state_is_per_thread_and_kept_on_success(void)
{
    ns_clear_error();
    ns_options *o = ns_options_new(NS_SOCKET_OPTIONS);
    CHECK_EQ(ns_options_set_handshake(o, 0), NS_ERR_INVALID);
    char saved[256];
    snprintf(saved, sizeof saved, "%s", ns_last_error());
    /* Success leaves the state alone. */
    CHECK_EQ(ns_options_set_read_timeout(o, 5), NS_OK);
    CHECK_EQ(ns_last_status(), NS_ERR_INVALID);
    CHECK(strcmp(saved, ns_last_error()) == 0);
    /* Another thread's failure does not touch ours. */
    pthread_join(spawn(fail_in_thread, NULL), NULL);
    CHECK(strcmp(saved, ns_last_error()) == 0);
    ns_clear_error();
    CHECK_EQ(ns_last_status(), NS_OK);
    CHECK_EQ(ns_last_os_error(), 0);
    CHECK(strcmp(ns_last_error(), "") == 0);
    ns_options_free(o);
}

static const ns_test tests[] = {
    TEST(test_status_names),
    TEST(test_status_name_of_extreme_values),
    TEST(test_status_map),
    TEST(test_version_matches_macros),
    TEST(test_error_state_is_per_thread_and_kept_on_success),
};
NS_TEST_MAIN(tests)
