#include "schema.h"

const char *const schema_migrations[] = {
	/* 1: fnctl's function registry (fn.c). argv and env are JSON text:
	 * an array of strings and an object of strings. */
	"CREATE TABLE functions ("
	"  name TEXT PRIMARY KEY,"
	"  argv TEXT NOT NULL,"
	"  env TEXT NOT NULL DEFAULT '{}',"
	"  timeout_ms INTEGER NOT NULL,"
	"  mode TEXT NOT NULL CHECK (mode IN ('spawn', 'stream')),"
	"  created TEXT NOT NULL,"
	"  modified TEXT NOT NULL"
	") STRICT;",

	/* 2: sqs-poll's queues, messages, FIFO deduplication and the worker
	 * registry (queue.c, registry.c). Times are epoch milliseconds of the
	 * evkit clock. A message is in flight while receipt IS NOT NULL and
	 * visible_ms is in the future; source is the queue a dead-lettered
	 * message came from (for redrive). */
	"CREATE TABLE queues ("
	"  name TEXT PRIMARY KEY,"
	"  fifo INTEGER NOT NULL DEFAULT 0,"
	"  content_dedup INTEGER NOT NULL DEFAULT 0,"
	"  visibility_ms INTEGER NOT NULL,"
	"  delay_ms INTEGER NOT NULL,"
	"  retention_ms INTEGER NOT NULL,"
	"  wait_ms INTEGER NOT NULL,"
	"  max_size INTEGER NOT NULL,"
	"  dlq TEXT,"
	"  max_receive INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  modified_ms INTEGER NOT NULL,"
	"  purged_ms INTEGER NOT NULL DEFAULT 0,"
	"  seq INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  queue TEXT NOT NULL,"
	"  message_id TEXT NOT NULL,"
	"  body BLOB NOT NULL,"
	"  md5 TEXT NOT NULL,"
	"  attrs TEXT,"
	"  md5_attrs TEXT,"
	"  sent_ms INTEGER NOT NULL,"
	"  visible_ms INTEGER NOT NULL,"
	"  receive_count INTEGER NOT NULL DEFAULT 0,"
	"  first_receive_ms INTEGER,"
	"  receipt TEXT,"
	"  group_id TEXT,"
	"  dedup_id TEXT,"
	"  seq TEXT,"
	"  source TEXT"
	") STRICT;"
	"CREATE INDEX messages_ready ON messages (queue, visible_ms, id);"
	"CREATE INDEX messages_group ON messages (queue, group_id, id) WHERE group_id IS NOT NULL;"
	"CREATE TABLE dedup ("
	"  queue TEXT NOT NULL,"
	"  dedup_id TEXT NOT NULL,"
	"  expires_ms INTEGER NOT NULL,"
	"  message_id TEXT NOT NULL,"
	"  seq TEXT,"
	"  PRIMARY KEY (queue, dedup_id)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE workers ("
	"  id TEXT PRIMARY KEY,"
	"  queue TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  host TEXT NOT NULL,"
	"  started_ms INTEGER NOT NULL,"
	"  last_seen_ms INTEGER NOT NULL,"
	"  draining INTEGER NOT NULL DEFAULT 0,"
	"  in_flight INTEGER NOT NULL DEFAULT 0,"
	"  handled INTEGER NOT NULL DEFAULT 0,"
	"  failed INTEGER NOT NULL DEFAULT 0"
	") STRICT;",

	/* 3: autoscale (scaler.c). A worker row with starting = 1 was made by
	 * the scaler for a process it started, before the process called
	 * home; its log is where the process writes. messages.holder names
	 * the worker that received a message, so that a dead worker's
	 * messages can be made visible again. One run of the scaler at a time
	 * holds a row of locks. queues.on_wake is the argv (JSON) run when a
	 * send takes the queue from empty to non-empty. */
	"ALTER TABLE workers ADD COLUMN starting INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE workers ADD COLUMN log TEXT;"
	"ALTER TABLE messages ADD COLUMN holder TEXT;"
	"ALTER TABLE queues ADD COLUMN on_wake TEXT;"
	"CREATE TABLE scale_history ("
	"  queue TEXT NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  load INTEGER NOT NULL,"
	"  desired INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX scale_history_queue ON scale_history (queue, at_ms);"
	"CREATE TABLE locks ("
	"  name TEXT PRIMARY KEY,"
	"  holder TEXT NOT NULL,"
	"  expires_ms INTEGER NOT NULL"
	") STRICT;",

	/* 4: sfn-run's state machines and the executions it recorded
	 * (sfn_store.c). Times are epoch milliseconds of the evkit clock.
	 * definition is the text as given; input and output are JSON texts,
	 * history the JSON text of the GetExecutionHistory events array.
	 * executions.machine is a name, not a foreign key: `run DEF --record`
	 * records executions of a machine that is not stored. */
	"CREATE TABLE state_machines ("
	"  name TEXT PRIMARY KEY,"
	"  arn TEXT NOT NULL,"
	"  definition TEXT NOT NULL,"
	"  type TEXT NOT NULL CHECK (type IN ('STANDARD', 'EXPRESS')),"
	"  role_arn TEXT NOT NULL,"
	"  revision_id TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE executions ("
	"  arn TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  machine TEXT NOT NULL,"
	"  machine_arn TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED')),"
	"  start_ms INTEGER NOT NULL,"
	"  stop_ms INTEGER,"
	"  input TEXT NOT NULL,"
	"  output TEXT,"
	"  error TEXT,"
	"  cause TEXT,"
	"  history TEXT"
	") STRICT;"
	"CREATE INDEX executions_machine ON executions (machine, start_ms);",
};

const int schema_count = (int)(sizeof schema_migrations / sizeof schema_migrations[0]);
