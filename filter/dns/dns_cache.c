/*
 * dns_cache.c - the resolver's answer cache, read in the calling thread.
 *
 * WHY a cache in front of libunbound's own: libunbound caches every answer,
 * but its cache is reached only through its worker thread.  A lookup that
 * libunbound answers from its cache still goes caller -> libunbound's
 * worker -> our dispatch thread (ub_process) -> caller: three thread
 * hand-offs, two pipe writes and a condition variable per lookup, about
 * 50 us of CPU on this kind of machine.  SPF asks up to a dozen names per
 * message, almost all of them cached, so the hand-offs cost more than the
 * evaluation.  This cache keeps what the back-end returned, with its TTL,
 * and answers a hit in the calling thread under one shard lock; a miss
 * goes to the back-end as before, with the per-lookup timeout and the
 * message's budget.
 *
 * What is kept: answers (for their TTL, at most DNS_CACHE_MAX_TTL) and
 * negative answers, NXDOMAIN and NODATA (for the TTL the back-end took
 * from the zone's SOA, RFC 2308, at most DNS_CACHE_MAX_NEG_TTL).  A result
 * with TTL 0 (a negative answer without SOA, a record with TTL 0, the test
 * seam unless told otherwise) and every temporary failure are not kept.
 * The bounds are libunbound's own defaults (cache-max-ttl,
 * cache-max-negative-ttl), so the cache never keeps an answer longer than
 * libunbound would have.
 *
 * Layout: DNS_CACHE_SHARDS shards by hash, each a bucket array with
 * chained entries and a list in insertion order; an entry is one
 * allocation (key, records and their data).  A full shard drops the
 * expired among its oldest entries, then its oldest one.  Names come from mail (senders,
 * HELO), so they are hashed with SipHash-2-4 (libsodium's
 * crypto_shorthash, as the memory store) under a key drawn per cache.
 *
 * Thread safety: each shard is protected by its own lock; the hash key
 * and the sizes are immutable after dns_cache_create().
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "filter/util/arena.h"
#include "filter/util/log.h"
#include "filter/dns/dns.h"
#include "filter/dns/dns_int.h"
#include "filter/util/xalloc.h"

#define DNS_CACHE_SHARDS  16
#define DNS_CACHE_BUCKETS 512 /* per shard, a power of two */
#define DNS_CACHE_PROBE	  8   /* oldest entries checked for expiry */

struct dns_cache_ent {
	struct dns_cache_ent *chain; /* bucket chain */
	struct dns_cache_ent *older; /* insertion order */
	struct dns_cache_ent *newer;
	uint64_t hash;
	int64_t expire_ms;
	int rrtype;
	enum dns_status status;
	bool secure;
	size_t nrr;
	size_t datalen;	     /* all rdata, back to back */
	struct dns_rr *rr;   /* inside this allocation */
	unsigned char *data; /* inside this allocation */
	char key[];	     /* name key, NUL-terminated */
};

struct dns_cache_shard {
	_Alignas(64) pthread_mutex_t lock;
	struct dns_cache_ent *bucket[DNS_CACHE_BUCKETS]; /* protected by lock */
	struct dns_cache_ent *oldest;			 /* protected by lock */
	struct dns_cache_ent *newest;			 /* protected by lock */
	size_t n;					 /* protected by lock */
};

struct dns_cache {
	size_t per_shard; /* immutable */
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct dns_cache_shard shard[DNS_CACHE_SHARDS];
};

/* cache_hash - SipHash-2-4 of the key and the record type */
static uint64_t
cache_hash(const struct dns_cache *c, const char *key, size_t klen, int rrtype)
{
	unsigned char in[DNS_NAME_MAX + 8], out[crypto_shorthash_BYTES];
	uint64_t h = 0;

	memcpy(in, key, klen);
	in[klen] = (unsigned char)(rrtype >> 8);
	in[klen + 1] = (unsigned char)rrtype;
	crypto_shorthash(out, in, klen + 2, c->hkey);
	for (int i = crypto_shorthash_BYTES - 1; i >= 0; i--)
		h = (h << 8) | out[i];
	return h;
}

/* cache_unlink - take e out of its bucket and of the age list, free it */
static void
cache_unlink(struct dns_cache_shard *s, struct dns_cache_ent *e)
{
	struct dns_cache_ent **pp =
	    &s->bucket[e->hash & (DNS_CACHE_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	s->n--;
	free(e);
}

/* cache_find - the entry for key/rrtype in s, or NULL */
static struct dns_cache_ent *
cache_find(struct dns_cache_shard *s, uint64_t h, const char *key, int rrtype)
{
	struct dns_cache_ent *e;

	for (e = s->bucket[h & (DNS_CACHE_BUCKETS - 1)]; e != NULL;
	     e = e->chain)
		if (e->hash == h && e->rrtype == rrtype &&
		    strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* dns_cache_create - an empty cache of at most max_entries (> 0) */
struct dns_cache *
dns_cache_create(size_t max_entries)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));

	if (sodium_init() < 0)
		panic("dns: libsodium cannot be initialised");
	randombytes_buf(c->hkey, sizeof(c->hkey));
	c->per_shard = (max_entries + DNS_CACHE_SHARDS - 1) / DNS_CACHE_SHARDS;
	if (c->per_shard == 0)
		c->per_shard = 1;
	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++)
		pthread_mutex_init(&c->shard[i].lock, NULL);
	return c;
}

/* dns_cache_destroy - free every entry and the cache; *cp becomes NULL */
void
dns_cache_destroy(struct dns_cache **cp)
{
	struct dns_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++) {
		struct dns_cache_ent *e, *next;

		for (e = c->shard[i].oldest; e != NULL; e = next) {
			next = e->newer;
			free(e);
		}
		pthread_mutex_destroy(&c->shard[i].lock);
	}
	free(c);
}

