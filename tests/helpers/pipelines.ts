// The CI pipelines of ci/ as the tests read them: parsed (the YAML ones) and
// their commands extracted, each in the order the pipeline runs them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const CI = new URL('../../ci/', import.meta.url).pathname;

export const gitlab = () => parse(readFileSync(join(CI, 'gitlab-ci.yml'), 'utf8')) as Record<string, any>;
export const github = () => parse(readFileSync(join(CI, 'github-actions.yml'), 'utf8')) as Record<string, any>;
export const jenkinsfile = () => readFileSync(join(CI, 'Jenkinsfile'), 'utf8');

/** Every shell command of each pipeline, in order: GitLab's scripts, GitHub's run steps, the Jenkinsfile's sh steps. */
export function pipelineCommands(): Record<'gitlab' | 'github' | 'jenkins', string[]> {
  const gl = gitlab();
  const gh = github();
  return {
    gitlab: Object.values(gl).flatMap((job) =>
      job && typeof job === 'object' && 'script' in job ? [...(job.before_script ?? []), ...job.script, ...(job.after_script ?? [])] : [],
    ),
    github: Object.values(gh.jobs as Record<string, { steps: Array<{ run?: string }> }>).flatMap((j) => j.steps.flatMap((s) => (s.run ? [s.run.trim()] : []))),
    jenkins: [...jenkinsfile().matchAll(/^\s*sh\s+'([^']*)'\s*$/gm)].map((m) => m[1]!),
  };
}
