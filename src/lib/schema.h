/*
 * schema.h: the one schema of the state file, as forward migrations.
 * Migration i (0-based) takes the file from user_version i to i+1. Each
 * program owns its tables (named in the comment of its migration) and
 * reaches other programs' tables only through their library module.
 * Never edit a migration that has shipped: add a new one.
 */
#ifndef EVKIT_SCHEMA_H
#define EVKIT_SCHEMA_H

extern const char *const schema_migrations[];
extern const int schema_count;

#endif
