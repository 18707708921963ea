/* tests/unit/util/test_atomic_file.c: results files are written whole or not at all. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "util/atomic_file.h"
#include "util/diag.h"

static char dir[] = "/tmp/heaplab-af-XXXXXX";

static int entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_atomic_file_writes_whole_content(void)
{
    char path[256], buf[64] = { 0 };
    snprintf(path, sizeof(path), "%s/a.json", dir);
    struct diag d;
    REQUIRE(atomic_file_write(path, "{\"x\":1}\n", 8, &d) == 0);
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    CHECK(n == 8 && memcmp(buf, "{\"x\":1}\n", 8) == 0);
    CHECK(entries() == 1); /* no temporary file left */
    /* Overwrite replaces. */
    REQUIRE(atomic_file_write(path, "[]", 2, &d) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 2);
    unlink(path);
}

static void test_atomic_file_failure_leaves_nothing(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/no/such/dir/a.json", dir);
    struct diag d = { { 0 } };
    CHECK(atomic_file_write(path, "x", 1, &d) == -1);
    CHECK(strstr(d.msg, "No such file") != NULL);
    CHECK(entries() == 0);
    /* A target that is a directory: the rename fails, the temp file is removed. */
    snprintf(path, sizeof(path), "%s/sub", dir);
    REQUIRE(mkdir(path, 0755) == 0);
    char inside[300];
    snprintf(inside, sizeof(inside), "%s/f", path);
    FILE *f = fopen(inside, "w");
    REQUIRE(f);
    fclose(f);
    CHECK(atomic_file_write(path, "x", 1, &d) == -1);
    CHECK(entries() == 1); /* only sub/ */
    unlink(inside);
    rmdir(path);
}

static void test_atomic_file_writes_devices_in_place(void)
{
    struct diag d = { { 0 } };
    struct stat before, after;
    REQUIRE(stat("/dev/null", &before) == 0 && S_ISCHR(before.st_mode));
    CHECK(atomic_file_write("/dev/null", "x", 1, &d) == 0);
    /* Still the device: a rename over it would have made it a regular file. */
    CHECK(stat("/dev/null", &after) == 0 && S_ISCHR(after.st_mode));
    CHECK(atomic_file_write(dir, "x", 1, &d) == -1 && strstr(d.msg, "directory"));
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    RUN_TEST(test_atomic_file_writes_whole_content);
    RUN_TEST(test_atomic_file_failure_leaves_nothing);
    RUN_TEST(test_atomic_file_writes_devices_in_place);
    rmdir(dir);
    return check_report();
}
