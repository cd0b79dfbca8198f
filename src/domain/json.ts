/** JSON values, as events and documents hold them (the stores' ports re-export these). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * A JSON-shaped value as a JsonObject, to be stored (an event's data, a document). The values
 * passed are JSON by construction (parsed by a zod schema, or built from JSON values), but an
 * interface carries no index signature, so TypeScript assigns none to JsonObject: this is the
 * one place that says so.
 */
export function toJsonObject(value: object): JsonObject {
  return value as unknown as JsonObject;
}

/**
 * Stored JSON read back as the type it was written as: an event's data (validated when it was
 * appended) or a document (written by the projection code of the read model it is read from).
 * The store cannot carry the type, so this is the one place that trusts the writer.
 */
export function fromJson<T>(value: JsonValue | undefined): T {
  return value as unknown as T;
}
