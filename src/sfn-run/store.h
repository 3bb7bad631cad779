/*
 * store.h: sfn-run's commands over the state file (store.c): create,
 * update, list, describe, delete, list-executions, describe-execution and
 * get-execution-history, and the recording of the executions `run`
 * starts. The library side is sfn_store.h.
 *
 * Ownership: struct run_record owns its strings, its state and its
 * recorder; run_record_finish releases them.
 */
#ifndef SFN_RUN_STORE_H
#define SFN_RUN_STORE_H

#include "asl.h"
#include "cli.h"
#include "sfn_store.h"

/* Option ids of the store commands, and run's --record. */
enum { OPT_RECORD = 0x200, SOPT_MAX, SOPT_REPLACE, SOPT_REVERSE, SOPT_ROLE_ARN, SOPT_STATUS,
       SOPT_TYPE };

extern const struct cli_opt store_create_opts[], store_update_opts[], store_list_exec_opts[],
                            store_history_opts[], store_no_opts[];

/* Completion: stored state machine names; for run, files and names. */
void store_complete_names(int operand, const char *state_path);
void store_complete_run(int operand, const char *state_path);

/* Run one of the store commands named by cmd->name; an exit status. */
int store_command(const struct cli_prog *p, const struct cli_cmd *cmd, int argc, char **argv);

/* What `run` records, and where. */
struct run_record {
	int on;                 /* --record, or a stored machine is run */
	int batch;              /* executions per transaction */
	const char *state_path; /* --state */
	char *sm_name, *role_arn;  /* the stored machine run, or NULL */
	int express;            /* it is an EXPRESS state machine */
	struct state *st;       /* opened by the process that runs executions */
	struct sfn_recorder *rec;
	int status;             /* the first recording failure's exit status */
};

/*
 * run's operand: a file when a file of that name exists or it holds a '/'
 * (a state machine's name cannot); else a stored machine's name or ARN,
 * whose definition is returned in *def (and recording turned on). Returns
 * 1 for a stored machine, 0 for a file (the caller reads it); exits 2 when
 * it is neither. When recording, checks the --name PREFIX and that the
 * state file can be used, and leaves it closed (run -j forks afterwards).
 */
int run_resolve(struct run_record *rr, const char *state_path, const char *operand,
                const char *name_prefix, long jobs, jv *def);
/* Before an execution starts: 1 (reported) when its ARN is already
 * recorded, or the state file cannot be read; the line is then not run. */
int run_record_exists(struct run_record *rr, const char *arn, const char *name, long lineno);
/* Record an execution that ended. INPUT is borrowed. Its history is taken
 * out of r unless KEEP_HISTORY (--history). EK_OK or a state error status. */
int run_record(struct run_record *rr, struct asl_result *r, const char *name, const char *arn,
               const char *sm_name, const char *sm_arn, jv input, int keep_history);
/* Input is about to block: write what is held. */
void run_record_idle(struct run_record *rr);
/* Write what is held, release everything; the first failure's status. */
int run_record_finish(struct run_record *rr);

#endif
