/**
 * Opt-in persistence: only when the user ticks "Remember", the Connect screen's fields (private
 * key included, unencrypted) go to IndexedDB; "Forget" deletes them. Nothing else is stored.
 */
export interface SavedSettings {
  relay: string;
  token: string;
  upstream: string;
  config: string;
  peerPublicKey: string;
  certificateSha256: string;
}

const DB = "wiregate";
const STORE = "settings";
const KEY = "connect";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run<T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>) {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = action(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

export async function save(settings: SavedSettings): Promise<void> {
  await run("readwrite", (store) => store.put(settings, KEY));
}

export async function loadSaved(): Promise<SavedSettings | undefined> {
  // Never create the database just to look: only open it if it already exists.
  const existing = (await indexedDB.databases?.()) ?? [];
  if (!existing.some((d) => d.name === DB)) return undefined;
  return (await run<SavedSettings | undefined>("readonly", (store) => store.get(KEY))) ?? undefined;
}

export async function forgetSaved(): Promise<void> {
  await new Promise<void>((resolve) => {
    const request = indexedDB.deleteDatabase(DB);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}
