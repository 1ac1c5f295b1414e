#!/bin/sh
# Waits for the Temporal cluster to be healthy, then makes sure NAMESPACE exists with RETENTION
# (how long closed runs' histories are kept). The temporalio/server image creates no namespace.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}"

attempt=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 60 ]; then
        echo "Temporal at $TEMPORAL_ADDRESS is not healthy after 2 minutes" >&2
        exit 1
    fi
    sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
    temporal operator namespace update --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
        --retention "$RETENTION"
    echo "namespace $NAMESPACE: retention $RETENTION"
else
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
        --retention "$RETENTION"
    # The frontends refresh their namespace cache every 10 s: a worker polling a namespace
    # created a moment ago would be told it does not exist.
    sleep 12
    echo "namespace $NAMESPACE created, retention $RETENTION"
fi
