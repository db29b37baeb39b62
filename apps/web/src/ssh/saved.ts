/**
 * Opt-in persistence for the SSH screen: only when the user ticks "Remember", its key (PKCS#8
 * PEM, unencrypted) and known hosts go to this browser's IndexedDB; "Forget" deletes them. They
 * never leave the page otherwise.
 */
import type { HostKey } from "./host-keys.js";

export interface SavedSsh {
  privateKey?: string;
  /** The key's comment (PKCS#8 has no place for it). */
  keyComment?: string;
  knownHosts: [string, HostKey][];
}

const DB = "wiregate-ssh";
const STORE = "ssh";
const KEY = "ssh";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export async function saveSsh(saved: SavedSsh): Promise<void> {
  const db = await open();
  try {
    await new Promise<void>((resolve, reject) => {
      const request = db.transaction(STORE, "readwrite").objectStore(STORE).put(saved, KEY);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

export async function loadSsh(): Promise<SavedSsh | undefined> {
  // Never create the database just to look.
  const existing = (await indexedDB.databases?.()) ?? [];
  if (!existing.some((d) => d.name === DB)) return undefined;
  const db = await open();
  try {
    return await new Promise<SavedSsh | undefined>((resolve, reject) => {
      const request = db.transaction(STORE, "readonly").objectStore(STORE).get(KEY);
      request.onsuccess = () => resolve(request.result as SavedSsh | undefined);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

export async function forgetSsh(): Promise<void> {
  await new Promise<void>((resolve) => {
    const request = indexedDB.deleteDatabase(DB);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}
