/**
 * Values kept in an IndexedDB database of their own. `idbRecord` is one value: what an opt-in
 * "Remember" box stores. `idbKeyed` is values by key (Browse's cookie jars, one per target). The
 * database is created only by a write, and `forget` deletes it whole, so nothing is left behind.
 */
export interface IdbRecord<T> {
  save(value: T): Promise<void>;
  load(): Promise<T | undefined>;
  forget(): Promise<void>;
}

export interface IdbKeyed<T> {
  put(key: string, value: T): Promise<void>;
  get(key: string): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  forget(): Promise<void>;
}

export function idbKeyed<T>(database: string, store: string): IdbKeyed<T> {
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

  /** Never create the database just to look: only open it if it already exists. */
  const exists = async () =>
    ((await indexedDB.databases?.()) ?? []).some((d) => d.name === database);

  return {
    async put(key, value) {
      await run("readwrite", (s) => s.put(value, key));
    },
    async get(key) {
      if (!(await exists())) return undefined;
      return (await run<T | undefined>("readonly", (s) => s.get(key))) ?? undefined;
    },
    async delete(key) {
      if (await exists()) await run("readwrite", (s) => s.delete(key));
    },
    forget: () =>
      new Promise<void>((resolve) => {
        const request = indexedDB.deleteDatabase(database);
        request.onsuccess = request.onerror = request.onblocked = () => resolve();
      }),
  };
}

export function idbRecord<T>(database: string, store: string, key: string): IdbRecord<T> {
  const values = idbKeyed<T>(database, store);
  return {
    save: (value) => values.put(key, value),
    load: () => values.get(key),
    forget: values.forget,
  };
}
