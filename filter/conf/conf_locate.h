/*
 * conf_locate.h - where in the JSON text a value lives.
 *
 * jansson keeps no positions for parsed values, so the configuration
 * loader scans the text once more with a minimal tokenizer and maps each
 * JSON pointer (RFC 6901: "/a/b~1c", "/list/3", "" for the root) to the
 * line and column of its key (object members) and of its value.  Lookups
 * only happen on error paths, so the map is a plain array.
 *
 * Lines and columns are 1-based; a column counts characters (UTF-8
 * continuation bytes do not count), as jansson does.  Invalid or truncated
 * text is not an error: the map then holds what was seen before the damage.
 *
 * Ownership: a locator owns its entries; conf_locate_free() releases them.
 * conf_locate_at() returns a string the caller frees.
 *
 * Thread safety: a built locator is read-only; separate locators are
 * independent.
 */
#ifndef GW_CONF_LOCATE_H
#define GW_CONF_LOCATE_H

#include <stdbool.h>
#include <stddef.h>

/* Nesting deeper than this is not mapped (jansson stops at 2048). */
#define CONF_LOCATE_MAX_DEPTH	2048

struct conf_locator;

/* conf_locate_build - scan buf (len bytes) and map every value in it. */
struct conf_locator *conf_locate_build(const char *buf, size_t len);
void	 conf_locate_free(struct conf_locator **lp);

/* Position of the value at ptr; false when the text has no such value. */
bool	 conf_locate_value(const struct conf_locator *l, const char *ptr,
	    int *line_r, int *col_r);
/* Position of the key of the member at ptr (the value's for array
 * elements and the root); false when unknown. */
bool	 conf_locate_key(const struct conf_locator *l, const char *ptr,
	    int *line_r, int *col_r);

/*
 * conf_locate_at - the pointer of the place a parser reached at byte
 * offset pos: the innermost open container, plus the member key or the
 * element index being parsed there.  "" for the top level.  Used for
 * syntax errors, with jansson's error position, which is just after the
 * token the parser stopped at: that token is left out unless with_last
 * (for a duplicate key, the key itself is the place).  Caller frees.
 */
char	*conf_locate_at(const char *buf, size_t len, size_t pos,
	    bool with_last);

/* conf_locate_escape - one RFC 6901 reference token: "~" -> "~0",
 * "/" -> "~1".  Caller frees. */
char	*conf_locate_escape(const char *key);

#endif
