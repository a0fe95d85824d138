#!/usr/bin/env bash
# One upgrade gated, as every pipeline in ci/ runs it (GitLab, Jenkins,
# GitHub Actions; docs/upgrade.md): on the lab DUTLAB_TESTBED names, whose
# ovsDpdk.builds hold both builds, the suites on the build in service, the
# upgrade under a steady stream (its downtime), the suites on the upgrade, the
# throughput search alternated between the two; one verdict. JUnit and the
# report in reports/ for the CI to keep; the gate in the results store.
#
#   DUTLAB_TESTBED  the lab's testbed file (its ovsDpdk.builds name both)  required
#   DUTLAB_FROM     the build in service                                 required
#   DUTLAB_TO       the upgrade                                          required
#   DUTLAB_PROFILE  how to build the setup                               default ovs-dpdk
#   DUTLAB_K        rounds of the alternation                            default the testbed's gate.k
#   DUTLAB_RESULTS  the results store (postgresql://user@host/db; the password in PGPASSWORD);
#                   default reports/history.jsonl
#
# Exit: dutlab gate's (0 pass, 1 the upgrade regressed or broke, 2 the lab's).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${DUTLAB_TESTBED:?the testbed file}" "${DUTLAB_FROM:?the build in service}" "${DUTLAB_TO:?the upgrade}"
extra=()
if [ -n "${DUTLAB_RESULTS:-}" ]; then extra+=(--results "$DUTLAB_RESULTS"); fi
if [ -n "${DUTLAB_K:-}" ]; then extra+=(--k "$DUTLAB_K"); fi
node bin/dutlab.js gate --quiet --testbed "$DUTLAB_TESTBED" --profile "${DUTLAB_PROFILE:-ovs-dpdk}" \
  --from "$DUTLAB_FROM" --to "$DUTLAB_TO" --reports reports "${extra[@]}"
