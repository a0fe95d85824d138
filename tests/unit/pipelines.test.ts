// The CI pipelines of ci/ parse, and each is what docs/ci.md says: a nightly
// per label through dutlab's pool, JUnit as the CI's report, the reports
// and the trend page kept. Their commands run against a virtual pool in the
// lab tier (tests/lab/pool.test.ts).
import { describe, expect, it } from 'vitest';
import { github, gitlab, jenkinsfile, pipelineCommands } from '../helpers/pipelines.js';

describe('the CI pipelines in ci/', () => {
  it('all three run the same two commands: the install, then ci/nightly.sh; and for a gate, the install, then ci/gate.sh', () => {
    for (const commands of Object.values(pipelineCommands())) expect(commands).toEqual(['npm ci --no-audit --no-fund', 'bash ci/nightly.sh']);
    for (const commands of Object.values(pipelineCommands('gate'))) expect(commands).toEqual(['npm ci --no-audit --no-fund', 'bash ci/gate.sh']);
    for (const commands of Object.values(pipelineCommands('soak'))) expect(commands).toEqual(['npm ci --no-audit --no-fund', 'bash ci/soak.sh']);
  });

  it('the weekly soak runs on its own schedule only, a job per label, and the nightly not on it', () => {
    const gl = gitlab();
    expect(gl.soak.rules.map((r: { if: string }) => r.if)).toEqual(['$CI_PIPELINE_SOURCE == "schedule" && $DUTLAB_JOB == "soak"']);
    expect(gl.nightly.rules[0].if).toBe('$CI_PIPELINE_SOURCE == "schedule" && $DUTLAB_JOB != "soak"');
    expect(gl.soak.parallel.matrix[0].DUTLAB_LABEL).toEqual(['x710', 'e810']);
    const gh = github();
    expect(gh.on.schedule.map((s: { cron: string }) => s.cron)).toEqual(['17 1 * * *', '23 2 * * 0']);
    expect(gh.jobs.soak.if).toContain("github.event.schedule == '23 2 * * 0'");
    expect(gh.jobs.nightly.if).toContain("github.event.schedule != '23 2 * * 0'");
    expect(jenkinsfile()).toMatch(/stage\('soak'\) \{\s*when \{ expression \{ return params\.DUTLAB_TO == '' && params\.DUTLAB_JOB == 'soak' \} \}/);
  });

  it('the gate job runs only when an upgrade is named, never on the schedule, and keeps JUnit and the reports whatever the verdict', () => {
    const gl = gitlab().gate;
    expect(gl.rules.map((r: { if: string }) => r.if)).toEqual([
      '$CI_PIPELINE_SOURCE == "web" && $DUTLAB_TO',
      '$CI_PIPELINE_SOURCE == "pipeline" && $DUTLAB_TO',
    ]);
    expect(gl.artifacts.reports.junit).toBe('reports/junit.xml');
    const gh = github();
    expect(gh.jobs.gate.if).toContain("inputs.to != ''");
    expect(gh.jobs.nightly.if).toContain("github.event_name == 'schedule'");
    expect(Object.keys(gh.on.workflow_dispatch.inputs)).toEqual(['testbed', 'from', 'to']);
    expect(jenkinsfile()).toMatch(/stage\('gate'\) \{\s*when \{ expression \{ return params\.DUTLAB_TO != '' \} \}/);
  });

  it('GitLab: a nightly per label with parallel:matrix, JUnit as its report, the reports (and the trend page) as artifacts, no resource_group', () => {
    const job = gitlab().nightly;
    expect(job.parallel.matrix[0].DUTLAB_LABEL).toEqual(['x710', 'e810']);
    expect(job.artifacts.reports.junit).toBe('reports/junit.xml');
    expect(job.artifacts.paths).toEqual(['reports/']);
    expect(job.artifacts.when).toBe('always');
    expect(job.resource_group).toBeUndefined();
  });

  it('GitHub Actions: self-hosted runners, a job per label, the reports uploaded and JUnit read whatever the verdict', () => {
    const job = github().jobs.nightly;
    expect(job['runs-on']).toContain('self-hosted');
    expect(job.strategy.matrix.label).toEqual(['x710', 'e810']);
    expect(job.env.DUTLAB_LABEL).toBe('${{ matrix.label }}');
    const uses = job.steps.filter((s: { uses?: string }) => s.uses).map((s: { uses: string; if?: string }) => [s.uses.split('@')[0], s.if ?? '']);
    expect(uses).toEqual([
      ['actions/checkout', ''],
      ['actions/upload-artifact', 'always()'],
      ['mikepenz/action-junit-report', 'always()'],
    ]);
  });

  it('Jenkins: a matrix per label, the junit step and the reports archived always', () => {
    const j = jenkinsfile();
    expect(j).toMatch(/axis \{ name 'DUTLAB_LABEL'; values 'x710', 'e810' \}/);
    expect(j).toMatch(/post \{\s*always \{\s*junit testResults: 'reports\/junit\.xml'/);
    expect(j).toMatch(/archiveArtifacts artifacts: 'reports\/\*\*'/);
    // Balanced braces: a Jenkinsfile cut or mis-edited does not load.
    expect([...j].filter((ch) => ch === '{').length).toBe([...j].filter((ch) => ch === '}').length);
  });
});
