/**
 * Where Browse's cookie jars are kept between reloads of the Wiregate page: the Wiregate origin's
 * IndexedDB (database `wiregate-browse-cookies`, one record per target origin), written by the
 * tunnel worker. No Browse origin can open it: IndexedDB belongs to its origin.
 */
import { idbKeyed } from "../idb-record.js";
import type { JarStore, StoredJar } from "./cookies.js";

export const COOKIE_DATABASE = "wiregate-browse-cookies";

export function indexedDbJars(): JarStore {
  const jars = idbKeyed<StoredJar>(COOKIE_DATABASE, "jars");
  return { load: jars.get, save: jars.put, remove: jars.delete };
}
