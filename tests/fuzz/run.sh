#!/usr/bin/env bash
# Schemathesis against the native API's OpenAPI schema: no 5xx, no response the schema does not describe.
# `make fuzz` (FUZZ_EXAMPLES=100: over 4,000 cases) and `make fuzz-quick` in CI (10 a operation, a fixed seed).
# Runs on SQLite in a temporary folder, so it needs no database and touches no data of yours.
set -euo pipefail
cd "$(dirname "$0")/../.."
EXAMPLES=${FUZZ_EXAMPLES:-100}
PORT=${FUZZ_PORT:-8765}
VAR=$(mktemp -d)
export HERALD_VAR_DIR=$VAR HERALD_RATE_LIMIT_PER_MINUTE=0
unset DATABASE_URL CELERY_BROKER_URL REDIS_URL

.venv/bin/python manage.py migrate --noinput -v0
TOKEN=$(.venv/bin/python manage.py shell -c "
from orgs.services import org_create
from mailings.models import Mailing
from campaigns.models import Campaign
from recipients.models import Recipient
org, token = org_create(name='Fuzz')
mailing = Mailing.objects.create(org=org, name='M', subject='Hi {{ recipient.first_name }}', text='x')
Campaign.objects.create(org=org, key='order-completed', name='C', email_mailing=mailing)
Recipient.objects.create(org=org, email='ann@example.com', external_id='crm-1')
print(token)
" | tail -n 1)
LOG=${FUZZ_SERVER_LOG:-$VAR/server.log}
.venv/bin/python manage.py runserver "127.0.0.1:$PORT" --noreload >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$VAR"' EXIT

status=0
.venv/bin/schemathesis run "http://127.0.0.1:$PORT/api/schema/" \
    --header "Authorization: Bearer $TOKEN" \
    --max-examples "$EXAMPLES" \
    --include-path-regex "${FUZZ_PATHS:-^/api/v1/}" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
    --workers 1 --wait-for-schema 30 --no-color --generation-database none \
    ${FUZZ_SEED:+--seed "$FUZZ_SEED"} || status=$?
exit $status
