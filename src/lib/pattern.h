/*
 * pattern.h: EventBridge event patterns, compiled into one matcher.
 *
 * A pattern_set holds any number of rules (event patterns). Every rule is
 * validated the way AWS validates it, with AWS's (event-ruler's) messages
 * word for word, and compiled into the set's shared indexes: the field
 * paths of all rules form one trie that the event scanner walks, exact
 * values of all rules sit in one hash table, and the rest are kept per
 * field. Matching an event therefore costs what the fields the rules name
 * cost, not what the number of rules costs. Rules can be added at any time
 * (pattern_set_add); nothing is rebuilt.
 *
 * Events are never fully parsed: pattern_set_match walks the event's bytes
 * once, validating all of it as strict JSON (RFC 8259, at most 256 levels
 * deep, as jq 1.6 allows), and looks closer only at the members whose paths
 * some rule names.
 *
 * The second part of this header is pj, a small strict JSON tree that keeps
 * every value's source text (numbers keep their spelling, strings are
 * decoded). The pattern compiler uses it; so can the programs that read rule
 * files and the conformance runner.
 *
 * Ownership: a pattern_set owns everything it compiled; the rule list
 * pattern_set_match hands back belongs to the set and is valid until the
 * next call on that set. A pattern_set is not safe for concurrent use (it
 * keeps per-event scratch space); use one per thread. A pj_doc owns all of
 * its nodes and strings; pj_free releases them together.
 */
#ifndef EVKIT_PATTERN_H
#define EVKIT_PATTERN_H

#include <stddef.h>

/* AWS's limit on the length of an event pattern, in characters. */
#define PATTERN_MAX_LEN_DEFAULT 2048

struct pattern_opts {
	int aws;          /* reject what AWS rejects: the regexp and shellstyle extensions */
	size_t max_len;   /* longest pattern accepted; 0 means PATTERN_MAX_LEN_DEFAULT */
};

struct pattern_set;

/* A new, empty set; opts may be NULL (extensions on, default limit). */
struct pattern_set *pattern_set_new(const struct pattern_opts *opts);
void pattern_set_free(struct pattern_set *s);

/*
 * Compile the pattern text PAT (LEN bytes) and add it as the next rule.
 * Returns the rule's index (0, 1, ...), or -1 when the pattern is invalid;
 * then err (when errlen > 0) holds AWS's message, "Event pattern is not
 * valid. Reason: ...", and the set is unchanged.
 */
int pattern_set_add(struct pattern_set *s, const char *pat, size_t len,
                    char *err, size_t errlen);

/* Validate without keeping anything: 0, or -1 with AWS's message in err. */
int pattern_check(const char *pat, size_t len, const struct pattern_opts *opts,
                  char *err, size_t errlen);

/* The number of rules in the set. */
int pattern_set_count(const struct pattern_set *s);

/* Results of pattern_set_match below zero. */
enum {
	PATTERN_BAD_JSON = -1,    /* the event is not valid JSON */
	PATTERN_NOT_OBJECT = -2,  /* valid JSON, but not an object */
};

/*
 * Match one event (LEN bytes of JSON text; no NUL needed). Returns the
 * number of rules that match, with their indexes in increasing order in
 * *rules (owned by the set, valid until its next call), or a negative
 * PATTERN_* code. For PATTERN_BAD_JSON, pattern_set_error_offset gives the
 * byte offset where the text stopped being JSON.
 */
int pattern_set_match(struct pattern_set *s, const char *ev, size_t len,
                      const int **rules);
size_t pattern_set_error_offset(const struct pattern_set *s);

/*
 * Validate LEN bytes as one JSON value with the scanner alone. Returns 0
 * when valid; otherwise -1 and, when off is not NULL, the byte offset of the
 * first error.
 */
int pattern_json_valid(const char *text, size_t len, size_t *off);

/* ---- pj: a strict JSON tree that keeps source text ---------------------- */

enum pj_type { PJ_NULL, PJ_FALSE, PJ_TRUE, PJ_NUM, PJ_STR, PJ_ARR, PJ_OBJ };

struct pj {
	enum pj_type type;
	const char *raw;      /* the value's text in the source, rawlen bytes */
	size_t rawlen;
	const char *str;      /* PJ_STR: the decoded string, NUL-terminated */
	size_t len;           /* its length in bytes (it may hold NULs) */
	size_t n;             /* PJ_ARR, PJ_OBJ: the number of members */
	struct pj *items;     /* the members, in source order */
	const char **keys;    /* PJ_OBJ: decoded keys, keys[i] names items[i] */
	size_t *keylens;
};

struct pj_doc;

/*
 * Parse TEXT (LEN bytes) as exactly one JSON value with optional blanks
 * around it. Returns the document, or NULL with a message naming the byte
 * column in err. The tree points into TEXT for raw spans, so TEXT must
 * outlive the document.
 */
struct pj_doc *pj_parse(const char *text, size_t len, char *err, size_t errlen);
const struct pj *pj_root(const struct pj_doc *d);
void pj_free(struct pj_doc *d);
/* The member of OBJ named KEY (the last one when the key repeats), or NULL;
 * NULL when OBJ is not an object. */
const struct pj *pj_get(const struct pj *obj, const char *key);

#endif
