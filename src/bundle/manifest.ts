/**
 * The bundle manifest: what a collection holds and what was verified at collection time. One zod
 * schema, versioned; `manifest.json` is its RFC 8785 canonical JSON, so its SHA-256 (which the
 * first custody entry and manifest.sig/manifest.tsr cover) is well defined. Pure.
 */
import { z } from 'zod';
import { CustodyError, ErrorCodes } from '../errors.js';
import { canonicalBytes, decodeCanonical } from '../records/canonical.js';
import { formatIssues, sha256HexSchema, timestampSchema } from '../records/schema.js';

export const MANIFEST_VERSION = 1 as const;

/** Files a bundle has beside its content, which the manifest cannot list (they are made from it or grow after it). */
export const BUNDLE_META_FILES = ['manifest.json', 'manifest.sig', 'manifest.tsr', 'SHA256SUMS', 'hashdeep.txt', 'custody.jsonl'] as const;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const bundlePath = z
  .string()
  .min(1)
  .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\\\u0000-\u001f]+$/, 'must be a relative path inside the bundle, without . or .. parts, backslashes or control characters');

const keyRef = z.strictObject({
  fingerprint: z.string().startsWith('SHA256:'),
  public_key: base64,
});

const findingSummary = z.strictObject({
  code: z.string(),
  severity: z.enum(['error', 'warning']),
  message: z.string(),
});

export const manifestSchema = z.strictObject({
  type: z.literal('custody.bundle-manifest'),
  version: z.literal(MANIFEST_VERSION),
  case: z.strictObject({
    id: z.string().min(1),
    examiner: z.string().optional(),
    note: z.string().optional(),
  }),
  collector: z.strictObject({
    version: z.string(),
    code_sha256: sha256HexSchema,
    host: z.string(),
    started_at: timestampSchema,
    sealed_at: timestampSchema,
    /** The key that signs manifest.sig, the witness notes and the first custody entries. */
    key: keyRef,
  }),
  hosts: z.array(
    z.strictObject({
      host: z.string().min(1),
      store_id: z.string(),
      origin: z.string(),
      /** How the evidence got here: a running agent's store, this collector's triage, or imported files. */
      source: z.enum(['agent-store', 'triage', 'import', 'vault']),
      /** Folder of this store's snapshot in the bundle, e.g. `evidence/web-01/<store_id>`. */
      path: bundlePath,
      enrollment: keyRef,
      /** What `verify` found when the collector verified the snapshot. */
      verified: z.strictObject({
        ok: z.boolean(),
        records: z.number().int().nonnegative(),
        sealed: z
          .strictObject({
            checkpoint_id: z.number().int().nonnegative(),
            tree_size: z.number().int().nonnegative(),
            time: z.string(),
            trusted_time: z.string().optional(),
          })
          .optional(),
        unsealed: z.strictObject({ from_seq: z.number().int(), to_seq: z.number().int(), count: z.number().int() }).optional(),
        findings: z.array(findingSummary),
      }),
      /**
       * The collector as a witness: it signs the head (size and root of all records it copied,
       * sealed or not) in a signed note, so the unsealed tail is pinned from collection on.
       */
      witness: z.strictObject({
        tree_size: z.number().int().nonnegative(),
        root_hash: base64,
        note: z.string(),
      }),
      /**
       * A store read from the evidence vault (source 'vault'): where, and exactly which object
       * versions the snapshot was built from (each under a legal hold for the case).
       */
      vault: z
        .strictObject({
          url: z.string(),
          prefix: z.string(),
          objects: z.array(z.strictObject({ key: z.string(), version_id: z.string() })),
          newest_checkpoint: z.strictObject({ checkpoint_id: z.number().int().nonnegative(), tree_size: z.number().int().nonnegative(), received_at: z.string().optional() }).optional(),
          /** Set when the newest checkpoint is older than the host's own policy allows: the host is down or cut off. */
          behind_policy: z.string().optional(),
        })
        .optional(),
      /**
       * A time window (`collect --vault --since/--until`): the snapshot holds records first_seq..
       * end_seq-1 only (whole vault segments around the window), with the Merkle frontier of the
       * records before first_seq (src/verify/store-window.ts). Each end is proven by the signed
       * checkpoint named (none at first_seq 0); `vault_tree_size` is the vault's newest checkpoint, so
       * records end_seq..vault_tree_size-1 are in the vault and were not collected.
       */
      window: z
        .strictObject({
          since: z.string().optional(),
          until: z.string().optional(),
          first_seq: z.number().int().nonnegative(),
          end_seq: z.number().int().nonnegative(),
          start_checkpoint: z.strictObject({ checkpoint_id: z.number().int().nonnegative(), tree_size: z.number().int().nonnegative() }).optional(),
          end_checkpoint: z.strictObject({ checkpoint_id: z.number().int().nonnegative(), tree_size: z.number().int().nonnegative() }).optional(),
          vault_tree_size: z.number().int().nonnegative(),
        })
        .optional(),
      /** Clock comparison, stated and never applied: the host's last record time against the collector's clock. */
      clock: z.strictObject({
        collector_time: timestampSchema,
        last_observed_at: z.string().optional(),
        estimated_skew_ms: z.number().int().optional(),
        basis: z.string(),
      }),
    }),
  ),
  /** Every content file of the bundle (everything but BUNDLE_META_FILES), sorted by path. */
  files: z.array(z.strictObject({ path: bundlePath, size: z.number().int().nonnegative(), sha256: sha256HexSchema })),
  /**
   * The TSA manifest.tsr comes from. Declared here so that a removed manifest.tsr is named by verify;
   * `gen_time` is optional because the token over manifest.json cannot be inside it (its time is in
   * the token).
   */
  tsa: z.strictObject({ url: z.string(), gen_time: z.string().optional() }).optional(),
});

export type BundleManifest = z.infer<typeof manifestSchema>;

/** The bytes of manifest.json: canonical JSON, so the hash everything signs is unambiguous. */
export function manifestBytes(manifest: BundleManifest): Uint8Array {
  const parsed = manifestSchema.safeParse(manifest);
  if (!parsed.success) {
    throw new CustodyError(ErrorCodes.MANIFEST_INVALID, `invalid manifest: ${formatIssues(parsed.error.issues).join('; ')}`);
  }
  const files = parsed.data.files.map((f) => f.path);
  if (files.some((p, i) => i > 0 && p <= files[i - 1]!)) {
    throw new CustodyError(ErrorCodes.MANIFEST_INVALID, 'invalid manifest: files must be sorted by path and unique');
  }
  return canonicalBytes(parsed.data);
}

/** Reads manifest.json strictly: canonical bytes and the schema, every problem named. */
export function parseManifest(bytes: Uint8Array, where = 'manifest.json'): BundleManifest {
  let value: unknown;
  try {
    value = decodeCanonical(bytes);
  } catch (err) {
    throw new CustodyError(ErrorCodes.MANIFEST_INVALID, `manifest is not canonical JSON: ${(err as Error).message}`, { where });
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    throw new CustodyError(ErrorCodes.MANIFEST_INVALID, `manifest does not match the schema: ${formatIssues(parsed.error.issues).join('; ')}`, { where });
  }
  return parsed.data;
}
