// Stands in for zod's table of every locale (360 KiB of the bundle, a fifth of its start-up parse). zod applies
// English itself; secrets-sidecar writes its own messages and never selects another locale.
export { default as en } from '../../node_modules/zod/v4/locales/en.js';
