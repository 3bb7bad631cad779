/*
 * asl_int.h: the compiled form of a state machine, shared by the asl*.c
 * modules only (asl_load.c builds it, asl_exec.c and asl_choice.c run it).
 * Programs use asl.h.
 *
 * Ownership: everything hangs off the asl_machine and is freed by
 * asl_free; jv members are owned references (jv_invalid() when absent).
 */
#ifndef EVKIT_ASL_INT_H
#define EVKIT_ASL_INT_H

#include "asl.h"
#include "intrinsics.h"
#include "jsonpath.h"

enum asl_type {
	T_PASS, T_TASK, T_CHOICE, T_WAIT, T_SUCCEED, T_FAIL, T_PARALLEL, T_MAP
};

/* Where a path starts: the state's input ($), the context ($$) or a
 * variable ($name). */
enum apath_root { AP_INPUT, AP_CONTEXT, AP_VAR };

struct apath {
	char *text;          /* as written, for messages */
	enum apath_root root;
	char *var;           /* AP_VAR: the variable's name */
	jp_path *p;
};

/* A payload template (Parameters, ResultSelector, ItemSelector, Assign)
 * compiled once: subtrees without ".$" keys are kept as literals. */
enum tmpl_kind { TM_LITERAL, TM_OBJECT, TM_ARRAY, TM_PATH, TM_INTRINSIC };

struct tmpl {
	enum tmpl_kind kind;
	jv literal;              /* TM_LITERAL */
	jv *keys;                /* TM_OBJECT: output keys (".$" stripped) */
	struct tmpl *kids;       /* TM_OBJECT, TM_ARRAY */
	int n;
	char *field;             /* TM_PATH, TM_INTRINSIC: the key as written */
	char *text;              /* the expression as written */
	struct apath path;       /* TM_PATH */
	intr_expr *intr;         /* TM_INTRINSIC */
};

/* asl_tmpl.c. NULL for an absent template (jv_invalid). */
struct tmpl *asl_tmpl_compile(jv t);
void asl_tmpl_free(struct tmpl *t);
void *asl_path_handle(const char *text, char **err);
void asl_path_release(void *handle);

enum choice_op {
	C_AND, C_OR, C_NOT,
	C_STR_EQ, C_STR_LT, C_STR_GT, C_STR_LE, C_STR_GE, C_STR_MATCH,
	C_NUM_EQ, C_NUM_LT, C_NUM_GT, C_NUM_LE, C_NUM_GE,
	C_BOOL_EQ,
	C_TS_EQ, C_TS_LT, C_TS_GT, C_TS_LE, C_TS_GE,
	C_IS_NULL, C_IS_PRESENT, C_IS_NUMERIC, C_IS_STRING, C_IS_BOOLEAN,
	C_IS_TIMESTAMP,
};

struct choice_rule {
	enum choice_op op;
	int is_path;             /* the ...Path form: value is a path */
	struct apath var;
	jv value;
	struct apath value_path;
	struct choice_rule *subs;
	int nsubs;
	int next;                /* top-level rules: index of the Next state */
	jv assign;               /* top-level rules: Assign, or invalid */
	struct tmpl *t_assign;
};

struct retrier {
	char **errors;
	int nerrors;
	double interval, backoff, max_delay;
	int max_attempts;
	int jitter_full;
};

struct catcher {
	char **errors;
	int nerrors;
	int next;
	struct apath result_path;
	int has_result_path, result_path_null;
	jv assign;
	struct tmpl *t_assign;
};

struct asl_states;

struct asl_state {
	char *name;
	enum asl_type type;
	int next;                /* index, -1 with End */
	int end;

	struct apath input_path, output_path, result_path;
	int has_input_path, input_path_null;
	int has_output_path, output_path_null;
	int has_result_path, result_path_null;
	jv parameters, result_selector, result, assign;
	struct tmpl *t_parameters, *t_result_selector, *t_assign, *t_item_selector,
	            *t_batch_input, *t_reader_params, *t_writer_params;

	/* Choice */
	struct choice_rule *choices;
	int nchoices;
	int deflt;               /* -1: none */

	/* Wait */
	int has_seconds, has_timestamp;
	double seconds;
	char *timestamp;
	struct apath seconds_path, timestamp_path;
	int has_seconds_path, has_timestamp_path;

	/* Fail */
	jv error, cause;
	struct apath error_path, cause_path;
	int has_error_path, has_cause_path;   /* 2: an intrinsic call */
	intr_expr *error_intr, *cause_intr;

	/* Task */
	char *resource;
	double timeout_seconds, heartbeat_seconds;
	struct apath timeout_path, heartbeat_path;
	int has_timeout_path, has_heartbeat_path;

	/* Parallel and Map */
	struct asl_states *branches; /* Parallel: nbranches; Map: one */
	int nbranches;
	struct retrier *retry;
	int nretry;
	struct catcher *catch;
	int ncatch;

	/* Map */
	struct apath items_path;
	int has_items_path;
	jv items;                /* literal Items array, or invalid */
	jv item_selector;        /* ItemSelector or the older Parameters */
	int distributed;
	int max_concurrency;
	struct apath max_concurrency_path;
	int has_max_concurrency_path;
	double tolerated_count, tolerated_pct;
	int has_tolerated_count, has_tolerated_pct;
	struct apath tolerated_count_path, tolerated_pct_path;
	int has_tolerated_count_path, has_tolerated_pct_path;
	jv item_reader, item_batcher, result_writer;
	char *label;
};

struct asl_states {
	struct asl_state *v;
	int n;
	int start;
	double timeout_seconds;  /* top level only; 0: none */
};

struct asl_machine {
	jv def;
	struct asl_states top;
};

/* asl_load.c */
int asl_apath_compile(struct apath *ap, const char *text, char **err);
void asl_apath_clear(struct apath *ap);

/* asl_choice.c: evaluation needs a way to read paths; the executor passes
 * its resolver. Returns 1 (true), 0 (false) or -1 with *err set (a
 * States.Runtime error, e.g. a missing Variable). */
typedef int (*asl_resolve_fn)(void *ctx, const struct apath *ap, jv *out);
int asl_choice_eval(const struct choice_rule *r, asl_resolve_fn resolve,
                    void *ctx, char **err);
int asl_string_matches(const char *s, const char *pattern);

/* asl_reader.c: a Map's ItemReader over local files; PARAMS are its
 * evaluated Parameters. 0 with *items, or -1 with a message in *err. */
int asl_read_items(const char *root, jv reader, jv params, jv *items, char **err);
/* A distributed Map's ResultWriter: the child executions' records (arrays,
 * not consumed) into ROOT/Bucket/Prefix/RUN_ID/{SUCCEEDED,FAILED}_0.json
 * and manifest.json, as AWS writes them to S3. 0 with *details
 * ({"Bucket", "Key"} of the manifest), or -1 with a message in *err. */
int asl_write_results(const char *root, jv params, const char *map_run_arn, const char *run_id,
                      jv succeeded, jv failed, jv *details, char **err);

#endif
