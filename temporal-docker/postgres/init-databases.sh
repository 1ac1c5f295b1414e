#!/bin/sh
# Roles and databases of the bundled PostgreSQL: `temporal` owns Temporal's two databases,
# `flowpilot` owns Flowpilot's. The postgres image runs this once, when the data volume is
# first created: changing a password in .env later means changing it here too, with
#   docker compose exec postgresql psql -U postgres -c "ALTER ROLE flowpilot PASSWORD '...'"
set -eu

psql --no-psqlrc --set=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=temporal_password="$TEMPORAL_DB_PASSWORD" \
    --set=flowpilot_password="$FLOWPILOT_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

CREATE ROLE flowpilot LOGIN PASSWORD :'flowpilot_password';
CREATE DATABASE flowpilot OWNER flowpilot;

-- Each role reaches its own databases only.
REVOKE ALL ON DATABASE temporal, temporal_visibility, flowpilot FROM PUBLIC;
SQL
