#!/usr/bin/env bash
# Schemathesis against every operation of Herald's OpenAPI schema, the native API and the vendor dialects:
# no 5xx, no response the schema does not describe. `make fuzz` (FUZZ_EXAMPLES=100) and `make fuzz-quick` in
# CI (10 a operation, a fixed seed). FUZZ_PATHS (a regex) narrows it to some paths, e.g. '^/api/v1/'.
# Runs on SQLite in a temporary folder, so it needs no database and touches no data of yours.
set -euo pipefail
cd "$(dirname "$0")/../.."
EXAMPLES=${FUZZ_EXAMPLES:-100}
# A free port unless one is given: on a fixed one, a server already there (a `make run`) would answer in
# Herald's place, and every authenticated operation would fail.
PORT=${FUZZ_PORT:-$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
VAR=$(mktemp -d)
# Limits off: the fuzzer sends bad tokens on purpose, and thousands of requests a minute.
export HERALD_VAR_DIR=$VAR HERALD_RATE_LIMIT_PER_MINUTE=0 HERALD_AUTH_FAILURES_PER_MINUTE=0
# Half the requests carry a value no schema names (issue #17): a lone surrogate, NUL, a line break, deep
# nesting, extreme dates, huge integers (tests/fuzz/hooks.py). FUZZ_HOOKS= fuzzes without them.
export SCHEMATHESIS_HOOKS=${FUZZ_HOOKS-tests/fuzz/hooks.py}
unset DATABASE_URL CELERY_BROKER_URL REDIS_URL

.venv/bin/python manage.py migrate --noinput -v0
# The org is org 2 and holds what the vendors' documented examples name (the schema shows them, and
# schemathesis sends them first), so those reach the dialects' real logic: Message Central's mailing 1 and
# recipients 13, 20 and 22; trigger launch's campaigns 84 and 96, its link, its example token and profiles;
# parcelLab's WarehouseNotification (email and SMS); Marketing Cloud's definition by GUID and by key.
# The token has the default scopes, not `providers`: a provider the fuzzer managed to create would send the
# org's mail to that ESP's real URL, off this machine. The providers endpoints get their 403 here, and their
# hostile input from tests/core/test_hostile_sweep.py, with a token of every scope.
TOKEN=$(.venv/bin/python manage.py shell -c "
import uuid
from campaigns.models import Campaign
from mailings.models import Channel, Mailing
from orgs.models import ApiToken, Org, hash_token
from orgs.services import token_create
from recipients.models import Recipient
org = Org.objects.create(id=2, name='Fuzz')
_, token = token_create(org=org, name='fuzz')
vendor_secret = 'abcdefghijklmnqrstuvwxyz'
ApiToken.objects.create(
    org=org, name='vendor example', scopes=ApiToken.ALL_SCOPES, prefix=vendor_secret[:12],
    hashed=hash_token(vendor_secret),
)
mailing = Mailing.objects.create(org=org, name='M', subject='Hi {{ recipient.first_name }}', text='x')
sms = Mailing.objects.create(org=org, name='S', channel=Channel.SMS, text='Hi {{ context.name }}')
Campaign.objects.create(id=1, org=org, key='order-completed', name='C', email_mailing=mailing)
Campaign.objects.create(
    id=84, org=org, key='new-videos', name='V', email_mailing=mailing,
    link_id='465ea6fedf0a75fa9ee0b5fb8f9d5fe89af34054909af8bb',
)
Campaign.objects.create(id=96, org=org, key='digest', name='D', email_mailing=mailing)
Campaign.objects.create(
    org=org, key='WarehouseNotification', name='W', email_mailing=mailing, sms_mailing=sms
)
Campaign.objects.create(
    org=org, key='external_key', name='E', email_mailing=mailing,
    object_id=uuid.UUID('dfa5ab87-1b0f-e211-b71b-9c8e9920e9fc'),
)
Campaign.objects.create(org=org, key='cust_key', name='K', email_mailing=mailing)
Recipient.objects.create(org=org, email='ann@example.com', external_id='crm-1')
for pk in (13, 20, 22):
    Recipient.objects.create(id=pk, org=org, email=f'r{pk}@example.com', first_name='R')
Recipient.objects.create(
    org=org, email='ada@example.com', phone='+4915100000001', external_id=vendor_secret,
    attributes={'Custom_ID': 'IpHicQquekzYkufl'},
)
Recipient.objects.create(org=org, email='bo@example.com', external_id='6606e08f10bcdd88297057a7')
print(token)
" | tail -n 1)
# Each security scheme of the schema, as its operations authenticate: Marketing Cloud fetches its access
# token from POST /v2/token.
cat >"$VAR/schemathesis.toml" <<EOF
[auth.openapi.ApiToken]
bearer = "$TOKEN"

[auth.openapi.ApiTokenBasic]
username = "fuzz"
password = "$TOKEN"

[auth.openapi.ParcelLabUser]
api_key = "2"

[auth.openapi.ParcelLabToken]
api_key = "$TOKEN"

[auth.dynamic.openapi.MarketingCloudToken]
path = "/v2/token"
payload = { grant_type = "client_credentials", client_id = "2", client_secret = "$TOKEN" }
extract_selector = "/access_token"
EOF
LOG=${FUZZ_SERVER_LOG:-$VAR/server.log}
# Herald whole, as `make run` starts it: without a worker the triggers it accepts would wait, and the health
# check would rightly answer 503 once they were older than the lease.
.venv/bin/python manage.py supervise --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$VAR"' EXIT

status=0
.venv/bin/schemathesis --config-file "$VAR/schemathesis.toml" run "http://127.0.0.1:$PORT/api/schema/" \
    --max-examples "$EXAMPLES" \
    ${FUZZ_PATHS:+--include-path-regex "$FUZZ_PATHS"} \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
    --workers 1 --wait-for-schema 30 --no-color --generation-database none \
    ${FUZZ_SEED:+--seed "$FUZZ_SEED"} || status=$?
exit $status
