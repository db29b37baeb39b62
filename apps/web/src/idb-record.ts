/**
 * One value kept in an IndexedDB database of its own: what an opt-in "Remember" box stores. The
 * database is created only by `save`, and `forget` deletes it whole, so nothing is left behind.
 */
export interface IdbRecord<T> {
  save(value: T): Promise<void>;
  load(): Promise<T | undefined>;
  forget(): Promise<void>;
}

export function idbRecord<T>(database: string, store: string, key: string): IdbRecord<T> {
  const open = () =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(database, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(store);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });

  async function run<R>(mode: IDBTransactionMode, action: (s: IDBObjectStore) => IDBRequest<R>) {
    const db = await open();
    try {
      return await new Promise<R>((resolve, reject) => {
        const request = action(db.transaction(store, mode).objectStore(store));
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    } finally {
      db.close();
    }
  }

  return {
    async save(value) {
      await run("readwrite", (s) => s.put(value, key));
    },
    async load() {
      // Never create the database just to look: only open it if it already exists.
      const existing = (await indexedDB.databases?.()) ?? [];
      if (!existing.some((d) => d.name === database)) return undefined;
      return (await run<T | undefined>("readonly", (s) => s.get(key))) ?? undefined;
    },
    forget: () =>
      new Promise<void>((resolve) => {
        const request = indexedDB.deleteDatabase(database);
        request.onsuccess = request.onerror = request.onblocked = () => resolve();
      }),
  };
}
