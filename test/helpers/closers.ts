/**
 * What a test file opens (servers, browsers, namespaces) and closes after its tests: each closer
 * runs in the file's (or describe block's) `afterAll`, the last opened first.
 */
import { afterAll } from "vitest";

export type Closer = () => Promise<unknown> | unknown;

/** A list to push closers on; call it at the top of a file or in a describe block. */
export function closeAfterAll(): Closer[] {
  const closers: Closer[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });
  return closers;
}
