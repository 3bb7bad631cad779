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
};

const int schema_count = (int)(sizeof schema_migrations / sizeof schema_migrations[0]);
