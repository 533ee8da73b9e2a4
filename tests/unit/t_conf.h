/*
 * t_conf.h - unit-test helper: a configuration generation from JSON text
 * or a file, loaded and activated as the daemon would.
 *
 * Thread safety: tests are single-threaded; the error text is static.
 */
#ifndef GW_T_CONF_H
#define GW_T_CONF_H

#include "filter/conf/conf.h"

/*
 * t_conf_file - load and activate PATH.  NULL on failure, with *why_r
 * holding the loader's lines or the activation error.
 */
struct conf	*t_conf_file(const char *path, const char **why_r);
/* t_conf_json - write json to DIR/gw.json, then t_conf_file() it */
struct conf	*t_conf_json(const char *dir, const char *json,
		    const char **why_r);

#endif
