/*
 * sfn_store.h: sfn-run's state machines and recorded executions in the
 * state file (tables state_machines and executions, evkit-state(5)).
 *
 * A state machine is kept as AWS keeps one: its name, ARN, definition
 * (the text as given), type (STANDARD or EXPRESS), role ARN, creation and
 * update dates and a revision id that changes with every change. An
 * execution is recorded once, when it has ended, with its status, dates,
 * input and output (JSON texts), error, cause and history (the JSON text
 * of the GetExecutionHistory events array). Recording goes through a
 * recorder that writes a batch of executions in one BEGIN IMMEDIATE
 * transaction, never one transaction per event.
 *
 * Times are epoch milliseconds of the evkit clock (clock.h).
 *
 * Ownership: the structs own their strings (sfn_machine_free,
 * sfn_execution_free); the *_get functions fill the caller's struct; the
 * list callbacks borrow theirs for the call. The *_json functions return a
 * new jv. A recorder borrows its state and owns the rows it holds.
 */
#ifndef EVKIT_SFN_STORE_H
#define EVKIT_SFN_STORE_H

#include <jv.h>
#include <stdint.h>

#include "state.h"
#include "util.h"

/* AWS's rule for state machine and execution names: 1 to 80 characters,
 * none of them white space, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /
 * or a control character (U+0000-001F, U+007F-009F). WHAT names the kind
 * in the message ("state machine name"). 0 when valid, else -1 and why. */
int sfn_name_check(const char *name, const char *what, struct buf *why);

struct sfn_machine {
	char *name, *arn, *definition, *type, *role_arn, *revision_id;
	int64_t created_ms, updated_ms;
};
void sfn_machine_free(struct sfn_machine *m);

/* The role a state machine gets when none is given. A new string. */
char *sfn_default_role(void);

enum sfn_put { SFN_CREATE, SFN_REPLACE, SFN_UPDATE };
/*
 * Store m (name, definition, type and role_arn set by the caller).
 * SFN_CREATE: a new machine; one of that name with the same definition,
 * type and role is left as it is (CreateStateMachine is idempotent), any
 * other is an error (EK_USAGE, reported). SFN_REPLACE: create or
 * overwrite, keeping the creation date. SFN_UPDATE: the machine must exist
 * (EK_NO, not reported). On EK_OK the stored arn, revision_id and dates
 * are filled into m. Else a state error status.
 */
int sfn_machine_put(struct state *st, struct sfn_machine *m, enum sfn_put how);
/* By name or state machine ARN: EK_OK, EK_NO (not reported), or a state
 * error status. */
int sfn_machine_get(struct state *st, const char *name_or_arn, struct sfn_machine *out);
/* Delete the machine and its recorded executions, in one transaction:
 * EK_OK, EK_NO when there was none, or a state error status. */
int sfn_machine_delete(struct state *st, const char *name_or_arn);
/* each(m, arg) for every machine in name order; EK_OK or a state error. */
int sfn_machine_list(struct state *st, void (*each)(const struct sfn_machine *m, void *arg),
                     void *arg);
/* DescribeStateMachine's shape, and ListStateMachines' item. */
jv sfn_machine_json(const struct sfn_machine *m);
jv sfn_machine_item_json(const struct sfn_machine *m);

struct sfn_execution {
	char *arn, *name, *machine, *machine_arn, *status;
	int64_t start_ms, stop_ms;
	char *input;                 /* JSON text */
	char *output;                /* JSON text, NULL unless SUCCEEDED */
	char *error, *cause;         /* NULL when none */
	char *history;               /* JSON text of the events array, or NULL */
};
void sfn_execution_free(struct sfn_execution *e);

/* An execution's ARN from an ARN or "MACHINE:EXECUTION" (the part of the
 * ARN after "execution:", in this account and region). A new string, or
 * NULL when ARG is neither (an ARN of another service or resource type,
 * or not two names joined by one ':'). */
char *sfn_execution_arn(const char *arg);

/* 1 when an execution of that ARN is recorded, 0 when not, or -status on
 * a state error (reported). */
int sfn_execution_exists(struct state *st, const char *arn);
/* EK_OK, EK_NO (not reported) or a state error status. The history is
 * read only when WITH_HISTORY. */
int sfn_execution_get(struct state *st, const char *arn, int with_history,
                      struct sfn_execution *out);
/* each(e, arg) for the executions of MACHINE (a name; NULL: all) whose
 * status is STATUS (NULL: any), newest first, at most MAX (0: no limit).
 * Histories are not read. EK_OK or a state error status. */
int sfn_execution_list(struct state *st, const char *machine, const char *status, long max,
                       void (*each)(const struct sfn_execution *e, void *arg), void *arg);
/* DescribeExecution's shape, as `sfn-run run` prints it (input and
 * output as JSON values); ListExecutions' item. */
jv sfn_execution_json(const struct sfn_execution *e);
jv sfn_execution_item_json(const struct sfn_execution *e);

/*
 * The recorder: executions are held until BATCH of them are in hand, or
 * sfn_recorder_flush, then written in one transaction. An execution whose
 * ARN is already recorded is not overwritten (reported, and the flush
 * still writes the others).
 */
struct sfn_recorder;
struct sfn_recorder *sfn_recorder_new(struct state *st, int batch);
/* Takes e's strings (e is emptied). EK_OK, or the status of a flush that
 * failed (reported; the batch is dropped). */
int sfn_recorder_add(struct sfn_recorder *r, struct sfn_execution *e);
int sfn_recorder_flush(struct sfn_recorder *r);
/* Flush, then free; returns the flush's status. */
int sfn_recorder_close(struct sfn_recorder *r);

#endif
