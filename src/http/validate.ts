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
 * taking those elements as already parsed by `element`. A list is the `key` of an object input,
 * or (no `key`) the input itself when it is an array.
 */
export interface PacedSchema<S extends z.ZodType> {
  readonly whole: S;
  readonly rest: z.ZodType<z.output<S>>;
  readonly lists: readonly PacedList[];
}

interface PacedList {
  readonly key?: string | undefined;
  readonly element: z.ZodType;
  readonly weight?: (value: unknown) => number;
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
  const budget = { left: PACED_SLICE };
  if (Array.isArray(input)) {
    const list = schema.lists.find(({ key }) => key === undefined);
    const elements = list === undefined ? undefined : await parseElements(list, input, budget);
    return parseInput(elements === undefined ? schema.whole : schema.rest, elements ?? input, prefix);
  }
  if (typeof input !== 'object' || input === null) return parseInput(schema.whole, input, prefix);
  const parsed: Record<string, unknown> = { ...input };
  for (const list of schema.lists) {
    if (list.key === undefined) continue;
    const values: unknown = parsed[list.key];
    if (!Array.isArray(values)) continue;
    const elements = await parseElements(list, values, budget);
    if (elements === undefined) return parseInput(schema.whole, input, prefix);
    parsed[list.key] = elements;
  }
  return parseInput(schema.rest, parsed, prefix);
}

/** The elements of `values` parsed by the list's schema, or undefined at the first invalid one. */
async function parseElements(list: PacedList, values: readonly unknown[], budget: { left: number }): Promise<unknown[] | undefined> {
  const elements: unknown[] = new Array(values.length);
  for (let index = 0; index < values.length; index++) {
    const result = list.element.safeParse(values[index]);
    if (!result.success) return undefined;
    elements[index] = result.data;
    budget.left -= list.weight?.(values[index]) ?? 1;
    if (budget.left <= 0) {
      await yieldToEventLoop();
      budget.left = PACED_SLICE;
    }
  }
  return elements;
}
