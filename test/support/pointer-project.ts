import { makeProject, type Project } from './project.js';

/**
 * A project whose template reads a secret through a pointer (issue 21, class 1): a file backend `local` holds
 * `pointer` (a reference such as `main:kv/app#pw`), and the template is `{{secret (secret "local:pointer")}}`.
 * `backend` is the block of the backend the pointer names.
 */
export function pointerProject(backend: string, pointer: string): Promise<Project> {
  return makeProject({
    config: `
backend "file" "local" {
  path = "@ROOT@/secrets.json"
}
${backend}
template {
  contents    = "{{secret (secret \\"local:pointer\\")}}"
  destination = "@OUT@/out"
}
`,
    secrets: { pointer },
  });
}
