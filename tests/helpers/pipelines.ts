// The CI pipelines of ci/ as the tests read them: parsed (the YAML ones) and
// their commands extracted, each in the order the pipeline runs them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const CI = new URL('../../ci/', import.meta.url).pathname;

export const gitlab = () => parse(readFileSync(join(CI, 'gitlab-ci.yml'), 'utf8')) as Record<string, any>;
export const github = () => parse(readFileSync(join(CI, 'github-actions.yml'), 'utf8')) as Record<string, any>;
export const jenkinsfile = () => readFileSync(join(CI, 'Jenkinsfile'), 'utf8');

/** Every shell command of each pipeline's job, in order: GitLab's scripts, GitHub's run steps, the Jenkinsfile's sh steps. */
export function pipelineCommands(job: 'nightly' | 'soak' | 'gate' = 'nightly'): Record<'gitlab' | 'github' | 'jenkins', string[]> {
  const gl = gitlab()[job] as { before_script?: string[]; script: string[]; after_script?: string[] };
  const gh = github().jobs[job] as { steps: Array<{ run?: string }> };
  // The Jenkinsfile's stage of that name, up to the next of the three.
  const text = jenkinsfile();
  const from = text.indexOf(`stage('${job}')`);
  const next =
    ['nightly', 'soak', 'gate']
      .map((n) => text.indexOf(`stage('${n}')`))
      .filter((i) => i > from)
      .sort((a, b) => a - b)[0] ?? text.length;
  return {
    gitlab: [...(gl.before_script ?? []), ...gl.script, ...(gl.after_script ?? [])],
    github: gh.steps.flatMap((s) => (s.run ? [s.run.trim()] : [])),
    jenkins: [...text.slice(from, next).matchAll(/^\s*sh\s+'([^']*)'\s*$/gm)].map((m) => m[1]!),
  };
}
