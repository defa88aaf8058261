/** shareAcrossTabs's options, as a schema: each option's check and default (apart from tabs.ts, a package entry that exports the share only). */
import { nonEmptyString, struct } from '../schema.js'

export const shareAcrossTabsSchema = struct({ name: [nonEmptyString, 'resilient-fetch'] })
