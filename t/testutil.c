/* testutil - see testutil.h. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "strutil.h"
#include "testutil.h"

char *og_test_slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct og_buf b;
	char chunk[65536];
	size_t n;

	if (fp == NULL)
		return NULL;
	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, "", 0), 0);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		assert_int_equal(og_buf_append(&b, chunk, n), 0);
	fclose(fp);
	return b.data;
}

void og_test_write(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **og_test_list_dir(const char *dir, const char *suffix, size_t *n)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t sl = strlen(suffix);

	assert_non_null(dp);
	*n = 0;
	while ((de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		v = realloc(v, (*n + 1) * sizeof(*v));
		assert_non_null(v);
		v[*n] = og_strdup(de->d_name);
		assert_non_null(v[*n]);
		(*n)++;
	}
	closedir(dp);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), by_name);
	return v;
}

void og_test_free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void og_test_capture_start(struct og_test_capture *c, const char *dir)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "%s/stderr.txt", dir);
	fflush(stderr);
	c->saved = dup(2);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(c->saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

char *og_test_capture_end(struct og_test_capture *c)
{
	fflush(stderr);
	assert_int_equal(dup2(c->saved, 2), 2);
	close(c->saved);
	return og_test_slurp(c->path);
}

int og_test_mkdtemp(char *buf, size_t len, const char *name)
{
	mkdir("t", 0755);
	if ((size_t)snprintf(buf, len, "t/tmp-%s-XXXXXX", name) >= len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

int og_test_rmtree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	if (strchr(dir, '\'') != NULL || (size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}
