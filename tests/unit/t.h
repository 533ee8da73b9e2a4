/*
 * t.h - the unit-test harness: table-driven checks that count, and a
 * closing line "NAME: N passed, N failed".
 *
 *	T_CHECK(cond, "what")          one assertion, counted
 *	T_EQ_STR(got, want, "what")    string equality (NULL-safe)
 *	T_EQ_INT(got, want, "what")
 *	return t_done("name");          prints the line, exit status 1 on failure
 */
#ifndef GW_T_H
#define GW_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_CHECK(cond, ...) do {						\
	if (cond) {							\
		t_pass++;						\
	} else {							\
		t_fail++;						\
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#define T_EQ_STR(got, want, ...) do {					\
	const char *t_g_ = (got), *t_w_ = (want);			\
	int t_ok_ = (t_g_ == NULL && t_w_ == NULL) ||			\
	    (t_g_ != NULL && t_w_ != NULL && strcmp(t_g_, t_w_) == 0);	\
	T_CHECK(t_ok_, __VA_ARGS__);					\
	if (!t_ok_)							\
		fprintf(stderr, "    got  \"%s\"\n    want \"%s\"\n",	\
		    t_g_ ? t_g_ : "(null)", t_w_ ? t_w_ : "(null)");	\
} while (0)

#define T_EQ_INT(got, want, ...) do {					\
	long long t_g_ = (long long)(got), t_w_ = (long long)(want);	\
	T_CHECK(t_g_ == t_w_, __VA_ARGS__);				\
	if (t_g_ != t_w_)						\
		fprintf(stderr, "    got %lld want %lld\n", t_g_, t_w_); \
} while (0)

static inline int
t_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
	return t_fail == 0 && t_pass > 0 ? 0 : 1;
}

#endif
