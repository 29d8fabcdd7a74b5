import { constants } from 'node:os';
import { z } from 'zod';
import { LOG_FORMATS, LOG_LEVELS } from '../log/logger.js';
import { backendsSchema } from './backend-blocks.js';
import { DURATION_BOUNDS } from './duration.js';
import { duration, httpUrl } from './schema-fragments.js';

// A config is validated once per start or reload: zod's default compiles a fast path for each object schema
// with new Function(), which costs more than the one validation it speeds up.
z.config({ jitless: true });

/*
 * The config schema, written against the shape both HCL and JSON configs share: a labelled block
 * `backend "file" "local" {}` is `{backend: {file: {local: {…}}}}` and an unlabelled block is a list item.
 * Every object is strict, so a misspelt key is an error rather than a silently ignored option.
 */

/** A block that may appear once: HCL gives a one-item list, JSON may give the object itself. */
function singleBlock<T extends z.ZodType>(schema: T, name: string) {
  return z.preprocess((value, ctx) => {
    if (!Array.isArray(value)) return value;
    if (value.length === 1) return value[0] as unknown;
    ctx.addIssue({ code: 'custom', message: `block "${name}" may appear only once`, input: value, path: [1] });
    return z.NEVER;
  }, schema);
}

/** A block that may repeat: JSON may give a single object where HCL always gives a list. */
function repeatedBlock<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? [value] : value), z.array(schema));
}

const perms = z.union([z.string(), z.number()]).transform((value, ctx) => {
  if (typeof value === 'number' || !/^0?[0-7]{3}$/.test(value)) {
    ctx.addIssue({ code: 'custom', message: `perms must be an octal string such as "0600", not ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return parseInt(value, 8);
});

const SIGNAL_NAMES = Object.keys(constants.signals).filter((name) => !['SIGKILL', 'SIGSTOP'].includes(name));
const signalName = z.string().refine((name) => SIGNAL_NAMES.includes(name), { message: 'expected a signal name such as "SIGHUP" or "SIGUSR1"' });

const owner = z.union([z.number().int().min(0), z.string().min(1)], { error: 'expected a numeric id or a name' });

const waitSchema = z.strictObject({ min: duration(DURATION_BOUNDS.wait).optional(), max: duration(DURATION_BOUNDS.wait).optional() });

const retrySchema = z.strictObject({
  attempts: z.number().int().min(0).optional(),
  backoff: duration(DURATION_BOUNDS.backoff).optional(),
  max_backoff: duration(DURATION_BOUNDS.maxBackoff).optional(),
});

const httpHookSchema = z.strictObject({
  url: httpUrl(/^https?$/, 'expected an http:// or https:// URL'),
  method: z.enum(['GET', 'POST', 'PUT']).optional(),
  timeout: duration(DURATION_BOUNDS.httpTimeout).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

/** Kubernetes object names: a namespace is a DNS label, a workload's name a DNS subdomain (no paths, no templates). */
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a Kubernetes namespace name (lower-case letters, digits and "-", at most 63)');
const dnsSubdomain = z
  .string()
  .max(253, 'a Kubernetes name is at most 253 characters')
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'expected a Kubernetes object name (lower-case letters, digits, "-" and ".")');

const rolloutSchema = z.strictObject({
  kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet']),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  kubeconfig: z.string().min(1).optional(),
  timeout: duration(DURATION_BOUNDS.httpTimeout).optional(),
});

/** One way to tell an application that its files changed; exactly one of the five kinds per block. */
const notifySchema = z.strictObject({
  pid_file: z.string().min(1).optional(),
  process: z.string().min(1).optional(),
  signal: signalName.optional(),
  http: singleBlock(httpHookSchema, 'http').optional(),
  rollout: singleBlock(rolloutSchema, 'rollout').optional(),
  command: z.array(z.string()).min(1).optional(),
  timeout: duration(DURATION_BOUNDS.commandTimeout).optional(),
});

const envNamePattern = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'expected a variable name, or a prefix ending in "*"');

const execSchema = z.strictObject({
  command: z.array(z.string()).min(1),
  reload_signal: signalName.optional(),
  kill_signal: signalName.optional(),
  kill_timeout: duration(DURATION_BOUNDS.killTimeout).optional(),
  splay: duration(DURATION_BOUNDS.splay).optional(),
  restart: z.enum(['never', 'on-failure']).optional(),
  env: singleBlock(
    z.strictObject({
      pristine: z.boolean().optional(),
      allow: z.array(envNamePattern).optional(),
      deny: z.array(envNamePattern).optional(),
    }),
    'env',
  ).optional(),
});

const envTemplateSchema = z.strictObject({
  source: z.string().min(1).optional(),
  contents: z.string().optional(),
  error_on_missing_key: z.boolean().optional(),
});

const templateSchema = z.strictObject({
  source: z.string().min(1).optional(),
  contents: z.string().optional(),
  destination: z.string().min(1),
  perms: perms.optional(),
  user: owner.optional(),
  group: owner.optional(),
  create_dest_dirs: z.boolean().optional(),
  error_on_missing_key: z.boolean().optional(),
  // A render is held in memory whole: a cap past 64 MiB caps nothing.
  max_size: z
    .number()
    .int()
    .positive()
    .max(64 * 1024 * 1024, 'max_size is at most 67108864 (64 MiB)')
    .optional(),
  allow_non_tmpfs: z.boolean().optional(),
  wait: singleBlock(waitSchema, 'wait').optional(),
  notify: z.array(z.string().min(1)).optional(),
});

const listenerSchema = z.strictObject({
  address: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, such as "127.0.0.1:9102" or "[::1]:9102"'),
  readiness_grace: duration(DURATION_BOUNDS.readinessGrace).optional(),
  refresh_token_file: z.string().min(1).optional(),
  refresh_token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a variable name')
    .optional(),
});

const auditSchema = z.strictObject({
  path: z.string().min(1).optional(),
  stdout: z.boolean().optional(),
});

export const configSchema = z.strictObject({
  log_level: z.enum(LOG_LEVELS as [string, ...string[]]).optional(),
  log_format: z.enum(LOG_FORMATS as [string, ...string[]]).optional(),
  env_allow: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'an env_allow entry is a variable name, or a prefix ending in "*"')).optional(),
  retry: singleBlock(retrySchema, 'retry').optional(),
  wait: singleBlock(waitSchema, 'wait').optional(),
  pid_file: z.string().min(1).optional(),
  strict: z.boolean().optional(),
  listener: singleBlock(listenerSchema, 'listener').optional(),
  audit: singleBlock(auditSchema, 'audit').optional(),
  backend: backendsSchema.optional(),
  notify: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a notify name may use letters, digits, "_", "." and "-" only'), notifySchema).optional(),
  exec: singleBlock(execSchema, 'exec').optional(),
  env_template: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an env_template name is an environment variable name'), envTemplateSchema).optional(),
  template: repeatedBlock(templateSchema).optional(),
});

export type RawConfig = z.output<typeof configSchema>;
export type RawTemplate = z.output<typeof templateSchema>;
export type RawWait = z.output<typeof waitSchema>;
export type RawNotify = z.output<typeof notifySchema>;
export type RawExec = z.output<typeof execSchema>;
export type RawEnvTemplate = z.output<typeof envTemplateSchema>;