/*
 * dns_cache_get - a live entry for name/rrtype copied into a as *res_r
 * (ttl: the seconds left); false when there is none.  An expired entry
 * found on the way is dropped.
 */
bool
dns_cache_get(struct dns_cache *c, const char *name, int rrtype, int64_t now_ms,
    struct arena *a, struct dns_result *res_r)
{
	char key[DNS_NAME_MAX + 2];
	struct dns_cache_shard *s;
	struct dns_cache_ent *e;
	size_t klen;
	uint64_t h;
	bool hit = false;

	dns_name_key(name, key, sizeof(key));
	klen = strlen(key);
	h = cache_hash(c, key, klen, rrtype);
	s = &c->shard[(h >> 32) % DNS_CACHE_SHARDS];
	pthread_mutex_lock(&s->lock);
	if ((e = cache_find(s, h, key, rrtype)) != NULL) {
		if (e->expire_ms <= now_ms) {
			cache_unlink(s, e);
			goto out;
		}
		memset(res_r, 0, sizeof(*res_r));
		res_r->status = e->status;
		res_r->rrtype = rrtype;
		res_r->secure = e->secure;
		res_r->ttl = (uint32_t)((e->expire_ms - now_ms + 999) / 1000);
		if (e->nrr > 0) {
			unsigned char *d = arena_memdup(
			    a, e->data, e->datalen ? e->datalen : 1);

			res_r->nrr = e->nrr;
			res_r->rr = arena_alloc(a, e->nrr * sizeof(*res_r->rr));
			for (size_t i = 0; i < e->nrr; i++) {
				res_r->rr[i].data = d +
				    (e->rr[i].data - e->data);
				res_r->rr[i].len = e->rr[i].len;
			}
		}
		hit = true;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return hit;
}

/*
 * cache_make_room - below the bound: drop the expired among the
 * DNS_CACHE_PROBE oldest entries, then the oldest ones
 */
static void
cache_make_room(struct dns_cache *c, struct dns_cache_shard *s, int64_t now_ms)
{
	struct dns_cache_ent *e, *newer;
	int probe = 0;

	if (s->n < c->per_shard)
		return;
	for (e = s->oldest; e != NULL && probe < DNS_CACHE_PROBE;
	     e = newer, probe++) {
		newer = e->newer;
		if (e->expire_ms <= now_ms)
			cache_unlink(s, e);
	}
	while (s->n >= c->per_shard)
		cache_unlink(s, s->oldest);
}

/*
 * dns_cache_put - keep res for name/rrtype when it may be kept: an answer,
 * NXDOMAIN or NODATA with a TTL above 0 (bounded as libunbound bounds it).
 * A newer result replaces an older one.
 */
void
dns_cache_put(struct dns_cache *c, const char *name, int rrtype,
    const struct dns_result *res, int64_t now_ms)
{
	char key[DNS_NAME_MAX + 2];
	struct dns_cache_shard *s;
	struct dns_cache_ent *e, *old;
	size_t klen, datalen = 0, off = 0, size;
	uint32_t ttl = res->ttl;
	uint64_t h;

	switch (res->status) {
	case DNS_ANSWER:
		if (ttl > DNS_CACHE_MAX_TTL)
			ttl = DNS_CACHE_MAX_TTL;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		if (ttl > DNS_CACHE_MAX_NEG_TTL)
			ttl = DNS_CACHE_MAX_NEG_TTL;
		break;
	default: return;
	}
	if (ttl == 0)
		return;
	dns_name_key(name, key, sizeof(key));
	klen = strlen(key);
	for (size_t i = 0; i < res->nrr; i++)
		datalen += res->rr[i].len;
	size = sizeof(*e) + klen + 1;
	size = (size + _Alignof(struct dns_rr) - 1) &
	    ~(_Alignof(struct dns_rr) - 1);
	e = xcalloc(1, size + res->nrr * sizeof(struct dns_rr) + datalen);
	memcpy(e->key, key, klen + 1);
	e->rr = (struct dns_rr *)((char *)e + size);
	e->data = (unsigned char *)(e->rr + res->nrr);
	e->nrr = res->nrr;
	e->datalen = datalen;
	for (size_t i = 0; i < res->nrr; i++) {
		if (res->rr[i].len > 0)
			memcpy(e->data + off, res->rr[i].data, res->rr[i].len);
		e->rr[i].data = e->data + off;
		e->rr[i].len = res->rr[i].len;
		off += res->rr[i].len;
	}
	e->rrtype = rrtype;
	e->status = res->status;
	e->secure = res->secure;
	e->expire_ms = now_ms + (int64_t)ttl * 1000;
	e->hash = h = cache_hash(c, key, klen, rrtype);

	s = &c->shard[(h >> 32) % DNS_CACHE_SHARDS];
	pthread_mutex_lock(&s->lock);
	if ((old = cache_find(s, h, key, rrtype)) != NULL)
		cache_unlink(s, old);
	cache_make_room(c, s, now_ms);
	e->chain = s->bucket[h & (DNS_CACHE_BUCKETS - 1)];
	s->bucket[h & (DNS_CACHE_BUCKETS - 1)] = e;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
	s->n++;
	pthread_mutex_unlock(&s->lock);
}

/* dns_cache_count - entries held now (expired ones not yet dropped too) */
size_t
dns_cache_count(struct dns_cache *c)
{
	size_t n = 0;

	for (size_t i = 0; i < DNS_CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shard[i].lock);
		n += c->shard[i].n;
		pthread_mutex_unlock(&c->shard[i].lock);
	}
	return n;
}
