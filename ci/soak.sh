#!/usr/bin/env bash
# One weekly soak of one label, as every pipeline in ci/ runs it (GitLab,
# Jenkins, GitHub Actions; docs/soak.md): a free lab of the label from the
# pool (as ci/nightly.sh takes one), then the soak suite: one steady stream
# for the testbed's soak.durationS (hours, in a weekly's testbed), its loss
# events and the daemons' memory growth judged. JUnit and the report in
# reports/ for the CI to keep; the run in the results store.
#
#   DUTLAB_POOL     the pool file (testbeds and labels)                  required
#   DUTLAB_LABEL    which of its labs may run this job                    required
#   DUTLAB_PROFILE  how to build the setup (ovs-dpdk, virtual, ...)      required
#   DUTLAB_RESULTS  the results store (postgresql://user@host/db; the password in PGPASSWORD);
#                   default: the pool file's `results:`, else reports/history.jsonl
#   DUTLAB_WAIT     how long a job may wait for a lab, in seconds         default 3600
#
# Exit: dutlab run's (0 pass, 1 the DUT lost frames or leaked, 2 the lab's).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${DUTLAB_POOL:?the pool file}" "${DUTLAB_LABEL:?the label}" "${DUTLAB_PROFILE:?the profile}"
results=()
if [ -n "${DUTLAB_RESULTS:-}" ]; then results=(--results "$DUTLAB_RESULTS"); fi
node bin/dutlab.js run --quiet --pool "$DUTLAB_POOL" --label "$DUTLAB_LABEL" --profile "$DUTLAB_PROFILE" \
  --suite soak --wait "${DUTLAB_WAIT:-3600}" --reports reports "${results[@]}"
