#!/usr/bin/env bash
# One nightly of one label, as every pipeline in ci/ runs it (GitLab, Jenkins,
# GitHub Actions): a free lab of the label from the pool (its lease taken on
# the lab's DUT host, cleaned and checked; waiting for one up to
# DUTLAB_WAIT s), the profile's suites, judged against the last passing run
# of the same lab, profile and suites; then the trend page. JUnit and the
# report in reports/ for the CI to keep; the result in the results store.
#
#   DUTLAB_POOL     the pool file (testbeds and labels)                  required
#   DUTLAB_LABEL    which of its labs may run this job                    required
#   DUTLAB_PROFILE  how to build the setup (ovs-dpdk, virtual, ...)      required
#   DUTLAB_RESULTS  the results store (postgresql://user@host/db; the password in PGPASSWORD);
#                   default: the pool file's `results:`, else reports/history.jsonl
#   DUTLAB_WAIT     how long a job may wait for a lab, in seconds         default 3600
#
# Exit: dutlab run's (0 pass, 1 the DUT failed or regressed, 2 the lab's).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${DUTLAB_POOL:?the pool file}" "${DUTLAB_LABEL:?the label}" "${DUTLAB_PROFILE:?the profile}"
results=()
if [ -n "${DUTLAB_RESULTS:-}" ]; then results=(--results "$DUTLAB_RESULTS"); fi
node bin/dutlab.js run --quiet --pool "$DUTLAB_POOL" --label "$DUTLAB_LABEL" --profile "$DUTLAB_PROFILE" \
  --wait "${DUTLAB_WAIT:-3600}" --baseline last-pass --reports reports "${results[@]}"
status=$?
# The trend page of the store the run wrote to: every lab's nightlies, not only this runner's.
node bin/dutlab.js trend --reports reports --out reports/trend.html "${results[@]}" || echo "dutlab: the trend page could not be made" >&2
exit "$status"
