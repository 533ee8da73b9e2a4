/*
 * metrics_state.c - what /readyz and /config answer: is the filter ready,
 * and which configuration generation is live.  The exposition
 * (metrics_expo.c) and the HTTP listener (metrics_http.c) both ask here.
 *
 * Readiness asks the store (one read of a probe key) at most once a
 * second, so that a scraper cannot turn the probe into load on Redis.
 *
 * Thread safety: any thread; the probe's cache has its own lock.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "filter/conf/conf.h"
#include "filter/metrics/metrics_int.h"
#include "filter/util/clock.h"
#include "filter/util/xalloc.h"

#define METRICS_READY_CACHE_MS	1000

static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t ready_checked_ms;	/* protected by ready_lock */
static bool ready_store_ok = true;	/* protected by ready_lock */

/*
 * store_ready - can the store answer, or is it in a fallback that lets
 * mail through?  Only on_error=tempfail with Redis down refuses mail.
 */
static bool
store_ready(struct conf *c)
{
	enum store_status status;
	const char *err;
	int64_t now = clock_mono_ms(), v;
	bool found, ok;

	if (c->store_h == NULL || c->store.backend == STORE_MEMORY)
		return true;
	pthread_mutex_lock(&ready_lock);
	if (ready_checked_ms == 0 ||
	    now - ready_checked_ms >= METRICS_READY_CACHE_MS) {
		if (store_get(c->store_h, "readyz", clock_wall_ms(), &v, &found,
		    &status, &err) == 0)
			ready_store_ok = true;
		else
			ready_store_ok = store_on_error(c->store_h) !=
			    STORE_ONERR_TEMPFAIL;
		ready_checked_ms = clock_mono_ms();
	}
	ok = ready_store_ok;
	pthread_mutex_unlock(&ready_lock);
	return ok;
}

/* metrics_ready - is the filter ready?  *why_r says what is missing */
bool
metrics_ready(const char **why_r)
{
	struct conf *c = conf_current();
	bool ok = false;

	if (c == NULL || !c->active)
		*why_r = "no configuration loaded";
	else if (!atomic_load(&metrics_listening))
		*why_r = "milter socket not listening";
	else if (!store_ready(c))
		*why_r = "store unavailable (on_error=tempfail)";
	else {
		*why_r = "ready";
		ok = true;
	}
	conf_unref(&c);
	return ok;
}

/* metrics_config_json - the live generation, without secrets */
char *
metrics_config_json(void)
{
	struct conf *c = conf_current();
	json_t *o, *pols;
	char *s;
	size_t i;

	if (c == NULL)
		return xstrdup("{\"generation\":0}\n");
	pols = json_array();
	for (i = 0; i < c->npolicies; i++)
		json_array_append_new(pols,
		    json_string(c->policies[i].ops->name));
	o = json_pack("{s:I, s:s, s:s, s:o, s:s}",
	    "generation", (json_int_t)c->generation,
	    "checksum", c->checksum,
	    "path", c->path,
	    "policies", pols,
	    "store", c->store.backend == STORE_MEMORY ? "memory" : "redis");
	conf_unref(&c);
	s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return s;
}

