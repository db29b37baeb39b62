// The Browse bridge of one origin. At /__wiregate/bridge.html, in a hidden frame of the Wiregate
// page, it registers this origin's Service Worker, gives it the tunnel port the page hands over,
// tells the page it is ready, and stays to pass new ports when the worker asks (inject.js). At any
// other path it is what the relay answers before the Service Worker controls the origin (a frame
// that was redirected here, a new tab): the same, and then it loads the address again, now
// answered through the tunnel.

(() => {
  const say = (text) => {
    const p = document.getElementById("state");
    if (p) p.textContent = text;
  };
  const home = location.pathname === "/__wiregate/bridge.html";
  const browse = window.wiregateBrowse;
  async function start() {
    if (!("serviceWorker" in navigator))
      throw new Error("this browser gives this origin no Service Worker");
    const registration = await navigator.serviceWorker.register("/__wiregate/sw.js", {
      scope: "/",
    });
    await browse.givePort(await browse.askPort());
    await registration.update().catch(() => {});
    if (home) {
      const page = window.parent;
      const list = await browse.pageOrigins();
      for (const origin of list) page.postMessage({ type: "wiregate-bridge-ready" }, origin);
      say("Wiregate: ready.");
      return;
    }
    const key = `wiregate-reloaded:${location.href}`;
    if (sessionStorage.getItem(key)) {
      say("Wiregate: this browser did not let the Service Worker answer this page.");
      return;
    }
    sessionStorage.setItem(key, "1");
    location.reload();
  }
  start().catch(async (e) => {
    const message = e instanceof Error ? e.message : String(e);
    say(`Wiregate: ${message}`);
    // The page says why Browse cannot show this origin (a refused Service Worker, mostly).
    const page = window.parent !== window ? window.parent : window.opener;
    const list = await browse.pageOrigins().catch(() => []);
    for (const origin of list)
      page?.postMessage({ type: "wiregate-bridge-failed", message }, origin);
  });
})();
