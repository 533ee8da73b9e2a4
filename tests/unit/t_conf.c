/*
 * t_conf.c - see t_conf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/t_conf.h"

static char t_conf_why[8192];

/* t_conf_file - load and activate a configuration file */
struct conf *
t_conf_file(const char *path, const char **why_r)
{
	char *errs = NULL;
	const char *err;
	struct conf *c;
	size_t len;
	FILE *mem;
	int n = 0;

	*why_r = "";
	mem = open_memstream(&errs, &len);
	c = conf_load(path, mem, &n);
	fclose(mem);
	snprintf(t_conf_why, sizeof(t_conf_why), "%s", errs ? errs : "");
	free(errs);
	if (c == NULL) {
		*why_r = t_conf_why;
		return NULL;
	}
	if (conf_activate(c, &err) != 0) {
		snprintf(t_conf_why, sizeof(t_conf_why), "activate: %s", err);
		conf_unref(&c);
		*why_r = t_conf_why;
		return NULL;
	}
	return c;
}

/* t_conf_json - the same for JSON text, written to dir/gw.json */
struct conf *
t_conf_json(const char *dir, const char *json, const char **why_r)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/gw.json", dir);
	if ((f = fopen(path, "w")) == NULL) {
		*why_r = "cannot write gw.json";
		return NULL;
	}
	fputs(json, f);
	fclose(f);
	return t_conf_file(path, why_r);
}
