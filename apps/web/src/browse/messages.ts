/** What a Browse origin's requests are made of, between its Service Worker, the page and the tunnel worker. */
import type { OriginBase, Target } from "./target.js";

/** A request as the origin's Service Worker saw it. */
export interface BrowseRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: [string, string][];
  /** The request's referrer (a Browse origin's URL), "" or "about:client" when none. */
  referrer?: string;
  /** "navigate", "cors", "no-cors", "same-origin". */
  mode?: string;
  /** "document", "iframe", "script", "" (fetch) … */
  destination?: string;
  /**
   * The request's body as a Blob (Request.blob() in the Service Worker): its size is known (the
   * Content-Length, as a browser sends over HTTP/1.1), and its bytes stay in the browser's blob
   * store (on disk when large) until the tunnel worker streams them, so a 50 MB upload is never
   * held whole by the Service Worker, the page or the tunnel worker.
   */
  body?: Blob;
}

/** Which target, on which origins: fixed by the page, never by the request. */
export interface BrowseContext {
  target: Target;
  base: OriginBase;
}
