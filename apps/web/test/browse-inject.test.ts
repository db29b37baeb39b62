/**
 * The scripts Browse puts into the HTML documents it shows (browse/exchange.ts's injectScripts):
 * after `<head…>`, else after the doctype, else at the start; the rest byte for byte, however the
 * document arrives in chunks.
 */
import { describe, expect, it } from "vitest";
import { INJECTED, injectScripts } from "../src/browse/exchange.js";

const encode = (text: string) => new TextEncoder().encode(text);

async function through(chunks: Uint8Array[]): Promise<string> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return new Response(injectScripts(body)).text();
}

describe("injectScripts", () => {
  it("puts the scripts after <head>, the doctype, or at the start", async () => {
    expect(await through([encode('<!doctype html><head lang="en"><title>t</title>')])).toBe(
      `<!doctype html><head lang="en">${INJECTED}<title>t</title>`,
    );
    expect(await through([encode("<!DOCTYPE html><title>t</title>")])).toBe(
      `<!DOCTYPE html>${INJECTED}<title>t</title>`,
    );
    expect(await through([encode("<p>bare")])).toBe(`${INJECTED}<p>bare`);
  });

  it("finds <head> split across chunks, byte by byte", async () => {
    const page = "<!doctype html><html><head><title>t</title>";
    expect(await through([...encode(page)].map((byte) => Uint8Array.of(byte)))).toBe(
      `<!doctype html><html><head>${INJECTED}<title>t</title>`,
    );
  });

  // A whole document in its first chunk (a compressed page decoded at once): Syncthing's 68 KB
  // page failed to load when all of it was spread into one call (a worker's stack is small).
  it("takes a document of 4 MB in one chunk, and keeps every byte of it", async () => {
    const rest = "x".repeat(4 * 1024 * 1024);
    const out = await through([encode(`<!doctype html><head><title>t</title>${rest}`)]);
    expect(out).toBe(`<!doctype html><head>${INJECTED}<title>t</title>${rest}`);
  });
});
