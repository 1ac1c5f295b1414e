#!/bin/sh
# Temporal's schemas in PostgreSQL, created or upgraded to what this admin-tools image knows.
# Safe to run on every start: setup-schema leaves a database already past version 0.0 alone and
# update-schema applies only the versions it lacks. The two databases and their owner, the
# `temporal` role, come from postgres/init-databases.sh; SQL_PASSWORD comes from the compose file.
set -eu

export SQL_PLUGIN=postgres12 SQL_HOST=postgresql SQL_PORT=5432 SQL_USER=temporal
schemas=/etc/temporal/schema/postgresql/v12

upgrade() { # database, schema directory
    temporal-sql-tool --database "$1" setup-schema -v 0.0
    temporal-sql-tool --database "$1" update-schema -d "$schemas/$2/versioned"
}

upgrade temporal temporal
upgrade temporal_visibility visibility
echo "Temporal schemas are up to date"
