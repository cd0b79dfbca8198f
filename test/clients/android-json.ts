/**
 * The parts of Android's `org.json` that AntennaPod's sync code relies on, with their
 * coercions: `optString` turns JSON null into "null" and numbers into text, `optInt` reads
 * numeric strings and truncates fractions, `getLong`/`getJSONArray`/`getString` throw
 * {@link JSONException} where Android's do (AntennaPod turns that into a failed sync).
 */

export class JSONException extends Error {
  override readonly name = 'JSONException';
}

export type JsonObject = Record<string, unknown>;

/** `new JSONObject(text)`: the text must be a JSON object. */
export function parseObject(text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JSONException(`Value ${text.slice(0, 80)} cannot be parsed: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new JSONException(`Value ${text.slice(0, 80)} cannot be converted to JSONObject`);
  return value as JsonObject;
}

/** `new JSONArray(text)`. */
export function parseArray(text: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JSONException(`Value ${text.slice(0, 80)} cannot be parsed: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw new JSONException(`Value ${text.slice(0, 80)} cannot be converted to JSONArray`);
  return value;
}

/** Android's `JSON.toString(value)`: strings as they are, anything else (JSON null too) as its text. */
function javaToString(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (value === null) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Java's `(int) double`: NaN is 0, fractions truncate toward zero, the int range clamps. */
function javaInt(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.max(-2147483648, Math.min(2147483647, Math.trunc(value)));
}

/** Java's `(long) double`, within JavaScript's safe range (enough for timestamps and cursors). */
function javaLong(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.trunc(value);
}

const JAVA_DOUBLE = /^[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)$/;

/** `Double.parseDouble(text)`, or undefined where Java throws. */
function parseJavaDouble(text: string): number | undefined {
  const trimmed = text.trim();
  if (!JAVA_DOUBLE.test(trimmed)) return undefined;
  return Number(trimmed.replace(/[fFdD]$/, ''));
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return parseJavaDouble(value);
  return undefined;
}

export function optString(object: JsonObject, name: string, fallback: string | null): string | null {
  return javaToString(Object.hasOwn(object, name) ? object[name] : undefined) ?? fallback;
}

export function optInt(object: JsonObject, name: string, fallback: number): number {
  const value = toNumber(Object.hasOwn(object, name) ? object[name] : undefined);
  return value === undefined ? fallback : javaInt(value);
}

export function getLong(object: JsonObject, name: string): number {
  if (!Object.hasOwn(object, name)) throw new JSONException(`No value for ${name}`);
  const value = toNumber(object[name]);
  if (value === undefined) throw new JSONException(`Value ${JSON.stringify(object[name])} at ${name} cannot be converted to long`);
  return javaLong(value);
}

export function getInt(object: JsonObject, name: string): number {
  if (!Object.hasOwn(object, name)) throw new JSONException(`No value for ${name}`);
  const value = toNumber(object[name]);
  if (value === undefined) throw new JSONException(`Value ${JSON.stringify(object[name])} at ${name} cannot be converted to int`);
  return javaInt(value);
}

export function getString(object: JsonObject, name: string): string {
  if (!Object.hasOwn(object, name)) throw new JSONException(`No value for ${name}`);
  return javaToString(object[name])!;
}

export function getJSONArray(object: JsonObject, name: string): unknown[] {
  if (!Object.hasOwn(object, name)) throw new JSONException(`No value for ${name}`);
  const value = object[name];
  if (!Array.isArray(value)) throw new JSONException(`Value ${JSON.stringify(value)} at ${name} cannot be converted to JSONArray`);
  return value;
}

export function getJSONObject(object: JsonObject, name: string): JsonObject {
  if (!Object.hasOwn(object, name)) throw new JSONException(`No value for ${name}`);
  return asObject(object[name], name);
}

/** `JSONArray.getJSONObject(i)` (and `getJSONArray(i)` with `asArray`). */
export function asObject(value: unknown, where: string | number): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new JSONException(`Value ${JSON.stringify(value)} at ${where} cannot be converted to JSONObject`);
  return value as JsonObject;
}

export function asArray(value: unknown, where: string | number): unknown[] {
  if (!Array.isArray(value)) throw new JSONException(`Value ${JSON.stringify(value)} at ${where} cannot be converted to JSONArray`);
  return value;
}

/** `JSONArray.getString(i)`. */
export function elementString(array: readonly unknown[], index: number): string {
  if (index >= array.length) throw new JSONException(`Index ${index} out of range`);
  return javaToString(array[index])!;
}
