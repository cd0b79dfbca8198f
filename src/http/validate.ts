import type { z } from 'zod';
import { yieldToEventLoop } from '../concurrency.js';
import { validationError } from './errors.js';

/** Parses `input` with `schema`, or throws a 400 naming each bad field under `prefix`. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix: string[] = []): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(result.error, prefix);
  return result.data;
}

/**
 * A schema whose long lists' elements can be checked apart from the rest: `rest` is `whole`
 * taking those elements as already parsed by `element`.
 */
export interface PacedSchema<S extends z.ZodType> {
  readonly whole: S;
  readonly rest: z.ZodType<z.output<S>>;
  readonly lists: readonly { readonly key: string; readonly element: z.ZodType; readonly weight?: (value: unknown) => number }[];
}

/** Elements (by weight) checked between two yields: a few milliseconds of work. */
const PACED_SLICE = 1_000;

/**
 * {@link parseInput} for a body too long to check at once on the HTTP thread: the lists'
 * elements a slice at a time, other requests served between slices, then the rest. Gives
 * what `whole` gives: with every element valid, `rest` runs the same checks on the same
 * values; at the first invalid one, `whole` itself is run on the input, so that a 400 names
 * every bad field exactly as the schema does (test/http/validate.test.ts).
 */
export async function parseInputPaced<S extends z.ZodType>(schema: PacedSchema<S>, input: unknown, prefix: string[] = []): Promise<z.infer<S>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return parseInput(schema.whole, input, prefix);
  const parsed: Record<string, unknown> = { ...input };
  let budget = PACED_SLICE;
  for (const list of schema.lists) {
    const values: unknown = parsed[list.key];
    if (!Array.isArray(values)) continue;
    const elements: unknown[] = new Array(values.length);
    for (let index = 0; index < values.length; index++) {
      const result = list.element.safeParse(values[index]);
      if (!result.success) return parseInput(schema.whole, input, prefix);
      elements[index] = result.data;
      budget -= list.weight?.(values[index]) ?? 1;
      if (budget <= 0) {
        await yieldToEventLoop();
        budget = PACED_SLICE;
      }
    }
    parsed[list.key] = elements;
  }
  return parseInput(schema.rest, parsed, prefix);
}
